//! Every log in `../shared/data` is read: zero rejects on well-formed files, and the RITA edge
//! cases (`truncated`, `has_unknown_field`, `text_file`) behave as decided.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use yagura_formats::{FileReader, Format, OpenError, ReadOptions, Reject};

fn data() -> PathBuf {
    let p = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data"));
    assert!(
        p.join("zeek").is_dir(),
        "shared test data missing at {} (the tests need ../shared/data)",
        p.display()
    );
    p
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            files(&p, out);
        } else {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if name.starts_with("LICENSE") || name.ends_with(".md") {
                continue;
            }
            out.push(p);
        }
    }
}

#[derive(Debug, Default)]
struct Outcome {
    format: Option<Format>,
    events: usize,
    rejects: Vec<Reject>,
    unrecognized: bool,
}

fn read(path: &Path) -> Outcome {
    let mut o = Outcome::default();
    match FileReader::open(path, &ReadOptions::default()) {
        Err(OpenError::Unrecognized { .. }) => o.unrecognized = true,
        Err(e) => panic!("{e}"),
        Ok(r) => {
            o.format = Some(r.format());
            for rec in r {
                match rec {
                    Ok(ev) => {
                        assert!(ev.log.file.line.is_some(), "{}: no line", path.display());
                        assert!(ev.event.dataset.is_some(), "{}: no dataset", path.display());
                        o.events += 1;
                    }
                    Err(r) => o.rejects.push(r),
                }
            }
        }
    }
    o
}

/// Files whose outcome is decided rather than "all events, no rejects".
fn expected_special(rel: &str) -> Option<&'static str> {
    Some(match rel {
        "zeek/rita/test_data/truncated/conn.log" => "last-line-truncated",
        "zeek/rita/test_data/truncated/conn_top.log" => "last-line-truncated",
        "zeek/rita/test_data/truncated/conn_json.log" => "last-line-truncated",
        "zeek/rita/test_data/text_file/conn.log" => "unrecognized",
        "zeek/rita/test_data/has_unknown_field/http.log" => "one-short-record",
        r if r.ends_with(".pcap") || r.ends_with(".etl") => "unrecognized",
        _ => return None,
    })
}

#[test]
fn every_shared_log_is_read() {
    let root = data();
    let mut all = Vec::new();
    for d in ["zeek", "suricata", "windows"] {
        files(&root.join(d), &mut all);
    }
    assert!(all.len() > 150, "only {} files found", all.len());
    let mut summary = BTreeMap::new();
    let mut failures = Vec::new();
    for path in &all {
        let rel = path
            .strip_prefix(&root)
            .unwrap_or(path)
            .display()
            .to_string();
        let o = read(path);
        match expected_special(&rel) {
            Some("unrecognized") => {
                if !o.unrecognized {
                    failures.push(format!("{rel}: expected unrecognized, got {o:?}"));
                }
            }
            Some("last-line-truncated") => {
                let ok = o.events >= 3
                    && o.rejects.len() == 1
                    && o.rejects.iter().all(|r| r.reason.contains("truncated"));
                if !ok {
                    failures.push(format!("{rel}: expected one truncated reject, got {o:?}"));
                }
            }
            Some("one-short-record") => {
                // The header declares a column (`i_dont_exist`) that line 9 lacks: that
                // record is rejected, the others keep the column under zeek.http.
                let ok = o.events == 4
                    && o.rejects.len() == 1
                    && o.rejects
                        .iter()
                        .all(|r| r.line == 9 && r.reason.contains("29 fields"));
                if !ok {
                    failures.push(format!("{rel}: expected one short record, got {o:?}"));
                }
            }
            _ => {
                if o.unrecognized || o.events == 0 || !o.rejects.is_empty() {
                    let first: Vec<_> = o.rejects.iter().take(3).map(ToString::to_string).collect();
                    failures.push(format!(
                        "{rel}: format {:?}, {} events, {} rejects {first:?}, unrecognized={}",
                        o.format,
                        o.events,
                        o.rejects.len(),
                        o.unrecognized
                    ));
                }
            }
        }
        let e = summary
            .entry(o.format.map_or("unrecognized", Format::name))
            .or_insert((0, 0, 0));
        e.0 += 1;
        e.1 += o.events;
        e.2 += o.rejects.len();
    }
    eprintln!("format: (files, events, rejects) {summary:?}");
    assert!(
        failures.is_empty(),
        "{} files failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn unknown_zeek_field_is_kept() {
    let p = data().join("zeek/rita/test_data/has_unknown_field/http.log");
    let r = FileReader::open(&p, &ReadOptions::default()).expect("open");
    let mut seen_kept = false;
    let mut n = 0;
    for rec in r {
        let Ok(ev) = rec else { continue };
        n += 1;
        if let Some(z) = ev.other.get("zeek").and_then(|z| z.get("http")) {
            seen_kept |= z.get("i_dont_exist").is_some();
        }
        assert_eq!(ev.event.dataset.as_deref(), Some("zeek.http"));
    }
    assert_eq!(n, 4);
    assert!(
        seen_kept,
        "the undeclared column must be kept under zeek.http.i_dont_exist"
    );
}

#[test]
fn rita_proxy_beacon_is_visible() {
    let p = data().join("zeek/rita/test_data/proxy/http.log");
    let n = FileReader::open(&p, &ReadOptions::default())
        .expect("open")
        .filter_map(Result::ok)
        .filter(|e| {
            e.url.domain.as_deref() == Some("www.honestimnotevil.com")
                && e.source.ip.map(|i| i.to_string()).as_deref() == Some("10.136.0.18")
        })
        .count();
    assert!(n > 10, "beacon requests seen: {n}");
}

/// `FileReader::next_into` (one reused `Event`) yields exactly the records of the iterator
/// (equal events, equal rejects) for every shared log and every hand-written test log (queued
/// events of Postfix and `.evtx`, rejects, long labels on the heap included). `Event::reset`'s
/// own test checks that a reset event also serializes as a default one.
#[test]
fn next_into_matches_the_iterator() {
    let root = data();
    let mut all = Vec::new();
    for d in ["zeek", "suricata", "windows"] {
        files(&root.join(d), &mut all);
    }
    files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("test_data"),
        &mut all,
    );
    let mut compared = 0usize;
    for path in &all {
        let Ok(iter) = FileReader::open(path, &ReadOptions::default()) else {
            continue;
        };
        let expected: Vec<Result<yagura_model::Event, Reject>> = iter.collect();
        let mut reader = FileReader::open(path, &ReadOptions::default()).expect("open");
        // Starts from a non-default event: whatever it held must not leak into the records.
        let mut ev = yagura_model::Event {
            message: Some("left over".into()),
            ..Default::default()
        };
        ev.dns.resolved_ip.push([192, 0, 2, 1].into());
        let mut got = Vec::new();
        while let Some(r) = reader.next_into(&mut ev) {
            got.push(r.map(|()| ev.clone()));
        }
        assert_eq!(got.len(), expected.len(), "{}", path.display());
        for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
            assert_eq!(g, e, "{} record {i}", path.display());
        }
        compared += got.len();
    }
    assert!(compared > 100_000, "only {compared} records compared");
}
