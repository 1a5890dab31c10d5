//! Signature verification under trust policies: pure, no I/O — the caller reads the signatures
//! from the registry and hands their bytes here, with the digest they should sign.
//!
//! What verifies what:
//! - cosign's simple signing (legacy `.sig` tags, and the same manifests as referrers): the
//!   payload must name the digest; with a key, the signature is checked with each trusted key
//!   by sigstore-crypto; a keyless one (certificate annotations and a Rekor bundle) is turned
//!   into the sigstore bundle it is equivalent to and checked as below.
//! - sigstore bundles (cosign v3, as OCI 1.1 referrers): sigstore-rust's `sigstore-verify`
//!   verifies the certificate chain against the policy's trusted root (`sigstore-trust-root`:
//!   the public-good instance built in, or a file), the SCT, the transparency-log inclusion
//!   proof or promise, the certificate's validity at the logged time, the signature, and that
//!   the DSSE statement (or message digest) names this digest; this crate then matches the
//!   certificate's identity and issuer.
//! - Notary Project signatures (JWS): the signature by sigstore-crypto with the leaf
//!   certificate's key, the chain to the trust store by `rustls-webpki`, the subject by this
//!   crate, at the level the policy sets.
//!
//! The arithmetic of every check is RustCrypto's (`p256`, `p384`, `ed25519-dalek`, `rsa`,
//! `sha2`), given to sigstore-crypto as its provider ([`provider`]).
//!
//! # Layout
//! - [`policy`]: trust policies, raw and validated ([`policy::build`]).
//! - [`cosign`], [`bundle`], [`notation`]: one module per signature format.
//! - [`provider`]: the RustCrypto provider. [`limits`]: the bounds on untrusted input.

pub mod bundle;
pub mod cosign;
pub mod limits;
pub mod notation;
pub mod policy;
pub mod provider;

use std::sync::Arc;

pub use policy::{RawTrustPolicy, TrustPolicies, TrustPolicy};
pub use portolan_types::verify::{Outcome, ReasonKind};

/// One signature as read from the registry: what this crate is given to verify.
#[derive(Clone, Copy, Debug)]
pub enum Evidence<'a> {
    /// cosign's simple signing: the payload layer and the annotations cosign puts on it.
    SimpleSigning {
        payload: &'a [u8],
        /// `dev.cosignproject.cosign/signature` (base64).
        signature: &'a str,
        /// `dev.sigstore.cosign/certificate` (PEM), for keyless signatures.
        certificate: Option<&'a str>,
        /// `dev.sigstore.cosign/chain` (PEM).
        chain: Option<&'a str>,
        /// `dev.sigstore.cosign/bundle`: the Rekor entry and its signed timestamp (JSON).
        rekor_bundle: Option<&'a str>,
    },
    /// A sigstore bundle (JSON).
    Bundle(&'a [u8]),
    /// A Notary Project signature envelope, JWS in JSON serialisation.
    NotationJws(&'a [u8]),
    /// A signature in a format Portolan does not verify (named).
    Unsupported(&'a str),
}

/// Why a signature is not verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reason {
    pub kind: ReasonKind,
    pub message: String,
    /// The policy that said so (None: the signature itself fails, whatever the policy).
    pub policy: Option<String>,
}

impl Reason {
    pub fn new(kind: ReasonKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into(), policy: None }
    }

    fn of(policy: &TrustPolicy, kind: ReasonKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into(), policy: Some(policy.name.clone()) }
    }

    /// How decisive a reason is, when several policies fail a signature for different
    /// reasons: what is wrong with the signature itself first, then its trust chain, then
    /// whose it is.
    fn rank(&self) -> u8 {
        match self.kind {
            ReasonKind::WrongDigest => 0,
            ReasonKind::Malformed => 1,
            ReasonKind::BadSignature => 2,
            ReasonKind::Unsupported => 3,
            ReasonKind::ExpiredCertificate => 4,
            ReasonKind::UntrustedRoot => 5,
            ReasonKind::TransparencyLog => 6,
            ReasonKind::SignatureExpired => 7,
            ReasonKind::IssuerMismatch => 8,
            ReasonKind::IdentityMismatch => 9,
            ReasonKind::UnknownKey => 10,
            ReasonKind::PolicySkips => 11,
            ReasonKind::TooMany | ReasonKind::Unreadable => 12,
            ReasonKind::NoPolicy => 13,
        }
    }
}

