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
/// The words of the string literal right after each `class` (as in `class="…"`,
/// `attr:class="…"`, `let class = if … { "…" }`): what must have CSS.
fn class_words(source: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut i = 0;
    while let Some(pos) = source[i..].find("class") {
        let start = i + pos + 5;
        let window_end = (start + 120).min(source.len());
        if let Some(q) = source[start..window_end].find('"') {
            let lit_start = start + q + 1;
            if let Some(end) = source[lit_start..].find('"') {
                let literal = &source[lit_start..lit_start + end];
                if !literal.contains('{') && !literal.contains('\n') && !literal.contains('\\') {
                    words.extend(literal.split_whitespace().map(str::to_owned));
                }
            }
        }
        i = start;
    }
    words
}
