-- One row per run and token position: the token, its text where known, and its phase.
--
-- @grain run_id, position
--
-- Runs imported with `moewh ingest routing` and captured runs keep their tokens (the text
-- piece where the recorder gives it). Runs of the 1024-byte tracer show one token per
-- non-warm-up pass, as in v1.token_routes (position counted over the earlier passes' batch
-- tokens, token_id the pass's token label, no text).
--
-- @column run_id    Run (v1.runs.run_id).
-- @column position  0-based position in the sequence.
-- @column token_id  Token id; NULL if unknown.
-- @column piece     Token text; NULL if unknown.
-- @column phase     prompt or generate.
-- @column step      Decode step of a generated token (v1.decode_steps.step); NULL for prompt tokens.
-- @column pass_id   Graph evaluation; NULL if the source has none.
WITH trace_runs AS (
    SELECT DISTINCT p.run_id
    FROM passes AS p
    WHERE NOT EXISTS (SELECT 1 FROM tokens AS t WHERE t.run_id = p.run_id)
)
SELECT run_id, position, token_id, piece, phase, step, pass_id
FROM tokens
UNION ALL
SELECT
    d.run_id,
    CAST(SUM(COALESCE(d.n_batch_tokens, 1)) OVER (
        PARTITION BY d.run_id ORDER BY d.pass_id ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
    ) - COALESCE(d.n_batch_tokens, 1) AS BIGINT),
    d.token_id,
    CAST(NULL AS VARCHAR),
    CASE d.phase WHEN 'PROMPT' THEN 'prompt' WHEN 'GENERATE' THEN 'generate' END,
    CAST(CASE WHEN d.phase = 'GENERATE' THEN d.step END AS INTEGER),
    d.pass_id
FROM v1.decode_steps AS d
JOIN trace_runs AS tr ON tr.run_id = d.run_id
