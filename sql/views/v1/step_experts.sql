-- One row per expert selected in a MoE layer at a decode step.
--
-- The selections of v1.expert_selections keyed by decode step (v1.decode_steps) instead of
-- pass. An expert id that a malformed selection repeats within one layer and step counts
-- once, at its best rank, so every count built on this view counts decode steps, not
-- duplicate ids. Reads the table step_selections, filled at trace ingest (a plain view would
-- spend most of v1.expert_hotness's time budget de-duplicating).
--
-- @grain run_id, step, layer_id, expert_id
-- @column run_id     Run (v1.runs.run_id).
-- @column model_id   Model of the run; NULL if the run has no layout.
-- @column step       Decode step (v1.decode_steps.step).
-- @column pass_id    Pass of the step.
-- @column layer_id   Block index.
-- @column expert_id  Selected expert.
-- @column rank       Best router rank of the expert in this selection; 0 = first choice.
SELECT
    s.run_id,
    r.model_id,
    s.step,
    s.pass_id,
    s.layer_id,
    s.expert_id,
    s.rank
FROM step_selections AS s
JOIN runs AS r ON r.run_id = s.run_id
