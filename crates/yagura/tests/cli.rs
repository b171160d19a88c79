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
