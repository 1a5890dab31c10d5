//! Media types, and what kind of artifact a manifest is.

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// The artifact manifest of the OCI 1.1 release candidates (`blobs`, no config); still met.
pub const OCI_ARTIFACT_MANIFEST: &str = "application/vnd.oci.artifact.manifest.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_EMPTY: &str = "application/vnd.oci.empty.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const DOCKER_SCHEMA1: &str = "application/vnd.docker.distribution.manifest.v1+json";
pub const DOCKER_SCHEMA1_SIGNED: &str = "application/vnd.docker.distribution.manifest.v1+prettyjws";
pub const HELM_CONFIG: &str = "application/vnd.cncf.helm.config.v1+json";
pub const HELM_CHART: &str = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";
pub const COSIGN_SIMPLESIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
pub const COSIGN_SIG_ARTIFACT: &str = "application/vnd.dev.cosign.artifact.sig.v1+json";
pub const SIGSTORE_BUNDLE_PREFIX: &str = "application/vnd.dev.sigstore.bundle";
pub const NOTARY_SIGNATURE: &str = "application/vnd.cncf.notary.signature";
pub const IN_TOTO: &str = "application/vnd.in-toto+json";
pub const DSSE_ENVELOPE: &str = "application/vnd.dsse.envelope.v1+json";

/// The Accept header for manifest requests: every manifest and index type we understand.
/// Without it, distribution answers 404 for OCI content. Schema 1 is listed last and
/// lowest, so registries that only have schema 1 say so and we can explain it.
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
application/vnd.oci.image.manifest.v1+json, \
application/vnd.docker.distribution.manifest.list.v2+json, \
application/vnd.docker.distribution.manifest.v2+json, \
application/vnd.oci.artifact.manifest.v1+json;q=0.9, \
application/vnd.docker.distribution.manifest.v1+prettyjws;q=0.1, \
application/vnd.docker.distribution.manifest.v1+json;q=0.1";

/// Whether a media type names an index (OCI index or Docker manifest list).
pub fn is_index(media_type: &str) -> bool {
    matches!(base(media_type), OCI_INDEX | DOCKER_MANIFEST_LIST)
}

/// Whether a media type names any manifest or index we can fetch from `/manifests/`.
pub fn is_manifest(media_type: &str) -> bool {
    matches!(base(media_type), OCI_INDEX | DOCKER_MANIFEST_LIST | OCI_MANIFEST | DOCKER_MANIFEST | OCI_ARTIFACT_MANIFEST)
}

/// The media type without parameters (`; charset=…`), trimmed.
pub fn base(media_type: &str) -> &str {
    media_type.split(';').next().unwrap_or("").trim()
}

/// What an artifact is, for people: decided by `artifactType`, then the config media type,
/// then the layers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum ArtifactKind {
    /// A multi-platform image (index or manifest list).
    Index,
    /// A container image.
    Image,
    /// A Helm chart.
    HelmChart,
    /// A software bill of materials (SPDX, CycloneDX, Syft…).
    Sbom,
    /// A signature (cosign, sigstore bundle, Notary Project).
    Signature,
    /// An in-toto attestation (SLSA provenance, vulnerability scan…).
    Attestation,
    /// A buildx attestation manifest inside an index.
    BuildAttestation,
    /// Anything else.
    Other,
}

impl ArtifactKind {
    /// The stable name sent in JSON and put in `data-kind` attributes (`helm-chart`, `sbom`…).
    pub fn key(self) -> &'static str {
        match self {
            ArtifactKind::Index => "index",
            ArtifactKind::Image => "image",
            ArtifactKind::HelmChart => "helm-chart",
            ArtifactKind::Sbom => "sbom",
            ArtifactKind::Signature => "signature",
            ArtifactKind::Attestation => "attestation",
            ArtifactKind::BuildAttestation => "build-attestation",
            ArtifactKind::Other => "other",
        }
    }

    /// Said to people.
    pub fn label(self) -> &'static str {
        match self {
            ArtifactKind::Index => "index",
            ArtifactKind::Image => "image",
            ArtifactKind::HelmChart => "Helm chart",
            ArtifactKind::Sbom => "SBOM",
            ArtifactKind::Signature => "signature",
            ArtifactKind::Attestation => "attestation",
            ArtifactKind::BuildAttestation => "build attestation",
            ArtifactKind::Other => "artifact",
        }
    }

    /// Classifies a manifest from its media type, `artifactType`, config media type and the
    /// media types of its layers.
    pub fn classify(media_type: &str, artifact_type: Option<&str>, config_type: Option<&str>, layer_types: &[&str]) -> Self {
        if is_index(media_type) {
            return ArtifactKind::Index;
        }
        let candidates = artifact_type.into_iter().chain(config_type.filter(|c| !is_plain_config(c))).chain(layer_types.iter().copied());
        for t in candidates {
            if let Some(kind) = kind_of_type(t) {
                return kind;
            }
        }
        match config_type.map(base) {
            Some(OCI_CONFIG | DOCKER_CONFIG) => ArtifactKind::Image,
            None if media_type == DOCKER_MANIFEST || media_type == OCI_MANIFEST => ArtifactKind::Image,
            _ => ArtifactKind::Other,
        }
    }
}

