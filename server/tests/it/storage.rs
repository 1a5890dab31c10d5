//! Where the bytes are, against CNCF distribution itself: a registry built with known sharing —
//! images sharing a base layer across repositories, an index whose platform images share a
//! layer, a signature attached through its fallback tag, a tag moved away (an untagged
//! manifest), an artifact deleted through Portolan and not yet collected — crawled, then every
//! figure checked against values worked out here from what was pushed. What Portolan says garbage
//! collection frees is checked against the registry: `registry garbage-collect` runs and the
//! bytes of its blob store are compared before and after. Also: figures of repositories a
//! caller may not see are neither shown nor added up; the JSON API, `/metrics`; what the index
//! cannot know is said.

use std::collections::BTreeSet;

use portolan_app::model::{DeletePreview, DeleteSelection, RegistryStorage, RepositoryStorage, StorageQuery, StorageRow};
use portolan_search::Budget;
use portolan_testkit::distribution::Distribution;
use portolan_testkit::fixtures::{OCI_CONFIG, OCI_INDEX, OCI_LAYER_GZIP, OCI_MANIFEST, Seeder};
use portolan_testkit::pusher::{PushAuth, Pushed, Pusher};
use serde_json::json;

use crate::support::{Answer, TestApp, Who, qs, registry, run};

/// Everyone may see everything but `pat`, who sees `team/a` and `team/multi` only.
fn config(dist: &str, plain: &str) -> String {
    format!(
        r#"
public_url = "http://portolan.test"
[auth.proxy]
trusted = ["127.0.0.1"]
[[grants]]
role = "admin"
groups = ["admins"]
[[grants]]
role = "viewer"
registry = "dist"
repositories = ["team/a", "team/multi"]
groups = ["partial"]
{}{}{}"#,
        registry("dist", dist, "crawl = true"),
        registry("plain", plain, "crawl = true"),
        registry("off", dist, "crawl = false"),
    )
}

const PAT: Who = Who::User("pat", "partial");

/// Layer bytes of `len` bytes, different for each `seed`.
fn bytes(seed: u8, len: usize) -> Vec<u8> {
    (0..len).map(|i| seed.wrapping_add((i % 251) as u8)).collect()
}

/// What was pushed for one image: the manifest, its config and layers.
#[derive(Clone, Debug)]
struct Image {
    manifest: Pushed,
    config: Pushed,
    layers: Vec<Pushed>,
}

impl Image {
    /// Its own blobs (manifest and config) and its layers, each with its size.
    fn blobs(&self) -> Vec<(String, u64)> {
        [&self.manifest, &self.config].into_iter().chain(&self.layers).map(|p| (p.digest.clone(), p.size)).collect()
    }
}

/// Pushes an image of `layers` (each pushed to `repo`) with a config dated `created`.
async fn image(p: &Pusher, repo: &str, tags: &[&str], created: &str, layers: &[&[u8]]) -> Image {
    let config = json!({"architecture": "amd64", "os": "linux", "created": created, "rootfs": {"type": "layers", "diff_ids": []}, "config": {"Labels": {"repo": repo}}});
    let config = p.blob(repo, OCI_CONFIG, &serde_json::to_vec(&config).unwrap()).await.unwrap();
    let mut pushed = Vec::new();
    for l in layers {
        pushed.push(p.blob(repo, OCI_LAYER_GZIP, l).await.unwrap());
    }
    let manifest = json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config.descriptor(),
        "layers": pushed.iter().map(Pushed::descriptor).collect::<Vec<_>>()});
    let manifest = p.json_manifest(repo, tags, &manifest).await.unwrap();
    Image { manifest, config, layers: pushed }
}

/// Adds up the sizes of `blobs`, each digest once.
fn once(blobs: impl IntoIterator<Item = (String, u64)>) -> u64 {
    let mut seen = BTreeSet::new();
    blobs.into_iter().filter(|(d, _)| seen.insert(d.clone())).map(|(_, s)| s).sum()
}

async fn registry_storage(w: &TestApp, registry: &str, who: Who) -> RegistryStorage {
    let form = qs(&portolan_app::api::GetRegistryStorage { registry: registry.into(), query: StorageQuery::default() });
    let a = w.server_fn("get_registry_storage", who, form).await;
    assert_eq!(a.status, 200, "{}", a.body);
    serde_json::from_str(&a.body).unwrap()
}

