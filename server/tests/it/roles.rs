//! The role matrix: every server function and every route, called by every kind of caller, in a
//! repository inside a grant, outside it on the same registry, and on another registry — each
//! expected status derived from what the entry point declares it needs
//! (`portolan_app::api::needs`, the table the code takes its roles from) and from the grants, by
//! the same access rules Portolan uses. Callers come through the trusted proxy's headers and
//! through sessions as a sign-in leaves them; pages also through the browser path (gzip, so the
//! page cache is in the way), where a kept page must never cross identities, roles or a
//! sign-out. Every change is also tried cross-site, and everything in the read-only mode.

use std::collections::BTreeMap;
use std::sync::Arc;

use portolan_access::{Access, Identity, Role};
use portolan_app::api::needs::{EntryPoint, Level, Need, ROUTES, SERVER_FUNCTIONS};
use portolan_app::model::{DeleteSelection, PolicyForm, RegistryInfo, TagQuery};
use portolan_oci::RegistryVerbs;
use portolan_oci::memory::MemoryRegistry;
use portolan_store::{Actor, ManifestRole, NewTrash, TrashKind, TrashManifest, TrashState};

use crate::support::{Answer, Registry, TestApp, Who, fn_name, one_router_at_a_time, qs, run, server_fn};

/// Grants by groups, qualified by provider: the proxy's identities and the OpenID provider's
/// sessions get the same roles. `team-admins` are admins of `team/**` in `mem` only; `pub`
/// lets everyone browse.
const CONFIG: &str = r#"
public_url = "http://portolan.test"
[auth.proxy]
trusted = ["127.0.0.1"]
[[auth.providers]]
id = "sso"
kind = "oidc"
issuer = "http://127.0.0.1:9"
client_id = "portolan"
client_secret = "s"
[[grants]]
role = "viewer"
registry = "mem"
groups = ["proxy:viewers", "sso:viewers"]
[[grants]]
role = "maintainer"
registry = "mem"
groups = ["proxy:maintainers", "sso:maintainers"]
[[grants]]
role = "admin"
groups = ["proxy:admins", "sso:admins"]
[[grants]]
role = "admin"
registry = "mem"
repositories = ["team/**"]
groups = ["proxy:team-admins", "sso:team-admins"]
[[registries]]
name = "mem"
url = "http://mem.invalid"
[[registries]]
name = "pub"
url = "http://pub.invalid"
anonymous_read = true
"#;

/// The same registries with no sign-in configured: Portolan is a read-only browser.
const READ_ONLY: &str = r#"
public_url = "http://portolan.test"
[[registries]]
name = "mem"
url = "http://mem.invalid"
[[registries]]
name = "pub"
url = "http://pub.invalid"
"#;

const CALLERS: [Who; 5] = [Who::Anonymous, Who::Viewer, Who::Maintainer, Who::Admin, Who::TeamAdmin];

/// Inside the team grant, outside it on the same registry, and another (public) registry.
const PLACES: [(&str, &str); 3] = [("mem", "team/app"), ("mem", "other/lib"), ("pub", "open/app")];

/// What one place holds: an image (`1.0`, `latest`) with a signature, a deleted artifact in the
/// trash, a policy on the repository and a finished run of it.
#[derive(Clone)]
struct Place {
    registry: &'static str,
    repo: &'static str,
    image: String,
    layer: String,
    trash: i64,
    policy: portolan_store::PolicyRecord,
    run: i64,
}

struct World {
    portolan: TestApp,
    registries: BTreeMap<&'static str, MemoryRegistry>,
    places: Vec<Place>,
    /// An API token of vera's (the viewer, through the proxy).
    veras_token: i64,
}

/// Whose token the world holds.
const TOKEN_OWNER: (&str, &str) = ("proxy", "vera");

