-- Every model layout with its headline facts.
SELECT
    model_id,
    model_name,
    architecture,
    n_layers,
    n_experts,
    n_experts_used,
    n_tensors,
    n_layout_rows,
    file_size_bytes,
    weight_bytes,
    source_kind,
    file_name
FROM v1.models
ORDER BY model_name, model_id
