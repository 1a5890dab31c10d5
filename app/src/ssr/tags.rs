//! Tag lists as the repository page shows them: referrer tags set aside, filtered, sorted
//! (semantic version, name, creation date) and paged; and each tag's details, read through the
//! client's caches with bounded concurrency.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

use portolan_oci::spec::Descriptor;
use portolan_oci::{Manifest, Reference, RepoName, Tag};
use serde_json::Value;

use crate::model::{DateSource, TagDetail, TagQuery, TagRow, TagSort};
use crate::ssr::Registry;

/// Whether `tag` is a referrer tag: the fallback schema's `sha256-<hex>` or cosign's legacy
/// `sha256-<hex>.sig/.att/.sbom`.
pub fn is_referrer_tag(tag: &str) -> bool {
    portolan_oci::name::subject_of_tag(tag).is_some()
}

/// Case-insensitive match: `*` is a wildcard; otherwise a substring.
pub fn matches_filter(tag: &str, filter: &str) -> bool {
    let filter = filter.trim().to_ascii_lowercase();
    if filter.is_empty() {
        return true;
    }
    let tag = tag.to_ascii_lowercase();
    if !filter.contains('*') {
        return tag.contains(&filter);
    }
    glob(&tag, &filter)
}

fn glob(text: &str, pattern: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let mut rest = text;
    for (i, part) in parts.iter().enumerate() {
        if part.is_empty() {
            continue;
        }
        if i == 0 {
            let Some(r) = rest.strip_prefix(part) else {
                return false;
            };
            rest = r;
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            let Some(pos) = rest.find(part) else {
                return false;
            };
            rest = &rest[pos + part.len()..];
        }
    }
    pattern.ends_with('*') || rest.is_empty() || parts.len() == 1
}

/// A tag read as a semantic version (`v` prefix allowed; `1.2` taken as `1.2.0`).
pub fn semver_of(tag: &str) -> Option<semver::Version> {
    let t = tag.strip_prefix('v').unwrap_or(tag);
    semver::Version::parse(t).ok().or_else(|| {
        let dots = t.chars().filter(|c| *c == '.').count();
        let head = t.split(['-', '+']).next().unwrap_or(t);
        if dots < 2 && !head.is_empty() && head.chars().all(|c| c.is_ascii_digit() || c == '.') {
            let padded = if dots == 0 { format!("{head}.0.0") } else { format!("{head}.0") };
            semver::Version::parse(&format!("{padded}{}", &t[head.len()..])).ok()
        } else {
            None
        }
    })
}

/// Orders tags for `sort` (natural direction: newest or A→Z first; `reverse` flips it).
/// `created` gives RFC 3339 dates for [`TagSort::Created`]; tags without one go last.
pub fn sort_tags(tags: &mut [String], sort: TagSort, reverse: bool, created: &HashMap<String, String>) {
    match sort {
        TagSort::Name => tags.sort(),
        TagSort::Version => tags.sort_by(|a, b| match (semver_of(a), semver_of(b)) {
            (Some(x), Some(y)) => y.cmp(&x).then_with(|| a.cmp(b)),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => a.cmp(b),
        }),
        TagSort::Created => tags.sort_by(|a, b| match (created.get(a), created.get(b)) {
            (Some(x), Some(y)) => y.cmp(x).then_with(|| a.cmp(b)),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => a.cmp(b),
        }),
    }
    if reverse {
        tags.reverse();
    }
}

/// The visible tags (referrer tags set aside unless asked for), filtered; and how many were
/// set aside.
pub fn visible(tags: &[String], query: &TagQuery) -> (Vec<String>, usize, usize) {
    let mut hidden = 0;
    let mut total = 0;
    let mut out = Vec::new();
    for tag in tags {
        if !query.show_referrer_tags && is_referrer_tag(tag) {
            hidden += 1;
            continue;
        }
        total += 1;
        if matches_filter(tag, &query.filter) {
            out.push(tag.clone());
        }
    }
    (out, total, hidden)
}

/// One page of `sorted`.
pub fn page(sorted: &[String], query: &TagQuery) -> Vec<String> {
    let start = (query.page - 1).saturating_mul(query.per_page);
    sorted.iter().skip(start).take(query.per_page).cloned().collect()
}

