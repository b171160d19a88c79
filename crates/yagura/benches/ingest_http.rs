//! Durable streaming ingest of the real `yagura serve`: HTTP push (NDJSON, 1,000 events per
//! request, `CLIENTS` concurrent clients) → fsynced WAL acknowledgement, with the consumer
//! building splits and running the detectors behind it.
//!
//! ```sh
//! YAGURA_BENCH_EVENTS=1000000 cargo bench -p yagura --bench ingest_http
//! ```
//!
//! Prints wall-clock and CPU figures of the server process (`/proc/<pid>/stat`, all threads):
//! (1) while the clients push (acknowledged events per wall second and per server CPU-second),
//! (2) until the consumer has published everything (clean stop = last flush), and the stored
//! size against gzip of the pushed JSON lines. The load average is printed before and after.
//!
//! Load-independent figures: `YAGURA_BENCH_WRAP` prefixes the server's command line (split at
//! spaces), e.g. `valgrind --tool=callgrind --callgrind-out-file=/tmp/x.out` for instruction
//! counts (the wrapper must `exec` the server in the same process, as valgrind does, so that
//! the CPU figures stay the server's); `YAGURA_BENCH_INGEST` adds lines to the server's
//! `[ingest]` section (e.g. `flush_interval_secs = 3600` so that flushes happen every
//! `flush_events` whatever the speed, which makes two runs comparable instruction for
//! instruction).
//!
//! `YAGURA_BENCH_KILL=1`: after the last acknowledgement the server is killed (`SIGKILL`, no
//! last flush or checkpoint) and started again on the same data; the bench prints how long the
//! restart took until it served again (the WAL replayed into pending batches, the events
//! published since the last detector checkpoint replayed into the detectors) and then stops it
//! cleanly as usual.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use yagura_model::{Inventory, OrgId, Role, Timestamp};
use yagura_store::{NewToken, SqliteStore, StateStore};

const ORGS: usize = 10;
const PER_REQUEST: usize = 1000;
const CLIENTS: usize = 4;

/// The server's user and system CPU seconds and minor page faults (`/proc/<pid>/stat`, all
/// threads). On this project's VMs a first touch of memory is costly (the kernel zeroes the
/// page, the host backs it), so the faults are printed beside the CPU.
#[derive(Debug, Clone, Copy, Default)]
struct Usage {
    user: f64,
    sys: f64,
    minflt: f64,
}

impl Usage {
    fn cpu(&self) -> f64 {
        self.user + self.sys
    }
    fn since(&self, earlier: &Usage) -> Usage {
        Usage {
            user: self.user - earlier.user,
            sys: self.sys - earlier.sys,
            minflt: self.minflt - earlier.minflt,
        }
    }
}

fn usage_of(pid: u32) -> Usage {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return Usage::default();
    };
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
        return Usage::default();
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let t = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    Usage {
        user: t(11) / 100.0,
        sys: t(12) / 100.0,
        minflt: t(7),
    }
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .trim()
        .to_string()
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// `net` is the second octet of the organization's internal network `10.<net>.0.0/16`.
fn event_line(rng: &mut Rng, net: usize, i: u64, n: u64, out: &mut String) {
    let ts = Timestamp::from_secs(1_767_571_200 + (i * 7200 / n.max(1)) as i64).to_rfc3339();
    let host = rng.below(500);
    let dom = rng.below(20_000);
    match i % 3 {
        0 => out.push_str(&format!(
            r#"{{"@timestamp":"{ts}","event":{{"id":"e{i}","dataset":"squid.access","kind":"event","category":["web"]}},"source":{{"ip":"10.{net}.{}.{}"}},"destination":{{"ip":"203.0.{}.{}","port":443}},"url":{{"full":"https://site{dom}.example.com/p/{}?q={}","domain":"site{dom}.example.com"}},"http":{{"request":{{"method":"GET"}},"response":{{"status_code":200}}}},"user_agent":{{"original":"Mozilla/5.0"}},"user":{{"name":"user{host}"}}}}"#,
            host / 250,
            host % 250,
            dom % 250,
            dom / 250 % 250,
            rng.below(1000),
            rng.below(1_000_000)
        )),
        1 => out.push_str(&format!(
            r#"{{"@timestamp":"{ts}","event":{{"id":"e{i}","dataset":"zeek.dns","kind":"event","category":["network"]}},"source":{{"ip":"10.{net}.{}.{}","port":{}}},"destination":{{"ip":"10.{net}.0.53","port":53}},"dns":{{"question":{{"name":"h{}.site{dom}.example.net","type":"A"}},"response_code":"NOERROR"}},"network":{{"transport":"udp"}}}}"#,
            host / 250,
            host % 250,
            rng.below(30000) + 30000,
            rng.below(50)
        )),
        _ => out.push_str(&format!(
            r#"{{"@timestamp":"{ts}","event":{{"id":"e{i}","dataset":"zeek.conn","kind":"event","category":["network"]}},"source":{{"ip":"10.{net}.{}.{}","port":{},"bytes":{}}},"destination":{{"ip":"198.51.{}.{}","port":443,"bytes":{}}},"network":{{"transport":"tcp","bytes":{}}}}}"#,
            host / 250,
            host % 250,
            rng.below(30000) + 30000,
            rng.below(10_000),
            dom % 250,
            dom / 250 % 250,
            rng.below(100_000),
            rng.below(110_000)
        )),
    }
    out.push('\n');
}

