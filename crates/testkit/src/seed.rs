//! The sample content every registry of the harness (and the demo) gets.

use std::collections::BTreeMap;

use anyhow::Result;
use serde::Serialize;

use crate::fixtures::{ImageSpec, Seeder};

/// Where the seed put things: name → digest, for tests to compare against.
#[derive(Clone, Debug, Default, Serialize)]
pub struct SeedReport {
    pub digests: BTreeMap<String, String>,
    pub many_tags: usize,
}

/// The signers of the demo's `acme/app` (one set per process: every registry seeded by one
/// test kit gets signatures by the same keys): the CI's cosign key, a key nobody trusts, and
/// a Notary Project CA with the release certificate.
pub struct DemoSigners {
    pub ci_key: crate::sign::SigningKey,
    pub stranger_key: crate::sign::SigningKey,
    pub notation_ca: crate::sign::NotationCa,
    pub notation_signer: crate::sign::NotationSigner,
}

/// The repository the demo's signed images are in, and the trust policy covering it.
pub const SIGNED_REPO: &str = "acme/app";

/// The demo's signers (made on first use).
pub fn demo_signers() -> &'static DemoSigners {
    static SIGNERS: std::sync::OnceLock<DemoSigners> = std::sync::OnceLock::new();
    SIGNERS.get_or_init(|| {
        let ca = crate::sign::NotationCa::new("Acme signing CA").expect("a Notary Project CA");
        DemoSigners {
            ci_key: crate::sign::SigningKey::generate(crate::sign::KeyKind::EcdsaP256).expect("a P-256 key"),
            stranger_key: crate::sign::SigningKey::generate(crate::sign::KeyKind::EcdsaP256).expect("a P-256 key"),
            notation_signer: ca.current_signer("Acme", "release").expect("a signing certificate"),
            notation_ca: ca,
        }
    })
}

impl DemoSigners {
    /// The `[[trust_policies]]` of the demo's configuration: the CI key and the Notary Project
    /// release identity, on `acme/**` of every registry.
    pub fn trust_policy_toml(&self) -> String {
        format!(
            r#"
[[trust_policies]]
name = "acme-ci"
repositories = ["acme/**"]
trusted_root = "none"

[[trust_policies.cosign_keys]]
name = "acme release key"
public_key = """
{}"""

[trust_policies.notation]
verification = "strict"
trust_store = """
{}"""
trusted_identities = ["x509.subject: C=US, O=Acme, CN=release"]
"#,
            self.ci_key.public_pem(),
            self.notation_ca.pem()
        )
    }
}

impl SeedReport {
    pub fn digest(&self, name: &str) -> &str {
        self.digests.get(name).map(String::as_str).unwrap_or_else(|| panic!("the seed has no {name}"))
    }
}

/// An annotation a UI must render inert.
pub const HOSTILE_ANNOTATION: &str = r#"<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">Hello & "goodbye""#;

