//! The router in process (`oneshot`) with registries in memory: what grants reach through
//! policies, runs and the audit log, deletes and restores, moved tags, the Host check, security
//! headers, metrics, hostile names and indexes. The role of every entry point at every caller
//! and place is in [`crate::roles`].
//!
//! Identities come from the trusted-proxy sign-in (headers from an allowed peer), which is one
//! of Portolan's real sign-in paths.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::http::StatusCode;
use portolan_app::model::RegistryInfo;
use portolan_oci::RegistryVerbs;
use portolan_oci::memory::MemoryRegistry;
use portolan_store::{Actor, ManifestRole, NewTrash, TrashKind, TrashManifest, TrashState};

use crate::support::{Answer, Registry, TestApp, Who, qs, registry, run, server_fn};

const CONFIG: &str = r#"
public_url = "http://portolan.test"
metrics_from = ["127.0.0.0/8", "10.20.0.0/16"]
[auth.proxy]
trusted = ["127.0.0.1"]
[[grants]]
role = "viewer"
registry = "mem"
groups = ["viewers"]
[[grants]]
role = "maintainer"
registry = "mem"
groups = ["maintainers"]
[[grants]]
role = "admin"
groups = ["admins"]
[[grants]]
role = "admin"
registry = "mem"
repositories = ["team/**"]
groups = ["team-admins"]
[[registries]]
name = "mem"
url = "http://mem.invalid"
[[registries]]
name = "pub"
url = "http://pub.invalid"
anonymous_read = true
"#;

struct World {
    portolan: TestApp,
    mem: MemoryRegistry,
    store: portolan_store::Store,
    image: String,
    policy: portolan_store::PolicyRecord,
}

async fn world() -> World {
    let mem = MemoryRegistry::new();
    let config_json = serde_json::json!({"created": "2025-01-01T00:00:00Z", "os": "linux", "architecture": "amd64"});
    let image = mem.put_image("team/app", &["1.0", "latest"], &config_json, b"layer", None);
    let other = mem.put_image("team/app", &["2.0"], &serde_json::json!({"os": "linux", "architecture": "arm64"}), b"other", None);
    mem.put_artifact(
        "team/app",
        &[],
        "application/vnd.oci.empty.v1+json",
        &serde_json::json!({}),
        b"sig",
        Some("application/vnd.dev.cosign.artifact.sig.v1+json"),
        Some((&image, 1)),
    );
    let public = MemoryRegistry::new();
    public.put_image("open/app", &["1.0"], &config_json, b"open", None);
    let registries = vec![
        Registry {
            info: RegistryInfo { name: "mem".into(), title: "mem".into(), host: "mem.invalid".into() },
            client: Arc::new(mem.clone()),
        },
        Registry { info: RegistryInfo { name: "pub".into(), title: "pub".into(), host: "pub.invalid".into() }, client: Arc::new(public) },
    ];
    let portolan = TestApp::build(CONFIG).registries(registries).start().await;
    let store = portolan.store.clone();
    // A deleted artifact in the trash: "2.0", gone from the registry, restorable.
    let repo = portolan_oci::RepoName::parse("team/app").unwrap();
    let doc = mem.manifest(&repo, &portolan_oci::Reference::Digest(portolan_oci::name::parse_digest(&other).unwrap())).await.unwrap();
    let trash_id = store
        .trash_put(&NewTrash {
            actor: Actor::system(),
            registry: "mem".into(),
            repository: "team/app".into(),
            kind: TrashKind::Artifact,
            summary: "team/app:2.0".into(),
            manifests: vec![TrashManifest {
                digest: other.clone(),
                media_type: doc.media_type.clone(),
                role: ManifestRole::Root,
                subject: None,
                content: doc.bytes.to_vec(),
            }],
            tags: vec![("2.0".into(), other.clone())],
            request_id: None,
            run_id: None,
        })
        .await
        .unwrap();
    store.trash_set_state(trash_id, TrashState::Deleted, None, None).await.unwrap();
    mem.delete_manifest(&repo, &other).await.unwrap();
    // A policy, and a finished run of it.
    let body = serde_json::json!({"name": "keep-one", "registry": "mem", "repositories": ["team/**"], "keep": {"most_recent": {"count": 1, "by": "version"}}});
    let policy = store.policy_create("keep-one", "mem", &body.to_string(), Some("ada")).await.unwrap();
    let run = store
        .run_start(&portolan_store::NewRun {
            policy_id: policy.id,
            policy_version: 1,
            policy_name: "keep-one".into(),
            registry: "mem".into(),
            trigger: portolan_store::Trigger::Manual,
            started_by: Some("ada".into()),
            dry_run: true,
            owner: "test".into(),
            scheduled_for: None,
            scope: vec!["team/**".into()],
        })
        .await
        .unwrap()
        .unwrap();
    store.run_finish(run.id, portolan_store::RunState::Done, &Default::default(), None).await.unwrap();
    let _ = (trash_id, run.id);
    World { portolan, mem, store, image, policy }
}