fn is_plain_config(t: &str) -> bool {
    matches!(base(t), OCI_CONFIG | DOCKER_CONFIG | OCI_EMPTY)
}

/// The kind a single media type (artifact, config or layer type) points at, if any.
pub fn kind_of_type(t: &str) -> Option<ArtifactKind> {
    let t = base(t).to_ascii_lowercase();
    if t == HELM_CONFIG || t == HELM_CHART || t.starts_with("application/vnd.cncf.helm.") {
        return Some(ArtifactKind::HelmChart);
    }
    if t.contains("spdx") || t.contains("cyclonedx") || t.contains("syft") || t.contains("sbom") {
        return Some(ArtifactKind::Sbom);
    }
    if t == COSIGN_SIMPLESIGNING
        || t == COSIGN_SIG_ARTIFACT
        || t.starts_with(SIGSTORE_BUNDLE_PREFIX)
        || t == NOTARY_SIGNATURE
        || t.contains("signature")
    {
        return Some(ArtifactKind::Signature);
    }
    if t == IN_TOTO
        || t == DSSE_ENVELOPE
        || t.contains("in-toto")
        || t.contains("attestation")
        || t.contains("provenance")
        || t.contains("vuln")
    {
        return Some(ArtifactKind::Attestation);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_common_artifacts() {
        use ArtifactKind::*;
        assert_eq!(ArtifactKind::classify(OCI_INDEX, None, None, &[]), Index);
        assert_eq!(ArtifactKind::classify(DOCKER_MANIFEST_LIST, None, None, &[]), Index);
        assert_eq!(ArtifactKind::classify(OCI_MANIFEST, None, Some(OCI_CONFIG), &["application/vnd.oci.image.layer.v1.tar+gzip"]), Image);
        assert_eq!(ArtifactKind::classify(DOCKER_MANIFEST, None, Some(DOCKER_CONFIG), &[]), Image);
        assert_eq!(ArtifactKind::classify(OCI_MANIFEST, None, Some(HELM_CONFIG), &[HELM_CHART]), HelmChart);
        assert_eq!(ArtifactKind::classify(OCI_MANIFEST, Some("application/spdx+json"), Some(OCI_EMPTY), &[]), Sbom);
        assert_eq!(ArtifactKind::classify(OCI_MANIFEST, Some("application/vnd.cyclonedx+json"), Some(OCI_EMPTY), &[]), Sbom);
        assert_eq!(ArtifactKind::classify(OCI_MANIFEST, Some(NOTARY_SIGNATURE), Some(OCI_EMPTY), &[]), Signature);
        assert_eq!(ArtifactKind::classify(OCI_MANIFEST, Some("application/vnd.dev.sigstore.bundle.v0.3+json"), None, &[]), Signature);
        // cosign legacy: a plain OCI config, the kind is in the layer.
        assert_eq!(ArtifactKind::classify(OCI_MANIFEST, None, Some(OCI_CONFIG), &[COSIGN_SIMPLESIGNING]), Signature);
        assert_eq!(ArtifactKind::classify(OCI_MANIFEST, Some(IN_TOTO), Some(OCI_EMPTY), &[]), Attestation);
        assert_eq!(ArtifactKind::classify(OCI_MANIFEST, Some("application/x.example"), Some(OCI_EMPTY), &[]), Other);
        assert_eq!(ArtifactKind::classify(OCI_MANIFEST, None, Some("application/vnd.unknown.config+json"), &["x/y"]), Other);
    }

    #[test]
    fn keys_are_the_json_names() {
        use ArtifactKind::*;
        for k in [Index, Image, HelmChart, Sbom, Signature, Attestation, BuildAttestation, Other] {
            assert_eq!(serde_json::to_value(k).unwrap(), serde_json::Value::String(k.key().to_owned()));
        }
    }

    #[test]
    fn base_strips_parameters() {
        assert_eq!(base("application/json; charset=utf-8"), "application/json");
        assert!(is_index("application/vnd.oci.image.index.v1+json ; x=y"));
    }
}
