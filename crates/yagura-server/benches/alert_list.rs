//! Load benchmark of the alert list API: `GET /api/v1/alerts` with N stored alerts and C
//! concurrent clients (issue 9: p99 < 50 ms with 200 clients and 1M alerts).
//!
//! `cargo bench -p yagura-server --bench alert_list -- [--alerts N] [--db PATH]
//!  [--connections C] [--duration SECS] [--threads T] [--db-threads D] [--who analyst|officer]`
//!
//! Fills (or reuses) a SQLite state store at `--db` with N synthetic alerts over the fixture
//! estate's six organizations and 30 days, serves the API on localhost, and drives it with
//! `wrk` (`apt-get install wrk`) using a read token of a center analyst (scope: all six
//! organizations), then of an organization officer (one organization). Prints wrk's latency
//! distribution and the server's CPU time (from `/proc/self/stat`), i.e. requests per
//! CPU-second, which is what matters on a shared machine; how long store calls queued for
//! and ran on the server's store threads; and one `summary` line per run.

use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use yagura_model::{Alert, Detector, Entities, EvidenceRef, Role, Severity, Timestamp};
use yagura_server::auth::{PasswordHashing, sha256_hex};
use yagura_server::{AppState, StateOptions};
use yagura_store::testing::{fixture_inventory, org};
use yagura_store::{AlertFilter, NewToken, SqliteStore, StateStore};

// The allocator a deployment would use (BENCHMARKS.md, server session 7): glibc's malloc
// and free were ≈ 10 % of the server's CPU per request.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const ORGS: [&str; 6] = ["central", "delegated", "moh", "mof", "pension", "power"];
const RULES: [(&str, Detector, &str); 8] = [
    ("beacon.periodic", Detector::Analytic, "Periodic beaconing"),
    ("dns.tunnel", Detector::Analytic, "DNS tunnelling"),
    ("ioc.domain", Detector::Ioc, "Known-bad domain"),
    ("ioc.ip", Detector::Ioc, "Known-bad address"),
    (
        "policy.unsanctioned_egress",
        Detector::Policy,
        "Unsanctioned egress",
    ),
    ("auth.password_spray", Detector::Analytic, "Password spray"),
    (
        "yagura.proxy.suspicious_ua",
        Detector::Sigma,
        "Suspicious UA",
    ),
    ("exfil.volume", Detector::Analytic, "Large upload"),
];

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// CPU seconds of this process (utime + stime, fields 14 and 15) and of its waited-for
/// children (cutime + cstime, fields 16 and 17: wrk), in clock ticks of 100 Hz.
fn cpu_secs() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (
        (ticks(11) + ticks(12)) / 100.0,
        (ticks(13) + ticks(14)) / 100.0,
    )
}

