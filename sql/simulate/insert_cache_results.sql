-- Append the staged rows (registered from Arrow by warehouse.simulate.runner).
INSERT INTO cache_sim_results BY NAME SELECT * FROM staged_cache
