//! The audit log: who did what, when, where, and how it ended — sign-ins and refusals
//! included. Append-only: there is a function to add entries and one to forget those older
//! than the retention window, none to change one. Every entry is also one structured log line
//! (target `portolan::audit`), for forwarding to a SIEM.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::{Result, Store, from_millis, millis, new_id};

/// Who acted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ActorKind {
    /// A signed-in person.
    User,
    /// Nobody signed in (refused attempts).
    Anonymous,
    /// A retention policy's schedule.
    Schedule,
    /// Portolan itself (purging old trash, pruning the log).
    System,
}

impl ActorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::User => "user",
            ActorKind::Anonymous => "anonymous",
            ActorKind::Schedule => "schedule",
            ActorKind::System => "system",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "user" => ActorKind::User,
            "schedule" => ActorKind::Schedule,
            "system" => ActorKind::System,
            _ => ActorKind::Anonymous,
        }
    }
}

/// Who acted: a person (provider, subject, display name), a schedule, or Portolan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub kind: ActorKind,
    pub provider: Option<String>,
    /// The provider's stable id of the person; the policy name for a schedule.
    pub subject: Option<String>,
    pub name: Option<String>,
    /// The API token the person acted through, if any (its id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<i64>,
}

impl Actor {
    pub fn user(provider: &str, subject: &str, name: Option<&str>) -> Self {
        Self {
            kind: ActorKind::User,
            provider: Some(provider.into()),
            subject: Some(subject.into()),
            name: name.map(Into::into),
            token: None,
        }
    }

    pub fn anonymous() -> Self {
        Self { kind: ActorKind::Anonymous, provider: None, subject: None, name: None, token: None }
    }

    pub fn schedule(policy: &str) -> Self {
        Self {
            kind: ActorKind::Schedule,
            provider: None,
            subject: Some(policy.into()),
            name: Some(format!("schedule of {policy}")),
            token: None,
        }
    }

    pub fn system() -> Self {
        Self { kind: ActorKind::System, provider: None, subject: None, name: Some("Portolan".into()), token: None }
    }

    /// For people: the display name, else provider:subject, else the kind.
    pub fn label(&self) -> String {
        match (&self.name, &self.provider, &self.subject) {
            (Some(n), _, _) => n.clone(),
            (None, Some(p), Some(s)) => format!("{p}:{s}"),
            (None, None, Some(s)) => s.clone(),
            _ => self.kind.as_str().to_owned(),
        }
    }
}

/// How an action ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Done,
    /// Not done, on purpose (a tag moved since the preview, a cap reached…).
    Skipped,
    Failed,
    /// Not allowed (wrong role, failed sign-in, cross-site request…).
    Refused,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Done => "done",
            Outcome::Skipped => "skipped",
            Outcome::Failed => "failed",
            Outcome::Refused => "refused",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "done" => Outcome::Done,
            "skipped" => Outcome::Skipped,
            "failed" => Outcome::Failed,
            "refused" => Outcome::Refused,
            _ => return None,
        })
    }
}

/// An entry to append.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NewAudit {
    pub actor: Actor,
    /// `sign-in`, `sign-out`, `delete-tag`, `delete-artifact`, `restore`, `policy-update`…
    pub action: String,
    pub registry: Option<String>,
    pub repository: Option<String>,
    pub digests: Vec<String>,
    pub tags: Vec<String>,
    pub outcome: Outcome,
    /// Why it was skipped, failed or refused (or a note on success).
    pub reason: Option<String>,
    pub request_id: Option<String>,
    /// Anything else worth keeping (a policy's before/after), as JSON.
    pub detail: Option<serde_json::Value>,
}

impl NewAudit {
    pub fn new(actor: Actor, action: &str, outcome: Outcome) -> Self {
        Self {
            actor,
            action: action.to_owned(),
            registry: None,
            repository: None,
            digests: Vec::new(),
            tags: Vec::new(),
            outcome,
            reason: None,
            request_id: None,
            detail: None,
        }
    }

    pub fn at(mut self, registry: &str, repository: Option<&str>) -> Self {
        self.registry = Some(registry.to_owned());
        self.repository = repository.map(str::to_owned);
        self
    }

