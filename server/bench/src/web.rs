//! The web app on a 5,000-tag repository of a local CNCF distribution. Every ratio compares two
//! sides measured alternately in the same run (medians over rounds):
//! - the first page of tags, cold (a freshly started Portolan), from the raw HTTP response: time
//!   to first byte and to the last byte, and how many of its 50 rows came with their details;
//! - the same page cold in headless Chromium, until it is complete: every row of the tag table
//!   with its details, including the rows the browser reads after load (end2end/bench-page.mjs
//!   says when, from the DOM) — vs the registry floor, the registry requests that page needs
//!   (the whole tag list, then each of the 50 tags' manifest and config at Portolan's
//!   concurrency, 16) made by a bare HTTP loop; and vs the static copy plus that floor: the same
//!   Chromium loading the same page as static files — the HTML Portolan serves for it once its
//!   rows are read and every file the browser fetched for it from Portolan (stylesheet,
//!   JavaScript, WebAssembly, icon), each with the encodings Portolan offers, served by
//!   tower-http's `ServeDir` in this process — until the same condition. Chromium is launched
//!   once; its launch is reported on its own and is not part of any page's time;
//! - the same page again, warm, vs cold;
//! - what a browser downloads to run the page: the WebAssembly, the JavaScript and the
//!   stylesheet the page links, as the running server sends them to `Accept-Encoding: br, gzip`
//!   (bytes on the wire, not decoded);
//! - the resident memory of the Portolan process: after start, after browsing the largest
//!   repository (pages, sorts, by date too — over 1,250 tags, every one's date read — and
//!   artifact pages), idle again;
//! - requests per second of the cached tag page at 64 connections, the load generator in this
//!   process, vs the floor: axum + tokio serving, with no compression layer, exactly the bytes
//!   Portolan sends (its kept page as fetched with the load generator's `Accept-Encoding`, with
//!   its `Content-Encoding`) — neither side compresses per request, and both must answer the
//!   same number of bytes (up to the per-response nonce) or the run fails;
//! - the store on Postgres vs SQLite, on paths that read the store on every request: the tag
//!   page signed in (the session is read from the store, then the kept page sent) and the audit
//!   log as JSON (the session, then the audit query), each as alice, signed in through the test
//!   kit's OpenID provider;
//! - the resident memory of each of two replicas on one Postgres.
//!
//! Needs a release build (`cargo leptos build --release --precompress`), Node with
//! end2end/node_modules (playwright-core, oidc-provider) and Chromium, and Postgres: scripts/bench
//! web has them. `--quick`: small sizes and one round, to see that it all runs (CI).

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use futures::StreamExt;
use portolan_testkit::oidc::{OidcConfig, OidcProvider};
use portolan_testkit::postgres::Postgres;
use portolan_testkit::{Kind, Registry};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::median;

