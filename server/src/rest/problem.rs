//! Errors of the REST API as RFC 9457 problem details (`application/problem+json`): the status,
//! a stable `type` per kind of problem (scripts match on it), a title, and the reason.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use portolan_app::error::AppError;
use serde::Serialize;

/// The `type` URIs are stable names, not links.
const BASE: &str = "urn:portolan:problem:";

/// A problem detail.
#[derive(Clone, Debug, Serialize)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Seconds to wait before asking again (rate limits), when it applies.
    #[serde(skip_serializing_if = "Option::is_none", rename = "retryAfter")]
    pub retry_after: Option<u64>,
}

impl Problem {
    pub fn new(status: StatusCode, kind: &str, title: &str, detail: impl Into<String>) -> Self {
        Self { kind: format!("{BASE}{kind}"), title: title.to_owned(), status: status.as_u16(), detail: detail.into(), retry_after: None }
    }

    /// A token refused (unknown, expired, revoked) or a request carrying it badly.
    pub fn token(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "token-refused", "The API token was refused", detail)
    }

    /// Too many refused attempts from this address.
    pub fn rate_limited(seconds: u64) -> Self {
        Self {
            retry_after: Some(seconds.max(1)),
            ..Self::new(StatusCode::TOO_MANY_REQUESTS, "rate-limited", "Too many refused attempts", "Wait before trying again.")
        }
    }
}

impl From<AppError> for Problem {
    fn from(e: AppError) -> Self {
        let kind = match &e {
            AppError::NotFound(_) => "not-found",
            AppError::BadRequest(_) => "bad-request",
            AppError::SignInRequired(_) => "sign-in-required",
            AppError::Forbidden(_) => "forbidden",
            AppError::RegistryDenied { .. } => "registry-denied",
            AppError::StoreUnavailable(_) => "store-unavailable",
            AppError::Unsupported(_) => "unsupported",
            AppError::RateLimited(_) => "registry-rate-limited",
            AppError::Unavailable(_) => "registry-unavailable",
            AppError::Timeout(_) => "registry-timeout",
            AppError::BadGateway(_) => "registry-bad-answer",
            AppError::Conflict(_) => "conflict",
            AppError::Internal(_) => "internal",
        };
        Self::new(e.status_code(), kind, e.title(), e.to_string())
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let retry = self.retry_after;
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut response = (status, body).into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if let Some(seconds) = retry
            && let Ok(v) = HeaderValue::from_str(&seconds.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"portolan\""));
        }
        response
    }
}
