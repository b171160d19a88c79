//! Generation throughput on a chosen estate size (a bench binary; figures in BENCHMARKS.md).
//!
//! `cargo run --release -p yagura-sim --example throughput -- ORGS HOSTS DAYS THREADS OUT_DIR`

use std::time::Instant;

use yagura_sim::{SimConfig, simulate};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let num = |i: usize, d: usize| -> Result<usize, Box<dyn std::error::Error>> {
        Ok(match args.get(i) {
            Some(s) => s.parse()?,
            None => d,
        })
    };
    let cfg = SimConfig {
        orgs: num(0, 12)?,
        hosts: num(1, 40)?,
        days: u32::try_from(num(2, 3)?)?,
        threads: num(3, 0)?,
        ..SimConfig::default()
    };
    let out = args
        .get(4)
        .cloned()
        .unwrap_or_else(|| "/tmp/yagura-sim-throughput".into());
    let t = Instant::now();
    let s = simulate(&cfg, std::path::Path::new(&out))?;
    let secs = t.elapsed().as_secs_f64();
    let bytes: u64 = walk(std::path::Path::new(&out));
    println!(
        "orgs={} hosts={} days={} threads={} events={} bytes={} secs={:.2} events/s={:.0} MB/s={:.1} truth={}",
        cfg.orgs,
        cfg.hosts,
        cfg.days,
        cfg.threads,
        s.events,
        bytes,
        secs,
        s.events as f64 / secs,
        bytes as f64 / secs / 1e6,
        s.truth
    );
    Ok(())
}

fn walk(p: &std::path::Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(p) else {
        return 0;
    };
    rd.flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => walk(&e.path()),
            _ => e.metadata().map(|m| m.len()).unwrap_or(0),
        })
        .sum()
}
