//! Retention runs against real registries — CNCF distribution and ferro-oci-server — under
//! faults: dry runs and capped runs over 400 tags, DELETEs failing until the error budget is
//! spent, Portolan killed with SIGKILL mid-run and started again, a tag pushed again between
//! plan and apply, a policy edited while it runs, and a second run of a running policy.
//!
//! Portolan runs in process (the state and the router built from a TOML configuration, as in
//! production; server functions called over HTTP with the trusted-proxy identity headers), and
//! as the real `portolan` binary for the kill test. What the registries hold is read with plain
//! HTTP requests, independent of Portolan's client.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use futures::StreamExt;
use portolan_app::model::PolicyForm;
use portolan_oci::RepoName;
use portolan_store::trash::TrashFilter;
use portolan_store::{Actor, AuditFilter, Outcome, RunItem, RunRecord, RunState, Store, TrashKind, TrashState};
use portolan_testkit::faulty::FaultyProxy;
use portolan_testkit::fixtures::{ImageSpec, Seeder, many_tag_name};
use portolan_testkit::pusher::{PushAuth, Pusher};
use portolan_testkit::{Kind, Registry};

use crate::support::{TestApp, Who, qs, run, run_in_parallel, server_fn, service};

const REPO: &str = "stress/many-tags";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

// ---------------------------------------------------------------------------------------------
// Portolan in process.

/// Portolan's configuration: one admin group through a trusted proxy, one registry.
fn config_toml(public_url: &str, registry_url: &str, lease_secs: u64) -> String {
    format!(
        r#"
public_url = "{public_url}"
retention_lease_secs = {lease_secs}
[auth.proxy]
trusted = ["127.0.0.1"]
[[grants]]
role = "admin"
groups = ["admins"]
[[registries]]
name = "reg"
url = "{registry_url}"
"#
    )
}

/// Portolan in process on the registry at `registry_url`.
async fn world(registry_url: &str, lease_secs: u64) -> TestApp {
    let w = TestApp::new(&config_toml("http://portolan.test", registry_url, lease_secs)).await;
    assert_eq!(w.config.retention_lease, Duration::from_secs(lease_secs));
    w
}

/// Calls a server function as the admin "ada", through the trusted proxy's headers.
async fn call(w: &TestApp, name: &str, body: String) -> (u16, String) {
    let a = w.server_fn(name, Who::Admin, body).await;
    (a.status.as_u16(), a.body)
}

/// A policy on `stress/many-tags` of "reg": keep the `keep` highest versions, protect `latest`.
fn form(name: &str, keep: u32, max_deletions: u32) -> PolicyForm {
    PolicyForm {
        name: name.into(),
        registry: "reg".into(),
        repositories: REPO.into(),
        most_recent_count: keep.to_string(),
        most_recent_by: "version".into(),
        protected: "latest".into(),
        max_deletions: max_deletions.to_string(),
        dry_run: false,
        ..Default::default()
    }
}

async fn save_policy(app: &TestApp, form: PolicyForm) -> i64 {
    let (status, body) = call(app, "save_policy", qs(&portolan_app::api::SavePolicy { form })).await;
    assert_eq!(status, 200, "save_policy: {body}");
    body.trim().parse().unwrap_or_else(|_| panic!("a policy id: {body}"))
}

async fn run_policy(app: &TestApp, id: i64, dry_run: bool) -> Result<i64, (u16, String)> {
    let (status, body) = call(app, "run_policy", qs(&portolan_app::api::RunPolicy { id, dry_run })).await;
    if status == 200 { Ok(body.trim().parse().unwrap_or_else(|_| panic!("a run id: {body}"))) } else { Err((status, body)) }
}

