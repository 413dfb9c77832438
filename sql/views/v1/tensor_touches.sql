-- One row per layout row of a model: how many decode steps, over all runs of the model, touched it.
--
-- A non-expert tensor is touched by a step that read it from DISK (v1.pass_tensor_reads); an
-- expert slice by a step whose selection chose its expert in its layer
-- (v1.expert_slice_accesses). Rows never touched have touches 0. n_steps is the model's
-- decode steps over all its runs, so touches / n_steps is the fraction of steps that read
-- the row (NULL when the model has no decode steps).
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
WITH steps AS (
    SELECT model_id, COUNT(*) AS n_steps
    FROM v1.decode_steps
    WHERE model_id IS NOT NULL
    GROUP BY model_id
),
reads AS (
    -- decode steps that read each whole tensor, per run (warm-up passes have step NULL)
    SELECT run_id, disk_offset, COUNT(*) AS touches
    FROM pass_disk_reads
    WHERE step IS NOT NULL
    GROUP BY run_id, disk_offset
),
dense AS (
    -- the rule of v1.pass_tensor_reads, counted without expanding it per step
    SELECT t.model_id, t.tensor_name, CAST(SUM(x.touches) AS BIGINT) AS touches
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
    CAST(COALESCE(d.touches, e.touches, 0) AS DOUBLE) / NULLIF(s.n_steps, 0) AS touch_rate
FROM tensors AS t
LEFT JOIN dense AS d ON d.model_id = t.model_id AND d.tensor_name = t.tensor_name
LEFT JOIN experts AS e ON e.model_id = t.model_id AND e.tensor_name = t.tensor_name
LEFT JOIN steps AS s ON s.model_id = t.model_id