async fn repository_storage(w: &TestApp, registry: &str, repository: &str) -> RepositoryStorage {
    let form = qs(&portolan_app::api::GetRepositoryStorage { registry: registry.into(), repository: repository.into() });
    let a = w.server_fn("get_repository_storage", Who::Admin, form).await;
    assert_eq!(a.status, 200, "{}", a.body);
    serde_json::from_str(&a.body).unwrap()
}

fn row<'a>(s: &'a RegistryStorage, repository: &str) -> &'a StorageRow {
    s.rows.iter().find(|r| r.repository == repository).unwrap_or_else(|| panic!("no row for {repository}: {:?}", s.rows))
}

async fn crawl(w: &TestApp, registry: &str) {
    let (_tx, stop) = tokio::sync::watch::channel(false);
    let report = portolan_server::crawler::pass(&w.state, &w.registry(registry), &Budget::unlimited(), stop).await;
    assert_eq!(report.failed, 0, "{report:?}");
}

async fn preview(w: &TestApp, registry: &str, repository: &str, tag: &str) -> DeletePreview {
    let selection = DeleteSelection { tags: vec![tag.into()], ..Default::default() };
    let form = qs(&portolan_app::api::PreviewDelete { registry: registry.into(), repository: repository.into(), selection });
    let a = w.server_fn("preview_delete", Who::Admin, form).await;
    assert_eq!(a.status, 200, "{}", a.body);
    serde_json::from_str(&a.body).unwrap()
}

async fn get(w: &TestApp, uri: &str, who: Who) -> Answer {
    w.request("GET", uri).who(who).header("accept", "text/html").send().await
}

