//! The OpenID provider of the test kit, driven as a relying party would: discovery, the
//! authorization code flow with PKCE S256 through the HTML login form, the token exchange, ID
//! token validation, userinfo, tampered ID tokens, key rotation, and RP-initiated logout.
//!
//! Needs Node and end2end/node_modules (scripts/tools.sh node).

use std::time::Duration;

use anyhow::{Context, Result, bail};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use portolan_testkit::oidc::{CLIENT_ID, CLIENT_SECRET, OidcConfig, OidcProvider, OidcUser, Tamper, browser_client};
use portolan_testkit::runner::run;
use serde_json::Value;
use sha2::{Digest, Sha256};
use url::Url;

/// Nothing listens there: the flow stops at the redirect, as a browser would hand it over.
const REDIRECT: &str = "http://127.0.0.1:9/auth/callback";
const AFTER_LOGOUT: &str = "http://127.0.0.1:9/signed-out";

fn http() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(10)).build().expect("client")
}

async fn start(config: OidcConfig) -> OidcProvider {
    OidcProvider::start(config.redirect_uri(REDIRECT).post_logout_redirect_uri(AFTER_LOGOUT)).await.expect("start the OIDC provider")
}

async fn discovery(provider: &OidcProvider) -> Value {
    http().get(provider.discovery_url()).send().await.unwrap().error_for_status().unwrap().json().await.unwrap()
}

fn random() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

/// One authorization request: what the relying party keeps to check the answer.
struct Request {
    url: String,
    state: String,
    nonce: String,
    verifier: String,
}

fn authorize(discovery: &Value, scope: &str, pkce: bool) -> Request {
    let (state, nonce, verifier) = (random(), random(), random());
    let mut url = Url::parse(discovery["authorization_endpoint"].as_str().unwrap()).unwrap();
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("response_type", "code")
            .append_pair("client_id", CLIENT_ID)
            .append_pair("redirect_uri", REDIRECT)
            .append_pair("scope", scope)
            .append_pair("state", &state)
            .append_pair("nonce", &nonce);
        if pkce {
            let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
            q.append_pair("code_challenge", &challenge).append_pair("code_challenge_method", "S256");
        }
    }
    Request { url: url.to_string(), state, nonce, verifier }
}

fn param(location: &str, name: &str) -> Option<String> {
    Url::parse(location).ok()?.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

/// The code from the redirect, after checking it is ours.
fn code(location: &str, request: &Request, issuer: &str) -> String {
    assert!(location.starts_with(REDIRECT), "{location}");
    assert_eq!(param(location, "state").as_deref(), Some(request.state.as_str()), "{location}");
    assert_eq!(param(location, "iss").as_deref(), Some(issuer), "RFC 9207 iss: {location}");
    param(location, "code").unwrap_or_else(|| panic!("no code in {location}"))
}

async fn exchange(discovery: &Value, code: &str, verifier: &str) -> Result<Value> {
    let resp = http()
        .post(discovery["token_endpoint"].as_str().unwrap())
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[("grant_type", "authorization_code"), ("code", code), ("redirect_uri", REDIRECT), ("code_verifier", verifier)])
        .send()
        .await?;
    let status = resp.status();
    let body: Value = resp.json().await?;
    if !status.is_success() {
        bail!("token endpoint: {status} {body}");
    }
    Ok(body)
}

/// Signs in and exchanges the code: the token response.
async fn sign_in(provider: &OidcProvider, discovery: &Value, client: &reqwest::Client, user: &OidcUser, scope: &str) -> (Request, Value) {
    let request = authorize(discovery, scope, true);
    let location = provider.sign_in(client, &request.url, &user.login, &user.password).await.expect("sign in");
    let code = code(&location, &request, provider.issuer());
    let tokens = exchange(discovery, &code, &request.verifier).await.expect("token exchange");
    (request, tokens)
}

/// Validates a JWT as a relying party must: signature against the JWKS, `iss`, `aud`, `exp`.
async fn validate(discovery: &Value, token: &str) -> Result<Value, jsonwebtoken::errors::Error> {
    let jwks: jsonwebtoken::jwk::JwkSet = http().get(discovery["jwks_uri"].as_str().unwrap()).send().await.unwrap().json().await.unwrap();
    let kid = jsonwebtoken::decode_header(token)?.kid.expect("kid");
    let jwk = jwks.find(&kid).expect("the token's kid is in the JWKS");
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[CLIENT_ID]);
    validation.set_issuer(&[discovery["issuer"].as_str().unwrap()]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    Ok(jsonwebtoken::decode::<Value>(token, &DecodingKey::from_jwk(jwk)?, &validation)?.claims)
}

