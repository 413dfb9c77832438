-- `moewh settings list`: every tunable parameter of the analysis views with its current value.
SELECT key, value, description FROM settings ORDER BY key
