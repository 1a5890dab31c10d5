-- Retention: policies (their raw form, JSON, as an admin wrote it), runs with one row per
-- item, and leases — the database-wide claims that make a policy run on one replica at a time.

CREATE TABLE policies (
    id         BIGINT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    registry   TEXT NOT NULL,
    body       TEXT NOT NULL,
    version    BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT,
    updated_at BIGINT NOT NULL,
    updated_by TEXT
);

CREATE TABLE runs (
    id             BIGINT PRIMARY KEY,
    policy_id      BIGINT NOT NULL,
    policy_version BIGINT NOT NULL,
    policy_name    TEXT NOT NULL,
    registry       TEXT NOT NULL,
    trigger_kind   TEXT NOT NULL,
    started_by     TEXT,
    dry_run        BIGINT NOT NULL,
    state          TEXT NOT NULL,
    started_at     BIGINT NOT NULL,
    finished_at    BIGINT,
    heartbeat_at   BIGINT NOT NULL,
    owner          TEXT NOT NULL,
    scheduled_for  BIGINT,
    stop_requested BIGINT NOT NULL,
    repositories   BIGINT NOT NULL,
    planned        BIGINT NOT NULL,
    done           BIGINT NOT NULL,
    skipped        BIGINT NOT NULL,
    failed         BIGINT NOT NULL,
    tags_kept      BIGINT NOT NULL,
    tags_deleted   BIGINT NOT NULL,
    bytes_freed    BIGINT NOT NULL,
    message        TEXT
);
CREATE INDEX runs_policy ON runs (policy_id, id);
-- One run per schedule fire, whichever replica saw it first (NULLs, manual runs, never clash).
CREATE UNIQUE INDEX runs_fire ON runs (policy_id, scheduled_for);

CREATE TABLE run_items (
    run_id     BIGINT NOT NULL,
    position   BIGINT NOT NULL,
    repository TEXT NOT NULL,
    action     TEXT NOT NULL,
    tag        TEXT,
    digest     TEXT NOT NULL,
    outcome    TEXT NOT NULL,
    reason     TEXT,
    bytes      BIGINT NOT NULL,
    at         BIGINT NOT NULL,
    PRIMARY KEY (run_id, position)
);

CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    owner      TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
