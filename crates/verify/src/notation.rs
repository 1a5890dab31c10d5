//! Notary Project signatures in JWS form (`application/jose+json`), as `notation sign`
//! attaches them: a flattened JWS whose payload names the target artifact's digest, signed
//! with the key of the first certificate in the unprotected header's `x5c` chain.
//!
//! Checked as the Notary Project's trust-policy model describes, at the policy's level:
//! - integrity: the JWS signature (sigstore-crypto with the leaf's key), and that the payload
//!   names this digest;
//! - authenticity: the chain leads to a CA of the policy's trust store (`rustls-webpki`, with
//!   the code-signing usage where the leaf lists usages) and the leaf's subject is a trusted
//!   identity;
//! - the certificate's validity when signed (the signing time a signing authority attests,
//!   else now: timestamp countersignatures are not read) and the signature's own expiry.
//!
//! `strict` enforces all; `permissive` notes validity and expiry failures without failing;
//! `audit` enforces integrity only and notes the rest; `skip` checks nothing.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rustls_pki_types::{CertificateDer, UnixTime};
use serde_json::Value;
use sigstore_crypto::SigningScheme;
use sigstore_types::{DerPublicKey, SignatureBytes};
use x509_cert::der::{Decode, Encode};

use crate::limits::{MAX_CHAIN, MAX_ENVELOPE};
use crate::policy::{Dn, Level, NotationIdentity, TrustPolicy, parse_dn};
use crate::{Check, Reason, ReasonKind, worse};

/// The content type of a Notary Project payload.
pub const PAYLOAD_TYPE: &str = "application/vnd.cncf.notary.payload.v1+json";
/// id-kp-codeSigning (1.3.6.1.5.5.7.3.3), DER content octets.
const CODE_SIGNING: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x03];
/// Critical headers Portolan understands.
const KNOWN_CRITICAL: [&str; 3] = ["io.cncf.notary.signingScheme", "io.cncf.notary.expiry", "io.cncf.notary.authenticSigningTime"];

const FORMAT: &str = "Notary Project (JWS)";

/// Certificates (DER) of a PEM text.
pub fn certificates_of_pem(pem: &str) -> Result<Vec<Vec<u8>>, String> {
    let certs = x509_cert::Certificate::load_pem_chain(pem.as_bytes()).map_err(|e| format!("not PEM certificates ({e})"))?;
    certs.iter().map(|c| c.to_der().map_err(|e| e.to_string())).collect()
}

/// Whether `der` can anchor chains (a certificate webpki accepts as a trust anchor).
pub fn check_anchor(der: &[u8]) -> Result<(), String> {
    webpki::anchor_from_trusted_cert(&CertificateDer::from(der)).map(|_| ()).map_err(|e| format!("cannot be a trust anchor ({e:?})"))
}

/// What the envelope says, once its integrity is known.
struct Signed {
    leaf: x509_cert::Certificate,
    chain: Vec<Vec<u8>>,
    subject: Dn,
    subject_text: String,
    signing_time: Option<i64>,
    authentic_time: bool,
    expiry: Option<i64>,
}

fn malformed(message: impl Into<String>) -> Reason {
    Reason::new(ReasonKind::Malformed, message)
}

fn b64url(value: Option<&Value>, what: &str) -> Result<(String, Vec<u8>), Reason> {
    let text = value.and_then(Value::as_str).ok_or_else(|| malformed(format!("the envelope has no {what}")))?;
    let bytes = URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')).map_err(|_| malformed(format!("the {what} is not base64url")))?;
    Ok((text.to_owned(), bytes))
}

fn rfc3339(value: Option<&Value>) -> Option<i64> {
    let text = value?.as_str()?;
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok().map(|t| t.unix_timestamp())
}

