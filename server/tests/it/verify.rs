//! Signature verification against real registries: signatures pushed as cosign, cosign v3 and
//! notation push them — cosign's `.sig` tags, OCI 1.1 referrers through the referrers API
//! (ferro-oci-server) and through the fallback tag's index (CNCF distribution) — judged under
//! trust policies, as the JSON API, the badge, the tag list (column and filter), the artifact
//! page and the referrer graph show it.

use std::time::Duration;

use futures::StreamExt;
use portolan_testkit::fixtures::{ImageSpec, Seeder};
use portolan_testkit::keyless::{self, Format, GITHUB_ISSUER, Request};
use portolan_testkit::pusher::{PushAuth, Pusher};
use portolan_testkit::seed::{SIGNED_REPO, demo_signers};
use portolan_testkit::{Kind, Registry};
use serde_json::Value;

use crate::support::{TestApp, registry, run};

const WORKFLOW: &str = "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main";

/// Portolan over `reg` (named `r`), the demo's trust policy plus `extra`.
async fn portolan(reg: &Registry, extra: &str) -> TestApp {
    let toml = format!("{}{}{extra}", registry("r", &reg.url, "tag_ttl_secs = 1"), demo_signers().trust_policy_toml());
    TestApp::new(&toml).await
}

async fn verification(app: &TestApp, reference: &str) -> Value {
    let a = app.get(&format!("/api/v1/verify/r/{reference}")).await;
    assert_eq!(a.status, 200, "{reference}: {}", a.body);
    serde_json::from_str(&a.body).unwrap()
}

fn reasons(v: &Value) -> Vec<String> {
    v["signatures"].as_array().unwrap().iter().map(|s| s["reason"].as_str().unwrap_or("-").to_owned()).collect()
}

/// The tags the tag page lists (in its HTML).
fn listed_tags(body: &str) -> Vec<String> {
    body.match_indices("data-tag=\"").map(|(i, m)| body[i + m.len()..].split('"').next().unwrap().to_owned()).collect()
}

