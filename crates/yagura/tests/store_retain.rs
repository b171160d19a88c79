//! `yagura store retain` as an operator runs it: a small store built through the library, the
//! server configuration's `[ingest.retention]`, a dry run that deletes nothing, a run after
//! which `yagura hunt` no longer finds the expired organization's old events (the others'
//! remain), the audit trail, and the errors of a bad configuration.

use std::path::Path;
use std::process::{Command, Output};

use yagura_eventstore::{EventStore, StoreOptions};
use yagura_model::{OrgId, Scope, Timestamp};
use yagura_store::{Page, SqliteStore, StateStore};

const INVENTORY: &str = r#"
[[org]]
id = "central"
name = "Central"
kind = "center"

[[org]]
id = "moh"
name = "Ministry of Health"
kind = "ministry"
sector = "medical"
monitored_by = "central"

[[org]]
id = "mof"
name = "Ministry of Finance"
kind = "ministry"
sector = "finance"
monitored_by = "central"
"#;

fn yagura(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_yagura"))
        .arg("--data-dir")
        .arg(dir.join("data"))
        .args(args)
        .output()
        .expect("run yagura")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A proxy event of `org`, `days_ago` days before `now`, to `domain`.
fn event(org: &str, now: Timestamp, days_ago: i64, domain: &str) -> String {
    format!(
        r#"{{"@timestamp":"{}","organization":{{"id":"{org}"}},"event":{{"dataset":"squid.access"}},"source":{{"ip":"10.0.0.1"}},"url":{{"full":"http://{domain}/","domain":"{domain}"}}}}"#,
        now.saturating_sub_secs(days_ago * 86_400).to_rfc3339()
    )
}

/// `yagura hunt evil.example` in every organization: the matching events as (org, days ago).
fn hunt(dir: &Path, now: Timestamp) -> Vec<(String, i64)> {
    let o = yagura(dir, &["-q", "hunt", "--limit", "100", "evil.example"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let mut got: Vec<(String, i64)> = text(&o.stdout)
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let ts: Timestamp = v["@timestamp"].as_str().unwrap().parse().unwrap();
            let org = v["organization"]["id"].as_str().unwrap().to_string();
            (org, (now.secs() - ts.secs() + 3600) / 86_400)
        })
        .collect();
    got.sort();
    got
}

/// The JSON lines of `store retain`, as `org: -splits/events +splits/events (max_age_days)`.
fn summary(o: &Output) -> Vec<String> {
    assert!(o.status.success(), "{}", text(&o.stderr));
    text(&o.stdout)
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            format!(
                "{}: -{}/{} +{}/{} ({})",
                v["org"].as_str().unwrap(),
                v["removed"]["splits"],
                v["removed"]["events"],
                v["kept"]["splits"],
                v["kept"]["events"],
                v["max_age_days"]
            )
        })
        .collect()
}

#[test]
fn retain_removes_expired_events_of_one_organization_only() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::create_dir_all(dir.join("data")).unwrap();
    std::fs::write(dir.join("inventory.toml"), INVENTORY).unwrap();
    let now = Timestamp::now();
    {
        let store = EventStore::open(&dir.join("data/events"), StoreOptions::default()).unwrap();
        let lines = [
            event("moh", now, 40, "evil.example"),
            event("moh", now, 20, "evil.example"),
            event("moh", now, 1, "evil.example"),
            event("mof", now, 40, "evil.example"),
            event("mof", now, 1, "ok.example"),
        ]
        .join("\n");
        store.ingest_json_lines("b1", lines.as_bytes()).unwrap();
        store.flush().unwrap();
        assert_eq!(store.splits().unwrap().len(), 5);
    }
    let state = SqliteStore::open(&dir.join("data/state.db")).unwrap();
    let all = [("mof", 40), ("moh", 1), ("moh", 20), ("moh", 40)].map(|(o, d)| (o.into(), d));
    assert_eq!(hunt(dir, now), all);

    // Without a configuration nothing is deleted.
    let o = yagura(dir, &["store", "retain"]);
    assert!(text(&o.stderr).contains("no retention limit configured"));
    assert_eq!(
        summary(&o),
        ["mof: -0/0 +2/2 (null)", "moh: -0/0 +3/3 (null)"]
    );
    assert_eq!(hunt(dir, now), all);

    // moh keeps 10 days (its sector's override over the default); mof the default 30 days.
    let cfg = dir.join("server.toml");
    std::fs::write(
        &cfg,
        r#"inventory = "inventory.toml"
[ingest]
[ingest.retention]
max_age_days = 30
[[ingest.retention.override]]
sector = "medical"
max_age_days = 10
"#,
    )
    .unwrap();
    let cfg = cfg.to_str().unwrap();
    let o = yagura(dir, &["store", "retain", "--config", cfg, "--dry-run"]);
    assert_eq!(summary(&o), ["mof: -1/1 +1/1 (30)", "moh: -2/2 +1/1 (10)"]);
    assert!(text(&o.stdout).contains("\"dry_run\":true"));
    assert_eq!(hunt(dir, now), all, "a dry run deletes nothing");

    let o = yagura(dir, &["store", "retain", "--config", cfg]);
    assert_eq!(summary(&o), ["mof: -1/1 +1/1 (30)", "moh: -2/2 +1/1 (10)"]);
    assert!(
        text(&o.stderr).contains("3 splits, 3 events"),
        "{}",
        text(&o.stderr)
    );
    assert_eq!(hunt(dir, now), [("moh".into(), 1)]);
    let o = yagura(dir, &["store", "retain", "--config", cfg]);
    assert_eq!(summary(&o), ["mof: -0/0 +1/1 (30)", "moh: -0/0 +1/1 (10)"]);

    // The audit trail has one record per organization that lost events.
    let scope = Scope::orgs(["moh", "mof"].map(|o| OrgId::new(o).unwrap()).into());
    let audit = state.list_audit(&scope, &Page::default()).unwrap();
    let got: Vec<String> = audit
        .iter()
        .map(|r| format!("{} {} {} {}", r.org, r.actor, r.action, r.details["events"]))
        .collect();
    assert_eq!(
        got,
        [
            "moh system events.retention 2",
            "mof system events.retention 1"
        ]
    );

    // The command line's default overrides the configuration's.
    let o = yagura(
        dir,
        &[
            "store",
            "retain",
            "--config",
            cfg,
            "--max-age-days",
            "unlimited",
            "--dry-run",
        ],
    );
    assert_eq!(
        summary(&o),
        ["mof: -0/0 +1/1 (null)", "moh: -0/0 +1/1 (10)"]
    );
}

