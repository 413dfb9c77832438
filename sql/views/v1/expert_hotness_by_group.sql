-- One row per group of runs, MoE layer and expert: v1.expert_hotness summed over the group.
--
-- Groups are formed within one model: all runs of the model (group_kind 'all', group_name
-- NULL), the runs of each domain ('domain') and of each experiment ('experiment'). Runs
-- without a domain or experiment count only in 'all'; runs without a model count in no group,
-- since their grids are not comparable. share and rank_in_layer are recomputed over the
-- group's summed activations (ties go to the lower expert id).
--
-- @grain group_kind, group_name, model_id, layer_id, expert_id
-- @column group_kind     all, domain or experiment.
-- @column group_name     The domain or experiment; NULL for group_kind 'all'.
-- @column model_id       Model (v1.models.model_id).
-- @column layer_id       Block index.
-- @column expert_id      Expert index within the layer.
-- @column n_runs         Runs in the group.
-- @column activations    Decode steps, over the group's runs, in which the expert was selected.
-- @column share          activations / all activations of the layer in the group; NULL if none.
-- @column rank_in_layer  1 = the layer's most-selected expert in the group; NULL for 0 activations.
WITH h AS (
    SELECT r.model_id, r.domain, r.experiment, h.run_id, h.layer_id, h.expert_id, h.activations
    FROM v1.expert_hotness AS h
    JOIN runs AS r ON r.run_id = h.run_id
    WHERE r.model_id IS NOT NULL
),
grouped AS (
    SELECT 'all' AS group_kind, CAST(NULL AS VARCHAR) AS group_name, model_id, layer_id, expert_id,
           COUNT(DISTINCT run_id) AS n_runs, CAST(SUM(activations) AS BIGINT) AS activations
    FROM h
    GROUP BY model_id, layer_id, expert_id
    UNION ALL
    SELECT 'domain' AS group_kind, domain AS group_name, model_id, layer_id, expert_id,
           COUNT(DISTINCT run_id) AS n_runs, CAST(SUM(activations) AS BIGINT) AS activations
    FROM h
    WHERE domain IS NOT NULL
    GROUP BY domain, model_id, layer_id, expert_id
    UNION ALL
    SELECT 'experiment' AS group_kind, experiment AS group_name, model_id, layer_id, expert_id,
           COUNT(DISTINCT run_id) AS n_runs, CAST(SUM(activations) AS BIGINT) AS activations
    FROM h
    WHERE experiment IS NOT NULL
    GROUP BY experiment, model_id, layer_id, expert_id
)
SELECT
    group_kind,
    group_name,
    model_id,
    layer_id,
    expert_id,
    n_runs,
    activations,
    CAST(activations AS DOUBLE) / NULLIF(
        SUM(activations) OVER (PARTITION BY group_kind, group_name, model_id, layer_id), 0) AS share,
    CASE WHEN activations > 0 THEN ROW_NUMBER() OVER (
        PARTITION BY group_kind, group_name, model_id, layer_id ORDER BY activations DESC, expert_id
    ) END AS rank_in_layer
FROM grouped
