//! Sigma throughput and memory (a bench binary, `harness = false`).
//!
//! Run: `cargo bench -p yagura-sigma --bench sigma` (add `-- --quick` for fewer repetitions).
//! With every SigmaHQ rule (all `rules*` folders of shared/data) plus the built-in rules loaded,
//! prints:
//! * load: wall time, CPU time, where it went (read, parse + compile, assembly, prefilter),
//!   resident memory;
//! * evaluation throughput per CPU-second (this thread's CPU time, so other processes on a
//!   loaded machine do not count) on parsed Windows events — the regression samples (every one
//!   a positive sample) and the EVTX-ATTACK-SAMPLES events — and on non-Windows events
//!   (synthetic proxy, DNS and flow events, with the same rule set loaded);
//! * `.evtx` to alerts (read + parse + evaluate + alert) on shared/data/windows and on the
//!   regression `.evtx` samples, per CPU-second.

use std::path::{Path, PathBuf};
use std::time::Instant;

use yagura_model::{Event, OrgId};
use yagura_sigma::{LoadOptions, RuleSet};

fn shared() -> PathBuf {
    let p = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data"));
    assert!(
        p.join("sigma").is_dir(),
        "shared data missing at {}",
        p.display()
    );
    p
}

fn files(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            files(&p, ext, out);
        } else if p.extension().is_some_and(|x| x == ext) {
            out.push(p);
        }
    }
    out.sort();
}

fn status_kib(key: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
        })
        .unwrap_or(0)
}

/// CPU time of the whole process (all threads), seconds (clock ticks of 10 ms).
fn process_cpu_s() -> f64 {
    let Ok(s) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = s.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of the file, 12 and 13 after the name.
    (ticks(11) + ticks(12)) / 100.0
}

/// CPU time of the calling thread, seconds (nanosecond resolution).
fn thread_cpu_s() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .map_or_else(process_cpu_s, |ns| ns / 1e9)
}

fn evtx_events(p: &Path) -> Vec<Event> {
    let Ok(mut parser) = sigma_evtx::EvtxParser::from_path(p) else {
        return Vec::new();
    };
    parser
        .records_json_value()
        .flatten()
        .filter_map(|r| {
            let mut e = yagura_sigma::windows::event_from_json(&r.data).ok()?;
            e.log.file.path = Some(p.display().to_string().into());
            e.log.file.line = Some(r.event_record_id);
            Some(e)
        })
        .collect()
}

/// Deterministic pseudo-random numbers (xorshift), so every run sees the same events.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, v: &[&'a str]) -> &'a str {
        v[(self.next() % v.len() as u64) as usize]
    }
}

