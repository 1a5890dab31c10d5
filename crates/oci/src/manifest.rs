//! Manifests as fetched: their bytes (kept, so a broken one can still be shown), their digest,
//! and their parsed form where they parse — leniently about what real registries serve.

use bytes::Bytes;
use oci_spec::image::{Descriptor, ImageIndex, ImageManifest};
use serde_json::Value;
use sha2::{Digest as _, Sha256, Sha512};

use crate::error::{Error, ErrorKind, Result};
use crate::media::{self, ArtifactKind};

/// A parsed manifest: a single image/artifact, or an index.
#[derive(Clone, Debug, PartialEq)]
pub enum Manifest {
    Image(Box<ImageManifest>),
    Index(Box<ImageIndex>),
}

impl Manifest {
    /// The `subject` this manifest refers to, if it is a referrer.
    pub fn subject(&self) -> Option<&Descriptor> {
        match self {
            Manifest::Image(m) => m.subject().as_ref(),
            Manifest::Index(i) => i.subject().as_ref(),
        }
    }

    pub fn artifact_type(&self) -> Option<String> {
        match self {
            Manifest::Image(m) => m.artifact_type().as_ref().map(ToString::to_string),
            Manifest::Index(i) => i.artifact_type().as_ref().map(ToString::to_string),
        }
    }

    pub fn annotations(&self) -> Option<&std::collections::HashMap<String, String>> {
        match self {
            Manifest::Image(m) => m.annotations().as_ref(),
            Manifest::Index(i) => i.annotations().as_ref(),
        }
    }

    /// What kind of artifact this is.
    pub fn kind(&self, media_type: &str) -> ArtifactKind {
        match self {
            Manifest::Index(_) => ArtifactKind::Index,
            Manifest::Image(m) => {
                let config = m.config().media_type().to_string();
                let layers: Vec<String> = m.layers().iter().map(|l| l.media_type().to_string()).collect();
                let layers: Vec<&str> = layers.iter().map(String::as_str).collect();
                ArtifactKind::classify(media_type, self.artifact_type().as_deref(), Some(&config), &layers)
            }
        }
    }
}

/// A manifest as the registry served it.
#[derive(Clone, Debug)]
pub struct ManifestDoc {
    /// The digest of `bytes` (computed here, checked against the registry's header).
    pub digest: String,
    pub media_type: String,
    pub bytes: Bytes,
    /// The parsed manifest, or why it does not parse (the bytes are still there to show).
    pub parsed: std::result::Result<Manifest, Error>,
}

impl ManifestDoc {
    pub fn manifest(&self) -> Result<&Manifest> {
        self.parsed.as_ref().map_err(Clone::clone)
    }

    pub fn size(&self) -> u64 {
        self.bytes.len() as u64
    }
}

/// The sha256 digest of `bytes`, `sha256:<hex>`.
pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// Checks `bytes` against `digest`: sha256 or sha512 (any other algorithm is an error, since
/// the content could not be verified).
pub fn verify_digest(digest: &str, bytes: &[u8]) -> Result<()> {
    let actual = match digest.split_once(':') {
        Some(("sha256", _)) => sha256_digest(bytes),
        Some(("sha512", _)) => format!("sha512:{}", hex::encode(Sha512::digest(bytes))),
        _ => return crate::name::parse_digest(digest).map(|_| ()),
    };
    if actual == digest {
        Ok(())
    } else {
        Err(Error::bad_response(format!("the registry sent content whose digest is {actual}, not the requested {digest}")))
    }
}

/// Works out a manifest's media type (body's `mediaType`, else the Content-Type, else the shape)
/// and parses it. Schema 1 is refused with an explanation.
pub fn parse(bytes: &[u8], content_type: Option<&str>) -> (String, std::result::Result<Manifest, Error>) {
    let value: Value = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(e) => {
            let media_type = content_type.map(media::base).unwrap_or("application/octet-stream").to_owned();
            return (media_type, Err(Error::bad_response(format!("the manifest is not valid JSON ({e})"))));
        }
    };
    let declared = value.get("mediaType").and_then(Value::as_str).map(str::to_owned);
    let header = content_type
        .map(media::base)
        .filter(|t| media::is_manifest(t) || *t == media::DOCKER_SCHEMA1 || *t == media::DOCKER_SCHEMA1_SIGNED)
        .map(str::to_owned);
    let sniffed = if value.get("manifests").is_some() {
        media::OCI_INDEX
    } else if value.get("blobs").is_some() && value.get("layers").is_none() {
        media::OCI_ARTIFACT_MANIFEST
    } else {
        media::OCI_MANIFEST
    };
    let media_type = declared.clone().or(header).unwrap_or_else(|| sniffed.to_owned());
    let result = parse_value(value, &media_type);
    (media_type, result)
}

