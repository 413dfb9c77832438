-- Reads the partition directories present under the table's location.
ALTER TABLE {{table}} RECOVER PARTITIONS
