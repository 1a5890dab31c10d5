//! A real OpenID Connect provider for sign-in tests: npm `oidc-provider` 9 run by Node
//! (`crates/testkit/oidc/provider.mjs`, packages from `end2end/node_modules`, installed by
//! `scripts/tools.sh node`).
//!
//! It serves discovery, authorization (code flow, PKCE S256), token, userinfo (`/me`), JWKS and
//! RP-initiated logout (`/session/end`) on `http://127.0.0.1:<port>`, signs ID tokens (RS256) with
//! a key generated here (so tests can mint tokens with it too), and logs users in through a plain
//! HTML form (`login`, `password`, "Sign in") that headless Chromium and [`OidcProvider::sign_in`]
//! both drive. Consent is granted automatically.
//!
//! Scopes and their claims: `openid` (`sub`), `profile` (`name`, `preferred_username`), `email`
//! (`email`, `email_verified`), `groups` (`groups`). By default, as oidc-provider does, scope
//! claims are only in userinfo; [`OidcConfig::scope_claims_in_id_token`] puts them in the ID token.
//!
//! For refusal tests, [`OidcProvider::set_tamper`] alters the ID token of the next token response.
//! For key rotation, [`OidcProvider::rotate_signing_key`] signs ID tokens with a new key from then
//! on and publishes it in the JWKS; [`OidcProvider::reads`] counts reads of the discovery
//! document and the JWKS; [`OidcProvider::delay_next_token_response`] makes sign-ins overlap.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::process::{ChildGuard, start_on_free_port, wait_http};

/// The confidential client configured by default.
pub const CLIENT_ID: &str = "portolan";
/// Its secret.
pub const CLIENT_SECRET: &str = "portolan-oidc-secret";

/// A client (relying party) registered with the provider.
#[derive(Clone, Debug, Serialize)]
pub struct OidcClient {
    pub client_id: String,
    /// `None`: a public client (no secret, token endpoint auth `none`).
    pub client_secret: Option<String>,
    /// Compared exactly by the provider.
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    /// PKCE (S256 only) required. oidc-provider always requires it of public clients.
    pub require_pkce: bool,
    /// `client_secret_basic` (default) or `client_secret_post`; ignored for public clients.
    pub token_endpoint_auth_method: String,
}

impl OidcClient {
    pub fn confidential(client_id: &str, client_secret: &str) -> Self {
        Self {
            client_id: client_id.to_owned(),
            client_secret: Some(client_secret.to_owned()),
            redirect_uris: Vec::new(),
            post_logout_redirect_uris: Vec::new(),
            require_pkce: true,
            token_endpoint_auth_method: "client_secret_basic".to_owned(),
        }
    }

    pub fn public(client_id: &str) -> Self {
        Self { client_secret: None, ..Self::confidential(client_id, "") }
    }
}

/// A user of the provider. `sub` is the account id; `login` is what the login form takes.
#[derive(Clone, Debug)]
pub struct OidcUser {
    pub login: String,
    pub password: String,
    pub sub: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub email_verified: bool,
    /// `None`: no `groups` claim at all.
    pub groups: Option<Vec<String>>,
}

impl OidcUser {
    /// `alice` / `alice-pass`: alice@example.com (verified), groups `/platform/admins`.
    pub fn alice() -> Self {
        Self {
            login: "alice".to_owned(),
            password: "alice-pass".to_owned(),
            sub: "5a3f7c1e-8b2d-4e6a-9f01-a11ce0000001".to_owned(),
            name: Some("Alice Admin".to_owned()),
            email: Some("alice@example.com".to_owned()),
            email_verified: true,
            groups: Some(vec!["/platform/admins".to_owned()]),
        }
    }

