//! The OCI image `scripts/image` builds (`target/image/oci`): its configuration (user, entrypoint,
//! environment, volume, port, labels, no health check), its SBOM attached by subject; pushed with
//! `scripts/image push` to a local CNCF distribution (no referrers API: the SBOM lands in the
//! fallback tag); its layers unpacked and its entrypoint run as its user with its environment
//! (`chroot --userspec`, as root), browsing that registry: `/healthz`, `/readyz`, the tags and the
//! artifact page of Portolan's own image with its SBOM, and the site built into the release
//! binary with its brotli copies.
//!
//! Ignored by a plain `cargo test`: it needs the image, so the release build, buildah and root.
//! `scripts/test` runs it last, after `scripts/image` (`--no-image` skips both). By hand:
//! `scripts/image`, then `cargo test -p portolan-server --test it image:: -- --ignored`.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use portolan_testkit::distribution::{Distribution, DistributionAuth};
use serde_json::Value;

use crate::support::run_in_parallel_within;

const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The image's user and group.
const USER: u32 = 65532;

/// The layout `scripts/image` writes.
fn layout() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/image/oci")
}

fn blob(digest: &str) -> Vec<u8> {
    let hex = digest.strip_prefix("sha256:").unwrap_or_else(|| panic!("a sha256 digest: {digest}"));
    std::fs::read(layout().join("blobs/sha256").join(hex)).unwrap_or_else(|e| panic!("blob {digest}: {e}"))
}

fn json(digest: &str) -> Value {
    serde_json::from_slice(&blob(digest)).unwrap()
}

/// The descriptor of the manifest named `name` in the layout's index.
fn named(index: &Value, name: &str) -> Value {
    index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == name)
        .unwrap_or_else(|| panic!("the layout names {name}: {index}"))
        .clone()
}

/// The layers, gzip-compressed tars, unpacked in order into `root` with their owners and modes.
fn unpack(manifest: &Value, root: &Path) -> u64 {
    let mut compressed = 0;
    for layer in manifest["layers"].as_array().unwrap() {
        assert_eq!(layer["mediaType"], "application/vnd.oci.image.layer.v1.tar+gzip");
        let bytes = blob(layer["digest"].as_str().unwrap());
        compressed += bytes.len() as u64;
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(&bytes[..]));
        archive.set_preserve_permissions(true);
        archive.set_preserve_ownerships(true);
        archive.set_unpack_xattrs(false);
        archive.unpack(root).unwrap();
    }
    compressed
}

