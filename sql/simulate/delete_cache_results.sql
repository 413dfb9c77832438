-- Remove the rows that the staged results (staged_cache) replace: same simulation, run, policy
-- and capacity (the budget, or the slots when there is no budget).
DELETE FROM cache_sim_results AS t
USING staged_cache AS s
WHERE t.sim_id = s.sim_id AND t.run_id = s.run_id AND t.policy = s.policy
  AND COALESCE(t.budget_bytes, t.capacity_items) = COALESCE(s.budget_bytes, s.capacity_items)
