//! Build settings (Cargo.toml, read by cargo-leptos) and site settings (Leptos.toml, built into
//! the server) share three values, and .cargo/config.toml repeats the output name for
//! compile-time use; the server embeds the site from the build's site root (`src/main.rs`,
//! `build.rs`). They must agree, or the server looks for files the build did not write.

use std::path::Path;

fn read(path: &str) -> toml::Value {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let text = std::fs::read_to_string(root.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
    toml::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn get<'a>(v: &'a toml::Value, path: &[&str]) -> &'a toml::Value {
    path.iter().fold(v, |v, k| v.get(k).unwrap_or_else(|| panic!("missing {}", path.join("."))))
}

#[test]
fn build_and_site_settings_agree() {
    let cargo = read("Cargo.toml");
    let build = &get(&cargo, &["workspace", "metadata", "leptos"]).as_array().expect("[[workspace.metadata.leptos]]")[0];
    let leptos = read("Leptos.toml");
    let site = get(&leptos, &["package", "metadata", "leptos"]);
    assert_eq!(build["name"], site["output-name"], "output name");
    assert_eq!(build["site-root"], site["site-root"], "site root");
    assert_eq!(build["site-pkg-dir"], site["site-pkg-dir"], "pkg dir");
    // What src/main.rs embeds and build.rs watches: ../target/site from the server's manifest.
    assert_eq!(build["site-root"].as_str(), Some("target/site"), "the site root the server binary embeds");
    for (file, embeds) in [("server/src/main.rs", "#[folder = \"../target/site\"]"), ("server/build.rs", "join(\"../target/site\")")] {
        let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(file)).unwrap();
        assert!(text.contains(embeds), "{file} names the site root");
    }
    let config = read(".cargo/config.toml");
    assert_eq!(get(&config, &["env", "LEPTOS_OUTPUT_NAME"]), &build["name"], ".cargo/config.toml LEPTOS_OUTPUT_NAME");
}

#[test]
fn the_server_reads_leptos_toml() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Leptos.toml");
    let conf = leptos_config::get_configuration(Some(root.to_str().unwrap())).unwrap();
    assert_eq!(conf.leptos_options.output_name.as_ref(), "portolan");
    assert_eq!(conf.leptos_options.site_pkg_dir.as_ref(), "pkg");
    // The copy built in, read when no --leptos-config is given.
    assert_eq!(portolan_server::LEPTOS_TOML, std::fs::read_to_string(&root).unwrap());
    let built_in = leptos_config::get_config_from_str(portolan_server::LEPTOS_TOML).unwrap();
    assert_eq!(built_in.site_addr, conf.leptos_options.site_addr);
}
