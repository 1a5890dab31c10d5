//! Build script of the server:
//!
//! - `PORTOLAN_REVISION`: the git revision the binary is built from, for `portolan --version`
//!   (the environment variable of that name wins, for builds from a source archive; a build
//!   outside git, or without git installed, says `unknown`). Rebuilt when HEAD moves.
//! - the site (`target/site`, written by cargo-leptos before it builds the server) is embedded by
//!   `src/main.rs` (rust-embed, debug builds too: an `include_bytes!` per file, which cargo
//!   watches), so the binary alone is rebuilt when one of its files
//!   changes. While the site is not whole yet (no WebAssembly or JavaScript: a build before the
//!   first `cargo leptos build`, or alongside it), its directory is watched too, so the binary
//!   is built again once the site is there.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=PORTOLAN_REVISION");
    let revision = match std::env::var("PORTOLAN_REVISION") {
        Ok(r) if !r.trim().is_empty() => r.trim().to_owned(),
        _ => git_revision(&manifest).unwrap_or_else(|| "unknown".to_owned()),
    };
    println!("cargo:rustc-env=PORTOLAN_REVISION={revision}");

    // Watching the directory reruns this script, which rebuilds the whole package: only while
    // the site is not whole. It must exist to be watched (a missing path would rebuild the
    // server on every build).
    println!("cargo:rerun-if-env-changed=LEPTOS_OUTPUT_NAME");
    let name = std::env::var("LEPTOS_OUTPUT_NAME").unwrap_or_else(|_| "portolan".to_owned());
    let site = manifest.join("../target/site");
    let whole = ["js", "wasm"].iter().all(|ext| site.join(format!("pkg/{name}.{ext}")).is_file());
    if !whole && std::fs::create_dir_all(&site).is_ok() {
        println!("cargo:rerun-if-changed={}", site.display());
    }
}

/// `git rev-parse HEAD` of the checkout holding the server, and the files to watch for a new
/// commit: HEAD, the branch's own ref (or, while it is packed, the refs directory) and
/// packed-refs.
fn git_revision(dir: &Path) -> Option<String> {
    let git = |args: &[&str]| -> Option<String> {
        let out = Command::new("git").arg("-C").arg(dir).args(args).output().ok()?;
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    };
    let revision = git(&["rev-parse", "HEAD"])?;
    if revision.len() != 40 || !revision.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let absolute = |p: String| {
        let p = PathBuf::from(p);
        if p.is_absolute() { p } else { dir.join(p) }
    };
    if let (Some(git_dir), Some(common)) = (git(&["rev-parse", "--git-dir"]), git(&["rev-parse", "--git-common-dir"])) {
        let (git_dir, common) = (absolute(git_dir), absolute(common));
        let mut watch = vec![git_dir.join("HEAD"), common.join("packed-refs")];
        if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
            let loose = common.join(&branch);
            watch.push(if loose.exists() { loose } else { common.join("refs/heads") });
        }
        for path in watch.iter().filter(|p| p.exists()) {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
    Some(revision)
}
