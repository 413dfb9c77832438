-- The version hash of every view set as last loaded into this database.
SELECT view_set, version FROM view_sets ORDER BY view_set
