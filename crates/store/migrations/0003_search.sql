-- Search and "where is this digest used": an index of the manifests Portolan read (while people
-- browsed, and by the opt-in crawl), what each names, and the tags on them; the crawl's progress;
-- the repository list's lazily read columns; the repositories people opened.

-- One manifest seen in one repository. Manifests are immutable: a row is written once.
CREATE TABLE index_manifests (
    registry   TEXT NOT NULL,
    repository TEXT NOT NULL,
    digest     TEXT NOT NULL,
    media_type TEXT NOT NULL,
    kind       TEXT NOT NULL,
    subject    TEXT,
    size       BIGINT NOT NULL,
    created    BIGINT,
    indexed_at BIGINT NOT NULL,
    PRIMARY KEY (registry, repository, digest)
);
CREATE INDEX index_manifests_digest ON index_manifests (digest);
CREATE INDEX index_manifests_subject ON index_manifests (subject);

-- What a manifest names, in order: an index's manifests (role 'manifest', with their platform),
-- an image's config and layers.
CREATE TABLE index_refs (
    registry   TEXT NOT NULL,
    repository TEXT NOT NULL,
    parent     TEXT NOT NULL,
    position   BIGINT NOT NULL,
    child      TEXT NOT NULL,
    role       TEXT NOT NULL,
    platform   TEXT,
    PRIMARY KEY (registry, repository, parent, position)
);
CREATE INDEX index_refs_child ON index_refs (child);

-- Where each tag points, and since when Portolan has seen it point there.
CREATE TABLE index_tags (
    registry   TEXT NOT NULL,
    repository TEXT NOT NULL,
    tag        TEXT NOT NULL,
    digest     TEXT NOT NULL,
    since      BIGINT NOT NULL,
    PRIMARY KEY (registry, repository, tag)
);
CREATE INDEX index_tags_digest ON index_tags (digest);

-- The crawl of each registry: where its pass stands.
CREATE TABLE crawl_registries (
    registry      TEXT PRIMARY KEY,
    state         TEXT NOT NULL,
    pass_started  BIGINT,
    pass_finished BIGINT,
    repositories  BIGINT NOT NULL,
    done          BIGINT NOT NULL,
    requests      BIGINT NOT NULL,
    paused_until  BIGINT,
    message       TEXT,
    updated_at    BIGINT NOT NULL
);

-- When the crawl last read each repository whole.
CREATE TABLE crawl_repositories (
    registry   TEXT NOT NULL,
    repository TEXT NOT NULL,
    crawled_at BIGINT NOT NULL,
    tags       BIGINT NOT NULL,
    PRIMARY KEY (registry, repository)
);

-- The repository list's columns, read lazily and kept: tags, newest version, last push.
CREATE TABLE repository_summaries (
    registry      TEXT NOT NULL,
    repository    TEXT NOT NULL,
    tags          BIGINT NOT NULL,
    newest        TEXT,
    pushed        BIGINT,
    pushed_source TEXT,
    checked_at    BIGINT NOT NULL,
    PRIMARY KEY (registry, repository)
);

-- Repositories people opened: with the configured ones, the list of a registry without a
-- catalog.
CREATE TABLE recent_repositories (
    registry   TEXT NOT NULL,
    repository TEXT NOT NULL,
    opened_at  BIGINT NOT NULL,
    PRIMARY KEY (registry, repository)
);
CREATE INDEX recent_repositories_at ON recent_repositories (registry, opened_at);
