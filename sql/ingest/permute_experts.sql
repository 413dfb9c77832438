-- Renumber run $run_id's expert ids in {{table}} from a repacked model's positions to the
-- original experts (_moewh_expert_permutation: layer_id, position, expert_id); ids past the
-- permutation stay as recorded (they are anomalies already).
UPDATE {{table}} AS s
SET expert_id = p.expert_id
FROM _moewh_expert_permutation AS p
WHERE s.run_id = $run_id AND s.layer_id = p.layer_id AND s.expert_id = p.position
