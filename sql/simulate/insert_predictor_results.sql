-- Append the staged rows (registered from Arrow by warehouse.simulate.runner).
INSERT INTO predictor_sim_results BY NAME SELECT * FROM staged_predictors
