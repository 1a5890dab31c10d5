//! API tokens: people make them for their pipelines. A token has a name, an expiry (required, at
//! most the configured maximum) and a scope — a registry pattern, repository globs and a role
//! that may not exceed its maker's own role over that scope when it is made. The secret is
//! shown once (`ptl_` and 43 URL-safe characters, so secret scanners can find a leaked one);
//! only its SHA-256 is kept, looked up by hash and compared in constant time. A request made
//! with a token acts for its owner with the token's scope as a cap ([`portolan_access::Cap`]):
//! what the owner may do is worked out again at every use, from their groups as of their latest
//! sign-in, so a token loses what its owner loses.

use std::collections::HashMap;
use std::sync::Mutex;

use base64::Engine;
use portolan_access::{Cap, Identity, RawCap, Role};
use portolan_store::{NewToken, TokenRecord};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::{Error, Result, Services};

/// What every secret starts with.
pub const PREFIX: &str = "ptl_";
/// Characters of the secret kept to recognise it (the prefix and four more).
const HINT: usize = PREFIX.len() + 4;
/// A token's use is recorded at most this often (its last use and address).
const USE_RECORDED_EVERY: time::Duration = time::Duration::minutes(1);
/// Longest token name.
const NAME_MAX: usize = 100;

/// A token to make, as asked.
#[derive(Clone, Debug)]
pub struct TokenRequest {
    pub name: String,
    pub registry: String,
    pub repositories: Vec<String>,
    pub role: Role,
    /// Days until it expires (1 to the configured maximum).
    pub days: u32,
}

/// Why a token was not accepted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("no such token (it may have been mistyped, or deleted)")]
    Unknown,
    #[error("the token expired at {0}")]
    Expired(String),
    #[error("the token was revoked at {0}")]
    Revoked(String),
    #[error("{0}")]
    Store(String),
}

/// The SHA-256 of a secret, hex.
pub fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Whether a bearer credential looks like one of Portolan's tokens.
pub fn is_token(credential: &str) -> bool {
    credential.starts_with(PREFIX)
}

