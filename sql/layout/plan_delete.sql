-- Forget a plan's rows before it is stored again (the same plan_id means the same inputs).
DELETE FROM layout_plan_results WHERE plan_id = $plan_id;
DELETE FROM layout_plan_steps WHERE plan_id = $plan_id;
DELETE FROM layout_plan_offsets WHERE plan_id = $plan_id;
DELETE FROM layout_plan_permutations WHERE plan_id = $plan_id;
DELETE FROM layout_plans WHERE plan_id = $plan_id;
