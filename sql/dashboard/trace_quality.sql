-- Overview: trace-quality counts of the chosen runs (v1.trace_quality), in run order.
SELECT *
FROM v1.trace_quality
WHERE run_id IN (SELECT unnest($run_ids))
ORDER BY run_name, run_id
