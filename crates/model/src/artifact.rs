//! What the artifact, blob, referrer-graph and diff pages show.

use serde::{Deserialize, Serialize};

use super::{ArtifactKind, DateSource, RegistryInfo};

/// Pretty-printed JSON as HTML made on the server — keys, strings and numbers in spans, digests
/// as links, every text from the registry escaped — shown as is (it is sent as one string, so
/// the browser bundle needs no code to build it); `truncated` when it was cut for size.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JsonDoc {
    pub html: String,
    pub truncated: bool,
}

/// A descriptor, as tables show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DescriptorView {
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    pub artifact_type: Option<String>,
    pub annotations: Vec<(String, String)>,
    /// Where it opens: the artifact page of a manifest, the blob page of anything else.
    pub href: String,
}

/// One platform of an index, with the buildx attestations that describe it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PlatformEntry {
    /// `linux/arm64/v8`, or `unknown` when the index does not say.
    pub platform: String,
    pub manifest: DescriptorView,
    /// Compressed size of the platform image (manifest + config + layers), when read.
    pub image_size: Option<u64>,
    /// Why the platform manifest could not be read: "missing (404)" when the registry does not
    /// have it — a broken image.
    pub problem: Option<String>,
    pub attestations: Vec<DescriptorView>,
}

/// One step of an image's history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HistoryEntry {
    pub created: Option<String>,
    pub created_by: String,
    pub comment: Option<String>,
    pub empty_layer: bool,
}

/// An image configuration, read leniently.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConfigView {
    pub digest: String,
    pub media_type: String,
    pub created: Option<String>,
    pub platform: Option<String>,
    pub user: Option<String>,
    pub working_dir: Option<String>,
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    pub env: Vec<String>,
    pub exposed_ports: Vec<String>,
    pub volumes: Vec<String>,
    pub labels: Vec<(String, String)>,
    pub history: Vec<HistoryEntry>,
    pub raw: JsonDoc,
    /// Why it could not be read (shown instead).
    pub problem: Option<String>,
}

/// What is inside, by kind of manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ArtifactBody {
    Index {
        platforms: Vec<PlatformEntry>,
        /// Entries that are neither platform images nor their attestations.
        others: Vec<DescriptorView>,
    },
    Manifest {
        config: DescriptorView,
        /// Present for container images (and anything whose config is an image config).
        image_config: Option<Box<ConfigView>>,
        layers: Vec<DescriptorView>,
    },
    /// The manifest could not be read as OCI; only the raw text is shown.
    Unreadable,
}

/// A panel for artifacts Portolan understands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Panel {
    Helm {
        name: String,
        version: String,
        app_version: Option<String>,
        description: Option<String>,
        chart_type: Option<String>,
        values_yaml: Option<String>,
        values_truncated: bool,
    },
    Sbom {
        /// SPDX, CycloneDX or Syft.
        format: String,
        spec_version: Option<String>,
        name: Option<String>,
        package_count: usize,
        /// The first packages by name (name, version).
        packages: Vec<(String, String)>,
    },
    Signature {
        /// cosign (simple signing), sigstore bundle, Notary Project…
        format: String,
        /// The digest the signature says it signs, when it says.
        signed_digest: Option<String>,
        payload: Option<JsonDoc>,
        annotations: Vec<(String, String)>,
    },
    Attestation {
        predicate_type: Option<String>,
        statement_type: Option<String>,
        /// (name, digest) of each subject.
        subjects: Vec<(String, String)>,
        predicate: Option<JsonDoc>,
    },
    /// The panel's content could not be read (the rest of the page still shows).
    Unavailable { title: String, reason: String },
}

/// A referrer, as the artifact page lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReferrerEntry {
    pub digest: String,
    pub kind: ArtifactKind,
    pub artifact_type: Option<String>,
    pub created: Option<String>,
    /// `referrers API`, `fallback tag`, `cosign .sig tag`…
    pub source: String,
    pub href: String,
}

/// An artifact (manifest or index) as its page shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ArtifactView {
    pub registry: RegistryInfo,
    pub repository: String,
    /// The tag the page was opened by, if any.
    pub tag: Option<String>,
    pub digest: String,
    pub media_type: String,
    /// What it is (`Other` also for a manifest that does not parse: see `problem`).
    pub kind: ArtifactKind,
    pub artifact_type: Option<String>,
    /// Size of the manifest itself.
    pub manifest_size: u64,
    /// Manifest + config + layers (for an index: the largest platform).
    pub total_size: Option<u64>,
    /// When it was created (seconds since the epoch) — the same date the tag list shows — and
    /// where that date came from.
    pub created: Option<i64>,
    pub created_source: Option<DateSource>,
    pub annotations: Vec<(String, String)>,
    /// What this artifact refers to (signatures, SBOMs… point at their subject).
    pub subject: Option<DescriptorView>,
    pub body: ArtifactBody,
    pub panel: Option<Panel>,
    pub referrers: Vec<ReferrerEntry>,
    /// Why referrers could not be listed (the page still shows).
    pub referrers_problem: Option<String>,
    /// Its signatures under the trust policies (None: no policy covers the repository).
    pub verification: Option<super::Verification>,
    pub manifest_json: JsonDoc,
    /// Why the manifest could not be read as OCI (it is still shown raw).
    pub problem: Option<String>,
    pub now: i64,
    /// Portolan's absolute URL, for the badges' Markdown.
    pub public_url: String,
    /// Whether the caller may delete this artifact (or tag).
    pub delete: super::DeleteAbility,
}

/// A blob's page: its bytes, previewed when they are text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BlobView {
    pub registry: RegistryInfo,
    pub repository: String,
    pub digest: String,
    pub media_type: Option<String>,
    pub size: Option<u64>,
    pub preview: BlobPreview,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum BlobPreview {
    Json(JsonDoc),
    Text {
        text: String,
        truncated: bool,
    },
    /// Compressed archives, binaries, or more than the preview limit.
    None {
        reason: String,
    },
}

/// The referrer graph of an artifact, drawn on the server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GraphView {
    pub registry: RegistryInfo,
    pub repository: String,
    /// The tag or digest the page was opened by.
    pub reference: String,
    /// The artifact's digest.
    pub root: String,
    /// Referrers drawn (after the filter).
    pub referrers: usize,
    /// The graph as SVG markup, every text from the registry escaped.
    pub svg: String,
    pub truncated: bool,
    /// `referrers API` or `fallback tag`.
    pub mode: Option<String>,
    /// The artifact types present (type, count), for the filter.
    pub artifact_types: Vec<(String, usize)>,
    pub filter: Option<String>,
}

/// How two artifacts differ.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DiffView {
    pub registry: RegistryInfo,
    pub repository: String,
    pub from: DiffSide,
    pub to: DiffSide,
    pub platforms: Vec<(String, Change)>,
    /// Layers of the compared images, by digest, in order.
    pub layers: Vec<LayerChange>,
    /// (field, from, to) for config fields that differ (env, entrypoint, cmd, user…).
    pub config: Vec<(String, String, String)>,
    /// (label, from, to) for labels that differ.
    pub labels: Vec<(String, String, String)>,
    /// Which platform was compared, when both are indexes.
    pub compared_platform: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DiffSide {
    pub reference: String,
    pub digest: String,
    /// None: the manifest does not parse.
    pub kind: Option<ArtifactKind>,
    pub size: Option<u64>,
    pub created: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Change {
    Added,
    Removed,
    Same,
    Changed,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LayerChange {
    pub digest: String,
    pub size: u64,
    pub media_type: String,
    pub change: Change,
}
