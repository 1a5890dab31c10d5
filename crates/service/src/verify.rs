//! Signature verification for the pages, the JSON API, badges and retention: an artifact's
//! signatures are collected from wherever registries keep them — OCI 1.1 referrers (the API
//! or the fallback tag's index) and cosign's legacy `sha256-<hex>.sig` tags — read (bounded),
//! and verified off the async runtime by `portolan-verify` under the trust policies covering
//! the repository.
//!
//! Outcomes are kept by digest and by the list of signatures referring to it: a digest's
//! manifest never changes, so its outcome changes only when its referrers do (or with time, for
//! certificates and signatures that expire: kept [`KEEP`] at most). Concurrent asks for the
//! same artifact wait for one verification.

use std::sync::Arc;

use futures::StreamExt;
use portolan_model::{Outcome, ReasonKind, SignatureResult, Verification};
use portolan_oci::{ArtifactKind, Manifest, Reference, RepoName, media};
use portolan_verify::limits::{MAX_ENVELOPE, MAX_PAYLOAD, MAX_SIGNATURES};
use portolan_verify::{Check, Evidence, Reason, TrustPolicies, cosign};

use crate::{Error, Registry, Result};

/// How long an outcome is kept (certificates, signatures and trust change with time).
pub const KEEP: std::time::Duration = std::time::Duration::from_secs(15 * 60);
/// Outcomes kept at most.
const KEPT: u64 = 20_000;
/// Signature manifests read at once for one artifact.
const READ_FAN_OUT: usize = 8;

/// (registry, repository, artifact digest, its signature referrers' digests).
type Key = (String, String, String, Arc<[String]>);

/// The trust policies and the outcomes verified under them.
pub struct Verifier {
    policies: TrustPolicies,
    kept: moka::future::Cache<Key, Arc<Verification>>,
}

impl Default for Verifier {
    fn default() -> Self {
        Self::new(TrustPolicies::default())
    }
}

impl Verifier {
    pub fn new(policies: TrustPolicies) -> Self {
        Self { policies, kept: moka::future::Cache::builder().max_capacity(KEPT).time_to_live(KEEP).build() }
    }

    pub fn policies(&self) -> &TrustPolicies {
        &self.policies
    }

    /// Whether any trust policy covers this repository (so pages show verification there).
    pub fn covers(&self, registry: &str, repository: &str) -> bool {
        !self.policies.covering(registry, repository).is_empty()
    }

    /// The verification of `digest` where a trust policy covers the repository; None where
    /// none does.
    pub async fn verify_covered(&self, registry: &Registry, repo: &RepoName, digest: &str) -> Result<Option<Arc<Verification>>> {
        if !self.covers(&registry.info.name, repo.as_str()) {
            return Ok(None);
        }
        self.verify(registry, repo, digest).await.map(Some)
    }

    /// The verification of `digest` (with no policy covering the repository, each signature
    /// says so).
    pub async fn verify(&self, registry: &Registry, repo: &RepoName, digest: &str) -> Result<Arc<Verification>> {
        portolan_oci::name::parse_digest(digest)?;
        let (referrers, _) = registry.client.referrers(repo, digest, None).await?;
        let mut signatures: Vec<portolan_oci::Referrer> = referrers.into_iter().filter(is_signature).collect();
        // Legacy `.sig` tags first (cosign's most common form), then by digest: the same order
        // every time, whatever order the registry lists them in.
        signatures.sort_by_key(|r| (!matches!(r.source, portolan_oci::ReferrerSource::CosignTag(_)), r.digest()));
        let key: Key = (
            registry.info.name.clone(),
            repo.to_string(),
            digest.to_owned(),
            signatures.iter().map(portolan_oci::Referrer::digest).collect::<Vec<_>>().into(),
        );
        let policies = self.policies.covering(&registry.info.name, repo.as_str());
        let (registry, repo, digest) = (registry.clone(), repo.clone(), digest.to_owned());
        self.kept
            .try_get_with(key, async move { verify_now(&registry, &repo, &digest, signatures, policies).await.map(Arc::new) })
            .await
            .map_err(|e| (*e).clone())
    }

    /// Verifies every tagged manifest of `inventory` (a few at a time, through the kept
    /// outcomes) and records what each concluded, for a retention policy that keeps verified
    /// artifacts. Repositories no trust policy covers are left as they are.
    pub async fn annotate(&self, registry: &Registry, repo: &RepoName, inventory: &mut portolan_inventory::Inventory) {
        if !self.covers(&registry.info.name, repo.as_str()) {
            return;
        }
        let digests: std::collections::BTreeSet<String> =
            inventory.tags.iter().filter(|t| t.referrer_of.is_none()).map(|t| t.digest.clone()).collect();
        let checks: Vec<_> = digests
            .into_iter()
            .map(|digest: String| async move {
                let verdict = match self.verify(registry, repo, &digest).await {
                    Ok(v) => portolan_inventory::Verdict { verified: v.outcome == Outcome::Verified, says: v.summary() },
                    Err(e) => {
                        portolan_inventory::Verdict { verified: false, says: format!("not verified: the signatures cannot be read ({e})") }
                    }
                };
                (digest, verdict)
            })
            .collect();
        let verdicts: Vec<(String, portolan_inventory::Verdict)> =
            futures::stream::iter(checks).buffer_unordered(READ_FAN_OUT).collect().await;
        inventory.verified.extend(verdicts);
    }

