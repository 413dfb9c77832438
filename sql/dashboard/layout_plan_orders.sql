-- Layout plans page: per order of plan $plan_id and the runs $run_ids, the step figures averaged over
-- the runs' decode steps, and the extents relative to the file order.
WITH steps AS (
    SELECT order_name, AVG(extents) AS extents, AVG(pages) AS pages, AVG(readahead_windows) AS windows,
           AVG(bytes) AS bytes, COUNT(*) AS n_steps
    FROM v1.layout_plan_steps
    WHERE plan_id = $plan_id AND run_id IN (SELECT unnest($run_ids))
    GROUP BY order_name
),
flags AS (
    SELECT order_name, BOOL_OR(in_sample) AS in_sample
    FROM v1.layout_plans
    WHERE plan_id = $plan_id AND run_id IN (SELECT unnest($run_ids))
    GROUP BY order_name
)
SELECT
    s.order_name,
    f.in_sample,
    s.n_steps,
    s.bytes AS mean_bytes_per_step,
    s.extents AS mean_extents_per_step,
    s.extents / NULLIF((SELECT extents FROM steps WHERE order_name = 'file'), 0) AS extents_vs_file,
    s.pages AS mean_pages_per_step,
    s.pages / NULLIF((SELECT pages FROM steps WHERE order_name = 'file'), 0) AS pages_vs_file,
    s.windows AS mean_readahead_windows_per_step
FROM steps AS s
JOIN flags AS f ON f.order_name = s.order_name
ORDER BY list_position(['file', 'layer', 'expert-major', 'hot-first', 'coact'], s.order_name), s.order_name
