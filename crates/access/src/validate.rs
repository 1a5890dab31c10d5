//! From config to policy: checks every raw grant and reports every mistake at once, each with
//! where it is (`grants[2].repositories[0]`), so one edit-restart cycle fixes them all.

use globset::{Glob, GlobBuilder, GlobSetBuilder};

use crate::subject::without_leading_slash;
use crate::{Grant, RawGrant, Role, Subject};

/// One mistake in the grants, and where.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{at}: {message}")]
pub struct GrantError {
    /// A path into the config, e.g. `grants[2].repositories[0]`.
    pub at: String,
    pub message: String,
}

/// Checks and compiles the grants of the config.
///
/// `known_registries` are the configured registry names: a registry pattern matching none of
/// them is an error, since it is surely a typo. `known_providers` are the configured sign-in
/// provider ids: `users` entries must start with one, and a `groups` entry starting with one and
/// `:` is that provider's group (anything else is a group name from any provider, since group
/// names may contain `:`).
pub fn validate_grants(raw: &[RawGrant], known_registries: &[&str], known_providers: &[&str]) -> Result<Vec<Grant>, Vec<GrantError>> {
    let mut errors = Vec::new();
    let grants: Vec<Grant> = raw
        .iter()
        .enumerate()
        .filter_map(|(index, raw)| validate_one(raw, &format!("grants[{index}]"), known_registries, known_providers, &mut errors))
        .collect();
    if errors.is_empty() { Ok(grants) } else { Err(errors) }
}

fn validate_one(
    raw: &RawGrant,
    at: &str,
    known_registries: &[&str],
    known_providers: &[&str],
    errors: &mut Vec<GrantError>,
) -> Option<Grant> {
    let errors_before = errors.len();
    let mut report = |at: String, message: String| errors.push(GrantError { at, message });

    let role = raw.role.parse::<Role>().map_err(|e| report(format!("{at}.role"), e.to_string())).ok();

    let registry_glob =
        compile(&raw.registry).map_err(|message| report(format!("{at}.registry"), message)).ok().map(|glob| glob.compile_matcher());
    if let Some(glob) = &registry_glob
        && !known_registries.iter().any(|name| glob.is_match(name))
    {
        let message = if known_registries.is_empty() {
            format!("\"{}\" matches no registry: none are configured", raw.registry)
        } else {
            format!("\"{}\" matches none of the configured registries ({})", raw.registry, known_registries.join(", "))
        };
        report(format!("{at}.registry"), message);
    }

    if raw.repositories.is_empty() {
        report(
            format!("{at}.repositories"),
            "is empty, so the grant would cover nothing; leave it out to cover every repository".to_owned(),
        );
    }
    let mut repository_globs = GlobSetBuilder::new();
    for (index, pattern) in raw.repositories.iter().enumerate() {
        match compile(pattern) {
            Ok(glob) => {
                repository_globs.add(glob);
            }
            Err(message) => report(format!("{at}.repositories[{index}]"), message),
        }
    }

    let mut subjects = Vec::new();
    let mut each = |list: &str, entries: &[String], parse: &dyn Fn(&str) -> Result<Subject, String>| {
        for (index, entry) in entries.iter().enumerate() {
            let entry = entry.trim();
            let parsed = if entry.is_empty() { Err("is empty".to_owned()) } else { parse(entry) };
            match parsed {
                Ok(subject) => subjects.push(subject),
                Err(message) => report(format!("{at}.{list}[{index}]"), message),
            }
        }
    };
    each("users", &raw.users, &|entry| parse_user(entry, known_providers));
    each("emails", &raw.emails, &parse_email);
    each("domains", &raw.domains, &parse_domain);
    each("groups", &raw.groups, &|entry| parse_group(entry, known_providers));
    if raw.signed_in {
        subjects.push(Subject::SignedIn);
    }
    let names_nobody = raw.users.is_empty() && raw.emails.is_empty() && raw.domains.is_empty() && raw.groups.is_empty() && !raw.signed_in;
    if names_nobody {
        report(at.to_owned(), "names nobody: give users, emails, domains, groups or signed_in = true".to_owned());
    }

    // Everything was checked above; build only when none of it failed.
    let repository_globs = repository_globs.build().map_err(|e| report(format!("{at}.repositories"), e.to_string())).ok();
    if errors.len() > errors_before {
        return None;
    }
    Some(Grant {
        role: role?,
        registry: raw.registry.clone(),
        registry_glob: registry_glob?,
        repositories: raw.repositories.clone(),
        repository_globs: repository_globs?,
        subjects,
    })
}

/// `/` separates path segments: `team/*` is `team/api` but not `team/a/b`; `**` crosses them.
fn compile(pattern: &str) -> Result<Glob, String> {
    if pattern.trim().is_empty() {
        return Err("is empty; write \"*\" or \"**\" to mean all".to_owned());
    }
    GlobBuilder::new(pattern).literal_separator(true).build().map_err(|e| format!("\"{pattern}\" is not a valid pattern ({})", e.kind()))
}

fn parse_user(entry: &str, known_providers: &[&str]) -> Result<Subject, String> {
    let Some((provider, subject)) = entry.split_once(':') else {
        return Err(format!(
            "\"{entry}\" must be written provider:subject, e.g. {}:{entry}",
            known_providers.first().unwrap_or(&"keycloak")
        ));
    };
    let (provider, subject) = (provider.trim(), subject.trim());
    if !known_providers.contains(&provider) {
        return Err(format!(
            "\"{entry}\" names the provider \"{provider}\", which is not configured ({})",
            providers_list(known_providers)
        ));
    }
    if subject.is_empty() {
        return Err(format!("\"{entry}\" has no subject after \"{provider}:\""));
    }
    Ok(Subject::User { provider: provider.to_owned(), subject: subject.to_owned() })
}

fn parse_email(entry: &str) -> Result<Subject, String> {
    match entry.rsplit_once('@') {
        Some((local, domain)) if !local.is_empty() && !domain.is_empty() => Ok(Subject::Email(entry.to_lowercase())),
        _ => Err(format!("\"{entry}\" is not an email address (name@domain)")),
    }
}

fn parse_domain(entry: &str) -> Result<Subject, String> {
    if entry.contains('@') {
        return Err(format!("\"{entry}\" is an email, not a domain; put it in emails, or write only the part after '@'"));
    }
    // Domains match exactly, so a wildcard or leading dot would silently match nobody.
    if entry.starts_with('.') || entry.contains('*') {
        return Err(format!("\"{entry}\" is not a domain; domains match exactly, list each one (e.g. \"example.com\")"));
    }
    Ok(Subject::Domain(entry.to_lowercase()))
}

fn parse_group(entry: &str, known_providers: &[&str]) -> Result<Subject, String> {
    let (provider, name) = match entry.split_once(':') {
        Some((provider, name)) if known_providers.contains(&provider.trim()) => (Some(provider.trim().to_owned()), name.trim()),
        _ => (None, entry),
    };
    if without_leading_slash(name).is_empty() {
        return Err(format!("\"{entry}\" has no group name"));
    }
    Ok(Subject::Group { provider, name: name.to_owned() })
}

fn providers_list(known_providers: &[&str]) -> String {
    if known_providers.is_empty() {
        "no sign-in provider is configured".to_owned()
    } else {
        format!("configured: {}", known_providers.join(", "))
    }
}
