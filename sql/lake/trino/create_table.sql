-- An unpartitioned lake table as an external Hive table.
CREATE TABLE IF NOT EXISTS {{catalog}}.{{schema}}.{{table}} (
  {{columns}}
) WITH (external_location = {{location}}, format = 'PARQUET')
