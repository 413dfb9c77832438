-- The model facts a trace ingest needs: experts per layer, experts used per token, blocks.
SELECT n_experts, n_experts_used, n_layers FROM models WHERE model_id = $model_id
