-- Cache simulations with results (v1.cache_results): the Cache page's scope and training pickers.
SELECT
    sim_id,
    scope,
    capacity_unit,
    train,
    COUNT(DISTINCT run_id) AS n_runs,
    MAX(simulated_at) AS simulated_at
FROM v1.cache_results
GROUP BY sim_id, scope, capacity_unit, train
ORDER BY scope, capacity_unit, train
