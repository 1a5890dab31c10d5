//! The site built into the binary: its files under their content hash, their headers
//! (immutable only under the hash, compressed copies as they are, `Vary`, `ETag`), in process
//! with stand-in files; and the real `portolan` binary started from a directory with no site
//! in it, serving its own, and saying its version and revision.

use std::borrow::Cow;
use std::sync::Arc;

use portolan_server::files::{Embedded, Site};
use sha2::{Digest, Sha256};

use crate::support::{TestApp, registry, run, run_in_parallel};

/// What a GET answered: status, `Content-Encoding`, `Vary`, `Cache-Control`, `ETag`, the body
/// as sent, `Content-Type`.
type Got = (u16, Option<String>, Option<String>, Option<String>, Option<String>, Vec<u8>, Option<String>);

async fn get(portolan: &TestApp, path: &str, headers: &[(&str, &str)]) -> Got {
    let mut call = portolan.request("GET", path);
    for (k, v) in headers {
        call = call.header(k, v);
    }
    let a = call.send().await;
    let h = |name: &str| a.header(name).map(str::to_owned);
    (a.status.as_u16(), h("content-encoding"), h("vary"), h("cache-control"), h("etag"), a.bytes.clone(), h("content-type"))
}

fn file(path: &str, bytes: Vec<u8>) -> (String, Cow<'static, [u8]>, [u8; 32]) {
    let sha256 = Sha256::digest(&bytes).into();
    (path.to_owned(), Cow::Owned(bytes), sha256)
}

