//! Signature verification as pages, the JSON API and badges show it.

use serde::{Deserialize, Serialize};

pub use portolan_types::verify::{Outcome, ReasonKind};

/// One signature of an artifact and what verifying it concluded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SignatureResult {
    /// The signature manifest's digest.
    pub digest: String,
    /// Which signature of that manifest (cosign's `.sig` manifests hold one per layer).
    pub layer: usize,
    /// `cosign (key)`, `cosign (keyless)`, `sigstore bundle (keyless)`, `Notary Project (JWS)`…
    pub format: String,
    /// Where it was found: `referrers API`, `fallback tag`, `cosign .sig tag`.
    pub source: String,
    pub verified: bool,
    /// The trust policy that verified it (or that refused it, when one did).
    pub policy: Option<String>,
    /// Who signed: a key's name, a certificate's identity and issuer, a subject — as verified,
    /// or as claimed when not verified.
    pub signer: Option<String>,
    /// When it was signed (seconds since the epoch).
    pub signed_at: Option<i64>,
    /// Why it is not verified.
    pub reason: Option<ReasonKind>,
    pub message: Option<String>,
    /// Failures the policy only notes (Notary Project `permissive` and `audit`).
    pub warnings: Vec<String>,
}

impl SignatureResult {
    /// What a badge or a table cell says of it: "verified" or the reason's label.
    pub fn label(&self) -> &'static str {
        if self.verified { Outcome::Verified.label() } else { self.reason.map(ReasonKind::label).unwrap_or(Outcome::NotVerified.label()) }
    }
}

/// An artifact's signatures under the trust policies covering its repository.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Verification {
    /// The artifact's digest.
    pub digest: String,
    pub outcome: Outcome,
    /// The first signature that verified: its policy and signer.
    pub policy: Option<String>,
    pub signer: Option<String>,
    /// When nothing verified: the most telling reason among the signatures'.
    pub reason: Option<ReasonKind>,
    pub message: Option<String>,
    pub signatures: Vec<SignatureResult>,
    /// Signature manifests past the number Portolan verifies per artifact (not read).
    pub not_checked: usize,
}

impl Verification {
    /// One line: "verified by ci (key release)", "not verified: unknown key", "unsigned".
    pub fn summary(&self) -> String {
        match self.outcome {
            Outcome::Verified => match (&self.policy, &self.signer) {
                (Some(p), Some(s)) => format!("verified by policy {p} ({s})"),
                (Some(p), None) => format!("verified by policy {p}"),
                _ => "verified".to_owned(),
            },
            Outcome::NotVerified => match &self.message {
                Some(m) => format!("not verified: {m}"),
                None => "not verified".to_owned(),
            },
            Outcome::Unsigned => "unsigned".to_owned(),
        }
    }

    /// The short form a tag row carries.
    pub fn brief(&self) -> VerifyBrief {
        VerifyBrief { outcome: self.outcome, reason: self.reason, summary: self.summary() }
    }

    /// The result of the signature `digest` (layer 0, or the first verified layer).
    pub fn of_signature(&self, digest: &str) -> Option<&SignatureResult> {
        let mut of = self.signatures.iter().filter(|s| s.digest == digest);
        let first = of.clone().next();
        of.find(|s| s.verified).or(first)
    }
}

/// What a tag row says of its artifact's signatures.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VerifyBrief {
    pub outcome: Outcome,
    pub reason: Option<ReasonKind>,
    /// [`Verification::summary`], for the title.
    pub summary: String,
}

impl VerifyBrief {
    /// The cell's text: "verified", "unknown key", "unsigned"…
    pub fn label(&self) -> &'static str {
        match (self.outcome, self.reason) {
            (Outcome::NotVerified, Some(r)) => r.label(),
            (o, _) => o.label(),
        }
    }
}

/// Which tags the tag list shows, by their signatures.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum VerifiedFilter {
    #[default]
    All,
    /// Verified only.
    Verified,
    /// Signed but not verified, and unsigned.
    NotVerified,
}

impl VerifiedFilter {
    /// The query-string value (`?verified=`).
    pub fn key(self) -> &'static str {
        match self {
            VerifiedFilter::All => "",
            VerifiedFilter::Verified => "yes",
            VerifiedFilter::NotVerified => "no",
        }
    }

    pub fn from_key(key: &str) -> Self {
        match key {
            "yes" | "1" | "verified" => VerifiedFilter::Verified,
            "no" | "0" | "not-verified" => VerifiedFilter::NotVerified,
            _ => VerifiedFilter::All,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            VerifiedFilter::All => "all",
            VerifiedFilter::Verified => "verified only",
            VerifiedFilter::NotVerified => "not verified",
        }
    }

    /// Whether a tag with this outcome is shown.
    pub fn keeps(self, outcome: Outcome) -> bool {
        match self {
            VerifiedFilter::All => true,
            VerifiedFilter::Verified => outcome == Outcome::Verified,
            VerifiedFilter::NotVerified => outcome != Outcome::Verified,
        }
    }
}
