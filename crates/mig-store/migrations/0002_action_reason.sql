-- Why an action is invalid (its target selects no agent, the database refused its target…),
-- for the investigator who launched it.
ALTER TABLE actions ADD COLUMN reason TEXT NOT NULL DEFAULT ''
