-- The hottest experts of one prompt domain, per model and MoE layer.
--
-- Sums every run of the domain (v1.expert_hotness_by_group) and keeps the top experts of
-- each layer. Compare two domains by running it twice, or drop the domain filter and
-- group_kind = 'all' to rank over every run of a model.
--
-- Usage: moewh query --file sql/queries/hottest_experts_of_domain.sql -p domain=code -p top=3
--
-- @param domain  code  Prompt domain (v1.runs.domain).
-- @param top     3     Experts to keep per layer.
SELECT
    m.model_name,
    g.layer_id,
    g.rank_in_layer,
    g.expert_id,
    g.activations,
    ROUND(g.share, 4) AS share,
    g.n_runs
FROM v1.expert_hotness_by_group AS g
JOIN v1.models AS m ON m.model_id = g.model_id
WHERE g.group_kind = 'domain'
  AND g.group_name = $domain
  AND g.rank_in_layer <= $top
ORDER BY m.model_name, g.layer_id, g.rank_in_layer