pub fn platform_name(d: &Descriptor) -> Option<String> {
    let p = d.platform().as_ref()?;
    let os = p.os().to_string();
    let arch = p.architecture().to_string();
    Some(match p.variant() {
        Some(v) if !v.is_empty() => format!("{os}/{arch}/{v}"),
        _ => format!("{os}/{arch}"),
    })
}

/// Whether an index entry is a buildx attestation manifest rather than a platform image.
pub fn is_attestation_entry(d: &Descriptor) -> bool {
    d.annotations().as_ref().and_then(|a| a.get("vnd.docker.reference.type")).is_some_and(|t| t == "attestation-manifest")
        || platform_name(d).as_deref() == Some("unknown/unknown")
}

/// The creation date of an image manifest: its config's `created`, else its annotation.
async fn created_of(registry: &Registry, repo: &RepoName, manifest: &Manifest) -> Option<(String, DateSource)> {
    if let Manifest::Image(m) = manifest {
        let config_type = m.config().media_type().to_string();
        if config_type == portolan_oci::media::OCI_CONFIG || config_type == portolan_oci::media::DOCKER_CONFIG {
            let digest = m.config().digest().to_string();
            if let Ok(bytes) = registry.client.blob(repo, &digest, Some(4 * 1024 * 1024)).await
                && let Ok(config) = serde_json::from_slice::<Value>(&bytes)
                && let Some(created) = config.get("created").and_then(Value::as_str)
                && valid_date(created)
            {
                return Some((created.to_owned(), DateSource::Config));
            }
        }
    }
    manifest
        .annotations()
        .and_then(|a| a.get("org.opencontainers.image.created"))
        .filter(|c| valid_date(c))
        .map(|c| (c.clone(), DateSource::Annotation))
}

fn valid_date(s: &str) -> bool {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).is_ok_and(|d| d.year() > 1970)
}

fn image_size(manifest_size: u64, m: &Manifest) -> u64 {
    match m {
        Manifest::Image(m) => manifest_size + m.config().size() + m.layers().iter().map(Descriptor::size).sum::<u64>(),
        Manifest::Index(_) => manifest_size,
    }
}

/// Reads one tag's details. Failures become a row with the reason, not a failed page.
pub async fn tag_row(registry: &Registry, repo: &RepoName, tag: &str, all_tags: &HashSet<String>, referrers_api: bool) -> TagRow {
    match tag_detail(registry, repo, tag, all_tags, referrers_api).await {
        Ok(d) => TagRow::Ok(d),
        Err(e) => TagRow::Failed { tag: tag.to_owned(), message: e.message().to_owned() },
    }
}

async fn tag_detail(
    registry: &Registry,
    repo: &RepoName,
    tag: &str,
    all_tags: &HashSet<String>,
    referrers_api: bool,
) -> portolan_oci::Result<TagDetail> {
    let client = &registry.client;
    let doc = client.manifest(repo, &Reference::Tag(Tag::parse(tag)?)).await?;
    let manifest = doc.manifest()?;
    let kind = manifest.kind(&doc.media_type);
    let (platforms, size, created) = match manifest {
        Manifest::Index(index) => {
            let entries: Vec<&Descriptor> = index.manifests().iter().filter(|d| !is_attestation_entry(d)).collect();
            let platforms = entries.iter().filter_map(|d| platform_name(d)).collect();
            // Size and date from the children (manifests are cached by digest).
            let children = futures::future::join_all(entries.iter().map(|d| async move {
                let child = client.manifest(repo, &Reference::Digest(d.digest().clone())).await.ok()?;
                let parsed = child.manifest().ok()?.clone();
                let created = created_of(registry, repo, &parsed).await;
                Some((image_size(child.size(), &parsed), created))
            }))
            .await;
            let size = children.iter().flatten().map(|(s, _)| *s).max();
            let created = manifest
                .annotations()
                .and_then(|a| a.get("org.opencontainers.image.created"))
                .filter(|c| valid_date(c))
                .map(|c| (c.clone(), DateSource::Annotation))
                .or_else(|| children.iter().flatten().filter_map(|(_, c)| c.clone()).max_by(|a, b| a.0.cmp(&b.0)));
            (platforms, size, created)
        }
        Manifest::Image(_) => {
            let created = created_of(registry, repo, manifest).await;
            let platform = if kind == portolan_oci::ArtifactKind::Image { image_platform(registry, repo, manifest).await } else { None };
            (platform.into_iter().collect(), Some(image_size(doc.size(), manifest)), created)
        }
    };
    let referrers = count_referrers(registry, repo, &doc.digest, all_tags, referrers_api).await;
    Ok(TagDetail {
        tag: tag.to_owned(),
        digest: doc.digest.clone(),
        media_type: doc.media_type.clone(),
        kind: serde_json::to_value(kind).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default(),
        kind_label: kind.label().to_owned(),
        platforms,
        size,
        created: created.as_ref().map(|(c, _)| c.clone()),
        created_source: created.map(|(_, s)| s),
        referrers,
    })
}

