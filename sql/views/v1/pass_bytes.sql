-- One row per decode step (non-warm-up pass): the model bytes it touched.
--
-- dense_bytes sums the bytes of non-expert tensors the pass read from DISK
-- (v1.pass_tensor_reads.read_bytes, each tensor once per pass: the token embedding's GET_ROWS
-- counts the rows it gathered, not the whole table); expert_bytes sums the expert slices its selection touched
-- (v1.expert_slice_accesses, each slice once). "Touched" is what the computation reads from
-- the mapped file, not what came from the SSD: the tracer does not see the page cache.
-- model_fraction divides total_bytes by the model's weight bytes (v1.models.weight_bytes).
-- For a run without a model the byte columns are NULL: without a layout no byte is known.
--
-- @column run_id          Run (v1.runs.run_id).
-- @column pass_id         Pass (v1.passes.pass_id).
-- @column step            Decode step (v1.decode_steps.step).
-- @column token_id        Token label of the pass.
-- @column dense_bytes     Bytes of non-expert tensors read from DISK (read_bytes).
-- @column expert_bytes    Bytes of the selected experts' slices.
-- @column total_bytes     dense_bytes + expert_bytes.
-- @column model_fraction  total_bytes / the model's weight bytes.
WITH dense AS (
    SELECT run_id, pass_id, CAST(SUM(read_bytes) AS BIGINT) AS dense_bytes
    FROM v1.pass_tensor_reads
    GROUP BY run_id, pass_id
),
slice_bytes AS (
    -- bytes of all slices of one expert in one layer (weights and split biases)
    SELECT model_id, layer_id, expert_id, SUM(size_bytes) AS bytes
    FROM tensors
    WHERE expert_id IS NOT NULL
    GROUP BY model_id, layer_id, expert_id
),
experts AS (
    -- v1.expert_slice_accesses summed per pass, without expanding it slice by slice
    SELECT s.run_id, s.pass_id, CAST(SUM(b.bytes) AS BIGINT) AS expert_bytes
    FROM v1.step_experts AS s
    JOIN slice_bytes AS b ON b.model_id = s.model_id AND b.layer_id = s.layer_id AND b.expert_id = s.expert_id
    GROUP BY s.run_id, s.pass_id
),
steps AS (
    SELECT
        d.run_id,
        d.pass_id,
        d.step,
        d.token_id,
        CASE WHEN d.model_id IS NOT NULL THEN COALESCE(x.dense_bytes, 0) END AS dense_bytes,
        CASE WHEN d.model_id IS NOT NULL THEN COALESCE(e.expert_bytes, 0) END AS expert_bytes,
        m.weight_bytes
    FROM v1.decode_steps AS d
    LEFT JOIN dense AS x ON x.run_id = d.run_id AND x.pass_id = d.pass_id
    LEFT JOIN experts AS e ON e.run_id = d.run_id AND e.pass_id = d.pass_id
    LEFT JOIN v1.models AS m ON m.model_id = d.model_id
)
SELECT
    run_id,
    pass_id,
    step,
    token_id,
    dense_bytes,
    expert_bytes,
    dense_bytes + expert_bytes AS total_bytes,
    CAST(dense_bytes + expert_bytes AS DOUBLE) / NULLIF(weight_bytes, 0) AS model_fraction
FROM steps
