-- One row per decode step (non-warm-up pass): the model bytes it touched.
--
-- dense_bytes sums the bytes of non-expert tensors the pass read from DISK
-- (v1.pass_tensor_reads.read_bytes, each tensor once per pass: the token embedding's GET_ROWS
-- counts the rows it gathered, not the whole table); expert_bytes sums the expert slices its selection touched
-- (v1.expert_slice_accesses, each slice once). "Touched" is what the computation reads from
-- the mapped file, not what came from the SSD: the tracer does not see the page cache.
-- model_fraction divides total_bytes by the model's weight bytes (v1.models.weight_bytes).
-- For a run without a model the byte columns are NULL: without a layout no byte is known.
-- A routing-only run (no op-level records) has no traced reads: its bytes are estimated
-- (bytes_basis = 'estimated'): expert slices from the selection as above, or, without a model,
-- one expert's bytes per selected expert from the recorder's per-layer sizes (route_trace
-- preamble); dense tensors assumed read once per token (routing_runs.dense_bytes_per_token:
-- every non-expert tensor of the layout, one row of token_embd; or the recorder's per-layer
-- dense bytes summed).
--
-- @grain run_id, pass_id
-- @column run_id          Run (v1.runs.run_id).
-- @column pass_id         Pass (v1.passes.pass_id).
-- @column step            Decode step (v1.decode_steps.step).
-- @column token_id        Token label of the pass.
-- @column dense_bytes     Bytes of non-expert tensors read from DISK (read_bytes).
-- @column expert_bytes    Bytes of the selected experts' slices.
-- @column total_bytes     dense_bytes + expert_bytes.
-- @column model_fraction  total_bytes / the model's weight bytes.
-- @column bytes_basis     traced (read from the trace's DISK sources), estimated (routing-only run), or NULL
--                         when no byte is known.
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
    UNION ALL
    -- a routing-only run without a model: the recorder's bytes of one expert of the layer
    SELECT s.run_id, s.pass_id, CAST(SUM(l.expert_bytes) AS BIGINT)
    FROM v1.step_experts AS s
    JOIN routing_layer_bytes AS l ON l.run_id = s.run_id AND l.layer_id = s.layer_id
    WHERE s.model_id IS NULL
    GROUP BY s.run_id, s.pass_id
),
basis AS (
    SELECT
        r.run_id,
        CASE
            WHEN rr.routing_only AND rr.bytes_source IS NOT NULL THEN 'estimated'
            WHEN NOT COALESCE(rr.routing_only, FALSE) AND r.model_id IS NOT NULL THEN 'traced'
        END AS bytes_basis,
        CASE WHEN rr.routing_only THEN rr.dense_bytes_per_token END AS estimated_dense_bytes
    FROM runs AS r
    LEFT JOIN routing_runs AS rr ON rr.run_id = r.run_id
),
steps AS (
    SELECT
        d.run_id,
        d.pass_id,
        d.step,
        d.token_id,
        CASE WHEN b.bytes_basis IS NOT NULL
            THEN COALESCE(b.estimated_dense_bytes, x.dense_bytes, 0) END AS dense_bytes,
        CASE WHEN b.bytes_basis IS NOT NULL THEN COALESCE(e.expert_bytes, 0) END AS expert_bytes,
        m.weight_bytes,
        b.bytes_basis
    FROM v1.decode_steps AS d
    JOIN basis AS b ON b.run_id = d.run_id
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
    CAST(dense_bytes + expert_bytes AS DOUBLE) / NULLIF(weight_bytes, 0) AS model_fraction,
    bytes_basis
FROM steps
