//! Merging identical in-flight work: concurrent callers asking for the same key share one
//! future, and so one request.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::Mutex;

use futures::FutureExt;
use futures::future::{BoxFuture, Shared};

pub(crate) struct Flights<K, V: Clone> {
    running: Mutex<HashMap<K, Shared<BoxFuture<'static, V>>>>,
}

impl<K, V: Clone> Default for Flights<K, V> {
    fn default() -> Self {
        Self { running: Mutex::new(HashMap::new()) }
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
        let value = flight.clone().await;
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        if running.get(&key).is_some_and(|f| f.ptr_eq(&flight)) {
            running.remove(&key);
        }
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn concurrent_calls_share_one_run() {
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
    }
}
