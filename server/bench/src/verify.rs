//! Signature verification:
//! - verifying the signatures of every tag of a repository (each signed with a cosign key, a
//!   `.sig` tag as cosign pushes it), cold — a fresh client, nothing kept — through the service
//!   the tag list and the JSON API use, vs the registry floor: a bare HTTP loop fetching what
//!   verifying needs (each tag's digest, its `.sig` manifest, the signed payload) at the same
//!   concurrency;
//! - the CPU cost of verifying one signature, by format (the verifier alone, over bytes already
//!   read): cosign with an ECDSA P-256, Ed25519 and RSA key, a Notary Project JWS, and — when
//!   Node and `@sigstore/mock` are installed — a keyless sigstore bundle.
//!
//! Each measurement alternates the two sides for several rounds and compares medians.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Result, bail};
use base64::Engine;
use futures::StreamExt;
use portolan_oci::{Client, ClientConfig, Reference, RepoName, Tag};
use portolan_testkit::fixtures::{ImageSpec, Seeder};
use portolan_testkit::pusher::{PushAuth, Pusher};
use portolan_testkit::sign::{KeyKind, NotationCa, SigningKey, simple_signing_payload};
use portolan_testkit::{Kind, Registry};
use portolan_verify::{Evidence, RawTrustPolicy};
use serde_json::json;

use crate::median;

#[derive(clap::Args)]
pub struct Options {
    /// Small sizes and one round: to see that everything runs, not to measure.
    #[arg(long)]
    quick: bool,
    /// Signed tags in the benchmark repository.
    #[arg(long, default_value_t = 1000, default_value_if("quick", "true", "20"))]
    tags: usize,
    /// Rounds per measurement (medians are compared).
    #[arg(long, default_value_t = 5, default_value_if("quick", "true", "1"))]
    rounds: usize,
    /// Requests in flight.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Signatures verified per format for the CPU cost.
    #[arg(long, default_value_t = 2000, default_value_if("quick", "true", "20"))]
    signatures: usize,
}

const REPO: &str = "bench/signed";

fn secs(t: Instant) -> f64 {
    t.elapsed().as_secs_f64()
}

fn material(source: portolan_verify::policy::Source<'_>) -> Result<String, String> {
    match source {
        portolan_verify::policy::Source::Value(v) => Ok(v.to_owned()),
        portolan_verify::policy::Source::File(p) => std::fs::read_to_string(p).map_err(|e| e.to_string()),
        portolan_verify::policy::Source::Env(_) => Err("no environment here".into()),
    }
}

fn policies(raw: serde_json::Value, registry: &str) -> Result<portolan_verify::TrustPolicies> {
    let raw: Vec<RawTrustPolicy> = serde_json::from_value(raw)?;
    portolan_verify::policy::build(&raw, &[registry], &material).map_err(|e| anyhow::anyhow!("{e:?}"))
}

/// Verifies every tag's signatures through the service, from a cold client: the outcomes.
async fn verify_all(url: &str, trust: &portolan_verify::TrustPolicies, tags: &[String], concurrency: usize) -> Result<usize> {
    let mut config = ClientConfig::new(url);
    config.max_concurrency = concurrency;
    let registry = portolan_service::Registry {
        info: portolan_app::model::RegistryInfo { name: "bench".into(), title: "bench".into(), host: "bench".into() },
        client: Arc::new(Client::new(config)?),
    };
    let verifier = portolan_service::verify::Verifier::new(trust.clone());
    let repo = RepoName::parse(REPO)?;
    // As a tag page does: the list first (it also says which referrer tags exist).
    registry.client.tags(&repo).await?;
    let verified: Vec<bool> = futures::stream::iter(tags.iter().cloned())
        .map(|t| {
            let (registry, verifier, repo) = (&registry, &verifier, &repo);
            async move {
                let digest = registry.client.resolve(repo, &Reference::Tag(Tag::parse(&t).ok()?)).await.ok()?.digest;
                let v = verifier.verify(registry, repo, &digest).await.ok()?;
                Some(v.outcome == portolan_app::model::Outcome::Verified)
            }
        })
        .buffer_unordered(concurrency)
        .map(|r| r.unwrap_or(false))
        .collect()
        .await;
    Ok(verified.iter().filter(|v| **v).count())
}

