//! The floors benchmarks compare against: the registry requests a piece of Portolan needs,
//! made by a bare HTTP loop (a plain reqwest client: no cache, no auth logic, no retries, no
//! parsing beyond what the answer must say).

use futures::StreamExt;

/// Each tag's digest by a manifest HEAD (with Portolan's Accept header), `concurrency` at a
/// time; None for a tag whose answer had no digest. In no particular order.
pub async fn head_digests(http: &reqwest::Client, url: &str, repo: &str, tags: &[String], concurrency: usize) -> Vec<Option<String>> {
    futures::stream::iter(tags.iter())
        .map(|t| async move {
            let r = http
                .head(format!("{url}/v2/{repo}/manifests/{t}"))
                .header("accept", portolan_oci::media::MANIFEST_ACCEPT)
                .send()
                .await
                .ok()?;
            r.headers().get("docker-content-digest").and_then(|v| v.to_str().ok()).map(str::to_owned)
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await
}