/// `method uri` as `who` with a form body and more headers.
async fn call(portolan: &TestApp, method: &str, uri: &str, who: Who, form: Option<String>, extra: &[(&str, &str)]) -> Answer {
    let mut call = portolan.request(method, uri).who(who).body(form);
    for (k, v) in extra {
        call = call.header(k, v);
    }
    call.send().await
}

#[test]
fn anonymous_visitors_see_only_public_registries() {
    run(async {
        let w = world().await;
        let path = server_fn("list_registries");
        let a = call(&w.portolan, "POST", path, Who::Anonymous, Some(String::new()), &[]).await;
        let list: Vec<RegistryInfo> = serde_json::from_str(&a.body).unwrap();
        assert_eq!(list.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(), vec!["pub"]);
        let a = call(&w.portolan, "POST", path, Who::Viewer, Some(String::new()), &[]).await;
        let list: Vec<RegistryInfo> = serde_json::from_str(&a.body).unwrap();
        assert_eq!(list.len(), 2);
    })
}

#[test]
fn metrics_are_for_allowed_peers() {
    run(async {
        let w = world().await;
        // Some traffic first, so counters exist.
        call(&w.portolan, "GET", "/r/mem/team/app", Who::Viewer, None, &[("accept", "text/html")]).await;
        let a = call(&w.portolan, "GET", "/metrics", Who::Anonymous, None, &[]).await;
        assert_eq!(a.status, 200);
        for name in
            ["portolan_http_requests_total", "portolan_http_request_duration_seconds", "portolan_store_connections", "portolan_cache_bytes"]
        {
            assert!(a.body.contains(name), "{name} missing from:\n{}", &a.body[..a.body.len().min(2000)]);
        }
        // No repository name in a label.
        assert!(!a.body.contains("team/app"));
        let a = w.portolan.request("GET", "/metrics").peer(SocketAddr::from(([10, 1, 2, 3], 40000))).send().await;
        assert_eq!(a.status, 403);
        // A network named in metrics_from may.
        let a = w.portolan.request("GET", "/metrics").peer(SocketAddr::from(([10, 20, 3, 4], 40000))).send().await;
        assert_eq!(a.status, 200);
    })
}

#[test]
fn cross_site_changes_are_refused() {
    run(async {
        let w = world().await;
        let path = server_fn("preview_delete").to_owned();
        let body = "registry=mem&repository=team%2Fapp&selection[tags][0]=1.0".to_owned();
        let a = call(&w.portolan, "POST", &path, Who::Admin, Some(body.clone()), &[("origin", "http://evil.example")]).await;
        assert_eq!(a.status, 403, "{}", a.body);
        let a = call(&w.portolan, "POST", &path, Who::Admin, Some(body.clone()), &[("sec-fetch-site", "cross-site")]).await;
        assert_eq!(a.status, 403, "{}", a.body);
        let a = call(&w.portolan, "POST", "/auth/logout", Who::Admin, None, &[("origin", "null")]).await;
        assert_eq!(a.status, 403);
        // Nothing was deleted.
        assert!(w.mem.tag_digest("team/app", "1.0").is_some());
    })
}

#[test]
fn identity_headers_from_an_untrusted_peer_are_ignored() {
    run(async {
        let w = world().await;
        let a = w
            .portolan
            .request("GET", "/r/mem/team/app")
            .header("accept", "text/html")
            .who(Who::User("mallory", "admins"))
            .peer(SocketAddr::from(([10, 9, 8, 7], 40000)))
            .send()
            .await;
        assert_eq!(a.status, 401);
    })
}

#[test]
fn a_foreign_host_is_refused_and_every_answer_carries_security_headers() {
    run(async {
        let w = world().await;
        let a = call(&w.portolan, "GET", "/", Who::Anonymous, None, &[]).await;
        assert_eq!(a.status, 200);
        let csp = a.headers.get("content-security-policy").unwrap().to_str().unwrap();
        assert!(csp.contains("'nonce-") && csp.contains("frame-ancestors 'none'"), "{csp}");
        let nonce = csp.split("'nonce-").nth(1).unwrap().split('\'').next().unwrap();
        assert!(a.body.contains(&format!("nonce=\"{nonce}\"")), "the page's scripts carry the nonce");
        assert_eq!(a.headers.get("x-content-type-options").unwrap(), "nosniff");
        assert!(a.headers.get("referrer-policy").is_some());
        assert!(a.headers.get("x-request-id").is_some());
        let a = call(&w.portolan, "GET", "/badge/pub/open/app/tags.svg", Who::Anonymous, None, &[]).await;
        assert!(a.headers.get("content-security-policy").unwrap().to_str().unwrap().starts_with("default-src 'none'"));
        let a = w.portolan.request("GET", "/").header("host", "evil.example").send().await;
        assert_eq!(a.status, StatusCode::MISDIRECTED_REQUEST);
    })
}

