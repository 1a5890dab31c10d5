//! API tokens and the REST API beyond the role matrix (see [`crate::roles`] for every endpoint
//! at every role through tokens and sessions): what a token may be made with, where it is
//! refused and why, what is recorded of its uses, and the API's own answers.

use std::net::SocketAddr;
use std::sync::Arc;

use portolan_app::model::{RegistryInfo, TokenForm};
use portolan_oci::memory::MemoryRegistry;
use portolan_store::{AuditFilter, NewToken};

use crate::support::{Answer, Registry, TestApp, Who, qs, run};

const CONFIG: &str = r#"
public_url = "http://portolan.test"
token_max_days = 30
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
[[registries]]
name = "mem"
url = "http://mem.invalid"
"#;

async fn portolan() -> (TestApp, MemoryRegistry) {
    let mem = MemoryRegistry::new();
    let config = serde_json::json!({"created": "2025-01-01T00:00:00Z", "os": "linux", "architecture": "amd64"});
    mem.put_image("team/app", &["1.0", "latest"], &config, b"app", None);
    mem.put_image("other/lib", &["1.0"], &config, b"lib", None);
    let registries = vec![Registry {
        info: RegistryInfo { name: "mem".into(), title: "mem".into(), host: "mem.invalid".into() },
        client: Arc::new(mem.clone()),
    }];
    (TestApp::build(CONFIG).registries(registries).start().await, mem)
}

/// Makes a token as `who` through the tokens page's server function.
async fn make(p: &TestApp, who: Who, repositories: &str, role: &str, days: u32) -> Answer {
    let form = TokenForm { name: "ci".into(), registry: "mem".into(), repositories: repositories.into(), role: role.into(), days };
    p.server_fn("create_token", who, qs(&portolan_app::api::CreateToken { form })).await
}

fn secret_of(a: &Answer) -> String {
    assert_eq!(a.status, 200, "{}", a.body);
    serde_json::from_str::<portolan_app::model::NewToken>(&a.body).unwrap().secret
}

/// `method uri` with `Authorization: Bearer token` (and a JSON body), from `peer`.
async fn api(p: &TestApp, method: &str, uri: &str, token: &str, body: Option<serde_json::Value>) -> Answer {
    let mut call = p.request(method, uri).header("authorization", &format!("Bearer {token}")).header("accept", "application/json");
    if let Some(b) = body {
        call = call.body(Some(b.to_string())).header("content-type", "application/json");
    }
    call.send().await
}

fn problem(a: &Answer) -> serde_json::Value {
    assert_eq!(a.header("content-type"), Some("application/problem+json"), "{}", a.body);
    serde_json::from_str(&a.body).unwrap()
}

#[test]
fn a_token_is_made_within_its_makers_role_and_its_secret_shown_once() {
    run(async {
        let (p, _) = portolan().await;
        let made = make(&p, Who::Maintainer, "team/*", "maintainer", 7).await;
        let secret = secret_of(&made);
        assert!(secret.starts_with("ptl_") && secret.len() == 47, "{secret}");
        // Kept as a hash only; lists show a hint, never the secret.
        let records = p.store.tokens(None).await.unwrap();
        assert_eq!(records.len(), 1);
        assert_ne!(records[0].hash, secret);
        assert_eq!(records[0].hash, portolan_service::tokens::hash(&secret));
        assert!(secret.starts_with(&records[0].hint) && records[0].hint.len() == 8);
        let list = p.server_fn("list_tokens", Who::Maintainer, String::new()).await;
        assert_eq!(list.status, 200);
        assert!(list.body.contains(&records[0].hint) && !list.body.contains(&secret), "{}", list.body);
        // Audited, without the secret.
        let entries = p.store.audit_entries(&AuditFilter { action: Some("token-create".into()), ..Default::default() }, 10).await.unwrap();
        assert_eq!(entries.len(), 1);
        assert!(!format!("{entries:?}").contains(&secret));

        // Never more than the maker has, nor longer than token_max_days, nor nameless.
        for (who, repositories, role, days, why) in [
            (Who::Viewer, "team/*", "maintainer", 7, "cannot have more than its maker"),
            (Who::Maintainer, "**", "admin", 7, "cannot have more than its maker"),
            (Who::Maintainer, "team/*", "viewer", 31, "1 to 30 days"),
            (Who::Maintainer, "team/*", "viewer", 0, "1 to 30 days"),
            (Who::Maintainer, "team/[", "viewer", 7, "not a valid pattern"),
        ] {
            let a = make(&p, who, repositories, role, days).await;
            assert_eq!(a.status, 400, "{who:?} {repositories} {role} {days}: {}", a.body);
            assert!(a.body.contains(why), "{why}: {}", a.body);
        }
        let a = make(&p, Who::Anonymous, "**", "viewer", 7).await;
        assert_eq!(a.status, 401);
        // A token cannot make tokens.
        let form = TokenForm { name: "x".into(), registry: "mem".into(), repositories: "team/*".into(), role: "viewer".into(), days: 1 };
        let a = p
            .request("POST", crate::support::server_fn("create_token"))
            .header("authorization", &format!("Bearer {secret}"))
            .body(Some(qs(&portolan_app::api::CreateToken { form })))
            .send()
            .await;
        assert_eq!(a.status, 400, "{}", a.body);
        assert_eq!(p.store.tokens(None).await.unwrap().len(), 1);
    })
}

