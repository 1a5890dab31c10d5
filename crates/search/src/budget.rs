//! A request budget: a token bucket holding at most ten seconds' worth of requests, refilled at
//! the configured rate per minute. Each registry call of the crawl takes one token first, so the
//! crawl never asks a registry more than the budget allows (answers served from Portolan's
//! caches take a token too: the budget errs on the registry's side).

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// Shared by one registry's crawl; cheap to call from several tasks.
#[derive(Debug)]
pub struct Budget {
    per_minute: u32,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    tokens: f64,
    at: Instant,
    taken: u64,
}

impl Budget {
    /// At most `per_minute` requests a minute on average (0: no limit).
    pub fn per_minute(per_minute: u32) -> Self {
        let budget = Self { per_minute, state: Mutex::new(State { tokens: 0.0, at: Instant::now(), taken: 0 }) };
        budget.lock().tokens = budget.capacity();
        budget
    }

    /// No limit (benchmarks, tests).
    pub fn unlimited() -> Self {
        Self::per_minute(0)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Ten seconds' worth, at least one.
    fn capacity(&self) -> f64 {
        (f64::from(self.per_minute) / 6.0).max(1.0)
    }

    /// Waits for a token, then takes it.
    pub async fn take(&self) {
        loop {
            let wait = {
                let mut s = self.lock();
                if self.per_minute == 0 {
                    s.taken += 1;
                    return;
                }
                let now = Instant::now();
                let rate = f64::from(self.per_minute) / 60.0;
                s.tokens = (s.tokens + now.duration_since(s.at).as_secs_f64() * rate).min(self.capacity());
                s.at = now;
                if s.tokens >= 1.0 {
                    s.tokens -= 1.0;
                    s.taken += 1;
                    return;
                }
                Duration::from_secs_f64((1.0 - s.tokens) / rate)
            };
            tokio::time::sleep(wait).await;
        }
    }

    /// Empties the bucket: after a pause (the registry said 429) the crawl resumes at the
    /// steady rate, not with a burst.
    pub fn drain(&self) {
        let mut s = self.lock();
        s.tokens = 0.0;
        s.at = Instant::now();
    }

    /// Tokens taken so far.
    pub fn taken(&self) -> u64 {
        self.lock().taken
    }
}

#[cfg(test)]
mod tests {
    use portolan_testkit::runner::{TEST_LIMIT, run, within};

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn holds_the_rate() {
        // With the clock paused, a hang fails at once: the runtime skips ahead to the limit.
        within(TEST_LIMIT, async {
            // 60 a minute: a burst of 10, then one a second.
            let budget = Budget::per_minute(60);
            let start = Instant::now();
            for _ in 0..10 {
                budget.take().await;
            }
            assert!(start.elapsed() < Duration::from_millis(10));
            for _ in 0..5 {
                budget.take().await;
            }
            let elapsed = start.elapsed().as_secs_f64();
            assert!((4.9..5.2).contains(&elapsed), "{elapsed}");
            budget.drain();
            let t = Instant::now();
            budget.take().await;
            assert!(t.elapsed() >= Duration::from_millis(990), "no burst after a drain");
            assert_eq!(budget.taken(), 16);
        })
        .await
    }

    #[test]
    fn unlimited_never_waits() {
        run(async {
            let budget = Budget::unlimited();
            for _ in 0..10_000 {
                budget.take().await;
            }
            assert_eq!(budget.taken(), 10_000);
        })
    }
}
