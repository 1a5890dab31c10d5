// Shared by build.rs and the tests (included with `include!`): finding the utility classes
// used in the app's sources.

/// The Rust sources of the app, recursively, sorted (so the output is reproducible).
fn app_sources(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

#[allow(dead_code)] // Used by the tests only.
/// The words of the string literals given to `class`: `class="…"`, `attr:class="…"`,
/// `let class = "…"`, `let class = if … { "…" } else { "…" }`: what must have CSS.
fn class_words(source: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut take = |literal: &str| {
        if !literal.contains('{') && !literal.contains('\\') {
            words.extend(literal.split_whitespace().map(str::to_owned));
        }
    };
    let mut i = 0;
    while let Some(pos) = source[i..].find("class") {
        let start = i + pos + 5;
        i = start;
        let rest = source[start..].trim_start();
        let Some(rest) = rest.strip_prefix('=') else { continue };
        let rest = rest.trim_start();
        if let Some(lit) = rest.strip_prefix('"') {
            if let Some(end) = lit.find('"') {
                take(&lit[..end]);
            }
        } else if rest.starts_with("if ") {
            // Both branches of `if … { "a" } else { "b" }`.
            let branch = |s: &str| -> Option<String> {
                let lit = s[s.find('{')? + 1..].trim_start().strip_prefix('"')?;
                Some(lit[..lit.find('"')?].to_owned())
            };
            if let Some(a) = branch(rest) {
                take(&a);
            }
            if let Some(b) = rest.find("} else").and_then(|e| branch(&rest[e + 1..])) {
                take(&b);
            }
        }
    }
    words
}
