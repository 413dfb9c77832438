-- The largest item (one expert of one layer: its expert slices and split biases) of the models
-- of runs $run_ids: budget / item_bytes is the capacity in items, so the working set's cliff
-- lies at working_set_items x item_bytes.
SELECT MAX(size_bytes) AS item_bytes
FROM (
    SELECT t.model_id, t.layer_id, t.expert_id, SUM(t.size_bytes) AS size_bytes
    FROM v1.tensors AS t
    WHERE t.model_id IN (SELECT model_id FROM v1.runs WHERE run_id IN (SELECT unnest($run_ids)))
      AND t.category IN ('expert', 'expert_bias') AND t.expert_id IS NOT NULL AND t.layer_id IS NOT NULL
    GROUP BY t.model_id, t.layer_id, t.expert_id
) AS items
