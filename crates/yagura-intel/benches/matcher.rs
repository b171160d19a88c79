//! Matcher throughput on proxy and DNS events against the full maltrail + ipsum set
//! (1.66 M indicators) with the MISP warninglists loaded.
//!
//! Run: `cargo bench -p yagura-intel --bench matcher`
//!
//! `observables_only` walks the same events' observables without lookups: the ratio of the
//! two is the cost of matching proper.
//!
//! Time is the CPU time of the benchmark thread (`/proc/thread-self/schedstat`), not wall time,
//! so the figures are per core even while other processes share the machine (cache and memory
//! bandwidth contention still cost something). Where that file is missing, wall time is used.

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use yagura_intel::import::{FeedDefaults, import_path};
use yagura_intel::warninglist::Warninglists;
use yagura_intel::{Index, IndicatorStore, LiveMatcher, Matcher};
use yagura_model::{Event, IndicatorKind};

fn events(store: &IndicatorStore) -> Vec<Event> {
    // 1 in 16 events hits an indicator; the rest are benign-looking names and addresses.
    let listed: Vec<String> = store
        .iter()
        .filter(|i| i.kind == IndicatorKind::Domain)
        .step_by(9973)
        .map(|i| i.value.to_owned())
        .collect();
    let mut out = Vec::with_capacity(4096);
    for i in 0..4096usize {
        let hit = i % 16 == 0;
        let domain = if hit {
            format!("www.{}", listed[i / 16 % listed.len()])
        } else {
            format!("cdn{}.static-content{}.example.com", i % 97, i % 13)
        };
        let dst = format!("93.184.{}.{}", i % 200, (i * 7) % 250 + 1);
        let ev = if i % 2 == 0 {
            serde_json::json!({
                "@timestamp": "2026-01-05T01:02:03Z",
                "organization": {"id": "moh"},
                "event": {"dataset": "squid.access"},
                "source": {"ip": format!("10.10.{}.{}", i % 50, i % 200 + 1)},
                "destination": {"ip": dst, "port": 443, "domain": domain},
                "url": {"full": format!("https://{domain}/assets/app{}.js?v={}", i % 31, i % 7), "domain": domain},
                "user": {"name": "tanaka"}
            })
        } else {
            serde_json::json!({
                "@timestamp": "2026-01-05T01:02:03Z",
                "organization": {"id": "moh"},
                "event": {"dataset": "zeek.dns"},
                "source": {"ip": format!("10.10.{}.{}", i % 50, i % 200 + 1)},
                "destination": {"ip": "10.10.0.53", "port": 53},
                "dns": {"question": {"name": domain}, "resolved_ip": [dst]}
            })
        };
        out.push(serde_json::from_value(ev).expect("event"));
    }
    out
}

/// Nanoseconds this thread has spent on a CPU, if the kernel says.
fn thread_cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

/// Runs `routine` `iters` times and returns the thread CPU time it took (wall time as a
/// fallback).
fn cpu_time(iters: u64, mut routine: impl FnMut()) -> Duration {
    let wall = Instant::now();
    let cpu = thread_cpu_ns();
    for _ in 0..iters {
        routine();
    }
    match (cpu, thread_cpu_ns()) {
        (Some(a), Some(b)) => Duration::from_nanos(b.saturating_sub(a)),
        _ => wall.elapsed(),
    }
}

fn bench(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/intel");
    let mut store = IndicatorStore::new();
    let d = FeedDefaults::default();
    import_path(&mut store, &root.join("maltrail/trails/static"), &d).expect("maltrail");
    import_path(&mut store, &root.join("ipsum/levels"), &d).expect("ipsum");
    let wl = Arc::new(
        Warninglists::load_dir(&root.join("misp-warninglists/lists")).expect("warninglists"),
    );
    let evs = events(&store);
    let live = LiveMatcher::new(store.clone(), wl.clone());
    let matcher = Matcher::new(Index::build(store), wl);

    let mut g = c.benchmark_group("intel");
    g.throughput(Throughput::Elements(evs.len() as u64));
    g.bench_function("observables_only", |b| {
        b.iter_custom(|iters| {
            cpu_time(iters, || {
                let mut n = 0usize;
                for ev in &evs {
                    ev.observables(|o| n += o.field.len());
                }
                black_box(n);
            })
        })
    });
    g.bench_function("matcher_check", |b| {
        b.iter_custom(|iters| {
            cpu_time(iters, || {
                let mut n = 0usize;
                for ev in &evs {
                    n += matcher.check(ev, |m| {
                        black_box(&m);
                    });
                }
                black_box(n);
            })
        })
    });
    g.bench_function("live_matcher_check", |b| {
        b.iter_custom(|iters| {
            cpu_time(iters, || {
                let mut n = 0usize;
                for ev in &evs {
                    n += live.check(ev, |m| {
                        black_box(&m);
                    });
                }
                black_box(n);
            })
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench
}
criterion_main!(benches);
