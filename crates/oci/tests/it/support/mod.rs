//! What the client's tests share: registries of their own in process (a replay of recorded
//! exchanges, a proxy that loses answers, a registry whose tag DELETE behaves either way), and
//! the runner that bounds each test's time.

pub mod proxy;
pub mod replay;
pub mod tagdel;

use portolan_oci::RepoName;
pub use portolan_testkit::runner::run;

pub fn repo(name: &str) -> RepoName {
    RepoName::parse(name).unwrap()
}
