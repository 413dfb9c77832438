-- Rows of one table.
SELECT count(*) FROM {{table}}
