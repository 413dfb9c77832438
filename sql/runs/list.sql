-- `moewh runs list`: one row per run, the columns a user needs to pick a run by id or name.
SELECT run_id, run_name, experiment, domain, model_id, source_format, n_records, n_passes,
       experts_used AS k, tags
FROM v1.runs
ORDER BY run_name, run_id
