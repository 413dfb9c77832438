-- The groups v1.expert_hotness_by_group offers per model, with their run counts.
SELECT DISTINCT model_id, group_kind, group_name, n_runs
FROM v1.expert_hotness_by_group
WHERE layer_id = 0 AND expert_id = 0
ORDER BY model_id, group_kind, group_name
