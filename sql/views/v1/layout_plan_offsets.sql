-- One row per layout plan, candidate order and layout row: where the row sits in the file under that order.
--
-- Rows of the plan's model (v1.tensors) with their offsets in the order: file keeps
-- today's, every other order packs the rows from the data section's start, each whole
-- tensor (and each expert-major slice) starting on the model's alignment. For hot-first and
-- coact, v1.layout_plan_permutations says which original expert sits at which position.
-- @grain plan_id, order_name, tensor_name
--
-- @column plan_id          Plan (v1.layout_plans.plan_id).
-- @column model_id         Model of the plan.
-- @column order_name       file, layer, expert-major, hot-first or coact.
-- @column tensor_name      Layout row (v1.tensors.tensor_name).
-- @column layer_id         Block index; NULL outside blocks.
-- @column expert_id        Original expert of a slice; NULL for other rows.
-- @column category         Tensor category (v1.tensors.category).
-- @column offset_start     Offset of the row's first byte in this order.
-- @column offset_end       Offset one past its last byte.
-- @column size_bytes       Bytes of the row.
-- @column file_offset      Offset of the row in today's file.
SELECT
    o.plan_id,
    p.model_id,
    o.order_name,
    o.tensor_name,
    t.layer_id,
    t.expert_id,
    t.category,
    o.offset_start,
    o.offset_end,
    t.size_bytes,
    t.offset_start AS file_offset
FROM layout_plan_offsets AS o
JOIN layout_plans AS p ON p.plan_id = o.plan_id
JOIN tensors AS t ON t.model_id = p.model_id AND t.tensor_name = o.tensor_name