async fn world(toml: &str) -> World {
    let registries: BTreeMap<&'static str, MemoryRegistry> = [("mem", MemoryRegistry::new()), ("pub", MemoryRegistry::new())].into();
    let config = serde_json::json!({"created": "2025-01-01T00:00:00Z", "os": "linux", "architecture": "amd64"});
    let mut images = Vec::new();
    for (registry, repo) in PLACES {
        let r = &registries[registry];
        let layer = format!("layer of {registry}/{repo}");
        let image = r.put_image(repo, &["1.0", "latest"], &config, layer.as_bytes(), None);
        let deleted = r.put_image(repo, &["2.0"], &serde_json::json!({"os": "linux", "architecture": "arm64"}), b"deleted", None);
        r.put_artifact(
            repo,
            &[],
            "application/vnd.oci.empty.v1+json",
            &serde_json::json!({}),
            b"sig",
            Some("application/vnd.dev.cosign.artifact.sig.v1+json"),
            Some((&image, 1)),
        );
        images.push((registry, repo, image, portolan_oci::manifest::sha256_digest(layer.as_bytes()), deleted));
    }
    let clients = registries
        .iter()
        .map(|(name, r)| Registry {
            info: RegistryInfo { name: (*name).into(), title: (*name).into(), host: format!("{name}.invalid") },
            client: Arc::new(r.clone()),
        })
        .collect();
    let portolan = TestApp::build(toml).registries(clients).start().await;
    let store = portolan.store.clone();
    let mut places = Vec::new();
    for (registry, repo, image, layer, deleted) in images {
        let r = &registries[registry];
        let name = portolan_oci::RepoName::parse(repo).unwrap();
        let doc = r.manifest(&name, &portolan_oci::Reference::Digest(portolan_oci::name::parse_digest(&deleted).unwrap())).await.unwrap();
        let trash = store
            .trash_put(&NewTrash {
                actor: Actor::system(),
                registry: registry.into(),
                repository: repo.into(),
                kind: TrashKind::Artifact,
                summary: format!("{repo}:2.0"),
                manifests: vec![TrashManifest {
                    digest: deleted.clone(),
                    media_type: doc.media_type.clone(),
                    role: ManifestRole::Root,
                    subject: None,
                    content: doc.bytes.to_vec(),
                }],
                tags: vec![("2.0".into(), deleted.clone())],
                request_id: None,
                run_id: None,
            })
            .await
            .unwrap();
        store.trash_set_state(trash, TrashState::Deleted, None, None).await.unwrap();
        r.delete_manifest(&name, &deleted).await.unwrap();
        let body = serde_json::json!({"name": format!("keep-one {repo}"), "registry": registry, "repositories": [repo], "keep": {"most_recent": {"count": 1, "by": "version"}}});
        let policy = store.policy_create(&format!("keep-one {repo}"), registry, &body.to_string(), Some("ada")).await.unwrap();
        let run = store
            .run_start(&portolan_store::NewRun {
                policy_id: policy.id,
                policy_version: policy.version,
                policy_name: policy.name.clone(),
                registry: registry.into(),
                trigger: portolan_store::Trigger::Manual,
                started_by: Some("ada".into()),
                dry_run: true,
                owner: "test".into(),
                scheduled_for: None,
                scope: vec![repo.into()],
            })
            .await
            .unwrap()
            .unwrap();
        store.run_finish(run.id, portolan_store::RunState::Done, &Default::default(), None).await.unwrap();
        places.push(Place { registry, repo, image, layer, trash, policy, run: run.id });
    }
    let owner = identity(Who::Viewer, TOKEN_OWNER.0).unwrap();
    let asked = portolan_service::tokens::TokenRequest {
        name: "vera's".into(),
        registry: "mem".into(),
        repositories: vec!["**".into()],
        role: Role::Viewer,
        days: 7,
    };
    let (_, token) = portolan_service::tokens::create(&portolan.state, &owner, asked, 90).await.unwrap();
    World { portolan, registries, places, veras_token: token.id }
}

/// A caller's identity as a proxy or a session gives it.
fn identity(who: Who, provider: &str) -> Option<Identity> {
    let (user, groups) = who.identity()?;
    let mut id = Identity::new(provider, user);
    id.groups = groups.split(',').map(str::to_owned).collect();
    Some(id)
}

fn role(level: Level) -> Role {
    match level {
        Level::Viewer => Role::Viewer,
        Level::Maintainer => Role::Maintainer,
        Level::Admin => Role::Admin,
    }
}

/// The status `need` gives `who` at `place`, worked out from the grants by Portolan's access
/// rules: what each entry point must answer.
fn expected(access: &Access, need: Need, who: Option<&Identity>, place: &Place) -> u16 {
    let scope = [place.repo.to_owned()];
    let refused = |have: Option<Role>, needed: Role| {
        if have.is_some_and(|h| h >= needed) {
            200
        } else if who.is_none() {
            401
        } else {
            403
        }
    };
    match need {
        Need::Anyone => 200,
        Need::SignedIn => {
            if who.is_some() {
                200
            } else {
                401
            }
        }
        Need::On(l) => refused(access.role_for(who, place.registry, Some(place.repo)), role(l)),
        Need::OnRegistry(l) => refused(access.role_for(who, place.registry, None), role(l)),
        Need::OverScope(l) => {
            // Previewing asks for the role somewhere first; saving asks over the scope only.
            refused(access.role_over(who, place.registry, &scope), role(l))
        }
        Need::Somewhere(l) => refused(access.highest_role(who), role(l)),
        Need::Everywhere(l) => {
            let all = ["**".to_owned()];
            refused(["mem", "pub"].into_iter().map(|r| access.role_over(who, r, &all)).min().flatten(), role(l))
        }
        Need::Own => match who {
            None => 401,
            Some(w) if (w.provider.as_str(), w.subject.as_str()) == TOKEN_OWNER => 200,
            Some(_)
                if ["mem", "pub"].into_iter().all(|r| access.role_over(who, r, &["**".to_owned()]).is_some_and(|h| h >= Role::Admin)) =>
            {
                200
            }
            Some(_) => 404,
        },
        Need::Named { see, act } => {
            let act = role(act);
            if who.is_none() {
                return 401;
            }
            if access.highest_role(who).is_none_or(|h| h < act) {
                return 403;
            }
            let here = match see {
                // A trash entry: by its repository.
                None => access.role_for(who, place.registry, Some(place.repo)),
                // A policy or a run: over its scope.
                Some(_) => access.role_over(who, place.registry, &scope),
            };
            let hidden = match see {
                None => here.is_none(),
                Some(s) => here.is_none_or(|h| h < role(s)),
            };
            if hidden {
                404
            } else if here.is_some_and(|h| h >= act) {
                200
            } else {
                403
            }
        }
    }
}

/// Whether a need is about a place (else it is checked once).
fn placed(need: Need) -> bool {
    matches!(need, Need::On(_) | Need::OnRegistry(_) | Need::OverScope(_) | Need::Named { .. })
}

