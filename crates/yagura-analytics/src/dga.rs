//! Domain generation algorithms: per host, a burst of NXDOMAIN answers for unpronounceable
//! names within a window, then the one name that resolves.
//!
//! A name is *unpronounceable* when the label left of its public suffix scores below
//! `max_log_likelihood` under the character trigram model trained on the benign list the
//! crate ships ([`crate::ngram`]). State exists only for hosts that produced such a failure
//! (capped at `max_hosts`); per host at most 1024 distinct names are counted and a few kept
//! as examples.

use std::collections::HashMap;

use rustc_hash::FxBuildHasher;
use serde::{Deserialize, Serialize};
use yagura_model::{Detector as Family, Entities, Event, OrgId, Severity, Timestamp};

use crate::beacon::round3;
use crate::bounded::{LastSeen, enforce_cap, take_ended};
use crate::detector::{
    AlertSpec, Context, Detector, EvidenceBuf, Kind, RawValue, State, StateError, View,
    checkpoint_of, restored, sweep_due,
};
use crate::ngram::{NgramModel, dga_label};
use crate::prevalence::secs_to_nanos;
use crate::stats::hash_bytes;

const MAX_NAMES: usize = 1024;
const EXAMPLES: usize = 5;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct HostState {
    org: OrgId,
    host: Option<String>,
    src_ip: Option<String>,
    window_start: i64,
    first: i64,
    last: i64,
    nx: Vec<u32>,
    score_sum: f64,
    examples: Vec<String>,
    resolved: Vec<String>,
    resolved_ips: Vec<String>,
    evidence: EvidenceBuf,
}

impl LastSeen for HostState {
    fn last_seen(&self) -> i64 {
        self.last
    }
}

/// The DGA detector.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Dga {
    hosts: HashMap<u64, HostState, FxBuildHasher>,
    next_sweep: Option<i64>,
}

/// Whether a DNS name looks machine-generated, with its score.
pub fn unpronounceable(name: &str, cfg: &crate::config::DgaConfig) -> Option<f64> {
    let label = dga_label(name)?;
    let scorable = label.bytes().filter(|b| b.is_ascii_alphanumeric()).count();
    if scorable < cfg.min_name_len {
        return None;
    }
    let s = NgramModel::shipped().score(label)?;
    (s < cfg.max_log_likelihood).then_some(s)
}

impl Dga {
    fn judge(hs: &HostState, cx: &mut Context<'_>) {
        let cfg = &cx.config.dga;
        if hs.nx.len() < cfg.min_nxdomain as usize {
            return;
        }
        let who = hs
            .host
            .clone()
            .or_else(|| hs.src_ip.clone())
            .unwrap_or_default();
        let mean = hs.score_sum / hs.nx.len() as f64;
        let resolved = if hs.resolved.is_empty() {
            "none of them resolved yet".to_owned()
        } else {
            format!(
                "then {} resolved{}",
                hs.resolved.join(", "),
                if hs.resolved_ips.is_empty() {
                    String::new()
                } else {
                    format!(" to {}", hs.resolved_ips.join(", "))
                }
            )
        };
        let summary = format!(
            "{who} got NXDOMAIN for {} distinct unpronounceable names within {} s (mean \
             trigram log-likelihood {mean:.2} per character, threshold {:.2}), e.g. {}; \
             {resolved}",
            hs.nx.len(),
            cfg.window_secs,
            cfg.max_log_likelihood,
            hs.examples.join(", ")
        );
        let mut context = serde_json::Map::new();
        context.insert("nxdomain_names".into(), hs.nx.len().into());
        context.insert("mean_log_likelihood".into(), round3(mean));
        context.insert("examples".into(), hs.examples.clone().into());
        context.insert("resolved".into(), hs.resolved.clone().into());
        cx.alerts.push(
            AlertSpec {
                family: Family::Analytic,
                rule_id: "dga.nxdomain_burst",
                title: match hs.resolved.first() {
                    Some(d) => format!("DGA activity: NXDOMAIN burst, then {d} resolved"),
                    None => "DGA activity: burst of NXDOMAIN for generated names".to_owned(),
                },
                severity: if hs.resolved.is_empty() {
                    Severity::Medium
                } else {
                    Severity::High
                },
                attack: &["T1568.002"],
                org: hs.org.clone(),
                entities: Entities {
                    host: hs.host.clone(),
                    src_ip: hs.src_ip.clone(),
                    domain: hs.resolved.first().cloned(),
                    dst_ip: hs.resolved_ips.first().cloned(),
                    ..Entities::default()
                },
                first_seen: Timestamp::from_nanos(hs.first),
                last_seen: Timestamp::from_nanos(hs.last),
                time: Timestamp::from_nanos(hs.last),
                count: hs.nx.len() as u64,
                evidence: hs.evidence.to_vec(),
                summary,
                context,
            }
            .build(),
        );
    }

