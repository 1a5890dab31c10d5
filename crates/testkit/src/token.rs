//! A Docker token server (the "token" auth of CNCF distribution), small but to the spec:
//! `GET /token?service=…&scope=…` with optional Basic credentials answers a signed JWT
//! granting, per requested scope, the actions the user is allowed.
//!
//! distribution verifies the JWT's `kid` against the certificates in its `rootcertbundle`,
//! using libtrust key ids (see [`libtrust_key_id`]).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use anyhow::{Context, Result};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;
use sha2::{Digest, Sha256};

pub const SERVICE: &str = "portolan-testkit";
pub const ISSUER: &str = "portolan-testkit-issuer";

/// What a principal may do with repositories.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grant {
    /// Nothing at all (the token is issued, but with no access).
    Nothing,
    /// pull, and the catalog.
    Pull,
    /// pull, push, delete, and the catalog.
    All,
}

impl Grant {
    fn allows(self, action: &str) -> bool {
        match self {
            Grant::Nothing => false,
            Grant::Pull => action == "pull",
            Grant::All => true,
        }
    }
}

struct Inner {
    key: EncodingKey,
    kid: String,
    users: HashMap<String, (String, Grant)>,
    anonymous: Grant,
    expire_next: AtomicBool,
    requests: AtomicUsize,
    lifetime_secs: u64,
}

