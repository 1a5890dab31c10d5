//! Sigstore bundles — cosign v3's image signatures, attached as OCI 1.1 referrers — verified by
//! sigstore-rust's `sigstore-verify` against each policy's trusted root; this module matches
//! the certificate's issuer and identity (exact, glob or regex) and names the reason when a
//! bundle fails.
//!
//! A bundle is a signature of the image when it signs the image's digest: a message
//! signature whose `messageDigest` is the manifest's, or a DSSE envelope whose in-toto
//! statement has cosign's signing predicate (`https://sigstore.dev/cosign/sign/v1`) and names
//! the digest as its subject. Bundles of other statements (SLSA provenance, SBOMs) are
//! attestations: they are not counted as signatures.

use std::sync::Arc;

use sigstore_types::{Artifact, Bundle, SignatureContent};
use sigstore_verify::{CertificateError, Error, PublicKeyVerificationPolicy, TransparencyLogError, VerificationPolicy};

use crate::limits::{MAX_CHAIN, MAX_ENVELOPE};
use crate::policy::TrustPolicy;
use crate::{Check, Reason, ReasonKind, sha256_of_digest, worse};

/// The in-toto predicate type of a cosign image signature.
pub const COSIGN_SIGN_PREDICATE: &str = "https://sigstore.dev/cosign/sign/v1";

/// Verifies a sigstore bundle (JSON) as a signature of `subject`.
pub fn verify(policies: &[Arc<TrustPolicy>], subject: &str, json: &[u8], now: i64) -> Check {
    let mut check = Check::new("sigstore bundle");
    let bundle = match parse(json) {
        Ok(b) => b,
        Err(reason) => return Check::failed("sigstore bundle", reason),
    };
    if let SignatureContent::DsseEnvelope(envelope) = &bundle.content
        && let Some(predicate) = predicate_type(envelope)
        && predicate != COSIGN_SIGN_PREDICATE
    {
        check.format = format!("sigstore bundle ({predicate})");
        check.attestation = true;
        check.result = Err(Reason::new(ReasonKind::Unsupported, "an attestation, not a signature"));
        return check;
    }
    let Some(digest) = sha256_of_digest(subject) else {
        return Check::failed("sigstore bundle", Reason::new(ReasonKind::Unsupported, "only sha256 digests are verified"));
    };
    verify_parsed(policies, Artifact::from_digest(digest), &bundle, "sigstore bundle", now)
}

/// A bundle from untrusted bytes: bounded, parsed, its certificate chain bounded.
pub(crate) fn parse(json: &[u8]) -> Result<Bundle, Reason> {
    if json.len() > MAX_ENVELOPE {
        return Err(Reason::new(ReasonKind::Malformed, format!("the bundle is larger than {} KiB", MAX_ENVELOPE / 1024)));
    }
    let text = std::str::from_utf8(json).map_err(|_| Reason::new(ReasonKind::Malformed, "the bundle is not UTF-8 text"))?;
    let bundle = Bundle::from_json(text).map_err(|e| Reason::new(ReasonKind::Malformed, format!("not a sigstore bundle ({e})")))?;
    if let sigstore_types::bundle::VerificationMaterialContent::X509CertificateChain { certificates } =
        &bundle.verification_material.content
        && certificates.len() > MAX_CHAIN
    {
        return Err(Reason::new(ReasonKind::Malformed, format!("the certificate chain is longer than {MAX_CHAIN} certificates")));
    }
    if bundle.verification_material.tlog_entries.len() > MAX_CHAIN {
        return Err(Reason::new(ReasonKind::Malformed, format!("more than {MAX_CHAIN} transparency-log entries")));
    }
    Ok(bundle)
}

/// The in-toto predicate type a DSSE envelope's statement has, if it is one.
fn predicate_type(envelope: &sigstore_types::DsseEnvelope) -> Option<String> {
    if envelope.payload_type != "application/vnd.in-toto+json" {
        return None;
    }
    let statement: serde_json::Value = serde_json::from_slice(envelope.payload.as_bytes()).ok()?;
    statement.get("predicateType").and_then(serde_json::Value::as_str).map(str::to_owned)
}

