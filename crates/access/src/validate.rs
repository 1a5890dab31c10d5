//! From config to policy: checks every raw grant and reports every mistake at once, each with
//! where it is (`grants[2].repositories[0]`), so one edit-restart cycle fixes them all.

use globset::{Glob, GlobBuilder, GlobSetBuilder};

use crate::subject::without_leading_slash;
use crate::{Grant, Provider, ProviderKind, RawGrant, Role, Subject};

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
/// them is an error, since it is surely a typo. `providers` are the configured sign-in
/// providers: `users` entries must start with one's id, and a `groups` entry starting with one's
/// id and `:` is that provider's group. A group naming no provider matches any provider's group
/// of that name, so it is accepted only where that cannot widen it: with one sign-in provider,
/// not GitHub (on GitHub anyone can create an org and team by any free name). Otherwise it is an
/// error asking for `<provider>:<group>`. A GitHub group must be an org or `org/team`.
pub fn validate_grants(raw: &[RawGrant], known_registries: &[&str], providers: &[Provider]) -> Result<Vec<Grant>, Vec<GrantError>> {
    let mut errors = Vec::new();
    let grants: Vec<Grant> = raw
        .iter()
        .enumerate()
        .filter_map(|(index, raw)| validate_one(raw, &format!("grants[{index}]"), known_registries, providers, &mut errors))
        .collect();
    if errors.is_empty() { Ok(grants) } else { Err(errors) }
}

/// What validated grants may still get wrong, for a warning at start: a GitHub group while
/// that provider's `allowed_orgs` is empty, so anyone with a GitHub account signs in — safe only
/// if the org it names exists and belongs to the admin, since GitHub gives a free org name to
/// whoever asks first (a typo, or an org renamed or deleted since). Nothing here can check who
/// owns an org; the warning says what to make sure of. `grants` in config order.
pub fn grant_warnings(grants: &[Grant], providers: &[Provider]) -> Vec<GrantError> {
    let open_github: Vec<&str> = providers
        .iter()
        .filter(|p| matches!(&p.kind, ProviderKind::Github { allowed_orgs } if allowed_orgs.is_empty()))
        .map(|p| p.id.as_str())
        .collect();
    let mut warnings = Vec::new();
    for (index, grant) in grants.iter().enumerate() {
        for subject in grant.subjects() {
            let Subject::Group { provider: Some(provider), name } = subject else { continue };
            if !open_github.contains(&provider.as_str()) {
                continue;
            }
            let org = without_leading_slash(name).split('/').next().unwrap_or_default();
            warnings.push(GrantError {
                at: format!("grants[{index}]"),
                message: format!(
                    "names the GitHub group \"{provider}:{name}\" while anyone with a GitHub account may sign in with {provider} \
                     (its allowed_orgs is empty): make sure the org \"{org}\" exists and is yours, since GitHub gives a free org \
                     name to whoever takes it first; allowed_orgs also keeps everyone else from signing in"
                ),
            });
        }
    }
    warnings
}

fn validate_one(
    raw: &RawGrant,
    at: &str,
    known_registries: &[&str],
    providers: &[Provider],
    errors: &mut Vec<GrantError>,
) -> Option<Grant> {
    let known_providers: Vec<&str> = providers.iter().map(|p| p.id.as_str()).collect();
    let errors_before = errors.len();
    let mut report = |at: String, message: String| errors.push(GrantError { at, message });

    let role = raw.role.parse::<Role>().map_err(|e| report(format!("{at}.role"), e.to_string())).ok();

    let registry_glob =
        compile_pattern(&raw.registry).map_err(|message| report(format!("{at}.registry"), message)).ok().map(|glob| glob.compile_matcher());
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
        match compile_pattern(pattern) {
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
    each("users", &raw.users, &|entry| parse_user(entry, &known_providers));
    each("emails", &raw.emails, &parse_email);
    each("domains", &raw.domains, &parse_domain);
    each("groups", &raw.groups, &|entry| parse_group(entry, providers));
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

/// A grant pattern, compiled: `/` separates path segments (`team/*` is `team/api` but not
/// `team/a/b`; `**` crosses them). Trust policies use the same rules.
pub fn compile_pattern(pattern: &str) -> Result<Glob, String> {
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

fn parse_group(entry: &str, providers: &[Provider]) -> Result<Subject, String> {
    let named = entry.split_once(':').and_then(|(id, name)| providers.iter().find(|p| p.id == id.trim()).map(|p| (p, name.trim())));
    let Some((provider, name)) = named else { return bare_group(entry, providers) };
    if without_leading_slash(name).is_empty() {
        return Err(format!("\"{entry}\" has no group name"));
    }
    if provider.is_github() && !is_github_group(without_leading_slash(name)) {
        return Err(format!(
            "\"{entry}\" matches no GitHub group: GitHub's groups are an org (\"{id}:acme\") or an org and a team slug (\"{id}:acme/ops\")",
            id = provider.id
        ));
    }
    Ok(Subject::Group { provider: Some(provider.id.clone()), name: name.to_owned() })
}

/// A group naming no provider: any provider's group of that name would match it. Fine with a
/// single provider whose groups only its administrators make; refused otherwise, since another
/// provider's group of the same name — or a GitHub org and team anyone can create under that
/// name — would get the grant too.
fn bare_group(entry: &str, providers: &[Provider]) -> Result<Subject, String> {
    if without_leading_slash(entry).is_empty() {
        return Err(format!("\"{entry}\" has no group name"));
    }
    let github = providers.iter().find(|p| p.is_github());
    if providers.len() <= 1 && github.is_none() {
        return Ok(Subject::Group { provider: None, name: entry.to_owned() });
    }
    let ids: Vec<&str> = providers.iter().map(|p| p.id.as_str()).collect();
    let why = match github {
        Some(github) => format!(
            "a group of that name from any provider would match, and with {id} (GitHub) sign-in anyone can create a GitHub \
             org and team by a free name to get one",
            id = github.id
        ),
        None => format!("a group of that name from any of {} would match", ids.join(", ")),
    };
    let typo = entry
        .split_once(':')
        .filter(|(prefix, _)| !prefix.is_empty() && prefix.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'))
        .map(|(prefix, _)| format!(" (\"{prefix}\" is not a configured provider: {})", ids.join(", ")))
        .unwrap_or_default();
    let example = providers.iter().find(|p| !p.is_github()).or(github).map(|p| p.id.as_str()).unwrap_or_default();
    let github_note = github.map(|g| format!("; a GitHub group names an org you own, e.g. \"{}:acme/ops\"", g.id)).unwrap_or_default();
    Err(format!("\"{entry}\" names no provider{typo}: {why}; write it \"<provider>:<group>\", e.g. \"{example}:{entry}\"{github_note}"))
}

/// GitHub sends orgs (`acme`) and teams (`acme/ops`): one or two non-empty parts.
fn is_github_group(name: &str) -> bool {
    let parts: Vec<&str> = name.split('/').collect();
    parts.len() <= 2 && parts.iter().all(|part| !part.is_empty() && !part.contains(char::is_whitespace))
}

fn providers_list(known_providers: &[&str]) -> String {
    if known_providers.is_empty() {
        "no sign-in provider is configured".to_owned()
    } else {
        format!("configured: {}", known_providers.join(", "))
    }
}
