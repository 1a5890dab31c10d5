-- API tokens: for pipelines, separate from people's sessions. Only a hash of each secret is
-- kept; the secret is shown once. A token acts for its owner, within its scope and role, and
-- never above what the owner may do at the time of use.
CREATE TABLE api_tokens (
    id             BIGINT PRIMARY KEY,
    name           TEXT NOT NULL,
    -- SHA-256 of the whole secret, hex.
    hash           TEXT NOT NULL,
    -- The secret's first characters (ptl_ and a few more), to recognise it in lists.
    hint           TEXT NOT NULL,
    owner_provider TEXT NOT NULL,
    owner_subject  TEXT NOT NULL,
    -- The owner as they were when the token was made (JSON identity): used when they have not
    -- signed in through a provider since (proxy identities).
    owner_json     TEXT NOT NULL,
    registry       TEXT NOT NULL,
    -- JSON array of repository globs.
    repositories   TEXT NOT NULL,
    role           TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    revoked_at     BIGINT,
    revoked_by     TEXT,
    last_used_at   BIGINT,
    last_used_from TEXT
);
CREATE UNIQUE INDEX api_tokens_hash ON api_tokens (hash);
CREATE INDEX api_tokens_owner ON api_tokens (owner_provider, owner_subject);

-- Which token, if any, an audited action came through.
ALTER TABLE audit ADD COLUMN actor_token BIGINT;