#[derive(clap::Args)]
pub struct Options {
    /// Small sizes and one round: to see that everything runs, not to measure.
    #[arg(long)]
    quick: bool,
    /// Tags in the benchmark repository.
    #[arg(long, default_value_t = 5000, default_value_if("quick", "true", "300"))]
    tags: usize,
    /// Rounds of the page measurements (a fresh server for each cold load).
    #[arg(long, default_value_t = 5, default_value_if("quick", "true", "1"))]
    rounds: usize,
    /// Rounds of each requests-per-second comparison (both sides each round, alternating).
    #[arg(long, default_value_t = 3, default_value_if("quick", "true", "1"))]
    load_rounds: usize,
    /// Seconds of load per side per round.
    #[arg(long, default_value_t = 3.0, default_value_if("quick", "true", "0.5"))]
    load_secs: f64,
    /// Connections of the load generator.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// The Portolan binary.
    #[arg(long, env = "PORTOLAN_BENCH_SERVER", default_value = "target/release/portolan")]
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

/// The configuration of a Portolan on `registry`; `extra` goes first (e.g. `database_url`, an
/// `[auth.proxy]`…, anything before the first table or a table of its own).
fn config(registry: &str, extra: &str) -> String {
    format!("{extra}\n[[registries]]\nname = \"bench\"\nurl = \"{registry}\"\n")
}

/// Starts Portolan on `registry`; `extra` is added to its configuration (e.g. `database_url`).
async fn start_server(binary: &Path, registry: &str, extra: &str) -> Result<Server> {
    let config = config(registry, extra);
    portolan_testkit::process::start_on_free_port("portolan", |addr| spawn(binary, addr, &config)).await
}

/// Starts Portolan listening on `addr` with `config`, in a temporary directory of its own (its
/// configuration, data and log), and waits until it is ready. A start that fails says why (a
/// port taken: the caller tries another).
async fn spawn(binary: &Path, addr: SocketAddr, config: &str) -> Result<Server> {
    let dir = tempfile::tempdir()?;
    let config_path = dir.path().join("portolan.toml");
    std::fs::write(&config_path, config)?;
    let data = dir.path().join("data");
    let log = dir.path().join("portolan.log");
    let out = std::fs::File::create(&log)?;
    let child = Command::new(binary)
        .args(["--config", &config_path.display().to_string(), "--listen", &addr.to_string(), "--data-dir", &data.display().to_string()])
        .env("PORTOLAN_LOG", "warn")
        .stdout(Stdio::from(out.try_clone()?))
        .stderr(Stdio::from(out))
        .spawn()
        .with_context(|| format!("starting {} (build it: cargo leptos build --release)", binary.display()))?;
    // From here the child is killed when this returns early.
    let mut server = Server { child, url: format!("http://{addr}"), _dir: dir };
    let http = reqwest::Client::builder().timeout(Duration::from_secs(5)).build()?;
    for _ in 0..400 {
        if let Some(status) = server.child.try_wait()? {
            return Err(portolan_testkit::process::ExitedDuringStart::new("portolan", status, &log).into());
        }
        if http.get(format!("{}/readyz", server.url)).send().await.is_ok_and(|r| r.status().is_success()) {
            return Ok(server);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = server.child.kill();
    let _ = server.child.wait();
    bail!("Portolan did not start: {}", std::fs::read_to_string(&log).unwrap_or_default())
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
    /// Every response the page received, in order.
    responses: Vec<Fetched>,
}

/// One response a page received in the browser.
#[derive(Clone, Debug, serde::Deserialize)]
struct Fetched {
    /// Path and query.
    path: String,
    method: String,
    status: u16,
    /// Its Content-Encoding, if any.
    encoding: Option<String>,
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
            responses: serde_json::from_value(v["responses"].clone()).with_context(|| format!("the responses in {line}"))?,
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

/// What the load generator sends as `Accept-Encoding` (a browser's choice), to both sides of
/// every comparison; the page the floor serves is fetched with it too.
const ACCEPT_ENCODING: &str = "br, gzip";

/// One side of a requests-per-second comparison: a URL, and the Cookie header to send (a
/// signed-in session), if any.
#[derive(Clone)]
struct Target {
    url: String,
    cookie: Option<String>,
}

impl Target {
    fn anonymous(url: &str) -> Self {
        Self { url: url.to_owned(), cookie: None }
    }

    fn request(&self, http: &reqwest::Client) -> reqwest::RequestBuilder {
        let request = http.get(&self.url).header("accept-encoding", ACCEPT_ENCODING);
        match &self.cookie {
            Some(cookie) => request.header("cookie", cookie),
            None => request,
        }
    }
}

/// What a load run saw.
struct LoadRun {
    per_second: f64,
    errors: u64,
    /// The fewest and most body bytes of an answer (on the wire, not decoded).
    bytes: (usize, usize),
    /// The Content-Encodings answers came with ("identity" for none).
    encodings: BTreeSet<String>,
}

/// `connections` clients requesting `target` over and over for `secs` seconds, each waiting for
/// the whole body; as a browser asks (`Accept-Encoding: br, gzip`), bodies not decoded.
async fn hammer(target: &Target, connections: usize, secs: f64) -> Result<LoadRun> {
    let http = reqwest::Client::builder().no_gzip().pool_max_idle_per_host(connections).build()?;
    let (ok, errors) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let started = Instant::now();
    let until = started + Duration::from_secs_f64(secs);
    let workers: Vec<_> = (0..connections)
        .map(|_| {
            let (http, target, ok, errors) = (http.clone(), target.clone(), ok.clone(), errors.clone());
            tokio::spawn(async move {
                let (mut bytes, mut encodings) = ((usize::MAX, 0), BTreeSet::new());
                while Instant::now() < until {
                    let fine = match target.request(&http).send().await {
                        Ok(r) if r.status().is_success() => {
                            let encoding =
                                r.headers().get("content-encoding").and_then(|v| v.to_str().ok()).unwrap_or("identity").to_owned();
                            match r.bytes().await {
                                Ok(body) if !body.is_empty() => {
                                    bytes = (bytes.0.min(body.len()), bytes.1.max(body.len()));
                                    encodings.insert(encoding);
                                    true
                                }
                                _ => false,
                            }
                        }
                        _ => false,
                    };
                    let counter = if fine { &ok } else { &errors };
                    counter.fetch_add(1, Ordering::Relaxed);
                }
                (bytes, encodings)
            })
        })
        .collect();
    let (mut bytes, mut encodings) = ((usize::MAX, 0), BTreeSet::new());
    for w in workers {
        let (b, e) = w.await?;
        bytes = (bytes.0.min(b.0), bytes.1.max(b.1));
        encodings.extend(e);
    }
    let elapsed = started.elapsed().as_secs_f64();
    Ok(LoadRun { per_second: ok.load(Ordering::Relaxed) as f64 / elapsed, errors: errors.load(Ordering::Relaxed), bytes, encodings })
}

/// A server of this process on a runtime of its own (as many workers as Portolan's), serving
/// `app` on a loopback port. Stops when dropped.
struct LocalServer {
    /// `http://127.0.0.1:port`.
    base: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl LocalServer {
    fn start(app: axum::Router) -> Result<Self> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let base = format!("http://{}", listener.local_addr()?);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("the listener");
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(async move {
                        let _ = stopped.await;
                    })
                    .await;
            });
        });
        Ok(Self { base, stop: Some(stop), thread: Some(thread) })
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A page as Portolan sent it: the body on the wire and its Content-Encoding.
struct Captured {
    body: axum::body::Bytes,
    /// None: not encoded.
    encoding: Option<String>,
    /// How many bytes two answers of this page may differ by: each carries its own nonce
    /// (Content-Security-Policy), in a stored deflate block of its own where the page is kept
    /// compressed (5 bytes of block header each).
    nonce_slack: usize,
}

/// Fetches `target` as the load generator asks for it, and works out the nonce's share of it.
async fn capture(target: &Target) -> Result<Captured> {
    let http = reqwest::Client::builder().no_gzip().build()?;
    let r = target.request(&http).send().await?.error_for_status()?;
    let encoding = r.headers().get("content-encoding").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let policy = r.headers().get("content-security-policy").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let body = r.bytes().await?;
    let plain = match encoding.as_deref() {
        None => body.to_vec(),
        Some("gzip") => {
            let mut plain = Vec::new();
            std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&body[..]), &mut plain).context("decoding the page")?;
            plain
        }
        Some(other) => bail!("{}: answered in {other}, which this benchmark cannot decode", target.url),
    };
    let nonce = policy.split("'nonce-").nth(1).and_then(|rest| rest.split('\'').next()).unwrap_or_default();
    let nonce_slack =
        if nonce.is_empty() { 0 } else { plain.windows(nonce.len()).filter(|w| *w == nonce.as_bytes()).count() * (nonce.len() + 5) };
    Ok(Captured { body, encoding, nonce_slack })
}

