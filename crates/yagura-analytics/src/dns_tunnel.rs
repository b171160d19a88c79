//! DNS tunnelling, per (host, registered domain) in tumbling windows.
//!
//! Data smuggled through DNS shows as many *unique* subdomains under one registered domain
//! (public-suffix aware: `psl`), long and high-entropy leftmost labels, a high share of
//! TXT/NULL (and CNAME/MX) queries whose answers carry data, and volume from one host.
//!
//! State is created only for queries that could be tunnel traffic (a subdomain of at least
//! 12 characters, or a TXT/NULL/CNAME/MX query with a subdomain), so ordinary lookups cost
//! nothing; keys are capped at `max_keys` and distinct subdomains per key at
//! `max_subdomains` (32-bit hashes, exact below the cap).

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
use crate::prevalence::secs_to_nanos;
use crate::stats::{entropy, hash_bytes};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct KeyState {
    org: OrgId,
    host: Option<String>,
    src_ip: Option<String>,
    domain: String,
    window_start: i64,
    first: i64,
    last: i64,
    queries: u32,
    data_queries: u32,
    /// Sorted distinct subdomain hashes (capped).
    subs: Vec<u32>,
    label_len_sum: u64,
    entropy_sum: f64,
    name_bytes: u64,
    example: String,
    evidence: EvidenceBuf,
}

impl LastSeen for KeyState {
    fn last_seen(&self) -> i64 {
        self.last
    }
}

/// The DNS tunnel detector.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct DnsTunnel {
    keys: HashMap<u64, KeyState, FxBuildHasher>,
    next_sweep: Option<i64>,
}

fn is_data_type(t: &str) -> bool {
    matches!(
        t,
        "TXT" | "NULL" | "CNAME" | "MX" | "ANY" | "PRIVATE" | "10" | "16"
    )
}

/// The outcome of judging one window.
#[derive(Debug, Clone, PartialEq)]
pub struct TunnelScore {
    pub unique: usize,
    pub mean_label_len: f64,
    pub mean_entropy: f64,
    pub data_share: f64,
}

impl KeyState {
    fn score(&self) -> TunnelScore {
        let unique = self.subs.len();
        let n = unique.max(1) as f64;
        TunnelScore {
            unique,
            mean_label_len: self.label_len_sum as f64 / n,
            mean_entropy: self.entropy_sum / n,
            data_share: f64::from(self.data_queries) / f64::from(self.queries.max(1)),
        }
    }

    fn reset(&mut self, start: i64) {
        self.window_start = start;
        self.queries = 0;
        self.data_queries = 0;
        self.subs.clear();
        self.label_len_sum = 0;
        self.entropy_sum = 0.0;
        self.name_bytes = 0;
        self.evidence.clear();
    }
}

impl DnsTunnel {
    fn judge(ks: &KeyState, window_end: i64, cx: &mut Context<'_>) {
        let cfg = &cx.config.dns_tunnel;
        let s = ks.score();
        if s.unique < cfg.min_unique_subdomains as usize {
            return;
        }
        let encoded =
            s.mean_label_len >= cfg.min_mean_label_len && s.mean_entropy >= cfg.min_mean_entropy;
        let data =
            s.data_share >= cfg.min_txt_null_share && s.mean_entropy >= cfg.min_mean_entropy - 0.5;
        if !(encoded || data) {
            return;
        }
        let who = ks
            .host
            .clone()
            .or_else(|| ks.src_ip.clone())
            .unwrap_or_default();
        let summary = format!(
            "{who} queried {} unique subdomains of {} in {} queries within {} s (mean label \
             length {:.1}, mean entropy {:.2} bits/char, TXT/NULL/CNAME/MX share {:.0}%, {} bytes \
             of names), e.g. {}",
            s.unique,
            ks.domain,
            ks.queries,
            cfg.window_secs,
            s.mean_label_len,
            s.mean_entropy,
            s.data_share * 100.0,
            ks.name_bytes,
            ks.example
        );
        let mut context = serde_json::Map::new();
        context.insert("unique_subdomains".into(), s.unique.into());
        context.insert("mean_label_len".into(), round3(s.mean_label_len));
        context.insert("mean_entropy".into(), round3(s.mean_entropy));
        context.insert("data_share".into(), round3(s.data_share));
        context.insert("name_bytes".into(), ks.name_bytes.into());
        cx.alerts.push(
            AlertSpec {
                family: Family::Analytic,
                rule_id: "dns.tunnel",
                title: format!("DNS tunnelling to {}", ks.domain),
                severity: if encoded && data {
                    Severity::Critical
                } else {
                    Severity::High
                },
                attack: &["T1071.004", "T1572"],
                org: ks.org.clone(),
                entities: Entities {
                    host: ks.host.clone(),
                    src_ip: ks.src_ip.clone(),
                    domain: Some(ks.domain.clone()),
                    ..Entities::default()
                },
                first_seen: Timestamp::from_nanos(ks.first),
                last_seen: Timestamp::from_nanos(ks.last),
                time: Timestamp::from_nanos(window_end.min(ks.last.max(ks.first))),
                count: u64::from(ks.queries),
                evidence: ks.evidence.to_vec(),
                summary,
                context,
            }
            .build(),
        );
    }