/// The places an entry point is called at: every place when its need is about one, else the first.
fn places_for(w: &World, entry: &EntryPoint) -> Vec<Place> {
    if placed(entry.need) { w.places.clone() } else { vec![w.places[0].clone()] }
}

/// The world a call runs in, and `place` in it: a fresh one for a change (it changes the world
/// it runs in), kept in `fresh`.
async fn world_for<'a>(reads: &'a World, entry: &EntryPoint, place: &Place, fresh: &'a mut Option<World>) -> (&'a World, &'a Place) {
    let w: &World = if entry.change.is_some() { fresh.insert(world(CONFIG).await) } else { reads };
    (w, w.places.iter().find(|p| p.repo == place.repo).unwrap())
}

/// The form body calling server function `name` about `place` (`world` gives a real delete
/// confirmation, made by an admin's preview).
async fn body(w: &World, name: &str, place: &Place) -> String {
    use portolan_app::api::*;
    let (registry, repository) = (place.registry.to_owned(), place.repo.to_owned());
    let form = PolicyForm {
        name: format!("new {repository}"),
        registry: registry.clone(),
        repositories: repository.clone(),
        most_recent_count: "1".into(),
        ..Default::default()
    };
    let selection = DeleteSelection { tags: vec!["1.0".into()], ..Default::default() };
    match name {
        "list_registries" | "get_sign_in_options" | "get_policies" => String::new(),
        "session_info" => qs(&SessionInfo { registry: Some(registry), repository: Some(repository) }),
        "search" => qs(&Search { query: "app".into(), limit: 5 }),
        "box_search" => qs(&BoxSearch { query: "app".into(), limit: 5 }),
        "where_used" => qs(&WhereUsed { digest: place.image.clone() }),
        "list_repositories" => qs(&ListRepositories { registry, query: Default::default() }),
        "repository_summaries" => qs(&RepositorySummaries { registry, repositories: vec![repository], budget_ms: 0 }),
        "also_used_by" => qs(&AlsoUsedBy { registry, repository, reference: "1.0".into() }),
        "get_registry_storage" => qs(&GetRegistryStorage { registry, query: Default::default() }),
        "get_repository_storage" => qs(&GetRepositoryStorage { registry, repository }),
        "get_verification" => qs(&GetVerification { registry, repository, reference: "1.0".into() }),
        "list_tags" => qs(&ListTags { registry, repository, query: TagQuery::default() }),
        "tag_details" => qs(&TagDetails { registry, repository, tags: vec!["1.0".into()], budget_ms: 0 }),
        "get_artifact" => qs(&GetArtifact { registry, repository, reference: "1.0".into() }),
        "get_blob" => qs(&GetBlob { registry, repository, digest: place.layer.clone(), media_type: None }),
        "get_graph" => qs(&GetGraph { registry, repository, reference: place.image.clone(), artifact_type: None }),
        "get_diff" => qs(&GetDiff { registry, repository, from: "1.0".into(), to: "latest".into() }),
        "preview_delete" => qs(&PreviewDelete { registry, repository, selection }),
        "apply_delete" => {
            let preview = qs(&PreviewDelete { registry: registry.clone(), repository: repository.clone(), selection });
            let a = w.portolan.server_fn("preview_delete", Who::Admin, preview).await;
            assert_eq!(a.status, 200, "{}", a.body);
            let confirmation = serde_json::from_str::<portolan_app::model::DeletePreview>(&a.body).unwrap().confirmation;
            qs(&ApplyDelete { registry, repository, confirmation })
        }
        "trash_list" => qs(&TrashList { before: None }),
        "trash_restore" => qs(&TrashRestore { id: place.trash }),
        "trash_purge" => qs(&TrashPurge { id: place.trash }),
        "audit_list" => qs(&AuditList { query: Default::default() }),
        "request_outcome" => qs(&RequestOutcome { request: "abc".into() }),
        "get_policy" => qs(&GetPolicy { id: Some(place.policy.id) }),
        "preview_policy" => qs(&PreviewPolicy { form }),
        "save_policy" => qs(&SavePolicy { form }),
        "delete_policy" => qs(&DeletePolicy { id: place.policy.id }),
        "run_policy" => qs(&RunPolicy { id: place.policy.id, dry_run: true }),
        "stop_run" => qs(&StopRun { id: place.run }),
        "get_run" => qs(&GetRun { id: place.run, from: 0 }),
        "list_tokens" | "list_all_tokens" => String::new(),
        "create_token" => qs(&CreateToken {
            form: portolan_app::model::TokenForm {
                name: "ci".into(),
                registry: "mem".into(),
                repositories: "team/app".into(),
                role: "viewer".into(),
                days: 7,
            },
        }),
        "revoke_token" => qs(&RevokeToken { id: w.veras_token }),
        other => panic!("the server function {other} has no body in this test: add one"),
    }
}

/// A session for `who` as a sign-in through the OpenID provider `sso` leaves it, in the store;
/// the cookie that names it.
async fn session_of(w: &World, who: Who) -> Option<String> {
    use tower_sessions::SessionStore;
    let id = identity(who, "sso")?;
    let user = serde_json::json!({"identity": id, "signed_in_at": time::OffsetDateTime::now_utc().unix_timestamp(), "id_token": null});
    let mut record = tower_sessions::session::Record {
        id: Default::default(),
        data: [("portolan.user".to_owned(), user)].into(),
        expiry_date: time::OffsetDateTime::now_utc() + time::Duration::hours(1),
    };
    w.portolan.store.sessions().create(&mut record).await.unwrap();
    Some(format!("portolan_session={}", record.id))
}

