//! A set of running, seeded registries: what integration tests, end-to-end tests and the
//! demo all start from.

use std::sync::Arc;

use anyhow::{Context, Result, bail};
use serde::Serialize;

use crate::distribution::{Distribution, DistributionAuth, Ferro};
use crate::fixtures::{ImageSpec, Seeder, many_tag_name};
use crate::pusher::{PushAuth, Pusher};
use crate::seed::{SeedReport, seed_demo};
use crate::token::{Grant, TokenServer};

/// Users of the authenticated registries.
pub const ADMIN: (&str, &str) = ("admin", "admin-pass");
pub const READER: (&str, &str) = ("reader", "reader-pass");

/// The kinds of registry the harness can start.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// distribution, anonymous.
    Anonymous,
    /// distribution, htpasswd basic auth (user `admin`).
    Basic,
    /// distribution, Docker token auth (`admin` may do all, `reader` only pull, anonymous nothing).
    Token,
    /// ferro-oci-server: the OCI 1.1 referrers API, no auth.
    Ferro,
}

impl Kind {
    pub fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "anonymous" | "anon" => Kind::Anonymous,
            "basic" => Kind::Basic,
            "token" => Kind::Token,
            "ferro" => Kind::Ferro,
            _ => bail!("unknown registry kind {s:?} (anonymous, basic, token, ferro)"),
        })
    }

    /// A display name.
    pub fn title(self) -> &'static str {
        match self {
            Kind::Anonymous => "Distribution (anonymous)",
            Kind::Basic => "Distribution (basic auth)",
            Kind::Token => "Distribution (token auth)",
            Kind::Ferro => "ferro-oci-server (referrers API)",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Anonymous => "anonymous",
            Kind::Basic => "basic",
            Kind::Token => "token",
            Kind::Ferro => "ferro",
        }
    }
}

enum Server {
    Distribution(Distribution),
    Ferro(Ferro),
}

/// One running registry, seeded.
pub struct Registry {
    pub kind: Kind,
    pub url: String,
    /// Credentials with every right (None: anonymous registry).
    pub admin: Option<(String, String)>,
    pub seed: SeedReport,
    pub token: Option<Arc<TokenServer>>,
    server: Server,
    pusher: Pusher,
}

impl Registry {
    /// Starts a registry of `kind` and seeds it (`many_tags` tags in `stress/many-tags`).
    pub async fn start(kind: Kind, many_tags: usize) -> Result<Self> {
        let (server, token, auth, admin) = match kind {
            Kind::Anonymous => (Server::Distribution(Distribution::start(DistributionAuth::Anonymous).await?), None, PushAuth::None, None),
            Kind::Basic => {
                let d = Distribution::start(DistributionAuth::Htpasswd(&[ADMIN])).await?;
                (Server::Distribution(d), None, PushAuth::Basic(ADMIN.0.into(), ADMIN.1.into()), Some(ADMIN))
            }
            Kind::Token => {
                let token = Arc::new(
                    TokenServer::start(&[(ADMIN.0, ADMIN.1, Grant::All), (READER.0, READER.1, Grant::Pull)], Grant::Nothing).await?,
                );
                let d = Distribution::start(DistributionAuth::Token(&token)).await?;
                let minter = token.clone();
                let auth = PushAuth::Bearer(Arc::new(move |repo: &str| minter.mint(&[("repository", repo, &["pull", "push", "delete"])])));
                (Server::Distribution(d), Some(token), auth, Some(ADMIN))
            }
            Kind::Ferro => (Server::Ferro(Ferro::start().await?), None, PushAuth::None, None),
        };
        let url = match &server {
            Server::Distribution(d) => d.url.clone(),
            Server::Ferro(f) => f.url.clone(),
        };
        let pusher = Pusher::new(&url, auth);
        let seed = seed_demo(&Seeder::new(pusher.clone(), kind != Kind::Ferro), many_tags).await?;
        Ok(Self { kind, url, admin: admin.map(|(u, p)| (u.to_owned(), p.to_owned())), seed, token, server, pusher })
    }

    /// Tags `repo` with `count` tags, [`many_tag_name`]`(0..count)`, all on one small image: for
    /// tests of tag lists (paging, counts, many resolutions at once) where what each tag points
    /// at does not matter — a manifest PUT per tag instead of an image of its own (four requests).
    /// On ferro-oci-server, which rewrites its whole metadata file at each push, the tags are
    /// written into that file instead, and it is started again: `url` changes.
    pub async fn tags_on_one_image(&mut self, repo: &str, count: usize) -> Result<()> {
        use futures::StreamExt;
        if count == 0 {
            return Ok(());
        }
        let seeder = Seeder::new(self.pusher.clone(), self.kind != Kind::Ferro);
        let image = seeder.image(repo, &[&many_tag_name(0)], &ImageSpec::new("one image, many tags\n")).await?;
        match &mut self.server {
            Server::Distribution(_) => {
                let bytes = self.pusher.get_manifest(repo, &image.digest).await?.context("the image just pushed")?;
                let pushed: Vec<Result<_>> = futures::stream::iter(1..count)
                    .map(|i| {
                        let (pusher, bytes, media_type) = (&self.pusher, &bytes, &image.media_type);
                        async move { pusher.manifest(repo, &many_tag_name(i), media_type, bytes).await }
                    })
                    .buffer_unordered(16)
                    .collect()
                    .await;
                pushed.into_iter().collect::<Result<Vec<_>>>()?;
            }
            Server::Ferro(ferro) => {
                ferro
                    .edit_metadata(|meta| {
                        let tags = meta["tags"][repo].as_object_mut().context("ferro's tags of the repository")?;
                        for i in 1..count {
                            tags.insert(many_tag_name(i), image.digest.clone().into());
                        }
                        Ok(())
                    })
                    .await?;
                self.url = ferro.url.clone();
                self.pusher = Pusher::new(&self.url, PushAuth::None);
            }
        }
        Ok(())
    }

    /// Stops the registry process now (its storage is removed when it is dropped), so a set of
    /// registries stops at once rather than one storage removal after another.
    pub fn kill(&mut self) {
        match &mut self.server {
            Server::Distribution(d) => d.kill(),
            Server::Ferro(f) => f.kill(),
        }
    }

    /// Whether the registry serves the OCI 1.1 referrers API.
    pub fn has_referrers_api(&self) -> bool {
        self.kind == Kind::Ferro
    }
}
