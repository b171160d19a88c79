//! First contact: destinations never seen before anywhere in the estate, contacted by few
//! hosts — never alerted alone (most new domains are benign), only combined with other
//! evidence about the same host:
//! * another analytic alert on the host within `correlate_secs` (before or after), or
//! * the new name is itself unpronounceable (DGA-like, [`crate::dga::unpronounceable`]).
//!
//! "New" is the prevalence table's judgement: first seen after the learning period and
//! within `new_for_secs`. Per host a few recent new destinations and the last alert are kept
//! (capped at `max_tracked_hosts`).

use std::collections::HashMap;

use rustc_hash::FxBuildHasher;
use serde::{Deserialize, Serialize};
use yagura_model::{Alert, Detector as Family, Entities, Event, OrgId, Severity, Timestamp};

use crate::bounded::{LastSeen, enforce_cap};
use crate::detector::{
    AlertSpec, Context, Dest, Detector, Kind, RawValue, State, StateError, View, checkpoint_of,
    evidence_of, hash_ip, restored,
};
use crate::prevalence::secs_to_nanos;
use crate::stats::hash_bytes;

const RECENT: usize = 8;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct NewDest {
    time: i64,
    key: u64,
    name: Option<String>,
    ip: Option<String>,
    reported: bool,
    evidence: Option<yagura_model::EvidenceRef>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct HostState {
    org: OrgId,
    host: Option<String>,
    src_ip: Option<String>,
    recent: Vec<NewDest>,
    /// (time, rule id, title) of the latest other analytic alert about this host.
    last_alert: Option<(i64, String, String)>,
    last: i64,
}

impl LastSeen for HostState {
    fn last_seen(&self) -> i64 {
        self.last
    }
}

/// The first-contact detector.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct FirstContact {
    hosts: HashMap<u64, HostState, FxBuildHasher>,
}

fn host_key_of(alert: &Alert) -> Option<u64> {
    let org = alert.org.as_str().as_bytes();
    if let Some(h) = &alert.entities.host {
        return Some(hash_bytes(&[org, h.as_bytes()]));
    }
    let ip = alert.entities.src_ip.as_deref()?.parse().ok()?;
    Some(hash_ip(alert.org.as_str(), ip))
}

impl FirstContact {
    /// Takes note of the alerts other detectors raised (from index `from` of `cx.alerts`).
    pub fn note_alerts(&mut self, from: usize, cx: &mut Context<'_>) {
        if !cx.config.first_contact.enabled {
            return;
        }
        let window = secs_to_nanos(cx.config.first_contact.correlate_secs);
        let mut raised = Vec::new();
        for a in cx.alerts.iter().skip(from) {
            if a.detector != Family::Analytic || a.rule_id.starts_with("first_contact") {
                continue;
            }
            let Some(key) = host_key_of(a) else { continue };
            let Some(hs) = self.hosts.get_mut(&key) else {
                continue;
            };
            let t = a.time.nanos();
            hs.last_alert = Some((t, a.rule_id.clone(), a.title.clone()));
            let why = format!("{} ({})", a.title, a.rule_id);
            let mut fresh = Vec::new();
            for d in hs.recent.iter_mut() {
                if !d.reported && t.saturating_sub(d.time).saturating_abs() <= window {
                    d.reported = true;
                    fresh.push(d.clone());
                }
            }
            for d in fresh {
                let at = t.max(d.time);
                raised.push(first_contact_alert(hs, &d, &why, at));
            }
        }
        cx.alerts.extend(raised);
    }
}

