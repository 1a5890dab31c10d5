//! What signature verification concludes, in the words pages, the JSON API and retention use:
//! an artifact's [`Outcome`], and for a signature that is not verified, the [`ReasonKind`].
//! The checks themselves are in `portolan-verify`; these are only the names of their answers.

use serde::{Deserialize, Serialize};

/// What Portolan concludes about an artifact's signatures under the trust policies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// At least one signature verifies under a trust policy that covers the artifact.
    Verified,
    /// Signed, but no signature verifies (each says why).
    NotVerified,
    /// No signature refers to it.
    Unsigned,
}

impl Outcome {
    /// The stable name (JSON, query strings, data attributes).
    pub fn key(self) -> &'static str {
        match self {
            Outcome::Verified => "verified",
            Outcome::NotVerified => "not-verified",
            Outcome::Unsigned => "unsigned",
        }
    }

    /// Shown to people.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Verified => "verified",
            Outcome::NotVerified => "not verified",
            Outcome::Unsigned => "unsigned",
        }
    }

    pub fn from_key(key: &str) -> Option<Self> {
        [Outcome::Verified, Outcome::NotVerified, Outcome::Unsigned].into_iter().find(|o| o.key() == key)
    }
}

/// Why a signature is not verified, as a name scripts can match (the message says the rest).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum ReasonKind {
    /// No trust policy covers this repository.
    NoPolicy,
    /// Made with a key no policy here trusts.
    UnknownKey,
    /// The certificate's identity is not one the policy trusts.
    IdentityMismatch,
    /// The certificate was issued for another OIDC issuer.
    IssuerMismatch,
    /// The certificate was not valid when the signature was made (or now, where no trusted
    /// time says otherwise).
    ExpiredCertificate,
    /// The signed payload names another digest: a signature copied from another artifact.
    WrongDigest,
    /// The signature does not match what it signs: changed after signing.
    BadSignature,
    /// The signature, its payload or its certificates cannot be read.
    Malformed,
    /// The certificate chain does not lead to a trusted root.
    UntrustedRoot,
    /// The transparency-log proof the policy requires is missing or does not verify.
    TransparencyLog,
    /// The signature's own expiry has passed (Notary Project `io.cncf.notary.expiry`).
    SignatureExpired,
    /// A signature format Portolan does not verify.
    Unsupported,
    /// The policy says not to verify this kind of signature (Notary Project `skip`).
    PolicySkips,
    /// Past the number of signatures Portolan verifies per artifact.
    TooMany,
    /// The signature could not be read from the registry.
    Unreadable,
}

impl ReasonKind {
    pub const ALL: [ReasonKind; 15] = [
        ReasonKind::NoPolicy,
        ReasonKind::UnknownKey,
        ReasonKind::IdentityMismatch,
        ReasonKind::IssuerMismatch,
        ReasonKind::ExpiredCertificate,
        ReasonKind::WrongDigest,
        ReasonKind::BadSignature,
        ReasonKind::Malformed,
        ReasonKind::UntrustedRoot,
        ReasonKind::TransparencyLog,
        ReasonKind::SignatureExpired,
        ReasonKind::Unsupported,
        ReasonKind::PolicySkips,
        ReasonKind::TooMany,
        ReasonKind::Unreadable,
    ];

    /// The stable name (JSON).
    pub fn key(self) -> &'static str {
        match self {
            ReasonKind::NoPolicy => "no-policy",
            ReasonKind::UnknownKey => "unknown-key",
            ReasonKind::IdentityMismatch => "identity-mismatch",
            ReasonKind::IssuerMismatch => "issuer-mismatch",
            ReasonKind::ExpiredCertificate => "expired-certificate",
            ReasonKind::WrongDigest => "wrong-digest",
            ReasonKind::BadSignature => "bad-signature",
            ReasonKind::Malformed => "malformed",
            ReasonKind::UntrustedRoot => "untrusted-root",
            ReasonKind::TransparencyLog => "transparency-log",
            ReasonKind::SignatureExpired => "signature-expired",
            ReasonKind::Unsupported => "unsupported",
            ReasonKind::PolicySkips => "policy-skips",
            ReasonKind::TooMany => "too-many",
            ReasonKind::Unreadable => "unreadable",
        }
    }

    /// A short label for a badge or a table cell.
    pub fn label(self) -> &'static str {
        match self {
            ReasonKind::NoPolicy => "no trust policy",
            ReasonKind::UnknownKey => "unknown key",
            ReasonKind::IdentityMismatch => "identity mismatch",
            ReasonKind::IssuerMismatch => "issuer mismatch",
            ReasonKind::ExpiredCertificate => "expired certificate",
            ReasonKind::WrongDigest => "payload for another digest",
            ReasonKind::BadSignature => "bad signature",
            ReasonKind::Malformed => "malformed",
            ReasonKind::UntrustedRoot => "untrusted root",
            ReasonKind::TransparencyLog => "transparency log",
            ReasonKind::SignatureExpired => "signature expired",
            ReasonKind::Unsupported => "unsupported format",
            ReasonKind::PolicySkips => "not checked by policy",
            ReasonKind::TooMany => "too many signatures",
            ReasonKind::Unreadable => "unreadable",
        }
    }

    pub fn from_key(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.key() == key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_match_the_json_names() {
        for kind in ReasonKind::ALL {
            assert_eq!(ReasonKind::from_key(kind.key()), Some(kind));
            assert_eq!(serde_json::to_value(kind).unwrap(), serde_json::json!(kind.key()));
        }
        for outcome in [Outcome::Verified, Outcome::NotVerified, Outcome::Unsigned] {
            assert_eq!(Outcome::from_key(outcome.key()), Some(outcome));
            assert_eq!(serde_json::to_value(outcome).unwrap(), serde_json::json!(outcome.key()));
        }
    }
}