    /// `bob` / `bob-pass`: bob@example.com (verified), groups `/dev`.
    pub fn bob() -> Self {
        Self {
            login: "bob".to_owned(),
            password: "bob-pass".to_owned(),
            sub: "9d0b2e47-1c6f-4a8e-b3d5-b0b000000002".to_owned(),
            name: Some("Bob Builder".to_owned()),
            email: Some("bob@example.com".to_owned()),
            email_verified: true,
            groups: Some(vec!["/dev".to_owned()]),
        }
    }

    /// `carol` / `carol-pass`: carol@example.com, NOT verified, no groups.
    pub fn carol() -> Self {
        Self {
            login: "carol".to_owned(),
            password: "carol-pass".to_owned(),
            sub: "c4e81f30-7a29-4d5b-8e6c-ca5010000003".to_owned(),
            name: Some("Carol Unverified".to_owned()),
            email: Some("carol@example.com".to_owned()),
            email_verified: false,
            groups: Some(Vec::new()),
        }
    }

    /// The demo's user for `role` (`admin`, `maintainer` or `viewer`): that login, a random
    /// password of 16 letters and digits, `<role>@demo.example` (verified), groups
    /// `/portolan/<role>s`.
    pub fn demo(role: &str) -> Self {
        const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
        let password = (0..16).map(|_| ALPHABET[rand::random_range(0..ALPHABET.len())] as char).collect();
        let mut title = role.to_owned();
        title[..1].make_ascii_uppercase();
        Self {
            login: role.to_owned(),
            password,
            sub: format!("demo-{role}"),
            name: Some(format!("{title} (demo)")),
            email: Some(format!("{role}@demo.example")),
            email_verified: true,
            groups: Some(vec![format!("/portolan/{role}s")]),
        }
    }

    /// The claims the provider holds for this user (released per scope).
    pub fn claims(&self) -> serde_json::Value {
        let mut claims = serde_json::json!({
            "sub": self.sub,
            "preferred_username": self.login,
        });
        if let Some(name) = &self.name {
            claims["name"] = name.clone().into();
        }
        if let Some(email) = &self.email {
            claims["email"] = email.clone().into();
            claims["email_verified"] = self.email_verified.into();
        }
        if let Some(groups) = &self.groups {
            claims["groups"] = serde_json::json!(groups);
        }
        claims
    }
}

/// What the provider is started with. [`OidcConfig::default`]: the confidential client
/// [`CLIENT_ID`] (no redirect URIs yet: add them with [`OidcConfig::redirect_uri`]), and the users
/// alice, bob and carol.
#[derive(Clone, Debug)]
pub struct OidcConfig {
    pub clients: Vec<OidcClient>,
    pub users: Vec<OidcUser>,
    /// Scope claims (email, profile, groups) also in the ID token (oidc-provider's
    /// `conformIdTokenClaims: false`); by default they are only in userinfo.
    pub scope_claims_in_id_token: bool,
    pub access_token_ttl: Duration,
    pub id_token_ttl: Duration,
}

impl Default for OidcConfig {
    fn default() -> Self {
        Self {
            clients: vec![OidcClient::confidential(CLIENT_ID, CLIENT_SECRET)],
            users: vec![OidcUser::alice(), OidcUser::bob(), OidcUser::carol()],
            scope_claims_in_id_token: false,
            access_token_ttl: Duration::from_secs(3600),
            id_token_ttl: Duration::from_secs(3600),
        }
    }
}

impl OidcConfig {
    /// Adds a redirect URI to the first client.
    pub fn redirect_uri(mut self, uri: &str) -> Self {
        if let Some(client) = self.clients.first_mut() {
            client.redirect_uris.push(uri.to_owned());
        }
        self
    }

    /// Adds a post-logout redirect URI to the first client.
    pub fn post_logout_redirect_uri(mut self, uri: &str) -> Self {
        if let Some(client) = self.clients.first_mut() {
            client.post_logout_redirect_uris.push(uri.to_owned());
        }
        self
    }

    pub fn scope_claims_in_id_token(mut self, yes: bool) -> Self {
        self.scope_claims_in_id_token = yes;
        self
    }
}