#[test]
fn a_token_acts_within_its_scope_and_never_beyond_its_owner() {
    run(async {
        let (p, mem) = portolan().await;
        let token = secret_of(&make(&p, Who::Maintainer, "team/*", "maintainer", 7).await);
        // In scope: reads and a two-step delete.
        assert_eq!(api(&p, "GET", "/api/v1/tags/mem/team/app", &token, None).await.status, 200);
        let preview = api(&p, "POST", "/api/v1/delete-previews/mem/team/app", &token, Some(serde_json::json!({"tags": ["latest"]}))).await;
        assert_eq!(preview.status, 200, "{}", preview.body);
        let confirmation = serde_json::from_str::<portolan_app::model::DeletePreview>(&preview.body).unwrap().confirmation;
        // Cross-site checks are about cookies: a token's POST from anywhere is the script's own.
        let done = p
            .request("POST", "/api/v1/deletions/mem/team/app")
            .header("authorization", &format!("Bearer {token}"))
            .header("origin", "http://elsewhere.example")
            .header("content-type", "application/json")
            .body(Some(serde_json::json!({ "confirmation": confirmation }).to_string()))
            .send()
            .await;
        assert_eq!(done.status, 200, "{}", done.body);
        let outcome: serde_json::Value = serde_json::from_str(&done.body).unwrap();
        assert!(outcome["steps"].as_array().is_some_and(|s| !s.is_empty()), "{outcome}");
        assert_eq!(mem.tag_digest("team/app", "latest"), None, "deleted");
        assert!(mem.tag_digest("team/app", "1.0").is_some(), "only what was previewed");
        // Audited as its owner, with the token's id.
        let id = p.store.tokens(None).await.unwrap()[0].id;
        let entries = p.store.audit_entries(&AuditFilter { action: Some("delete*".into()), ..Default::default() }, 10).await.unwrap();
        assert!(
            !entries.is_empty()
                && entries.iter().all(|e| e.entry.actor.token == Some(id) && e.entry.actor.subject.as_deref() == Some("max")),
            "{entries:?}"
        );
        let audit = p
            .call(
                "POST",
                crate::support::server_fn("audit_list"),
                Who::Admin,
                Some(qs(&portolan_app::api::AuditList { query: Default::default() })),
            )
            .await;
        assert!(audit.body.contains(&format!("\"token\":{id}")), "the audit log shows the token");
        // Its use is recorded: when, and from where.
        let record = p.store.token(id).await.unwrap();
        assert!(record.last_used_at.is_some() && record.last_used_from.as_deref() == Some("127.0.0.1"), "{record:?}");

        // Out of scope: another repository is refused though the owner maintains it.
        let a = api(&p, "POST", "/api/v1/delete-previews/mem/other/lib", &token, Some(serde_json::json!({"tags": ["1.0"]}))).await;
        assert_eq!(a.status, 403, "{}", a.body);
        assert_eq!(problem(&a)["type"], "urn:portolan:problem:forbidden");
        let a = api(&p, "GET", "/api/v1/tags/mem/other/lib", &token, None).await;
        assert_eq!(a.status, 403, "{}", a.body);

        // The owner loses the role (their groups at the provider change: the next sign-in
        // says so): the token loses it too, at once.
        p.store.record_sign_in("proxy", "max", Some("max"), None, &[], time::OffsetDateTime::now_utc()).await.unwrap();
        let a = api(&p, "GET", "/api/v1/tags/mem/team/app", &token, None).await;
        assert_eq!(a.status, 403, "{}", a.body);
    })
}

