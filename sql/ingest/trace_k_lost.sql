-- A row when run $run_id has a non-warm-up pass with expert ids: with k unknown, its
-- selections are lost (v1.trace_quality.k_unknown).
SELECT 1
FROM passes
WHERE run_id = $run_id AND NOT is_warmup AND ids_per_token IS NOT NULL
LIMIT 1
