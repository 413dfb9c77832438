-- Bytes per decode step that a layer-sequential file layout would save, per run.
--
-- Model of the reader: it fetches whole aligned chunks of chunk_bytes (read-ahead, huge
-- pages), so a step costs every chunk that any byte it reads lies in. The rows a step reads
-- are the non-expert tensors it read (v1.pass_tensor_reads; a gathered tensor, the token
-- embedding, counts its read_bytes from the tensor's start, since which rows is not
-- recorded) and its experts' slices (v1.expert_slice_accesses). The actual layout uses the
-- file's offsets; the layer-sequential layout packs the same rows in the order (layer, file
-- offset), non-layer tensors first, so everything a layer needs is adjacent.
-- saved_bytes_per_step = actual - sequential chunk bytes (negative: the file's own order is
-- better). Chunks are counted by merging each step's chunk ranges, never by listing chunks,
-- so the cost does not grow as chunks shrink; chunk_bytes below 65536 (64 KiB) is refused all
-- the same, as no reader fetches less.
--
-- Usage: moewh query --file sql/queries/layer_sequential_savings.sql -p chunk_bytes=2097152
--
-- @param chunk_bytes  2097152  Read granularity in bytes (2097152 = 2 MiB), at least 65536.
WITH guard AS (
    SELECT CASE WHEN $chunk_bytes < 65536
        THEN ERROR('chunk_bytes must be at least 65536 (64 KiB), got ' || CAST($chunk_bytes AS VARCHAR))
    END AS refused
),
sequential AS (
    SELECT
        model_id,
        tensor_name,
        CAST(MIN(offset_start) OVER (PARTITION BY model_id)
            + SUM(size_bytes) OVER (
                PARTITION BY model_id ORDER BY layer_id NULLS FIRST, offset_start
                ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
            ) - size_bytes AS BIGINT) AS seq_start
    FROM v1.tensors
),
touched AS (
    SELECT run_id, step, tensor_name, offset_start, read_bytes AS bytes FROM v1.pass_tensor_reads
    UNION ALL
    SELECT run_id, step, tensor_name, offset_start, size_bytes AS bytes FROM v1.expert_slice_accesses
),
rows_both AS (
    SELECT t.run_id, t.step, t.offset_start, q.seq_start, t.bytes
    FROM touched AS t
    JOIN v1.runs AS r ON r.run_id = t.run_id
    JOIN sequential AS q ON q.model_id = r.model_id AND q.tensor_name = t.tensor_name
    CROSS JOIN guard AS g
    WHERE t.bytes > 0 AND g.refused IS NULL
),
ranges AS (
    -- each row's first and last chunk in both layouts, each distinct range once
    SELECT
        run_id,
        step,
        'actual' AS layout,
        offset_start // $chunk_bytes AS c0,
        (offset_start + bytes - 1) // $chunk_bytes AS c1
    FROM rows_both
    -- UNION, not UNION ALL: a repeated range adds no chunk, and without repeats no two rows of
    -- a step tie on (c0, c1), so both windows below see the rows in one order
    UNION
    SELECT run_id, step, 'sequential', seq_start // $chunk_bytes, (seq_start + bytes - 1) // $chunk_bytes
    FROM rows_both
),
marked AS (
    SELECT
        *,
        MAX(c1) OVER (
            PARTITION BY run_id, step, layout ORDER BY c0, c1
            ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
        ) AS reach
    FROM ranges
),
islands AS (
    -- a new island starts where a range begins past every chunk before it
    SELECT
        *,
        SUM(CASE WHEN reach IS NULL OR c0 > reach THEN 1 ELSE 0 END) OVER (
            PARTITION BY run_id, step, layout ORDER BY c0, c1 ROWS UNBOUNDED PRECEDING
        ) AS island
    FROM marked
),
chunks AS (
    SELECT run_id, step, layout, SUM(n) AS chunks
    FROM (
        SELECT run_id, step, layout, island, MAX(c1) - MIN(c0) + 1 AS n
        FROM islands
        GROUP BY run_id, step, layout, island
    ) AS per_island
    GROUP BY run_id, step, layout
),
exact AS (
    SELECT run_id, step, SUM(bytes) AS bytes FROM rows_both GROUP BY run_id, step
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
JOIN chunks AS a ON a.run_id = e.run_id AND a.step = e.step AND a.layout = 'actual'
JOIN chunks AS s ON s.run_id = e.run_id AND s.step = e.step AND s.layout = 'sequential'
JOIN v1.runs AS r ON r.run_id = e.run_id
GROUP BY r.run_name
ORDER BY r.run_name
