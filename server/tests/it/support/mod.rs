//! What every server test shares: Portolan built from a configuration as `main` builds it
//! ([`TestApp`]), requests to its router in process ([`TestApp::call`], [`TestApp::request`]),
//! server functions by name ([`server_fn`]), configuration snippets, the real binary as a
//! replica ([`replica`]), and the runners that bound each test's time ([`run`],
//! [`run_in_parallel`]).
//!
//! The service layer's paths are named here only ([`service`],
//! [`AppState`], [`Registry`]): tests use them through this module.

pub mod replica;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, HeaderName, Request, StatusCode};
use http_body_util::BodyExt;
pub use portolan_app::ssr::{AppState, Registry};
use portolan_server::config::Config;
use portolan_store::Store;
use portolan_testkit::runner::{TEST_LIMIT, within};
use tower::ServiceExt;

/// The service layer the tests drive directly.
pub mod service {
    pub use portolan_service::{Error, runs, trash, upkeep, whatif};
}

// ---------------------------------------------------------------------------------------------
// Running tests

/// One runtime for the tests of Portolan in process, as in production (one runtime serves
/// everything).
static RUNTIME: LazyLock<tokio::runtime::Runtime> =
    LazyLock::new(|| tokio::runtime::Builder::new_multi_thread().worker_threads(4).enable_all().build().expect("a runtime"));

/// Tests of Portolan in process run one at a time: several routers rendering pages from several
/// test threads at once (each test thread driving its own `block_on`) sometimes never wake
/// (Leptos' rendering keeps process-wide state). The server itself serves concurrent requests
/// on one runtime; the load test checks that.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Leptos works out the route list with process-wide state: two at once (two tests building
/// their router in parallel) leave a router that never answers. Production builds one.
static ROUTER_BUILD: Mutex<()> = Mutex::new(());

/// Runs a test that builds or drives Portolan in this process: alone (see [`ONE_AT_A_TIME`]),
/// on the shared runtime, within [`TEST_LIMIT`] (a hang fails, naming the test).
pub fn run<F: Future<Output = ()>>(test: F) {
    run_within(TEST_LIMIT, test)
}

/// [`run`] with another time limit.
pub fn run_within<F: Future<Output = ()>>(limit: Duration, test: F) {
    let _serial = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    RUNTIME.block_on(within(limit, test))
}

/// Runs a test that has nothing of Portolan in this process (it starts the real binary, or
/// only reads files): beside the others, on a runtime of its own, within [`TEST_LIMIT`].
pub fn run_in_parallel<F: Future<Output = ()>>(test: F) {
    run_in_parallel_within(TEST_LIMIT, test)
}

/// [`run_in_parallel`] with another time limit.
pub fn run_in_parallel_within<F: Future<Output = ()>>(limit: Duration, test: F) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("a runtime");
    runtime.block_on(within(limit, test))
}

/// Holds Leptos' route-list work to one at a time (see [`ROUTER_BUILD`]).
pub fn one_router_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ROUTER_BUILD.lock().unwrap_or_else(|e| e.into_inner())
}

// ---------------------------------------------------------------------------------------------
// Portolan in process

/// Portolan's state and router built from a configuration as `main` builds them, its store, and
/// the directory holding its configuration and data.
pub struct TestApp {
    pub app: Router,
    pub state: AppState,
    pub store: Store,
    pub config: Config,
    /// The `Host` requests carry: the public URL's, else the listen address.
    pub host: String,
    /// `scheme://host`, the `Origin` of changes.
    pub origin: String,
    pub dir: tempfile::TempDir,
}

/// How a [`TestApp`] is built besides its configuration.
pub struct Build {
    toml: String,
    registries: Option<Vec<Registry>>,
    site_root: Option<PathBuf>,
    site: portolan_server::files::Site,
    listen: SocketAddr,
}

impl Build {
    /// These registries instead of clients for the configured ones (e.g. in memory).
    pub fn registries(mut self, registries: Vec<Registry>) -> Self {
        self.registries = Some(registries);
        self
    }