/// How a caller reaches Portolan.
#[derive(Clone, Copy, Debug)]
enum Via {
    /// The trusted proxy's identity headers.
    Proxy,
    /// A session cookie, as a sign-in through the OpenID provider leaves it.
    Session,
    /// An API token of the caller's (allowing all they may do), for the REST API.
    Token,
}

/// `name` called by `who` (through `via`) with `body`.
async fn call_fn(w: &World, name: &str, who: Who, via: Via, body: String, extra: &[(&str, &str)]) -> Answer {
    let mut call = w.portolan.request("POST", server_fn(name)).body(Some(body));
    match via {
        Via::Proxy => call = call.who(who),
        Via::Token => {
            if let Some((token, _)) = token_for(w, who).await {
                call = call.header("authorization", &format!("Bearer {token}"));
            }
        }
        Via::Session => {
            if let Some(cookie) = session_of(w, who).await {
                call = call.header("cookie", &cookie);
            }
        }
    }
    for (k, v) in extra {
        call = call.header(k, v);
    }
    call.send().await
}

fn the_entry(name: &str) -> &'static EntryPoint {
    portolan_app::api::needs::entry(name).unwrap_or_else(|| panic!("{name} is not in the table of needs: say which role it needs"))
}

#[test]
fn every_server_function_is_in_the_table_of_needs() {
    run(async {
        let _w = world(CONFIG).await;
        let served: Vec<&str> = leptos::server_fn::axum::server_fn_paths().map(|(p, _)| fn_name(p)).collect();
        for name in &served {
            the_entry(name);
        }
        for e in SERVER_FUNCTIONS {
            assert!(served.contains(&e.name), "{} is in the table but not served", e.name);
        }
    })
}

