//! The test kit's own parts, driven as Portolan drives them: the GitHub replay as an OAuth app
//! would, the OpenID provider as a relying party would. Each test runs within a time limit.

mod github;
mod oidc;
