-- Appends a model row from a registered Arrow table ({{rows}}), stamped with the database's clock.
INSERT INTO models BY NAME SELECT *, now() AS ingested_at FROM {{rows}}
