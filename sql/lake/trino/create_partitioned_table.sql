-- A lake table partitioned by run or model as an external Hive table (partition column last).
CREATE TABLE IF NOT EXISTS {{catalog}}.{{schema}}.{{table}} (
  {{columns}}
) WITH (external_location = {{location}}, format = 'PARQUET', partitioned_by = ARRAY[{{part}}])
