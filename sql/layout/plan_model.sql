-- Facts of one model the layout planner needs: where packed orders start and how tensors align.
SELECT model_id, model_name, n_layers, n_experts, data_offset, alignment
FROM v1.models
WHERE model_id = $model_id
