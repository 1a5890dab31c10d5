//! Whom a grant names, and how a person matched it.
//!
//! Matching rules, each chosen so that a grant never reaches further than its author meant:
//! - users: provider and subject both equal, exactly (subjects are opaque ids);
//! - emails: equal ignoring case, and only when the identity's email is verified;
//! - domains: the part after the email's last `@` equals the domain ignoring case, so
//!   `example.com` does not match `alice@sub.example.com` nor `eve@evil-example.com`;
//!   only when the email is verified;
//! - groups: equal, case-sensitively (Entra ID ids and GitHub slugs are as given), with a
//!   leading `/` ignored on both sides because Keycloak sends full paths (`/platform/admins`)
//!   and people often write them without; `provider:name` matches only that provider's groups,
//!   a bare `name` any provider's — which is why validation accepts a bare name only with a
//!   single sign-in provider that is not GitHub (where anyone can create an org and team by any
//!   free name);
//! - signed in: anyone with an identity.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::Identity;

/// One entry of a grant's subject lists, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Subject {
    /// `users = ["provider:subject"]`.
    User { provider: String, subject: String },
    /// `emails = […]`, stored lowercase.
    Email(String),
    /// `domains = […]`, stored lowercase.
    Domain(String),
    /// `groups = […]`: `provider` is set when the entry began with a known provider id and `:`
    /// (always, unless a single provider other than GitHub is configured); `name` is as written
    /// (a leading `/` is ignored when comparing).
    Group { provider: Option<String>, name: String },
    /// `signed_in = true`.
    SignedIn,
}

/// How a person matched a subject, with their own values (as the provider sent them), for an
/// admin page explaining a decision.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Reason {
    User { provider: String, subject: String },
    Email { email: String },
    Domain { email: String, domain: String },
    Group { group: String, provider: String },
    SignedIn { provider: String },
}

impl Subject {
    /// Whether, and how, this subject names `who`.
    pub fn reason(&self, who: &Identity) -> Option<Reason> {
        self.evidence(who).map(|evidence| evidence.into_reason(self, who))
    }

    /// Same decision as [`Subject::reason`] without allocating, for the hot path (filtering a
    /// catalog of thousands of repositories).
    pub(crate) fn evidence<'a>(&self, who: &'a Identity) -> Option<Evidence<'a>> {
        match self {
            Subject::User { provider, subject } => (*provider == who.provider && *subject == who.subject).then_some(Evidence::User),
            Subject::Email(email) => verified_email(who).filter(|theirs| eq_ignore_case(theirs, email)).map(Evidence::Email),
            Subject::Domain(domain) => verified_email(who)
                .filter(|theirs| theirs.rsplit_once('@').is_some_and(|(_, theirs)| eq_ignore_case(theirs, domain)))
                .map(Evidence::Email),
            Subject::Group { provider, name } => {
                if provider.as_ref().is_some_and(|provider| *provider != who.provider) {
                    return None;
                }
                let wanted = without_leading_slash(name);
                who.groups.iter().find(|group| without_leading_slash(group) == wanted).map(|group| Evidence::Group(group))
            }
            Subject::SignedIn => Some(Evidence::SignedIn),
        }
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Subject::User { provider, subject } => write!(f, "user {provider}:{subject}"),
            Subject::Email(email) => write!(f, "email {email}"),
            Subject::Domain(domain) => write!(f, "emails in domain {domain}"),
            Subject::Group { provider: Some(provider), name } => write!(f, "group \"{name}\" from {provider}"),
            Subject::Group { provider: None, name } => write!(f, "group \"{name}\" from any provider"),
            Subject::SignedIn => f.write_str("anyone signed in"),
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::User { provider, subject } => write!(f, "user \"{subject}\" from {provider}"),
            Reason::Email { email } => write!(f, "verified email \"{email}\""),
            Reason::Domain { email, domain } => write!(f, "verified email \"{email}\" in domain {domain}"),
            Reason::Group { group, provider } => write!(f, "group \"{group}\" from {provider}"),
            Reason::SignedIn { provider } => write!(f, "signed in with {provider}"),
        }
    }
}

/// What of the identity matched, borrowed; turned into a [`Reason`] only when explaining.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Evidence<'a> {
    User,
    Email(&'a str),
    Group(&'a str),
    SignedIn,
}

impl Evidence<'_> {
    fn into_reason(self, subject: &Subject, who: &Identity) -> Reason {
        let provider = who.provider.clone();
        match (self, subject) {
            (Evidence::User, _) => Reason::User { provider, subject: who.subject.clone() },
            (Evidence::Email(email), Subject::Domain(domain)) => Reason::Domain { email: email.to_owned(), domain: domain.clone() },
            (Evidence::Email(email), _) => Reason::Email { email: email.to_owned() },
            (Evidence::Group(group), _) => Reason::Group { group: group.to_owned(), provider },
            (Evidence::SignedIn, _) => Reason::SignedIn { provider },
        }
    }
}

fn verified_email(who: &Identity) -> Option<&str> {
    who.email.as_deref().filter(|_| who.email_verified)
}

/// Full Unicode lowercase comparison without allocating; grants store their side lowercased
/// already, lowering it again is harmless.
fn eq_ignore_case(a: &str, b: &str) -> bool {
    a.chars().flat_map(char::to_lowercase).eq(b.chars().flat_map(char::to_lowercase))
}

/// Keycloak's `/platform/admins` and a hand-written `platform/admins` are the same group.
pub(crate) fn without_leading_slash(group: &str) -> &str {
    group.strip_prefix('/').unwrap_or(group)
}
