//! Generates the stylesheet at build time: encre-css (Tailwind v4-compatible) utilities for the
//! classes written in app/src, after the hand-written base.css.

include!("classes.rs");

fn main() {
    let manifest_dir = std::path::PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let app_src = manifest_dir.join("../app/src");
    println!("cargo::rerun-if-changed={}", app_src.display());
    println!("cargo::rerun-if-changed=base.css");
    println!("cargo::rerun-if-changed=classes.rs");

    let sources: Vec<String> = app_sources(&app_src).iter().filter_map(|p| std::fs::read_to_string(p).ok()).collect();
    let config = encre_css::Config::default();
    let utilities = encre_css::generate(sources.iter().map(String::as_str), &config);
    let base = std::fs::read_to_string(manifest_dir.join("base.css")).expect("style/base.css");
    let css = format!("{utilities}\n/* style/base.css */\n{base}");

    // A short content hash for cache-busting URLs.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in css.bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out.join("portolan.css"), css).expect("writing the stylesheet");
    std::fs::write(out.join("hash.txt"), format!("{hash:016x}")).expect("writing the hash");
}
