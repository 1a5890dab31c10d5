//! Search at scale, Portolan in process:
//! - the catalog filter: one page of a 10,000-repository catalog through the path the registry
//!   page takes (`NameFilter::new` + `catalog::select`, visibility from the access policy) vs
//!   the floor — a plain scan of the same names with `str::contains` producing the same page;
//! - a full crawl of a local ferro-oci-server (the sample content — images, a multi-platform
//!   index with attestations, referrers by the OCI 1.1 API, Helm charts, many tags — copied
//!   into hundreds of repositories) through the server's crawl pass with a budget that never
//!   throttles, vs the floor — a bare HTTP loop making the requests that crawl needs (the
//!   catalog, each tag list, one manifest GET per tag, the referrers of each tagged manifest,
//!   the index entries and referrers those name) at the same concurrency, repository by
//!   repository as the crawl goes, and pipelined across repositories; requests are counted by
//!   the registry itself (its `/metrics`);
//! - "where is this digest used" with 100,000 manifests in the index (SQLite; Postgres too
//!   when installed): the store's walk and the page's answer built on it, for a platform
//!   image, a layer many images share and an unknown digest, vs the floor — a primary-key
//!   lookup of one row of the same table in the same store (one indexed query, the least any
//!   lookup costs there).
//!
//! Each measurement alternates the sides over several rounds and compares medians.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use futures::StreamExt;
use portolan_app::ssr::AppState;
use portolan_search::NameFilter;
use portolan_search::catalog::{Order, Selection, select};
use portolan_store::{IndexRef, IndexedManifest, Location, RefRole, Store, StoreConfig};
use portolan_testkit::distribution::Ferro as FerroServer;
use portolan_testkit::fixtures::Seeder;
use portolan_testkit::pusher::{PushAuth, Pusher};
use tokio::sync::Semaphore;

use crate::median;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Part {
    Catalog,
    Crawl,
    WhereUsed,
}

#[derive(clap::Args)]
pub struct Options {
    /// Small sizes and one round: to see that everything runs, not to measure.
    #[arg(long)]
    quick: bool,
    /// Repositories in the catalog the filter runs over.
    #[arg(long, default_value_t = 10_000, default_value_if("quick", "true", "1000"))]
    repositories: usize,
    /// Rounds per measurement (medians are compared).
    #[arg(long, default_value_t = 5, default_value_if("quick", "true", "1"))]
    rounds: usize,
    /// Copies of the sample content crawled (4 repositories each).
    #[arg(long, default_value_t = 100, default_value_if("quick", "true", "5"))]
    copies: usize,
    /// Tags of `stress/many-tags` in the sample content (in every copy).
    #[arg(long, default_value_t = 20)]
    many_tags: usize,
    /// Requests in flight for the crawl and its floor (the server's crawl concurrency).
    #[arg(long, default_value_t = portolan_server::crawler::CONCURRENCY)]
    concurrency: usize,
    /// Manifests in the where-used index.
    #[arg(long, default_value_t = 100_000, default_value_if("quick", "true", "2000"))]
    manifests: usize,
    /// Lookups per digest and side (medians are compared).
    #[arg(long, default_value_t = 40, default_value_if("quick", "true", "5"))]
    lookups: usize,
    /// Leave Postgres out (by default it is measured when installed).
    #[arg(long)]
    no_postgres: bool,
    /// Only these parts (default: all).
    #[arg(long, value_enum)]
    only: Vec<Part>,
}

/// Portolan's state in this process, on one registry named `bench`, with `store` (or a fresh
/// SQLite store in a temporary directory).
struct Portolan {
    state: AppState,
    _app: portolan_server::testing::TestApp,
}

async fn portolan(registry: &str, store: Option<Store>) -> Result<Portolan> {
    let toml = format!("[[registries]]\nname = \"bench\"\nurl = \"{registry}\"\n");
    let app = portolan_server::testing::TestApp::with(&toml, None, store).await?;
    Ok(Portolan { state: app.state.clone(), _app: app })
}