/// Waits for a run to end (at most `limit`).
async fn finished(store: &Store, id: i64, limit: Duration) -> RunRecord {
    let started = Instant::now();
    loop {
        let run = store.run(id).await.unwrap();
        if run.state != RunState::Running {
            return run;
        }
        assert!(started.elapsed() < limit, "run {id} still running after {limit:?}: {run:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn items(store: &Store, run: i64) -> Vec<RunItem> {
    store.run_items(run, 0, 100_000).await.unwrap()
}

/// The tags of items with `outcome`.
fn item_tags(items: &[RunItem], outcome: &str) -> BTreeSet<String> {
    items.iter().filter(|i| i.outcome == outcome).filter_map(|i| i.tag.clone()).collect()
}

/// Every trash entry of a run, with its tags.
async fn trash_of(store: &Store, run: i64) -> Vec<portolan_store::TrashEntry> {
    let mut out = Vec::new();
    let mut before = None;
    loop {
        let page = store.trash_entries(&TrashFilter { before, ..Default::default() }, 1000).await.unwrap();
        let Some(last) = page.last() else { break };
        before = Some(last.id);
        for e in page.iter().filter(|e| e.run_id == Some(run)) {
            out.push(store.trash_entry(e.id).await.unwrap());
        }
    }
    out
}

/// Audit entries of deletions (`delete-tag`, `delete-manifest`) with `outcome`.
async fn audited(store: &Store, outcome: Outcome) -> Vec<portolan_store::AuditEntry> {
    let filter = AuditFilter { action: Some("delete-*".into()), outcome: Some(outcome), ..Default::default() };
    store.audit_entries(&filter, 10_000).await.unwrap()
}

fn run_of(entry: &portolan_store::AuditEntry) -> Option<i64> {
    entry.entry.detail.as_ref().and_then(|d| d.get("run")).and_then(|r| r.as_i64())
}

// ---------------------------------------------------------------------------------------------
// The registry as it is, read with plain HTTP (no Portolan code).

/// Every tag of `repo` with the digest it points at: the tag list (following `Link` pages), then
/// a manifest HEAD per tag, 16 at a time.
async fn tags_now(base: &str, repo: &str) -> BTreeMap<String, String> {
    let http = portolan_testkit::runner::http_client();
    let mut tags: Vec<String> = Vec::new();
    let mut url = format!("{base}/v2/{repo}/tags/list?n=1000");
    loop {
        let response = http.get(&url).send().await.unwrap();
        assert!(response.status().is_success(), "{url}: {}", response.status());
        let next = response
            .headers()
            .get("link")
            .and_then(|l| l.to_str().ok())
            .and_then(|l| l.split(';').next())
            .map(|l| l.trim().trim_start_matches('<').trim_end_matches('>').to_owned());
        let page: serde_json::Value = response.json().await.unwrap();
        let listed: Vec<String> =
            page["tags"].as_array().map(|a| a.iter().filter_map(|t| t.as_str().map(str::to_owned)).collect()).unwrap_or_default();
        let empty = listed.is_empty();
        tags.extend(listed);
        match next {
            Some(n) if !empty => url = if n.starts_with('/') { format!("{base}{n}") } else { n },
            _ => break,
        }
    }
    let heads: Vec<Option<(String, String)>> = futures::stream::iter(tags)
        .map(|t| {
            let http = http.clone();
            async move {
                let r = http
                    .head(format!("{base}/v2/{repo}/manifests/{t}"))
                    .header("accept", portolan_oci::media::MANIFEST_ACCEPT)
                    .send()
                    .await
                    .unwrap();
                // A tag listed but answering 404 (a registry leaving dangling tags) is no tag.
                if r.status() == 404 {
                    return None;
                }
                assert!(r.status().is_success(), "HEAD {t}: {}", r.status());
                Some((t, r.headers()["docker-content-digest"].to_str().unwrap().to_owned()))
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    heads.into_iter().flatten().collect()
}

/// Whether a manifest is in the registry (a HEAD by digest).
async fn manifest_exists(base: &str, repo: &str, digest: &str) -> bool {
    let r = portolan_testkit::runner::http_client()
        .head(format!("{base}/v2/{repo}/manifests/{digest}"))
        .header("accept", portolan_oci::media::MANIFEST_ACCEPT)
        .send()
        .await
        .unwrap();
    match r.status().as_u16() {
        200 => true,
        404 => false,
        s => panic!("HEAD {digest}: {s}"),
    }
}

/// The `count` highest versions among the seeded tags, as the policy ranks them (a leading `v`
/// allowed, a pre-release below its release), computed here independently of the planner.
fn highest_versions(tags: &BTreeMap<String, String>, count: usize) -> BTreeSet<String> {
    let mut versions: Vec<(semver::Version, &String)> =
        tags.keys().filter_map(|t| semver::Version::parse(t.strip_prefix('v').unwrap_or(t)).ok().map(|v| (v, t))).collect();
    versions.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(b.1)));
    versions.into_iter().take(count).map(|(_, t)| t.clone()).collect()
}

/// Points `tag` at the manifest `source` points at (a second tag on it, or a tag moved).
async fn retag(pusher: &Pusher, source: &str, tag: &str) -> String {
    let bytes = pusher.get_manifest(REPO, source).await.unwrap().expect("the source tag");
    pusher.manifest(REPO, tag, OCI_MANIFEST, &bytes).await.unwrap().digest
}

// ---------------------------------------------------------------------------------------------
// 1. Dry run, then a capped run, over 400 tags.

#[test]
fn a_dry_run_then_a_capped_run_over_400_tags_on_distribution() {
    run(dry_run_then_capped_run(Kind::Anonymous));
}

#[test]
fn a_dry_run_then_a_capped_run_over_400_tags_on_ferro() {
    run(dry_run_then_capped_run(Kind::Ferro));
}

async fn dry_run_then_capped_run(kind: Kind) {
    // Enough that the cap defers most of the plan and each run reads hundreds of artifacts;
    // what is asserted does not change with more (5,000 took minutes, seeding and reading
    // alone). The planner at full size is the retention benchmark's (10,000 tags).
    const TAGS: usize = 400;
    const KEEP: usize = 100;
    const CAP: usize = 40;
    let t0 = Instant::now();
    let registry = Registry::start(kind, TAGS).await.unwrap();
    eprintln!("TIMING seeded {:?}", t0.elapsed());
    let pusher = Pusher::new(&registry.url, PushAuth::None);
    // `latest` shares its manifest with an old build, which is then only untagged (the
    // manifest stays for `latest`): the first units include it.
    let shared = many_tag_name(1);
    let latest = retag(&pusher, &shared, "latest").await;
    let before = tags_now(&registry.url, REPO).await;
    assert_eq!(before.len(), TAGS + 1);
    eprintln!("TIMING tags_now {:?}", t0.elapsed());
    let kept = highest_versions(&before, KEEP);
    let targeted: BTreeSet<String> = before.keys().filter(|t| !kept.contains(*t) && *t != "latest").cloned().collect();
    assert_eq!(targeted.len(), TAGS - KEEP);

    let w = world(&registry.url, 60).await;
    let id = save_policy(&w, form("keep-100", KEEP as u32, CAP as u32)).await;

    // The dry run: a planned item per unit, the first CAP of them planned now, the rest
    // deferred; nothing deleted.
    let dry = run_policy(&w, id, true).await.unwrap();
    let dry = finished(&w.store, dry, Duration::from_secs(300)).await;
    assert_eq!(dry.state, RunState::Done, "{:?}", dry.message);
    eprintln!("TIMING dry {:?}", t0.elapsed());
    assert!(dry.dry_run);
    let planned_items = items(&w.store, dry.id).await;
    assert_eq!(planned_items.len(), TAGS - KEEP, "one item per unit: every targeted tag is a unit of its own");
    let planned = item_tags(&planned_items, "planned");
    let deferred = item_tags(&planned_items, "deferred");
    assert_eq!((planned.len(), deferred.len()), (CAP, TAGS - KEEP - CAP));
    assert_eq!(planned.union(&deferred).cloned().collect::<BTreeSet<_>>(), targeted, "exactly the tags the rules do not keep");
    assert!(planned.contains(&shared), "the oldest units include the shared build");
    let untag = planned_items.iter().find(|i| i.tag.as_deref() == Some(&shared)).unwrap();
    assert_eq!((untag.action.as_str(), untag.digest.as_str()), ("plan-untag", latest.as_str()), "only untagged: latest keeps it");
    assert!(planned_items.iter().filter(|i| i.tag.as_deref() != Some(&shared)).all(|i| i.action == "plan-delete"));
    assert_eq!(dry.counts.planned, CAP as i64);
    assert_eq!(tags_now(&registry.url, REPO).await, before, "a dry run deletes nothing");
    assert!(trash_of(&w.store, dry.id).await.is_empty());

    // The real run: exactly the units the dry run planned, the rest deferred to a later run.
    let real = run_policy(&w, id, false).await.unwrap();
    let real = finished(&w.store, real, Duration::from_secs(300)).await;
    assert_eq!(real.state, RunState::Done, "{:?}", real.message);
    eprintln!("TIMING real {:?}", t0.elapsed());
    assert!(real.message.as_deref().unwrap_or_default().contains("cap of 40"), "{:?}", real.message);
    let done_items = items(&w.store, real.id).await;
    let applied = item_tags(&done_items, "done");
    assert_eq!(applied, planned, "the planned units and nothing else");
    assert_eq!(item_tags(&done_items, "deferred"), deferred);
    assert!(done_items.iter().all(|i| i.outcome == "done" || i.outcome == "deferred"), "no failure, nothing skipped");
    assert_eq!((real.counts.done, real.counts.failed, real.counts.tags_deleted), (CAP as i64, 0, CAP as i64));

    // Operators see it in /metrics: the run, its deletions, when one last succeeded.
    let metrics = w.request("GET", "/metrics").send().await.body;
    for line in [
        r#"portolan_retention_runs_total{registry="reg",kind="run",state="done"}"#,
        r#"portolan_retention_deleted_tags_total{registry="reg"}"#,
        r#"portolan_retention_last_success_timestamp_seconds{registry="reg",kind="run"}"#,
    ] {
        let value = metrics.lines().find_map(|l| l.strip_prefix(line)).map(str::trim);
        assert!(value.is_some_and(|v| v.parse::<f64>().is_ok_and(|v| v >= 1.0)), "{line} missing or zero in:\n{metrics}");
    }

    let after = tags_now(&registry.url, REPO).await;
    let deleted: BTreeSet<String> = before.keys().filter(|t| !after.contains_key(*t)).cloned().collect();
    assert_eq!(deleted, planned, "deleted = planned (so deleted ⊆ planned)");
    for (tag, digest) in &after {
        assert_eq!(before.get(tag), Some(digest), "{tag} still points where it did");
    }
    for tag in kept.iter().chain(std::iter::once(&"latest".to_owned())) {
        assert_eq!(after.get(tag), before.get(tag), "kept {tag} still resolves to its digest");
    }
    assert!(manifest_exists(&registry.url, REPO, &latest).await, "the shared manifest stays for latest");

    // Every deletion is in the trash, deleted and restorable, and in the audit log.
    let trash = trash_of(&w.store, real.id).await;
    assert_eq!(trash.len(), CAP);
    assert!(trash.iter().all(|e| e.state == TrashState::Deleted), "{:?}", trash.iter().map(|e| e.state).collect::<Vec<_>>());
    let trashed: BTreeSet<String> = trash.iter().flat_map(|e| e.tags.iter().map(|(t, _)| t.clone())).collect();
    assert_eq!(trashed, deleted);
    for e in &trash {
        for (tag, digest) in &e.tags {
            assert_eq!(before.get(tag), Some(digest), "the trash names where {tag} pointed");
            assert!(e.manifests.iter().any(|m| &m.digest == digest && !m.content.is_empty()), "its manifest is saved");
        }
        let expected_kind = if e.tags.iter().any(|(t, _)| t == &shared) { TrashKind::Tag } else { TrashKind::Artifact };
        assert_eq!(e.kind, expected_kind);
    }
    let audit: BTreeSet<String> =
        audited(&w.store, Outcome::Done).await.iter().filter(|a| run_of(a) == Some(real.id)).flat_map(|a| a.entry.tags.clone()).collect();
    assert_eq!(audit, deleted, "every deleted tag is audited as done");
    assert!(audited(&w.store, Outcome::Failed).await.is_empty());

    // Planning again deletes only what was deferred: nothing new.
    let again = run_policy(&w, id, true).await.unwrap();
    let again = finished(&w.store, again, Duration::from_secs(300)).await;
    assert_eq!(again.state, RunState::Done);
    eprintln!("TIMING again {:?}", t0.elapsed());
    let again_items = items(&w.store, again.id).await;
    let again_targeted: BTreeSet<String> =
        item_tags(&again_items, "planned").union(&item_tags(&again_items, "deferred")).cloned().collect();
    assert_eq!(again_targeted, deferred, "what the capped run deferred, and nothing else");
    assert_eq!(tags_now(&registry.url, REPO).await, after);
}

// ---------------------------------------------------------------------------------------------
// 2. DELETEs failing: the error budget.

#[test]
fn deletes_failing_spend_the_error_budget_and_the_run_fails() {
    run(async {
        const TAGS: usize = 60;
        const KEEP: usize = 10;
        const SUCCEEDING: usize = 5;
        let registry = Registry::start(Kind::Anonymous, TAGS).await.unwrap();
        let proxy = FaultyProxy::start(&registry.url).await.unwrap();
        let before = tags_now(&registry.url, REPO).await;
        let kept = highest_versions(&before, KEEP);
        let w = world(&proxy.url, 60).await;
        let id = save_policy(&w, form("budget", KEEP as u32, 1000)).await;
        let dry = run_policy(&w, id, true).await.unwrap();
        let dry = finished(&w.store, dry, Duration::from_secs(120)).await;
        let plan = item_tags(&items(&w.store, dry.id).await, "planned");
        assert_eq!(plan.len(), TAGS - KEEP);

        proxy.fail_deletes_after(SUCCEEDING);
        let real = run_policy(&w, id, false).await.unwrap();
        let real = finished(&w.store, real, Duration::from_secs(120)).await;
        assert_eq!(real.state, RunState::Failed);
        assert_eq!(real.message.as_deref(), Some("stopped after 10 failures (the error budget)"));
        assert_eq!((real.counts.done, real.counts.failed), (SUCCEEDING as i64, 10));
        let run_items = items(&w.store, real.id).await;
        let failed: Vec<&RunItem> = run_items.iter().filter(|i| i.outcome == "failed").collect();
        assert_eq!(failed.len(), 10, "each failed delete is recorded");
        assert!(
            failed.iter().all(|i| i.action == "delete-manifest" && i.reason.as_deref().unwrap_or_default().contains("injected failure"))
        );
        assert_eq!(run_items.len(), SUCCEEDING + 10, "the run stopped at the budget: no unit after it");
        assert_eq!(proxy.refused_deletes(), 10);

        // What happened: the first deletes went through, nothing outside the plan.
        let applied: BTreeSet<String> = proxy.applied_deletes().into_iter().map(|(_, d)| d).collect();
        assert_eq!(applied.len(), SUCCEEDING);
        let after = tags_now(&registry.url, REPO).await;
        let deleted: BTreeSet<String> = before.keys().filter(|t| !after.contains_key(*t)).cloned().collect();
        assert_eq!(deleted.len(), SUCCEEDING);
        assert!(deleted.is_subset(&plan), "nothing outside the plan: {deleted:?}");
        assert_eq!(deleted.iter().map(|t| before[t].clone()).collect::<BTreeSet<_>>(), applied);
        for tag in &kept {
            assert_eq!(after.get(tag), before.get(tag), "kept {tag} untouched");
        }
        for i in &failed {
            assert!(manifest_exists(&registry.url, REPO, &i.digest).await, "a failed delete left {} in place", i.digest);
        }

        // Each deletion that happened is in the trash (deleted) and audited as done; each
        // failed one is in the trash as failed and audited as failed.
        let trash = trash_of(&w.store, real.id).await;
        let trashed_deleted: BTreeSet<String> =
            trash.iter().filter(|e| e.state == TrashState::Deleted).flat_map(|e| e.tags.iter().map(|(t, _)| t.clone())).collect();
        assert_eq!(trashed_deleted, deleted);
        assert_eq!(trash.iter().filter(|e| e.state == TrashState::Failed).count(), 10);
        assert!(trash.iter().all(|e| matches!(e.state, TrashState::Deleted | TrashState::Failed)));
        let done: BTreeSet<String> = audited(&w.store, Outcome::Done)
            .await
            .iter()
            .filter(|a| run_of(a) == Some(real.id))
            .flat_map(|a| a.entry.digests.clone())
            .collect();
        assert_eq!(done, applied);
        assert_eq!(audited(&w.store, Outcome::Failed).await.iter().filter(|a| run_of(a) == Some(real.id)).count(), 10);
    })
}

// ---------------------------------------------------------------------------------------------
// 3. SIGKILL mid-run, then a restart on the same data.

/// The real `portolan` binary on a free port, on the data in `dir`.
struct Process {
    url: String,
    guard: portolan_testkit::process::ChildGuard,
}

async fn start_portolan(dir: &std::path::Path, registry_url: &str, lease_secs: u64, n: usize) -> Process {
    portolan_testkit::process::start_on_free_port("portolan", |addr| async move {
        let url = format!("http://{addr}");
        let config = dir.join("portolan.toml");
        std::fs::write(&config, format!("listen = \"{addr}\"\n{}", config_toml(&url, registry_url, lease_secs)))?;
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_portolan"));
        cmd.args(["--config", config.to_str().unwrap(), "--data-dir", dir.join("data").to_str().unwrap()])
            .args(["--leptos-config", concat!(env!("CARGO_MANIFEST_DIR"), "/../Leptos.toml")])
            .env("PORTOLAN_LOG", "warn");
        let log = dir.join(format!("portolan-{n}.log"));
        let mut guard = portolan_testkit::process::ChildGuard::spawn("portolan", cmd, &log)?;
        portolan_testkit::process::wait_http(&format!("{url}/healthz"), &mut guard, &log).await?;
        Ok(Process { url, guard })
    })
    .await
    .unwrap()
}

impl Process {
    async fn call(&self, name: &str, body: String) -> (u16, String) {
        let r = portolan_testkit::runner::http_client()
            .post(format!("{}{}", self.url, server_fn(name)))
            .header("origin", &self.url)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-forwarded-user", "ada")
            .header("x-forwarded-groups", "admins")
            .body(body)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    async fn run_view(&self, id: i64) -> portolan_app::model::RunView {
        let (status, body) = self.call("get_run", qs(&portolan_app::api::GetRun { id, from: 0 })).await;
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).unwrap()
    }

    /// A server function answering with an id (a policy's, a run's): 200 and the id.
    async fn call_for_id(&self, name: &str, body: String) -> i64 {
        let (status, body) = self.call(name, body).await;
        assert_eq!(status, 200, "{name}: {body}");
        body.trim().parse().unwrap_or_else(|_| panic!("{name}: an id, not {body}"))
    }

    /// Run `id` once it is no longer running (polled; a failure after `limit`).
    async fn ended(&self, id: i64, limit: Duration) -> portolan_app::model::RunView {
        let waiting = Instant::now();
        loop {
            let view = self.run_view(id).await;
            if view.run.state != "running" {
                return view;
            }
            assert!(waiting.elapsed() < limit, "run {id} still running after {limit:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// SIGKILL: no destructor, no graceful shutdown, nothing flushed.
    fn kill_9(&mut self) {
        let status = std::process::Command::new("kill").args(["-9", &self.guard.id().to_string()]).status().unwrap();
        assert!(status.success());
        self.guard.kill(); // reaps it
    }
}

/// SIGTERM mid-run: the run ends as interrupted before its next delete, the one in flight
/// finished and in the trash, its lease handed back at once (another process runs the policy without waiting for
/// the lease to run out), and the process exits cleanly.
#[test]
fn sigterm_mid_run_ends_it_interrupted_and_hands_back_its_lease() {
    // Portolan runs as other processes only: beside the tests of Portolan in process.
    run_in_parallel(async {
        // Far longer than the test: only a lease handed back lets the second run start.
        const LEASE: u64 = 600;
        let registry = Registry::start(Kind::Anonymous, 0).await.unwrap();
        let seeder = Seeder::new(Pusher::new(&registry.url, PushAuth::None), true);
        let repos = ["stop/a", "stop/b", "stop/c"];
        for repo in repos {
            for i in 0..4 {
                seeder.image(repo, &[&format!("1.{i}")], &ImageSpec::new(&format!("{repo} {i}\n"))).await.unwrap();
            }
        }
        let proxy = FaultyProxy::start(&registry.url).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut first = start_portolan(dir.path(), &proxy.url, LEASE, 1).await;
        // Keep the highest version of each repository: three deletes in each.
        let policy = PolicyForm { repositories: "stop/*".into(), ..form("sigterm", 1, 1000) };
        let id = first.call_for_id("save_policy", qs(&portolan_app::api::SavePolicy { form: policy })).await;
        proxy.hold_deletes(Duration::from_millis(1500));
        let run_id = first.call_for_id("run_policy", qs(&portolan_app::api::RunPolicy { id, dry_run: false })).await;
        let waiting = Instant::now();
        while proxy.applied_deletes().is_empty() {
            assert!(waiting.elapsed() < Duration::from_secs(60), "the run never got to its first delete");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }

        let status = std::process::Command::new("kill").args(["-TERM", &first.guard.id().to_string()]).status().unwrap();
        assert!(status.success());
        let stopping = Instant::now();
        let exit = loop {
            if let Some(exit) = first.guard.try_wait().unwrap() {
                break exit;
            }
            assert!(stopping.elapsed() < Duration::from_secs(40), "still running 40 s after SIGTERM");
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert!(exit.success(), "exited {exit}");
        proxy.hold_deletes(Duration::ZERO);

        // It stopped before its next delete, the one in flight finished: no other repository
        // begun; everything it deleted is in the trash, deleted (restorable), none left
        // unsettled; the run says it was interrupted.
        let applied = proxy.applied_deletes();
        let in_repos: BTreeSet<&String> = applied.iter().map(|(r, _)| r).collect();
        assert!((1..3).contains(&applied.len()) && in_repos.len() == 1, "{applied:?}");
        let store_config = portolan_store::StoreConfig::new(portolan_store::Location::Sqlite(dir.path().join("data")));
        let store = Store::open(&store_config).await.unwrap();
        let run = store.run(run_id).await.unwrap();
        assert_eq!(run.state, RunState::Interrupted, "{:?}", run.message);
        let trash = trash_of(&store, run_id).await;
        assert_eq!(trash.len(), applied.len());
        assert!(trash.iter().all(|e| e.state == TrashState::Deleted), "{:?}", trash.iter().map(|e| e.state).collect::<Vec<_>>());
        store.close().await;

        // Another process runs the policy at once (the lease was handed back) and deletes the rest.
        let second = start_portolan(dir.path(), &proxy.url, LEASE, 2).await;
        let (status, body) = second.call("run_policy", qs(&portolan_app::api::RunPolicy { id, dry_run: false })).await;
        assert_eq!(status, 200, "the policy runs at once after SIGTERM: {body}");
        let again: i64 = body.trim().parse().unwrap();
        let view = second.ended(again, Duration::from_secs(60)).await;
        assert_eq!(view.run.state, "done", "{:?}", view.run.message);
        assert_eq!(proxy.applied_deletes().len(), 9, "three repositories, three deletes each");
        for repo in repos {
            assert_eq!(tags_now(&registry.url, repo).await.into_keys().collect::<Vec<_>>(), vec!["1.3".to_owned()], "{repo}");
        }
    })
}

#[test]
fn portolan_killed_mid_run_and_restarted_leaves_nothing_unaccounted() {
    // Portolan runs as other processes only: beside the tests of Portolan in process.
    run_in_parallel(async {
        const TAGS: usize = 40;
        const KEEP: usize = 10;
        const LEASE: u64 = 2;
        let registry = Registry::start(Kind::Anonymous, TAGS).await.unwrap();
        let proxy = FaultyProxy::start(&registry.url).await.unwrap();
        let before = tags_now(&registry.url, REPO).await;
        let kept = highest_versions(&before, KEEP);
        let dir = tempfile::tempdir().unwrap();
        let mut first = start_portolan(dir.path(), &proxy.url, LEASE, 1).await;
        let id = first.call_for_id("save_policy", qs(&portolan_app::api::SavePolicy { form: form("kill", KEEP as u32, 1000) })).await;

        // Each DELETE the registry applied is answered 1.5 s late: killed in that window, the
        // process has deleted without recording how the delete ended.
        proxy.hold_deletes(Duration::from_millis(1500));
        let run_id = first.call_for_id("run_policy", qs(&portolan_app::api::RunPolicy { id, dry_run: false })).await;
        let waiting = Instant::now();
        while proxy.applied_deletes().len() < 3 {
            assert!(waiting.elapsed() < Duration::from_secs(60), "the run never got to its third delete");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        first.kill_9();
        proxy.hold_deletes(Duration::ZERO);
        let applied: BTreeSet<String> = proxy.applied_deletes().into_iter().map(|(_, d)| d).collect();
        assert_eq!(applied.len(), 3);
        let after_kill = tags_now(&registry.url, REPO).await;
        let deleted: BTreeSet<String> = before.keys().filter(|t| !after_kill.contains_key(*t)).cloned().collect();
        assert_eq!(deleted.iter().map(|t| before[t].clone()).collect::<BTreeSet<_>>(), applied);
        assert!(deleted.is_disjoint(&kept));

        // As the killed process left it: the run running, the last delete saved but unsettled.
        let store_config = portolan_store::StoreConfig::new(portolan_store::Location::Sqlite(dir.path().join("data")));
        {
            let store = Store::open(&store_config).await.unwrap();
            assert_eq!(store.run(run_id).await.unwrap().state, RunState::Running);
            let trash = trash_of(&store, run_id).await;
            assert_eq!(trash.iter().filter(|e| e.state == TrashState::Saved).count(), 1, "the delete in flight when killed");
            assert_eq!(trash.iter().filter(|e| e.state == TrashState::Deleted).count(), 2);
            store.close().await;
        }

        // Restarted once the lease and the heartbeat are stale: the run is marked interrupted
        // and the unsettled delete settled, at the scheduler's first look.
        tokio::time::sleep(Duration::from_millis(LEASE * 1000 + LEASE * 250 + 500)).await;
        let second = start_portolan(dir.path(), &proxy.url, LEASE, 2).await;
        let view = second.ended(run_id, Duration::from_secs(30)).await;
        assert_eq!(view.run.state, "interrupted");
        assert!(view.run.message.as_deref().unwrap_or_default().contains("stopped mid-run"), "{:?}", view.run.message);
        let store = Store::open(&store_config).await.unwrap();
        let waiting = Instant::now();
        let trash = loop {
            let trash = trash_of(&store, run_id).await;
            if trash.iter().all(|e| e.state != TrashState::Saved) {
                break trash;
            }
            assert!(waiting.elapsed() < Duration::from_secs(30), "a trash entry was left saved");
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        // Every deletion before the kill is in the trash, deleted (restorable), and audited as
        // done: by the run, or — the one in flight — by Portolan settling it.
        assert!(
            trash.iter().all(|e| e.state == TrashState::Deleted),
            "{:?}",
            trash.iter().map(|e| (e.state, &e.summary)).collect::<Vec<_>>()
        );
        let trashed: BTreeSet<String> = trash.iter().flat_map(|e| e.tags.iter().map(|(t, _)| t.clone())).collect();
        assert_eq!(trashed, deleted);
        let settled: Vec<_> = trash.iter().filter(|e| e.state_reason.as_deref().unwrap_or_default().contains("settled")).collect();
        assert_eq!(settled.len(), 1, "the delete in flight is settled, and explained");
        assert_eq!(settled[0].state_by.as_deref(), Some("Portolan"));
        let done = audited(&store, Outcome::Done).await;
        let audited_digests: BTreeSet<String> =
            done.iter().filter(|a| run_of(a) == Some(run_id)).flat_map(|a| a.entry.digests.clone()).collect();
        assert_eq!(audited_digests, applied, "every deletion before the kill is audited as done");
        assert!(done.iter().any(|a| a.entry.actor == Actor::system() && run_of(a) == Some(run_id)), "the settled one, by Portolan");

        // Running again is safe: it completes, deletes the rest of the plan, keeps what it keeps.
        let again = second.call_for_id("run_policy", qs(&portolan_app::api::RunPolicy { id, dry_run: false })).await;
        let view = second.ended(again, Duration::from_secs(120)).await;
        assert_eq!(view.run.state, "done", "{:?}", view.run.message);
        assert_eq!((view.run.done, view.run.failed), ((TAGS - KEEP - 3) as i64, 0));
        let end = tags_now(&registry.url, REPO).await;
        assert_eq!(end.keys().cloned().collect::<BTreeSet<_>>(), kept, "exactly the kept tags remain");
        for tag in &kept {
            assert_eq!(end.get(tag), before.get(tag));
        }
        store.close().await;
        drop(second);
    })
}

// ---------------------------------------------------------------------------------------------
// 4. A tag pushed again between plan and apply.

#[test]
fn a_tag_pushed_again_between_plan_and_apply_is_skipped_not_deleted() {
    run(async {
        const TAGS: usize = 20;
        const KEEP: usize = 5;
        let registry = Registry::start(Kind::Anonymous, TAGS).await.unwrap();
        let pusher = Pusher::new(&registry.url, PushAuth::None);
        let shared = many_tag_name(1);
        retag(&pusher, &shared, "latest").await;
        let before = tags_now(&registry.url, REPO).await;
        let kept = highest_versions(&before, KEEP);
        let w = world(&registry.url, 60).await;
        let id = save_policy(&w, form("repush", KEEP as u32, 1000)).await;
        let record = w.store.policy(id).await.unwrap();
        let policy = service::runs::policy_of(&w.state, &record).unwrap();
        let reg = w.state.registry("reg").unwrap().clone();
        let repo = RepoName::parse(REPO).unwrap();

        // The plan, as a run makes it.
        let inventory = service::trash::fresh_inventory(&reg, &repo, &[]).await.unwrap();
        let plan = portolan_retention::plan(&policy, &inventory, time::OffsetDateTime::now_utc());
        assert_eq!(plan.deletions.len(), TAGS - KEEP);
        let deletion = plan
            .deletions
            .iter()
            .find(|u| matches!(u, portolan_retention::Deletion::DeleteManifest { .. }))
            .expect("a manifest to delete")
            .clone();
        let moved = deletion.tags()[0].to_owned();
        let untag = plan
            .deletions
            .iter()
            .find(|u| matches!(u, portolan_retention::Deletion::Untag { tag, .. } if *tag == shared))
            .expect("the shared build is only untagged")
            .clone();

        // Then both tags are pushed again, pointing at another image.
        let target = kept.iter().next().unwrap();
        let moved_to = retag(&pusher, target, &moved).await;
        let shared_to = retag(&pusher, target, &shared).await;
        assert_ne!(moved_to, before[&moved]);

        let deleter = service::trash::Deleter {
            registry: &reg,
            store: &w.store,
            actor: Actor::user("proxy", "ada", Some("ada")),
            request_id: None,
            run_id: None,
            known_tags: service::trash::KnownTags::of(&inventory),
            store_down: Default::default(),
        };
        let tags = service::trash::unit_tags(&deletion, &inventory);
        let (outcome, _) = deleter.apply_unit(&repo, &deletion, &tags).await;
        let skipped = outcome.iter().find(|i| i.tag.as_deref() == Some(moved.as_str())).expect("an item for the moved tag");
        assert_eq!((skipped.action.as_str(), skipped.outcome.as_str()), ("delete-tag", "skipped"));
        assert!(skipped.reason.as_deref().unwrap_or_default().contains("moved to"), "{:?}", skipped.reason);
        // The manifest the plan was about is deleted (no tag needs it any more); the tag is not.
        let root = outcome.iter().find(|i| i.action == "delete-manifest").expect("the manifest's delete");
        assert_eq!((root.digest.as_str(), root.outcome.as_str(), root.tag.as_deref()), (before[&moved].as_str(), "done", None));

        let tags = service::trash::unit_tags(&untag, &inventory);
        let (outcome, _) = deleter.apply_unit(&repo, &untag, &tags).await;
        assert_eq!(outcome.len(), 1);
        assert_eq!((outcome[0].action.as_str(), outcome[0].outcome.as_str()), ("delete-tag", "skipped"));
        assert!(outcome[0].reason.as_deref().unwrap_or_default().contains("now points to"), "{:?}", outcome[0].reason);

        let after = tags_now(&registry.url, REPO).await;
        assert_eq!(after.get(&moved), Some(&moved_to), "the re-pushed tag is never deleted");
        assert_eq!(after.get(&shared), Some(&shared_to), "the re-pushed tag is never deleted");
        assert_eq!(after.get("latest"), before.get("latest"));
        assert!(!manifest_exists(&registry.url, REPO, &before[&moved]).await);
        // Recorded as such in the audit log; the untag's trash entry says nothing was deleted.
        let skips = audited(&w.store, Outcome::Skipped).await;
        for tag in [&moved, &shared] {
            assert!(skips.iter().any(|a| a.entry.tags == vec![tag.clone()]), "{tag} audited as skipped");
        }
        let trash = w.store.trash_entries(&TrashFilter::default(), 100).await.unwrap();
        let untag_entry = trash.iter().find(|e| e.kind == TrashKind::Tag).expect("the untag's trash entry");
        assert_eq!(untag_entry.state, TrashState::Failed);
    })
}

// ---------------------------------------------------------------------------------------------
// 5. A policy edited while it runs.

#[test]
fn a_run_keeps_the_policy_version_it_started_with() {
    run(async {
        const TAGS: usize = 40;
        let registry = Registry::start(Kind::Anonymous, TAGS).await.unwrap();
        let proxy = FaultyProxy::start(&registry.url).await.unwrap();
        // Slow reads: the run lasts a few seconds, longer than its lease (2 s).
        proxy.delay_reads(Duration::from_millis(600));
        let w = world(&proxy.url, 2).await;
        let id = save_policy(&w, form("edited", 10, 1000)).await;
        let first = run_policy(&w, id, true).await.unwrap();

        let mut edit = form("edited", 20, 1000);
        edit.id = Some(id);
        edit.version = 1;
        assert_eq!(save_policy(&w, edit).await, id);
        assert_eq!(w.store.policy(id).await.unwrap().version, 2);
        assert_eq!(w.store.run(first).await.unwrap().state, RunState::Running, "edited while it runs");
        // The scheduler looks while the run reads the repository, past its lease: the run's
        // heartbeat keeps it from being taken for a dead replica's.
        tokio::time::sleep(Duration::from_millis(2600)).await;
        assert_eq!(w.store.run(first).await.unwrap().state, RunState::Running, "still reading");
        service::runs::tick(&w.state).await;

        let first = finished(&w.store, first, Duration::from_secs(120)).await;
        assert_eq!(first.state, RunState::Done, "{:?}", first.message);
        assert_eq!(first.policy_version, 1);
        assert_eq!(items(&w.store, first.id).await.len(), TAGS - 10, "planned with version 1: keep 10");
        proxy.delay_reads(Duration::ZERO);
        let second = run_policy(&w, id, true).await.unwrap();
        let second = finished(&w.store, second, Duration::from_secs(120)).await;
        assert_eq!(second.state, RunState::Done);
        assert_eq!(second.policy_version, 2);
        assert_eq!(items(&w.store, second.id).await.len(), TAGS - 20, "planned with version 2: keep 20");
        let starts = w.store.audit_entries(&AuditFilter { action: Some("policy-dry-run".into()), ..Default::default() }, 10).await.unwrap();
        assert!(starts.iter().any(|a| a.entry.reason.as_deref().unwrap_or_default().contains("(version 1)")));
        assert!(starts.iter().any(|a| a.entry.reason.as_deref().unwrap_or_default().contains("(version 2)")));
    })
}

// ---------------------------------------------------------------------------------------------
// 6. Two runs of one policy never overlap.

#[test]
fn a_second_run_of_a_running_policy_is_refused() {
    run(async {
        const TAGS: usize = 30;
        let registry = Registry::start(Kind::Anonymous, TAGS).await.unwrap();
        let proxy = FaultyProxy::start(&registry.url).await.unwrap();
        proxy.delay_reads(Duration::from_millis(300));
        let w = world(&proxy.url, 60).await;
        let id = save_policy(&w, form("once", 10, 1000)).await;
        let first = run_policy(&w, id, true).await.unwrap();
        for dry_run in [true, false] {
            let (status, body) = run_policy(&w, id, dry_run).await.unwrap_err();
            assert_eq!(status, 409, "{body}");
            assert!(
                body.contains("is going on already") && body.contains("once") && body.contains("runs of one policy never overlap"),
                "{body}"
            );
        }
        // Nor from another replica sharing the store.
        let record = w.store.policy(id).await.unwrap();
        let other = service::runs::start(
            &w.state,
            "another-replica",
            service::runs::RunRequest {
                record,
                trigger: portolan_store::Trigger::Manual,
                actor: Actor::user("proxy", "ada", Some("ada")),
                dry_run: true,
                scheduled_for: None,
                request_id: None,
            },
        )
        .await;
        assert!(matches!(other, Err(service::Error::Conflict(_))), "{other:?}");
        assert_eq!(w.store.runs(Some(id), None, 10).await.unwrap().len(), 1, "no second run was recorded");
        let started =
            w.store.audit_entries(&AuditFilter { action: Some("policy-dry-run".into()), ..Default::default() }, 10).await.unwrap();
        assert_eq!(started.len(), 1, "only the first run started");

        let first = finished(&w.store, first, Duration::from_secs(120)).await;
        assert_eq!(first.state, RunState::Done);
        // Once it ended, the policy runs again.
        proxy.delay_reads(Duration::ZERO);
        let next = run_policy(&w, id, true).await.unwrap();
        assert_eq!(finished(&w.store, next, Duration::from_secs(120)).await.state, RunState::Done);
    })
}
