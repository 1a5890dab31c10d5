//! Secrets in the configuration: a value that never prints, and the three places one may come
//! from (the file itself, an environment variable, a file of its own).

use std::fmt;
use std::path::Path;

use serde::Deserialize;

/// A secret: `Debug` and `Display` print `***`, so it cannot leak through a log line or an
/// error message by accident.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value itself, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Reads a secret given at most one way: the value itself, an environment variable naming it,
/// or a file holding it (trailing newlines dropped). `field` names the setting in messages
/// (`password`: also accepts `password_env`, `password_file`).
pub fn read(
    field: &str,
    value: Option<&Secret>,
    env_name: Option<&str>,
    file: Option<&Path>,
    env: &dyn Fn(&str) -> Option<String>,
    problems: &mut Vec<String>,
) -> Option<Secret> {
    let given = [value.is_some(), env_name.is_some(), file.is_some()].iter().filter(|x| **x).count();
    if given > 1 {
        problems.push(format!("give at most one of {field}, {field}_env, {field}_file"));
        return None;
    }
    match (value, env_name, file) {
        (Some(v), _, _) => Some(v.clone()),
        (_, Some(var), _) => match env(var) {
            Some(v) => Some(Secret(v)),
            None => {
                problems.push(format!("{field}_env names {var}, which is not set"));
                None
            }
        },
        (_, _, Some(path)) => match std::fs::read_to_string(path) {
            Ok(v) => Some(Secret(v.trim_end_matches(['\n', '\r']).to_owned())),
            Err(e) => {
                problems.push(format!("{field}_file {}: {e}", path.display()));
                None
            }
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?} {s}"), "*** ***");
        assert_eq!(s.expose(), "hunter2");
    }
}
