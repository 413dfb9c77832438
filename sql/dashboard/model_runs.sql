-- Runs read against one model.
SELECT run_id FROM v1.runs WHERE model_id = $model_id ORDER BY run_name, run_id
