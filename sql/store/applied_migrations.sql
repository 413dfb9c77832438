-- Schema migrations applied to this database, in order.
SELECT version FROM schema_migrations ORDER BY version
