//! The command line as a user runs it.

use std::path::PathBuf;
use std::process::{Command, Output};

fn yagura(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_yagura"))
        .args(args)
        .output()
        .expect("run yagura")
}

fn test_data(rel: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../yagura-model/test_data")
        .join(rel);
    p.to_string_lossy().into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn help_lists_working_commands() {
    let o = yagura(&["--help"]);
    assert!(o.status.success());
    let out = stdout(&o);
    assert!(out.contains("inventory"), "{out}");
    assert!(out.contains("--data-dir"), "{out}");
}

#[test]
fn inventory_check_valid() {
    let o = yagura(&["inventory", "check", &test_data("inventory/valid.toml")]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("valid, 6 organizations"), "{out}");
    assert!(out.contains("│  ├─ pension [agency]"), "{out}");
}

#[test]
fn inventory_check_valid_json() {
    let o = yagura(&[
        "inventory",
        "check",
        "--json",
        &test_data("inventory/valid.toml"),
    ]);
    assert_eq!(o.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["valid"], true);
    assert_eq!(v["organizations"], 6);
}

#[test]
fn inventory_check_invalid_names_org_and_field() {
    let o = yagura(&["inventory", "check", &test_data("inventory/invalid.toml")]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    for needle in [
        "11 problem(s)",
        "org moh: monitored_by: unknown organization \"nowhere\"",
        "org c1: monitored_by: supervision cycle: c1 → c2",
        "org mof: internal_networks: 10.10.5.0/24 overlaps 10.10.0.0/16 of organization moh",
        "org moh: sector: \"healthcare\" is not one of the 13 sectors",
        "org moh: id: duplicate id",
    ] {
        assert!(err.contains(needle), "missing {needle:?} in:\n{err}");
    }
    let o = yagura(&[
        "inventory",
        "check",
        "--json",
        &test_data("inventory/invalid.toml"),
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["problems"].as_array().unwrap().len(), 11);
}

#[test]
fn inventory_check_syntax_error_and_missing_file() {
    let o = yagura(&["inventory", "check", &test_data("inventory/syntax.toml")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("not valid TOML"));
    let o = yagura(&["inventory", "check", "/definitely/not/here.toml"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("error: reading /definitely/not/here.toml"));
}

// ---- yagura analytics (issue 7) ----------------------------------------------------------

fn analytics_data(rel: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../yagura-analytics/test_data")
        .join(rel);
    p.to_string_lossy().into_owned()
}

#[test]
fn analytics_defaults_are_a_valid_config() {
    let o = yagura(&["analytics", "defaults"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(
        text.contains("[beacon]") && text.contains("min_connections"),
        "{text}"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("analytics.toml");
    std::fs::write(&path, &text).unwrap();
    let o = yagura(&["analytics", "check", path.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("valid"));
    std::fs::write(&path, "[dga]\nwindow_secs = 0\n").unwrap();
    let o = yagura(&["analytics", "check", path.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("dga.window_secs: must be greater than 0"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn analytics_run_writes_contract_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("alerts.jsonl");
    let o = yagura(&[
        "analytics",
        "run",
        "--inventory",
        &analytics_data("estate-inventory.toml"),
        "--output",
        out.to_str().unwrap(),
        &analytics_data("estate-events.jsonl"),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("64 events (0 rejected lines"), "{err}");
    let text = std::fs::read_to_string(&out).unwrap();
    let rules: Vec<String> = text
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            assert!(
                v["detector"] == "analytic" || v["detector"] == "policy",
                "{v}"
            );
            v["rule_id"].as_str().unwrap().to_owned()
        })
        .collect();
    for want in [
        "policy.separation_violation",
        "auth.password_spray",
        "dga.nxdomain_burst",
        "beacon.periodic",
    ] {
        assert!(rules.iter().any(|r| r == want), "{want} missing: {rules:?}");
    }
}

#[test]
fn analytics_run_counts_rejected_lines_and_fails_on_a_bad_inventory() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.jsonl");
    std::fs::write(
        &events,
        "not json\n{\"@timestamp\":\"2026-01-01T00:00:00Z\"}\n",
    )
    .unwrap();
    let o = yagura(&[
        "analytics",
        "run",
        "--inventory",
        &analytics_data("estate-inventory.toml"),
        events.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("1 events (1 rejected lines, 1 without an organization)"),
        "{}",
        stderr(&o)
    );
    let bad = dir.path().join("inventory.toml");
    std::fs::write(&bad, "[[org]]\nid = \"BAD ID\"\n").unwrap();
    let o = yagura(&[
        "analytics",
        "run",
        "--inventory",
        bad.to_str().unwrap(),
        events.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("loading inventory"), "{}", stderr(&o));
}
