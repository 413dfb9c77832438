-- Forgets an earlier registration of a lake table (external: its files stay).
DROP TABLE IF EXISTS {{table}}
