-- The runs a simulation can read, with the grid of items (layers x experts) and k.
SELECT
    r.run_id,
    r.run_name,
    r.model_id,
    r.domain,
    r.experiment,
    s.n_layers,
    s.n_experts,
    s.experts_used,
    s.n_steps
FROM v1.runs AS r
JOIN v1.run_shape AS s ON s.run_id = r.run_id
ORDER BY r.run_name, r.run_id
