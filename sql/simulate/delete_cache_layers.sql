-- Remove the per-layer rows that the staged results (staged_cache: the per-layer rows) replace.
DELETE FROM cache_sim_layers AS t
USING staged_cache AS s
WHERE t.sim_id = s.sim_id AND t.run_id = s.run_id AND t.policy = s.policy
  AND COALESCE(t.budget_bytes, t.capacity_items) = COALESCE(s.budget_bytes, s.capacity_items)
