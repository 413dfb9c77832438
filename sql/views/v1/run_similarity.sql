-- One row per pair of runs of one model and MoE layer: how alike their expert distributions are.
--
-- Compares the runs' shares over the layer's experts (v1.expert_hotness). js_divergence is
-- the Jensen-Shannon divergence in bits (0 = identical distributions, 1 = disjoint experts):
-- with M = (P + Q) / 2, JS = KL(P || M) / 2 + KL(Q || M) / 2. cosine is the cosine similarity
-- of the activation vectors (1 = proportional). Each unordered pair appears once, with
-- run_a < run_b. Runs without a model are not paired; both columns are NULL for a layer in
-- which either run has no activations.
--
-- @grain model_id, run_a, run_b, layer_id
-- @column model_id       Model of both runs (v1.models.model_id).
-- @column run_a          First run of the pair (the smaller run_id).
-- @column run_b          Second run of the pair.
-- @column layer_id       Block index.
-- @column js_divergence  Jensen-Shannon divergence of the two share distributions, in bits.
-- @column cosine         Cosine similarity of the two activation vectors.
WITH h AS (
    SELECT r.model_id, h.run_id, h.layer_id, h.expert_id, h.activations, h.share
    FROM v1.expert_hotness AS h
    JOIN runs AS r ON r.run_id = h.run_id
    WHERE r.model_id IS NOT NULL
),
pairs AS (
    SELECT
        a.model_id,
        a.run_id AS run_a,
        b.run_id AS run_b,
        a.layer_id,
        MAX(a.share) AS max_a,
        MAX(b.share) AS max_b,
        SUM(CASE WHEN a.share > 0 THEN a.share * LN(2 * a.share / (a.share + b.share)) ELSE 0 END)
            + SUM(CASE WHEN b.share > 0 THEN b.share * LN(2 * b.share / (a.share + b.share)) ELSE 0 END)
            AS js_nats_2,
        SUM(CAST(a.activations AS DOUBLE) * b.activations) AS dot,
        SUM(CAST(a.activations AS DOUBLE) * a.activations) AS norm_a2,
        SUM(CAST(b.activations AS DOUBLE) * b.activations) AS norm_b2
    FROM h AS a
    JOIN h AS b
        ON b.model_id = a.model_id AND b.layer_id = a.layer_id AND b.expert_id = a.expert_id
       AND a.run_id < b.run_id
    GROUP BY a.model_id, a.run_id, b.run_id, a.layer_id
)
SELECT
    model_id,
    run_a,
    run_b,
    layer_id,
    CASE WHEN max_a IS NOT NULL AND max_b IS NOT NULL THEN js_nats_2 / (2 * LN(2)) END AS js_divergence,
    CASE WHEN max_a IS NOT NULL AND max_b IS NOT NULL THEN dot / SQRT(norm_a2 * norm_b2) END AS cosine
FROM pairs
