//! The service layer's error: what went wrong, in kinds a caller can map to its own answer
//! (an HTTP status for pages and the REST API; a log line for background work). The registry's
//! and the store's errors are kept whole, so their kinds decide the status.

/// Why a service call failed.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The registry failed or refused (its kind says how).
    #[error(transparent)]
    Registry(#[from] portolan_oci::Error),
    /// Portolan's store failed or is unavailable.
    #[error(transparent)]
    Store(#[from] portolan_store::StoreError),
    /// No such registry, trash entry, policy…
    #[error("{0}")]
    NotFound(String),
    /// The input is not valid (a name, a filter, a stored policy that no longer validates).
    #[error("{0}")]
    Invalid(String),
    /// Something changed meanwhile, or the state does not allow it (a run already going on, a
    /// trash entry no longer restorable).
    #[error("{0}")]
    Conflict(String),
    /// Nothing here is visible to someone not signed in.
    #[error("{0}")]
    SignInRequired(String),
    /// This replica cannot take the work now (it is shutting down).
    #[error("{0}")]
    Unavailable(String),
    /// A fault of Portolan's own (a saved manifest that no longer parses, a task that died).
    #[error("{0}")]
    Internal(String),
}

impl From<portolan_search::FilterError> for Error {
    fn from(e: portolan_search::FilterError) -> Self {
        Error::Invalid(e.0)
    }
}

/// A service call's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;