/// The floor: the tag list, then per tag its digest (HEAD), its `.sig` manifest and the signed
/// payload — the requests verification needs — by a bare HTTP loop.
async fn floor_all(http: &reqwest::Client, url: &str, tags: &[String], concurrency: usize) -> Result<usize> {
    http.get(format!("{url}/v2/{REPO}/tags/list")).send().await?.error_for_status()?.bytes().await?;
    let fetched: Vec<bool> = futures::stream::iter(tags.iter())
        .map(|t| async move {
            let head = http
                .head(format!("{url}/v2/{REPO}/manifests/{t}"))
                .header("accept", portolan_oci::media::MANIFEST_ACCEPT)
                .send()
                .await
                .ok()?;
            let digest = head.headers().get("docker-content-digest")?.to_str().ok()?.to_owned();
            let sig = http
                .get(format!("{url}/v2/{REPO}/manifests/{}.sig", digest.replacen(':', "-", 1)))
                .header("accept", portolan_oci::media::MANIFEST_ACCEPT)
                .send()
                .await
                .ok()?
                .bytes()
                .await
                .ok()?;
            let manifest: serde_json::Value = serde_json::from_slice(&sig).ok()?;
            let layer = manifest.pointer("/layers/0/digest")?.as_str()?;
            let payload = http.get(format!("{url}/v2/{REPO}/blobs/{layer}")).send().await.ok()?.bytes().await.ok()?;
            Some(!payload.is_empty())
        })
        .buffer_unordered(concurrency)
        .map(|r| r.unwrap_or(false))
        .collect()
        .await;
    Ok(fetched.iter().filter(|f| **f).count())
}

/// Median microseconds per verification of `evidence` (which must verify), over `n`.
fn cpu_per_signature(
    policies: &portolan_verify::TrustPolicies,
    subject: &str,
    evidence: &Evidence<'_>,
    n: usize,
    rounds: usize,
) -> Result<f64> {
    let covering = policies.covering("bench", REPO);
    let check = portolan_verify::verify(&covering, subject, evidence, time::OffsetDateTime::now_utc().unix_timestamp());
    if !check.verified() {
        bail!("the benchmark's signature does not verify: {check:?}");
    }
    let mut per = Vec::new();
    for _ in 0..rounds {
        let t = Instant::now();
        for _ in 0..n {
            std::hint::black_box(portolan_verify::verify(&covering, subject, evidence, 0));
        }
        per.push(secs(t) / n as f64 * 1e6);
    }
    Ok(median(per))
}

