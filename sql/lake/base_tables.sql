-- The warehouse's base tables and their columns in order, as the Parquet lake carries them.
-- Bookkeeping of this database (migrations applied, view sets loaded) stays behind.
SELECT c.table_name, c.column_name, c.data_type
FROM information_schema.columns AS c
JOIN information_schema.tables AS t
  ON t.table_schema = c.table_schema AND t.table_name = c.table_name
WHERE c.table_schema = 'main'
  AND t.table_type = 'BASE TABLE'
  AND c.table_name NOT IN ('schema_migrations', 'view_sets')
ORDER BY c.table_name, c.ordinal_position
