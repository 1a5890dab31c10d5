//! The web app on a 5,000-tag repository of a local CNCF distribution. Every ratio compares two
//! sides measured alternately in the same run (medians over rounds):
//! - the first page of tags, cold (a freshly started Portolan), from the raw HTTP response: time
//!   to first byte and to the last byte, and how many of its 50 rows came with their details;
//! - the same page cold in headless Chromium, until it is complete: every row of the tag table
//!   with its details, including the rows the browser reads after load (end2end/bench-page.mjs
//!   says when, from the DOM) — vs the floor, the registry requests that page needs (the whole
//!   tag list, then each of the 50 tags' manifest and config at Portolan's concurrency, 16) made
//!   by a bare HTTP loop. Chromium is launched once; its launch is reported on its own and is
//!   not part of any page's time;
//! - the same page again, warm, vs cold;
//! - what a browser downloads to run the page: the WebAssembly, the JavaScript and the
//!   stylesheet the page links, as the running server sends them to `Accept-Encoding: br, gzip`
//!   (bytes on the wire, not decoded);
//! - the resident memory of the Portolan process: after start, after browsing the largest
//!   repository (pages, sorts, by date too — over 1,250 tags, every one's date read — and
//!   artifact pages), idle again;
//! - requests per second of the cached tag page at 64 connections, the load generator in this
//!   process, vs the floor: the same axum + tokio stack with the same compression layer serving
//!   the same bytes as a fixed page;
//! - the same with the store on Postgres vs SQLite;
//! - the resident memory of each of two replicas on one Postgres.
//!
//! Needs a release build (`cargo leptos build --release --precompress`), Node with
//! end2end/node_modules (playwright-core) and Chromium, and Postgres: scripts/bench web has them.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use futures::StreamExt;
use portolan_testkit::postgres::Postgres;
use portolan_testkit::{Kind, Registry};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::median;

#[derive(clap::Args)]
pub struct Options {
    /// Tags in the benchmark repository.
    #[arg(long, default_value_t = 5000)]
    tags: usize,
    /// Rounds of the page measurements (a fresh server for each cold load).
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// Rounds of each requests-per-second comparison (both sides each round, alternating).
    #[arg(long, default_value_t = 3)]
    load_rounds: usize,
    /// Seconds of load per side per round.
    #[arg(long, default_value_t = 3.0)]
    load_secs: f64,
    /// Connections of the load generator.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// The Portolan binary.
    #[arg(long, default_value = "target/release/portolan")]
    server: PathBuf,
    /// The script that loads a page in Chromium and says when it is complete.
    #[arg(long, default_value = "end2end/bench-page.mjs")]
    page_script: PathBuf,
    /// Node, to run the page script.
    #[arg(long, default_value = "node")]
    node: String,
}

const REPO: &str = "stress/many-tags";
const PAGE: usize = 50;
/// Portolan reads tag details this many at a time (app/src/api/browse.rs); the floor does too.
const DETAIL_CONCURRENCY: usize = 16;
/// The idle resident memory target.
const IDLE_RSS_TARGET_MB: f64 = 40.0;

struct Server {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn pid(&self) -> u32 {
        self.child.id()
    }
}

