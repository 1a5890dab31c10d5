//! JSON pretty-printed into HTML for the page: keys, strings, numbers in spans — and every
//! digest a link (a manifest's to its artifact page, anything else's to its blob page).

use serde_json::{Map, Value};

use portolan_model::JsonDoc;

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
            Some(t) => Some(format!("{}/-/blob/{digest}?type={}", self.base, portolan_model::encode_component(t))),
            // Digests outside descriptors: annotations naming a manifest (buildx's
            // vnd.docker.reference.digest, cosign's payloads) and config `diff_ids`
            // (uncompressed layer digests, which are nowhere to be fetched).
            None if key == "diff_ids" => None,
            None => Some(format!("{}@{digest}", self.base)),
        }
    }
}

/// Renders `value` as two-space indented JSON in HTML.
pub fn render(value: &Value, links: &Links<'_>) -> JsonDoc {
    let mut out = Renderer { html: String::new(), len: 0, truncated: false, links };
    out.value(value, None, "", 0);
    JsonDoc { html: out.html, truncated: out.truncated }
}

/// Parses and renders `bytes`; text that is not JSON is shown as plain text.
pub fn render_bytes(bytes: &[u8], links: &Links<'_>) -> JsonDoc {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(v) => render(&v, links),
        Err(_) => {
            let text = String::from_utf8_lossy(bytes);
            let truncated = text.len() > MAX_TEXT;
            let text: String = text.chars().take(MAX_TEXT).collect();
            JsonDoc { html: escape(&text), truncated }
        }
    }
}

/// Escapes text for HTML content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Punct,
    Key,
    Str,
    Num,
}

struct Renderer<'a, 'b> {
    html: String,
    /// Text length so far (not markup), against [`MAX_TEXT`].
    len: usize,
    truncated: bool,
    links: &'a Links<'b>,
}

impl Renderer<'_, '_> {
    fn push(&mut self, text: impl AsRef<str>, kind: Kind, href: Option<String>) {
        if self.truncated {
            return;
        }
        let text = text.as_ref();
        self.len += text.len();
        if self.len > MAX_TEXT {
            self.truncated = true;
            return;
        }
        let text = escape(text);
        match (kind, href) {
            (_, Some(href)) => {
                self.html.push_str(&format!(r#"<a class="json-str" href="{}">{text}</a>"#, escape(&href)));
            }
            (Kind::Punct, None) => self.html.push_str(&text),
            (kind, None) => {
                let class = match kind {
                    Kind::Key => "json-key",
                    Kind::Str => "json-str",
                    _ => "json-num",
                };
                self.html.push_str(&format!(r#"<span class="{class}">{text}</span>"#));
            }
        }
    }

    fn value(&mut self, value: &Value, parent: Option<&Map<String, Value>>, key: &str, indent: usize) {
        match value {
            Value::Null => self.push("null", Kind::Num, None),
            Value::Bool(b) => self.push(b.to_string(), Kind::Num, None),
            Value::Number(n) => self.push(n.to_string(), Kind::Num, None),
            Value::String(s) => {
                let href = if s.contains(':') { self.links.href(parent, key, s) } else { None };
                self.push(quote(s), Kind::Str, href);
            }
            Value::Array(items) => {
                if items.is_empty() {
                    return self.push("[]", Kind::Punct, None);
                }
                self.push("[\n", Kind::Punct, None);
                for (i, item) in items.iter().enumerate() {
                    self.push(" ".repeat(indent + 2), Kind::Punct, None);
                    // Items of an array keep the array's key (for `diff_ids`).
                    self.value(item, parent, key, indent + 2);
                    self.push(if i + 1 < items.len() { ",\n" } else { "\n" }, Kind::Punct, None);
                }
                self.push(format!("{}]", " ".repeat(indent)), Kind::Punct, None);
            }
            Value::Object(map) => {
                if map.is_empty() {
                    return self.push("{}", Kind::Punct, None);
                }
                self.push("{\n", Kind::Punct, None);
                for (i, (k, v)) in map.iter().enumerate() {
                    self.push(" ".repeat(indent + 2), Kind::Punct, None);
                    self.push(quote(k), Kind::Key, None);
                    self.push(": ", Kind::Punct, None);
                    self.value(v, Some(map), k, indent + 2);
                    self.push(if i + 1 < map.len() { ",\n" } else { "\n" }, Kind::Punct, None);
                }
                self.push(format!("{}}}", " ".repeat(indent)), Kind::Punct, None);
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

    /// The text a browser shows for `html` (tags dropped, entities decoded).
    fn text(doc: &JsonDoc) -> String {
        let mut out = String::new();
        let mut in_tag = false;
        for c in doc.html.chars() {
            match c {
                '<' => in_tag = true,
                '>' => in_tag = false,
                c if !in_tag => out.push(c),
                _ => {}
            }
        }
        out.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&#39;", "'").replace("&amp;", "&")
    }

    fn hrefs(doc: &JsonDoc) -> Vec<String> {
        doc.html.split("href=\"").skip(1).map(|s| s[..s.find('"').unwrap()].replace("&amp;", "&")).collect()
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
        assert_eq!(
            hrefs(&doc),
            [format!("/r/x/y@{m}"), format!("/r/x/y@{m}"), format!("/r/x/y/-/blob/{b}?type=application%2Fvnd.oci.image.config.v1%2Bjson")]
        );
    }

    #[test]
    fn hostile_strings_stay_text_and_huge_documents_are_cut() {
        let v = serde_json::json!({"<img src=x onerror=alert(1)>": "<script>alert(1)</script>\"quoted\" 'single' &amp;"});
        let doc = render(&v, &Links { base: "/r/x/y" });
        assert!(!doc.html.contains("<script"), "{}", doc.html);
        assert!(!doc.html.contains("<img"), "{}", doc.html);
        assert!(text(&doc).contains(r#""<script>alert(1)</script>\"quoted\" 'single' &amp;""#), "{}", text(&doc));
        let big = serde_json::json!({"x": "y".repeat(MAX_TEXT + 10)});
        assert!(render(&big, &Links { base: "" }).truncated);
        let doc = render_bytes(b"not json <b>", &Links { base: "" });
        assert_eq!(doc.html, "not json &lt;b&gt;");
    }
}
