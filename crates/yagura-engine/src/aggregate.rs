//! Alert aggregation: the same rule and entities within a window become one alert with
//! `count`, `first_seen`, `last_seen` and at most 20 evidence references (DESIGN.md §4).

use std::collections::HashMap;

use uuid::Uuid;
use yagura_model::{Alert, Entities, OrgId, Timestamp};

/// How alerts are folded together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AggregationConfig {
    /// Occurrences of one fingerprint separated by at most this gap are one alert (seconds).
    pub window_secs: i64,
}

impl Default for AggregationConfig {
    fn default() -> Self {
        AggregationConfig { window_secs: 3600 }
    }
}

/// The namespace of yagura alert ids (UUIDv5 over the fingerprint and first sighting).
const ALERT_NAMESPACE: Uuid = Uuid::from_u128(0x8f4e_2a1c_93b6_4d1e_a7c2_5e0b_f1d3_9a64);

/// A deterministic alert id: the same detection on the same data always gets the same id, so
/// re-running a batch or replaying a log does not duplicate alerts in the store.
pub fn alert_id(org: &OrgId, rule_id: &str, entities: &Entities, first_seen: Timestamp) -> String {
    let mut key = String::with_capacity(128);
    key.push_str(org.as_str());
    key.push('\u{1f}');
    key.push_str(rule_id);
    for (k, v) in entities.iter() {
        key.push('\u{1f}');
        key.push_str(k);
        key.push('=');
        key.push_str(v);
    }
    key.push('\u{1f}');
    key.push_str(&first_seen.nanos().to_string());
    Uuid::new_v5(&ALERT_NAMESPACE, key.as_bytes()).to_string()
}

type Fingerprint = (OrgId, String, Entities);

/// Folds alerts of the same fingerprint that arrive within the window of each other.
/// Input need not be ordered; output is ordered by `first_seen`, then id.
#[derive(Debug, Default)]
pub struct Aggregator {
    config: AggregationConfig,
    open: HashMap<Fingerprint, Alert>,
    closed: Vec<Alert>,
}

impl Aggregator {
    pub fn new(config: AggregationConfig) -> Aggregator {
        Aggregator {
            config,
            open: HashMap::new(),
            closed: Vec::new(),
        }
    }

    pub fn push(&mut self, alert: Alert) {
        let key = alert.fingerprint();
        let window = self.config.window_secs;
        match self.open.get_mut(&key) {
            Some(agg) if overlaps_within(agg, &alert, window) => {
                agg.absorb(&alert);
                agg.time = agg.time.max(alert.time);
            }
            Some(agg) => {
                let done = std::mem::replace(agg, alert);
                self.closed.push(done);
            }
            None => {
                self.open.insert(key, alert);
            }
        }
    }

    /// Closes aggregates whose last sighting is more than the window before `now`
    /// (event time), returning them. Streaming callers call this as time advances.
    pub fn drain_idle(&mut self, now: Timestamp) -> Vec<Alert> {
        let cutoff = now.saturating_sub_secs(self.config.window_secs);
        let idle: Vec<Fingerprint> = self
            .open
            .iter()
            .filter(|(_, a)| a.last_seen < cutoff)
            .map(|(k, _)| k.clone())
            .collect();
        let mut out = std::mem::take(&mut self.closed);
        for k in idle {
            if let Some(a) = self.open.remove(&k) {
                out.push(a);
            }
        }
        finalize(&mut out);
        out
    }

    /// The aggregates still open, with their final ids (a snapshot: they keep growing). For
    /// showing alerts before their window closes and for streaming checkpoints.
    pub fn open_alerts(&self) -> Vec<Alert> {
        let mut out: Vec<Alert> = self.open.values().cloned().collect();
        finalize(&mut out);
        out
    }

    /// An aggregator resuming the open aggregates of a checkpoint ([`Aggregator::open_alerts`]).
    pub fn resume(config: AggregationConfig, open: Vec<Alert>) -> Aggregator {
        let mut agg = Aggregator::new(config);
        for a in open {
            agg.open.insert(a.fingerprint(), a);
        }
        agg
    }

    /// Everything, closed and open.
    pub fn finish(mut self) -> Vec<Alert> {
        let mut out = std::mem::take(&mut self.closed);
        out.extend(self.open.into_values());
        finalize(&mut out);
        out
    }
}

fn overlaps_within(agg: &Alert, next: &Alert, window_secs: i64) -> bool {
    next.first_seen <= agg.last_seen.saturating_add_secs(window_secs)
        && next.last_seen >= agg.first_seen.saturating_sub_secs(window_secs)
}

