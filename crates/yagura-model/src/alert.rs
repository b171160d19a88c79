//! Alerts, exactly as the contract's JSON lines (DESIGN.md §4).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{AttackId, OrgId, Severity, Timestamp};

/// Which family of detectors raised an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Detector {
    Ioc,
    Sigma,
    Analytic,
    Policy,
    Correlation,
}

impl Detector {
    pub fn as_str(self) -> &'static str {
        match self {
            Detector::Ioc => "ioc",
            Detector::Sigma => "sigma",
            Detector::Analytic => "analytic",
            Detector::Policy => "policy",
            Detector::Correlation => "correlation",
        }
    }
}

impl fmt::Display for Detector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The entities an alert is about; only the keys that apply are present.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Entities {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src_ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dst_ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

impl Entities {
    /// (key, value) pairs of the entities present, in contract order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &str)> {
        [
            ("host", &self.host),
            ("src_ip", &self.src_ip),
            ("user", &self.user),
            ("domain", &self.domain),
            ("dst_ip", &self.dst_ip),
            ("url", &self.url),
            ("hash", &self.hash),
            ("email", &self.email),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.as_deref().map(|v| (k, v)))
    }

    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }
}

/// Where the evidence of an alert was read.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct EvidenceRef {
    pub file: String,
    pub line: u64,
}

/// The maximum number of evidence references an alert carries (DESIGN.md §4).
pub const MAX_EVIDENCE: usize = 20;

/// One alert line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub id: String,
    /// Event time at which the detection fired.
    pub time: Timestamp,
    pub org: OrgId,
    pub detector: Detector,
    pub rule_id: String,
    pub title: String,
    pub severity: Severity,
    #[serde(default)]
    pub attack: Vec<AttackId>,
    #[serde(default)]
    pub entities: Entities,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    pub count: u64,
    #[serde(default)]
    pub evidence: Vec<EvidenceRef>,
    #[serde(default)]
    pub summary: String,
    /// Raised by a retro-hunt over stored history rather than on arrival (yagura extension).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub retrospective: bool,
    /// Detector-specific details (indicator provenance, scores, …) (yagura extension).
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub context: serde_json::Map<String, serde_json::Value>,
}

impl Alert {
    /// The aggregation and false-positive identity: organization, rule and entity values.
    pub fn fingerprint(&self) -> (OrgId, String, Entities) {
        (
            self.org.clone(),
            self.rule_id.clone(),
            self.entities.clone(),
        )
    }

    /// Adds an evidence reference, keeping at most [`MAX_EVIDENCE`] (the first ones).
    pub fn push_evidence(&mut self, e: EvidenceRef) {
        if self.evidence.len() < MAX_EVIDENCE && !self.evidence.contains(&e) {
            self.evidence.push(e);
        }
    }

    /// Folds a later occurrence of the same fingerprint into this alert.
    pub fn absorb(&mut self, other: &Alert) {
        self.first_seen = self.first_seen.min(other.first_seen);
        self.last_seen = self.last_seen.max(other.last_seen);
        self.count = self.count.saturating_add(other.count);
        self.severity = self.severity.max(other.severity);
        for e in &other.evidence {
            self.push_evidence(e.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONTRACT: &str = r#"{"id":"a1","time":"2026-01-05T01:02:03Z","org":"moh","detector":"analytic","rule_id":"beacon.periodic","title":"Periodic beaconing to rare domain","severity":"high","attack":["T1071.001"],"entities":{"host":"pc-0012","src_ip":"10.10.3.4","user":"tanaka","domain":"cdn-upd.net","dst_ip":"203.0.113.9","url":"http://cdn-upd.net/a","hash":"d41d8cd98f00b204e9800998ecf8427e","email":"x@example.org"},"first_seen":"2026-01-05T00:00:00Z","last_seen":"2026-01-05T01:02:03Z","count":288,"evidence":[{"file":"moh/proxy/access.log","line":1234}],"summary":"every 300 s"}"#;

    #[test]
    fn contract_example_round_trips_byte_for_byte() {
        let a: Alert = serde_json::from_str(CONTRACT).unwrap();
        assert_eq!(a.detector, Detector::Analytic);
        assert_eq!(a.entities.iter().count(), 8);
        assert_eq!(serde_json::to_string(&a).unwrap(), CONTRACT);
    }

    #[test]
    fn only_present_entities_are_written() {
        let e = Entities {
            host: Some("pc-1".into()),
            ..Default::default()
        };
        assert_eq!(serde_json::to_string(&e).unwrap(), r#"{"host":"pc-1"}"#);
    }

    #[test]
    fn evidence_is_capped_and_deduplicated() {
        let mut a: Alert = serde_json::from_str(CONTRACT).unwrap();
        for line in 0..100 {
            a.push_evidence(EvidenceRef {
                file: "f".into(),
                line: line % 30,
            });
        }
        assert_eq!(a.evidence.len(), MAX_EVIDENCE);
        let mut b = a.clone();
        b.count = 2;
        b.severity = Severity::Critical;
        a.absorb(&b);
        assert_eq!(a.count, 290);
        assert_eq!(a.severity, Severity::Critical);
        assert_eq!(a.evidence.len(), MAX_EVIDENCE);
    }
}