/// Proxy, DNS and flow events as the readers produce them (ECS JSON), varied names and paths.
fn network_events(n: usize) -> Vec<Event> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let words = [
        "portal", "cdn", "static", "api", "login", "mail", "update", "files", "img", "news",
        "shop", "docs", "auth", "media", "video", "assets", "edge", "app", "cloud", "data",
    ];
    let tlds = [
        "com", "net", "org", "de", "fr", "io", "co.uk", "ch", "info", "eu",
    ];
    let agents = [
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15",
        "Microsoft-CryptoAPI/10.0",
        "Windows-Update-Agent/10.0.10011.16384 Client-Protocol/2.50",
    ];
    let exts = [
        "html", "js", "css", "png", "json", "php", "aspx", "jpg", "svg", "woff2",
    ];
    let methods = ["GET", "GET", "GET", "POST", "CONNECT"];
    let qtypes = ["A", "A", "AAAA", "HTTPS", "MX", "TXT", "PTR"];
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let host = format!(
            "{}.{}{}.{}",
            rng.pick(&words),
            rng.pick(&words),
            rng.next() % 1000,
            rng.pick(&tlds)
        );
        let src = format!(
            "10.{}.{}.{}",
            rng.next() % 256,
            rng.next() % 256,
            rng.next() % 254 + 1
        );
        let dst = format!(
            "{}.{}.{}.{}",
            rng.next() % 223 + 1,
            rng.next() % 256,
            rng.next() % 256,
            rng.next() % 254 + 1
        );
        let ts = format!("2026-11-26T10:{:02}:{:02}Z", (i / 60) % 60, i % 60);
        let v = match i % 3 {
            0 => {
                let path = format!(
                    "/{}/{}/{}.{}",
                    rng.pick(&words),
                    rng.next() % 100_000,
                    rng.pick(&words),
                    rng.pick(&exts)
                );
                let method = rng.pick(&methods);
                serde_json::json!({
                    "@timestamp": ts,
                    "event": {"dataset": "squid.access", "kind": "event"},
                    "source": {"ip": src},
                    "destination": {"ip": dst, "domain": host},
                    "url": {"original": format!("http://{host}{path}"), "domain": host, "path": path},
                    "http": {"request": {"method": method}, "response": {"status_code": 200, "bytes": rng.next() % 100_000}},
                    "user_agent": {"original": rng.pick(&agents)},
                    "user": {"name": format!("user{}", rng.next() % 500)},
                })
            }
            1 => serde_json::json!({
                "@timestamp": ts,
                "event": {"dataset": "zeek.dns", "kind": "event"},
                "source": {"ip": src, "port": 50000 + rng.next() % 10000},
                "destination": {"ip": "10.0.0.53", "port": 53},
                "network": {"transport": "udp", "protocol": "dns"},
                "dns": {"question": {"name": host, "type": rng.pick(&qtypes)}, "response_code": "NOERROR"},
                // What the Zeek reader keeps of dns.log beyond ECS.
                "zeek": {"dns": {"trans_id": rng.next() % 65536, "RD": true, "RA": true, "AA": false, "TC": false, "Z": 0, "rejected": false}},
            }),
            _ => {
                let port = [443, 80, 53, 22, 3389][(rng.next() % 5) as usize];
                serde_json::json!({
                "@timestamp": ts,
                "event": {"dataset": "zeek.conn", "kind": "event"},
                "source": {"ip": src, "port": 40000 + rng.next() % 20000, "bytes": rng.next() % 10_000},
                "destination": {"ip": dst, "port": port, "bytes": rng.next() % 100_000},
                "network": {"transport": "tcp"},
                })
            }
        };
        if let Ok(e) = serde_json::from_value::<Event>(v) {
            out.push(e);
        }
    }
    out
}