fn git_head() -> Option<String> {
    let out = std::process::Command::new("git").args(["-C", env!("CARGO_MANIFEST_DIR"), "rev-parse", "HEAD"]).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn size_of_tree(path: &Path) -> u64 {
    let meta = std::fs::symlink_metadata(path).unwrap();
    if meta.is_dir() { std::fs::read_dir(path).unwrap().map(|e| size_of_tree(&e.unwrap().path())).sum() } else { meta.len() }
}

#[test]
#[ignore = "needs the image built by scripts/image, and root: scripts/test runs it after building the image"]
fn the_image_runs_as_its_user_and_shows_its_own_tag_with_its_sbom() {
    run_in_parallel_within(Duration::from_secs(600), async {
        assert_eq!(uid(), 0, "unpacking the image with its owners and chroot need root");
        let index: Value =
            serde_json::from_slice(&std::fs::read(layout().join("index.json")).expect("target/image/oci: run scripts/image")).unwrap();
        let image = named(&index, VERSION);
        let digest = image["digest"].as_str().unwrap().to_owned();
        let manifest = json(&digest);
        assert_eq!(manifest["mediaType"], "application/vnd.oci.image.manifest.v1+json");

        // The configuration: who it runs as, how, and what it says about itself.
        let config = json(manifest["config"]["digest"].as_str().unwrap());
        let c = &config["config"];
        assert_eq!(c["User"], format!("{USER}:{USER}"));
        assert_eq!(c["Entrypoint"], serde_json::json!(["/usr/local/bin/portolan"]));
        assert!(c["Cmd"].is_null() || c["Cmd"] == serde_json::json!([]), "{c}");
        let env: BTreeMap<String, String> = c["Env"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e.as_str().unwrap().split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())).unwrap())
            .collect();
        assert_eq!(env.get("PORTOLAN_LISTEN").map(String::as_str), Some("0.0.0.0:3000"));
        assert_eq!(env.get("PORTOLAN_DATA_DIR").map(String::as_str), Some("/data"));
        assert!(c["Volumes"].get("/data").is_some(), "{c}");
        assert!(c["ExposedPorts"].get("3000/tcp").is_some(), "{c}");
        assert!(c.get("Healthcheck").is_none(), "orchestrators use /healthz and /readyz: {c}");
        let labels = &c["Labels"];
        assert_eq!(labels["org.opencontainers.image.version"], VERSION);
        if let Some(head) = git_head() {
            assert_eq!(labels["org.opencontainers.image.revision"], head.as_str(), "an image of this revision: run scripts/image");
        }
        assert!(labels["org.opencontainers.image.source"].as_str().is_some_and(|s| !s.is_empty()), "{labels}");
        let created = labels["org.opencontainers.image.created"].as_str().unwrap();
        assert!(time::OffsetDateTime::parse(created, &time::format_description::well_known::Rfc3339).is_ok(), "{created}");

        // The SBOM: CycloneDX, the Rust dependencies, attached to the image by subject.
        let sbom_descriptor = named(&index, &format!("{VERSION}.sbom"));
        let sbom = json(sbom_descriptor["digest"].as_str().unwrap());
        assert_eq!(sbom["artifactType"], "application/vnd.cyclonedx+json");
        assert_eq!(sbom["subject"]["digest"], digest.as_str());
        assert_eq!(sbom["layers"][0]["mediaType"], "application/vnd.cyclonedx+json");
        let bom = json(sbom["layers"][0]["digest"].as_str().unwrap());
        assert_eq!(bom["bomFormat"], "CycloneDX");
        let components: Vec<&str> = bom["components"].as_array().unwrap().iter().filter_map(|c| c["name"].as_str()).collect();
        for dependency in ["axum", "leptos", "tokio", "sqlx", "rust-embed"] {
            assert!(components.contains(&dependency), "the SBOM lists {dependency}: {components:?}");
        }

        // Unpacked: the binary, the libraries it links, its user; no shell; /data its user's.
        let root = tempfile::tempdir().unwrap();
        let compressed = unpack(&manifest, root.path());
        let unpacked = size_of_tree(root.path());
        eprintln!("the image: {} KiB compressed, {} KiB unpacked", compressed / 1024, unpacked / 1024);
        assert!(compressed < 32 << 20 && unpacked < 80 << 20, "small: {compressed} bytes compressed, {unpacked} unpacked");
        assert!(!root.path().join("bin/sh").exists() && !root.path().join("usr/bin").exists(), "no shell, no tools");
        assert!(!root.path().join("etc/ssl").exists(), "no CA bundle: the trust roots are in the binary");
        let passwd = std::fs::read_to_string(root.path().join("etc/passwd")).unwrap();
        assert!(passwd.lines().any(|l| l.starts_with(&format!("portolan:x:{USER}:{USER}:"))), "{passwd}");
        let data = std::fs::metadata(root.path().join("data")).unwrap();
        assert_eq!((data.uid(), data.gid(), data.mode() & 0o777), (USER, USER, 0o700));

        // Pushed as a person would, with its SBOM, to a registry without the referrers API.
        let registry = Distribution::start(DistributionAuth::Anonymous).await.unwrap();
        let host = registry.url.trim_start_matches("http://").to_owned();
        let push = tokio::process::Command::new("bash")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/image"))
            .args(["push", &format!("{host}/portolan"), "--insecure"])
            .kill_on_drop(true)
            .output();
        let push = tokio::time::timeout(Duration::from_secs(180), push).await.expect("pushed within 3 minutes").unwrap();
        assert!(push.status.success(), "scripts/image push: {}", String::from_utf8_lossy(&push.stderr));
        let client = portolan_testkit::runner::http_client();
        let fallback: Value = client
            .get(format!("{}/v2/portolan/manifests/{}", registry.url, digest.replacen(':', "-", 1)))
            .header("accept", "application/vnd.oci.image.index.v1+json")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(fallback["manifests"][0]["digest"], sbom_descriptor["digest"], "the fallback tag lists the SBOM: {fallback}");
        assert_eq!(fallback["manifests"][0]["artifactType"], "application/vnd.cyclonedx+json");

        // The entrypoint, as the image's user, with the image's environment (its own address
        // instead of 0.0.0.0:3000, so nothing else on this machine is in the way).
        let version = std::process::Command::new(chroot())
            .arg(format!("--userspec={USER}:{USER}"))
            .arg(root.path())
            .arg("/usr/local/bin/portolan")
            .arg("--version")
            .env_clear()
            .output()
            .unwrap();
        assert!(version.status.success(), "{}", String::from_utf8_lossy(&version.stderr));
        assert!(String::from_utf8_lossy(&version.stdout).starts_with(&format!("portolan {VERSION} (revision ")));
        let logs = tempfile::tempdir().unwrap();
        let log = logs.path().join("portolan.log");
        let (url, mut guard) = portolan_testkit::process::start_on_free_port("portolan in the image", |addr| {
            let (root, log, env, registry) = (root.path().to_owned(), log.clone(), env.clone(), registry.url.clone());
            async move {
                let mut cmd = std::process::Command::new(chroot());
                cmd.arg(format!("--userspec={USER}:{USER}"))
                    .arg(&root)
                    .arg("/usr/local/bin/portolan")
                    .args(["--registry", &format!("local={registry}")])
                    .env_clear()
                    .envs(&env)
                    .env("PORTOLAN_LISTEN", addr.to_string());
                let mut guard = portolan_testkit::process::ChildGuard::spawn("portolan in the image", cmd, &log)?;
                let url = format!("http://{addr}");
                portolan_testkit::process::wait_http(&format!("{url}/healthz"), &mut guard, &log).await?;
                Ok((url, guard))
            }
        })
        .await
        .unwrap();
        let get = |path: &str| client.get(format!("{url}{path}")).send();
        let text = |r: reqwest::Response| async move { (r.status().as_u16(), r.text().await.unwrap()) };
        assert_eq!(text(get("/healthz").await.unwrap()).await, (200, "ok".to_owned()));
        assert_eq!(text(get("/readyz").await.unwrap()).await, (200, "ready".to_owned()));
        let (status, tags) = text(get("/r/local/portolan").await.unwrap()).await;
        assert_eq!(status, 200, "{tags}");
        assert!(tags.contains(&format!("/r/local/portolan:{VERSION}")), "the tags page lists {VERSION}: {tags}");
        let (status, page) = text(get(&format!("/r/local/portolan:{VERSION}")).await.unwrap()).await;
        assert_eq!(status, 200, "{page}");
        for shown in [&digest, "org.opencontainers.image.revision", "application/vnd.cyclonedx+json", "/usr/local/bin/portolan"] {
            assert!(page.contains(shown), "the artifact page shows {shown}");
        }
        // The site built into the release binary, its brotli copy sent as it is.
        let start = page.find("/pkg/").expect("the page links its WebAssembly");
        let js = &page[start..start + page[start..].find('"').unwrap()];
        let wasm = js.replace(".js", ".wasm");
        let r = client.get(format!("{url}{wasm}")).header("accept-encoding", "br").send().await.unwrap();
        assert_eq!(r.status(), 200, "{wasm}");
        assert_eq!(r.headers()["content-encoding"], "br");
        assert_eq!(r.headers()["cache-control"], "public, max-age=31536000, immutable");
        let body = r.bytes().await.unwrap();
        assert!(body.len() < 1 << 20 && !body.starts_with(b"\0asm"), "the brotli copy: {} bytes", body.len());

        guard.kill();
        let db = std::fs::metadata(root.path().join("data/portolan.db")).expect("the store in /data");
        assert_eq!((db.uid(), db.mode() & 0o777), (USER, 0o600), "written by the image's user, readable by it only");
    })
}

/// coreutils' chroot, by its path: the image's environment has no PATH to find it by.
fn chroot() -> PathBuf {
    ["/usr/sbin/chroot", "/usr/bin/chroot", "/sbin/chroot"].iter().map(PathBuf::from).find(|p| p.exists()).expect("chroot (coreutils)")
}

/// This process's user id (`id -u`).
fn uid() -> u32 {
    std::fs::metadata("/proc/self").map(|m| m.uid()).unwrap_or(u32::MAX)
}
