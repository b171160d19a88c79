//! Generation throughput (events written per second).
//!
//! `cargo bench -p yagura-sim --bench generate`
//!
//! - `estate/8orgs_40hosts_1day_1thread`: the whole pipeline on one core.
//! - `estate/8orgs_40hosts_1day_all`: the same with every core (output is identical).
//! - `render/squid_line`: the hot renderer alone.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use yagura_sim::records::Web;
use yagura_sim::{SimConfig, simulate};

fn estate(c: &mut Criterion) {
    let mut g = c.benchmark_group("estate");
    g.sample_size(10);
    for (label, threads) in [
        ("8orgs_40hosts_1day_1thread", 1),
        ("8orgs_40hosts_1day_all", 0),
    ] {
        let cfg = SimConfig {
            orgs: 8,
            hosts: 40,
            days: 1,
            threads,
            ..SimConfig::default()
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let events = simulate(&cfg, dir.path()).expect("simulate").events;
        g.throughput(Throughput::Elements(events));
        g.bench_function(label, |b| {
            b.iter(|| simulate(black_box(&cfg), dir.path()).expect("simulate"))
        });
    }
    g.finish();
}

fn render(c: &mut Criterion) {
    let w = Web {
        ts: 1_767_574_923_500_000_000,
        client: "10.4.10.11".parse().expect("ip"),
        client_port: 51234,
        user: Some("tanaka.h"),
        method: "GET",
        host: "www.example-news.jp",
        port: 80,
        path: "/news/2026/12345.html",
        status: 200,
        req_bytes: 500,
        resp_bytes: 23_456,
        mime: "text/html",
        user_agent: "Mozilla/5.0",
        dst: "13.1.2.3".parse().expect("ip"),
        elapsed_ms: 120,
        denied: false,
    };
    let mut g = c.benchmark_group("render");
    g.throughput(Throughput::Elements(1));
    let mut buf = Vec::with_capacity(256);
    g.bench_function("squid_line", |b| {
        b.iter(|| {
            buf.clear();
            yagura_sim::render::squid(&mut buf, black_box(&w));
            black_box(buf.len())
        })
    });
    g.finish();
}

criterion_group!(benches, estate, render);
criterion_main!(benches);
