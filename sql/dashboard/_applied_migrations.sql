-- Schema migrations recorded in the file.
SELECT version FROM schema_migrations ORDER BY version
