use std::fmt::Write;

use super::*;

fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("test_data")
        .join(rel)
}

fn defaults() -> FeedDefaults {
    FeedDefaults {
        now: Timestamp::parse_rfc3339("2025-06-01T00:00:00Z").unwrap(),
        ..FeedDefaults::default()
    }
}

/// Renders a store and reports for review: one indicator a line, then the rejects.
fn render(store: &IndicatorStore, reports: &[ImportReport]) -> String {
    let mut out = String::new();
    for i in store.iter() {
        let m = i.meta;
        let _ = write!(out, "{} {}", i.kind, i.value);
        if let Some(p) = i.port {
            let _ = write!(out, " port {p}");
        }
        let _ = write!(out, " | {} | conf {} | {}", m.source, m.confidence, m.tlp);
        if !m.tags.is_empty() {
            let tags: Vec<&str> = m.tags.iter().map(|t| &**t).collect();
            let _ = write!(out, " | tags {}", tags.join(", "));
        }
        for (k, t) in [
            ("first", m.first_seen),
            ("last", m.last_seen),
            ("from", m.valid_from),
            ("until", m.valid_until),
        ] {
            if let Some(t) = t {
                let _ = write!(out, " | {k} {}", t.to_rfc3339());
            }
        }
        if !m.to_ids {
            out.push_str(" | not to_ids");
        }
        if let Some(d) = &m.description {
            let _ = write!(out, " | {d:?}");
        }
        out.push('\n');
    }
    for r in reports {
        let origin = Path::new(&r.origin)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "-- {origin} ({:?}): {} values, {} added, {} merged, {} rejected",
            r.format,
            r.values,
            r.added,
            r.merged,
            r.rejects.len()
        );
        for j in &r.rejects {
            let _ = writeln!(out, "reject {} {:?}: {}", j.location, j.value, j.reason);
        }
    }
    out
}

fn check(rel: &str, d: FeedDefaults) -> String {
    let mut store = IndicatorStore::new();
    let reports = import_path(&mut store, &data(rel), &d).unwrap();
    render(&store, &reports)
}

#[test]
fn detects_formats() {
    let f = |rel: &str| {
        let p = data(rel);
        detect(&p.display().to_string(), &std::fs::read(&p).unwrap())
    };
    assert_eq!(f("stix/bundle.json"), Format::Stix);
    assert_eq!(f("misp/event.json"), Format::MispEvent);
    assert_eq!(f("misp/feed/manifest.json"), Format::MispManifest);
    assert_eq!(f("csv/feed.csv"), Format::Csv);
    assert_eq!(f("csv/threatfox.csv"), Format::Csv);
    assert_eq!(f("list/plain.txt"), Format::List);
}

#[test]
fn stix_bundle() {
    insta::assert_snapshot!(check("stix/bundle.json", defaults()));
}

#[test]
fn misp_event() {
    insta::assert_snapshot!(check("misp/event.json", defaults()));
}

#[test]
fn misp_feed() {
    insta::assert_snapshot!(check("misp/feed", defaults()));
}

#[test]
fn csv_with_header_mapping() {
    insta::assert_snapshot!(check("csv/feed.csv", defaults()));
}

#[test]
fn csv_threatfox_commented_quoted_header() {
    insta::assert_snapshot!(check("csv/threatfox.csv", defaults()));
}

#[test]
fn plain_list_with_feed_defaults() {
    let d = FeedDefaults {
        source: Some("partner-blocklist".into()),
        tlp: Tlp::Green,
        confidence: 60,
        valid_for_secs: Some(30 * 86_400),
        tags: vec!["partner".into()],
        ..defaults()
    };
    insta::assert_snapshot!(check("list/plain.txt", d));
}

#[test]
fn reimport_merges_instead_of_duplicating() {
    let mut store = IndicatorStore::new();
    let d = defaults();
    let a = import_path(&mut store, &data("list/plain.txt"), &d).unwrap();
    let n = store.len();
    let b = import_path(&mut store, &data("list/plain.txt"), &d).unwrap();
    assert_eq!(store.len(), n);
    assert_eq!(b[0].added, 0);
    assert_eq!(b[0].merged, a[0].values);
}

#[test]
fn malformed_json_is_an_error_not_a_panic() {
    let mut store = IndicatorStore::new();
    let d = FeedDefaults {
        format: Some(Format::Stix),
        ..defaults()
    };
    let e = import_bytes(&mut store, "x.json", b"{\"type\": \"bundle\", ", &d).unwrap_err();
    assert!(e.to_string().starts_with("x.json: not valid JSON"), "{e}");
    let e = import_bytes(&mut store, "x.json", b"{\"Event\": 3}", &defaults()).unwrap_err();
    assert!(e.to_string().contains("no MISP"), "{e}");
}

