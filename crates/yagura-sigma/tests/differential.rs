//! Differential test against pySigma's SQLite backend.
//!
//! For the Windows rules of SigmaHQ over every regression event, the set of (rule, event)
//! matches must equal what pySigma computes with its SQLite backend (events flattened into one
//! table, a `regexp` function registered). Rule log sources are applied on both sides from
//! yagura's map (pySigma without a processing pipeline ignores them), so the comparison is of
//! the detection logic. The Python peer runs from the virtualenv `.ci/setup/yagura-sigma-venv.sh`
//! builds (`/root/.cache/yagura-pysigma-venv`); `YAGURA_PYSIGMA_PYTHON` points elsewhere.
//! Without it the test prints a notice and passes, unless `YAGURA_REQUIRE_PEERS=1`.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use common::*;
use yagura_sigma::{LoadOptions, LoadStatus, RuleKind, RuleSet};

/// Intentional differences: (rule id, reason). Each is explained in BENCHMARKS.md.
const INTENTIONAL: &[(&str, &str)] = &[];

fn python() -> Option<PathBuf> {
    let p = match std::env::var_os("YAGURA_PYSIGMA_PYTHON") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from("/root/.cache/yagura-pysigma-venv/bin/python"),
    };
    p.exists().then_some(p)
}

fn flat(e: &yagura_model::Event) -> serde_json::Value {
    let mut m = serde_json::Map::new();
    if let Some(id) = e.winlog.event_id {
        m.insert("EventID".into(), id.into());
    }
    if let Some(c) = &e.winlog.channel {
        m.insert("Channel".into(), c.as_str().into());
    }
    if let Some(c) = &e.winlog.provider_name {
        m.insert("Provider_Name".into(), c.as_str().into());
    }
    if let Some(c) = &e.winlog.computer_name {
        m.insert("Computer".into(), c.as_str().into());
    }
    for (k, v) in e.winlog.event_data.iter() {
        // Integers as integers, as in the evtx JSON.
        let val = match v.parse::<i64>() {
            Ok(n) if !v.starts_with('0') || v == "0" => serde_json::Value::from(n),
            _ => serde_json::Value::from(v),
        };
        m.insert(k.to_owned(), val);
    }
    serde_json::Value::Object(m)
}

#[test]
fn matches_equal_pysigma_sqlite() {
    let Some(py) = python() else {
        if std::env::var("YAGURA_REQUIRE_PEERS").as_deref() == Ok("1") {
            panic!(
                "YAGURA_PYSIGMA_PYTHON is not set to a python with pysigma (YAGURA_REQUIRE_PEERS=1)"
            );
        }
        println!(
            "SKIPPED: pySigma peer absent (set YAGURA_PYSIGMA_PYTHON; see .ci/setup/yagura-sigma-venv.sh)"
        );
        return;
    };
    let dir = shared().join("sigma/rules/windows");
    let set = RuleSet::load_with(
        &[dir],
        LoadOptions {
            builtin: false,
            ..LoadOptions::default()
        },
    )
    .unwrap();
    let mut events = Vec::new();
    for r in regressions() {
        if let Some(j) = file_with_ext(&r.dir, "json") {
            events.extend(json_events(&j));
        }
    }
    let work = tempfile::tempdir().unwrap();
    let lines: Vec<String> = events.iter().map(|e| flat(e).to_string()).collect();
    std::fs::write(work.path().join("events.jsonl"), lines.join("\n")).unwrap();
    // One rule per file only (pySigma converts a file as a collection).
    let mut per_file: BTreeMap<&str, usize> = BTreeMap::new();
    for r in set
        .report()
        .rules
        .iter()
        .filter(|r| r.status == LoadStatus::Loaded)
    {
        *per_file.entry(r.path.as_str()).or_default() += 1;
    }
    let rules: Vec<serde_json::Value> = set
        .rules()
        .iter()
        .filter(|r| r.kind == RuleKind::Detection && per_file.get(r.path.as_str()) == Some(&1))
        .map(|r| {
            let eligible: Vec<usize> = events
                .iter()
                .enumerate()
                .filter(|(_, e)| set.covers(r, e))
                .map(|(i, _)| i)
                .collect();
            serde_json::json!({"id": r.id, "path": r.path, "eligible": eligible})
        })
        .collect();
    std::fs::write(
        work.path().join("rules.json"),
        serde_json::to_string(&rules).unwrap(),
    )
    .unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/pysigma/differential.py");
    let out = std::process::Command::new(&py)
        .arg(script)
        .arg(work.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pysigma script failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{}", String::from_utf8_lossy(&out.stdout).trim());
    let result: serde_json::Value =
        serde_json::from_slice(&std::fs::read(work.path().join("matches.json")).unwrap()).unwrap();
    let converted: BTreeSet<String> = result["converted"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    let theirs: BTreeSet<(String, usize)> = result["matches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m[0].as_str().unwrap().to_owned(),
                m[1].as_u64().unwrap() as usize,
            )
        })
        .collect();
    let mut ours: BTreeSet<(String, usize)> = BTreeSet::new();
    for (i, e) in events.iter().enumerate() {
        set.evaluate(e, |m| {
            if converted.contains(&m.rule.id) {
                ours.insert((m.rule.id.clone(), i));
            }
        });
    }
    let intentional = |id: &str| INTENTIONAL.iter().any(|(r, _)| *r == id);
    let only_ours: Vec<_> = ours
        .difference(&theirs)
        .filter(|(r, _)| !intentional(r))
        .collect();
    let only_theirs: Vec<_> = theirs
        .difference(&ours)
        .filter(|(r, _)| !intentional(r))
        .collect();
    println!(
        "differential: {} rules compared over {} events; {} matches (yagura), {} (pySigma); {} failed to convert in pySigma",
        converted.len(),
        events.len(),
        ours.len(),
        theirs.len(),
        result["failed"].as_object().map(|m| m.len()).unwrap_or(0)
    );
    assert!(
        converted.len() >= 300,
        "only {} rules compared",
        converted.len()
    );
    assert!(
        only_ours.is_empty() && only_theirs.is_empty(),
        "only yagura: {only_ours:?}\nonly pySigma: {only_theirs:?}"
    );
}
