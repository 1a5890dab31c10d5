//! Referrers of a manifest — signatures, SBOMs, attestations — from every place registries keep
//! them: the OCI 1.1 referrers API, its fallback tag (`sha256-<hex>`, an index), and cosign's
//! legacy tags (`sha256-<hex>.sig`, `.att`, `.sbom`); and the whole graph, walked once.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use futures::StreamExt;

use oci_spec::image::{Descriptor, ImageIndex, MediaType};
use reqwest::Method;
use serde::Serialize;

use crate::auth::Scope;
use crate::client::Client;
use crate::error::{Error, ErrorKind, Result};
use crate::manifest::Manifest;
use crate::media::{self, ArtifactKind};
use crate::name::{Reference, RepoName, Tag, fallback_tag, parse_digest};
use crate::paging::next_link;
use crate::transport::Request;
use crate::verbs::RegistryVerbs;

/// Where a referrer was found.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReferrerSource {
    /// The registry's referrers API.
    Api,
    /// The fallback tag schema's index (`sha256-<hex>`).
    FallbackTag,
    /// A cosign legacy tag (`sha256-<hex>.sig`, `.att` or `.sbom`), named here.
    CosignTag(String),
}

/// One referrer of a subject.
#[derive(Clone, Debug, PartialEq)]
pub struct Referrer {
    /// Its descriptor; `artifact_type` is filled in for legacy tags from their content.
    pub descriptor: Descriptor,
    pub source: ReferrerSource,
}

impl Referrer {
    pub fn digest(&self) -> String {
        self.descriptor.digest().to_string()
    }

    pub fn artifact_type(&self) -> Option<String> {
        self.descriptor.artifact_type().as_ref().map(ToString::to_string)
    }

    /// What the referrer is, judged from its artifact type and media type.
    pub fn kind(&self) -> ArtifactKind {
        let media_type = self.descriptor.media_type().to_string();
        match self.artifact_type().as_deref().and_then(media::kind_of_type) {
            Some(kind) => kind,
            None if media::is_index(&media_type) => ArtifactKind::Index,
            None => ArtifactKind::Other,
        }
    }
}

/// How a registry lists referrers (learned on the first call per repository).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReferrersMode {
    Api,
    FallbackTag,
}

const LEGACY_SUFFIXES: [&str; 3] = ["sig", "att", "sbom"];
const INDEX_CAP: u64 = 4 * 1024 * 1024;
/// Referrers listed for one subject at most (API pages together, or the fallback index); past
/// it, [`Client::referrers`] fails with [`ErrorKind::TooLarge`].
pub const MAX_REFERRERS: usize = 10_000;
/// Bytes read from the referrers API for one subject at most, all pages together.
pub const MAX_REFERRERS_BYTES: u64 = 16 * 1024 * 1024;
/// Referrers API pages followed for one subject at most.
pub const MAX_REFERRER_PAGES: usize = 1_000;

fn too_many_referrers(what: &str, max: usize) -> Error {
    Error::new(ErrorKind::TooLarge, format!("{what}: more than {max} referrers; Portolan lists at most {max}"))
}

/// Keeps the descriptors whose digest Portolan can verify (sha256, sha512), counting the rest.
fn usable(descriptors: &[Descriptor], source: &ReferrerSource, dropped: &mut usize) -> Vec<Referrer> {
    descriptors
        .iter()
        .filter(|d| {
            let ok = parse_digest(d.digest().as_ref()).is_ok();
            *dropped += usize::from(!ok);
            ok
        })
        .map(|d| Referrer { descriptor: d.clone(), source: source.clone() })
        .collect()
}

impl Client {
    /// The referrers of `digest` in `repo`, optionally only those of `artifact_type`.
    /// Lists are cached for the tag TTL (concurrent asks merged) and forgotten with the
    /// repository's tags.
    pub async fn referrers(&self, repo: &RepoName, digest: &str, artifact_type: Option<&str>) -> Result<(Vec<Referrer>, ReferrersMode)> {
        parse_digest(digest)?;
        let key = (repo.as_str().to_owned(), digest.to_owned(), artifact_type.map(str::to_owned));
        let (this, repo_owned, digest_owned, wanted) = (self.clone(), repo.clone(), digest.to_owned(), artifact_type.map(str::to_owned));
        let (list, mode) = self
            .inner
            .referrer_lists
            .try_get_with(key, async move {
                this.list_referrers(&repo_owned, &digest_owned, wanted.as_deref()).await.map(|(list, mode)| (Arc::new(list), mode))
            })
            .await
            .map_err(|e| (*e).clone())?;
        Ok((list.as_ref().clone(), mode))
    }

