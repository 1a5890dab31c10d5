//! The errors pages and server functions report: a small set, each with its HTTP status, a
//! title, and words a user can act on. Never a raw internal error string.

use http::StatusCode;
use serde::{Deserialize, Serialize};
use server_fn_error::{FromServerFnError, ServerFnErrorErr};

use crate::api::codec::JsonStrEncoding;

mod server_fn_error {
    pub use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
}

/// What went wrong, for the person looking at the page. Three refusals are kept apart so one
/// never looks like another: [`AppError::SignInRequired`] (Portolan wants to know who you are),
/// [`AppError::Forbidden`] (your role here is not enough) and [`AppError::RegistryDenied`] (the
/// registry refused Portolan's own credentials: signing in changes nothing).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    /// No such registry, repository, tag, manifest or page.
    #[error("{0}")]
    NotFound(String),
    /// A malformed repository name, tag, digest or parameter.
    #[error("{0}")]
    BadRequest(String),
    /// Sign in to Portolan first (401).
    #[error("{0}")]
    SignInRequired(String),
    /// Signed in, but the role here is not enough; the message names the role needed (403).
    #[error("{0}")]
    Forbidden(String),
    /// The registry refused Portolan's own credentials (it answered `status`, 401 or 403).
    #[error("{message}")]
    RegistryDenied { status: u16, message: String },
    /// Portolan's database cannot be reached (503).
    #[error("{0}")]
    StoreUnavailable(String),
    /// The registry does not support what was asked.
    #[error("{0}")]
    Unsupported(String),
    /// The registry asks to slow down.
    #[error("{0}")]
    RateLimited(String),
    /// The registry cannot be reached or failed.
    #[error("{0}")]
    Unavailable(String),
    /// The registry did not answer in time.
    #[error("{0}")]
    Timeout(String),
    /// The registry answered something broken.
    #[error("{0}")]
    BadGateway(String),
    /// Something changed meanwhile (a tag moved).
    #[error("{0}")]
    Conflict(String),
    /// A fault of Portolan's own (details are in the server log).
    #[error("{0}")]
    Internal(String),
}

impl AppError {
    pub fn status_code(&self) -> StatusCode {
        match self {
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::SignInRequired(_) => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            // The registry's refusal is an upstream failure, not ours to answer with 401/403:
            // the page shows the registry's own status.
            AppError::RegistryDenied { .. } => StatusCode::BAD_GATEWAY,
            AppError::StoreUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Unsupported(_) => StatusCode::NOT_IMPLEMENTED,
            AppError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            AppError::Unavailable(_) | AppError::BadGateway(_) => StatusCode::BAD_GATEWAY,
            AppError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A heading for the error page.
    pub fn title(&self) -> &'static str {
        match self {
            AppError::NotFound(_) => "Not found",
            AppError::BadRequest(_) => "That address is not valid",
            AppError::SignInRequired(_) => "Sign in to continue",
            AppError::Forbidden(_) => "Not allowed",
            AppError::RegistryDenied { .. } => "The registry refused Portolan's credentials",
            AppError::StoreUnavailable(_) => "Portolan's database is unavailable",
            AppError::Unsupported(_) => "Not supported by this registry",
            AppError::RateLimited(_) => "The registry is rate limiting",
            AppError::Unavailable(_) => "The registry is unavailable",
            AppError::Timeout(_) => "The registry did not answer in time",
            AppError::BadGateway(_) => "The registry answered something broken",
            AppError::Conflict(_) => "It changed meanwhile",
            AppError::Internal(_) => "Something went wrong in Portolan",
        }
    }

    /// What the user can do about it.
    pub fn hint(&self) -> &'static str {
        match self {
            AppError::NotFound(_) => "Check the spelling, or go up a level and pick it from the list.",
            AppError::BadRequest(_) => {
                "Repository names are lowercase letters, digits and . _ - separators; tags are up to 128 letters, digits, _ . -; digests look like sha256:<64 hex digits>."
            }
            AppError::SignInRequired(_) => "Sign in with one of the providers on the sign-in page, then try again.",
            AppError::Forbidden(_) => "Ask an administrator of Portolan for the role this needs.",
            AppError::RegistryDenied { .. } => {
                "This is about the credentials Portolan itself uses for this registry, not about you: signing in changes nothing. Portolan's administrator can fix them in its configuration."
            }
            AppError::StoreUnavailable(_) => "Portolan will reconnect by itself when its database is back; try again in a moment.",
            AppError::Unsupported(_) => "Some registries turn features off; this one does not offer it.",
            AppError::RateLimited(_) => "Wait a little and reload the page.",
            AppError::Unavailable(_) | AppError::Timeout(_) => {
                "Check that the registry is running and reachable from Portolan's server, then reload."
            }
            AppError::BadGateway(_) => "The content or the registry may be broken; the raw answer is in Portolan's log.",
            AppError::Conflict(_) => "Reload the page to see the current state.",
            AppError::Internal(_) => "Reload the page; if it persists, Portolan's server log has the details.",
        }
    }
}

