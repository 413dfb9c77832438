-- Loads partition files of a lake table; the partition column comes from the directory names.
INSERT INTO {{table}} BY NAME
SELECT {{part}}, {{columns}}
FROM read_parquet([{{files}}], hive_partitioning = true, hive_types = {{{hive_key}}: 'VARCHAR'})
