-- Fill step_selections for a routing-only run ($run_id) from its generated rows ({{generated}}:
-- step, layer_id, expert_id, rank): one decode step per generated token (its step), pass_id
-- standing in as the step number (there is no graph evaluation table), an id repeated within
-- one selection kept once at its best rank, as for trace runs.
INSERT INTO step_selections (run_id, step, pass_id, layer_id, expert_id, rank)
SELECT $run_id, step, step, layer_id, expert_id, MIN(rank)
FROM {{generated}}
GROUP BY step, layer_id, expert_id
