//! Exercise scoring: DESIGN.md §4's rule, exactly.
//!
//! An alert *covers* a truth item when
//! 1. the organizations are equal,
//! 2. the alert's `[first_seen, last_seen]` overlaps `[start − 5 min, end + 60 min]` (closed
//!    intervals: touching ends overlap), and
//! 3. some entity value of the alert equals one of the item's, case-insensitively, where a
//!    domain also equals its subdomains (`x.cdn-upd.net` ≡ `cdn-upd.net`, in either
//!    direction, on label boundaries; only values with a dot that are not IP addresses count
//!    as domains, so a bare label never matches a whole TLD). Values are compared across keys
//!    (the rule speaks of values, not keys).
//!
//! A truth item is detected when some alert covers it; its time to detect is the earliest
//! covering alert's `time` − `start` (negative when the alert fired inside the 5-minute lead).
//! An alert that covers no item is a false positive; false positives are counted as distinct
//! `(org, rule_id, entity values)`. Precision is computed over the same distinct identities:
//! `tp / (tp + fp)` where `tp` counts the identities of alerts that cover some item.
//! Undefined ratios (no truth, no alerts, nothing detected) are `null`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::IpAddr;

use serde::Serialize;
use yagura_model::{Alert, Entities, OrgId, Timestamp};

use crate::truth::{TruthItem, TruthKind};

/// Lead before `start` during which an alert still counts (5 minutes).
pub const LEAD_S: i64 = 5 * 60;
/// Lag after `end` during which an alert still counts (60 minutes).
pub const LAG_S: i64 = 60 * 60;

#[derive(Debug, thiserror::Error)]
pub enum ScoreError {
    #[error("{file}: line {line}: {message}")]
    Line {
        file: String,
        line: usize,
        message: String,
    },
}

/// Reads JSON lines of `T`, failing on the first malformed line with its number (scoring a
/// partially read file would silently distort the grade).
pub fn read_jsonl<T: serde::de::DeserializeOwned>(
    file: &str,
    text: &str,
) -> Result<Vec<T>, ScoreError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let v = serde_json::from_str(line).map_err(|e| ScoreError::Line {
            file: file.to_owned(),
            line: i + 1,
            message: e.to_string(),
        })?;
        out.push(v);
    }
    Ok(out)
}

fn is_domain(v: &str) -> bool {
    v.contains('.') && v.parse::<IpAddr>().is_err() && !v.contains('/') && !v.contains('@')
}

fn is_subdomain(sub: &str, parent: &str) -> bool {
    sub.len() > parent.len()
        && sub
            .get(sub.len() - parent.len()..)
            .is_some_and(|tail| tail.eq_ignore_ascii_case(parent))
        && sub.as_bytes().get(sub.len() - parent.len() - 1) == Some(&b'.')
}

/// Does alert value `a` equal item value `t` under the rule?
pub fn values_match(a: &str, t: &str) -> bool {
    let a = a.trim().trim_end_matches('.');
    let t = t.trim().trim_end_matches('.');
    if a.is_empty() || t.is_empty() {
        return false;
    }
    if a.eq_ignore_ascii_case(t) {
        return true;
    }
    is_domain(a) && is_domain(t) && (is_subdomain(a, t) || is_subdomain(t, a))
}

fn entities_match(a: &Entities, t: &Entities) -> bool {
    a.iter()
        .any(|(_, av)| t.iter().any(|(_, tv)| values_match(av, tv)))
}

