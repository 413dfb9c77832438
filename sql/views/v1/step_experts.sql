-- One row per expert selected in a MoE layer at a decode step.
--
-- v1.expert_selections keyed by decode step (v1.decode_steps) instead of pass. An expert id
-- that a malformed selection repeats within one layer and step counts once, at its best
-- rank, so every count built on this view counts decode steps, not duplicate ids.
--
-- @column run_id     Run (v1.runs.run_id).
-- @column model_id   Model of the run; NULL if the run has no layout.
-- @column step       Decode step (v1.decode_steps.step).
-- @column pass_id    Pass of the step.
-- @column layer_id   Block index.
-- @column expert_id  Selected expert.
-- @column rank       Best router rank of the expert in this selection; 0 = first choice.
SELECT
    d.run_id,
    d.model_id,
    d.step,
    d.pass_id,
    s.layer_id,
    s.expert_id,
    MIN(s.rank) AS rank
FROM v1.expert_selections AS s
JOIN v1.decode_steps AS d ON d.run_id = s.run_id AND d.pass_id = s.pass_id
GROUP BY d.run_id, d.model_id, d.step, d.pass_id, s.layer_id, s.expert_id
