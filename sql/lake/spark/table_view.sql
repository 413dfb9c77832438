-- default.<table> with the warehouse's column order (Spark lists partition columns last).
CREATE OR REPLACE VIEW default.{{name}} AS SELECT {{columns}} FROM {{table}}
