//! The embedded store: one SQLite file in the data directory, with Portolan's tables (migrated
//! at start) and the sessions of tower-sessions.

use std::path::Path;
use std::str::FromStr;

use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use tower_sessions_sqlx_store::SqliteStore;

use crate::StartError;

/// Opens (creating if needed) `<data_dir>/portolan.db`, migrates it, and sets up the session
/// table.
pub async fn open(data_dir: &Path) -> Result<(SqlitePool, SqliteStore), StartError> {
    std::fs::create_dir_all(data_dir).map_err(|e| StartError(format!("creating the data directory {}: {e}", data_dir.display())))?;
    let path = data_dir.join("portolan.db");
    let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))
        .map_err(|e| StartError(e.to_string()))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .busy_timeout(std::time::Duration::from_secs(5));
    let pool = SqlitePoolOptions::new()
        .max_connections(8)
        .connect_with(options)
        .await
        .map_err(|e| StartError(format!("opening the store {}: {e}", path.display())))?;
    sqlx::migrate!("./migrations").run(&pool).await.map_err(|e| StartError(format!("migrating the store: {e}")))?;
    let sessions = SqliteStore::new(pool.clone());
    sessions.migrate().await.map_err(|e| StartError(format!("creating the session table: {e}")))?;
    Ok((pool, sessions))
}
