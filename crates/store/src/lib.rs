//! Portolan's store, and the only code that speaks SQL: the migrations and a typed function
//! for every read and write of first-seen dates, users, sessions, the audit log and the trash.
//!
//! One engine for one machine (an embedded SQLite file) and one for several replicas
//! (Postgres), behind one API: the schema is portable SQL (`BIGINT`, `TEXT`, `BYTEA` only;
//! ids made here, not by the engine; times as Unix milliseconds), statements use `$n`
//! placeholders, which both engines understand, and run through sqlx's `Any` driver.
//!
//! # Layout
//! - this file: [`Store`] — opening (a data directory or a `postgres://` URL), migrations,
//!   readiness, and the mapping of engine errors to [`StoreError`].
//! - [`ids`]: ids and times.
//! - [`seen`]: when each digest was first seen.
//! - [`users`]: who signed in.
//! - [`sessions`]: the session records of tower-sessions ([`sessions::Sessions`]), kept under
//!   the hash of their id.
//! - [`tokens`]: API tokens (hashes of their secrets, scopes, uses).
//! - [`audit`]: the append-only audit log.
//! - [`trash`]: what deletes removed, byte for byte, for restoring.
//! - [`policies`], [`runs`], [`leases`]: retention policies, their runs and items, and the
//!   database-wide claims that make a policy run on one replica at a time.
//! - [`search`]: the where-used index (manifests read, what they name, their tags), the crawl's
//!   progress, the repository list's lazily read columns, the repositories people opened.
//! - [`storage`]: where the bytes are — figures per blob, repository and registry, kept up to
//!   date as the where-used index changes; the blobs deleted artifacts leave to garbage
//!   collection.

pub mod audit;
pub mod ids;
pub mod leases;
pub mod policies;
pub mod runs;
pub mod search;
pub mod seen;
pub mod sessions;
pub mod storage;
pub mod tokens;
pub mod trash;
pub mod users;

use std::path::{Path, PathBuf};
use std::time::Duration;

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Executor};

pub use audit::{Actor, ActorKind, AuditEntry, AuditFilter, NewAudit, Outcome};
pub use ids::{from_millis, millis, new_id};
pub use policies::PolicyRecord;
pub use runs::{NewRun, RunCounts, RunItem, RunRecord, RunState, Trigger};
pub use search::{
    CrawlState, IndexCoverage, IndexRef, IndexedManifest, IndexedReferrer, RefRole, RepoSummaryRecord, Usage, UseStep, WhereUsed,
};
pub use storage::{BlobCount, ContentManifest, LastPass, RepoContents, RepoStorage, SharedBlob, StorageTotals, TrashBlob};
pub use tokens::{NewToken, TokenRecord};
pub use trash::{ManifestRole, NewTrash, RestoreClaim, TrashEntry, TrashKind, TrashManifest, TrashState};

/// Where the store lives. Its `Debug` form is [`Location::redacted`]'s.
#[derive(Clone, PartialEq, Eq)]
pub enum Location {
    /// `<dir>/portolan.db`, created (readable by its owner only) when missing.
    Sqlite(PathBuf),
    /// A `postgres://` URL (it may carry a password: never printed — see [`Location::redacted`]).
    Postgres(String),
}

impl Location {
    /// For messages and logs: the file, or the Postgres URL without its password.
    pub fn redacted(&self) -> String {
        match self {
            Location::Sqlite(dir) => dir.join(DB_FILE).display().to_string(),
            Location::Postgres(url) => redact_url(url),
        }
    }
}

impl std::fmt::Debug for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Sqlite(dir) => f.debug_tuple("Sqlite").field(dir).finish(),
            Location::Postgres(_) => f.debug_tuple("Postgres").field(&self.redacted()).finish(),
        }
    }
}

/// The SQLite file's name in the data directory.
pub const DB_FILE: &str = "portolan.db";

/// How to open the store.
#[derive(Clone, Debug)]
pub struct StoreConfig {
    pub location: Location,
    /// Connections in the pool at most.
    pub max_connections: u32,
    /// How long a query waits for a free connection (or a new one) before failing as
    /// unavailable.
    pub acquire_timeout: Duration,
}

impl StoreConfig {
    /// Pools of 10 connections on Postgres, 4 on SQLite (it writes one at a time whatever the
    /// pool, and each connection is a thread with its own caches).
    pub fn new(location: Location) -> Self {
        let max_connections = match location {
            Location::Sqlite(_) => 4,
            Location::Postgres(_) => 10,
        };
        Self { location, max_connections, acquire_timeout: Duration::from_secs(5) }
    }
}

/// Which engine a store runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

impl Engine {
    pub fn label(self) -> &'static str {
        match self {
            Engine::Sqlite => "SQLite",
            Engine::Postgres => "Postgres",
        }
    }
}

