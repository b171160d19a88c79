//! The streaming detector interface, the per-event view every detector reads, and the
//! alert builder.

use std::net::IpAddr;

pub use serde_json::value::RawValue;

use yagura_model::{
    AddressIndex, Alert, AttackId, Detector as Family, Entities, Event, EvidenceRef, OrgId,
    Severity, Timestamp, alert::MAX_EVIDENCE,
};

use crate::config::AnalyticsConfig;

/// A detector's serialized state: its JSON text, kept as written.
pub type State = Box<RawValue>;
use crate::prevalence::PrevalenceTable;
use crate::stats::hash_bytes;

/// Why detector state could not be restored.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("checkpoint of detector {detector} is not valid: {source}")]
    Invalid {
        detector: &'static str,
        source: serde_json::Error,
    },
    #[error("checkpoint has no state for detector {0}")]
    Missing(&'static str),
    #[error("checkpoint version {0} is not supported (expected 1)")]
    Version(u32),
    #[error("checkpoint could not be written: {0}")]
    Write(serde_json::Error),
}

/// A streaming detector. Deterministic: the same events in the same order give the same
/// alerts. Time is event time only: `advance_to` is called with the watermark (the latest
/// event time seen), never with the wall clock.
pub trait Detector {
    /// Stable name, also the key of its state in a checkpoint.
    fn name(&self) -> &'static str;
    /// Feeds one event (already classified in `view`).
    fn observe(&mut self, ev: &Event, view: &View<'_>, cx: &mut Context<'_>);
    /// Event time has reached `now`: close windows that ended and emit their alerts.
    fn advance_to(&mut self, now: Timestamp, cx: &mut Context<'_>);
    /// End of input: evaluate every open window and emit what it holds.
    fn flush(&mut self, cx: &mut Context<'_>);
    /// The detector's state, for the streaming server to persist: JSON text written straight
    /// from the detector's tables (no `serde_json::Value` tree: the state of a large estate
    /// is written at every streaming flush, and building and dropping a tree of it cost more
    /// than detection itself).
    fn checkpoint(&self) -> Result<State, StateError>;
    /// Replaces the state with a checkpoint's.
    fn restore(&mut self, state: &RawValue) -> Result<(), StateError>;
}

/// A detector's whole state as its checkpoint: the JSON text of its tables (every detector
/// but the stateless ones checkpoints this way).
pub(crate) fn checkpoint_of<T: serde::Serialize>(state: &T) -> Result<State, StateError> {
    serde_json::value::to_raw_value(state).map_err(StateError::Write)
}

/// The state a checkpoint written by [`checkpoint_of`] holds; `detector` names the detector in
/// the error.
pub(crate) fn restored<T: serde::de::DeserializeOwned>(
    state: &RawValue,
    detector: &'static str,
) -> Result<T, StateError> {
    serde_json::from_str(state.get()).map_err(|source| StateError::Invalid { detector, source })
}

/// The sliding-window detectors sweep their tables every quarter window of event time: true
/// when a sweep is due at `now` (the first call always sweeps), and `next_sweep` moves on.
pub(crate) fn sweep_due(next_sweep: &mut Option<i64>, now: i64, window_secs: u64) -> bool {
    if next_sweep.is_some_and(|due| now < due) {
        return false;
    }
    let step = crate::prevalence::secs_to_nanos((window_secs / 4).max(1));
    *next_sweep = Some(now.saturating_add(step));
    true
}

/// What detectors share: configuration, the inventory's address index, estate prevalence,
/// and where alerts go.
#[derive(Debug)]
pub struct Context<'a> {
    pub config: &'a AnalyticsConfig,
    pub addresses: &'a AddressIndex,
    pub prevalence: &'a PrevalenceTable,
    /// Organizations that declare `egress_gateways` (the egress rule applies to them only).
    pub egress_orgs: &'a std::collections::BTreeSet<OrgId>,
    pub alerts: &'a mut Vec<Alert>,
}

/// The kind of telemetry an event is, as far as the analytics care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A network flow (Zeek conn, Suricata flow, firewall): originator bytes, dst ip:port.
    Flow,
    /// A web request seen by a proxy or an HTTP/TLS sensor (has a destination name).
    Web,
    /// A DNS query or answer.
    Dns,
    /// A Windows authentication event.
    Auth,
    Other,
}