/// Starts Portolan on `registry`; `extra` is added to its configuration (e.g. `database_url`).
async fn start_server(binary: &Path, registry: &str, extra: &str) -> Result<Server> {
    let dir = tempfile::tempdir()?;
    let config = dir.path().join("portolan.toml");
    std::fs::write(&config, format!("{extra}\n[[registries]]\nname = \"bench\"\nurl = \"{registry}\"\n"))?;
    // Its log goes to a file: a start that fails says why (a port taken: tried on another).
    let log = dir.path().join("portolan.log");
    let (child, url) = portolan_testkit::process::start_on_free_port("portolan", |addr| {
        let (config, data, log) = (&config, dir.path().join("data"), &log);
        async move {
            let out = std::fs::File::create(log)?;
            let mut child = Command::new(binary)
                .args(["--config", &config.display().to_string(), "--listen", &addr.to_string(), "--data-dir", &data.display().to_string()])
                .env("PORTOLAN_LOG", "warn")
                .stdout(Stdio::from(out.try_clone()?))
                .stderr(Stdio::from(out))
                .spawn()
                .with_context(|| format!("starting {} (build it: cargo leptos build --release)", binary.display()))?;
            let url = format!("http://{addr}");
            let http = reqwest::Client::builder().timeout(Duration::from_secs(5)).build()?;
            for _ in 0..400 {
                if let Some(status) = child.try_wait()? {
                    return Err(portolan_testkit::process::ExitedDuringStart::new("portolan", status, log).into());
                }
                if http.get(format!("{url}/readyz")).send().await.is_ok_and(|r| r.status().is_success()) {
                    return Ok((child, url));
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            let _ = child.kill();
            let _ = child.wait();
            bail!("Portolan did not start: {}", std::fs::read_to_string(log).unwrap_or_default())
        }
    })
    .await?;
    Ok(Server { child, url, _dir: dir })
}

/// (time to first byte, time to last byte, rows with details) of one page load.
async fn load(http: &reqwest::Client, url: &str) -> Result<(f64, f64, usize)> {
    let started = Instant::now();
    let response = http.get(url).send().await?;
    let first = started.elapsed().as_secs_f64();
    if !response.status().is_success() {
        bail!("{url}: {}", response.status());
    }
    let body = response.text().await?;
    let total = started.elapsed().as_secs_f64();
    Ok((first, total, complete_rows(&body)))
}

/// Rows of a tag page's HTML that have their details (a digest cell).
fn complete_rows(html: &str) -> usize {
    html.matches("data-digest=").count()
}

/// The registry requests the page needs, from a bare loop: the whole tag list (following the
/// registry's `Link` pages, as Portolan must to sort by version), then each of the first 50
/// tags' manifest and config, 16 at a time.
async fn floor(http: &reqwest::Client, registry: &str, tags: &[String]) -> Result<f64> {
    let started = Instant::now();
    let mut next = Some(format!("{registry}/v2/{REPO}/tags/list?n=1000"));
    let mut listed = 0;
    while let Some(url) = next.take() {
        let response = http.get(&url).send().await?.error_for_status()?;
        next = response
            .headers()
            .get("link")
            .and_then(|l| l.to_str().ok())
            .and_then(|l| l.split_once('<'))
            .and_then(|(_, rest)| rest.split_once('>'))
            .map(|(path, _)| format!("{registry}{path}"));
        let list: serde_json::Value = response.json().await?;
        listed += list["tags"].as_array().map_or(0, Vec::len);
    }
    if listed != tags.len() {
        bail!("the floor listed {listed} of {} tags", tags.len());
    }
    let results: Vec<Result<()>> = futures::stream::iter(tags.iter().take(PAGE))
        .map(|t| async move {
            let manifest: serde_json::Value = http
                .get(format!("{registry}/v2/{REPO}/manifests/{t}"))
                .header("accept", portolan_oci::media::MANIFEST_ACCEPT)
                .send()
                .await?
                .json()
                .await?;
            let config = manifest.pointer("/config/digest").and_then(|d| d.as_str()).context("a config digest")?.to_owned();
            http.get(format!("{registry}/v2/{REPO}/blobs/{config}")).send().await?.bytes().await?;
            Ok(())
        })
        .buffer_unordered(DETAIL_CONCURRENCY)
        .collect()
        .await;
    results.into_iter().collect::<Result<Vec<()>>>()?;
    Ok(started.elapsed().as_secs_f64())
}

/// Headless Chromium, launched once, loading pages on request (end2end/bench-page.mjs).
struct Browser {
    child: tokio::process::Child,
    stdin: tokio::process::ChildStdin,
    lines: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    /// How long Chromium took to launch, in seconds.
    launched: f64,
}

/// One page load in the browser, in seconds from the navigation's start.
struct BrowserLoad {
    first_byte: f64,
    /// The HTML parsed (DOMContentLoaded's end).
    parsed: f64,
    /// The islands ran (None: not within the script's wait).
    hydrated: Option<f64>,
    complete: f64,
    html_complete_rows: usize,
}

impl Browser {
    async fn start(node: &str, script: &Path) -> Result<Self> {
        let mut child = tokio::process::Command::new(node)
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("running {node} {} (scripts/bench installs Node)", script.display()))?;
        let stdin = child.stdin.take().context("the page script's input")?;
        let mut lines = BufReader::new(child.stdout.take().context("the page script's output")?).lines();
        let first = lines.next_line().await?.context("the page script ended before launching Chromium")?;
        let v: serde_json::Value = serde_json::from_str(&first)?;
        let launched = v["launched"].as_f64().context("the page script's launch time")? / 1000.0;
        Ok(Self { child, stdin, lines, launched })
    }

    async fn load(&mut self, url: &str, rows: usize) -> Result<BrowserLoad> {
        let request = serde_json::json!({ "url": url, "rows": rows });
        self.stdin.write_all(format!("{request}\n").as_bytes()).await?;
        self.stdin.flush().await?;
        let line = self.lines.next_line().await?.context("the page script ended")?;
        let v: serde_json::Value = serde_json::from_str(&line)?;
        if let Some(e) = v["error"].as_str() {
            bail!("{url} in Chromium: {e} ({} of {} rows complete)", v["complete_rows"], v["rows"]);
        }
        let ms = |k: &str| v[k].as_f64().map(|t| t / 1000.0).with_context(|| format!("no {k} in {line}"));
        Ok(BrowserLoad {
            first_byte: ms("first_byte")?,
            parsed: ms("dom_content_loaded")?,
            hydrated: ms("hydrated").ok(),
            complete: ms("complete")?,
            html_complete_rows: v["html_complete_rows"].as_u64().unwrap_or(0) as usize,
        })
    }

    async fn stop(mut self) {
        drop(self.stdin);
        if tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await.is_err() {
            let _ = self.child.kill().await;
        }
    }
}

/// The resident memory of process `pid`, in MB (VmRSS of /proc/<pid>/status).
fn rss_mb(pid: u32) -> Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmRSS")?;
    Ok(kb / 1024.0)
}

