//! Event-store benchmark (a bench binary, not criterion: each phase is one long measured run).
//!
//! ```text
//! YAGURA_BENCH_EVENTS=2000000 cargo bench -p yagura-eventstore --bench eventstore
//! ```
//!
//! Phases, on synthetic proxy / DNS / flow events of 10 organizations over 48 hours:
//! 1. WAL only: durable appends (fsync per group) of the events' JSON, 4 appender threads.
//! 2. Durable ingest end to end: `EventStore::ingest` from 4 threads (WAL + splits built by
//!    flushes), then a final flush.
//! 3. Stored size: splits vs gzip -6 and zstd -3 of the same events as JSON lines.
//! 4. Retro-hunt of 10,000 indicators (10 present, 9,990 absent; domains and IPs) over every
//!    stored event: tantivy term-set per split (cold = splits opened, warm = cached), against
//!    the alternative design: a scan of zstd JSON lines, parsing each event and probing a hash
//!    set with its terms.
//!
//! Each phase prints wall time and the CPU time the process got (user + system, all threads,
//! from `/proc/self/stat`): on a shared machine, judge throughput per CPU-second.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::sync::Arc;
use std::time::Instant;

use yagura_eventstore::terms::{event_terms, normalize_indicator};
use yagura_eventstore::{CompactOptions, EventStore, HuntQuery, StoreOptions, Wal, WalOptions};
use yagura_model::{Event, OrgId, Scope, Timestamp};

/// CPU seconds (user + system) used by this process so far.
fn cpu() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
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

const ORGS: u64 = 10;
const DOMAINS: u64 = 200_000;

fn domain(n: u64) -> String {
    let tlds = ["com", "net", "org", "jp", "go.jp", "io"];
    format!("w{}.site{}.{}", n % 7, n, tlds[(n % 6) as usize])
}

fn make_event(rng: &mut Rng, i: u64, total: u64) -> Event {
    let org = rng.below(ORGS);
    let ts = 1_700_000_000 + (i * 172_800 / total.max(1)) as i64;
    make_event_at(rng, org, ts)
}

/// An event of organization `org-{org}` at `ts` (epoch seconds).
fn make_event_at(rng: &mut Rng, org: u64, ts: i64) -> Event {
    let d = domain(rng.below(DOMAINS));
    let src = format!("10.{org}.{}.{}", rng.below(16), rng.below(250) + 1);
    let dst = format!(
        "{}.{}.{}.{}",
        rng.below(200) + 11,
        rng.below(256),
        rng.below(256),
        rng.below(254) + 1
    );
    let json = match rng.below(3) {
        0 => format!(
            r#"{{"@timestamp":"{}","organization":{{"id":"org-{org}"}},"event":{{"dataset":"squid.access","kind":"event","category":["network","web"],"outcome":"success","action":"TCP_MISS"}},"source":{{"ip":"{src}","port":{}}},"destination":{{"ip":"{dst}","port":443,"bytes":{}}},"url":{{"full":"https://{d}/api/v{}/items?id={}","domain":"{d}","scheme":"https","path":"/api/v{}/items"}},"http":{{"request":{{"method":"GET"}},"response":{{"status_code":200}}}},"user":{{"name":"user{}"}},"user_agent":{{"original":"Mozilla/5.0 (Windows NT 10.0; Win64; x64)"}}}}"#,
            Timestamp::from_secs(ts).to_rfc3339(),
            rng.below(30000) + 30000,
            rng.below(100_000),
            rng.below(3),
            rng.below(100_000),
            rng.below(3),
            rng.below(500)
        ),
        1 => format!(
            r#"{{"@timestamp":"{}","organization":{{"id":"org-{org}"}},"event":{{"dataset":"zeek.dns","kind":"event","category":["network"]}},"source":{{"ip":"{src}","port":{}}},"destination":{{"ip":"10.{org}.0.53","port":53}},"network":{{"transport":"udp","protocol":"dns"}},"dns":{{"question":{{"name":"{d}","type":"A"}},"response_code":"NOERROR","resolved_ip":["{dst}"]}}}}"#,
            Timestamp::from_secs(ts).to_rfc3339(),
            rng.below(30000) + 30000
        ),
        _ => format!(
            r#"{{"@timestamp":"{}","organization":{{"id":"org-{org}"}},"event":{{"dataset":"zeek.conn","kind":"event","category":["network"]}},"source":{{"ip":"{src}","port":{},"bytes":{}}},"destination":{{"ip":"{dst}","port":443,"bytes":{}}},"network":{{"transport":"tcp"}}}}"#,
            Timestamp::from_secs(ts).to_rfc3339(),
            rng.below(30000) + 30000,
            rng.below(10_000),
            rng.below(1_000_000)
        ),
    };
    // The bench's own generator: a failure here is a bug in this file.
    serde_json::from_str(&json).unwrap_or_else(|e| panic!("bench event: {e}: {json}"))
}