/// The destination of a network event, as the beacon and prevalence tables key it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dest<'a> {
    Name(&'a str),
    Addr(IpAddr, Option<u16>),
}

/// One event, classified once for all detectors.
#[derive(Debug, Clone)]
pub struct View<'a> {
    pub org: OrgId,
    pub time: Timestamp,
    pub kind: Kind,
    /// `host.name`, else the source address as text is left to `src_ip`.
    pub host: Option<&'a str>,
    pub src_ip: Option<IpAddr>,
    /// Hash of (org, host name or source address): the identity of the acting host.
    pub host_key: u64,
    pub dest: Option<Dest<'a>>,
    /// Registered domain of a named destination (or of the DNS question).
    pub registered: Option<&'a str>,
    /// Hash identifying the destination in the prevalence table.
    pub dest_key: Option<u64>,
    /// The destination is inside the estate (an internal address) or not on the internet at
    /// all (multicast, link-local, private outside the inventory).
    pub dest_internal: bool,
    /// The destination's estate prevalence including this event, classified once for every
    /// detector (set by [`crate::Analytics::observe`] for external web, flow and DNS
    /// destinations; `None` otherwise).
    pub prevalence: Option<crate::prevalence::Prevalence>,
}

impl<'a> View<'a> {
    /// Classifies `ev`; `None` when no organization can be attributed (no `organization.id`
    /// and a source address outside the inventory).
    pub fn of(ev: &'a Event, addresses: &AddressIndex) -> Option<View<'a>> {
        let src_ip = ev.src_ip();
        let org = match ev.org() {
            Some(o) => o.clone(),
            None => addresses.owner(src_ip?)?.clone(),
        };
        let kind = if ev.winlog.event_id.is_some() {
            Kind::Auth
        } else if ev.event.kind.as_deref() == Some("alert") {
            // An IDS verdict about a connection, not a connection record: the sensor logs the
            // connection itself separately (flow, http, dns, tls), so counting the alert too
            // would see the same connection twice.
            Kind::Other
        } else if ev.dns.question.name.is_some() {
            Kind::Dns
        } else if ev.url.domain.is_some()
            || ev.destination.domain.is_some()
            || ev.tls.client.server_name.is_some()
            || ev.http.request.method.is_some()
        {
            Kind::Web
        } else if ev.destination.ip.is_some() {
            Kind::Flow
        } else {
            Kind::Other
        };
        let host = ev.host_name().filter(|h| !h.is_empty());
        let host_key = match (host, src_ip) {
            (Some(h), _) => hash_bytes(&[org.as_str().as_bytes(), h.as_bytes()]),
            (None, Some(ip)) => hash_ip(org.as_str(), ip),
            (None, None) => hash_bytes(&[org.as_str().as_bytes()]),
        };
        let (dest, registered) = match kind {
            Kind::Web => match ev.dst_domain() {
                Some(d) if !d.is_empty() => {
                    (Some(Dest::Name(d)), crate::domain::registered_domain(d))
                }
                _ => (ev.dst_ip().map(|ip| Dest::Addr(ip, ev.dst_port())), None),
            },
            Kind::Flow => (ev.dst_ip().map(|ip| Dest::Addr(ip, ev.dst_port())), None),
            Kind::Dns => {
                let q = ev.dns_query().unwrap_or("");
                (None, crate::domain::registered_domain(q))
            }
            _ => (None, None),
        };
        let dest_key = match (dest, registered) {
            (_, Some(r)) => Some(hash_bytes(&[b"n", r.as_bytes()])),
            (Some(Dest::Name(n)), None) => Some(hash_bytes(&[b"n", n.as_bytes()])),
            (Some(Dest::Addr(ip, _)), None) => Some(hash_ip("a", ip)),
            (None, None) => None,
        };
        let dest_internal = match dest {
            // Multicast, link-local, loopback and private addresses outside the inventory are
            // local too: never a beacon, upload or first-contact destination.
            Some(Dest::Addr(ip, _)) => addresses.is_internal(ip) || !crate::policy::is_global(ip),
            // A name reached at an internal address is an intranet site, unless the address is
            // a sanctioned gateway: a client talking to its explicit proxy names the origin.
            Some(Dest::Name(_)) => ev.dst_ip().is_some_and(|ip| {
                addresses.is_internal(ip)
                    && addresses.egress_gateway_of(ip).is_none()
                    && !matches!(kind, Kind::Web if ev.url.domain.is_some())
            }),
            None => false,
        };
        Some(View {
            org,
            time: ev.timestamp,
            kind,
            host,
            src_ip,
            host_key,
            dest,
            registered,
            dest_key,
            dest_internal,
            prevalence: None,
        })
    }

    /// The host's entities (`host` and `src_ip` as present).
    /// The destination's prevalence: the one classified for this event, else looked up.
    pub fn dest_prevalence(&self, cx: &Context<'_>) -> Option<crate::prevalence::Prevalence> {
        self.prevalence.or_else(|| {
            self.dest_key.map(|k| {
                cx.prevalence
                    .classify(&cx.config.prevalence, k, self.time.nanos())
            })
        })
    }

    pub fn host_entities(&self) -> Entities {
        Entities {
            host: self.host.map(str::to_owned),
            src_ip: self.src_ip.map(|ip| ip.to_string()),
            ..Entities::default()
        }
    }
}

pub(crate) fn hash_ip(prefix: &str, ip: IpAddr) -> u64 {
    match ip {
        IpAddr::V4(a) => hash_bytes(&[prefix.as_bytes(), &a.octets()]),
        IpAddr::V6(a) => hash_bytes(&[prefix.as_bytes(), &a.octets()]),
    }
}

/// The evidence reference of an event, if it carries its provenance.
pub fn evidence_of(ev: &Event) -> Option<EvidenceRef> {
    ev.provenance().map(|(file, line)| EvidenceRef {
        file: file.to_owned(),
        line,
    })
}

/// Everything an analytic alert says; [`AlertSpec::build`] makes the contract [`Alert`].
#[derive(Debug, Clone)]
pub struct AlertSpec {
    pub family: Family,
    pub rule_id: &'static str,
    pub title: String,
    pub severity: Severity,
    pub attack: &'static [&'static str],
    pub org: OrgId,
    pub entities: Entities,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    pub time: Timestamp,
    pub count: u64,
    pub evidence: Vec<EvidenceRef>,
    pub summary: String,
    pub context: serde_json::Map<String, serde_json::Value>,
}