#[test]
fn source_names_from_paths() {
    let s = |p: &str| source_from_path(Path::new(p));
    assert_eq!(
        s("/d/maltrail/trails/static/malware/emotet.txt"),
        "maltrail/malware/emotet"
    );
    assert_eq!(
        s("/d/maltrail/trails/static/mass_scanner.txt"),
        "maltrail/mass_scanner"
    );
    assert_eq!(s("/d/ipsum/levels/3.txt"), "ipsum/level-3");
    assert_eq!(s("/feeds/partner/list.txt"), "partner/list");
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// Arbitrary bytes in any format: an error or a report, never a panic; every value
        /// read is accounted for as added, merged or rejected.
        #[test]
        fn any_input_is_accounted_for(bytes in proptest::collection::vec(any::<u8>(), 0..400), f in 0usize..5) {
            let format = [Format::List, Format::Csv, Format::Stix, Format::MispEvent, Format::List][f];
            let mut store = IndicatorStore::new();
            let d = FeedDefaults { format: Some(format), ..FeedDefaults::default() };
            if let Ok(r) = import_bytes(&mut store, "fuzz", &bytes, &d) {
                prop_assert_eq!(r.values, r.added + r.merged);
                prop_assert_eq!(store.len(), r.added);
            }
        }

        #[test]
        fn list_lines_are_added_or_rejected(lines in proptest::collection::vec("[ -~]{0,30}", 0..20)) {
            let text = lines.join("\n");
            let mut store = IndicatorStore::new();
            let r = import_bytes(&mut store, "l.txt", text.as_bytes(), &FeedDefaults { format: Some(Format::List), ..FeedDefaults::default() }).unwrap();
            let content = lines.iter().filter(|l| {
                let t = l.trim();
                !(t.is_empty() || t.starts_with('#') || t.starts_with(';') || t.starts_with("//"))
            }).count();
            prop_assert_eq!(r.values + r.rejects.len(), content);
        }
    }
}

/// `import_paths` on several threads builds the store (entries in order, provenance table,
/// identity index) and the reports (counts, rejects in order) of `import_path` on each path
/// in turn.
fn assert_parallel_equals_sequential(paths: &[PathBuf], d: &FeedDefaults, threads: usize) {
    let mut base = IndicatorStore::new();
    // A store that already holds indicators (a data-dir snapshot) takes part in the merge.
    import_path(&mut base, &data("list/plain.txt"), &defaults()).unwrap();
    let mut seq = base.clone();
    let mut seq_reports = Vec::new();
    for p in paths {
        seq_reports.extend(import_path(&mut seq, p, d).unwrap());
    }
    let mut par = base.clone();
    let par_reports = import_paths(&mut par, paths, d, threads).unwrap();
    assert_eq!(par.len(), seq.len());
    assert!(par.entries() == seq.entries(), "entries differ");
    assert!(par.metas() == seq.metas(), "provenance tables differ");
    assert!(
        par.identity_index() == seq.identity_index(),
        "identity indexes differ"
    );
    assert!(par_reports == seq_reports, "reports differ");
    // The merged store keeps de-duplicating as the sequential one does.
    for (s, label) in [(&mut seq, "seq"), (&mut par, "par")] {
        let first = s.get(s.len() - 1).unwrap().to_indicator();
        assert_eq!(s.insert(&first), crate::store::Inserted::Merged, "{label}");
    }
}

#[test]
fn parallel_import_equals_sequential_on_test_data() {
    let d = defaults();
    let all = [
        data("csv"),
        data("list"),
        data("misp"),
        data("stix/bundle.json"),
        data("misp/event.json"),
    ];
    for threads in [1, 2, 3, 8] {
        assert_parallel_equals_sequential(&all, &d, threads);
    }
    // The same feeds twice (every file of the second pass shares its sources with the first:
    // re-imported in its turn, merged counts as in sequence) and one named source for all.
    let twice: Vec<PathBuf> = all.iter().chain(all.iter()).cloned().collect();
    assert_parallel_equals_sequential(&twice, &d, 4);
    let named = FeedDefaults {
        source: Some("one-feed".into()),
        ..defaults()
    };
    assert_parallel_equals_sequential(&all, &named, 4);
}

#[test]
fn parallel_import_stops_at_the_first_error_like_sequential() {
    let d = defaults();
    let missing = data("no-such-file.txt");
    let paths = [data("list"), missing.clone(), data("csv")];
    let mut seq = IndicatorStore::new();
    import_path(&mut seq, &paths[0], &d).unwrap();
    assert!(import_path(&mut seq, &missing, &d).is_err());
    let mut par = IndicatorStore::new();
    let err = import_paths(&mut par, &paths, &d, 4).unwrap_err();
    assert!(err.to_string().contains("no-such-file.txt"), "{err}");
    assert!(par.entries() == seq.entries());
}

/// All of maltrail's static trails and ipsum's levels (the same IPs in several feeds, rejects
/// in many files): the parallel import equals the sequential one.
#[test]
fn parallel_import_equals_sequential_on_shared_data() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/intel");
    let paths = [
        root.join("maltrail/trails/static"),
        root.join("ipsum/levels"),
    ];
    assert!(
        paths.iter().all(|p| p.is_dir()),
        "shared data missing under {}",
        root.display()
    );
    assert_parallel_equals_sequential(&paths, &defaults(), 3);
}