fn synthetic(i: u64) -> Alert {
    let o = ORGS[(i % 6) as usize];
    let (rule, detector, title) = RULES[(i / 6 % 8) as usize];
    let t = Timestamp::from_secs(1_767_571_200 + (i as i64 * 2_591) % (30 * 86_400));
    let host = format!("pc-{:04}.{o}.example", i % 997);
    Alert {
        id: format!("bench-{i:08}"),
        time: t,
        org: org(o),
        detector,
        rule_id: rule.to_owned(),
        title: format!("{title} from {host}"),
        severity: Severity::ALL[(i % 5) as usize],
        attack: vec![],
        entities: Entities {
            host: Some(host.clone()),
            src_ip: Some(format!("10.{}.{}.{}", i % 6, i / 256 % 256, i % 256)),
            domain: Some(format!("c2-{}.example.net", i % 509)),
            ..Default::default()
        },
        first_seen: t,
        last_seen: t,
        count: 1 + i % 17,
        evidence: (0..3)
            .map(|k| EvidenceRef {
                file: format!("{o}/proxy/access.log"),
                line: i * 3 + k,
            })
            .collect(),
        summary: format!(
            "{host} contacted c2-{}.example.net every 300 s (±4 s) over 6 h; 72 requests, median 512 bytes",
            i % 509
        ),
        retrospective: false,
        context: Default::default(),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: u64 = arg(&args, "--alerts")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let conns: u32 = arg(&args, "--connections")
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let duration: u32 = arg(&args, "--duration")
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    let threads: usize = arg(&args, "--threads")
        .and_then(|v| v.parse().ok())
        .unwrap_or(2);
    // Store threads (default: one per read connection of the store).
    let db_threads: Option<usize> = arg(&args, "--db-threads").and_then(|v| v.parse().ok());
    let db = arg(&args, "--db")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join(format!("yagura-bench-{n}.db")));

    let store = Arc::new(SqliteStore::open(&db).expect("opening the bench database"));
    store.replace_orgs(fixture_inventory().orgs()).unwrap();
    let everything = fixture_inventory().visible_from("central");
    let have = store
        .count_alerts(&everything, &AlertFilter::default())
        .unwrap();
    if have < n {
        let t = Instant::now();
        let mut i = have;
        while i < n {
            let end = (i + 20_000).min(n);
            let batch: Vec<Alert> = (i..end).map(synthetic).collect();
            store.upsert_alerts(&batch).unwrap();
            i = end;
            eprint!("\rfilling: {i}/{n}");
        }
        eprintln!(
            "\nfilled {} alerts in {:.1} s",
            n - have,
            t.elapsed().as_secs_f64()
        );
    }
    println!(
        "store: {} alerts in {} ({} MB)",
        store
            .count_alerts(&everything, &AlertFilter::default())
            .unwrap(),
        db.display(),
        std::fs::metadata(&db).map(|m| m.len() >> 20).unwrap_or(0)
    );

    let mut tokens = Vec::new();
    for (name, o, role) in [
        ("bench-analyst", "central", Role::Analyst),
        ("bench-officer", "moh", Role::OrgOfficer),
    ] {
        let secret = format!("ygt_bench_{name}");
        if store
            .token_for_hash(&sha256_hex(&secret))
            .unwrap()
            .is_none()
        {
            store
                .create_token(&NewToken {
                    name: name.into(),
                    org: org(o),
                    role,
                    token_hash: sha256_hex(&secret),
                    scopes: vec!["read".into()],
                    expires: None,
                    created_by: "bench".into(),
                })
                .unwrap();
        }
        tokens.push((name, secret));
    }
    let dyn_store: Arc<dyn StateStore> = store.clone();
    let state = AppState::new(
        dyn_store,
        fixture_inventory(),
        PasswordHashing::fast_for_tests().unwrap(),
        StateOptions {
            db_threads,
            ..StateOptions::default()
        },
    )
    .unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let app = yagura_server::router(state.clone());
    let server = rt.spawn(async move {
        yagura_server::serve(listener, app, None, async {
            let _ = stop_rx.await;
        })
        .await
    });

    // `--who analyst` (or `officer`) runs one principal's shapes only.
    let who = arg(&args, "--who");
    // One table row per run, printed at the end (BENCHMARKS.md's columns).
    let mut table = Vec::new();
    for (name, secret) in &tokens {
        if who.as_deref().is_some_and(|w| !name.ends_with(w)) {
            continue;
        }
        for path in [
            "/api/v1/alerts",
            "/api/v1/alerts?severity=high&status=new",
            "/api/v1/alerts?org=moh&detector=ioc",
        ] {
            let url = format!("http://{addr}{path}");
            state.db_stats().reset();
            let (cpu0, child0) = cpu_secs();
            let load0 = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
            let out = Command::new("wrk")
                .args([
                    "-t2",
                    &format!("-c{conns}"),
                    &format!("-d{duration}s"),
                    "--latency",
                    "--timeout",
                    "10s",
                    "-H",
                    &format!("Authorization: Bearer {secret}"),
                    &url,
                ])
                .output();
            let (cpu1, child1) = cpu_secs();
            let (cpu, wrk_cpu) = (cpu1 - cpu0, child1 - child0);
            match out {
                Ok(o) => {
                    let text = String::from_utf8_lossy(&o.stdout);
                    let requests: f64 = text
                        .lines()
                        .find(|l| l.contains("requests in"))
                        .and_then(|l| l.split_whitespace().next())
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0.0);
                    println!("=== {name} GET {path} ({conns} connections, {duration} s)");
                    println!("{text}");
                    println!(
                        "server CPU {cpu:.1} s (user+sys) → {:.0} requests per CPU-second \
                         ({:.0} µs CPU per request); wrk CPU {wrk_cpu:.1} s; load average \
                         before {} / after {}",
                        requests / cpu.max(1e-9),
                        cpu * 1e6 / requests.max(1.0),
                        load0.trim(),
                        std::fs::read_to_string("/proc/loadavg")
                            .unwrap_or_default()
                            .trim()
                    );
                    let stats = state.db_stats();
                    println!(
                        "store calls ({} threads) waiting for a thread: {}\n\
                         store calls running: {}",
                        state.db_threads(),
                        stats.queued.summary(),
                        stats.service.summary()
                    );
                    // One line with everything a table row needs.
                    let pct = |p: &str| {
                        text.lines()
                            .map(str::trim)
                            .find(|l| l.starts_with(p) && l.ends_with('s'))
                            .and_then(|l| l.split_whitespace().nth(1))
                            .unwrap_or("?")
                            .to_owned()
                    };
                    let rate = text
                        .lines()
                        .find_map(|l| l.trim().strip_prefix("Requests/sec:"))
                        .and_then(|v| v.trim().parse::<f64>().ok())
                        .unwrap_or(requests / f64::from(duration));
                    let per_request = cpu * 1e6 / requests.max(1.0);
                    let queue_p99 = stats.queued.quantile_us(0.99) as f64 / 1000.0;
                    let load = load0.split_whitespace().next().unwrap_or("?");
                    println!(
                        "summary: {name} {path} c={conns} {rate:.0} req/s p50={} p90={} p99={} \
                         server={per_request:.0}µs/req wrk={wrk_cpu:.1}s \
                         queue-p99={queue_p99:.1}ms load={load}",
                        pct("50%"),
                        pct("90%"),
                        pct("99%"),
                    );
                    table.push(format!(
                        "| {name} | `{path}` | {rate:.0} | {} | {} | **{}** | {per_request:.0} µs \
                         | {wrk_cpu:.1} s | {queue_p99:.1} ms | {load} |",
                        pct("50%"),
                        pct("90%"),
                        pct("99%"),
                    ));
                }
                Err(e) => {
                    eprintln!("wrk could not run ({e}): apt-get install wrk");
                    let _ = stop_tx.send(());
                    return;
                }
            }
        }
    }
    // Every run of this invocation as BENCHMARKS.md rows, with the command that made them.
    println!(
        "\ncommand: alert_list {}\n\n\
         | who | shape | req/s | p50 | p90 | p99 | server CPU per request | wrk CPU \
         | store queue p99 | load (1 min, before) |\n|---|---|---|---|---|---|---|---|---|---|",
        args.get(1..).unwrap_or_default().join(" ")
    );
    for row in &table {
        println!("{row}");
    }
    let _ = stop_tx.send(());
    let _ = rt.block_on(server);
}