fn parse_value(mut value: Value, media_type: &str) -> std::result::Result<Manifest, Error> {
    if value.get("schemaVersion").and_then(Value::as_u64) == Some(1)
        || media_type == media::DOCKER_SCHEMA1
        || media_type == media::DOCKER_SCHEMA1_SIGNED
    {
        return Err(Error::new(
            ErrorKind::Unsupported,
            "this is a Docker image manifest v2 schema 1, a format deprecated since 2017 and removed from current registries; re-push the image with a current client",
        ));
    }
    if !value.is_object() {
        return Err(Error::bad_response("the manifest is not a JSON object"));
    }
    let invalid = |e: serde_json::Error| Error::bad_response(format!("the manifest does not follow the OCI image spec: {e}"));
    if media::is_index(media_type) {
        return serde_json::from_value::<ImageIndex>(value).map(|i| Manifest::Index(Box::new(i))).map_err(invalid);
    }
    if media_type == media::OCI_ARTIFACT_MANIFEST {
        // The release-candidate artifact manifest: `blobs` instead of layers, no config.
        if let Some(object) = value.as_object_mut() {
            let blobs = object.remove("blobs").unwrap_or(Value::Array(vec![]));
            object.insert("layers".into(), blobs);
            object.entry("schemaVersion").or_insert(Value::from(2));
            object.insert(
                "config".into(),
                serde_json::json!({"mediaType": media::OCI_EMPTY, "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", "size": 2}),
            );
        }
    }
    if value.get("config").is_none() && value.get("manifests").is_none() {
        return Err(Error::bad_response(format!("the manifest has neither `config` nor `manifests` (media type {media_type})")));
    }
    serde_json::from_value::<ImageManifest>(value).map(|m| Manifest::Image(Box::new(m))).map_err(invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    const IMAGE: &str = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
        "config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},
        "layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2}]}"#;

    #[test]
    fn media_type_from_body_header_or_shape() {
        let (t, m) = parse(IMAGE.as_bytes(), Some("application/json"));
        assert_eq!(t, media::OCI_MANIFEST);
        assert!(matches!(m.unwrap(), Manifest::Image(_)));
        // No mediaType in the body: the header decides, then the shape.
        let bare = IMAGE.replace(r#""mediaType":"application/vnd.oci.image.manifest.v1+json","#, "");
        assert_eq!(parse(bare.as_bytes(), Some(media::DOCKER_MANIFEST)).0, media::DOCKER_MANIFEST);
        assert_eq!(parse(bare.as_bytes(), Some("text/plain")).0, media::OCI_MANIFEST);
        let index = r#"{"schemaVersion":2,"manifests":[]}"#;
        let (t, m) = parse(index.as_bytes(), None);
        assert_eq!(t, media::OCI_INDEX);
        assert!(matches!(m.unwrap(), Manifest::Index(_)));
    }

    #[test]
    fn schema1_garbage_and_broken_manifests_are_errors_not_panics() {
        let (_, m) = parse(br#"{"schemaVersion":1,"name":"x","fsLayers":[]}"#, Some(media::DOCKER_SCHEMA1_SIGNED));
        assert_eq!(m.unwrap_err().kind(), ErrorKind::Unsupported);
        let (_, m) = parse(b"<html>oops</html>", Some("text/html"));
        assert_eq!(m.unwrap_err().kind(), ErrorKind::BadResponse);
        let (_, m) = parse(b"[1,2]", None);
        assert_eq!(m.unwrap_err().kind(), ErrorKind::BadResponse);
        let (_, m) =
            parse(br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"digest":"nope"}}"#, None);
        assert!(m.unwrap_err().message().contains("OCI image spec"));
    }

    #[test]
    fn artifact_manifests_become_images_with_an_empty_config() {
        let body = r#"{"mediaType":"application/vnd.oci.artifact.manifest.v1+json","artifactType":"application/spdx+json",
            "blobs":[{"mediaType":"application/spdx+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2}]}"#;
        let (t, m) = parse(body.as_bytes(), None);
        assert_eq!(t, media::OCI_ARTIFACT_MANIFEST);
        let m = m.unwrap();
        assert_eq!(m.kind(&t), ArtifactKind::Sbom);
        let Manifest::Image(image) = m else { panic!("an image") };
        assert_eq!(image.layers().len(), 1);
    }

    #[test]
    fn digests_are_verified() {
        let d = sha256_digest(b"{}");
        assert_eq!(d, "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a");
        assert!(verify_digest(&d, b"{}").is_ok());
        assert_eq!(verify_digest(&d, b"{ }").unwrap_err().kind(), ErrorKind::BadResponse);
        let sha512 = format!("sha512:{}", hex::encode(Sha512::digest(b"{}")));
        assert!(verify_digest(&sha512, b"{}").is_ok());
        assert!(verify_digest(&sha512, b"{ }").is_err());
    }

    #[test]
    fn digests_of_other_algorithms_do_not_verify() {
        for other in [format!("blake3:{}", "ab".repeat(32)), "md5:0123".to_owned(), "nonsense".to_owned(), String::new()] {
            let e = verify_digest(&other, b"{}").unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Invalid, "{other}");
        }
        assert!(verify_digest("blake3:x", b"{}").unwrap_err().message().contains("sha256, sha512"));
    }
}
