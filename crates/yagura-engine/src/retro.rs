//! Retro-hunt: when indicators arrive, stored history is searched for past contacts, and each
//! contact raises an IOC alert marked `retrospective`.
//!
//! The event store's term index preselects the events bearing an indicator value (one
//! term-set query per split); the same IOC stage as live detection then decides on each of
//! them (indicator kind, port, validity at event time, warninglists), so a retrospective alert
//! means exactly what a live one would have meant, and gets the same deterministic id after
//! aggregation.
//!
//! Validity: an indicator's `valid_from` that is only its import time (a default applied by
//! the importer, not a statement of the feed) does not hide earlier contacts; explicit
//! validity windows from the feed are kept. CIDR indicators cannot be looked up as terms and
//! are counted in [`RetroReport::skipped_cidr`].

use std::collections::BTreeMap;
use std::sync::Arc;

use yagura_eventstore::{EventStore, HuntQuery, StoreError};
use yagura_intel::{IndicatorStore, LiveMatcher, Warninglists};
use yagura_model::{Alert, IndicatorKind, OrgId, Scope, Timestamp};

use crate::aggregate::{AggregationConfig, Aggregator};
use crate::batch::EventStage;
use crate::stages::IocStage;

/// Options of a retro-hunt.
#[derive(Debug, Clone)]
pub struct RetroOptions {
    /// Organizations whose history is searched.
    pub scope: Scope,
    /// Time range of the history searched (`None`: all of it).
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
    /// The import time: a `valid_from` equal to it is the importer's default and is ignored.
    pub imported_at: Option<Timestamp>,
    /// Most stored events examined (the counts are complete regardless).
    pub max_events: usize,
    pub aggregation: AggregationConfig,
}

impl Default for RetroOptions {
    fn default() -> Self {
        RetroOptions {
            scope: Scope::none(),
            from: None,
            to: None,
            imported_at: None,
            max_events: 1_000_000,
            aggregation: AggregationConfig::default(),
        }
    }
}

/// What a retro-hunt found.
#[derive(Debug, Clone, Default)]
pub struct RetroReport {
    /// Indicators looked up.
    pub indicators: usize,
    /// Detection-grade indicators that are CIDR ranges (not searchable by term).
    pub skipped_cidr: usize,
    /// Stored events bearing an indicator value, per organization (complete).
    pub events_matched: BTreeMap<OrgId, u64>,
    /// Events examined (at most `max_events`).
    pub events_examined: usize,
    /// True when more events matched than were examined.
    pub truncated: bool,
    /// Matches a benign warninglist suppressed.
    pub suppressed: u64,
    /// Aggregated alerts, all `retrospective`.
    pub alerts: Vec<Alert>,
    pub splits_searched: usize,
}

