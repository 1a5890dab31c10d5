-- The repository globs a run covered, as its policy said when it started (JSON array): who may
-- see or stop a run is decided on this snapshot, not on the policy as it is now. NULL (runs
-- recorded before this column) counts as every repository of the registry.
ALTER TABLE runs ADD COLUMN scope TEXT;
