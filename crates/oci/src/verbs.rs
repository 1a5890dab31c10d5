//! The registry verbs Portolan uses, behind one trait: [`Client`] implements them against a
//! real registry; [`crate::memory::MemoryRegistry`] (feature `memory`) in memory, so router
//! tests can drive every server function at every role without starting registries.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;

use crate::capabilities::Capabilities;
use crate::client::{CatalogPage, Client, Resolved};
use crate::config::ClientConfig;
use crate::delete::{DeletedManifest, DeletedTag};
use crate::error::Result;
use crate::manifest::ManifestDoc;
use crate::name::{Reference, RepoName, Tag};
use crate::referrers::{Referrer, ReferrerGraph, ReferrersMode};

/// What Portolan asks of a registry, one verb each.
#[async_trait]
pub trait RegistryVerbs: Send + Sync + 'static {
    /// `GET /v2/`: is it a registry, and do Portolan's credentials work?
    async fn ping(&self) -> Result<()>;
    /// One page of the catalog: at most `n` repositories after `last`.
    async fn catalog_page(&self, n: usize, last: Option<&str>) -> Result<CatalogPage>;
    /// Every tag of a repository (cached for the tag TTL).
    async fn tags(&self, repo: &RepoName) -> Result<Arc<Vec<String>>>;
    /// Where a tag or digest points (a manifest HEAD).
    async fn resolve(&self, repo: &RepoName, reference: &Reference) -> Result<Resolved>;
    /// Where a tag or digest points right now, asked of the registry whatever is cached; None
    /// when it does not exist. For checks that must not trust a cache (settling a delete that
    /// was interrupted).
    async fn resolve_now(&self, repo: &RepoName, reference: &Reference) -> Result<Option<Resolved>> {
        match self.resolve(repo, reference).await {
            Ok(resolved) => Ok(Some(resolved)),
            Err(e) if e.kind() == crate::error::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
    /// A manifest by tag or digest, its bytes verified.
    async fn manifest(&self, repo: &RepoName, reference: &Reference) -> Result<ManifestDoc>;
    /// A blob read whole, at most `cap` bytes (default: the configured blob cap), verified.
    async fn blob(&self, repo: &RepoName, digest: &str, cap: Option<u64>) -> Result<Bytes>;
    /// A blob's size (a HEAD): `Err(NotFound)` when the registry no longer has it.
    async fn blob_size(&self, repo: &RepoName, digest: &str) -> Result<Option<u64>>;
    /// The referrers of a manifest (API, fallback tag, cosign legacy tags).
    async fn referrers(&self, repo: &RepoName, digest: &str, artifact_type: Option<&str>) -> Result<(Vec<Referrer>, ReferrersMode)>;
    /// The referrers of a manifest, recursively, at most `max_nodes`.
    async fn referrer_graph(&self, repo: &RepoName, digest: &str, max_nodes: usize) -> Result<ReferrerGraph>;
    /// What the registry lets Portolan do in a repository (probed without side effects), and how
    /// a tag would be deleted there ([`Capabilities::tag_delete`]).
    async fn capabilities(&self, repo: &RepoName) -> Result<Capabilities>;
    /// Deletes a tag alone, by the method `capabilities` reports; with `expected`, only while it
    /// still points there.
    async fn delete_tag(&self, repo: &RepoName, tag: &Tag, expected: Option<&str>) -> Result<DeletedTag>;
    /// Deletes a manifest by digest (and so every tag on it).
    async fn delete_manifest(&self, repo: &RepoName, digest: &str) -> Result<DeletedManifest>;
    /// Stores a manifest under a tag or its digest; returns its digest.
    async fn put_manifest(&self, repo: &RepoName, reference: &Reference, media_type: &str, bytes: Bytes) -> Result<String>;
    /// Forgets what is cached about a repository's tags (after a change).
    async fn invalidate_repo(&self, repo: &RepoName);
    /// Whether what a page was built from is all still cached, so building it again now would
    /// give the same page: `list` is still the cached tag list, each (tag, digest) of `resolved`
    /// still resolves to that digest, and each digest's referrers are still listed. Asks the
    /// registry nothing. Without caches: false.
    async fn still_cached(&self, repo: &RepoName, list: &Arc<Vec<String>>, resolved: &[(String, String)]) -> bool {
        let _ = (repo, list, resolved);
        false
    }
    /// The client's settings (limits, TTLs).
    fn settings(&self) -> &ClientConfig;
    /// What the content cache holds: (entries, bytes) — for metrics.
    fn cache_usage(&self) -> (u64, u64) {
        (0, 0)
    }
}

/// Fetches the manifests `children` name (an index's entries), at most
/// [`MAX_INDEX_CHILDREN`](crate::client::MAX_INDEX_CHILDREN) of them and
/// [`INDEX_FAN_OUT`](crate::client::INDEX_FAN_OUT) at a time, in order, and reduces each as it
/// arrives with `keep` (so no more than the fan-out of whole manifests is held at once): one
/// answer per child fetched. An index can name any number of children, so callers must not
/// fetch them all at once; `children.len() > answers.len()` tells that some were left out.
pub async fn index_children<'a, V: RegistryVerbs + ?Sized, T>(
    verbs: &V,
    repo: &RepoName,
    children: impl IntoIterator<Item = &'a oci_spec::image::Descriptor>,
    keep: impl Fn(Result<ManifestDoc>) -> T + Sync,
) -> Vec<T> {
    use futures::StreamExt;
    let references: Vec<Reference> =
        children.into_iter().take(crate::client::MAX_INDEX_CHILDREN).map(|d| Reference::Digest(d.digest().clone())).collect();
    // Owned references in `async move` blocks: a closure over borrowed ones makes the future
    // not `Send` for callers that need it to be.
    let keep = &keep;
    let reads: Vec<_> = references.into_iter().map(|r| async move { keep(verbs.manifest(repo, &r).await) }).collect();
    futures::stream::iter(reads).buffered(crate::client::INDEX_FAN_OUT).collect().await
}