/// Searches `events` for the detection-grade indicators of `indicators`.
pub fn retro_hunt(
    events: &EventStore,
    indicators: &IndicatorStore,
    warninglists: Arc<Warninglists>,
    opts: &RetroOptions,
) -> Result<RetroReport, StoreError> {
    let mut report = RetroReport::default();
    let mut matchable = IndicatorStore::new();
    let mut terms = Vec::new();
    for r in indicators.iter() {
        if !r.meta.to_ids {
            continue;
        }
        if r.kind == IndicatorKind::Cidr {
            report.skipped_cidr += 1;
            continue;
        }
        let mut ind = r.to_indicator();
        if ind.valid_from.is_some() && ind.valid_from == opts.imported_at {
            ind.valid_from = None;
        }
        terms.push(ind.value.clone());
        matchable.insert(&ind);
    }
    report.indicators = terms.len();
    if terms.is_empty() || opts.scope.is_empty() {
        return Ok(report);
    }
    let hunt = events.hunt(&HuntQuery {
        scope: opts.scope.clone(),
        indicators: terms,
        filters: Vec::new(),
        from: opts.from,
        to: opts.to,
        limit: Some(opts.max_events),
    })?;
    report.events_matched = hunt.counts.clone();
    report.events_examined = hunt.hits.len();
    report.truncated = hunt.total() > hunt.hits.len() as u64;
    report.splits_searched = hunt.splits_searched;

    let stage = IocStage::new(Arc::new(LiveMatcher::new(matchable, warninglists)));
    let mut aggregator = Aggregator::new(opts.aggregation);
    let mut raised = Vec::new();
    for hit in &hunt.hits {
        stage.on_event(&hit.event, &mut raised);
        for mut a in raised.drain(..) {
            a.retrospective = true;
            aggregator.push(a);
        }
    }
    report.suppressed = stage.suppressed.load(std::sync::atomic::Ordering::Relaxed);
    report.alerts = aggregator.finish();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use yagura_eventstore::StoreOptions;
    use yagura_model::{Event, Indicator, Tlp};

    fn ev(org: &str, secs: i64, domain: &str, src: &str) -> Event {
        let json = format!(
            r#"{{"@timestamp":"{}","organization":{{"id":"{org}"}},
                "event":{{"dataset":"zeek.dns"}},"source":{{"ip":"{src}"}},
                "destination":{{"ip":"10.0.0.53"}},"dns":{{"question":{{"name":"{domain}"}}}}}}"#,
            Timestamp::from_secs(secs).to_rfc3339()
        );
        serde_json::from_str(&json).unwrap()
    }

    fn indicator(value: &str, valid_from: Option<i64>, to_ids: bool) -> Indicator {
        Indicator {
            kind: IndicatorKind::Domain,
            value: value.into(),
            port: None,
            source: "feed".into(),
            confidence: 80,
            tlp: Tlp::Green,
            first_seen: None,
            last_seen: None,
            valid_from: valid_from.map(Timestamp::from_secs),
            valid_until: None,
            tags: Vec::new(),
            to_ids,
            description: None,
        }
    }

    fn scope(orgs: &[&str]) -> Scope {
        Scope::orgs(orgs.iter().map(|o| OrgId::new(o).unwrap()).collect())
    }

    #[test]
    fn past_contacts_raise_retrospective_alerts_in_scope() {
        let dir = tempfile::tempdir().unwrap();
        let store = EventStore::open(dir.path(), StoreOptions::default()).unwrap();
        store
            .ingest(
                "b1",
                vec![
                    ev("moh", 1_000, "a.evil.example", "10.1.0.5"),
                    ev("moh", 1_100, "a.evil.example", "10.1.0.5"),
                    ev("moh", 1_200, "good.example", "10.1.0.6"),
                    ev("mof", 1_300, "evil.example", "10.2.0.7"),
                    ev("mext", 1_300, "evil.example", "10.3.0.7"),
                ],
            )
            .unwrap();
        store.flush().unwrap();
        // One more, still pending in the WAL: found too.
        store
            .ingest("b2", vec![ev("moh", 9_000, "evil.example", "10.1.0.9")])
            .unwrap();

        let imported_at = 5_000;
        let mut feed = IndicatorStore::new();
        // Default-applied validity (the import time) does not hide earlier contacts.
        feed.insert(&indicator("evil.example", Some(imported_at), true));
        // Context-only indicators are not hunted.
        feed.insert(&indicator("good.example", None, false));
        let opts = RetroOptions {
            scope: scope(&["moh", "mof"]),
            imported_at: Some(Timestamp::from_secs(imported_at)),
            ..RetroOptions::default()
        };
        let r = retro_hunt(&store, &feed, Arc::new(Warninglists::new()), &opts).unwrap();
        assert_eq!(r.indicators, 1);
        let matched: Vec<(String, u64)> = r
            .events_matched
            .iter()
            .map(|(o, n)| (o.to_string(), *n))
            .collect();
        assert_eq!(matched, [("mof".into(), 1), ("moh".into(), 3)]);
        assert!(!r.truncated);
        assert!(r.alerts.iter().all(|a| a.retrospective));
        assert!(
            r.alerts.iter().all(|a| a.org.as_str() != "mext"),
            "outside the scope"
        );
        let mut got: Vec<String> = r
            .alerts
            .iter()
            .map(|a| {
                format!(
                    "{} {} {}",
                    a.org,
                    a.entities.src_ip.as_deref().unwrap_or("-"),
                    a.count
                )
            })
            .collect();
        got.sort();
        assert_eq!(got, ["mof 10.2.0.7 1", "moh 10.1.0.5 2", "moh 10.1.0.9 1"]);

        // An explicit validity window from the feed is respected.
        let mut later = IndicatorStore::new();
        later.insert(&indicator("evil.example", Some(1_250), true));
        let r = retro_hunt(&store, &later, Arc::new(Warninglists::new()), &opts).unwrap();
        let mut orgs: Vec<&str> = r.alerts.iter().map(|a| a.org.as_str()).collect();
        orgs.sort();
        assert_eq!(orgs, ["mof", "moh"]);

        // Same data, same alert ids (the state store folds re-runs).
        let again = retro_hunt(&store, &feed, Arc::new(Warninglists::new()), &opts).unwrap();
        let ids =
            |r: &RetroReport| -> Vec<String> { r.alerts.iter().map(|a| a.id.clone()).collect() };
        assert_eq!(
            ids(&again),
            ids(&retro_hunt(&store, &feed, Arc::new(Warninglists::new()), &opts).unwrap())
        );
    }
}
