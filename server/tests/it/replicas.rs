//! Two Portolan replicas (the real binary, twice) on one real Postgres, with a real OpenID
//! provider and a real registry: a session started on one works on the other, a delete on one
//! shows in the other's trash and audit log, a schedule fires once across both, a replica
//! killed mid-run is taken over after its lease, and Postgres stopped and started again under
//! load gives 503s — also to writes, which change nothing, in the registry or the store — then
//! recovery, with every write made just before the outage there.

use std::time::{Duration, Instant};

use portolan_testkit::oidc::{OidcConfig, OidcProvider, browser_client};
use portolan_testkit::postgres::Postgres;
use portolan_testkit::process::start_on_free_ports;
use portolan_testkit::slow::SlowProxy;
use portolan_testkit::{Kind, Registry};

use crate::support::replica::Replica;
use crate::support::{qs, run_in_parallel_within, server_fn};

/// Calls a server function on `base` as the cookie jar's user; JSON back.
async fn call(client: &reqwest::Client, base: &str, origin: &str, name: &str, body: String) -> (u16, String) {
    let r = client
        .post(format!("{base}{}", server_fn(name)))
        .header("origin", origin)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.text().await.unwrap_or_default())
}

#[test]
fn two_replicas_on_one_postgres() {
    run_in_parallel_within(Duration::from_secs(480), async {
        let dir = tempfile::tempdir().unwrap();
        let mut pg = Postgres::start().await.unwrap();
        let db = pg.new_database("replicas").unwrap();
        let registry = Registry::start(Kind::Anonymous, 0).await.unwrap();
        // The same registry, every answer 400 ms late: a run long enough to be killed in the middle.
        let slow = SlowProxy::start(&registry.url, Duration::from_millis(400)).await.unwrap();
        // Both replicas' ports are known first: the provider sends people back to A, which
        // allows B's address. A port taken meanwhile starts all three again on others.
        let config = dir.path().join("portolan.toml");
        let (public, provider, a, mut b) = start_on_free_ports("two replicas and their OpenID provider", 2, |addrs| {
            let (config, dir, db, registry, slow) = (&config, dir.path(), &db, &registry, &slow);
            async move {
                let public = format!("http://{}", addrs[0]);
                let provider = OidcProvider::start(OidcConfig::default().redirect_uri(&format!("{public}/auth/callback/sso"))).await?;
                std::fs::write(
                    config,
                    format!(
                        r#"
public_url = "{public}"
allowed_hosts = ["{b}"]
database_url = "{db}"
database_timeout_secs = 2
retention_lease_secs = 6

[auth.proxy]
trusted = ["127.0.0.1"]

[[auth.providers]]
id = "sso"
kind = "oidc"
issuer = "{issuer}"
client_id = "{client_id}"
client_secret = "{client_secret}"
scopes = ["openid", "profile", "email", "groups"]

[[grants]]
role = "admin"
groups = ["sso:/platform/admins", "proxy:ops"]

[[registries]]
name = "reg"
url = "{registry}"
anonymous_read = true

[[registries]]
name = "slow"
url = "{slow}"
anonymous_read = true
"#,
                        b = addrs[1],
                        db = db,
                        issuer = provider.issuer(),
                        client_id = provider.client_id(),
                        client_secret = provider.client_secret().unwrap(),
                        registry = registry.url,
                        slow = slow.url,
                    ),
                )?;
                let a = Replica::start(config, addrs[0], dir, "a", "info").await?;
                let b = Replica::start(config, addrs[1], dir, "b", "info").await?;
                Ok((public, provider, a, b))
            }
        })
        .await
        .unwrap();

        // Sign in on A (through the provider's login form)…
        let browser = browser_client().unwrap();
        let r = browser.get(format!("{}/auth/login/sso?next=/", a.url)).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 303, "{}", r.text().await.unwrap_or_default());
        let to_provider = r.headers()["location"].to_str().unwrap().to_owned();
        let callback = provider.sign_in(&browser, &to_provider, "alice", "alice-pass").await.unwrap();
        let r = browser.get(&callback).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 303, "the callback signs in");
        // …and keep working on B: the session lives in Postgres.
        let (status, body) =
            call(&browser, &b.url, &public, "session_info", qs(&portolan_app::api::SessionInfo { registry: None, repository: None })).await;
        assert_eq!(status, 200, "{body}");
        let session: portolan_app::model::SessionView = serde_json::from_str(&body).unwrap();
        assert_eq!(session.role.as_deref(), Some("admin"), "{session:?}");

        // A delete on A appears in B's trash and audit log.
        let selection = portolan_app::model::DeleteSelection { tags: vec!["1.0.0".into()], ..Default::default() };
        let preview = portolan_app::api::PreviewDelete { registry: "reg".into(), repository: "library/hello".into(), selection };
        let (status, body) = call(&browser, &a.url, &public, "preview_delete", qs(&preview)).await;
        assert_eq!(status, 200, "{body}");
        let preview: portolan_app::model::DeletePreview = serde_json::from_str(&body).unwrap();
        let apply = portolan_app::api::ApplyDelete {
            registry: "reg".into(),
            repository: "library/hello".into(),
            confirmation: preview.confirmation,
        };
        let (status, body) = call(&browser, &a.url, &public, "apply_delete", qs(&apply)).await;
        assert_eq!(status, 200, "{body}");
        let (_, body) = call(&browser, &b.url, &public, "trash_list", qs(&portolan_app::api::TrashList { before: None })).await;
        let trash: portolan_app::model::TrashPage = serde_json::from_str(&body).unwrap();
        // 1.0.0 is the only ordinary tag of its image: the image goes, with its legacy signature.
        assert!(
            trash.rows.iter().any(|r| r.repository == "library/hello" && r.summary.contains("1.0.0") && r.state == "deleted"),
            "{body}"
        );
        let (_, body) =
            call(&browser, &b.url, &public, "audit_list", qs(&portolan_app::api::AuditList { query: Default::default() })).await;
        let audit: portolan_app::model::AuditPage = serde_json::from_str(&body).unwrap();
        assert!(
            audit.rows.iter().any(|r| r.action == "delete-manifest" && r.tags == vec!["1.0.0".to_string()] && r.outcome == "done"),
            "{body}"
        );
        assert!(audit.rows.iter().any(|r| r.action == "sign-in" && r.outcome == "done"));

        // A schedule fires once across both replicas: every minute, watched for two fires.
        let form = portolan_app::model::PolicyForm {
            name: "every-minute".into(),
            registry: "reg".into(),
            repositories: "library/*".into(),
            most_recent_count: "100".into(),
            schedule: "* * * * *".into(),
            ..Default::default()
        };
        let (status, body) = call(&browser, &a.url, &public, "save_policy", qs(&portolan_app::api::SavePolicy { form })).await;
        assert_eq!(status, 200, "{body}");
        let policy: i64 = serde_json::from_str(&body).unwrap();
        let deadline = Instant::now() + Duration::from_secs(150);
        let runs = loop {
            let (_, body) = call(&browser, &b.url, &public, "get_policy", qs(&portolan_app::api::GetPolicy { id: Some(policy) })).await;
            let page: portolan_app::model::PolicyPage = serde_json::from_str(&body).unwrap();
            let scheduled: Vec<_> = page.runs.iter().filter(|r| r.trigger == "schedule").cloned().collect();
            if scheduled.iter().filter(|r| r.state != "running").count() >= 2 || Instant::now() > deadline {
                break scheduled;
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
        };
        assert!(runs.len() >= 2, "two fires within two and a half minutes: {runs:?}");
        let mut fires: Vec<i64> = runs.iter().map(|r| r.started_at / 60).collect();
        fires.sort();
        fires.dedup();
        assert_eq!(fires.len(), runs.len(), "one run per fire, whichever replica took it: {runs:?}");

        // Writes just before the outage, through the proxy's identity (which needs no session,
        // so writes during the outage reach the store rather than stop at reading a session):
        // a policy saved, a tag deleted, and a delete previewed, to be confirmed during it.
        let ops = {
            let mut headers = reqwest::header::HeaderMap::new();
            headers.insert("x-forwarded-user", "ops".parse().unwrap());
            headers.insert("x-forwarded-groups", "ops".parse().unwrap());
            reqwest::Client::builder().default_headers(headers).timeout(Duration::from_secs(20)).build().unwrap()
        };
        let form = |name: &str| portolan_app::model::PolicyForm {
            name: name.into(),
            registry: "reg".into(),
            repositories: "library/*".into(),
            most_recent_count: "100".into(),
            ..Default::default()
        };
        let (status, body) =
            call(&ops, &a.url, &public, "save_policy", qs(&portolan_app::api::SavePolicy { form: form("just-before") })).await;
        assert_eq!(status, 200, "{body}");
        let just_before: i64 = serde_json::from_str(&body).unwrap();
        let preview_of = |tag: &str| portolan_app::api::PreviewDelete {
            registry: "reg".into(),
            repository: "library/hello".into(),
            selection: portolan_app::model::DeleteSelection { tags: vec![tag.into()], ..Default::default() },
        };
        let confirm = |confirmation: String| portolan_app::api::ApplyDelete {
            registry: "reg".into(),
            repository: "library/hello".into(),
            confirmation,
        };
        let (status, body) = call(&ops, &a.url, &public, "preview_delete", qs(&preview_of("2.0.0-rc.1"))).await;
        assert_eq!(status, 200, "{body}");
        let preview: portolan_app::model::DeletePreview = serde_json::from_str(&body).unwrap();
        let (status, body) = call(&ops, &a.url, &public, "apply_delete", qs(&confirm(preview.confirmation))).await;
        assert_eq!(status, 200, "{body}");
        let (status, body) = call(&ops, &b.url, &public, "preview_delete", qs(&preview_of("docker-v2"))).await;
        assert_eq!(status, 200, "{body}");
        let during: portolan_app::model::DeletePreview = serde_json::from_str(&body).unwrap();
        let tags_of = |repository: &'static str| {
            let url = format!("{}/v2/{repository}/tags/list", registry.url);
            async move {
                let http = portolan_testkit::runner::http_client();
                let list: serde_json::Value = http.get(url).send().await.unwrap().json().await.unwrap();
                list["tags"].as_array().unwrap().iter().map(|t| t.as_str().unwrap().to_owned()).collect::<Vec<_>>()
            }
        };
        let tags_before = tags_of("library/hello").await;
        assert!(tags_before.contains(&"docker-v2".to_string()) && !tags_before.contains(&"2.0.0-rc.1".to_string()), "{tags_before:?}");

        // Postgres stopped under load: clear 503s, no crash; started again: recovery, nothing lost.
        let load = {
            let urls = [a.url.clone(), b.url.clone()];
            tokio::spawn(async move {
                let client = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();
                let mut statuses = Vec::new();
                let until = Instant::now() + Duration::from_secs(8);
                while Instant::now() < until {
                    for u in &urls {
                        if let Ok(r) = client.get(format!("{u}/readyz")).send().await {
                            statuses.push(r.status().as_u16());
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                statuses
            })
        };
        tokio::time::sleep(Duration::from_millis(500)).await;
        pg.stop();
        tokio::time::sleep(Duration::from_secs(3)).await;
        // A signed-in person's session cannot be read: a clear 503, not an anonymous page.
        let page = browser.get(format!("{}/admin/audit", b.url)).send().await.unwrap();
        assert_eq!(page.status().as_u16(), 503, "a page that needs the database says it is unavailable");
        assert!(page.text().await.unwrap().contains("database"), "and says why");
        // Writes meanwhile are refused as unavailable, and change nothing: the confirmed delete
        // deletes nothing from the registry (its trash entry could not be saved first), the
        // policy is not saved.
        let (status, body) = call(&ops, &a.url, &public, "apply_delete", qs(&confirm(during.confirmation.clone()))).await;
        assert_eq!(status, 503, "a delete while the database is away: {body}");
        assert!(body.contains("database"), "says why: {body}");
        let (status, body) = call(&ops, &b.url, &public, "save_policy", qs(&portolan_app::api::SavePolicy { form: form("during") })).await;
        assert_eq!(status, 503, "a policy saved while the database is away: {body}");
        assert_eq!(tags_of("library/hello").await, tags_before, "the registry is as it was");
        pg.restart().await.unwrap();
        let statuses = load.await.unwrap();
        assert!(statuses.contains(&503), "readiness failed while the database was away");
        let deadline = Instant::now() + Duration::from_secs(30);
        let http = portolan_testkit::runner::http_client();
        loop {
            let ready = http.get(format!("{}/readyz", a.url)).send().await.is_ok_and(|r| r.status() == 200)
                && http.get(format!("{}/readyz", b.url)).send().await.is_ok_and(|r| r.status() == 200);
            if ready {
                break;
            }
            assert!(Instant::now() < deadline, "the replicas came back when the database did");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let (_, body) =
            call(&browser, &a.url, &public, "audit_list", qs(&portolan_app::api::AuditList { query: Default::default() })).await;
        let audit: portolan_app::model::AuditPage = serde_json::from_str(&body).unwrap();
        assert!(audit.rows.iter().any(|r| r.action == "delete-manifest"), "nothing lost: {body}");
        // Every write made just before the outage is there, on both replicas; none made during it.
        for base in [&a.url, &b.url] {
            let (status, body) = call(&ops, base, &public, "get_policy", qs(&portolan_app::api::GetPolicy { id: Some(just_before) })).await;
            assert_eq!(status, 200, "the policy saved just before: {body}");
            let (_, body) = call(&ops, base, &public, "get_policies", qs(&portolan_app::api::GetPolicies {})).await;
            assert!(body.contains("just-before") && !body.contains("\"during\""), "{body}");
            let (_, body) = call(&ops, base, &public, "trash_list", qs(&portolan_app::api::TrashList { before: None })).await;
            let trash: portolan_app::model::TrashPage = serde_json::from_str(&body).unwrap();
            assert!(trash.rows.iter().any(|r| r.summary.contains("2.0.0-rc.1") && r.state == "deleted"), "the delete just before: {body}");
            assert!(!trash.rows.iter().any(|r| r.summary.contains("docker-v2")), "nothing of the delete during: {body}");
        }
        // The delete refused during the outage can be confirmed now, and does exactly that.
        let (status, body) = call(&ops, &a.url, &public, "apply_delete", qs(&confirm(during.confirmation))).await;
        assert_eq!(status, 200, "{body}");
        assert!(!tags_of("library/hello").await.contains(&"docker-v2".to_string()));

        // A replica killed (SIGKILL) mid-run: while its lease holds, the policy cannot run again;
        // once the lease is out, the other replica marks the run interrupted and runs the policy.
        let form = portolan_app::model::PolicyForm {
            name: "long".into(),
            registry: "slow".into(),
            repositories: "**".into(),
            most_recent_count: "1".into(),
            ..Default::default()
        };
        let (status, body) = call(&browser, &a.url, &public, "save_policy", qs(&portolan_app::api::SavePolicy { form })).await;
        assert_eq!(status, 200, "{body}");
        let long: i64 = serde_json::from_str(&body).unwrap();
        let (status, body) =
            call(&browser, &b.url, &public, "run_policy", qs(&portolan_app::api::RunPolicy { id: long, dry_run: true })).await;
        assert_eq!(status, 200, "{body}");
        let killed_run: i64 = serde_json::from_str(&body).unwrap();
        let run_state = |id: i64| {
            let (browser, url, public) = (browser.clone(), a.url.clone(), public.clone());
            async move {
                let (_, body) = call(&browser, &url, &public, "get_run", qs(&portolan_app::api::GetRun { id, from: 0 })).await;
                let view: portolan_app::model::RunView = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
                view.run.state
            }
        };
        tokio::time::sleep(Duration::from_secs(2)).await;
        let state = run_state(killed_run).await;
        assert_eq!(state, "running", "the run is going on B; its log:\n{}", std::fs::read_to_string(&b.log).unwrap_or_default());
        b.kill();
        let (status, body) =
            call(&browser, &a.url, &public, "run_policy", qs(&portolan_app::api::RunPolicy { id: long, dry_run: true })).await;
        assert_eq!(status, 409, "the dead replica's lease still holds: {body}");
        let deadline = Instant::now() + Duration::from_secs(60);
        while run_state(killed_run).await == "running" {
            assert!(Instant::now() < deadline, "the run of the killed replica was marked within a minute");
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        assert_eq!(run_state(killed_run).await, "interrupted");
        let (status, body) =
            call(&browser, &a.url, &public, "run_policy", qs(&portolan_app::api::RunPolicy { id: long, dry_run: true })).await;
        assert_eq!(status, 200, "A takes the policy over: {body}");
        let taken: i64 = serde_json::from_str(&body).unwrap();
        assert_ne!(taken, killed_run);
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            match run_state(taken).await.as_str() {
                "running" => assert!(Instant::now() < deadline, "A's run ends"),
                state => {
                    assert_eq!(state, "done");
                    break;
                }
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        drop(a);
    })
}
