-- Writes a whole (unpartitioned) table to one Parquet file.
COPY (SELECT {{columns}} FROM {{table}}) TO {{target}} (FORMAT parquet)
