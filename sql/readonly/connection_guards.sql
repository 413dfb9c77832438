-- The guards of a read-only query connection: may it read files, and is its configuration locked.
SELECT current_setting('enable_external_access'), current_setting('lock_configuration')