#[test]
fn every_figure_on_a_registry_with_known_sharing_and_what_garbage_collection_frees() {
    run(async {
        let mut dist = Distribution::start_uncached().await.unwrap();
        let mut plain = Distribution::start_uncached().await.unwrap();
        let p = Pusher::new(&dist.url, PushAuth::None);
        let (base, a1, b0, b1, b2, child, p2, o1) =
            (bytes(1, 5000), bytes(2, 300), bytes(3, 1100), bytes(4, 700), bytes(5, 1300), bytes(6, 2000), bytes(7, 170), bytes(8, 9000));
        // Three repositories share the base layer; team/b's tag 0.9 will move away from b0.
        let a = image(&p, "team/a", &["1.0"], "2025-01-15T00:00:00Z", &[&base, &a1]).await;
        let b_0 = image(&p, "team/b", &["0.9"], "2025-02-15T00:00:00Z", &[&base, &b0]).await;
        let b_1 = image(&p, "team/b", &["1.0"], "2025-03-15T00:00:00Z", &[&base, &b1]).await;
        // An index whose platform images share a layer (and one shares the base layer), and a
        // signature attached through its fallback tag (distribution has no referrers API).
        let p_1 = image(&p, "team/multi", &[], "2025-04-15T00:00:00Z", &[&base, &child]).await;
        let p_2 = image(&p, "team/multi", &[], "2025-04-16T00:00:00Z", &[&child, &p2]).await;
        let entry = |i: &Image, arch: &str| {
            let mut d = i.manifest.descriptor();
            d["platform"] = json!({"os": "linux", "architecture": arch});
            d
        };
        let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [entry(&p_1, "amd64"), entry(&p_2, "arm64")]});
        let index = p.json_manifest("team/multi", &["2.0"], &index).await.unwrap();
        let seeder = Seeder::new(p.clone(), true);
        let signature = seeder
            .referrer(
                "team/multi",
                &index,
                "application/vnd.dev.cosign.artifact.sig.v1+json",
                &[("application/octet-stream", bytes(9, 50), serde_json::Value::Null)],
                serde_json::Value::Null,
            )
            .await
            .unwrap();
        let fallback = p.get_manifest("team/multi", &index.fallback_tag()).await.unwrap().expect("the fallback index");
        let empty = p.blob("team/multi", portolan_testkit::fixtures::OCI_EMPTY, b"{}").await.unwrap();
        let sig_layer = portolan_testkit::pusher::sha256(&bytes(9, 50));
        let old = image(&p, "team/old", &["1.0"], "2025-05-15T00:00:00Z", &[&base, &o1]).await;

        let w = TestApp::new(&config(&dist.url, &plain.url)).await;
        // Before any pass: nothing is complete, and the page says so.
        let s = registry_storage(&w, "dist", Who::Admin).await;
        assert!(!s.freshness.complete);
        assert!(s.freshness.notes.iter().any(|n| n.contains("has not finished a pass")), "{:?}", s.freshness.notes);
        crawl(&w, "dist").await;
        // The tag moves: b0's image is untagged now, and still in the registry.
        let b_2 = image(&p, "team/b", &["0.9"], "2025-03-20T00:00:00Z", &[&base, &b2]).await;
        // The client keeps tag lists a few seconds: the next pass must see the move.
        w.registry("dist").client.invalidate_repo(&portolan_oci::RepoName::parse("team/b").unwrap()).await;
        crawl(&w, "dist").await;

        // Hand-computed figures.
        let own = |images: &[&Image]| once(images.iter().flat_map(|i| i.blobs()).filter(|(d, _)| *d != a.layers[0].digest));
        let base_size = base.len() as u64;
        let multi_own = own(&[&p_1, &p_2]) + index.size + signature.size + empty.size + 50 + fallback.len() as u64;
        let a_own = own(&[&a]);
        let b_own = own(&[&b_0, &b_1, &b_2]);
        let old_own = own(&[&old]);
        let b0_only = b_0.manifest.size + b_0.config.size + b0.len() as u64;
        let s = registry_storage(&w, "dist", Who::Admin).await;
        assert!(s.freshness.complete, "{:?}", s.freshness);
        assert!(!s.partial);
        assert_eq!(s.repositories, 4);
        for (repo, unique, manifests, untagged) in
            [("team/a", a_own, 1, 0), ("team/b", b_own, 3, 1), ("team/multi", multi_own, 5, 0), ("team/old", old_own, 1, 0)]
        {
            let r = row(&s, repo);
            assert_eq!((r.unique_bytes, r.shared_bytes, r.manifests, r.untagged), (unique, base_size, manifests, untagged), "{repo}");
            assert_eq!(r.read_by, "crawl");
        }
        assert_eq!(s.stored_bytes, base_size + a_own + b_own + multi_own + old_own, "each blob once");
        assert_eq!(s.stored_bytes, dist.stored_blob_bytes().unwrap(), "the registry's own blob store holds exactly that");
        assert_eq!(s.reclaimable_untagged, b0_only, "only b0's image holds these");
        assert_eq!(s.reclaimable_deleted, 0);
        assert_eq!((s.manifests, s.untagged), (1 + 3 + 5 + 1, 1), "the index, two platforms, the signature and its fallback index");
        assert_eq!(s.tags, 1 + 2 + 1 + 1, "referrer tags are left out");
        assert_eq!(row(&s, "team/b").reclaimable_untagged, b0_only);
        assert_eq!(s.largest[0].repository, "team/old", "the largest first: {:?}", s.largest);
        assert!(sig_layer.starts_with("sha256:"));

        // A repository's page: what its manifests take, when it came, its largest layers.
        let r = repository_storage(&w, "dist", "team/multi").await;
        assert_eq!(r.figures.unique_bytes, multi_own);
        assert_eq!(r.largest_layers[0].digest, a.layers[0].digest, "the base layer is the largest");
        assert!(r.largest_layers[0].shared);
        assert_eq!(r.largest_layers[0].shared_with, vec!["team/a".to_owned(), "team/b".into(), "team/old".into()]);
        assert_eq!(r.shared_layers.len(), 1, "only the base layer is shared: {:?}", r.shared_layers);
        assert_eq!(r.largest_artifacts[0].digest, index.digest, "the index with its platforms");
        assert_eq!(r.largest_artifacts[0].bytes, own(&[&p_1, &p_2]) + base_size + index.size);
        assert_eq!(r.history.iter().map(|b| b.bytes).sum::<u64>(), multi_own + base_size, "every blob in one period");

        // The delete preview's figure is the registry's: the base layer stays for the others.
        let d = preview(&w, "dist", "team/a", "1.0").await;
        assert_eq!(d.freed.bytes, a_own, "not the base layer, which team/b and others use");
        assert!(d.freed.complete, "{}", d.freed.note);
        assert_eq!(d.units[0].bytes_freed, a_own);
        let d = preview(&w, "dist", "team/old", "1.0").await;
        assert_eq!(d.freed.bytes, old_own);
        // Through a registry entry whose crawl is off, the same figure is only an upper bound.
        let off = preview(&w, "off", "team/old", "1.0").await;
        assert!(!off.freed.complete);
        assert!(off.freed.note.starts_with("At most"), "{}", off.freed.note);

        // Figures of what pat may not see are neither shown nor added up.
        let s_pat = registry_storage(&w, "dist", PAT).await;
        assert!(s_pat.partial);
        assert_eq!(s_pat.rows.iter().map(|r| r.repository.as_str()).collect::<Vec<_>>(), vec!["team/multi", "team/a"]);
        assert_eq!(s_pat.stored_bytes, a_own + multi_own + base_size, "the base layer once, team/b and team/old left out");
        assert_eq!(s_pat.reclaimable_untagged, 0);
        let page = get(&w, "/r/dist/-/storage", PAT).await;
        assert_eq!(page.status, 200);
        assert!(!page.body.contains("team/b") && !page.body.contains("team/old"), "nothing of what pat may not see");
        assert!(page.body.contains("of the repositories you may see"));
        let r_pat = get(&w, "/api/v1/storage/dist/team/multi", PAT).await;
        assert_eq!(r_pat.status, 200);
        assert!(!r_pat.body.contains("team/b") && !r_pat.body.contains("team/old"), "shared-with lists only what pat sees");
        assert_eq!(get(&w, "/api/v1/storage/dist/team/b", PAT).await.status, 403);

        // Delete team/old:1.0 through Portolan: the index forgets it, its blobs wait for the
        // garbage collection.
        let confirmation = d.confirmation.clone();
        let form = qs(&portolan_app::api::ApplyDelete { registry: "dist".into(), repository: "team/old".into(), confirmation });
        let a_del = w.server_fn("apply_delete", Who::Admin, form).await;
        assert!(a_del.status.is_redirection() || a_del.status == 200, "{}: {}", a_del.status, a_del.body);
        let s = registry_storage(&w, "dist", Who::Admin).await;
        assert_eq!(s.reclaimable_deleted, old_own, "deleted, not collected");
        assert_eq!(s.stored_bytes + s.reclaimable_deleted, dist.stored_blob_bytes().unwrap());
        let gone = row(&s, "team/old");
        assert_eq!((gone.stored(), gone.manifests, gone.reclaimable_deleted, gone.read_by.as_str()), (0, 0, old_own, "trash"));
        // The registry's garbage collection frees exactly what the preview said.
        let before = dist.stored_blob_bytes().unwrap();
        dist.garbage_collect(false).await.unwrap();
        let after = dist.stored_blob_bytes().unwrap();
        assert_eq!(before - after, old_own, "freed on disk = the preview's figure");
        // The next pass finds the blobs gone: nothing left to reclaim but the untagged.
        crawl(&w, "dist").await;
        let s = registry_storage(&w, "dist", Who::Admin).await;
        assert_eq!(s.reclaimable_deleted, 0);
        assert_eq!(s.stored_bytes, after);
        assert_eq!(s.reclaimable_untagged, b0_only);

        // Metrics for Grafana.
        let m = w.request("GET", "/metrics").send().await.body;
        let gauge = |series: &str| -> Option<f64> {
            m.lines().find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))?.rsplit(' ').next()?.parse().ok()
        };
        assert_eq!(gauge("portolan_storage_stored_bytes{registry=\"dist\"}"), Some(after as f64), "{m}");
        assert_eq!(gauge("portolan_storage_reclaimable_bytes{registry=\"dist\",kind=\"untagged\"}"), Some(b0_only as f64));
        assert_eq!(gauge("portolan_storage_reclaimable_bytes{registry=\"dist\",kind=\"deleted\"}"), Some(0.0));
        assert!(gauge("portolan_storage_last_full_pass_timestamp_seconds{registry=\"dist\"}").is_some_and(|t| t > 1.7e9));
        assert_eq!(gauge("portolan_storage_index_complete{registry=\"dist\"}"), Some(1.0));

        // The crawl is off for "off": its figures are what people opened, and say so.
        assert_eq!(get(&w, "/r/off/team/a", Who::Admin).await.status, 200);
        let mut s_off = registry_storage(&w, "off", Who::Admin).await;
        for _ in 0..100 {
            if s_off.repositories > 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            s_off = registry_storage(&w, "off", Who::Admin).await;
        }
        assert_eq!(s_off.repositories, 1);
        assert!(!s_off.freshness.complete);
        assert_eq!(row(&s_off, "team/a").read_by, "browsing");
        assert!(s_off.freshness.notes.iter().any(|n| n.contains("crawl is off")), "{:?}", s_off.freshness.notes);

        // Untagged manifests: what garbage collection with untagged deletion frees, on a
        // registry of plain images (distribution 2.x would also delete an index's platforms).
        let q = Pusher::new(&plain.url, PushAuth::None);
        let (base2, shared, x0, x1, x2) = (bytes(20, 4000), bytes(21, 600), bytes(22, 800), bytes(23, 90), bytes(24, 130));
        let x_0 = image(&q, "x", &["t"], "2025-06-01T00:00:00Z", &[&base2, &x0, &shared]).await;
        image(&q, "x", &["1"], "2025-06-02T00:00:00Z", &[&base2, &x1]).await;
        image(&q, "y", &["1"], "2025-06-03T00:00:00Z", &[&base2, &shared]).await;
        crawl(&w, "plain").await;
        image(&q, "x", &["t"], "2025-06-04T00:00:00Z", &[&base2, &x2]).await;
        w.registry("plain").client.invalidate_repo(&portolan_oci::RepoName::parse("x").unwrap()).await;
        crawl(&w, "plain").await;
        let s = registry_storage(&w, "plain", Who::Admin).await;
        let untagged_only = x_0.manifest.size + x_0.config.size + x0.len() as u64;
        assert_eq!(s.reclaimable_untagged, untagged_only, "not the layer y still uses");
        assert_eq!(s.stored_bytes, plain.stored_blob_bytes().unwrap());
        let before = plain.stored_blob_bytes().unwrap();
        plain.garbage_collect(true).await.unwrap();
        assert_eq!(before - plain.stored_blob_bytes().unwrap(), untagged_only, "freed on disk = the untagged figure");
    })
}

