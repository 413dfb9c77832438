-- Runs with passes but no derived rows at all (ingested before the derived tables existed).
SELECT DISTINCT p.run_id
FROM passes AS p
WHERE NOT EXISTS (SELECT 1 FROM pass_disk_reads AS d WHERE d.run_id = p.run_id)
  AND NOT EXISTS (SELECT 1 FROM step_selections AS s WHERE s.run_id = p.run_id)
ORDER BY 1
