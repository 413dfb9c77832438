-- One row per model, MoE layer, expert and domain: how the expert's use splits across prompt domains.
--
-- Built on v1.expert_hotness_by_group (group_kind 'domain'). domain_share is the expert's
-- share of the domain's activations in the layer. Because domains differ in how many steps
-- they have, the split across domains uses shares, not counts: affinity = domain_share / the
-- sum of the expert's domain_shares over the model's domains, so an expert used equally
-- often in every domain has affinity 1/D in each of the D domains.
-- entropy_bits is the Shannon entropy of the affinities; normalised_entropy divides by
-- log2(D).
-- Label rule: 'undetermined' when the model has fewer than 2 domains; 'inactive' when the
-- expert has no activation in any domain; 'specialist' when its top affinity is at least
-- halfway from uniform to exclusive, top_affinity >= (1 + 1/D) / 2 (0.75 for 2 domains, 0.6
-- for 5); 'generalist' otherwise.
--
-- @grain model_id, layer_id, expert_id, domain
-- @column model_id            Model (v1.models.model_id).
-- @column layer_id            Block index.
-- @column expert_id           Expert index within the layer.
-- @column domain              Prompt domain.
-- @column n_domains           D, domains with runs of this model.
-- @column n_runs              Runs of the model in the domain.
-- @column activations         Decode steps of the domain's runs in which the expert was selected.
-- @column domain_share        activations / all activations of the layer in the domain.
-- @column affinity            domain_share / sum of the expert's domain_share over domains.
-- @column top_domain          Domain of the highest affinity (ties: first by name).
-- @column top_affinity        Highest affinity of the expert.
-- @column entropy_bits        Entropy of the expert's affinities across domains, in bits.
-- @column normalised_entropy  entropy_bits / log2(n_domains); 1 = used alike in every domain.
-- @column label               specialist, generalist, inactive or undetermined (rule above).
WITH d AS (
    SELECT
        model_id,
        layer_id,
        expert_id,
        group_name AS domain,
        n_runs,
        activations,
        share AS domain_share,
        COUNT(*) OVER (PARTITION BY model_id, layer_id, expert_id) AS n_domains,
        SUM(share) OVER (PARTITION BY model_id, layer_id, expert_id) AS share_sum
    FROM v1.expert_hotness_by_group
    WHERE group_kind = 'domain'
),
a AS (
    SELECT
        d.*,
        CASE WHEN share_sum > 0 THEN COALESCE(domain_share, 0) / share_sum END AS affinity
    FROM d
),
ranked AS (
    SELECT
        a.*,
        ROW_NUMBER() OVER (PARTITION BY model_id, layer_id, expert_id ORDER BY affinity DESC, domain) AS affinity_rank
    FROM a
),
per_expert AS (
    SELECT
        model_id,
        layer_id,
        expert_id,
        MAX(CASE WHEN affinity_rank = 1 AND affinity IS NOT NULL THEN domain END) AS top_domain,
        MAX(affinity) AS top_affinity,
        -SUM(CASE WHEN affinity > 0 THEN affinity * LN(affinity) ELSE 0 END) / LN(2) AS entropy_bits
    FROM ranked
    GROUP BY model_id, layer_id, expert_id
)
SELECT
    r.model_id,
    r.layer_id,
    r.expert_id,
    r.domain,
    r.n_domains,
    r.n_runs,
    r.activations,
    r.domain_share,
    r.affinity,
    e.top_domain,
    e.top_affinity,
    CASE WHEN e.top_affinity IS NOT NULL THEN e.entropy_bits END AS entropy_bits,
    CASE WHEN e.top_affinity IS NOT NULL AND r.n_domains > 1
        THEN e.entropy_bits / (LN(r.n_domains) / LN(2)) END AS normalised_entropy,
    CASE
        WHEN r.n_domains < 2 THEN 'undetermined'
        WHEN e.top_affinity IS NULL THEN 'inactive'
        WHEN e.top_affinity >= (1 + 1.0 / r.n_domains) / 2 THEN 'specialist'
        ELSE 'generalist'
    END AS label
FROM ranked AS r
JOIN per_expert AS e ON e.model_id = r.model_id AND e.layer_id = r.layer_id AND e.expert_id = r.expert_id
