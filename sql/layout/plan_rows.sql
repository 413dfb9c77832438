-- The layout rows of one model the planner replays (v1.tensors), in file order.
SELECT tensor_name, base_name, layer_id, expert_id, category, offset_start, size_bytes
FROM v1.tensors
WHERE model_id = $model_id
ORDER BY offset_start, tensor_name