fn ms(seconds: f64) -> String {
    format!("{:.3}ms", seconds * 1e3)
}

fn us(seconds: f64) -> String {
    format!("{:.1}µs", seconds * 1e6)
}

pub async fn run(o: Options) -> Result<()> {
    let all = o.only.is_empty();
    let mut out = Vec::new();
    if all || o.only.contains(&Part::Catalog) {
        out.extend(catalog(&o).await?);
    }
    if all || o.only.contains(&Part::Crawl) {
        out.extend(crawl(&o).await?);
    }
    if all || o.only.contains(&Part::WhereUsed) {
        out.extend(where_used(&o).await?);
    }
    println!("portolan-bench search: {} rounds ({} lookups per where-used digest), medians", o.rounds, o.lookups);
    for line in out {
        println!("{line}");
    }
    Ok(())
}

// 1. The catalog filter.

/// Names as the tests name a large catalog's repositories: 40 teams, 10,000 services.
fn catalog_names(n: usize) -> Vec<String> {
    let mut names: Vec<String> = (0..n).map(|i| format!("team-{:02}/service-{i:05}", i % 40)).collect();
    names.sort();
    names
}

/// What is measured: (what it is, what people type, the needle the floor scans for — which
/// finds the same repositories in this catalog).
const PATTERNS: [(&str, &str, &str); 5] = [
    ("substring", "service-0424", "service-0424"),
    ("glob *", "team-07/*", "team-07/"),
    ("glob **", "**/service-04*", "/service-04"),
    ("nothing", "no-such-repository", "no-such-repository"),
    ("nothing, glob", "no-such-*", "no-such-"),
];

/// Calls per timed batch (one call is a fraction of a millisecond).
const BATCH: usize = 20;

/// The floor: the same page of the same names from a plain scan with `str::contains`.
fn floor_select(names: &[String], needle: &str, per_page: usize) -> Selection {
    let matching: Vec<&String> = names.iter().filter(|n| n.contains(needle)).collect();
    Selection { page: matching.iter().take(per_page).map(|s| (*s).clone()).collect(), matching: matching.len(), total: names.len() }
}

async fn catalog(o: &Options) -> Result<Vec<String>> {
    let names = catalog_names(o.repositories);
    // The access policy of a default configuration (the registry's own URL is never asked).
    let p = portolan("http://127.0.0.1:9", None).await?;
    let access = p.state.access.clone();
    let visible = |n: &str| access.role_for(None, "bench", Some(n)).is_some();
    let per_page = portolan_app::model::RepoQuery::default().per_page;
    let ours = |text: &str| -> Result<Selection> {
        let filter = NameFilter::new(text).map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(select(&names, &filter, visible, Order::Name, false, 1, per_page))
    };
    let mut lines = vec![
        format!(
            "catalog filter: page 1 ({per_page} names) of {} repositories, per request: NameFilter::new + catalog::select / a str::contains scan",
            names.len()
        ),
        format!("{:<52} {:>8} {:>10} {:>10} {:>8}", "pattern (the floor's needle)", "matching", "ours", "floor", "ratio"),
    ];
    for (what, text, needle) in PATTERNS {
        let a = ours(text)?;
        let b = floor_select(&names, needle, per_page);
        if a != b {
            bail!(
                "{text:?}: the filter found {} ({} listed), the floor {} ({} listed)",
                a.matching,
                a.page.len(),
                b.matching,
                b.page.len()
            );
        }
        let (mut t_ours, mut t_floor) = (Vec::new(), Vec::new());
        for sample in 0..o.rounds.max(1) * 8 {
            let time_ours = || -> Result<f64> {
                let t = Instant::now();
                for _ in 0..BATCH {
                    std::hint::black_box(ours(std::hint::black_box(text))?);
                }
                Ok(t.elapsed().as_secs_f64() / BATCH as f64)
            };
            let time_floor = || {
                let t = Instant::now();
                for _ in 0..BATCH {
                    std::hint::black_box(floor_select(&names, std::hint::black_box(needle), per_page));
                }
                t.elapsed().as_secs_f64() / BATCH as f64
            };
            if sample % 2 == 0 {
                t_ours.push(time_ours()?);
                t_floor.push(time_floor());
            } else {
                t_floor.push(time_floor());
                t_ours.push(time_ours()?);
            }
        }
        let (x, y) = (median(t_ours), median(t_floor));
        let label = format!("{what} {text:?} ({needle:?})");
        lines.push(format!("{label:<52} {:>8} {:>10} {:>10} {:>8.2}", a.matching, us(x), us(y), x / y));
    }
    Ok(lines)
}

