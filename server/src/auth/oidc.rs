//! Generic OpenID Connect sign-in with `openidconnect`: discovery (cached a few minutes, so a
//! provider's key rotation is picked up and a provider down at start does not stop Portolan),
//! authorization code flow with PKCE S256, state and nonce; the ID token's signature, issuer,
//! audience, expiry and nonce checked by the library, its `at_hash` here (with the key that
//! verified it); an ID token signed by a key the cached discovery does not know makes one fresh
//! read of it for that sign-in; claims from the ID token or, when it
//! lacks them (oidc-provider's default, Keycloak without mappers), from userinfo.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreIdToken};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, PkceCodeVerifier, PostLogoutRedirectUrl, ProviderMetadataWithLogout, RedirectUrl, Scope, TokenResponse,
};
use portolan_access::Identity;
use serde_json::Value;
use url::Url;

use super::{Failure, Pending};
use crate::config::ProviderConfig;

/// How long discovery (and the provider's keys) is trusted before it is fetched again.
const DISCOVERY_TTL: Duration = Duration::from_secs(300);

pub struct OidcProvider {
    pub config: ProviderConfig,
    issuer: String,
    scopes: Vec<String>,
    groups_claim: String,
    trust_unverified_email: bool,
    end_provider_session: bool,
    http: reqwest::Client,
    discovered: Mutex<Option<(Instant, ProviderMetadataWithLogout)>>,
}

impl OidcProvider {
    pub fn new(config: ProviderConfig, http: reqwest::Client) -> Self {
        let crate::config::ProviderKind::Oidc { issuer, scopes, groups_claim, trust_unverified_email, end_provider_session } =
            config.kind.clone()
        else {
            unreachable!("an OpenID Connect provider")
        };
        Self { config, issuer, scopes, groups_claim, trust_unverified_email, end_provider_session, http, discovered: Mutex::new(None) }
    }

    async fn metadata(&self, fresh: bool) -> Result<ProviderMetadataWithLogout, Failure> {
        if !fresh
            && let Some((at, md)) = &*self.discovered.lock().unwrap_or_else(|e| e.into_inner())
            && at.elapsed() < DISCOVERY_TTL
        {
            return Ok(md.clone());
        }
        let issuer = IssuerUrl::new(self.issuer.clone()).map_err(|e| Failure::provider(format!("the issuer URL: {e}")))?;
        let md = ProviderMetadataWithLogout::discover_async(issuer, &self.http)
            .await
            .map_err(|e| Failure::provider(format!("discovery at {} failed: {}", self.issuer, error_chain(&e))))?;
        *self.discovered.lock().unwrap_or_else(|e| e.into_inner()) = Some((Instant::now(), md.clone()));
        Ok(md)
    }

    fn client(
        &self,
        md: ProviderMetadataWithLogout,
        redirect: &str,
    ) -> Result<
        CoreClient<
            openidconnect::EndpointSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointMaybeSet,
            openidconnect::EndpointMaybeSet,
        >,
        Failure,
    > {
        let secret = self.config.client_secret.as_ref().map(|s| ClientSecret::new(s.expose().to_owned()));
        Ok(CoreClient::from_provider_metadata(md, ClientId::new(self.config.client_id.clone()), secret)
            .set_redirect_uri(RedirectUrl::new(redirect.to_owned()).map_err(|e| Failure::provider(format!("the redirect URL: {e}")))?))
    }