/// The raw log line an event of this bench would have been read from.
fn raw_log_line(ev: &Event, rng: &mut Rng) -> String {
    let secs = ev.timestamp.secs();
    let get = |path: &str| {
        let mut out = String::new();
        ev.for_each_value(path, |v| {
            if out.is_empty() {
                out = v.to_text().to_string();
            }
        });
        if out.is_empty() { "-".to_string() } else { out }
    };
    let uid: String = (0..18)
        .map(|_| {
            let c = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
                [rng.below(62) as usize];
            c as char
        })
        .collect();
    match ev.dataset() {
        Some("squid.access") => format!(
            "{secs}.{:03} {:>6} {} TCP_MISS/200 {} GET {} {} HIER_DIRECT/{} application/json",
            rng.below(1000),
            rng.below(2000),
            get("source.ip"),
            get("destination.bytes"),
            get("url.full"),
            get("user.name"),
            get("destination.ip"),
        ),
        Some("zeek.dns") => format!(
            "{secs}.{:06}\t{C}{uid}\t{}\t{}\t{}\t53\tudp\t{}\t0.{:06}\t{}\t1\tC_INTERNET\t1\tA\t0\tNOERROR\tF\tF\tT\tT\t0\t{}\t300.000000\tF",
            rng.below(1_000_000),
            get("source.ip"),
            get("source.port"),
            get("destination.ip"),
            rng.below(65536),
            rng.below(100_000),
            get("dns.question.name"),
            get("dns.resolved_ip"),
            C = 'C',
        ),
        _ => format!(
            "{secs}.{:06}\t{C}{uid}\t{}\t{}\t{}\t{}\ttcp\tssl\t{}.{:06}\t{}\t{}\tSF\tT\tF\t0\tShADadFf\t{}\t{}\t{}\t{}\t-",
            rng.below(1_000_000),
            get("source.ip"),
            get("source.port"),
            get("destination.ip"),
            get("destination.port"),
            rng.below(100),
            rng.below(1_000_000),
            get("source.bytes"),
            get("destination.bytes"),
            rng.below(100),
            rng.below(100_000),
            rng.below(100),
            rng.below(1_000_000),
            C = 'C',
        ),
    }
}

/// The 10,000 indicators of the retro-hunt: 10 domains of the generator (present), 4,990
/// absent domains, 5,000 random public IPs (a few present by chance in large stores).
/// The scope of every generated organization.
fn all_orgs() -> Scope {
    Scope::orgs(
        (0..ORGS)
            .map(|o| OrgId::new(&format!("org-{o}")).expect("org"))
            .collect(),
    )
}

fn hunt_indicators() -> Vec<String> {
    let mut rng = Rng(0xfeed_beef_1234_5678);
    let mut indicators: Vec<String> = Vec::with_capacity(10_000);
    for k in 0..10u64 {
        indicators.push(domain(rng.below(DOMAINS) + k)); // present (most likely)
    }
    while indicators.len() < 5_000 {
        indicators.push(format!(
            "absent{}.badness{}.com",
            rng.next() % 1_000_000,
            indicators.len()
        ));
    }
    while indicators.len() < 10_000 {
        indicators.push(format!(
            "{}.{}.{}.{}",
            rng.below(200) + 11,
            rng.below(256),
            rng.below(256),
            rng.below(254) + 1
        ));
    }
    indicators
}

