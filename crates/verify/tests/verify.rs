//! Verification of signatures made as the signing tools make them (the test kit's cosign keys
//! and Notary Project CA, sigstore's own mock Fulcio and Rekor for keyless bundles), and of
//! every way one can fail — each failure with its own reason.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use portolan_testkit::keyless::{self, Format, GITHUB_ISSUER, Request};
use portolan_testkit::sign::{KeyKind, NotationCa, SigningKey, simple_signing_payload};
use portolan_verify::policy::{Source, build};
use portolan_verify::{Check, Evidence, Outcome, RawTrustPolicy, ReasonKind, TrustPolicies, outcome, verify};
use serde_json::{Value, json};

const SUBJECT: &str = "sha256:5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270";
const OTHER: &str = "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
const WORKFLOW: &str = "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main";

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn material(source: Source<'_>) -> Result<String, String> {
    match source {
        Source::Value(v) => Ok(v.to_owned()),
        Source::File(path) => std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display())),
        Source::Env(name) => Err(format!("the environment variable {name} is not set")),
    }
}

fn policies(raw: Value) -> TrustPolicies {
    let raw: Vec<RawTrustPolicy> = serde_json::from_value(raw).expect("raw policies");
    build(&raw, &["internal", "public"], &material).unwrap_or_else(|e| panic!("{e:#?}"))
}

fn all(p: &TrustPolicies) -> Vec<Arc<portolan_verify::TrustPolicy>> {
    p.covering("internal", "team/app")
}

fn simple<'a>(payload: &'a [u8], signature: &'a str) -> Evidence<'a> {
    Evidence::SimpleSigning { payload, signature, certificate: None, chain: None, rekor_bundle: None }
}

fn reason(check: &Check) -> ReasonKind {
    match &check.result {
        Ok(policy) => panic!("verified by {policy}, expected a failure: {check:?}"),
        Err(r) => r.kind,
    }
}

fn key_policy(keys: &[(&str, &SigningKey)]) -> TrustPolicies {
    policies(json!([{
        "name": "release",
        "registry": "internal",
        "repositories": ["team/**"],
        "trusted_root": "none",
        "cosign_keys": keys.iter().map(|(name, k)| json!({"name": name, "public_key": k.public_pem()})).collect::<Vec<_>>(),
    }]))
}

#[test]
fn cosign_keys_of_every_algorithm_verify_their_signatures() {
    for kind in [KeyKind::EcdsaP256, KeyKind::Ed25519, KeyKind::Rsa] {
        let key = SigningKey::generate(kind).unwrap();
        let policy = key_policy(&[("ci", &key)]);
        let payload = simple_signing_payload("registry.example.com/team/app", SUBJECT);
        let signature = STANDARD.encode(key.sign(&payload).unwrap());
        let check = verify(&all(&policy), SUBJECT, &simple(&payload, &signature), now());
        assert_eq!(check.result, Ok("release".to_owned()), "{kind:?}: {check:?}");
        assert_eq!(check.signer.as_deref(), Some("ci"));
        assert_eq!(check.format, "cosign (key)");
        assert_eq!(outcome(std::slice::from_ref(&check)), Outcome::Verified);
    }
}

#[test]
fn cosign_key_failures_each_have_their_reason() {
    let trusted = SigningKey::generate(KeyKind::EcdsaP256).unwrap();
    let stranger = SigningKey::generate(KeyKind::EcdsaP256).unwrap();
    let policy = key_policy(&[("ci", &trusted)]);
    let payload = simple_signing_payload("registry.example.com/team/app", SUBJECT);
    let good = STANDARD.encode(trusted.sign(&payload).unwrap());

    // Another key.
    let by_stranger = STANDARD.encode(stranger.sign(&payload).unwrap());
    let check = verify(&all(&policy), SUBJECT, &simple(&payload, &by_stranger), now());
    assert_eq!(reason(&check), ReasonKind::UnknownKey, "{check:?}");

    // The trusted key's signature of another image, copied onto this one.
    let other_payload = simple_signing_payload("registry.example.com/team/app", OTHER);
    let copied = STANDARD.encode(trusted.sign(&other_payload).unwrap());
    let check = verify(&all(&policy), SUBJECT, &simple(&other_payload, &copied), now());
    assert_eq!(reason(&check), ReasonKind::WrongDigest, "{check:?}");
    assert!(check.result.as_ref().unwrap_err().message.contains(OTHER), "{check:?}");

    // Truncated, and garbage.
    let raw = trusted.sign(&payload).unwrap();
    let truncated = STANDARD.encode(&raw[..raw.len() / 2]);
    assert_eq!(reason(&verify(&all(&policy), SUBJECT, &simple(&payload, &truncated), now())), ReasonKind::Malformed);
    assert_eq!(reason(&verify(&all(&policy), SUBJECT, &simple(&payload, "not base64 at all!"), now())), ReasonKind::Malformed);
    assert_eq!(reason(&verify(&all(&policy), SUBJECT, &simple(b"{not json", &good), now())), ReasonKind::Malformed);

    // The trusted signature itself verifies (so the failures above are the changes').
    assert!(verify(&all(&policy), SUBJECT, &simple(&payload, &good), now()).verified());
    // Nobody's policy here: no policy.
    assert_eq!(reason(&verify(&[], SUBJECT, &simple(&payload, &good), now())), ReasonKind::NoPolicy);
}

