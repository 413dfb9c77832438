-- The layer × expert grid and decode steps of one run.
SELECT n_layers, n_experts, experts_used, n_steps, shape_source
FROM v1.run_shape
WHERE run_id = $run_id