    fn sweep(&mut self, now: i64, cx: &mut Context<'_>) {
        let window = secs_to_nanos(cx.config.dga.window_secs);
        for hs in take_ended(&mut self.hosts, now, window, |h| h.window_start) {
            Self::judge(&hs, cx);
        }
    }
}

impl Detector for Dga {
    fn name(&self) -> &'static str {
        "dga"
    }

    fn observe(&mut self, ev: &Event, view: &View<'_>, cx: &mut Context<'_>) {
        let cfg = &cx.config.dga;
        if !cfg.enabled || view.kind != Kind::Dns {
            return;
        }
        let Some(name) = ev.dns_query() else { return };
        let rcode = ev.dns.response_code.as_deref().unwrap_or("");
        let nx = rcode.eq_ignore_ascii_case("NXDOMAIN");
        let resolved = rcode.eq_ignore_ascii_case("NOERROR")
            && (!ev.dns.answers.is_empty() || !ev.dns.resolved_ip.is_empty());
        if !nx && !resolved {
            return;
        }
        let t = view.time.nanos();
        let window = secs_to_nanos(cfg.window_secs);
        // Only a resolving name of a host already in a burst matters; scoring is skipped
        // for every other successful lookup.
        if resolved && !self.hosts.contains_key(&view.host_key) {
            return;
        }
        let Some(score) = unpronounceable(name, cfg) else {
            return;
        };
        if let Some(hs) = self.hosts.get(&view.host_key)
            && t >= hs.window_start.saturating_add(window)
            && let Some(closed) = self.hosts.remove(&view.host_key)
        {
            Self::judge(&closed, cx);
        }
        if resolved && !self.hosts.contains_key(&view.host_key) {
            return;
        }
        let hs = self
            .hosts
            .entry(view.host_key)
            .or_insert_with(|| HostState {
                org: view.org.clone(),
                host: view.host.map(str::to_owned),
                src_ip: view.src_ip.map(|i| i.to_string()),
                window_start: t,
                first: t,
                last: t,
                nx: Vec::new(),
                score_sum: 0.0,
                examples: Vec::new(),
                resolved: Vec::new(),
                resolved_ips: Vec::new(),
                evidence: EvidenceBuf::default(),
            });
        hs.first = hs.first.min(t);
        hs.last = hs.last.max(t);
        if nx {
            let h = hash_bytes(&[name.as_bytes()]) as u32;
            if let Err(pos) = hs.nx.binary_search(&h)
                && hs.nx.len() < MAX_NAMES
            {
                hs.nx.insert(pos, h);
                hs.score_sum += score;
                if hs.examples.len() < EXAMPLES {
                    hs.examples.push(name.to_owned());
                }
                hs.evidence.push_event(ev);
            }
        } else if hs.resolved.len() < EXAMPLES && !hs.resolved.iter().any(|r| r == name) {
            hs.resolved.push(name.to_owned());
            if let Some(ip) = ev.dns.resolved_ip.first() {
                hs.resolved_ips.push(ip.to_string());
            }
            hs.evidence.push_event(ev);
        }
        if self.hosts.len() > cfg.max_hosts {
            enforce_cap(&mut self.hosts, cfg.max_hosts);
        }
    }

    fn advance_to(&mut self, now: Timestamp, cx: &mut Context<'_>) {
        let cfg = &cx.config.dga;
        if !cfg.enabled {
            return;
        }
        let n = now.nanos();
        if sweep_due(&mut self.next_sweep, n, cfg.window_secs) {
            self.sweep(n, cx);
        }
    }

    fn flush(&mut self, cx: &mut Context<'_>) {
        if cx.config.dga.enabled {
            self.sweep(i64::MAX, cx);
        }
    }

    fn checkpoint(&self) -> Result<State, StateError> {
        checkpoint_of(self)
    }

    fn restore(&mut self, state: &RawValue) -> Result<(), StateError> {
        *self = restored(state, "dga")?;
        Ok(())
    }
}
