-- Rows in a list of Parquet files.
SELECT count(*) FROM read_parquet([{{files}}])