/// The floor of requests per second: axum + tokio with no compression layer, answering every
/// request with `page`'s bytes as they are, with its Content-Encoding.
fn floor_server(page: &Captured) -> Result<(LocalServer, String)> {
    use axum::http::{HeaderValue, header};
    let mut headers = axum::http::HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    if let Some(encoding) = &page.encoding {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_str(encoding)?);
    }
    let body = page.body.clone();
    let app = axum::Router::new().route(
        "/page",
        axum::routing::get(move || {
            let (headers, body) = (headers.clone(), body.clone());
            async move { (headers, body) }
        }),
    );
    let server = LocalServer::start(app)?;
    let url = format!("{}/page", server.base);
    Ok((server, url))
}

/// Both sides of a requests-per-second comparison, over every round.
struct Side {
    per_second: Vec<f64>,
    errors: u64,
    bytes: (usize, usize),
    encodings: BTreeSet<String>,
}

impl Side {
    fn new() -> Self {
        Self { per_second: Vec::new(), errors: 0, bytes: (usize::MAX, 0), encodings: BTreeSet::new() }
    }

    fn add(&mut self, run: LoadRun) {
        self.per_second.push(run.per_second);
        self.errors += run.errors;
        self.bytes = (self.bytes.0.min(run.bytes.0), self.bytes.1.max(run.bytes.1));
        self.encodings.extend(run.encodings);
    }

