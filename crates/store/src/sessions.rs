//! Sessions: tower-sessions' records kept in the store, so every replica sees every session
//! and a signed-out session is dead everywhere at once.
//!
//! A session id is a bearer secret (the cookie is all it takes to be that person), so the store
//! never holds one: a record is kept under the SHA-256 of its id ([`key`]), and its stored data
//! leaves the id out. Reading the database gives no session to take over; the id comes back
//! with each request, and the record is found by hashing it again.

use std::collections::HashMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, ExpiredDeletion, SessionStore};

use crate::{Store, StoreError, millis};

/// The session store of tower-sessions, over [`Store`].
#[derive(Clone, Debug)]
pub struct Sessions {
    store: Store,
}

impl Store {
    /// The session records, for tower-sessions' `SessionManagerLayer`.
    pub fn sessions(&self) -> Sessions {
        Sessions { store: self.clone() }
    }
}

fn backend(e: StoreError) -> session_store::Error {
    session_store::Error::Backend(e.to_string())
}

/// The key a session is stored under: the SHA-256 of its id (as its cookie carries it), in hex.
/// A 128-bit random id needs no salt nor slow hash: nothing can be guessed from the key.
pub fn key(id: &Id) -> String {
    hex::encode(Sha256::digest(id.to_string().as_bytes()))
}

/// A record as stored: everything but its id.
#[derive(Serialize)]
struct Stored<'a> {
    data: &'a HashMap<String, serde_json::Value>,
    expiry_date: OffsetDateTime,
}

/// A stored record read back, to be given the id it was looked up by.
#[derive(Deserialize)]
struct Loaded {
    data: HashMap<String, serde_json::Value>,
    expiry_date: OffsetDateTime,
}

fn encode(record: &Record) -> session_store::Result<String> {
    serde_json::to_string(&Stored { data: &record.data, expiry_date: record.expiry_date })
        .map_err(|e| session_store::Error::Encode(e.to_string()))
}

#[async_trait]
impl SessionStore for Sessions {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        // A new id must not take over an existing session: retry on the (unlikely) collision —
        // of ids, or of their hashes, which the key column's uniqueness catches alike.
        loop {
            let data = encode(record)?;
            let inserted = sqlx::query("INSERT INTO sessions (id, data, expires_at) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING")
                .bind(key(&record.id))
                .bind(data)
                .bind(millis(record.expiry_date))
                .execute(self.store.pool())
                .await
                .map_err(|e| backend(e.into()))?;
            if inserted.rows_affected() == 1 {
                return Ok(());
            }
            record.id = Id::default();
        }
    }

    /// Updates a live session, never brings one back: a request that loaded the session
    /// before a sign-out deleted it (or before it expired) saves into nothing. New sessions
    /// come through [`create`](Self::create).
    async fn save(&self, record: &Record) -> session_store::Result<()> {
        sqlx::query("UPDATE sessions SET data = $2, expires_at = $3 WHERE id = $1 AND expires_at > $4")
            .bind(key(&record.id))
            .bind(encode(record)?)
            .bind(millis(record.expiry_date))
            .bind(millis(OffsetDateTime::now_utc()))
            .execute(self.store.pool())
            .await
            .map_err(|e| backend(e.into()))?;
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let row: Option<(String,)> = sqlx::query_as("SELECT data FROM sessions WHERE id = $1 AND expires_at > $2")
            .bind(key(id))
            .bind(millis(OffsetDateTime::now_utc()))
            .fetch_optional(self.store.pool())
            .await
            .map_err(|e| backend(e.into()))?;
        let Some((data,)) = row else { return Ok(None) };
        let Loaded { data, expiry_date } = serde_json::from_str(&data).map_err(|e| session_store::Error::Decode(e.to_string()))?;
        Ok(Some(Record { id: *id, data, expiry_date }))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        sqlx::query("DELETE FROM sessions WHERE id = $1").bind(key(id)).execute(self.store.pool()).await.map_err(|e| backend(e.into()))?;
        Ok(())
    }
}

#[async_trait]
impl ExpiredDeletion for Sessions {
    async fn delete_expired(&self) -> session_store::Result<()> {
        self.store.delete_expired_sessions(OffsetDateTime::now_utc()).await.map(|_| ()).map_err(backend)
    }
}

impl Store {
    /// Deletes sessions expired at `now`; returns how many.
    pub async fn delete_expired_sessions(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1").bind(millis(now)).execute(self.pool()).await?;
        Ok(done.rows_affected())
    }

    /// Live sessions (for the operator's view and tests).
    pub async fn count_sessions(&self, now: OffsetDateTime) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM sessions WHERE expires_at > $1").bind(millis(now)).fetch_one(self.pool()).await?)
    }
}
