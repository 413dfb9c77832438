-- The run a routing file's content already makes, if any (same run_id: same routing).
SELECT run_name, COALESCE(rr.n_tokens, 0) FROM runs AS r LEFT JOIN routing_runs AS rr USING (run_id)
WHERE r.run_id = $run_id
