-- Loads an unpartitioned lake table into a table without a key: only rows not already there.
INSERT INTO {{table}} BY NAME (
    SELECT {{columns}} FROM read_parquet([{{files}}])
    EXCEPT
    SELECT {{columns}} FROM {{table}}
)