    fn sweep(&mut self, now: i64, cx: &mut Context<'_>) {
        let window = secs_to_nanos(cx.config.dns_tunnel.window_secs);
        for ks in take_ended(&mut self.keys, now, window, |k| k.window_start) {
            Self::judge(&ks, ks.window_start.saturating_add(window), cx);
        }
    }
}

impl Detector for DnsTunnel {
    fn name(&self) -> &'static str {
        "dns_tunnel"
    }

    fn observe(&mut self, ev: &Event, view: &View<'_>, cx: &mut Context<'_>) {
        let cfg = &cx.config.dns_tunnel;
        if !cfg.enabled || view.kind != Kind::Dns {
            return;
        }
        let (Some(name), Some(reg)) = (ev.dns_query(), view.registered) else {
            return;
        };
        let sub = crate::domain::subdomain_of(name, reg);
        let qtype = ev.dns.question.kind.as_deref().unwrap_or("");
        let data = is_data_type(qtype);
        if sub.is_empty() || (sub.len() < 12 && !data) {
            return;
        }
        if cfg.allow_domains.iter().any(|d| d == reg) {
            return;
        }
        let t = view.time.nanos();
        let window = secs_to_nanos(cfg.window_secs);
        let key = hash_bytes(&[&view.host_key.to_le_bytes(), reg.as_bytes()]);
        let ks = self.keys.entry(key).or_insert_with(|| KeyState {
            org: view.org.clone(),
            host: view.host.map(str::to_owned),
            src_ip: view.src_ip.map(|i| i.to_string()),
            domain: reg.to_owned(),
            window_start: t.div_euclid(window) * window,
            first: t,
            last: t,
            queries: 0,
            data_queries: 0,
            subs: Vec::new(),
            label_len_sum: 0,
            entropy_sum: 0.0,
            name_bytes: 0,
            example: name.to_owned(),
            evidence: EvidenceBuf::default(),
        });
        if t >= ks.window_start.saturating_add(window) {
            let end = ks.window_start.saturating_add(window);
            let closed = ks.clone();
            Self::judge(&closed, end, cx);
            ks.reset(t.div_euclid(window) * window);
            ks.first = t;
            ks.example = name.to_owned();
        }
        ks.first = ks.first.min(t);
        ks.last = ks.last.max(t);
        ks.queries = ks.queries.saturating_add(1);
        if data {
            ks.data_queries = ks.data_queries.saturating_add(1);
        }
        ks.name_bytes = ks.name_bytes.saturating_add(name.len() as u64);
        let h = hash_bytes(&[sub.as_bytes()]) as u32;
        if let Err(pos) = ks.subs.binary_search(&h)
            && ks.subs.len() < cfg.max_subdomains
        {
            ks.subs.insert(pos, h);
            let longest = sub.split('.').map(str::len).max().unwrap_or(0);
            ks.label_len_sum += longest as u64;
            ks.entropy_sum += entropy(&sub.replace('.', ""));
            ks.evidence.push_event(ev);
        }
        if self.keys.len() > cfg.max_keys {
            enforce_cap(&mut self.keys, cfg.max_keys);
        }
    }

    fn advance_to(&mut self, now: Timestamp, cx: &mut Context<'_>) {
        let cfg = &cx.config.dns_tunnel;
        if !cfg.enabled {
            return;
        }
        let n = now.nanos();
        if sweep_due(&mut self.next_sweep, n, cfg.window_secs) {
            self.sweep(n, cx);
        }
    }

    fn flush(&mut self, cx: &mut Context<'_>) {
        if !cx.config.dns_tunnel.enabled {
            return;
        }
        self.sweep(i64::MAX, cx);
    }

    fn checkpoint(&self) -> Result<State, StateError> {
        checkpoint_of(self)
    }

    fn restore(&mut self, state: &RawValue) -> Result<(), StateError> {
        *self = restored(state, "dns_tunnel")?;
        Ok(())
    }
}
