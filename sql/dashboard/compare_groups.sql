-- Compare: two domains of one model cell by cell (v1.expert_hotness_by_group); diff = share_b - share_a.
SELECT
    a.layer_id,
    a.expert_id,
    a.activations AS activations_a,
    b.activations AS activations_b,
    a.share AS share_a,
    b.share AS share_b,
    COALESCE(b.share, 0) - COALESCE(a.share, 0) AS diff
FROM v1.expert_hotness_by_group AS a
JOIN v1.expert_hotness_by_group AS b
    ON b.model_id = a.model_id AND b.group_kind = a.group_kind
    AND b.layer_id = a.layer_id AND b.expert_id = a.expert_id
WHERE a.model_id = $model_id AND a.group_kind = 'domain'
  AND a.group_name = $name_a AND b.group_name = $name_b
ORDER BY a.layer_id, a.expert_id
