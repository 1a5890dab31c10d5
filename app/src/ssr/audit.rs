//! The audit log as pages and downloads show it: filtered from the store, limited to what the
//! caller may see, and as CSV (RFC 4180) or JSON.

use portolan_access::{Identity, Role};
use portolan_store::{AuditEntry, AuditFilter, Outcome};

use crate::error::AppError;
use crate::model::{AuditQuery, AuditRow};
use crate::ssr::AppState;
use crate::ssr::auth::Caller;

fn row(e: AuditEntry) -> AuditRow {
    AuditRow {
        id: e.id,
        at: e.at.unix_timestamp(),
        actor_kind: e.entry.actor.kind.as_str().into(),
        actor: e.entry.actor.label(),
        provider: e.entry.actor.provider,
        subject: e.entry.actor.subject,
        action: e.entry.action,
        registry: e.entry.registry,
        repository: e.entry.repository,
        digests: e.entry.digests,
        tags: e.entry.tags,
        outcome: e.entry.outcome.as_str().into(),
        reason: e.entry.reason,
        request_id: e.entry.request_id,
        token: e.entry.actor.token,
    }
}

fn filter_of(q: &AuditQuery) -> Result<AuditFilter, AppError> {
    let text = |s: &str, what: &str| -> Result<Option<String>, AppError> {
        let s = s.trim();
        if s.chars().count() > 200 {
            return Err(AppError::BadRequest(format!("the {what} filter is longer than 200 characters")));
        }
        Ok(Some(s.to_owned()).filter(|s| !s.is_empty()))
    };
    Ok(AuditFilter {
        action: text(&q.action, "action")?,
        actor: text(&q.actor, "actor")?,
        registry: text(&q.registry, "registry")?,
        repository: text(&q.repository, "repository")?,
        outcome: match q.outcome.trim() {
            "" => None,
            o => Some(
                Outcome::parse(o)
                    .ok_or_else(|| AppError::BadRequest(format!("{o:?} is not an outcome (done, skipped, failed, refused)")))?,
            ),
        },
        before: q.before,
        ..Default::default()
    })
}

/// Entries for `caller` (an admin somewhere), each only to those who administer what it is
/// about: an entry about a repository to admins of that repository; one about part of a
/// registry (a policy saved, a run: the repository globs it covered are in its detail as
/// `scope`) to admins over that scope (`**` when it names none); one about no registry (a
/// sign-in, with the person's groups) to admins of every repository of every registry.
pub async fn rows(state: &AppState, caller: &Caller, q: &AuditQuery, limit: usize) -> Result<Vec<AuditRow>, AppError> {
    let who = caller.identity.as_ref();
    let everything = vec!["**".to_owned()];
    let admin_over = |registry: &str, scope: &[String]| state.access.role_over(who, registry, scope).is_some_and(|r| r >= Role::Admin);
    let admin_everywhere = state.registries.iter().all(|r| admin_over(&r.info.name, &everything));
    let mut filter = filter_of(q)?;
    let mut out = Vec::new();
    for _ in 0..20 {
        let batch = state.store.audit_entries(&filter, 500).await?;
        let done = batch.len() < 500;
        filter.before = batch.last().map(|e| e.id);
        for e in batch {
            let visible = match (&e.entry.registry, &e.entry.repository) {
                (Some(r), Some(repo)) => state.access.role_for(who, r, Some(repo)).is_some_and(|role| role >= Role::Admin),
                (Some(r), None) => admin_over(r, &scope_in(e.entry.detail.as_ref()).unwrap_or_else(|| everything.clone())),
                (None, _) => admin_everywhere,
            };
            if visible {
                out.push(row(e));
                if out.len() >= limit {
                    return Ok(out);
                }
            }
        }
        if done {
            break;
        }
    }
    Ok(out)
}

/// The repository globs an entry's detail says it covered (`"scope": [...]`).
fn scope_in(detail: Option<&serde_json::Value>) -> Option<Vec<String>> {
    let globs: Vec<String> = detail?.get("scope")?.as_array()?.iter().filter_map(|g| g.as_str().map(str::to_owned)).collect();
    (!globs.is_empty()).then_some(globs)
}

/// The entries of one request made by `who` (the outcome page of a form).
pub async fn of_request(state: &AppState, who: &Identity, request: &str) -> Result<Vec<AuditRow>, AppError> {
    let filter = AuditFilter { request: Some(request.to_owned()), ..Default::default() };
    let mut entries = state.store.audit_entries(&filter, 1000).await?;
    entries.retain(|e| {
        e.entry.actor.provider.as_deref() == Some(who.provider.as_str()) && e.entry.actor.subject.as_deref() == Some(who.subject.as_str())
    });
    entries.reverse();
    Ok(entries.into_iter().map(row).collect())
}

/// One CSV field, quoted when needed; a leading `=`, `+`, `-`, `@`, tab or carriage return is defused so a
/// spreadsheet does not run it as a formula.
fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{s}") } else { s.to_owned() };
    if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s }
}

/// The rows as CSV, with a header line.
pub fn csv(rows: &[AuditRow]) -> String {
    let mut out = String::from(
        "id,time,actor_kind,actor,provider,subject,action,registry,repository,tags,digests,outcome,reason,request_id,token\r\n",
    );
    for r in rows {
        let fields = [
            r.id.to_string(),
            crate::model::format_utc(r.at),
            r.actor_kind.clone(),
            r.actor.clone(),
            r.provider.clone().unwrap_or_default(),
            r.subject.clone().unwrap_or_default(),
            r.action.clone(),
            r.registry.clone().unwrap_or_default(),
            r.repository.clone().unwrap_or_default(),
            r.tags.join(" "),
            r.digests.join(" "),
            r.outcome.clone(),
            r.reason.clone().unwrap_or_default(),
            r.request_id.clone().unwrap_or_default(),
            r.token.map(|t| t.to_string()).unwrap_or_default(),
        ];
        out.push_str(&fields.iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(","));
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_and_defuses() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=cmd()"), "'=cmd()");
        assert_eq!(csv_field("\t=cmd()"), "'\t=cmd()");
        assert_eq!(csv_field("\r=cmd()"), "\"'\r=cmd()\"");
    }
}