    pub fn reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }

    pub fn digests(mut self, digests: impl IntoIterator<Item = String>) -> Self {
        self.digests.extend(digests);
        self
    }

    pub fn tags(mut self, tags: impl IntoIterator<Item = String>) -> Self {
        self.tags.extend(tags);
        self
    }

    pub fn request(mut self, request_id: Option<&str>) -> Self {
        self.request_id = request_id.map(str::to_owned);
        self
    }

    pub fn detail(mut self, detail: serde_json::Value) -> Self {
        self.detail = Some(detail);
        self
    }
}

/// An entry of the log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    #[serde(flatten)]
    pub entry: NewAudit,
}

/// Which entries to list.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditFilter {
    /// An action (`delete-tag`) or a prefix ending in `*` (`policy-*`).
    pub action: Option<String>,
    /// Part of the actor's name, subject or provider (case-insensitive).
    pub actor: Option<String>,
    pub registry: Option<String>,
    /// A repository, or a prefix ending in `*`.
    pub repository: Option<String>,
    pub outcome: Option<Outcome>,
    pub since: Option<i64>,
    pub until: Option<i64>,
    /// Entries older than this id (paging, newest first).
    pub before: Option<i64>,
    /// Entries of one request.
    pub request: Option<String>,
}

type Row =
    (i64, i64, String, Option<String>, Option<String>, Option<String>, String, Option<String>, Option<String>, String, String, String);
type RowTail = (Option<String>, Option<String>, Option<String>);

impl Store {
    /// Appends an entry (and writes it as one log line).
    pub async fn audit(&self, entry: NewAudit) -> Result<AuditEntry> {
        let id = new_id();
        let at = OffsetDateTime::now_utc();
        tracing::info!(
            target: "portolan::audit",
            id,
            action = %entry.action,
            actor = %entry.actor.label(),
            actor_kind = entry.actor.kind.as_str(),
            provider = entry.actor.provider.as_deref().unwrap_or(""),
            subject = entry.actor.subject.as_deref().unwrap_or(""),
            registry = entry.registry.as_deref().unwrap_or(""),
            repository = entry.repository.as_deref().unwrap_or(""),
            digests = %entry.digests.join(","),
            tags = %entry.tags.join(","),
            outcome = entry.outcome.as_str(),
            reason = entry.reason.as_deref().unwrap_or(""),
            request_id = entry.request_id.as_deref().unwrap_or(""),
            token = entry.actor.token.unwrap_or(0),
            "audit"
        );
        sqlx::query(
            "INSERT INTO audit (id, at, actor_kind, actor_provider, actor_subject, actor_name, action, registry, repository, digests, tags, outcome, reason, request_id, detail, actor_token) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
        )
        .bind(id)
        .bind(millis(at))
        .bind(entry.actor.kind.as_str())
        .bind(entry.actor.provider.as_deref())
        .bind(entry.actor.subject.as_deref())
        .bind(entry.actor.name.as_deref())
        .bind(&entry.action)
        .bind(entry.registry.as_deref())
        .bind(entry.repository.as_deref())
        .bind(serde_json::to_string(&entry.digests).unwrap_or_default())
        .bind(serde_json::to_string(&entry.tags).unwrap_or_default())
        .bind(entry.outcome.as_str())
        .bind(entry.reason.as_deref())
        .bind(entry.request_id.as_deref())
        .bind(entry.detail.as_ref().map(|d| d.to_string()))
        .bind(entry.actor.token)
        .execute(self.pool())
        .await?;
        Ok(AuditEntry { id, at: crate::from_millis(millis(at)), entry })
    }

