-- Experts selected per decode step and layer in the given runs (v1.step_experts, each once).
-- run_index: the run's place in $run_ids, which the planner passes sorted.
SELECT list_position($run_ids, run_id) - 1 AS run_index, step, layer_id, expert_id
FROM v1.step_experts
WHERE list_contains($run_ids, run_id)
