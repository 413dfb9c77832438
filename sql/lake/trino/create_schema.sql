-- A schema of the Hive connector's catalog.
CREATE SCHEMA IF NOT EXISTS {{catalog}}.{{schema}}
