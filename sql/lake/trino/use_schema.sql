-- The lake's schema as the session schema, so the views find its tables.
USE {{catalog}}.{{schema}}