/// How [`OidcProvider::set_tamper`] alters the next ID token. All but `Signature` re-sign the
/// token with the provider's real key, so only the named check fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tamper {
    /// `nonce` replaced by another value.
    Nonce,
    /// `iss` set to `https://issuer.invalid`.
    Issuer,
    /// Signature bytes flipped (claims untouched).
    Signature,
    /// `exp` an hour ago, `iat` two hours ago.
    Expired,
    /// `aud` set to `another-client`.
    Audience,
    /// An `at_hash` that is not the access token's (oidc-provider sends none from the token
    /// endpoint; this adds a wrong one).
    AtHash,
    /// The access token's own `at_hash` added, as Keycloak sends one: nothing fails.
    CorrectAtHash,
    /// Signed with a fresh key, under a `kid` of its own, that no JWKS of the provider lists.
    UnknownKey,
}

impl Tamper {
    pub fn as_str(self) -> &'static str {
        match self {
            Tamper::Nonce => "nonce",
            Tamper::Issuer => "issuer",
            Tamper::Signature => "signature",
            Tamper::Expired => "expired",
            Tamper::Audience => "audience",
            Tamper::AtHash => "at-hash",
            Tamper::CorrectAtHash => "correct-at-hash",
            Tamper::UnknownKey => "unknown-key",
        }
    }
}

/// How often the provider's discovery document and JWKS were read (by anyone).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct ProviderReads {
    pub discovery: u64,
    pub jwks: u64,
}

/// A signed-in session at the provider (from its test control endpoint).
#[derive(Clone, Debug, Deserialize)]
pub struct ProviderSession {
    pub uid: String,
    /// The user's `sub`.
    pub account_id: String,
    pub login_ts: Option<i64>,
    /// Clients authorized in this session.
    pub clients: Vec<String>,
}

#[derive(Serialize)]
struct WireUser {
    login: String,
    password: String,
    claims: serde_json::Value,
}

#[derive(Serialize)]
struct WireKey<'a> {
    pem: &'a str,
    kid: &'a str,
}

#[derive(Serialize)]
struct WireConfig<'a> {
    port: u16,
    issuer: &'a str,
    clients: &'a [OidcClient],
    users: Vec<WireUser>,
    scope_claims_in_id_token: bool,
    access_token_ttl: u64,
    id_token_ttl: u64,
    signing_key: WireKey<'a>,
}

/// The running provider; Node is killed when it is dropped (and exits by itself when this
/// process dies: it watches its standard input).
pub struct OidcProvider {
    issuer: String,
    config: OidcConfig,
    key_pem: String,
    key_id: String,
    http: reqwest::Client,
    _guard: ChildGuard,
    _dir: tempfile::TempDir,
}

/// The provider script.
pub fn script_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("oidc").join("provider.mjs")
}

/// Where the npm packages are: `$PORTOLAN_NODE_MODULES`, else `end2end/node_modules`.
pub fn node_modules() -> PathBuf {
    match std::env::var_os("PORTOLAN_NODE_MODULES") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../end2end/node_modules"),
    }
}

/// An HTTP client that behaves like a browser for sign-in flows: it keeps cookies, does not
/// follow redirects (the flow helpers do, stopping at the client's redirect URI), and times out.
pub fn browser_client() -> Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(15))
        .build()?)
}

