-- Compare: two runs of one model cell by cell (v1.expert_hotness); diff = share_b - share_a.
SELECT
    a.layer_id,
    a.expert_id,
    a.activations AS activations_a,
    b.activations AS activations_b,
    a.share AS share_a,
    b.share AS share_b,
    COALESCE(b.share, 0) - COALESCE(a.share, 0) AS diff
FROM v1.expert_hotness AS a
JOIN v1.expert_hotness AS b
    ON b.layer_id = a.layer_id AND b.expert_id = a.expert_id
WHERE a.run_id = $run_a AND b.run_id = $run_b
ORDER BY a.layer_id, a.expert_id
