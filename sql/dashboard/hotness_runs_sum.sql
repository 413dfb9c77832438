-- Expert heatmap of several runs of one model: v1.expert_hotness summed over the runs, with
-- share and rank recomputed over the sum (ties to the lower expert id, as in the view).
WITH summed AS (
    SELECT layer_id, expert_id, SUM(activations) AS activations
    FROM v1.expert_hotness
    WHERE run_id IN (SELECT unnest($run_ids))
    GROUP BY layer_id, expert_id
)
SELECT
    layer_id,
    expert_id,
    activations,
    CAST(activations AS DOUBLE) / NULLIF(SUM(activations) OVER (PARTITION BY layer_id), 0) AS share,
    CASE WHEN activations > 0
        THEN ROW_NUMBER() OVER (PARTITION BY layer_id ORDER BY activations DESC, expert_id)
    END AS rank_in_layer
FROM summed
ORDER BY layer_id, expert_id
