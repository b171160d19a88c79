//! Reader throughput: lines (or records) into normalized events in memory, one thread.
//!
//! `cargo bench -p yagura-formats --bench readers`
//!
//! Time is the **CPU time of the process** (every thread's `/proc/self/task/*/schedstat`), not wall-clock time,
//! so the throughput criterion prints is per CPU-second (per core) even on a loaded machine,
//! and it includes any helper thread a reader might use.
//!
//! Inputs are generated here (Squid, Zeek TSV conn/dns, syslog RFC 3164/5424, CEF, mail gateway) or taken from
//! `../shared/data` (Suricata EVE, Zeek JSON, .evtx) or the crate's `test_data` (ECS,
//! Winlogbeat, evtx JSON dump), repeated. The `.evtx` group also runs the evtx
//! crate's own JSON conversion of the same file, the baseline the readers must stay within
//! 1.5x of.
//!
//! Records are read with [`FileReader::next_into`] into one reused `Event` (what a pipeline
//! that serializes or matches each event before reading the next does); `READERS_API=iter`
//! measures the `Iterator` API instead.

use std::hint::black_box;
use std::io::Cursor;
use std::path::PathBuf;

use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use yagura_formats::{FileReader, ReadOptions};

/// CPU time consumed by the whole process (every thread), in nanoseconds.
struct CpuTime;