impl OidcProvider {
    /// Generates a signing key, starts the provider on a free loopback port and waits until it
    /// serves its discovery document.
    pub async fn start(config: OidcConfig) -> Result<Self> {
        let modules = node_modules();
        if !modules.join("oidc-provider").join("package.json").is_file() {
            bail!("the npm package oidc-provider is missing from {}: run scripts/tools.sh node", modules.display());
        }
        for client in &config.clients {
            if client.redirect_uris.is_empty() {
                bail!("OIDC client {} has no redirect URI (OidcConfig::redirect_uri)", client.client_id);
            }
        }
        let script = script_path();
        let modules = modules.canonicalize().with_context(|| format!("resolving {}", modules.display()))?;

        let generated = tokio::time::timeout(
            Duration::from_secs(30),
            tokio::process::Command::new("node").arg(&script).arg("generate-key").kill_on_drop(true).output(),
        )
        .await
        .context("node took over 30 s to generate a key")?
        .context("running node (Node.js 20 or later must be on PATH)")?;
        if !generated.status.success() {
            bail!("node {} generate-key failed: {}", script.display(), String::from_utf8_lossy(&generated.stderr));
        }
        let key_pem = String::from_utf8(generated.stdout)?;
        let key_id = format!("testkit-{:08x}", rand::random::<u32>());

        let dir = tempfile::tempdir()?;
        let config_path = dir.path().join("config.json");
        let log = dir.path().join("oidc-provider.log");
        let (issuer, guard) = start_on_free_port("oidc-provider", |addr| {
            let issuer = format!("http://{addr}");
            let wire = WireConfig {
                port: addr.port(),
                issuer: &issuer,
                clients: &config.clients,
                users: config
                    .users
                    .iter()
                    .map(|u| WireUser { login: u.login.clone(), password: u.password.clone(), claims: u.claims() })
                    .collect(),
                scope_claims_in_id_token: config.scope_claims_in_id_token,
                access_token_ttl: config.access_token_ttl.as_secs().max(1),
                id_token_ttl: config.id_token_ttl.as_secs().max(1),
                signing_key: WireKey { pem: &key_pem, kid: &key_id },
            };
            let written =
                serde_json::to_vec_pretty(&wire).map_err(anyhow::Error::from).and_then(|json| Ok(std::fs::write(&config_path, json)?));
            let (script, modules, config_path, log) = (&script, &modules, &config_path, &log);
            async move {
                written?;
                let mut cmd = std::process::Command::new("node");
                cmd.arg(script).arg(config_path).env("PORTOLAN_NODE_MODULES", modules);
                let mut guard = ChildGuard::spawn_with_stdin_pipe("oidc-provider (node)", cmd, log)?;
                wait_http(&format!("{issuer}/.well-known/openid-configuration"), &mut guard, log).await?;
                Ok((issuer, guard))
            }
        })
        .await?;

        let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build()?;
        Ok(Self { issuer, config, key_pem, key_id, http, _guard: guard, _dir: dir })
    }

