//! `Link` header paging (RFC 8288), as the distribution spec uses it for tags, catalog and
//! referrers.

use url::Url;

/// The `rel="next"` target of a `Link` header value, resolved against `base`.
pub fn next_link(header: &str, base: &Url) -> Option<Url> {
    for link in split_links(header) {
        let link = link.trim();
        let Some(rest) = link.strip_prefix('<') else {
            continue;
        };
        let Some((target, params)) = rest.split_once('>') else {
            continue;
        };
        let is_next = params.split(';').any(|p| {
            let p = p.trim();
            let Some((key, value)) = p.split_once('=') else {
                return false;
            };
            key.trim().eq_ignore_ascii_case("rel")
                && value.trim().trim_matches('"').split_whitespace().any(|r| r.eq_ignore_ascii_case("next"))
        });
        if is_next {
            return base.join(target.trim()).ok();
        }
    }
    None
}

/// Splits a Link header on the commas between links (not those inside `<…>` or quotes).
fn split_links(header: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut in_angle, mut in_quote, mut start) = (false, false, 0);
    for (i, c) in header.char_indices() {
        match c {
            '<' if !in_quote => in_angle = true,
            '>' if !in_quote => in_angle = false,
            '"' if !in_angle => in_quote = !in_quote,
            ',' if !in_angle && !in_quote => {
                parts.push(&header[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&header[start..]);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_and_absolute_next_links() {
        let base = Url::parse("http://r.example:5000/v2/a/tags/list?n=2").unwrap();
        let next = next_link(r#"</v2/a/tags/list?n=2&last=b>; rel="next""#, &base).unwrap();
        assert_eq!(next.as_str(), "http://r.example:5000/v2/a/tags/list?n=2&last=b");
        let next =
            next_link(r#"<https://other/v2/_catalog?last=x,y>; rel="prev", <https://other/v2/_catalog?n=1&last=z>; rel=next"#, &base)
                .unwrap();
        assert_eq!(next.as_str(), "https://other/v2/_catalog?n=1&last=z");
        assert!(next_link(r#"</v2/a>; rel="prev""#, &base).is_none());
        assert!(next_link("garbage", &base).is_none());
        assert!(next_link("", &base).is_none());
    }
}
