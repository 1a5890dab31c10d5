//! What one signature may make this crate do: every input is untrusted and bounded before any
//! of it is parsed.

/// A cosign simple-signing payload, at most (cosign's are a few hundred bytes).
pub const MAX_PAYLOAD: usize = 64 * 1024;
/// A sigstore bundle or a Notary Project envelope, at most (a bundle with a certificate chain
/// and an inclusion proof is a few kilobytes).
pub const MAX_ENVELOPE: usize = 256 * 1024;
/// Certificates in one signature's chain, at most.
pub const MAX_CHAIN: usize = 10;
/// Certificates in a Notary Project trust store.
pub const MAX_TRUST_STORE: usize = 100;
/// Compiled size of an `identity_regex`.
pub const MAX_IDENTITY_REGEX: usize = 1 << 20;
/// Signatures verified per artifact, at most: past it, the rest are reported as not checked.
/// A registry holding thousands of signatures on one digest costs a bounded amount of work.
pub const MAX_SIGNATURES: usize = 64;