const ID_NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x5f0c_1f4e_7d2a_4b8e_9a61_3c2d_7e90_a1b7);

impl AlertSpec {
    /// The alert; its id is a UUIDv5 of (rule, org, entities, first seen, time), so the same
    /// input always gives the same id.
    pub fn build(self) -> Alert {
        let mut key = format!(
            "{}|{}|{}|{}",
            self.rule_id,
            self.org,
            self.first_seen.nanos(),
            self.time.nanos()
        );
        for (k, v) in self.entities.iter() {
            key.push('|');
            key.push_str(k);
            key.push('=');
            key.push_str(v);
        }
        let mut evidence = self.evidence;
        evidence.sort();
        evidence.dedup();
        evidence.truncate(MAX_EVIDENCE);
        Alert {
            id: uuid::Uuid::new_v5(&ID_NAMESPACE, key.as_bytes()).to_string(),
            time: self.time,
            org: self.org,
            detector: self.family,
            rule_id: self.rule_id.to_owned(),
            title: self.title,
            severity: self.severity,
            attack: self
                .attack
                .iter()
                .filter_map(|a| AttackId::parse(a).ok())
                .collect(),
            entities: self.entities,
            first_seen: self.first_seen,
            last_seen: self.last_seen,
            count: self.count,
            evidence,
            summary: self.summary,
            retrospective: false,
            context: self.context,
        }
    }
}

/// Keeps at most [`MAX_EVIDENCE`] evidence references: the first ones and, once full, the
/// latest one in the last slot (so both the start and the most recent sighting are cited).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EvidenceBuf(Vec<EvidenceRef>);

impl EvidenceBuf {
    pub fn push(&mut self, e: Option<EvidenceRef>) {
        let Some(e) = e else { return };
        if self.0.len() < MAX_EVIDENCE {
            if !self.0.contains(&e) {
                self.0.push(e);
            }
        } else if let Some(last) = self.0.last_mut() {
            *last = e;
        }
    }

