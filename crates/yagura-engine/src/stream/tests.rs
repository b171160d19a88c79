use std::collections::BTreeMap;
use std::sync::Arc;

use yagura_eventstore::{EventStore, HuntQuery, StoreOptions, WalOptions};
use yagura_model::{Alert, Detector, Entities, Event, OrgId, Scope, Severity, Timestamp};
use yagura_store::{AlertFilter, Page, SqliteStore, StateStore};

use super::*;
use crate::Stage;

fn org(s: &str) -> OrgId {
    OrgId::new(s).unwrap()
}

#[test]
fn body_lines_are_parsed_and_bad_ones_rejected_with_line_and_reason() {
    let body = concat!(
        r#"{"@timestamp":"2026-01-05T01:00:00Z","event":{"id":"a","dataset":"zeek.dns"},"dns":{"question":{"name":"x.example"}}}"#,
        "\n",
        "not json at all\n",
        r#"{"@timestamp":"2026-01-05T01:00:01Z","organization":{"id":"moh"},"event":{"id":"b"}}"#,
        "\n",
        r#"{"@timestamp":"2026-01-05T01:00:02Z","organization":{"id":"mof"},"event":{"id":"c"}}"#,
        "\n",
    );
    let (events, rejects) =
        parse_body(&org("moh"), "http/t", Some(Format::Ecs), body.as_bytes()).unwrap();
    let ids: Vec<_> = events
        .iter()
        .map(|e| {
            (
                e.event.id.as_deref().unwrap_or("").to_string(),
                e.org().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        ids,
        vec![
            ("a".to_string(), "moh".to_string()),
            ("b".to_string(), "moh".to_string())
        ]
    );
    assert_eq!(rejects.len(), 2, "{rejects:?}");
    assert_eq!(rejects[0].line, 2);
    assert_eq!(rejects[1].line, 4);
    assert!(
        rejects[1].reason.contains("not the key's organization"),
        "{rejects:?}"
    );
}

/// A stateful stage: alerts when one host has been seen `threshold` times (a window in
/// progress across restarts).
#[derive(Debug)]
struct CountStage {
    threshold: u64,
    counts: BTreeMap<String, u64>,
}

impl Stage for CountStage {
    fn name(&self) -> &'static str {
        "count"
    }

    fn on_event(&mut self, event: &Event, out: &mut Vec<Alert>) {
        let host = event.host.name.as_deref().unwrap_or("").to_string();
        let n = self.counts.entry(host.clone()).or_default();
        *n += 1;
        if *n == self.threshold {
            let entities = Entities {
                host: Some(host.clone()),
                ..Entities::default()
            };
            out.push(Alert {
                id: String::new(),
                time: event.timestamp,
                org: event.org().cloned().unwrap(),
                detector: Detector::Analytic,
                rule_id: "test.count".into(),
                title: "count".into(),
                severity: Severity::Medium,
                attack: Vec::new(),
                entities,
                first_seen: event.timestamp,
                last_seen: event.timestamp,
                count: 1,
                evidence: Vec::new(),
                summary: String::new(),
                retrospective: false,
                context: serde_json::Map::new(),
            });
        }
    }

    fn finish(&mut self, _out: &mut Vec<Alert>) {}

    fn checkpoint(&self) -> Result<Option<Box<serde_json::value::RawValue>>, String> {
        serde_json::value::to_raw_value(&self.counts)
            .map(Some)
            .map_err(|e| e.to_string())
    }

    fn restore(&mut self, state: &serde_json::value::RawValue) -> Result<(), String> {
        self.counts = serde_json::from_str(state.get()).map_err(|e| e.to_string())?;
        Ok(())
    }
}

fn body(from: u64, to: u64) -> String {
    (from..to)
        .map(|i| {
            format!(
                r#"{{"@timestamp":"{}","event":{{"id":"e{i}","dataset":"zeek.conn"}},"host":{{"name":"pc-1"}}}}"#,
                Timestamp::from_secs(1_767_571_200 + i as i64).to_rfc3339()
            ) + "\n"
        })
        .collect()
}

/// A consumer with the counting stage (alert at the 10th sighting of a host) that writes its
/// detector checkpoint every `checkpoint_events` events (and on a clean stop).
fn consumer_every(
    dir: &std::path::Path,
    store: Arc<EventStore>,
    state: Arc<SqliteStore>,
    checkpoint_events: u64,
) -> Consumer {
    let mut detectors = Detectors::default();
    detectors.ordered.push(Box::new(CountStage {
        threshold: 10,
        counts: BTreeMap::new(),
    }));
    Consumer::new(
        store,
        state,
        detectors,
        ConsumerOptions {
            flush_events: 1,
            flush_interval: Duration::from_millis(1),
            aggregation: AggregationConfig::default(),
            correlation: CorrelationConfig::default(),
            checkpoint_path: dir.join("detectors.json"),
            scope: Scope::orgs([org("moh")].into_iter().collect()),
            compact_every: 0,
            checkpoint_events,
            checkpoint_interval: Duration::from_secs(3600),
        },
    )
    .unwrap()
}

fn consumer(dir: &std::path::Path, store: Arc<EventStore>, state: Arc<SqliteStore>) -> Consumer {
    consumer_every(dir, store, state, 1)
}

#[test]
fn a_restart_keeps_detector_windows_and_publishes_every_event_once() {
    let dir = tempfile::tempdir().unwrap();
    let state = Arc::new(SqliteStore::open(&dir.path().join("state.db")).unwrap());
    let inv = yagura_model::Inventory::from_toml(
        "[[org]]\nid = \"moh\"\nname = \"Ministry\"\nkind = \"center\"\n",
    )
    .unwrap();
    state.replace_orgs(inv.orgs()).unwrap();
    {
        let store = Arc::new(
            EventStore::open(&dir.path().join("events"), StoreOptions::default()).unwrap(),
        );
        let intake = Intake::new(Arc::clone(&store));
        let r = intake
            .submit(
                &org("moh"),
                "b1",
                Some(Format::Ecs),
                body(0, 6).as_bytes(),
                true,
            )
            .unwrap();
        assert_eq!((r.accepted, r.duplicate), (6, false));
        let mut c = consumer(dir.path(), Arc::clone(&store), Arc::clone(&state));
        assert_eq!(c.step().unwrap(), 6);
        // Acknowledged but not yet consumed when the process stops.
        intake
            .submit(
                &org("moh"),
                "b2",
                Some(Format::Ecs),
                body(6, 8).as_bytes(),
                true,
            )
            .unwrap();
    }
    // Restart: the WAL replays b2; the detector resumes at 6 seen events.
    let store =
        Arc::new(EventStore::open(&dir.path().join("events"), StoreOptions::default()).unwrap());
    let intake = Intake::new(Arc::clone(&store));
    let again = intake
        .submit(
            &org("moh"),
            "b1",
            Some(Format::Ecs),
            body(0, 6).as_bytes(),
            true,
        )
        .unwrap();
    assert!(
        again.duplicate,
        "a retried batch is acknowledged, not stored twice"
    );
    intake
        .submit(
            &org("moh"),
            "b3",
            Some(Format::Ecs),
            body(8, 12).as_bytes(),
            true,
        )
        .unwrap();
    let mut c = consumer(dir.path(), Arc::clone(&store), Arc::clone(&state));
    assert_eq!(c.step().unwrap(), 6);
    let scope = Scope::orgs([org("moh")].into_iter().collect());
    let alerts = state
        .list_alerts(
            &scope,
            &AlertFilter::default(),
            &Page {
                offset: 0,
                limit: 10,
            },
        )
        .unwrap();
    assert_eq!(
        alerts.len(),
        1,
        "the 10th sighting across the restart alerts once"
    );
    assert_eq!(
        alerts[0].alert.first_seen,
        Timestamp::from_secs(1_767_571_200 + 9)
    );
    let hunt = store
        .hunt(&HuntQuery {
            scope,
            ..HuntQuery::default()
        })
        .unwrap();
    assert_eq!(hunt.total(), 12, "every event stored once");
    assert_eq!(store.stats().unwrap().pending_events, 0);
}

/// A state DB knowing organization `moh`.
fn state_db(dir: &std::path::Path) -> Arc<SqliteStore> {
    let state = Arc::new(SqliteStore::open(&dir.join("state.db")).unwrap());
    let inv = yagura_model::Inventory::from_toml(
        "[[org]]\nid = \"moh\"\nname = \"Ministry\"\nkind = \"center\"\n",
    )
    .unwrap();
    state.replace_orgs(inv.orgs()).unwrap();
    state
}

/// A store whose WAL starts a segment at every group commit, so that a flush truncates
/// whatever its WAL floor does not protect.
fn small_segment_store(dir: &std::path::Path) -> Arc<EventStore> {
    let opts = StoreOptions {
        wal: WalOptions {
            segment_bytes: 1,
            ..WalOptions::default()
        },
        ..StoreOptions::default()
    };
    Arc::new(EventStore::open(&dir.join("events"), opts).unwrap())
}

fn push(store: &Arc<EventStore>, id: &str, from: u64, to: u64) {
    let r = Intake::new(Arc::clone(store))
        .submit(
            &org("moh"),
            id,
            Some(Format::Ecs),
            body(from, to).as_bytes(),
            true,
        )
        .unwrap();
    assert_eq!((r.accepted, r.duplicate), (to - from, false));
}

/// The alerts of `moh` as (first seen, count).
fn alerts_of(state: &SqliteStore) -> Vec<(Timestamp, u64)> {
    let scope = Scope::orgs([org("moh")].into_iter().collect());
    let page = Page {
        offset: 0,
        limit: 100,
    };
    let mut out: Vec<(Timestamp, u64)> = state
        .list_alerts(&scope, &AlertFilter::default(), &page)
        .unwrap()
        .into_iter()
        .map(|a| (a.alert.first_seen, a.alert.count))
        .collect();
    out.sort();
    out
}

fn checkpoint_lsn(dir: &std::path::Path) -> u64 {
    let bytes = std::fs::read(dir.join("detectors.json")).unwrap();
    serde_json::from_slice::<DetectorCheckpoint>(&bytes)
        .unwrap()
        .lsn
}

/// The 10th sighting of the host is event 9.
fn tenth_sighting() -> Vec<(Timestamp, u64)> {
    vec![(Timestamp::from_secs(1_767_571_200 + 9), 1)]
}

#[test]
fn a_crash_between_detector_checkpoints_replays_the_published_events_into_the_detectors() {
    let dir = tempfile::tempdir().unwrap();
    let state = state_db(dir.path());
    {
        let store = small_segment_store(dir.path());
        let mut c = consumer_every(dir.path(), Arc::clone(&store), Arc::clone(&state), 5);
        push(&store, "b1", 0, 6);
        assert_eq!(c.step().unwrap(), 6);
        assert_eq!(checkpoint_lsn(dir.path()), 6, "6 events ≥ 5: checkpointed");
        // Two batches: b2's WAL segment is sealed (truncatable) once b2' is written.
        push(&store, "b2", 6, 8);
        push(&store, "b2'", 8, 9);
        assert_eq!(c.step().unwrap(), 3);
        assert_eq!(checkpoint_lsn(dir.path()), 6, "3 more events: not yet");
        assert_eq!(store.checkpoint(), 9, "b2 is published all the same");
        // Acknowledged, not consumed; then the process dies (no clean stop).
        push(&store, "b3", 9, 11);
    }
    let store = small_segment_store(dir.path());
    let mut c = consumer_every(dir.path(), Arc::clone(&store), Arc::clone(&state), 5);
    assert_eq!(
        c.stats.replayed.load(Ordering::Relaxed),
        3,
        "b2 and b2' (published after the checkpoint) replayed into the detectors"
    );
    assert_eq!(c.stats.replay_gap.load(Ordering::Relaxed), 0);
    assert_eq!(checkpoint_lsn(dir.path()), 9, "caught up and checkpointed");
    assert_eq!(c.step().unwrap(), 2, "b3 from the store's own replay");
    assert_eq!(
        alerts_of(&state),
        tenth_sighting(),
        "the 10th sighting alerts once: b2 counted once, neither forgotten nor twice"
    );
    let hunt = store
        .hunt(&HuntQuery {
            scope: Scope::orgs([org("moh")].into_iter().collect()),
            ..HuntQuery::default()
        })
        .unwrap();
    assert_eq!(hunt.total(), 11, "the replay did not store b2 again");
}

#[test]
fn without_any_detector_checkpoint_the_whole_retained_log_is_replayed() {
    let dir = tempfile::tempdir().unwrap();
    let state = state_db(dir.path());
    {
        let store = small_segment_store(dir.path());
        let mut c = consumer_every(dir.path(), Arc::clone(&store), Arc::clone(&state), 100);
        for (i, from) in [0u64, 3, 6].into_iter().enumerate() {
            push(&store, &format!("b{i}"), from, from + 3);
            assert_eq!(c.step().unwrap(), 3);
        }
        assert!(!dir.path().join("detectors.json").exists());
    }
    let store = small_segment_store(dir.path());
    let mut c = consumer_every(dir.path(), Arc::clone(&store), Arc::clone(&state), 100);
    assert_eq!(c.stats.replayed.load(Ordering::Relaxed), 9);
    assert_eq!(c.stats.replay_gap.load(Ordering::Relaxed), 0);
    push(&store, "b3", 9, 12);
    assert_eq!(c.step().unwrap(), 3);
    assert_eq!(alerts_of(&state), tenth_sighting());
}

#[test]
fn a_clean_stop_checkpoints_the_detectors_and_the_wal_is_truncated_up_to_them() {
    let dir = tempfile::tempdir().unwrap();
    let state = state_db(dir.path());
    {
        let store = small_segment_store(dir.path());
        let c = consumer_every(dir.path(), Arc::clone(&store), Arc::clone(&state), 100);
        for (i, from) in [0u64, 4].into_iter().enumerate() {
            push(&store, &format!("b{i}"), from, from + 4);
        }
        let stats = Arc::clone(&c.stats);
        let stop = Arc::new(AtomicBool::new(true));
        c.run(stop);
        assert_eq!(stats.checkpoints.load(Ordering::Relaxed), 1);
        assert_eq!(
            checkpoint_lsn(dir.path()),
            8,
            "the stop's flush checkpointed"
        );
        push(&store, "b2", 8, 9);
        // The next flush truncates the WAL through the floor the checkpoint set.
        let c = consumer_every(dir.path(), Arc::clone(&store), Arc::clone(&state), 100);
        let mut c = c;
        assert_eq!(c.stats.replayed.load(Ordering::Relaxed), 0);
        assert_eq!(c.step().unwrap(), 1);
        let segments = std::fs::read_dir(dir.path().join("events/wal"))
            .unwrap()
            .count();
        assert!(segments <= 2, "{segments} WAL segments left");
    }
    let store = small_segment_store(dir.path());
    let c = consumer_every(dir.path(), Arc::clone(&store), Arc::clone(&state), 100);
    assert_eq!(c.stats.replayed.load(Ordering::Relaxed), 1, "b2 only");
    assert_eq!(c.stats.replay_gap.load(Ordering::Relaxed), 0);
}
