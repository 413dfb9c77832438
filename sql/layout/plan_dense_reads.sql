-- Dense tensors each decode step of the given runs read (v1.pass_tensor_reads, once per step),
-- with the bytes read (the token embedding's GET_ROWS reads only the rows it gathers).
SELECT run_id, step, tensor_name, MAX(read_bytes) AS read_bytes
FROM v1.pass_tensor_reads
WHERE list_contains($run_ids, run_id)
GROUP BY run_id, step, tensor_name
