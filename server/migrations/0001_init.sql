-- When Portolan first saw each digest: the creation date of last resort for artifacts that
-- carry none (shown as such in the UI).
CREATE TABLE IF NOT EXISTS seen_digests (
    registry   TEXT NOT NULL,
    repository TEXT NOT NULL,
    digest     TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    PRIMARY KEY (registry, repository, digest)
);
