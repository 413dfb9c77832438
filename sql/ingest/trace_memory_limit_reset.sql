-- Back to DuckDB's default memory limit once a trace ingest is done (trace_memory_limit.sql).
RESET memory_limit
