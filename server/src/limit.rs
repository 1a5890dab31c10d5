//! Rate limits per client address: a token bucket per address (an IPv6 client's /64 counts as
//! one address, since one host can pick any address in it), bounded in memory. Used where
//! anyone may knock without an account — the sign-in routes.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Addresses tracked at most; past it, those whose bucket is full again are forgotten first.
const MAX_ADDRESSES: usize = 10_000;

/// A token bucket per client address.
pub struct RateLimit {
    burst: f64,
    per_second: f64,
    buckets: Mutex<HashMap<IpAddr, (f64, Instant)>>,
}

impl RateLimit {
    /// `burst` requests at once, then `per_minute` a minute.
    pub fn new(burst: u32, per_minute: u32) -> Self {
        Self { burst: f64::from(burst.max(1)), per_second: f64::from(per_minute.max(1)) / 60.0, buckets: Mutex::default() }
    }

    /// Takes a token for `client`: Ok, or how long until one is back. Requests whose address
    /// is unknown share one bucket.
    pub fn take(&self, client: Option<IpAddr>) -> Result<(), Duration> {
        self.take_at(client, Instant::now())
    }

    /// Whether `client` is out of tokens now (how long until one is back), taking none.
    pub fn blocked(&self, client: Option<IpAddr>) -> Option<Duration> {
        let key = client.map(key_of).unwrap_or(IpAddr::from([0, 0, 0, 0]));
        let buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let (tokens, at) = buckets.get(&key)?;
        let tokens = (*tokens + Instant::now().saturating_duration_since(*at).as_secs_f64() * self.per_second).min(self.burst);
        (tokens < 1.0).then(|| Duration::from_secs_f64((1.0 - tokens) / self.per_second))
    }

    fn take_at(&self, client: Option<IpAddr>, now: Instant) -> Result<(), Duration> {
        let key = client.map(key_of).unwrap_or(IpAddr::from([0, 0, 0, 0]));
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() >= MAX_ADDRESSES && !buckets.contains_key(&key) {
            let (burst, rate) = (self.burst, self.per_second);
            buckets.retain(|_, (tokens, at)| *tokens + now.saturating_duration_since(*at).as_secs_f64() * rate < burst);
            if buckets.len() >= MAX_ADDRESSES {
                // Everyone tracked is busy: the oldest go.
                let mut ages: Vec<(Instant, IpAddr)> = buckets.iter().map(|(k, (_, at))| (*at, *k)).collect();
                ages.sort();
                for (_, k) in ages.into_iter().take(MAX_ADDRESSES / 10) {
                    buckets.remove(&k);
                }
            }
        }
        let (tokens, at) = buckets.entry(key).or_insert((self.burst, now));
        *tokens = (*tokens + now.saturating_duration_since(*at).as_secs_f64() * self.per_second).min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - *tokens) / self.per_second))
        }
    }
}

/// The address a bucket is kept for: an IPv4 address, or an IPv6 address's /64.
fn key_of(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let mut s = v6.segments();
            s[4..].fill(0);
            IpAddr::from(s)
        }
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_rate_per_address() {
        let limit = RateLimit::new(3, 60);
        let (a, b): (IpAddr, IpAddr) = ("203.0.113.7".parse().unwrap(), "198.51.100.1".parse().unwrap());
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(limit.take_at(Some(a), t0).is_ok());
        }
        let wait = limit.take_at(Some(a), t0).unwrap_err();
        assert!(wait > Duration::from_millis(900) && wait <= Duration::from_secs(1), "{wait:?}");
        assert!(limit.take_at(Some(b), t0).is_ok(), "another address has its own bucket");
        assert!(limit.take_at(Some(a), t0 + Duration::from_secs(1)).is_ok(), "one a second comes back");
        assert!(limit.take_at(Some(a), t0 + Duration::from_secs(1)).is_err());
    }

    #[test]
    fn an_ipv6_slash_64_is_one_address_and_memory_is_bounded() {
        let limit = RateLimit::new(1, 1);
        let t0 = Instant::now();
        assert!(limit.take_at(Some("2001:db8:1:2::1".parse().unwrap()), t0).is_ok());
        assert!(limit.take_at(Some("2001:db8:1:2:ffff::9".parse().unwrap()), t0).is_err(), "same /64");
        assert!(limit.take_at(Some("2001:db8:1:3::1".parse().unwrap()), t0).is_ok(), "another /64");
        for i in 0..(MAX_ADDRESSES as u32 + 500) {
            let _ = limit.take_at(Some(IpAddr::from(i.to_be_bytes())), t0);
        }
        assert!(limit.buckets.lock().unwrap().len() <= MAX_ADDRESSES);
    }
}
