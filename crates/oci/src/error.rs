//! Errors as a small set of kinds callers can match, with the registry's own words attached.

use std::time::Duration;

/// What went wrong, coarsely: what a caller needs to choose a status code or a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The repository, tag, manifest or blob does not exist.
    NotFound,
    /// No or wrong credentials (the registry or its token server said 401).
    Unauthorized,
    /// The credentials are valid but not allowed to do this (403, or a token without the action).
    Denied,
    /// The registry does not support the operation (deletion disabled, no catalog, schema 1…).
    Unsupported,
    /// The registry asks us to slow down (429).
    RateLimited,
    /// Our input is malformed: a repository name, tag, digest or manifest.
    Invalid,
    /// The registry answered something that breaks the protocol (garbage JSON, wrong digest…).
    BadResponse,
    /// A response exceeded its size cap.
    TooLarge,
    /// The registry did not answer within the timeout.
    Timeout,
    /// The registry cannot be reached, or failed with a 5xx.
    Unavailable,
    /// The content changed under us (a tag moved before a delete).
    Conflict,
}

impl ErrorKind {
    /// A short label for logs and UIs.
    pub fn label(self) -> &'static str {
        match self {
            ErrorKind::NotFound => "not found",
            ErrorKind::Unauthorized => "unauthorized",
            ErrorKind::Denied => "denied",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::RateLimited => "rate limited",
            ErrorKind::Invalid => "invalid",
            ErrorKind::BadResponse => "bad response",
            ErrorKind::TooLarge => "too large",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Conflict => "conflict",
        }
    }
}

/// An error with a kind, a human message, and what the registry said.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    kind: ErrorKind,
    message: String,
    status: Option<u16>,
    codes: Vec<String>,
    retry_after: Option<Duration>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into(), status: None, codes: Vec::new(), retry_after: None }
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    /// The HTTP status the registry answered, if it answered.
    pub fn status(&self) -> Option<u16> {
        self.status
    }

    /// The registry's error codes (`MANIFEST_UNKNOWN`, `DENIED`…), from its error envelope.
    pub fn codes(&self) -> &[String] {
        &self.codes
    }

    /// How long the registry asked us to wait (429 `Retry-After`).
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    pub(crate) fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    pub(crate) fn with_retry_after(mut self, after: Option<Duration>) -> Self {
        self.retry_after = after;
        self
    }

    pub(crate) fn with_context(mut self, context: &str) -> Self {
        self.message = format!("{context}: {}", self.message);
        self
    }

    /// Appends `note` (what state things were left in, what to do) to the message.
    pub(crate) fn with_note(mut self, note: &str) -> Self {
        self.message = format!("{}; {note}", self.message);
        self
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Invalid, message)
    }

    pub(crate) fn bad_response(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::BadResponse, message)
    }

    /// Builds an error from a registry's non-success answer and its body (error envelope,
    /// or anything else: plain text, HTML, nothing).
    pub(crate) fn from_response(status: u16, body: &[u8], what: &str) -> Self {
        #[derive(serde::Deserialize)]
        struct Envelope {
            errors: Vec<Entry>,
        }
        #[derive(serde::Deserialize)]
        struct Entry {
            code: Option<String>,
            message: Option<String>,
        }
        let envelope = serde_json::from_slice::<Envelope>(body).ok();
        let codes: Vec<String> = envelope.iter().flat_map(|e| e.errors.iter().filter_map(|x| x.code.clone())).collect();
        let said: Vec<String> = envelope
            .iter()
            .flat_map(|e| e.errors.iter().filter_map(|x| x.message.clone().or_else(|| x.code.clone())))
            .filter(|m| !m.is_empty())
            .collect();
        let kind = kind_from(status, &codes);
        let reason = match kind {
            ErrorKind::NotFound => "not found",
            ErrorKind::Unauthorized => "authentication required or failed",
            ErrorKind::Denied => "access denied",
            ErrorKind::Unsupported => "not supported by this registry",
            ErrorKind::RateLimited => "rate limited by the registry",
            ErrorKind::Invalid => "rejected as invalid",
            ErrorKind::Unavailable => "the registry failed",
            _ => "unexpected answer",
        };
        let mut message = format!("{what}: {reason} (HTTP {status}");
        if !said.is_empty() {
            let joined = said.join("; ");
            message.push_str(": ");
            message.push_str(&truncate(&joined, 300));
        }
        message.push(')');
        Self { kind, message, status: Some(status), codes, retry_after: None }
    }
}

