-- Layout check: every layout row of one model in file order.
SELECT tensor_name, layer_id, expert_id, component, category, ggml_type, n_dims, ne0, ne1, ne2,
       offset_start, offset_end, size_bytes
FROM v1.tensors
WHERE model_id = $model_id
ORDER BY offset_start, tensor_name
