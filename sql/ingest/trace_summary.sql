-- What `moewh ingest trace` reports of a run it just wrote: passes, warm-ups, selections.
SELECT
    (SELECT COUNT(*) FROM passes WHERE run_id = $run_id) AS n_passes,
    (SELECT COUNT(*) FROM passes WHERE run_id = $run_id AND is_warmup) AS warmup_passes,
    (SELECT COUNT(*) FROM selections WHERE run_id = $run_id) AS n_selections
