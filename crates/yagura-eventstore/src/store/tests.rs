use super::*;

/// A proxy-like event: `org`, seconds since epoch, destination domain, source ip, user.
pub(crate) fn ev(org: &str, secs: i64, domain: &str, src: &str, user: &str) -> Event {
    let json = format!(
        r#"{{"@timestamp":"{}","organization":{{"id":"{org}"}},
            "event":{{"dataset":"squid.access"}},
            "source":{{"ip":"{src}"}},
            "url":{{"full":"http://{domain}/p?{secs}","domain":"{domain}"}},
            "user":{{"name":"{user}"}}}}"#,
        Timestamp::from_secs(secs).to_rfc3339()
    );
    serde_json::from_str(&json).unwrap()
}

fn scope(orgs: &[&str]) -> Scope {
    Scope::orgs(orgs.iter().map(|o| OrgId::new(o).unwrap()).collect())
}

/// The suite runs on split format 4, the newest; format 3 (the default) has its own tests
/// and every test of the crates above the store.
fn small_opts() -> StoreOptions {
    StoreOptions {
        writer_memory: 15_000_000,
        split_format: split::FORMAT,
        ..StoreOptions::default()
    }
}

/// Hunts and renders the result as `org:secs:domain` lines plus counts.
fn check(store: &EventStore, q: HuntQuery, expect: &str) {
    let r = store.hunt(&q).unwrap();
    let mut lines: Vec<String> = r
        .hits
        .iter()
        .map(|h| {
            format!(
                "{}:{}:{} [{}]",
                h.org,
                h.event.timestamp.secs(),
                h.event.url.domain.as_deref().unwrap_or("-"),
                h.matched.join(",")
            )
        })
        .collect();
    let counts: Vec<String> = r.counts.iter().map(|(o, n)| format!("{o}={n}")).collect();
    lines.push(
        format!("counts {}", counts.join(" "))
            .trim_end()
            .to_string(),
    );
    assert_eq!(lines.join("\n"), expect.trim());
}

fn sample(store: &EventStore) {
    store
        .ingest(
            "b1",
            vec![
                ev("org-a", 1000, "www.evil.com", "10.0.0.1", "alice"),
                ev("org-a", 2000, "good.org", "10.0.0.2", "bob"),
                ev("org-b", 1500, "cdn.evil.com", "10.1.0.1", "carol"),
            ],
        )
        .unwrap();
    store
        .ingest(
            "b2",
            vec![
                ev("org-a", 8000, "evil.com", "10.0.0.1", "alice"),
                ev("org-c", 1200, "evil.com", "10.2.0.1", "dave"),
            ],
        )
        .unwrap();
}

fn q(orgs: &[&str], indicators: &[&str]) -> HuntQuery {
    HuntQuery {
        scope: scope(orgs),
        indicators: indicators.iter().map(|s| s.to_string()).collect(),
        ..HuntQuery::default()
    }
}

#[test]
fn hunt_pending_and_flushed_give_the_same_answer() {
    let dir = tempfile::tempdir().unwrap();
    let store = EventStore::open(dir.path(), small_opts()).unwrap();
    sample(&store);
    let expect = "
org-a:1000:www.evil.com [evil.com]
org-b:1500:cdn.evil.com [evil.com]
org-a:8000:evil.com [evil.com]
counts org-a=2 org-b=1";
    check(&store, q(&["org-a", "org-b"], &["EVIL.com."]), expect);
    let f = store.flush().unwrap();
    // org-a has two hour buckets, org-b and org-c one each.
    assert_eq!((f.splits, f.events, f.checkpoint), (4, 5, 5));
    check(&store, q(&["org-a", "org-b"], &["EVIL.com."]), expect);
    let r = store.hunt(&q(&["org-a", "org-b"], &["evil.com"])).unwrap();
    assert_eq!(r.pending_scanned, 0);
    assert_eq!(r.splits_searched, 3, "org-c pruned by scope");
}

#[test]
fn hunt_by_ip_user_url_time_and_filters() {
    let dir = tempfile::tempdir().unwrap();
    let store = EventStore::open(dir.path(), small_opts()).unwrap();
    sample(&store);
    store.flush().unwrap();
    let all = ["org-a", "org-b", "org-c"];
    check(
        &store,
        q(&all, &["10.0.0.1", "Dave"]),
        "
org-a:1000:www.evil.com [10.0.0.1]
org-c:1200:evil.com [dave]
org-a:8000:evil.com [10.0.0.1]
counts org-a=2 org-c=1",
    );
    check(
        &store,
        q(&all, &["good.org/p?2000"]),
        "org-a:2000:good.org [good.org/p?2000]\ncounts org-a=1",
    );
    let mut tq = q(&all, &["evil.com"]);
    tq.from = Some(Timestamp::from_secs(1200));
    tq.to = Some(Timestamp::from_secs(8000));
    check(
        &store,
        tq.clone(),
        "
org-c:1200:evil.com [evil.com]
org-b:1500:cdn.evil.com [evil.com]
counts org-b=1 org-c=1",
    );
    tq.filters = vec![FieldFilter::parse("user.name=CAROL").unwrap()];
    check(
        &store,
        tq,
        "org-b:1500:cdn.evil.com [evil.com]\ncounts org-b=1",
    );
    // No indicators: filters alone.
    let mut fq = q(&all, &[]);
    fq.filters = vec![FieldFilter::parse("source.ip=10.0.0.2").unwrap()];
    check(&store, fq, "org-a:2000:good.org []\ncounts org-a=1");
    // Limit bounds the events, not the counts.
    let mut lq = q(&all, &["evil.com"]);
    lq.limit = Some(1);
    let r = store.hunt(&lq).unwrap();
    assert_eq!((r.hits.len(), r.total()), (1, 4));
}

#[test]
fn scope_is_enforced() {
    let dir = tempfile::tempdir().unwrap();
    let store = EventStore::open(dir.path(), small_opts()).unwrap();
    sample(&store);
    check(&store, q(&[], &["evil.com"]), "counts");
    store.flush().unwrap();
    check(&store, q(&[], &["evil.com"]), "counts");
    check(&store, q(&["org-z"], &["evil.com"]), "counts");
}

#[test]
fn rejects_bad_batches_with_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let store = EventStore::open(dir.path(), small_opts()).unwrap();
    let mut no_org = ev("org-a", 1, "x.com", "10.0.0.1", "u");
    no_org.organization.id = None;
    let err = store
        .ingest("b", vec![ev("org-a", 1, "x.com", "10.0.0.1", "u"), no_org])
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "batch rejected: record 2: no organization.id"
    );
    let lines = b"{\"@timestamp\":\"2024-01-01T00:00:00Z\",\"organization\":{\"id\":\"org-a\"}}\n\nnot json\n{\"@timestamp\":\"2024-01-01T00:00:00Z\"}\n";
    let err = store.ingest_json_lines("j", lines).unwrap_err().to_string();
    assert!(
        err.starts_with("batch rejected: record 3: expected ident"),
        "{err}"
    );
    assert!(err.ends_with("record 4: no organization.id"), "{err}");
    assert!(store.ingest_json_lines("j", b"\n\n").is_err());
    // Nothing was stored.
    assert_eq!(store.stats().unwrap().pending_events, 0);
    let ok = store
        .ingest_json_lines(
            "j",
            &lines[..lines.iter().position(|b| *b == b'\n').unwrap()],
        )
        .unwrap();
    assert_eq!(ok.count, 1);
}

#[test]
fn restart_replays_unflushed_and_never_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = EventStore::open(dir.path(), small_opts()).unwrap();
        store
            .ingest("b1", vec![ev("org-a", 10, "a.com", "10.0.0.1", "u")])
            .unwrap();
        store.flush().unwrap();
        store
            .ingest("b2", vec![ev("org-a", 20, "a.com", "10.0.0.1", "u")])
            .unwrap();
        // b2 is only in the WAL.
    }
    let store = EventStore::open(dir.path(), small_opts()).unwrap();
    let s = store.stats().unwrap();
    assert_eq!((s.pending_events, s.checkpoint, s.docs), (1, 1, 1));
    // Retrying either batch stores nothing new.
    assert!(
        store
            .ingest("b2", vec![ev("org-a", 20, "a.com", "10.0.0.1", "u")])
            .unwrap()
            .duplicate
    );
    assert_eq!(store.hunt(&q(&["org-a"], &["a.com"])).unwrap().total(), 2);
    store.flush().unwrap();
    drop(store);
    let store = EventStore::open(dir.path(), small_opts()).unwrap();
    let s = store.stats().unwrap();
    assert_eq!((s.pending_events, s.checkpoint, s.docs), (0, 2, 2));
    assert_eq!(store.hunt(&q(&["org-a"], &["a.com"])).unwrap().total(), 2);
}

#[test]
fn crash_between_split_commit_and_publish_is_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = EventStore::open(dir.path(), small_opts()).unwrap();
        store
            .ingest("b1", vec![ev("org-a", 10, "a.com", "10.0.0.1", "u")])
            .unwrap();
        // Simulate a sealed but unpublished split (the crash window).
        let fields = Fields::new();
        let e = ev("org-a", 10, "a.com", "10.0.0.1", "u");
        let json = serde_json::to_string(&e).unwrap();
        let orphan = dir.path().join("splits/org-a/g0-orphan");
        split::build(
            &orphan,
            &fields,
            vec![Row {
                event: &e,
                json: &json,
            }],
            15_000_000,
        )
        .unwrap();
    }
    let store = EventStore::open(dir.path(), small_opts()).unwrap();
    assert!(
        !dir.path().join("splits/org-a/g0-orphan").exists(),
        "orphan removed"
    );
    store.flush().unwrap();
    assert_eq!(store.hunt(&q(&["org-a"], &["a.com"])).unwrap().total(), 1);
}