    /// Static files from here instead of Leptos.toml's site root.
    pub fn site_root(mut self, root: &Path) -> Self {
        self.site_root = Some(root.to_owned());
        self
    }

    /// Static files from here (e.g. a site built in) instead of the site root.
    pub fn site(mut self, site: portolan_server::files::Site) -> Self {
        self.site = site;
        self
    }

    /// The address Portolan is told it listens on (default `127.0.0.1:3000`).
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    pub async fn start(self) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let config = portolan_server::testing::config(&self.toml, dir.path())
            .unwrap_or_else(|e| panic!("the test's configuration: {e}\n{}", self.toml));
        let mut leptos = leptos_options();
        if let Some(root) = &self.site_root {
            leptos.site_root = Arc::from(root.to_str().unwrap());
        }
        let registries = match self.registries {
            Some(r) => r,
            None => portolan_server::registries(&config).unwrap(),
        };
        let store = Store::open(&config.store).await.unwrap();
        let state = portolan_server::state(leptos, registries, &config, store.clone());
        let mut parts = portolan_server::Parts::new(&config, self.listen, store.clone()).unwrap();
        parts.site = self.site;
        let app = {
            let _one = one_router_at_a_time();
            portolan_server::app(state.clone(), parts)
        };
        let (host, origin) = match &config.public_url {
            Some(url) => {
                let host = match url.port() {
                    Some(port) => format!("{}:{port}", url.host_str().unwrap()),
                    None => url.host_str().unwrap().to_owned(),
                };
                (host.clone(), format!("{}://{host}", url.scheme()))
            }
            None => (self.listen.to_string(), format!("http://{}", self.listen)),
        };
        TestApp { app, state, store, config, host, origin, dir }
    }
}

pub use portolan_server::testing::leptos_options;

impl TestApp {
    /// Portolan configured by `toml` (a `portolan.toml`), with clients for its registries.
    pub async fn new(toml: &str) -> Self {
        Self::build(toml).start().await
    }

    /// Portolan configured by `toml`, built as [`Build`] says.
    pub fn build(toml: &str) -> Build {
        Build {
            toml: toml.to_owned(),
            registries: None,
            site_root: None,
            site: portolan_server::files::Site::Directory,
            listen: SocketAddr::from(([127, 0, 0, 1], 3000)),
        }
    }

    /// A request to the router in process, to add to before [`Call::send`].
    pub fn request<'a>(&'a self, method: &'a str, uri: &'a str) -> Call<'a> {
        Call {
            app: self,
            method,
            uri,
            who: Who::Anonymous,
            body: None,
            headers: Vec::new(),
            peer: SocketAddr::from(([127, 0, 0, 1], 40000)),
        }
    }

    /// `method uri` as `who`, with a form `body` (POST).
    pub async fn call(&self, method: &str, uri: &str, who: Who, body: Option<String>) -> Answer {
        self.request(method, uri).who(who).body(body).send().await
    }

    /// A page, as a browser asks for it, by someone not signed in.
    pub async fn get(&self, uri: &str) -> Answer {
        self.request("GET", uri).header("accept", "text/html").send().await
    }

    /// Calls the server function `name` as `who` with a form body.
    pub async fn server_fn(&self, name: &str, who: Who, form: String) -> Answer {
        self.call("POST", server_fn(name), who, Some(form)).await
    }

    /// A registry of the configuration, with its client.
    pub fn registry(&self, name: &str) -> Registry {
        self.state.registry(name).unwrap().clone()
    }
}

/// Who asks: nobody, or someone signed in through the trusted proxy's headers
/// (`x-forwarded-user`, `x-forwarded-groups`) with the groups the tests' configurations grant
/// roles to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Who {
    Anonymous,
    /// vera, of `viewers`.
    Viewer,
    /// max, of `maintainers`.
    Maintainer,
    /// ada, of `admins`.
    Admin,
    /// tia, of `team-admins`.
    TeamAdmin,
    /// A user and their groups (comma separated).
    User(&'static str, &'static str),
}

