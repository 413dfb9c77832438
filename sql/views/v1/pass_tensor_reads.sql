-- One row per non-expert model tensor a decode step read from DISK.
--
-- A DISK source names the whole tensor by its absolute file offset; it is matched to the
-- run's layout row with that offset_start. Expert weights are left out here (their slices
-- come from the selection, see v1.expert_slice_accesses), and so are split expert biases; a
-- layout that keeps an expert bias whole has it here whole, since which rows were read is
-- not recorded. A tensor counts once per step however many sources name it. Sources whose
-- offset matches no layout row (v1.trace_quality) and runs without a model give no rows.
-- Reads the pre-aggregated table pass_disk_reads filled at ingest (warm-up passes have step NULL).
--
-- @grain run_id, pass_id, tensor_name
-- @column run_id        Run (v1.runs.run_id).
-- @column pass_id       Pass (v1.passes.pass_id).
-- @column step          Decode step (v1.decode_steps.step).
-- @column model_id      Model of the run.
-- @column tensor_name   Tensor in v1.tensors.
-- @column category      Tensor category (attention, router, norm, embedding, ...).
-- @column offset_start  Absolute file offset of the tensor's first byte.
-- @column offset_end    Absolute file offset one past the tensor's last byte.
-- @column size_bytes    Bytes of the tensor.
-- @column n_sources     Source slots of the pass that named the tensor.
SELECT
    r.run_id,
    r.pass_id,
    r.step,
    ru.model_id,
    t.tensor_name,
    t.category,
    t.offset_start,
    t.offset_end,
    t.size_bytes,
    r.n_sources
FROM pass_disk_reads AS r
JOIN runs AS ru ON ru.run_id = r.run_id
JOIN tensors AS t ON t.model_id = ru.model_id AND t.offset_start = r.disk_offset
WHERE r.step IS NOT NULL
  AND t.expert_id IS NULL
  AND t.category <> 'expert'