#[test]
fn retention_by_age_and_size() {
    let dir = tempfile::tempdir().unwrap();
    let store = EventStore::open(dir.path(), small_opts()).unwrap();
    for h in 0..5 {
        store
            .ingest(
                &format!("a{h}"),
                vec![ev("org-a", h * 3600 + 1, "a.com", "10.0.0.1", "u")],
            )
            .unwrap();
        store
            .ingest(
                &format!("b{h}"),
                vec![ev("org-b", h * 3600 + 1, "a.com", "10.0.0.1", "u")],
            )
            .unwrap();
    }
    store.flush().unwrap();
    assert_eq!(store.splits().unwrap().len(), 10);
    let now = Timestamp::from_secs(5 * 3600);
    let org_b = OrgId::new("org-b").unwrap();
    let one_split = store.splits().unwrap()[0].bytes;
    let r = store
        .apply_retention(now, |o| {
            if *o == org_b {
                RetentionPolicy {
                    max_age_secs: None,
                    max_bytes: Some(one_split * 2 + one_split / 2),
                }
            } else {
                RetentionPolicy {
                    max_age_secs: Some(3 * 3600),
                    max_bytes: None,
                }
            }
        })
        .unwrap();
    // org-a: events at 1s, 3601s are older than 3h before 18000s → 2 removed; org-b keeps 2.
    assert_eq!(r.total().splits_removed, 5);
    let removed: Vec<(String, usize, u64)> = r
        .orgs
        .iter()
        .map(|(o, p)| (o.to_string(), p.removed.len(), p.kept_docs))
        .collect();
    assert_eq!(removed, [("org-a".into(), 2, 3), ("org-b".into(), 3, 2)]);
    let r = store.hunt(&q(&["org-a", "org-b"], &["a.com"])).unwrap();
    let secs: Vec<(String, i64)> = r
        .hits
        .iter()
        .map(|h| (h.org.to_string(), h.event.timestamp.secs()))
        .collect();
    assert_eq!(
        secs,
        [
            ("org-a".into(), 7201),
            ("org-a".into(), 10801),
            ("org-b".into(), 10801),
            ("org-a".into(), 14401),
            ("org-b".into(), 14401)
        ]
    );
    // The files of removed splits outlive their rows for the grace period (a hunt that
    // listed them just before still reads them), then go.
    let files = |org: &str| {
        std::fs::read_dir(dir.path().join("splits").join(org))
            .unwrap()
            .count()
    };
    assert_eq!((files("org-a"), files("org-b")), (5, 5));
    store.purge_retired(std::time::Duration::ZERO);
    assert_eq!((files("org-a"), files("org-b")), (3, 2));
    // A second run finds nothing more to delete; the dry run agrees before and after.
    let plan = store.plan_retention(now, |_| RetentionPolicy {
        max_age_secs: Some(3 * 3600),
        max_bytes: None,
    });
    assert_eq!(plan.unwrap().total(), MaintenanceReport::default());
}

/// The dry run is what the run then deletes, and deletes nothing itself.
#[test]
fn retention_plan_is_what_apply_removes() {
    let dir = tempfile::tempdir().unwrap();
    let store = EventStore::open(dir.path(), small_opts()).unwrap();
    for h in 0..4 {
        for org in ["org-a", "org-b"] {
            store
                .ingest(
                    &format!("{org}{h}"),
                    vec![ev(org, h * 86_400 + 1, "a.com", "10.0.0.1", "u")],
                )
                .unwrap();
        }
    }
    store.flush().unwrap();
    let org_a = OrgId::new("org-a").unwrap();
    let policy = |o: &OrgId| {
        if *o == org_a {
            RetentionPolicy {
                max_age_secs: Some(2 * 86_400),
                max_bytes: None,
            }
        } else {
            RetentionPolicy::default()
        }
    };
    let now = Timestamp::from_secs(4 * 86_400);
    let planned = store.plan_retention(now, policy).unwrap();
    assert_eq!(
        store.splits().unwrap().len(),
        8,
        "a dry run deletes nothing"
    );
    assert_eq!(planned.total().splits_removed, 2);
    let applied = store.apply_retention(now, policy).unwrap();
    assert_eq!(applied, planned);
    let r = store.hunt(&q(&["org-a", "org-b"], &["a.com"])).unwrap();
    let counts: Vec<(String, u64)> = r.counts.iter().map(|(o, n)| (o.to_string(), *n)).collect();
    assert_eq!(counts, [("org-a".into(), 2), ("org-b".into(), 4)]);
}

#[test]
fn compaction_merges_small_splits_and_keeps_answers() {
    let dir = tempfile::tempdir().unwrap();
    let store = EventStore::open(dir.path(), small_opts()).unwrap();
    for h in 0..6 {
        store
            .ingest(
                &format!("a{h}"),
                vec![
                    ev("org-a", h * 3600 + 5, "x.evil.com", "10.0.0.1", "u"),
                    ev("org-a", h * 3600 + 6, "ok.com", "10.0.0.2", "v"),
                ],
            )
            .unwrap();
    }
    store
        .ingest("b", vec![ev("org-b", 5, "x.evil.com", "10.0.0.1", "u")])
        .unwrap();
    store.flush().unwrap();
    let before = store
        .hunt(&q(&["org-a", "org-b"], &["evil.com", "10.0.0.2"]))
        .unwrap();
    assert_eq!(store.splits().unwrap().len(), 7);
    let r = store.compact(CompactOptions::default()).unwrap();
    assert_eq!((r.splits_removed, r.splits_added), (6, 1));
    let splits = store.splits().unwrap();
    assert_eq!(splits.len(), 2);
    let merged = splits.iter().find(|s| s.org.as_str() == "org-a").unwrap();
    assert_eq!((merged.num_docs, merged.generation), (12, 1));
    assert_eq!(merged.min_ts, Timestamp::from_secs(5));
    let after = store
        .hunt(&q(&["org-a", "org-b"], &["evil.com", "10.0.0.2"]))
        .unwrap();
    assert_eq!(
        before,
        HuntResult {
            splits_searched: 7,
            ..after.clone()
        }
    );
    assert_eq!(after.splits_searched, 2);
    // Nothing left to merge.
    assert_eq!(
        store
            .compact(CompactOptions::default())
            .unwrap()
            .splits_added,
        0
    );
    drop(store);
    // Old split directories are gone; the store reopens cleanly.
    assert_eq!(
        std::fs::read_dir(dir.path().join("splits/org-a"))
            .unwrap()
            .count(),
        1
    );
    let store = EventStore::open(dir.path(), small_opts()).unwrap();
    assert_eq!(store.hunt(&q(&["org-a"], &["ok.com"])).unwrap().total(), 6);
}

#[test]
fn ingest_flushes_at_threshold_and_truncates_the_wal() {
    let dir = tempfile::tempdir().unwrap();
    let opts = StoreOptions {
        flush_events: 10,
        wal: WalOptions {
            segment_bytes: 2048,
            ..WalOptions::default()
        },
        ..small_opts()
    };
    let store = EventStore::open(dir.path(), opts).unwrap();
    for i in 0..30 {
        store
            .ingest(
                &format!("b{i}"),
                vec![ev("org-a", i, "a.com", "10.0.0.1", "u")],
            )
            .unwrap();
    }
    let s = store.stats().unwrap();
    assert_eq!(s.docs + s.pending_events as u64, 30);
    assert!(s.docs >= 20, "{s:?}");
    let segs = std::fs::read_dir(dir.path().join("wal")).unwrap().count();
    assert!(segs <= 3, "old segments removed after checkpoints: {segs}");
    assert_eq!(store.hunt(&q(&["org-a"], &["a.com"])).unwrap().total(), 30);
}

#[test]
fn a_store_is_opened_by_one_handle_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let store = EventStore::open(dir.path(), small_opts()).unwrap();
    store
        .ingest("b0", vec![ev("org-a", 0, "a.com", "10.0.0.1", "u")])
        .unwrap();
    let err = EventStore::open(dir.path(), small_opts()).unwrap_err();
    assert!(matches!(err, StoreError::InUse(_)), "{err}");
    assert!(err.to_string().contains("/api/v1/hunt"), "{err}");
    // The refused open touched nothing: the first handle goes on.
    store.flush().unwrap();
    drop(store);
    let store = EventStore::open(dir.path(), small_opts()).unwrap();
    assert_eq!(store.hunt(&q(&["org-a"], &["a.com"])).unwrap().total(), 1);
}

#[test]
fn a_read_only_store_hunts_beside_the_owner_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let owner = EventStore::open(dir.path(), small_opts()).unwrap();
    for i in 0..4 {
        let evs = vec![ev("org-a", i, "a.com", "10.0.0.1", "u")];
        owner.ingest(&format!("b{i}"), evs).unwrap();
        if i == 1 {
            owner.flush().unwrap();
        }
    }
    // A write in progress at the log's tail (as the owner's writer may leave it mid-append).
    let seg = std::fs::read_dir(dir.path().join("wal"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .max()
        .unwrap();
    let mut f = std::fs::OpenOptions::new().append(true).open(&seg).unwrap();
    std::io::Write::write_all(&mut f, &[40, 0, 0, 0, 1]).unwrap();
    drop(f);
    let files_before = tree(dir.path());
    let reader = EventStore::open_read_only(dir.path(), small_opts()).unwrap();
    let all = q(&["org-a"], &["a.com"]);
    assert_eq!(
        reader.hunt(&all).unwrap().total(),
        4,
        "2 published + 2 pending"
    );
    assert_eq!(reader.stats().unwrap().pending_events, 2);
    for err in [
        reader
            .ingest("x", vec![ev("org-a", 9, "a.com", "10.0.0.1", "u")])
            .unwrap_err(),
        reader.flush().unwrap_err(),
        reader.compact(CompactOptions::default()).unwrap_err(),
        reader
            .apply_retention(Timestamp::from_secs(0), |_| RetentionPolicy::default())
            .unwrap_err(),
    ] {
        assert!(matches!(err, StoreError::ReadOnly(_)), "{err}");
    }
    drop(reader);
    assert_eq!(tree(dir.path()), files_before, "the reader changed no file");
    // The owner publishes meanwhile: a new reader sees the same events, now from splits.
    owner.flush().unwrap();
    let reader = EventStore::open_read_only(dir.path(), small_opts()).unwrap();
    assert_eq!(reader.hunt(&all).unwrap().total(), 4);
    assert_eq!(reader.stats().unwrap().pending_events, 0);
    let missing = EventStore::open_read_only(&dir.path().join("nowhere"), small_opts());
    assert!(missing.is_err());
}

/// Every file under `dir` with its length (SQLite's files and tantivy's empty lock files,
/// which opening an index for reading creates, aside).
fn tree(dir: &std::path::Path) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let name = p.strip_prefix(dir).unwrap().display().to_string();
                if !name.starts_with("catalogue.sqlite") && !name.ends_with(".tantivy-meta.lock") {
                    out.push((name, e.metadata().unwrap().len()));
                }
            }
        }
    }
    out.sort();
    out
}

