//! Import benchmark: all of maltrail's static trails plus ipsum's levels from
//! `../shared/data/intel` (about 1.87 M lines, 1.66 M indicators), then the match index.
//! Prints wall time and peak resident memory (VmHWM) of this process.
//!
//! Run: `cargo bench -p yagura-intel --bench import`; the files are imported on
//! `YAGURA_BENCH_IMPORT_THREADS` threads (default: the machine's cores; 1 = sequential).

use std::path::Path;
use std::time::Instant;

use yagura_intel::import::{FeedDefaults, import_paths};
use yagura_intel::{Index, IndicatorStore};

fn vm_hwm_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// CPU seconds (user + system) of this process so far, from /proc/self/stat.
fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesized command name; utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        f.get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(f64::NAN)
    };
    (ticks(11) + ticks(12)) / 100.0
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/intel");
    let maltrail = root.join("maltrail/trails/static");
    let ipsum = root.join("ipsum/levels");
    assert!(
        maltrail.exists() && ipsum.exists(),
        "shared data missing under {}",
        root.display()
    );
    let runs = std::env::args()
        .skip(1)
        .find_map(|a| a.parse::<usize>().ok())
        .unwrap_or(3);
    let threads = std::env::var("YAGURA_BENCH_IMPORT_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(std::num::NonZero::get)
                .unwrap_or(1)
        });
    let mut best_import = f64::MAX;
    let mut best_index = f64::MAX;
    let mut best_cpu = f64::MAX;
    let mut summary = String::new();
    for _ in 0..runs {
        let t = Instant::now();
        let c = cpu_secs();
        let mut store = IndicatorStore::new();
        let d = FeedDefaults::default();
        let reports = import_paths(&mut store, &[&maltrail, &ipsum], &d, threads).expect("import");
        let import_s = t.elapsed().as_secs_f64();
        let values: usize = reports.iter().map(|r| r.values).sum();
        let rejects: usize = reports.iter().map(|r| r.rejects.len()).sum();
        let n = store.len();
        let t = Instant::now();
        let index = Index::build(store);
        let index_s = t.elapsed().as_secs_f64();
        best_cpu = best_cpu.min(cpu_secs() - c);
        best_import = best_import.min(import_s);
        best_index = best_index.min(index_s);
        summary = format!(
            "{} files, {values} values, {n} indicators, {rejects} rejects, index of {} entries",
            reports.len(),
            index.len()
        );
        drop(index);
    }
    println!("import maltrail static + ipsum levels on {threads} threads: {summary}");
    println!("  import (read + normalize + store), best of {runs}: {best_import:.2} s");
    println!("  index build, best of {runs}: {best_index:.2} s");
    println!("  import + index: {:.2} s wall", best_import + best_index);
    println!("  import + index CPU time (user + sys), best of {runs}: {best_cpu:.2} s");
    println!("  peak resident memory (VmHWM): {:.0} MiB", vm_hwm_mib());
}
