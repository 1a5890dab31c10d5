//! An artifact's signature verification for scripts and deploy gates
//! (`/api/v1/verify/{registry}/{repository}:{tag}` or `@{digest}`).

use portolan_oci::RepoName;
use serde_json::{Value, json};

use crate::error::AppError;
use crate::ssr::{AppState, Registry};

fn rfc3339(at: Option<i64>) -> Value {
    at.and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok())
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .map_or(Value::Null, Value::String)
}

/// The outcome (`verified`, `not-verified`, `unsigned`), every signature's result and reason,
/// and the policies that apply; and whether it is verified.
pub async fn verify_json(state: &AppState, registry: &Registry, repo: &RepoName, reference: &str) -> Result<(bool, Value), AppError> {
    let parsed = portolan_oci::Reference::parse(reference).map_err(|e| AppError::BadRequest(e.message().to_owned()))?;
    let digest = registry.client.resolve(repo, &parsed).await.map_err(AppError::from)?.digest;
    let v = state.verifier.verify(registry, repo, &digest).await.map_err(AppError::from)?;
    let policies: Vec<String> =
        state.verifier.policies().covering(&registry.info.name, repo.as_str()).iter().map(|p| p.name.clone()).collect();
    let signatures: Vec<Value> = v
        .signatures
        .iter()
        .map(|s| {
            json!({
                "digest": s.digest,
                "layer": s.layer,
                "format": s.format,
                "foundThrough": s.source,
                "verified": s.verified,
                "policy": s.policy,
                "signer": s.signer,
                "signedAt": rfc3339(s.signed_at),
                "reason": s.reason.map(|r| r.key()),
                "message": s.message,
                "warnings": s.warnings,
            })
        })
        .collect();
    let verified = v.outcome == crate::model::Outcome::Verified;
    Ok((
        verified,
        json!({
            "registry": registry.info.name,
            "repository": repo.to_string(),
            "reference": reference,
            "digest": digest,
            "outcome": v.outcome.key(),
            "summary": v.summary(),
            "policy": v.policy,
            "signer": v.signer,
            "reason": v.reason.map(|r| r.key()),
            "message": v.message,
            "policies": policies,
            "signatures": signatures,
            "notChecked": v.not_checked,
        }),
    ))
}