#[test]
fn expired_revoked_unknown_and_ambiguous_tokens_are_refused_with_their_reason() {
    run(async {
        let (p, _) = portolan().await;
        let viewer = secret_of(&make(&p, Who::Viewer, "**", "viewer", 7).await);
        assert_eq!(api(&p, "GET", "/api/v1/registries", &viewer, None).await.status, 200);

        // Expired: made (as the store allows) with an expiry in the past.
        let owner = serde_json::json!({"provider": "proxy", "subject": "vera", "groups": ["viewers"]}).to_string();
        let expired = "ptl_expired-expired-expired-expired-expired-exp";
        p.store
            .token_create(&NewToken {
                name: "old".into(),
                hash: portolan_service::tokens::hash(expired),
                hint: "ptl_expi".into(),
                owner_provider: "proxy".into(),
                owner_subject: "vera".into(),
                owner_json: owner,
                registry: "mem".into(),
                repositories: vec!["**".into()],
                role: "viewer".into(),
                expires_at: time::OffsetDateTime::now_utc() - time::Duration::hours(1),
            })
            .await
            .unwrap();
        let a = api(&p, "GET", "/api/v1/registries", expired, None).await;
        assert_eq!(a.status, 401);
        assert!(problem(&a)["detail"].as_str().unwrap().contains("expired"), "{}", a.body);
        assert_eq!(a.header("www-authenticate"), Some("Bearer realm=\"portolan\""));

        // Revoked by its owner (the tokens page's form): refused, and audited once.
        let id = p.store.tokens(Some(("proxy", "vera"))).await.unwrap().iter().find(|t| t.name == "ci").unwrap().id;
        let a = p.server_fn("revoke_token", Who::Viewer, qs(&portolan_app::api::RevokeToken { id })).await;
        assert_eq!(a.status, 200, "{}", a.body);
        let a = p.server_fn("revoke_token", Who::Viewer, qs(&portolan_app::api::RevokeToken { id })).await;
        assert_eq!(a.status, 409, "revoked once: {}", a.body);
        let a = api(&p, "GET", "/api/v1/registries", &viewer, None).await;
        assert_eq!(a.status, 401);
        assert!(problem(&a)["detail"].as_str().unwrap().contains("revoked"), "{}", a.body);
        // Someone else's token does not exist for them; an admin of everything may revoke it.
        let other = secret_of(&make(&p, Who::Viewer, "**", "viewer", 7).await);
        let id = p.store.token_by_hash(&portolan_service::tokens::hash(&other)).await.unwrap().unwrap().id;
        let a = p.server_fn("revoke_token", Who::Maintainer, qs(&portolan_app::api::RevokeToken { id })).await;
        assert_eq!(a.status, 404);
        let a = p.server_fn("revoke_token", Who::Admin, qs(&portolan_app::api::RevokeToken { id })).await;
        assert_eq!(a.status, 200);
        let revoked = p.store.audit_entries(&AuditFilter { action: Some("token-revoke".into()), ..Default::default() }, 10).await.unwrap();
        assert_eq!(revoked.len(), 2, "{revoked:?}");

        // A token beside a session cookie or a proxy's identity: refused, not guessed.
        let fresh = secret_of(&make(&p, Who::Viewer, "**", "viewer", 7).await);
        let a = p
            .request("GET", "/api/v1/registries")
            .header("authorization", &format!("Bearer {fresh}"))
            .header("cookie", "portolan_session=whatever")
            .send()
            .await;
        assert_eq!(a.status, 400);
        assert_eq!(problem(&a)["type"], "urn:portolan:problem:ambiguous-credentials");
        let a = p.request("GET", "/api/v1/registries").who(Who::Admin).header("authorization", &format!("Bearer {fresh}")).send().await;
        assert_eq!(a.status, 400, "a token beside the proxy's identity headers");

        // Unknown tokens: refused, and from one address only so many times.
        let knocker: SocketAddr = "203.0.113.9:40000".parse().unwrap();
        for i in 0..10 {
            let a =
                p.request("GET", "/api/v1/registries").peer(knocker).header("authorization", &format!("Bearer ptl_guess{i}")).send().await;
            assert_eq!(a.status, 401, "attempt {i}");
            assert!(problem(&a)["detail"].as_str().unwrap().contains("no such token"), "{}", a.body);
        }
        let a = p.request("GET", "/api/v1/registries").peer(knocker).header("authorization", &format!("Bearer {fresh}")).send().await;
        assert_eq!(a.status, 429, "even a good token waits after too many refused ones: {}", a.body);
        assert!(a.header("retry-after").is_some());
        let a = p.request("GET", "/api/v1/registries").header("authorization", &format!("Bearer {fresh}")).send().await;
        assert_eq!(a.status, 200, "another address is not slowed down");
        let a = p.request("GET", "/api/v1/registries").header("authorization", "Bearer eyJhbGciOiJIUzI1NiJ9.x.y").send().await;
        assert!(problem(&a)["detail"].as_str().unwrap().contains("start with ptl_"), "{}", a.body);
        // No secret in any answer.
        assert!(!a.body.contains(&fresh));
    })
}

