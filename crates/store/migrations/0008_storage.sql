-- Where the bytes are: the where-used index learns the size of everything a manifest names,
-- and figures per blob, repository and registry are kept up to date as manifests are recorded
-- and forgotten (never recounted per page view).
--
-- The index written before this knew no sizes: it is emptied, and the crawl (its next pass
-- reads every repository whole) and browsing fill it again.
DELETE FROM index_refs;
DELETE FROM index_manifests;
DELETE FROM index_tags;
DELETE FROM crawl_repositories;
UPDATE crawl_registries SET pass_finished = NULL;

-- The size of what a manifest names (its descriptor's size; NULL: not said).
ALTER TABLE index_refs ADD COLUMN size BIGINT;
-- The manifest's own bytes, and whether a tag reaches it (1: directly, as an index's entry or
-- as a referrer of something reached; 0: untagged).
ALTER TABLE index_manifests ADD COLUMN bytes BIGINT NOT NULL DEFAULT 0;
ALTER TABLE index_manifests ADD COLUMN reached BIGINT NOT NULL DEFAULT 0;
CREATE INDEX index_manifests_reached ON index_manifests (registry, repository, reached);

-- The last complete pass of each registry's crawl: when it started, how many repositories it
-- could not read, and whether it listed the whole catalog (0: no catalog, or one cut short).
ALTER TABLE crawl_registries ADD COLUMN last_pass_started BIGINT;
ALTER TABLE crawl_registries ADD COLUMN last_pass_failed BIGINT NOT NULL DEFAULT 0;
ALTER TABLE crawl_registries ADD COLUMN last_pass_catalog BIGINT NOT NULL DEFAULT 0;

-- Every blob of a registry that a manifest in the index names (a config, a layer, an index's
-- entry) or is (a manifest's own bytes are a blob too), counted once: how many repositories
-- name it, how many manifests, and how many of those a tag reaches.
CREATE TABLE storage_blobs (
    registry     TEXT NOT NULL,
    digest       TEXT NOT NULL,
    size         BIGINT NOT NULL,
    repositories BIGINT NOT NULL,
    refs         BIGINT NOT NULL,
    live         BIGINT NOT NULL,
    PRIMARY KEY (registry, digest)
);

-- The same per repository.
CREATE TABLE storage_blob_repos (
    registry   TEXT NOT NULL,
    repository TEXT NOT NULL,
    digest     TEXT NOT NULL,
    refs       BIGINT NOT NULL,
    live       BIGINT NOT NULL,
    PRIMARY KEY (registry, repository, digest)
);
CREATE INDEX storage_blob_repos_digest ON storage_blob_repos (registry, digest);

-- Each repository's figures: bytes only it names, bytes other repositories name too, bytes
-- only manifests no tag reaches name (anywhere in the registry); its manifests, the untagged
-- ones, its blobs.
CREATE TABLE storage_repositories (
    registry       TEXT NOT NULL,
    repository     TEXT NOT NULL,
    unique_bytes   BIGINT NOT NULL,
    shared_bytes   BIGINT NOT NULL,
    untagged_bytes BIGINT NOT NULL,
    manifests      BIGINT NOT NULL,
    untagged       BIGINT NOT NULL,
    blobs          BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    PRIMARY KEY (registry, repository)
);

-- Each registry's figures (each blob once). Every change of the figures above updates this row
-- first, in its transaction: one writer per registry at a time.
CREATE TABLE storage_registries (
    registry       TEXT PRIMARY KEY,
    stored_bytes   BIGINT NOT NULL,
    blobs          BIGINT NOT NULL,
    untagged_bytes BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);

-- The blobs the manifests of a deleted artifact named (and the manifests themselves), kept
-- with its trash entry: once no manifest in the index names them, the registry's garbage
-- collection frees them.
CREATE TABLE storage_trash_blobs (
    trash_id   BIGINT NOT NULL,
    registry   TEXT NOT NULL,
    repository TEXT NOT NULL,
    digest     TEXT NOT NULL,
    size       BIGINT NOT NULL,
    manifest   BIGINT NOT NULL,
    PRIMARY KEY (trash_id, digest)
);
CREATE INDEX storage_trash_blobs_registry ON storage_trash_blobs (registry, digest);

-- When the crawl found a deleted artifact's blobs gone: the registry collected its garbage.
ALTER TABLE trash ADD COLUMN collected_at BIGINT;
