-- Fill pass_disk_reads for one run ($run_id) from its sources and records.
-- Sources whose DISK offset is unknown are grouped by name so that they stay visible.
-- The step numbering must stay the one of sql/views/v1/decode_steps.sql.
INSERT INTO pass_disk_reads (run_id, pass_id, step, disk_offset, name, recorded_size_bytes, n_sources)
WITH steps AS (
    SELECT pass_id, ROW_NUMBER() OVER (ORDER BY pass_id) - 1 AS step
    FROM passes
    WHERE run_id = $run_id AND NOT is_warmup
)
SELECT
    s.run_id,
    r.pass_id,
    MIN(st.step),
    s.disk_offset,
    MIN(s.name),
    MAX(s.size_bytes),
    COUNT(*)
FROM sources AS s
JOIN records AS r ON r.run_id = s.run_id AND r.record_id = s.record_id
LEFT JOIN steps AS st ON st.pass_id = r.pass_id
WHERE s.run_id = $run_id
  AND r.run_id = $run_id
  AND s.memory_source = 'DISK'
GROUP BY s.run_id, r.pass_id, s.disk_offset, CASE WHEN s.disk_offset IS NULL THEN s.name END
