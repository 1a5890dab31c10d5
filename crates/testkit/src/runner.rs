//! Tests within a time limit: a test that hangs fails, naming itself, instead of blocking the
//! run until CI gives up on it.

use std::time::Duration;

/// How long a test may take by default: a few minutes, far above what any takes here.
pub const TEST_LIMIT: Duration = Duration::from_secs(240);

/// The running test's name: libtest runs each test on a thread named after it.
pub fn test_name() -> String {
    std::thread::current().name().filter(|n| *n != "main").unwrap_or("a test").to_owned()
}

/// Awaits `test`, failing (a panic naming the test) if it takes longer than `limit`.
pub async fn within<F: Future>(limit: Duration, test: F) -> F::Output {
    let name = test_name();
    match tokio::time::timeout(limit, test).await {
        Ok(output) => output,
        Err(_) => panic!("{name} did not finish within {limit:?}: it hangs, or waits on something that never comes"),
    }
}

/// Runs `test` as `#[tokio::test]` would (a runtime of its own, on this thread), within
/// [`TEST_LIMIT`].
pub fn run<F: Future>(test: F) -> F::Output {
    run_within(TEST_LIMIT, test)
}

/// [`run`] with another limit.
pub fn run_within<F: Future>(limit: Duration, test: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime").block_on(within(limit, test))
}

/// An HTTP client for tests: every request times out (a server that never answers fails the
/// request, not the run), and connecting does too.
pub fn http_client() -> reqwest::Client {
    http_builder().build().expect("an HTTP client")
}

/// [`http_client`]'s settings, to add to.
pub fn http_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder().timeout(Duration::from_secs(60)).connect_timeout(Duration::from_secs(10))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_test_that_hangs_fails_naming_itself() {
        let panic = std::panic::catch_unwind(|| run_within(Duration::from_millis(50), std::future::pending::<()>())).unwrap_err();
        let message = panic.downcast_ref::<String>().expect("a message");
        assert!(message.contains("runner::tests::a_test_that_hangs_fails_naming_itself did not finish within 50ms"), "{message}");
    }

    #[test]
    fn a_test_within_its_limit_gives_its_output() {
        assert_eq!(run(async { 7 }), 7);
    }
}
