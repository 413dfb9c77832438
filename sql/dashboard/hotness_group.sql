-- Expert heatmap of a group of runs of one model (all, a domain or an experiment).
SELECT layer_id, expert_id, n_runs, activations, share, rank_in_layer
FROM v1.expert_hotness_by_group
WHERE model_id = $model_id
  AND group_kind = $group_kind
  AND group_name IS NOT DISTINCT FROM $group_name
ORDER BY layer_id, expert_id
