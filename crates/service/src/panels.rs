//! Panels for the artifacts Portolan understands: Helm charts, SBOMs (SPDX, CycloneDX, Syft),
//! signatures (cosign, sigstore bundles, Notary Project) and in-toto attestations. A panel reads
//! the blobs it needs; when it cannot, it says why and the rest of the page still shows.

use std::io::Read;

use base64::Engine;
use portolan_oci::spec::Descriptor;
use portolan_oci::{ArtifactKind, Manifest, RepoName, media};
use serde_json::Value;

use crate::Registry;
use crate::artifact::sorted_annotations;
use crate::json::{Links, render};
use portolan_model::Panel;

/// values.yaml beyond this is cut.
const VALUES_CAP: usize = 64 * 1024;
/// A chart archive is inflated at most this far, and read at most this many entries deep,
/// looking for values.yaml: a gzip bomb costs no more.
const INFLATE_CAP: u64 = 32 * 1024 * 1024;
const ENTRY_CAP: usize = 10_000;
/// Packages listed by name in an SBOM panel.
const TOP_PACKAGES: usize = 25;

pub async fn panel(registry: &Registry, repo: &RepoName, manifest: &Manifest, kind: ArtifactKind, links: &Links<'_>) -> Option<Panel> {
    let Manifest::Image(m) = manifest else {
        return None;
    };
    let result = match kind {
        ArtifactKind::HelmChart => helm(registry, repo, m.config(), m.layers()).await,
        ArtifactKind::Sbom => sbom(registry, repo, m.layers()).await,
        ArtifactKind::Signature => signature(registry, repo, manifest, m.layers(), links).await,
        ArtifactKind::Attestation | ArtifactKind::BuildAttestation => attestation(registry, repo, m.layers(), links).await,
        _ => return None,
    };
    Some(result.unwrap_or_else(|(title, reason)| Panel::Unavailable { title: title.to_owned(), reason }))
}

type PanelResult = Result<Panel, (&'static str, String)>;

async fn read(registry: &Registry, repo: &RepoName, d: &Descriptor, title: &'static str) -> Result<bytes::Bytes, (&'static str, String)> {
    registry.client.blob(repo, d.digest().as_ref(), None).await.map_err(|e| (title, e.message().to_owned()))
}

/// Parses a layer as JSON off the async runtime (an SBOM can be many megabytes).
async fn json_of(bytes: bytes::Bytes) -> Result<Value, String> {
    tokio::task::spawn_blocking(move || serde_json::from_slice::<Value>(&bytes).map_err(|e| e.to_string()))
        .await
        .unwrap_or_else(|e| Err(format!("reading it failed ({e})")))
}

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_owned)
}

async fn helm(registry: &Registry, repo: &RepoName, config: &Descriptor, layers: &[Descriptor]) -> PanelResult {
    const T: &str = "Helm chart";
    let config: Value =
        serde_json::from_slice(&read(registry, repo, config, T).await?).map_err(|e| (T, format!("the chart config is not JSON ({e})")))?;
    let chart = layers.iter().find(|l| l.media_type().to_string() == media::HELM_CHART);
    let (values_yaml, values_truncated) = match chart {
        Some(layer) => {
            let bytes = read(registry, repo, layer, T).await?;
            // Inflating is CPU work: off the async runtime.
            let values =
                tokio::task::spawn_blocking(move || values_of(&bytes)).await.map_err(|e| (T, format!("reading the chart failed ({e})")))?;
            match values.map_err(|reason| (T, reason))? {
                Some(v) if v.len() > VALUES_CAP => (Some(v.chars().take(VALUES_CAP).collect()), true),
                other => (other, false),
            }
        }
        None => (None, false),
    };
    Ok(Panel::Helm {
        name: text(&config, "name").unwrap_or_default(),
        version: text(&config, "version").unwrap_or_default(),
        app_version: text(&config, "appVersion"),
        description: text(&config, "description"),
        chart_type: text(&config, "type"),
        values_yaml,
        values_truncated,
    })
}

/// The chart's top-level `values.yaml` (`<chart>/values.yaml`) from its .tgz, inflating at
/// most [`INFLATE_CAP`] bytes and [`ENTRY_CAP`] entries. `Ok(None)`: the chart has none.
fn values_of(tgz: &[u8]) -> Result<Option<String>, String> {
    let inflated = flate2::read::GzDecoder::new(tgz).take(INFLATE_CAP);
    let mut archive = tar::Archive::new(inflated);
    let entries = archive.entries().map_err(|e| format!("the chart is not a tar.gz archive ({e})"))?;
    for (n, entry) in entries.enumerate() {
        if n >= ENTRY_CAP {
            return Err(format!("the chart archive has more than {ENTRY_CAP} entries; values.yaml was not found among them"));
        }
        let Ok(mut entry) = entry else {
            return Err(format!("the chart archive is broken or inflates to more than {} MiB", INFLATE_CAP / 1024 / 1024));
        };
        let Ok(path) = entry.path().map(|p| p.to_string_lossy().into_owned()) else { continue };
        let parts: Vec<&str> = path.trim_start_matches("./").split('/').collect();
        if parts.len() == 2 && parts[1] == "values.yaml" {
            let mut bytes = Vec::new();
            entry.by_ref().take(4 * 1024 * 1024).read_to_end(&mut bytes).map_err(|e| format!("reading values.yaml: {e}"))?;
            return Ok(Some(String::from_utf8_lossy(&bytes).into_owned()));
        }
    }
    Ok(None)
}

