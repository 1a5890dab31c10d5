//! The OCI distribution grammar of repository names, in one place for the server (the OCI
//! client's `RepoName`) and the browser build (checking names before a redirect), which cannot
//! share a crate with dependencies. Checked by hand: oci-spec's reference parser builds a
//! Unicode regex whose automaton alone holds 8 MB for the life of the process.

/// Whether `name` is a repository name by the OCI reference grammar (path components of
/// lowercase letters and digits, joined inside by `.`, `_`, `__` or runs of `-`, separated by
/// `/`; at most 255 characters). Checked before a name goes into a redirect or a header.
pub fn is_repository_name(name: &str) -> bool {
    fn component(c: &str) -> bool {
        let b = c.as_bytes();
        if b.is_empty() || !b[0].is_ascii_alphanumeric() || !b[b.len() - 1].is_ascii_alphanumeric() {
            return false;
        }
        let mut i = 0;
        while i < b.len() {
            if b[i].is_ascii_lowercase() || b[i].is_ascii_digit() {
                i += 1;
                continue;
            }
            // A separator: ".", "_", "__" or one or more "-", followed by an alphanumeric.
            let start = i;
            match b[i] {
                b'.' => i += 1,
                b'_' => i += if b.get(i + 1) == Some(&b'_') { 2 } else { 1 },
                b'-' => {
                    while b.get(i) == Some(&b'-') {
                        i += 1;
                    }
                }
                _ => return false,
            }
            if i == start || !b.get(i).is_some_and(|x| x.is_ascii_lowercase() || x.is_ascii_digit()) {
                return false;
            }
        }
        true
    }
    !name.is_empty() && name.len() <= 255 && name.split('/').all(component)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grammar() {
        for ok in ["hello", "library/hello", "team/platform/api", "a.b_c__d--e/f", "x9/y-0", "a---b", "0", "a.b.c"] {
            assert!(is_repository_name(ok), "{ok}");
        }
        let long = "a".repeat(256);
        for bad in
            ["", "Hello", "hello/", "/hello", "a//b", "-a", "a:b", "héllo", "a b", "a___b", "a._b", "a.", "_a", "a/b-", long.as_str()]
        {
            assert!(!is_repository_name(bad), "{bad:?}");
        }
    }
}
