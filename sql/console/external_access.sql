-- Whether this connection may read files (the console refuses to run unless it may not).
SELECT current_setting('enable_external_access')