    /// `http://127.0.0.1:<port>`, no trailing slash (as in the tokens' `iss`).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn discovery_url(&self) -> String {
        format!("{}/.well-known/openid-configuration", self.issuer)
    }

    /// The first client.
    pub fn client(&self) -> &OidcClient {
        &self.config.clients[0]
    }

    pub fn client_id(&self) -> &str {
        &self.client().client_id
    }

    pub fn client_secret(&self) -> Option<&str> {
        self.client().client_secret.as_deref()
    }

    pub fn users(&self) -> &[OidcUser] {
        &self.config.users
    }

    /// The user with this login.
    pub fn user(&self, login: &str) -> Option<&OidcUser> {
        self.config.users.iter().find(|u| u.login == login)
    }

    /// The ID token signing key: RSA 2048, PKCS#1 PEM.
    pub fn signing_key_pem(&self) -> &str {
        &self.key_pem
    }

    /// The `kid` of the signing key (in the JWKS and the tokens' header).
    pub fn signing_key_id(&self) -> &str {
        &self.key_id
    }

    /// A JWT signed (RS256, with the provider's `kid`) by the provider's key, with these claims
    /// exactly: for tokens the provider would never issue. Always the key the provider started
    /// with, also after [`OidcProvider::rotate_signing_key`].
    pub fn mint(&self, claims: &serde_json::Value) -> Result<String> {
        let key = jsonwebtoken::EncodingKey::from_rsa_pem(self.key_pem.as_bytes())?;
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        header.kid = Some(self.key_id.clone());
        Ok(jsonwebtoken::encode(&header, claims, &key)?)
    }

    /// Alters the ID token of the next successful token response (`None`: stop tampering).
    pub async fn set_tamper(&self, mode: Option<Tamper>) -> Result<()> {
        let body = serde_json::json!({ "mode": mode.map(Tamper::as_str) });
        let resp = self.http.post(format!("{}/__test/tamper", self.issuer)).json(&body).send().await?;
        if !resp.status().is_success() {
            bail!("setting tamper mode {mode:?}: {} {}", resp.status(), resp.text().await.unwrap_or_default());
        }
        Ok(())
    }

    /// Key rotation: from now on the provider signs ID tokens with a new key (RSA 2048, a `kid`
    /// of its own), and its JWKS publishes that key — alone, or with `keep_old` after the keys
    /// published so far. Returns the new key's `kid`.
    pub async fn rotate_signing_key(&self, keep_old: bool) -> Result<String> {
        #[derive(Deserialize)]
        struct Rotated {
            kid: String,
        }
        let body = serde_json::json!({ "keep_old": keep_old });
        let resp = self.http.post(format!("{}/__test/rotate", self.issuer)).json(&body).send().await?.error_for_status()?;
        Ok(resp.json::<Rotated>().await?.kid)
    }

    /// Holds the next token request `delay` before answering it (for sign-ins that overlap).
    pub async fn delay_next_token_response(&self, delay: Duration) -> Result<()> {
        let body = serde_json::json!({ "ms": delay.as_millis() as u64 });
        self.http.post(format!("{}/__test/delay-token", self.issuer)).json(&body).send().await?.error_for_status()?;
        Ok(())
    }

    /// How often the discovery document and the JWKS were read so far.
    pub async fn reads(&self) -> Result<ProviderReads> {
        let resp = self.http.get(format!("{}/__test/reads", self.issuer)).send().await?.error_for_status()?;
        Ok(resp.json().await?)
    }

    /// The signed-in sessions the provider holds.
    pub async fn sessions(&self) -> Result<Vec<ProviderSession>> {
        #[derive(Deserialize)]
        struct Sessions {
            sessions: Vec<ProviderSession>,
        }
        let resp = self.http.get(format!("{}/__test/sessions", self.issuer)).send().await?.error_for_status()?;
        Ok(resp.json::<Sessions>().await?.sessions)
    }

    /// Drives a sign-in like a browser: from `url` (an authorization URL, or a page of the
    /// relying party that redirects to one), follows redirects, fills the login form with
    /// `login`/`password` if the provider asks, and returns the first redirect leaving the
    /// provider (the redirect URI with `code` and `state`, or with `error`). Give it a
    /// [`browser_client`]; its cookies keep the provider session, so a second sign-in does not
    /// ask again. Fails if the provider refuses the password.
    pub async fn sign_in(&self, client: &reqwest::Client, url: &str, login: &str, password: &str) -> Result<String> {
        self.drive(client, url, Some((login, password))).await
    }

    /// Drives an RP-initiated logout from `url` (the end-session URL, or a relying-party page
    /// redirecting to it): confirms it and returns the first redirect leaving the provider (the
    /// post-logout redirect URI), or the provider's own "signed out" page URL.
    pub async fn sign_out(&self, client: &reqwest::Client, url: &str) -> Result<String> {
        self.drive(client, url, None).await
    }

    async fn drive(&self, client: &reqwest::Client, start: &str, credentials: Option<(&str, &str)>) -> Result<String> {
        let provider = Url::parse(&self.issuer)?.origin();
        let mut url = Url::parse(start).with_context(|| format!("parsing {start}"))?;
        let mut post: Option<Vec<(String, String)>> = None;
        let mut visited = false;
        let mut submitted_login = false;
        for _ in 0..30 {
            visited |= url.origin() == provider;
            let request = match post.take() {
                Some(fields) => client.post(url.clone()).form(&fields),
                None => client.get(url.clone()),
            };
            let resp = request.send().await.with_context(|| format!("requesting {url}"))?;
            let status = resp.status();
            if status.is_redirection() {
                let location = resp
                    .headers()
                    .get(reqwest::header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .with_context(|| format!("{url} answered {status} without a Location"))?;
                let next = url.join(location)?;
                if visited && next.origin() != provider {
                    return Ok(next.to_string());
                }
                url = next;
                continue;
            }
            let body = resp.text().await?;
            if !status.is_success() || url.origin() != provider {
                bail!("{url} answered {status}: {}", excerpt(&body));
            }
            let Some(form) = Form::parse(&body) else {
                if url.path() == "/session/end/success" {
                    return Ok(url.to_string());
                }
                bail!("{url} answered a page without a form: {}", excerpt(&body));
            };
            let mut fields = form.inputs;
            if fields.iter().any(|(name, _)| name == "login") {
                let Some((login, password)) = credentials else {
                    bail!("{url} asks to sign in");
                };
                if submitted_login {
                    bail!("the provider refused {login}'s password: {}", excerpt(&body));
                }
                submitted_login = true;
                for (name, value) in &mut fields {
                    match name.as_str() {
                        "login" => *value = login.to_owned(),
                        "password" => *value = password.to_owned(),
                        _ => {}
                    }
                }
            }
            url = url.join(&form.action)?;
            post = Some(fields);
        }
        bail!("no way out of the provider after 30 steps (last: {url})")
    }
}

