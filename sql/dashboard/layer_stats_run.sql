-- Per-layer routing concentration of one run (v1.layer_routing_stats).
SELECT layer_id, n_activations, experts_used, coverage, chance_coverage, max_share_ratio, gini,
       normalised_entropy, experts_for_50pct, experts_for_90pct
FROM v1.layer_routing_stats
WHERE run_id = $run_id
ORDER BY layer_id
