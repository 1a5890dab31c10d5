//! SVG badges at stable URLs, for READMEs: `/badge/{registry}/{repository}/latest.svg` (the
//! newest semantic-version tag), `…/tags.svg` (how many), `…:{tag}/size.svg` (compressed size)
//! `…:{tag}/signed.svg` (whether a signature refers to it) and `…:{tag}/verified.svg` (whether
//! a signature verifies under the trust policies).

use portolan_oci::{ArtifactKind, Reference, RepoName};

use crate::model::human_size;
use crate::ssr::AppState;
use portolan_service::json::escape;
use portolan_service::tags::{is_referrer_tag, semver_of};

/// A badge: label, value and colour.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Badge {
    pub label: String,
    pub value: String,
    pub color: &'static str,
}

const GREEN: &str = "#2e7d32";
const BLUE: &str = "#0369a1";
const GREY: &str = "#6b7280";
const RED: &str = "#b91c1c";
const AMBER: &str = "#b45309";

impl Badge {
    fn new(label: &str, value: impl Into<String>, color: &'static str) -> Self {
        Self { label: label.to_owned(), value: value.into(), color }
    }
}

/// Width in pixels of `text` in 11 px Verdana, near enough for a badge.
fn text_width(text: &str) -> i32 {
    text.chars()
        .map(|c| match c {
            'i' | 'l' | 'j' | '.' | ',' | ':' | ';' | '|' | '!' | '\'' | 'I' => 3.5,
            ' ' | 'f' | 't' | 'r' | '(' | ')' | '[' | ']' | '-' | '/' => 4.8,
            'm' | 'w' | 'M' | 'W' => 10.0,
            c if c.is_ascii_uppercase() => 7.6,
            c if c.is_ascii_digit() => 7.0,
            _ => 6.6,
        })
        .sum::<f64>()
        .ceil() as i32
}

/// The SVG of a flat badge.
pub fn svg(b: &Badge) -> String {
    let label: String = b.label.chars().take(40).collect();
    let value: String = b.value.chars().take(60).collect();
    let lw = text_width(&label) + 12;
    let vw = text_width(&value) + 12;
    let w = lw + vw;
    let (label, value) = (escape(&label), escape(&value));
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="20" role="img" aria-label="{label}: {value}"><title>{label}: {value}</title><linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient><clipPath id="r"><rect width="{w}" height="20" rx="3" fill="#fff"/></clipPath><g clip-path="url(#r)"><rect width="{lw}" height="20" fill="#555"/><rect x="{lw}" width="{vw}" height="20" fill="{color}"/><rect width="{w}" height="20" fill="url(#s)"/></g><g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" font-size="11"><text x="{lx}" y="14">{label}</text><text x="{vx}" y="14">{value}</text></g></svg>"##,
        color = b.color,
        lx = lw / 2,
        vx = lw + vw / 2,
    )
}

/// The newest release among `tags` by semantic version; pre-releases only when there is no
/// release at all.
pub fn latest_version<'a>(tags: impl IntoIterator<Item = &'a String>) -> Option<&'a String> {
    let versions: Vec<(semver::Version, &String)> =
        tags.into_iter().filter(|t| !is_referrer_tag(t)).filter_map(|t| semver_of(t).map(|v| (v, t))).collect();
    let newest = |pre: bool| versions.iter().filter(|(v, _)| pre || v.pre.is_empty()).max_by(|a, b| a.0.cmp(&b.0)).map(|(_, t)| *t);
    newest(false).or_else(|| newest(true))
}

/// Works out the badge named by `path` (`{repository}[:{tag}]/{name}.svg`) for `who`, with the
/// HTTP status to send. Errors become badges too (an image must still render in a README); a
/// badge of a repository `who` may not see is refused (401/403) and says "private".
pub async fn badge(state: &AppState, who: Option<portolan_access::Identity>, registry: &str, path: &str) -> (u16, Badge) {
    let Some((target, name)) = path.trim_matches('/').rsplit_once('/') else {
        return (404, Badge::new("badge", "unknown", GREY));
    };
    let Ok(reg) = state.registry(registry) else {
        return (404, Badge::new("registry", "not found", GREY));
    };
    let (repo, tag) = match target.rsplit_once(':') {
        Some((r, t)) if !t.contains('/') => (r, Some(t)),
        _ => (target, None),
    };
    let Ok(repo) = RepoName::parse(repo) else {
        return (400, Badge::new("repository", "invalid", GREY));
    };
    let needed = crate::ssr::auth::needed("/badge/{registry}/{*path}");
    if let Err(e) = crate::ssr::auth::require_for(state, who, needed, registry, Some(repo.as_str())) {
        return (e.status_code().as_u16(), Badge::new("badge", "private", GREY));
    }
    (200, badge_of(state, reg, &repo, name, tag).await)
}

