-- Per-layer hit rate of policy $policy in simulation $sim_id against capacity, summed over runs
-- $run_ids (v1.cache_layer_results): the Cache page's heatmap.
SELECT
    layer_id,
    COALESCE(budget_bytes, capacity_items) AS capacity,
    SUM(n_accesses) AS n_accesses,
    SUM(hits) AS hits,
    CAST(SUM(hits) AS DOUBLE) / NULLIF(SUM(n_accesses), 0) AS hit_rate
FROM v1.cache_layer_results
WHERE sim_id = $sim_id AND policy = $policy AND run_id IN (SELECT unnest($run_ids))
GROUP BY layer_id, COALESCE(budget_bytes, capacity_items)
ORDER BY layer_id, capacity