/// What `cargo leptos build --release --precompress` leaves, in small: the WebAssembly with its
/// `.br` and `.gz` copies (stand-ins, told apart by their bytes), the script without, the icon.
fn stand_in_site() -> (Embedded, Vec<u8>) {
    let wasm = b"\0asm\x01\0\0\0".repeat(4000);
    let site = Embedded::new(
        "pkg",
        [
            file("pkg/portolan.wasm", wasm.clone()),
            file("pkg/portolan.wasm.br", b"brotli copy".to_vec()),
            file("pkg/portolan.wasm.gz", b"gzip copy".to_vec()),
            file("pkg/portolan.js", "export default function init() {}\n".repeat(2000).into_bytes()),
            file("favicon.svg", b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>".to_vec()),
        ],
    );
    (site, wasm)
}

#[test]
fn built_in_files_are_kept_for_good_only_under_their_hash_with_their_compressed_copies() {
    run(async {
        let (site, wasm) = stand_in_site();
        let hash = site.hash().to_owned();
        let portolan = TestApp::build(&registry("reg", "http://127.0.0.1:9", "")).site(Site::Embedded(Arc::new(site))).start().await;

        // Pages link the pkg files under the site's hash.
        let page = portolan.get("/").await;
        assert_eq!(page.status, 200);
        for linked in [format!("/pkg/{hash}/portolan.js"), format!("/pkg/{hash}/portolan.wasm")] {
            assert!(page.body.contains(&linked), "the page links {linked}: {}", page.body);
        }
        assert!(!page.body.contains("\"/pkg/portolan.js"), "no unhashed link");

        let under_hash = format!("/pkg/{hash}/portolan.wasm");
        const IMMUTABLE: &str = "public, max-age=31536000, immutable";

        // What Chromium asks with: the brotli copy, as it is, kept for good.
        let (status, encoding, vary, cache, br_etag, body, content_type) =
            get(&portolan, &under_hash, &[("accept-encoding", "gzip, deflate, br, zstd")]).await;
        assert_eq!((status, encoding.as_deref(), &body[..]), (200, Some("br"), &b"brotli copy"[..]));
        assert_eq!(
            (vary.as_deref(), cache.as_deref(), content_type.as_deref()),
            (Some("accept-encoding"), Some(IMMUTABLE), Some("application/wasm"))
        );
        let br_etag = br_etag.expect("an ETag");
        // gzip only: the gzip copy; nothing asked for: the file itself. Each with its own ETag,
        // each saying it varies with Accept-Encoding.
        let (_, encoding, vary, cache, gz_etag, body, _) = get(&portolan, &under_hash, &[("accept-encoding", "gzip")]).await;
        assert_eq!(
            (encoding.as_deref(), &body[..], vary.as_deref(), cache.as_deref()),
            (Some("gzip"), &b"gzip copy"[..], Some("accept-encoding"), Some(IMMUTABLE))
        );
        let (_, encoding, vary, _, plain_etag, body, _) = get(&portolan, &under_hash, &[]).await;
        assert_eq!(
            (encoding, body.len(), vary.as_deref()),
            (None, wasm.len(), Some("accept-encoding")),
            "no compression asked for, none given"
        );
        let (_, encoding, _, _, _, body, _) = get(&portolan, &under_hash, &[("accept-encoding", "gzip, br;q=0")]).await;
        assert_eq!((encoding.as_deref(), &body[..]), (Some("gzip"), &b"gzip copy"[..]), "br;q=0 refuses brotli");
        let etags = [br_etag.clone(), gz_etag.unwrap(), plain_etag.unwrap()];
        assert!(etags[0] != etags[1] && etags[1] != etags[2] && etags[0] != etags[2], "{etags:?}");
        assert!(!etags[0].starts_with("W/") && !etags[1].starts_with("W/"), "the copies' tags are strong: {etags:?}");
        assert!(etags[2].starts_with("W/\""), "the file as built may still be gzipped on the way: a weak tag: {etags:?}");

        // Revalidation: the same copy's ETag answers 304, another copy's does not.
        let (status, _, vary, cache, etag, body, _) =
            get(&portolan, &under_hash, &[("accept-encoding", "br"), ("if-none-match", &br_etag)]).await;
        assert_eq!(
            (status, body.len(), etag.as_deref(), vary.as_deref(), cache.as_deref()),
            (304, 0, Some(br_etag.as_str()), Some("accept-encoding"), Some(IMMUTABLE))
        );
        let (status, ..) = get(&portolan, &under_hash, &[("accept-encoding", "gzip"), ("if-none-match", &br_etag)]).await;
        assert_eq!(status, 200);

        // Without the hash, or under another version's: the same file, asked about each time.
        let other = format!("/pkg/{}/portolan.wasm", "0123456789abcdef".replace(&hash, "fedcba9876543210"));
        for path in ["/pkg/portolan.wasm".to_owned(), other] {
            let (status, encoding, _, cache, _, body, _) = get(&portolan, &path, &[("accept-encoding", "br")]).await;
            assert_eq!(
                (status, encoding.as_deref(), &body[..], cache.as_deref()),
                (200, Some("br"), &b"brotli copy"[..], Some("public, no-cache")),
                "{path}"
            );
        }
        let (status, _, _, cache, _, body, content_type) = get(&portolan, "/favicon.svg", &[]).await;
        assert_eq!((status, cache.as_deref(), content_type.as_deref()), (200, Some("public, no-cache"), Some("image/svg+xml")));
        assert!(body.starts_with(b"<svg"));

        // A file without copies goes out compressed as it is sent, also under the hash.
        let (status, encoding, vary, cache, ..) =
            get(&portolan, &format!("/pkg/{hash}/portolan.js"), &[("accept-encoding", "br, gzip")]).await;
        assert_eq!(
            (status, encoding.as_deref(), vary.as_deref(), cache.as_deref()),
            (200, Some("gzip"), Some("accept-encoding"), Some(IMMUTABLE))
        );

        // Anything else under /pkg is Leptos' 404 page; files answer GET and HEAD only.
        for path in [format!("/pkg/{hash}/nope.js"), "/pkg/nope.js".to_owned(), format!("/pkg/{hash}/portolan.wasm.br")] {
            let a = portolan.get(&path).await;
            assert_eq!(a.status, 404, "{path}");
            assert!(a.body.contains("There is no page at this address."), "{path}");
        }
        let head = portolan.request("HEAD", &under_hash).send().await;
        assert_eq!((head.status.as_u16(), head.bytes.len(), head.header("content-length")), (200, 0, Some("32000")));
        assert!(portolan.request("POST", &under_hash).send().await.status.is_client_error());
    })
}

/// A directory the binary runs in: no site, no Leptos.toml, no configuration.
fn empty_directory() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none());
    dir
}

