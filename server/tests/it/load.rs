//! Load: two Portolan replicas (the real binary, twice) on one real Postgres, against a real
//! registry, over loopback. 100 clients at once for 15 seconds (and at most 200,000 requests)
//! ask for a mix of what people and scripts ask for — the registry page, tag pages filtered,
//! sorted and paged (by date too: every tag's date), artifact pages, a missing tag, badges, the
//! referrers JSON API, the stylesheet, and admin pages signed in through the trusted proxy's
//! headers (and refused without them) — each request to the other replica than the last.
//! Every answer must have its expected status and no connection may fail; the figures
//! (requests per second, median and 99th-percentile latency) are printed.
//!
//! `PORTOLAN_LOAD_SECS` shortens or lengthens the run (15 s: each kind of request is asked
//! of both replicas dozens of times over; the web benchmark measures throughput at length).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use portolan_testkit::postgres::Postgres;
use portolan_testkit::process::start_on_free_ports;
use portolan_testkit::{Kind, Registry};

use crate::support::replica::Replica;
use crate::support::run_within;

const CLIENTS: usize = 100;
const MAX_REQUESTS: u64 = 200_000;
const TAGS: usize = 300;

/// One kind of request: its path, whether it is sent as the admin (the proxy's headers), and
/// the status it must get.
struct Ask {
    path: &'static str,
    admin: bool,
    status: u16,
}

const fn ask(path: &'static str, admin: bool, status: u16) -> Ask {
    Ask { path, admin, status }
}

const MIX: &[Ask] = &[
    ask("/r/reg", false, 200),
    ask("/r/reg/stress/many-tags", false, 200),
    ask("/r/reg/stress/many-tags?sort=name&reverse=1", false, 200),
    ask("/r/reg/stress/many-tags?sort=created", false, 200),
    ask("/r/reg/stress/many-tags?q=1.*&page=2", false, 200),
    ask("/r/reg/stress/many-tags?page=4", false, 200),
    ask("/r/reg/library/hello", false, 200),
    ask("/r/reg/library/hello:1.1.0", false, 200),
    ask("/r/reg/team/platform/api:v1.0.0", false, 200),
    ask("/r/reg/charts/portolan-demo:0.2.0", false, 200),
    ask("/r/reg/library/hello:no-such-tag", false, 404),
    ask("/badge/reg/library/hello/latest.svg", false, 200),
    ask("/badge/reg/stress/many-tags/tags.svg", false, 200),
    ask("/api/v1/referrers/reg/library/hello:1.1.0", false, 200),
    ask("/style/portolan.css", false, 200),
    ask("/", false, 200),
    ask("/r/reg/stress/many-tags", true, 200),
    ask("/admin/audit", true, 200),
    ask("/admin/policies", true, 200),
    ask("/admin/trash", true, 200),
    ask("/admin/audit.json", true, 200),
    ask("/admin/audit.json", false, 401),
];