fn post(addr: SocketAddr, token: &str, key: &str, body: &[u8]) -> std::io::Result<u16> {
    let mut s = TcpStream::connect(addr)?;
    let head = format!(
        "POST /api/v1/ingest HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nAuthorization: Bearer {token}\r\nIdempotency-Key: {key}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes())?;
    s.write_all(body)?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    text.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other("no status"))
}

fn dir_size(p: &Path) -> u64 {
    let mut total = 0;
    if let Ok(rd) = std::fs::read_dir(p) {
        for e in rd.flatten() {
            let Ok(md) = e.metadata() else { continue };
            total += if md.is_dir() {
                dir_size(&e.path())
            } else {
                md.len()
            };
        }
    }
    total
}

fn main() {
    let n: u64 = std::env::var("YAGURA_BENCH_EVENTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(500_000);
    let builtin = std::env::var("YAGURA_BENCH_DETECT").as_deref() != Ok("0");
    let base = std::env::var("YAGURA_BENCH_DIR").unwrap_or_else(|_| "/tmp".into());
    let dir = tempfile::Builder::new()
        .prefix("stream-bench-")
        .tempdir_in(base)
        .expect("tempdir");
    let mut inv = String::from("[[org]]\nid = \"central\"\nname = \"C\"\nkind = \"center\"\n");
    for o in 0..ORGS {
        inv.push_str(&format!(
            "[[org]]\nid = \"org-{o}\"\nname = \"O{o}\"\nkind = \"ministry\"\nsector = \"government\"\nmonitored_by = \"central\"\ninternal_networks = [\"10.{}.0.0/16\"]\n",
            10 + o
        ));
    }
    std::fs::write(dir.path().join("inventory.toml"), &inv).unwrap();
    std::fs::write(
        dir.path().join("server.toml"),
        format!("listen = \"127.0.0.1:0\"\ninventory = \"inventory.toml\"\ndatabase = \"data/state.db\"\n[ingest]\nbuiltin_rules = {builtin}\n{}\n", std::env::var("YAGURA_BENCH_INGEST").unwrap_or_default()),
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("data")).unwrap();
    let state = SqliteStore::open(&dir.path().join("data/state.db")).unwrap();
    state
        .replace_orgs(Inventory::from_toml(&inv).unwrap().orgs())
        .unwrap();
    let tokens: Vec<String> = (0..ORGS)
        .map(|o| {
            let secret = format!("ygt_bench_{o}_0123456789abcdef");
            state
                .create_token(&NewToken {
                    name: format!("bench-{o}"),
                    org: OrgId::new(&format!("org-{o}")).unwrap(),
                    role: Role::OrgOfficer,
                    token_hash: yagura_server::auth::sha256_hex(&secret),
                    scopes: vec!["ingest".into()],
                    expires: Some(Timestamp::now().saturating_add_secs(86_400)),
                    created_by: "bench".into(),
                })
                .unwrap();
            secret
        })
        .collect();
    drop(state);

    // Bodies: request r is organization r % ORGS.
    let t = Instant::now();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let requests = n.div_ceil(PER_REQUEST as u64);
    let mut bodies = Vec::with_capacity(requests as usize);
    let mut raw = 0u64;
    for r in 0..requests {
        let mut s = String::with_capacity(PER_REQUEST * 400);
        for i in 0..PER_REQUEST as u64 {
            event_line(
                &mut rng,
                10 + (r as usize % ORGS),
                r * PER_REQUEST as u64 + i,
                n,
                &mut s,
            );
        }
        raw += s.len() as u64;
        bodies.push(s.into_bytes());
    }
    let gz = {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
        for b in &bodies {
            e.write_all(b).unwrap();
        }
        e.finish().unwrap().len() as u64
    };
    println!(
        "# ingest_http: {} events in {requests} requests of {PER_REQUEST}, {ORGS} orgs, {CLIENTS} clients, detectors {}; JSON lines {:.1} MiB, gzip-6 {:.1} MiB (generated in {:.1}s)",
        requests * PER_REQUEST as u64,
        if builtin { "on" } else { "off" },
        raw as f64 / 1048576.0,
        gz as f64 / 1048576.0,
        t.elapsed().as_secs_f64()
    );

    let spawn = || -> (std::process::Child, Option<SocketAddr>) {
        let wrap = std::env::var("YAGURA_BENCH_WRAP").unwrap_or_default();
        let mut wrap = wrap.split_whitespace();
        let mut child = match wrap.next() {
            Some(program) => {
                let mut c = Command::new(program);
                c.args(wrap).arg(env!("CARGO_BIN_EXE_yagura"));
                c
            }
            None => Command::new(env!("CARGO_BIN_EXE_yagura")),
        };
        let mut child = child
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .arg("-q")
            .arg("serve")
            .arg("--config")
            .arg(dir.path().join("server.toml"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn yagura serve");
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let mut addr: Option<SocketAddr> = None;
        for line in lines.by_ref() {
            let line = line.unwrap_or_default();
            if let Some(rest) = line.strip_prefix("yagura API listening on http://") {
                addr = rest.split('/').next().and_then(|a| a.parse().ok());
            }
            if line.starts_with("yagura ingest:") {
                break;
            }
        }
        std::thread::spawn(move || {
            for l in lines.map_while(Result::ok) {
                if l.contains("WARN") || l.contains("ERROR") {
                    eprintln!("server: {l}");
                }
            }
        });
        (child, addr)
    };
    let (mut child, addr) = spawn();
    let mut pid = child.id();
    let addr = addr.expect("server address");
    let start = usage_of(pid);
    let start_cpu = start.cpu();
    println!("load average before: {}", loadavg());

    let bodies = Arc::new(bodies);
    let tokens = Arc::new(tokens);
    let next = Arc::new(AtomicUsize::new(0));
    let refused = Arc::new(AtomicU64::new(0));
    let u0 = usage_of(pid);
    let t = Instant::now();
    let handles: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (bodies, tokens, next, refused) = (
                Arc::clone(&bodies),
                Arc::clone(&tokens),
                Arc::clone(&next),
                Arc::clone(&refused),
            );
            std::thread::spawn(move || {
                loop {
                    let r = next.fetch_add(1, Ordering::Relaxed);
                    let Some(body) = bodies.get(r) else { break };
                    let tok = &tokens[r % ORGS];
                    loop {
                        match post(addr, tok, &format!("r{r}"), body) {
                            Ok(200) => break,
                            Ok(429 | 503) => {
                                refused.fetch_add(1, Ordering::Relaxed);
                                std::thread::sleep(Duration::from_millis(50));
                            }
                            other => panic!("request {r}: {other:?}"),
                        }
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let wall = t.elapsed().as_secs_f64();
    let u_push = usage_of(pid).since(&u0);
    let cpu_push = u_push.cpu();
    let events = requests * PER_REQUEST as u64;
    println!(
        "push (durable acks): {events} events in {wall:.1}s wall = {:.0} events/s; server {cpu_push:.1} CPU-s = {:.0} events per server CPU-second; {} refusals (429/503, retried)",
        events as f64 / wall,
        events as f64 / cpu_push.max(1e-9),
        refused.load(Ordering::Relaxed)
    );
    println!(
        "push: server user {:.1} s, system {:.1} s, {:.0} minor page faults ({:.2} per event)",
        u_push.user,
        u_push.sys,
        u_push.minflt,
        u_push.minflt / events as f64
    );
    let killed = std::env::var("YAGURA_BENCH_KILL").as_deref() == Ok("1");
    if killed {
        let _ = child.kill();
        let _ = child.wait();
        let wal = dir_size(&dir.path().join("data/events/wal"));
        let t = Instant::now();
        let (c, a) = spawn();
        assert!(a.is_some(), "the restarted server serves");
        child = c;
        pid = child.id();
        println!(
            "restart after kill -9: serving again after {:.1}s wall (WAL {:.1} MiB replayed into pending batches and the detectors)",
            t.elapsed().as_secs_f64(),
            wal as f64 / 1048576.0
        );
    }
    let t2 = Instant::now();
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status();
    // Sample CPU until exit (the last reading before the process disappears).
    let mut last = usage_of(pid);
    loop {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        let u = usage_of(pid);
        if u.cpu() > 0.0 {
            last = u;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    if killed {
        // Another process since the kill: only its drain's wall time means something.
        println!(
            "drain after the restart: {:.1}s wall",
            t2.elapsed().as_secs_f64()
        );
    } else {
        let total_cpu = last.cpu() - start_cpu;
        let u_all = last.since(&start);
        println!(
            "drain after the last ack: {:.1}s wall; whole run (push + splits + detection): server {total_cpu:.1} CPU-s = {:.0} events per server CPU-second",
            t2.elapsed().as_secs_f64(),
            events as f64 / total_cpu.max(1e-9)
        );
        println!(
            "whole run: server user {:.1} s, system {:.1} s, {:.0} minor page faults",
            u_all.user, u_all.sys, u_all.minflt
        );
    }
    let events_dir = dir.path().join("data/events");
    let splits = dir_size(&events_dir.join("splits"));
    println!(
        "stored: splits {:.1} MiB ({:.0} B/event) = {:.2}x gzip-6 of the JSON lines; total events dir {:.1} MiB",
        splits as f64 / 1048576.0,
        splits as f64 / events as f64,
        splits as f64 / gz as f64,
        dir_size(&events_dir) as f64 / 1048576.0
    );
    println!("load average after: {}", loadavg());
}
