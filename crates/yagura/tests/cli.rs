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
mod serve {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::process::{Command, Stdio};

    use super::*;

    const INVENTORY: &str = r#"
[[org]]
id = "central"
name = "Central"
kind = "center"
[[org]]
id = "moh"
name = "Ministry of Health"
kind = "ministry"
monitored_by = "central"
"#;

    /// Kills the server when the test ends, pass or fail.
    struct Child(std::process::Child);
    impl Drop for Child {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    fn http(addr: &str, request: &str) -> String {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.write_all(request.as_bytes()).unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    }

    #[test]
    fn serve_answers_the_api_and_bootstraps_an_admin() {
        let dir = tempfile::tempdir().unwrap();
        let inv = dir.path().join("inventory.toml");
        std::fs::write(&inv, INVENTORY).unwrap();
        let cfg = dir.path().join("server.toml");
        std::fs::write(
            &cfg,
            "listen = \"127.0.0.1:0\"\ninventory = \"inventory.toml\"\n",
        )
        .unwrap();
        let mut child = Child(
            Command::new(env!("CARGO_BIN_EXE_yagura"))
                .args(["--data-dir", dir.path().join("data").to_str().unwrap()])
                .args([
                    "serve",
                    "--config",
                    cfg.to_str().unwrap(),
                    "--bootstrap-admin",
                    "root@central",
                ])
                .env("YAGURA_ADMIN_PASSWORD", "a long enough password")
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
        );
        let mut lines = BufReader::new(child.0.stderr.take().unwrap()).lines();
        let mut seen = Vec::new();
        let addr = loop {
            let line = lines.next().expect("server printed its address").unwrap();
            if let Some(rest) = line.split("http://").nth(1) {
                break rest.split('/').next().unwrap().to_owned();
            }
            seen.push(line);
        };
        assert!(
            seen.iter()
                .any(|l| l.contains("created center administrator root")),
            "{seen:?}"
        );
        let doc = http(
            &addr,
            "GET /api/openapi.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        );
        assert!(doc.starts_with("HTTP/1.1 200"), "{doc}");
        let body = r#"{"username":"root","password":"a long enough password"}"#;
        let login = http(
            &addr,
            &format!(
                "POST /api/v1/session/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            ),
        );
        assert!(login.starts_with("HTTP/1.1 200"), "{login}");
        assert!(login.contains("\"role\":\"center-admin\""), "{login}");
        assert!(dir.path().join("data/state.db").exists());
    }

    #[test]
    fn serve_without_inventory_is_an_error() {
        let o = yagura(&["serve", "--listen", "127.0.0.1:0"]);
        assert_eq!(o.status.code(), Some(1));
        assert!(stderr(&o).contains("no inventory"), "{}", stderr(&o));
    }
}
