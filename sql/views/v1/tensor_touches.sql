-- One row per layout row of a model: how many decode steps, over all runs of the model, touched it.
--
-- A non-expert tensor is touched by a step that read it from DISK (v1.pass_tensor_reads); an
-- expert slice by a step whose selection chose its expert in its layer
-- (v1.expert_slice_accesses). Rows never touched have touches 0. n_steps is the model's
-- decode steps over all its runs, so touches / n_steps is the fraction of steps that read
-- the row (NULL when the model has no decode steps). touched_bytes is what those steps read
-- of it: an expert slice and a tensor read whole count size_bytes per step, a tensor gathered
-- from (the token embedding's GET_ROWS) the rows gathered (v1.pass_tensor_reads.read_bytes).
--
-- @grain model_id, tensor_name
-- @column model_id       Model (v1.models.model_id).
-- @column tensor_name    Layout row (v1.tensors.tensor_name).
-- @column category       Tensor category.
-- @column layer_id       Block index; NULL outside blocks.
-- @column expert_id      Expert of a slice; NULL for other tensors.
-- @column offset_start   Absolute file offset of the first byte.
-- @column offset_end     Absolute file offset one past the last byte.
-- @column size_bytes     Bytes of the row.
-- @column touches        Decode steps of the model's runs that touched the row.
-- @column n_steps        Decode steps of all runs of the model.
-- @column touch_rate     touches / n_steps.
-- @column touched_bytes  Bytes of the row read, summed over those decode steps.
-- @column read_fraction  touched_bytes / (size_bytes * n_steps): the mean share of the row a decode step read.
WITH steps AS (
    SELECT model_id, COUNT(*) AS n_steps
    FROM v1.decode_steps
    WHERE model_id IS NOT NULL
    GROUP BY model_id
),
reads AS (
    -- decode steps that read each whole tensor, per run and rows gathered (warm-up passes have
    -- step NULL); gathered_rows takes few values, so this stays small
    SELECT run_id, disk_offset, gathered_rows, COUNT(*) AS touches
    FROM pass_disk_reads
    WHERE step IS NOT NULL
    GROUP BY run_id, disk_offset, gathered_rows
),
dense AS (
    -- the rule of v1.pass_tensor_reads (read_bytes), counted without expanding it per step
    SELECT
        t.model_id,
        t.tensor_name,
        CAST(SUM(x.touches) AS BIGINT) AS touches,
        CAST(SUM(x.touches * CASE
            WHEN x.gathered_rows IS NULL OR NOT t.ne1 * t.ne2 * t.ne3 > 0 THEN t.size_bytes
            ELSE LEAST(x.gathered_rows, t.ne1 * t.ne2 * t.ne3) * (t.size_bytes // (t.ne1 * t.ne2 * t.ne3))
        END) AS BIGINT) AS touched_bytes
    FROM reads AS x
    JOIN runs AS ru ON ru.run_id = x.run_id
    JOIN tensors AS t ON t.model_id = ru.model_id AND t.offset_start = x.disk_offset
    WHERE t.expert_id IS NULL AND t.category <> 'expert'
    GROUP BY t.model_id, t.tensor_name
),
experts AS (
    SELECT r.model_id, t.tensor_name, CAST(SUM(h.activations) AS BIGINT) AS touches
    FROM v1.expert_hotness AS h
    JOIN runs AS r ON r.run_id = h.run_id
    JOIN tensors AS t ON t.model_id = r.model_id AND t.layer_id = h.layer_id AND t.expert_id = h.expert_id
    WHERE h.activations > 0
    GROUP BY r.model_id, t.tensor_name
)
SELECT
    t.model_id,
    t.tensor_name,
    t.category,
    t.layer_id,
    t.expert_id,
    t.offset_start,
    t.offset_end,
    t.size_bytes,
    COALESCE(d.touches, e.touches, 0) AS touches,
    COALESCE(s.n_steps, 0) AS n_steps,
    CAST(COALESCE(d.touches, e.touches, 0) AS DOUBLE) / NULLIF(s.n_steps, 0) AS touch_rate,
    COALESCE(d.touched_bytes, e.touches * t.size_bytes, 0) AS touched_bytes,
    CAST(COALESCE(d.touched_bytes, e.touches * t.size_bytes, 0) AS DOUBLE)
        / NULLIF(t.size_bytes * s.n_steps, 0) AS read_fraction
FROM tensors AS t
LEFT JOIN dense AS d ON d.model_id = t.model_id AND d.tensor_name = t.tensor_name
LEFT JOIN experts AS e ON e.model_id = t.model_id AND e.tensor_name = t.tensor_name
LEFT JOIN steps AS s ON s.model_id = t.model_id
