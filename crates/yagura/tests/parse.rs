//! `yagura parse` as a user runs it.

use std::process::Command;

const SQUID: &str = "1767574923.120 410 10.10.3.4 TCP_MISS/200 1520 GET http://cdn-upd.net/a.php - HIER_DIRECT/203.0.113.9 text/html\n";

#[test]
fn parse_telemetry_directory_with_rejects() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("telemetry");
    std::fs::create_dir_all(root.join("moh/proxy")).expect("mkdir");
    std::fs::create_dir_all(root.join("city-01")).expect("mkdir");
    std::fs::write(
        root.join("moh/proxy/access.log"),
        format!("{SQUID}not a squid line\n{SQUID}"),
    )
    .expect("write");
    std::fs::write(
        root.join("city-01/notes.txt"),
        "Lorem ipsum dolor sit amet\n",
    )
    .expect("write");
    let rejects = dir.path().join("rejects.jsonl");
    let o = Command::new(env!("CARGO_BIN_EXE_yagura"))
        .args(["parse", "--rejects"])
        .arg(&rejects)
        .arg(&root)
        .output()
        .expect("run yagura");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    let stdout = String::from_utf8_lossy(&o.stdout);
    let events: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    assert_eq!(events.len(), 2, "{stdout}");
    for (ev, line) in events.iter().zip([1, 3]) {
        assert_eq!(ev["organization"]["id"], "moh");
        assert_eq!(ev["event"]["dataset"], "squid.access");
        assert_eq!(ev["url"]["domain"], "cdn-upd.net");
        assert_eq!(ev["log"]["file"]["path"], "moh/proxy/access.log");
        assert_eq!(ev["log"]["file"]["line"], line);
    }
    let rej = std::fs::read_to_string(&rejects).expect("rejects file");
    let rej: Vec<serde_json::Value> = rej
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    assert_eq!(rej.len(), 2, "{rej:?}");
    assert_eq!(rej[0]["line"], 0);
    assert!(
        rej[0]["reason"]
            .as_str()
            .unwrap_or("")
            .contains("format not recognized")
    );
    assert_eq!(rej[1]["file"], "moh/proxy/access.log");
    assert_eq!(rej[1]["line"], 2);
    assert!(stderr.contains("2 events, 2 rejects"), "{stderr}");
    assert!(stderr.contains("events/s"), "{stderr}");
}

#[test]
fn parse_forced_format_and_org() {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = dir.path().join("x.dat");
    std::fs::write(&f, SQUID).expect("write");
    let o = Command::new(env!("CARGO_BIN_EXE_yagura"))
        .args(["parse", "--format", "squid", "--org", "moh"])
        .arg(&f)
        .output()
        .expect("run yagura");
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let ev: serde_json::Value =
        serde_json::from_slice(o.stdout.split(|b| *b == b'\n').next().unwrap_or_default())
            .expect("JSON");
    assert_eq!(ev["organization"]["id"], "moh");
    let o = Command::new(env!("CARGO_BIN_EXE_yagura"))
        .args(["parse", "--format", "nope"])
        .arg(&f)
        .output()
        .expect("run yagura");
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown format name"));
}
