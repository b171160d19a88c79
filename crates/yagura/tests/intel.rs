//! `yagura intel import|export|stats` as a user runs them.

use std::path::PathBuf;
use std::process::{Command, Output};

fn yagura(data_dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_yagura"))
        .arg("--data-dir")
        .arg(data_dir)
        .arg("--quiet")
        .args(args)
        .output()
        .expect("run yagura")
}

fn test_data(rel: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../yagura-intel/test_data")
        .join(rel)
        .to_string_lossy()
        .into_owned()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn import_stats_export_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let rejects = d.join("rejects.jsonl");
    let o = yagura(
        d,
        &[
            "intel",
            "import",
            "--tlp",
            "green",
            "--expire-days",
            "30",
            "--rejects",
            rejects.to_str().unwrap(),
            &test_data("stix/bundle.json"),
            &test_data("misp/event.json"),
            &test_data("csv/feed.csv"),
            &test_data("list/plain.txt"),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(
        err(&o).contains("bundle.json: stix, 8 values, 8 new, 0 merged, 5 rejected"),
        "{}",
        err(&o)
    );
    assert!(d.join("intel/indicators.jsonl").exists());
    let rejected = std::fs::read_to_string(&rejects).unwrap();
    assert_eq!(rejected.lines().count(), 5 + 4 + 5 + 3, "{rejected}");
    assert!(rejected.contains("revoked"));

    let o = yagura(d, &["intel", "stats", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let s: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(s["total"], 34);
    assert_eq!(s["by_kind"]["domain"], 6);

    // Importing again adds nothing.
    let o = yagura(d, &["intel", "import", &test_data("list/plain.txt")]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let o = yagura(d, &["intel", "stats", "--json"]);
    let s: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(s["total"], 34);

    let out = d.join("bundle.json");
    let o = yagura(
        d,
        &[
            "intel",
            "export",
            "--format",
            "stix",
            "-o",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let b: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(b["type"], "bundle");
    assert!(
        err(&o).contains("not exported: 1 (a bare URL path has no STIX 2.1 equivalent)"),
        "{}",
        err(&o)
    );

    let o = yagura(
        d,
        &["intel", "export", "--format", "misp", "--max-tlp", "green"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let m: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(m["Event"]["Tag"][0]["name"], "tlp:green");
    assert!(err(&o).contains("above the TLP ceiling"), "{}", err(&o));

    let o = yagura(
        d,
        &[
            "intel",
            "import",
            "--tlp",
            "purple",
            &test_data("list/plain.txt"),
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(err(&o).contains("--tlp"), "{}", err(&o));
}

#[test]
fn export_of_an_empty_store_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let o = yagura(dir.path(), &["intel", "export", "--format", "stix"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(err(&o).contains("no indicators"), "{}", err(&o));
}
