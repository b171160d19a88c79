//! Sigma throughput and memory (a bench binary, `harness = false`).
//!
//! Run: `cargo bench -p yagura-sigma --bench sigma` (add `-- --quick` for one round).
//! Prints, for the whole SigmaHQ rule set (all `rules*` folders of shared/data):
//! load time and resident memory; evaluation throughput on parsed Windows events (the
//! regression samples, replayed) for yagura's dispatched engine and, in the same run, for a
//! baseline (one rsigma engine holding every rule, events as flat JSON); and `.evtx` to
//! alerts throughput on shared/data/windows and on the regression `.evtx` samples.

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

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
        })
        .unwrap_or(0)
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

fn flat(e: &Event) -> serde_json::Value {
    let mut m = serde_json::Map::new();
    if let Some(id) = e.winlog.event_id {
        m.insert("EventID".into(), id.into());
    }
    if let Some(c) = &e.winlog.channel {
        m.insert("Channel".into(), c.as_str().into());
    }
    for (k, v) in e.winlog.event_data.iter() {
        m.insert(k.into(), v.into());
    }
    serde_json::Value::Object(m)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let rounds = if quick { 1 } else { 5 };
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

    let rss0 = rss_kib();
    let t = Instant::now();
    let set = RuleSet::load_with(&dirs, LoadOptions::default()).expect("rules load");
    let load_s = t.elapsed().as_secs_f64();
    let rss1 = rss_kib();
    let (engines, instances) = set.engine_stats();
    println!(
        "load: {} rules loaded ({} documents) in {load_s:.2} s; {engines} slot engines, {instances} compiled rule instances; RSS +{} MiB",
        set.rules().len(),
        set.report().rules.len(),
        (rss1.saturating_sub(rss0)) / 1024
    );

    // Parsed Windows events: the regression samples (json).
    let mut jsons = Vec::new();
    files(&sigma.join("regression_data"), "json", &mut jsons);
    let events: Vec<Event> = jsons
        .iter()
        .flat_map(|p| {
            let text = std::fs::read_to_string(p).unwrap_or_default();
            yagura_sigma::windows::events_from_json_text(&text)
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
        })
        .collect();
    let target = if quick { 20_000 } else { 200_000 };
    let reps = target / events.len().max(1) + 1;
    let mut rates = Vec::new();
    let mut matches = 0usize;
    for _ in 0..rounds {
        matches = 0;
        let t = Instant::now();
        for _ in 0..reps {
            for e in &events {
                set.evaluate(e, |_| matches += 1);
            }
        }
        rates.push((reps * events.len()) as f64 / t.elapsed().as_secs_f64());
    }
    let ours = median(rates);
    println!(
        "evaluate (yagura dispatch): {} events x {reps} = {} evaluations, {matches} matches, median {ours:.0} events/s (1 thread)",
        events.len(),
        reps * events.len()
    );

    // Baseline: one rsigma engine with every rule, flat JSON events, no log-source dispatch.
    let mut base = rsigma_eval::Engine::new();
    let mut rules = rsigma_parser::SigmaCollection::new();
    for d in &dirs {
        if let Ok(c) = rsigma_parser::parse_sigma_directory(d) {
            rules.rules.extend(c.rules);
        }
    }
    let _ = base.add_rules(rules.rules.iter());
    let flats: Vec<serde_json::Value> = events.iter().map(flat).collect();
    let base_reps = (reps / 20).max(1);
    let mut rates = Vec::new();
    for _ in 0..rounds {
        let t = Instant::now();
        let mut n = 0usize;
        for _ in 0..base_reps {
            for v in &flats {
                n += base.evaluate(&rsigma_eval::JsonEvent::borrow(v)).len();
            }
        }
        std::hint::black_box(n);
        rates.push((base_reps * flats.len()) as f64 / t.elapsed().as_secs_f64());
    }
    let baseline = median(rates);
    println!(
        "evaluate (baseline: one rsigma engine, all {} rules, flat JSON): median {baseline:.0} events/s; yagura/baseline = {:.1}x",
        rules.rules.len(),
        ours / baseline
    );

    // .evtx to alerts.
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
        let mut rates = Vec::new();
        let (mut n_events, mut n_alerts) = (0usize, 0usize);
        for _ in 0..rounds {
            n_events = 0;
            n_alerts = 0;
            let t = Instant::now();
            for p in &evtxs {
                for e in evtx_events(p) {
                    n_events += 1;
                    set.evaluate(&e, |m| {
                        if m.to_alert(&e, Some(&org)).is_ok() {
                            n_alerts += 1;
                        }
                    });
                }
            }
            rates.push(t.elapsed().as_secs_f64());
        }
        let s = median(rates);
        println!(
            "evtx -> alerts ({label}): {} files, {:.1} MiB, {n_events} events, {n_alerts} alerts in {s:.2} s = {:.0} events/s, {:.1} MiB/s",
            evtxs.len(),
            bytes as f64 / 1048576.0,
            n_events as f64 / s,
            bytes as f64 / 1048576.0 / s
        );
    }
    println!("RSS at end: {} MiB", rss_kib() / 1024);
}