/// The security headers' values; HSTS only behind an https public URL; `/healthz`, `/readyz`
/// and `/metrics` on any Host; a request id and a forwarded Host taken from trusted proxies
/// only.
#[test]
fn security_headers_hsts_health_on_any_host_and_what_only_trusted_proxies_may_say() {
    run(async {
        let w = world().await;
        let given = ("x-request-id", "proxy-given-id-0001");
        let a = call(&w.portolan, "GET", "/", Who::Anonymous, None, &[given]).await;
        assert_eq!(a.status, 200);
        for (name, value) in [
            ("x-content-type-options", "nosniff"),
            ("referrer-policy", "same-origin"),
            ("x-frame-options", "DENY"),
            ("cross-origin-opener-policy", "same-origin"),
        ] {
            assert_eq!(a.header(name), Some(value), "{name}");
        }
        let csp = a.header("content-security-policy").unwrap();
        assert!(csp.contains("'wasm-unsafe-eval'") && csp.contains("connect-src 'self'"), "{csp}");
        assert_eq!(a.header("strict-transport-security"), None, "no HSTS behind a plain-http public URL");
        assert!(a.header("x-request-id").is_some_and(|id| id != given.1), "no trusted proxy here: the id is Portolan's own");
        for path in ["/healthz", "/readyz", "/metrics"] {
            let a = w.portolan.request("GET", path).header("host", "evil.example").send().await;
            assert_eq!(a.status, 200, "{path} on a foreign Host");
        }

        let toml = format!(
            "public_url = \"https://portolan.test\"\ntrusted_proxies = [\"127.0.0.1\"]\n{}",
            registry("pub", "http://pub.invalid", "")
        );
        let https = TestApp::new(&toml).await;
        let a = https.request("GET", "/").header(given.0, given.1).send().await;
        assert_eq!(a.status, 200);
        assert!(a.header("strict-transport-security").is_some_and(|v| v.contains("max-age=")), "HSTS behind an https public URL");
        assert_eq!(a.header("x-request-id"), Some(given.1), "a trusted proxy's request id is kept");
        let a = https.request("GET", "/").header("x-forwarded-host", "evil.example").send().await;
        assert_eq!(a.status, StatusCode::MISDIRECTED_REQUEST, "a trusted proxy's X-Forwarded-Host is the Host checked");
        let a = https
            .request("GET", "/")
            .header("x-forwarded-host", "evil.example")
            .peer(SocketAddr::from(([10, 9, 8, 7], 40000)))
            .send()
            .await;
        assert_eq!(a.status, 200, "X-Forwarded-Host from a peer that is not a trusted proxy is ignored");
    })
}

#[test]
fn a_maintainer_deletes_one_of_two_tags_and_restores_it() {
    run(async {
        let w = world().await;
        let preview = server_fn("preview_delete").to_owned();
        let selection = portolan_app::model::DeleteSelection { tags: vec!["1.0".into()], ..Default::default() };
        let body = qs(&portolan_app::api::PreviewDelete { registry: "mem".into(), repository: "team/app".into(), selection });
        let a = call(&w.portolan, "POST", &preview, Who::Maintainer, Some(body), &[]).await;
        let p: portolan_app::model::DeletePreview = serde_json::from_str(&a.body).unwrap();
        assert_eq!(p.units.len(), 1);
        assert_eq!(p.units[0].op, "untag", "1.0 shares its digest with latest: only the tag goes");
        assert_eq!(p.kept, vec![("latest".to_string(), format!("shares {} and stays", portolan_app::model::short_digest(&w.image)))]);
        let apply = server_fn("apply_delete");
        let body =
            qs(&portolan_app::api::ApplyDelete { registry: "mem".into(), repository: "team/app".into(), confirmation: p.confirmation });
        let a = call(&w.portolan, "POST", apply, Who::Maintainer, Some(body), &[]).await;
        assert_eq!(a.status, 200, "{}", a.body);
        assert_eq!(w.mem.tag_digest("team/app", "1.0"), None);
        assert_eq!(w.mem.tag_digest("team/app", "latest").as_deref(), Some(w.image.as_str()));
        let trash = w.store.trash_entries(&Default::default(), 10).await.unwrap();
        let entry = trash.iter().find(|e| e.summary.starts_with("team/app:1.0")).expect("a trash entry");
        assert_eq!(entry.state, TrashState::Deleted);
        let audit = w
            .store
            .audit_entries(&portolan_store::AuditFilter { action: Some("delete-tag".into()), ..Default::default() }, 10)
            .await
            .unwrap();
        assert_eq!(audit.len(), 1);
        assert_eq!(audit[0].entry.actor.subject.as_deref(), Some("max"));
        let restore = server_fn("trash_restore");
        let a = call(&w.portolan, "POST", restore, Who::Maintainer, Some(qs(&portolan_app::api::TrashRestore { id: entry.id })), &[]).await;
        assert_eq!(a.status, 200, "{}", a.body);
        assert_eq!(w.mem.tag_digest("team/app", "1.0").as_deref(), Some(w.image.as_str()), "restored to the same digest");
    })
}