fn excerpt(body: &str) -> String {
    let text: String = body.chars().take(600).collect();
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The first form of a page: its action and its `<input>` fields (buttons are not included).
struct Form {
    action: String,
    inputs: Vec<(String, String)>,
}

impl Form {
    fn parse(html: &str) -> Option<Self> {
        let start = html.find("<form")?;
        let end = html[start..].find("</form>").map_or(html.len(), |e| start + e);
        let form = &html[start..end];
        let tag_end = form.find('>')?;
        let action = attribute(&form[..tag_end], "action").unwrap_or_default();
        let mut inputs = Vec::new();
        let mut rest = &form[tag_end..];
        while let Some(pos) = rest.find("<input") {
            rest = &rest[pos..];
            let close = rest.find('>').unwrap_or(rest.len());
            let tag = &rest[..close];
            if let Some(name) = attribute(tag, "name") {
                inputs.push((name, attribute(tag, "value").unwrap_or_default()));
            }
            rest = &rest[close..];
        }
        Some(Self { action, inputs })
    }
}

/// The value of `name="…"` (or `'…'`, or unquoted) in a tag, HTML entities decoded.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let needle = format!(" {name}=");
    let pos = tag.find(&needle)? + needle.len();
    let rest = &tag[pos..];
    let raw = match rest.chars().next()? {
        quote @ ('"' | '\'') => rest[1..].split(quote).next()?,
        _ => rest.split(|c: char| c.is_whitespace() || c == '>' || c == '/').next()?,
    };
    Some(
        raw.replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&#x27;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_form() {
        let html = r#"<p>x</p><form method="post" action="/interaction/abc"><input id="login" name="login" value="a&amp;b">
            <input name=password type=password><button type="submit" name="cancel" value="yes">Cancel</button></form>"#;
        let form = Form::parse(html).unwrap();
        assert_eq!(form.action, "/interaction/abc");
        assert_eq!(form.inputs, vec![("login".to_owned(), "a&b".to_owned()), ("password".to_owned(), String::new())]);
    }

    #[test]
    fn default_users() {
        let config = OidcConfig::default();
        assert_eq!(config.users.len(), 3);
        assert_eq!(OidcUser::carol().claims()["email_verified"], false);
        assert_eq!(OidcUser::alice().claims()["groups"][0], "/platform/admins");
    }
}
