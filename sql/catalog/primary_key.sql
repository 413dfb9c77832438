-- The primary-key columns of one table of schema main ($table); no row if it has none.
SELECT constraint_column_names
FROM duckdb_constraints()
WHERE schema_name = 'main' AND table_name = $table AND constraint_type = 'PRIMARY KEY'
