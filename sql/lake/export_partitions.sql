-- Writes the rows of the selected runs or models ({{selection}}, a registered table of ids) to
-- Hive partitions {{part}}=<id> under {{target}}; the partition column is not stored in the files.
COPY (
    SELECT {{columns}} FROM {{table}}
    WHERE {{part}} IN (SELECT {{part}} FROM {{selection}})
) TO {{target}} (FORMAT parquet, PARTITION_BY ({{part}}), OVERWRITE_OR_IGNORE true)