#[test]
fn the_catalogue_lives_in_the_state_database_and_a_stores_own_moves_there() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events");
    let with = |db: &str| StoreOptions {
        catalogue: Some(dir.path().join(db)),
        ..small_opts()
    };
    let a_com = q(&["org-a"], &["a.com"]);
    // A store on its own (its own catalogue.sqlite), as before the catalogue moved.
    {
        let store = EventStore::open(&events, small_opts()).unwrap();
        store
            .ingest("b0", vec![ev("org-a", 0, "a.com", "10.0.0.1", "u")])
            .unwrap();
        store.flush().unwrap();
        store
            .ingest("b1", vec![ev("org-a", 1, "a.com", "10.0.0.1", "u")])
            .unwrap();
    }
    // Read-only, the catalogue is not moved: read where it is.
    let reader = EventStore::open_read_only(&events, with("state.db")).unwrap();
    assert_eq!(reader.hunt(&a_com).unwrap().total(), 2);
    drop(reader);
    assert!(events.join("catalogue.sqlite").is_file());
    // The owner's open moves it into the state database (rows, checkpoint, batch ids).
    {
        let store = EventStore::open(&events, with("state.db")).unwrap();
        assert!(!events.join("catalogue.sqlite").exists());
        assert!(events.join("catalogue.sqlite.moved").is_file());
        assert_eq!(store.hunt(&a_com).unwrap().total(), 2);
        assert_eq!(store.checkpoint(), 1, "b1 still pending, b0 published");
        let again = store
            .ingest("b0", vec![ev("org-a", 0, "a.com", "10.0.0.1", "u")])
            .unwrap();
        assert!(again.duplicate, "the published batch ids moved too");
        store.flush().unwrap();
        store
            .ingest("b2", vec![ev("org-a", 2, "a.com", "10.0.0.1", "u")])
            .unwrap();
        store.flush().unwrap();
    }
    let tables: i64 = rusqlite::Connection::open(dir.path().join("state.db"))
        .unwrap()
        .query_row("SELECT count(*) FROM splits", [], |r| r.get(0))
        .unwrap();
    assert!(
        tables >= 2,
        "the splits are listed in the state database: {tables}"
    );
    let store = EventStore::open(&events, with("state.db")).unwrap();
    assert_eq!(store.hunt(&a_com).unwrap().total(), 3);
    drop(store);
    // Another state database (replaced, or another platform's): refused, nothing deleted.
    let splits_before = tree(&events.join("splits"));
    for err in [
        EventStore::open(&events, with("other.db")).unwrap_err(),
        EventStore::open_read_only(&events, with("other.db")).unwrap_err(),
        EventStore::open(&events, small_opts()).unwrap_err(),
    ] {
        assert!(matches!(err, StoreError::ForeignCatalogue(_)), "{err}");
    }
    assert_eq!(tree(&events.join("splits")), splits_before);
    // A new directory against a catalogue that describes a store: refused too.
    let err = EventStore::open(&dir.path().join("fresh"), with("state.db")).unwrap_err();
    assert!(matches!(err, StoreError::ForeignCatalogue(_)), "{err}");
    // And the store is whole.
    let store = EventStore::open(&events, with("state.db")).unwrap();
    assert_eq!(store.hunt(&a_com).unwrap().total(), 3);
}

/// The events published after `after` that the WAL still holds, as their LSNs.
fn replayed(store: &EventStore, after: u64) -> (crate::ReadBack, Vec<u64>) {
    let mut lsns = Vec::new();
    let rb = store
        .replay_published(after, |lsn, ev| {
            assert!(ev.org().is_some());
            lsns.push(lsn);
            Ok::<(), std::convert::Infallible>(())
        })
        .unwrap();
    (rb, lsns)
}

#[test]
fn a_wal_floor_keeps_published_events_for_replay_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let opts = || StoreOptions {
        wal: WalOptions {
            segment_bytes: 1,
            ..WalOptions::default()
        },
        ..small_opts()
    };
    {
        let store = EventStore::open(dir.path(), opts()).unwrap();
        store.retain_wal_after(4);
        for i in 0..10 {
            let evs = vec![ev("org-a", i, "a.com", "10.0.0.1", "u")];
            store.ingest(&format!("b{i}"), evs).unwrap();
            store.flush().unwrap();
        }
        assert_eq!(store.checkpoint(), 10);
        let (rb, lsns) = replayed(&store, 4);
        assert_eq!(lsns, (5..=10).collect::<Vec<_>>(), "published, kept");
        assert_eq!(rb.first_lsn, Some(5));
        // Below the floor the log is gone: a replay from 0 says where it resumes.
        let (rb, _) = replayed(&store, 0);
        assert_eq!(rb.first_lsn, Some(5));
    }
    // The floor is the caller's to set again; a store without one truncates through its
    // checkpoint at the next flush.
    let store = EventStore::open(dir.path(), opts()).unwrap();
    assert_eq!(replayed(&store, 4).1, (5..=10).collect::<Vec<_>>());
    store
        .ingest("b10", vec![ev("org-a", 10, "a.com", "10.0.0.1", "u")])
        .unwrap();
    store.flush().unwrap();
    let (rb, lsns) = replayed(&store, 4);
    assert!(lsns.is_empty() || lsns == [11], "{lsns:?}");
    assert!(rb.first_lsn.is_none_or(|f| f > 5));
    assert_eq!(store.hunt(&q(&["org-a"], &["a.com"])).unwrap().total(), 11);
}

/// Builds a split of an older format in `store`'s directory from `events` (one organization)
/// with `schema` and `settings`, each document filled by `fill`, and publishes it in the
/// catalogue as `format`.
fn publish_legacy_split(
    store: &EventStore,
    id: &str,
    events: &[Event],
    format: u32,
    schema: tantivy::schema::Schema,
    settings: tantivy::IndexSettings,
    fill: impl Fn(&Event, &mut tantivy::TantivyDocument),
) {
    let org_id = events[0].org().unwrap().clone();
    let path = store.split_path(&org_id, id);
    std::fs::create_dir_all(&path).unwrap();
    let index = tantivy::Index::builder()
        .schema(schema)
        .settings(settings)
        .create_in_dir(&path)
        .unwrap();
    let mut w = index
        .writer_with_num_threads::<tantivy::TantivyDocument>(1, 15_000_000)
        .unwrap();
    for ev in events {
        let mut doc = tantivy::TantivyDocument::new();
        fill(ev, &mut doc);
        w.add_document(doc).unwrap();
    }
    w.commit().unwrap();
    w.wait_merging_threads().unwrap();
    let meta = SplitMeta {
        id: id.to_string(),
        org: org_id,
        min_ts: events.iter().map(|e| e.timestamp).min().unwrap(),
        max_ts: events.iter().map(|e| e.timestamp).max().unwrap(),
        num_docs: events.len() as u64,
        bytes: split::dir_bytes(&path).unwrap(),
        generation: 0,
        format,
    };
    lock(&store.inner)
        .catalogue
        .publish(&[meta], &[], None)
        .unwrap();
}

/// Builds a split the way format 1 did (schema, settings and terms of before 2026-11-26
/// evening) in `dir`, and publishes it in `store`'s catalogue as format 1.
fn publish_format_1_split(store: &EventStore, id: &str, events: &[Event]) {
    use tantivy::schema::{FAST, INDEXED, STORED, STRING};
    let mut b = tantivy::schema::Schema::builder();
    let observables = b.add_text_field("observables", STRING);
    for k in [
        "ip",
        "domain",
        "url",
        "hash",
        "email",
        "user",
        "file",
        "fingerprint",
    ] {
        b.add_text_field(k, STRING);
    }
    let ts = b.add_i64_field("ts", INDEXED | FAST);
    let org = b.add_text_field("org", STRING | FAST);
    let dataset = b.add_text_field("dataset", STRING | FAST);
    let event = b.add_text_field("event", STORED);
    let settings = tantivy::IndexSettings {
        docstore_compression: tantivy::store::Compressor::Zstd(tantivy::store::ZstdCompressor {
            compression_level: Some(6),
        }),
        docstore_blocksize: 64 * 1024,
        ..tantivy::IndexSettings::default()
    };
    publish_legacy_split(
        store,
        id,
        events,
        split::FORMAT_V1,
        b.build(),
        settings,
        |ev, doc| {
            event_terms(ev, |_, t| doc.add_text(observables, t));
            doc.add_i64(ts, ev.timestamp.nanos());
            doc.add_text(org, ev.org().unwrap().as_str());
            doc.add_text(dataset, ev.dataset().unwrap_or("-"));
            doc.add_text(event, serde_json::to_string(ev).unwrap());
        },
    );
}

