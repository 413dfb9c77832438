-- Fill step_selections for one run ($run_id): its selections keyed by decode step.
-- The step numbering must stay the one of sql/views/v1/decode_steps.sql.
INSERT INTO step_selections (run_id, step, pass_id, layer_id, expert_id, rank)
WITH steps AS (
    SELECT run_id, pass_id, ROW_NUMBER() OVER (ORDER BY pass_id) - 1 AS step
    FROM passes
    WHERE run_id = $run_id AND NOT is_warmup AND is_complete
)
SELECT s.run_id, st.step, s.pass_id, s.layer_id, s.expert_id, MIN(s.rank)
FROM selections AS s
JOIN steps AS st ON st.run_id = s.run_id AND st.pass_id = s.pass_id
WHERE s.run_id = $run_id
GROUP BY s.run_id, st.step, s.pass_id, s.layer_id, s.expert_id