/// Sums the first field of `/proc/self/task/*/schedstat` (time on a CPU, nanoseconds): exact,
/// unlike `/proc/self/stat`'s clock ticks, and needs no `unsafe` call.
fn process_cpu_nanos() -> u64 {
    let tasks = std::fs::read_dir("/proc/self/task").expect("/proc/self/task (Linux only)");
    let mut total = 0;
    for t in tasks.flatten() {
        if let Ok(s) = std::fs::read_to_string(t.path().join("schedstat")) {
            total += s
                .split_ascii_whitespace()
                .next()
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    total
}

static WALL: WallTime = WallTime;

impl Measurement for CpuTime {
    type Intermediate = u64;
    type Value = u64;
    fn start(&self) -> u64 {
        process_cpu_nanos()
    }
    fn end(&self, start: u64) -> u64 {
        process_cpu_nanos().saturating_sub(start)
    }
    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }
    fn zero(&self) -> u64 {
        0
    }
    fn to_f64(&self, v: &u64) -> f64 {
        *v as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        // Values are nanoseconds, like wall time: reuse criterion's duration formatting.
        WALL.formatter()
    }
}

type Crit = Criterion<CpuTime>;

fn shared(rel: &str) -> PathBuf {
    let p = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data")).join(rel);
    assert!(p.exists(), "shared data missing: {}", p.display());
    p
}

/// A file of the crate's `test_data` (the inputs of the snapshot tests).
fn test_data(name: &str) -> Vec<u8> {
    let p = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/test_data")).join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn squid(n: usize) -> Vec<u8> {
    let mut s = String::with_capacity(n * 140);
    for i in 0..n {
        let host = [
            "cdn-upd.net",
            "www.example.org",
            "login.example.com",
            "a.b.c.example.jp",
        ][i % 4];
        let method = if i % 10 == 0 { "CONNECT" } else { "GET" };
        let url = if method == "CONNECT" {
            format!("{host}:443")
        } else {
            format!("http://{host}/path/{}/file{}.js?q={i}", i % 97, i % 13)
        };
        s.push_str(&format!(
            "{}.{:03} {:6} 10.10.{}.{} TCP_MISS/200 {} {method} {url} {} HIER_DIRECT/203.0.113.{} text/html\n",
            1_767_574_923 + i / 10,
            i % 1000,
            i % 5000,
            i % 250,
            i % 200,
            1000 + i % 9000,
            if i % 3 == 0 { "tanaka" } else { "-" },
            i % 250
        ));
    }
    s.into_bytes()
}

fn zeek_conn(n: usize) -> Vec<u8> {
    let mut s = String::from(
        "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n#open\t2026-01-05-00-00-00\n#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\thistory\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\ttunnel_parents\n#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\tstring\tbool\tbool\tcount\tstring\tcount\tcount\tcount\tcount\tset[string]\n",
    );
    for i in 0..n {
        s.push_str(&format!(
            "{}.{:06}\tC{:017}\t10.10.{}.{}\t{}\t203.0.113.{}\t443\ttcp\tssl\t0.{:06}\t{}\t{}\tSF\tT\tF\t0\tShADadFf\t12\t{}\t10\t{}\t(empty)\n",
            1_767_574_923 + i / 10,
            i % 1_000_000,
            i,
            i % 250,
            i % 200,
            40000 + i % 20000,
            i % 250,
            i % 999_999,
            500 + i % 4000,
            2000 + i % 90000,
            1200 + i % 4000,
            2600 + i % 90000
        ));
    }
    s.into_bytes()
}

fn zeek_dns(n: usize) -> Vec<u8> {
    let mut s = String::from(
        "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tdns\n#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\ttrans_id\trtt\tquery\tqclass\tqclass_name\tqtype\tqtype_name\trcode\trcode_name\tAA\tTC\tRD\tRA\tZ\tanswers\tTTLs\trejected\n#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tcount\tinterval\tstring\tcount\tstring\tcount\tstring\tcount\tstring\tbool\tbool\tbool\tbool\tcount\tvector[string]\tvector[interval]\tbool\n",
    );
    for i in 0..n {
        s.push_str(&format!(
            "{}.{:06}\tC{:017}\t10.10.{}.{}\t{}\t10.10.0.53\t53\tudp\t{}\t0.0012\tx{}.cdn-upd.net\t1\tC_INTERNET\t1\tA\t0\tNOERROR\tF\tF\tT\tT\t0\t203.0.113.{}\t60.000000\tF\n",
            1_767_574_923 + i / 10,
            i % 1_000_000,
            i,
            i % 250,
            i % 200,
            40000 + i % 20000,
            i % 65535,
            i % 5000,
            i % 250
        ));
    }
    s.into_bytes()
}

fn mailgw(n: usize) -> Vec<u8> {
    let mut s = String::new();
    for i in 0..n {
        s.push_str(&format!(
            r#"{{"type":"mailgw","ts":"2026-01-05T01:02:{:02}.{:03}Z","gateway":"mx1","queue_id":"Q{i}","direction":"inbound","client_ip":"203.0.113.{}","envelope_from":"b{i}@example.net","header_from":"Info <info@example.net>","recipients":["u{}@moh.example"],"subject":"Report {i}","attachments":[{{"name":"r{i}.pdf","sha256":"275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"}}],"links":["http://example.net/x?{i}"],"spf":"pass","dkim":"pass","dmarc":"pass","verdict":"delivered"}}"#,
            i % 60,
            i % 1000,
            i % 250,
            i % 500
        ));
        s.push('\n');
    }
    s.into_bytes()
}

/// RFC 3164 lines (`<PRI>Mmm dd hh:mm:ss host tag[pid]: message`), sshd and su messages.
fn syslog_3164(n: usize) -> Vec<u8> {
    let mut s = String::with_capacity(n * 120);
    for i in 0..n {
        let (tag, msg) = if i % 3 == 0 {
            (
                "su",
                format!("'su root' failed for user{} on /dev/pts/{}", i % 50, i % 9),
            )
        } else {
            (
                "sshd",
                format!(
                    "Failed password for invalid user admin{} from 198.51.100.{} port {} ssh2",
                    i % 40,
                    i % 250,
                    40000 + i % 20000
                ),
            )
        };
        s.push_str(&format!(
            "<{}>Jan {:2} {:02}:{:02}:{:02} host{}.moh.example {tag}[{}]: {msg}\n",
            32 + i % 8,
            1 + i % 28,
            i % 24,
            i % 60,
            (i / 7) % 60,
            i % 20,
            1000 + i % 30000
        ));
    }
    s.into_bytes()
}

/// RFC 5424 lines with structured data (one or two SD-ELEMENTs, an escaped quote in some).
fn syslog_5424(n: usize) -> Vec<u8> {
    let mut s = String::with_capacity(n * 220);
    for i in 0..n {
        let sd = if i % 4 == 0 {
            format!(
                r#"[origin@32473 ip="10.10.{}.{}" software="sshd"][meta sequenceId="{i}" note="a \"quoted\" word"]"#,
                i % 250,
                i % 200
            )
        } else {
            format!(
                r#"[origin@32473 ip="10.10.{}.{}" software="sshd"]"#,
                i % 250,
                i % 200
            )
        };
        s.push_str(&format!(
            "<{}>1 2026-01-05T01:{:02}:{:02}.{:03}+09:00 fw{}.moh.example sshd {} ID{} {sd} Failed password for root from 198.51.100.{} port {} ssh2\n",
            160 + i % 8,
            i % 60,
            (i / 60) % 60,
            i % 1000,
            i % 10,
            1000 + i % 30000,
            i % 100,
            i % 250,
            40000 + i % 20000
        ));
    }
    s.into_bytes()
}

/// CEF records, bare and behind an RFC 3164 header, with escapes in the header (`\|`) and in
/// extension values (`\=`, `\\`, `\n`) and a dozen extension keys (custom string labels too).
fn cef(n: usize) -> Vec<u8> {
    let mut s = String::with_capacity(n * 330);
    for i in 0..n {
        if i % 2 == 1 {
            s.push_str(&format!("<134>Jan  5 01:02:{:02} fw01 ", i % 60));
        }
        s.push_str(&format!(
            r"CEF:0|Trend Micro|Deep Discovery Inspector|6.0|{}|Malware URL requested \| blocked|8|rt=Jan 05 2026 01:{:02}:{:02}.{:03} src=10.10.{}.{} spt={} dst=203.0.113.{} dpt=80 proto=TCP request=http://cdn-upd.net/a{}.exe?x\=1 requestMethod=GET act=blocked suser=moh\\sato{} cs1Label=Threat Name cs1=TROJ_GEN.R{:03}C0 fname=a{}.exe msg=Detected a \= sign\nand a back\slash",
            100_000 + i % 200,
            i % 60,
            (i / 60) % 60,
            i % 1000,
            i % 250,
            i % 200,
            40000 + i % 20000,
            i % 250,
            i % 97,
            i % 30,
            i % 500,
            i % 97
        ));
        s.push('\n');
    }
    s.into_bytes()
}

/// The first `n` lines of a shared file, repeated up to `n` lines.
/// The lines of `bytes` the reader turns into an event (snapshot inputs also hold rejects).
fn accepted_lines(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for l in bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let mut line = l.to_vec();
        line.push(b'\n');
        if count(leak(line.clone()), "bench.json") == 1 {
            out.extend_from_slice(&line);
        }
    }
    out
}

