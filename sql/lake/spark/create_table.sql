-- An unpartitioned lake table as an external Parquet table.
CREATE TABLE {{table}} ({{columns}}) USING parquet LOCATION {{location}}
