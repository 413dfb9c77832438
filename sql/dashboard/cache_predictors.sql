-- Prefetch predictor scores of runs $run_ids (v1.predictor_results), every training set.
SELECT r.run_name, p.predictor, p.train, p.in_sample, p.n_predictions, p.recall, p."precision",
       p.wasted_bytes_per_step, p.run_id
FROM v1.predictor_results AS p
JOIN v1.runs AS r ON r.run_id = p.run_id
WHERE p.run_id IN (SELECT unnest($run_ids))
ORDER BY p.train, r.run_name, p.run_id, p.predictor
