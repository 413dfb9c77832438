-- What `moewh ingest trace` reports of a run it just wrote: passes, warm-ups, selections.
SELECT
    COUNT(*) AS n_passes,
    COUNT(CASE WHEN is_warmup THEN 1 END) AS warmup_passes,
    (SELECT COUNT(*) FROM selections WHERE run_id = $run_id) AS n_selections
FROM passes
WHERE run_id = $run_id