fn repeat_lines(bytes: &[u8], n: usize) -> Vec<u8> {
    let lines: Vec<&[u8]> = bytes
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let mut out = Vec::new();
    for i in 0..n {
        if let Some(l) = lines.get(i % lines.len().max(1)) {
            out.extend_from_slice(l);
            out.push(b'\n');
        }
    }
    out
}

/// A case's input, generated only when the case runs.
type Input = Box<dyn Fn() -> Vec<u8>>;

/// `READERS_CASE=squid` prepares only the cases whose name contains `squid` (criterion's own
/// filter skips the timing, not the input generation, which would dominate a profile).
fn wanted(name: &str) -> bool {
    std::env::var("READERS_CASE")
        .ok()
        .is_none_or(|only| name.contains(only.as_str()))
}

/// Inputs live for the whole run, so a reader borrows them without a copy per iteration.
fn leak(v: Vec<u8>) -> &'static [u8] {
    Box::leak(v.into_boxed_slice())
}

/// `READERS_API=iter` reads through the `Iterator` API (one `Event` built, returned and dropped
/// per record) instead of [`FileReader::next_into`] (one `Event` reused for the whole file), to
/// compare the two in one binary.
fn use_iter() -> bool {
    std::env::var("READERS_API").is_ok_and(|a| a == "iter")
}

/// How many times each case's input is read (and checked) before timing: 1, or
/// `READERS_REPEAT`. Counting instructions or allocations of one read is then the difference
/// between a run with `READERS_REPEAT=2` and one with `READERS_REPEAT=1` (the input
/// generation cancels out).
fn check_reads() -> usize {
    std::env::var("READERS_REPEAT")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1)
}

fn count(input: &'static [u8], label: &str) -> usize {
    let mut r = FileReader::from_reader(Cursor::new(input), label, &ReadOptions::default())
        .expect("detected");
    let mut n = 0;
    if use_iter() {
        for rec in r {
            black_box(&rec);
            n += usize::from(rec.is_ok());
        }
    } else {
        let mut ev = yagura_model::Event::default();
        while let Some(rec) = r.next_into(&mut ev) {
            black_box(&ev);
            black_box(&rec);
            n += usize::from(rec.is_ok());
        }
    }
    n
}

fn text_formats(c: &mut Crit) {
    const N: usize = 200_000;
    let cases: Vec<(&str, Input)> = vec![
        ("squid_native", Box::new(|| squid(N))),
        ("zeek_tsv_conn", Box::new(|| zeek_conn(N))),
        ("zeek_tsv_dns", Box::new(|| zeek_dns(N))),
    ];
    let mut g = c.benchmark_group("text");
    g.sample_size(10);
    // Each iteration takes a good fraction of a second: equal-sized samples (10 iterations in
    // all) instead of criterion's linear 1 + 2 + … + 10.
    g.sampling_mode(SamplingMode::Flat);
    for (name, make) in cases {
        if !wanted(name) {
            continue;
        }
        let input = leak(make());
        for _ in 0..check_reads() {
            assert_eq!(
                count(input, "bench.log"),
                N,
                "{name}: every line must parse"
            );
        }
        g.throughput(Throughput::Elements(N as u64));
        g.bench_function(name, |b| b.iter(|| count(input, "bench.log")));
    }
    g.finish();
}

