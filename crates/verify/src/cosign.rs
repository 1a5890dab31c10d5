//! cosign's simple signing: a JSON payload naming the image digest
//! (`critical.image.docker-manifest-digest`), signed; the signature, and for keyless
//! signatures the certificate, its chain and the Rekor entry, in the layer's annotations. That
//! is what cosign pushes as `sha256-<hex>.sig` tags (and as referrers with
//! `--registry-referrers-mode=oci-1-1`).
//!
//! With a key, the signature is checked with each trusted key (sigstore-crypto); with a
//! certificate, the annotations are the sigstore bundle (v0.1) they are equivalent to, checked
//! by [`crate::bundle`] over the payload's bytes. Either way the payload must name this digest:
//! a signature copied from another image fails whoever signed it.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use sigstore_crypto::KeyAlgorithm;
use sigstore_types::{Artifact, Bundle, SignatureBytes};

use crate::limits::{MAX_CHAIN, MAX_ENVELOPE, MAX_PAYLOAD};
use crate::policy::{CosignKey, TrustPolicy};
use crate::{Check, Reason, ReasonKind, worse};

/// The annotation holding a simple-signing layer's signature.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// The signing certificate of a keyless signature (PEM).
pub const CERTIFICATE_ANNOTATION: &str = "dev.sigstore.cosign/certificate";
/// Its chain up to the root (PEM).
pub const CHAIN_ANNOTATION: &str = "dev.sigstore.cosign/chain";
/// The Rekor entry and its signed entry timestamp (JSON).
pub const BUNDLE_ANNOTATION: &str = "dev.sigstore.cosign/bundle";

/// One simple-signing layer, as read.
#[derive(Clone, Copy, Debug)]
pub struct SimpleSigning<'a> {
    pub payload: &'a [u8],
    pub signature: &'a str,
    pub certificate: Option<&'a str>,
    pub chain: Option<&'a str>,
    pub rekor_bundle: Option<&'a str>,
}

/// The digest a simple-signing payload names, or why it names none.
pub fn payload_digest(payload: &[u8]) -> Result<String, Reason> {
    if payload.len() > MAX_PAYLOAD {
        return Err(Reason::new(ReasonKind::Malformed, format!("the payload is larger than {} KiB", MAX_PAYLOAD / 1024)));
    }
    let doc: Value =
        serde_json::from_slice(payload).map_err(|e| Reason::new(ReasonKind::Malformed, format!("the payload is not JSON ({e})")))?;
    doc.pointer("/critical/image/docker-manifest-digest")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| Reason::new(ReasonKind::Malformed, "the payload names no digest (critical.image.docker-manifest-digest)"))
}

/// Verifies one simple-signing layer as a signature of `subject`.
pub fn verify(policies: &[Arc<TrustPolicy>], subject: &str, s: &SimpleSigning<'_>, now: i64) -> Check {
    let keyless = s.certificate.is_some_and(|c| !c.trim().is_empty());
    let format = if keyless { "cosign (keyless)" } else { "cosign (key)" };
    let named = match payload_digest(s.payload) {
        Ok(d) => d,
        Err(reason) => return Check::failed(format, reason),
    };
    if !named.eq_ignore_ascii_case(subject) {
        return Check::failed(
            format,
            Reason::new(
                ReasonKind::WrongDigest,
                format!("the payload signs {named}, not this artifact: a signature copied from another one"),
            ),
        );
    }
    let signature = match STANDARD.decode(s.signature.trim()) {
        Ok(sig) if !sig.is_empty() && sig.len() <= 1024 => sig,
        _ => {
            return Check::failed(
                format,
                Reason::new(ReasonKind::Malformed, format!("the {SIGNATURE_ANNOTATION} annotation is not a signature (base64)")),
            );
        }
    };
    if keyless {
        let bundle = match legacy_bundle(s, &signature, None) {
            Ok(b) => b,
            Err(reason) => return Check::failed(format, reason),
        };
        let mut check = crate::bundle::verify_parsed(policies, Artifact::from_blob(s.payload), &bundle, "cosign", now);
        check.format = format.to_owned();
        return check;
    }
    with_keys(policies, s, &signature, format)
}

