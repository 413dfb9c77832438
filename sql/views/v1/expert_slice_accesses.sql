-- One row per expert slice a decode step's selection touches: per pass, layer, component and selected expert.
--
-- Each expert selected in a layer at a decode step (v1.step_experts) touches that expert's
-- slice of every split expert tensor of the layer in v1.tensors: the gate, up and down
-- weights, and the biases where the layout splits them per expert (category expert_bias).
-- Warm-up passes give no rows. A run without a model has no layout and so no rows.
--
-- @grain run_id, pass_id, tensor_name
-- @column run_id        Run (v1.runs.run_id).
-- @column pass_id       Pass (v1.passes.pass_id).
-- @column step          Decode step (v1.decode_steps.step).
-- @column layer_id      Block index.
-- @column component     Tensor component, e.g. ffn_up_exps.
-- @column category      expert for a weight slice, expert_bias for a bias slice.
-- @column expert_id     Selected expert.
-- @column rank          Router rank of the expert in this selection; 0 = first choice.
-- @column tensor_name   Slice name NAME[e] in v1.tensors.
-- @column offset_start  Absolute file offset of the slice's first byte.
-- @column offset_end    Absolute file offset one past the slice's last byte.
-- @column size_bytes    Bytes of the slice.
SELECT
    s.run_id,
    s.pass_id,
    s.step,
    s.layer_id,
    t.component,
    t.category,
    s.expert_id,
    s.rank,
    t.tensor_name,
    t.offset_start,
    t.offset_end,
    t.size_bytes
FROM v1.step_experts AS s
JOIN v1.tensors AS t
    ON t.model_id = s.model_id AND t.layer_id = s.layer_id AND t.expert_id = s.expert_id