    /// How many outcomes are kept (for tests).
    pub async fn kept(&self) -> u64 {
        self.kept.run_pending_tasks().await;
        self.kept.entry_count()
    }
}

/// Whether a referrer is a signature (by its artifact type; legacy `.sig` tags by their layer).
fn is_signature(r: &portolan_oci::Referrer) -> bool {
    if r.kind() != ArtifactKind::Signature {
        return false;
    }
    // A sigstore bundle whose listing says it carries an attestation is not a signature.
    let predicate = r.descriptor.annotations().as_ref().and_then(|a| a.get("dev.sigstore.bundle.predicateType"));
    predicate.is_none_or(|p| p == portolan_verify::bundle::COSIGN_SIGN_PREDICATE)
}

/// What one signature layer is, read: the evidence `portolan-verify` takes, owned.
enum Read {
    SimpleSigning {
        payload: bytes::Bytes,
        signature: String,
        certificate: Option<String>,
        chain: Option<String>,
        rekor_bundle: Option<String>,
    },
    Bundle(bytes::Bytes),
    Jws(bytes::Bytes),
    Unsupported(String),
    /// Could not be read from the registry (why).
    Unreadable(String),
    /// The bundle carries an attestation: not a signature.
    Attestation,
}

impl Read {
    fn evidence(&self) -> Option<Evidence<'_>> {
        Some(match self {
            Read::SimpleSigning { payload, signature, certificate, chain, rekor_bundle } => Evidence::SimpleSigning {
                payload,
                signature,
                certificate: certificate.as_deref(),
                chain: chain.as_deref(),
                rekor_bundle: rekor_bundle.as_deref(),
            },
            Read::Bundle(b) => Evidence::Bundle(b),
            Read::Jws(b) => Evidence::NotationJws(b),
            Read::Unsupported(what) => Evidence::Unsupported(what),
            Read::Unreadable(_) | Read::Attestation => return None,
        })
    }
}

/// One signature found: where, which layer, what it is.
struct Found {
    digest: String,
    layer: usize,
    source: String,
    read: Read,
}

/// Reads the signature layers of one signature manifest (at most `room` of them).
async fn read_manifest(registry: &Registry, repo: &RepoName, referrer: &portolan_oci::Referrer, room: usize) -> Vec<Found> {
    let digest = referrer.digest();
    let source = crate::artifact::source_label(&referrer.source);
    let found = |layer: usize, read: Read| Found { digest: digest.clone(), layer, source: source.clone(), read };
    let parsed = match portolan_oci::name::parse_digest(&digest) {
        Ok(d) => d,
        Err(e) => return vec![found(0, Read::Unreadable(e.message().to_owned()))],
    };
    let doc = match registry.client.manifest(repo, &Reference::Digest(parsed)).await {
        Ok(doc) => doc,
        Err(e) => return vec![found(0, Read::Unreadable(format!("the signature manifest cannot be read ({})", e.message())))],
    };
    let manifest = match doc.manifest() {
        Ok(Manifest::Image(m)) => m.clone(),
        Ok(Manifest::Index(_)) => return vec![found(0, Read::Unsupported("an index as signature".to_owned()))],
        Err(e) => return vec![found(0, Read::Unreadable(format!("the signature manifest is not OCI ({})", e.message())))],
    };
    let artifact_type = manifest.artifact_type().as_ref().map(ToString::to_string).unwrap_or_default();
    let predicate = manifest.annotations().as_ref().and_then(|a| a.get("dev.sigstore.bundle.predicateType")).cloned();
    if artifact_type.starts_with(media::SIGSTORE_BUNDLE_PREFIX)
        && predicate.is_some_and(|p| p != portolan_verify::bundle::COSIGN_SIGN_PREDICATE)
    {
        return vec![found(0, Read::Attestation)];
    }
    let mut out = Vec::new();
    for (layer, d) in manifest.layers().iter().enumerate().take(room) {
        let media_type = d.media_type().to_string();
        let annotation = |k: &str| d.annotations().as_ref().and_then(|a| a.get(k)).cloned();
        let blob = |cap: usize| {
            let digest = d.digest().to_string();
            async move { registry.client.blob(repo, &digest, Some(cap as u64)).await }
        };
        let read = if media_type == media::COSIGN_SIMPLESIGNING {
            match blob(MAX_PAYLOAD).await {
                Ok(payload) => Read::SimpleSigning {
                    payload,
                    signature: annotation(cosign::SIGNATURE_ANNOTATION).unwrap_or_default(),
                    certificate: annotation(cosign::CERTIFICATE_ANNOTATION),
                    chain: annotation(cosign::CHAIN_ANNOTATION),
                    rekor_bundle: annotation(cosign::BUNDLE_ANNOTATION),
                },
                Err(e) => Read::Unreadable(format!("the payload cannot be read ({})", e.message())),
            }
        } else if media_type.starts_with(media::SIGSTORE_BUNDLE_PREFIX)
            || (artifact_type.starts_with(media::SIGSTORE_BUNDLE_PREFIX) && media_type.contains("json"))
        {
            match blob(MAX_ENVELOPE).await {
                Ok(bytes) => Read::Bundle(bytes),
                Err(e) => Read::Unreadable(format!("the bundle cannot be read ({})", e.message())),
            }
        } else if artifact_type == media::NOTARY_SIGNATURE && media_type == "application/jose+json" {
            match blob(MAX_ENVELOPE).await {
                Ok(bytes) => Read::Jws(bytes),
                Err(e) => Read::Unreadable(format!("the envelope cannot be read ({})", e.message())),
            }
        } else if artifact_type == media::NOTARY_SIGNATURE && media_type.contains("cose") {
            Read::Unsupported("Notary Project (COSE)".to_owned())
        } else {
            continue;
        };
        out.push(found(layer, read));
    }
    if out.is_empty() {
        out.push(found(0, Read::Unsupported(format!("a signature of type {artifact_type}"))));
    }
    out
}