pub async fn run(o: Options) -> Result<()> {
    eprintln!("seeding {} signed tags into a local CNCF distribution…", o.tags);
    let started = Instant::now();
    let registry = Registry::start(Kind::Anonymous, 0).await?;
    let seeder = Seeder::new(Pusher::new(&registry.url, PushAuth::None), true);
    let key = SigningKey::generate(KeyKind::EcdsaP256)?;
    let host = registry.url.trim_start_matches("http://").to_owned();
    let pushed: Vec<Result<()>> = futures::stream::iter(0..o.tags)
        .map(|i| {
            let (seeder, key, host) = (&seeder, &key, &host);
            async move {
                let tag = format!("1.0.{i}");
                let image = seeder.image(REPO, &[&tag], &ImageSpec::new(&format!("signed {i}\n"))).await?;
                seeder.cosign_key_signature(REPO, &image, key, &format!("{host}/{REPO}:{tag}"), &image.digest, true).await?;
                Ok(())
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    pushed.into_iter().collect::<Result<Vec<()>>>()?;
    let trust = policies(
        json!([{"name": "bench", "trusted_root": "none", "cosign_keys": [{"name": "ci", "public_key": key.public_pem()}]}]),
        "bench",
    )?;
    let tags: Vec<String> = (0..o.tags).map(|i| format!("1.0.{i}")).collect();
    eprintln!("seeded in {:.1} s; {} rounds per measurement", started.elapsed().as_secs_f64(), o.rounds);

    // 1. Every tag's signatures, cold, vs the floor of fetching them.
    let http = reqwest::Client::builder().pool_max_idle_per_host(o.concurrency).build()?;
    floor_all(&http, &registry.url, &tags, o.concurrency).await?;
    verify_all(&registry.url, &trust, &tags, o.concurrency).await?;
    let (mut ours, mut floor) = (Vec::new(), Vec::new());
    for round in 0..o.rounds {
        let one = |ours_first: bool| {
            let (http, url, trust, tags) = (&http, &registry.url, &trust, &tags);
            async move {
                if ours_first {
                    let t = Instant::now();
                    let n = verify_all(url, trust, tags, o.concurrency).await?;
                    Ok::<_, anyhow::Error>((true, secs(t), n))
                } else {
                    let t = Instant::now();
                    let n = floor_all(http, url, tags, o.concurrency).await?;
                    Ok((false, secs(t), n))
                }
            }
        };
        for side in if round % 2 == 0 { [true, false] } else { [false, true] } {
            let (is_ours, s, n) = one(side).await?;
            if n != o.tags {
                bail!("{} {n} of {} tags", if is_ours { "verified" } else { "the floor fetched" }, o.tags);
            }
            if is_ours { ours.push(s) } else { floor.push(s) }
        }
    }
    let (ours, floor) = (median(ours), median(floor));

    // 2. CPU per signature, by format.
    let subject = "sha256:5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270";
    let payload = simple_signing_payload("bench/signed:1.0.0", subject);
    let mut cpu = Vec::new();
    for (kind, label) in
        [(KeyKind::EcdsaP256, "cosign key, ECDSA P-256"), (KeyKind::Ed25519, "cosign key, Ed25519"), (KeyKind::Rsa, "cosign key, RSA 2048")]
    {
        let k = SigningKey::generate(kind)?;
        let p = policies(json!([{"name": "bench", "trusted_root": "none", "cosign_keys": [{"public_key": k.public_pem()}]}]), "bench")?;
        let signature = base64::engine::general_purpose::STANDARD.encode(k.sign(&payload)?);
        let evidence =
            Evidence::SimpleSigning { payload: &payload, signature: &signature, certificate: None, chain: None, rekor_bundle: None };
        cpu.push((label, cpu_per_signature(&p, subject, &evidence, o.signatures, o.rounds)?));
    }
    let ca = NotationCa::new("bench CA")?;
    let jws = ca
        .current_signer("Acme", "release")?
        .jws(&json!({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": subject, "size": 1}), None)?;
    let p = policies(
        json!([{"name": "bench", "trusted_root": "none", "notation": {"trust_store": ca.pem(), "trusted_identities": ["*"]}}]),
        "bench",
    )?;
    cpu.push((
        "Notary Project JWS (ES256, 2-certificate chain)",
        cpu_per_signature(&p, subject, &Evidence::NotationJws(&jws), o.signatures, o.rounds)?,
    ));
    match portolan_testkit::keyless::issue(&[portolan_testkit::keyless::Request::github(
        subject,
        "bench/signed",
        "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main",
    )])
    .await
    {
        Ok(issued) => {
            let dir = tempfile::tempdir()?;
            let root = dir.path().join("trusted_root.json");
            issued.write_root(&root)?;
            let p = policies(
                json!([{"name": "bench", "trusted_root_file": root, "keyless": [{"issuer": portolan_testkit::keyless::GITHUB_ISSUER, "identity_glob": "https://github.com/acme/**"}]}]),
                "bench",
            )?;
            let portolan_testkit::keyless::Signature::Bundle(bundle) = &issued.signatures[0] else { bail!("a bundle was asked for") };
            let bytes = serde_json::to_vec(bundle)?;
            cpu.push((
                "keyless sigstore bundle (chain, SCT, Rekor proof)",
                cpu_per_signature(&p, subject, &Evidence::Bundle(&bytes), o.signatures / 4, o.rounds)?,
            ));
        }
        Err(e) => eprintln!("keyless bundles skipped: {e}"),
    }

    println!("portolan-bench verify: {} signed tags, concurrency {}, {} rounds, medians", o.tags, o.concurrency, o.rounds);
    println!("{:<58} {:>10} {:>10} {:>8}", "measurement", "ours", "other", "ratio");
    println!("{:<58} {:>9.3}s {:>9.3}s {:>8.2}", "verify every tag's signatures (cold) / fetching them", ours, floor, ours / floor);
    println!("target: ≤ 1.5 — {}", if ours / floor <= 1.5 { "met" } else { "NOT met" });
    println!("{:<58} {:>12}", "CPU per signature (the verifier alone)", "µs");
    for (label, us) in cpu {
        println!("{label:<58} {us:>12.1}");
    }
    Ok(())
}