async fn image_platform(registry: &Registry, repo: &RepoName, manifest: &Manifest) -> Option<String> {
    let Manifest::Image(m) = manifest else {
        return None;
    };
    let bytes = registry.client.blob(repo, m.config().digest().as_ref(), Some(4 * 1024 * 1024)).await.ok()?;
    let config: Value = serde_json::from_slice(&bytes).ok()?;
    let os = config.get("os")?.as_str().filter(|s| !s.is_empty())?;
    let arch = config.get("architecture")?.as_str().filter(|s| !s.is_empty())?;
    Some(match config.get("variant").and_then(Value::as_str) {
        Some(v) if !v.is_empty() => format!("{os}/{arch}/{v}"),
        _ => format!("{os}/{arch}"),
    })
}

/// Referrers of `digest`: from the referrers API where the registry has one; otherwise from the
/// fallback tag's index and cosign's legacy tags, which the tag list already reveals.
async fn count_referrers(registry: &Registry, repo: &RepoName, digest: &str, all_tags: &HashSet<String>, referrers_api: bool) -> usize {
    let Ok(parsed) = portolan_oci::name::parse_digest(digest) else {
        return 0;
    };
    let fallback = portolan_oci::name::fallback_tag(&parsed);
    let legacy = ["sig", "att", "sbom"].iter().filter(|s| all_tags.contains(&format!("{fallback}.{s}"))).count();
    if referrers_api {
        return registry.client.referrers(repo, digest, None).await.map(|(r, _)| r.len()).unwrap_or(legacy);
    }
    if !all_tags.contains(&fallback) {
        return legacy;
    }
    let index = match Tag::parse(&fallback) {
        Ok(t) => registry.client.manifest(repo, &Reference::Tag(t)).await.ok(),
        Err(_) => None,
    };
    let listed = match index.as_ref().and_then(|d| d.manifest().ok()) {
        Some(Manifest::Index(i)) => i.manifests().len(),
        _ => 0,
    };
    listed + legacy
}

