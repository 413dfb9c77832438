-- The access sequence of runs $run_ids: decode steps in order, within a step the layers in
-- ascending order, within a layer the distinct selected experts in rank order
-- (v1.step_experts keeps a repeated id once, at its best rank).
SELECT run_id, step, layer_id, expert_id
FROM v1.step_experts
WHERE list_contains($run_ids, run_id)
ORDER BY run_id, step, layer_id, rank, expert_id
