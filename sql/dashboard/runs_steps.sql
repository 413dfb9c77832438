-- Decode steps summed over the chosen runs (v1.run_shape).
SELECT CAST(COALESCE(SUM(n_steps), 0) AS BIGINT) AS n_steps
FROM v1.run_shape
WHERE run_id IN (SELECT unnest($run_ids))
