-- Loads the partition list of a table from its directories.
CALL {{catalog}}.system.sync_partition_metadata({{schema_name}}, {{table_name}}, 'FULL')
