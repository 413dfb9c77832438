-- One row per run, prompt batch and MoE layer: the distinct experts the prompt's tokens touched.
--
-- @grain run_id, batch, layer_id
--
-- The question behind llama.cpp PR #15346 (copy only the experts a prompt batch uses): for
-- the prompt tokens of v1.token_routes, grouped by graph evaluation (batch = pass_id) where
-- the source records one, else the whole prompt as one batch (batch NULL). distinct_experts
-- counts the experts any of the batch's tokens selected in the layer; expert_share divides
-- by the layer's experts (v1.run_shape). expert_bytes sums those experts' slices in the
-- run's model layout (v1.tensors), or, without a model, the recorder's bytes of one expert
-- of the layer (routing_runs / route_trace preamble; bytes_basis says which), else NULL.
-- Runs of the 1024-byte tracer record only a batch's first token, so their rows count that
-- token's experts only (n_tokens 1). Rows the recorder marks untrusted count as recorded;
-- untrusted_tokens says how many of the batch's tokens carry such rows.
--
-- @column run_id            Run (v1.runs.run_id).
-- @column batch             Graph evaluation (pass_id) of the prompt batch; NULL = the whole prompt.
-- @column layer_id          MoE layer.
-- @column n_tokens          Prompt tokens of the batch routed in this layer.
-- @column untrusted_tokens  Of those, tokens with a row the recorder marks untrusted.
-- @column distinct_experts  Experts selected by at least one of the batch's tokens.
-- @column n_experts         Experts of the layer (v1.run_shape).
-- @column expert_share      distinct_experts / n_experts.
-- @column expert_bytes      Bytes of the distinct experts' slices; NULL when no byte size is known.
-- @column bytes_basis       layout (the run's model), recorder (the recorder's per-layer sizes), or NULL.
WITH prompt AS (
    SELECT run_id, pass_id AS batch, layer_id, position, expert_id, trusted
    FROM v1.token_routes
    WHERE phase = 'prompt'
),
per_batch AS (
    SELECT
        run_id,
        batch,
        layer_id,
        COUNT(DISTINCT position) AS n_tokens,
        COUNT(DISTINCT CASE WHEN NOT trusted THEN position END) AS untrusted_tokens,
        COUNT(DISTINCT expert_id) AS distinct_experts
    FROM prompt
    GROUP BY run_id, batch, layer_id
),
used AS (
    SELECT DISTINCT run_id, batch, layer_id, expert_id
    FROM prompt
),
slice_bytes AS (
    SELECT model_id, layer_id, expert_id, SUM(size_bytes) AS bytes
    FROM tensors
    WHERE expert_id IS NOT NULL
    GROUP BY model_id, layer_id, expert_id
),
layout_bytes AS (
    SELECT u.run_id, u.batch, u.layer_id, CAST(SUM(b.bytes) AS BIGINT) AS bytes
    FROM used AS u
    JOIN runs AS r ON r.run_id = u.run_id
    JOIN slice_bytes AS b ON b.model_id = r.model_id AND b.layer_id = u.layer_id AND b.expert_id = u.expert_id
    GROUP BY u.run_id, u.batch, u.layer_id
)
SELECT
    p.run_id,
    p.batch,
    p.layer_id,
    CAST(p.n_tokens AS BIGINT) AS n_tokens,
    CAST(p.untrusted_tokens AS BIGINT) AS untrusted_tokens,
    CAST(p.distinct_experts AS BIGINT) AS distinct_experts,
    s.n_experts,
    CAST(p.distinct_experts AS DOUBLE) / NULLIF(s.n_experts, 0) AS expert_share,
    CASE
        WHEN r.model_id IS NOT NULL THEN COALESCE(lb.bytes, 0)
        WHEN l.expert_bytes IS NOT NULL THEN p.distinct_experts * l.expert_bytes
    END AS expert_bytes,
    CASE
        WHEN r.model_id IS NOT NULL THEN 'layout'
        WHEN l.expert_bytes IS NOT NULL THEN 'recorder'
    END AS bytes_basis
FROM per_batch AS p
JOIN runs AS r ON r.run_id = p.run_id
JOIN v1.run_shape AS s ON s.run_id = p.run_id
LEFT JOIN layout_bytes AS lb ON lb.run_id = p.run_id AND lb.layer_id = p.layer_id
    AND lb.batch IS NOT DISTINCT FROM p.batch
LEFT JOIN routing_layer_bytes AS l ON l.run_id = p.run_id AND l.layer_id = p.layer_id
