//! OpenID Connect ID tokens beyond [`crate::signin`]'s refusals, against the real provider
//! (npm `oidc-provider`): an `at_hash` that does not belong to the access token is refused
//! (one that does is accepted), and key rotation — the provider signing with a key Portolan's
//! cached JWKS does not have — costs exactly one read of the discovery document and the keys,
//! after which the sign-in succeeds; a token signed by a key in no JWKS is still refused after
//! that one read, and every such sign-in reads the keys at most once — also two sign-ins
//! overlapping the rotation.

use portolan_testkit::oidc::{OidcProvider, ProviderReads, Tamper};
use tower_sessions::SessionStore;

use crate::signin::{Browser, Portolan, SSO, assert_refused, jwt_claims, oidc_toml, sign_in, start_op, to_callback, who};
use crate::support::run;

/// The provider and Portolan signing in through it (scope claims from userinfo).
async fn world() -> (OidcProvider, Portolan) {
    let (listener, base) = Portolan::bind().await;
    let op = start_op(&base, false).await;
    let p = Portolan::serve(listener, &base, &oidc_toml(&op, "")).await;
    (op, p)
}

/// The ID token Portolan kept with `b`'s session (it was verified at sign-in).
async fn kept_id_token(p: &Portolan, b: &Browser) -> String {
    let id: tower_sessions::session::Id = b.session(p).expect("a session cookie").parse().unwrap();
    let record = p.store.sessions().load(&id).await.unwrap().expect("the session record");
    record.data["portolan.user"]["id_token"].as_str().expect("the ID token, kept server-side").to_owned()
}

/// The `kid` in a JWT's header.
fn kid_of(token: &str) -> String {
    use base64::Engine;
    let header = token.split('.').next().unwrap();
    let header: serde_json::Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
    header["kid"].as_str().expect("a kid").to_owned()
}

/// A sign-in of `login` in a new browser whose token response the provider alters with `tamper`;
/// returns the browser and the callback's response.
async fn tampered_sign_in(p: &Portolan, op: &OidcProvider, login: &str, tamper: Tamper) -> (Browser, reqwest::Response) {
    let b = Browser::new();
    let (_, callback) = to_callback(p, op, &b, login, "/").await;
    op.set_tamper(Some(tamper)).await.unwrap();
    let response = b.client.get(&callback).send().await.unwrap();
    (b, response)
}

async fn reads(op: &OidcProvider) -> ProviderReads {
    op.reads().await.unwrap()
}

#[test]
fn an_id_token_whose_at_hash_is_not_the_access_tokens_is_refused() {
    run(async {
        let (op, p) = world().await;
        // The access token's own at_hash (as Keycloak sends one) passes: the check is on the value.
        let (b, response) = tampered_sign_in(&p, &op, "alice", Tamper::CorrectAtHash).await;
        assert_eq!(response.status(), 303, "{:?}", response.text().await);
        assert_eq!(who(&p, &b, None).await.name.as_deref(), Some("Alice Admin"));
        let claims = jwt_claims(&kept_id_token(&p, &b).await);
        assert!(claims["at_hash"].as_str().is_some_and(|h| !h.is_empty()), "the token carried an at_hash: {claims}");

        // One that is not the access token's is refused, and audited naming at_hash.
        let (b, response) = tampered_sign_in(&p, &op, "alice", Tamper::AtHash).await;
        assert_refused(&p, &b, response, SSO, "at_hash").await;
        p.stop().await;
    })
}

