-- A model's recorded expert permutations (moewh.expert_permutation.N metadata of a repacked
-- file, see warehouse/formats/gguf/expert_permutation.py) with the block and expert counts.
SELECT m.n_layers, m.n_experts, md.key, md.value
FROM models AS m
JOIN model_metadata AS md ON md.model_id = m.model_id
WHERE m.model_id = $model_id AND starts_with(md.key, 'moewh.expert_permutation.')