fn scheme_of(key: &CosignKey) -> sigstore_crypto::SigningScheme {
    // cosign signs with SHA-256 for P-256 and RSA (PKCS #1 v1.5), SHA-384 for P-384, and
    // Ed25519 over the payload itself.
    key.algorithm.default_signing_scheme()
}

/// Whether `signature` has the shape of a signature by a key of `algorithm` (so a failure to
/// verify means another key or changed bytes, not garbage).
fn well_formed(signature: &[u8], key: &CosignKey) -> bool {
    match key.algorithm {
        KeyAlgorithm::EcdsaP256 => p256::ecdsa::Signature::from_der(signature).is_ok(),
        KeyAlgorithm::EcdsaP384 => p384::ecdsa::Signature::from_der(signature).is_ok(),
        KeyAlgorithm::Ed25519 => signature.len() == 64,
        KeyAlgorithm::Rsa => sigstore_crypto::VerificationKey::from_spki(&key.key)
            .is_ok_and(|k| crate::policy::rsa_bits(k.as_bytes()) == Some(signature.len() * 8)),
        _ => false,
    }
}

fn with_keys(policies: &[Arc<TrustPolicy>], s: &SimpleSigning<'_>, signature: &[u8], format: &str) -> Check {
    let mut check = Check::new(format);
    let mut best: Option<Reason> = None;
    let mut shaped = false;
    let mut tried = false;
    for policy in policies {
        if policy.keys.is_empty() {
            worse(&mut best, Reason::of(policy, ReasonKind::UnknownKey, format!("policy {} trusts no cosign key", policy.name)));
            continue;
        }
        if policy.require_tlog_for_keys {
            // The transparency log decides: the payload, signature and key must be the ones
            // logged.
            let Some(_) = s.rekor_bundle else {
                worse(
                    &mut best,
                    Reason::of(
                        policy,
                        ReasonKind::TransparencyLog,
                        format!(
                            "policy {} requires a transparency-log entry, and the signature has none ({BUNDLE_ANNOTATION})",
                            policy.name
                        ),
                    ),
                );
                continue;
            };
            let bundle = match legacy_bundle(s, signature, Some("")) {
                Ok(b) => b,
                Err(reason) => {
                    worse(&mut best, reason);
                    continue;
                }
            };
            let mut logged =
                crate::bundle::verify_parsed(std::slice::from_ref(policy), Artifact::from_blob(s.payload), &bundle, "cosign", 0);
            if logged.verified() {
                logged.format = format.to_owned();
                return logged;
            }
            if let Err(reason) = logged.result {
                worse(&mut best, reason);
            }
            continue;
        }
        for key in &policy.keys {
            tried = true;
            shaped |= well_formed(signature, key);
            if sigstore_crypto::verify_signature(&key.key, s.payload, &SignatureBytes::new(signature.to_vec()), scheme_of(key)).is_ok() {
                check.result = Ok(policy.name.clone());
                check.signer = Some(key.name.clone());
                return check;
            }
        }
        worse(
            &mut best,
            Reason::of(
                policy,
                ReasonKind::UnknownKey,
                format!("made with a key policy {} does not trust (none of its {} keys verifies it)", policy.name, policy.keys.len()),
            ),
        );
    }
    if tried && !shaped {
        check.result = Err(Reason::new(
            ReasonKind::Malformed,
            "the signature is not a well-formed ECDSA, Ed25519 or RSA signature (truncated or garbage)",
        ));
        return check;
    }
    check.result = Err(best.unwrap_or_else(|| Reason::new(ReasonKind::NoPolicy, "no trust policy covers this repository")));
    check
}

/// Certificates of a PEM text (a leaf, or a chain), DER, at most [`MAX_CHAIN`].
fn pem_certificates(pem: &str) -> Result<Vec<Vec<u8>>, Reason> {
    let certs = crate::notation::certificates_of_pem(pem)
        .map_err(|e| Reason::new(ReasonKind::Malformed, format!("the certificate annotation: {e}")))?;
    if certs.len() > MAX_CHAIN {
        return Err(Reason::new(ReasonKind::Malformed, format!("the certificate chain is longer than {MAX_CHAIN} certificates")));
    }
    Ok(certs)
}

