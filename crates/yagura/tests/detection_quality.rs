//! Detection quality end to end, as issue 7 grades it: `yagura sim` → `yagura detect` →
//! `yagura exercise score` on a small estate. Every injected kind must be detected, and false
//! positives on the benign traffic must stay at or below one distinct entity per 100 hosts per
//! day. A regression in any reader, detector or the simulator's realism fails this test.

use std::path::Path;
use std::process::{Command, Output};

fn yagura(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_yagura"))
        .args(args)
        .output()
        .expect("run yagura")
}

fn ok(o: &Output, what: &str) {
    assert!(
        o.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// PCs of the estate, from the per-organization table `yagura sim` prints.
fn pcs_of(sim_stderr: &str) -> u64 {
    sim_stderr
        .lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let _org = it.next()?;
            let _kind = it.next()?;
            let n: u64 = it.next()?.parse().ok()?;
            (it.next()? == "PCs").then_some(n)
        })
        .sum()
}

#[test]
fn every_injected_kind_is_detected_with_few_false_positives() {
    let dir = tempfile::tempdir().unwrap();
    let est = dir.path().join("estate");
    let s = |p: &Path| p.to_string_lossy().into_owned();
    let days = 1u64;
    let o = yagura(&[
        "sim",
        "--out",
        &s(&est),
        "--seed",
        "7",
        "--orgs",
        "8",
        "--hosts",
        "6",
        "--days",
        &days.to_string(),
        "--scenario",
        &s(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/one_day.toml")),
    ]);
    ok(&o, "sim");
    let pcs = pcs_of(&String::from_utf8_lossy(&o.stderr));
    assert!(pcs >= 40, "PC count parsed from the sim table: {pcs}");

    let alerts = dir.path().join("alerts.jsonl");
    let o = yagura(&[
        "-q",
        "detect",
        "--inventory",
        &s(&est.join("inventory.toml")),
        "--intel",
        &s(&est.join("intel/feed.stix.json")),
        "--intel",
        &s(&est.join("intel/feed.txt")),
        "--output",
        &s(&alerts),
        &s(&est),
    ]);
    ok(&o, "detect");

    let o = yagura(&[
        "exercise",
        "score",
        "--truth",
        &s(&est.join("truth.jsonl")),
        "--alerts",
        &s(&alerts),
    ]);
    ok(&o, "exercise score");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let by_kind = v["by_kind"].as_object().expect("by_kind");
    assert!(by_kind.len() >= 12, "every kind injected: {by_kind:?}");
    // Issue 7's target: every injected kind detected. Items of other kinds may still be
    // missed (recorded in BENCHMARKS.md "Detection quality"); overall recall must stay high.
    let partial: Vec<String> = by_kind
        .iter()
        .filter(|(_, k)| k["detected"].as_u64() != k["truth"].as_u64())
        .map(|(kind, k)| format!("{kind} {}/{}", k["detected"], k["truth"]))
        .collect();
    let undetected_kinds: Vec<&String> = by_kind
        .iter()
        .filter(|(_, k)| k["detected"].as_u64() == Some(0))
        .map(|(kind, _)| kind)
        .collect();
    let recall = v["recall"].as_f64().expect("recall");
    let fps = v["false_positives"].as_u64().expect("false_positives");
    let fp_list = v["false_positive_list"].to_string();
    assert!(
        undetected_kinds.is_empty() && recall >= 0.9,
        "kinds never detected: {undetected_kinds:?}; recall {recall:.3}; partly detected: {partial:?}\nfalse positives: {fp_list}"
    );
    // Every beacon, including the one the estate's end cuts to 12 beats (a pair remembers the
    // sessions before its promotion to sampling).
    let c2 = &by_kind["c2_beacon"];
    assert_eq!(
        c2["detected"].as_u64(),
        c2["truth"].as_u64(),
        "c2_beacon partly detected: {partial:?}"
    );
    // At most one false-positive entity per 100 hosts per day (PCs only: servers would make
    // the allowance larger).
    let allowed = (pcs * days).div_ceil(100);
    assert!(
        fps <= allowed,
        "{fps} false-positive entities, at most {allowed} allowed for {pcs} PCs × {days} day(s): {fp_list}"
    );
}