impl Who {
    /// The user and groups sent for this caller.
    pub fn identity(self) -> Option<(&'static str, &'static str)> {
        match self {
            Who::Anonymous => None,
            Who::Viewer => Some(("vera", "viewers")),
            Who::Maintainer => Some(("max", "maintainers")),
            Who::Admin => Some(("ada", "admins")),
            Who::TeamAdmin => Some(("tia", "team-admins")),
            Who::User(user, groups) => Some((user, groups)),
        }
    }
}

/// A request being built (see [`TestApp::request`]).
pub struct Call<'a> {
    app: &'a TestApp,
    method: &'a str,
    uri: &'a str,
    who: Who,
    body: Option<String>,
    headers: Vec<(String, String)>,
    peer: SocketAddr,
}

impl Call<'_> {
    pub fn who(mut self, who: Who) -> Self {
        self.who = who;
        self
    }

    /// A form body (sent as `application/x-www-form-urlencoded` with a POST).
    pub fn body(mut self, body: Option<String>) -> Self {
        self.body = body;
        self
    }

    /// A header more (set after the others: it replaces one of them).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// The peer address the router sees (default `127.0.0.1:40000`).
    pub fn peer(mut self, peer: SocketAddr) -> Self {
        self.peer = peer;
        self
    }

    /// Sends it through the router, as a connection from the peer would arrive.
    pub async fn send(self) -> Answer {
        let mut b = Request::builder().method(self.method).uri(self.uri).header("host", &self.app.host);
        if let Some((user, groups)) = self.who.identity() {
            b = b.header("x-forwarded-user", user).header("x-forwarded-groups", groups);
        }
        if self.method == "POST" {
            b = b.header("origin", &self.app.origin).header("content-type", "application/x-www-form-urlencoded");
        }
        let mut request = b.body(self.body.map(Body::from).unwrap_or_default()).unwrap();
        for (k, v) in &self.headers {
            request.headers_mut().insert(HeaderName::from_bytes(k.as_bytes()).unwrap(), v.parse().unwrap());
        }
        request.extensions_mut().insert(ConnectInfo(self.peer));
        let response = self.app.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        Answer { status, headers, bytes: bytes.to_vec(), body: String::from_utf8_lossy(&bytes).into_owned() }
    }
}

/// What the router answered.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    /// The body as sent.
    pub bytes: Vec<u8>,
    /// The body as text (invalid UTF-8 replaced).
    pub body: String,
}

impl Answer {
    /// The value of the first `attribute="…"` after `marker` in the body.
    pub fn attribute_after(&self, marker: &str, attribute: &str) -> Option<String> {
        let rest = &self.body[self.body.find(marker)?..];
        let start = rest.find(&format!("{attribute}=\""))? + attribute.len() + 2;
        Some(rest[start..start + rest[start..].find('"')?].to_owned())
    }

    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A server function's name: its path without `/api/` and the hash the macro appends.
pub fn fn_name(path: &str) -> &str {
    path.trim_start_matches("/api/").trim_end_matches(|c: char| c.is_ascii_digit())
}

/// The path of the server function `name`.
pub fn server_fn(name: &str) -> &'static str {
    leptos::server_fn::axum::server_fn_paths()
        .map(|(p, _)| p)
        .find(|p| fn_name(p) == name)
        .unwrap_or_else(|| panic!("no server function {name}"))
}

/// A server function's arguments as a form body.
pub fn qs<T: serde::Serialize>(value: &T) -> String {
    serde_qs::to_string(value).unwrap()
}

// ---------------------------------------------------------------------------------------------
// Configuration snippets

/// A `[[registries]]` table; `extra` is more TOML lines.
pub fn registry(name: &str, url: &str, extra: &str) -> String {
    format!("\n[[registries]]\nname = \"{name}\"\nurl = \"{url}\"\n{extra}\n")
}
