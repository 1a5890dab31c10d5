//! Policy validation: every mistake at once, with where it is.

use portolan_retention::{MostRecent, OrphanMode, PolicyError, RankBy, RawPolicy, validate};

use crate::builder::{REGISTRY, policy, raw};

fn invalid(raw: RawPolicy) -> Vec<PolicyError> {
    validate(raw, &[REGISTRY, "ghcr"]).expect_err("the policy is invalid")
}

fn at(errors: &[PolicyError]) -> Vec<&str> {
    errors.iter().map(|e| e.at.as_str()).collect()
}

#[test]
fn reports_every_mistake_at_once_with_where() {
    let raw = RawPolicy {
        name: String::new(),
        registry: "nowhere".into(),
        repositories: vec!["team/*".into(), "team/[".into(), "Team/API".into()],
        keep: portolan_retention::RawKeep {
            most_recent: Some(MostRecent { count: 0, by: RankBy::Version }),
            newer_than_days: Some(0),
            tag_patterns: vec!["v*".into(), "{a,b".into(), "".into()],
            versions: Some(">=two".into()),
            ..Default::default()
        },
        protected: vec!["latest".into(), "ops/*".into()],
        orphans: OrphanMode::Report,
        max_deletions: 0,
        dry_run: true,
        schedule: Some("every night".into()),
    };
    let errors = invalid(raw);
    assert_eq!(
        at(&errors),
        vec![
            "name",
            "registry",
            "repositories[1]",
            "repositories[2]",
            "keep.most_recent.count",
            "keep.newer_than_days",
            "keep.tag_patterns[1]",
            "keep.tag_patterns[2]",
            "keep.versions",
            "protected[1]",
            "max_deletions",
            "schedule",
        ]
    );
    assert_eq!(errors[1].to_string(), "registry: no registry named \"nowhere\" is configured");
    assert!(errors[6].message.starts_with("not a valid pattern"), "{}", errors[6]);
    assert!(errors[11].message.contains("this one has 2 fields"), "{}", errors[11]);
}

#[test]
fn refuses_a_policy_that_keeps_nothing() {
    let errors = invalid(raw());
    assert_eq!(at(&errors), vec!["keep"]);
    assert_eq!(errors[0].to_string(), "keep: this policy would delete every tag in scope; add a keep rule or a protected pattern");
    // A protected pattern alone is enough.
    assert!(validate(RawPolicy { protected: vec!["latest".into()], ..raw() }, &[REGISTRY]).is_ok());
}

#[test]
fn checks_names_repositories_and_limits() {
    let long = RawPolicy { name: "x".repeat(101), repositories: vec![], max_deletions: 100_001, ..raw() };
    let errors = invalid(RawPolicy { protected: vec!["latest".into()], ..long });
    assert_eq!(at(&errors), vec!["name", "repositories", "max_deletions"]);
    let ok = RawPolicy { name: "é".repeat(100), max_deletions: 100_000, protected: vec!["latest".into()], ..raw() };
    assert!(validate(ok, &[REGISTRY]).is_ok());
    let errors = invalid(RawPolicy { keep: portolan_retention::RawKeep { newer_than_days: Some(40_000), ..Default::default() }, ..raw() });
    assert_eq!(at(&errors), vec!["keep.newer_than_days"]);
    let errors = invalid(RawPolicy { keep: portolan_retention::RawKeep { versions: Some(" ".into()), ..Default::default() }, ..raw() });
    assert_eq!(at(&errors), vec!["keep.versions"]);
}

#[test]
fn cron_schedules() {
    for good in ["0 3 * * *", "*/15 * * * *", "0 2 * * SUN", "30 1 1,15 * *", "@daily"] {
        let p = policy(|r| {
            r.protected = vec!["latest".into()];
            r.schedule = Some(good.into());
        });
        assert_eq!(p.schedule(), Some(good));
    }
    for (bad, says) in [
        ("0 0 3 * * *", "this one has 6 fields"),
        ("* * *", "this one has 3 fields"),
        ("60 * * * *", "not a valid schedule"),
        ("0 25 * * *", "not a valid schedule"),
        ("", "write a schedule"),
    ] {
        let errors = invalid(RawPolicy { protected: vec!["latest".into()], schedule: Some(bad.into()), ..raw() });
        assert_eq!(at(&errors), vec!["schedule"], "{bad}");
        assert!(errors[0].message.contains(says), "{bad}: {}", errors[0].message);
        assert!(errors[0].message.contains("minute hour day-of-month month day-of-week"), "{}", errors[0].message);
    }
}

#[test]
fn repository_globs_respect_slashes() {
    let p = policy(|r| r.protected = vec!["latest".into()]);
    assert!(p.applies_to(REGISTRY, "team/api"));
    assert!(!p.applies_to(REGISTRY, "team/a/b"));
    assert!(!p.applies_to(REGISTRY, "team"));
    assert!(!p.applies_to("ghcr", "team/api"));
    let deep = policy(|r| {
        r.protected = vec!["latest".into()];
        r.repositories = vec!["team/**".into()];
    });
    assert!(deep.applies_to(REGISTRY, "team/a/b"));
    let all = policy(|r| {
        r.protected = vec!["latest".into()];
        r.repositories = vec!["**".into()];
    });
    assert!(all.applies_to(REGISTRY, "x"));
    assert!(all.applies_to(REGISTRY, "a/b/c"));
}

#[test]
fn json_defaults_and_unknown_fields() {
    let raw: RawPolicy = serde_json::from_str(
        r#"{"name": "nightly", "registry": "hub", "repositories": ["**"], "keep": {"most_recent": {"count": 5, "by": "first-seen"}}}"#,
    )
    .unwrap();
    assert!(raw.dry_run, "new policies start in dry run");
    assert_eq!(raw.max_deletions, 100);
    assert_eq!(raw.orphans, OrphanMode::Report);
    assert_eq!(raw.keep.most_recent, Some(MostRecent { count: 5, by: RankBy::FirstSeen }));
    let p = validate(raw.clone(), &[REGISTRY]).unwrap();
    assert_eq!(p.raw(), &raw);
    assert_eq!(serde_json::to_value(&p).unwrap(), serde_json::to_value(&raw).unwrap());
    let back: RawPolicy = serde_json::from_str(&serde_json::to_string(&raw).unwrap()).unwrap();
    assert_eq!(back, raw);

    let typo = serde_json::from_str::<RawPolicy>(r#"{"name": "x", "registry": "hub", "repositories": [], "keep": {"newer_than": 3}}"#);
    assert!(typo.unwrap_err().to_string().contains("unknown field `newer_than`"));
    let by = serde_json::from_str::<RawPolicy>(
        r#"{"name": "x", "registry": "hub", "repositories": [], "keep": {"most_recent": {"count": 1, "by": "pushed"}}}"#,
    );
    assert!(by.is_err());
}
