//! `yagura sigma check` as a user runs it (DESIGN.md §5).

use std::path::PathBuf;
use std::process::{Command, Output};

fn yagura(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_yagura"))
        .args(args)
        .output()
        .expect("run yagura")
}

fn shared(rel: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data")
        .join(rel);
    assert!(p.exists(), "shared data missing: {}", p.display());
    p.to_string_lossy().into_owned()
}

#[test]
fn check_builtin_rules() {
    let o = yagura(&["-q", "sigma", "check"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(out.trim(), "loaded 11, unsupported 0, invalid 0", "{out}");
}

#[test]
fn check_reports_every_rule_not_loaded_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("ok.yml"),
        "title: ok\nlogsource:\n  category: proxy\ndetection:\n  sel:\n    c-uri|contains: /gate\n  condition: sel\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("cloud.yml"),
        "title: cloud\nlogsource:\n  product: aws\n  service: cloudtrail\ndetection:\n  sel:\n    eventName: x\n  condition: sel\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("bad.yml"),
        "title: bad\nlogsource:\n  category: proxy\ndetection:\n  sel:\n    c-uri|nosuchmodifier: x\n  condition: sel\n",
    )
    .unwrap();
    let d = dir.path().to_string_lossy().into_owned();
    let o = yagura(&["-q", "sigma", "check", &d]);
    assert_eq!(o.status.code(), Some(2));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("unsupported: ") && out.contains("cloud.yml"),
        "{out}"
    );
    assert!(out.contains("logsource-not-read"), "{out}");
    assert!(
        out.contains("invalid: ") && out.contains("bad.yml"),
        "{out}"
    );
    assert!(out.contains("loaded 1, unsupported 1, invalid 1"), "{out}");

    let o = yagura(&["-q", "sigma", "check", "--json", &d]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["loaded"], 1);
    assert_eq!(v["unsupported"], 1);
    assert_eq!(v["invalid"], 1);
    assert_eq!(v["rules"].as_array().unwrap().len(), 2);
}

#[test]
fn check_sigmahq_windows_process_creation() {
    let o = yagura(&[
        "-q",
        "sigma",
        "check",
        &shared("sigma/rules/windows/process_creation"),
    ]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}");
    let last = out.lines().find(|l| l.starts_with("loaded ")).unwrap();
    assert!(last.ends_with("invalid 0"), "{last}");
}
