//! Sample artifacts, built by hand from the OCI image and artifact specs and pushed with the
//! independent [`Pusher`]: images (OCI and Docker v2), multi-platform indexes with buildx
//! attestation manifests, Helm charts, SBOMs, signatures and attestations attached by `subject`
//! (with the fallback tag index kept up to date on registries without the referrers API),
//! and cosign's legacy `sha256-<hex>.sig` tags.

use std::io::Write;

use anyhow::{Context, Result};
use serde_json::{Value, json};

use crate::pusher::{Pushed, Pusher, sha256};

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const OCI_EMPTY: &str = "application/vnd.oci.empty.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
pub const HELM_CONFIG: &str = "application/vnd.cncf.helm.config.v1+json";
pub const HELM_CHART: &str = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";
pub const SPDX_JSON: &str = "application/spdx+json";
pub const COSIGN_SIG_ARTIFACT: &str = "application/vnd.dev.cosign.artifact.sig.v1+json";
pub const SIGSTORE_BUNDLE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
pub const COSIGN_SIMPLESIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
pub const NOTARY_SIGNATURE: &str = "application/vnd.cncf.notary.signature";
pub const IN_TOTO: &str = "application/vnd.in-toto+json";

/// A reproducible gzip'd tar holding `files` (path, contents).
pub fn tar_gz(files: &[(&str, &[u8])]) -> Result<(Vec<u8>, String)> {
    let mut tar = tar::Builder::new(Vec::new());
    for (path, contents) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(contents.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(1_700_000_000);
        header.set_cksum();
        tar.append_data(&mut header, path, *contents)?;
    }
    let raw = tar.into_inner()?;
    let diff_id = sha256(&raw);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&raw)?;
    Ok((gz.finish()?, diff_id))
}

/// What an image looks like.
#[derive(Clone, Debug)]
pub struct ImageSpec {
    pub os: &'static str,
    pub architecture: &'static str,
    pub variant: Option<&'static str>,
    /// RFC 3339 creation time written into the config (None: no `created` at all).
    pub created: Option<String>,
    pub files: Vec<(String, Vec<u8>)>,
    pub labels: Vec<(String, String)>,
    pub annotations: Vec<(String, String)>,
    /// Docker v2 schema 2 media types instead of OCI ones.
    pub docker: bool,
}

impl ImageSpec {
    pub fn new(content: &str) -> Self {
        Self {
            os: "linux",
            architecture: "amd64",
            variant: None,
            created: Some("2025-01-10T12:00:00Z".to_owned()),
            files: vec![("hello.txt".to_owned(), content.as_bytes().to_vec())],
            labels: vec![],
            annotations: vec![],
            docker: false,
        }
    }

    pub fn created(mut self, rfc3339: &str) -> Self {
        self.created = Some(rfc3339.to_owned());
        self
    }

    pub fn platform(mut self, architecture: &'static str, variant: Option<&'static str>) -> Self {
        self.architecture = architecture;
        self.variant = variant;
        self
    }

    pub fn label(mut self, key: &str, value: &str) -> Self {
        self.labels.push((key.to_owned(), value.to_owned()));
        self
    }

    pub fn annotation(mut self, key: &str, value: &str) -> Self {
        self.annotations.push((key.to_owned(), value.to_owned()));
        self
    }

    pub fn docker(mut self) -> Self {
        self.docker = true;
        self
    }

    pub fn platform_json(&self) -> Value {
        let mut p = json!({"os": self.os, "architecture": self.architecture});
        if let Some(v) = self.variant {
            p["variant"] = json!(v);
        }
        p
    }
}

fn object(pairs: &[(String, String)]) -> Value {
    Value::Object(pairs.iter().map(|(k, v)| (k.clone(), json!(v))).collect())
}

/// Pushes artifacts into one registry, keeping fallback referrer indexes when asked.
#[derive(Clone)]
pub struct Seeder {
    pub pusher: Pusher,
    /// Maintain `sha256-<hex>` fallback tags (for registries without the referrers API).
    pub fallback_tags: bool,
}

