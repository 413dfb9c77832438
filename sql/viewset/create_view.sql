-- Creates one view of a view set from its (main-qualified) SELECT.
CREATE VIEW {{view_set}}.{{name}} AS
{{select}}