#[test]
fn a_rotated_signing_key_is_picked_up_with_one_read_of_the_providers_keys() {
    run(async {
        let (op, p) = world().await;
        let alice = Browser::new();
        sign_in(&p, &op, &alice, "alice").await;
        let first = reads(&op).await;
        // (The kit read the discovery document too, waiting for the provider to start.)
        assert_eq!(first.jwks, 1, "the keys read once");
        // Cached: another sign-in reads neither.
        sign_in(&p, &op, &Browser::new(), "bob").await;
        assert_eq!(reads(&op).await, first, "cached for the next sign-in");

        // The provider rotates its key, dropping the old one: the ID token is signed by a key
        // the cached JWKS does not have. One read of discovery and keys, and she is signed in.
        let kid = op.rotate_signing_key(false).await.unwrap();
        let b = Browser::new();
        sign_in(&p, &op, &b, "alice").await;
        assert_eq!(who(&p, &b, None).await.name.as_deref(), Some("Alice Admin"));
        assert_eq!(kid_of(&kept_id_token(&p, &b).await), kid, "signed with the new key");
        let rotated = reads(&op).await;
        assert_eq!(rotated, ProviderReads { discovery: first.discovery + 1, jwks: first.jwks + 1 }, "exactly one more read");
        // The new keys are cached now.
        sign_in(&p, &op, &Browser::new(), "bob").await;
        assert_eq!(reads(&op).await, rotated);

        // Another rotation, the old keys still published, and an ID token with an at_hash (as
        // Keycloak's): one read again, and the at_hash is checked with the new key.
        let kid = op.rotate_signing_key(true).await.unwrap();
        let (b, response) = tampered_sign_in(&p, &op, "alice", Tamper::CorrectAtHash).await;
        assert_eq!(response.status(), 303, "{:?}", response.text().await);
        assert_eq!(who(&p, &b, None).await.name.as_deref(), Some("Alice Admin"));
        assert_eq!(kid_of(&kept_id_token(&p, &b).await), kid);
        assert_eq!(reads(&op).await, ProviderReads { discovery: rotated.discovery + 1, jwks: rotated.jwks + 1 });
        p.stop().await;
    })
}

#[test]
fn an_id_token_signed_by_a_key_in_no_jwks_is_refused_after_one_read_of_the_keys() {
    run(async {
        let (op, p) = world().await;
        sign_in(&p, &op, &Browser::new(), "alice").await;
        let mut before = reads(&op).await;
        // Each such sign-in reads the keys once more (the provider may have rotated), finds the
        // key still unknown, and is refused: no second read, no loop.
        for attempt in 0..2 {
            let started = std::time::Instant::now();
            let (b, response) = tampered_sign_in(&p, &op, "bob", Tamper::UnknownKey).await;
            assert_refused(&p, &b, response, SSO, "the ID token's signature is not valid").await;
            assert!(started.elapsed() < std::time::Duration::from_secs(10), "attempt {attempt}: {:?}", started.elapsed());
            let after = reads(&op).await;
            assert_eq!(after, ProviderReads { discovery: before.discovery + 1, jwks: before.jwks + 1 }, "attempt {attempt}");
            before = after;
        }
        // The keys it read are the provider's own: its tokens still sign people in, without a read.
        sign_in(&p, &op, &Browser::new(), "alice").await;
        assert_eq!(reads(&op).await, before);
        p.stop().await;
    })
}

#[test]
fn sign_ins_overlapping_a_key_rotation_both_succeed() {
    run(async {
        let (op, p) = world().await;
        sign_in(&p, &op, &Browser::new(), "alice").await;
        let before = reads(&op).await;
        let (a, b) = (Browser::new(), Browser::new());
        let (_, to_a) = to_callback(&p, &op, &a, "alice", "/").await;
        let (_, to_b) = to_callback(&p, &op, &b, "bob", "/").await;
        op.rotate_signing_key(false).await.unwrap();
        // Both callbacks start with the keys cached before the rotation; one of the two token
        // responses comes late, after the other sign-in has read the new keys already.
        op.delay_next_token_response(std::time::Duration::from_millis(1500)).await.unwrap();
        let (done_a, done_b) = tokio::join!(a.client.get(&to_a).send(), b.client.get(&to_b).send());
        let (done_a, done_b) = (done_a.unwrap(), done_b.unwrap());
        assert_eq!(done_a.status(), 303, "{:?}", done_a.text().await);
        assert_eq!(done_b.status(), 303, "{:?}", done_b.text().await);
        assert_eq!(who(&p, &a, None).await.name.as_deref(), Some("Alice Admin"));
        assert_eq!(who(&p, &b, None).await.name.as_deref(), Some("Bob Builder"));
        // At most one read per sign-in.
        let after = reads(&op).await;
        assert!(after.jwks - before.jwks <= 2, "{before:?} → {after:?}");
        p.stop().await;
    })
}
