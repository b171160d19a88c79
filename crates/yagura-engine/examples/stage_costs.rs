//! CPU cost of each pipeline stage per event, on a sample of a telemetry directory
//! (`yagura detect`'s stages, one at a time, on one thread; load-insensitive: thread CPU time).
//!
//! ```sh
//! cargo run --release -p yagura-engine --example stage_costs -- ESTATE [PER_FILE] \
//!     [--intel FILE]… [--rules DIR]… [--warninglists DIR]
//! ```
//!
//! Reads the first `PER_FILE` events (default 4,000) of every file under `ESTATE` (a
//! `yagura sim` directory), sorts them by event time, then runs each stage over all of them
//! and prints microseconds of CPU per event: parsing, IOC matching, Sigma detection, Sigma
//! correlation, analytics.

use std::path::PathBuf;
use std::sync::Arc;

use yagura_engine::Stage;
use yagura_engine::batch::{EventStage, discover};
use yagura_engine::stages::{AnalyticsStage, IocStage, sigma_stages};
use yagura_formats::{FileReader, ReadOptions};
use yagura_model::{Event, Inventory};

fn thread_cpu_s() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |ns| ns / 1e9)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut estate = None;
    let mut per_file = 4000usize;
    let (mut intel, mut rules, mut warninglists) = (Vec::new(), Vec::new(), None);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--intel" => intel.extend(args.next().map(PathBuf::from)),
            "--rules" => rules.extend(args.next().map(PathBuf::from)),
            "--warninglists" => warninglists = args.next().map(PathBuf::from),
            _ if estate.is_none() => estate = Some(PathBuf::from(a)),
            _ => per_file = a.parse().expect("PER_FILE"),
        }
    }
    let estate = estate.expect("usage: stage_costs ESTATE [PER_FILE] [--intel F] [--rules D]");
    let inv_text = std::fs::read_to_string(estate.join("inventory.toml")).expect("inventory");
    let inventory = Inventory::from_toml(&inv_text).expect("inventory");
    let (files, _) = discover(std::slice::from_ref(&estate), Some(&inventory)).expect("discover");

    let t = thread_cpu_s();
    let mut events: Vec<Event> = Vec::new();
    for f in &files {
        let opts = ReadOptions {
            root: f.root.clone(),
            ..ReadOptions::default()
        };
        let Ok(reader) = FileReader::open(&f.path, &opts) else {
            continue;
        };
        events.extend(reader.filter_map(Result::ok).take(per_file));
    }
    let parse = thread_cpu_s() - t;
    events.sort_by_key(|e| e.timestamp);
    let n = events.len() as f64;
    println!(
        "{} events from {} files; parse {:.2} µs/event",
        events.len(),
        files.len(),
        parse / n * 1e6
    );

    let t = thread_cpu_s();
    let mut store = yagura_intel::IndicatorStore::new();
    let defaults = yagura_intel::FeedDefaults::default();
    for p in &intel {
        yagura_intel::import_path(&mut store, p, &defaults).expect("intel");
    }
    let wl = match &warninglists {
        Some(d) => yagura_intel::Warninglists::load_dir(d).expect("warninglists"),
        None => yagura_intel::Warninglists::new(),
    };
    let indicators = store.len();
    let matcher = yagura_intel::LiveMatcher::new(store, Arc::new(wl));
    let ioc = IocStage::new(Arc::new(matcher));
    let t_intel = thread_cpu_s() - t;
    let t = std::time::Instant::now();
    let opts = yagura_sigma::LoadOptions::default();
    let set = yagura_sigma::RuleSet::load_with(&rules, opts).expect("rules");
    let n_rules = set.rules().len();
    let sigma = sigma_stages(Arc::new(set), None).expect("sigma");
    let t_sigma = t.elapsed().as_secs_f64();
    println!(
        "load: {indicators} indicators {t_intel:.2} CPU-s; {n_rules} Sigma rules {t_sigma:.2} s wall"
    );

    let mut out = Vec::new();
    let mut time = |name: &str, f: &mut dyn FnMut(&Event, &mut Vec<yagura_model::Alert>)| {
        out.clear();
        let t = thread_cpu_s();
        for e in &events {
            f(e, &mut out);
        }
        let dt = thread_cpu_s() - t;
        println!(
            "{name:<18} {:7.3} µs/event  ({} alerts)",
            dt / n * 1e6,
            out.len()
        );
    };
    time("ioc", &mut |e, o| ioc.on_event(e, o));
    time("sigma-detect", &mut |e, o| sigma.detect.on_event(e, o));
    if let Some(mut c) = sigma.correlate {
        time("sigma-correlate", &mut |e, o| c.on_event(e, o));
    }
    let analytics =
        yagura_analytics::Analytics::new(yagura_analytics::AnalyticsConfig::default(), &inventory)
            .expect("analytics");
    let mut a = AnalyticsStage(analytics);
    time("analytics", &mut |e, o| a.on_event(e, o));

    // Sigma detection per source format (dataset), to see which events cost.
    let mut by: std::collections::BTreeMap<String, (usize, f64)> = Default::default();
    for e in &events {
        let t = thread_cpu_s();
        out.clear();
        sigma.detect.on_event(e, &mut out);
        let dt = thread_cpu_s() - t;
        let k = e.event.dataset.as_deref().unwrap_or("").to_string();
        let s = by.entry(k).or_default();
        s.0 += 1;
        s.1 += dt;
    }
    for (k, (c, dt)) in by {
        println!(
            "  sigma {k:<24} {c:7} events {:7.3} µs/event",
            dt / c as f64 * 1e6
        );
    }
}