fn first_contact_alert(hs: &HostState, d: &NewDest, why: &str, now: i64) -> Alert {
    let target = d.name.clone().or_else(|| d.ip.clone()).unwrap_or_default();
    let who = hs
        .host
        .clone()
        .or_else(|| hs.src_ip.clone())
        .unwrap_or_default();
    AlertSpec {
        family: Family::Analytic,
        rule_id: "first_contact.correlated",
        title: format!("First contact with {target}, with other evidence"),
        severity: Severity::Medium,
        attack: &["T1071", "T1568"],
        org: hs.org.clone(),
        entities: Entities {
            host: hs.host.clone(),
            src_ip: hs.src_ip.clone(),
            domain: d.name.clone(),
            dst_ip: d.ip.clone(),
            ..Entities::default()
        },
        first_seen: Timestamp::from_nanos(d.time),
        last_seen: Timestamp::from_nanos(d.time.max(now)),
        time: Timestamp::from_nanos(now),
        count: 1,
        evidence: d.evidence.clone().into_iter().collect(),
        summary: format!(
            "{who} contacted {target}, never seen in the estate before and contacted by few \
             hosts; other evidence: {why}"
        ),
        context: serde_json::Map::new(),
    }
    .build()
}

impl Detector for FirstContact {
    fn name(&self) -> &'static str {
        "first_contact"
    }

    fn observe(&mut self, ev: &Event, view: &View<'_>, cx: &mut Context<'_>) {
        let cfg = &cx.config.first_contact;
        if !cfg.enabled || !matches!(view.kind, Kind::Web | Kind::Flow) || view.dest_internal {
            return;
        }
        let (Some(dest), Some(key)) = (view.dest, view.dest_key) else {
            return;
        };
        // An egress gateway (proxy, NAT) speaks for every user behind it: "the same host" means
        // nothing there, and its new destinations are its users' (judged on their own records).
        if view
            .src_ip
            .is_some_and(|ip| cx.addresses.egress_gateway_of(ip).is_some())
        {
            return;
        }
        let t = view.time.nanos();
        let Some(prev) = view.dest_prevalence(cx) else {
            return;
        };
        if !prev.new || prev.hosts > cfg.max_hosts {
            return;
        }
        let (name, ip) = match dest {
            Dest::Name(n) => (Some(view.registered.unwrap_or(n).to_owned()), None),
            Dest::Addr(ip, _) => (None, Some(ip.to_string())),
        };
        let hs = self
            .hosts
            .entry(view.host_key)
            .or_insert_with(|| HostState {
                org: view.org.clone(),
                host: view.host.map(str::to_owned),
                src_ip: view.src_ip.map(|i| i.to_string()),
                recent: Vec::new(),
                last_alert: None,
                last: t,
            });
        hs.last = hs.last.max(t);
        if hs.recent.iter().any(|d| d.key == key) {
            return;
        }
        if hs.recent.len() >= RECENT {
            hs.recent.remove(0);
        }
        let mut d = NewDest {
            time: t,
            key,
            name,
            ip,
            reported: false,
            evidence: evidence_of(ev),
        };
        let window = secs_to_nanos(cfg.correlate_secs);
        let why = match &hs.last_alert {
            Some((at, rule, title)) if t.saturating_sub(*at).saturating_abs() <= window => {
                Some(format!("{title} ({rule})"))
            }
            _ => d
                .name
                .as_deref()
                .and_then(|n| crate::dga::unpronounceable(n, &cx.config.dga))
                .filter(|s| *s < cfg.max_log_likelihood)
                .map(|s| format!("the name is unpronounceable (trigram log-likelihood {s:.2})")),
        };
        if let Some(why) = why {
            d.reported = true;
            cx.alerts.push(first_contact_alert(hs, &d, &why, t));
        }
        hs.recent.push(d);
        if self.hosts.len() > cfg.max_tracked_hosts {
            enforce_cap(&mut self.hosts, cfg.max_tracked_hosts);
        }
    }

    fn advance_to(&mut self, _now: Timestamp, _cx: &mut Context<'_>) {}

    fn flush(&mut self, _cx: &mut Context<'_>) {}

    fn checkpoint(&self) -> Result<State, StateError> {
        checkpoint_of(self)
    }

    fn restore(&mut self, state: &RawValue) -> Result<(), StateError> {
        *self = restored(state, "first_contact")?;
        Ok(())
    }
}