#[test]
fn the_openapi_document_describes_the_api_and_policies_run_and_report_through_it() {
    run(async {
        let (p, _) = portolan().await;
        let doc = p.request("GET", "/api/v1/openapi.json").send().await;
        assert_eq!(doc.status, 200);
        let doc: serde_json::Value = serde_json::from_str(&doc.body).unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
        for path in ["/api/v1/tags/{registry}/{repository}", "/api/v1/deletions/{registry}/{repository}", "/api/v1/policies/{id}/runs"] {
            assert!(doc["paths"].get(path).is_some(), "{path} documented");
        }
        assert!(doc["components"]["schemas"].get("TagPage").is_some(), "schemas from the DTOs");
        // A dry run through the API, followed until it ends (the second recipe of the README).
        let admin = secret_of(&make(&p, Who::Admin, "**", "admin", 7).await);
        let body = serde_json::json!({"name": "keep-one", "registry": "mem", "repositories": ["team/*"], "keep": {"most_recent": {"count": 1, "by": "version"}}});
        let policy = p.store.policy_create("keep-one", "mem", &body.to_string(), Some("ada")).await.unwrap();
        let started =
            api(&p, "POST", &format!("/api/v1/policies/{}/runs", policy.id), &admin, Some(serde_json::json!({"dry_run": true}))).await;
        assert_eq!(started.status, 202, "{}", started.body);
        let location = started.header("location").unwrap().to_owned();
        let mut state = String::new();
        for _ in 0..100 {
            let run: serde_json::Value = serde_json::from_str(&api(&p, "GET", &location, &admin, None).await.body).unwrap();
            state = run["run"]["state"].as_str().unwrap_or_default().to_owned();
            if state != "running" {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert_eq!(state, "done");
        // The audit log of the last day as CSV (the third recipe).
        let csv = p
            .request("GET", "/api/v1/audit?action=policy*")
            .header("authorization", &format!("Bearer {admin}"))
            .header("accept", "text/csv")
            .send()
            .await;
        assert_eq!(csv.status, 200);
        assert!(csv.header("content-type").unwrap().starts_with("text/csv"));
        assert!(csv.body.starts_with("id,time,") && csv.body.contains("policy-dry-run"), "{}", csv.body);
    })
}
