-- One row per selected expert per MoE layer per non-warm-up pass.
--
-- The k experts the router chose for the first token of the pass, in rank order, taken once
-- per layer although the gate, up and down MUL_MAT_ID records and the ADD_ID records repeat
-- them. Warm-up passes (a truncated full ranking, not a selection) give no rows.
--
-- @grain run_id, pass_id, layer_id, rank
-- @column run_id    Run (v1.runs.run_id).
-- @column pass_id   Pass (v1.passes.pass_id).
-- @column token_id  Token label of the pass.
-- @column phase     PROMPT or GENERATE.
-- @column layer_id  Block index.
-- @column rank      0 for the router's first choice, up to k-1.
-- @column expert_id Selected expert.
SELECT
    s.run_id,
    s.pass_id,
    p.token_id,
    p.phase,
    s.layer_id,
    s.rank,
    s.expert_id
FROM selections AS s
JOIN passes AS p ON p.run_id = s.run_id AND p.pass_id = s.pass_id
WHERE NOT p.is_warmup