#[test]
fn beside_the_process_that_owns_the_store_hunts_and_dry_runs_read_and_a_retain_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::create_dir_all(dir.join("data")).unwrap();
    let now = Timestamp::now();
    // The owner (as a running `yagura serve` would): one event published, one only in the WAL.
    let owner = EventStore::open(&dir.join("data/events"), StoreOptions::default()).unwrap();
    owner
        .ingest_json_lines("b1", event("moh", now, 40, "evil.example").as_bytes())
        .unwrap();
    owner.flush().unwrap();
    owner
        .ingest_json_lines("b2", event("mof", now, 1, "evil.example").as_bytes())
        .unwrap();
    let both = vec![("mof".to_string(), 1), ("moh".to_string(), 40)];
    assert_eq!(hunt(dir, now), both);
    let o = yagura(
        dir,
        &["store", "retain", "--max-age-days", "30", "--dry-run"],
    );
    assert_eq!(summary(&o), ["moh: -1/1 +0/0 (30)"]);
    let o = yagura(dir, &["store", "retain", "--max-age-days", "30"]);
    assert!(!o.status.success());
    assert!(
        text(&o.stderr).contains("is open in another process"),
        "{}",
        text(&o.stderr)
    );
    assert_eq!(hunt(dir, now), both, "the refused run deleted nothing");
    drop(owner);
    // mof's event is still only in the WAL: retention counts published splits.
    let o = yagura(dir, &["store", "retain", "--max-age-days", "30"]);
    assert_eq!(summary(&o), ["moh: -1/1 +0/0 (30)"]);
    assert_eq!(hunt(dir, now), [("mof".to_string(), 1)]);
}

#[test]
fn retain_refuses_bad_configurations() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(dir.join("inventory.toml"), INVENTORY).unwrap();
    let cfg = dir.join("server.toml");
    let cases = [
        (
            "[[ingest.retention.override]]\norg = \"nobody\"\nmax_age_days = 3",
            "override for organizations not in the inventory: nobody",
        ),
        ("max_size = \"20 furlongs\"", "max_size \"20 furlongs\""),
        (
            "max_age_days = 0",
            "max_age_days must be between 1 and 36500",
        ),
    ];
    for (retention, want) in cases {
        std::fs::write(
            &cfg,
            format!("inventory = \"inventory.toml\"\n[ingest]\n[ingest.retention]\n{retention}\n"),
        )
        .unwrap();
        let o = yagura(dir, &["store", "retain", "--config", cfg.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(1), "{retention}");
        assert!(
            text(&o.stderr).contains(want),
            "{retention}: {}",
            text(&o.stderr)
        );
    }
    // No store there: an error, not an empty store created.
    let o = yagura(dir, &["store", "retain", "--max-age-days", "7"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("no event store in"),
        "{}",
        text(&o.stderr)
    );
    assert!(!dir.join("data/events").exists());
}

/// `yagura serve` refuses to start on an override for an organization absent from the
/// inventory (before it listens or starts any thread).
#[test]
fn serve_refuses_an_override_for_an_unknown_organization() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(dir.join("inventory.toml"), INVENTORY).unwrap();
    let cfg = dir.join("server.toml");
    std::fs::write(
        &cfg,
        "listen = \"127.0.0.1:0\"\ninventory = \"inventory.toml\"\n[ingest]\nbuiltin_rules = false\n[ingest.retention]\n[[ingest.retention.override]]\norg = \"nobody\"\nmax_age_days = 3\n",
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_yagura"))
        .arg("--data-dir")
        .arg(dir.join("data"))
        .args(["serve", "--config", cfg.to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("yagura serve started despite the bad override");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(
        err.contains("override for organizations not in the inventory: nobody"),
        "{err}"
    );
}
