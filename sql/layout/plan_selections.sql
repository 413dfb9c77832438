-- Experts selected per decode step and layer in the given runs (v1.step_experts, each once).
SELECT run_id, step, layer_id, expert_id
FROM v1.step_experts
WHERE list_contains($run_ids, run_id)