/// Every server function, for every caller, at every place, through the proxy's headers and
/// through sessions: the status its declared need gives.
#[test]
fn every_server_function_answers_what_its_need_says_for_every_caller_and_place() {
    run(async {
        let reads = world(CONFIG).await;
        let access = reads.portolan.state.access.clone();
        let mut checked = 0;
        for entry in SERVER_FUNCTIONS {
            for place in places_for(&reads, entry) {
                for who in CALLERS {
                    for via in [Via::Proxy, Via::Session] {
                        let mut fresh = None;
                        let (w, place) = world_for(&reads, entry, &place, &mut fresh).await;
                        let provider = match via {
                            Via::Proxy | Via::Token => "proxy",
                            Via::Session => "sso",
                        };
                        let want = expected(&access, entry.need, identity(who, provider).as_ref(), place);
                        let a = call_fn(w, entry.name, who, via, body(w, entry.name, place).await, &[]).await;
                        assert_eq!(
                            a.status.as_u16(),
                            want,
                            "{} ({:?}) as {who:?} via {via:?} on {}/{}: {}",
                            entry.name,
                            entry.need,
                            place.registry,
                            place.repo,
                            &a.body[..a.body.len().min(300)]
                        );
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked > 500, "{checked} calls");
    })
}

/// Every change, cross-site (another Origin, `Sec-Fetch-Site: cross-site`, a `null` Origin) by
/// an admin: refused, and nothing changed.
#[test]
fn every_change_is_refused_cross_site_and_changes_nothing() {
    run(async {
        for entry in SERVER_FUNCTIONS.iter().filter(|e| e.change.is_some()) {
            for header in [("origin", "http://evil.example"), ("sec-fetch-site", "cross-site"), ("origin", "null")] {
                let w = world(CONFIG).await;
                let place = w.places[0].clone();
                let body = body(&w, entry.name, &place).await;
                let before = fingerprint(&w).await;
                let a = call_fn(&w, entry.name, Who::Admin, Via::Proxy, body, &[header]).await;
                assert_eq!(a.status, 403, "{} with {header:?}: {}", entry.name, a.body);
                assert_eq!(fingerprint(&w).await, before, "{} with {header:?} changed something", entry.name);
            }
        }
    })
}

/// What a change could touch: tags of every repository, trash states, policies, runs, audit
/// entries (the preview a body needed is an admin's read: not a change).
async fn fingerprint(w: &World) -> String {
    let mut out = String::new();
    for (name, r) in &w.registries {
        for (_, repo) in PLACES.iter().filter(|(reg, _)| reg == name) {
            let mut tags = r.tags(&portolan_oci::RepoName::parse(repo).unwrap()).await.unwrap().to_vec();
            tags.sort();
            out += &format!("{name}/{repo}: {tags:?}\n");
        }
    }
    for p in &w.places {
        let entry = w.portolan.store.trash_entry(p.trash).await.unwrap();
        let run = w.portolan.store.run(p.run).await.unwrap();
        out += &format!("trash {}: {:?}; run {}: {:?} {}\n", p.trash, entry.state, p.run, run.state, run.stop_requested);
    }
    let policies: Vec<(i64, i64)> = w.portolan.store.policies().await.unwrap().iter().map(|p| (p.id, p.version)).collect();
    let runs = w.portolan.store.runs(None, None, 100).await.unwrap().len();
    let changes = w
        .portolan
        .store
        .audit_entries(&Default::default(), 1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.entry.action != "delete-preview")
        .count();
    out + &format!("policies {policies:?}; runs {runs}; audit {changes}")
}

/// With no sign-in configured, Portolan is an open read-only browser: everyone may read, nobody
/// may change anything or see what only maintainers and admins see.
#[test]
fn the_read_only_mode_reads_everything_and_changes_nothing() {
    run(async {
        for entry in SERVER_FUNCTIONS {
            let w = world(READ_ONLY).await;
            let place = w.places[1].clone();
            // Nobody may preview a delete here: the confirmation is made by hand (the refusal
            // comes before it is read).
            let body = match entry.name {
                "apply_delete" => qs(&portolan_app::api::ApplyDelete {
                    registry: place.registry.into(),
                    repository: place.repo.into(),
                    confirmation: "{}".into(),
                }),
                name => body(&w, name, &place).await,
            };
            let before = fingerprint(&w).await;
            // Identity headers count for nobody: there is no trusted proxy.
            let a = call_fn(&w, entry.name, Who::Admin, Via::Proxy, body, &[]).await;
            let want = match entry.need {
                Need::Anyone | Need::On(Level::Viewer) | Need::OnRegistry(Level::Viewer) => 200,
                Need::SignedIn | Need::Own => 401,
                _ => 403,
            };
            assert_eq!(a.status.as_u16(), want, "{} in the read-only mode: {}", entry.name, &a.body[..a.body.len().min(300)]);
            if want == 403 && entry.change.is_some() {
                assert!(a.body.contains("read-only"), "{}: the refusal says why: {}", entry.name, a.body);
            }
            assert_eq!(fingerprint(&w).await, before, "{} changed something in the read-only mode", entry.name);
        }
        // Pages: the header says so everywhere, and the admin pages answer 403 saying why.
        let w = world(READ_ONLY).await;
        let home = w.portolan.request("GET", "/").header("accept", "text/html").send().await;
        assert_eq!(home.status, 200);
        let header = &home.body[home.body.find("data-testid=\"session\"").expect("the header's session corner")..][..400];
        assert!(
            header.contains("title=\"No sign-in is configured: nothing can be changed\"") && header.contains(">read-only<"),
            "the header says read-only: {header}"
        );
        for path in ["/admin/trash", "/admin/audit", "/admin/policies", "/admin/policies/new"] {
            let a = w.portolan.request("GET", path).header("accept", "text/html").send().await;
            assert_eq!(a.status, 403, "{path} in the read-only mode");
            assert!(a.body.contains("Portolan is a read-only browser here"), "{path} says why: {}", &a.body[..a.body.len().min(500)]);
        }
    })
}

/// Page samples about a place, each with the server function whose need the page has.
fn pages(place: &Place) -> Vec<(String, &'static str)> {
    let base = format!("/r/{}/{}", place.registry, place.repo);
    vec![
        (format!("/r/{}", place.registry), "list_repositories"),
        (format!("/r/{}?q=app*&sort=pushed", place.registry), "list_repositories"),
        (base.clone(), "list_tags"),
        (format!("{base}:1.0"), "get_artifact"),
        (format!("{base}@{}", place.image), "get_artifact"),
        (format!("{base}@{}/-/referrers", place.image), "get_graph"),
        (format!("{base}/-/blob/{}", place.layer), "get_blob"),
        (format!("{base}/-/diff?from=1.0&to=latest"), "get_diff"),
        (format!("{base}/-/delete?tag=1.0"), "preview_delete"),
        (format!("{base}/-/deleted?request=abc"), "request_outcome"),
        (format!("/admin/policies/{}", place.policy.id), "get_policy"),
        (format!("/admin/runs/{}", place.run), "get_run"),
        (format!("/r/{}/-/storage", place.registry), "get_registry_storage"),
        (format!("/r/{}/-/storage?sort=name&reverse=1", place.registry), "get_registry_storage"),
        (format!("{base}/-/storage"), "get_repository_storage"),
        (format!("/badge/{}/{}/tags.svg", place.registry, place.repo), "/badge/{registry}/{*path}"),
        (format!("/api/v1/referrers/{}/{}@{}", place.registry, place.repo, place.image), "/api/v1/referrers/{registry}/{*path}"),
        (format!("/badge/{}/{}:1.0/verified.svg", place.registry, place.repo), "/badge/{registry}/{*path}"),
    ]
}

/// Pages about no place, each with the entry point whose need the page has.
fn pages_anywhere(place: &Place) -> Vec<(String, &'static str)> {
    vec![
        ("/".into(), "list_registries"),
        ("/sign-in".into(), "get_sign_in_options"),
        ("/search?q=app".into(), "search"),
        ("/search?q=team/app:1.0".into(), "search"),
        (format!("/search?q={}", place.image), "search"),
        (format!("/digest/{}", place.image), "where_used"),
        ("/admin/trash".into(), "trash_list"),
        ("/admin/audit".into(), "audit_list"),
        ("/admin/policies".into(), "get_policies"),
        ("/admin/policies/new".into(), "save_policy"),
        ("/admin/audit.csv".into(), "/admin/audit.csv"),
        ("/admin/audit.json".into(), "/admin/audit.json"),
        ("/settings/tokens".into(), "list_tokens"),
        ("/admin/tokens".into(), "list_all_tokens"),
    ]
}

/// Routes whose answer does not depend on who asks (status for everyone).
fn fixed_routes() -> Vec<(&'static str, String, &'static str, u16)> {
    vec![
        ("/healthz", "/healthz".into(), "GET", 200),
        ("/readyz", "/readyz".into(), "GET", 200),
        // From loopback (the default of metrics_from); other peers: see router.rs.
        ("/metrics", "/metrics".into(), "GET", 200),
        ("/style/portolan.css", "/style/portolan.css".into(), "GET", 200),
        ("/digest/{digest}", "/digest/nope".into(), "GET", 400),
        // No such provider: 404; signing out redirects.
        ("/auth/login/{provider}", "/auth/login/nope".into(), "GET", 404),
        ("/auth/callback/{provider}", "/auth/callback/nope?code=x&state=y".into(), "GET", 404),
        ("/auth/logout", "/auth/logout".into(), "POST", 303),
    ]
}

/// The route pattern a sample address is served by.
fn route_of(uri: &str) -> &'static str {
    let path = uri.split('?').next().unwrap();
    match path {
        "/" => "/",
        "/sign-in" => "/sign-in",
        "/search" => "/search",
        p if p.starts_with("/digest/") => "/digest/{digest}",
        "/admin/trash" => "/admin/trash",
        "/admin/audit" => "/admin/audit",
        "/admin/policies" => "/admin/policies",
        p if p.starts_with("/admin/policies/") => "/admin/policies/{id}",
        p if p.starts_with("/admin/runs/") => "/admin/runs/{id}",
        "/admin/audit.csv" => "/admin/audit.csv",
        "/admin/audit.json" => "/admin/audit.json",
        "/settings/tokens" => "/settings/tokens",
        "/admin/tokens" => "/admin/tokens",
        p if p.starts_with("/badge/") => "/badge/{registry}/{*path}",
        p if p.starts_with("/api/v1/referrers/") => "/api/v1/referrers/{registry}/{*path}",
        p if p.starts_with("/r/") && p[3..].contains('/') => "/r/{registry}/{*path}",
        p if p.starts_with("/r/") => "/r/{registry}",
        other => panic!("no route for {other}"),
    }
}

/// Every route, at every caller and place, as a browser asks (HTML, gzip): the status the need
/// of what it shows gives; every route Portolan serves has samples here.
#[test]
fn every_route_answers_what_its_need_says_for_every_caller_and_place() {
    run(async {
        let w = world(CONFIG).await;
        let access = w.portolan.state.access.clone();
        let mut served: Vec<String> = {
            let _one = one_router_at_a_time();
            leptos_axum::generate_route_list(portolan_app::App).iter().map(|r| r.path().to_owned()).collect()
        };
        served.extend(portolan_server::routes_of_the_server().into_iter().map(|(p, _)| p.to_owned()));
        served.extend(portolan_server::auth::ROUTES.iter().map(|(_, p)| (*p).to_owned()));
        served.sort();
        served.dedup();
        let mut sampled: Vec<&str> = fixed_routes().iter().map(|(r, ..)| *r).collect();
        for place in &w.places {
            sampled.extend(pages(place).iter().chain(&pages_anywhere(place)).map(|(uri, _)| route_of(uri)));
        }
        for route in &served {
            assert!(sampled.contains(&route.as_str()), "the route {route} has no sample in this test: say what it needs");
        }
        for e in ROUTES {
            assert!(served.iter().any(|r| r == e.name), "{} is in the table but not served", e.name);
        }
        for (_, uri, method, status) in fixed_routes() {
            for who in CALLERS {
                let a = w.portolan.request(method, &uri).who(who).header("accept", "text/html").send().await;
                assert_eq!(a.status.as_u16(), status, "{method} {uri} as {who:?}");
            }
        }
        let mut samples: Vec<(String, &'static str, &Place)> = Vec::new();
        for place in &w.places {
            samples.extend(pages(place).into_iter().map(|(uri, e)| (uri, e, place)));
        }
        samples.extend(pages_anywhere(&w.places[0]).into_iter().map(|(uri, e)| (uri, e, &w.places[0])));
        for (uri, entry, place) in samples {
            let need = the_entry(entry).need;
            for who in CALLERS {
                let want = expected(&access, need, identity(who, "proxy").as_ref(), place);
                // Twice: the second may come from the page cache.
                for round in 0..2 {
                    let a = w
                        .portolan
                        .request("GET", &uri)
                        .who(who)
                        .header("accept", "text/html")
                        .header("accept-encoding", "gzip")
                        .send()
                        .await;
                    assert_eq!(a.status.as_u16(), want, "GET {uri} ({entry}: {need:?}) as {who:?}, round {round}");
                }
            }
        }
    })
}

/// The tag page is kept and sent again (the page cache), keyed by who asks: a kept page never
/// reaches another identity, another role, or a browser after its session ended.
#[test]
fn a_kept_page_never_crosses_identities_roles_or_a_sign_out() {
    run(async {
        let w = world(CONFIG).await;
        let uri = "/r/mem/team/app";
        let hits = || {
            let text = portolan_server::metrics_handle().render();
            text.lines()
                .filter(|l| l.starts_with("portolan_cache_lookups_total") && l.contains("cache=\"pages\"") && l.contains("result=\"hit\""))
                .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
                .sum::<f64>()
        };
        let page = |cookie: Option<String>, who: Who| {
            let w = &w;
            async move {
                let mut call = w.portolan.request("GET", uri).who(who).header("accept", "text/html").header("accept-encoding", "gzip");
                if let Some(c) = &cookie {
                    call = call.header("cookie", c);
                }
                let a = call.send().await;
                let html = if a.header("content-encoding") == Some("gzip") {
                    let mut out = String::new();
                    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&a.bytes[..]), &mut out).unwrap();
                    out
                } else {
                    a.body.clone()
                };
                (a.status.as_u16(), html)
            }
        };
        // The admin's page (through the proxy's headers), twice: the second is the kept one.
        let (status, first) = page(None, Who::Admin).await;
        assert_eq!(status, 200);
        assert_eq!(user_in(&first), Some(("admin".into(), "ada".into())), "the admin in the header");
        assert!(first.contains("Delete selected"), "the admin's page offers deleting");
        let before = hits();
        let (status, again) = page(None, Who::Admin).await;
        assert_eq!(status, 200);
        assert!(hits() > before, "the page was sent again from the page cache");
        assert_eq!(user_in(&again), Some(("admin".into(), "ada".into())));
        // Others never get it: a viewer (another identity, another role, also by a session), a
        // maintainer, an admin of part of the registry, nobody.
        for (cookie, who, status, user) in [
            (None, Who::Viewer, 200, Some(("viewer", "vera"))),
            (session_of(&w, Who::Viewer).await, Who::Anonymous, 200, Some(("viewer", "vera"))),
            (None, Who::Maintainer, 200, Some(("maintainer", "max"))),
            (None, Who::TeamAdmin, 200, Some(("admin", "tia"))),
            (None, Who::Anonymous, 401, None),
        ] {
            for _ in 0..2 {
                let (got, html) = page(cookie.clone(), who).await;
                assert_eq!(got, status, "{who:?}");
                assert_eq!(user_in(&html), user.map(|(r, n)| (r.to_owned(), n.to_owned())), "{who:?} sees themselves, not the admin");
                if user.is_some_and(|(r, _)| r == "viewer") {
                    assert!(!html.contains("Delete selected"), "a viewer's page offers no deleting");
                }
            }
        }
        // A session's page is kept too, under the session's identity — and after the session
        // ends, its cookie is nobody's: the kept page is not sent to it.
        let admin = session_of(&w, Who::Admin).await;
        let before = hits();
        for _ in 0..3 {
            let (status, html) = page(admin.clone(), Who::Anonymous).await;
            assert_eq!(status, 200);
            assert_eq!(user_in(&html), Some(("admin".into(), "ada".into())));
        }
        assert!(hits() > before, "the session's page was kept and sent again");
        let id: tower_sessions::session::Id = admin.as_deref().unwrap().trim_start_matches("portolan_session=").parse().unwrap();
        use tower_sessions::SessionStore;
        w.portolan.store.sessions().delete(&id).await.unwrap();
        let (status, html) = page(admin, Who::Anonymous).await;
        assert_eq!(status, 401, "signed out: the page needs signing in");
        assert_eq!(user_in(&html), None);
    })
}

/// The signed-in person the page's header shows: their role there and their name.
fn user_in(html: &str) -> Option<(String, String)> {
    let at = html.find(r#"data-testid="user""#)?;
    let rest = &html[at..];
    let role = rest.split("data-role=\"").nth(1)?.split('"').next()?.to_owned();
    let name = rest.split(r#"class="font-medium">"#).nth(1)?.split('<').next()?.to_owned();
    Some((role, name))
}

/// A REST request about a place: method, address, JSON body, and the server function whose
/// need it has (its handler runs that function).
fn rest_samples(w: &World, place: &Place) -> Vec<(&'static str, String, Option<serde_json::Value>, &'static str)> {
    let (reg, repo) = (place.registry, place.repo);
    vec![
        ("GET", "/api/v1/registries".into(), None, "list_registries"),
        ("GET", format!("/api/v1/repositories/{reg}?q=app"), None, "list_repositories"),
        ("GET", format!("/api/v1/tags/{reg}/{repo}?sort=name"), None, "list_tags"),
        ("GET", format!("/api/v1/artifacts/{reg}/{repo}:1.0"), None, "get_artifact"),
        ("GET", format!("/api/v1/artifacts/{reg}/{repo}@{}", place.image), None, "get_artifact"),
        ("GET", format!("/api/v1/diff/{reg}/{repo}?from=1.0&to=latest"), None, "get_diff"),
        ("GET", "/api/v1/search?q=app".into(), None, "search"),
        ("GET", format!("/api/v1/where-used/{}", place.image), None, "where_used"),
        ("GET", format!("/api/v1/verify/{reg}/{repo}:1.0"), None, "get_verification"),
        ("GET", format!("/api/v1/storage/{reg}?sort=name"), None, "get_registry_storage"),
        ("GET", format!("/api/v1/storage/{reg}/{repo}"), None, "get_repository_storage"),
        ("POST", format!("/api/v1/delete-previews/{reg}/{repo}"), Some(serde_json::json!({"tags": ["1.0"]})), "preview_delete"),
        ("POST", format!("/api/v1/deletions/{reg}/{repo}"), Some(serde_json::json!({"confirmation": "PREVIEW"})), "apply_delete"),
        ("GET", "/api/v1/trash".into(), None, "trash_list"),
        ("POST", format!("/api/v1/trash/{}/restore", place.trash), None, "trash_restore"),
        ("GET", "/api/v1/policies".into(), None, "get_policies"),
        ("POST", format!("/api/v1/policies/{}/runs", place.policy.id), Some(serde_json::json!({"dry_run": true})), "run_policy"),
        ("GET", format!("/api/v1/runs/{}", place.run), None, "get_run"),
        ("GET", "/api/v1/audit?action=delete*".into(), None, "audit_list"),
        ("GET", "/api/v1/openapi.json".into(), None, "list_registries"),
    ]
    .into_iter()
    .filter(|_| !w.places.is_empty())
    .collect()
}

/// An API token for `who` (through the proxy's identity): the widest scope their roles allow
/// making — everything at their highest role, else a registry, else their team — and the
/// identity a request with it acts as (the owner, capped by the token).
async fn token_for(w: &World, who: Who) -> Option<(String, Identity)> {
    let owner = identity(who, "proxy")?;
    let scopes: [(&str, &[&str]); 3] = [("*", &["**"]), ("mem", &["**"]), ("mem", &["team/**"])];
    for (registry, repositories) in scopes {
        for role in [Role::Admin, Role::Maintainer, Role::Viewer] {
            let asked = portolan_service::tokens::TokenRequest {
                name: "all".into(),
                registry: registry.into(),
                repositories: repositories.iter().map(|r| (*r).into()).collect(),
                role,
                days: 1,
            };
            if let Ok((secret, record)) = portolan_service::tokens::create(&w.portolan.state, &owner, asked, 90).await {
                let cap = portolan_access::Cap::new(portolan_access::RawCap {
                    token: record.id,
                    registry: record.registry,
                    repositories: record.repositories,
                    role,
                })
                .unwrap();
                return Some((secret, Identity { cap: Some(cap), ..owner }));
            }
        }
    }
    None
}

/// Every REST endpoint, for every caller, at every place, through an API token and through a
/// session: the status of the server function it runs (problem details on refusal).
#[test]
fn every_rest_endpoint_answers_what_its_need_says_through_tokens_and_sessions() {
    run(async {
        let reads = world(CONFIG).await;
        let access = reads.portolan.state.access.clone();
        let samples = rest_samples(&reads, &reads.places[0]);
        for (pattern, method, _) in portolan_server::rest::routes() {
            let sampled = samples.iter().any(|(m, uri, ..)| *m == method && matches_route(pattern, uri.split('?').next().unwrap()));
            assert!(sampled, "the REST route {method} {pattern} has no sample in this test");
        }
        for (i, sample) in samples.iter().enumerate() {
            let (_, _, _, function) = sample;
            let entry = the_entry(function);
            for place in places_for(&reads, entry) {
                for who in CALLERS {
                    for via in [Via::Token, Via::Session] {
                        let mut fresh = None;
                        let (w, place) = world_for(&reads, entry, &place, &mut fresh).await;
                        let (method, uri, body, _) = rest_samples(w, place).swap_remove(i);
                        // Who the request acts as: the token's owner capped by it, or the session's person.
                        let (credential, acting) = match via {
                            Via::Token => match token_for(w, who).await {
                                Some((t, acting)) => (Some(("authorization", format!("Bearer {t}"))), Some(acting)),
                                None => (None, None),
                            },
                            _ => (session_of(w, who).await.map(|c| ("cookie", c)), identity(who, "sso")),
                        };
                        let mut body = body;
                        if function == &"apply_delete" {
                            let preview = qs(&portolan_app::api::PreviewDelete {
                                registry: place.registry.into(),
                                repository: place.repo.into(),
                                selection: DeleteSelection { tags: vec!["1.0".into()], ..Default::default() },
                            });
                            let a = w.portolan.server_fn("preview_delete", Who::Admin, preview).await;
                            let confirmation = serde_json::from_str::<portolan_app::model::DeletePreview>(&a.body).unwrap().confirmation;
                            body = Some(serde_json::json!({ "confirmation": confirmation }));
                        }
                        let mut call = w.portolan.request(method, &uri).header("accept", "application/json");
                        if let Some((k, v)) = &credential {
                            call = call.header(k, v);
                        }
                        if let Some(b) = &body {
                            call = call.body(Some(b.to_string())).header("content-type", "application/json");
                        }
                        let a = call.send().await;
                        let mut want = expected(&access, entry.need, acting.as_ref(), place);
                        if want == 200 && *function == "run_policy" {
                            want = 202;
                        }
                        assert_eq!(
                            a.status.as_u16(),
                            want,
                            "{method} {uri} ({function}) as {who:?} via {via:?}: {}",
                            &a.body[..a.body.len().min(300)]
                        );
                        if want >= 400 {
                            assert_eq!(a.header("content-type"), Some("application/problem+json"), "{method} {uri}");
                            let problem: serde_json::Value = serde_json::from_str(&a.body).unwrap();
                            assert_eq!(problem["status"], want, "{}", a.body);
                            assert!(problem["type"].as_str().is_some_and(|t| t.starts_with("urn:portolan:problem:")), "{}", a.body);
                        } else {
                            serde_json::from_str::<serde_json::Value>(&a.body).unwrap_or_else(|e| panic!("{method} {uri}: not JSON ({e})"));
                        }
                    }
                }
            }
        }
    })
}

/// Whether `path` is served by the route `pattern` (`{x}` one segment, `{*x}` the rest).
fn matches_route(pattern: &str, path: &str) -> bool {
    let mut s = path.split('/');
    for part in pattern.split('/') {
        if part.starts_with("{*") {
            return s.next().is_some();
        }
        match s.next() {
            Some(seg) if part.starts_with('{') || part == seg => {}
            _ => return false,
        }
    }
    s.next().is_none()
}
