//! Dates with where they came from. Registries keep no dates, so an artifact's date is read
//! from what it carries, in a fixed order: the image config's `created`, else the
//! `org.opencontainers.image.created` annotation, else when Portolan first saw the digest. Pages,
//! the JSON API and the retention planner all say which one a date is.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Where a date came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum DateSource {
    /// The image config's `created`.
    Config,
    /// The `org.opencontainers.image.created` annotation.
    Annotation,
    /// When Portolan first saw the digest (the artifact carries no date).
    FirstSeen,
}

impl DateSource {
    /// Said next to a date (a tooltip, a column's note).
    pub fn label(self) -> &'static str {
        match self {
            DateSource::Config => "from the image config's created field",
            DateSource::Annotation => "from the org.opencontainers.image.created annotation",
            DateSource::FirstSeen => "when Portolan first saw it (the artifact carries no date)",
        }
    }

    /// The stable name stored and sent in JSON (`config`, `annotation`, `first-seen`).
    pub fn key(self) -> &'static str {
        match self {
            DateSource::Config => "config",
            DateSource::Annotation => "annotation",
            DateSource::FirstSeen => "first-seen",
        }
    }

    /// The source a stored name stands for ([`DateSource::key`]).
    pub fn from_key(key: &str) -> Option<Self> {
        [DateSource::Config, DateSource::Annotation, DateSource::FirstSeen].into_iter().find(|s| s.key() == key)
    }
}

/// A date and where it came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Dated {
    /// Seconds since the Unix epoch.
    #[serde(with = "time::serde::timestamp")]
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub at: OffsetDateTime,
    pub source: DateSource,
}

impl Dated {
    /// Seconds since the Unix epoch (what pages format).
    pub fn unix(&self) -> i64 {
        self.at.unix_timestamp()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_match_the_json_names() {
        for s in [DateSource::Config, DateSource::Annotation, DateSource::FirstSeen] {
            assert_eq!(DateSource::from_key(s.key()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), serde_json::Value::String(s.key().to_owned()));
        }
        assert_eq!(DateSource::from_key("none"), None);
    }
}