/// Browses the largest repository as a person would: pages of it, sorted each way (by date:
/// every matching tag's date is read), and artifact pages. Returns how many pages were loaded.
async fn browse(http: &reqwest::Client, base: &str, tags: &[String]) -> Result<usize> {
    let repo = format!("{base}/r/bench/{REPO}");
    let mut pages = vec![
        base.to_owned(),
        format!("{base}/r/bench"),
        repo.clone(),
        format!("{repo}?page=2"),
        format!("{repo}?page={}", tags.len().div_ceil(PAGE)),
        format!("{repo}?sort=name"),
        format!("{repo}?sort=name&reverse=1&page=7"),
        format!("{repo}?q=1.*"),
    ];
    for t in [&tags[0], &tags[tags.len() / 2], &tags[tags.len() - 1]] {
        pages.push(format!("{repo}:{t}"));
    }
    pages.push(format!("{base}/r/bench/library/hello:1.1.0"));
    pages.push(format!("{base}/r/bench/team/platform/api:v1.0.0"));
    for url in &pages {
        let status = http.get(url).send().await?.status();
        if !status.is_success() {
            bail!("{url}: {status}");
        }
    }
    // Sorting by date reads every matching tag's date (Portolan does it for up to 2,000 tags;
    // for more it says so and sorts by version): the whole repository, and its 1,250 build-*
    // tags. Asked again until every date is read and the first page comes complete.
    let mut loaded = pages.len();
    for by_date in [format!("{repo}?sort=created"), format!("{repo}?q=build-*&sort=created")] {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let body = http.get(&by_date).send().await?.error_for_status()?.text().await?;
            loaded += 1;
            if complete_rows(&body) >= PAGE.min(tags.len() / 4) && !body.contains("still being read") {
                break;
            }
            if Instant::now() > deadline {
                bail!("{by_date} was not complete within two minutes");
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        http.get(format!("{by_date}&page=3")).send().await?.error_for_status()?;
        loaded += 1;
    }
    Ok(loaded)
}

/// What a load run saw.
struct LoadRun {
    per_second: f64,
    errors: u64,
}

/// `connections` clients requesting `url` over and over for `secs` seconds, each waiting for the
/// whole body; as a browser asks (`Accept-Encoding: br, gzip`), bodies not decoded.
async fn hammer(url: &str, connections: usize, secs: f64) -> Result<LoadRun> {
    let http = reqwest::Client::builder().no_gzip().pool_max_idle_per_host(connections).build()?;
    let (ok, errors) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let started = Instant::now();
    let until = started + Duration::from_secs_f64(secs);
    let workers: Vec<_> = (0..connections)
        .map(|_| {
            let (http, url, ok, errors) = (http.clone(), url.to_owned(), ok.clone(), errors.clone());
            tokio::spawn(async move {
                while Instant::now() < until {
                    let r = http.get(&url).header("accept-encoding", "br, gzip").send().await;
                    let fine = match r {
                        Ok(r) if r.status().is_success() => r.bytes().await.is_ok_and(|b| !b.is_empty()),
                        _ => false,
                    };
                    let counter = if fine { &ok } else { &errors };
                    counter.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for w in workers {
        w.await?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    Ok(LoadRun { per_second: ok.load(Ordering::Relaxed) as f64 / elapsed, errors: errors.load(Ordering::Relaxed) })
}

/// The floor of requests per second: axum + tokio with the same compression layer, serving
/// `page` (Portolan's page, as bytes) as a fixed HTML page, on a runtime of its own with as many
/// workers as Portolan's. Stops when dropped.
struct FloorServer {
    url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FloorServer {
    fn start(page: axum::body::Bytes) -> Result<Self> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let url = format!("http://{}/page", listener.local_addr()?);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("the listener");
                let app = axum::Router::new()
                    .route(
                        "/page",
                        axum::routing::get(move || {
                            let page = page.clone();
                            async move { ([(axum::http::header::CONTENT_TYPE, "text/html; charset=utf-8")], page) }
                        }),
                    )
                    .layer(tower_http::compression::CompressionLayer::new());
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(async move {
                        let _ = stopped.await;
                    })
                    .await;
            });
        });
        Ok(Self { url, stop: Some(stop), thread: Some(thread) })
    }
}

impl Drop for FloorServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Requests per second of `a` and `b`, alternating which goes first each round, after a warm-up
/// of each; medians, and the most errors either saw.
async fn compare_load(a: &str, b: &str, o: &Options) -> Result<(f64, f64, u64, u64)> {
    hammer(a, o.connections, 1.0).await?;
    hammer(b, o.connections, 1.0).await?;
    let (mut ra, mut rb, mut ea, mut eb) = (Vec::new(), Vec::new(), 0, 0);
    for round in 0..o.load_rounds {
        let order = if round % 2 == 0 { [a, b] } else { [b, a] };
        for url in order {
            let run = hammer(url, o.connections, o.load_secs).await?;
            if url == a {
                ra.push(run.per_second);
                ea += run.errors;
            } else {
                rb.push(run.per_second);
                eb += run.errors;
            }
        }
    }
    Ok((median(ra), median(rb), ea, eb))
}

/// The scripts and styles a page links (`/pkg/…`, stylesheets), in order of appearance.
fn assets_of(html: &str) -> Vec<String> {
    let mut found = Vec::new();
    for quote in ['"', '\''] {
        for part in html.split(quote).skip(1).step_by(2) {
            let is_asset =
                part.starts_with("/pkg/") || (part.starts_with('/') && part.split('?').next().is_some_and(|p| p.ends_with(".css")));
            if is_asset && !part.contains(char::is_whitespace) && !found.iter().any(|f| f == part) {
                found.push(part.to_owned());
            }
        }
    }
    // The WebAssembly is fetched by the JavaScript, not linked: add it when the page does not.
    if let Some(js) = found.iter().find(|f| f.starts_with("/pkg/") && f.ends_with(".js")).cloned() {
        let wasm = format!("{}.wasm", js.trim_end_matches(".js"));
        if !found.iter().any(|f| f.ends_with(".wasm")) {
            found.push(wasm);
        }
    }
    found
}

/// (path, bytes on the wire, Content-Encoding) of each asset, as the server sends it to a
/// browser's `Accept-Encoding: br, gzip`.
async fn wire_sizes(base: &str, assets: &[String]) -> Result<Vec<(String, u64, String)>> {
    let http = reqwest::Client::builder().no_gzip().build()?;
    let mut sizes = Vec::new();
    for path in assets {
        let r = http.get(format!("{base}{path}")).header("accept-encoding", "br, gzip").send().await?;
        if !r.status().is_success() {
            bail!("{path}: {}", r.status());
        }
        let encoding = r.headers().get("content-encoding").and_then(|v| v.to_str().ok()).unwrap_or("none (not compressed)").to_owned();
        let body = r.bytes().await?;
        sizes.push((path.clone(), body.len() as u64, encoding));
    }
    Ok(sizes)
}

fn kb(bytes: u64) -> f64 {
    bytes as f64 / 1000.0
}

fn met(ok: bool) -> &'static str {
    if ok { "met" } else { "NOT met" }
}

pub async fn run(o: Options) -> Result<()> {
    let started = Instant::now();
    eprintln!("seeding {} tags into a local CNCF distribution…", o.tags);
    let registry = Registry::start(Kind::Anonymous, o.tags).await?;
    eprintln!("seeded in {:.0} s", started.elapsed().as_secs_f64());
    let http = reqwest::Client::new();
    let mut tags = portolan_oci::Client::new(portolan_oci::ClientConfig::new(&registry.url))?
        .tags(&portolan_oci::RepoName::parse(REPO)?)
        .await?
        .to_vec();
    // The page's first 50 tags, in its default (version) order: what it must read.
    tags.sort_by(|a, b| match (semver_of(a), semver_of(b)) {
        (Some(x), Some(y)) => y.cmp(&x),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.cmp(b),
    });
    let page_path = format!("/r/bench/{REPO}");

    // 1. The first page, cold: raw HTTP, and complete in Chromium; the floor alternating.
    eprintln!("first page: {} rounds (a fresh Portolan for each cold load)…", o.rounds);
    let mut browser = Browser::start(&o.node, &o.page_script).await?;
    floor(&http, &registry.url, &tags).await?; // the registry's own first touch, for neither side
    let (mut cold_first, mut cold_total, mut warm_first, mut floors, mut html_rows) = (vec![], vec![], vec![], vec![], vec![]);
    let (mut browser_first, mut browser_parsed, mut browser_hydrated, mut browser_complete, mut browser_html_rows) =
        (vec![], vec![], vec![], vec![], vec![]);
    for round in 0..o.rounds {
        if round % 2 == 1 {
            floors.push(floor(&http, &registry.url, &tags).await?);
        }
        let server = start_server(&o.server, &registry.url, "").await?;
        let page = format!("{}{page_path}", server.url);
        let (first, total, rows) = load(&http, &page).await?;
        cold_first.push(first);
        cold_total.push(total);
        html_rows.push(rows as f64);
        warm_first.push(load(&http, &page).await?.0);
        drop(server);
        let server = start_server(&o.server, &registry.url, "").await?;
        let seen = browser.load(&format!("{}{page_path}", server.url), PAGE).await?;
        browser_first.push(seen.first_byte);
        browser_parsed.push(seen.parsed);
        browser_hydrated.extend(seen.hydrated);
        browser_complete.push(seen.complete);
        browser_html_rows.push(seen.html_complete_rows as f64);
        drop(server);
        if round % 2 == 0 {
            floors.push(floor(&http, &registry.url, &tags).await?);
        }
    }
    let launched = browser.launched;
    browser.stop().await;

    // 2. What the browser downloads, and 3. memory, on one server.
    eprintln!("bundle and memory…");
    let server = start_server(&o.server, &registry.url, "").await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_started = rss_mb(server.pid())?;
    let html = http.get(format!("{}{page_path}", server.url)).send().await?.error_for_status()?.text().await?;
    let assets = assets_of(&html);
    let sizes = wire_sizes(&server.url, &assets).await?;
    let browsed = browse(&http, &server.url, &tags).await?;
    let rss_busy = rss_mb(server.pid())?;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let rss_idle = rss_mb(server.pid())?;

    // 4. Requests per second of the cached page vs a fixed page on the same stack.
    eprintln!("requests per second: {} rounds of {} s per side, {} connections…", o.load_rounds, o.load_secs, o.connections);
    let page = format!("{}{page_path}", server.url);
    let captured = http.get(&page).send().await?.error_for_status()?.bytes().await?;
    let floor_server = FloorServer::start(captured.clone())?;
    let (ours_rps, floor_rps, ours_errors, floor_errors) = compare_load(&page, &floor_server.url, &o).await?;
    drop(floor_server);

    // 5. The same page with the store on Postgres vs SQLite.
    eprintln!("Postgres vs SQLite…");
    let pg = Postgres::start().await?;
    let db = pg.new_database("bench")?;
    let on_pg = start_server(&o.server, &registry.url, &format!("database_url = \"{db}\"")).await?;
    let pg_page = format!("{}{page_path}", on_pg.url);
    http.get(&pg_page).send().await?.error_for_status()?.bytes().await?;
    let (pg_rps, sqlite_rps, pg_errors, sqlite_errors) = compare_load(&pg_page, &page, &o).await?;
    drop(on_pg);
    drop(server);

    // 6. Two replicas on one Postgres: memory of each, started, then after the same browsing.
    eprintln!("two replicas on one Postgres…");
    let db = pg.new_database("replicas")?;
    let extra = format!("database_url = \"{db}\"");
    let replicas = [start_server(&o.server, &registry.url, &extra).await?, start_server(&o.server, &registry.url, &extra).await?];
    tokio::time::sleep(Duration::from_secs(2)).await;
    let replica_started: Vec<f64> = replicas.iter().map(|r| rss_mb(r.pid())).collect::<Result<_>>()?;
    for r in &replicas {
        browse(&http, &r.url, &tags).await?;
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    let replica_idle: Vec<f64> = replicas.iter().map(|r| rss_mb(r.pid())).collect::<Result<_>>()?;
    drop(replicas);
    drop(pg);

    let fl = median(floors);
    let (cf, ct, wf) = (median(cold_first), median(cold_total), median(warm_first));
    let (bf, bc) = (median(browser_first), median(browser_complete));
    println!("portolan-bench web: first page ({PAGE} tags) of a {}-tag repository, {} rounds, medians", o.tags, o.rounds);
    println!("{:<60} {:>10} {:>10} {:>8}", "measurement", "ours", "other", "ratio");
    println!("{:<60} {:>9.3}s {:>9.3}s {:>8.2}", "cold, HTTP: time to first byte / registry floor", cf, fl, cf / fl);
    println!("{:<60} {:>9.3}s {:>9.3}s {:>8.2}", "cold, HTTP: last byte / registry floor", ct, fl, ct / fl);
    println!("{:<60} {:>9.3}s {:>9.3}s {:>8.2}", "cold, Chromium: first byte / registry floor", bf, fl, bf / fl);
    println!("{:<60} {:>9.3}s {:>9.3}s {:>8.2}", "cold, Chromium: page complete / registry floor", bc, fl, bc / fl);
    println!("{:<60} {:>9.3}s {:>9.3}s {:>8.3}", "warm / cold (time to first byte)", wf, cf, wf / cf);
    println!("target: complete page ≤ 1.2 × the registry floor — {}", met(bc / fl <= 1.2));
    println!(
        "rows complete in the cold page's HTML: {} of {PAGE} (raw HTTP response), {} of {PAGE} (in Chromium, when parsed); the rest are read by the browser after load",
        median(html_rows),
        median(browser_html_rows)
    );
    println!(
        "in Chromium, from the navigation's start: first byte {bf:.3}s, HTML parsed {:.3}s, hydrated {:.3}s ({} of {} loads), complete {bc:.3}s",
        median(browser_parsed),
        median(browser_hydrated.clone()),
        browser_hydrated.len(),
        o.rounds
    );
    println!("Chromium's own launch (once, not part of any page's time): {launched:.3}s");
    println!();
    println!("what the browser downloads to run the page (Accept-Encoding: br, gzip; bytes on the wire):");
    for (path, bytes, encoding) in &sizes {
        println!("  {path:<52} {:>9.1} KB  {encoding}", kb(*bytes));
    }
    let total: u64 = sizes.iter().map(|(_, b, _)| b).sum();
    let code: u64 = sizes.iter().filter(|(p, _, _)| p.ends_with(".wasm") || p.ends_with(".js")).map(|(_, b, _)| b).sum();
    println!("  total {:.1} KB (WebAssembly + JavaScript {:.1} KB: target ≤ 350 KB — {})", kb(total), kb(code), met(code <= 350_000));
    println!();
    println!("resident memory of the Portolan process (VmRSS):");
    println!("  after start {rss_started:.1} MB (target ≤ {IDLE_RSS_TARGET_MB} MB — {})", met(rss_started <= IDLE_RSS_TARGET_MB));
    println!("  right after browsing the {}-tag repository ({browsed} pages) {rss_busy:.1} MB", o.tags);
    println!("  idle again 5 s later {rss_idle:.1} MB (target ≤ {IDLE_RSS_TARGET_MB} MB — {})", met(rss_idle <= IDLE_RSS_TARGET_MB));
    println!();
    println!(
        "requests per second, cached tag page ({:.1} KB), {} connections, load generator included:",
        kb(captured.len() as u64),
        o.connections
    );
    println!("{:<60} {:>10} {:>10} {:>8}", "measurement", "ours", "other", "ratio");
    println!(
        "{:<60} {:>10.0} {:>10.0} {:>8.2}",
        "Portolan / axum serving the same bytes (same compression)",
        ours_rps,
        floor_rps,
        ours_rps / floor_rps
    );
    println!("{:<60} {:>10.0} {:>10.0} {:>8.2}", "store on Postgres / on SQLite", pg_rps, sqlite_rps, pg_rps / sqlite_rps);
    println!("errors: Portolan {ours_errors}, floor {floor_errors}, on Postgres {pg_errors}, on SQLite {sqlite_errors} (must be 0)");
    println!("target: ≥ 0.5 × the floor — {}; ≥ 2,000 requests/s — {}", met(ours_rps / floor_rps >= 0.5), met(ours_rps >= 2000.0));
    println!();
    println!("two replicas on one Postgres, resident memory each:");
    for (i, (s, idle)) in replica_started.iter().zip(&replica_idle).enumerate() {
        println!(
            "  replica {}: after start {s:.1} MB; after browsing, idle {idle:.1} MB (target ≤ {IDLE_RSS_TARGET_MB} MB — {})",
            i + 1,
            met(*idle <= IDLE_RSS_TARGET_MB)
        );
    }
    println!("(run took {:.0} s)", started.elapsed().as_secs_f64());
    if ours_errors + floor_errors + pg_errors + sqlite_errors > 0 {
        bail!("requests failed under load");
    }
    Ok(())
}

fn semver_of(tag: &str) -> Option<semver::Version> {
    semver::Version::parse(tag.strip_prefix('v').unwrap_or(tag)).ok()
}