#[test]
fn pages_draw_charts_beside_tables_of_the_same_numbers() {
    run(async {
        let dist = Distribution::start_uncached().await.unwrap();
        let p = Pusher::new(&dist.url, PushAuth::None);
        let base = bytes(1, 3000);
        for (i, repo) in ["one", "two", "three"].iter().enumerate() {
            let own = bytes(10 + i as u8, 100 * (i + 1));
            image(&p, repo, &["1"], &format!("2025-0{}-01T00:00:00Z", i + 1), &[&base, &own]).await;
        }
        let w = TestApp::new(&config(&dist.url, &dist.url)).await;
        crawl(&w, "dist").await;
        let s = registry_storage(&w, "dist", Who::Admin).await;
        let page = get(&w, "/r/dist/-/storage", Who::Admin).await;
        assert_eq!(page.status, 200);
        // One bar per repository in the chart, each in the table beside it with the same figures.
        assert_eq!(page.body.matches("data-testid=\"storage-chart\"").count(), 1);
        for r in &s.largest {
            let bar = format!(
                r#"data-repository="{}" data-unique="{}" data-shared="{}" data-stored="{}""#,
                r.repository,
                r.unique_bytes,
                r.shared_bytes,
                r.stored()
            );
            assert_eq!(page.body.matches(&bar).count(), 2, "the bar and its table row: {bar}");
        }
        assert!(page.body.contains("data-testid=\"storage-chart-table\""));
        // The repository's history, a column per month from January to March, and its table.
        let page = get(&w, "/r/dist/three/-/storage", Who::Admin).await;
        assert_eq!(page.status, 200);
        assert!(page.body.contains("data-testid=\"history-chart\""));
        assert!(page.body.contains("data-testid=\"history-table\""));
        assert!(page.body.contains("data-testid=\"repository-tabs\""));
        // Sorting by name, smallest first: links keep the view.
        let page = get(&w, "/r/dist/-/storage?sort=name&reverse=1", Who::Admin).await;
        let order: Vec<&str> =
            ["three", "two", "one"].into_iter().filter(|n| page.body.contains(&format!("<tr data-repository=\"{n}\""))).collect();
        assert_eq!(order.len(), 3);
        let at = |n: &str| page.body.find(&format!("<tr data-repository=\"{n}\" data-stored")).unwrap();
        assert!(at("two") < at("three") && at("three") < at("one"), "Z to A");
        // The JSON API has the figures and no SVG.
        let json = get(&w, "/api/v1/storage/dist", Who::Admin).await;
        assert_eq!(json.status, 200);
        let v: serde_json::Value = serde_json::from_str(&json.body).unwrap();
        assert_eq!(v["stored_bytes"].as_u64(), Some(s.stored_bytes));
        assert!(v.get("chart").is_none());
    })
}