/// Reads the details of `tags` in a background task — which runs to the end and warms the
/// caches even when nobody waits any more — and waits for it at most `budget` (None: to the
/// end). Rows not read in time are [`TagRow::Pending`]. Rows come back in the order of `tags`.
pub async fn rows_within(
    registry: &Registry,
    store: Option<&sqlx::SqlitePool>,
    repo: &RepoName,
    tags: Vec<String>,
    budget: Option<std::time::Duration>,
    concurrency: usize,
) -> portolan_oci::Result<Vec<TagRow>> {
    use futures::StreamExt;
    use std::sync::{Arc, Mutex};
    let all = registry.client.tags(repo).await?;
    let names: Arc<HashSet<String>> = Arc::new(all.iter().cloned().collect());
    let referrers_api = registry.client.has_referrers_api(repo).await.unwrap_or(false);
    let done: Arc<Mutex<HashMap<String, TagRow>>> = Arc::default();
    let task = {
        let (registry, repo, done, tags) = (registry.clone(), repo.clone(), done.clone(), tags.clone());
        tokio::spawn(async move {
            futures::stream::iter(tags)
                .for_each_concurrent(concurrency.max(1), |tag| {
                    let (registry, repo, names, done) = (&registry, &repo, names.clone(), done.clone());
                    async move {
                        let row = tag_row(registry, repo, &tag, &names, referrers_api).await;
                        done.lock().unwrap_or_else(|e| e.into_inner()).insert(tag, row);
                    }
                })
                .await;
        })
    };
    match budget {
        Some(budget) => {
            let _ = tokio::time::timeout(budget, task).await;
        }
        None => {
            let _ = task.await;
        }
    }
    let mut rows: Vec<TagRow> = {
        let done = done.lock().unwrap_or_else(|e| e.into_inner());
        tags.into_iter().map(|tag| done.get(&tag).cloned().unwrap_or(TagRow::Pending { tag })).collect()
    };
    // Undated artifacts get the date Portolan first saw them, said as such.
    if let Some(pool) = store {
        let undated: Vec<String> = rows
            .iter()
            .filter_map(|r| match r {
                TagRow::Ok(d) if d.created.is_none() => Some(d.digest.clone()),
                _ => None,
            })
            .collect();
        let seen = crate::ssr::seen::first_seen(pool, &registry.info.name, repo.as_str(), &undated).await;
        for row in &mut rows {
            if let TagRow::Ok(d) = row
                && d.created.is_none()
                && let Some(when) = seen.get(&d.digest)
            {
                d.created = Some(when.clone());
                d.created_source = Some(DateSource::FirstSeen);
            }
        }
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn referrer_tags_are_recognised() {
        let hex = "ab".repeat(32);
        assert!(is_referrer_tag(&format!("sha256-{hex}")));
        assert!(is_referrer_tag(&format!("sha256-{hex}.sig")));
        assert!(!is_referrer_tag("sha256-short"));
        assert!(!is_referrer_tag("latest"));
    }

    #[test]
    fn filters_by_substring_or_glob() {
        assert!(matches_filter("v1.2.3", "1.2"));
        assert!(matches_filter("V1.2.3", "v1"));
        assert!(matches_filter("build-00017", "build-*7"));
        assert!(matches_filter("release-2024-01", "*2024*"));
        assert!(!matches_filter("release-2024-01", "2023*"));
        assert!(matches_filter("anything", "  "));
    }

    #[test]
    fn version_sort_puts_newest_semver_first_then_names() {
        let mut tags = strings(&["latest", "1.0.0", "v2.0.0", "1.10.0", "1.2", "2.0.0-rc.1", "nightly", "1.9.9"]);
        sort_tags(&mut tags, TagSort::Version, false, &HashMap::new());
        assert_eq!(tags, strings(&["v2.0.0", "2.0.0-rc.1", "1.10.0", "1.9.9", "1.2", "1.0.0", "latest", "nightly"]));
        sort_tags(&mut tags, TagSort::Version, true, &HashMap::new());
        assert_eq!(tags.first().unwrap(), "nightly");
    }

    #[test]
    fn created_sort_puts_undated_last() {
        let mut tags = strings(&["a", "b", "c"]);
        let created: HashMap<String, String> =
            [("a".to_owned(), "2024-01-01T00:00:00Z".to_owned()), ("c".to_owned(), "2025-01-01T00:00:00Z".to_owned())].into();
        sort_tags(&mut tags, TagSort::Created, false, &created);
        assert_eq!(tags, strings(&["c", "a", "b"]));
    }

    #[test]
    fn visible_and_paged() {
        let hex = "cd".repeat(32);
        let tags = strings(&["a1", "a2", "b1", &format!("sha256-{hex}"), &format!("sha256-{hex}.sig")]);
        let q = TagQuery { filter: "a".into(), per_page: 1, page: 2, ..Default::default() };
        let (matching, total, hidden) = visible(&tags, &q);
        assert_eq!((matching.len(), total, hidden), (2, 3, 2));
        assert_eq!(page(&matching, &q), strings(&["a2"]));
        let all = TagQuery { show_referrer_tags: true, ..Default::default() };
        assert_eq!(visible(&tags, &all).1, 5);
    }
}
