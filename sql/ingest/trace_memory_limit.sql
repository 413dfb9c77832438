-- DuckDB's memory limit for the duration of one trace ingest. A long transaction's appended
-- rows and the derived-table queries otherwise grow DuckDB's buffers with the trace (peak RSS
-- 527 MB at 1M records, 698 MB at 2M); with this limit DuckDB writes and spills to disk sooner,
-- so the peak stays flat (about 420 MB at both sizes, measured by bench/bench_trace_ingest.py).
SET memory_limit = '320MB'