#[async_trait]
impl RegistryVerbs for Client {
    async fn ping(&self) -> Result<()> {
        Client::ping(self).await
    }
    async fn catalog_page(&self, n: usize, last: Option<&str>) -> Result<CatalogPage> {
        Client::catalog_page(self, n, last).await
    }
    async fn tags(&self, repo: &RepoName) -> Result<Arc<Vec<String>>> {
        Client::tags(self, repo).await
    }
    async fn resolve(&self, repo: &RepoName, reference: &Reference) -> Result<Resolved> {
        Client::resolve(self, repo, reference).await
    }
    async fn resolve_now(&self, repo: &RepoName, reference: &Reference) -> Result<Option<Resolved>> {
        Client::resolve_now(self, repo, reference).await
    }
    async fn manifest(&self, repo: &RepoName, reference: &Reference) -> Result<ManifestDoc> {
        Client::manifest(self, repo, reference).await
    }
    async fn blob(&self, repo: &RepoName, digest: &str, cap: Option<u64>) -> Result<Bytes> {
        Client::blob(self, repo, digest, cap).await
    }
    async fn blob_size(&self, repo: &RepoName, digest: &str) -> Result<Option<u64>> {
        Client::blob_size(self, repo, digest).await
    }
    async fn referrers(&self, repo: &RepoName, digest: &str, artifact_type: Option<&str>) -> Result<(Vec<Referrer>, ReferrersMode)> {
        Client::referrers(self, repo, digest, artifact_type).await
    }
    async fn referrer_graph(&self, repo: &RepoName, digest: &str, max_nodes: usize) -> Result<ReferrerGraph> {
        Client::referrer_graph(self, repo, digest, max_nodes).await
    }
    async fn capabilities(&self, repo: &RepoName) -> Result<Capabilities> {
        Client::capabilities(self, repo).await
    }
    async fn delete_tag(&self, repo: &RepoName, tag: &Tag, expected: Option<&str>) -> Result<DeletedTag> {
        Client::delete_tag(self, repo, tag, expected).await
    }
    async fn delete_manifest(&self, repo: &RepoName, digest: &str) -> Result<DeletedManifest> {
        Client::delete_manifest(self, repo, digest).await
    }
    async fn put_manifest(&self, repo: &RepoName, reference: &Reference, media_type: &str, bytes: Bytes) -> Result<String> {
        Client::put_manifest(self, repo, reference, media_type, bytes).await
    }
    async fn invalidate_repo(&self, repo: &RepoName) {
        Client::invalidate_repo(self, repo).await
    }
    async fn still_cached(&self, repo: &RepoName, list: &Arc<Vec<String>>, resolved: &[(String, String)]) -> bool {
        Client::still_cached(self, repo, list, resolved).await
    }
    fn settings(&self) -> &ClientConfig {
        self.config()
    }
    fn cache_usage(&self) -> (u64, u64) {
        Client::cache_usage(self)
    }
}
