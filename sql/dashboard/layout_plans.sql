-- Layout plans page: one row per stored plan (v1.layout_plans), newest first.
SELECT
    p.plan_id,
    p.model_id,
    m.model_name,
    MAX(p.created_at) AS created_at,
    COUNT(DISTINCT p.run_id) AS n_runs,
    COUNT(DISTINCT p.order_name) AS n_orders,
    MAX(p.page_bytes) AS page_bytes,
    MAX(p.readahead_bytes) AS readahead_bytes,
    MAX(p.merge_gap_bytes) AS merge_gap_bytes
FROM v1.layout_plans AS p
LEFT JOIN v1.models AS m ON m.model_id = p.model_id
GROUP BY p.plan_id, p.model_id, m.model_name
ORDER BY created_at DESC, p.plan_id
