-- Who names a blob, read by digest without touching the table: the registry's shared blobs'
-- holders are looked up for every partial view of its storage (someone who may see only some
-- of its repositories). With (registry, digest) alone, SQLite without statistics preferred the
-- primary key (registry, repository, digest), covering but searched by registry only: every
-- blob of the registry read (about 278 ms of a 419 ms page at 1,000,000 references).
DROP INDEX storage_blob_repos_digest;
CREATE INDEX storage_blob_repos_digest ON storage_blob_repos (registry, digest, repository);
