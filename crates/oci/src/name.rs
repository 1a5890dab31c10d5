//! Repository names, tags, digests and references, validated with the OCI distribution
//! grammar (names: `portolan_types::names`), with messages a person can act on.

use std::fmt;

use oci_spec::image::Digest;

use crate::error::{Error, Result};

/// A valid repository name (`library/hello`, `team/platform/api`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RepoName(String);

/// A valid tag (`1.0.0`, `latest`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag(String);

/// What a manifest is addressed by: a tag or a digest.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Reference {
    Tag(Tag),
    Digest(Digest),
}

impl RepoName {
    pub fn parse(name: &str) -> Result<Self> {
        if name.is_empty() {
            return Err(Error::invalid("the repository name is empty"));
        }
        if name.len() > 255 {
            return Err(Error::invalid(format!("the repository name is {} characters long; at most 255 are allowed", name.len())));
        }
        if name.chars().any(|c| c.is_ascii_uppercase()) {
            return Err(Error::invalid(format!("repository names are lowercase: {name:?}")));
        }
        if name.contains(['@', ':']) {
            return Err(Error::invalid(format!("{name:?} is a reference, not a repository name")));
        }
        if portolan_types::names::is_repository_name(name) {
            Ok(Self(name.to_owned()))
        } else {
            Err(Error::invalid(format!(
                "{name:?} is not a valid repository name (lowercase letters, digits and . _ - separators, path parts joined by /)"
            )))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Tag {
    pub fn parse(tag: &str) -> Result<Self> {
        let valid = !tag.is_empty()
            && tag.len() <= 128
            && tag.chars().enumerate().all(|(i, c)| c.is_ascii_alphanumeric() || c == '_' || (i > 0 && (c == '.' || c == '-')));
        if valid {
            Ok(Self(tag.to_owned()))
        } else {
            Err(Error::invalid(format!("{tag:?} is not a valid tag (up to 128 letters, digits, _ . -, not starting with . or -)")))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The digest algorithms Portolan verifies content with; digests of any other are refused, since
/// content that cannot be verified must not be trusted (nor cached) as content-addressed.
pub const DIGEST_ALGORITHMS: [&str; 2] = ["sha256", "sha512"];

/// Parses a digest: `sha256:<64 hex>` or `sha512:<128 hex>`, lowercase.
pub fn parse_digest(text: &str) -> Result<Digest> {
    let shown = crate::error::truncate(text, 80);
    let (algorithm, hex) =
        text.split_once(':').ok_or_else(|| Error::invalid(format!("{shown:?} is not a digest (expected algorithm:hex, e.g. sha256:…)")))?;
    let len = match algorithm {
        "sha256" => 64,
        "sha512" => 128,
        _ => {
            return Err(Error::invalid(format!(
                "{shown:?} uses the digest algorithm {:?}, which Portolan cannot verify (supported: {})",
                crate::error::truncate(algorithm, 20),
                DIGEST_ALGORITHMS.join(", ")
            )));
        }
    };
    if hex.len() != len || !hex.chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)) {
        return Err(Error::invalid(format!("{shown:?} is not a valid {algorithm} digest ({len} lowercase hex digits)")));
    }
    Digest::try_from(text).map_err(|e| Error::invalid(format!("{shown:?} is not a valid digest: {e}")))
}

impl Reference {
    /// A tag or a digest (anything with a ':' is taken for a digest).
    pub fn parse(text: &str) -> Result<Self> {
        if text.contains(':') { Ok(Reference::Digest(parse_digest(text)?)) } else { Ok(Reference::Tag(Tag::parse(text)?)) }
    }
}

impl fmt::Display for RepoName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reference::Tag(t) => f.write_str(t.as_str()),
            Reference::Digest(d) => write!(f, "{d}"),
        }
    }
}

impl From<Tag> for Reference {
    fn from(t: Tag) -> Self {
        Reference::Tag(t)
    }
}

impl From<Digest> for Reference {
    fn from(d: Digest) -> Self {
        Reference::Digest(d)
    }
}

/// The tag under which registries without the referrers API list a subject's referrers:
/// `<alg>-<hex>` (`sha256-…`), truncated to the 128 characters a tag may have.
pub fn fallback_tag(digest: &Digest) -> String {
    let tag = format!("{}-{}", digest.algorithm(), digest.digest());
    tag.chars().take(128).collect()
}

/// If `tag` is a fallback referrers tag or a cosign legacy tag, the subject digest it names and
/// the suffix (`""`, `sig`, `att`, `sbom`).
pub fn subject_of_tag(tag: &str) -> Option<(Digest, &str)> {
    let (base, suffix) = match tag.rsplit_once('.') {
        Some((base, suffix)) if matches!(suffix, "sig" | "att" | "sbom") => (base, suffix),
        _ => (tag, ""),
    };
    let (algorithm, hex) = base.split_once('-')?;
    if algorithm != "sha256" && algorithm != "sha512" {
        return None;
    }
    parse_digest(&format!("{algorithm}:{hex}")).ok().map(|d| (d, suffix))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn repository_names() {
        for ok in ["hello", "library/hello", "team/platform/api", "a.b_c__d--e/f", "x9/y-0", "a---b", "0", "a/b/c/d/e", "a.b.c"] {
            assert_eq!(RepoName::parse(ok).unwrap().as_str(), ok);
        }
        let bad_separators = ["a___b", "a._b", "a_.b", "a-.b", "a..b", "a.", "a_", "a-", ".a", "_a", "a/.b", "a/b-", "a\nb", "a/b/"];
        for bad in ["", "Hello", "hello/", "/hello", "a//b", "-a", "a:b", "a@sha256:00", "héllo", "a b", &"a".repeat(256)]
            .into_iter()
            .chain(bad_separators)
        {
            let e = RepoName::parse(bad).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Invalid, "{bad}");
        }
        assert!(RepoName::parse("Library/Hello").unwrap_err().message().contains("lowercase"));
    }

