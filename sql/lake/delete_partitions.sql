-- Removes the rows of the runs or models being imported (ids in the registered table _lake_ids).
DELETE FROM {{table}} WHERE {{part}} IN (SELECT id FROM _lake_ids)
