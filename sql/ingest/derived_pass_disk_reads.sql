-- Fill pass_disk_reads for one run ($run_id) from its sources and records.
-- Sources whose DISK offset is unknown are grouped by name so that they stay visible.
-- The step numbering must stay the one of sql/views/v1/decode_steps.sql.
-- gathered_rows: a GET_ROWS(weight, ids) reads one row of the weight (slot 0) per id of its
-- I32 index source (slot 1, size_bytes / 4 ids); summed over the pass's sources naming the
-- tensor, NULL as soon as one of them reads the whole tensor (any other op, or no index source).
INSERT INTO pass_disk_reads (run_id, pass_id, step, disk_offset, name, recorded_size_bytes, n_sources,
                             gathered_rows)
WITH steps AS (
    SELECT pass_id, ROW_NUMBER() OVER (ORDER BY pass_id) - 1 AS step
    FROM passes
    WHERE run_id = $run_id AND NOT is_warmup AND is_complete
),
gathers AS (
    SELECT i.record_id, i.size_bytes // 4 AS ids
    FROM sources AS i
    JOIN records AS r ON r.run_id = i.run_id AND r.record_id = i.record_id
    WHERE i.run_id = $run_id
      AND r.run_id = $run_id
      AND r.op_name = 'GET_ROWS'
      AND i.slot = 1
      AND i.memory_source <> 'DISK'
)
SELECT
    s.run_id,
    r.pass_id,
    MIN(st.step),
    s.disk_offset,
    MIN(s.name),
    MAX(s.size_bytes),
    COUNT(*),
    CASE WHEN COUNT(g.ids) = COUNT(*) THEN SUM(g.ids) END
FROM sources AS s
JOIN records AS r ON r.run_id = s.run_id AND r.record_id = s.record_id
LEFT JOIN steps AS st ON st.pass_id = r.pass_id
LEFT JOIN gathers AS g ON g.record_id = s.record_id AND s.slot = 0
WHERE s.run_id = $run_id
  AND r.run_id = $run_id
  AND s.memory_source = 'DISK'
GROUP BY s.run_id, r.pass_id, s.disk_offset, CASE WHEN s.disk_offset IS NULL THEN s.name END