    #[test]
    fn tags_and_digests() {
        assert!(Tag::parse("v1.2.3-rc.1_b").is_ok());
        assert!(Tag::parse(&"a".repeat(128)).is_ok());
        for bad in ["", ".x", "-x", "a/b", "a:b", &"a".repeat(129)] {
            assert!(Tag::parse(bad).is_err(), "{bad}");
        }
        let d = format!("sha256:{}", "ab".repeat(32));
        assert!(matches!(Reference::parse(&d).unwrap(), Reference::Digest(_)));
        assert!(matches!(Reference::parse("latest").unwrap(), Reference::Tag(_)));
        assert!(Reference::parse("sha256:abc").is_err());
        assert!(Reference::parse(&format!("sha256:{}", "AB".repeat(32))).is_err());
        assert!(parse_digest(&format!("sha512:{}", "ab".repeat(64))).is_ok());
    }

    #[test]
    fn digests_of_other_algorithms_are_refused() {
        for other in [
            format!("blake3:{}", "ab".repeat(32)),
            format!("md5:{}", "ab".repeat(16)),
            "sha256+b64u:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564".into(),
        ] {
            let e = parse_digest(&other).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Invalid);
            assert!(e.message().contains("supported: sha256, sha512"), "{e}");
            assert!(Reference::parse(&other).is_err());
        }
        assert!(parse_digest(&format!("{}:{}", "x".repeat(5000), "a".repeat(64))).unwrap_err().message().len() < 300);
    }

    #[test]
    fn fallback_and_legacy_tags() {
        let hex = "0123456789abcdef".repeat(4);
        let d = parse_digest(&format!("sha256:{hex}")).unwrap();
        assert_eq!(fallback_tag(&d), format!("sha256-{hex}"));
        let legacy = format!("sha256-{hex}.sig");
        let (subject, suffix) = subject_of_tag(&legacy).unwrap();
        assert_eq!((subject.to_string(), suffix), (format!("sha256:{hex}"), "sig"));
        assert_eq!(subject_of_tag(&format!("sha256-{hex}")).unwrap().1, "");
        assert!(subject_of_tag("sha256-abc.sig").is_none());
        assert!(subject_of_tag("v1.0.sig").is_none());
    }
}