#[test]
fn the_binary_serves_its_built_in_site_from_any_directory() {
    run_in_parallel(async {
        let cwd = empty_directory();
        let data = tempfile::tempdir().unwrap();
        let log = data.path().join("portolan.log");
        let (url, _guard) = portolan_testkit::process::start_on_free_port("portolan", |addr| {
            let (cwd, data, log) = (cwd.path().to_owned(), data.path().to_owned(), log.clone());
            async move {
                let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_portolan"));
                cmd.current_dir(&cwd)
                    .args(["--listen", &addr.to_string(), "--data-dir", data.join("data").to_str().unwrap()])
                    .env_remove("LEPTOS_SITE_ROOT")
                    .env_remove("PORTOLAN_LEPTOS_CONFIG")
                    .env_remove("PORTOLAN_CONFIG")
                    .env("PORTOLAN_LOG", "info");
                let mut guard = portolan_testkit::process::ChildGuard::spawn("portolan", cmd, &log)?;
                let url = format!("http://{addr}");
                portolan_testkit::process::wait_http(&format!("{url}/healthz"), &mut guard, &log).await?;
                Ok((url, guard))
            }
        })
        .await
        .unwrap();
        let started = std::fs::read_to_string(&log).unwrap();
        assert!(
            !started.contains("carries no whole site"),
            "the binary was built before the site: run `cargo leptos build --frontend-only` first (scripts/test does)"
        );
        let client = portolan_testkit::runner::http_client();
        let page = client.get(format!("{url}/")).send().await.unwrap();
        assert_eq!(page.status(), 200);
        let page = page.text().await.unwrap();
        let start = page.find("/pkg/").unwrap_or_else(|| panic!("the page links its scripts: {page}"));
        let js = &page[start..start + page[start..].find('"').unwrap()];
        assert!(js.ends_with("/portolan.js") && js.split('/').count() == 4, "linked under the site's hash: {js}");
        let hash = js.split('/').nth(2).unwrap();
        let text = std::fs::read_to_string(&log).unwrap();
        assert!(text.contains("serving the site built into the binary") && text.contains(hash), "{text}");

        for (file, starts) in [("portolan.js", &b""[..]), ("portolan.wasm", &b"\0asm"[..])] {
            let a = client.get(format!("{url}/pkg/{hash}/{file}")).send().await.unwrap();
            assert_eq!(a.status(), 200, "{file}");
            assert_eq!(a.headers()["cache-control"], "public, max-age=31536000, immutable", "{file}");
            let body = a.bytes().await.unwrap();
            assert!(body.len() > 1000 && body.starts_with(starts), "{file}: {} bytes", body.len());
        }
        let css = client.get(format!("{url}/style/portolan.css")).send().await.unwrap();
        assert_eq!(css.status(), 200);
    })
}

#[test]
fn version_says_the_revision_built_from() {
    run_in_parallel(async {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_portolan"))
            .arg("--version")
            .current_dir(empty_directory().path())
            .output()
            .unwrap();
        assert!(out.status.success());
        let text = String::from_utf8(out.stdout).unwrap();
        let head = std::process::Command::new("git")
            .args(["-C", env!("CARGO_MANIFEST_DIR"), "rev-parse", "HEAD"])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
        let revision = match head {
            // Built from this checkout: its revision (the build script rebuilds on a new commit).
            Some(head) => head,
            None => "unknown".to_owned(),
        };
        assert_eq!(text.trim(), format!("portolan {} (revision {revision})", env!("CARGO_PKG_VERSION")));
    })
}

/// `--check` validates, prints a summary and exits; neither it nor a configuration error next
/// to secrets prints one.
#[test]
fn check_validates_and_prints_a_summary_without_a_secret() {
    run_in_parallel(async {
        let dir = empty_directory();
        let path = dir.path().join("portolan.toml");
        let secrets = ["registry-pass-5f1e", "client-secret-9a7c", "pg-pass-3b2d"];
        let toml = format!(
            "public_url = \"https://portolan.example\"\n\
             database_url = \"postgres://portolan:{pg}@db.invalid:5432/portolan\"\n\
             [[auth.providers]]\nid = \"sso\"\nkind = \"oidc\"\nissuer = \"https://sso.invalid/realms/acme\"\n\
             client_id = \"portolan\"\nclient_secret = \"{client}\"\n\
             [[registries]]\nname = \"private\"\nurl = \"https://registry.invalid\"\nusername = \"robot\"\npassword = \"{registry}\"\n",
            pg = secrets[2],
            client = secrets[1],
            registry = secrets[0],
        );
        let check = |toml: String| {
            std::fs::write(&path, toml).unwrap();
            let out = std::process::Command::new(env!("CARGO_BIN_EXE_portolan"))
                .args(["--config", path.to_str().unwrap(), "--check"])
                .current_dir(dir.path())
                .output()
                .unwrap();
            let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned());
            for s in secrets {
                assert!(!stdout.contains(s) && !stderr.contains(s), "{s} printed:\n{stdout}\n{stderr}");
            }
            (out.status.success(), stdout, stderr)
        };
        let (ok, stdout, stderr) = check(toml.clone());
        assert!(ok, "{stderr}");
        assert!(stdout.starts_with("configuration OK: 1 registries, 1 sign-in providers"), "{stdout}");
        assert!(stdout.contains("db.invalid"), "the store, its password left out: {stdout}");
        // The same registry twice: refused, saying which, still without a secret.
        let (ok, _, stderr) = check(format!("{toml}[[registries]]\nname = \"private\"\nurl = \"https://other.invalid\"\n"));
        assert!(!ok && stderr.contains("private"), "{stderr}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "--check created nothing (no store) beside its configuration");
    })
}