/// Integrity: the envelope parses, names `subject`, and its signature verifies with the leaf
/// certificate's key.
fn integrity(subject: &str, envelope: &[u8]) -> Result<Signed, Reason> {
    if envelope.len() > MAX_ENVELOPE {
        return Err(malformed(format!("the envelope is larger than {} KiB", MAX_ENVELOPE / 1024)));
    }
    let jws: Value = serde_json::from_slice(envelope).map_err(|e| malformed(format!("the envelope is not JSON ({e})")))?;
    let (protected_text, protected) = b64url(jws.get("protected"), "protected header")?;
    let (payload_text, payload) = b64url(jws.get("payload"), "payload")?;
    let (_, signature) = b64url(jws.get("signature"), "signature")?;
    let header: Value = serde_json::from_slice(&protected).map_err(|_| malformed("the protected header is not JSON"))?;
    if header.get("cty").and_then(Value::as_str) != Some(PAYLOAD_TYPE) {
        return Err(malformed(format!("the protected header's cty is not {PAYLOAD_TYPE}")));
    }
    for critical in header.get("crit").and_then(Value::as_array).into_iter().flatten() {
        let name = critical.as_str().unwrap_or_default();
        if !KNOWN_CRITICAL.contains(&name) {
            return Err(Reason::new(
                ReasonKind::Unsupported,
                format!("the signature needs {name:?}, which Portolan does not check (a Notation plugin?)"),
            ));
        }
    }
    let scheme = header.get("io.cncf.notary.signingScheme").and_then(Value::as_str).unwrap_or("notary.x509");
    let authentic_time = match scheme {
        "notary.x509" => false,
        "notary.x509.signingAuthority" => true,
        other => return Err(Reason::new(ReasonKind::Unsupported, format!("signing scheme {other:?} is not one Portolan verifies"))),
    };
    let signing_time =
        rfc3339(header.get(if authentic_time { "io.cncf.notary.authenticSigningTime" } else { "io.cncf.notary.signingTime" }));
    let expiry = rfc3339(header.get("io.cncf.notary.expiry"));

    // The payload names the artifact.
    let payload_doc: Value = serde_json::from_slice(&payload).map_err(|_| malformed("the payload is not JSON"))?;
    let target = payload_doc
        .pointer("/targetArtifact/digest")
        .and_then(Value::as_str)
        .ok_or_else(|| malformed("the payload names no targetArtifact.digest"))?;
    if !target.eq_ignore_ascii_case(subject) {
        return Err(Reason::new(
            ReasonKind::WrongDigest,
            format!("the payload signs {target}, not this artifact: a signature copied from another one"),
        ));
    }

    // The chain, leaf first.
    let x5c = jws.pointer("/header/x5c").and_then(Value::as_array).ok_or_else(|| malformed("the envelope has no x5c certificate chain"))?;
    if x5c.is_empty() || x5c.len() > MAX_CHAIN {
        return Err(malformed(format!("the x5c chain must hold 1 to {MAX_CHAIN} certificates")));
    }
    let chain: Vec<Vec<u8>> = x5c
        .iter()
        .map(|c| c.as_str().and_then(|s| STANDARD.decode(s).ok()).ok_or_else(|| malformed("an x5c certificate is not base64")))
        .collect::<Result<_, _>>()?;
    let leaf =
        x509_cert::Certificate::from_der(&chain[0]).map_err(|e| malformed(format!("the signing certificate cannot be read ({e})")))?;
    let spki =
        leaf.tbs_certificate.subject_public_key_info.to_der().map_err(|_| malformed("the signing certificate's key cannot be read"))?;
    let key = DerPublicKey::new(spki);

    // The signature over `protected.payload`.
    let (scheme, signature) = match header.get("alg").and_then(Value::as_str) {
        Some("PS256") => (SigningScheme::RsaPssSha256, signature),
        Some("PS384") => (SigningScheme::RsaPssSha384, signature),
        Some("PS512") => (SigningScheme::RsaPssSha512, signature),
        // JWS writes ECDSA signatures as r ‖ s; sigstore-crypto takes ASN.1 DER.
        Some("ES256") => (
            SigningScheme::EcdsaP256Sha256,
            p256::ecdsa::Signature::from_slice(&signature)
                .map_err(|_| malformed("the ES256 signature is not 64 bytes"))?
                .to_der()
                .as_bytes()
                .to_vec(),
        ),
        Some("ES384") => (
            SigningScheme::EcdsaP384Sha384,
            p384::ecdsa::Signature::from_slice(&signature)
                .map_err(|_| malformed("the ES384 signature is not 96 bytes"))?
                .to_der()
                .as_bytes()
                .to_vec(),
        ),
        Some(other) => return Err(Reason::new(ReasonKind::Unsupported, format!("algorithm {other:?} is not one Portolan verifies"))),
        None => return Err(malformed("the protected header names no algorithm")),
    };
    let signing_input = format!("{protected_text}.{payload_text}");
    sigstore_crypto::verify_signature(&key, signing_input.as_bytes(), &SignatureBytes::new(signature), scheme).map_err(|_| {
        Reason::new(ReasonKind::BadSignature, "the signature does not match its payload with the certificate's key: changed after signing")
    })?;
    let subject_text = leaf.tbs_certificate.subject.to_string();
    let subject = parse_dn(&subject_text).unwrap_or_default();
    Ok(Signed { leaf, chain, subject, subject_text, signing_time, authentic_time, expiry })
}