/// Verifies a parsed bundle over `artifact` (the image digest, or a cosign payload) under each
/// policy, until one verifies it.
pub(crate) fn verify_parsed(policies: &[Arc<TrustPolicy>], artifact: Artifact<'_>, bundle: &Bundle, format: &str, now: i64) -> Check {
    let _ = now;
    match bundle.signing_certificate() {
        Some(certificate) => keyless(policies, artifact, bundle, certificate, &format!("{format} (keyless)")),
        None => with_keys(policies, artifact, bundle, &format!("{format} (key)")),
    }
}

fn keyless(
    policies: &[Arc<TrustPolicy>],
    artifact: Artifact<'_>,
    bundle: &Bundle,
    certificate: &sigstore_types::DerCertificate,
    format: &str,
) -> Check {
    let mut check = Check::new(format);
    let info = sigstore_crypto::parse_certificate_info(certificate).ok();
    // When the bundle says it was logged (checked by sigstore-verify; used here only to name
    // why a chain failed).
    let logged: Vec<jiff::Timestamp> = bundle.verification_material.tlog_entries.iter().filter_map(|e| e.integrated_time).collect();
    let outside_validity = |reason: Reason| -> Reason {
        match &info {
            Some(i)
                if reason.kind == ReasonKind::UntrustedRoot
                    && !logged.is_empty()
                    && logged.iter().all(|t| *t < i.not_before || *t > i.not_after) =>
            {
                Reason {
                    kind: ReasonKind::ExpiredCertificate,
                    message: format!(
                        "the certificate (valid from {} to {}) was not valid when the signature was logged ({})",
                        i.not_before, i.not_after, logged[0]
                    ),
                    policy: reason.policy,
                }
            }
            _ => reason,
        }
    };
    // Who the certificate says signed, shown even when it is not trusted.
    if let Some(info) = &info {
        check.signer = info.identity.as_ref().map(|i| match &info.issuer {
            Some(issuer) => format!("{} (issuer {issuer})", i.as_str()),
            None => i.as_str().to_owned(),
        });
    }
    let mut best: Option<Reason> = None;
    // Each trusted root is asked once per set of options, however many signers name it.
    let mut asked: Vec<(*const crate::policy::Root, bool, bool, Result<Verified, Reason>)> = Vec::new();
    for policy in policies {
        if policy.keyless.is_empty() {
            worse(&mut best, Reason::of(policy, ReasonKind::UnknownKey, format!("policy {} trusts no keyless signer", policy.name)));
            continue;
        }
        for signer in &policy.keyless {
            let key = (Arc::as_ptr(&policy.root), signer.require_tlog, signer.require_sct);
            let verified = match asked.iter().find(|(r, t, s, _)| (*r, *t, *s) == key) {
                Some((.., v)) => v.clone(),
                None => {
                    let mut options = VerificationPolicy::any_identity();
                    if !signer.require_tlog {
                        options = options.skip_tlog_unsafe();
                    }
                    if !signer.require_sct {
                        options = options.skip_sct();
                    }
                    let v = policy
                        .root
                        .verifier
                        .verify(artifact.clone(), bundle, &options)
                        .map(|r| Verified {
                            identity: r.identity().map(|i| i.as_str().to_owned()),
                            issuer: r.issuer().map(str::to_owned),
                            at: r.integrated_time().or_else(|| r.verified_timestamps().iter().min().copied()).map(|t| t.as_second()),
                        })
                        .map_err(|e| outside_validity(reason_of(policy, &e)));
                    asked.push((key.0, key.1, key.2, v.clone()));
                    v
                }
            };
            match verified {
                Err(mut reason) => {
                    reason.policy = Some(policy.name.clone());
                    worse(&mut best, reason);
                }
                Ok(v) => {
                    check.signed_at = v.at;
                    let identity = v.identity.clone().unwrap_or_default();
                    let issuer = v.issuer.clone().unwrap_or_default();
                    if issuer != signer.issuer {
                        worse(
                            &mut best,
                            Reason::of(
                                policy,
                                ReasonKind::IssuerMismatch,
                                format!("issued for {issuer:?}, but policy {} trusts {:?}", policy.name, signer.issuer),
                            ),
                        );
                    } else if !signer.identity.matches(&identity) {
                        worse(
                            &mut best,
                            Reason::of(
                                policy,
                                ReasonKind::IdentityMismatch,
                                format!("signed by {identity:?}, but policy {} trusts {}", policy.name, signer.identity),
                            ),
                        );
                    } else {
                        check.signer = Some(format!("{identity} (issuer {issuer})"));
                        check.result = Ok(policy.name.clone());
                        return check;
                    }
                }
            }
        }
    }
    check.result = Err(best.unwrap_or_else(|| Reason::new(ReasonKind::NoPolicy, "no trust policy covers this repository")));
    check
}

