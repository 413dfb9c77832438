-- One row per run, MoE layer and expert: how often the router selected the expert.
--
-- The full grid of v1.run_shape (every layer and expert of the run's model), so experts that
-- never fired appear with activations 0. activations counts the decode steps (v1.decode_steps)
-- in which the expert was among the layer's selected experts; warm-up passes never count.
-- share divides by all activations of the layer in the run (k per step), so a layer's shares
-- sum to 1. For a run without a model the grid is what its selections show (see
-- v1.run_shape). Expert ids outside the model's grid (flagged by v1.trace_quality) are left
-- out. A run without decode steps (only warm-up passes, say) has no rows: it selected nothing,
-- and a grid of zeros would rank experts that never fired. rank_in_layer ranks the experts
-- that fired (ties to the lower expert id, so ranks are 1..m); an expert with 0 activations
-- has rank NULL.
-- A counts-only run (an SGLang stat or per_pass dump) has no decode steps: its activations are
-- the recorder's counts, over every token it routed (prompt tokens included).
--
-- @grain run_id, layer_id, expert_id
-- @column run_id         Run (v1.runs.run_id).
-- @column layer_id       Block index.
-- @column expert_id      Expert index within the layer.
-- @column activations    Decode steps in which the expert was selected in this layer (a counts-only run: the
--                        recorder's count).
-- @column share          activations / all activations of the layer in the run; NULL if the layer has none.
-- @column rank_in_layer  1 = the layer's most-selected expert in the run; NULL for 0 activations.
WITH grid AS (
    -- INTEGER like the base tables' ids, so joins on them need no casts
    SELECT s.run_id, CAST(l.layer_id AS INTEGER) AS layer_id, CAST(e.expert_id AS INTEGER) AS expert_id
    FROM v1.run_shape AS s
    CROSS JOIN UNNEST(GENERATE_SERIES(0, s.n_layers - 1)) AS l(layer_id)
    CROSS JOIN UNNEST(GENERATE_SERIES(0, s.n_experts - 1)) AS e(expert_id)
    WHERE s.n_steps > 0 OR s.run_id IN (SELECT run_id FROM routing_counts)
),
counts AS (
    SELECT run_id, layer_id, expert_id, COUNT(*) AS activations
    FROM v1.step_experts
    GROUP BY run_id, layer_id, expert_id
    UNION ALL
    SELECT run_id, layer_id, expert_id, activations
    FROM routing_counts
),
joined AS (
    SELECT g.run_id, g.layer_id, g.expert_id, COALESCE(c.activations, 0) AS activations
    FROM grid AS g
    LEFT JOIN counts AS c
        ON c.run_id = g.run_id AND c.layer_id = g.layer_id AND c.expert_id = g.expert_id
)
SELECT
    run_id,
    layer_id,
    expert_id,
    activations,
    CAST(activations AS DOUBLE)
        / NULLIF(SUM(activations) OVER (PARTITION BY run_id, layer_id), 0) AS share,
    CASE WHEN activations > 0
        THEN ROW_NUMBER() OVER (PARTITION BY run_id, layer_id ORDER BY activations DESC, expert_id)
    END AS rank_in_layer
FROM joined
