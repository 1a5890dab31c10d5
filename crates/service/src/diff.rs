//! Comparing two tags or digests of a repository: platforms, layers (added, removed, same),
//! config fields and labels. Two indexes are compared platform by platform and, for layers and
//! config, on one platform both have (linux/amd64 first).

use std::collections::{BTreeMap, BTreeSet};

use portolan_oci::{Manifest, ManifestDoc, Reference, RepoName};

use crate::Registry;
use crate::artifact::{config_view, image_size};
use crate::json::Links;
use portolan_inventory::read::{is_attestation_entry, platform_name};
use portolan_model::{Change, ConfigView, DiffSide, DiffView, LayerChange};

struct Side {
    reference: String,
    doc: ManifestDoc,
    /// The image compared (the index's chosen platform, or the manifest itself).
    image: Option<ManifestDoc>,
    platforms: BTreeMap<String, String>,
    config: Option<ConfigView>,
}

async fn load(registry: &Registry, repo: &RepoName, reference: &str) -> Result<Side, portolan_oci::Error> {
    let parsed = Reference::parse(reference)?;
    let doc = registry.client.manifest(repo, &parsed).await?;
    let mut platforms = BTreeMap::new();
    if let Ok(Manifest::Index(index)) = doc.manifest() {
        for d in index.manifests().iter().filter(|d| !is_attestation_entry(d)) {
            platforms.insert(platform_name(d).unwrap_or_else(|| "unknown".into()), d.digest().to_string());
        }
    }
    Ok(Side { reference: reference.to_owned(), image: None, doc, platforms, config: None })
}

async fn read_image(registry: &Registry, repo: &RepoName, side: &mut Side, platform: Option<&str>) {
    let image = match platform {
        Some(p) => match side.platforms.get(p).and_then(|d| Reference::parse(d).ok()) {
            Some(r) => registry.client.manifest(repo, &r).await.ok(),
            None => None,
        },
        None => Some(side.doc.clone()),
    };
    if let Some(Ok(Manifest::Image(m))) = image.as_ref().map(ManifestDoc::manifest) {
        let digest = m.config().digest().to_string();
        if let Ok(bytes) = registry.client.blob(repo, &digest, Some(4 * 1024 * 1024)).await {
            side.config = Some(config_view(&digest, m.config().media_type().as_ref(), &bytes, &Links { base: "" }));
        }
    }
    side.image = image;
}

fn diff_side(side: &Side) -> DiffSide {
    let (kind, size) = match side.doc.manifest() {
        Ok(m) => (Some(m.kind(&side.doc.media_type)), image_size(side.doc.size(), m)),
        Err(_) => (None, None),
    };
    DiffSide {
        reference: side.reference.clone(),
        digest: side.doc.digest.clone(),
        kind,
        size: size.or_else(|| side.image.as_ref().and_then(|i| image_size(i.size(), i.manifest().ok()?))),
        created: side.config.as_ref().and_then(|c| c.created.clone()),
    }
}

fn layers_of(side: &Side) -> Vec<(String, u64, String)> {
    match side.image.as_ref().map(ManifestDoc::manifest) {
        Some(Ok(Manifest::Image(m))) => m.layers().iter().map(|l| (l.digest().to_string(), l.size(), l.media_type().to_string())).collect(),
        _ => Vec::new(),
    }
}

/// Layer changes: `to`'s layers in order (same or added), then `from`'s removed ones.
pub fn layer_changes(from: &[(String, u64, String)], to: &[(String, u64, String)]) -> Vec<LayerChange> {
    let from_set: BTreeSet<&str> = from.iter().map(|l| l.0.as_str()).collect();
    let to_set: BTreeSet<&str> = to.iter().map(|l| l.0.as_str()).collect();
    let mut out: Vec<LayerChange> = to
        .iter()
        .map(|(d, s, t)| LayerChange {
            digest: d.clone(),
            size: *s,
            media_type: t.clone(),
            change: if from_set.contains(d.as_str()) { Change::Same } else { Change::Added },
        })
        .collect();
    out.extend(from.iter().filter(|l| !to_set.contains(l.0.as_str())).map(|(d, s, t)| LayerChange {
        digest: d.clone(),
        size: *s,
        media_type: t.clone(),
        change: Change::Removed,
    }));
    out
}

