-- Layout plans page: the runs plan $plan_id scored.
SELECT DISTINCT run_id FROM v1.layout_plans WHERE plan_id = $plan_id ORDER BY run_id
