-- A restore holds its trash entry while it runs (state 'restoring'), so that no second restore
-- and no purge runs meanwhile: the hold's id, so that only its holder ends or renews it, and the
-- state it was taken from, where the entry goes back when the restore fails or is abandoned.
ALTER TABLE trash ADD COLUMN claim BIGINT;
ALTER TABLE trash ADD COLUMN claimed_from TEXT;
