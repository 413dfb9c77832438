-- One row per run and MoE layer: how often the router keeps its experts from one decode step to the next.
--
-- Over every pair of consecutive decode steps t, t+1 (v1.decode_steps) that both have a
-- selection in the layer: repeat_probability is the chance that an expert selected at t is
-- selected again at t+1 (kept experts summed over pairs / experts selected at t summed over
-- pairs). Uniform random routing of k of n experts gives k/n (baseline); lift is the ratio.
-- mean_jaccard averages |S_t ∩ S_t+1| / |S_t ∪ S_t+1| over the pairs. NULL without pairs.
--
-- @grain run_id, layer_id
-- @column run_id              Run (v1.runs.run_id).
-- @column layer_id            Block index.
-- @column n_experts           Experts in the layer (v1.run_shape).
-- @column experts_used        k, experts selected per token.
-- @column n_pairs             Consecutive step pairs with a selection in the layer at both steps.
-- @column repeat_probability  P(an expert selected at step t is selected at step t+1).
-- @column baseline            k / n_experts, the repeat probability of uniform random routing.
-- @column lift                repeat_probability / baseline.
-- @column mean_jaccard        Mean Jaccard similarity of consecutive steps' expert sets.
WITH sets AS (
    SELECT run_id, layer_id, step, COUNT(*) AS set_size
    FROM v1.step_experts
    GROUP BY run_id, layer_id, step
),
kept AS (
    SELECT a.run_id, a.layer_id, a.step, COUNT(*) AS n_kept
    FROM v1.step_experts AS a
    JOIN v1.step_experts AS b
        ON b.run_id = a.run_id AND b.layer_id = a.layer_id AND b.expert_id = a.expert_id
       AND b.step = a.step + 1
    GROUP BY a.run_id, a.layer_id, a.step
),
pairs AS (
    SELECT
        a.run_id,
        a.layer_id,
        a.set_size AS size_t,
        b.set_size AS size_next,
        COALESCE(k.n_kept, 0) AS n_kept
    FROM sets AS a
    JOIN sets AS b ON b.run_id = a.run_id AND b.layer_id = a.layer_id AND b.step = a.step + 1
    LEFT JOIN kept AS k ON k.run_id = a.run_id AND k.layer_id = a.layer_id AND k.step = a.step
),
per_layer AS (
    SELECT
        run_id,
        layer_id,
        COUNT(*) AS n_pairs,
        CAST(SUM(n_kept) AS DOUBLE) / SUM(size_t) AS repeat_probability,
        AVG(CAST(n_kept AS DOUBLE) / (size_t + size_next - n_kept)) AS mean_jaccard
    FROM pairs
    GROUP BY run_id, layer_id
)
SELECT
    p.run_id,
    p.layer_id,
    s.n_experts,
    s.experts_used,
    p.n_pairs,
    p.repeat_probability,
    CAST(s.experts_used AS DOUBLE) / s.n_experts AS baseline,
    p.repeat_probability / (CAST(s.experts_used AS DOUBLE) / s.n_experts) AS lift,
    p.mean_jaccard
FROM per_layer AS p
JOIN v1.run_shape AS s ON s.run_id = p.run_id