    /// Entries matching `filter`, newest first, at most `limit`.
    pub async fn audit_entries(&self, filter: &AuditFilter, limit: i64) -> Result<Vec<AuditEntry>> {
        let mut clauses: Vec<String> = Vec::new();
        let mut binds: Vec<Bind> = Vec::new();
        let mut add = |clause: &str, value: Bind| {
            binds.push(value);
            clauses.push(clause.replace('?', &format!("${}", binds.len())));
        };
        if let Some(a) = filter.action.as_deref().filter(|a| !a.is_empty()) {
            match a.strip_suffix('*') {
                Some(prefix) => add("action LIKE ? ESCAPE '\\'", Bind::Text(format!("{}%", escape_like(prefix)))),
                None => add("action = ?", Bind::Text(a.to_owned())),
            }
        }
        if let Some(who) = filter.actor.as_deref().filter(|a| !a.is_empty()) {
            let pattern = format!("%{}%", escape_like(&who.to_lowercase()));
            add(
                "(LOWER(COALESCE(actor_name, '')) LIKE ? ESCAPE '\\' OR LOWER(COALESCE(actor_subject, '')) LIKE ? ESCAPE '\\' OR LOWER(COALESCE(actor_provider, '')) LIKE ? ESCAPE '\\')",
                Bind::Text(pattern),
            );
            // The three `?` share one value: the replace above numbered them alike.
        }
        if let Some(r) = filter.registry.as_deref().filter(|a| !a.is_empty()) {
            add("registry = ?", Bind::Text(r.to_owned()));
        }
        if let Some(r) = filter.repository.as_deref().filter(|a| !a.is_empty()) {
            match r.strip_suffix('*') {
                Some(prefix) => add("repository LIKE ? ESCAPE '\\'", Bind::Text(format!("{}%", escape_like(prefix)))),
                None => add("repository = ?", Bind::Text(r.to_owned())),
            }
        }
        if let Some(o) = filter.outcome {
            add("outcome = ?", Bind::Text(o.as_str().to_owned()));
        }
        if let Some(t) = filter.since {
            add("at >= ?", Bind::Int(t));
        }
        if let Some(t) = filter.until {
            add("at < ?", Bind::Int(t));
        }
        if let Some(id) = filter.before {
            add("id < ?", Bind::Int(id));
        }
        if let Some(r) = filter.request.as_deref().filter(|r| !r.is_empty()) {
            add("request_id = ?", Bind::Text(r.to_owned()));
        }
        binds.push(Bind::Int(limit.clamp(1, 10_000)));
        let limit_at = binds.len();
        let where_ = if clauses.is_empty() { String::new() } else { format!("WHERE {}", clauses.join(" AND ")) };
        let sql = format!(
            "SELECT id, at, actor_kind, actor_provider, actor_subject, actor_name, action, registry, repository, digests, tags, outcome, reason, request_id, detail, actor_token \
             FROM audit {where_} ORDER BY id DESC LIMIT ${limit_at}"
        );
        let mut q = sqlx::query(&sql);
        for b in &binds {
            q = match b {
                Bind::Text(t) => q.bind(t.as_str()),
                Bind::Int(i) => q.bind(*i),
            };
        }
        let rows = q.fetch_all(self.pool()).await?;
        rows.iter().map(row_to_entry).collect()
    }

    /// Forgets entries older than `before` (the log's retention window); returns how many.
    pub async fn audit_prune(&self, before: OffsetDateTime) -> Result<u64> {
        Ok(sqlx::query("DELETE FROM audit WHERE at < $1").bind(millis(before)).execute(self.pool()).await?.rows_affected())
    }
}

enum Bind {
    Text(String),
    Int(i64),
}

/// Escapes `%` and `_` for `LIKE … ESCAPE '\'` (SQLite has no default escape character).
fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

fn row_to_entry(row: &sqlx::any::AnyRow) -> Result<AuditEntry> {
    use sqlx::Row as _;
    let head: Row = (
        row.try_get(0)?,
        row.try_get(1)?,
        row.try_get(2)?,
        row.try_get(3)?,
        row.try_get(4)?,
        row.try_get(5)?,
        row.try_get(6)?,
        row.try_get(7)?,
        row.try_get(8)?,
        row.try_get(9)?,
        row.try_get(10)?,
        row.try_get(11)?,
    );
    let tail: RowTail = (row.try_get(12)?, row.try_get(13)?, row.try_get(14)?);
    let (id, at, kind, provider, subject, name, action, registry, repository, digests, tags, outcome) = head;
    let (reason, request_id, detail) = tail;
    Ok(AuditEntry {
        id,
        at: from_millis(at),
        entry: NewAudit {
            actor: Actor { kind: ActorKind::parse(&kind), provider, subject, name, token: row.try_get(15)? },
            action,
            registry,
            repository,
            digests: serde_json::from_str(&digests).unwrap_or_default(),
            tags: serde_json::from_str(&tags).unwrap_or_default(),
            outcome: Outcome::parse(&outcome).unwrap_or(Outcome::Failed),
            reason,
            request_id,
            detail: detail.and_then(|d| serde_json::from_str(&d).ok()),
        },
    })
}
