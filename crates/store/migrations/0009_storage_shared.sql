-- The blobs more than one repository names: what makes a total over some of a registry's
-- repositories (someone who may see only those) differ from the sum of theirs. Few among all
-- the blobs of a registry, so a total for a partial view reads these and not every blob of
-- every repository it shows.
CREATE INDEX storage_blobs_shared ON storage_blobs (registry, digest) WHERE repositories > 1;