#[test]
fn signatures_verify_on_distribution_and_ferro_wherever_they_are_attached() {
    run(async {
        for kind in [Kind::Anonymous, Kind::Ferro] {
            let reg = Registry::start(kind, 0).await.unwrap();
            let app = portolan(&reg, "").await;
            let repo = SIGNED_REPO;
            let v = verification(&app, &format!("{repo}:1.0.0")).await;
            assert_eq!(v["outcome"], "verified", "{kind:?}: {v:#}");
            assert_eq!(v["policy"], "acme-ci");
            assert_eq!(v["signer"], "acme release key");
            assert_eq!(v["signatures"][0]["format"], "cosign (key)");
            assert_eq!(v["signatures"][0]["foundThrough"], "cosign .sig tag");
            assert_eq!(v["digest"], reg.seed.digest("acme:1.0.0"));

            // The same key's signature as an OCI 1.1 referrer: the API on ferro, the fallback
            // tag's index on distribution.
            let v = verification(&app, &format!("{repo}:1.1.0")).await;
            assert_eq!(v["outcome"], "verified", "{kind:?}: {v:#}");
            let through = if kind == Kind::Ferro { "referrers API" } else { "fallback tag" };
            assert_eq!(v["signatures"][0]["foundThrough"], through);

            let v = verification(&app, &format!("{repo}:1.2.0")).await;
            assert_eq!((v["outcome"].as_str(), v["reason"].as_str()), (Some("not-verified"), Some("unknown-key")), "{v:#}");
            let v = verification(&app, &format!("{repo}:1.3.0")).await;
            assert_eq!(v["outcome"], "unsigned", "{v:#}");
            assert!(v["signatures"].as_array().unwrap().is_empty());
            let v = verification(&app, &format!("{repo}:1.4.0")).await;
            assert_eq!((v["outcome"].as_str(), v["reason"].as_str()), (Some("not-verified"), Some("wrong-digest")), "{v:#}");
            assert!(v["message"].as_str().unwrap().contains(reg.seed.digest("acme:1.0.0")), "{v:#}");
            let v = verification(&app, &format!("{repo}:2.0.0")).await;
            assert_eq!(v["outcome"], "verified", "{v:#}");
            assert_eq!(v["signatures"][0]["format"], "Notary Project (JWS)");
            assert!(v["signer"].as_str().unwrap().contains("CN=release"), "{v:#}");
            // By digest as well as by tag.
            let v = verification(&app, &format!("{repo}@{}", reg.seed.digest("acme:2.0.0"))).await;
            assert_eq!(v["outcome"], "verified");

            // A deploy gate: 412 unless verified.
            assert_eq!(app.get(&format!("/api/v1/verify/r/{repo}:1.2.0?require=verified")).await.status, 412);
            assert_eq!(app.get(&format!("/api/v1/verify/r/{repo}:1.0.0?require=verified")).await.status, 200);
            assert_eq!(app.get(&format!("/api/v1/verify/r/{repo}:1.0.0?require=signed")).await.status, 400);

            // Where no policy applies, nothing verifies (the demo's old sample signature is
            // not even well-formed: that reason comes first).
            let v = verification(&app, "library/hello:1.0.0").await;
            assert_eq!(v["outcome"], "not-verified", "{v:#}");
            assert_eq!(reasons(&v), ["malformed"], "{v:#}");
            assert!(v["policies"].as_array().unwrap().is_empty());

            // The badge.
            for (tag, says) in
                [("1.0.0", "verified"), ("1.2.0", "unknown key"), ("1.3.0", "unsigned"), ("1.4.0", "payload for another digest")]
            {
                let a = app.get(&format!("/badge/r/{repo}:{tag}/verified.svg")).await;
                assert!(a.body.contains(&format!("signature: {says}")), "{tag}: {}", a.body);
            }
            assert!(app.get("/badge/r/library/hello:1.0.0/verified.svg").await.body.contains("no trust policy"));

            // The tag list: a column, and the filter.
            let page = app.get(&format!("/r/r/{repo}")).await;
            assert_eq!(page.status, 200);
            assert!(page.body.contains("Filter by signature"), "the filter is offered");
            assert_eq!(page.attribute_after("data-tag=\"1.0.0\"", "data-outcome").as_deref(), Some("verified"));
            assert_eq!(page.attribute_after("data-tag=\"1.2.0\"", "data-outcome").as_deref(), Some("not-verified"));
            assert_eq!(page.attribute_after("data-tag=\"1.3.0\"", "data-outcome").as_deref(), Some("unsigned"));
            let mut only = listed_tags(&app.get(&format!("/r/r/{repo}?verified=yes")).await.body);
            only.sort();
            assert_eq!(only, ["1.0.0", "1.1.0", "2.0.0"]);
            let mut not = listed_tags(&app.get(&format!("/r/r/{repo}?verified=no")).await.body);
            not.sort();
            assert_eq!(not, ["1.2.0", "1.3.0", "1.4.0", "latest"]);
            // No policy over library/hello: no column, no filter, the parameter ignored.
            let hello = app.get("/r/r/library/hello?verified=yes").await;
            assert!(!hello.body.contains("Filter by signature"));
            assert!(listed_tags(&hello.body).contains(&"1.0.0".to_owned()));

            // The artifact page: the outcome, and each signature with its own.
            let page = app.get(&format!("/r/r/{repo}:1.4.0")).await;
            assert_eq!(page.attribute_after("data-testid=\"verification\"", "data-outcome").as_deref(), Some("not-verified"));
            assert_eq!(page.attribute_after("data-signature=", "data-reason").as_deref(), Some("wrong-digest"));
            let page = app.get(&format!("/r/r/{repo}:1.1.0")).await;
            assert_eq!(page.attribute_after("data-testid=\"verification\"", "data-outcome").as_deref(), Some("verified"));
            let sig = reg.seed.digest("acme:1.1.0/signature");
            assert_eq!(page.attribute_after(&format!("data-referrer=\"{sig}\""), "data-outcome").as_deref(), Some("verified"));
            assert!(page.body.contains("/verified.svg"), "the verified badge is offered");
            // The referrer graph: the signature node says it verified.
            let graph = app.get(&format!("/r/r/{repo}:1.1.0/-/referrers")).await;
            assert_eq!(graph.attribute_after(&format!("data-node=\"{sig}\""), "data-outcome").as_deref(), Some("verified"), "{kind:?}");
            let graph = app.get(&format!("/r/r/{repo}:2.0.0/-/referrers")).await;
            let sig = reg.seed.digest("acme:2.0.0/signature");
            assert_eq!(graph.attribute_after(&format!("data-node=\"{sig}\""), "data-outcome").as_deref(), Some("verified"));
        }
    })
}

