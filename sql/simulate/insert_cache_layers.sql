-- Append the staged rows (registered from Arrow by warehouse.simulate.runner).
INSERT INTO cache_sim_layers BY NAME SELECT * FROM staged_cache