#[test]
fn two_replicas_under_load() {
    // Alone, though nothing of Portolan runs in this process: 100 clients against two debug
    // replicas take both cores, and beside other tests a request could wait on the CPU longer
    // than its replica waits for a database connection (a 503 for a database that is up).
    run_within(Duration::from_secs(300), async {
        let started = Instant::now();
        let seconds: f64 = std::env::var("PORTOLAN_LOAD_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(15.0);
        let dir = tempfile::tempdir().unwrap();
        let pg = Postgres::start().await.unwrap();
        let db = pg.new_database("load").unwrap();
        let registry = Registry::start(Kind::Anonymous, TAGS).await.unwrap();
        let config = dir.path().join("portolan.toml");
        let (a, b) = start_on_free_ports("two replicas", 2, |addrs| {
            let (config, dir, db, registry) = (&config, dir.path(), &db, &registry);
            async move {
                std::fs::write(
                    config,
                    format!(
                        r#"
public_url = "http://{a}"
allowed_hosts = ["{b}"]
database_url = "{db}"
# The database is up throughout: a connection taking long means the CPU is busy (a shared test
# machine), not the database away, which the 5 s default is for (replicas.rs tests that).
database_timeout_secs = 30

[auth.proxy]
trusted = ["127.0.0.1"]

[[grants]]
role = "admin"
groups = ["admins"]

[[registries]]
name = "reg"
url = "{registry}"
anonymous_read = true
"#,
                        a = addrs[0],
                        b = addrs[1],
                        registry = registry.url,
                    ),
                )?;
                let (a, b) =
                    tokio::join!(Replica::start(config, addrs[0], dir, "a", "warn"), Replica::start(config, addrs[1], dir, "b", "warn"));
                Ok((a?, b?))
            }
        })
        .await
        .unwrap();
        let replicas = Arc::new([a.url.clone(), b.url.clone()]);

        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(CLIENTS)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let sent = Arc::new(AtomicU64::new(0));
        let load_started = Instant::now();
        let until = load_started + Duration::from_secs_f64(seconds);
        let clients: Vec<_> = (0..CLIENTS)
            .map(|c| {
                let (http, replicas, sent) = (http.clone(), replicas.clone(), sent.clone());
                tokio::spawn(async move {
                    let (mut latencies, mut errors) = (Vec::new(), Vec::new());
                    let mut i = c;
                    while Instant::now() < until && sent.fetch_add(1, Ordering::Relaxed) < MAX_REQUESTS {
                        let ask = &MIX[i % MIX.len()];
                        let url = format!("{}{}", replicas[i % 2], ask.path);
                        i += 1;
                        let mut request = http.get(&url);
                        if ask.admin {
                            request = request.header("x-forwarded-user", "ada").header("x-forwarded-groups", "admins");
                        }
                        let t = Instant::now();
                        let outcome = match request.send().await {
                            Ok(r) => {
                                let status = r.status().as_u16();
                                match r.bytes().await {
                                    Ok(_) if status == ask.status => Ok(()),
                                    Ok(body) => Err(format!(
                                        "{url}{}: {status}, expected {}: {}",
                                        if ask.admin { " (admin)" } else { "" },
                                        ask.status,
                                        String::from_utf8_lossy(&body).chars().take(200).collect::<String>()
                                    )),
                                    Err(e) => Err(format!("{url}: reading the body: {e}")),
                                }
                            }
                            Err(e) => Err(format!("{url}: {e}")),
                        };
                        latencies.push(t.elapsed());
                        if let Err(e) = outcome {
                            errors.push(e);
                        }
                    }
                    (latencies, errors)
                })
            })
            .collect();
        let (mut latencies, mut errors) = (Vec::new(), Vec::new());
        for c in clients {
            let (l, e) = c.await.unwrap();
            latencies.extend(l);
            errors.extend(e);
        }
        let elapsed = load_started.elapsed().as_secs_f64();
        latencies.sort();
        let at = |q: f64| latencies[((latencies.len() as f64 - 1.0) * q).round() as usize].as_secs_f64() * 1000.0;
        println!(
            "load: 2 replicas on Postgres, {CLIENTS} clients, {:.0} s: {} requests, {:.0} requests/s, p50 {:.1} ms, p99 {:.1} ms, {} errors (whole test {:.0} s)",
            elapsed,
            latencies.len(),
            latencies.len() as f64 / elapsed,
            at(0.5),
            at(0.99),
            errors.len(),
            started.elapsed().as_secs_f64()
        );
        let logs = || {
            [&a.log, &b.log]
                .iter()
                .map(|l| std::fs::read_to_string(l).unwrap_or_default().lines().rev().take(20).collect::<Vec<_>>().join("\n"))
                .collect::<Vec<_>>()
                .join("\n---\n")
        };
        assert!(
            errors.is_empty(),
            "{} of {} requests failed, e.g.:\n{}\nlogs:\n{}",
            errors.len(),
            latencies.len(),
            errors[..errors.len().min(10)].join("\n"),
            logs()
        );
        assert!(latencies.len() >= MIX.len() * 2, "each kind of request was asked of both replicas");
        drop((a, b));
    })
}
