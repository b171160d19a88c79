use std::collections::BTreeMap;
use std::sync::Arc;

use yagura_eventstore::{EventStore, HuntQuery, StoreOptions};
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

fn consumer(dir: &std::path::Path, store: Arc<EventStore>, state: Arc<SqliteStore>) -> Consumer {
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
        },
    )
    .unwrap()
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
