//! Ids and times. Ids are made here, not by the engine (SQLite and Postgres disagree on
//! auto-increment): microseconds since the epoch × 1024 plus 10 random bits — ordered by time,
//! unique across replicas in practice, and within one process strictly increasing.

use std::sync::atomic::{AtomicI64, Ordering};

use time::OffsetDateTime;

static LAST: AtomicI64 = AtomicI64::new(0);

/// A new id, greater than every id this process made before.
pub fn new_id() -> i64 {
    let micros = (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000) as i64;
    let candidate = micros.saturating_mul(1024) + rand::random_range(0..1024);
    let mut last = LAST.load(Ordering::Relaxed);
    loop {
        let next = candidate.max(last + 1);
        match LAST.compare_exchange_weak(last, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return next,
            Err(seen) => last = seen,
        }
    }
}

/// A time as stored: Unix milliseconds.
pub fn millis(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

/// A stored time back (out-of-range values clamp to the epoch rather than fail).
pub fn from_millis(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_increase_and_times_round_trip() {
        let a = new_id();
        let b = new_id();
        assert!(b > a);
        let t = time::macros::datetime!(2025-06-01 12:00:00.123 UTC);
        assert_eq!(from_millis(millis(t)), t);
    }
}
