-- One row per run, token position, MoE layer and rank: which expert the router chose for each token.
--
-- @grain run_id, position, layer_id, rank
--
-- Runs imported with `moewh ingest routing` (and captured runs) keep every routed token as
-- their recorder gave it. Runs of the 1024-byte tracer have no rows of their own: their
-- selections appear here as one token per non-warm-up pass (the tracer records the first
-- token of a batch only), at the position of that token (the tokens of earlier passes,
-- n_batch_tokens each, counted before it), with the pass's decode step as step for
-- generated tokens. Prompt tokens have step NULL; one generated token is one decode step.
--
-- @column run_id              Run (v1.runs.run_id).
-- @column position            0-based position of the token in the sequence.
-- @column token_id            Token id; NULL if the source does not say.
-- @column phase               prompt or generate.
-- @column step                Decode step of a generated token (v1.decode_steps.step); NULL for prompt tokens.
-- @column pass_id             Graph evaluation of the token; NULL if the source has none.
-- @column layer_id            MoE layer (block index).
-- @column rank                0 = the router's first choice.
-- @column expert_id           Selected expert.
-- @column weight              Applied routing weight; NULL where the source has none.
-- @column recorded_residency  The recorder's own cache verdict: hit, miss, prefetch-hit; else NULL.
-- @column trusted             False for rows the recorder itself may have got wrong (see the README).
WITH trace_runs AS (
    SELECT DISTINCT p.run_id
    FROM passes AS p
    WHERE NOT EXISTS (SELECT 1 FROM token_routes AS t WHERE t.run_id = p.run_id)
),
trace_tokens AS (
    -- the numbering of v1.decode_steps, so step means the same in both
    SELECT
        d.run_id,
        d.pass_id,
        d.token_id,
        d.step,
        CASE d.phase WHEN 'PROMPT' THEN 'prompt' WHEN 'GENERATE' THEN 'generate' END AS phase,
        SUM(COALESCE(d.n_batch_tokens, 1)) OVER (
            PARTITION BY d.run_id ORDER BY d.pass_id ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
        ) - COALESCE(d.n_batch_tokens, 1) AS position
    FROM v1.decode_steps AS d
    JOIN trace_runs AS tr ON tr.run_id = d.run_id
)
SELECT
    run_id,
    position,
    token_id,
    phase,
    step,
    pass_id,
    layer_id,
    rank,
    expert_id,
    weight,
    recorded_residency,
    trusted
FROM token_routes
UNION ALL
SELECT
    t.run_id,
    CAST(t.position AS BIGINT),
    t.token_id,
    t.phase,
    CAST(CASE WHEN t.phase = 'generate' THEN t.step END AS INTEGER),
    t.pass_id,
    s.layer_id,
    s.rank,
    s.expert_id,
    CAST(NULL AS DOUBLE),
    CAST(NULL AS VARCHAR),
    TRUE
FROM trace_tokens AS t
JOIN selections AS s ON s.run_id = t.run_id AND s.pass_id = t.pass_id