/// Reads and verifies `signatures` of `digest` under `policies`.
async fn verify_now(
    registry: &Registry,
    repo: &RepoName,
    digest: &str,
    signatures: Vec<portolan_oci::Referrer>,
    policies: Vec<Arc<portolan_verify::TrustPolicy>>,
) -> Result<Verification> {
    let read_count = signatures.len().min(MAX_SIGNATURES);
    let not_checked = signatures.len() - read_count;
    let mut found: Vec<Found> = Vec::new();
    // Owned futures (each with its own handles): a few signature manifests read at once.
    let reads: Vec<_> = signatures
        .into_iter()
        .take(read_count)
        .map(|r| {
            let (registry, repo) = (registry.clone(), repo.clone());
            async move { read_manifest(&registry, &repo, &r, MAX_SIGNATURES).await }
        })
        .collect();
    let mut reads = futures::stream::iter(reads).buffered(READ_FAN_OUT);
    while let Some(layers) = reads.next().await {
        let room = MAX_SIGNATURES.saturating_sub(found.len());
        found.extend(layers.into_iter().take(room));
    }
    drop(reads);
    let subject = digest.to_owned();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    // Verifying is CPU work on untrusted input: off the async runtime.
    let (found, checks) = tokio::task::spawn_blocking(move || {
        let checks: Vec<Check> = found
            .iter()
            .map(|f| match (&f.read, f.read.evidence()) {
                (_, Some(evidence)) => portolan_verify::verify(&policies, &subject, &evidence, now),
                (Read::Unreadable(why), None) => Check::failed("signature", Reason::new(ReasonKind::Unreadable, why.clone())),
                (_, None) => {
                    let mut c = Check::failed("sigstore bundle", Reason::new(ReasonKind::Unsupported, "an attestation, not a signature"));
                    c.attestation = true;
                    c
                }
            })
            .collect();
        (found, checks)
    })
    .await
    .map_err(|e| Error::Internal(format!("verifying signatures failed ({e})")))?;
    Ok(verification_of(digest, &found, &checks, not_checked))
}

fn verification_of(digest: &str, found: &[Found], checks: &[Check], not_checked: usize) -> Verification {
    let mut signatures = Vec::new();
    for (f, c) in found.iter().zip(checks) {
        if c.attestation {
            continue;
        }
        let (policy, reason, message) = match &c.result {
            Ok(policy) => (Some(policy.clone()), None, None),
            Err(r) => (r.policy.clone(), Some(r.kind), Some(r.message.clone())),
        };
        signatures.push(SignatureResult {
            digest: f.digest.clone(),
            layer: f.layer,
            format: c.format.clone(),
            source: f.source.clone(),
            verified: c.verified(),
            policy,
            signer: c.signer.clone(),
            signed_at: c.signed_at,
            reason,
            message,
            warnings: c.warnings.clone(),
        });
    }
    let mut outcome = portolan_verify::outcome(checks);
    if outcome == Outcome::Unsigned && not_checked > 0 {
        outcome = Outcome::NotVerified;
    }
    let verified = signatures.iter().find(|s| s.verified);
    let (reason, message) = match (outcome, portolan_verify::most_telling(checks)) {
        (Outcome::NotVerified, _) if not_checked > 0 => (
            Some(ReasonKind::TooMany),
            Some(format!(
                "none of the {} signatures checked verifies, and {not_checked} more were not checked (Portolan checks {MAX_SIGNATURES} per artifact)",
                signatures.len()
            )),
        ),
        (Outcome::NotVerified, Some(r)) => (Some(r.kind), Some(r.message.clone())),
        _ => (None, None),
    };
    Verification {
        digest: digest.to_owned(),
        outcome,
        policy: verified.and_then(|s| s.policy.clone()),
        signer: verified.and_then(|s| s.signer.clone()),
        reason,
        message,
        signatures,
        not_checked,
    }
}