    /// The provider's authorization URL, and what the callback must find in the session.
    pub async fn start(&self, redirect: &str, next: &str) -> Result<(Url, Pending), Failure> {
        let md = self.metadata(false).await?;
        let client = self.client(md, redirect)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client.authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random);
        for scope in self.scopes.iter().filter(|s| s.as_str() != "openid") {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, state, nonce) = request.set_pkce_challenge(challenge).url();
        Ok((url, Pending::new(&self.config.id, state.secret(), Some(nonce.secret().clone()), verifier.secret(), next)))
    }

    /// Exchanges the code and checks the ID token; returns who signed in, and the ID token
    /// (kept server-side, as the hint for ending the provider session at sign-out).
    pub async fn finish(&self, pending: &Pending, code: &str, redirect: &str) -> Result<(Identity, Option<String>), Failure> {
        let md = self.metadata(false).await?;
        let client = self.client(md.clone(), redirect)?;
        let nonce = pending.nonce.clone().ok_or_else(|| Failure::refused("the sign-in lost its nonce"))?;
        let token = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| Failure::provider(format!("the provider has no token endpoint ({e})")))?
            .set_pkce_verifier(PkceCodeVerifier::new(pending.verifier.clone()))
            .request_async(&self.http)
            .await
            .map_err(|e| Failure::refused(format!("the provider refused the code ({})", error_chain(&e))))?;
        let id_token = token.id_token().ok_or_else(|| Failure::refused("the provider sent no ID token"))?;
        let checked = id_token.claims(&client.id_token_verifier(), &Nonce::new(nonce.clone())).cloned();
        let (claims, client) = match checked {
            Ok(c) => (c, client),
            // A key the cached discovery does not know: the provider may have rotated its keys.
            // Discovery and keys are read again, once for this sign-in (each request bounded by
            // the HTTP client's timeout), and the token checked with them if they changed since
            // the ones it failed with — also when another sign-in read them meanwhile.
            Err(e @ ClaimsVerificationError::SignatureVerification(_)) => {
                let Some(fresh) = self.keys_changed(&md).await else { return Err(Failure::refused(id_token_problem(&e))) };
                let client = self.client(fresh, redirect)?;
                let claims =
                    id_token.claims(&client.id_token_verifier(), &Nonce::new(nonce)).map_err(|e| Failure::refused(id_token_problem(&e)))?;
                (claims.clone(), client)
            }
            Err(e) => return Err(Failure::refused(id_token_problem(&e))),
        };
        // The at_hash is checked with the key of the discovery the token was verified with.
        let verifier = client.id_token_verifier();
        if let Some(expected) = claims.access_token_hash() {
            let alg = id_token.signing_alg().map_err(|e| Failure::refused(format!("the ID token's algorithm: {e}")))?;
            let key = id_token.signing_key(&verifier).map_err(|e| Failure::refused(format!("the ID token's key: {e}")))?;
            let actual = AccessTokenHash::from_token(token.access_token(), alg, key)
                .map_err(|e| Failure::refused(format!("checking the access token hash: {e}")))?;
            if actual != *expected {
                return Err(Failure::refused("the access token does not belong to the ID token (at_hash)"));
            }
        }
        // Claims the library does not model (groups, any name) from the verified token's payload.
        let raw = payload(id_token);
        let subject = claims.subject().as_str().to_owned();
        let mut email = claims.email().map(|e| e.as_str().to_owned());
        let mut email_verified = claims.email_verified();
        let mut name = claims
            .name()
            .and_then(|n| n.get(None))
            .map(|n| n.as_str().to_owned())
            .or_else(|| claims.preferred_username().map(|u| u.as_str().to_owned()));
        let mut groups = claim_path(&raw, &self.groups_claim).map(groups_of);
        // Claims only in userinfo (oidc-provider's default, many Keycloak setups).
        let userinfo_url = client.user_info_url().map(|u| u.url().to_string());
        if (groups.is_none() || email.is_none() || name.is_none())
            && let Some(url) = userinfo_url
        {
            let info = self.userinfo(&url, token.access_token().secret()).await?;
            if info.get("sub").and_then(Value::as_str) != Some(subject.as_str()) {
                return Err(Failure::refused("userinfo is about another subject than the ID token"));
            }
            if email.is_none() {
                email = info.get("email").and_then(Value::as_str).map(str::to_owned);
                email_verified = info.get("email_verified").and_then(Value::as_bool);
            }
            if name.is_none() {
                name = ["name", "preferred_username"].iter().find_map(|k| info.get(*k).and_then(Value::as_str)).map(str::to_owned);
            }
            if groups.is_none() {
                groups = claim_path(&info, &self.groups_claim).map(groups_of);
            }
        }
        let identity = Identity {
            provider: self.config.id.clone(),
            subject,
            name,
            email_verified: email.is_some() && (email_verified == Some(true) || self.trust_unverified_email),
            email,
            groups: groups.unwrap_or_default(),
            cap: None,
        };
        Ok((identity, Some(id_token.to_string())))
    }

    /// Discovery read again (one read, cached for the next sign-ins): the fresh metadata when
    /// its keys differ from those of `used`, else None (also when it cannot be read).
    async fn keys_changed(&self, used: &ProviderMetadataWithLogout) -> Option<ProviderMetadataWithLogout> {
        let fresh = self.metadata(true).await.ok()?;
        (key_ids(&fresh) != key_ids(used)).then_some(fresh)
    }

    async fn userinfo(&self, url: &str, access_token: &str) -> Result<Value, Failure> {
        let response = self
            .http
            .get(url)
            .bearer_auth(access_token)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| Failure::provider(format!("userinfo: {}", error_chain(&e))))?;
        if !response.status().is_success() {
            return Err(Failure::refused(format!("userinfo answered {}", response.status())));
        }
        // Read piece by piece, so a provider sending more than the cap is stopped at it.
        const CAP: usize = 1024 * 1024;
        let mut response = response;
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| Failure::provider(format!("userinfo: {e}")))? {
            if bytes.len() + chunk.len() > CAP {
                return Err(Failure::provider("userinfo is larger than 1 MiB"));
            }
            bytes.extend_from_slice(&chunk);
        }
        serde_json::from_slice(&bytes).map_err(|_| Failure::provider("userinfo is not JSON (signed userinfo is not supported)"))
    }

    /// Where to send the browser to end the provider's session too, if it supports it.
    pub async fn end_session_url(&self, id_token: Option<&str>, after: &str) -> Option<Url> {
        if !self.end_provider_session {
            return None;
        }
        let md = self.metadata(false).await.ok()?;
        let endpoint = md.additional_metadata().end_session_endpoint.clone()?;
        let mut request = openidconnect::LogoutRequest::from(endpoint).set_client_id(ClientId::new(self.config.client_id.clone()));
        if let Some(token) = id_token.and_then(|t| t.parse::<CoreIdToken>().ok()) {
            request = request.set_id_token_hint(&token);
        }
        if let Ok(after) = PostLogoutRedirectUrl::new(after.to_owned()) {
            request = request.set_post_logout_redirect_uri(after);
        }
        Some(request.http_get_url())
    }
}

