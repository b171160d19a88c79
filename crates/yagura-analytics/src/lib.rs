//! Behavioural analytics and network policy: streaming detectors over normalized
//! [`Event`]s that produce contract [`Alert`]s (detector `analytic` or `policy`).
//!
//! The pipeline calls [`Analytics`]: `new(config, &inventory)`, `observe(&event)` for every
//! event, `drain_alerts()` whenever it wants the alerts raised so far, and `finish()` at the
//! end of a batch. A streaming server persists [`Analytics::checkpoint`] and resumes with
//! [`Analytics::restore`].
//!
//! Every detector ([`detector::Detector`]) is streaming with bounded state per key (caps in
//! [`AnalyticsConfig`], least recently seen evicted first), uses event time only (the
//! watermark is the latest event time observed), is deterministic (the same events in the
//! same order give the same alerts, ids included), maps to ATT&CK and explains itself in the
//! alert summary.
//!
//! Architecture invariant: no I/O, no wall clock, no threads; the only yagura dependency is
//! `yagura-model`.

pub mod auth;
pub mod beacon;
pub mod bounded;
pub mod config;
pub mod detector;
pub mod dga;
pub mod dns_tunnel;
pub mod domain;
pub mod exfil;
pub mod first_contact;
pub mod mail;
pub mod ngram;
pub mod policy;
pub mod prevalence;
pub mod stats;

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use yagura_model::{AddressIndex, Alert, Event, Inventory, OrgId, Timestamp};

pub use config::{AnalyticsConfig, ConfigError};
pub use detector::{Context, Detector, RawValue, State, StateError, View};

use detector::Kind;
use prevalence::PrevalenceTable;

/// Counters of what the analytics saw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    pub events: u64,
    /// Events no organization could be attributed to (no `organization.id`, source outside
    /// the inventory); they are not analysed.
    pub unattributed: u64,
    pub alerts: u64,
}

/// Everything the analytics hold, for persistence.
///
/// The tables are kept as the JSON text they serialize to ([`State`]): written straight from
/// the tables and parsed straight into them, with no `serde_json::Value` tree in between
/// (the file format is the same JSON a tree gave). Deserialize it from text
/// (`serde_json::from_str`/`from_slice`), not from a `Value`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Checkpoint {
    pub version: u32,
    pub watermark: Option<Timestamp>,
    pub counters: Counters,
    pub prevalence: State,
    pub detectors: std::collections::BTreeMap<String, State>,
}

const CHECKPOINT_VERSION: u32 = 1;

/// All analytics over one estate.
#[derive(Debug)]
pub struct Analytics {
    config: AnalyticsConfig,
    addresses: AddressIndex,
    egress_orgs: BTreeSet<OrgId>,
    prevalence: PrevalenceTable,
    beacon: beacon::Beacon,
    dns_tunnel: dns_tunnel::DnsTunnel,
    dga: dga::Dga,
    exfil: exfil::Exfil,
    auth: auth::Auth,
    policy: policy::Policy,
    first_contact: first_contact::FirstContact,
    mail: mail::Mail,
    alerts: Vec<Alert>,
    watermark: Option<Timestamp>,
    counters: Counters,
}

macro_rules! each_detector {
    ($self:ident, $cx:ident, |$d:ident| $body:expr) => {{
        let mut $cx = Context {
            config: &$self.config,
            addresses: &$self.addresses,
            prevalence: &$self.prevalence,
            egress_orgs: &$self.egress_orgs,
            alerts: &mut $self.alerts,
        };
        {
            let $d = &mut $self.beacon;
            $body;
        }
        {
            let $d = &mut $self.dns_tunnel;
            $body;
        }
        {
            let $d = &mut $self.dga;
            $body;
        }
        {
            let $d = &mut $self.exfil;
            $body;
        }
        {
            let $d = &mut $self.auth;
            $body;
        }
        {
            let $d = &mut $self.policy;
            $body;
        }
        {
            let $d = &mut $self.mail;
            $body;
        }
    }};
}

impl Analytics {
    /// Analytics for the estate `inventory` describes.
    pub fn new(config: AnalyticsConfig, inventory: &Inventory) -> Result<Analytics, ConfigError> {
        config.validate()?;
        Ok(Analytics {
            config,
            addresses: inventory.addresses().clone(),
            egress_orgs: inventory
                .orgs()
                .iter()
                .filter(|o| !o.egress_gateways.is_empty())
                .map(|o| o.id.clone())
                .collect(),
            prevalence: PrevalenceTable::default(),
            beacon: Default::default(),
            dns_tunnel: Default::default(),
            dga: Default::default(),
            exfil: Default::default(),
            auth: Default::default(),
            policy: Default::default(),
            first_contact: Default::default(),
            mail: Default::default(),
            alerts: Vec::new(),
            watermark: None,
            counters: Counters::default(),
        })
    }

    pub fn config(&self) -> &AnalyticsConfig {
        &self.config
    }

    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// The latest event time observed.
    pub fn watermark(&self) -> Option<Timestamp> {
        self.watermark
    }

    /// Feeds one event.
    pub fn observe(&mut self, ev: &Event) {
        self.counters.events += 1;
        let Some(mut view) = View::of(ev, &self.addresses) else {
            self.counters.unattributed += 1;
            return;
        };
        if self.watermark.is_none_or(|w| view.time > w) {
            self.advance_to(view.time);
        }
        if let (Some(dest), Kind::Web | Kind::Flow | Kind::Dns) = (view.dest_key, view.kind)
            && !view.dest_internal
        {
            let org = stats::hash_bytes(&[view.org.as_str().as_bytes()]) as u32;
            view.prevalence = Some(self.prevalence.record(
                &self.config.prevalence,
                dest,
                view.host_key as u32,
                org,
                view.time.nanos(),
            ));
        }
        let before = self.alerts.len();
        each_detector!(self, cx, |d| d.observe(ev, &view, &mut cx));
        {
            let mut cx = Context {
                config: &self.config,
                addresses: &self.addresses,
                prevalence: &self.prevalence,
                egress_orgs: &self.egress_orgs,
                alerts: &mut self.alerts,
            };
            self.first_contact.observe(ev, &view, &mut cx);
        }
        self.after_detectors(before);
    }

