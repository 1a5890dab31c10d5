//! The OCI distribution grammar of repository names, and the names Portolan's configuration
//! gives, in one place for the server (the OCI client's `RepoName`, the config check) and the
//! browser build (checking names before a redirect). Checked by hand: oci-spec's reference
//! parser builds a Unicode regex whose automaton alone holds 8 MB for the life of the process.

/// Whether `name` is a name Portolan's configuration gives (a registry, a sign-in provider):
/// 1 to 64 lowercase letters, digits or `-`, not starting with `-`. Such names are URL
/// segments, so a page checks one before it goes into a redirect.
pub fn is_config_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
        && !name.starts_with('-')
}

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

    #[test]
    fn config_names() {
        for ok in ["hub", "ghcr-2", "0", &"a".repeat(64)] {
            assert!(is_config_name(ok), "{ok}");
        }
        for bad in ["", "-hub", "Hub", "a_b", "a.b", "a/b", "a\nb", "hüb", &"a".repeat(65)] {
            assert!(!is_config_name(bad), "{bad:?}");
        }
    }
}