    /// [`EvidenceBuf::push`] of the event's provenance ([`evidence_of`]), allocating only
    /// for a reference it keeps: called for every event of a tracked key, and once the buffer
    /// is full each call only rewrites the last slot in place.
    pub fn push_event(&mut self, ev: &Event) {
        let Some((file, line)) = ev.provenance() else {
            return;
        };
        if self.0.len() < MAX_EVIDENCE {
            if !self.0.iter().any(|e| e.line == line && e.file == file) {
                self.0.push(EvidenceRef {
                    file: file.to_owned(),
                    line,
                });
            }
        } else if let Some(last) = self.0.last_mut() {
            if last.file != file {
                last.file.clear();
                last.file.push_str(file);
            }
            last.line = line;
        }
    }

    pub fn to_vec(&self) -> Vec<EvidenceRef> {
        self.0.clone()
    }

    pub fn clear(&mut self) {
        self.0.clear();
    }
}

/// Case-insensitive glob with `*` (any run of characters); no other metacharacters.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p = pattern.as_bytes();
    let t = text.as_bytes();
    let (mut pi, mut ti) = (0usize, 0usize);
    let (mut star, mut mark) = (None::<usize>, 0usize);
    while ti < t.len() {
        match p.get(pi) {
            Some(b'*') => {
                star = Some(pi);
                mark = ti;
                pi += 1;
            }
            Some(c) if c.eq_ignore_ascii_case(&t[ti]) => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some(s) => {
                    pi = s + 1;
                    mark += 1;
                    ti = mark;
                }
                None => return false,
            },
        }
    }
    p.get(pi..)
        .is_some_and(|rest| rest.iter().all(|&c| c == b'*'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        for (p, t, m) in [
            ("adm-*", "ADM-tanaka", true),
            ("*-adm", "tanaka-adm", true),
            ("*-adm", "tanaka", false),
            ("administrator", "Administrator", true),
            ("pc-*", "pc-", true),
            ("a*b*c", "axxbyyc", true),
            ("a*b*c", "axxbyy", false),
            ("", "", true),
            ("", "x", false),
            ("*", "", true),
        ] {
            assert_eq!(glob_match(p, t), m, "{p} {t}");
        }
    }

    #[test]
    fn evidence_keeps_first_and_latest() {
        let mut b = EvidenceBuf::default();
        for line in 1..=30 {
            b.push(Some(EvidenceRef {
                file: "f".into(),
                line,
            }));
        }
        let v = b.to_vec();
        assert_eq!(v.len(), MAX_EVIDENCE);
        assert_eq!(v[0].line, 1);
        assert_eq!(v[MAX_EVIDENCE - 1].line, 30);
    }

    #[test]
    fn sweeps_fall_due_every_quarter_window() {
        const S: i64 = 1_000_000_000;
        let mut next = None;
        // (event time in seconds, sweep expected) for a 400 s window: a sweep every 100 s.
        let steps = [
            (0, true),
            (50, false),
            (99, false),
            (100, true),
            (150, false),
            (450, true),
            (549, false),
            (550, true),
        ];
        for (t, due) in steps {
            assert_eq!(sweep_due(&mut next, t * S, 400), due, "at {t} s");
        }
        // A window shorter than four seconds still sweeps at most once a second.
        let mut next = None;
        assert!(sweep_due(&mut next, 0, 2));
        assert!(!sweep_due(&mut next, S - 1, 2));
        assert!(sweep_due(&mut next, S, 2));
    }

    #[test]
    fn a_checkpoint_restores_to_the_same_state_and_names_the_detector_when_invalid() {
        let state: Vec<(String, u64)> = vec![("a".into(), 1), ("b".into(), 2)];
        let cp = checkpoint_of(&state).expect("serializable");
        let back: Vec<(String, u64)> = restored(&cp, "test").expect("valid");
        assert_eq!(back, state);
        let bad = RawValue::from_string("{\"not\": \"a list\"}".into()).expect("json");
        let err = restored::<Vec<(String, u64)>>(&bad, "test").unwrap_err();
        assert!(err.to_string().contains("detector test"), "{err}");
    }
}