    async fn list_referrers(&self, repo: &RepoName, digest: &str, artifact_type: Option<&str>) -> Result<(Vec<Referrer>, ReferrersMode)> {
        let subject = parse_digest(digest)?;
        let api = match self.has_referrers_api(repo).await? {
            false => None,
            true => match self.referrers_api(repo, digest, artifact_type).await {
                Ok(found) => Some(found),
                Err(e) if no_api(&e) => {
                    self.inner.referrers_api.insert(repo.as_str().to_owned(), false).await;
                    None
                }
                Err(e) => return Err(e),
            },
        };
        let (mut found, mode) = match api {
            Some(found) => (found, ReferrersMode::Api),
            None => (self.referrers_fallback(repo, &fallback_tag(&subject)).await?, ReferrersMode::FallbackTag),
        };
        if let Some(wanted) = artifact_type {
            found.retain(|r| r.artifact_type().as_deref() == Some(wanted));
        }
        let legacy = futures::future::join_all(LEGACY_SUFFIXES.iter().map(|suffix| self.legacy_referrer(repo, &subject, suffix))).await;
        let mut seen: HashSet<String> = found.iter().map(Referrer::digest).collect();
        for referrer in legacy {
            if let Some(r) = referrer?
                && artifact_type.is_none_or(|w| r.artifact_type().as_deref() == Some(w))
                && seen.insert(r.digest())
            {
                found.push(r);
            }
        }
        Ok((found, mode))
    }

    async fn referrers_api(&self, repo: &RepoName, digest: &str, artifact_type: Option<&str>) -> Result<Vec<Referrer>> {
        let mut url = self.v2_url(&format!("{repo}/referrers/{digest}"));
        if let Some(t) = artifact_type {
            url.query_pairs_mut().append_pair("artifactType", t);
        }
        let limits = self.inner.limits;
        let what = format!("the referrers of {repo}@{digest}");
        let mut found = Vec::new();
        let mut visited = HashSet::new();
        let (mut bytes_read, mut dropped) = (0u64, 0usize);
        for page_number in 0.. {
            if page_number == limits.referrer_pages {
                return Err(Error::new(
                    ErrorKind::TooLarge,
                    format!("{what}: the registry pages on past {} pages; Portolan stops there", limits.referrer_pages),
                ));
            }
            visited.insert(url.to_string());
            let request =
                Request::new(Method::GET, url.clone(), Scope::repository(repo.as_str(), &["pull"]), what.clone()).accept(media::OCI_INDEX);
            let budget = limits.referrers_bytes.saturating_sub(bytes_read);
            let body = match self.fetch_raw(&request, budget.min(INDEX_CAP)).await {
                Err(e) if e.kind() == ErrorKind::TooLarge && budget < INDEX_CAP => {
                    return Err(Error::new(
                        ErrorKind::TooLarge,
                        format!(
                            "{what}: the referrers listing is larger than {} in all; Portolan reads at most that much",
                            crate::transport::human_bytes(limits.referrers_bytes)
                        ),
                    ));
                }
                body => body?,
            };
            bytes_read += body.bytes.len() as u64;
            if let Some(content_type) = body.header("content-type")
                && !media::base(content_type).contains("json")
            {
                // Some registries answer an unknown route with an HTML or text page and 200.
                return Err(Error::new(ErrorKind::NotFound, "no referrers API (the answer is not an index)"));
            }
            let index: ImageIndex = serde_json::from_slice(&body.bytes)
                .map_err(|e| Error::bad_response(format!("{}: not an image index ({e})", request.what)))?;
            // Whether or not `OCI-Filters-Applied` says the registry filtered, `referrers()`
            // filters again: registries that ignore `artifactType` are common.
            found.extend(usable(index.manifests(), &ReferrerSource::Api, &mut dropped));
            if found.len() > limits.max_referrers {
                return Err(too_many_referrers(&what, limits.max_referrers));
            }
            let next = match body.header("link").and_then(|l| next_link(l, &url)) {
                Some(next) => Some(self.inner.transport.check_next_page(next, &what)?),
                None => None,
            };
            match next {
                Some(next) if !visited.contains(next.as_str()) => url = next,
                _ => break,
            }
        }
        if dropped > 0 {
            tracing::debug!(%repo, %digest, dropped, "referrers with digests Portolan cannot verify were left out");
        }
        Ok(found)
    }