/// Authenticity and validity under one policy's trust store at `at`: `Ok` or the failure and
/// whether it is only about time.
fn chain_to_store(signed: &Signed, store: &[Vec<u8>], at: i64) -> Result<(), (ReasonKind, String)> {
    let store: Vec<CertificateDer<'_>> = store.iter().map(|der| CertificateDer::from(der.as_slice())).collect();
    let anchors: Vec<_> = store.iter().filter_map(|der| webpki::anchor_from_trusted_cert(der).ok()).collect();
    let leaf_der = CertificateDer::from(signed.chain[0].as_slice());
    let leaf = webpki::EndEntityCert::try_from(&leaf_der)
        .map_err(|e| (ReasonKind::Malformed, format!("the signing certificate cannot be read ({e:?})")))?;
    let intermediates: Vec<CertificateDer<'_>> = signed.chain[1..].iter().map(|c| CertificateDer::from(c.as_slice())).collect();
    let time = UnixTime::since_unix_epoch(Duration::from_secs(at.max(0) as u64));
    leaf.verify_for_usage(
        sigstore_crypto::WEBPKI_VERIFICATION_ALGS,
        &anchors,
        &intermediates,
        time,
        webpki::KeyUsage::required_if_present(CODE_SIGNING),
        None,
        None,
    )
    .map(|_| ())
    .map_err(|e| match e {
        webpki::Error::CertExpired { .. } | webpki::Error::CertNotValidYet { .. } => {
            (ReasonKind::ExpiredCertificate, format!("a certificate of the chain was not valid at {} ({e:?})", format_time(at)))
        }
        webpki::Error::UnknownIssuer => {
            (ReasonKind::UntrustedRoot, "the certificate chain does not lead to a CA of the trust store".to_owned())
        }
        other => (ReasonKind::UntrustedRoot, format!("the certificate chain is not valid ({other:?})")),
    })
}

fn format_time(at: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(at)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| at.to_string())
}

fn not_before(leaf: &x509_cert::Certificate) -> i64 {
    leaf.tbs_certificate.validity.not_before.to_unix_duration().as_secs() as i64
}

fn identity_trusted(identities: &[NotationIdentity], subject: &Dn) -> bool {
    identities.iter().any(|i| match i {
        NotationIdentity::Any => true,
        NotationIdentity::Subject(wanted) => wanted.iter().all(|(k, v)| subject.iter().any(|(sk, sv)| sk == k && sv == v)),
    })
}

/// Verifies a Notary Project JWS envelope as a signature of `subject` at `now`.
pub fn verify(policies: &[Arc<TrustPolicy>], subject: &str, envelope: &[u8], now: i64) -> Check {
    let mut check = Check::new(FORMAT);
    let signed = match integrity(subject, envelope) {
        Ok(s) => s,
        Err(reason) => return Check::failed(FORMAT, reason),
    };
    check.signer = Some(signed.subject_text.clone());
    check.signed_at = signed.signing_time;
    let mut best: Option<Reason> = None;
    for policy in policies {
        let Some(notation) = &policy.notation else {
            worse(&mut best, Reason::of(policy, ReasonKind::UnknownKey, format!("policy {} trusts no Notary Project signer", policy.name)));
            continue;
        };
        if notation.level == Level::Skip {
            worse(
                &mut best,
                Reason::of(policy, ReasonKind::PolicySkips, format!("policy {} skips Notary Project verification", policy.name)),
            );
            continue;
        }
        let mut noted = Vec::new();
        // Authenticity: a chain to the store, at a time the chain was valid (its validity is
        // judged separately below); and a trusted identity.
        let validity_time = if signed.authentic_time { signed.signing_time.unwrap_or(now) } else { now };
        let timed = chain_to_store(&signed, &notation.trust_store, validity_time);
        let authentic = match &timed {
            Err((ReasonKind::ExpiredCertificate, _)) => chain_to_store(&signed, &notation.trust_store, not_before(&signed.leaf) + 1),
            other => other.clone(),
        };
        let mut failure: Option<(ReasonKind, String)> = None;
        let enforce_authenticity = matches!(notation.level, Level::Strict | Level::Permissive);
        let enforce_time = notation.level == Level::Strict;
        let authenticity = authentic.and_then(|()| {
            if identity_trusted(&notation.identities, &signed.subject) {
                Ok(())
            } else {
                Err((
                    ReasonKind::IdentityMismatch,
                    format!("signed by {:?}, which policy {} does not trust", signed.subject_text, policy.name),
                ))
            }
        });
        if let Err(e) = authenticity {
            if enforce_authenticity {
                failure = Some(e);
            } else {
                noted.push(e.1);
            }
        }
        if failure.is_none() {
            if let Err(e) = timed.clone().or_else(|e| if e.0 == ReasonKind::ExpiredCertificate { Err(e) } else { Ok(()) }) {
                if enforce_time { failure = Some(e) } else { noted.push(e.1) }
            }
            if let Some(expiry) = signed.expiry.filter(|e| *e < now) {
                let e = (ReasonKind::SignatureExpired, format!("the signature expired at {}", format_time(expiry)));
                if enforce_time {
                    failure.get_or_insert(e);
                } else {
                    noted.push(e.1);
                }
            }
        }
        match failure {
            Some((kind, message)) => worse(&mut best, Reason::of(policy, kind, message)),
            None => {
                check.result = Ok(policy.name.clone());
                check.warnings = noted.into_iter().map(|n| format!("{} ({}): {n}", policy.name, notation.level.key())).collect();
                return check;
            }
        }
    }
    check.result = Err(best.unwrap_or_else(|| Reason::new(ReasonKind::NoPolicy, "no trust policy covers this repository")));
    check
}
