-- One view of a set as another engine creates it, from sqlglot's translation of its SELECT.
CREATE OR REPLACE VIEW {{view_set}}.{{name}} AS
{{select}}