async fn badge_of(state: &AppState, reg: &crate::ssr::Registry, repo: &RepoName, name: &str, tag: Option<&str>) -> Badge {
    let repo = repo.clone();
    let client = &reg.client;
    match (name, tag) {
        ("latest.svg", None) => match client.tags(&repo).await {
            Ok(tags) => match latest_version(tags.iter()) {
                Some(v) => Badge::new("version", v.clone(), BLUE),
                None => Badge::new("version", "none", GREY),
            },
            Err(e) => Badge::new("version", e.kind().label(), GREY),
        },
        ("tags.svg", None) => match client.tags(&repo).await {
            Ok(tags) => Badge::new("tags", tags.iter().filter(|t| !is_referrer_tag(t)).count().to_string(), BLUE),
            Err(e) => Badge::new("tags", e.kind().label(), GREY),
        },
        ("size.svg", Some(tag)) => {
            let Ok(reference) = Reference::parse(tag) else {
                return Badge::new("size", "invalid tag", GREY);
            };
            let digest = match client.resolve(&repo, &reference).await {
                Ok(r) => r.digest,
                Err(e) => return Badge::new("size", e.kind().label(), GREY),
            };
            match portolan_inventory::read::read_artifact(client.as_ref(), &repo, &digest).await {
                Ok(artifact) if artifact.manifest.kind == ArtifactKind::Index => match artifact.size() {
                    Some(total) => Badge::new("size", format!("≤ {}", human_size(total)), BLUE),
                    None => Badge::new("size", "multi-platform", BLUE),
                },
                Ok(artifact) => Badge::new("size", human_size(artifact.size().unwrap_or(0)), BLUE),
                Err(e) => Badge::new("size", e.kind().label(), GREY),
            }
        }
        ("signed.svg", Some(tag)) => {
            let Ok(reference) = Reference::parse(tag) else {
                return Badge::new("signature", "invalid tag", GREY);
            };
            let digest = match client.resolve(&repo, &reference).await {
                Ok(r) => r.digest,
                Err(e) => return Badge::new("signature", e.kind().label(), GREY),
            };
            match client.referrers(&repo, &digest, None).await {
                Ok((list, _)) if list.iter().any(|r| r.kind() == ArtifactKind::Signature) => Badge::new("signature", "signed", GREEN),
                Ok(_) => Badge::new("signature", "unsigned", RED),
                Err(e) => Badge::new("signature", e.kind().label(), GREY),
            }
        }
        ("verified.svg", Some(tag)) => {
            let Ok(reference) = Reference::parse(tag) else {
                return Badge::new("signature", "invalid tag", GREY);
            };
            if !state.verifier.covers(&reg.info.name, repo.as_str()) {
                return Badge::new("signature", "no trust policy", GREY);
            }
            let digest = match client.resolve(&repo, &reference).await {
                Ok(r) => r.digest,
                Err(e) => return Badge::new("signature", e.kind().label(), GREY),
            };
            match state.verifier.verify(reg, &repo, &digest).await {
                Ok(v) => match v.outcome {
                    crate::model::Outcome::Verified => Badge::new("signature", "verified", GREEN),
                    crate::model::Outcome::Unsigned => Badge::new("signature", "unsigned", RED),
                    crate::model::Outcome::NotVerified => Badge::new("signature", v.brief().label(), AMBER),
                },
                Err(e) => Badge::new("signature", e.to_string().chars().take(40).collect::<String>(), GREY),
            }
        }
        _ => Badge::new("badge", "unknown", GREY),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn badges_are_escaped_and_sized() {
        let s = svg(&Badge::new("ver<sion", "1.0 & \"x\"", BLUE));
        assert!(s.starts_with("<svg"));
        assert!(s.contains("ver&lt;sion"));
        assert!(s.contains("1.0 &amp; &quot;x&quot;"));
        assert!(!s.contains("<sion"));
        assert!(text_width("mmmm") > text_width("iiii"));
    }

    #[test]
    fn latest_is_the_highest_version() {
        let tags: Vec<String> = ["latest", "1.2.0", "v1.10.0", "2.0.0-rc.1", "1.9"].iter().map(|s| (*s).to_owned()).collect();
        assert_eq!(latest_version(tags.iter()).map(String::as_str), Some("v1.10.0"));
        let pre: Vec<String> = vec!["0.1.0-alpha".into(), "0.1.0-beta".into()];
        assert_eq!(latest_version(pre.iter()).map(String::as_str), Some("0.1.0-beta"));
        let none: Vec<String> = vec!["latest".into()];
        assert_eq!(latest_version(none.iter()), None);
    }
}