async fn sbom(registry: &Registry, repo: &RepoName, layers: &[Descriptor]) -> PanelResult {
    const T: &str = "SBOM";
    let layer = layers
        .iter()
        .find(|l| media::kind_of_type(l.media_type().as_ref()) == Some(ArtifactKind::Sbom))
        .or_else(|| layers.first())
        .ok_or((T, "the SBOM has no layer".to_owned()))?;
    let bytes = read(registry, repo, layer, T).await?;
    let doc = json_of(bytes).await.map_err(|e| (T, format!("the SBOM is not JSON ({e}); only JSON SBOMs are summarised")))?;
    let doc = unwrap_statement(doc);
    let (format, spec_version, name, list): SbomSummary = if doc.get("spdxVersion").is_some() {
        let pkgs = items(&doc, "packages", "name", "versionInfo");
        ("SPDX".into(), text(&doc, "spdxVersion"), text(&doc, "name"), pkgs)
    } else if doc.get("bomFormat").and_then(Value::as_str) == Some("CycloneDX") {
        let name = doc.pointer("/metadata/component/name").and_then(Value::as_str).map(str::to_owned);
        ("CycloneDX".into(), text(&doc, "specVersion"), name, items(&doc, "components", "name", "version"))
    } else if doc.get("artifacts").is_some() {
        let version = doc.pointer("/schema/version").and_then(Value::as_str).map(str::to_owned);
        let name = doc.pointer("/source/metadata/userInput").and_then(Value::as_str).map(str::to_owned);
        ("Syft".into(), version, name, items(&doc, "artifacts", "name", "version"))
    } else {
        return Err((T, "an SBOM in a format Portolan does not summarise (SPDX, CycloneDX and Syft JSON are)".into()));
    };
    let package_count = list.len();
    let mut packages = list;
    packages.sort();
    packages.dedup();
    packages.truncate(TOP_PACKAGES);
    Ok(Panel::Sbom { format, spec_version, name, package_count, packages })
}

/// (format, spec version, document name, packages).
type SbomSummary = (String, Option<String>, Option<String>, Vec<(String, String)>);

fn items(doc: &Value, list: &str, name: &str, version: &str) -> Vec<(String, String)> {
    doc.get(list)
        .and_then(Value::as_array)
        .map(|a| a.iter().map(|p| (text(p, name).unwrap_or_default(), text(p, version).unwrap_or_default())).collect())
        .unwrap_or_default()
}

/// An in-toto statement whose predicate is the document (SBOM attestations): the predicate.
fn unwrap_statement(doc: Value) -> Value {
    if doc.get("_type").is_some()
        && let Some(p) = doc.get("predicate")
    {
        return p.clone();
    }
    doc
}

/// A DSSE envelope's decoded payload, or the document itself.
fn open_envelope(doc: Value) -> Value {
    if let (Some(payload), Some(_)) = (doc.get("payload").and_then(Value::as_str), doc.get("payloadType")) {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(payload)
            .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload));
        if let Ok(bytes) = decoded
            && let Ok(inner) = serde_json::from_slice::<Value>(&bytes)
        {
            return inner;
        }
    }
    doc
}

async fn signature(registry: &Registry, repo: &RepoName, manifest: &Manifest, layers: &[Descriptor], links: &Links<'_>) -> PanelResult {
    const T: &str = "Signature";
    let artifact_type = manifest.artifact_type().unwrap_or_default();
    let layer = layers.first().ok_or((T, "the signature has no layer".to_owned()))?;
    let layer_type = layer.media_type().to_string();
    let mut annotations = sorted_annotations(layer.annotations().as_ref());
    annotations.extend(sorted_annotations(manifest.annotations()));
    let bytes = read(registry, repo, layer, T).await?;
    let json: Option<Value> = json_of(bytes).await.ok();
    let (format, signed_digest, payload) = if layer_type == media::COSIGN_SIMPLESIGNING {
        let signed =
            json.as_ref().and_then(|p| p.pointer("/critical/image/docker-manifest-digest")).and_then(Value::as_str).map(str::to_owned);
        ("cosign (simple signing)".to_owned(), signed, json)
    } else if layer_type.starts_with(media::SIGSTORE_BUNDLE_PREFIX) || artifact_type.starts_with(media::SIGSTORE_BUNDLE_PREFIX) {
        let signed = json
            .as_ref()
            .and_then(|b| b.pointer("/messageSignature/messageDigest/digest"))
            .and_then(Value::as_str)
            .map(|hex| if hex.contains(':') { hex.to_owned() } else { format!("sha256:{hex}") });
        ("sigstore bundle".to_owned(), signed, json)
    } else if artifact_type == media::NOTARY_SIGNATURE {
        // A JWS in JSON serialisation: its payload names the target artifact.
        let payload = json
            .as_ref()
            .and_then(|jws| jws.get("payload"))
            .and_then(Value::as_str)
            .and_then(|p| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(p).ok())
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok());
        let signed = payload.as_ref().and_then(|p| p.pointer("/targetArtifact/digest")).and_then(Value::as_str).map(str::to_owned);
        let format = if layer_type.contains("cose") { "Notary Project (COSE)" } else { "Notary Project (JWS)" };
        (format.to_owned(), signed, payload.or(json))
    } else {
        ("signature".to_owned(), None, json)
    };
    let signed_digest = signed_digest.or_else(|| manifest.subject().map(|s| s.digest().to_string()));
    Ok(Panel::Signature { format, signed_digest, payload: payload.map(|p| render(&p, links)), annotations })
}

