-- A Spark database (the lake's raw tables, or a view set).
CREATE DATABASE IF NOT EXISTS {{database}}