/// The `at_hash` of an access token for RS256: the left half of its SHA-256, base64url.
fn at_hash(access_token: &str) -> String {
    URL_SAFE_NO_PAD.encode(&Sha256::digest(access_token.as_bytes())[..16])
}

fn unverified_claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

async fn userinfo(discovery: &Value, access_token: &str) -> Value {
    http()
        .get(discovery["userinfo_endpoint"].as_str().unwrap())
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[test]
fn code_flow_with_pkce_userinfo_and_logout() -> Result<()> {
    run(async {
        let provider = start(OidcConfig::default()).await;
        let discovery = discovery(&provider).await;
        assert_eq!(discovery["issuer"], provider.issuer());
        assert_eq!(discovery["code_challenge_methods_supported"], serde_json::json!(["S256"]));
        assert!(discovery["scopes_supported"].as_array().unwrap().contains(&"groups".into()), "{discovery}");
        let end_session = discovery["end_session_endpoint"].as_str().context("end_session_endpoint")?.to_owned();

        // PKCE is required: without it the provider answers the redirect URI with an error.
        let client = browser_client()?;
        let no_pkce = authorize(&discovery, "openid", false);
        let location = provider.sign_in(&client, &no_pkce.url, "alice", "alice-pass").await?;
        assert_eq!(param(&location, "error").as_deref(), Some("invalid_request"), "{location}");

        // A wrong password is refused (the form comes back).
        let request = authorize(&discovery, "openid", true);
        let refused = provider.sign_in(&client, &request.url, "alice", "wrong").await.unwrap_err();
        assert!(refused.to_string().contains("Invalid login or password"), "{refused:#}");
        assert!(provider.sessions().await?.is_empty());

        // The whole flow.
        let alice = provider.user("alice").unwrap().clone();
        let (request, tokens) = sign_in(&provider, &discovery, &client, &alice, "openid profile email groups").await;
        assert_eq!(tokens["token_type"], "Bearer");
        assert_eq!(tokens["scope"], "openid profile email groups");
        let id_token = tokens["id_token"].as_str().unwrap();
        let claims = validate(&discovery, id_token).await?;
        assert_eq!(claims["sub"], alice.sub);
        assert_eq!(claims["nonce"], request.nonce.as_str());
        assert_eq!(claims["iss"], provider.issuer());
        // oidc-provider's default: scope claims only in userinfo.
        for claim in ["email", "groups", "name", "preferred_username"] {
            assert!(claims.get(claim).is_none(), "{claim} in the ID token: {claims}");
        }
        let info = userinfo(&discovery, tokens["access_token"].as_str().unwrap()).await;
        assert_eq!(info["sub"], alice.sub);
        assert_eq!(info["groups"], serde_json::json!(["/platform/admins"]));
        assert_eq!(info["email"], "alice@example.com");
        assert_eq!(info["email_verified"], true);
        assert_eq!(info["preferred_username"], "alice");
        assert_eq!(info["name"], "Alice Admin");

        // Without the groups scope, no groups claim.
        let (_, tokens) = sign_in(&provider, &discovery, &client, &alice, "openid email").await;
        let info = userinfo(&discovery, tokens["access_token"].as_str().unwrap()).await;
        assert!(info.get("groups").is_none() && info.get("name").is_none(), "{info}");
        assert_eq!(info["email"], "alice@example.com");

        // A code works once, and only with its verifier.
        let request = authorize(&discovery, "openid", true);
        let location = provider.sign_in(&client, &request.url, "alice", "alice-pass").await?;
        let code = code(&location, &request, provider.issuer());
        let wrong = exchange(&discovery, &code, &random()).await.unwrap_err();
        assert!(wrong.to_string().contains("invalid_grant"), "{wrong:#}");

        let sessions = provider.sessions().await?;
        assert_eq!(sessions.len(), 1, "{sessions:?}");
        assert_eq!(sessions[0].account_id, alice.sub);
        assert_eq!(sessions[0].clients, vec![CLIENT_ID.to_owned()]);

        // Tokens minted with the provider's key validate against its JWKS.
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let minted = provider.mint(&serde_json::json!({
            "iss": provider.issuer(), "aud": CLIENT_ID, "sub": "someone", "iat": now, "exp": now + 60,
        }))?;
        assert_eq!(validate(&discovery, &minted).await?["sub"], "someone");

        // RP-initiated logout with id_token_hint ends the provider session.
        let mut logout = Url::parse(&end_session)?;
        logout
            .query_pairs_mut()
            .append_pair("id_token_hint", id_token)
            .append_pair("post_logout_redirect_uri", AFTER_LOGOUT)
            .append_pair("state", "bye");
        let location = provider.sign_out(&client, logout.as_str()).await?;
        assert_eq!(location, format!("{AFTER_LOGOUT}?state=bye"));
        assert!(provider.sessions().await?.is_empty());

        // Signed out: the next sign-in shows the login form again (and works).
        let request = authorize(&discovery, "openid", true);
        let asked = provider.sign_out(&client, &request.url).await.unwrap_err();
        assert!(asked.to_string().contains("asks to sign in"), "{asked:#}");
        let (_, tokens) = sign_in(&provider, &discovery, &client, &alice, "openid").await;
        assert!(tokens["id_token"].is_string());
        Ok(())
    })
}

#[test]
fn scope_claims_can_go_into_the_id_token() -> Result<()> {
    run(async {
        let provider = start(OidcConfig::default().scope_claims_in_id_token(true)).await;
        let discovery = discovery(&provider).await;

        let bob = OidcUser::bob();
        let (_, tokens) = sign_in(&provider, &discovery, &browser_client()?, &bob, "openid profile email groups").await;
        let claims = validate(&discovery, tokens["id_token"].as_str().unwrap()).await?;
        assert_eq!(claims["sub"], bob.sub);
        assert_eq!(claims["groups"], serde_json::json!(["/dev"]));
        assert_eq!(claims["email"], "bob@example.com");
        assert_eq!(claims["email_verified"], true);
        assert_eq!(claims["preferred_username"], "bob");
        assert_eq!(claims["name"], "Bob Builder");

        let carol = OidcUser::carol();
        let (_, tokens) = sign_in(&provider, &discovery, &browser_client()?, &carol, "openid email groups").await;
        let claims = validate(&discovery, tokens["id_token"].as_str().unwrap()).await?;
        assert_eq!(claims["email"], "carol@example.com");
        assert_eq!(claims["email_verified"], false);
        assert_eq!(claims["groups"], serde_json::json!([]));
        assert!(claims.get("name").is_none(), "no profile scope: {claims}");
        Ok(())
    })
}

#[test]
fn tampered_id_tokens_fail_exactly_one_check() -> Result<()> {
    run(async {
        let provider = start(OidcConfig::default()).await;
        let discovery = discovery(&provider).await;
        let client = browser_client()?;
        let alice = OidcUser::alice();

        let modes = [
            Tamper::Nonce,
            Tamper::Issuer,
            Tamper::Signature,
            Tamper::Expired,
            Tamper::Audience,
            Tamper::AtHash,
            Tamper::CorrectAtHash,
            Tamper::UnknownKey,
        ];
        for mode in modes {
            provider.set_tamper(Some(mode)).await?;
            let (request, tokens) = sign_in(&provider, &discovery, &client, &alice, "openid").await;
            let token = tokens["id_token"].as_str().unwrap();
            let claims = unverified_claims(token);
            assert_eq!(claims["sub"], alice.sub, "{mode:?}");
            let access_token = tokens["access_token"].as_str().unwrap();
            let result = match mode {
                Tamper::UnknownKey => Err(jsonwebtoken::errors::ErrorKind::InvalidKeyFormat.into()),
                _ => validate(&discovery, token).await,
            };
            match mode {
                Tamper::Nonce => {
                    let valid = result.expect("only the nonce differs");
                    assert_ne!(valid["nonce"], request.nonce.as_str());
                }
                Tamper::Issuer => {
                    assert_eq!(result.unwrap_err().kind(), &ErrorKind::InvalidIssuer);
                    assert_eq!(claims["iss"], "https://issuer.invalid");
                    assert_eq!(claims["nonce"], request.nonce.as_str());
                }
                Tamper::Signature => {
                    assert_eq!(result.unwrap_err().kind(), &ErrorKind::InvalidSignature);
                    assert_eq!(claims["nonce"], request.nonce.as_str());
                    assert_eq!(claims["iss"], provider.issuer());
                }
                Tamper::Expired => {
                    assert_eq!(result.unwrap_err().kind(), &ErrorKind::ExpiredSignature);
                    let now = time::OffsetDateTime::now_utc().unix_timestamp();
                    assert!(claims["exp"].as_i64().unwrap() < now - 3000, "{claims}");
                    assert!(claims["iat"].as_i64().unwrap() < claims["exp"].as_i64().unwrap());
                }
                Tamper::Audience => {
                    assert_eq!(result.unwrap_err().kind(), &ErrorKind::InvalidAudience);
                    assert_eq!(claims["aud"], "another-client");
                }
                Tamper::AtHash => {
                    let valid = result.expect("only the at_hash is wrong");
                    assert!(valid["at_hash"].is_string(), "{valid}");
                    assert_ne!(valid["at_hash"], at_hash(access_token));
                    assert_eq!(valid["nonce"], request.nonce.as_str());
                }
                Tamper::CorrectAtHash => {
                    let valid = result.expect("a valid token");
                    assert_eq!(valid["at_hash"], at_hash(access_token));
                }
                Tamper::UnknownKey => {
                    let kid = jsonwebtoken::decode_header(token)?.kid.expect("a kid");
                    assert_ne!(kid, provider.signing_key_id());
                    let jwks: jsonwebtoken::jwk::JwkSet = http().get(discovery["jwks_uri"].as_str().unwrap()).send().await?.json().await?;
                    assert!(jwks.find(&kid).is_none(), "{kid} is in no JWKS");
                    assert_eq!(claims["nonce"], request.nonce.as_str());
                }
            }
            // Only the next response is altered.
            let (request, tokens) = sign_in(&provider, &discovery, &client, &alice, "openid").await;
            let valid = validate(&discovery, tokens["id_token"].as_str().unwrap()).await?;
            assert_eq!(valid["nonce"], request.nonce.as_str(), "after {mode:?}");
        }

        // Switching it off before a response works too.
        provider.set_tamper(Some(Tamper::Nonce)).await?;
        provider.set_tamper(None).await?;
        let (request, tokens) = sign_in(&provider, &discovery, &client, &alice, "openid").await;
        assert_eq!(validate(&discovery, tokens["id_token"].as_str().unwrap()).await?["nonce"], request.nonce.as_str());
        Ok(())
    })
}

#[test]
fn rotated_keys_sign_the_tokens_and_are_published_and_reads_are_counted() -> Result<()> {
    run(async {
        let provider = start(OidcConfig::default()).await;
        let before = provider.reads().await?;
        let discovery = discovery(&provider).await;
        let client = browser_client()?;
        let alice = OidcUser::alice();
        let kids = |jwks: &jsonwebtoken::jwk::JwkSet| jwks.keys.iter().filter_map(|k| k.common.key_id.clone()).collect::<Vec<_>>();
        let jwks = || async {
            let set: jsonwebtoken::jwk::JwkSet = http().get(discovery["jwks_uri"].as_str().unwrap()).send().await?.json().await?;
            anyhow::Ok(set)
        };
        assert_eq!(kids(&jwks().await?), vec![provider.signing_key_id().to_owned()]);
        let read = provider.reads().await?;
        assert_eq!((read.discovery, read.jwks), (before.discovery + 1, before.jwks + 1), "{before:?} → {read:?}");

        // Rotated, the old key dropped: tokens carry the new kid, the JWKS lists it alone.
        let first = provider.rotate_signing_key(false).await?;
        assert_eq!(kids(&jwks().await?), vec![first.clone()]);
        let (_, tokens) = sign_in(&provider, &discovery, &client, &alice, "openid").await;
        let token = tokens["id_token"].as_str().unwrap();
        assert_eq!(jsonwebtoken::decode_header(token)?.kid.as_deref(), Some(first.as_str()));
        assert_eq!(validate(&discovery, token).await?["sub"], alice.sub);

        // Rotated again, keeping the published keys: both are listed, the newest signs.
        let second = provider.rotate_signing_key(true).await?;
        assert_eq!(kids(&jwks().await?), vec![first.clone(), second.clone()]);
        let (_, tokens) = sign_in(&provider, &discovery, &client, &alice, "openid").await;
        let token = tokens["id_token"].as_str().unwrap();
        assert_eq!(jsonwebtoken::decode_header(token)?.kid.as_deref(), Some(second.as_str()));
        assert_eq!(validate(&discovery, token).await?["sub"], alice.sub);
        let after = provider.reads().await?;
        assert_eq!((after.discovery, after.jwks), (read.discovery, read.jwks + 4), "{read:?} → {after:?}");

        // A token response held back, once.
        provider.delay_next_token_response(Duration::from_millis(800)).await?;
        let started = std::time::Instant::now();
        sign_in(&provider, &discovery, &client, &alice, "openid").await;
        assert!(started.elapsed() >= Duration::from_millis(800), "{:?}", started.elapsed());
        let started = std::time::Instant::now();
        sign_in(&provider, &discovery, &client, &alice, "openid").await;
        assert!(started.elapsed() < Duration::from_millis(800), "{:?}", started.elapsed());
        Ok(())
    })
}