/// The environment over the file, as `--check` reports it: `PORTOLAN_LISTEN`,
/// `PORTOLAN_DATABASE_URL`, `PORTOLAN_PROVIDER_<ID>_CLIENT_SECRET` (never printed),
/// `PORTOLAN_REGISTRY_<NAME>_CRAWL` (refused when not true or false) and `PORTOLAN_LOG_FORMAT`
/// (the start's warnings as JSON lines).
#[test]
fn check_reads_the_environment_over_the_file() {
    run_in_parallel(async {
        let dir = empty_directory();
        let path = dir.path().join("portolan.toml");
        std::fs::write(
            &path,
            "listen = \"127.0.0.1:4100\"\n\
             [[auth.providers]]\nid = \"sso\"\nkind = \"oidc\"\nissuer = \"https://sso.invalid/realms/acme\"\nclient_id = \"portolan\"\n\
             [[registries]]\nname = \"local-1\"\nurl = \"http://registry.invalid\"\n",
        )
        .unwrap();
        let check = |env: &[(&str, &str)]| {
            let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_portolan"));
            cmd.args(["--config", path.to_str().unwrap(), "--check"]).current_dir(dir.path());
            for var in ["PORTOLAN_LISTEN", "PORTOLAN_DATABASE_URL", "PORTOLAN_LOG_FORMAT", "PORTOLAN_DATA_DIR", "PORTOLAN_PUBLIC_URL"] {
                cmd.env_remove(var);
            }
            cmd.envs(env.iter().copied());
            let out = cmd.output().unwrap();
            (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr))
        };
        let secret = "client-secret-from-the-environment";
        let (ok, text) = check(&[
            ("PORTOLAN_LISTEN", "127.0.0.1:4200"),
            ("PORTOLAN_DATABASE_URL", "postgres://portolan:pg-env-pass@db.invalid:5432/portolan"),
            ("PORTOLAN_PROVIDER_SSO_CLIENT_SECRET", secret),
            ("PORTOLAN_LOG_FORMAT", "json"),
        ]);
        assert!(ok, "{text}");
        assert!(text.contains("listening on 127.0.0.1:4200") && text.contains("db.invalid"), "{text}");
        assert!(!text.contains(secret) && !text.contains("pg-env-pass"), "a secret printed: {text}");
        // No public_url with sign-in configured: a warning, here a JSON line.
        let warning = text.lines().find(|l| l.contains("public_url")).unwrap_or_else(|| panic!("a warning about public_url: {text}"));
        let line: serde_json::Value = serde_json::from_str(warning).unwrap_or_else(|e| panic!("{e}: {warning}"));
        assert_eq!(line["level"], "WARN", "{warning}");
        // Without the environment, the file's: its address, SQLite, warnings as text.
        let (ok, text) = check(&[]);
        assert!(ok && text.contains("listening on 127.0.0.1:4100") && text.contains("portolan.db"), "{text}");
        assert!(text.lines().any(|l| l.contains("public_url") && !l.trim_start().starts_with('{')), "{text}");
        let (ok, text) = check(&[("PORTOLAN_PROVIDER_SSO_CLIENT_SECRET", secret), ("PORTOLAN_REGISTRY_LOCAL_1_CRAWL", "maybe")]);
        assert!(!ok && text.contains("PORTOLAN_REGISTRY_LOCAL_1_CRAWL"), "{text}");
    })
}
