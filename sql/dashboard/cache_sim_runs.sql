-- The runs simulation $sim_id has results for, with their accesses (a warm-up-only run has none).
SELECT c.run_id, r.run_name, r.domain, r.tags['source'] AS source, MAX(c.n_accesses) AS n_accesses,
       MAX(c.n_steps) AS n_steps
FROM v1.cache_results AS c
JOIN v1.runs AS r ON r.run_id = c.run_id
WHERE c.sim_id = $sim_id
GROUP BY c.run_id, r.run_name, r.domain, r.tags['source']
ORDER BY r.run_name, c.run_id
