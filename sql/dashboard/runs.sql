-- Every run with the fields the pickers and filters use (source is the tag source=real|synthetic;
-- n_steps, the decode steps, lets pickers start on a run that has expert selections).
SELECT
    r.run_id,
    r.run_name,
    r.experiment,
    r.domain,
    r.tags['source'] AS source,
    r.model_id,
    r.n_passes,
    s.n_steps,
    r.n_records,
    r.experts_used,
    r.ingested_at
FROM v1.runs AS r
LEFT JOIN v1.run_shape AS s ON s.run_id = r.run_id
ORDER BY r.experiment NULLS LAST, r.domain NULLS LAST, r.run_name, r.run_id
