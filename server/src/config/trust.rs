//! `[[trust_policies]]`: which signatures are trusted where. `portolan-verify` validates them
//! (every mistake at once); this module reads what they name — key files, trust stores,
//! trusted roots, environment variables — so that crate does no I/O.

use portolan_verify::TrustPolicies;
use portolan_verify::policy::Source;

/// Files named by trust policies are read up to this size (a trusted root is a few KiB).
const MAX_FILE: u64 = 4 * 1024 * 1024;

/// The validated policies; mistakes go to `errors`, prefixed with `origin`.
pub fn validate(
    raw: &[portolan_verify::RawTrustPolicy],
    registries: &[&str],
    env: &dyn Fn(&str) -> Option<String>,
    origin: &str,
    errors: &mut Vec<String>,
) -> TrustPolicies {
    let material = |source: Source<'_>| -> Result<String, String> {
        match source {
            Source::Value(v) => Ok(v.to_owned()),
            Source::Env(name) => env(name).ok_or_else(|| format!("the environment variable {name} is not set")),
            Source::File(path) => {
                let size = std::fs::metadata(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?.len();
                if size > MAX_FILE {
                    return Err(format!("{} is larger than {} MiB", path.display(), MAX_FILE / 1024 / 1024));
                }
                std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
            }
        }
    };
    match portolan_verify::policy::build(raw, registries, &material) {
        Ok(policies) => policies,
        Err(problems) => {
            errors.extend(problems.into_iter().map(|p| format!("{origin}: {p}")));
            TrustPolicies::default()
        }
    }
}
