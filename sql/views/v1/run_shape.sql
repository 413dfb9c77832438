-- One row per run: the grid of MoE layers and experts its analysis views cover.
--
-- For a run with a model the grid is the model's: layers 0 .. n_layers-1 and experts
-- 0 .. n_experts-1 from v1.models. A run without a model (or a model that lacks these
-- facts) falls back to what its selections show: the largest layer and expert id seen, plus
-- one (shape_source = 'observed'); experts that never fired beyond the largest seen id are
-- then missing from its grid. A routing-only run without a model takes the grid its
-- recorder states (shape_source = 'recorder', e.g. a route_trace preamble) where it states
-- one; observed ids include its prompt tokens' routes and its activation counts. k is the run's experts-used count, else the model's, else the
-- largest rank seen plus one.
--
-- @grain run_id
-- @column run_id        Run (v1.runs.run_id).
-- @column model_id      Model of the run; NULL if the run has no layout.
-- @column n_layers      Layers in the grid.
-- @column n_experts     Experts per layer in the grid.
-- @column experts_used  k, experts selected per token.
-- @column shape_source  model when both grid sizes come from the model, recorder when from the routing
--                       recorder's own statement, else observed.
-- @column n_steps       Decode steps of the run (v1.decode_steps).
SELECT
    r.run_id,
    r.model_id,
    COALESCE(m.n_layers, rr.n_layers, o.max_layer + 1) AS n_layers,
    COALESCE(m.n_experts, rr.n_experts, o.max_expert + 1) AS n_experts,
    COALESCE(r.experts_used, m.n_experts_used, o.max_rank + 1) AS experts_used,
    CASE
        WHEN m.n_layers IS NOT NULL AND m.n_experts IS NOT NULL THEN 'model'
        WHEN COALESCE(m.n_layers, rr.n_layers) IS NOT NULL AND COALESCE(m.n_experts, rr.n_experts) IS NOT NULL
            THEN 'recorder'
        ELSE 'observed'
    END AS shape_source,
    COALESCE(d.n_steps, 0) AS n_steps
FROM runs AS r
LEFT JOIN models AS m ON m.model_id = r.model_id
LEFT JOIN routing_runs AS rr ON rr.run_id = r.run_id
LEFT JOIN (
    SELECT run_id, MAX(layer_id) AS max_layer, MAX(expert_id) AS max_expert, MAX(rank) AS max_rank
    FROM (
        SELECT run_id, layer_id, expert_id, rank FROM v1.expert_selections
        UNION ALL
        SELECT run_id, layer_id, expert_id, rank FROM token_routes
        UNION ALL
        SELECT run_id, layer_id, expert_id, CAST(NULL AS SMALLINT) FROM routing_counts
    ) AS seen
    GROUP BY run_id
) AS o ON o.run_id = r.run_id
LEFT JOIN (
    SELECT run_id, COUNT(*) AS n_steps
    FROM v1.decode_steps
    GROUP BY run_id
) AS d ON d.run_id = r.run_id