#[derive(Clone)]
struct Verified {
    identity: Option<String>,
    issuer: Option<String>,
    at: Option<i64>,
}

fn with_keys(policies: &[Arc<TrustPolicy>], artifact: Artifact<'_>, bundle: &Bundle, format: &str) -> Check {
    let mut check = Check::new(format);
    let mut best: Option<Reason> = None;
    for policy in policies {
        if policy.keys.is_empty() {
            worse(&mut best, Reason::of(policy, ReasonKind::UnknownKey, format!("policy {} trusts no cosign key", policy.name)));
            continue;
        }
        let mut wrong_key = 0;
        let mut other: Option<Reason> = None;
        for key in &policy.keys {
            let mut options = PublicKeyVerificationPolicy::new(key.key.clone());
            if !policy.require_tlog_for_keys {
                options = options.skip_tlog_unsafe();
            }
            match policy.root.verifier.verify(artifact.clone(), bundle, &options) {
                Ok(result) => {
                    check.result = Ok(policy.name.clone());
                    check.signer = Some(key.name.clone());
                    check.signed_at = result.integrated_time().map(|t| t.as_second());
                    return check;
                }
                // A signature that does not verify with this key, or a key of another
                // algorithm: another key's signature, as far as this key can tell.
                Err(Error::SignatureInvalid(_) | Error::Crypto(_)) => wrong_key += 1,
                Err(e) => worse(&mut other, reason_of(policy, &e)),
            }
        }
        match other {
            Some(reason) => worse(&mut best, reason),
            None => worse(
                &mut best,
                Reason::of(
                    policy,
                    ReasonKind::UnknownKey,
                    format!("made with a key policy {} does not trust (none of its {wrong_key} keys verifies it)", policy.name),
                ),
            ),
        }
    }
    check.result = Err(best.unwrap_or_else(|| Reason::new(ReasonKind::NoPolicy, "no trust policy covers this repository")));
    check
}

/// Why sigstore-verify refused a bundle, in Portolan's words.
pub(crate) fn reason_of(policy: &TrustPolicy, e: &Error) -> Reason {
    let kind = match e {
        Error::SignatureInvalid(_) => ReasonKind::BadSignature,
        Error::ArtifactMismatch(_) => ReasonKind::WrongDigest,
        Error::Certificate(CertificateError::Expired { .. } | CertificateError::NotYetValid { .. }) => ReasonKind::ExpiredCertificate,
        Error::Certificate(CertificateError::Malformed(_)) => ReasonKind::Malformed,
        Error::Certificate(_) => ReasonKind::UntrustedRoot,
        Error::TransparencyLog(TransparencyLogError::MalformedEntry(_)) => ReasonKind::Malformed,
        Error::TransparencyLog(_) | Error::Timestamp(_) => ReasonKind::TransparencyLog,
        Error::IdentityMismatch { .. } => ReasonKind::IdentityMismatch,
        Error::IssuerMismatch { .. } => ReasonKind::IssuerMismatch,
        Error::UnsupportedArtifact(_) | Error::UnsupportedBundle(_) => ReasonKind::Unsupported,
        _ => ReasonKind::Malformed,
    };
    let message = match kind {
        ReasonKind::UntrustedRoot => format!("the certificate does not lead to trusted root {} ({e})", policy.root.name),
        ReasonKind::TransparencyLog => format!("no verified transparency-log entry in trusted root {} ({e})", policy.root.name),
        ReasonKind::WrongDigest => format!("it signs another artifact ({e})"),
        ReasonKind::BadSignature => format!("the signature does not match what it signs: changed after signing ({e})"),
        ReasonKind::ExpiredCertificate => format!("the certificate was not valid when it signed ({e})"),
        _ => e.to_string(),
    };
    Reason::of(policy, kind, message)
}
