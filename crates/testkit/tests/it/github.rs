//! The GitHub replay of the test kit, driven as an OAuth app would: authorize, exchange the code,
//! read the user, their emails, organizations and teams (following `Link` headers).

use std::time::Duration;

use anyhow::Result;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use portolan_testkit::github::{CLIENT_ID, CLIENT_SECRET, GithubConfig, GithubServer};
use portolan_testkit::runner::run;
use serde_json::Value;
use sha2::{Digest, Sha256};
use url::Url;

const REDIRECT: &str = "http://127.0.0.1:9/auth/github/callback";

fn client() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(10)).redirect(reqwest::redirect::Policy::none()).build().expect("client")
}

fn param(location: &str, name: &str) -> Option<String> {
    Url::parse(location).ok()?.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

/// GET authorize; the redirect's Location.
async fn authorize(github: &GithubServer, extra: &[(&str, &str)]) -> String {
    let mut url = Url::parse(&github.authorize_url()).unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", CLIENT_ID)
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("scope", "read:org user:email")
        .append_pair("state", "st-42")
        .extend_pairs(extra);
    let resp = client().get(url).send().await.unwrap();
    assert_eq!(resp.status(), 302);
    resp.headers()["location"].to_str().unwrap().to_owned()
}

async fn exchange(github: &GithubServer, code: &str, secret: &str, extra: &[(&str, &str)]) -> Value {
    let mut form = vec![("client_id", CLIENT_ID), ("client_secret", secret), ("code", code), ("redirect_uri", REDIRECT)];
    form.extend_from_slice(extra);
    let resp = client().post(github.token_url()).header("accept", "application/json").form(&form).send().await.unwrap();
    assert_eq!(resp.status(), 200, "GitHub answers token errors with 200 too");
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
    resp.json().await.unwrap()
}

async fn sign_in(github: &GithubServer, extra: &[(&str, &str)]) -> String {
    let location = authorize(github, extra).await;
    let code = param(&location, "code").unwrap();
    let tokens = exchange(github, &code, CLIENT_SECRET, &[]).await;
    tokens["access_token"].as_str().unwrap().to_owned()
}

async fn api(github: &GithubServer, path: &str, auth: &str) -> reqwest::Response {
    client()
        .get(format!("{}{path}", github.api_url()))
        .header("authorization", auth)
        .header("accept", "application/vnd.github+json")
        .header("x-github-api-version", "2022-11-28")
        .send()
        .await
        .unwrap()
}

/// Follows `Link: <…>; rel="next"` from `first`, returning every item and the pages fetched.
async fn all_pages(github: &GithubServer, first: &str, auth: &str) -> (Vec<Value>, usize) {
    let mut items = Vec::new();
    let mut next = Some(format!("{}{first}", github.api_url()));
    let mut pages = 0;
    while let Some(url) = next.take() {
        let resp = client().get(&url).header("authorization", auth).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{url}");
        pages += 1;
        next = resp.headers().get("link").and_then(|l| {
            l.to_str().unwrap().split(", ").find(|part| part.ends_with("rel=\"next\"")).map(|part| {
                let start = part.find('<').unwrap() + 1;
                part[start..part.find('>').unwrap()].to_owned()
            })
        });
        items.extend(resp.json::<Vec<Value>>().await.unwrap());
    }
    (items, pages)
}

#[test]
fn oauth_flow_and_user_api() -> Result<()> {
    run(async {
        let github = GithubServer::start(GithubConfig::default()).await?;

        // Authorize: auto-approved as alice, code and state back on the redirect URI.
        let location = authorize(&github, &[]).await;
        assert!(location.starts_with(REDIRECT), "{location}");
        assert_eq!(param(&location, "state").as_deref(), Some("st-42"));
        let code = param(&location, "code").unwrap();
        assert_eq!(code.len(), 20);

        // A wrong secret is refused, with GitHub's error JSON and status 200.
        let refused = exchange(&github, &code, "wrong-secret", &[]).await;
        assert_eq!(refused["error"], "incorrect_client_credentials", "{refused}");

        let tokens = exchange(&github, &code, CLIENT_SECRET, &[]).await;
        let token = tokens["access_token"].as_str().unwrap().to_owned();
        assert!(token.starts_with("gho_") && token.len() == 40, "{tokens}");
        assert_eq!(tokens["token_type"], "bearer");
        assert_eq!(tokens["scope"], "read:org,user:email");

        // A code is good once.
        let reused = exchange(&github, &code, CLIENT_SECRET, &[]).await;
        assert_eq!(reused["error"], "bad_verification_code");
        assert_eq!(reused["error_description"], "The code passed is incorrect or expired.");
        assert!(reused["error_uri"].as_str().unwrap().starts_with("https://docs.github.com/"));

        // Without Accept: application/json the answer is form-encoded.
        let code = param(&authorize(&github, &[]).await, "code").unwrap();
        let resp = client()
            .post(github.token_url())
            .form(&[("client_id", CLIENT_ID), ("client_secret", CLIENT_SECRET), ("code", code.as_str())])
            .send()
            .await?;
        assert!(resp.headers()["content-type"].to_str()?.starts_with("application/x-www-form-urlencoded"));
        let body = resp.text().await?;
        assert!(body.starts_with("access_token=gho_") && body.contains("token_type=bearer"), "{body}");

        // /user, with both authorization schemes and GitHub's headers.
        for auth in [format!("Bearer {token}"), format!("token {token}")] {
            let resp = api(&github, "/user", &auth).await;
            assert_eq!(resp.status(), 200);
            let h = resp.headers();
            assert_eq!(h["content-type"], "application/json; charset=utf-8");
            assert_eq!(h["x-github-media-type"], "github.v3; format=json");
            assert_eq!(h["x-oauth-scopes"], "read:org, user:email");
            assert_eq!(h["x-ratelimit-limit"], "5000");
            assert!(h.contains_key("x-ratelimit-remaining") && h.contains_key("x-ratelimit-reset"));
            let user: Value = resp.json().await?;
            assert_eq!(user["login"], "alice");
            assert_eq!(user["id"], 1_000_001);
            assert!(user["node_id"].as_str().unwrap().starts_with("U_"));
            assert_eq!(user["name"], "Alice Admin");
        }

        // Bad and missing credentials.
        let resp = api(&github, "/user", "Bearer gho_not-a-token").await;
        assert_eq!(resp.status(), 401);
        let body: Value = resp.json().await?;
        assert_eq!(body["message"], "Bad credentials");
        assert_eq!(body["documentation_url"], "https://docs.github.com/rest");
        let resp = client().get(format!("{}/user", github.api_url())).send().await?;
        assert_eq!(resp.status(), 401);
        assert_eq!(resp.json::<Value>().await?["message"], "Requires authentication");

        // Emails, orgs and teams.
        let auth = format!("Bearer {token}");
        let emails: Vec<Value> = api(&github, "/user/emails", &auth).await.json().await?;
        assert_eq!(emails.len(), 2);
        assert_eq!(emails[0], serde_json::json!({"email": "alice@example.com", "primary": true, "verified": true, "visibility": "public"}));
        assert_eq!(emails[1]["verified"], false);
        let orgs: Vec<Value> = api(&github, "/user/orgs", &auth).await.json().await?;
        let logins: Vec<&str> = orgs.iter().map(|o| o["login"].as_str().unwrap()).collect();
        assert_eq!(logins, ["portolan-org", "acme-corp"]);
        let teams: Vec<Value> = api(&github, "/user/teams", &auth).await.json().await?;
        let slugs: Vec<(&str, &str)> =
            teams.iter().map(|t| (t["organization"]["login"].as_str().unwrap(), t["slug"].as_str().unwrap())).collect();
        assert_eq!(slugs, [("portolan-org", "platform-admins"), ("portolan-org", "developers")]);

        // Scopes are enforced: without user:email no emails, without read:org no orgs or teams.
        let bare = github.mint_token("alice", &[]);
        let resp = api(&github, "/user/emails", &format!("token {bare}")).await;
        assert_eq!(resp.status(), 404);
        assert_eq!(resp.headers()["x-accepted-oauth-scopes"], "user, user:email");
        assert_eq!(api(&github, "/user/orgs", &format!("token {bare}")).await.status(), 403);
        assert_eq!(api(&github, "/user/teams", &format!("token {bare}")).await.status(), 403);
        assert_eq!(api(&github, "/user", &format!("token {bare}")).await.status(), 200);
        Ok(())
    })
}

#[test]
fn user_selection_denial_and_pkce() -> Result<()> {
    run(async {
        let github = GithubServer::start(GithubConfig::default()).await?;

        // The `login` parameter picks the user.
        let token = sign_in(&github, &[("login", "bob")]).await;
        let user: Value = api(&github, "/user", &format!("Bearer {token}")).await.json().await?;
        assert_eq!(user["login"], "bob");
        assert_eq!(user["email"], Value::Null, "bob keeps his email private");

        // So does set_user, until changed, and the HTTP control endpoint.
        github.set_user("carol");
        for _ in 0..2 {
            let token = sign_in(&github, &[]).await;
            let emails: Vec<Value> = api(&github, "/user/emails", &format!("Bearer {token}")).await.json().await?;
            assert_eq!(emails[0]["email"], "carol@example.com");
            assert_eq!(emails[0]["verified"], false);
            let teams: Vec<Value> = api(&github, "/user/teams", &format!("Bearer {token}")).await.json().await?;
            assert!(teams.is_empty());
        }
        let resp = client().post(format!("{}/__test/user", github.url())).json(&serde_json::json!({"login": "alice"})).send().await?;
        assert_eq!(resp.status(), 200);
        let token = sign_in(&github, &[]).await;
        assert_eq!(api(&github, "/user", &format!("Bearer {token}")).await.json::<Value>().await?["login"], "alice");

        // A refusal comes back on the redirect URI.
        github.deny_next();
        let location = authorize(&github, &[]).await;
        assert_eq!(param(&location, "error").as_deref(), Some("access_denied"), "{location}");
        assert_eq!(param(&location, "state").as_deref(), Some("st-42"));
        assert!(param(&location, "code").is_none());

        // PKCE: the verifier must match the challenge.
        let verifier = "a-verifier-long-enough-to-be-valid-0123456789";
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        let pkce = [("code_challenge", challenge.as_str()), ("code_challenge_method", "S256")];
        let code = param(&authorize(&github, &pkce).await, "code").unwrap();
        let wrong = exchange(&github, &code, CLIENT_SECRET, &[("code_verifier", "something-else")]).await;
        assert_eq!(wrong["error"], "bad_verification_code");
        let code = param(&authorize(&github, &pkce).await, "code").unwrap();
        let good = exchange(&github, &code, CLIENT_SECRET, &[("code_verifier", verifier)]).await;
        assert!(good["access_token"].as_str().unwrap().starts_with("gho_"), "{good}");

        // Client credentials as HTTP Basic work too.
        let code = param(&authorize(&github, &[]).await, "code").unwrap();
        let resp = client()
            .post(github.token_url())
            .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
            .header("accept", "application/json")
            .form(&[("code", code.as_str()), ("redirect_uri", REDIRECT)])
            .send()
            .await?;
        assert!(resp.json::<Value>().await?["access_token"].is_string());
        Ok(())
    })
}

#[test]
fn lists_are_paged_with_link_headers() -> Result<()> {
    run(async {
        let mut config = GithubConfig { max_per_page: 2, ..GithubConfig::default() };
        for i in 0..3 {
            let slug = format!("squad-{i}");
            config.teams.push(portolan_testkit::github::GithubTeam {
                org: "acme-corp".to_owned(),
                slug: slug.clone(),
                name: format!("Squad {i}"),
                id: 7_100_000 + i,
            });
            config.users[0].teams.push(("acme-corp".to_owned(), slug));
        }
        let github = GithubServer::start(config).await?;
        let token = sign_in(&github, &[]).await;
        let auth = format!("Bearer {token}");

        // per_page=100 is capped at 2 here: five teams make three pages.
        let resp = api(&github, "/user/teams?per_page=100", &auth).await;
        let link = resp.headers()["link"].to_str()?.to_owned();
        let base = github.api_url();
        assert_eq!(
            link,
            format!("<{base}/user/teams?per_page=2&page=2>; rel=\"next\", <{base}/user/teams?per_page=2&page=3>; rel=\"last\"")
        );
        let resp = api(&github, "/user/teams?per_page=2&page=3", &auth).await;
        let link = resp.headers()["link"].to_str()?.to_owned();
        assert!(link.contains("page=2>; rel=\"prev\"") && link.contains("page=1>; rel=\"first\"") && !link.contains("next"), "{link}");
        assert_eq!(resp.json::<Vec<Value>>().await?.len(), 1);

        let (teams, pages) = all_pages(&github, "/user/teams?per_page=100", &auth).await;
        assert_eq!(pages, 3);
        let slugs: Vec<&str> = teams.iter().map(|t| t["slug"].as_str().unwrap()).collect();
        assert_eq!(slugs, ["platform-admins", "developers", "squad-0", "squad-1", "squad-2"]);
        assert!(teams.iter().all(|t| t["organization"]["login"].is_string()));

        // Two orgs fit one page: no Link header.
        let resp = api(&github, "/user/orgs?per_page=100", &auth).await;
        assert!(resp.headers().get("link").is_none());
        let (orgs, pages) = all_pages(&github, "/user/orgs", &auth).await;
        assert_eq!((orgs.len(), pages), (2, 1));

        assert!(github.requests().iter().any(|r| r == "GET /user/teams?per_page=2&page=3"), "{:?}", github.requests());
        Ok(())
    })
}