// 2. The crawl.

/// A ferro-oci-server holding the sample content in `copies` × 4 repositories. Ferro rewrites
/// its whole metadata file at each push, so the content is pushed once through the API, then its
/// entries (manifests, tags, referrers) are copied under other names in that file
/// (`Ferro::edit_metadata`, as `server/tests/it/search.rs` does).
struct Ferro {
    url: String,
    repositories: Vec<String>,
    _server: FerroServer,
}

impl Ferro {
    async fn start(copies: usize, many_tags: usize) -> Result<Self> {
        let mut server = FerroServer::start().await.context("starting ferro-oci-server (scripts/tools.sh ferro installs it)")?;
        portolan_testkit::seed::seed_demo(&Seeder::new(Pusher::new(&server.url, PushAuth::None), false), many_tags).await?;
        let mut repositories = Vec::new();
        server
            .edit_metadata(|meta| {
                let templates: Vec<String> = meta["manifests"].as_object().context("ferro's manifests")?.keys().cloned().collect();
                repositories = templates.clone();
                for k in 1..copies {
                    for t in &templates {
                        let name = format!("copy-{k:03}/{t}");
                        for section in ["manifests", "tags", "referrers"] {
                            let Some(map) = meta[section].as_object_mut() else { continue };
                            if let Some(entry) = map.get(t).cloned() {
                                map.insert(name.clone(), entry);
                            }
                        }
                        repositories.push(name);
                    }
                }
                Ok(())
            })
            .await?;
        repositories.sort();
        Ok(Self { url: server.url.clone(), repositories, _server: server })
    }

    /// The registry's own request counts, by method and endpoint (its `/metrics`, itself left
    /// out).
    async fn requests(&self, http: &reqwest::Client) -> Result<BTreeMap<String, u64>> {
        let text = http.get(format!("{}/metrics", self.url)).send().await?.error_for_status()?.text().await?;
        let mut out = BTreeMap::new();
        for line in text.lines().filter(|l| l.starts_with("ferrooci_http_requests_total{")) {
            let (labels, value) = line.rsplit_once(' ').context("a metric line")?;
            let label =
                |name: &str| labels.split(&format!("{name}=\"")).nth(1).and_then(|rest| rest.split('"').next()).unwrap_or("").to_owned();
            let handler = label("handler");
            if handler == "metrics" {
                continue;
            }
            let n: f64 = value.trim().parse()?;
            *out.entry(format!("{} {handler}", label("method"))).or_default() += n as u64;
        }
        Ok(out)
    }
}

fn difference(after: &BTreeMap<String, u64>, before: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    after.iter().map(|(k, v)| (k.clone(), v - before.get(k).copied().unwrap_or(0))).filter(|(_, v)| *v > 0).collect()
}

/// What a crawl (or its floor) read.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Read {
    repositories: usize,
    tags: usize,
    manifests: usize,
}

/// GET `url` (at most `concurrency` requests in flight in all, by `permits`); the answer's
/// body, and its `Link` to a next page.
async fn get(http: &reqwest::Client, permits: &Semaphore, url: &str, accept: &str) -> Result<(Vec<u8>, Option<String>)> {
    let _permit = permits.acquire().await?;
    let r = http.get(url).header("accept", accept).send().await?.error_for_status()?;
    let next = r
        .headers()
        .get("link")
        .and_then(|l| l.to_str().ok())
        .and_then(|l| l.split(';').next())
        .map(|l| l.trim().trim_start_matches('<').trim_end_matches('>').to_owned());
    Ok((r.bytes().await?.to_vec(), next))
}

