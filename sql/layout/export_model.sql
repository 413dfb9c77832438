-- The model facts the gguf-dump CSV preamble states.
SELECT file_name, n_tensors, data_offset, alignment, file_size_bytes FROM models WHERE model_id = $model_id
