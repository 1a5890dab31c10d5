//! Who signed in, as their provider described them at their latest sign-in.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::{Result, Store, from_millis, millis};

/// A person as last seen at sign-in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub provider: String,
    pub subject: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub groups: Vec<String>,
    pub first_login: OffsetDateTime,
    pub last_login: OffsetDateTime,
}

impl Store {
    /// Records a sign-in: creates the user or refreshes what the provider said (groups change
    /// at the next sign-in, never silently in between).
    pub async fn record_sign_in(
        &self,
        provider: &str,
        subject: &str,
        name: Option<&str>,
        email: Option<&str>,
        groups: &[String],
        now: OffsetDateTime,
    ) -> Result<()> {
        let groups = serde_json::to_string(groups).unwrap_or_else(|_| "[]".into());
        sqlx::query(
            "INSERT INTO users (provider, subject, name, email, groups_json, first_login, last_login) VALUES ($1, $2, $3, $4, $5, $6, $6) \
             ON CONFLICT (provider, subject) DO UPDATE SET name = $3, email = $4, groups_json = $5, last_login = $6",
        )
        .bind(provider)
        .bind(subject)
        .bind(name)
        .bind(email)
        .bind(groups)
        .bind(millis(now))
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Everyone who signed in, most recent first.
    pub async fn users(&self, limit: i64) -> Result<Vec<User>> {
        let rows =
            sqlx::query_as::<_, UserRow>(&format!("{USER} ORDER BY last_login DESC LIMIT $1")).bind(limit).fetch_all(self.pool()).await?;
        Ok(rows.into_iter().map(user).collect())
    }

    /// The person `provider:subject` as last seen at sign-in (none or one).
    pub async fn users_of(&self, provider: &str, subject: &str) -> Result<Vec<User>> {
        let rows = sqlx::query_as::<_, UserRow>(&format!("{USER} WHERE provider = $1 AND subject = $2"))
            .bind(provider)
            .bind(subject)
            .fetch_all(self.pool())
            .await?;
        Ok(rows.into_iter().map(user).collect())
    }
}

const USER: &str = "SELECT provider, subject, name, email, groups_json, first_login, last_login FROM users";

/// A row of [`USER`].
type UserRow = (String, String, Option<String>, Option<String>, String, i64, i64);

fn user((provider, subject, name, email, groups, first, last): UserRow) -> User {
    User {
        provider,
        subject,
        name,
        email,
        groups: serde_json::from_str(&groups).unwrap_or_default(),
        first_login: from_millis(first),
        last_login: from_millis(last),
    }
}
