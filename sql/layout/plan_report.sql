-- What `moewh layout plan` prints: one row per scored run and order of one plan, beside the file order.
SELECT
    r.run_name,
    p.order_name,
    p.in_sample,
    p.n_steps,
    p.mean_bytes_per_step,
    p.mean_extents_per_step,
    p.p95_extents_per_step,
    p.mean_extents_per_step / NULLIF(f.mean_extents_per_step, 0) AS extents_vs_file,
    p.mean_pages_per_step,
    p.p95_pages_per_step,
    p.mean_readahead_windows_per_step,
    p.distinct_bytes,
    p.run_id
FROM v1.layout_plans AS p
JOIN v1.runs AS r ON r.run_id = p.run_id
LEFT JOIN v1.layout_plans AS f ON f.plan_id = p.plan_id AND f.run_id = p.run_id AND f.order_name = 'file'
WHERE p.plan_id = $plan_id
ORDER BY r.run_name, p.run_id, list_position($orders, p.order_name)
