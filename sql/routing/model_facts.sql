-- What a routing ingest checks against and estimates from: the model's grid, k, and the dense
-- bytes one token reads (every non-expert tensor once; a GET_ROWS lookup table such as
-- token_embd reads one row, bytes / ne1).
SELECT
    m.n_layers,
    m.n_experts,
    m.n_experts_used,
    (SELECT COUNT(DISTINCT t.layer_id) FROM tensors AS t WHERE t.model_id = m.model_id AND t.category = 'expert')
        AS n_moe_layers,
    (SELECT CAST(SUM(CASE WHEN t.category = 'embedding' AND t.ne1 > 0
                          THEN t.size_bytes // t.ne1 ELSE t.size_bytes END) AS BIGINT)
     FROM tensors AS t
     WHERE t.model_id = m.model_id AND t.expert_id IS NULL AND t.category NOT IN ('expert', 'expert_bias'))
        AS dense_bytes_per_token
FROM models AS m
WHERE m.model_id = $model_id