/// (field, from, to) for config fields that differ.
pub fn config_changes(a: &ConfigView, b: &ConfigView) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let mut field = |name: &str, x: String, y: String| {
        if x != y {
            out.push((name.to_owned(), x, y));
        }
    };
    let opt = |o: &Option<String>| o.clone().unwrap_or_default();
    field("created", opt(&a.created), opt(&b.created));
    field("platform", opt(&a.platform), opt(&b.platform));
    field("user", opt(&a.user), opt(&b.user));
    field("working dir", opt(&a.working_dir), opt(&b.working_dir));
    field("entrypoint", a.entrypoint.join(" "), b.entrypoint.join(" "));
    field("cmd", a.cmd.join(" "), b.cmd.join(" "));
    field("exposed ports", a.exposed_ports.join(", "), b.exposed_ports.join(", "));
    field("volumes", a.volumes.join(", "), b.volumes.join(", "));
    let env = |c: &ConfigView| c.env.iter().cloned().collect::<BTreeSet<String>>();
    let (ea, eb) = (env(a), env(b));
    for gone in ea.difference(&eb) {
        field("env", gone.clone(), String::new());
    }
    for new in eb.difference(&ea) {
        field("env", String::new(), new.clone());
    }
    out
}

/// (label, from, to) for labels that differ.
pub fn label_changes(a: &[(String, String)], b: &[(String, String)]) -> Vec<(String, String, String)> {
    let a: BTreeMap<&str, &str> = a.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let b: BTreeMap<&str, &str> = b.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let keys: BTreeSet<&str> = a.keys().chain(b.keys()).copied().collect();
    keys.into_iter()
        .filter(|k| a.get(k) != b.get(k))
        .map(|k| (k.to_owned(), a.get(k).unwrap_or(&"").to_string(), b.get(k).unwrap_or(&"").to_string()))
        .collect()
}

pub async fn diff_view(registry: &Registry, repo: &RepoName, from: &str, to: &str) -> Result<DiffView, portolan_oci::Error> {
    let (a, b) = futures::future::join(load(registry, repo, from), load(registry, repo, to)).await;
    let (mut a, mut b) = (a?, b?);
    let names: BTreeSet<&String> = a.platforms.keys().chain(b.platforms.keys()).collect();
    let platforms: Vec<(String, Change)> = names
        .into_iter()
        .map(|p| {
            let change = match (a.platforms.get(p), b.platforms.get(p)) {
                (Some(x), Some(y)) if x == y => Change::Same,
                (Some(_), Some(_)) => Change::Changed,
                (Some(_), None) => Change::Removed,
                _ => Change::Added,
            };
            (p.clone(), change)
        })
        .collect();
    // The platform to compare layers on: linux/amd64 if both have it, else the first common one.
    let common: Vec<&String> = a.platforms.keys().filter(|p| b.platforms.contains_key(*p)).collect();
    let chosen = common.iter().find(|p| p.as_str() == "linux/amd64").or(common.first()).map(|p| (*p).clone());
    let both_indexes = !a.platforms.is_empty() && !b.platforms.is_empty();
    let platform = if both_indexes { chosen.clone() } else { None };
    futures::future::join(read_image(registry, repo, &mut a, platform.as_deref()), read_image(registry, repo, &mut b, platform.as_deref()))
        .await;
    let layers = layer_changes(&layers_of(&a), &layers_of(&b));
    let (config, labels) = match (&a.config, &b.config) {
        (Some(x), Some(y)) => (config_changes(x, y), label_changes(&x.labels, &y.labels)),
        _ => (Vec::new(), Vec::new()),
    };
    Ok(DiffView {
        registry: registry.info.clone(),
        repository: repo.to_string(),
        from: diff_side(&a),
        to: diff_side(&b),
        platforms,
        layers,
        config,
        labels,
        compared_platform: platform,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(d: &str) -> (String, u64, String) {
        (d.to_owned(), 1, "t".to_owned())
    }

    #[test]
    fn layers_added_removed_and_kept() {
        let changes = layer_changes(&[l("a"), l("b")], &[l("a"), l("c")]);
        let summary: Vec<(&str, Change)> = changes.iter().map(|c| (c.digest.as_str(), c.change)).collect();
        assert_eq!(summary, [("a", Change::Same), ("c", Change::Added), ("b", Change::Removed)]);
    }

    #[test]
    fn config_and_labels() {
        let a = ConfigView {
            env: vec!["A=1".into(), "B=2".into()],
            cmd: vec!["x".into()],
            labels: vec![("k".into(), "1".into()), ("gone".into(), "x".into())],
            ..Default::default()
        };
        let b = ConfigView {
            env: vec!["A=1".into(), "B=3".into()],
            cmd: vec!["x".into()],
            labels: vec![("k".into(), "2".into())],
            ..Default::default()
        };
        let c = config_changes(&a, &b);
        assert_eq!(c, [("env".to_owned(), "B=2".to_owned(), String::new()), ("env".to_owned(), String::new(), "B=3".to_owned())]);
        let labels = label_changes(&a.labels, &b.labels);
        assert_eq!(labels, [("gone".to_owned(), "x".to_owned(), String::new()), ("k".to_owned(), "1".to_owned(), "2".to_owned())]);
    }
}
