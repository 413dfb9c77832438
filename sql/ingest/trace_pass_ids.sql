-- Ids per token recorded in each pass of run $run_id (the typical count of its MoE records),
-- used to tell warm-up passes from selections and to infer k when nothing else gives it.
SELECT pass_id, MODE(LEAST(num_experts, 16)) AS recorded_ids
FROM records
WHERE run_id = $run_id AND num_experts > 0
GROUP BY pass_id
ORDER BY pass_id
