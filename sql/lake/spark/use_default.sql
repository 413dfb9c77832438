-- The views of a lake table live in Spark's default database.
USE default
