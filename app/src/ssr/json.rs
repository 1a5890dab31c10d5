//! JSON pretty-printed into tokens for the page: keys, strings, numbers, punctuation — and every
//! digest a link (a manifest's to its artifact page, anything else's to its blob page).

use serde_json::{Map, Value};

use crate::model::{JsonDoc, JsonKind, JsonToken};

/// Text beyond this is cut (huge indexes, SBOMs): the page says so.
pub const MAX_TEXT: usize = 512 * 1024;

/// Where digests link to, for one repository.
pub struct Links<'a> {
    /// `/r/{registry}/{repository}`.
    pub base: &'a str,
}

impl Links<'_> {
    /// The page of `digest`, as met in `object` (a descriptor when it has a `mediaType`).
    fn href(&self, object: Option<&Map<String, Value>>, key: &str, digest: &str) -> Option<String> {
        portolan_oci::name::parse_digest(digest).ok()?;
        let media_type = object.and_then(|o| o.get("mediaType")).and_then(Value::as_str);
        match media_type {
            Some(t) if portolan_oci::media::is_manifest(t) => Some(format!("{}@{digest}", self.base)),
            Some(t) => Some(format!("{}/-/blob/{digest}?type={}", self.base, crate::model::encode_component(t))),
            // Digests outside descriptors: annotations naming a manifest (buildx's
            // vnd.docker.reference.digest, cosign's payloads) and config `diff_ids`
            // (uncompressed layer digests, which are nowhere to be fetched).
            None if key == "diff_ids" => None,
            None => Some(format!("{}@{digest}", self.base)),
        }
    }
}

/// Tokenises `value` as two-space indented JSON.
pub fn render(value: &Value, links: &Links<'_>) -> JsonDoc {
    let mut out = Renderer { tokens: Vec::new(), len: 0, truncated: false, links };
    out.value(value, None, "", 0);
    JsonDoc { tokens: out.tokens, truncated: out.truncated }
}

/// Parses and tokenises `bytes`; text that is not JSON becomes one plain token.
pub fn render_bytes(bytes: &[u8], links: &Links<'_>) -> JsonDoc {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(v) => render(&v, links),
        Err(_) => {
            let text = String::from_utf8_lossy(bytes);
            let truncated = text.len() > MAX_TEXT;
            let text: String = text.chars().take(MAX_TEXT).collect();
            JsonDoc { tokens: vec![JsonToken { text, kind: JsonKind::Str, href: None }], truncated }
        }
    }
}

struct Renderer<'a, 'b> {
    tokens: Vec<JsonToken>,
    len: usize,
    truncated: bool,
    links: &'a Links<'b>,
}

impl Renderer<'_, '_> {
    fn push(&mut self, text: impl Into<String>, kind: JsonKind, href: Option<String>) {
        if self.truncated {
            return;
        }
        let text = text.into();
        self.len += text.len();
        if self.len > MAX_TEXT {
            self.truncated = true;
            return;
        }
        // Merge runs of punctuation so the page has fewer nodes.
        if kind == JsonKind::Punct
            && href.is_none()
            && let Some(last) = self.tokens.last_mut()
            && last.kind == JsonKind::Punct
            && last.href.is_none()
        {
            last.text.push_str(&text);
            return;
        }
        self.tokens.push(JsonToken { text, kind, href });
    }

    fn value(&mut self, value: &Value, parent: Option<&Map<String, Value>>, key: &str, indent: usize) {
        match value {
            Value::Null => self.push("null", JsonKind::Lit, None),
            Value::Bool(b) => self.push(b.to_string(), JsonKind::Lit, None),
            Value::Number(n) => self.push(n.to_string(), JsonKind::Num, None),
            Value::String(s) => {
                let href = if s.contains(':') { self.links.href(parent, key, s) } else { None };
                self.push(quote(s), JsonKind::Str, href);
            }
            Value::Array(items) => {
                if items.is_empty() {
                    return self.push("[]", JsonKind::Punct, None);
                }
                self.push("[\n", JsonKind::Punct, None);
                for (i, item) in items.iter().enumerate() {
                    self.push(" ".repeat(indent + 2), JsonKind::Punct, None);
                    // Items of an array keep the array's key (for `diff_ids`).
                    self.value(item, parent, key, indent + 2);
                    self.push(if i + 1 < items.len() { ",\n" } else { "\n" }, JsonKind::Punct, None);
                }
                self.push(format!("{}]", " ".repeat(indent)), JsonKind::Punct, None);
            }
            Value::Object(map) => {
                if map.is_empty() {
                    return self.push("{}", JsonKind::Punct, None);
                }
                self.push("{\n", JsonKind::Punct, None);
                for (i, (k, v)) in map.iter().enumerate() {
                    self.push(" ".repeat(indent + 2), JsonKind::Punct, None);
                    self.push(quote(k), JsonKind::Key, None);
                    self.push(": ", JsonKind::Punct, None);
                    self.value(v, Some(map), k, indent + 2);
                    self.push(if i + 1 < map.len() { ",\n" } else { "\n" }, JsonKind::Punct, None);
                }
                self.push(format!("{}}}", " ".repeat(indent)), JsonKind::Punct, None);
            }
        }
    }
}

fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(doc: &JsonDoc) -> String {
        doc.tokens.iter().map(|t| t.text.as_str()).collect()
    }

    #[test]
    fn renders_like_serde_json_pretty() {
        let v: Value = serde_json::from_str(r#"{"a":[1,true,null,{"b":"x"}],"c":{},"d":[]}"#).unwrap();
        let doc = render(&v, &Links { base: "/r/x/y" });
        assert_eq!(text(&doc), serde_json::to_string_pretty(&v).unwrap());
        assert!(!doc.truncated);
    }

    #[test]
    fn digests_link_to_manifests_blobs_or_nothing() {
        let m = format!("sha256:{}", "a".repeat(64));
        let b = format!("sha256:{}", "b".repeat(64));
        let v = serde_json::json!({
            "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": m, "size": 1,
                "annotations": {"vnd.docker.reference.digest": m}}],
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": b, "size": 2},
            "rootfs": {"diff_ids": [b]},
            "note": "sha256:not-a-digest",
        });
        let doc = render(&v, &Links { base: "/r/x/y" });
        let links: Vec<&str> = doc.tokens.iter().filter_map(|t| t.href.as_deref()).collect();
        assert_eq!(
            links,
            [
                format!("/r/x/y@{m}").as_str(),
                format!("/r/x/y@{m}").as_str(),
                format!("/r/x/y/-/blob/{b}?type=application%2Fvnd.oci.image.config.v1%2Bjson").as_str(),
            ]
        );
    }

    #[test]
    fn hostile_strings_stay_strings_and_huge_documents_are_cut() {
        let v = serde_json::json!({"x": "<script>alert(1)</script>\"quoted\""});
        let doc = render(&v, &Links { base: "/r/x/y" });
        assert!(text(&doc).contains(r#""<script>alert(1)</script>\"quoted\"""#));
        let big = serde_json::json!({"x": "y".repeat(MAX_TEXT + 10)});
        assert!(render(&big, &Links { base: "" }).truncated);
        let doc = render_bytes(b"not json", &Links { base: "" });
        assert_eq!(text(&doc), "not json");
    }
}
