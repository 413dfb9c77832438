-- How often one run keeps its experts from step to step, per layer (v1.expert_stickiness).
SELECT layer_id, n_pairs, repeat_probability, baseline, lift, mean_jaccard
FROM v1.expert_stickiness
WHERE run_id = $run_id
ORDER BY layer_id
