//! GitHub sign-in (OAuth, not OpenID Connect): the code flow with state and PKCE through the
//! `oauth2` crate, then the identity from GitHub's REST API — the user, their primary verified
//! email, and their orgs and teams as groups (`acme`, `acme/ops`), every page of them.

use oauth2::basic::BasicClient;
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
    TokenUrl,
};
use portolan_access::Identity;
use serde::Deserialize;
use url::Url;

use super::oidc::error_chain;
use super::{Failure, Pending};
use crate::config::ProviderConfig;

/// Pages of orgs or teams followed at most (100 each).
const MAX_PAGES: usize = 20;

pub struct GithubProvider {
    pub config: ProviderConfig,
    github_url: Url,
    api_url: Url,
    allowed_orgs: Vec<String>,
    http: reqwest::Client,
}

#[derive(Deserialize)]
struct User {
    id: u64,
    login: String,
    name: Option<String>,
}

#[derive(Deserialize)]
struct Email {
    email: String,
    primary: bool,
    verified: bool,
}

#[derive(Deserialize)]
struct Org {
    login: String,
}

#[derive(Deserialize)]
struct Team {
    slug: String,
    organization: Org,
}

impl GithubProvider {
    pub fn new(config: ProviderConfig, http: reqwest::Client) -> Self {
        let crate::config::ProviderKind::Github { github_url, api_url, allowed_orgs } = config.kind.clone() else {
            unreachable!("a GitHub provider")
        };
        Self { config, github_url, api_url, allowed_orgs, http }
    }

    fn endpoint(&self, path: &str) -> Result<String, Failure> {
        self.github_url.join(path).map(|u| u.to_string()).map_err(|e| Failure::provider(format!("GitHub's URL: {e}")))
    }

