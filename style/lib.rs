//! Portolan's stylesheet, generated at build time (see build.rs): encre-css utilities for the
//! classes the app uses, then `base.css` for what utilities cannot express.
//!
//! encre-css replaces tailwind-rs, which does not build against current dependencies and,
//! pinned, emits wrong CSS for everyday classes.

/// The whole stylesheet.
pub const CSS: &str = include_str!(concat!(env!("OUT_DIR"), "/portolan.css"));

/// A hash of [`CSS`], for cache-busting URLs.
pub const HASH: &str = include_str!(concat!(env!("OUT_DIR"), "/hash.txt"));

#[cfg(test)]
mod tests {
    include!("classes.rs");

    /// Every class written in app/src must produce CSS: a typo or a utility encre-css does not
    /// know would otherwise silently do nothing.
    #[test]
    fn every_class_used_has_css() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../app/src");
        let mut config = encre_css::Config::default();
        config.preflight = encre_css::Preflight::new_none();
        // Classes of our own (style/base.css) and Tailwind's marker classes need no utility.
        let base = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("base.css")).unwrap();
        let own = |w: &str| base.contains(&format!(".{w} ")) || base.contains(&format!(".{w}{{")) || matches!(w, "group" | "peer");
        let mut missing = Vec::new();
        for path in app_sources(&dir) {
            let source = std::fs::read_to_string(&path).unwrap();
            for word in class_words(&source) {
                if word.chars().all(|c| c.is_ascii_alphanumeric() || "-:/.[]#%()_".contains(c)) && !word.is_empty() && !own(&word) {
                    let css = encre_css::generate([format!("<p class=\"{word}\">").as_str()], &config);
                    if !css.contains('{') {
                        missing.push(format!("{word} ({})", path.display()));
                    }
                }
            }
        }
        missing.sort();
        missing.dedup();
        assert!(missing.is_empty(), "classes without CSS:\n{}", missing.join("\n"));
    }

    #[test]
    fn the_stylesheet_has_dark_mode_and_responsive_rules() {
        assert!(super::CSS.contains("prefers-color-scheme: dark"));
        assert!(super::CSS.contains("@media (width >= 40rem)") || super::CSS.contains("min-width"));
        assert_eq!(super::HASH.len(), 16);
    }
}
