-- Appends the rows of a registered Arrow table ({{rows}}) to {{table}}, matching columns by name;
-- columns the rows lack are NULL.
INSERT INTO {{table}} BY NAME SELECT * FROM {{rows}}