async fn attestation(registry: &Registry, repo: &RepoName, layers: &[Descriptor], links: &Links<'_>) -> PanelResult {
    const T: &str = "Attestation";
    let layer = layers
        .iter()
        .find(|l| media::kind_of_type(l.media_type().as_ref()) == Some(ArtifactKind::Attestation))
        .or_else(|| layers.first())
        .ok_or((T, "the attestation has no layer".to_owned()))?;
    let bytes = read(registry, repo, layer, T).await?;
    let doc = json_of(bytes).await.map_err(|e| (T, format!("the statement is not JSON ({e})")))?;
    let statement = open_envelope(doc);
    let subjects = statement
        .get("subject")
        .and_then(Value::as_array)
        .map(|s| {
            s.iter()
                .map(|x| {
                    let digest = x
                        .get("digest")
                        .and_then(Value::as_object)
                        .and_then(|d| d.iter().next())
                        .map(|(alg, hex)| format!("{alg}:{}", hex.as_str().unwrap_or_default()))
                        .unwrap_or_default();
                    (text(x, "name").unwrap_or_default(), digest)
                })
                .collect()
        })
        .unwrap_or_default();
    let predicate_type = text(&statement, "predicateType")
        .or_else(|| layer.annotations().as_ref().and_then(|a| a.get("in-toto.io/predicate-type")).cloned());
    Ok(Panel::Attestation {
        predicate_type,
        statement_type: text(&statement, "_type"),
        subjects,
        predicate: statement.get("predicate").map(|p| render(p, links)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_values_yaml_at_the_chart_root_only() {
        let mut tar = tar::Builder::new(Vec::new());
        for (path, body) in
            [("demo/Chart.yaml", "name: demo\n"), ("demo/charts/sub/values.yaml", "sub: 1\n"), ("demo/values.yaml", "replicas: 2\n")]
        {
            let mut h = tar::Header::new_gnu();
            h.set_size(body.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            tar.append_data(&mut h, path, body.as_bytes()).unwrap();
        }
        let raw = tar.into_inner().unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &raw).unwrap();
        assert_eq!(values_of(&gz.finish().unwrap()).unwrap().as_deref(), Some("replicas: 2\n"));
        assert!(values_of(b"not a tarball").is_err());
    }

    #[test]
    fn a_gzip_bomb_is_not_inflated_past_the_cap() {
        // 256 MiB of zeros as one tar entry, gzipped to a few hundred kilobytes.
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let mut header = tar::Header::new_gnu();
        header.set_path("bomb/zeros").unwrap();
        header.set_size(256 << 20);
        header.set_mode(0o644);
        header.set_cksum();
        std::io::Write::write_all(&mut gz, header.as_bytes()).unwrap();
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..256 {
            std::io::Write::write_all(&mut gz, &zeros).unwrap();
        }
        let bomb = gz.finish().unwrap();
        assert!(bomb.len() < 8 << 20, "{}", bomb.len());
        let started = std::time::Instant::now();
        let answer = values_of(&bomb);
        assert!(answer.is_err() || answer.as_ref().is_ok_and(Option::is_none), "{answer:?}");
        // Stopping at 32 MiB of inflation, not 256.
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "{:?}", started.elapsed());
    }

    #[test]
    fn envelopes_and_statements_are_opened() {
        let statement = serde_json::json!({"_type": "https://in-toto.io/Statement/v1", "predicateType": "x", "predicate": {"a": 1}});
        let payload = base64::engine::general_purpose::STANDARD.encode(serde_json::to_vec(&statement).unwrap());
        let envelope = serde_json::json!({"payloadType": "application/vnd.in-toto+json", "payload": payload, "signatures": []});
        assert_eq!(open_envelope(envelope), statement);
        assert_eq!(unwrap_statement(statement), serde_json::json!({"a": 1}));
        assert_eq!(open_envelope(serde_json::json!({"x": 1})), serde_json::json!({"x": 1}));
    }
}
