//! The OCI client's integration tests, one binary: against real registries (CNCF distribution,
//! ferro-oci-server), recorded behaviour of registries that cannot run here, hostile ones, and
//! deletes under faults. Each test runs within a time limit (`support::run`).

mod deletes;
mod distribution;
mod hostile;
mod recorded;
mod support;