fn key_ids(md: &ProviderMetadataWithLogout) -> Vec<String> {
    use openidconnect::JsonWebKey;
    md.jwks().keys().iter().filter_map(|k| k.key_id().map(|id| id.as_str().to_owned())).collect()
}

/// The payload of a JWT whose signature was checked already.
fn payload(token: &CoreIdToken) -> Value {
    let text = token.to_string();
    text.split('.')
        .nth(1)
        .and_then(|p| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(p.trim_end_matches('=')).ok())
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null)
}

/// A claim by name, or by dotted path (`realm_access.roles`).
fn claim_path<'a>(claims: &'a Value, path: &str) -> Option<&'a Value> {
    if let Some(v) = claims.get(path) {
        return Some(v);
    }
    path.split('.').try_fold(claims, |v, key| v.get(key))
}

/// Groups from a claim: a list of strings, or one string (some providers send one group so).
fn groups_of(v: &Value) -> Vec<String> {
    match v {
        Value::Array(items) => items.iter().filter_map(Value::as_str).map(str::to_owned).take(1000).collect(),
        Value::String(s) => vec![s.clone()],
        _ => Vec::new(),
    }
}

fn id_token_problem(e: &ClaimsVerificationError) -> String {
    match e {
        ClaimsVerificationError::Expired(_) => "the ID token has expired".into(),
        ClaimsVerificationError::InvalidAudience(_) => "the ID token is for another client (audience)".into(),
        ClaimsVerificationError::InvalidIssuer(_) => "the ID token comes from another issuer".into(),
        ClaimsVerificationError::InvalidNonce(_) => "the ID token's nonce does not match this sign-in".into(),
        ClaimsVerificationError::SignatureVerification(_) => "the ID token's signature is not valid".into(),
        other => format!("the ID token was refused ({other})"),
    }
}

/// An error and its causes, on one line.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let s = c.to_string();
        if !text.contains(&s) {
            text.push_str(": ");
            text.push_str(&s);
        }
        cause = c.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_from_claims_or_paths() {
        let claims = serde_json::json!({"groups": ["/a", "b"], "realm_access": {"roles": ["admin"]}, "one": "x"});
        assert_eq!(claim_path(&claims, "groups").map(groups_of), Some(vec!["/a".to_owned(), "b".to_owned()]));
        assert_eq!(claim_path(&claims, "realm_access.roles").map(groups_of), Some(vec!["admin".to_owned()]));
        assert_eq!(claim_path(&claims, "one").map(groups_of), Some(vec!["x".to_owned()]));
        assert!(claim_path(&claims, "nope").is_none());
    }
}