    async fn referrers_fallback(&self, repo: &RepoName, tag: &str) -> Result<Vec<Referrer>> {
        let tag = Tag::parse(tag)?;
        if !self.may_have_tag(repo, tag.as_str()).await {
            return Ok(Vec::new());
        }
        let doc = match self.manifest(repo, &Reference::Tag(tag.clone())).await {
            Ok(doc) => doc,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        match doc.manifest() {
            Ok(Manifest::Index(index)) => {
                let mut dropped = 0;
                let found = usable(index.manifests(), &ReferrerSource::FallbackTag, &mut dropped);
                if dropped > 0 {
                    tracing::debug!(%repo, %tag, dropped, "referrers with digests Portolan cannot verify were left out");
                }
                if found.len() > self.inner.limits.max_referrers {
                    return Err(too_many_referrers(&format!("the fallback referrers index {repo}:{tag}"), self.inner.limits.max_referrers));
                }
                Ok(found)
            }
            Ok(Manifest::Image(_)) => {
                tracing::warn!(%repo, "the fallback referrers tag holds an image, not an index; ignored");
                Ok(Vec::new())
            }
            Err(e) => Err(e.with_context("the fallback referrers index")),
        }
    }

    async fn legacy_referrer(&self, repo: &RepoName, subject: &oci_spec::image::Digest, suffix: &str) -> Result<Option<Referrer>> {
        let Ok(tag) = Tag::parse(&format!("{}.{suffix}", fallback_tag(subject))) else {
            return Ok(None);
        };
        if !self.may_have_tag(repo, tag.as_str()).await {
            return Ok(None);
        }
        let doc = match self.manifest(repo, &Reference::Tag(tag)).await {
            Ok(doc) => doc,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let artifact_type = match doc.manifest() {
            Ok(Manifest::Image(m)) => m
                .artifact_type()
                .as_ref()
                .map(ToString::to_string)
                .or_else(|| m.layers().first().map(|l| l.media_type().to_string()))
                .unwrap_or_else(|| legacy_default_type(suffix).to_owned()),
            _ => legacy_default_type(suffix).to_owned(),
        };
        let digest = parse_digest(&doc.digest)?;
        let mut descriptor = Descriptor::new(MediaType::from(doc.media_type.as_str()), doc.size(), digest);
        descriptor.set_artifact_type(Some(MediaType::from(artifact_type.as_str())));
        Ok(Some(Referrer { descriptor, source: ReferrerSource::CosignTag(suffix.to_owned()) }))
    }

    /// Whether `tag` may exist: false only when the repository's tag list is cached and lacks it.
    /// Browsing lists a repository's tags first, so the fallback and legacy tags of every artifact
    /// on a page are then checked here instead of with a request each (3 or 4 per artifact).
    async fn may_have_tag(&self, repo: &RepoName, tag: &str) -> bool {
        let Some(list) = self.inner.tag_lists.get(repo.as_str()).await else { return true };
        // One set per cached list, made once however many ask at the same time.
        let set = self
            .inner
            .tag_sets
            .entry(repo.as_str().to_owned())
            .or_insert_with_if(async { Arc::new(crate::client::TagSet::new(list.clone())) }, |s| !Arc::ptr_eq(&s.list, &list))
            .await
            .into_value();
        set.may_contain(tag)
    }

    /// The whole referrer graph below `digest` (see [`walk_graph`]).
    pub async fn referrer_graph(&self, repo: &RepoName, digest: &str, max_nodes: usize) -> Result<ReferrerGraph> {
        walk_graph(self, repo, digest, max_nodes).await
    }
}

/// Subjects whose referrers a graph walk lists at once.
const LIST_FAN_OUT: usize = 8;

/// The whole referrer graph below `digest`: referrers, their referrers, and so on, each node
/// once (cycles and duplicates are harmless), at most `max_nodes` nodes, one level at a time.
pub async fn walk_graph(verbs: &(impl RegistryVerbs + ?Sized), repo: &RepoName, digest: &str, max_nodes: usize) -> Result<ReferrerGraph> {
    parse_digest(digest)?;
    let mut graph = ReferrerGraph { root: digest.to_owned(), nodes: Vec::new(), edges: Vec::new(), truncated: false, mode: None };
    let mut known: HashMap<String, usize> = HashMap::new();
    let mut frontier: VecDeque<(String, usize)> = VecDeque::from([(digest.to_owned(), 0)]);
    let mut expanded = HashSet::new();
    while !frontier.is_empty() && !graph.truncated {
        // One level at a time, a few subjects listed at once, each list taken as it comes (not
        // a whole level of lists held); once the graph is full, nothing more is listed.
        let level: Vec<(String, usize)> = frontier.drain(..).filter(|(d, _)| expanded.insert(d.clone())).collect();
        let mut lists = futures::stream::iter(level)
            .map(|(subject, depth)| async move {
                let list = verbs.referrers(repo, &subject, None).await;
                (subject, depth, list)
            })
            .buffered(LIST_FAN_OUT);
        while let Some((subject, depth, list)) = lists.next().await {
            let (referrers, mode) = list?;
            graph.mode.get_or_insert(mode);
            for r in referrers {
                let child = r.digest();
                // Edges only between drawn nodes: a subject with thousands of referrers past
                // the cap adds none.
                if child == graph.root || known.contains_key(&child) {
                    graph.edges.push((subject.clone(), child));
                    continue;
                }
                if graph.nodes.len() >= max_nodes {
                    graph.truncated = true;
                    break;
                }
                known.insert(child.clone(), graph.nodes.len());
                graph.nodes.push(GraphNode { subject: subject.clone(), depth: depth + 1, referrer: r });
                graph.edges.push((subject.clone(), child.clone()));
                frontier.push_back((child, depth + 1));
            }
            if graph.truncated {
                break;
            }
        }
    }
    graph.edges.sort();
    graph.edges.dedup();
    Ok(graph)
}

fn legacy_default_type(suffix: &str) -> &'static str {
    match suffix {
        "sig" => media::COSIGN_SIMPLESIGNING,
        "att" => media::DSSE_ENVELOPE,
        _ => "application/vnd.dev.cosign.sbom",
    }
}

/// Answers that mean "this registry has no referrers API" (GHCR and distribution answer 404,
/// sometimes in plain text; others 400, 405 or 501).
fn no_api(e: &Error) -> bool {
    matches!(e.kind(), ErrorKind::NotFound | ErrorKind::Unsupported) || matches!(e.status(), Some(400 | 405 | 501))
}

/// A node of the referrer graph: a referrer, and the subject it refers to.
#[derive(Clone, Debug, PartialEq)]
pub struct GraphNode {
    pub subject: String,
    pub depth: usize,
    pub referrer: Referrer,
}

/// The referrers of a root manifest, recursively.
#[derive(Clone, Debug, PartialEq)]
pub struct ReferrerGraph {
    pub root: String,
    pub nodes: Vec<GraphNode>,
    /// (subject, referrer) pairs.
    pub edges: Vec<(String, String)>,
    /// More nodes existed than were walked.
    pub truncated: bool,
    /// How the registry lists referrers (None if there was nothing to ask).
    pub mode: Option<ReferrersMode>,
}

/// With the in-memory registry (the `memory` feature, which the workspace's tests turn on).
#[cfg(all(test, feature = "memory"))]
mod tests {
    use portolan_testkit::runner::run;

