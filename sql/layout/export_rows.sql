-- Layout rows of one model ($1 = model_id) in file order, expert slices by expert id.
SELECT
    tensor_name, base_name, expert_id, layer_id, n_dims, ne0, ne1, ne2, ne3, offset_start, size_bytes
FROM tensors
WHERE model_id = $1
ORDER BY file_index, expert_id NULLS FIRST, offset_start, tensor_name