#[test]
fn a_registry_refusing_portolans_credentials_is_not_a_sign_in_problem() {
    run(async {
        let w = world().await;
        w.mem.refuse_with(Some(portolan_oci::Error::new(portolan_oci::ErrorKind::Denied, "the configured credentials are not allowed")));
        let a = call(&w.portolan, "GET", "/r/mem/team/app", Who::Viewer, None, &[("accept", "text/html")]).await;
        assert_eq!(a.status, 502);
        assert!(a.body.contains("refused Portolan&#x27;s credentials") || a.body.contains("refused Portolan's credentials"), "{}", a.body);
        assert!(!a.body.contains("data-testid=\"sign-in-link\""));
    })
}

/// A grant on part of a registry reaches no further through what acts on a scope of
/// repositories: policies, their runs, the audit log.
#[test]
fn a_grant_on_part_of_a_registry_reaches_no_further_through_policies_runs_and_the_audit() {
    use portolan_app::api::*;
    use portolan_store::{NewAudit, Outcome};
    run(async {
        let w = world().await;
        // A registry-wide policy, and a run of it that touched two teams' repositories.
        let body = serde_json::json!({"name": "everything", "registry": "mem", "repositories": ["**"], "keep": {"most_recent": {"count": 1, "by": "version"}}});
        let everything = w.store.policy_create("everything", "mem", &body.to_string(), Some("ada")).await.unwrap();
        let new_run = |policy: &portolan_store::PolicyRecord| portolan_store::NewRun {
            policy_id: policy.id,
            policy_version: 1,
            policy_name: policy.name.clone(),
            registry: "mem".into(),
            trigger: portolan_store::Trigger::Manual,
            started_by: Some("ada".into()),
            dry_run: true,
            owner: "test".into(),
            scheduled_for: None,
            scope: crate::support::service::runs::scope_of(policy),
        };
        let run = w.store.run_start(&new_run(&everything)).await.unwrap().unwrap();
        let team_run = w.store.run_start(&new_run(&w.policy)).await.unwrap().unwrap();
        let item = |position: i64, repository: &str| portolan_store::RunItem {
            position,
            repository: repository.into(),
            action: "plan-untag".into(),
            tag: Some("old".into()),
            digest: w.image.clone(),
            outcome: "planned".into(),
            reason: None,
            bytes: 0,
            at: time::OffsetDateTime::now_utc(),
        };
        w.store.run_items_add(run.id, &[item(0, "team/app"), item(1, "other/lib")]).await.unwrap();
        w.store.run_items_add(team_run.id, &[item(0, "team/app"), item(1, "other/lib")]).await.unwrap();
        for repository in ["team/app", "other/lib"] {
            let entry = NewAudit::new(Actor::system(), "delete-tag", Outcome::Done).at("mem", Some(repository));
            w.store.audit(entry).await.unwrap();
        }
        // Entries about part of the registry (a policy, a run) say their scope; a sign-in is
        // about no registry and carries the person's groups.
        for (action, scope) in [("policy-run", "**"), ("policy-dry-run", "team/*")] {
            let entry = NewAudit::new(Actor::system(), action, Outcome::Done).at("mem", None).detail(serde_json::json!({"scope": [scope]}));
            w.store.audit(entry).await.unwrap();
        }
        w.store
            .audit(NewAudit::new(Actor::system(), "sign-in", Outcome::Done).detail(serde_json::json!({"groups": ["secret-team"]})))
            .await
            .unwrap();
        let form = |id: Option<i64>, version: i64, name: &str, repositories: &str| portolan_app::model::PolicyForm {
            id,
            version,
            name: name.into(),
            registry: "mem".into(),
            repositories: repositories.into(),
            most_recent_count: "1".into(),
            ..Default::default()
        };
        let policies_before = w.store.policies().await.unwrap().len();

        // Saving, previewing, deleting or running beyond team/** is refused, and nothing changes;
        // a policy or run beyond it does not exist for the caller (its name and scope stay hidden).
        let refused = [
            ("save_policy", qs(&SavePolicy { form: form(None, 0, "all", "**") }), 403),
            ("save_policy", qs(&SavePolicy { form: form(Some(everything.id), everything.version, "everything", "team/*") }), 404),
            ("save_policy", qs(&SavePolicy { form: form(Some(w.policy.id), w.policy.version, "keep-one", "team/**\nother/*") }), 403),
            ("preview_policy", qs(&PreviewPolicy { form: form(None, 0, "all", "*/*") }), 403),
            ("preview_policy", qs(&PreviewPolicy { form: form(Some(everything.id), everything.version, "everything", "team/*") }), 404),
            ("delete_policy", qs(&DeletePolicy { id: everything.id }), 404),
            ("run_policy", qs(&RunPolicy { id: everything.id, dry_run: true }), 404),
            ("stop_run", qs(&StopRun { id: run.id }), 404),
            ("get_run", qs(&GetRun { id: run.id, from: 0 }), 404),
            ("get_policy", qs(&GetPolicy { id: Some(everything.id) }), 404),
        ];
        for (name, body, status) in refused {
            let a = call(&w.portolan, "POST", server_fn(name), Who::TeamAdmin, Some(body.clone()), &[]).await;
            assert_eq!(a.status, status, "{name} {body}: {}", a.body);
            if status == 403 {
                assert!(a.body.contains("every repository of"), "the refusal says why: {}", a.body);
            } else {
                assert!(!a.body.contains("everything") && !a.body.contains("**"), "nothing about the hidden policy: {}", a.body);
            }
        }
        assert_eq!(w.store.policies().await.unwrap().len(), policies_before);
        assert_eq!(w.store.policy(everything.id).await.unwrap().version, everything.version);
        assert_eq!(w.store.policy(w.policy.id).await.unwrap().version, w.policy.version);
        assert!(!w.store.run(run.id).await.unwrap().stop_requested);
        let refusals = w
            .store
            .audit_entries(&portolan_store::AuditFilter { outcome: Some(Outcome::Refused), ..Default::default() }, 50)
            .await
            .unwrap();
        assert_eq!(refusals.len(), 2, "every refused change is audited (previews are reads): {refusals:?}");
        assert!(refusals.iter().all(|e| e.entry.actor.subject.as_deref() == Some("tia")));

        // Inside team/**: allowed.
        let a = call(
            &w.portolan,
            "POST",
            server_fn("preview_policy"),
            Who::TeamAdmin,
            Some(qs(&PreviewPolicy { form: form(None, 0, "t", "team/*") })),
            &[],
        )
        .await;
        assert_eq!(a.status, 200, "{}", a.body);
        let a = call(
            &w.portolan,
            "POST",
            server_fn("save_policy"),
            Who::TeamAdmin,
            Some(qs(&SavePolicy { form: form(None, 0, "team-only", "team/*") })),
            &[],
        )
        .await;
        assert_eq!(a.status, 200, "{}", a.body);
        assert_eq!(w.store.policies().await.unwrap().len(), policies_before + 1);

        // The list shows only policies and runs within the caller's scope, and offers only what
        // the caller may do.
        let a = call(&w.portolan, "POST", server_fn("get_policies"), Who::TeamAdmin, Some(String::new()), &[]).await;
        let page: portolan_app::model::PoliciesPage = serde_json::from_str(&a.body).unwrap();
        assert!(page.policies.iter().all(|p| p.name != "everything"), "{:?}", page.policies);
        let row = |name: &str| page.policies.iter().find(|p| p.name == name).unwrap_or_else(|| panic!("{name}")).clone();
        assert_eq!((row("keep-one").can_edit, row("keep-one").can_run), (true, true));
        let runs: Vec<i64> = page.recent_runs.iter().map(|r| r.id).collect();
        assert!(runs.contains(&team_run.id) && !runs.contains(&run.id), "{runs:?}");
        let a = call(&w.portolan, "POST", server_fn("get_policies"), Who::Admin, Some(String::new()), &[]).await;
        let page: portolan_app::model::PoliciesPage = serde_json::from_str(&a.body).unwrap();
        assert!(page.policies.iter().any(|p| p.name == "everything"));

        // A run's items: only the repositories the caller maintains.
        let a = call(&w.portolan, "POST", server_fn("get_run"), Who::TeamAdmin, Some(qs(&GetRun { id: team_run.id, from: 0 })), &[]).await;
        let view: portolan_app::model::RunView = serde_json::from_str(&a.body).unwrap();
        assert_eq!(view.items.iter().map(|i| i.repository.as_str()).collect::<Vec<_>>(), ["team/app"]);
        assert!(view.can_stop);
        let a = call(&w.portolan, "POST", server_fn("get_run"), Who::Admin, Some(qs(&GetRun { id: run.id, from: 0 })), &[]).await;
        let view: portolan_app::model::RunView = serde_json::from_str(&a.body).unwrap();
        assert_eq!(view.items.len(), 2);
        assert!(view.can_stop);

        // The audit log: entries about other repositories, scopes beyond the caller's, and
        // sign-ins (about no registry) stay hidden.
        let a = call(&w.portolan, "POST", server_fn("audit_list"), Who::TeamAdmin, Some(qs(&AuditList { query: Default::default() })), &[])
            .await;
        let audit: portolan_app::model::AuditPage = serde_json::from_str(&a.body).unwrap();
        let repositories: Vec<_> = audit.rows.iter().filter_map(|r| r.repository.as_deref()).collect();
        assert!(repositories.contains(&"team/app") && !repositories.contains(&"other/lib"), "{repositories:?}");
        let actions: Vec<_> = audit.rows.iter().map(|r| r.action.as_str()).collect();
        assert!(actions.contains(&"policy-dry-run") && !actions.contains(&"policy-run") && !actions.contains(&"sign-in"), "{actions:?}");
        let a =
            call(&w.portolan, "POST", server_fn("audit_list"), Who::Admin, Some(qs(&AuditList { query: Default::default() })), &[]).await;
        let audit: portolan_app::model::AuditPage = serde_json::from_str(&a.body).unwrap();
        assert!(audit.rows.iter().any(|r| r.repository.as_deref() == Some("other/lib")));
        let actions: Vec<_> = audit.rows.iter().map(|r| r.action.as_str()).collect();
        assert!(actions.contains(&"policy-run") && actions.contains(&"sign-in"), "{actions:?}");
    })
}

