"""The DuckDB file: connections, migrations, the view loader, settings, look-ups, read-only queries."""
