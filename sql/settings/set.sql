-- `moewh settings set`: change one existing parameter ($key, $value).
UPDATE settings SET value = $value WHERE key = $key
