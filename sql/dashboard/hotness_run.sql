-- Expert heatmap of one run: every layer × expert cell of v1.expert_hotness.
SELECT layer_id, expert_id, activations, share, rank_in_layer
FROM v1.expert_hotness
WHERE run_id = $run_id
ORDER BY layer_id, expert_id