#[test]
fn format_1_splits_stay_readable_and_merge_among_themselves() {
    let dir = tempfile::tempdir().unwrap();
    let store = EventStore::open(dir.path(), small_opts()).unwrap();
    // Format 1: two splits of org-a in hour 0 (URLs with query strings indexed in full).
    publish_format_1_split(
        &store,
        "g0-old1",
        &[
            ev("org-a", 10, "www.evil.com", "10.0.0.1", "alice"),
            ev("org-a", 20, "good.org", "10.0.0.2", "bob"),
        ],
    );
    publish_format_1_split(
        &store,
        "g0-old2",
        &[ev("org-a", 30, "good.org", "10.0.0.3", "bob")],
    );
    // Format 2: the same kind of events, in the same hour.
    store
        .ingest(
            "b1",
            vec![
                ev("org-a", 40, "good.org", "10.0.0.4", "carol"),
                ev("org-a", 50, "www.evil.com", "10.0.0.5", "dave"),
            ],
        )
        .unwrap();
    store.flush().unwrap();
    let formats: Vec<u32> = store.splits().unwrap().iter().map(|s| s.format).collect();
    assert_eq!(formats.iter().filter(|f| **f == 1).count(), 2);
    assert_eq!(formats.iter().filter(|f| **f == split::FORMAT).count(), 1);

    let all = "
org-a:10:www.evil.com [evil.com]
org-a:50:www.evil.com [evil.com]
counts org-a=2";
    check(&store, q(&["org-a"], &["evil.com"]), all);
    // A URL with its query string: exact in format 1, by stem + re-check in format 2.
    check(
        &store,
        q(&["org-a"], &["good.org/p?20", "http://good.org/p?40"]),
        "
org-a:20:good.org [good.org/p?20]
org-a:40:good.org [http://good.org/p?40]
counts org-a=2",
    );
    // Same stem, other query strings: nothing.
    check(&store, q(&["org-a"], &["good.org/p?2"]), "counts");

    // Compaction merges the two format 1 splits together, never with the format 2 one.
    let r = store.compact(CompactOptions::default()).unwrap();
    assert_eq!((r.splits_removed, r.splits_added), (2, 1));
    let mut formats: Vec<(u32, u64)> = store
        .splits()
        .unwrap()
        .iter()
        .map(|s| (s.format, s.num_docs))
        .collect();
    formats.sort_unstable();
    assert_eq!(formats, [(1, 3), (split::FORMAT, 2)]);
    check(&store, q(&["org-a"], &["evil.com"]), all);
    check(
        &store,
        q(&["org-a"], &["good.org/p?30", "http://good.org/p?40"]),
        "
org-a:30:good.org [good.org/p?30]
org-a:40:good.org [http://good.org/p?40]
counts org-a=2",
    );
}

/// Builds a split the way format 2 did (2026-11-26 evening to 2026-11-27: addresses as text in
/// `observables`, no `ip_bytes`) in `dir`, and publishes it in `store`'s catalogue as format 2.
fn publish_format_2_split(store: &EventStore, id: &str, events: &[Event]) {
    use tantivy::schema::{FAST, IndexRecordOption, STORED, TextFieldIndexing, TextOptions};
    let mut b = tantivy::schema::Schema::builder();
    let term = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer("raw")
            .set_index_option(IndexRecordOption::Basic)
            .set_fieldnorms(false),
    );
    let observables = b.add_text_field("observables", term.clone());
    let url_stem = b.add_text_field("url_stem", term);
    let ts = b.add_i64_field("ts", FAST);
    let org = b.add_text_field("org", FAST);
    let dataset = b.add_text_field("dataset", FAST);
    let event = b.add_text_field("event", STORED);
    let settings = tantivy::IndexSettings {
        docstore_compression: tantivy::store::Compressor::Zstd(tantivy::store::ZstdCompressor {
            compression_level: Some(3),
        }),
        docstore_blocksize: 1 << 20,
        docstore_compress_dedicated_thread: false,
        ..tantivy::IndexSettings::default()
    };
    publish_legacy_split(
        store,
        id,
        events,
        split::FORMAT_V2,
        b.build(),
        settings,
        |ev, doc| {
            let (mut terms, mut stems) = (Vec::new(), Vec::new());
            crate::terms::index_terms(
                ev,
                |t| terms.push(t.to_string()),
                |t| stems.push(t.to_string()),
            );
            for t in terms {
                doc.add_text(observables, t);
            }
            for t in stems {
                doc.add_text(url_stem, t);
            }
            doc.add_i64(ts, ev.timestamp.nanos());
            doc.add_text(org, ev.org().unwrap().as_str());
            doc.add_text(dataset, ev.dataset().unwrap_or("-"));
            doc.add_text(event, serde_json::to_string(ev).unwrap());
        },
    );
}

#[test]
fn format_2_splits_stay_readable_and_merge_among_themselves() {
    let dir = tempfile::tempdir().unwrap();
    let store = EventStore::open(dir.path(), small_opts()).unwrap();
    // Format 2: addresses as text, two splits of org-a in hour 0.
    publish_format_2_split(
        &store,
        "g0-v2a",
        &[
            ev("org-a", 10, "www.evil.com", "10.0.0.1", "alice"),
            ev("org-a", 20, "good.org", "2001:db8::7", "bob"),
        ],
    );
    publish_format_2_split(
        &store,
        "g0-v2b",
        &[ev("org-a", 30, "10.9.9.9", "10.0.0.3", "10.0.0.1")],
    );
    // Format 3 (written now): addresses as bytes.
    store
        .ingest(
            "b1",
            vec![
                ev("org-a", 40, "good.org", "2001:db8::7", "carol"),
                ev("org-a", 50, "www.evil.com", "10.0.0.1", "dave"),
                ev("org-a", 60, "10.9.9.9", "10.0.0.6", "10.0.0.1"),
            ],
        )
        .unwrap();
    store.flush().unwrap();
    let formats: Vec<u32> = store.splits().unwrap().iter().map(|s| s.format).collect();
    assert_eq!(formats.iter().filter(|f| **f == 2).count(), 2);
    assert_eq!(formats.iter().filter(|f| **f == split::FORMAT).count(), 1);

    // An address is found as text in format 2 and as bytes in format 3, whichever field of
    // the event holds it (source, URL host, a user name that is an address).
    let by_ip = "
org-a:10:www.evil.com [10.0.0.1]
org-a:30:10.9.9.9 [10.0.0.1]
org-a:50:www.evil.com [10.0.0.1]
org-a:60:10.9.9.9 [10.0.0.1]
counts org-a=4";
    check(&store, q(&["org-a"], &["10.0.0.1"]), by_ip);
    let v6 = "
org-a:20:good.org [2001:db8::7]
org-a:40:good.org [2001:db8::7]
counts org-a=2";
    check(&store, q(&["org-a"], &["2001:DB8:0::7"]), v6);
    check(
        &store,
        q(&["org-a"], &["10.9.9.9", "evil.com", "good.org/p?40"]),
        "
org-a:10:www.evil.com [evil.com]
org-a:30:10.9.9.9 [10.9.9.9]
org-a:40:good.org [good.org/p?40]
org-a:50:www.evil.com [evil.com]
org-a:60:10.9.9.9 [10.9.9.9]
counts org-a=5",
    );

    // Compaction merges the two format 2 splits together, never with the format 3 one.
    let r = store.compact(CompactOptions::default()).unwrap();
    assert_eq!((r.splits_removed, r.splits_added), (2, 1));
    let mut formats: Vec<(u32, u64)> = store
        .splits()
        .unwrap()
        .iter()
        .map(|s| (s.format, s.num_docs))
        .collect();
    formats.sort_unstable();
    assert_eq!(formats, [(2, 3), (split::FORMAT, 3)]);
    check(&store, q(&["org-a"], &["10.0.0.1"]), by_ip);
    check(&store, q(&["org-a"], &["2001:db8::7"]), v6);
}

#[test]
fn url_indicators_with_query_strings_match_exactly_under_limit_and_filters() {
    let dir = tempfile::tempdir().unwrap();
    let store = EventStore::open(dir.path(), small_opts()).unwrap();
    store
        .ingest(
            "b1",
            (0..20)
                .map(|i| {
                    ev(
                        "org-a",
                        i,
                        "a.example.com",
                        "10.0.0.1",
                        if i % 2 == 0 { "even" } else { "odd" },
                    )
                })
                .collect(),
        )
        .unwrap();
    let want = [
        "a.example.com/p?3",
        "http://a.example.com/p?4",
        "a.example.com/p?5",
    ];
    let pending = store.hunt(&q(&["org-a"], &want)).unwrap();
    store.flush().unwrap();
    let flushed = store.hunt(&q(&["org-a"], &want)).unwrap();
    assert_eq!(pending.hits, flushed.hits);
    assert_eq!(flushed.total(), 3);
    let mut limited = q(&["org-a"], &want);
    limited.limit = Some(2);
    limited.filters = vec![FieldFilter::parse("user.name=odd").unwrap()];
    let r = store.hunt(&limited).unwrap();
    let secs: Vec<i64> = r.hits.iter().map(|h| h.event.timestamp.secs()).collect();
    assert_eq!((secs, r.total()), (vec![3, 5], 2));
}

/// The split term lookups (on several threads) against the in-memory scan of the same events
/// pending, on random hunts: indicators present and absent, time ranges that cut splits,
/// limits and filters. The scan is the oracle (it checks every event).
#[test]
fn split_lookups_agree_with_the_scan_and_do_not_depend_on_threads() {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut rnd = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let orgs = ["org-a", "org-b", "org-c"];
    let mut events = Vec::new();
    for i in 0..900i64 {
        let org = orgs[rnd(3) as usize];
        // Unique timestamps over three days: the two paths agree on the order of hits.
        let secs = 86_400 * 10 + i * 280 + rnd(200) as i64;
        let domain = format!("h{}.d{}.example", rnd(3), rnd(40));
        let src = format!("10.0.{}.{}", rnd(4), rnd(20));
        let user = format!("u{}", rnd(12));
        events.push(ev(org, secs, &domain, &src, &user));
    }
    let opts = |threads: usize| StoreOptions {
        split_span_secs: 86_400 / 4,
        hunt_threads: threads,
        ..small_opts()
    };
    let (d1, d2, d3) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let flushed = EventStore::open(d1.path(), opts(4)).unwrap();
    let flushed_1 = EventStore::open(d2.path(), opts(1)).unwrap();
    let pending = EventStore::open(d3.path(), opts(1)).unwrap();
    for (k, chunk) in events.chunks(100).enumerate() {
        for s in [&flushed, &flushed_1, &pending] {
            s.ingest(&format!("b{k}"), chunk.to_vec()).unwrap();
        }
    }
    flushed.flush().unwrap();
    flushed_1.flush().unwrap();
    assert!(flushed.stats().unwrap().splits >= 20);
    for round in 0..60 {
        let mut indicators: Vec<String> = (0..1 + rnd(6))
            .map(|_| match rnd(5) {
                0 => format!("d{}.example", rnd(50)),
                1 => format!("h{}.d{}.example", rnd(3), rnd(50)),
                2 => format!("10.0.{}.{}", rnd(5), rnd(25)),
                3 => format!("u{}", rnd(15)),
                _ => format!("absent{}.test", rnd(1000)),
            })
            .collect();
        if round % 7 == 0 {
            indicators.clear(); // every event in range
        }
        let from = (rnd(3) == 0).then(|| Timestamp::from_secs(86_400 * 10 + rnd(250_000) as i64));
        let to = (rnd(3) == 0).then(|| Timestamp::from_secs(86_400 * 11 + rnd(200_000) as i64));
        if let (Some(f), Some(t)) = (from, to)
            && f >= t
        {
            continue;
        }
        let filters = if rnd(4) == 0 {
            vec![FieldFilter::parse(&format!("user.name=U{}", rnd(12))).unwrap()]
        } else {
            Vec::new()
        };
        let mut query = HuntQuery {
            scope: scope(&orgs[..1 + rnd(3) as usize]),
            indicators,
            filters,
            from,
            to,
            limit: None,
        };
        let oracle = pending.hunt(&query).unwrap();
        assert_eq!(oracle.pending_scanned, 900);
        let got = flushed.hunt(&query).unwrap();
        assert_eq!(got.pending_scanned, 0);
        assert_eq!(got.counts, oracle.counts, "round {round}: {query:?}");
        assert_eq!(got.hits, oracle.hits, "round {round}: {query:?}");
        query.limit = Some(rnd(40) as usize);
        let a = flushed.hunt(&query).unwrap();
        let b = flushed_1.hunt(&query).unwrap();
        assert_eq!(a, b, "round {round}: threads change nothing: {query:?}");
        assert_eq!(
            a.counts, oracle.counts,
            "round {round}: counts ignore the limit"
        );
        assert_eq!(
            a.hits.len() as u64,
            a.total().min(query.limit.unwrap_or(0) as u64)
        );
    }
}

/// An event with `Event::other` leftovers of every JSON kind: nested objects, arrays (empty,
/// nested, mixed), integers, floats, negative and exponent numbers, `true`/`false`/`null`,
/// strings with escapes and non-ASCII text.
fn odd_event(org: &str, i: i64, dataset: &str, src: &str) -> Event {
    let json = format!(
        r#"{{"@timestamp":"{ts}","organization":{{"id":"{org}"}},
            "event":{{"dataset":"{dataset}"}},
            "source":{{"ip":"{src}","port":{port}}},
            "user":{{"name":"user{i}"}},
            "zeek":{{"uid":"C{i}x","orig_bytes":{ob},"ratio":{ratio},"missed":null,
                     "flags":[true,false,null],"nested":[[1,-2.5e-3],{{"a":[]}},{{}}],
                     "note":"tab\t \"q\" \\ é 日本 \u0001"}},
            "labels":{{"k{k}":"v"}}}}"#,
        ts = Timestamp::from_secs(i).to_rfc3339(),
        port = 1024 + i,
        ob = i * 10 + 3,
        ratio = i as f64 / 7.0,
        k = i % 3,
    );
    serde_json::from_str(&json).unwrap()
}

