-- `moewh settings set`: change one existing parameter ($key, $value); returns the key if it exists.
UPDATE settings SET value = $value WHERE key = $key RETURNING key
