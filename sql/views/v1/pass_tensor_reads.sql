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
-- read_bytes is what the operations need of the tensor. A GET_ROWS (the token embedding's
-- lookup) reads one row per id of its index source: read_rows ids, at most the tensor's rows
-- (ne1 * ne2 * ne3), each size_bytes / rows bytes. Every other op (MUL_MAT, MUL, ADD, ...)
-- reads the whole tensor, and so does a GET_ROWS whose layout row has no shape.
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
-- @column read_rows     Rows gathered by GET_ROWS (ids of its index source, at most the tensor's rows); NULL when the whole tensor was read.
-- @column read_bytes    Bytes of the tensor the step's operations read: read_rows rows, else size_bytes.
WITH matched AS (
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
        r.n_sources,
        r.gathered_rows,
        t.ne1 * t.ne2 * t.ne3 AS n_rows
    FROM pass_disk_reads AS r
    JOIN runs AS ru ON ru.run_id = r.run_id
    JOIN tensors AS t ON t.model_id = ru.model_id AND t.offset_start = r.disk_offset
    WHERE r.step IS NOT NULL
      AND t.expert_id IS NULL
      AND t.category <> 'expert'
)
SELECT
    run_id,
    pass_id,
    step,
    model_id,
    tensor_name,
    category,
    offset_start,
    offset_end,
    size_bytes,
    n_sources,
    -- COALESCE: LEAST skips NULLs in DuckDB and Spark but returns NULL in Trino
    CASE WHEN n_rows > 0 THEN LEAST(COALESCE(gathered_rows, n_rows), n_rows) END AS read_rows,
    CASE
        WHEN gathered_rows IS NULL OR NOT n_rows > 0 THEN size_bytes
        ELSE LEAST(gathered_rows, n_rows) * (size_bytes // n_rows)
    END AS read_bytes
FROM matched