impl Seeder {
    pub fn new(pusher: Pusher, fallback_tags: bool) -> Self {
        Self { pusher, fallback_tags }
    }

    pub async fn empty_config(&self, repo: &str) -> Result<Pushed> {
        self.pusher.blob(repo, OCI_EMPTY, b"{}").await
    }

    /// A single-platform image.
    pub async fn image(&self, repo: &str, tags: &[&str], spec: &ImageSpec) -> Result<Pushed> {
        let files: Vec<(&str, &[u8])> = spec.files.iter().map(|(p, c)| (p.as_str(), c.as_slice())).collect();
        let (layer_bytes, diff_id) = tar_gz(&files)?;
        let (manifest_type, config_type, layer_type) =
            if spec.docker { (DOCKER_MANIFEST, DOCKER_CONFIG, DOCKER_LAYER) } else { (OCI_MANIFEST, OCI_CONFIG, OCI_LAYER_GZIP) };
        let layer = self.pusher.blob(repo, layer_type, &layer_bytes).await?;
        let mut config = json!({
            "architecture": spec.architecture,
            "os": spec.os,
            "config": {
                "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "GREETING=hello"],
                "Entrypoint": ["/bin/hello"],
                "Cmd": ["--greet", "world"],
                "WorkingDir": "/",
                "Labels": object(&spec.labels),
            },
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
            "history": [
                {"created_by": "/bin/sh -c #(nop) ADD file:0123 in / ", "empty_layer": false},
                {"created_by": "/bin/sh -c #(nop)  ENTRYPOINT [\"/bin/hello\"]", "empty_layer": true},
            ],
        });
        if let Some(v) = spec.variant {
            config["variant"] = json!(v);
        }
        if let Some(created) = &spec.created {
            config["created"] = json!(created);
            for h in config["history"].as_array_mut().into_iter().flatten() {
                h["created"] = json!(created);
            }
        }
        let config = self.pusher.blob(repo, config_type, &serde_json::to_vec(&config)?).await?;
        let mut manifest = json!({
            "schemaVersion": 2,
            "mediaType": manifest_type,
            "config": config.descriptor(),
            "layers": [layer.descriptor()],
        });
        if !spec.annotations.is_empty() {
            manifest["annotations"] = object(&spec.annotations);
        }
        self.pusher.json_manifest(repo, tags, &manifest).await
    }