/// The rule of DESIGN.md §4.
pub fn covers(alert: &Alert, item: &TruthItem) -> bool {
    if alert.org != item.org {
        return false;
    }
    let lo = item.start.saturating_sub_secs(LEAD_S);
    let hi = item.end.saturating_add_secs(LAG_S);
    let (first, last) = if alert.first_seen <= alert.last_seen {
        (alert.first_seen, alert.last_seen)
    } else {
        (alert.last_seen, alert.first_seen)
    };
    if first > hi || last < lo {
        return false;
    }
    entities_match(&alert.entities, &item.entities)
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KindScore {
    pub truth: usize,
    pub detected: usize,
    pub recall: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ItemScore {
    pub id: String,
    pub org: OrgId,
    pub kind: TruthKind,
    pub detected: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_to_detect_s: Option<f64>,
    /// Ids of the covering alerts (at most 20).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub alerts: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FalsePositive {
    pub org: OrgId,
    pub rule_id: String,
    pub entities: Entities,
    /// Alert lines with this identity.
    pub alerts: usize,
}

/// The contract's score JSON (plus per-item and per-false-positive details).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Score {
    pub truth: usize,
    pub detected: usize,
    pub recall: Option<f64>,
    pub by_kind: BTreeMap<TruthKind, KindScore>,
    /// Alert lines read.
    pub alerts: usize,
    /// Distinct `(org, rule_id, entities)` of alerts covering no item.
    pub false_positives: usize,
    pub precision: Option<f64>,
    pub median_time_to_detect_s: Option<f64>,
    pub items: Vec<ItemScore>,
    pub false_positive_list: Vec<FalsePositive>,
}

fn ratio(a: usize, b: usize) -> Option<f64> {
    (b > 0).then(|| a as f64 / b as f64)
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let m = n / 2;
    if n % 2 == 1 {
        v.get(m).copied()
    } else {
        Some((v.get(m - 1).copied()? + v.get(m).copied()?) / 2.0)
    }
}

/// Grades `alerts` against `truth`.
pub fn score(truth: &[TruthItem], alerts: &[Alert]) -> Score {
    // Index alerts by organization: the rule never matches across organizations.
    let mut by_org: BTreeMap<&OrgId, Vec<usize>> = BTreeMap::new();
    for (i, a) in alerts.iter().enumerate() {
        by_org.entry(&a.org).or_default().push(i);
    }
    let mut covering = vec![false; alerts.len()];
    let mut items = Vec::with_capacity(truth.len());
    let mut by_kind: BTreeMap<TruthKind, KindScore> = BTreeMap::new();
    let mut ttds = Vec::new();
    for t in truth {
        let mut earliest: Option<Timestamp> = None;
        let mut ids = Vec::new();
        for &i in by_org.get(&t.org).map(Vec::as_slice).unwrap_or_default() {
            let Some(a) = alerts.get(i) else { continue };
            if covers(a, t) {
                if let Some(c) = covering.get_mut(i) {
                    *c = true;
                }
                earliest = Some(earliest.map_or(a.time, |e| e.min(a.time)));
                if ids.len() < 20 {
                    ids.push(a.id.clone());
                }
            }
        }
        let ttd = earliest.map(|e| e.secs_since(t.start));
        if let Some(d) = ttd {
            ttds.push(d);
        }
        let k = by_kind.entry(t.kind).or_insert(KindScore {
            truth: 0,
            detected: 0,
            recall: None,
        });
        k.truth += 1;
        k.detected += usize::from(ttd.is_some());
        items.push(ItemScore {
            id: t.id.clone(),
            org: t.org.clone(),
            kind: t.kind,
            detected: ttd.is_some(),
            time_to_detect_s: ttd,
            alerts: ids,
        });
    }
    for k in by_kind.values_mut() {
        k.recall = ratio(k.detected, k.truth);
    }
    let mut tp_ids = BTreeSet::new();
    let mut fp: BTreeMap<(OrgId, String, Entities), usize> = BTreeMap::new();
    for (a, c) in alerts.iter().zip(&covering) {
        if *c {
            tp_ids.insert(a.fingerprint());
        } else {
            *fp.entry(a.fingerprint()).or_insert(0) += 1;
        }
    }
    let detected = items.iter().filter(|i| i.detected).count();
    Score {
        truth: truth.len(),
        detected,
        recall: ratio(detected, truth.len()),
        by_kind,
        alerts: alerts.len(),
        false_positives: fp.len(),
        precision: ratio(tp_ids.len(), tp_ids.len() + fp.len()),
        median_time_to_detect_s: median(ttds),
        items,
        false_positive_list: fp
            .into_iter()
            .map(|((org, rule_id, entities), alerts)| FalsePositive {
                org,
                rule_id,
                entities,
                alerts,
            })
            .collect(),
    }
}

fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_owned(), |r| format!("{:.1}%", r * 100.0))
}

impl Score {
    /// A readable table for analysts.
    pub fn table(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{:<22} {:>6} {:>9} {:>8}",
            "kind", "truth", "detected", "recall"
        );
        let _ = writeln!(s, "{}", "-".repeat(48));
        for (k, v) in &self.by_kind {
            let _ = writeln!(
                s,
                "{:<22} {:>6} {:>9} {:>8}",
                k.as_str(),
                v.truth,
                v.detected,
                pct(v.recall)
            );
        }
        let _ = writeln!(s, "{}", "-".repeat(48));
        let _ = writeln!(
            s,
            "{:<22} {:>6} {:>9} {:>8}",
            "total",
            self.truth,
            self.detected,
            pct(self.recall)
        );
        let _ = writeln!(s);
        let _ = writeln!(s, "alerts read:              {}", self.alerts);
        let _ = writeln!(s, "false positives (distinct): {}", self.false_positives);
        let _ = writeln!(s, "precision:                {}", pct(self.precision));
        let _ = writeln!(
            s,
            "median time to detect:    {}",
            self.median_time_to_detect_s
                .map_or_else(|| "-".to_owned(), |m| format!("{m:.0} s"))
        );
        s
    }
}
