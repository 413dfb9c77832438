-- Layout plans page: extents, pages and readahead windows per decode step of run $run_id under every order of plan $plan_id.
SELECT order_name, step, bytes, extents, pages, readahead_windows
FROM v1.layout_plan_steps
WHERE plan_id = $plan_id AND run_id = $run_id
ORDER BY order_name, step