/// Visitors without an account cannot write to the audit log, and a registry name from the
/// request never reaches a header.
#[test]
fn refusals_of_visitors_and_unknown_registries_are_not_audited() {
    use portolan_app::api::*;
    run(async {
        let w = world().await;
        let count = || async { w.store.audit_entries(&Default::default(), 100).await.unwrap().len() };
        let before = count().await;
        let selection = portolan_app::model::DeleteSelection { tags: vec!["1.0".into()], ..Default::default() };
        let html: &[(&str, &str)] = &[("accept", "text/html")];
        let cases = [("mem", Who::Anonymous, 401), ("mem\nx-evil: 1", Who::Maintainer, 404), (&*"n".repeat(100_000), Who::Maintainer, 404)];
        for ((registry, who, status), form_post) in cases.iter().flat_map(|c| [(c, false), (c, true)]) {
            // A form post (asking for HTML) that fails goes back to the page it came from.
            let expected = |got: StatusCode| got == *status || (form_post && got == 302);
            let headers = if form_post { html } else { &[] };
            let body = qs(&PreviewDelete { registry: (*registry).into(), repository: "team/app".into(), selection: selection.clone() });
            let a = call(&w.portolan, "POST", server_fn("preview_delete"), *who, Some(body), headers).await;
            assert!(expected(a.status), "{registry:.20}: {} {}", a.status, a.body);
            assert!(a.body.len() < 2_000, "the name is not echoed whole");
            let body = qs(&ApplyDelete { registry: (*registry).into(), repository: "team/app".into(), confirmation: "{}".into() });
            let a = call(&w.portolan, "POST", server_fn("apply_delete"), *who, Some(body), headers).await;
            assert!(expected(a.status), "{registry:.20}: {} {}", a.status, a.body);
            assert!(a.headers.get("x-evil").is_none());
        }
        assert_eq!(count().await, before, "nothing was written to the audit log");
        assert_eq!(w.mem.tag_digest("team/app", "1.0").as_deref(), Some(w.image.as_str()));
        // A signed-in person's refusal on a configured registry is recorded.
        let body = qs(&PreviewDelete { registry: "mem".into(), repository: "team/app".into(), selection });
        let a = call(&w.portolan, "POST", server_fn("preview_delete"), Who::Viewer, Some(body), &[]).await;
        assert_eq!(a.status, 403);
        assert_eq!(count().await, before + 1);
    })
}