impl FromServerFnError for AppError {
    /// JSON, read in the browser by the same reader as the answers (see [`crate::api::codec`]).
    type Encoder = JsonStrEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::Request(e) => AppError::Unavailable(format!("Portolan's server could not be reached: {e}")),
            ServerFnErrorErr::Args(e) | ServerFnErrorErr::MissingArg(e) => AppError::BadRequest(e),
            other => AppError::Internal(other.to_string()),
        }
    }
}

#[cfg(feature = "ssr")]
impl From<portolan_oci::Error> for AppError {
    fn from(e: portolan_oci::Error) -> Self {
        use portolan_oci::ErrorKind as K;
        let message = e.message().to_owned();
        match e.kind() {
            K::NotFound => AppError::NotFound(message),
            K::Unauthorized => AppError::RegistryDenied { status: e.status().unwrap_or(401), message },
            K::Denied => AppError::RegistryDenied { status: e.status().unwrap_or(403), message },
            K::Unsupported => AppError::Unsupported(message),
            K::RateLimited => AppError::RateLimited(match e.retry_after() {
                Some(after) => format!("{message}; retry in {} s", after.as_secs().max(1)),
                None => message,
            }),
            K::Invalid => AppError::BadRequest(message),
            K::Timeout => AppError::Timeout(message),
            K::Unavailable => AppError::Unavailable(message),
            K::Conflict => AppError::Conflict(message),
            _ => AppError::BadGateway(message),
        }
    }
}

#[cfg(feature = "ssr")]
impl From<portolan_store::StoreError> for AppError {
    fn from(e: portolan_store::StoreError) -> Self {
        use portolan_store::StoreError as S;
        match e {
            S::Unavailable(m) => {
                tracing::warn!(error = %m, "the store is unavailable");
                AppError::StoreUnavailable("Portolan cannot reach its database right now.".into())
            }
            S::NotFound(m) => AppError::NotFound(m),
            S::Conflict(m) => AppError::Conflict(m),
            S::Internal(m) => {
                tracing::error!(error = %m, "the store failed");
                AppError::Internal("Portolan's database failed; the details are in its log.".into())
            }
        }
    }
}

#[cfg(feature = "ssr")]
impl From<portolan_service::Error> for AppError {
    fn from(e: portolan_service::Error) -> Self {
        use portolan_service::Error as E;
        match e {
            E::Registry(e) => e.into(),
            E::Store(e) => e.into(),
            E::NotFound(m) => AppError::NotFound(m),
            E::Invalid(m) => AppError::BadRequest(m),
            E::Conflict(m) => AppError::Conflict(m),
            E::SignInRequired(m) => AppError::SignInRequired(m),
            E::Unavailable(m) => AppError::Unavailable(m),
            E::Internal(m) => {
                tracing::error!(error = %m, "a service failed");
                AppError::Internal(m)
            }
            // A kind added later: a fault of ours until it is mapped.
            other => AppError::Internal(other.to_string()),
        }
    }
}

#[cfg(feature = "ssr")]
impl From<portolan_search::FilterError> for AppError {
    fn from(e: portolan_search::FilterError) -> Self {
        AppError::BadRequest(e.0)
    }
}
