-- One row per run, MoE layer and pair of experts both selected at least once: how often they fire together.
--
-- co_selections counts the decode steps in which both experts were among the layer's
-- selected experts. expected is what independence predicts from each expert's own rate:
-- activations_a * activations_b / n_steps, with n_steps the steps that have a selection in
-- the layer. lift = co_selections / expected (> 1: chosen together more often than chance).
-- Pairs with expert_a < expert_b only; a pair in which an expert never fired has no row.
-- This is the input for placing co-activated experts close together in the file.
--
-- @grain run_id, layer_id, expert_a, expert_b
-- @column run_id          Run (v1.runs.run_id).
-- @column layer_id        Block index.
-- @column expert_a        The pair's lower expert id.
-- @column expert_b        The pair's higher expert id.
-- @column co_selections   Decode steps in which both were selected.
-- @column activations_a   Decode steps in which expert_a was selected.
-- @column activations_b   Decode steps in which expert_b was selected.
-- @column n_steps         Decode steps with a selection in the layer.
-- @column expected        activations_a * activations_b / n_steps.
-- @column lift            co_selections / expected.
WITH active AS (
    SELECT run_id, layer_id, expert_id, activations
    FROM v1.expert_hotness
    WHERE activations > 0
),
steps AS (
    SELECT run_id, layer_id, COUNT(DISTINCT step) AS n_steps
    FROM v1.step_experts
    GROUP BY run_id, layer_id
),
co AS (
    SELECT a.run_id, a.layer_id, a.expert_id AS expert_a, b.expert_id AS expert_b, COUNT(*) AS co_selections
    FROM v1.step_experts AS a
    JOIN v1.step_experts AS b
        ON b.run_id = a.run_id AND b.layer_id = a.layer_id AND b.step = a.step AND a.expert_id < b.expert_id
    GROUP BY a.run_id, a.layer_id, a.expert_id, b.expert_id
),
pairs AS (
    SELECT
        x.run_id,
        x.layer_id,
        x.expert_id AS expert_a,
        y.expert_id AS expert_b,
        COALESCE(c.co_selections, 0) AS co_selections,
        x.activations AS activations_a,
        y.activations AS activations_b,
        s.n_steps,
        CAST(x.activations AS DOUBLE) * y.activations / s.n_steps AS expected
    FROM active AS x
    JOIN active AS y ON y.run_id = x.run_id AND y.layer_id = x.layer_id AND x.expert_id < y.expert_id
    JOIN steps AS s ON s.run_id = x.run_id AND s.layer_id = x.layer_id
    LEFT JOIN co AS c
        ON c.run_id = x.run_id AND c.layer_id = x.layer_id AND c.expert_a = x.expert_id AND c.expert_b = y.expert_id
)
SELECT
    run_id,
    layer_id,
    expert_a,
    expert_b,
    co_selections,
    activations_a,
    activations_b,
    n_steps,
    expected,
    co_selections / expected AS lift
FROM pairs