/// Replays `events` until at least `min` evaluations; returns (evaluations, matches, CPU s).
fn replay(set: &RuleSet, events: &[Event], min: usize) -> (usize, usize, f64) {
    let reps = min / events.len().max(1) + 1;
    let mut matches = 0usize;
    let c0 = thread_cpu_s();
    for _ in 0..reps {
        for e in events {
            set.detect(e, |_| matches += 1);
        }
    }
    (reps * events.len(), matches / reps, thread_cpu_s() - c0)
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    // `--only=windows|network|evtx` runs one section after loading (for profiling).
    let only: Option<String> =
        std::env::args().find_map(|a| a.strip_prefix("--only=").map(str::to_owned));
    let run = |section: &str| only.as_deref().is_none_or(|o| o == section);
    let scale = if quick { 1 } else { 5 };
    let sigma = shared().join("sigma");
    let dirs: Vec<PathBuf> = [
        "rules",
        "rules-emerging-threats",
        "rules-threat-hunting",
        "rules-compliance",
        "rules-placeholder",
    ]
    .iter()
    .map(|d| sigma.join(d))
    .collect();

    let rss0 = status_kib("VmRSS:");
    let (t, c) = (Instant::now(), process_cpu_s());
    let set = RuleSet::load_with(&dirs, LoadOptions::default()).expect("rules load");
    let (load_wall, load_cpu) = (t.elapsed().as_secs_f64(), process_cpu_s() - c);
    let rss1 = status_kib("VmRSS:");
    let (slots, instances) = set.engine_stats();
    let tm = set.load_timings();
    let pf = set.prefilter_stats();
    println!(
        "load: {} documents -> {} rules loaded; {slots} log-source slots, {instances} (slot, rule) instances",
        set.report().rules.len(),
        set.rules().len(),
    );
    println!(
        "load: {load_wall:.2} s wall, {load_cpu:.2} s CPU ({} threads): read {:.2} s, parse+compile {:.2} s, assemble {:.2} s, prefilter {:.2} s; RSS +{} MiB",
        tm.threads,
        tm.read_s,
        tm.parse_compile_s,
        tm.assemble_s,
        tm.index_s,
        rss1.saturating_sub(rss0) / 1024
    );
    println!(
        "prefilter: {} literal patterns; instances: {} by literal, {} by number, {} by field presence, {} always evaluated",
        pf.patterns, pf.literal, pf.numeric, pf.presence, pf.always
    );

    // (a) Parsed Windows events.
    // `--only=windows-attack` runs only the EVTX-ATTACK-SAMPLES replay (for profiling).
    if run("windows") || run("windows-attack") {
        let mut jsons = Vec::new();
        files(&sigma.join("regression_data"), "json", &mut jsons);
        let regression: Vec<Event> = jsons
            .iter()
            .flat_map(|p| {
                let text = std::fs::read_to_string(p).unwrap_or_default();
                yagura_sigma::windows::events_from_json_text(&text)
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
            })
            .collect();
        let mut evtxs = Vec::new();
        files(&shared().join("windows"), "evtx", &mut evtxs);
        let attack: Vec<Event> = evtxs.iter().flat_map(|p| evtx_events(p)).collect();
        for (label, events) in [
            ("regression samples (all positive)", &regression),
            ("EVTX-ATTACK-SAMPLES", &attack),
        ] {
            if only.as_deref() == Some("windows-attack") && label != "EVTX-ATTACK-SAMPLES" {
                continue;
            }
            let (n, m, cpu) = replay(&set, events, 100_000 * scale);
            println!(
                "windows events, {label}: {} events x {} = {n} evaluations, {m} matches per pass, {cpu:.2} CPU s = {:.0} events per CPU-second",
                events.len(),
                n / events.len().max(1),
                n as f64 / cpu
            );
        }
    }

    // (b) Non-Windows events with the same rule set.
    if run("network") {
        let net = network_events(30_000);
        let (n, m, cpu) = replay(&set, &net, 300_000 * scale);
        println!(
            "network events (proxy/DNS/flow, synthetic): {} events, {n} evaluations, {m} matches per pass, {cpu:.2} CPU s = {:.0} events per CPU-second",
            net.len(),
            n as f64 / cpu
        );
        let mut by_rule: std::collections::BTreeMap<&str, usize> = Default::default();
        for e in &net {
            set.detect(e, |m| {
                *by_rule.entry(m.rule.title.as_str()).or_default() += 1
            });
        }
        let mut top: Vec<_> = by_rule.into_iter().collect();
        top.sort_by_key(|t| std::cmp::Reverse(t.1));
        for (t, n) in top.iter().take(5) {
            println!("  matched {n} times: {t}");
        }
        for (label, ds) in [
            ("proxy", "squid.access"),
            ("dns", "zeek.dns"),
            ("flow", "zeek.conn"),
        ] {
            let only: Vec<Event> = net
                .iter()
                .filter(|e| e.event.dataset.as_deref() == Some(ds))
                .cloned()
                .collect();
            let (n, _, cpu) = replay(&set, &only, 100_000 * scale);
            println!("  {label}: {:.0} events per CPU-second", n as f64 / cpu);
        }
    }

    // (d) .evtx to alerts.
    if run("evtx") {
        let org = OrgId::new("bench").expect("valid org id");
        for (label, dir) in [
            ("shared/data/windows", shared().join("windows")),
            ("regression .evtx", sigma.join("regression_data")),
        ] {
            let mut evtxs = Vec::new();
            files(&dir, "evtx", &mut evtxs);
            let bytes: u64 = evtxs
                .iter()
                .filter_map(|p| std::fs::metadata(p).ok())
                .map(|m| m.len())
                .sum();
            let (mut n_events, mut n_alerts) = (0usize, 0usize);
            let c0 = thread_cpu_s();
            for p in &evtxs {
                for e in evtx_events(p) {
                    n_events += 1;
                    set.detect(&e, |m| {
                        if m.to_alert(&e, Some(&org)).is_ok() {
                            n_alerts += 1;
                        }
                    });
                }
            }
            let cpu = thread_cpu_s() - c0;
            println!(
                "evtx -> alerts ({label}): {} files, {:.1} MiB, {n_events} events, {n_alerts} alerts in {cpu:.2} CPU s = {:.0} events, {:.1} MiB per CPU-second",
                evtxs.len(),
                bytes as f64 / 1048576.0,
                n_events as f64 / cpu,
                bytes as f64 / 1048576.0 / cpu
            );
        }
    }
    println!(
        "memory: RSS {} MiB at end, peak {} MiB",
        status_kib("VmRSS:") / 1024,
        status_kib("VmHWM:") / 1024
    );
}