/// Every event of every split, by the store's own read path, as the JSON the WAL holds.
fn stored_jsons(store: &EventStore, dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for s in store.splits().unwrap() {
        let open =
            split::OpenSplit::open(&dir.join("splits").join(s.org.as_str()).join(&s.id)).unwrap();
        let docs = open.search(None, None, None).unwrap();
        assert_eq!(docs.len() as u64, s.num_docs);
        out.extend(open.fetch(&docs).unwrap());
    }
    out.sort_unstable();
    out
}

#[test]
fn format_4_blocks_return_every_event_byte_for_byte_also_after_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let store = EventStore::open(dir.path(), small_opts()).unwrap();
    let mut expected = Vec::new();
    for b in 0..4i64 {
        let evs: Vec<Event> = (0..50)
            .map(|j| {
                let i = b * 50 + j;
                let ds = ["zeek.conn", "squid.access", "zeek.dns"][(i % 3) as usize];
                odd_event("org-a", i, ds, &format!("10.0.{}.{}", i % 2, i % 5))
            })
            .collect();
        expected.extend(evs.iter().map(|e| serde_json::to_string(e).unwrap()));
        store.ingest(&format!("b{b}"), evs).unwrap();
        store.flush().unwrap();
    }
    expected.sort_unstable();
    let splits = store.splits().unwrap();
    assert_eq!(splits.len(), 4);
    assert!(splits.iter().all(|s| s.format == split::FORMAT));
    for s in &splits {
        let p = store.split_path(&s.org, &s.id);
        assert!(p.join(crate::block::FILE_NAME).exists());
    }
    assert_eq!(stored_jsons(&store, dir.path()), expected);
    // Each user name is one event: the hit read for it is that very event (document id =
    // block row), and hits come back by time although rows are in entity order.
    let check_each = |store: &EventStore| {
        for i in 0..200 {
            let r = store.hunt(&q(&["org-a"], &[&format!("user{i}")])).unwrap();
            assert_eq!(r.hits.len(), 1, "user{i}");
            assert_eq!(r.hits[0].event.timestamp, Timestamp::from_secs(i));
        }
        let r = store.hunt(&q(&["org-a"], &["10.0.1.3"])).unwrap();
        let secs: Vec<i64> = r.hits.iter().map(|h| h.event.timestamp.secs()).collect();
        let want: Vec<i64> = (0..200).filter(|i| i % 2 == 1 && i % 5 == 3).collect();
        assert_eq!(secs, want);
        let mut q3 = q(&["org-a"], &["10.0.1.3"]);
        q3.limit = Some(3);
        let r = store.hunt(&q3).unwrap();
        let secs: Vec<i64> = r.hits.iter().map(|h| h.event.timestamp.secs()).collect();
        assert_eq!(secs, want[..3]);
    };
    check_each(&store);
    let r = store.compact(CompactOptions::default()).unwrap();
    assert_eq!((r.splits_removed, r.splits_added), (4, 1));
    assert_eq!(stored_jsons(&store, dir.path()), expected);
    check_each(&store);
    drop(store);
    let store = EventStore::open(dir.path(), small_opts()).unwrap();
    check_each(&store);
}

#[test]
fn format_3_splits_stay_readable_and_merge_among_themselves() {
    let dir = tempfile::tempdir().unwrap();
    let v3 = StoreOptions {
        split_format: split::FORMAT_V3,
        ..small_opts()
    };
    let batches = [
        vec![
            ev("org-a", 10, "www.evil.com", "10.0.0.1", "alice"),
            ev("org-a", 20, "good.org", "2001:db8::7", "bob"),
        ],
        vec![ev("org-a", 30, "10.9.9.9", "10.0.0.3", "10.0.0.1")],
        vec![
            ev("org-a", 40, "good.org", "2001:db8::7", "carol"),
            ev("org-a", 50, "www.evil.com", "10.0.0.1", "dave"),
        ],
        vec![ev("org-a", 60, "10.9.9.9", "10.0.0.6", "10.0.0.1")],
    ];
    {
        let store = EventStore::open(dir.path(), v3).unwrap();
        for (i, b) in batches[..2].iter().enumerate() {
            store.ingest(&format!("b{i}"), b.clone()).unwrap();
            store.flush().unwrap();
        }
    }
    let store = EventStore::open(dir.path(), small_opts()).unwrap();
    for (i, b) in batches[2..].iter().enumerate() {
        store.ingest(&format!("c{i}"), b.clone()).unwrap();
        store.flush().unwrap();
    }
    let mut formats: Vec<u32> = store.splits().unwrap().iter().map(|s| s.format).collect();
    formats.sort_unstable();
    assert_eq!(formats, [3, 3, 4, 4]);
    for s in store.splits().unwrap() {
        let blk = store
            .split_path(&s.org, &s.id)
            .join(crate::block::FILE_NAME);
        assert_eq!(blk.exists(), s.format == 4);
    }
    let by_ip = "
org-a:10:www.evil.com [10.0.0.1]
org-a:30:10.9.9.9 [10.0.0.1]
org-a:50:www.evil.com [10.0.0.1]
org-a:60:10.9.9.9 [10.0.0.1]
counts org-a=4";
    let mixed = "
org-a:10:www.evil.com [evil.com]
org-a:30:10.9.9.9 [10.9.9.9]
org-a:40:good.org [good.org/p?40]
org-a:50:www.evil.com [evil.com]
org-a:60:10.9.9.9 [10.9.9.9]
counts org-a=5";
    let mixed_q = || q(&["org-a"], &["10.9.9.9", "evil.com", "good.org/p?40"]);
    check(&store, q(&["org-a"], &["10.0.0.1"]), by_ip);
    check(&store, mixed_q(), mixed);
    // Without sealing, compaction merges format 3 with format 3 and 4 with 4 only.
    let r = store
        .compact(CompactOptions {
            seal_after_secs: None,
            ..CompactOptions::default()
        })
        .unwrap();
    assert_eq!((r.splits_removed, r.splits_added), (4, 2));
    let mut formats: Vec<(u32, u64)> = store
        .splits()
        .unwrap()
        .iter()
        .map(|s| (s.format, s.num_docs))
        .collect();
    formats.sort_unstable();
    assert_eq!(formats, [(3, 3), (4, 3)]);
    check(&store, q(&["org-a"], &["10.0.0.1"]), by_ip);
    check(&store, mixed_q(), mixed);
}

