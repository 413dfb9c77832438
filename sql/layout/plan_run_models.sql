-- The model of each given run (to refuse runs of another model).
SELECT run_id, run_name, model_id
FROM v1.runs
WHERE list_contains($run_ids, run_id)
