//! Who may do what in Portolan: roles, the signed-in identity, grants from the config, and the
//! decisions built on them. Pure: no I/O, no async, no web framework; the server asks, this
//! crate answers.
//!
//! # Layout
//! - [`role`]: [`Role`], `viewer < maintainer < admin`.
//! - [`identity`]: [`Identity`], a signed-in person as their provider described them.
//! - [`cap`]: [`Cap`], an API token's scope, capping what its owner's identity may do.
//! - [`provider`]: [`Provider`], a configured sign-in provider as grants see it.
//! - [`raw`]: [`RawGrant`], a `[[grants]]` table as written in the config.
//! - [`subject`]: [`Subject`], whom a grant names, and [`Reason`], how someone matched.
//! - [`grant`]: [`Grant`], validated, with its globs compiled.
//! - [`validate`]: [`validate_grants`], every mistake at once as [`GrantError`]s, and
//!   [`grant_warnings`], what valid grants may still get wrong.
//! - [`policy`]: [`Access`], the policy and [`Access::role_for`] / [`Access::role_over`] /
//!   [`Access::highest_role`].
//! - [`explain`]: [`Access::explain`] and [`Explanation`], the reasons behind a role.
//! - [`denied`]: [`Access::require`], [`Access::require_over`] and [`Denied`], refusals a caller
//!   turns into responses.
//!
//! # Rules in short
//! - Roles only add up: the highest role of any grant covering the place and naming the
//!   person wins; anonymous read on a registry adds viewer for everyone, signed in or not.
//! - Registry and repository patterns are globs where `/` is a separator: `team/*` matches
//!   `team/api` but not `team/a/b`; `team/**` matches both; `**` matches every repository.
//! - For a registry as a whole (no repository), a grant counts if its registry pattern matches,
//!   whatever its repositories: see [`Access::role_for`].
//! - Over a scope of repository globs (a retention policy's), the role is the lowest over its
//!   globs of the highest role of a grant surely covering each: see [`Access::role_over`].
//! - Emails and domains match only verified emails ([`Identity::email_verified`]), ignoring
//!   case; domains match exactly (no subdomains). Groups are case-sensitive, with a leading
//!   `/` ignored, and name their provider (`keycloak:/platform/admins`) unless there is only
//!   one, not GitHub. See [`subject`] and [`validate`].
//! - With no sign-in configured ([`Access::open`]), everyone is viewer everywhere, nobody more.

pub mod cap;
pub mod denied;
pub mod explain;
pub mod grant;
pub mod identity;
pub mod policy;
pub mod provider;
pub mod raw;
pub mod role;
pub mod subject;
pub mod validate;

pub use cap::{Cap, RawCap};
pub use denied::Denied;
pub use explain::{Explanation, GrantMatch};
pub use grant::Grant;
pub use identity::Identity;
pub use policy::Access;
pub use provider::{Provider, ProviderKind};
pub use raw::RawGrant;
pub use role::{ParseRoleError, Role};
pub use subject::{Reason, Subject};
pub use validate::{GrantError, grant_warnings, validate_grants};