    /// A multi-platform index of `platforms`, each with a buildx-style attestation manifest
    /// (`unknown/unknown`, `vnd.docker.reference.type: attestation-manifest`).
    pub async fn multi_platform(&self, repo: &str, tags: &[&str], platforms: &[ImageSpec]) -> Result<(Pushed, Vec<Pushed>)> {
        let mut manifests = Vec::new();
        let mut images = Vec::new();
        for spec in platforms {
            let image = self.image(repo, &[], spec).await?;
            let mut d = image.descriptor();
            d["platform"] = spec.platform_json();
            manifests.push(d);
            images.push(image);
        }
        for (spec, image) in platforms.iter().zip(&images) {
            let statement = json!({
                "_type": "https://in-toto.io/Statement/v0.1",
                "predicateType": "https://slsa.dev/provenance/v0.2",
                "subject": [{"name": format!("pkg:docker/{repo}"), "digest": {"sha256": image.digest.trim_start_matches("sha256:")}}],
                "predicate": {"builder": {"id": "https://github.com/docker/buildx"}, "buildType": "https://mobyproject.org/buildkit@v1", "metadata": {"buildStartedOn": spec.created}},
            });
            let layer = self.pusher.blob(repo, IN_TOTO, &serde_json::to_vec(&statement)?).await?;
            let mut layer_d = layer.descriptor();
            layer_d["annotations"] = json!({"in-toto.io/predicate-type": "https://slsa.dev/provenance/v0.2"});
            let config = self
                .pusher
                .blob(repo, OCI_CONFIG, serde_json::to_vec(&json!({"architecture": "unknown", "os": "unknown", "config": {}, "rootfs": {"type": "layers", "diff_ids": [layer.digest]}}))?.as_slice())
                .await?;
            let att = self
                .pusher
                .json_manifest(
                    repo,
                    &[],
                    &json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config.descriptor(), "layers": [layer_d]}),
                )
                .await?;
            let mut d = att.descriptor();
            d["platform"] = json!({"os": "unknown", "architecture": "unknown"});
            d["annotations"] = json!({"vnd.docker.reference.type": "attestation-manifest", "vnd.docker.reference.digest": image.digest});
            manifests.push(d);
        }
        let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests,
            "annotations": {"org.opencontainers.image.created": "2025-09-01T08:30:00Z", "org.opencontainers.image.source": "https://example.com/team/platform"}});
        let pushed = self.pusher.json_manifest(repo, tags, &index).await?;
        Ok((pushed, images))
    }

    /// An artifact manifest attached to `subject` (OCI 1.1: `subject` + `artifactType`),
    /// listed in the subject's fallback tag index when [`Seeder::fallback_tags`] is set.
    pub async fn referrer(
        &self,
        repo: &str,
        subject: &Pushed,
        artifact_type: &str,
        layers: &[(&str, Vec<u8>, Value)],
        annotations: Value,
    ) -> Result<Pushed> {
        let config = self.empty_config(repo).await?;
        let mut layer_ds = Vec::new();
        for (media_type, bytes, layer_annotations) in layers {
            let mut d = self.pusher.blob(repo, media_type, bytes).await?.descriptor();
            if !layer_annotations.is_null() {
                d["annotations"] = layer_annotations.clone();
            }
            layer_ds.push(d);
        }
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": artifact_type,
            "config": config.descriptor(),
            "layers": layer_ds,
            "subject": subject.descriptor(),
            "annotations": annotations,
        });
        let pushed = self.pusher.json_manifest(repo, &[], &manifest).await?;
        if self.fallback_tags {
            self.add_to_fallback_index(repo, subject, &pushed, artifact_type, &manifest["annotations"]).await?;
        }
        Ok(pushed)
    }

    async fn add_to_fallback_index(
        &self,
        repo: &str,
        subject: &Pushed,
        referrer: &Pushed,
        artifact_type: &str,
        annotations: &Value,
    ) -> Result<()> {
        let tag = subject.fallback_tag();
        let mut index = match self.pusher.get_manifest(repo, &tag).await? {
            Some(bytes) => serde_json::from_slice::<Value>(&bytes).context("reading a fallback index")?,
            None => json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}),
        };
        let mut d = referrer.descriptor();
        d["artifactType"] = json!(artifact_type);
        if !annotations.is_null() {
            d["annotations"] = annotations.clone();
        }
        index["manifests"].as_array_mut().context("fallback index without manifests")?.push(d);
        self.pusher.json_manifest(repo, &[&tag], &index).await?;
        Ok(())
    }

    /// An SPDX SBOM of `packages` (name, version) attached to `subject`.
    pub async fn sbom(&self, repo: &str, subject: &Pushed, packages: &[(&str, &str)]) -> Result<Pushed> {
        let doc = json!({
            "spdxVersion": "SPDX-2.3",
            "dataLicense": "CC0-1.0",
            "SPDXID": "SPDXRef-DOCUMENT",
            "name": format!("{repo}@{}", subject.digest),
            "documentNamespace": format!("https://example.com/spdx/{}", subject.digest),
            "creationInfo": {"created": "2025-06-01T12:05:00Z", "creators": ["Tool: syft-1.0.0"]},
            "packages": packages.iter().enumerate().map(|(i, (name, version))| json!({
                "SPDXID": format!("SPDXRef-Package-{i}"), "name": name, "versionInfo": version,
                "licenseConcluded": "MIT", "downloadLocation": "NOASSERTION",
            })).collect::<Vec<_>>(),
        });
        self.referrer(
            repo,
            subject,
            SPDX_JSON,
            &[(SPDX_JSON, serde_json::to_vec_pretty(&doc)?, Value::Null)],
            json!({"org.opencontainers.image.created": "2025-06-01T12:05:00Z", "org.example.sbom.format": "spdx"}),
        )
        .await
    }

    /// A cosign signature in OCI 1.1 form (a sigstore bundle attached by `subject`).
    pub async fn cosign_signature(&self, repo: &str, subject: &Pushed) -> Result<Pushed> {
        let bundle = json!({
            "mediaType": SIGSTORE_BUNDLE,
            "verificationMaterial": {"publicKey": {"hint": "portolan-demo-key"}},
            "messageSignature": {"messageDigest": {"algorithm": "SHA2_256", "digest": subject.digest.trim_start_matches("sha256:")}, "signature": "MEUCIQDdemo"},
        });
        self.referrer(repo, subject, SIGSTORE_BUNDLE, &[(SIGSTORE_BUNDLE, serde_json::to_vec(&bundle)?, Value::Null)],
            json!({"org.opencontainers.image.created": "2025-06-01T12:10:00Z", "dev.sigstore.bundle.predicateType": "https://sigstore.dev/cosign/sign/v1"})).await
    }

    /// A notation (Notary Project) signature attached by `subject`.
    pub async fn notation_signature(&self, repo: &str, subject: &Pushed) -> Result<Pushed> {
        self.referrer(
            repo,
            subject,
            NOTARY_SIGNATURE,
            &[("application/jose+json", br#"{"payload":"e30","protected":"e30","signature":"c2ln"}"#.to_vec(), Value::Null)],
            json!({"io.cncf.notary.x509chain.thumbprint#S256": "[\"0f3e\"]", "org.opencontainers.image.created": "2025-09-01T09:00:00Z"}),
        )
        .await
    }

    /// An in-toto attestation (SLSA provenance) attached by `subject`.
    pub async fn attestation(&self, repo: &str, subject: &Pushed, predicate_type: &str) -> Result<Pushed> {
        let statement = json!({
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": repo, "digest": {"sha256": subject.digest.trim_start_matches("sha256:")}}],
            "predicateType": predicate_type,
            "predicate": {"buildDefinition": {"buildType": "https://example.com/build/v1"}, "runDetails": {"builder": {"id": "https://example.com/ci"}}},
        });
        self.referrer(
            repo,
            subject,
            IN_TOTO,
            &[(IN_TOTO, serde_json::to_vec(&statement)?, json!({"in-toto.io/predicate-type": predicate_type}))],
            json!({"org.opencontainers.image.created": "2025-06-01T12:20:00Z"}),
        )
        .await
    }

    /// cosign's legacy signature: an image manifest tagged `sha256-<hex>.sig` (no `subject`).
    pub async fn cosign_legacy_signature(&self, repo: &str, subject: &Pushed) -> Result<Pushed> {
        let payload = json!({"critical": {"identity": {"docker-reference": repo}, "image": {"docker-manifest-digest": subject.digest}, "type": "cosign container image signature"}, "optional": null});
        let layer = self.pusher.blob(repo, COSIGN_SIMPLESIGNING, &serde_json::to_vec(&payload)?).await?;
        let mut layer_d = layer.descriptor();
        layer_d["annotations"] = json!({"dev.cosignproject.cosign/signature": "MEUCIQClegacy"});
        let config = self
            .pusher
            .blob(repo, OCI_CONFIG, br#"{"architecture":"","os":"","config":{},"rootfs":{"type":"layers","diff_ids":[]}}"#)
            .await?;
        let manifest = json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config.descriptor(), "layers": [layer_d]});
        let tag = format!("{}.sig", subject.fallback_tag());
        self.pusher.json_manifest(repo, &[&tag], &manifest).await
    }

    /// A cosign signature made with `key` as `cosign sign --key` makes it: the simple-signing
    /// payload naming `signed` (normally the subject's own digest; another one makes a copied
    /// signature), its signature in the layer's annotation. `legacy`: under the
    /// `sha256-<hex>.sig` tag, a layer added to what is there (cosign's default); else an OCI
    /// 1.1 referrer (`--registry-referrers-mode=oci-1-1`).
    pub async fn cosign_key_signature(
        &self,
        repo: &str,
        subject: &Pushed,
        key: &crate::sign::SigningKey,
        reference: &str,
        signed: &str,
        legacy: bool,
    ) -> Result<Pushed> {
        let payload = crate::sign::simple_signing_payload(reference, signed);
        let signature = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, key.sign(&payload)?);
        self.simple_signing(repo, subject, &payload, json!({"dev.cosignproject.cosign/signature": signature}), legacy).await
    }

    /// A keyless cosign 2 signature (from [`crate::keyless`]), under the `.sig` tag.
    pub async fn cosign_keyless_legacy(&self, repo: &str, subject: &Pushed, signature: &crate::keyless::Legacy) -> Result<Pushed> {
        let payload = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &signature.payload)?;
        let annotations = json!({
            "dev.cosignproject.cosign/signature": signature.signature,
            "dev.sigstore.cosign/certificate": signature.certificate,
            "dev.sigstore.cosign/chain": signature.chain,
            "dev.sigstore.cosign/bundle": signature.rekor_bundle,
        });
        self.simple_signing(repo, subject, &payload, annotations, true).await
    }

    /// A simple-signing layer with `annotations`: added to the `.sig` tag's manifest
    /// (`legacy`), or in a referrer of its own.
    pub async fn simple_signing(&self, repo: &str, subject: &Pushed, payload: &[u8], annotations: Value, legacy: bool) -> Result<Pushed> {
        if !legacy {
            return self
                .referrer(
                    repo,
                    subject,
                    COSIGN_SIG_ARTIFACT,
                    &[(COSIGN_SIMPLESIGNING, payload.to_vec(), annotations)],
                    json!({"org.opencontainers.image.created": "2026-01-15T10:00:00Z"}),
                )
                .await;
        }
        let layer = self.pusher.blob(repo, COSIGN_SIMPLESIGNING, payload).await?;
        let mut layer_d = layer.descriptor();
        layer_d["annotations"] = annotations;
        let tag = format!("{}.sig", subject.fallback_tag());
        let mut layers = match self.pusher.get_manifest(repo, &tag).await? {
            Some(bytes) => serde_json::from_slice::<Value>(&bytes)?["layers"].as_array().cloned().unwrap_or_default(),
            None => Vec::new(),
        };
        layers.push(layer_d);
        let config = self
            .pusher
            .blob(repo, OCI_CONFIG, br#"{"architecture":"","os":"","config":{},"rootfs":{"type":"layers","diff_ids":[]}}"#)
            .await?;
        let manifest = json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config.descriptor(), "layers": layers});
        self.pusher.json_manifest(repo, &[&tag], &manifest).await
    }

    /// A sigstore bundle (cosign v3's image signature) attached by `subject`, as cosign v3
    /// attaches it.
    pub async fn sigstore_bundle(&self, repo: &str, subject: &Pushed, bundle: &Value) -> Result<Pushed> {
        self.referrer(
            repo,
            subject,
            SIGSTORE_BUNDLE,
            &[(SIGSTORE_BUNDLE, serde_json::to_vec(bundle)?, Value::Null)],
            json!({
                "dev.sigstore.bundle.content": "dsse-envelope",
                "dev.sigstore.bundle.predicateType": "https://sigstore.dev/cosign/sign/v1",
                "org.opencontainers.image.created": "2026-01-15T10:00:00Z",
            }),
        )
        .await
    }

    /// A Notary Project signature (a JWS envelope from [`crate::sign::NotationSigner`]) attached
    /// by `subject`, as `notation sign` attaches it.
    pub async fn notation_jws(&self, repo: &str, subject: &Pushed, signer: &crate::sign::NotationSigner) -> Result<Pushed> {
        let envelope = signer.jws(&subject.descriptor(), None)?;
        self.referrer(
            repo,
            subject,
            NOTARY_SIGNATURE,
            &[("application/jose+json", envelope, Value::Null)],
            json!({
                "io.cncf.notary.x509chain.thumbprint#S256": serde_json::to_string(&signer.thumbprints())?,
                "org.opencontainers.image.created": "2026-01-15T10:00:00Z",
            }),
        )
        .await
    }

    /// A Helm chart as `helm push` stores it.
    pub async fn helm_chart(&self, repo: &str, name: &str, version: &str, app_version: &str) -> Result<Pushed> {
        let chart_yaml = format!(
            "apiVersion: v2\nname: {name}\nversion: {version}\nappVersion: \"{app_version}\"\ndescription: A demo chart for Portolan.\ntype: application\n"
        );
        let values_yaml = "replicaCount: 2\nimage:\n  repository: library/hello\n  tag: \"1.1.0\"\nservice:\n  port: 8080\n";
        let template = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\n";
        let (chart, _) = tar_gz(&[
            (&format!("{name}/Chart.yaml"), chart_yaml.as_bytes()),
            (&format!("{name}/values.yaml"), values_yaml.as_bytes()),
            (&format!("{name}/templates/deployment.yaml"), template.as_bytes()),
        ])?;
        let config = json!({"name": name, "version": version, "appVersion": app_version, "description": "A demo chart for Portolan.", "apiVersion": "v2", "type": "application"});
        let config = self.pusher.blob(repo, HELM_CONFIG, &serde_json::to_vec(&config)?).await?;
        let layer = self.pusher.blob(repo, HELM_CHART, &chart).await?;
        let manifest = json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config.descriptor(), "layers": [layer.descriptor()],
            "annotations": {"org.opencontainers.image.created": "2025-03-01T10:00:00Z", "org.opencontainers.image.title": name, "org.opencontainers.image.version": version}});
        self.pusher.json_manifest(repo, &[version], &manifest).await
    }

    /// `count` tags, each on its own small image (unique config), named `<prefix><i>` with
    /// semver-ish names mixed in, pushed `concurrency` at a time.
    pub async fn many_tags(&self, repo: &str, count: usize, concurrency: usize) -> Result<()> {
        use futures::StreamExt;
        let (layer_bytes, diff_id) = tar_gz(&[("data.txt", b"shared layer")])?;
        let layer = self.pusher.blob(repo, OCI_LAYER_GZIP, &layer_bytes).await?;
        let results: Vec<Result<()>> = futures::stream::iter(0..count)
            .map(|i| {
                let layer = layer.clone();
                let diff_id = diff_id.clone();
                let this = self.clone();
                async move {
                    let tag = many_tag_name(i);
                    let day = i % 28 + 1;
                    let month = i / 28 % 12 + 1;
                    let config = json!({"architecture": "amd64", "os": "linux", "created": format!("2024-{month:02}-{day:02}T00:00:{:02}Z", i % 60),
                        "config": {"Labels": {"build": i.to_string()}}, "rootfs": {"type": "layers", "diff_ids": [diff_id]}});
                    let config = this.pusher.blob(repo, OCI_CONFIG, &serde_json::to_vec(&config)?).await?;
                    let manifest = json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config.descriptor(), "layers": [layer.descriptor()]});
                    this.pusher.json_manifest(repo, &[&tag], &manifest).await?;
                    Ok(())
                }
            })
            .buffer_unordered(concurrency.max(1))
            .collect()
            .await;
        results.into_iter().collect()
    }
}

/// The name of the i-th tag [`Seeder::many_tags`] pushes: semantic versions mixed with
/// build tags, so sorting by name and by version differ.
pub fn many_tag_name(i: usize) -> String {
    match i % 4 {
        0 => format!("1.{}.{}", i / 100, i % 100),
        1 => format!("build-{i:05}"),
        2 => format!("v2.{}.{}-rc.{}", i / 100, i % 100, i % 3),
        _ => format!("nightly-{i}"),
    }
}