/// The digests a manifest's `manifests` array names (an index's entries, a referrers list).
fn entries(doc: &serde_json::Value) -> Vec<String> {
    doc["manifests"].as_array().into_iter().flatten().filter_map(|m| m["digest"].as_str().map(str::to_owned)).collect()
}

/// The floor of one repository: its tag list, a manifest GET per tag, the referrers of each
/// tagged manifest, then the index entries and referrers found, level by level, each manifest
/// once — what the crawl reads, by the fewest requests.
async fn floor_repository(http: &reqwest::Client, permits: &Semaphore, url: &str, repo: &str, concurrency: usize) -> Result<Read> {
    let mut tags = Vec::new();
    let mut next = Some(format!("{url}/v2/{repo}/tags/list"));
    while let Some(page) = next {
        let (body, link) = get(http, permits, &page, "application/json").await?;
        let list: serde_json::Value = serde_json::from_slice(&body)?;
        tags.extend(list["tags"].as_array().into_iter().flatten().filter_map(|t| t.as_str().map(str::to_owned)));
        next = link.map(|l| if l.starts_with('/') { format!("{url}{l}") } else { l });
    }
    let accept = portolan_oci::media::MANIFEST_ACCEPT;
    let tagged: Vec<Result<(String, serde_json::Value)>> = futures::stream::iter(tags.iter())
        .map(|t| async move {
            let (body, _) = get(http, permits, &format!("{url}/v2/{repo}/manifests/{t}"), accept).await?;
            Ok((portolan_oci::manifest::sha256_digest(&body), serde_json::from_slice(&body)?))
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let mut read: HashMap<String, serde_json::Value> = HashMap::new();
    for r in tagged {
        let (digest, doc) = r?;
        read.insert(digest, doc);
    }
    let tops: Vec<String> = read.keys().cloned().collect();
    let referrers: Vec<Result<Vec<String>>> = futures::stream::iter(tops.iter())
        .map(|d| async move {
            let (body, _) = get(http, permits, &format!("{url}/v2/{repo}/referrers/{d}"), portolan_oci::media::OCI_INDEX).await?;
            Ok(entries(&serde_json::from_slice(&body)?))
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let mut pending: Vec<String> = tops.iter().flat_map(|d| entries(&read[d])).collect();
    for r in referrers {
        pending.extend(r?);
    }
    let mut queued: HashSet<String> = read.keys().cloned().collect();
    pending.retain(|d| queued.insert(d.clone()));
    while !pending.is_empty() {
        let docs: Vec<Result<(String, serde_json::Value)>> = futures::stream::iter(std::mem::take(&mut pending))
            .map(|d| async move {
                let (body, _) = get(http, permits, &format!("{url}/v2/{repo}/manifests/{d}"), accept).await?;
                Ok((d, serde_json::from_slice(&body)?))
            })
            .buffer_unordered(concurrency)
            .collect()
            .await;
        for r in docs {
            let (digest, doc) = r?;
            pending.extend(entries(&doc).into_iter().filter(|d| queued.insert(d.clone())));
            read.insert(digest, doc);
        }
    }
    Ok(Read { repositories: 1, tags: tags.len(), manifests: read.len() })
}

/// The floor of a whole crawl: the catalog, then every repository — one after another as the
/// crawl goes (`pipelined` false), or several at once — at most `concurrency` requests in
/// flight in all.
async fn floor_crawl(http: &reqwest::Client, url: &str, concurrency: usize, pipelined: bool) -> Result<Read> {
    let permits = Semaphore::new(concurrency.max(1));
    let mut repositories: Vec<String> = Vec::new();
    let mut next = Some(format!("{url}/v2/_catalog?n=1000"));
    while let Some(page) = next {
        let (body, link) = get(http, &permits, &page, "application/json").await?;
        let list: serde_json::Value = serde_json::from_slice(&body)?;
        repositories.extend(list["repositories"].as_array().into_iter().flatten().filter_map(|t| t.as_str().map(str::to_owned)));
        next = link.map(|l| if l.starts_with('/') { format!("{url}{l}") } else { l });
    }
    let permits = &permits;
    let reads: Vec<Result<Read>> = futures::stream::iter(repositories.iter())
        .map(|r| floor_repository(http, permits, url, r, concurrency))
        .buffer_unordered(if pipelined { concurrency.max(1) } else { 1 })
        .collect()
        .await;
    let mut total = Read::default();
    for r in reads {
        let r = r?;
        total.repositories += r.repositories;
        total.tags += r.tags;
        total.manifests += r.manifests;
    }
    Ok(total)
}

/// A full crawl pass through the server's crawl, on a fresh Portolan (empty index, cold
/// caches): its time and what it indexed.
async fn crawl_once(url: &str) -> Result<(f64, Read)> {
    let p = portolan(url, None).await?;
    let registry = p.state.registry("bench").map_err(|e| anyhow::anyhow!("{e}"))?.clone();
    // A budget far above what the pass asks for: it never waits.
    let budget = portolan_search::Budget::per_minute(u32::MAX);
    let (_stop, stop) = tokio::sync::watch::channel(false);
    let t = Instant::now();
    let report = portolan_server::crawler::pass(&p.state, &registry, &budget, stop).await;
    let elapsed = t.elapsed().as_secs_f64();
    if report.failed > 0 || report.done != report.repositories || report.pauses > 0 {
        bail!("the crawl pass did not read everything: {report:?}");
    }
    let coverage = p.state.store.index_coverage().await?;
    let c = coverage.iter().find(|c| c.registry == "bench").context("nothing indexed")?;
    Ok((elapsed, Read { repositories: report.done, tags: c.tags as usize, manifests: c.manifests as usize }))
}

async fn crawl(o: &Options) -> Result<Vec<String>> {
    eprintln!("seeding the sample content into a local ferro-oci-server, {} copies…", o.copies);
    let started = Instant::now();
    let ferro = Ferro::start(o.copies.max(1), o.many_tags).await?;
    eprintln!("{} repositories in {:.1} s", ferro.repositories.len(), started.elapsed().as_secs_f64());
    let http = reqwest::Client::builder().pool_max_idle_per_host(o.concurrency.max(1)).build()?;
    // One of each first (the registry's first touch; what each reads).
    let floor_read = floor_crawl(&http, &ferro.url, o.concurrency, true).await?;
    let before = ferro.requests(&http).await?;
    let (_, crawl_read) = crawl_once(&ferro.url).await?;
    let crawl_requests = difference(&ferro.requests(&http).await?, &before);
    if crawl_read != floor_read || crawl_read.repositories != ferro.repositories.len() {
        bail!("the crawl indexed {crawl_read:?}, the floor read {floor_read:?}");
    }
    let before = ferro.requests(&http).await?;
    floor_crawl(&http, &ferro.url, o.concurrency, false).await?;
    let floor_requests = difference(&ferro.requests(&http).await?, &before);

    let (mut ours, mut same, mut piped) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..o.rounds {
        let measure_floor = |pipelined: bool| {
            let http = &http;
            let url = &ferro.url;
            async move {
                let t = Instant::now();
                let r = floor_crawl(http, url, o.concurrency, pipelined).await?;
                if r != floor_read {
                    bail!("the floor read {r:?}, {floor_read:?} before");
                }
                Ok::<_, anyhow::Error>(t.elapsed().as_secs_f64())
            }
        };
        let measure_ours = async {
            let (t, r) = crawl_once(&ferro.url).await?;
            if r != crawl_read {
                bail!("the crawl indexed {r:?}, {crawl_read:?} before");
            }
            Ok::<_, anyhow::Error>(t)
        };
        if round % 2 == 0 {
            ours.push(measure_ours.await?);
            same.push(measure_floor(false).await?);
            piped.push(measure_floor(true).await?);
        } else {
            piped.push(measure_floor(true).await?);
            same.push(measure_floor(false).await?);
            ours.push(measure_ours.await?);
        }
    }
    let (ours, same, piped) = (median(ours), median(same), median(piped));
    let (n_ours, n_floor): (u64, u64) = (crawl_requests.values().sum(), floor_requests.values().sum());
    let mut lines = vec![
        format!(
            "crawl: {} repositories, {} tags, {} manifests of a local ferro-oci-server; concurrency {}",
            crawl_read.repositories, crawl_read.tags, crawl_read.manifests, o.concurrency
        ),
        format!("{:<66} {:>10} {:>10} {:>8}", "measurement", "ours", "floor", "ratio"),
        format!(
            "{:<66} {:>10} {:>10} {:>8.2}",
            "full crawl, time: crawl pass / floor repository by repository",
            format!("{ours:.3}s"),
            format!("{same:.3}s"),
            ours / same
        ),
        format!(
            "{:<66} {:>10} {:>10} {:>8.2}",
            "full crawl, time: crawl pass / floor pipelined across repositories",
            format!("{ours:.3}s"),
            format!("{piped:.3}s"),
            ours / piped
        ),
        format!(
            "{:<66} {:>10} {:>10} {:>8.2}",
            "full crawl, registry requests: crawl pass / floor",
            n_ours,
            n_floor,
            n_ours as f64 / n_floor as f64
        ),
    ];
    let pace = n_ours as f64 / ours;
    lines.push(format!(
        "the crawl's own pace: {pace:.0} requests/s; its budget allows {:.0}/s at most ({MAX_BUDGET} a minute), {:.0}/s by default — {}",
        f64::from(MAX_BUDGET) / 60.0,
        f64::from(portolan_service::search::RegistrySearch::default().crawl_requests_per_minute) / 60.0,
        if pace > f64::from(MAX_BUDGET) / 60.0 {
            "the budget, not the crawl, sets how long a pass takes"
        } else {
            "the crawl is slower than its highest budget"
        }
    ));
    let kinds: std::collections::BTreeSet<&String> = crawl_requests.keys().chain(floor_requests.keys()).collect();
    for k in kinds {
        let (a, b) = (crawl_requests.get(k).copied().unwrap_or(0), floor_requests.get(k).copied().unwrap_or(0));
        lines.push(format!("{:<66} {:>10} {:>10}", format!("  requests: {k}"), a, b));
    }
    Ok(lines)
}

/// The highest `crawl_requests_per_minute` the configuration accepts.
const MAX_BUDGET: u32 = 100_000;

// 3. Where used.

/// Manifests per group in the index: a tagged index of two platform images and a build
/// attestation, and a signature of the index.
const GROUP: usize = 5;
/// Groups per repository (200 manifests).
const GROUPS: usize = 40;
/// Repositories sharing a base layer.
const SHARING: usize = 10;

fn digest(label: &str) -> String {
    portolan_oci::manifest::sha256_digest(label.as_bytes())
}

fn repository(r: usize) -> String {
    format!("team-{:02}/app-{r:04}", r % 40)
}

fn base_layer(r: usize) -> String {
    digest(&format!("base layer {}", r / SHARING))
}

/// Repository `r` as the index would hold it after reading it: its manifests and tags.
fn indexed(r: usize) -> (Vec<IndexedManifest>, Vec<(String, String)>) {
    let oci = portolan_oci::media::OCI_MANIFEST;
    let layer = |d: String| IndexRef { digest: d, role: RefRole::Layer, platform: None, size: Some(10_000_000) };
    let config = |d: String| IndexRef { digest: d, role: RefRole::Config, platform: None, size: Some(2_000) };
    let manifest = |d: &str, kind: &str, subject: Option<String>, refs: Vec<IndexRef>| IndexedManifest {
        digest: d.to_owned(),
        media_type: if kind == "index" { portolan_oci::media::OCI_INDEX.to_owned() } else { oci.to_owned() },
        kind: kind.to_owned(),
        subject,
        size: 30_000_000,
        bytes: 1_000,
        created: Some(time::OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000 + r as i64)),
        refs,
    };
    let mut manifests = Vec::with_capacity(GROUPS * GROUP);
    let mut tags = Vec::new();
    let deps = digest(&format!("dependencies {r}"));
    for g in 0..GROUPS {
        let at = |what: &str| digest(&format!("{r}/{g}/{what}"));
        let (amd, arm, att, index, sig) = (at("amd64"), at("arm64"), at("attestation"), at("index"), at("signature"));
        for (d, arch) in [(&amd, "amd64"), (&arm, "arm64")] {
            let refs =
                vec![config(at(&format!("{arch} config"))), layer(base_layer(r)), layer(deps.clone()), layer(at(&format!("{arch} app")))];
            manifests.push(manifest(d, "image", None, refs));
        }
        manifests.push(manifest(&att, "build-attestation", None, vec![config(digest("{}")), layer(at("provenance"))]));
        let entry =
            |d: &str, p: &str| IndexRef { digest: d.to_owned(), role: RefRole::Manifest, platform: Some(p.to_owned()), size: Some(1_000) };
        manifests.push(manifest(
            &index,
            "index",
            None,
            vec![entry(&amd, "linux/amd64"), entry(&arm, "linux/arm64"), entry(&att, "unknown/unknown")],
        ));
        manifests.push(manifest(&sig, "signature", Some(index.clone()), vec![config(digest("{}")), layer(at("signature blob"))]));
        tags.push((format!("1.{g}.0"), index.clone()));
        if g + 1 == GROUPS {
            tags.push(("latest".to_owned(), index));
        }
    }
    (manifests, tags)
}

/// Fills `store`'s index through its API, a repository at a time; returns the repositories.
async fn fill(store: &Store, manifests: usize) -> Result<usize> {
    let repositories = manifests.div_ceil(GROUPS * GROUP).max(1);
    let now = time::OffsetDateTime::now_utc();
    for r in 0..repositories {
        let (m, tags) = indexed(r);
        let name = repository(r);
        store.index_put("bench", &name, &m, now).await?;
        store.index_set_tags("bench", &name, &tags, now).await?;
    }
    Ok(repositories)
}

/// Where-used lookups on `store` once filled. On Postgres (`postgres`: its URL), the planner's
/// statistics are gathered after the fill (`ANALYZE`, as autovacuum does within a minute of a
/// fill this size: without them, the walk's `IN` lists are read by sequential scans).
async fn where_used_in(o: &Options, engine: &str, store: Store, postgres: Option<&str>) -> Result<Vec<String>> {
    eprintln!("filling the where-used index ({engine}) with {} manifests…", o.manifests);
    let t = Instant::now();
    let repositories = fill(&store, o.manifests).await?;
    let filled = t.elapsed().as_secs_f64();
    if let Some(url) = postgres {
        let out = std::process::Command::new("psql").arg(url).args(["-q", "-X", "-c", "ANALYZE"]).output().context("running psql")?;
        if !out.status.success() {
            bail!("ANALYZE failed: {}", String::from_utf8_lossy(&out.stderr));
        }
    }
    let n = (repositories * GROUPS * GROUP) as f64;
    let p = portolan("http://127.0.0.1:9", Some(store.clone())).await?;
    let t = Instant::now();
    let coverage = store.index_coverage().await?;
    let counted = t.elapsed().as_secs_f64();
    if coverage.first().map(|c| c.manifests) != Some(n as u64) {
        bail!("the index holds {coverage:?}, {n} manifests were put");
    }
    let r = repositories / 2;
    let manifest = digest(&format!("{r}/{}/amd64", GROUPS / 2));
    let layer = base_layer(r);
    let sharing = (0..repositories).filter(|x| x / SHARING == r / SHARING).count();
    let cases = [
        ("a platform image (in 1 tagged index)".to_owned(), manifest.clone(), 1),
        (format!("a layer of {} images (in {} tagged indexes)", sharing * GROUPS * 2, sharing * GROUPS), layer, sharing * GROUPS),
        ("an unknown digest".to_owned(), digest("nowhere"), 0),
    ];
    let key = repository(r);
    let mut lines = vec![
        format!(
            "where used ({engine}): {n} manifests in {repositories} repositories, filled through the store's API in {filled:.1} s ({:.0} manifests/s){}; the coverage count (redone every 10 s at most) {}",
            n / filled,
            if postgres.is_some() { ", then ANALYZE" } else { "" },
            ms(counted)
        ),
        format!(
            "{:<46} {:>6} {:>10} {:>10} {:>10} {:>8} {:>8}",
            "digest (per lookup)", "places", "walk", "page", "PK floor", "walk/PK", "page/PK"
        ),
    ];
    for (what, d, places) in cases {
        let used = store.where_used(&d, portolan_service::search::MAX_PLACES).await?;
        if used.uses.len() != places || used.truncated {
            bail!("{what}: {} places (truncated: {}), {places} expected", used.uses.len(), used.truncated);
        }
        let (mut walk, mut view, mut floor) = (Vec::new(), Vec::new(), Vec::new());
        // The first rounds warm every pooled connection's statement cache; they are not kept.
        let warm = 12;
        for i in 0..warm + o.lookups.max(1) {
            let time_walk = async {
                let t = Instant::now();
                std::hint::black_box(store.where_used(&d, portolan_service::search::MAX_PLACES).await?);
                Ok::<_, anyhow::Error>(t.elapsed().as_secs_f64())
            };
            let time_view = async {
                let t = Instant::now();
                let v = portolan_service::search::where_used(&p.state, None, &d).await.map_err(|e| anyhow::anyhow!("{e}"))?;
                let elapsed = t.elapsed().as_secs_f64();
                if v.places() != places {
                    bail!("{what}: the page lists {} places, {places} expected", v.places());
                }
                Ok(elapsed)
            };
            let time_floor = async {
                let t = Instant::now();
                let known = store.index_known("bench", &key, std::slice::from_ref(&manifest)).await?;
                let elapsed = t.elapsed().as_secs_f64();
                if known.len() != 1 {
                    bail!("the primary-key lookup found {} rows", known.len());
                }
                Ok(elapsed)
            };
            let (w, v, f) = if i % 2 == 0 {
                let w = time_walk.await?;
                let v = time_view.await?;
                (w, v, time_floor.await?)
            } else {
                let f = time_floor.await?;
                let v = time_view.await?;
                (time_walk.await?, v, f)
            };
            if i >= warm {
                walk.push(w);
                view.push(v);
                floor.push(f);
            }
        }
        let (walk, view, floor) = (median(walk), median(view), median(floor));
        lines.push(format!(
            "{what:<46} {places:>6} {:>10} {:>10} {:>10} {:>8.1} {:>8.1}",
            ms(walk),
            ms(view),
            ms(floor),
            walk / floor,
            view / floor
        ));
    }
    Ok(lines)
}

async fn where_used(o: &Options) -> Result<Vec<String>> {
    let dir = tempfile::tempdir()?;
    let sqlite = Store::open(&StoreConfig::new(Location::Sqlite(dir.path().to_path_buf()))).await?;
    let mut lines = where_used_in(o, "SQLite", sqlite, None).await?;
    if o.no_postgres {
        return Ok(lines);
    }
    match portolan_testkit::postgres::Postgres::start().await {
        Ok(pg) => {
            let url = pg.new_database("bench")?;
            let store = Store::open(&StoreConfig::new(Location::Postgres(url.clone()))).await?;
            lines.extend(where_used_in(o, "Postgres", store, Some(&url)).await?);
            drop(pg);
        }
        Err(e) => lines.push(format!("where used (Postgres): not measured ({e:#})")),
    }
    Ok(lines)
}
