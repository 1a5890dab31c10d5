//! Tag lists as the repository page shows them: referrer tags set aside, filtered, sorted
//! (semantic version, name, creation date) and paged; and each tag's details, read through the
//! client's caches with bounded concurrency.

use std::cmp::Ordering;
use std::collections::HashMap;

use portolan_oci::spec::Descriptor;
use portolan_oci::{Manifest, Reference, RepoName, Tag};
use serde_json::Value;

use crate::model::{DateSource, TagDetail, TagQuery, TagRow, TagSort};
use crate::ssr::Registry;
use crate::ssr::artifact::{image_size, is_image_config, platform_of};

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

/// What an image manifest's config says — its creation date (else the manifest's annotation)
/// and its platform — reading the config once.
async fn image_facts(registry: &Registry, repo: &RepoName, manifest: &Manifest) -> (Option<(String, DateSource)>, Option<String>) {
    let mut facts = (None, None);
    if let Manifest::Image(m) = manifest
        && is_image_config(m.config().media_type().as_ref())
        && let Ok(bytes) = registry.client.blob(repo, m.config().digest().as_ref(), Some(4 * 1024 * 1024)).await
        && let Ok(config) = serde_json::from_slice::<Value>(&bytes)
    {
        let created = config.get("created").and_then(Value::as_str).filter(|c| valid_date(c));
        facts = (created.map(|c| (c.to_owned(), DateSource::Config)), platform_of(&config));
    }
    if facts.0.is_none() {
        facts.0 = manifest
            .annotations()
            .and_then(|a| a.get("org.opencontainers.image.created"))
            .filter(|c| valid_date(c))
            .map(|c| (c.clone(), DateSource::Annotation));
    }
    facts
}

/// A date worth showing: RFC 3339 and after 1970 (tools write the epoch for "unknown").
pub fn valid_date(s: &str) -> bool {
    crate::model::unix_seconds(s).is_some_and(|t| t > 0)
}

/// Reads one tag's details. Failures become a row with the reason, not a failed page.
pub async fn tag_row(registry: &Registry, repo: &RepoName, tag: &str) -> TagRow {
    match tag_detail(registry, repo, tag).await {
        Ok(d) => TagRow::Ok(d),
        Err(e) => TagRow::Failed { tag: tag.to_owned(), message: e.message().to_owned() },
    }
}

async fn tag_detail(registry: &Registry, repo: &RepoName, tag: &str) -> portolan_oci::Result<TagDetail> {
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
                let (created, _) = image_facts(registry, repo, &parsed).await;
                Some((image_size(child.size(), &parsed).unwrap_or(0), created))
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
            let (created, platform) = image_facts(registry, repo, manifest).await;
            let platform = platform.filter(|_| kind == portolan_oci::ArtifactKind::Image);
            (platform.into_iter().collect(), image_size(doc.size(), manifest), created)
        }
    };
    // The client answers the fallback and legacy tags from the cached tag list, so this costs a
    // request only on registries with the referrers API (or when a fallback index exists).
    let referrers = client.referrers(repo, &doc.digest, None).await.map(|(r, _)| r.len()).unwrap_or(0);
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

/// Reads the details of `tags` in a background task — which runs to the end and warms the
/// caches even when nobody waits any more — and waits for it at most `budget` (None: to the
/// end). Rows not read in time are [`TagRow::Pending`]. Rows come back in the order of `tags`.
pub async fn rows_within(
    registry: &Registry,
    store: &portolan_store::Store,
    repo: &RepoName,
    tags: Vec<String>,
    budget: Option<std::time::Duration>,
    concurrency: usize,
) -> portolan_oci::Result<Vec<TagRow>> {
    use futures::StreamExt;
    use std::sync::{Arc, Mutex};
    // The tag list first: it also tells the client which referrer tags exist.
    registry.client.tags(repo).await?;
    let done: Arc<Mutex<HashMap<String, TagRow>>> = Arc::default();
    let task = {
        let (registry, repo, done, tags) = (registry.clone(), repo.clone(), done.clone(), tags.clone());
        tokio::spawn(async move {
            futures::stream::iter(tags)
                .for_each_concurrent(concurrency.max(1), |tag| {
                    let (registry, repo, done) = (&registry, &repo, done.clone());
                    async move {
                        let row = tag_row(registry, repo, &tag).await;
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
    {
        let undated: Vec<String> = rows
            .iter()
            .filter_map(|r| match r {
                TagRow::Ok(d) if d.created.is_none() => Some(d.digest.clone()),
                _ => None,
            })
            .collect();
        let seen = crate::ssr::seen::first_seen(store, &registry.info.name, repo.as_str(), &undated).await;
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