/// What went wrong with the store, coarsely: enough to choose a status (503 for
/// [`StoreError::Unavailable`]) without showing engine internals.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached (connection refused or lost, pool timed out).
    #[error("the store is unavailable ({0})")]
    Unavailable(String),
    #[error("{0}")]
    NotFound(String),
    /// A uniqueness rule was broken (the row exists already).
    #[error("{0}")]
    Conflict(String),
    /// Anything else (a bug, a corrupt row): details are in the log.
    #[error("the store failed ({0})")]
    Internal(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        use sqlx::Error as E;
        match &e {
            E::PoolTimedOut | E::PoolClosed | E::Io(_) | E::Tls(_) | E::Protocol(_) | E::WorkerCrashed => {
                StoreError::Unavailable(e.to_string())
            }
            E::RowNotFound => StoreError::NotFound("no such row".into()),
            E::Database(db) if db.is_unique_violation() => StoreError::Conflict(db.message().to_owned()),
            // Postgres: the server is shutting down or restarting (57P01…), or the connection
            // broke mid-query (08xxx).
            E::Database(db) if db.code().is_some_and(|c| c.starts_with("57P") || c.starts_with("08")) => {
                StoreError::Unavailable(db.message().to_owned())
            }
            _ => StoreError::Internal(e.to_string()),
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The store: a pool of connections to one engine. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    engine: Engine,
}

impl Store {
    /// Opens the store (creating the SQLite file, readable by its owner only, if needed) and
    /// applies the migrations.
    pub async fn open(config: &StoreConfig) -> Result<Self> {
        install_default_drivers();
        let (url, engine) = match &config.location {
            Location::Sqlite(dir) => (sqlite_url(dir)?, Engine::Sqlite),
            Location::Postgres(url) => (url.clone(), Engine::Postgres),
        };
        let pool = AnyPoolOptions::new()
            .max_connections(config.max_connections.max(1))
            .acquire_timeout(config.acquire_timeout)
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if engine == Engine::Sqlite {
                        // WAL: readers do not wait for writers; busy_timeout: writers wait
                        // for each other instead of failing at once; a page cache of 512 KiB
                        // per connection instead of 2 MiB (the file stays in the system's
                        // cache anyway; up to ten connections' caches weigh on an idle
                        // Portolan's memory).
                        conn.execute(
                            "PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 5000; PRAGMA synchronous = NORMAL; PRAGMA cache_size = -512;",
                        )
                        .await?;
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await
            .map_err(|e| match StoreError::from(e) {
                StoreError::Internal(m) | StoreError::Unavailable(m) => {
                    StoreError::Unavailable(format!("cannot open {}: {m}", config.location.redacted()))
                }
                other => other,
            })?;
        let store = Self { pool, engine };
        store.migrate().await?;
        Ok(store)
    }

    /// Applies the migrations not applied yet (several replicas may start at once: sqlx takes
    /// a lock on Postgres while migrating).
    pub async fn migrate(&self) -> Result<()> {
        sqlx::migrate!("./migrations").run(&self.pool).await.map_err(|e| match e {
            sqlx::migrate::MigrateError::Execute(e) => StoreError::from(e),
            other => StoreError::Internal(format!("migrating: {other}")),
        })
    }

    pub fn engine(&self) -> Engine {
        self.engine
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Readiness: the database answers and every migration this build knows is applied.
    pub async fn ready(&self) -> Result<()> {
        let applied: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success = $1").bind(true).fetch_one(&self.pool).await?;
        let known = sqlx::migrate!("./migrations").iter().count() as i64;
        if applied < known {
            return Err(StoreError::Unavailable(format!("{applied} of {known} migrations applied")));
        }
        Ok(())
    }

    /// Connections open and idle (for metrics).
    pub fn pool_use(&self) -> (u32, usize) {
        (self.pool.size(), self.pool.num_idle())
    }

    /// Closes every connection (at shutdown).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// The SQLite URL of `<dir>/portolan.db`, creating the directory (owner only) and the file
/// (owner read/write only) first, so the store never exists with wider permissions.
fn sqlite_url(dir: &Path) -> Result<String> {
    let io = |what: &str, e: std::io::Error| StoreError::Unavailable(format!("{what} {}: {e}", dir.display()));
    let path = dir.join(DB_FILE);
    let text = path.to_str().ok_or_else(|| StoreError::Unavailable(format!("the data directory {} is not UTF-8", dir.display())))?;
    if text.contains(['?', '#']) {
        return Err(StoreError::Unavailable(format!("the data directory {} may not contain '?' or '#'", dir.display())));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
        if !dir.exists() {
            std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(|e| io("creating", e))?;
        }
        std::fs::OpenOptions::new().create(true).append(true).mode(0o600).open(&path).map_err(|e| io("creating the store in", e))?;
    }
    #[cfg(not(unix))]
    {
        std::fs::create_dir_all(dir).map_err(|e| io("creating", e))?;
    }
    Ok(format!("sqlite://{text}?mode=rwc"))
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`.
pub fn redact_url(url: &str) -> String {
    // A password may also come as a query parameter (`?password=…`, as libpq reads it).
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let base = match (base.find("://"), base.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &base[scheme_end + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &base[..scheme_end + 3], &base[at..]),
                None => base.to_owned(),
            }
        }
        _ => base.to_owned(),
    };
    match query {
        Some(query) => {
            let params: Vec<String> = query
                .split('&')
                .map(|p| match p.split_once('=') {
                    Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                    _ => p.to_owned(),
                })
                .collect();
            format!("{base}?{}", params.join("&"))
        }
        None => base,
    }
}

/// `IN ($a, $b, …)` placeholders for `n` values starting at `$first`.
pub(crate) fn placeholders(first: usize, n: usize) -> String {
    (first..first + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_redacted() {
        assert_eq!(redact_url("postgres://portolan:s3cret@db:5432/portolan"), "postgres://portolan:***@db:5432/portolan");
        assert_eq!(redact_url("postgres://db/portolan"), "postgres://db/portolan");
        assert_eq!(redact_url("postgres://u@db/p"), "postgres://u@db/p");
        assert_eq!(redact_url("postgres://u@db/p?sslmode=require&password=x@y"), "postgres://u@db/p?sslmode=require&password=***");
        assert_eq!(redact_url("postgres://u:pw@db/p?sslmode=require"), "postgres://u:***@db/p?sslmode=require");
        let location = Location::Postgres("postgres://u:pw@db/p".into());
        assert_eq!(format!("{location:?}"), r#"Postgres("postgres://u:***@db/p")"#);
    }

    #[test]
    fn placeholders_are_numbered() {
        assert_eq!(placeholders(3, 3), "$3, $4, $5");
    }
}