/// Deleting a manifest removes every tag on it: a tag pushed onto it after the plan (a build
/// promoted under a new name) stops the delete, so nothing that was not previewed goes.
#[test]
fn a_tag_pushed_onto_a_digest_after_its_plan_stops_the_delete() {
    use crate::support::service::trash::{Deleter, KnownTags, fresh_inventory, plan, unit_tags};
    run(async {
        let w = world().await;
        let registry = Registry {
            info: RegistryInfo { name: "mem".into(), title: "mem".into(), host: "mem.invalid".into() },
            client: Arc::new(w.mem.clone()),
        };
        let repo = portolan_oci::RepoName::parse("team/app").unwrap();
        let inventory = fresh_inventory(&registry, &repo, &[]).await.unwrap();
        let selection = portolan_app::model::DeleteSelection { digests: vec![w.image.clone()], ..Default::default() };
        let planned = plan(&selection, &inventory);
        let unit = planned.deletions.iter().find(|u| u.digest() == w.image).expect("the image is planned");
        let tags = unit_tags(unit, &inventory);
        assert_eq!(tags.len(), 2, "1.0 and latest: {tags:?}");
        let deleter = Deleter {
            registry: &registry,
            store: &w.store,
            actor: Actor::system(),
            request_id: None,
            run_id: None,
            known_tags: KnownTags::of(&inventory),
            store_down: Default::default(),
        };
        // After the plan, the same image is pushed under a new name.
        let config = serde_json::json!({"created": "2025-01-01T00:00:00Z", "os": "linux", "architecture": "amd64"});
        w.mem.put_image("team/app", &["promoted"], &config, b"layer", None);
        assert_eq!(w.mem.tag_digest("team/app", "promoted").as_deref(), Some(w.image.as_str()));
        let (items, trash) = deleter.apply_unit(&repo, unit, &tags).await;
        assert_eq!(trash, None, "nothing went to the trash: {items:?}");
        assert!(items.iter().all(|i| i.outcome == "skipped"), "{items:?}");
        assert!(items.iter().any(|i| i.reason.as_deref().is_some_and(|r| r.contains("promoted"))), "{items:?}");
        assert!(w.mem.has_manifest("team/app", &w.image));
        assert_eq!(w.mem.tag_digest("team/app", "1.0").as_deref(), Some(w.image.as_str()));
        // Planned again, the new tag is known and shown: the same delete now goes through.
        let inventory = fresh_inventory(&registry, &repo, &[]).await.unwrap();
        let planned = plan(&selection, &inventory);
        let unit = planned.deletions.iter().find(|u| u.digest() == w.image).unwrap();
        let tags = unit_tags(unit, &inventory);
        assert!(tags.iter().any(|(t, _)| t == "promoted"));
        let deleter = Deleter { known_tags: KnownTags::of(&inventory), ..deleter };
        let (items, trash) = deleter.apply_unit(&repo, unit, &tags).await;
        assert!(trash.is_some(), "{items:?}");
        assert!(!w.mem.has_manifest("team/app", &w.image));
        let entry = w.store.trash_entry(trash.unwrap()).await.unwrap();
        assert!(entry.tags.iter().any(|(t, _)| t == "promoted"), "the trash can put every tag back: {:?}", entry.tags);
    })
}

