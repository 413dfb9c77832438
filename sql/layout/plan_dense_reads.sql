-- Dense tensors each decode step of the given runs read (v1.pass_tensor_reads, once per step).
SELECT DISTINCT run_id, step, tensor_name
FROM v1.pass_tensor_reads
WHERE list_contains($run_ids, run_id)
