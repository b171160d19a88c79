//! `yagura events ingest` then `yagura hunt`, as a user runs them.

use std::path::Path;
use std::process::{Command, Output};

fn yagura(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_yagura"))
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .output()
        .expect("run yagura")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

const EVENTS: &str = r#"{"@timestamp":"2024-05-01T10:00:00Z","organization":{"id":"org-a"},"event":{"dataset":"zeek.dns"},"source":{"ip":"10.0.0.5"},"dns":{"question":{"name":"c2.evil.example"}}}
{"@timestamp":"2024-05-01T11:00:00Z","organization":{"id":"org-a"},"event":{"dataset":"squid.access"},"source":{"ip":"10.0.0.6"},"url":{"full":"http://www.good.example/","domain":"www.good.example"}}
{"@timestamp":"2024-05-02T09:00:00Z","organization":{"id":"org-b"},"event":{"dataset":"squid.access"},"source":{"ip":"10.1.0.5"},"url":{"full":"http://x.evil.example/a","domain":"x.evil.example"}}
"#;

#[test]
fn ingest_then_hunt_with_scope_filters_and_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let file = dir.path().join("events.jsonl");
    std::fs::write(&file, EVENTS).expect("write events");
    let f = file.to_string_lossy().into_owned();

    let o = yagura(&data, &["events", "ingest", &f]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("3 events stored"), "{}", text(&o.stderr));
    // Re-running is idempotent.
    let o = yagura(&data, &["events", "ingest", &f]);
    assert!(text(&o.stderr).contains("0 events stored, 3 already stored"), "{}", text(&o.stderr));

    let o = yagura(&data, &["hunt", "evil.example", "--org", "org-a", "--org", "org-b"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let lines: Vec<serde_json::Value> = text(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["dns"]["question"]["name"], "c2.evil.example");
    assert_eq!(lines[1]["organization"]["id"], "org-b");
    let err = text(&o.stderr);
    assert!(err.contains("org-a\t1") && err.contains("org-b\t1"), "{err}");

    // Scope: org-a only.
    let o = yagura(&data, &["hunt", "evil.example", "--org", "org-a"]);
    assert_eq!(text(&o.stdout).lines().count(), 1);
    // Field filter and time range.
    let o = yagura(
        &data,
        &["hunt", "--org", "org-a", "--org", "org-b", "--field", "event.dataset=squid.access",
          "--from", "2024-05-01T10:30:00Z", "--to", "2024-05-02T00:00:00Z"],
    );
    let out = text(&o.stdout);
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(out.contains("www.good.example"));
    // Indicators from a file.
    let ind = dir.path().join("ind.txt");
    std::fs::write(&ind, "# blocklist\n10.1.0.5\n").expect("write indicators");
    let o = yagura(&data, &["hunt", "--org", "org-b", "-f", &ind.to_string_lossy()]);
    assert_eq!(text(&o.stdout).lines().count(), 1);

    // No scope: refused.
    let o = yagura(&data, &["hunt", "evil.example"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("needs a scope"), "{}", text(&o.stderr));
}

#[test]
fn malformed_lines_are_rejected_with_line_numbers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("bad.jsonl");
    std::fs::write(&file, "{\"@timestamp\":\"2024-05-01T10:00:00Z\"}\nnope\n").expect("write");
    let o = yagura(&dir.path().join("data"), &["events", "ingest", &file.to_string_lossy()]);
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o.stderr);
    assert!(err.contains("line 1: no organization.id"), "{err}");
    assert!(err.contains("line 2: expected"), "{err}");
}
