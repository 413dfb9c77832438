-- Hit rate and bytes loaded per step against capacity for each policy of simulation $sim_id,
-- summed over runs $run_ids (capacity = the budget in bytes, or the slots): the Cache page's
-- curves. working_set_items is the largest of the runs'.
SELECT
    policy,
    COALESCE(budget_bytes, capacity_items) AS capacity,
    MAX(capacity_items) AS capacity_items,
    SUM(n_accesses) AS n_accesses,
    SUM(hits) AS hits,
    CAST(SUM(hits) AS DOUBLE) / NULLIF(SUM(n_accesses), 0) AS hit_rate,
    CAST(SUM(belady_hits) AS DOUBLE) / NULLIF(SUM(n_accesses), 0) AS belady_hit_rate,
    CAST(SUM(belady_hits) - SUM(hits) AS DOUBLE) / NULLIF(SUM(n_accesses), 0) AS regret,
    CAST(SUM(bytes_loaded) AS DOUBLE) / NULLIF(SUM(n_steps), 0) AS bytes_loaded_per_step,
    MAX(working_set_items) AS working_set_items
FROM v1.cache_results
WHERE sim_id = $sim_id AND run_id IN (SELECT unnest($run_ids))
GROUP BY policy, COALESCE(budget_bytes, capacity_items)
ORDER BY capacity, policy
