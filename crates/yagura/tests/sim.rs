//! `yagura sim` and `yagura exercise score` as a user runs them.

use std::process::{Command, Output};

fn yagura(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_yagura"))
        .args(args)
        .output()
        .expect("run yagura")
}

#[test]
fn sim_then_score_the_truth_against_itself() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("estate");
    let out_s = out.to_string_lossy().into_owned();
    let o = yagura(&[
        "sim", "--out", &out_s, "--seed", "3", "--orgs", "8", "--hosts", "6", "--days", "2",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("8 organizations, 2 days"), "{err}");
    for f in [
        "inventory.toml",
        "truth.jsonl",
        "intel/feed.stix.json",
        "intel/feed.txt",
        "moh/proxy/access.log",
    ] {
        assert!(out.join(f).is_file(), "{f}");
    }
    let inv = yagura(&[
        "inventory",
        "check",
        &out.join("inventory.toml").to_string_lossy(),
    ]);
    assert!(
        inv.status.success(),
        "{}",
        String::from_utf8_lossy(&inv.stderr)
    );

    // One perfect alert per truth item: recall 1, no false positives; plus one stray alert.
    let truth = std::fs::read_to_string(out.join("truth.jsonl")).unwrap();
    let mut alerts = String::new();
    let mut n = 0;
    for line in truth.lines() {
        let t: serde_json::Value = serde_json::from_str(line).unwrap();
        n += 1;
        alerts.push_str(
            &serde_json::json!({
                "id": format!("a{n}"), "time": t["start"], "org": t["org"], "detector": "analytic",
                "rule_id": "test", "title": "t", "severity": "high", "entities": t["entities"],
                "first_seen": t["start"], "last_seen": t["end"], "count": 1
            })
            .to_string(),
        );
        alerts.push('\n');
    }
    alerts.push_str(r#"{"id":"fp","time":"2026-01-05T00:00:00Z","org":"moh","detector":"ioc","rule_id":"x","title":"t","severity":"low","entities":{"domain":"benign.example"},"first_seen":"2026-01-05T00:00:00Z","last_seen":"2026-01-05T00:00:00Z","count":1}"#);
    let alerts_path = dir.path().join("alerts.jsonl");
    std::fs::write(&alerts_path, alerts).unwrap();
    let o = yagura(&[
        "exercise",
        "score",
        "--truth",
        &out.join("truth.jsonl").to_string_lossy(),
        "--alerts",
        &alerts_path.to_string_lossy(),
        "--brief",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["truth"], n);
    assert_eq!(v["detected"], n);
    assert_eq!(v["recall"], 1.0);
    assert_eq!(v["false_positives"], 1);
    assert_eq!(v["median_time_to_detect_s"], 0.0);
    assert!(v.get("items").is_none());
    assert!(String::from_utf8_lossy(&o.stderr).contains("c2_beacon"));
}

#[test]
fn score_reports_the_bad_line() {
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path().join("t.jsonl");
    let a = dir.path().join("a.jsonl");
    std::fs::write(&t, "").unwrap();
    std::fs::write(&a, "{\"id\":1}\n").unwrap();
    let o = yagura(&[
        "exercise",
        "score",
        "--truth",
        &t.to_string_lossy(),
        "--alerts",
        &a.to_string_lossy(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("line 1"), "{err}");
}

#[test]
fn sim_refuses_bad_sizes() {
    let dir = tempfile::tempdir().unwrap();
    let o = yagura(&["sim", "--out", &dir.path().to_string_lossy(), "--orgs", "3"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--orgs must be between"));
}