#[test]
fn a_corrupt_event_block_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let store = EventStore::open(dir.path(), small_opts()).unwrap();
    store
        .ingest("b", vec![ev("org-a", 10, "a.com", "10.0.0.1", "u")])
        .unwrap();
    store.flush().unwrap();
    let s = &store.splits().unwrap()[0];
    let blk = store
        .split_path(&s.org, &s.id)
        .join(crate::block::FILE_NAME);
    drop(store);
    let mut bytes = std::fs::read(&blk).unwrap();
    let n = bytes.len();
    bytes[n - 30] ^= 0xff; // inside the footer: its CRC no longer matches
    std::fs::write(&blk, &bytes).unwrap();
    let store = EventStore::open(dir.path(), small_opts()).unwrap();
    let err = store.hunt(&q(&["org-a"], &["a.com"])).unwrap_err();
    assert!(err.to_string().contains("corrupt"), "{err}");
}

/// Formats 3 and 4 answer every hunt identically on the same events, with blocks of small
/// chunks so that a hunt's hits fall many to a chunk (a source's events are adjacent rows in
/// entity order), spread over many chunks and splits, through both read paths (the first
/// `limit` hits; every hit when filters or URL stems are checked).
#[test]
fn formats_3_and_4_answer_alike_with_many_hits_per_chunk_and_over_chunks_and_splits() {
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut rnd = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let orgs = ["org-a", "org-b"];
    let mut events = Vec::new();
    for i in 0..1_500i64 {
        let org = orgs[rnd(2) as usize];
        // Unique timestamps over two days: both formats order hits by time.
        let secs = 86_400 * 20 + i * 115 + rnd(100) as i64;
        let src = format!("10.0.{}.{}", rnd(3), rnd(8));
        let e = if rnd(4) == 0 {
            // Other datasets and shapes in the same chunks.
            let ds = ["zeek.conn", "zeek.dns"][rnd(2) as usize];
            let mut e = odd_event(org, 0, ds, &src);
            e.timestamp = Timestamp::from_secs(secs);
            e
        } else {
            let domain = format!("h{}.d{}.example", rnd(3), rnd(30));
            ev(org, secs, &domain, &src, &format!("u{}", rnd(10)))
        };
        events.push(e);
    }
    let opts = |format: u32, chunk_rows: usize| StoreOptions {
        split_span_secs: 86_400 / 3,
        split_format: format,
        block_chunk_rows: chunk_rows,
        ..small_opts()
    };
    let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let stores = [
        EventStore::open(
            dirs[0].path(),
            opts(split::FORMAT_V3, split::BLOCK_CHUNK_ROWS),
        )
        .unwrap(),
        EventStore::open(dirs[1].path(), opts(split::FORMAT, 16)).unwrap(),
        EventStore::open(dirs[2].path(), opts(split::FORMAT, 4096)).unwrap(),
    ];
    for (k, chunk) in events.chunks(250).enumerate() {
        for s in &stores {
            s.ingest(&format!("b{k}"), chunk.to_vec()).unwrap();
        }
    }
    for s in &stores {
        s.flush().unwrap();
    }
    let splits = stores[1].splits().unwrap();
    assert!(splits.len() >= 10, "{} splits", splits.len());
    assert!(splits.iter().all(|s| s.format == split::FORMAT));
    assert!(stores[0].splits().unwrap().iter().all(|s| s.format == 3));
    let mut many_per_chunk = false;
    for round in 0..80 {
        let indicators: Vec<String> = (0..1 + rnd(5))
            .map(|_| match rnd(6) {
                0 => format!("d{}.example", rnd(35)),
                1 => format!("10.0.{}.{}", rnd(3), rnd(9)),
                2 => format!("u{}", rnd(12)),
                3 => format!("http://h{}.d{}.example/p?{}", rnd(3), rnd(30), rnd(400)),
                4 => format!("user{}", rnd(3)),
                _ => format!("absent{}.test", rnd(100)),
            })
            .collect();
        let filters = match rnd(5) {
            0 => vec![FieldFilter::parse(&format!("user.name=U{}", rnd(10))).unwrap()],
            1 => vec![FieldFilter::parse("event.dataset=zeek.dns").unwrap()],
            _ => Vec::new(),
        };
        let from = (rnd(3) == 0).then(|| Timestamp::from_secs(86_400 * 20 + rnd(90_000) as i64));
        let to = (rnd(3) == 0).then(|| Timestamp::from_secs(86_400 * 21 + rnd(80_000) as i64));
        let query = HuntQuery {
            scope: scope(&orgs[..1 + rnd(2) as usize]),
            indicators,
            filters,
            from,
            to,
            limit: [None, Some(1), Some(7), Some(60)][rnd(4) as usize],
        };
        let want = stores[0].hunt(&query).unwrap();
        for s in &stores[1..] {
            let got = s.hunt(&query).unwrap();
            assert_eq!(got.counts, want.counts, "round {round}: {query:?}");
            assert_eq!(got.hits, want.hits, "round {round}: {query:?}");
        }
        many_per_chunk |= want.hits.len() >= 40;
    }
    assert!(many_per_chunk, "some hunts read many events per chunk");
    // Every event of a source: dozens of adjacent rows in each split's block.
    let all_of_a_source = q(&["org-a", "org-b"], &["10.0.1.3"]);
    let want = stores[0].hunt(&all_of_a_source).unwrap();
    assert!(want.hits.len() >= 40, "{}", want.hits.len());
    for s in &stores[1..] {
        assert_eq!(s.hunt(&all_of_a_source).unwrap(), want);
    }
}

/// The read path with read-ahead (`hunt_read_ahead`, session 10: `MADV_RANDOM` maps, FSTs
/// loaded, postings and doc-store blocks hinted, splits opened and looked up on more threads)
/// returns exactly what the reference path (read-ahead off) returns, in formats 3 and 4, for
/// large hunts (≥ `PREFETCH_MIN_TERMS` indicators: the branch that opens every split first)
/// and small ones, with limits, filters, time ranges and URL indicators with a query string,
/// on splits just opened and on cached ones.
#[test]
fn read_ahead_hunts_return_what_the_reference_path_returns() {
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut rnd = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let orgs = ["org-a", "org-b", "org-c"];
    let mut events = Vec::new();
    for i in 0..3_000i64 {
        let org = orgs[rnd(3) as usize];
        let secs = 86_400 * 10 + i * 90 + rnd(60) as i64;
        let domain = format!("h{}.d{}.example", rnd(3), rnd(60));
        let src = format!("10.0.{}.{}", rnd(6), rnd(30));
        let user = format!("u{}", rnd(12));
        events.push(ev(org, secs, &domain, &src, &user));
    }
    for format in [split::FORMAT_V3, split::FORMAT] {
        let mut large_hits = 0;
        let opts = |read_ahead: bool| StoreOptions {
            split_span_secs: 86_400 / 4,
            split_format: format,
            hunt_read_ahead: read_ahead,
            ..small_opts()
        };
        let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        {
            let a = EventStore::open(d1.path(), opts(true)).unwrap();
            let b = EventStore::open(d2.path(), opts(false)).unwrap();
            for (k, chunk) in events.chunks(500).enumerate() {
                a.ingest(&format!("b{k}"), chunk.to_vec()).unwrap();
                b.ingest(&format!("b{k}"), chunk.to_vec()).unwrap();
            }
            a.flush().unwrap();
            b.flush().unwrap();
        }
        let mut ahead = EventStore::open(d1.path(), opts(true)).unwrap();
        let reference = EventStore::open(d2.path(), opts(false)).unwrap();
        assert!(ahead.stats().unwrap().splits >= 12);
        for round in 0..40 {
            if round % 10 == 5 {
                // Splits opened by the next hunt again (the "fresh" path of large hunts).
                drop(ahead);
                ahead = EventStore::open(d1.path(), opts(true)).unwrap();
            }
            let mut indicators: Vec<String> = (0..1 + rnd(8))
                .map(|_| match rnd(6) {
                    0 => format!("d{}.example", rnd(70)),
                    1 => format!("h{}.d{}.example", rnd(3), rnd(70)),
                    2 => format!("10.0.{}.{}", rnd(7), rnd(35)),
                    3 => format!("u{}", rnd(15)),
                    4 => format!("http://h{}.d{}.example/p?{}", rnd(3), rnd(60), rnd(9)),
                    _ => format!("absent{}.test", rnd(1000)),
                })
                .collect();
            if round % 2 == 0 {
                // A large hunt: the read-ahead branch that opens every split first.
                indicators.extend((0..split::PREFETCH_MIN_TERMS).map(|i| match i % 2 {
                    0 => format!("absent{i}.example"),
                    _ => format!("172.16.{}.{}", i / 250, i % 250),
                }));
            }
            let from =
                (rnd(3) == 0).then(|| Timestamp::from_secs(86_400 * 10 + rnd(200_000) as i64));
            let to = (rnd(3) == 0).then(|| Timestamp::from_secs(86_400 * 11 + rnd(200_000) as i64));
            if let (Some(f), Some(t)) = (from, to)
                && f >= t
            {
                continue;
            }
            let filters = if rnd(4) == 0 {
                vec![FieldFilter::parse(&format!("user.name=U{}", rnd(12))).unwrap()]
            } else {
                Vec::new()
            };
            let query = HuntQuery {
                scope: scope(&orgs[..1 + rnd(3) as usize]),
                indicators,
                filters,
                from,
                to,
                limit: (rnd(2) == 0).then(|| rnd(60) as usize),
            };
            let want = reference.hunt(&query).unwrap();
            let got = ahead.hunt(&query).unwrap();
            assert_eq!(got, want, "format {format}, round {round}: {query:?}");
            if round % 2 == 0 {
                large_hits += got.hits.len();
            }
        }
        assert!(
            large_hits > 100,
            "format {format}: large hunts found {large_hits}"
        );
    }
}

