-- Overview: model bytes each chosen run touched per decode step and in all (v1.run_bytes).
SELECT r.run_name, b.run_id, b.n_steps, b.mean_step_bytes, b.p50_step_bytes, b.p95_step_bytes,
       b.distinct_bytes, b.distinct_fraction
FROM v1.run_bytes AS b
JOIN v1.runs AS r ON r.run_id = b.run_id
WHERE b.run_id IN (SELECT unnest($run_ids))
ORDER BY r.run_name, b.run_id
