-- Compare: per-layer similarity of two runs (v1.run_similarity stores each pair once, run_a < run_b).
SELECT layer_id, js_divergence, cosine
FROM v1.run_similarity
WHERE run_a = LEAST($run_a, $run_b) AND run_b = GREATEST($run_a, $run_b)
ORDER BY layer_id
