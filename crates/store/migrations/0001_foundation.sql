-- Portolan's store. Portable SQL: the same statements run on SQLite and on Postgres, so only
-- BIGINT, TEXT and BYTEA columns; ids are made by Portolan (see ids.rs), never by the engine;
-- times are Unix milliseconds (BIGINT), never strings.

-- When Portolan first saw each digest in a repository: the date of last resort for artifacts
-- that carry none, and the clock of retention's "first seen" rules.
CREATE TABLE seen_digests (
    registry   TEXT NOT NULL,
    repository TEXT NOT NULL,
    digest     TEXT NOT NULL,
    first_seen BIGINT NOT NULL,
    PRIMARY KEY (registry, repository, digest)
);

-- People who signed in, as their provider described them at their last sign-in.
CREATE TABLE users (
    provider    TEXT NOT NULL,
    subject     TEXT NOT NULL,
    name        TEXT,
    email       TEXT,
    groups_json TEXT NOT NULL,
    first_login BIGINT NOT NULL,
    last_login  BIGINT NOT NULL,
    PRIMARY KEY (provider, subject)
);

-- Sessions (tower-sessions records, JSON), shared by every replica.
CREATE TABLE sessions (
    id         TEXT PRIMARY KEY,
    data       TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_expires ON sessions (expires_at);

-- The audit log: append-only (the store has no function that updates a row).
CREATE TABLE audit (
    id             BIGINT PRIMARY KEY,
    at             BIGINT NOT NULL,
    actor_kind     TEXT NOT NULL,
    actor_provider TEXT,
    actor_subject  TEXT,
    actor_name     TEXT,
    action         TEXT NOT NULL,
    registry       TEXT,
    repository     TEXT,
    digests        TEXT NOT NULL,
    tags           TEXT NOT NULL,
    outcome        TEXT NOT NULL,
    reason         TEXT,
    request_id     TEXT,
    detail         TEXT
);
CREATE INDEX audit_at ON audit (at);
CREATE INDEX audit_action_at ON audit (action, at);

-- The trash: what a delete removed, byte for byte, so it can be put back.
CREATE TABLE trash (
    id             BIGINT PRIMARY KEY,
    at             BIGINT NOT NULL,
    actor_kind     TEXT NOT NULL,
    actor_provider TEXT,
    actor_subject  TEXT,
    actor_name     TEXT,
    registry       TEXT NOT NULL,
    repository     TEXT NOT NULL,
    kind           TEXT NOT NULL,
    summary        TEXT NOT NULL,
    state          TEXT NOT NULL,
    state_at       BIGINT NOT NULL,
    state_by       TEXT,
    state_reason   TEXT,
    request_id     TEXT,
    run_id         BIGINT
);
CREATE INDEX trash_at ON trash (at);
CREATE INDEX trash_place ON trash (registry, repository);

CREATE TABLE trash_manifests (
    trash_id   BIGINT NOT NULL,
    position   BIGINT NOT NULL,
    digest     TEXT NOT NULL,
    media_type TEXT NOT NULL,
    role       TEXT NOT NULL,
    subject    TEXT,
    content    BYTEA NOT NULL,
    PRIMARY KEY (trash_id, position)
);

CREATE TABLE trash_tags (
    trash_id BIGINT NOT NULL,
    tag      TEXT NOT NULL,
    digest   TEXT NOT NULL,
    PRIMARY KEY (trash_id, tag)
);
