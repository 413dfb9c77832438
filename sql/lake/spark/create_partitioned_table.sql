-- A lake table partitioned by run or model as an external Parquet table (partition column last).
CREATE TABLE {{table}} ({{columns}}) USING parquet PARTITIONED BY ({{part}}) LOCATION {{location}}
