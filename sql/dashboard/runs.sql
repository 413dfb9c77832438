-- Every run with the fields the pickers and filters use (source is the tag source=real|synthetic).
SELECT
    run_id,
    run_name,
    experiment,
    domain,
    tags['source'] AS source,
    model_id,
    n_passes,
    n_records,
    experts_used,
    ingested_at
FROM v1.runs
ORDER BY experiment NULLS LAST, domain NULLS LAST, run_name, run_id
