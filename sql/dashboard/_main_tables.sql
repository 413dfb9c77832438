-- Base tables present in schema main (tells an empty file from a warehouse).
SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'
