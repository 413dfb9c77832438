-- Loads an unpartitioned lake table into a table with a primary key: the lake's row wins.
INSERT OR REPLACE INTO {{table}} BY NAME SELECT {{columns}} FROM read_parquet([{{files}}])
