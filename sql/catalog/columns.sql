-- Every column of the tables (or views) of one schema, in table and column order.
-- $schema: schema name ('main', 'v1'); $base_tables_only: true to leave views out.
SELECT c.table_name, c.column_name, c.data_type
FROM information_schema.columns AS c
JOIN information_schema.tables AS t
  ON t.table_schema = c.table_schema AND t.table_name = c.table_name
WHERE c.table_schema = $schema
  AND (NOT $base_tables_only OR t.table_type = 'BASE TABLE')
ORDER BY c.table_name, c.ordinal_position
