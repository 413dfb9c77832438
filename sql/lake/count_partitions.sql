-- Rows per partition value of the selected runs or models ({{selection}}: a registered table
-- whose column {{key}} holds the ids).
SELECT {{part}}, count(*) FROM {{table}}
WHERE {{part}} IN (SELECT {{key}} FROM {{selection}})
GROUP BY ALL