/// What verifying one signature concluded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    /// `cosign (key)`, `cosign (keyless)`, `sigstore bundle (keyless)`, `Notary Project (JWS)`…
    pub format: String,
    /// Verified by this policy, or why not.
    pub result: Result<String, Reason>,
    /// Who signed: the key's name, the certificate identity and issuer, the subject — as
    /// verified, or as the signature claims when it is not.
    pub signer: Option<String>,
    /// When it was signed (Unix seconds): a transparency log's time when verified, else the
    /// time the signature claims.
    pub signed_at: Option<i64>,
    /// Failures the policy only notes (Notary Project `permissive` and `audit`).
    pub warnings: Vec<String>,
    /// Not a signature after all (a sigstore bundle carrying an attestation): not counted.
    pub attestation: bool,
}

impl Check {
    fn new(format: &str) -> Self {
        Self {
            format: format.to_owned(),
            result: Err(Reason::new(ReasonKind::NoPolicy, "no trust policy covers this repository")),
            signer: None,
            signed_at: None,
            warnings: Vec::new(),
            attestation: false,
        }
    }

    pub fn verified(&self) -> bool {
        self.result.is_ok()
    }

    pub fn failed(format: &str, reason: Reason) -> Self {
        Self { result: Err(reason), ..Self::new(format) }
    }
}

/// Keeps the most decisive of the failures seen so far.
fn worse(current: &mut Option<Reason>, candidate: Reason) {
    if current.as_ref().is_none_or(|c| candidate.rank() < c.rank()) {
        *current = Some(candidate);
    }
}

/// Verifies one signature of the artifact `subject` (a `sha256:…` digest) under `policies`
/// (those covering its repository), at `now` (Unix seconds). Never panics: a panic inside a
/// verifier on hostile input becomes a "malformed" reason.
pub fn verify(policies: &[Arc<TrustPolicy>], subject: &str, evidence: &Evidence<'_>, now: i64) -> Check {
    provider::install();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| verify_inner(policies, subject, evidence, now)));
    outcome.unwrap_or_else(|_| {
        Check::failed("signature", Reason::new(ReasonKind::Malformed, "the signature could not be read (its verifier failed on it)"))
    })
}

fn verify_inner(policies: &[Arc<TrustPolicy>], subject: &str, evidence: &Evidence<'_>, now: i64) -> Check {
    match *evidence {
        Evidence::SimpleSigning { payload, signature, certificate, chain, rekor_bundle } => {
            cosign::verify(policies, subject, &cosign::SimpleSigning { payload, signature, certificate, chain, rekor_bundle }, now)
        }
        Evidence::Bundle(json) => bundle::verify(policies, subject, json, now),
        Evidence::NotationJws(envelope) => notation::verify(policies, subject, envelope, now),
        Evidence::Unsupported(what) => {
            Check::failed(what, Reason::new(ReasonKind::Unsupported, format!("{what} signatures are not verified by Portolan")))
        }
    }
}

/// The outcome of an artifact from its signatures' checks (attestations left out).
pub fn outcome(checks: &[Check]) -> Outcome {
    let signatures: Vec<&Check> = checks.iter().filter(|c| !c.attestation).collect();
    if signatures.is_empty() {
        Outcome::Unsigned
    } else if signatures.iter().any(|c| c.verified()) {
        Outcome::Verified
    } else {
        Outcome::NotVerified
    }
}

/// The most telling reason among checks that failed (attestations left out).
pub fn most_telling(checks: &[Check]) -> Option<&Reason> {
    checks.iter().filter(|c| !c.attestation).filter_map(|c| c.result.as_ref().err()).min_by_key(|r| r.rank())
}

/// `sha256:<hex>` → the 32 bytes, if it is one.
pub(crate) fn sha256_of_digest(digest: &str) -> Option<sigstore_types::Sha256Hash> {
    let hex = digest.strip_prefix("sha256:")?;
    sigstore_types::Sha256Hash::from_hex(hex).ok()
}
