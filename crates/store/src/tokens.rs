//! API tokens: made by people for their pipelines, each with a name, an expiry, and a scope
//! (a registry glob, repository globs and a role). Only a hash of the secret is kept; lookups
//! go by that hash. Revoked and expired tokens stay listed (an admin sees what existed).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::{Result, Store, StoreError, from_millis, millis, new_id};

/// A token as kept (never its secret).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    pub id: i64,
    pub name: String,
    /// SHA-256 of the secret, hex.
    pub hash: String,
    /// The secret's first characters, to recognise it.
    pub hint: String,
    pub owner_provider: String,
    pub owner_subject: String,
    /// The owner's identity when the token was made (JSON).
    pub owner_json: String,
    pub registry: String,
    pub repositories: Vec<String>,
    /// `viewer`, `maintainer` or `admin`.
    pub role: String,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub revoked_at: Option<OffsetDateTime>,
    pub revoked_by: Option<String>,
    pub last_used_at: Option<OffsetDateTime>,
    pub last_used_from: Option<String>,
}

/// A token to make.
#[derive(Clone, Debug)]
pub struct NewToken {
    pub name: String,
    pub hash: String,
    pub hint: String,
    pub owner_provider: String,
    pub owner_subject: String,
    pub owner_json: String,
    pub registry: String,
    pub repositories: Vec<String>,
    pub role: String,
    pub expires_at: OffsetDateTime,
}

const COLUMNS: &str = "id, name, hash, hint, owner_provider, owner_subject, owner_json, registry, repositories, role, created_at, expires_at, revoked_at, revoked_by, last_used_at, last_used_from";

fn token_of(row: &sqlx::any::AnyRow) -> Result<TokenRecord> {
    use sqlx::Row as _;
    let repositories: String = row.try_get(8)?;
    Ok(TokenRecord {
        id: row.try_get(0)?,
        name: row.try_get(1)?,
        hash: row.try_get(2)?,
        hint: row.try_get(3)?,
        owner_provider: row.try_get(4)?,
        owner_subject: row.try_get(5)?,
        owner_json: row.try_get(6)?,
        registry: row.try_get(7)?,
        repositories: serde_json::from_str(&repositories)
            .map_err(|e| StoreError::Internal(format!("a token's scope does not read: {e}")))?,
        role: row.try_get(9)?,
        created_at: from_millis(row.try_get(10)?),
        expires_at: from_millis(row.try_get(11)?),
        revoked_at: row.try_get::<Option<i64>, _>(12)?.map(from_millis),
        revoked_by: row.try_get(13)?,
        last_used_at: row.try_get::<Option<i64>, _>(14)?.map(from_millis),
        last_used_from: row.try_get(15)?,
    })
}

impl Store {
    /// Keeps a new token; its record.
    pub async fn token_create(&self, t: &NewToken) -> Result<TokenRecord> {
        let id = new_id();
        sqlx::query(
            "INSERT INTO api_tokens (id, name, hash, hint, owner_provider, owner_subject, owner_json, registry, repositories, role, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(id)
        .bind(&t.name)
        .bind(&t.hash)
        .bind(&t.hint)
        .bind(&t.owner_provider)
        .bind(&t.owner_subject)
        .bind(&t.owner_json)
        .bind(&t.registry)
        .bind(serde_json::to_string(&t.repositories).map_err(|e| StoreError::Internal(e.to_string()))?)
        .bind(&t.role)
        .bind(millis(OffsetDateTime::now_utc()))
        .bind(millis(t.expires_at))
        .execute(self.pool())
        .await?;
        self.token(id).await
    }

    /// The token `id`.
    pub async fn token(&self, id: i64) -> Result<TokenRecord> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM api_tokens WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("no token {id}")))?;
        token_of(&row)
    }

    /// The token whose secret hashes to `hash`, if any.
    pub async fn token_by_hash(&self, hash: &str) -> Result<Option<TokenRecord>> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM api_tokens WHERE hash = $1")).bind(hash).fetch_optional(self.pool()).await?;
        row.as_ref().map(token_of).transpose()
    }

    /// Tokens of one owner (None: everyone's), newest first.
    pub async fn tokens(&self, owner: Option<(&str, &str)>) -> Result<Vec<TokenRecord>> {
        let rows = match owner {
            Some((provider, subject)) => {
                sqlx::query(&format!(
                    "SELECT {COLUMNS} FROM api_tokens WHERE owner_provider = $1 AND owner_subject = $2 ORDER BY id DESC LIMIT 1000"
                ))
                .bind(provider)
                .bind(subject)
                .fetch_all(self.pool())
                .await?
            }
            None => sqlx::query(&format!("SELECT {COLUMNS} FROM api_tokens ORDER BY id DESC LIMIT 1000")).fetch_all(self.pool()).await?,
        };
        rows.iter().map(token_of).collect()
    }

    /// Revokes a token (once: false when it was revoked already).
    pub async fn token_revoke(&self, id: i64, by: &str) -> Result<bool> {
        let done = sqlx::query("UPDATE api_tokens SET revoked_at = $1, revoked_by = $2 WHERE id = $3 AND revoked_at IS NULL")
            .bind(millis(OffsetDateTime::now_utc()))
            .bind(by)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records a use (when and from where).
    pub async fn token_used(&self, id: i64, from: Option<&str>, at: OffsetDateTime) -> Result<()> {
        sqlx::query("UPDATE api_tokens SET last_used_at = $1, last_used_from = $2 WHERE id = $3")
            .bind(millis(at))
            .bind(from)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// The owner as they last signed in through a provider (their current groups), if ever.
    pub async fn user(&self, provider: &str, subject: &str) -> Result<Option<crate::users::User>> {
        Ok(self.users_of(provider, subject).await?.into_iter().next())
    }
}
