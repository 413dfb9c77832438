-- Bytes per decode step that a layer-sequential file layout would save, per run.
--
-- Model of the reader: it fetches whole aligned chunks of chunk_bytes (read-ahead, huge
-- pages), so a step costs every chunk that any byte it touches lies in. The touched rows of a
-- step are the non-expert tensors it read (v1.pass_tensor_reads) and its experts' slices
-- (v1.expert_slice_accesses). The actual layout uses the file's offsets; the layer-sequential
-- layout packs the same rows in the order (layer, file offset), non-layer tensors first, so
-- everything a layer needs is adjacent. saved_bytes_per_step = actual - sequential chunk
-- bytes (negative: the file's own order is better). Expands each row to its chunks: slow
-- with tiny chunks on large warehouses.
--
-- Usage: moewh query --file sql/queries/layer_sequential_savings.sql -p chunk_bytes=2097152
--
-- @param chunk_bytes  1024  Read granularity in bytes (2097152 = 2 MiB).
WITH sequential AS (
    SELECT
        model_id,
        tensor_name,
        CAST(MIN(offset_start) OVER (PARTITION BY model_id)
            + SUM(size_bytes) OVER (
                PARTITION BY model_id ORDER BY layer_id NULLS FIRST, offset_start
                ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
            ) - size_bytes AS BIGINT) AS seq_start,
        size_bytes
    FROM v1.tensors
),
touched AS (
    SELECT run_id, step, tensor_name, offset_start, size_bytes FROM v1.pass_tensor_reads
    UNION ALL
    SELECT run_id, step, tensor_name, offset_start, size_bytes FROM v1.expert_slice_accesses
),
rows_both AS (
    SELECT t.run_id, t.step, t.offset_start, q.seq_start, t.size_bytes
    FROM touched AS t
    JOIN v1.runs AS r ON r.run_id = t.run_id
    JOIN sequential AS q ON q.model_id = r.model_id AND q.tensor_name = t.tensor_name
    WHERE t.size_bytes > 0
),
actual AS (
    SELECT run_id, step, COUNT(DISTINCT c.chunk) AS chunks
    FROM rows_both
    CROSS JOIN UNNEST(GENERATE_SERIES(offset_start // $chunk_bytes,
                                      (offset_start + size_bytes - 1) // $chunk_bytes)) AS c(chunk)
    GROUP BY run_id, step
),
layer_seq AS (
    SELECT run_id, step, COUNT(DISTINCT c.chunk) AS chunks
    FROM rows_both
    CROSS JOIN UNNEST(GENERATE_SERIES(seq_start // $chunk_bytes,
                                      (seq_start + size_bytes - 1) // $chunk_bytes)) AS c(chunk)
    GROUP BY run_id, step
),
exact AS (
    SELECT run_id, step, SUM(size_bytes) AS bytes FROM rows_both GROUP BY run_id, step
)
SELECT
    r.run_name,
    COUNT(*) AS n_steps,
    ROUND(AVG(e.bytes)) AS touched_bytes_per_step,
    ROUND(AVG(a.chunks * $chunk_bytes)) AS actual_chunk_bytes_per_step,
    ROUND(AVG(s.chunks * $chunk_bytes)) AS sequential_chunk_bytes_per_step,
    ROUND(AVG((a.chunks - s.chunks) * $chunk_bytes)) AS saved_bytes_per_step,
    ROUND(AVG(CAST(a.chunks - s.chunks AS DOUBLE) / a.chunks), 4) AS saved_fraction
FROM exact AS e
JOIN actual AS a ON a.run_id = e.run_id AND a.step = e.step
JOIN layer_seq AS s ON s.run_id = e.run_id AND s.step = e.step
JOIN v1.runs AS r ON r.run_id = e.run_id
GROUP BY r.run_name
ORDER BY r.run_name
