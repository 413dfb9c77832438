-- Drops a view set's schema with every view in it and creates it empty.
DROP SCHEMA IF EXISTS {{view_set}} CASCADE;
CREATE SCHEMA {{view_set}};