/// Gives every alert its deterministic id and sorts the output.
fn finalize(alerts: &mut [Alert]) {
    for a in alerts.iter_mut() {
        a.id = alert_id(&a.org, &a.rule_id, &a.entities, a.first_seen);
    }
    alerts.sort_by(|a, b| {
        a.first_seen
            .cmp(&b.first_seen)
            .then_with(|| a.id.cmp(&b.id))
    });
}

#[cfg(test)]
mod tests {
    use yagura_model::{Detector, EvidenceRef, Severity};

    use super::*;

    fn raw(rule: &str, host: &str, secs: i64, line: u64) -> Alert {
        let t = Timestamp::from_secs(1_767_571_200 + secs);
        Alert {
            id: String::new(),
            time: t,
            org: OrgId::new("moh").unwrap(),
            detector: Detector::Ioc,
            rule_id: rule.into(),
            title: "t".into(),
            severity: Severity::Medium,
            attack: vec![],
            entities: Entities {
                host: Some(host.into()),
                ..Default::default()
            },
            first_seen: t,
            last_seen: t,
            count: 1,
            evidence: vec![EvidenceRef {
                file: "f".into(),
                line,
            }],
            summary: String::new(),
            retrospective: false,
            context: Default::default(),
        }
    }

    /// `check(input, expect)`: input is (rule, host, secs) triples; expect is one line per
    /// output alert: `rule host first..last count evidence`.
    fn check(window: i64, input: &[(&str, &str, i64)], expect: &str) {
        let mut agg = Aggregator::new(AggregationConfig {
            window_secs: window,
        });
        for (i, (r, h, s)) in input.iter().enumerate() {
            agg.push(raw(r, h, *s, i as u64 + 1));
        }
        let out = agg.finish();
        let got: Vec<String> = out
            .iter()
            .map(|a| {
                format!(
                    "{} {} {}..{} {} {}",
                    a.rule_id,
                    a.entities.host.as_deref().unwrap_or("-"),
                    a.first_seen.secs() - 1_767_571_200,
                    a.last_seen.secs() - 1_767_571_200,
                    a.count,
                    a.evidence.len()
                )
            })
            .collect();
        assert_eq!(got.join("\n"), expect.trim());
    }

    #[test]
    fn same_rule_and_entities_within_window_fold() {
        check(
            60,
            &[("r", "a", 0), ("r", "a", 30), ("r", "a", 80)],
            "r a 0..80 3 3",
        );
    }

    #[test]
    fn gap_beyond_window_starts_a_new_alert() {
        check(
            60,
            &[("r", "a", 0), ("r", "a", 60), ("r", "a", 121)],
            "r a 0..60 2 2\nr a 121..121 1 1",
        );
    }

    #[test]
    fn different_entities_or_rules_stay_apart() {
        check(
            60,
            &[("r", "a", 0), ("r", "b", 1), ("s", "a", 2)],
            "r a 0..0 1 1\nr b 1..1 1 1\ns a 2..2 1 1",
        );
    }

    #[test]
    fn evidence_is_capped_at_twenty() {
        let input: Vec<_> = (0..100).map(|i| ("r", "a", i)).collect();
        check(60, &input, "r a 0..99 100 20");
    }

    #[test]
    fn ids_are_deterministic_and_distinct() {
        let org = OrgId::new("moh").unwrap();
        let e = Entities {
            host: Some("pc".into()),
            ..Default::default()
        };
        let t = Timestamp::from_secs(5);
        assert_eq!(alert_id(&org, "r", &e, t), alert_id(&org, "r", &e, t));
        assert_ne!(alert_id(&org, "r", &e, t), alert_id(&org, "r2", &e, t));
        assert_ne!(
            alert_id(&org, "r", &e, t),
            alert_id(&org, "r", &e, Timestamp::from_secs(6))
        );
    }

    #[test]
    fn drain_idle_closes_only_idle_aggregates() {
        let mut agg = Aggregator::new(AggregationConfig { window_secs: 60 });
        agg.push(raw("r", "a", 0, 1));
        agg.push(raw("r", "b", 100, 2));
        let out = agg.drain_idle(Timestamp::from_secs(1_767_571_200 + 120));
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].entities.host.as_deref(), Some("a"));
        assert_eq!(agg.finish().len(), 1);
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;

        proptest! {
            #[test]
            fn counts_are_conserved(secs in proptest::collection::vec(0i64..10_000, 1..200), window in 1i64..2000) {
                let mut agg = Aggregator::new(AggregationConfig { window_secs: window });
                for (i, s) in secs.iter().enumerate() {
                    agg.push(raw("r", if i % 2 == 0 { "a" } else { "b" }, *s, i as u64));
                }
                let out = agg.finish();
                prop_assert_eq!(out.iter().map(|a| a.count).sum::<u64>(), secs.len() as u64);
                prop_assert!(out.iter().all(|a| a.first_seen <= a.last_seen && a.evidence.len() <= 20));
            }
        }
    }
}
