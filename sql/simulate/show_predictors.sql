-- The rows `moewh simulate --predictors` prints: simulation $sim_id for runs $run_ids, predictors in
-- the order of $predictors.
SELECT
    r.run_name,
    p.run_id,
    p.predictor,
    p.train,
    p.in_sample,
    p.n_predictions,
    p.recall,
    p."precision",
    p.wasted_bytes_per_step
FROM v1.predictor_results AS p
JOIN v1.runs AS r ON r.run_id = p.run_id
WHERE p.sim_id = $sim_id
  AND list_contains($run_ids, p.run_id)
ORDER BY r.run_name, p.run_id, list_position($predictors, p.predictor)