/// Outcomes are kept by digest and by the signatures referring to it: a new signature shows
/// once the registry lists it (after the tag TTL), without anything else being forgotten.
#[test]
fn a_new_signature_changes_the_outcome_once_listed() {
    run(async {
        let reg = Registry::start(Kind::Ferro, 0).await.unwrap();
        let app = portolan(&reg, "").await;
        let reference = format!("{SIGNED_REPO}:1.3.0");
        assert_eq!(verification(&app, &reference).await["outcome"], "unsigned");
        assert_eq!(verification(&app, &reference).await["outcome"], "unsigned");
        let kept = app.state.verifier.kept().await;
        assert!(kept >= 1, "{kept}");
        let seeder = Seeder::new(Pusher::new(&reg.url, PushAuth::None), false);
        let digest = reg.seed.digest("acme:1.3.0");
        let subject = portolan_testkit::pusher::Pushed {
            media_type: "application/vnd.oci.image.manifest.v1+json".into(),
            digest: digest.to_owned(),
            size: seeder.pusher.get_manifest(SIGNED_REPO, digest).await.unwrap().unwrap().len() as u64,
        };
        seeder.cosign_key_signature(SIGNED_REPO, &subject, &demo_signers().ci_key, "r/acme/app:1.3.0", digest, false).await.unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let v = verification(&app, &reference).await;
            if v["outcome"] == "verified" {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "the new signature never showed: {v:#}");
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    })
}

/// Keyless signatures from a local sigstore (sigstore's own mock Fulcio and Rekor), as cosign v3
/// attaches them (bundles as referrers) and as cosign 2 did (`.sig` tags with certificate and
/// Rekor bundle annotations), on both registries; each failure with its reason.
#[test]
fn keyless_signatures_from_a_local_sigstore_verify_by_identity_and_issuer() {
    run(async {
        for kind in [Kind::Anonymous, Kind::Ferro] {
            let reg = Registry::start(kind, 0).await.unwrap();
            let seeder = Seeder::new(Pusher::new(&reg.url, PushAuth::None), kind != Kind::Ferro);
            let repo = "ci/app";
            let mut images = Vec::new();
            for (i, tag) in ["bundle", "legacy", "stranger", "other-issuer", "expired", "untrusted-ca"].iter().enumerate() {
                images.push(seeder.image(repo, &[tag], &ImageSpec::new(&format!("ci app {i}\n"))).await.unwrap());
            }
            let reference = format!("{}/{repo}", reg.url.trim_start_matches("http://"));
            let request = |i: usize| Request::github(&images[i].digest, &reference, WORKFLOW);
            let issued = keyless::issue(&[
                request(0),
                Request { format: Format::Legacy, ..request(1) },
                Request { identity: "https://github.com/mallory/app/.github/workflows/release.yml@refs/heads/main".into(), ..request(2) },
                Request { issuer: "https://accounts.google.com".into(), ..request(3) },
                Request { expired: true, ..request(4) },
                Request { untrusted_ca: true, ..request(5) },
            ])
            .await
            .unwrap();
            for (i, signature) in issued.signatures.iter().enumerate() {
                match signature {
                    keyless::Signature::Bundle(b) => seeder.sigstore_bundle(repo, &images[i], b).await.unwrap(),
                    keyless::Signature::Legacy(l) => seeder.cosign_keyless_legacy(repo, &images[i], l).await.unwrap(),
                };
            }
            let dir = tempfile::tempdir().unwrap();
            let root = dir.path().join("trusted_root.json");
            issued.write_root(&root).unwrap();
            let policy = format!(
                "\n[[trust_policies]]\nname = \"github-actions\"\nrepositories = [\"ci/*\"]\ntrusted_root_file = \"{}\"\n[[trust_policies.keyless]]\nissuer = \"{GITHUB_ISSUER}\"\nidentity_glob = \"https://github.com/acme/*/.github/workflows/release.yml@refs/heads/main\"\n",
                root.display()
            );
            let app = portolan(&reg, &policy).await;
            let v = verification(&app, &format!("{repo}:bundle")).await;
            assert_eq!(v["outcome"], "verified", "{kind:?}: {v:#}");
            assert_eq!(v["signatures"][0]["format"], "sigstore bundle (keyless)");
            assert!(v["signer"].as_str().unwrap().starts_with(WORKFLOW), "{v:#}");
            assert!(v["signatures"][0]["signedAt"].is_string(), "the logged time: {v:#}");
            let v = verification(&app, &format!("{repo}:legacy")).await;
            assert_eq!(v["outcome"], "verified", "{kind:?}: {v:#}");
            assert_eq!(v["signatures"][0]["format"], "cosign (keyless)");
            for (tag, reason) in [
                ("stranger", "identity-mismatch"),
                ("other-issuer", "issuer-mismatch"),
                ("expired", "expired-certificate"),
                ("untrusted-ca", "untrusted-root"),
            ] {
                let v = verification(&app, &format!("{repo}:{tag}")).await;
                assert_eq!((v["outcome"].as_str(), v["reason"].as_str()), (Some("not-verified"), Some(reason)), "{kind:?} {tag}: {v:#}");
            }
        }
    })
}