/// A tag the plan kept, moved onto the digest being deleted after the plan (a rolled-back
/// `latest`), stops the delete: it would go with the manifest without being in the trash.
#[test]
fn a_kept_tag_moved_onto_a_digest_after_its_plan_stops_the_delete() {
    use crate::support::service::trash::{Deleter, KnownTags, fresh_inventory, plan, unit_tags};
    run(async {
        let w = world().await;
        let registry = Registry {
            info: RegistryInfo { name: "mem".into(), title: "mem".into(), host: "mem.invalid".into() },
            client: Arc::new(w.mem.clone()),
        };
        let repo = portolan_oci::RepoName::parse("team/app").unwrap();
        let config = serde_json::json!({"created": "2024-01-01T00:00:00Z", "os": "linux", "architecture": "amd64"});
        let old = w.mem.put_image("team/app", &["0.9"], &config, b"old layer", None);
        let inventory = fresh_inventory(&registry, &repo, &[]).await.unwrap();
        let selection = portolan_app::model::DeleteSelection { digests: vec![old.clone()], ..Default::default() };
        let planned = plan(&selection, &inventory);
        let unit = planned.deletions.iter().find(|u| u.digest() == old).expect("the old image is planned");
        let tags = unit_tags(unit, &inventory);
        assert_eq!(tags, [("0.9".to_owned(), old.clone())]);
        let deleter = Deleter {
            registry: &registry,
            store: &w.store,
            actor: Actor::system(),
            request_id: None,
            run_id: None,
            known_tags: KnownTags::of(&inventory),
            store_down: Default::default(),
        };
        // After the plan, latest (kept: it pointed at the current image) is rolled back onto it.
        assert_eq!(w.mem.tag_digest("team/app", "latest").as_deref(), Some(w.image.as_str()));
        w.mem.put_image("team/app", &["latest"], &config, b"old layer", None);
        assert_eq!(w.mem.tag_digest("team/app", "latest").as_deref(), Some(old.as_str()));
        let (items, trash) = deleter.apply_unit(&repo, unit, &tags).await;
        assert_eq!(trash, None, "nothing went to the trash: {items:?}");
        assert!(items.iter().any(|i| i.outcome == "skipped" && i.reason.as_deref().is_some_and(|r| r.contains("latest"))), "{items:?}");
        assert!(w.mem.has_manifest("team/app", &old), "the rolled-back image is still there");
        assert_eq!(w.mem.tag_digest("team/app", "latest").as_deref(), Some(old.as_str()));
    })
}