#[test]
fn policies_apply_where_their_globs_say() {
    let key = SigningKey::generate(KeyKind::EcdsaP256).unwrap();
    let policy = key_policy(&[("ci", &key)]);
    assert_eq!(policy.covering("internal", "team/app").len(), 1);
    assert_eq!(policy.covering("internal", "team/a/b").len(), 1, "** crosses path parts");
    assert!(policy.covering("internal", "other/app").is_empty());
    assert!(policy.covering("public", "team/app").is_empty());
}

#[test]
fn every_mistake_in_the_trust_policies_is_reported_at_once() {
    let key = SigningKey::generate(KeyKind::EcdsaP256).unwrap();
    let raw: Vec<RawTrustPolicy> = serde_json::from_value(json!([
        {"name": "a", "registry": "elsewhere-*", "cosign_keys": [{"public_key": key.public_pem()}]},
        {"name": "b", "cosign_keys": [{"public_key_file": "/nonexistent/cosign.pub"}, {"public_key": "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"}, {}]},
        {"name": "c"},
        {"name": "c", "repositories": ["[oops"], "keyless": [{"issuer": "", "identity_regex": "(unclosed"}, {"issuer": "x", "identity": "a", "identity_glob": "b"}]},
        {"name": "d", "trusted_root": "nowhere", "notation": {"verification": "lenient", "trusted_identities": ["CN=x"]}},
        {"name": "e", "cosign_keys": [{"public_key_env": "NOT_SET"}], "trusted_root_file": "/nonexistent/trusted_root.json"},
    ]))
    .unwrap();
    let errors = build(&raw, &["internal", "public"], &material).unwrap_err();
    let text = errors.join("\n");
    for expected in [
        "trust_policies[0].registry: \"elsewhere-*\" matches none of the configured registries (internal, public)",
        "trust_policies[1].cosign_keys[0]: cannot read /nonexistent/cosign.pub",
        "trust_policies[1].cosign_keys[1]: unknown algorithm",
        "trust_policies[1].cosign_keys[2]: give public_key, public_key_file or public_key_env",
        "trust_policies[2]: trusts nothing",
        "trust_policies[3].name: \"c\" is used twice",
        "trust_policies[3].repositories[0]: \"[oops\" is not a valid pattern",
        "trust_policies[3].keyless[0].issuer: is empty",
        "trust_policies[3].keyless[0].identity_regex: \"(unclosed\" is not a regular expression",
        "trust_policies[3].keyless[1]: give exactly one of identity, identity_glob and identity_regex",
        "trust_policies[4].trusted_root: \"nowhere\" is not a built-in root",
        "trust_policies[4].notation.verification: \"lenient\" is not strict, permissive, audit or skip",
        "trust_policies[4].notation: give the trust store's CA certificates",
        "trust_policies[4].notation.trusted_identities[0]: \"CN=x\" must be \"*\" or start with \"x509.subject:\"",
        "trust_policies[5].cosign_keys[0]: the environment variable NOT_SET is not set",
        "trust_policies[5].trusted_root_file: cannot read /nonexistent/trusted_root.json",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    assert_eq!(errors.len(), 16, "{text}");
}

// Notary Project.

fn notation_policy(ca: &NotationCa, level: &str, identities: &[&str]) -> TrustPolicies {
    policies(json!([{
        "name": "notary",
        "registry": "*",
        "trusted_root": "none",
        "notation": {"verification": level, "trust_store": ca.pem(), "trusted_identities": identities},
    }]))
}

fn descriptor(digest: &str) -> Value {
    json!({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest, "size": 1234})
}

#[test]
fn notation_signatures_verify_at_each_level() {
    let ca = NotationCa::new("Acme signing CA").unwrap();
    let signer = ca.current_signer("Acme", "release").unwrap();
    let jws = signer.jws(&descriptor(SUBJECT), None).unwrap();
    let strict = notation_policy(&ca, "strict", &["x509.subject: C=US, O=Acme, CN=release"]);
    let check = verify(&all(&strict), SUBJECT, &Evidence::NotationJws(&jws), now());
    assert_eq!(check.result, Ok("notary".to_owned()), "{check:?}");
    assert!(check.signer.as_deref().is_some_and(|s| s.contains("CN=release")), "{check:?}");
    assert!(check.warnings.is_empty());

    // Another identity under the same CA.
    let check =
        verify(&all(&notation_policy(&ca, "strict", &["x509.subject: O=Acme, CN=nightly"])), SUBJECT, &Evidence::NotationJws(&jws), now());
    assert_eq!(reason(&check), ReasonKind::IdentityMismatch, "{check:?}");

    // A chain to a CA the trust store does not hold.
    let elsewhere = NotationCa::new("Someone else's CA").unwrap();
    let stranger = elsewhere.current_signer("Acme", "release").unwrap().jws(&descriptor(SUBJECT), None).unwrap();
    let check = verify(&all(&strict), SUBJECT, &Evidence::NotationJws(&stranger), now());
    assert_eq!(reason(&check), ReasonKind::UntrustedRoot, "{check:?}");
    // …which audit only notes (integrity holds).
    let audit = notation_policy(&ca, "audit", &["*"]);
    let check = verify(&all(&audit), SUBJECT, &Evidence::NotationJws(&stranger), now());
    assert!(check.verified(), "{check:?}");
    assert!(check.warnings.iter().any(|w| w.contains("trust store")), "{check:?}");

    // A certificate that expired before now: strict refuses, permissive notes it.
    let past = time::OffsetDateTime::now_utc() - time::Duration::days(30);
    let expired = ca.signer("Acme", "release", past - time::Duration::days(30), past).unwrap().jws(&descriptor(SUBJECT), None).unwrap();
    let check = verify(&all(&strict), SUBJECT, &Evidence::NotationJws(&expired), now());
    assert_eq!(reason(&check), ReasonKind::ExpiredCertificate, "{check:?}");
    let permissive = notation_policy(&ca, "permissive", &["*"]);
    let check = verify(&all(&permissive), SUBJECT, &Evidence::NotationJws(&expired), now());
    assert!(check.verified(), "{check:?}");
    assert!(check.warnings.iter().any(|w| w.contains("not valid")), "{check:?}");

    // The signature's own expiry.
    let lapsed = signer.jws(&descriptor(SUBJECT), Some("2020-01-01T00:00:00Z")).unwrap();
    assert_eq!(reason(&verify(&all(&strict), SUBJECT, &Evidence::NotationJws(&lapsed), now())), ReasonKind::SignatureExpired);

    // skip checks nothing, and says so.
    let skip = policies(json!([{"name": "notary", "trusted_root": "none", "notation": {"verification": "skip"}}]));
    assert_eq!(reason(&verify(&all(&skip), SUBJECT, &Evidence::NotationJws(&jws), now())), ReasonKind::PolicySkips);
}

#[test]
fn notation_envelopes_that_were_changed_or_copied_fail() {
    let ca = NotationCa::new("Acme signing CA").unwrap();
    let signer = ca.current_signer("Acme", "release").unwrap();
    let policy = notation_policy(&ca, "strict", &["*"]);
    // Copied from another image: the payload names it.
    let copied = signer.jws(&descriptor(OTHER), None).unwrap();
    assert_eq!(reason(&verify(&all(&policy), SUBJECT, &Evidence::NotationJws(&copied), now())), ReasonKind::WrongDigest);
    // The payload changed after signing (still naming this digest): the signature fails.
    let jws = signer.jws(&descriptor(SUBJECT), None).unwrap();
    let mut doc: Value = serde_json::from_slice(&jws).unwrap();
    let tampered = URL_SAFE_NO_PAD.encode(
        serde_json::to_vec(
            &json!({"targetArtifact": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": SUBJECT, "size": 99}}),
        )
        .unwrap(),
    );
    doc["payload"] = json!(tampered);
    let check = verify(&all(&policy), SUBJECT, &Evidence::NotationJws(&serde_json::to_vec(&doc).unwrap()), now());
    assert_eq!(reason(&check), ReasonKind::BadSignature, "{check:?}");
    // Garbage and truncation.
    assert_eq!(reason(&verify(&all(&policy), SUBJECT, &Evidence::NotationJws(b"\x00\x01garbage"), now())), ReasonKind::Malformed);
    assert_eq!(reason(&verify(&all(&policy), SUBJECT, &Evidence::NotationJws(&jws[..jws.len() / 2]), now())), ReasonKind::Malformed);
    // And untouched, it verifies.
    assert!(verify(&all(&policy), SUBJECT, &Evidence::NotationJws(&jws), now()).verified());
}

// Keyless, from sigstore's mock Fulcio and Rekor.

fn keyless_policy(root: &std::path::Path, identity: Value) -> TrustPolicies {
    let mut signer = json!({"issuer": GITHUB_ISSUER});
    signer.as_object_mut().unwrap().extend(identity.as_object().unwrap().clone());
    policies(json!([{"name": "github-actions", "trusted_root_file": root, "keyless": [signer]}]))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

#[test]
fn keyless_bundles_and_legacy_signatures_verify_against_their_trusted_root() {
    let dir = tempfile::tempdir().unwrap();
    let requests = [
        Request::github(SUBJECT, "registry.example.com/team/app", WORKFLOW),
        Request { format: Format::Legacy, ..Request::github(SUBJECT, "registry.example.com/team/app", WORKFLOW) },
        Request {
            identity: "https://github.com/mallory/app/.github/workflows/release.yml@refs/heads/main".into(),
            ..Request::github(SUBJECT, "r/app", WORKFLOW)
        },
        Request { issuer: "https://accounts.google.com".into(), ..Request::github(SUBJECT, "r/app", WORKFLOW) },
        Request { expired: true, ..Request::github(SUBJECT, "r/app", WORKFLOW) },
        Request::github(OTHER, "r/app", WORKFLOW),
        Request { untrusted_ca: true, ..Request::github(SUBJECT, "r/app", WORKFLOW) },
    ];
    let issued = runtime().block_on(keyless::issue(&requests)).unwrap();
    let root = dir.path().join("trusted_root.json");
    issued.write_root(&root).unwrap();
    let exact = keyless_policy(&root, json!({"identity": WORKFLOW}));
    let bundle = |i: usize| match &issued.signatures[i] {
        keyless::Signature::Bundle(b) => serde_json::to_vec(b).unwrap(),
        other => panic!("{other:?}"),
    };

    let check = verify(&all(&exact), SUBJECT, &Evidence::Bundle(&bundle(0)), now());
    assert_eq!(check.result, Ok("github-actions".to_owned()), "{check:?}");
    assert_eq!(check.format, "sigstore bundle (keyless)");
    assert!(check.signer.as_deref().is_some_and(|s| s.contains(WORKFLOW)), "{check:?}");
    assert!(check.signed_at.is_some_and(|t| (t - now()).abs() < 600), "{check:?}");
    // Globs and regular expressions over the identity.
    for identity in [
        json!({"identity_glob": "https://github.com/acme/*/.github/workflows/*@refs/heads/main"}),
        json!({"identity_regex": "https://github\\.com/acme/[^/]+/\\.github/workflows/release\\.yml@refs/heads/.*"}),
    ] {
        let check = verify(&all(&keyless_policy(&root, identity.clone())), SUBJECT, &Evidence::Bundle(&bundle(0)), now());
        assert!(check.verified(), "{identity}: {check:?}");
    }
    // A regex matches the whole identity, not a part of it.
    let partial = keyless_policy(&root, json!({"identity_regex": "acme"}));
    assert_eq!(reason(&verify(&all(&partial), SUBJECT, &Evidence::Bundle(&bundle(0)), now())), ReasonKind::IdentityMismatch);

    // cosign 2's keyless signature (certificate and Rekor bundle annotations).
    let keyless::Signature::Legacy(legacy) = &issued.signatures[1] else { panic!() };
    let payload = STANDARD.decode(&legacy.payload).unwrap();
    let evidence = Evidence::SimpleSigning {
        payload: &payload,
        signature: &legacy.signature,
        certificate: Some(&legacy.certificate),
        chain: Some(&legacy.chain),
        rekor_bundle: Some(&legacy.rekor_bundle),
    };
    let check = verify(&all(&exact), SUBJECT, &evidence, now());
    assert_eq!(check.result, Ok("github-actions".to_owned()), "{check:?}");
    assert_eq!(check.format, "cosign (keyless)");
    // Without its Rekor bundle there is no signing time to check the certificate at.
    let unlogged = Evidence::SimpleSigning {
        payload: &payload,
        signature: &legacy.signature,
        certificate: Some(&legacy.certificate),
        chain: Some(&legacy.chain),
        rekor_bundle: None,
    };
    assert_eq!(reason(&verify(&all(&exact), SUBJECT, &unlogged, now())), ReasonKind::TransparencyLog);

    // Failures, one reason each.
    assert_eq!(reason(&verify(&all(&exact), SUBJECT, &Evidence::Bundle(&bundle(2)), now())), ReasonKind::IdentityMismatch);
    assert_eq!(reason(&verify(&all(&exact), SUBJECT, &Evidence::Bundle(&bundle(3)), now())), ReasonKind::IssuerMismatch);
    let check = verify(&all(&exact), SUBJECT, &Evidence::Bundle(&bundle(4)), now());
    assert_eq!(reason(&check), ReasonKind::ExpiredCertificate, "{check:?}");
    assert_eq!(reason(&verify(&all(&exact), SUBJECT, &Evidence::Bundle(&bundle(5)), now())), ReasonKind::WrongDigest);

    // The statement changed after signing (same subject, another predicate body).
    let mut doc: Value = serde_json::from_slice(&bundle(0)).unwrap();
    let mut statement: Value = serde_json::from_slice(&STANDARD.decode(doc["dsseEnvelope"]["payload"].as_str().unwrap()).unwrap()).unwrap();
    statement["predicate"] = json!({"changed": true});
    doc["dsseEnvelope"]["payload"] = json!(STANDARD.encode(serde_json::to_vec(&statement).unwrap()));
    let check = verify(&all(&exact), SUBJECT, &Evidence::Bundle(&serde_json::to_vec(&doc).unwrap()), now());
    assert_eq!(reason(&check), ReasonKind::BadSignature, "{check:?}");

    // A certificate from a CA the trusted root does not hold (logged in the trusted log).
    let check = verify(&all(&exact), SUBJECT, &Evidence::Bundle(&bundle(6)), now());
    assert_eq!(reason(&check), ReasonKind::UntrustedRoot, "{check:?}");
    // Another sigstore instance altogether: its log is not trusted here either.
    let foreign = runtime().block_on(keyless::issue(&[Request::github(SUBJECT, "r/app", WORKFLOW)])).unwrap();
    let keyless::Signature::Bundle(foreign) = &foreign.signatures[0] else { panic!() };
    let check = verify(&all(&exact), SUBJECT, &Evidence::Bundle(&serde_json::to_vec(foreign).unwrap()), now());
    assert!(matches!(reason(&check), ReasonKind::UntrustedRoot | ReasonKind::TransparencyLog), "{check:?}");

    // Garbage.
    assert_eq!(reason(&verify(&all(&exact), SUBJECT, &Evidence::Bundle(b"{\"mediaType\": 7}"), now())), ReasonKind::Malformed);
}

#[test]
fn bundles_of_other_statements_are_attestations_not_signatures() {
    let statement = json!({"_type": "https://in-toto.io/Statement/v1", "subject": [{"name": "x", "digest": {"sha256": SUBJECT.trim_start_matches("sha256:")}}], "predicateType": "https://slsa.dev/provenance/v1", "predicate": {}});
    let bundle = json!({
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": {"publicKey": {"hint": "x"}, "tlogEntries": []},
        "dsseEnvelope": {"payload": STANDARD.encode(serde_json::to_vec(&statement).unwrap()), "payloadType": "application/vnd.in-toto+json", "signatures": [{"sig": "MEUCIQ==", "keyid": ""}]},
    });
    let check = verify(&[], SUBJECT, &Evidence::Bundle(&serde_json::to_vec(&bundle).unwrap()), now());
    assert!(check.attestation, "{check:?}");
    assert_eq!(outcome(&[check]), Outcome::Unsigned);
}

mod hostile {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        /// Whatever a registry holds, verifying it gives a reason, never a panic.
        #[test]
        fn arbitrary_bytes_are_a_reason_not_a_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048), text in ".{0,200}") {
            for evidence in [
                Evidence::Bundle(&bytes),
                Evidence::NotationJws(&bytes),
                Evidence::SimpleSigning { payload: &bytes, signature: &text, certificate: Some(&text), chain: None, rekor_bundle: Some(&text) },
            ] {
                let check = verify(&[], SUBJECT, &evidence, 0);
                prop_assert!(!check.verified());
            }
        }
    }
}
