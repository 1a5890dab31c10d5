//! Asking the server as someone types: wait for a pause, and keep only the newest answer.

use std::future::Future;
use std::time::Duration;

use leptos::prelude::*;

/// The newest of a burst of requests. Each [`ask`](Latest::ask) replaces the one still waiting
/// for its pause; an answer is handed over only if no request started after it did, so a slow
/// answer to an old keystroke never overwrites a newer one.
#[derive(Clone, Copy)]
pub struct Latest {
    generation: StoredValue<u64>,
    timer: StoredValue<Option<TimeoutHandle>>,
    pause: Duration,
}

impl Latest {
    pub fn new(pause: Duration) -> Self {
        Self { generation: StoredValue::new(0), timer: StoredValue::new(None), pause }
    }

    /// Forgets the waiting request and any answer still on its way.
    pub fn cancel(&self) {
        if let Some(h) = self.timer.get_value() {
            h.clear();
        }
        self.generation.update_value(|g| *g += 1);
    }

    /// After the pause (unless another request comes first), starts `request`; `answer` gets
    /// its result if it is still the newest.
    pub fn ask<T, Fut>(&self, request: impl FnOnce() -> Fut + 'static, answer: impl FnOnce(T) + 'static)
    where
        Fut: Future<Output = T> + 'static,
        T: 'static,
    {
        if let Some(h) = self.timer.get_value() {
            h.clear();
        }
        let generation = self.generation;
        let handle = set_timeout_with_handle(
            move || {
                generation.update_value(|g| *g += 1);
                let mine = generation.get_value();
                let pending = request();
                leptos::task::spawn_local(async move {
                    let result = pending.await;
                    if generation.get_value() == mine {
                        answer(result);
                    }
                });
            },
            self.pause,
        );
        self.timer.set_value(handle.ok());
    }
}
