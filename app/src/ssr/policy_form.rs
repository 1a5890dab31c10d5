//! The policy editor's form to a raw policy and back, and runs as pages show them.

use portolan_retention::{MostRecent, OrphanMode, RankBy, RawKeep, RawPolicy};
use portolan_store::{PolicyRecord, RunItem, RunRecord};

use crate::model::{PolicyForm, RunItemRow, RunRow};

fn lines(text: &str) -> Vec<String> {
    text.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect()
}

/// The form as a raw policy; fields that are not numbers (or choices) where they must be are
/// reported with where they are, like the validator's own mistakes.
pub fn raw_of(form: &PolicyForm) -> Result<RawPolicy, Vec<(String, String)>> {
    let mut errors = Vec::new();
    let mut number = |field: &str, text: &str| -> Option<u32> {
        let t = text.trim();
        if t.is_empty() {
            return None;
        }
        match t.parse::<u32>() {
            Ok(n) => Some(n),
            Err(_) => {
                errors.push((field.to_owned(), format!("{t:?} is not a whole number")));
                None
            }
        }
    };
    let count = number("keep.most_recent.count", &form.most_recent_count);
    let days = number("keep.newer_than_days", &form.newer_than_days);
    let max_deletions = number("max_deletions", &form.max_deletions);
    let by = match form.most_recent_by.as_str() {
        "" | "version" => RankBy::Version,
        "created" => RankBy::Created,
        "first-seen" => RankBy::FirstSeen,
        other => {
            errors.push(("keep.most_recent.by".into(), format!("{other:?} is not one of version, created, first-seen")));
            RankBy::Version
        }
    };
    let (verified, signed) = match form.keep_signatures.as_str() {
        "" => (false, false),
        "verified" => (true, false),
        "signed" => (false, true),
        other => {
            errors.push(("keep.verified".into(), format!("{other:?} is not one of verified, signed")));
            (false, false)
        }
    };
    let orphans = match form.orphans.as_str() {
        "" | "report" => OrphanMode::Report,
        "delete" => OrphanMode::Delete,
        other => {
            errors.push(("orphans".into(), format!("{other:?} is not one of report, delete")));
            OrphanMode::Report
        }
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(RawPolicy {
        name: form.name.trim().to_owned(),
        registry: form.registry.trim().to_owned(),
        repositories: lines(&form.repositories),
        keep: RawKeep {
            most_recent: count.map(|count| MostRecent { count, by }),
            newer_than_days: days,
            tag_patterns: lines(&form.tag_patterns),
            versions: Some(form.versions.trim().to_owned()).filter(|v| !v.is_empty()),
            verified,
            signed,
        },
        protected: lines(&form.protected),
        orphans,
        max_deletions: max_deletions.unwrap_or(100),
        dry_run: form.dry_run,
        schedule: Some(form.schedule.trim().to_owned()).filter(|s| !s.is_empty()),
    })
}

/// A stored policy as the editor's form.
pub fn form_of(record: &PolicyRecord) -> PolicyForm {
    let raw: RawPolicy = serde_json::from_str(&record.body).unwrap_or_default();
    let by = |b: RankBy| match b {
        RankBy::Version => "version",
        RankBy::Created => "created",
        RankBy::FirstSeen => "first-seen",
    };
    PolicyForm {
        id: Some(record.id),
        version: record.version,
        name: record.name.clone(),
        registry: raw.registry.clone(),
        repositories: raw.repositories.join("\n"),
        most_recent_count: raw.keep.most_recent.map(|m| m.count.to_string()).unwrap_or_default(),
        most_recent_by: raw.keep.most_recent.map(|m| by(m.by)).unwrap_or("version").to_owned(),
        newer_than_days: raw.keep.newer_than_days.map(|d| d.to_string()).unwrap_or_default(),
        tag_patterns: raw.keep.tag_patterns.join("\n"),
        versions: raw.keep.versions.clone().unwrap_or_default(),
        keep_signatures: if raw.keep.signed {
            "signed"
        } else if raw.keep.verified {
            "verified"
        } else {
            ""
        }
        .into(),
        protected: raw.protected.join("\n"),
        orphans: if raw.orphans == OrphanMode::Delete { "delete" } else { "report" }.into(),
        max_deletions: raw.max_deletions.to_string(),
        dry_run: raw.dry_run,
        schedule: raw.schedule.clone().unwrap_or_default(),
    }
}

pub fn run_row(r: &RunRecord) -> RunRow {
    RunRow {
        id: r.id,
        policy_id: r.policy_id,
        policy_name: r.policy_name.clone(),
        policy_version: r.policy_version,
        registry: r.registry.clone(),
        trigger: r.trigger.as_str().into(),
        started_by: r.started_by.clone(),
        dry_run: r.dry_run,
        state: r.state.as_str().into(),
        started_at: r.started_at.unix_timestamp(),
        finished_at: r.finished_at.map(|t| t.unix_timestamp()),
        repositories: r.counts.repositories,
        planned: r.counts.planned,
        done: r.counts.done,
        skipped: r.counts.skipped,
        failed: r.counts.failed,
        tags_kept: r.counts.tags_kept,
        tags_deleted: r.counts.tags_deleted,
        bytes_freed: r.counts.bytes_freed,
        message: r.message.clone(),
    }
}

pub fn item_row(i: RunItem) -> RunItemRow {
    RunItemRow {
        position: i.position,
        repository: i.repository,
        action: i.action,
        tag: i.tag,
        digest: i.digest,
        outcome: i.outcome,
        reason: i.reason,
        bytes: i.bytes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_round_trip_and_mistakes() {
        let form = PolicyForm { name: "ci".into(), registry: "hub".into(), tag_patterns: "a*\n\n b \n".into(), ..Default::default() };
        let raw = raw_of(&form).unwrap();
        assert_eq!(raw.keep.tag_patterns, vec!["a*".to_owned(), "b".to_owned()]);
        assert_eq!(raw.keep.most_recent.unwrap().count, 10);
        assert!(raw.dry_run, "new policies start in dry run");
        let bad = PolicyForm { most_recent_count: "ten".into(), max_deletions: "-1".into(), orphans: "burn".into(), ..form };
        let errors = raw_of(&bad).unwrap_err();
        assert_eq!(errors.len(), 3, "{errors:?}");
    }
}
