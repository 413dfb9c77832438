-- Bytes of every item (one expert of one layer) of models $model_ids: all its layout rows,
-- the gate/up/down expert slices and the split expert biases. A bias kept whole has no
-- expert and belongs to no item.
SELECT model_id, layer_id, expert_id, SUM(size_bytes) AS size_bytes
FROM v1.tensors
WHERE list_contains($model_ids, model_id)
  AND category IN ('expert', 'expert_bias')
  AND expert_id IS NOT NULL
  AND layer_id IS NOT NULL
GROUP BY model_id, layer_id, expert_id
