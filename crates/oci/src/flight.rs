//! Merging identical in-flight work: concurrent callers asking for the same key share one
//! future, and so one request.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::Mutex;

use futures::FutureExt;
use futures::future::{BoxFuture, Shared};

type Running<K, V> = Mutex<HashMap<K, Shared<BoxFuture<'static, V>>>>;

pub(crate) struct Flights<K, V: Clone> {
    running: Running<K, V>,
}

impl<K, V: Clone> Default for Flights<K, V> {
    fn default() -> Self {
        Self { running: Mutex::new(HashMap::new()) }
    }
}

/// Forgets a flight when one of its waiters is done with it — finished, cancelled (dropped),
/// or unwinding from a panic — so no later caller ever awaits a flight that cannot complete.
/// A waiter still polling a forgotten flight gets its result; a new caller starts another.
struct Forget<'a, K: Hash + Eq, V: Clone> {
    running: &'a Running<K, V>,
    key: K,
    flight: Shared<BoxFuture<'static, V>>,
}

impl<K: Hash + Eq, V: Clone> Drop for Forget<'_, K, V> {
    fn drop(&mut self) {
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        if running.get(&self.key).is_some_and(|f| f.ptr_eq(&self.flight)) {
            running.remove(&self.key);
        }
    }
}

impl<K: Hash + Eq + Clone, V: Clone + Send + Sync + 'static> Flights<K, V> {
    /// Runs `make()` unless a call with the same key is already running, in which case its
    /// result is awaited instead.
    pub async fn run<F>(&self, key: K, make: impl FnOnce() -> F) -> V
    where
        F: Future<Output = V> + Send + 'static,
    {
        let flight = {
            let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
            match running.get(&key) {
                Some(f) => f.clone(),
                None => {
                    let f = make().boxed().shared();
                    running.insert(key.clone(), f.clone());
                    f
                }
            }
        };
        let forget = Forget { running: &self.running, key, flight };
        forget.flight.clone().await
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.running.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    use portolan_testkit::runner::run;

    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn concurrent_calls_share_one_run() {
        run(async {
            let flights: Arc<Flights<&str, usize>> = Arc::default();
            let runs = Arc::new(AtomicUsize::new(0));
            let (tx, rx) = tokio::sync::watch::channel(false);
            let mut handles = Vec::new();
            for _ in 0..10 {
                let flights = flights.clone();
                let runs = runs.clone();
                let mut rx = rx.clone();
                handles.push(tokio::spawn(async move {
                    flights
                        .run("k", || async move {
                            runs.fetch_add(1, Ordering::SeqCst);
                            let _ = rx.wait_for(|go| *go).await;
                            42
                        })
                        .await
                }));
            }
            // Let every task join the flight before it finishes.
            while flights.running.lock().unwrap().is_empty() {
                tokio::task::yield_now().await;
            }
            for _ in 0..20 {
                tokio::task::yield_now().await;
            }
            tx.send(true).unwrap();
            for h in handles {
                assert_eq!(h.await.unwrap(), 42);
            }
            assert_eq!(runs.load(Ordering::SeqCst), 1);
            // Finished flights are forgotten: the next call runs again.
            assert_eq!(flights.run("k", || async { 7 }).await, 7);
        })
    }

    #[test]
    fn a_cancelled_flight_is_forgotten() {
        run(async {
            let flights: Flights<&str, usize> = Flights::default();
            {
                let pending = flights.run("k", std::future::pending::<usize>);
                let mut pending = std::pin::pin!(pending);
                assert!(futures::poll!(pending.as_mut()).is_pending());
                assert_eq!(flights.len(), 1);
            }
            assert_eq!(flights.len(), 0, "the dropped waiter took its flight with it");
            assert_eq!(flights.run("k", || async { 7 }).await, 7, "the next call runs");
            // Also through a timeout, as a cancelled HTTP request would be.
            let slow = tokio::time::timeout(std::time::Duration::from_millis(10), flights.run("k", std::future::pending::<usize>));
            assert!(slow.await.is_err());
            assert_eq!(flights.len(), 0);
        })
    }

    #[test]
    fn a_panicking_flight_is_forgotten() {
        run(async {
            let flights: Arc<Flights<&str, usize>> = Arc::default();
            let f = flights.clone();
            let crashed = tokio::spawn(async move { f.run("k", || async { panic!("boom") }).await }).await;
            assert!(crashed.unwrap_err().is_panic());
            assert_eq!(flights.len(), 0);
            assert_eq!(flights.run("k", || async { 7 }).await, 7, "later callers do not inherit the panic");
        })
    }
}