fn syslog_formats(c: &mut Crit) {
    const N: usize = 50_000;
    let cases: Vec<(&str, Input)> = vec![
        ("syslog_3164", Box::new(|| syslog_3164(N))),
        ("syslog_5424", Box::new(|| syslog_5424(N))),
        ("cef", Box::new(|| cef(N))),
    ];
    let mut g = c.benchmark_group("syslog");
    g.sample_size(10);
    g.sampling_mode(SamplingMode::Flat);
    for (name, make) in cases {
        if !wanted(name) {
            continue;
        }
        let input = leak(make());
        for _ in 0..check_reads() {
            assert_eq!(
                count(input, "bench.log"),
                N,
                "{name}: every line must parse"
            );
        }
        g.throughput(Throughput::Elements(N as u64));
        g.bench_function(name, |b| b.iter(|| count(input, "bench.log")));
    }
    g.finish();
}

fn json_formats(c: &mut Crit) {
    const N: usize = 50_000;
    let eve = std::fs::read(shared(
        "suricata/slips/dataset/test6-malicious.suricata.json",
    ))
    .expect("eve");
    let mut zj = Vec::new();
    flate2_read(
        std::fs::File::open(shared("zeek/zed/zeek-json/dns.json.gz")).expect("zeek json"),
        &mut zj,
    );
    let otrf = std::fs::read(shared(
        "zeek/otrf/datasets/compound/apt29/day1/zeek/individual_zeek_logs/NASHUA_conn.log",
    ))
    .expect("otrf");
    let cases: Vec<(&str, Input)> = vec![
        ("suricata_eve", Box::new(move || repeat_lines(&eve, N))),
        ("zeek_json_dns", Box::new(move || repeat_lines(&zj, N))),
        (
            "zeek_json_conn_otrf",
            Box::new(move || repeat_lines(&otrf, N)),
        ),
        ("mailgw", Box::new(|| mailgw(N))),
        // The pass-through formats (serde_json into `Event`), from the snapshot inputs.
        // (`ecs.jsonl` also holds a line with a bad timestamp, for the reject snapshot.)
        (
            "ecs",
            Box::new(|| repeat_lines(&accepted_lines(&test_data("ecs.jsonl")), N)),
        ),
        (
            "winlogbeat",
            Box::new(|| repeat_lines(&test_data("winlogbeat.jsonl"), N)),
        ),
        (
            "evtx_json",
            Box::new(|| repeat_lines(&test_data("evtx-dump.jsonl"), N)),
        ),
    ];
    let mut g = c.benchmark_group("json");
    g.sample_size(10);
    // Each iteration takes a good fraction of a second: equal-sized samples (10 iterations in
    // all) instead of criterion's linear 1 + 2 + … + 10.
    g.sampling_mode(SamplingMode::Flat);
    for (name, make) in cases {
        if !wanted(name) {
            continue;
        }
        let input = leak(make());
        for _ in 0..check_reads() {
            assert_eq!(
                count(input, "bench.json"),
                N,
                "{name}: every record must parse"
            );
        }
        g.throughput(Throughput::Elements(N as u64));
        g.bench_function(name, |b| b.iter(|| count(input, "bench.json")));
    }
    g.finish();
}

fn flate2_read(f: std::fs::File, out: &mut Vec<u8>) {
    use std::io::Read;
    let mut r = yagura_formats::input::decompress(std::io::BufReader::new(f)).expect("gz");
    r.read_to_end(out).expect("read");
}

fn evtx(c: &mut Crit) {
    if !wanted("evtx") {
        return;
    }
    let path = shared("windows/evtx-attack-samples/Lateral Movement/LM_5145_Remote_FileCopy.evtx");
    let bytes = leak(std::fs::read(&path).expect("evtx"));
    let n = count(bytes, "bench.evtx");
    assert!(n > 0);
    let mut g = c.benchmark_group("evtx");
    g.sample_size(10);
    // Each iteration takes a good fraction of a second: equal-sized samples (10 iterations in
    // all) instead of criterion's linear 1 + 2 + … + 10.
    g.sampling_mode(SamplingMode::Flat);
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function("yagura_events", |b| b.iter(|| count(bytes, "bench.evtx")));
    g.bench_function("evtx_crate_json_value", |b| {
        b.iter(|| {
            let mut p = evtx::EvtxParser::from_buffer(bytes.to_vec())
                .expect("evtx")
                .with_configuration(evtx::ParserSettings::new().num_threads(1));
            let mut k = 0usize;
            for r in p.records_json_value() {
                black_box(&r);
                k += usize::from(r.is_ok());
            }
            k
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(CpuTime);
    targets = text_formats, syslog_formats, json_formats, evtx
}
criterion_main!(benches);
