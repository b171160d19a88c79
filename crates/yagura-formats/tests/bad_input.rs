//! Bad input never panics and is never silently lost: each case yields events and rejects
//! with file, line and reason.

use std::io::Write;

use yagura_formats::{Format, OpenError, ReadOptions, read_bytes};

/// Reads `input` and renders one line per record: `E line dataset` or `R line reason`.
fn run(input: &[u8], opts: &ReadOptions) -> String {
    match read_bytes(input, "t.log", opts) {
        Err(e) => format!("OPEN ERROR {e}"),
        Ok(recs) => recs
            .iter()
            .map(|r| match r {
                Ok(ev) => format!(
                    "E {} {}",
                    ev.log.file.line.unwrap_or(0),
                    ev.event.dataset.as_deref().unwrap_or("?")
                ),
                Err(r) => format!("R {} {}", r.line, r.reason),
            })
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

fn check(input: &[u8], expect: &str) {
    assert_eq!(run(input, &ReadOptions::default()), expect);
}

const SQUID: &str = "1767574923.120 410 10.10.3.4 TCP_MISS/200 1520 GET http://a.example/ - HIER_DIRECT/203.0.113.9 text/html\n";

#[test]
fn malformed_lines_between_good_ones() {
    check(
        format!("{SQUID}garbage line\n{SQUID}1767574923.120 410 10.10.3.4 TCP_MISS/200\n")
            .as_bytes(),
        "E 1 squid.access\nR 2 missing client address\nE 3 squid.access\nR 4 missing size",
    );
}

#[test]
fn impossible_timestamps() {
    check(
        format!("{SQUID}99999999999.000 1 10.0.0.1 TCP_MISS/200 1 GET http://a/ - HIER_NONE/- -\n")
            .as_bytes(),
        "E 1 squid.access\nR 2 epoch time 99999999999.000 is outside 1970..2200",
    );
    check(
        br#"{"timestamp":"2021-02-29T10:00:00+0000","event_type":"flow","src_ip":"1.2.3.4"}
{"timestamp":"2021-02-28T24:00:00+0000","event_type":"flow","src_ip":"1.2.3.4"}
"#,
        "R 1 impossible date 2021-02-29\nR 2 impossible time 24:00:00",
    );
}

#[test]
fn invalid_utf8_is_kept_and_tagged() {
    let mut bytes = SQUID.as_bytes().to_vec();
    let at = bytes.iter().position(|b| *b == b'-').unwrap_or(0);
    bytes.splice(at..at + 1, [0xff, 0xfe]);
    let recs = read_bytes(&bytes, "t.log", &ReadOptions::default()).expect("open");
    let ev = recs
        .first()
        .and_then(|r| r.as_ref().ok())
        .expect("an event");
    assert_eq!(ev.user.name.as_deref(), Some("\u{fffd}\u{fffd}"));
    assert!(ev.tags.iter().any(|t| t == "invalid_utf8"));
}

#[test]
fn over_long_line_is_capped() {
    let long = format!("{SQUID}{}\n{SQUID}", "x".repeat(5000));
    let opts = ReadOptions {
        max_line: 1000,
        ..ReadOptions::default()
    };
    assert_eq!(
        run(long.as_bytes(), &opts),
        "E 1 squid.access\nR 2 line of 5000 bytes exceeds the cap\nE 3 squid.access"
    );
}

#[test]
fn binary_garbage_is_unrecognized_or_rejected() {
    let garbage: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    assert!(run(&garbage, &ReadOptions::default()).starts_with("OPEN ERROR"));
    // Forced onto a format, every line is a reject; nothing panics.
    let out = run(&garbage, &ReadOptions::default().with_format(Format::Squid));
    assert!(out.lines().all(|l| l.starts_with("R ")), "{out}");
    let out = run(&garbage, &ReadOptions::default().with_format(Format::Evtx));
    assert!(out.starts_with("R 0 not a valid .evtx"), "{out}");
}

#[test]
fn truncated_gzip_reports_the_read_error() {
    let mut gz = flate2_compat::gzip(format!("{SQUID}{SQUID}{SQUID}").as_bytes());
    gz.truncate(gz.len() - 12);
    let out = run(&gz, &ReadOptions::default());
    assert!(
        out.lines().last().is_some_and(|l| l.contains("read error")),
        "{out}"
    );
}

#[test]
fn empty_input() {
    assert!(matches!(
        read_bytes(b"", "t.log", &ReadOptions::default()),
        Err(OpenError::Unrecognized { .. })
    ));
    assert_eq!(
        run(b"", &ReadOptions::default().with_format(Format::Squid)),
        ""
    );
}

#[test]
fn truncated_evtx_does_not_panic() {
    let p = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/windows/evtx-attack-samples/Lateral Movement/LM_5145_Remote_FileCopy.evtx"
    );
    let bytes = std::fs::read(p).expect("shared evtx sample");
    for cut in [8, 100, 4096, 4096 + 600, bytes.len() / 2, bytes.len() - 1] {
        let out = run(
            bytes.get(..cut).unwrap_or_default(),
            &ReadOptions::default(),
        );
        assert!(!out.is_empty(), "cut at {cut}: nothing reported");
    }
}

#[test]
fn organization_from_directory_or_option() {
    let dir = tempfile::tempdir().expect("tempdir");
    let org_dir = dir.path().join("moh").join("proxy");
    std::fs::create_dir_all(&org_dir).expect("mkdir");
    let file = org_dir.join("access.log");
    std::fs::File::create(&file)
        .and_then(|mut f| f.write_all(SQUID.as_bytes()))
        .expect("write");
    let opts = ReadOptions::default().with_root(dir.path());
    let ev = yagura_formats::FileReader::open(&file, &opts)
        .expect("open")
        .next()
        .and_then(Result::ok)
        .expect("event");
    assert_eq!(ev.organization.id.as_ref().map(|o| o.as_str()), Some("moh"));
    assert_eq!(ev.log.file.path.as_deref(), Some("moh/proxy/access.log"));
    let opts = ReadOptions::default()
        .with_root(dir.path())
        .with_org("city-01".parse().expect("org"));
    let ev = yagura_formats::FileReader::open(&file, &opts)
        .expect("open")
        .next()
        .and_then(Result::ok)
        .expect("event");
    assert_eq!(
        ev.organization.id.as_ref().map(|o| o.as_str()),
        Some("city-01")
    );
}

mod flate2_compat {
    pub fn gzip(data: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut child = std::process::Command::new("gzip")
            .arg("-c")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("gzip (coreutils) is needed for this test");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(data)
            .expect("write");
        child.wait_with_output().expect("gzip").stdout
    }
}
