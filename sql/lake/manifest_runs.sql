-- The exported runs (registered as _lake_runs) as the manifest lists them.
SELECT run_id, run_name, model_id FROM runs WHERE run_id IN (SELECT run_id FROM _lake_runs)
