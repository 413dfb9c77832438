-- The model facts a trace ingest needs: experts per layer and experts used per token.
SELECT n_experts, n_experts_used FROM models WHERE model_id = $model_id