    fn median(&self) -> f64 {
        median(self.per_second.clone())
    }
}

/// Requests per second of `a` and `b`, alternating which goes first each round, after a warm-up
/// of each.
async fn compare_load(a: &Target, b: &Target, o: &Options) -> Result<(Side, Side)> {
    hammer(a, o.connections, 1.0f64.min(o.load_secs)).await?;
    hammer(b, o.connections, 1.0f64.min(o.load_secs)).await?;
    let (mut sa, mut sb) = (Side::new(), Side::new());
    for round in 0..o.load_rounds {
        let a_first = round % 2 == 0;
        for is_a in [a_first, !a_first] {
            if is_a {
                sa.add(hammer(a, o.connections, o.load_secs).await?);
            } else {
                sb.add(hammer(b, o.connections, o.load_secs).await?);
            }
        }
    }
    Ok((sa, sb))
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

/// The file names of the static copy: the page's HTML is `page.html`, served at the page's
/// path; every other file at its own path (query left out), as `ServeDir` looks for it.
fn copy_file(dir: &Path, page_path: &str, path: &str) -> PathBuf {
    if path == page_path { dir.join("page.html") } else { dir.join(path.split('?').next().unwrap_or(path).trim_start_matches('/')) }
}

/// Copies the page at `page_path` and the other `files` from Portolan at `base` into `dir`:
/// each as Portolan answers `Accept-Encoding: identity`, and also in the encoding Portolan sent
/// it to the browser, if any (`x.gz` or `x.br` beside `x`, where `ServeDir` looks for them), so
/// the copy sends the browser the same bytes. Returns what was copied, for the report.
async fn copy_page(base: &str, page_path: &str, files: &[(String, Option<String>)], dir: &Path) -> Result<Vec<String>> {
    let http = reqwest::Client::builder().no_gzip().build()?;
    if !files.iter().any(|(path, _)| path == page_path) {
        bail!("the browser did not load {page_path} itself");
    }
    let mut copied = Vec::new();
    for (path, sent) in files {
        let file = copy_file(dir, page_path, path);
        std::fs::create_dir_all(file.parent().context("a file in the copy")?)?;
        let mut variants = Vec::new();
        let mut wanted = vec![("identity", "")];
        match sent.as_deref() {
            None | Some("identity") => {}
            Some("gzip") => wanted.push(("gzip", ".gz")),
            Some("br") => wanted.push(("br", ".br")),
            Some(other) => bail!("{path}: Portolan sent it as {other}, which the copy cannot serve"),
        }
        for (asked, suffix) in wanted {
            let r = http.get(format!("{base}{path}")).header("accept-encoding", asked).send().await?.error_for_status()?;
            let encoding = r.headers().get("content-encoding").and_then(|v| v.to_str().ok()).unwrap_or("identity").to_owned();
            if encoding != asked {
                bail!("{path}: answered {encoding} to Accept-Encoding: {asked}");
            }
            let body = r.bytes().await?;
            let mut name = file.clone().into_os_string();
            name.push(suffix);
            std::fs::write(&name, &body)?;
            variants.push(format!("{asked} {:.1} KB", kb(body.len() as u64)));
        }
        copied.push(format!("{path} ({})", variants.join(", ")));
    }
    Ok(copied)
}

/// A plain static file server for the copy: tower-http's `ServeFile` for the page and
/// `ServeDir` for the rest, both sending a file's `.br` or `.gz` when the browser takes it, in
/// the order Portolan's own `ServeDir` prefers them. No Portolan code: no router, no
/// middleware, no page cache.
fn static_site(dir: &Path, page_path: &str) -> axum::Router {
    use tower_http::services::{ServeDir, ServeFile};
    axum::Router::new()
        .route_service(page_path, ServeFile::new(dir.join("page.html")).precompressed_gzip().precompressed_br())
        .fallback_service(ServeDir::new(dir).precompressed_gzip().precompressed_br())
}

/// The favicon: Chromium fetches it on its own, after the page, with headers of its own (its
/// encoding differed between loads of the same server), so it is neither copied nor compared —
/// it is not part of a page being complete.
fn is_favicon(path: &str) -> bool {
    path == "/favicon.svg"
}

/// Checks that the static copy answered the browser as Portolan did: every file both loaded
/// (GET), with a success and the same Content-Encoding. Returns how many were compared.
fn same_answers(portolan: &[Fetched], copy: &[Fetched], page_path: &str) -> Result<usize> {
    let gets = |r: &&Fetched| r.method == "GET";
    let mut compared = 0;
    let mut page = false;
    for p in portolan.iter().filter(gets).filter(|r| (200..300).contains(&r.status) && !is_favicon(&r.path)) {
        let Some(c) = copy.iter().filter(gets).find(|c| c.path == p.path) else { continue };
        if !(200..300).contains(&c.status) || c.encoding != p.encoding {
            bail!(
                "{}: Portolan answered {} ({}), the static copy {} ({})",
                p.path,
                p.status,
                p.encoding.as_deref().unwrap_or("identity"),
                c.status,
                c.encoding.as_deref().unwrap_or("identity")
            );
        }
        page |= p.path == page_path;
        compared += 1;
    }
    if !page {
        bail!("the page itself was not loaded from both Portolan and the static copy");
    }
    Ok(compared)
}

/// The provider section and grant of a Portolan people sign in to through `provider` (as
/// `sso`); alice (group `/platform/admins`) is an admin.
fn sign_in_config(provider: &OidcProvider) -> Result<String> {
    Ok(format!(
        r#"
[[auth.providers]]
id = "sso"
kind = "oidc"
issuer = "{issuer}"
client_id = "{client_id}"
client_secret = "{client_secret}"
scopes = ["openid", "profile", "email", "groups"]

[[grants]]
role = "admin"
groups = ["sso:/platform/admins"]
"#,
        issuer = provider.issuer(),
        client_id = provider.client_id(),
        client_secret = provider.client_secret().context("the provider's client secret")?,
    ))
}

/// Portolan on SQLite and on Postgres (`database_url`), both with sign-in through one OpenID
/// provider of the test kit (told both addresses before anything starts).
async fn start_signed_in(binary: &Path, registry: &str, database_url: &str) -> Result<(OidcProvider, Server, Server)> {
    portolan_testkit::process::start_on_free_ports("Portolan on SQLite and on Postgres, and their OpenID provider", 2, |addrs| async move {
        let mut oidc = OidcConfig::default();
        for addr in &addrs {
            oidc = oidc.redirect_uri(&format!("http://{addr}/auth/callback/sso"));
        }
        let provider = OidcProvider::start(oidc).await?;
        let auth = sign_in_config(&provider)?;
        let sqlite = spawn(binary, addrs[0], &config(registry, &auth)).await?;
        let postgres = spawn(binary, addrs[1], &config(registry, &format!("database_url = \"{database_url}\"\n{auth}"))).await?;
        Ok((provider, sqlite, postgres))
    })
    .await
}

/// Signs in to Portolan at `base` as alice, through the provider's login form as a browser
/// would; returns the Cookie header her browser then sends to Portolan (its session cookie).
async fn sign_in(provider: &OidcProvider, base: &str) -> Result<String> {
    use reqwest::cookie::CookieStore;
    let jar = Arc::new(reqwest::cookie::Jar::default());
    let browser = reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(15))
        .build()?;
    let r = browser.get(format!("{base}/auth/login/sso?next=/")).send().await?;
    if r.status() != reqwest::StatusCode::SEE_OTHER {
        bail!("{base}/auth/login/sso answered {}", r.status());
    }
    let to_provider = r.headers().get("location").and_then(|v| v.to_str().ok()).context("the sign-in's redirect")?.to_owned();
    let callback = provider.sign_in(&browser, &to_provider, "alice", "alice-pass").await?;
    let r = browser.get(&callback).send().await?;
    if r.status() != reqwest::StatusCode::SEE_OTHER {
        bail!("the sign-in's callback answered {}: {}", r.status(), r.text().await.unwrap_or_default());
    }
    // The provider shares the host (another port) and so the jar: keep Portolan's session only.
    let name = portolan_server::session_cookie_name(false);
    let cookies = jar.cookies(&reqwest::Url::parse(base)?).context("no cookies after signing in")?;
    let session = cookies
        .to_str()?
        .split(';')
        .map(str::trim)
        .find(|c| c.split('=').next() == Some(name))
        .with_context(|| format!("no {name} cookie after signing in"))?
        .to_owned();
    Ok(session)
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
    let rows = PAGE.min(tags.len());
    let mut browser = Browser::start(&o.node, &o.page_script).await?;

    // 0. The static copy of the page: the HTML Portolan serves once the page's rows are read,
    //    and every file Chromium fetched for it (a first load, which also warms Chromium up).
    eprintln!("the static copy of the page…");
    let copy_dir = tempfile::tempdir()?;
    let copied = {
        let server = start_server(&o.server, &registry.url, "").await?;
        let page = format!("{}{page_path}", server.url);
        let deadline = Instant::now() + Duration::from_secs(120);
        while load(&http, &page).await?.2 < rows {
            if Instant::now() > deadline {
                bail!("{page} was not complete within two minutes");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let seen = browser.load(&page, rows).await?;
        // Every file the browser fetched, with the encoding Portolan sent it in: the copy holds
        // that variant (and the plain file), so it answers the browser with the same bytes.
        let mut files: Vec<(String, Option<String>)> = seen
            .responses
            .iter()
            .filter(|r| r.method == "GET" && (200..300).contains(&r.status) && !r.path.starts_with("/api/"))
            .filter(|r| !is_favicon(&r.path))
            .map(|r| (r.path.clone(), r.encoding.clone()))
            .collect();
        files.dedup();
        copy_page(&server.url, &page_path, &files, copy_dir.path()).await?
    };
    let static_server = LocalServer::start(static_site(copy_dir.path(), &page_path))?;
    let static_page = format!("{}{page_path}", static_server.base);

    // 1. The first page, cold: raw HTTP, and complete in Chromium; the floor and the static
    //    copy alternating.
    eprintln!("first page: {} rounds (a fresh Portolan for each cold load)…", o.rounds);
    floor(&http, &registry.url, &tags).await?; // the registry's own first touch, for neither side
    let (mut cold_first, mut cold_total, mut warm_first, mut floors, mut html_rows) = (vec![], vec![], vec![], vec![], vec![]);
    let (mut browser_first, mut browser_parsed, mut browser_hydrated, mut browser_complete, mut browser_html_rows) =
        (vec![], vec![], vec![], vec![], vec![]);
    let (mut static_first, mut static_complete, mut compared) = (vec![], vec![], 0);
    for round in 0..o.rounds {
        if round % 2 == 1 {
            floors.push(floor(&http, &registry.url, &tags).await?);
        }
        let server = start_server(&o.server, &registry.url, "").await?;
        let page = format!("{}{page_path}", server.url);
        let (first, total, complete_in_html) = load(&http, &page).await?;
        cold_first.push(first);
        cold_total.push(total);
        html_rows.push(complete_in_html as f64);
        warm_first.push(load(&http, &page).await?.0);
        drop(server);
        let (mut ours, mut copy) = (None, None);
        let portolan_first = round % 2 == 0;
        for is_portolan in [portolan_first, !portolan_first] {
            if is_portolan {
                let server = start_server(&o.server, &registry.url, "").await?;
                ours = Some(browser.load(&format!("{}{page_path}", server.url), rows).await?);
            } else {
                copy = Some(browser.load(&static_page, rows).await?);
            }
        }
        let (seen, copy) = (ours.context("Portolan's load")?, copy.context("the static copy's load")?);
        compared = same_answers(&seen.responses, &copy.responses, &page_path)?;
        browser_first.push(seen.first_byte);
        browser_parsed.push(seen.parsed);
        browser_hydrated.extend(seen.hydrated);
        browser_complete.push(seen.complete);
        browser_html_rows.push(seen.html_complete_rows as f64);
        static_first.push(copy.first_byte);
        static_complete.push(copy.complete);
        if round % 2 == 0 {
            floors.push(floor(&http, &registry.url, &tags).await?);
        }
    }
    let launched = browser.launched;
    browser.stop().await;
    drop(static_server);

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

    // 4. Requests per second of the cached page vs axum serving the bytes Portolan sends.
    eprintln!("requests per second: {} rounds of {} s per side, {} connections…", o.load_rounds, o.load_secs, o.connections);
    let ours = Target::anonymous(&format!("{}{page_path}", server.url));
    let captured = capture(&ours).await?;
    let (floor_server, floor_url) = floor_server(&captured)?;
    let (ours_load, floor_load) = compare_load(&ours, &Target::anonymous(&floor_url), &o).await?;
    drop(floor_server);
    drop(server);
    let encoding = captured.encoding.clone().unwrap_or_else(|| "identity".to_owned());
    let expected = BTreeSet::from([encoding.clone()]);
    if ours_load.encodings != expected || floor_load.encodings != expected {
        bail!(
            "answers were encoded {:?} by Portolan and {:?} by the floor, {encoding} expected",
            ours_load.encodings,
            floor_load.encodings
        );
    }
    let size = captured.body.len();
    let within =
        |(least, most): (usize, usize)| least.abs_diff(size) <= captured.nonce_slack && most.abs_diff(size) <= captured.nonce_slack;
    if !within(ours_load.bytes) || floor_load.bytes != (size, size) {
        bail!(
            "Portolan answered {:?} bytes, the floor {:?}: not the same page ({size} bytes, {} of them the nonce's)",
            ours_load.bytes,
            floor_load.bytes,
            captured.nonce_slack
        );
    }

    // 5. The store on Postgres vs SQLite, on paths that read it on every request: signed in.
    eprintln!("Postgres vs SQLite, signed in…");
    let pg = Postgres::start().await?;
    let db = pg.new_database("bench")?;
    let (provider, on_sqlite, on_pg) = start_signed_in(&o.server, &registry.url, &db).await?;
    let (sqlite_cookie, pg_cookie) = (sign_in(&provider, &on_sqlite.url).await?, sign_in(&provider, &on_pg.url).await?);
    for (server, cookie) in [(&on_pg, &pg_cookie), (&on_sqlite, &sqlite_cookie)] {
        // Signed in indeed: the audit log answers admins only.
        let audit = Target { url: format!("{}/admin/audit.json", server.url), cookie: Some(cookie.clone()) };
        let status = audit.request(&http).send().await?.status();
        if !status.is_success() {
            bail!("{} answered {status} to alice's session: not signed in", audit.url);
        }
    }
    let mut store_rows = Vec::new();
    for (what, path) in [
        ("tag page signed in (session read, then the kept page)", page_path.as_str()),
        ("/admin/audit.json signed in (session read, audit query)", "/admin/audit.json"),
    ] {
        let on = |server: &Server, cookie: &str| Target { url: format!("{}{path}", server.url), cookie: Some(cookie.to_owned()) };
        let (pg_side, sqlite_side) = (on(&on_pg, &pg_cookie), on(&on_sqlite, &sqlite_cookie));
        let (p, s) = compare_load(&pg_side, &sqlite_side, &o).await?;
        store_rows.push((what, p, s));
    }
    drop((on_pg, on_sqlite, provider));

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
    let (sf, sc) = (median(static_first), median(static_complete));
    println!("portolan-bench web: first page ({rows} tags) of a {}-tag repository, {} rounds, medians", o.tags, o.rounds);
    println!("{:<64} {:>10} {:>10} {:>8}", "measurement", "ours", "other", "ratio");
    println!("{:<64} {:>9.3}s {:>9.3}s {:>8.2}", "cold, HTTP: time to first byte / registry floor", cf, fl, cf / fl);
    println!("{:<64} {:>9.3}s {:>9.3}s {:>8.2}", "cold, HTTP: last byte / registry floor", ct, fl, ct / fl);
    println!("{:<64} {:>9.3}s {:>9.3}s {:>8.2}", "cold, Chromium: first byte / registry floor", bf, fl, bf / fl);
    println!("{:<64} {:>9.3}s {:>9.3}s {:>8.2}", "cold, Chromium: page complete / registry floor (old target)", bc, fl, bc / fl);
    println!(
        "{:<64} {:>9.3}s {:>9.3}s {:>8.2}",
        "cold, Chromium: page complete / (static copy + registry floor)",
        bc,
        sc + fl,
        bc / (sc + fl)
    );
    println!("{:<64} {:>9.3}s {:>9.3}s {:>8.3}", "warm / cold (time to first byte)", wf, cf, wf / cf);
    println!(
        "target: complete page ≤ 1.2 × (the static copy complete in the same Chromium + the registry floor) — {}",
        met(bc / (sc + fl) <= 1.2)
    );
    println!("(old target: complete page ≤ 1.2 × the registry floor — {})", met(bc / fl <= 1.2));
    println!(
        "static copy in Chromium: first byte {sf:.3}s, complete {sc:.3}s — the same HTML and files, from tower-http's ServeDir in this process; {compared} answers compared with Portolan's, same encodings"
    );
    println!("static copy ({}):", copy_dir.path().display());
    for c in &copied {
        println!("  {c}");
    }
    println!(
        "rows complete in the cold page's HTML: {} of {rows} (raw HTTP response), {} of {rows} (in Chromium, when parsed); the rest are read by the browser after load",
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
        "requests per second, {} connections, {} rounds of {} s per side, load generator included (Accept-Encoding: {ACCEPT_ENCODING}):",
        o.connections, o.load_rounds, o.load_secs
    );
    println!("{:<64} {:>10} {:>10} {:>8}", "measurement", "ours", "other", "ratio");
    let (ours_rps, floor_rps) = (ours_load.median(), floor_load.median());
    println!(
        "{:<64} {:>10.0} {:>10.0} {:>8.2}",
        "cached tag page: Portolan / axum sending the same bytes",
        ours_rps,
        floor_rps,
        ours_rps / floor_rps
    );
    for (what, p, s) in &store_rows {
        println!(
            "{:<64} {:>10.0} {:>10.0} {:>8.2}",
            format!("store on Postgres / SQLite: {what}"),
            p.median(),
            s.median(),
            p.median() / s.median()
        );
    }
    println!(
        "the cached tag page: {:.1} KB {encoding} from both (Portolan {}–{} bytes, the floor {} — the nonce's share {} bytes); no compression per request on either side",
        kb(size as u64),
        ours_load.bytes.0,
        ours_load.bytes.1,
        floor_load.bytes.0,
        captured.nonce_slack
    );
    let store_errors: u64 = store_rows.iter().map(|(_, p, s)| p.errors + s.errors).sum();
    println!("errors: Portolan {}, floor {}, Postgres and SQLite {store_errors} (must be 0)", ours_load.errors, floor_load.errors);
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
    if ours_load.errors + floor_load.errors + store_errors > 0 {
        bail!("requests failed under load");
    }
    Ok(())
}

fn semver_of(tag: &str) -> Option<semver::Version> {
    semver::Version::parse(tag.strip_prefix('v').unwrap_or(tag)).ok()
}