    /// Event time has reached `now` (also called by `observe`): closes due windows.
    pub fn advance_to(&mut self, now: Timestamp) {
        if self.watermark.is_some_and(|w| now <= w) {
            return;
        }
        self.watermark = Some(now);
        let before = self.alerts.len();
        each_detector!(self, cx, |d| d.advance_to(now, &mut cx));
        self.after_detectors(before);
    }

    fn after_detectors(&mut self, before: usize) {
        if self.alerts.len() <= before {
            return;
        }
        let mut cx = Context {
            config: &self.config,
            addresses: &self.addresses,
            prevalence: &self.prevalence,
            egress_orgs: &self.egress_orgs,
            alerts: &mut self.alerts,
        };
        self.first_contact.note_alerts(before, &mut cx);
        self.counters.alerts = self
            .counters
            .alerts
            .saturating_add((self.alerts.len() - before) as u64);
    }

    /// The alerts raised since the last call, in a deterministic order.
    pub fn drain_alerts(&mut self) -> Vec<Alert> {
        let mut out = std::mem::take(&mut self.alerts);
        out.sort_by(|a, b| {
            (a.time, &a.rule_id, &a.org, &a.entities, &a.id).cmp(&(
                b.time,
                &b.rule_id,
                &b.org,
                &b.entities,
                &b.id,
            ))
        });
        out
    }

    /// End of input: evaluates every open window and returns the remaining alerts.
    pub fn finish(&mut self) -> Vec<Alert> {
        let before = self.alerts.len();
        each_detector!(self, cx, |d| d.flush(&mut cx));
        self.after_detectors(before);
        self.drain_alerts()
    }

    /// The state of every detector and the prevalence table. Pending (undrained) alerts are
    /// not part of it: drain them first.
    pub fn checkpoint(&self) -> Result<Checkpoint, StateError> {
        let mut detectors = std::collections::BTreeMap::new();
        let mut put = |d: &dyn Detector| -> Result<(), StateError> {
            detectors.insert(d.name().to_owned(), d.checkpoint()?);
            Ok(())
        };
        put(&self.beacon)?;
        put(&self.dns_tunnel)?;
        put(&self.dga)?;
        put(&self.exfil)?;
        put(&self.auth)?;
        put(&self.policy)?;
        put(&self.first_contact)?;
        put(&self.mail)?;
        Ok(Checkpoint {
            version: CHECKPOINT_VERSION,
            watermark: self.watermark,
            counters: self.counters,
            prevalence: serde_json::value::to_raw_value(&self.prevalence)
                .map_err(StateError::Write)?,
            detectors,
        })
    }

    /// Replaces all state with a checkpoint's. On error nothing is changed.
    pub fn restore(&mut self, mut cp: Checkpoint) -> Result<(), StateError> {
        if cp.version != CHECKPOINT_VERSION {
            return Err(StateError::Version(cp.version));
        }
        let prevalence: PrevalenceTable =
            serde_json::from_str(cp.prevalence.get()).map_err(|source| StateError::Invalid {
                detector: "prevalence",
                source,
            })?;
        let mut beacon = beacon::Beacon::default();
        let mut dns_tunnel = dns_tunnel::DnsTunnel::default();
        let mut dga = dga::Dga::default();
        let mut exfil = exfil::Exfil::default();
        let mut auth = auth::Auth::default();
        let mut policy = policy::Policy::default();
        let mut first_contact = first_contact::FirstContact::default();
        let mut mail = mail::Mail::default();
        {
            let mut take = |d: &mut dyn Detector| -> Result<(), StateError> {
                let name = d.name();
                let v = cp.detectors.remove(name).ok_or(StateError::Missing(name))?;
                d.restore(&v)
            };
            take(&mut beacon)?;
            take(&mut dns_tunnel)?;
            take(&mut dga)?;
            take(&mut exfil)?;
            take(&mut auth)?;
            take(&mut policy)?;
            take(&mut first_contact)?;
            take(&mut mail)?;
        }
        self.prevalence = prevalence;
        self.beacon = beacon;
        self.dns_tunnel = dns_tunnel;
        self.dga = dga;
        self.exfil = exfil;
        self.auth = auth;
        self.policy = policy;
        self.first_contact = first_contact;
        self.mail = mail;
        self.watermark = cp.watermark;
        self.counters = cp.counters;
        Ok(())
    }

    /// Sizes of the main tables, for monitoring and the memory benchmark.
    pub fn table_sizes(&self) -> serde_json::Value {
        serde_json::json!({
            "prevalence_destinations": self.prevalence.len(),
            "beacon_pairs": self.beacon.pairs(),
            "beacon_candidates": self.beacon.candidates(),
            "mail_campaigns": self.mail.campaigns(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn analytics_can_move_to_a_pipeline_thread() {
        fn send<T: Send + 'static>() {}
        send::<Analytics>();
        send::<Checkpoint>();
    }

    #[test]
    fn an_empty_estate_yields_nothing() {
        let inv = Inventory::from_toml("").expect("empty inventory");
        let mut a = Analytics::new(AnalyticsConfig::default(), &inv).expect("config");
        a.advance_to(Timestamp::from_secs(1_000));
        assert!(a.finish().is_empty());
        assert_eq!(a.watermark(), Some(Timestamp::from_secs(1_000)));
    }
}