    pub async fn start(&self, redirect: &str, next: &str) -> Result<(Url, Pending), Failure> {
        let client = BasicClient::new(ClientId::new(self.config.client_id.clone()))
            .set_auth_uri(AuthUrl::new(self.endpoint("login/oauth/authorize")?).map_err(|e| Failure::provider(e.to_string()))?)
            .set_redirect_uri(RedirectUrl::new(redirect.to_owned()).map_err(|e| Failure::provider(e.to_string()))?);
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state) = client
            .authorize_url(CsrfToken::new_random)
            .add_scope(Scope::new("read:user".into()))
            .add_scope(Scope::new("user:email".into()))
            .add_scope(Scope::new("read:org".into()))
            .set_pkce_challenge(challenge)
            .url();
        Ok((url, Pending::new(&self.config.id, state.secret(), None, verifier.secret(), next)))
    }

    pub async fn finish(&self, pending: &Pending, code: &str, redirect: &str) -> Result<Identity, Failure> {
        let secret = self.config.client_secret.as_ref().map(|s| ClientSecret::new(s.expose().to_owned()));
        let mut client = BasicClient::new(ClientId::new(self.config.client_id.clone()))
            .set_token_uri(TokenUrl::new(self.endpoint("login/oauth/access_token")?).map_err(|e| Failure::provider(e.to_string()))?)
            .set_redirect_uri(RedirectUrl::new(redirect.to_owned()).map_err(|e| Failure::provider(e.to_string()))?);
        if let Some(secret) = secret {
            client = client.set_client_secret(secret);
        }
        let token = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_pkce_verifier(PkceCodeVerifier::new(pending.verifier.clone()))
            .request_async(&self.http)
            .await
            .map_err(|e| Failure::refused(format!("GitHub refused the code ({})", error_chain(&e))))?;
        let token = token.access_token().secret().clone();
        let user: User = self.get_json(&token, "user").await?;
        // Paged like the other lists: the verified primary address may be past the first page.
        let emails: Vec<Email> = self.get_pages(&token, "user/emails").await.unwrap_or_default();
        let email = emails.iter().find(|e| e.primary && e.verified).or_else(|| emails.iter().find(|e| e.verified)).map(|e| e.email.clone());
        let orgs: Vec<Org> = self.get_pages(&token, "user/orgs").await?;
        let teams: Vec<Team> = self.get_pages(&token, "user/teams").await?;
        let mut groups: Vec<String> = orgs.iter().map(|o| o.login.clone()).collect();
        groups.extend(teams.iter().map(|t| format!("{}/{}", t.organization.login, t.slug)));
        groups.sort();
        groups.dedup();
        if !self.allowed_orgs.is_empty() && !self.allowed_orgs.iter().any(|a| groups.iter().any(|g| g.eq_ignore_ascii_case(a))) {
            return Err(Failure::refused(format!(
                "{} is not a member of {} (or has not granted Portolan access to it)",
                user.login,
                self.allowed_orgs.join(", ")
            )));
        }
        Ok(Identity {
            provider: self.config.id.clone(),
            subject: user.id.to_string(),
            name: Some(user.name.filter(|n| !n.is_empty()).unwrap_or(user.login)),
            email_verified: email.is_some(),
            email,
            groups,
            cap: None,
        })
    }

    fn request(&self, token: &str, url: Url) -> reqwest::RequestBuilder {
        self.http
            .get(url)
            .bearer_auth(token)
            .header(reqwest::header::ACCEPT, "application/vnd.github+json")
            .header("X-GitHub-Api-Version", "2022-11-28")
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, token: &str, path: &str) -> Result<T, Failure> {
        let url = self.api_url.join(path).map_err(|e| Failure::provider(e.to_string()))?;
        let response =
            self.request(token, url).send().await.map_err(|e| Failure::provider(format!("GitHub's {path}: {}", error_chain(&e))))?;
        if !response.status().is_success() {
            return Err(Failure::refused(format!("GitHub's {path} answered {}", response.status())));
        }
        response.json().await.map_err(|e| Failure::provider(format!("GitHub's {path}: {e}")))
    }

    /// Every page of a list, following `Link: rel="next"` on GitHub's own API host only.
    async fn get_pages<T: serde::de::DeserializeOwned>(&self, token: &str, path: &str) -> Result<Vec<T>, Failure> {
        let mut url = self.api_url.join(path).map_err(|e| Failure::provider(e.to_string()))?;
        url.query_pairs_mut().append_pair("per_page", "100");
        let mut all = Vec::new();
        for _ in 0..MAX_PAGES {
            let response = self
                .request(token, url.clone())
                .send()
                .await
                .map_err(|e| Failure::provider(format!("GitHub's {path}: {}", error_chain(&e))))?;
            if !response.status().is_success() {
                return Err(Failure::refused(format!(
                    "GitHub's {path} answered {} (the read:org scope is needed for orgs and teams)",
                    response.status()
                )));
            }
            let next = response.headers().get(reqwest::header::LINK).and_then(|l| l.to_str().ok()).and_then(|l| next_link(l, &url));
            let page: Vec<T> = response.json().await.map_err(|e| Failure::provider(format!("GitHub's {path}: {e}")))?;
            all.extend(page);
            match next {
                Some(n) if n.origin() == self.api_url.origin() => url = n,
                _ => break,
            }
        }
        Ok(all)
    }
}

/// The `rel="next"` target of a `Link` header.
fn next_link(header: &str, base: &Url) -> Option<Url> {
    header.split(',').find_map(|part| {
        let (target, params) = part.trim().strip_prefix('<')?.split_once('>')?;
        params
            .split(';')
            .any(|p| p.trim().replace(' ', "") == "rel=\"next\"" || p.trim() == "rel=next")
            .then(|| base.join(target).ok())
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links() {
        let base = Url::parse("https://api.github.com/user/teams?per_page=100").unwrap();
        let h = r#"<https://api.github.com/user/teams?per_page=100&page=2>; rel="next", <https://api.github.com/user/teams?per_page=100&page=3>; rel="last""#;
        assert_eq!(next_link(h, &base).unwrap().as_str(), "https://api.github.com/user/teams?per_page=100&page=2");
        assert!(next_link(r#"<https://x/?page=1>; rel="prev""#, &base).is_none());
    }
}