    use super::*;
    use crate::memory::MemoryRegistry;

    #[test]
    fn a_full_graph_stops_listing_and_draws_edges_only_between_its_nodes() {
        run(async {
            let reg = MemoryRegistry::new();
            let config = serde_json::json!({"os": "linux", "architecture": "amd64"});
            let root = reg.put_image("a", &["1.0"], &config, b"root", None);
            let sig = |n: usize, subject: &str| {
                reg.put_artifact(
                    "a",
                    &[],
                    "application/vnd.oci.empty.v1+json",
                    &serde_json::json!({}),
                    format!("sig {n} of {subject}").as_bytes(),
                    Some("application/vnd.dev.cosign.artifact.sig.v1+json"),
                    Some((subject, 1)),
                )
            };
            let firsts: Vec<String> = (0..10).map(|n| sig(n, &root)).collect();
            for f in &firsts {
                sig(0, f);
            }
            let repo = RepoName::parse("a").unwrap();
            let whole = walk_graph(&reg, &repo, &root, 100).await.unwrap();
            assert_eq!((whole.nodes.len(), whole.edges.len(), whole.truncated), (20, 20, false));
            let capped = walk_graph(&reg, &repo, &root, 4).await.unwrap();
            assert_eq!(capped.nodes.len(), 4);
            assert!(capped.truncated);
            let drawn: HashSet<String> = capped.nodes.iter().map(|n| n.referrer.digest()).chain(std::iter::once(root.clone())).collect();
            assert!(!capped.edges.is_empty());
            for (from, to) in &capped.edges {
                assert!(drawn.contains(from) && drawn.contains(to), "{from} → {to} leaves the graph");
            }
        })
    }
}