/// A hostile index: thousands of entries for one platform manifest, and hundreds of
/// attestations all about it. The page lists each entry with a few attestations (the rest with
/// the other entries), instead of copying every attestation into every row.
#[test]
fn an_index_of_one_platform_repeated_with_its_attestations_stays_bounded() {
    use portolan_app::model::ArtifactBody;
    run(async {
        let w = world().await;
        let platform = serde_json::json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": w.image, "size": 100,
            "platform": {"os": "linux", "architecture": "amd64"},
        });
        let attestation = |i: usize| {
            serde_json::json!({
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": portolan_oci::manifest::sha256_digest(format!("attestation {i}").as_bytes()), "size": 100,
                "platform": {"os": "unknown", "architecture": "unknown"},
                "annotations": {"vnd.docker.reference.digest": w.image, "vnd.docker.reference.type": "attestation-manifest"},
            })
        };
        let manifests: Vec<serde_json::Value> = std::iter::repeat_n(platform, 2_000).chain((0..500).map(attestation)).collect();
        let index = serde_json::json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": manifests});
        w.mem.put_raw("team/app", &["hostile"], "application/vnd.oci.image.index.v1+json", index.to_string().into_bytes());
        let body =
            qs(&portolan_app::api::GetArtifact { registry: "mem".into(), repository: "team/app".into(), reference: "hostile".into() });
        let a = call(&w.portolan, "POST", server_fn("get_artifact"), Who::Viewer, Some(body), &[]).await;
        assert_eq!(a.status, 200, "{}", &a.body[..a.body.len().min(500)]);
        let view: portolan_app::model::ArtifactView = serde_json::from_str(&a.body).unwrap();
        let ArtifactBody::Index { platforms, others } = view.body else { panic!("an index") };
        assert_eq!(platforms.len(), 2_000);
        assert!(platforms.iter().all(|p| p.attestations.len() == 8), "a few attestations with each platform");
        assert_eq!(others.len(), 492, "the rest are listed once, with the other entries");
        // The page itself renders.
        let a = call(&w.portolan, "GET", "/r/mem/team/app:hostile", Who::Viewer, None, &[]).await;
        assert_eq!(a.status, 200);
    })
}

/// A registry name from the address never reaches a redirect unchecked.
#[test]
fn a_newline_in_a_registry_name_is_a_clear_error() {
    run(async {
        let w = world().await;
        for uri in ["/r/a%0Ab?open=team/app", "/r/a%0D%0Ax-evil:%201?open=team/app"] {
            let a = call(&w.portolan, "GET", uri, Who::Admin, None, &[]).await;
            assert_eq!(a.status, 404, "{uri}: {}", &a.body[..a.body.len().min(300)]);
            assert!(a.headers.get("x-evil").is_none() && a.headers.get("location").is_none());
        }
        let a = call(&w.portolan, "GET", "/r/mem?open=team/app", Who::Admin, None, &[]).await;
        assert_eq!(a.headers.get("location").and_then(|l| l.to_str().ok()), Some("/r/mem/team/app"));
    })
}

/// The stylesheet is kept for good only under its own version's address: an old replica
/// answering a newer `?v=` during a rolling deploy must not have its sheet kept under it.
#[test]
fn the_stylesheet_is_immutable_only_under_its_own_hash() {
    run(async {
        let w = world().await;
        let cache = |a: &Answer| a.headers.get("cache-control").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let a = call(&w.portolan, "GET", &portolan_server::STYLESHEET, Who::Anonymous, None, &[]).await;
        assert_eq!(a.status, 200);
        assert_eq!(cache(&a).as_deref(), Some("public, max-age=31536000, immutable"));
        let a = call(&w.portolan, "GET", "/style/portolan.css?v=0123456789abcdef", Who::Anonymous, None, &[]).await;
        assert_eq!(cache(&a).as_deref(), Some("public, no-cache"));
        // Pages say nothing of their own: kept by the browser only, checked before reuse.
        let a = call(&w.portolan, "GET", "/r/pub", Who::Anonymous, None, &[]).await;
        assert_eq!(cache(&a).as_deref(), Some("private, no-cache"));
    })
}

#[test]
fn the_sign_in_note_is_shown_as_text() {
    run(async {
        let registries = "[[registries]]\nname = \"r\"\nurl = \"http://r.invalid\"\n";
        let note = "Ask <b>#platform</b> for access.\nadmin / s3cret & more";
        let portolan =
            TestApp::new(&format!("[auth]\nsign_in_note = {note:?}\n[auth.proxy]\ntrusted = [\"127.0.0.1\"]\n{registries}")).await;
        let page = portolan.get("/sign-in").await;
        assert_eq!(page.status, 200);
        let at = page.body.find("data-testid=\"sign-in-note\"").unwrap_or_else(|| panic!("the note is on the page: {}", page.body));
        let shown = &page.body[at..];
        assert!(shown.contains("Ask &lt;b"), "markup shown as text: {shown}");
        assert!(shown.contains("for access.\nadmin / s3cret &amp; more"), "its lines kept: {shown}");
        assert!(!page.body.contains("<b>#platform"), "never markup");
        let without = TestApp::new(&format!("[auth.proxy]\ntrusted = [\"127.0.0.1\"]\n{registries}")).await;
        assert!(!without.get("/sign-in").await.body.contains("sign-in-note"));
    })
}