fn kind_from(status: u16, codes: &[String]) -> ErrorKind {
    for code in codes {
        match code.as_str() {
            "MANIFEST_UNKNOWN" | "BLOB_UNKNOWN" | "NAME_UNKNOWN" | "TAG_UNKNOWN" | "BLOB_UPLOAD_UNKNOWN" => return ErrorKind::NotFound,
            "UNAUTHORIZED" => return ErrorKind::Unauthorized,
            "DENIED" => return ErrorKind::Denied,
            "UNSUPPORTED" => return ErrorKind::Unsupported,
            "TOOMANYREQUESTS" => return ErrorKind::RateLimited,
            "NAME_INVALID"
            | "TAG_INVALID"
            | "DIGEST_INVALID"
            | "MANIFEST_INVALID"
            | "MANIFEST_BLOB_UNKNOWN"
            | "SIZE_INVALID"
            | "BLOB_UPLOAD_INVALID"
            | "MANIFEST_UNVERIFIED"
            | "PAGINATION_NUMBER_INVALID" => return ErrorKind::Invalid,
            _ => {}
        }
    }
    match status {
        404 => ErrorKind::NotFound,
        401 => ErrorKind::Unauthorized,
        403 => ErrorKind::Denied,
        405 | 501 => ErrorKind::Unsupported,
        429 => ErrorKind::RateLimited,
        400 | 409 | 412 | 413 | 415 | 416 | 422 => ErrorKind::Invalid,
        500..=599 => ErrorKind::Unavailable,
        _ => ErrorKind::BadResponse,
    }
}

/// Shortens `text` to at most `max` characters (on a char boundary), marking the cut.
pub(crate) fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let cut: String = text.chars().take(max).collect();
    format!("{cut}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_codes_decide_the_kind() {
        let body = br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"x"}}]}"#;
        let e = Error::from_response(404, body, "GET manifest");
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert_eq!(e.codes(), ["MANIFEST_UNKNOWN"]);
        assert!(e.message().contains("manifest unknown"), "{}", e.message());
        // distribution answers a tag DELETE with 400 DIGEST_INVALID.
        let e = Error::from_response(400, br#"{"errors":[{"code":"DIGEST_INVALID","message":"provided digest did not match"}]}"#, "DELETE");
        assert_eq!(e.kind(), ErrorKind::Invalid);
    }

    #[test]
    fn plain_text_and_html_bodies_fall_back_to_the_status() {
        assert_eq!(Error::from_response(404, b"404 page not found\n", "x").kind(), ErrorKind::NotFound);
        assert_eq!(Error::from_response(503, b"<html>down</html>", "x").kind(), ErrorKind::Unavailable);
        assert_eq!(Error::from_response(405, b"", "x").kind(), ErrorKind::Unsupported);
        assert_eq!(Error::from_response(418, b"", "x").kind(), ErrorKind::BadResponse);
    }

    #[test]
    fn long_registry_messages_are_cut() {
        let long = format!(r#"{{"errors":[{{"code":"DENIED","message":"{}"}}]}}"#, "a".repeat(5000));
        let e = Error::from_response(403, long.as_bytes(), "x");
        assert!(e.message().len() < 400);
        assert_eq!(e.kind(), ErrorKind::Denied);
    }
}
