-- One row per run and MoE layer: how concentrated the router's choices were.
--
-- Computed from v1.expert_hotness over the run's grid of n experts, with S the layer's
-- activations (k per decode step). coverage is the fraction of experts selected at least
-- once; chance_coverage is what S independent uniform draws over n experts would cover on
-- average, 1 - (1 - 1/n)^S, so coverage well below it means routing is concentrated.
-- max_share_ratio is the hottest expert's share over the uniform share 1/n. gini is the Gini
-- coefficient of the n activation counts (0 = uniform, (n-1)/n = one expert takes all).
-- entropy_bits is the Shannon entropy of the shares; normalised_entropy divides it by
-- log2(n). experts_for_P is the smallest number of the hottest experts whose activations
-- reach P % of S. Every statistic is NULL for a layer with no activations.
--
-- @grain run_id, layer_id
-- @column run_id               Run (v1.runs.run_id).
-- @column layer_id             Block index.
-- @column n_experts            Experts in the layer (the run's grid).
-- @column n_activations        S, activations in the layer over the run's decode steps.
-- @column experts_used         Experts selected at least once.
-- @column coverage             experts_used / n_experts.
-- @column chance_coverage      1 - (1 - 1/n_experts)^S, the coverage of uniform random routing.
-- @column max_share_ratio      Largest share divided by 1/n_experts.
-- @column gini                 Gini coefficient of the activation counts.
-- @column entropy_bits         Shannon entropy of the shares, in bits.
-- @column normalised_entropy   entropy_bits / log2(n_experts); 1 = uniform.
-- @column experts_for_50pct    Hottest experts needed to cover 50 % of activations.
-- @column experts_for_80pct    Hottest experts needed to cover 80 % of activations.
-- @column experts_for_90pct    Hottest experts needed to cover 90 % of activations.
-- @column experts_for_99pct    Hottest experts needed to cover 99 % of activations.
WITH h AS (
    SELECT
        run_id,
        layer_id,
        expert_id,
        activations,
        share,
        -- position in the layer's ranking, zeros included (rank_in_layer is NULL for them)
        ROW_NUMBER() OVER (PARTITION BY run_id, layer_id ORDER BY activations DESC, expert_id) AS position,
        COUNT(*) OVER (PARTITION BY run_id, layer_id) AS n,
        SUM(activations) OVER (PARTITION BY run_id, layer_id) AS total,
        SUM(activations) OVER (
            PARTITION BY run_id, layer_id ORDER BY activations DESC, expert_id
            ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
        ) - activations AS before
    FROM v1.expert_hotness
),
agg AS (
    SELECT
        run_id,
        layer_id,
        MAX(n) AS n_experts,
        CAST(MAX(total) AS BIGINT) AS n_activations,
        CAST(SUM(CASE WHEN activations > 0 THEN 1 ELSE 0 END) AS BIGINT) AS experts_used,
        MAX(share) AS max_share,
        SUM((n + 1 - 2 * position) * activations) AS gini_num,
        -SUM(CASE WHEN activations > 0 THEN share * LN(share) ELSE 0 END) / LN(2) AS entropy_bits,
        CAST(SUM(CASE WHEN before * 100 < 50 * total THEN 1 ELSE 0 END) AS BIGINT) AS experts_for_50pct,
        CAST(SUM(CASE WHEN before * 100 < 80 * total THEN 1 ELSE 0 END) AS BIGINT) AS experts_for_80pct,
        CAST(SUM(CASE WHEN before * 100 < 90 * total THEN 1 ELSE 0 END) AS BIGINT) AS experts_for_90pct,
        CAST(SUM(CASE WHEN before * 100 < 99 * total THEN 1 ELSE 0 END) AS BIGINT) AS experts_for_99pct
    FROM h
    GROUP BY run_id, layer_id
)
SELECT
    run_id,
    layer_id,
    n_experts,
    n_activations,
    CASE WHEN n_activations > 0 THEN experts_used END AS experts_used,
    CASE WHEN n_activations > 0 THEN CAST(experts_used AS DOUBLE) / n_experts END AS coverage,
    CASE WHEN n_activations > 0 THEN 1 - POWER(1 - 1.0 / n_experts, n_activations) END AS chance_coverage,
    max_share * n_experts AS max_share_ratio,
    CAST(gini_num AS DOUBLE) / NULLIF(n_experts * n_activations, 0) AS gini,
    CASE WHEN n_activations > 0 THEN entropy_bits END AS entropy_bits,
    CASE WHEN n_activations > 0 AND n_experts > 1 THEN entropy_bits / (LN(n_experts) / LN(2)) END
        AS normalised_entropy,
    CASE WHEN n_activations > 0 THEN experts_for_50pct END AS experts_for_50pct,
    CASE WHEN n_activations > 0 THEN experts_for_80pct END AS experts_for_80pct,
    CASE WHEN n_activations > 0 THEN experts_for_90pct END AS experts_for_90pct,
    CASE WHEN n_activations > 0 THEN experts_for_99pct END AS experts_for_99pct
FROM agg