/// The sigstore bundle (v0.1) a legacy simple-signing layer is equivalent to: its certificate
/// and chain (or, with `public_key_hint`, a key given by the policy), its Rekor entry with the
/// signed entry timestamp as inclusion promise, and the signature over the payload.
fn legacy_bundle(s: &SimpleSigning<'_>, signature: &[u8], public_key_hint: Option<&str>) -> Result<Bundle, Reason> {
    use sha2::Digest;
    let malformed = |what: &str| Reason::new(ReasonKind::Malformed, format!("the Rekor bundle annotation: {what}"));
    let mut tlog_entries = Vec::new();
    if let Some(rekor) = s.rekor_bundle {
        if rekor.len() > MAX_ENVELOPE {
            return Err(malformed("too large"));
        }
        let doc: Value = serde_json::from_str(rekor).map_err(|_| malformed("not JSON"))?;
        let set = doc.get("SignedEntryTimestamp").and_then(Value::as_str).ok_or_else(|| malformed("no SignedEntryTimestamp"))?;
        let payload = doc.get("Payload").ok_or_else(|| malformed("no Payload"))?;
        let body = payload.get("body").and_then(Value::as_str).ok_or_else(|| malformed("no body"))?;
        let integrated = payload.get("integratedTime").and_then(Value::as_i64).ok_or_else(|| malformed("no integratedTime"))?;
        let index = payload.get("logIndex").and_then(Value::as_u64).ok_or_else(|| malformed("no logIndex"))?;
        let log_id = payload.get("logID").and_then(Value::as_str).ok_or_else(|| malformed("no logID"))?;
        let log_id = hex::decode(log_id).map_err(|_| malformed("the logID is not hex"))?;
        let body_json: Value =
            STANDARD.decode(body).ok().and_then(|b| serde_json::from_slice(&b).ok()).ok_or_else(|| malformed("the body is not JSON"))?;
        let kind = body_json.get("kind").and_then(Value::as_str).unwrap_or_default();
        let version = body_json.get("apiVersion").and_then(Value::as_str).unwrap_or_default();
        tlog_entries.push(json!({
            "logIndex": index.to_string(),
            "logId": {"keyId": STANDARD.encode(log_id)},
            "kindVersion": {"kind": kind, "version": version},
            "integratedTime": integrated.to_string(),
            "inclusionPromise": {"signedEntryTimestamp": set},
            "canonicalizedBody": body,
        }));
    }
    let material = match public_key_hint {
        Some(hint) => json!({"publicKey": {"hint": hint}, "tlogEntries": tlog_entries}),
        None => {
            let mut certs = pem_certificates(s.certificate.unwrap_or_default())?;
            if certs.len() != 1 {
                return Err(Reason::new(
                    ReasonKind::Malformed,
                    format!("the {CERTIFICATE_ANNOTATION} annotation must hold one certificate"),
                ));
            }
            if let Some(chain) = s.chain {
                certs.extend(pem_certificates(chain)?);
            }
            if certs.len() > MAX_CHAIN {
                return Err(Reason::new(ReasonKind::Malformed, format!("the certificate chain is longer than {MAX_CHAIN} certificates")));
            }
            json!({
                "x509CertificateChain": {"certificates": certs.iter().map(|c| json!({"rawBytes": STANDARD.encode(c)})).collect::<Vec<_>>()},
                "tlogEntries": tlog_entries,
            })
        }
    };
    if material["tlogEntries"].as_array().is_none_or(Vec::is_empty) {
        return Err(Reason::new(
            ReasonKind::TransparencyLog,
            format!("the signature has no transparency-log entry ({BUNDLE_ANNOTATION}): its certificate cannot be checked at signing time"),
        ));
    }
    let bundle = json!({
        "mediaType": "application/vnd.dev.sigstore.bundle+json;version=0.1",
        "verificationMaterial": material,
        "messageSignature": {
            "messageDigest": {"algorithm": "SHA2_256", "digest": STANDARD.encode(sha2::Sha256::digest(s.payload))},
            "signature": STANDARD.encode(signature),
        },
    });
    Bundle::from_json(&bundle.to_string())
        .map_err(|e| Reason::new(ReasonKind::Malformed, format!("the signature's annotations do not make a sigstore bundle ({e})")))
}
