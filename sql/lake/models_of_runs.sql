-- The models the runs being exported (registered as _lake_runs) were read against.
SELECT DISTINCT model_id
FROM runs
WHERE run_id IN (SELECT run_id FROM _lake_runs)
  AND model_id IN (SELECT model_id FROM models)
ORDER BY model_id
