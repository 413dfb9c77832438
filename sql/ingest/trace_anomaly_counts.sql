-- Per-record anomalies of a run by kind, for the ingest's warning line.
SELECT kind, COUNT(*) AS n
FROM anomalies
WHERE run_id = $run_id AND record_id IS NOT NULL
GROUP BY kind
ORDER BY kind
