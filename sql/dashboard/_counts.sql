-- How much the warehouse holds: models and runs.
SELECT (SELECT count(*) FROM v1.models) AS n_models, (SELECT count(*) FROM v1.runs) AS n_runs
