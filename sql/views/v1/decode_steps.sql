-- One row per decode step: a complete, non-warm-up pass of a run, numbered in pass order.
--
-- Every analysis view that speaks of "a decode step" or "step t" means exactly these rows.
-- A decode step is a graph evaluation (pass) that is not llama.cpp's warm-up evaluation;
-- step numbers a run's decode steps 0, 1, 2, ... in pass_id (execution) order, so step t+1
-- is the evaluation right after step t with warm-ups skipped. A prompt pass that evaluates a
-- batch of tokens is one step too, carrying the selections of the batch's first token (all
-- the tracer records); filter on phase = 'GENERATE' to leave prompt processing out. A pass the
-- end of the trace cut short (v1.passes.is_complete false) is not a step: it read only part of
-- what a step reads.
-- A routing-only run (imported with `moewh ingest routing`, no op-level records) has one
-- decode step per generated token, numbered in generation order; its prompt tokens are no
-- decode steps (see v1.prefill_experts), and pass_id stands in as the step number.
--
-- @grain run_id, step
-- @column run_id          Run (v1.runs.run_id).
-- @column step            Index of the decode step within the run, from 0, in pass order.
-- @column pass_id         Pass of this step (v1.passes.pass_id).
-- @column token_id        Token label of the pass.
-- @column phase           PROMPT or GENERATE, as labelled by the host program.
-- @column n_batch_tokens  Tokens evaluated in the pass.
-- @column model_id        Model of the run (v1.models.model_id); NULL if the run has no layout.
SELECT
    p.run_id,
    ROW_NUMBER() OVER (PARTITION BY p.run_id ORDER BY p.pass_id) - 1 AS step,
    p.pass_id,
    p.token_id,
    p.phase,
    p.n_batch_tokens,
    r.model_id
FROM passes AS p
JOIN runs AS r ON r.run_id = p.run_id
WHERE NOT p.is_warmup AND p.is_complete
UNION ALL
SELECT
    t.run_id,
    t.step,
    t.step,
    t.token_id,
    'GENERATE',
    1,
    r.model_id
FROM tokens AS t
JOIN routing_runs AS rr ON rr.run_id = t.run_id
JOIN runs AS r ON r.run_id = t.run_id
WHERE rr.routing_only AND t.phase = 'generate'