/// A thousand signatures on one artifact: a bounded number are read and verified, the rest
/// are counted and the outcome says so.
#[test]
fn a_thousand_signatures_on_one_artifact_are_bounded() {
    run(async {
        let reg = Registry::start(Kind::Ferro, 0).await.unwrap();
        let seeder = Seeder::new(Pusher::new(&reg.url, PushAuth::None), false);
        let repo = "crowded/app";
        let image = seeder.image(repo, &["1.0"], &ImageSpec::new("crowded\n")).await.unwrap();
        let stranger = portolan_testkit::sign::SigningKey::generate(portolan_testkit::sign::KeyKind::EcdsaP256).unwrap();
        let pushed: Vec<anyhow::Result<()>> = futures::stream::iter(0..1000)
            .map(|i| {
                let (seeder, image, stranger) = (&seeder, &image, &stranger);
                async move {
                    // Each payload differs (the reference), so each is its own manifest.
                    seeder
                        .cosign_key_signature(repo, image, stranger, &format!("r/crowded/app:{i}"), &image.digest, false)
                        .await
                        .map(|_| ())
                }
            })
            .buffer_unordered(16)
            .collect()
            .await;
        assert!(pushed.iter().all(Result::is_ok), "{:?}", pushed.iter().find(|r| r.is_err()));
        let policy = format!(
            "\n[[trust_policies]]\nname = \"crowd\"\nrepositories = [\"crowded/*\"]\ntrusted_root = \"none\"\n[[trust_policies.cosign_keys]]\npublic_key = \"\"\"\n{}\"\"\"\n",
            demo_signers().ci_key.public_pem()
        );
        let app = portolan(&reg, &policy).await;
        let v = verification(&app, &format!("{repo}:1.0")).await;
        assert_eq!((v["outcome"].as_str(), v["reason"].as_str()), (Some("not-verified"), Some("too-many")), "{v:#}");
        let checked = v["signatures"].as_array().unwrap();
        assert_eq!(checked.len(), portolan_verify::limits::MAX_SIGNATURES);
        assert!(checked.iter().all(|s| s["reason"] == "unknown-key"), "{v:#}");
        assert_eq!(v["notChecked"], 1000 - portolan_verify::limits::MAX_SIGNATURES);
    })
}

/// Retention keeps verified artifacts, with the reason in the what-if: the tags whose
/// signatures verify are kept ("its signature is verified by policy acme-ci"), the others are
/// deleted with what their signatures said; keeping every signed artifact keeps the one signed
/// by an unknown key too.
#[test]
fn retention_keeps_verified_artifacts_and_says_why() {
    run(async {
        let reg = Registry::start(Kind::Anonymous, 0).await.unwrap();
        let app = portolan(&reg, "").await;
        let policy = |edit: &dyn Fn(&mut portolan_retention::RawPolicy)| {
            let mut raw = portolan_retention::RawPolicy {
                name: "signed only".into(),
                registry: "r".into(),
                repositories: vec!["acme/*".into()],
                ..Default::default()
            };
            edit(&mut raw);
            portolan_retention::validate(raw, &["r"]).unwrap()
        };
        let what_if =
            crate::support::service::whatif::what_if(&app.state.services, &policy(&|r| r.keep.verified = true), None).await.unwrap();
        let decision = |w: &portolan_app::model::WhatIf, tag: &str| {
            let t = w.tags.iter().find(|t| t.tag == tag).unwrap_or_else(|| panic!("no row for {tag}: {w:#?}"));
            (t.decision.clone(), t.reason.clone())
        };
        for tag in ["1.0.0", "1.1.0", "2.0.0"] {
            let (d, reason) = decision(&what_if, tag);
            assert_eq!(d, "keep", "{tag}: {reason}");
            assert!(reason.contains("its signature is verified by policy acme-ci"), "{tag}: {reason}");
        }
        for (tag, says) in [("1.2.0", "a key policy acme-ci does not trust"), ("1.3.0", "unsigned"), ("1.4.0", "not this artifact")] {
            let (d, reason) = decision(&what_if, tag);
            assert_eq!(d, "delete", "{tag}: {reason}");
            assert!(reason.contains(says), "{tag}: {reason}");
        }
        let signed = crate::support::service::whatif::what_if(&app.state.services, &policy(&|r| r.keep.signed = true), None).await.unwrap();
        assert_eq!(decision(&signed, "1.2.0").0, "keep", "signed by an unknown key, but signed");
        assert_eq!(decision(&signed, "1.3.0").0, "delete");
    })
}