/// A running token server; stops when dropped.
pub struct TokenServer {
    pub addr: SocketAddr,
    /// PEM of the self-signed certificate whose key signs the tokens (the registry's rootcertbundle).
    pub cert_pem: String,
    /// PEM of the private key that signs the tokens: a secret, for tests checking that it never
    /// shows anywhere.
    pub key_pem: String,
    inner: Arc<Inner>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[derive(Serialize)]
struct Access {
    #[serde(rename = "type")]
    kind: String,
    name: String,
    actions: Vec<String>,
}

#[derive(Serialize)]
struct Claims {
    iss: &'static str,
    sub: String,
    aud: &'static str,
    exp: i64,
    nbf: i64,
    iat: i64,
    jti: String,
    access: Vec<Access>,
}

/// The libtrust key id of a public key: SHA-256 of its DER SubjectPublicKeyInfo, first 240
/// bits, base32, in twelve groups of four joined by ':'.
pub fn libtrust_key_id(spki_der: &[u8]) -> String {
    let hash = Sha256::digest(spki_der);
    let b32 = base32_std(&hash[..30]);
    b32.as_bytes().chunks(4).map(|c| std::str::from_utf8(c).unwrap_or_default()).collect::<Vec<_>>().join(":")
}

fn base32_std(data: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::new();
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for &byte in data {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

impl TokenServer {
    /// Starts on a free loopback port. `users` maps name → (password, grant).
    pub async fn start(users: &[(&str, &str, Grant)], anonymous: Grant) -> Result<Self> {
        let key_pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
        let params = rcgen::CertificateParams::new(vec!["portolan-testkit".to_owned()])?;
        let cert = params.self_signed(&key_pair)?;
        let kid = libtrust_key_id(&rcgen::PublicKeyData::subject_public_key_info(&key_pair));
        let key = EncodingKey::from_ec_pem(key_pair.serialize_pem().as_bytes()).context("loading the signing key")?;
        let inner = Arc::new(Inner {
            key,
            kid,
            users: users.iter().map(|(u, p, g)| ((*u).to_owned(), ((*p).to_owned(), *g))).collect(),
            anonymous,
            expire_next: AtomicBool::new(false),
            requests: AtomicUsize::new(0),
            lifetime_secs: 300,
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let app = axum::Router::new().route("/token", get(token)).with_state(inner.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { addr, cert_pem: cert.pem(), key_pem: key_pair.serialize_pem(), inner, task })
    }

    pub fn realm(&self) -> String {
        format!("http://{}/token", self.addr)
    }

    /// Token requests answered so far.
    pub fn requests(&self) -> usize {
        self.inner.requests.load(Ordering::SeqCst)
    }

    /// The next token issued is already expired for the registry, while its `expires_in`
    /// still promises an hour: the client only learns from the registry's 401.
    pub fn expire_next_token(&self) {
        self.inner.expire_next.store(true, Ordering::SeqCst);
    }

    /// A token granting `actions` on `repository`, for seeding without going through a client.
    pub fn mint(&self, scopes: &[(&str, &str, &[&str])]) -> Result<String> {
        self.mint_for(scopes, std::time::Duration::from_secs(self.inner.lifetime_secs))
    }

    /// A token granting `actions` on each scope, valid for `lifetime`: e.g. a static bearer
    /// token configured as a registry's password.
    pub fn mint_for(&self, scopes: &[(&str, &str, &[&str])], lifetime: std::time::Duration) -> Result<String> {
        let access = scopes
            .iter()
            .map(|(kind, name, actions)| Access {
                kind: (*kind).to_owned(),
                name: (*name).to_owned(),
                actions: actions.iter().map(|a| (*a).to_owned()).collect(),
            })
            .collect();
        sign(&self.inner, "testkit-seeder", access, false, lifetime.as_secs())
    }
}

fn sign(inner: &Inner, subject: &str, access: Vec<Access>, expired: bool, lifetime_secs: u64) -> Result<String> {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    // distribution allows a minute of clock skew: an "expired" token is two minutes old.
    let (iat, exp) = if expired { (now - 600, now - 120) } else { (now - 5, now + lifetime_secs as i64) };
    let claims = Claims {
        iss: ISSUER,
        sub: subject.to_owned(),
        aud: SERVICE,
        exp,
        nbf: iat,
        iat,
        jti: format!("{:x}", rand::random::<u64>()),
        access,
    };
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(inner.kid.clone());
    Ok(jsonwebtoken::encode(&header, &claims, &inner.key)?)
}

fn basic_user(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, pass) = text.split_once(':')?;
    Some((user.to_owned(), pass.to_owned()))
}

async fn token(State(inner): State<Arc<Inner>>, headers: HeaderMap, Query(query): Query<Vec<(String, String)>>) -> Response {
    inner.requests.fetch_add(1, Ordering::SeqCst);
    let (subject, grant) = match basic_user(&headers) {
        Some((user, pass)) => match inner.users.get(&user) {
            Some((expected, grant)) if *expected == pass => (user, *grant),
            _ => {
                return (
                    StatusCode::UNAUTHORIZED,
                    axum::Json(serde_json::json!({"errors":[{"code":"UNAUTHORIZED","message":"invalid username or password"}]})),
                )
                    .into_response();
            }
        },
        None => ("anonymous".to_owned(), inner.anonymous),
    };
    let mut access = Vec::new();
    for (key, value) in &query {
        if key != "scope" {
            continue;
        }
        for scope in value.split(' ') {
            // type:name:actions — the name may itself contain ':' (a port), so split from both ends.
            let Some((kind, rest)) = scope.split_once(':') else {
                continue;
            };
            let Some((name, actions)) = rest.rsplit_once(':') else {
                continue;
            };
            let granted: Vec<String> = actions
                .split(',')
                .filter(|a| match kind {
                    "registry" => name == "catalog" && grant != Grant::Nothing,
                    _ => grant.allows(a),
                })
                .map(str::to_owned)
                .collect();
            access.push(Access { kind: kind.to_owned(), name: name.to_owned(), actions: granted });
        }
    }
    let expired = inner.expire_next.swap(false, Ordering::SeqCst);
    match sign(&inner, &subject, access, expired, inner.lifetime_secs) {
        Ok(token) => axum::Json(serde_json::json!({
            "token": token,
            "access_token": token,
            "expires_in": inner.lifetime_secs,
            "issued_at": time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
        }))
        .into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base32_matches_rfc4648_vectors() {
        assert_eq!(base32_std(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32_std(b"fo"), "MZXQ");
    }

    #[test]
    fn key_id_has_twelve_groups() {
        let id = libtrust_key_id(b"anything");
        assert_eq!(id.split(':').count(), 12);
        assert!(id.split(':').all(|g| g.len() == 4));
    }
}