/// Makes a token for `owner` (acting as themselves, not through a token): the secret, shown
/// once, and the record kept.
pub async fn create(services: &Services, owner: &Identity, request: TokenRequest, max_days: u32) -> Result<(String, TokenRecord)> {
    if owner.cap.is_some() {
        return Err(Error::Invalid("a token cannot make tokens: sign in to make one".into()));
    }
    let name = request.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > NAME_MAX || name.chars().any(char::is_control) {
        return Err(Error::Invalid(format!("a token's name is 1 to {NAME_MAX} characters, without control characters")));
    }
    if request.days == 0 || request.days > max_days {
        return Err(Error::Invalid(format!("a token expires in 1 to {max_days} days (token_max_days)")));
    }
    let repositories: Vec<String> = request.repositories.iter().map(|r| r.trim().to_owned()).filter(|r| !r.is_empty()).collect::<Vec<_>>();
    let raw = RawCap { token: 0, registry: request.registry.trim().to_owned(), repositories, role: request.role };
    let cap = Cap::new(raw.clone()).map_err(Error::Invalid)?;
    // Never more than the maker has over that scope now, on every registry it can reach.
    let matching: Vec<&str> = services.registries.iter().map(|r| r.info.name.as_str()).filter(|r| cap.allows(r, None).is_some()).collect();
    if matching.is_empty() {
        return Err(Error::Invalid(format!("the registry pattern {:?} matches no configured registry", raw.registry)));
    }
    for registry in &matching {
        let have = services.access.role_over(Some(owner), registry, &raw.repositories);
        if have.is_none_or(|h| h < raw.role) {
            return Err(Error::Invalid(format!(
                "a token cannot have more than its maker: you are {} over {} in {registry}, and the token asks for {}",
                have.map(|h| h.as_str()).unwrap_or("nothing"),
                raw.repositories.join(", "),
                raw.role.as_str()
            )));
        }
    }
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    let secret = format!("{PREFIX}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes));
    let owner_json = serde_json::to_string(owner).map_err(|e| Error::Internal(e.to_string()))?;
    let record = services
        .store
        .token_create(&NewToken {
            name,
            hash: hash(&secret),
            hint: secret.chars().take(HINT).collect(),
            owner_provider: owner.provider.clone(),
            owner_subject: owner.subject.clone(),
            owner_json,
            registry: raw.registry,
            repositories: raw.repositories,
            role: raw.role.as_str().to_owned(),
            expires_at: OffsetDateTime::now_utc() + time::Duration::days(request.days.into()),
        })
        .await?;
    Ok((secret, record))
}

/// When each token's use was last recorded (so a busy pipeline does not write every request).
#[derive(Default)]
pub struct Uses(Mutex<HashMap<i64, OffsetDateTime>>);

/// The identity a request presenting `secret` acts as: the token's owner — as of their latest
/// sign-in through a provider, else as when the token was made — capped by the token's scope.
/// Records the use (`from`: the client's address) at most once a minute.
pub async fn authenticate(
    store: &portolan_store::Store,
    uses: &Uses,
    secret: &str,
    from: Option<&str>,
    now: OffsetDateTime,
) -> Result<Identity, Refused> {
    let wanted = hash(secret);
    let record = store.token_by_hash(&wanted).await.map_err(|e| Refused::Store(e.to_string()))?.ok_or(Refused::Unknown)?;
    // Found by its hash; compared again in constant time all the same.
    if !constant_time_eq(record.hash.as_bytes(), wanted.as_bytes()) {
        return Err(Refused::Unknown);
    }
    let stamp = |t: OffsetDateTime| t.format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
    if let Some(at) = record.revoked_at {
        return Err(Refused::Revoked(stamp(at)));
    }
    if record.expires_at <= now {
        return Err(Refused::Expired(stamp(record.expires_at)));
    }
    let mut owner: Identity = serde_json::from_str(&record.owner_json).map_err(|e| Refused::Store(e.to_string()))?;
    if let Ok(Some(user)) = store.user(&record.owner_provider, &record.owner_subject).await {
        owner.groups = user.groups;
        owner.name = user.name.or(owner.name);
    }
    let role = record.role.parse::<Role>().map_err(|e| Refused::Store(e.to_string()))?;
    let raw = RawCap { token: record.id, registry: record.registry.clone(), repositories: record.repositories.clone(), role };
    // Whatever the stored owner said, this request acts only within the token's scope.
    owner.cap = Some(Cap::new(raw).map_err(Refused::Store)?);
    let due = {
        let mut seen = uses.0.lock().unwrap_or_else(|e| e.into_inner());
        if seen.len() > 100_000 {
            seen.clear();
        }
        match seen.get(&record.id) {
            Some(at) if now - *at < USE_RECORDED_EVERY => false,
            _ => {
                seen.insert(record.id, now);
                true
            }
        }
    };
    if due && let Err(e) = store.token_used(record.id, from, now).await {
        tracing::warn!(error = %e, token = record.id, "recording a token's use");
    }
    Ok(owner)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A token as lists show it.
pub fn row_of(t: &TokenRecord, now: OffsetDateTime) -> portolan_model::TokenRow {
    let owner: Option<Identity> = serde_json::from_str(&t.owner_json).ok();
    portolan_model::TokenRow {
        id: t.id,
        name: t.name.clone(),
        hint: t.hint.clone(),
        owner: owner.map(|o| format!("{} ({}:{})", o.display_name(), t.owner_provider, t.owner_subject)).unwrap_or_default(),
        registry: t.registry.clone(),
        repositories: t.repositories.clone(),
        role: t.role.clone(),
        created_at: t.created_at.unix_timestamp(),
        expires_at: t.expires_at.unix_timestamp(),
        revoked_at: t.revoked_at.map(|r| r.unix_timestamp()),
        revoked_by: t.revoked_by.clone(),
        last_used_at: t.last_used_at.map(|r| r.unix_timestamp()),
        last_used_from: t.last_used_from.clone(),
        state: if t.revoked_at.is_some() {
            "revoked"
        } else if t.expires_at <= now {
            "expired"
        } else {
            "active"
        }
        .into(),
    }
}

/// The tokens of `owner` (None: everyone's), newest first.
pub async fn list(services: &Services, owner: Option<&Identity>) -> Result<Vec<portolan_model::TokenRow>> {
    let now = OffsetDateTime::now_utc();
    let records = services.store.tokens(owner.map(|o| (o.provider.as_str(), o.subject.as_str()))).await?;
    Ok(records.iter().map(|t| row_of(t, now)).collect())
}

/// Revokes token `id` on behalf of `by` (their label), when it is theirs or `any` (an admin of
/// everything); to anyone else the token does not exist. Audited.
pub async fn revoke(
    services: &Services,
    id: i64,
    by: &Identity,
    any: bool,
    actor: portolan_store::Actor,
    request: Option<&str>,
) -> Result<()> {
    let token = match services.store.token(id).await {
        Ok(t) if any || (t.owner_provider == by.provider && t.owner_subject == by.subject) => t,
        Ok(_) | Err(portolan_store::StoreError::NotFound(_)) => return Err(Error::NotFound(format!("no token {id}"))),
        Err(e) => return Err(e.into()),
    };
    if !services.store.token_revoke(id, &actor.label()).await? {
        return Err(Error::Conflict(format!("token {id} was revoked already")));
    }
    let entry = portolan_store::NewAudit::new(actor, "token-revoke", portolan_store::Outcome::Done)
        .reason(format!(
            "token {id} {:?} ({}, {} over {} in {})",
            token.name,
            token.hint,
            token.role,
            token.repositories.join(", "),
            token.registry
        ))
        .request(request);
    services.store.audit(entry).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_hash_stably() {
        assert_eq!(hash("ptl_x"), hex::encode(Sha256::digest(b"ptl_x")));
        assert!(is_token("ptl_abc") && !is_token("eyJhbGciOi"));
        assert!(constant_time_eq(b"ab", b"ab") && !constant_time_eq(b"ab", b"ac") && !constant_time_eq(b"a", b"ab"));
    }
}