fn main() {
    if let Ok(dir) = std::env::var("YAGURA_BENCH_STORE_DIR") {
        scale::run(std::path::Path::new(&dir));
        return;
    }
    let n: u64 = std::env::var("YAGURA_BENCH_EVENTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    // Width of a split's time bucket (`StoreOptions::split_span_secs`): 3600 is the store's
    // default, 86400 what `yagura serve` uses (see BENCHMARKS.md).
    let span: i64 = std::env::var("YAGURA_BENCH_SPAN")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3600);
    let threads = 4;
    let batch = 1000usize;
    let root = tempfile::tempdir().expect("tempdir");
    println!(
        "# yagura-eventstore bench: {n} events, {ORGS} orgs, {threads} ingest threads, batches of {batch}, split span {span}s"
    );

    let t = Instant::now();
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let events: Vec<Event> = (0..n).map(|i| make_event(&mut rng, i, n)).collect();
    let jsons: Vec<String> = events
        .iter()
        .map(|e| serde_json::to_string(e).expect("serialize"))
        .collect();
    let raw_bytes: u64 = jsons.iter().map(|j| j.len() as u64 + 1).sum();
    println!(
        "generated in {:.1}s; JSON lines: {:.1} MiB ({:.0} B/event)",
        t.elapsed().as_secs_f64(),
        raw_bytes as f64 / 1048576.0,
        raw_bytes as f64 / n as f64
    );

    // ---- 1. WAL only ------------------------------------------------------------------------
    {
        let (wal, _) = Wal::open::<std::convert::Infallible>(
            &root.path().join("wal-only"),
            WalOptions::default(),
            0,
            |_| Ok(()),
        )
        .expect("open wal");
        let wal = Arc::new(wal);
        let jsons = Arc::new(jsons.clone());
        let c = cpu();
        let t = Instant::now();
        let handles: Vec<_> = (0..threads)
            .map(|k| {
                let wal = Arc::clone(&wal);
                let jsons = Arc::clone(&jsons);
                std::thread::spawn(move || {
                    let chunks: Vec<_> = jsons.chunks(batch).collect();
                    for (c, chunk) in chunks.iter().enumerate().skip(k).step_by(threads) {
                        let recs = chunk.iter().map(|j| j.as_bytes().to_vec()).collect();
                        wal.append(format!("w{c}").as_bytes(), recs)
                            .expect("append");
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().expect("join");
        }
        let s = t.elapsed().as_secs_f64();
        let c = cpu() - c;
        println!(
            "wal-only durable append: {:.0} events/s wall ({:.1} MiB/s, {s:.2}s); {c:.2} CPU-s = {:.0} events per CPU-second",
            n as f64 / s,
            raw_bytes as f64 / 1048576.0 / s,
            n as f64 / c.max(0.01)
        );
    }

    // ---- 2. durable ingest end to end ---------------------------------------------------------
    let store_dir = root.path().join("store");
    let store = Arc::new(
        EventStore::open(
            &store_dir,
            StoreOptions {
                flush_events: 250_000,
                max_pending_events: 2_000_000,
                split_span_secs: span,
                ..StoreOptions::default()
            },
        )
        .expect("open store"),
    );
    let events = Arc::new(events);
    let c = cpu();
    let t = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|k| {
            let store = Arc::clone(&store);
            let events = Arc::clone(&events);
            std::thread::spawn(move || {
                let chunks: Vec<_> = events.chunks(batch).collect();
                for (c, chunk) in chunks.iter().enumerate().skip(k).step_by(threads) {
                    store
                        .ingest(&format!("b{c}"), chunk.to_vec())
                        .expect("ingest");
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("join");
    }
    let acked = t.elapsed().as_secs_f64();
    store.flush().expect("final flush");
    let total = t.elapsed().as_secs_f64();
    let c = cpu() - c;
    let stats = store.stats().expect("stats");
    println!(
        "durable ingest (WAL + splits): {:.0} events/s acknowledged ({acked:.2}s), {:.0} events/s including the last flush ({total:.2}s); {c:.2} CPU-s = {:.0} events per CPU-second; {} splits",
        n as f64 / acked,
        n as f64 / total,
        n as f64 / c.max(0.01),
        stats.splits
    );

    // ---- 2b. split building alone ---------------------------------------------------------------
    // What the stream consumer does behind the WAL: everything is ingested first (WAL only),
    // then one flush builds the splits; its CPU is split building alone.
    {
        let dir = root.path().join("store-2b");
        let s2 = EventStore::open(
            &dir,
            StoreOptions {
                flush_events: usize::MAX,
                max_pending_events: usize::MAX,
                split_span_secs: span,
                ..StoreOptions::default()
            },
        )
        .expect("open store 2b");
        for (c, chunk) in events.chunks(batch).enumerate() {
            s2.ingest(&format!("b{c}"), chunk.to_vec())
                .expect("ingest 2b");
        }
        let c = cpu();
        let t = Instant::now();
        let r = s2.flush().expect("flush 2b");
        let c = cpu() - c;
        println!(
            "split building alone (one flush of {n} pending events): {} splits in {:.2}s wall; {c:.2} CPU-s = {:.0} events per CPU-second; {:.1} MiB",
            r.splits,
            t.elapsed().as_secs_f64(),
            n as f64 / c.max(0.01),
            s2.stats().expect("stats").split_bytes as f64 / 1048576.0
        );
        // Where the bytes are: split files by extension (store = doc store, term/idx =
        // term dictionary and postings, fast = fast fields, fieldnorm, ...).
        let mut by_ext: std::collections::BTreeMap<String, u64> = Default::default();
        let mut stack = vec![dir.join("splits")];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).expect("read_dir").flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    let ext = p
                        .extension()
                        .map_or("-".into(), |x| x.to_string_lossy().into_owned());
                    *by_ext.entry(ext).or_default() += e.metadata().map_or(0, |m| m.len());
                }
            }
        }
        let parts: Vec<String> = by_ext
            .iter()
            .map(|(k, v)| format!("{k} {:.1} B/event", *v as f64 / n as f64))
            .collect();
        println!("split bytes by file type: {}", parts.join(", "));
    }

    // ---- 3. stored size -----------------------------------------------------------------------
    let gz = {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
        for j in jsons.iter() {
            e.write_all(j.as_bytes()).expect("gz");
            e.write_all(b"\n").expect("gz");
        }
        e.finish().expect("gz").len() as u64
    };
    let zst_path = root.path().join("events.jsonl.zst");
    {
        let f = std::fs::File::create(&zst_path).expect("zst file");
        let mut e = zstd::Encoder::new(f, 3).expect("zstd");
        for j in jsons.iter() {
            e.write_all(j.as_bytes()).expect("zstd");
            e.write_all(b"\n").expect("zstd");
        }
        e.finish().expect("zstd");
    }
    let zst = std::fs::metadata(&zst_path).expect("zst size").len();
    // The same events as the raw logs they would come from (Squid native access log, Zeek
    // dns.log / conn.log TSV with a random uid per record, as Zeek writes), gzip -6: the
    // yardstick of "stored size no larger than the gzip-compressed raw logs".
    let (raw_log_bytes, raw_gz) = {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
        let mut total = 0u64;
        let mut rng = Rng(0x0dd_ba11_cafe_f00d);
        for ev in events.iter() {
            let line = raw_log_line(ev, &mut rng);
            total += line.len() as u64 + 1;
            e.write_all(line.as_bytes()).expect("gz");
            e.write_all(b"\n").expect("gz");
        }
        (total, e.finish().expect("gz").len() as u64)
    };
    println!(
        "stored size: splits {:.1} MiB ({:.1} B/event) = {:.2}x gzip-6 of the JSON lines ({:.1} MiB), {:.2}x zstd-3 ({:.1} MiB); raw {:.1} MiB",
        stats.split_bytes as f64 / 1048576.0,
        stats.split_bytes as f64 / n as f64,
        stats.split_bytes as f64 / gz as f64,
        gz as f64 / 1048576.0,
        stats.split_bytes as f64 / zst as f64,
        zst as f64 / 1048576.0,
        raw_bytes as f64 / 1048576.0
    );
    println!(
        "raw-log equivalent (Squid native + Zeek TSV lines): {:.1} MiB ({:.0} B/event), gzip-6 {:.1} MiB ({:.1} B/event); splits = {:.2}x gzip-6 of the raw logs",
        raw_log_bytes as f64 / 1048576.0,
        raw_log_bytes as f64 / n as f64,
        raw_gz as f64 / 1048576.0,
        raw_gz as f64 / n as f64,
        stats.split_bytes as f64 / raw_gz as f64
    );

    if std::env::var("YAGURA_BENCH_INGEST_ONLY").as_deref() == Ok("1") {
        return;
    }

    // ---- 4. retro-hunt -------------------------------------------------------------------------
    let indicators = hunt_indicators();
    let scope = all_orgs();
    let q = HuntQuery {
        scope,
        indicators: indicators.clone(),
        limit: Some(10_000),
        ..HuntQuery::default()
    };
    drop(store);
    let store = EventStore::open(&store_dir, StoreOptions::default()).expect("reopen");
    let (c, t) = (cpu(), Instant::now());
    let cold = store.hunt(&q).expect("hunt");
    let (cold_s, cold_c) = (t.elapsed().as_secs_f64(), cpu() - c);
    let (c, t) = (cpu(), Instant::now());
    let warm = store.hunt(&q).expect("hunt");
    let (warm_s, warm_c) = (t.elapsed().as_secs_f64(), cpu() - c);
    assert_eq!(cold.total(), warm.total());
    println!(
        "tantivy term-set hunt, 10,000 indicators over {n} events in {} splits: {} matches; cold {cold_s:.3}s ({cold_c:.2} CPU-s), warm {warm_s:.3}s ({warm_c:.2} CPU-s)",
        warm.splits_searched,
        warm.total(),
    );

    // Alternative: scan zstd JSON lines, parse, probe a hash set.
    let set: HashSet<String> = indicators
        .iter()
        .filter_map(|i| normalize_indicator(i))
        .collect();
    let (c, t) = (cpu(), Instant::now());
    let f = std::fs::File::open(&zst_path).expect("zst");
    let dec = zstd::Decoder::new(f).expect("zstd decoder");
    let mut matches = 0u64;
    let mut line = String::new();
    let mut r = BufReader::with_capacity(1 << 20, dec);
    loop {
        line.clear();
        if r.read_line(&mut line).expect("read") == 0 {
            break;
        }
        let ev: Event = serde_json::from_str(line.trim_end()).expect("parse");
        let mut hit = false;
        event_terms(&ev, |_, t| hit |= set.contains(t));
        matches += u64::from(hit);
    }
    let (scan_s, scan_c) = (t.elapsed().as_secs_f64(), cpu() - c);
    assert_eq!(matches, warm.total(), "both designs find the same events");
    println!(
        "alternative: zstd JSON-lines scan + hash set: {matches} matches in {scan_s:.3}s, {scan_c:.2} CPU-s ({:.0} events per CPU-second) = {:.1}x the CPU of the cold term-set hunt, {:.1}x the warm one",
        n as f64 / scan_c.max(0.01),
        scan_c / cold_c.max(0.01),
        scan_c / warm_c.max(0.01)
    );

    // ---- 5. after compaction: one split per organization and day ------------------------------
    let (c, t) = (cpu(), Instant::now());
    let m = store
        .compact(CompactOptions {
            small_docs: u64::MAX,
            window_secs: 86_400,
            max_docs: u64::MAX,
            ..CompactOptions::default()
        })
        .expect("compact");
    let (compact_s, compact_c) = (t.elapsed().as_secs_f64(), cpu() - c);
    let stats = store.stats().expect("stats");
    println!(
        "compaction: {} splits merged into {} in {compact_s:.2}s ({compact_c:.2} CPU-s); now {} splits, {:.1} MiB = {:.2}x gzip-6",
        m.splits_removed,
        m.splits_added,
        stats.splits,
        stats.split_bytes as f64 / 1048576.0,
        stats.split_bytes as f64 / gz as f64
    );
    let (c, t) = (cpu(), Instant::now());
    let cold = store.hunt(&q).expect("hunt");
    let (cold_s, cold_c) = (t.elapsed().as_secs_f64(), cpu() - c);
    let (c, t) = (cpu(), Instant::now());
    let warm = store.hunt(&q).expect("hunt");
    let (warm_s, warm_c) = (t.elapsed().as_secs_f64(), cpu() - c);
    assert_eq!(cold.total(), matches, "compaction keeps every event");
    assert_eq!(warm.total(), matches);
    println!(
        "tantivy term-set hunt after compaction, {} splits: cold {cold_s:.3}s ({cold_c:.2} CPU-s), warm {warm_s:.3}s ({warm_c:.2} CPU-s); {:.1} ms CPU per split (cold)",
        warm.splits_searched,
        cold_c * 1000.0 / warm.splits_searched.max(1) as f64
    );
}

/// Scale mode (`YAGURA_BENCH_STORE_DIR=DIR`): builds, or reuses, a store of
/// `YAGURA_BENCH_EVENTS` (default 100M) events of 10 organizations over `YAGURA_BENCH_DAYS`
/// (default 10) days in DIR through the store's own path (`EventStore::ingest`: WAL, then a
/// flush every two organization-days: one split per organization and day, built on two
/// threads), then runs the 10,000-indicator retro-hunt cold (page cache of the split files
/// dropped, store reopened) and warm, on all cores and on one, and checks it against tantivy's
/// `TermSetQuery` per split (the hunt's former implementation). A build interrupted (or
/// stopped by `YAGURA_BENCH_BUILD_UNTIL=<unix secs>`) resumes where it stopped;
/// `YAGURA_BENCH_HUNT_ONLY=1` hunts over whatever is built.
mod scale {
    use super::*;
    use std::path::Path;

    /// Start of day 0 (UTC midnight).
    const BASE: i64 = 1_699_920_000;
    const CHUNK: u64 = 10_000;

    fn env_u64(name: &str, default: u64) -> u64 {
        std::env::var(name)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(default)
    }

    fn loadavg() -> String {
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Disk reads of this process so far (load-independent, unlike wall times): bytes read
    /// from storage (`/proc/self/io` `read_bytes`: page-cache misses, read-ahead included),
    /// read syscalls (`syscr`) and major page faults (`/proc/self/stat` `majflt`: a memory-mapped
    /// page that had to be read from disk).
    #[derive(Debug, Clone, Copy, Default)]
    struct Io {
        read_bytes: u64,
        syscr: u64,
        majflt: u64,
    }

    impl Io {
        fn now() -> Io {
            let io = std::fs::read_to_string("/proc/self/io").unwrap_or_default();
            let field = |name: &str| {
                io.lines()
                    .find_map(|l| l.strip_prefix(name))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0)
            };
            let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
            // Fields after the command (in parentheses): state is field 3, majflt field 12.
            let majflt = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(9))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            Io {
                read_bytes: field("read_bytes:"),
                syscr: field("syscr:"),
                majflt,
            }
        }

        fn since(self, start: Io) -> Io {
            Io {
                read_bytes: self.read_bytes.saturating_sub(start.read_bytes),
                syscr: self.syscr.saturating_sub(start.syscr),
                majflt: self.majflt.saturating_sub(start.majflt),
            }
        }
    }

    impl std::fmt::Display for Io {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(
                f,
                "{:.1} MB read, {} major faults, {} read syscalls",
                self.read_bytes as f64 / 1e6,
                self.majflt,
                self.syscr
            )
        }
    }

    /// `f` over `items` on `threads` threads (each takes the next item), results in order.
    fn par<T: Sync, R: Send>(threads: usize, items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
        use std::sync::Mutex;
        use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
        let next = AtomicUsize::new(0);
        let out: Vec<Mutex<Option<R>>> = items.iter().map(|_| Mutex::new(None)).collect();
        std::thread::scope(|s| {
            for _ in 0..threads.max(1) {
                s.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, Relaxed);
                        let Some(item) = items.get(i) else { break };
                        let r = f(item);
                        *out[i].lock().expect("slot") = Some(r);
                    }
                });
            }
        });
        out.into_iter()
            .map(|m| m.into_inner().expect("slot").expect("every item done"))
            .collect()
    }

    /// `YAGURA_BENCH_HUNT_PHASES=1`: the cold hunt's read path run phase by phase over every
    /// split (each phase on `threads` threads, finished before the next starts), with wall
    /// time, CPU and the process's disk reads per phase: open the splits; look the terms up in
    /// the term dictionaries (with the dictionaries read ahead as the hunt does); read the
    /// postings of the terms found; fetch the stored events of the hits. `read_ahead` as
    /// `StoreOptions::hunt_read_ahead`: the hints of the hunt's read path before each phase.
    fn phases(
        paths: &[std::path::PathBuf],
        indicators: &[String],
        threads: usize,
        read_ahead: bool,
    ) {
        use yagura_eventstore::split::{self, OpenSplit};
        let mut set: Vec<String> = indicators
            .iter()
            .filter_map(|i| normalize_indicator(i))
            .collect();
        set.sort_unstable();
        set.dedup();
        let report = |name: &str, t: Instant, c: f64, io: Io| {
            println!(
                "  phase {name}: {:.3}s wall, {:.2} CPU-s; {}",
                t.elapsed().as_secs_f64(),
                cpu() - c,
                Io::now().since(io)
            );
        };
        let (t, c, io) = (Instant::now(), cpu(), Io::now());
        // With read-ahead the hunt opens and looks up the splits of a large hunt it opens on at
        // least 8 threads.
        let open_threads = if read_ahead { threads.max(8) } else { threads };
        let open: Vec<OpenSplit> = par(open_threads, paths, |p| {
            OpenSplit::open_with(p, read_ahead).expect("open")
        });
        report("open", t, c, io);
        let (t, c, io) = (Instant::now(), cpu(), Io::now());
        let found = std::thread::scope(|s| {
            s.spawn(|| {
                for (p, o) in paths.iter().zip(&open) {
                    if read_ahead {
                        o.prefetch_dictionaries(&["observables", "ip_bytes"]);
                    } else {
                        split::prefetch_dictionaries(p);
                    }
                }
            });
            par(open_threads, &open, |o| {
                o.load_dictionaries(&["observables", "ip_bytes"]);
                o.lookup_terms(&set).expect("lookup")
            })
        });
        report("dictionary", t, c, io);
        let pairs: Vec<(&OpenSplit, _)> = open.iter().zip(found).collect();
        let (t, c, io) = (Instant::now(), cpu(), Io::now());
        let docs = par(open_threads, &pairs, |(o, f)| {
            o.prefetch_postings(f);
            o.postings(f, None, None).expect("postings")
        });
        report("postings", t, c, io);
        let pairs: Vec<(&OpenSplit, _)> = open.iter().zip(docs).collect();
        let (t, c, io) = (Instant::now(), cpu(), Io::now());
        for (o, d) in &pairs {
            o.prefetch_docs(d);
        }
        let fetched: usize = par(threads, &pairs, |(o, d)| o.fetch(d).expect("fetch").len())
            .into_iter()
            .sum();
        report("fetch", t, c, io);
        println!(
            "  phases ({threads} threads, read-ahead {read_ahead}): {fetched} events fetched from {} splits; load {}",
            open.len(),
            loadavg()
        );
    }

    /// `YAGURA_BENCH_FORMAT=3` builds split format 3 (events in tantivy's doc store) instead
    /// of 4; `YAGURA_BENCH_BLOCK_LEVEL` / `YAGURA_BENCH_BLOCK_ROWS` set format 4's block zstd
    /// level and rows per chunk.
    fn options() -> StoreOptions {
        let d = StoreOptions::default();
        StoreOptions {
            split_span_secs: 86_400,
            flush_events: usize::MAX,
            max_pending_events: usize::MAX,
            build_threads: 2,
            split_format: env_u64("YAGURA_BENCH_FORMAT", u64::from(d.split_format)) as u32,
            block_level: env_u64("YAGURA_BENCH_BLOCK_LEVEL", d.block_level as u64) as i32,
            block_chunk_rows: env_u64("YAGURA_BENCH_BLOCK_ROWS", d.block_chunk_rows as u64)
                as usize,
            ..d
        }
    }

    fn files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                files(&p, out);
            } else {
                out.push(p);
            }
        }
    }

    /// Drops the page cache of every split file (GNU `dd iflag=nocache count=0`, i.e.
    /// `posix_fadvise(DONTNEED)` on the whole file): a cold hunt reads from disk.
    fn evict(dir: &Path) {
        let mut all = Vec::new();
        files(&dir.join("splits"), &mut all);
        for p in all {
            let ok = std::process::Command::new("dd")
                .arg(format!("if={}", p.display()))
                .args(["iflag=nocache", "count=0", "status=none"])
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "dd could not drop the page cache of {}", p.display());
        }
    }

    fn day_of(ts: Timestamp) -> i64 {
        (ts.nanos() / 1_000_000_000 - BASE).div_euclid(86_400)
    }

    fn build(dir: &Path, n: u64, days: u64) {
        let per = n / (ORGS * days);
        let store = EventStore::open(dir, options()).expect("open store");
        let done: HashSet<(i64, String)> = store
            .splits()
            .expect("splits")
            .into_iter()
            .map(|s| (day_of(s.min_ts), s.org.as_str().to_string()))
            .collect();
        let todo: Vec<(u64, u64)> = (0..days)
            .flat_map(|d| (0..ORGS).map(move |o| (d, o)))
            .filter(|(d, o)| !done.contains(&(*d as i64, format!("org-{o}"))))
            .collect();
        let until = env_u64("YAGURA_BENCH_BUILD_UNTIL", u64::MAX);
        println!(
            "# scale build: {} of {} organization-days to build, {per} events each; load {}",
            todo.len(),
            ORGS * days,
            loadavg()
        );
        if todo.is_empty() {
            return;
        }
        // Generation on its own thread, ingest + flush (split building on two threads) here.
        let (tx, rx) = std::sync::mpsc::sync_channel::<(u64, u64, u64, bool, Vec<Event>)>(4);
        let gen_todo = todo.clone();
        let producer = std::thread::spawn(move || {
            for (d, o) in gen_todo {
                let mut rng =
                    Rng(0x9e37_79b9_7f4a_7c15 ^ (d * ORGS + o + 1).wrapping_mul(0x2545_f491));
                let mut k = 0;
                let mut i = 0;
                while i < per {
                    let m = CHUNK.min(per - i);
                    let evs: Vec<Event> = (i..i + m)
                        .map(|j| {
                            let ts = BASE + (d * 86_400) as i64 + (j * 86_400 / per) as i64;
                            make_event_at(&mut rng, o, ts)
                        })
                        .collect();
                    i += m;
                    if tx.send((d, o, k, i == per, evs)).is_err() {
                        return;
                    }
                    k += 1;
                }
            }
        });
        let (c0, t0) = (cpu(), Instant::now());
        let mut org_days = 0u64;
        let mut built = 0u64;
        for (d, o, k, last, evs) in rx {
            store
                .ingest(&format!("d{d}-o{o}-{k}"), evs)
                .expect("ingest");
            if !last {
                continue;
            }
            org_days += 1;
            if org_days.is_multiple_of(2) || org_days == todo.len() as u64 {
                let r = store.flush().expect("flush");
                built += r.events;
                let (c, s) = (cpu() - c0, t0.elapsed().as_secs_f64());
                println!(
                    "built {org_days}/{} organization-days ({built} events, {} splits this flush) in {s:.0}s wall, {c:.0} CPU-s ({:.0} events per CPU-second incl. generation); load {}",
                    todo.len(),
                    r.splits,
                    built as f64 / c.max(0.01),
                    loadavg()
                );
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                if now >= until {
                    println!("# stopping the build (YAGURA_BENCH_BUILD_UNTIL)");
                    break;
                }
            }
        }
        drop(producer); // detached if stopped early: its sends fail once `rx` is gone
    }

    /// Stored bytes per event and the raw-log yardstick of one organization-day.
    fn sizes(dir: &Path, per: u64) {
        let store = EventStore::open(dir, options()).expect("open store");
        let st = store.stats().expect("stats");
        let mut by_ext: std::collections::BTreeMap<String, u64> = Default::default();
        let mut all = Vec::new();
        files(&dir.join("splits"), &mut all);
        for p in all {
            let ext = p
                .extension()
                .map_or("-".into(), |x| x.to_string_lossy().into_owned());
            *by_ext.entry(ext).or_default() += std::fs::metadata(&p).map_or(0, |m| m.len());
        }
        let docs = st.docs.max(1) as f64;
        // Term dictionary and postings per field (tantivy's space usage), over every split.
        let mut per_field: std::collections::BTreeMap<String, (u64, u64)> = Default::default();
        for s in store.splits().expect("splits") {
            let path = dir.join("splits").join(s.org.as_str()).join(&s.id);
            let index = tantivy::Index::open_in_dir(&path).expect("open split");
            let usage = index
                .reader()
                .expect("reader")
                .searcher()
                .space_usage()
                .expect("space usage");
            for seg in usage.segments() {
                for f in seg.termdict().fields() {
                    per_field.entry(f.field_name().to_string()).or_default().0 +=
                        f.total().get_bytes();
                }
                for f in seg.postings().fields() {
                    per_field.entry(f.field_name().to_string()).or_default().1 +=
                        f.total().get_bytes();
                }
            }
        }
        let fields: Vec<String> = per_field
            .iter()
            .map(|(k, (t, p))| format!("{k} {:.1} + {:.1}", *t as f64 / docs, *p as f64 / docs))
            .collect();
        println!(
            "term dictionary + postings per field, B/event: {}",
            fields.join(", ")
        );
        let parts: Vec<String> = by_ext
            .iter()
            .map(|(k, v)| format!("{k} {:.1}", *v as f64 / docs))
            .collect();
        // Yardstick on organization-day (0, 0), regenerated: gzip -6 of its raw-log lines
        // and of its JSON lines.
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ 1u64.wrapping_mul(0x2545_f491));
        let mut raw_rng = Rng(0x0dd_ba11_cafe_f00d);
        let sample = per.min(1_000_000);
        let mut raw = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
        let mut js = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
        for j in 0..sample {
            let ts = BASE + (j * 86_400 / per) as i64;
            let ev = make_event_at(&mut rng, 0, ts);
            raw.write_all(raw_log_line(&ev, &mut raw_rng).as_bytes())
                .expect("gz");
            raw.write_all(b"\n").expect("gz");
            js.write_all(serde_json::to_string(&ev).expect("json").as_bytes())
                .expect("gz");
            js.write_all(b"\n").expect("gz");
        }
        let raw_gz = raw.finish().expect("gz").len() as f64 / sample as f64;
        let js_gz = js.finish().expect("gz").len() as f64 / sample as f64;
        let per_ev = st.split_bytes as f64 / docs;
        println!(
            "stored: {} events in {} splits, {:.2} GiB = {per_ev:.1} B/event ({}); gzip-6 per event (organization-day 0 sample of {sample}): raw logs {raw_gz:.1} B, JSON lines {js_gz:.1} B; stored = {:.2}x gzip-6 of the raw logs, {:.2}x of the JSON lines",
            st.docs,
            st.splits,
            st.split_bytes as f64 / (1u64 << 30) as f64,
            parts.join(", "),
            per_ev / raw_gz,
            per_ev / js_gz
        );
    }

    /// The former per-split implementation: tantivy's `TermSetQuery` on `observables`.
    fn reference(dir: &Path, store: &EventStore, indicators: &[String]) -> (u64, f64, f64) {
        use tantivy::collector::Count;
        use tantivy::query::TermSetQuery;
        let set: Vec<String> = indicators
            .iter()
            .filter_map(|i| normalize_indicator(i))
            .collect();
        let (c, t) = (cpu(), Instant::now());
        let mut total = 0u64;
        for s in store.splits().expect("splits") {
            let index =
                tantivy::Index::open_in_dir(dir.join("splits").join(s.org.as_str()).join(&s.id))
                    .expect("open split");
            let schema = index.schema();
            let field = schema.get_field("observables").expect("field");
            let ip_field = schema.get_field("ip_bytes").ok();
            let reader = index.reader().expect("reader");
            // Format 3 indexes addresses as bytes in `ip_bytes`, older formats as text.
            let q = TermSetQuery::new(set.iter().map(|v| {
                match (ip_field, yagura_eventstore::terms::ip_key(v)) {
                    (Some(f), Some(k)) => tantivy::Term::from_field_bytes(f, k.as_bytes()),
                    _ => tantivy::Term::from_field_text(field, v),
                }
            }));
            total += reader.searcher().search(&q, &Count).expect("search") as u64;
        }
        (total, t.elapsed().as_secs_f64(), cpu() - c)
    }

    /// `YAGURA_BENCH_CONVERT=1`: compaction of the sealed organization-days into the
    /// compacted split format (`YAGURA_BENCH_COMPACTED_FORMAT`, default 4) on
    /// `YAGURA_BENCH_CONVERT_THREADS` threads (default 1), e.g. format 3 splits as ingest writes
    /// them into format 4 (tiered storage); prints the conversion's CPU per event.
    fn convert(dir: &Path) {
        let mut opts = options();
        opts.compacted_split_format = env_u64(
            "YAGURA_BENCH_COMPACTED_FORMAT",
            u64::from(opts.compacted_split_format),
        ) as u32;
        let store = EventStore::open(dir, opts).expect("open store");
        let before = store.stats().expect("stats");
        let load = loadavg();
        let (c, t) = (cpu(), Instant::now());
        let r = store
            .compact(CompactOptions {
                small_docs: 2_000_000,
                max_docs: 2_000_000,
                threads: env_u64("YAGURA_BENCH_CONVERT_THREADS", 1) as usize,
                ..CompactOptions::default()
            })
            .expect("compact");
        let (s, c) = (t.elapsed().as_secs_f64(), cpu() - c);
        let after = store.stats().expect("stats");
        assert_eq!(before.docs, after.docs, "conversion keeps every event");
        println!(
            "conversion (compaction of sealed days): {} splits ({} events, {:.2} GiB) rewritten into {} ({:.2} GiB) in {s:.1}s wall, {c:.1} CPU-s = {:.1} µs CPU per event ({:.0} events per CPU-second); load {load} -> {}",
            r.splits_removed,
            r.docs_removed,
            r.bytes_removed as f64 / (1u64 << 30) as f64,
            r.splits_added,
            after.split_bytes as f64 / (1u64 << 30) as f64,
            c * 1e6 / (r.docs_removed.max(1) as f64),
            r.docs_removed as f64 / c.max(0.01),
            loadavg()
        );
    }

    /// `YAGURA_BENCH_HUNT_ROUNDS=N`: only the retro-hunt, `N` times on one thread over the
    /// store as it is (no sizes, no page-cache eviction, no reference), for callgrind:
    /// (Ir of N = 3 − Ir of N = 1) / 2 is the instructions of one warm hunt.
    fn hunt_rounds(dir: &Path, rounds: usize) {
        let opts = StoreOptions {
            hunt_threads: 1,
            ..options()
        };
        let store = EventStore::open(dir, opts).expect("open store");
        let scope = all_orgs();
        let q = HuntQuery {
            scope,
            indicators: hunt_indicators(),
            limit: Some(1_000_000),
            ..HuntQuery::default()
        };
        for _ in 0..rounds {
            let r = store.hunt(&q).expect("hunt");
            println!(
                "hunt: {} matching events, {} fetched",
                r.total(),
                r.hits.len()
            );
        }
    }

    pub fn run(dir: &Path) {
        let n = env_u64("YAGURA_BENCH_EVENTS", 100_000_000);
        let days = env_u64("YAGURA_BENCH_DAYS", 10);
        if std::env::var("YAGURA_BENCH_HUNT_ONLY").as_deref() != Ok("1") {
            build(dir, n, days);
        }
        if std::env::var("YAGURA_BENCH_CONVERT").as_deref() == Ok("1") {
            convert(dir);
        }
        if let Ok(rounds) = std::env::var("YAGURA_BENCH_HUNT_ROUNDS") {
            hunt_rounds(dir, rounds.parse().unwrap_or(1));
            return;
        }
        sizes(dir, n / (ORGS * days));
        let indicators = hunt_indicators();
        let scope = all_orgs();
        let q = HuntQuery {
            scope,
            indicators: indicators.clone(),
            limit: Some(1_000_000),
            ..HuntQuery::default()
        };
        let mut counts = None;
        // `YAGURA_BENCH_HUNT_THREADS=8,16`: more rows with those thread counts (cold hunts wait
        // on the disk, so more threads than cores can keep more reads in flight).
        let extra: Vec<usize> = std::env::var("YAGURA_BENCH_HUNT_THREADS")
            .unwrap_or_default()
            .split(',')
            .filter_map(|t| t.trim().parse().ok())
            .collect();
        let rows = [
            (String::from("default threads"), 0usize),
            ("one thread".into(), 1),
        ]
        .into_iter()
        .chain(extra.into_iter().map(|t| (format!("{t} threads"), t)));
        for (label, threads) in rows {
            let mut opts = options();
            if threads > 0 {
                opts.hunt_threads = threads;
            }
            evict(dir);
            // `YAGURA_BENCH_READ_AHEAD=0`: the read path before session 10 (no hints, the
            // kernel's read-around).
            opts.hunt_read_ahead = std::env::var("YAGURA_BENCH_READ_AHEAD").as_deref() != Ok("0");
            let (hunt_threads, read_ahead) = (opts.hunt_threads, opts.hunt_read_ahead);
            let store = EventStore::open(dir, opts).expect("reopen");
            let docs = store.stats().expect("stats").docs;
            let load = loadavg();
            if std::env::var("YAGURA_BENCH_HUNT_COUNTS_FIRST").as_deref() == Ok("1") {
                // Counts only (no stored event read), cold: the index's share of a cold hunt.
                let counting = HuntQuery {
                    limit: Some(0),
                    ..q.clone()
                };
                let (c, t) = (cpu(), Instant::now());
                let r = store.hunt(&counting).expect("hunt");
                println!(
                    "  ({label}) counts only, cold: {} matching events in {:.3}s wall, {:.2} CPU-s",
                    r.total(),
                    t.elapsed().as_secs_f64(),
                    cpu() - c
                );
            }
            let (c, t, io) = (cpu(), Instant::now(), Io::now());
            let cold = store.hunt(&q).expect("hunt");
            let (cold_s, cold_c, cold_io) =
                (t.elapsed().as_secs_f64(), cpu() - c, Io::now().since(io));
            let (c, t, io) = (cpu(), Instant::now(), Io::now());
            let warm = store.hunt(&q).expect("hunt");
            let (warm_s, warm_c, warm_io) =
                (t.elapsed().as_secs_f64(), cpu() - c, Io::now().since(io));
            assert_eq!(cold, warm, "cold and warm hunts agree");
            println!(
                "retro-hunt ({label}), 10,000 indicators over {docs} events in {} splits: {} matching events ({} fetched); cold {cold_s:.3}s wall, {cold_c:.2} CPU-s ({cold_io}); warm {warm_s:.3}s wall, {warm_c:.2} CPU-s ({warm_io}); load {load} -> {}",
                warm.splits_searched,
                warm.total(),
                warm.hits.len(),
                loadavg()
            );
            if std::env::var("YAGURA_BENCH_HUNT_PHASES").as_deref() == Ok("1") {
                let paths: Vec<std::path::PathBuf> = store
                    .splits()
                    .expect("splits")
                    .iter()
                    .map(|s| dir.join("splits").join(s.org.as_str()).join(&s.id))
                    .collect();
                // The store's open splits keep their pages mapped: close it before evicting.
                drop(store);
                evict(dir);
                phases(&paths, &indicators, hunt_threads, read_ahead);
            }
            if let Some(c) = &counts {
                assert_eq!(c, &warm.counts, "thread count does not change the result");
            }
            counts = Some(warm.counts);
        }
        let store = EventStore::open(dir, options()).expect("reopen");
        let (total, s, c) = reference(dir, &store, &indicators);
        let counts = counts.unwrap_or_default();
        assert_eq!(
            total,
            counts.values().sum::<u64>(),
            "term lookups find what TermSetQuery finds"
        );
        println!(
            "reference: tantivy TermSetQuery per split (counts only, warm): {total} matching events in {s:.3}s wall, {c:.2} CPU-s; load {}",
            loadavg()
        );
    }
}