/// The read-ahead hints find their byte ranges in the files tantivy writes (a tantivy upgrade
/// that changes a layout fails here; the hunt would still answer right, only slower).
#[test]
fn read_ahead_recognizes_the_layouts_tantivy_writes() {
    for format in [split::FORMAT_V3, split::FORMAT] {
        let dir = tempfile::tempdir().unwrap();
        let opts = StoreOptions {
            split_format: format,
            ..small_opts()
        };
        let store = EventStore::open(dir.path(), opts).unwrap();
        let events: Vec<Event> = (0..2_000i64)
            .map(|i| {
                ev(
                    "org-a",
                    1_000 + i,
                    &format!("host{i}.d{}.example", i % 97),
                    &format!("10.{}.{}.{}", i % 3, i % 200, i % 7),
                    &format!("user{}", i % 31),
                )
            })
            .collect();
        store.ingest("b", events).unwrap();
        store.flush().unwrap();
        let splits = store.splits().unwrap();
        assert_eq!(splits.len(), 1);
        let path = dir.path().join("splits/org-a").join(&splits[0].id);
        let open = split::OpenSplit::open_with(&path, true).unwrap();
        let layouts = open.read_ahead_layouts();
        assert_eq!(layouts.len(), 1, "one segment");
        let (fsts, postings, blocks) = layouts[0];
        assert!(fsts && postings, "format {format}: {layouts:?}");
        // 2,000 events of ~300 bytes of JSON: several 128 KiB doc-store blocks in format 3;
        // format 4 keeps its events in its block file (empty documents: one doc-store block).
        match format {
            split::FORMAT_V3 => assert!(blocks.is_some_and(|n| n >= 3), "{layouts:?}"),
            _ => assert_eq!(blocks, Some(1), "{layouts:?}"),
        }
        // Opened without read-ahead: no layouts learnt.
        let plain = split::OpenSplit::open(&path).unwrap();
        assert!(plain.read_ahead_layouts().is_empty());
    }
}

/// Tiered storage: ingest writes format 3 splits; compaction merges those of open windows
/// among themselves and rewrites sealed windows into format 4 (also a window that is a single
/// format 3 split, and late events after a window was sealed). Every event comes back byte for
/// byte and every hunt answers the same before and after each step, also after a reopen.
#[test]
fn compaction_rewrites_sealed_format_3_windows_into_format_4() {
    let dir = tempfile::tempdir().unwrap();
    let opts = StoreOptions {
        split_format: split::FORMAT_V3,
        compacted_split_format: split::FORMAT,
        ..small_opts()
    };
    let store = EventStore::open(dir.path(), opts.clone()).unwrap();
    const DAY: i64 = 86_400;
    let base = 86_400 * 100;
    // Days 0 and 1: three flushes each; day 2: one flush (a lone format 3 split).
    let mut k = 0;
    let mut batch = |store: &EventStore, day: i64, n: i64| {
        let evs: Vec<Event> = (0..n)
            .map(|j| {
                let i = k * 1000 + j;
                let secs = base + day * DAY + (i % 80_000);
                if j % 3 == 0 {
                    let mut e = odd_event("org-a", i, "zeek.conn", &format!("10.0.0.{}", i % 4));
                    e.timestamp = Timestamp::from_secs(secs);
                    e
                } else {
                    let org = ["org-a", "org-b"][(j % 2) as usize];
                    ev(
                        org,
                        secs,
                        &format!("h{}.evil{}.com", i % 5, i % 7),
                        &format!("10.0.{}.{}", i % 3, i % 9),
                        &format!("u{}", i % 11),
                    )
                }
            })
            .collect();
        store.ingest(&format!("b{k}"), evs).unwrap();
        store.flush().unwrap();
        k += 1;
    };
    for day in [0, 0, 0, 1, 1, 1, 2] {
        batch(&store, day, 60);
    }
    let queries: Vec<HuntQuery> = vec![
        q(&["org-a", "org-b"], &["evil3.com"]),
        q(&["org-a"], &["10.0.0.1", "u7", "user5"]),
        q(
            &["org-a", "org-b"],
            &["http://h1.evil1.com/p?8640071", "10.0.2.5"],
        ),
        HuntQuery {
            filters: vec![FieldFilter::parse("event.dataset=zeek.conn").unwrap()],
            limit: Some(9),
            ..q(&["org-a"], &["10.0.0.2"])
        },
        HuntQuery {
            from: Some(Timestamp::from_secs(base + DAY / 2)),
            to: Some(Timestamp::from_secs(base + DAY + DAY / 2)),
            ..q(&["org-a", "org-b"], &[])
        },
    ];
    let answers = |store: &EventStore| -> Vec<HuntResult> {
        queries
            .iter()
            .map(|qq| HuntResult {
                splits_searched: 0,
                ..store.hunt(qq).unwrap()
            })
            .collect()
    };
    let want = answers(&store);
    assert!(want.iter().all(|r| r.total() > 0));
    let want_jsons = stored_jsons(&store, dir.path());
    assert_eq!(want_jsons.len(), 7 * 60);
    let formats = |store: &EventStore| -> Vec<(i64, String, u32)> {
        let mut f: Vec<(i64, String, u32)> = store
            .splits()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    (s.min_ts.secs() - base).div_euclid(DAY),
                    s.org.as_str().to_string(),
                    s.format,
                )
            })
            .collect();
        f.sort();
        f
    };
    assert!(formats(&store).iter().all(|f| f.2 == 3));
    assert_eq!(formats(&store).len(), 2 * 7);

    // Day 0 is sealed (ended more than 2 h ago), days 1 and 2 are not: day 0 becomes one
    // format 4 split per organization, day 1's format 3 splits are merged as format 3.
    let now = Timestamp::from_secs(base + DAY + 3 * 3600);
    let r = store.compact_at(CompactOptions::default(), now).unwrap();
    assert_eq!((r.splits_removed, r.splits_added), (12, 4));
    let day_formats = |store: &EventStore| -> Vec<(i64, u32)> {
        formats(store).into_iter().map(|(d, _, f)| (d, f)).collect()
    };
    assert_eq!(
        day_formats(&store),
        [(0, 4), (0, 4), (1, 3), (1, 3), (2, 3), (2, 3)]
    );
    assert_eq!(stored_jsons(&store, dir.path()), want_jsons);
    assert_eq!(answers(&store), want);
    for s in store.splits().unwrap().iter().filter(|s| s.format == 4) {
        assert_eq!(s.generation, 1);
        let p = store.split_path(&s.org, &s.id);
        assert!(p.join(crate::block::FILE_NAME).exists());
        assert_eq!(s.bytes, split::dir_bytes(&p).unwrap());
    }

    // Later: days 1 and 2 are sealed too (day 2 is a lone format 3 split per organization).
    let later = Timestamp::from_secs(base + 4 * DAY);
    let r = store.compact_at(CompactOptions::default(), later).unwrap();
    assert_eq!((r.splits_removed, r.splits_added), (4, 4));
    assert_eq!(
        day_formats(&store),
        [(0, 4), (0, 4), (1, 4), (1, 4), (2, 4), (2, 4)]
    );
    assert_eq!(stored_jsons(&store, dir.path()), want_jsons);
    assert_eq!(answers(&store), want);
    // Nothing left to do.
    let r = store.compact_at(CompactOptions::default(), later).unwrap();
    assert_eq!((r.splits_removed, r.splits_added), (0, 0));

    // A late event of sealed day 0 lands in a new format 3 split; the next compaction folds
    // it into the day's format 4 split.
    let late = ev("org-b", base + 500, "late.evil3.com", "10.0.0.1", "late");
    store.ingest("late", vec![late.clone()]).unwrap();
    store.flush().unwrap();
    let r = store.compact_at(CompactOptions::default(), later).unwrap();
    assert_eq!((r.splits_removed, r.splits_added), (2, 1));
    assert_eq!(formats(&store).len(), 6);
    assert!(formats(&store).iter().all(|f| f.2 == 4));
    let mut with_late = want_jsons.clone();
    with_late.push(serde_json::to_string(&late).unwrap());
    with_late.sort_unstable();
    assert_eq!(stored_jsons(&store, dir.path()), with_late);
    let r = store.hunt(&queries[0]).unwrap();
    assert_eq!(r.total(), want[0].total() + 1);
    drop(store);

    // Reopened: only the published splits are left, and they answer the same.
    let store = EventStore::open(dir.path(), opts).unwrap();
    let dirs: usize = ["org-a", "org-b"]
        .iter()
        .map(|o| {
            std::fs::read_dir(dir.path().join("splits").join(o))
                .unwrap()
                .count()
        })
        .sum();
    assert_eq!(dirs, 6);
    assert_eq!(stored_jsons(&store, dir.path()), with_late);
    let mut again = answers(&store);
    again[0]
        .counts
        .entry(OrgId::new("org-b").unwrap())
        .and_modify(|n| *n -= 1);
    again[0].hits.retain(|h| h.event != late);
    assert_eq!(again, want);
}

/// With `compacted_split_format = 3` sealed windows are rewritten into format 3 (format 4
/// splits too), and a format other than 3 or 4 is refused at open.
#[test]
fn compacted_split_format_3_rewrites_format_4_and_others_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let opts = StoreOptions {
        split_format: split::FORMAT,
        compacted_split_format: split::FORMAT_V3,
        ..small_opts()
    };
    let store = EventStore::open(dir.path(), opts.clone()).unwrap();
    sample(&store);
    store.flush().unwrap();
    let before = store
        .hunt(&q(&["org-a", "org-b", "org-c"], &["evil.com"]))
        .unwrap();
    let jsons = stored_jsons(&store, dir.path());
    store.compact(CompactOptions::default()).unwrap();
    assert!(store.splits().unwrap().iter().all(|s| s.format == 3));
    assert_eq!(stored_jsons(&store, dir.path()), jsons);
    let after = store
        .hunt(&q(&["org-a", "org-b", "org-c"], &["evil.com"]))
        .unwrap();
    assert_eq!(
        HuntResult {
            splits_searched: 0,
            ..before
        },
        HuntResult {
            splits_searched: 0,
            ..after
        }
    );
    drop(store);
    let bad = StoreOptions {
        compacted_split_format: 2,
        ..opts
    };
    assert!(matches!(
        EventStore::open(dir.path(), bad),
        Err(StoreError::UnsupportedFormat(2))
    ));
}

