-- The rows `moewh simulate` prints: simulation $sim_id for runs $run_ids, policies $policies (in
-- that order) and capacities $capacities (budgets in bytes, or slots).
SELECT
    r.run_name,
    c.run_id,
    c.policy,
    c.scope,
    c.budget_bytes,
    c.capacity_items,
    c.working_set_items,
    c.n_accesses,
    c.hits,
    c.hit_rate,
    c.belady_hits,
    c.regret,
    c.bytes_loaded_per_step,
    c.train,
    c.in_sample
FROM v1.cache_results AS c
JOIN v1.runs AS r ON r.run_id = c.run_id
WHERE c.sim_id = $sim_id
  AND list_contains($run_ids, c.run_id)
  AND list_contains($policies, c.policy)
  AND list_contains($capacities, COALESCE(c.budget_bytes, c.capacity_items))
ORDER BY r.run_name, c.run_id, COALESCE(c.budget_bytes, c.capacity_items), list_position($policies, c.policy)
