-- One row per run, MoE layer and observed pair of top-1 experts at consecutive decode steps.
--
-- The top-1 expert of a step is the router's first choice (rank 0) in the layer. Counts the
-- pairs of consecutive decode steps t, t+1 (v1.decode_steps) whose top-1 experts were
-- from_expert and to_expert; pairs never observed have no row. probability is the count over
-- all transitions leaving from_expert in that run and layer (an estimate of P(to | from)).
--
-- @grain run_id, layer_id, from_expert, to_expert
-- @column run_id       Run (v1.runs.run_id).
-- @column layer_id     Block index.
-- @column from_expert  Top-1 expert at step t.
-- @column to_expert    Top-1 expert at step t+1.
-- @column transitions  Consecutive step pairs with this transition.
-- @column probability  transitions / all transitions from from_expert in the run and layer.
WITH top1 AS (
    SELECT run_id, layer_id, step, expert_id
    FROM v1.step_experts
    WHERE rank = 0
),
counted AS (
    SELECT a.run_id, a.layer_id, a.expert_id AS from_expert, b.expert_id AS to_expert, COUNT(*) AS transitions
    FROM top1 AS a
    JOIN top1 AS b ON b.run_id = a.run_id AND b.layer_id = a.layer_id AND b.step = a.step + 1
    GROUP BY a.run_id, a.layer_id, a.expert_id, b.expert_id
)
SELECT
    run_id,
    layer_id,
    from_expert,
    to_expert,
    transitions,
    CAST(transitions AS DOUBLE) / SUM(transitions) OVER (PARTITION BY run_id, layer_id, from_expert) AS probability
FROM counted