/// A compaction whose inputs are unpublished meanwhile (retention) publishes nothing and
/// leaves no output behind: whether an input disappeared from the catalogue only (the check
/// before the swap) or with its files (the rebuild fails, then the same check).
#[test]
fn compaction_discards_its_output_when_an_input_was_removed_meanwhile() {
    let dir = tempfile::tempdir().unwrap();
    let opts = StoreOptions {
        split_format: split::FORMAT_V3,
        ..small_opts()
    };
    let store = EventStore::open(dir.path(), opts).unwrap();
    for b in 0..3 {
        store
            .ingest(
                &format!("b{b}"),
                vec![ev("org-a", 100 + b, "x.evil.com", "10.0.0.1", "u")],
            )
            .unwrap();
        store.flush().unwrap();
    }
    let dirs = || {
        std::fs::read_dir(dir.path().join("splits/org-a"))
            .unwrap()
            .count()
    };
    let splits = store.splits().unwrap();
    assert_eq!((splits.len(), dirs()), (3, 3));
    // Only the catalogue row is gone: the output is built, then not swapped in.
    let gone = splits[0].clone();
    lock(&store.inner)
        .catalogue
        .publish(&[], std::slice::from_ref(&gone.id), None)
        .unwrap();
    let r = store
        .compact_pack(&splits, Rewrite::Rebuild(split::FORMAT))
        .unwrap();
    assert_eq!(r, MaintenanceReport::default());
    assert_eq!(store.splits().unwrap().len(), 2);
    assert_eq!(dirs(), 3, "no output directory left behind");
    // Row and files gone (what retention does): the rebuild fails on the missing input.
    std::fs::remove_dir_all(store.split_path(&gone.org, &gone.id)).unwrap();
    let r = store
        .compact_pack(&splits, Rewrite::Rebuild(split::FORMAT))
        .unwrap();
    assert_eq!(r, MaintenanceReport::default());
    assert_eq!(dirs(), 2);
    // The two published splits still compact.
    let r = store.compact(CompactOptions::default()).unwrap();
    assert_eq!((r.splits_removed, r.splits_added), (2, 1));
    assert_eq!(store.splits().unwrap()[0].format, split::FORMAT);
    assert_eq!(
        store.hunt(&q(&["org-a"], &["evil.com"])).unwrap().total(),
        2
    );
}

/// The splits compaction replaced stay on disk for a grace period after the swap: a hunt that
/// listed them in the catalogue just before can still open and read them; then they go (and
/// all of them when the store is dropped).
#[test]
fn replaced_splits_outlive_the_swap_for_a_grace_period() {
    let dir = tempfile::tempdir().unwrap();
    let opts = StoreOptions {
        split_format: split::FORMAT_V3,
        ..small_opts()
    };
    let store = EventStore::open(dir.path(), opts.clone()).unwrap();
    for b in 0..2 {
        store
            .ingest(
                &format!("b{b}"),
                vec![ev("org-a", 100 + b, "x.evil.com", "10.0.0.1", "u")],
            )
            .unwrap();
        store.flush().unwrap();
    }
    let old: Vec<PathBuf> = store
        .splits()
        .unwrap()
        .iter()
        .map(|s| store.split_path(&s.org, &s.id))
        .collect();
    let r = store.compact(CompactOptions::default()).unwrap();
    assert_eq!((r.splits_removed, r.splits_added), (2, 1));
    for p in &old {
        let open = split::OpenSplit::open(p).unwrap();
        assert_eq!(open.all_events().unwrap().len(), 1);
    }
    // Within the grace period a compaction leaves them.
    store.compact(CompactOptions::default()).unwrap();
    assert!(old.iter().all(|p| p.exists()));
    store.purge_retired(std::time::Duration::ZERO);
    assert!(old.iter().all(|p| !p.exists()));
    // Dropping the store deletes what is left.
    store
        .ingest("b9", vec![ev("org-a", 300, "y.evil.com", "10.0.0.1", "u")])
        .unwrap();
    store.flush().unwrap();
    let before: Vec<PathBuf> = store
        .splits()
        .unwrap()
        .iter()
        .map(|s| store.split_path(&s.org, &s.id))
        .collect();
    store.compact(CompactOptions::default()).unwrap();
    assert!(before.iter().all(|p| p.exists()));
    drop(store);
    assert!(before.iter().all(|p| !p.exists()));
    let store = EventStore::open(dir.path(), opts).unwrap();
    assert_eq!(
        store.hunt(&q(&["org-a"], &["evil.com"])).unwrap().total(),
        3
    );
}

/// The flush hook runs while the splits are built: a failure of either publishes nothing (the
/// splits built are removed, the events stay pending and durable), and the retry publishes
/// every event once, with the hook seeing the same batches again.
#[test]
fn flush_with_publishes_nothing_when_the_build_or_the_hook_fails() {
    let dir = tempfile::tempdir().unwrap();
    let store = EventStore::open(dir.path(), small_opts()).unwrap();
    store
        .ingest(
            "b1",
            vec![
                ev("org-a", 10, "a.com", "10.0.0.1", "u"),
                ev("org-b", 11, "b.com", "10.0.0.2", "v"),
            ],
        )
        .unwrap();
    store
        .ingest("b2", vec![ev("org-a", 20, "c.com", "10.0.0.3", "w")])
        .unwrap();
    let seen = |batches: &[Arc<PendingBatch>]| -> Vec<(u64, usize)> {
        batches
            .iter()
            .map(|b| (b.first_lsn(), b.events().count()))
            .collect()
    };
    let split_dirs = |org: &str| -> usize {
        std::fs::read_dir(dir.path().join("splits").join(org)).map_or(0, |d| d.count())
    };

    // 1. The build of org-b's split fails (a file where its directory goes); the hook succeeds.
    std::fs::create_dir_all(dir.path().join("splits")).unwrap();
    std::fs::write(dir.path().join("splits/org-b"), b"not a directory").unwrap();
    let mut hooked = Vec::new();
    let err = store
        .flush_with(|b| {
            hooked.push(seen(b));
            Ok::<(), String>(())
        })
        .unwrap_err();
    assert!(!matches!(err, StoreError::Hook(_)), "{err}");
    assert_eq!(hooked, vec![vec![(1, 2), (3, 1)]]);
    let s = store.stats().unwrap();
    assert_eq!((s.pending_events, s.checkpoint, s.docs), (3, 0, 0));
    assert_eq!(split_dirs("org-a"), 0, "org-a's split is removed");
    assert_eq!(
        store
            .hunt(&q(&["org-a", "org-b"], &["a.com"]))
            .unwrap()
            .total(),
        1
    );

    // 2. The build succeeds, the hook fails: nothing is published either.
    std::fs::remove_file(dir.path().join("splits/org-b")).unwrap();
    let err = store
        .flush_with(|_| Err::<(), _>("detectors down"))
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Hook(ref m) if m == "detectors down"),
        "{err}"
    );
    let s = store.stats().unwrap();
    assert_eq!((s.pending_events, s.checkpoint, s.docs), (3, 0, 0));
    assert_eq!((split_dirs("org-a"), split_dirs("org-b")), (0, 0));

    // 3. Both succeed: every event is published once, the hook saw the same batches.
    let mut hooked = Vec::new();
    let report = store
        .flush_with(|b| {
            hooked.push(seen(b));
            Ok::<(), String>(())
        })
        .unwrap();
    assert_eq!(hooked, vec![vec![(1, 2), (3, 1)]]);
    assert_eq!((report.checkpoint, report.events, report.splits), (3, 3, 2));
    let s = store.stats().unwrap();
    assert_eq!((s.pending_events, s.checkpoint, s.docs), (0, 3, 3));
    for d in ["a.com", "b.com", "c.com"] {
        let h = store.hunt(&q(&["org-a", "org-b"], &[d])).unwrap();
        assert_eq!(h.total(), 1, "{d}");
    }
}

/// Retention between a compaction's build and its swap: the output, built from inputs whose
/// files retention left for the grace period, is discarded (nothing resurrected), and what
/// retention kept is still found once.
#[test]
fn retention_during_compaction_resurrects_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let opts = StoreOptions {
        split_format: split::FORMAT_V3,
        ..small_opts()
    };
    let store = EventStore::open(dir.path(), opts).unwrap();
    for b in 0..3 {
        store
            .ingest(
                &format!("b{b}"),
                vec![ev("org-a", 100 + b * 1000, "x.evil.com", "10.0.0.1", "u")],
            )
            .unwrap();
        store.flush().unwrap();
    }
    let splits = store.splits().unwrap();
    assert_eq!(splits.len(), 3);
    // Retention removes the oldest split (newest event at 100 s, older than 500 s before 1600 s).
    let r = store
        .apply_retention(Timestamp::from_secs(1600), |_| RetentionPolicy {
            max_age_secs: Some(500),
            max_bytes: None,
        })
        .unwrap();
    assert_eq!(r.total().splits_removed, 1);
    // The compaction planned before it swaps in nothing.
    let c = store
        .compact_pack(&splits, Rewrite::Rebuild(split::FORMAT))
        .unwrap();
    assert_eq!(c, MaintenanceReport::default());
    let r = store.hunt(&q(&["org-a"], &["evil.com"])).unwrap();
    let secs: Vec<i64> = r.hits.iter().map(|h| h.event.timestamp.secs()).collect();
    assert_eq!(secs, [1100, 2100]);
    // A compaction now merges what is left.
    let c = store.compact(CompactOptions::default()).unwrap();
    assert_eq!((c.splits_removed, c.splits_added), (2, 1));
    assert_eq!(
        store.hunt(&q(&["org-a"], &["evil.com"])).unwrap().total(),
        2
    );
}