/// Seeds:
/// - `library/hello`: images 1.0.0, 1.1.0 (= latest), 2.0.0-rc.1, a Docker v2 image `docker-v2`;
///   on 1.1.0 an SBOM, a cosign signature, an in-toto attestation, a signature on the SBOM,
///   and hostile and very long annotations; on 1.0.0 a legacy cosign `.sig` tag;
/// - `team/platform/api`: a linux/amd64 + linux/arm64 index with buildx attestations, signed;
/// - `charts/portolan-demo`: Helm charts 0.1.0 and 0.2.0;
/// - `acme/app` ([`SIGNED_REPO`]): 1.0.0 signed with the CI key (a `.sig` tag), 1.1.0 signed
///   with it as an OCI 1.1 referrer, 1.2.0 signed with a key nobody trusts, 1.3.0 unsigned,
///   1.4.0 carrying 1.0.0's signature copied onto it, 2.0.0 signed by the Notary Project
///   release certificate ([`demo_signers`]);
/// - `stress/many-tags`: `many_tags` tags (none when 0).
pub async fn seed_demo(seeder: &Seeder, many_tags: usize) -> Result<SeedReport> {
    let mut report = SeedReport { many_tags, ..Default::default() };
    let mut put = |name: &str, digest: &str| {
        report.digests.insert(name.to_owned(), digest.to_owned());
    };
    let repo = "library/hello";
    let base = |v: &str| {
        ImageSpec::new(&format!("hello {v}\n"))
            .label("org.opencontainers.image.title", "hello")
            .label("org.opencontainers.image.version", v)
            .label("org.opencontainers.image.source", "https://example.com/hello")
    };
    let v100 = seeder.image(repo, &["1.0.0"], &base("1.0.0").created("2025-01-10T12:00:00Z")).await?;
    put("hello:1.0.0", &v100.digest);
    let long = "x".repeat(5000);
    let v110 = seeder
        .image(
            repo,
            &["1.1.0", "latest"],
            &base("1.1.0")
                .created("2025-06-01T12:00:00Z")
                .annotation("org.opencontainers.image.description", HOSTILE_ANNOTATION)
                .annotation("org.example.long", &long),
        )
        .await?;
    put("hello:1.1.0", &v110.digest);
    let rc = seeder.image(repo, &["2.0.0-rc.1"], &base("2.0.0-rc.1").created("2026-02-01T09:00:00Z")).await?;
    put("hello:2.0.0-rc.1", &rc.digest);
    let docker = seeder.image(repo, &["docker-v2"], &base("docker").created("2024-11-05T00:00:00Z").docker()).await?;
    put("hello:docker-v2", &docker.digest);

    let sbom = seeder.sbom(repo, &v110, &[("busybox", "1.36.1"), ("musl", "1.2.4"), ("openssl", "3.1.4"), ("zlib", "1.3")]).await?;
    put("hello:1.1.0/sbom", &sbom.digest);
    let sig = seeder.cosign_signature(repo, &v110).await?;
    put("hello:1.1.0/signature", &sig.digest);
    let att = seeder.attestation(repo, &v110, "https://slsa.dev/provenance/v1").await?;
    put("hello:1.1.0/attestation", &att.digest);
    let sbom_sig = seeder.notation_signature(repo, &sbom).await?;
    put("hello:1.1.0/sbom/signature", &sbom_sig.digest);
    let legacy = seeder.cosign_legacy_signature(repo, &v100).await?;
    put("hello:1.0.0/legacy-signature", &legacy.digest);

    let repo = "team/platform/api";
    let platforms = [
        ImageSpec::new("api amd64\n").created("2025-09-01T08:00:00Z"),
        ImageSpec::new("api arm64\n").created("2025-09-01T08:00:00Z").platform("arm64", Some("v8")),
    ];
    let (index, images) = seeder.multi_platform(repo, &["v1.0.0", "latest"], &platforms).await?;
    put("api:v1.0.0", &index.digest);
    put("api:v1.0.0/amd64", &images[0].digest);
    put("api:v1.0.0/arm64", &images[1].digest);
    let index_sig = seeder.notation_signature(repo, &index).await?;
    put("api:v1.0.0/signature", &index_sig.digest);

    let repo = "charts/portolan-demo";
    put("chart:0.1.0", &seeder.helm_chart(repo, "portolan-demo", "0.1.0", "1.0.0").await?.digest);
    put("chart:0.2.0", &seeder.helm_chart(repo, "portolan-demo", "0.2.0", "1.1.0").await?.digest);

    let repo = SIGNED_REPO;
    let signers = demo_signers();
    let host = seeder.pusher.base().split("://").nth(1).unwrap_or_default().to_owned();
    let reference = |tag: &str| format!("{host}/{repo}:{tag}");
    let app = |v: &str, day: u32| {
        ImageSpec::new(&format!("acme app {v}\n"))
            .created(&format!("2026-01-{day:02}T09:00:00Z"))
            .label("org.opencontainers.image.version", v)
    };
    let signed = seeder.image(repo, &["1.0.0"], &app("1.0.0", 5)).await?;
    seeder.cosign_key_signature(repo, &signed, &signers.ci_key, &reference("1.0.0"), &signed.digest, true).await?;
    put("acme:1.0.0", &signed.digest);
    let referred = seeder.image(repo, &["1.1.0"], &app("1.1.0", 6)).await?;
    let sig = seeder.cosign_key_signature(repo, &referred, &signers.ci_key, &reference("1.1.0"), &referred.digest, false).await?;
    put("acme:1.1.0", &referred.digest);
    put("acme:1.1.0/signature", &sig.digest);
    let stranger = seeder.image(repo, &["1.2.0"], &app("1.2.0", 7)).await?;
    seeder.cosign_key_signature(repo, &stranger, &signers.stranger_key, &reference("1.2.0"), &stranger.digest, true).await?;
    put("acme:1.2.0", &stranger.digest);
    let unsigned = seeder.image(repo, &["1.3.0", "latest"], &app("1.3.0", 8)).await?;
    put("acme:1.3.0", &unsigned.digest);
    let copied = seeder.image(repo, &["1.4.0"], &app("1.4.0", 9)).await?;
    seeder.cosign_key_signature(repo, &copied, &signers.ci_key, &reference("1.0.0"), &signed.digest, true).await?;
    put("acme:1.4.0", &copied.digest);
    let notarised = seeder.image(repo, &["2.0.0"], &app("2.0.0", 10)).await?;
    let sig = seeder.notation_jws(repo, &notarised, &signers.notation_signer).await?;
    put("acme:2.0.0", &notarised.digest);
    put("acme:2.0.0/signature", &sig.digest);

    if many_tags > 0 {
        seeder.many_tags("stress/many-tags", many_tags, 8).await?;
    }
    Ok(report)
}
