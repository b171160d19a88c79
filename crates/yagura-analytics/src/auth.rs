//! Windows authentication analytics: lateral movement, administrator accounts used from
//! workstations, password spraying and brute force.
//!
//! Events read (Security log, EventData names as Windows writes them):
//! * successes: 4624 (logon, types 3 network and 10 remote interactive), 4648 (explicit
//!   credentials; target `TargetServerName`), 4769 (Kerberos service ticket; target
//!   `ServiceName`);
//! * failures: 4625 (logon failure), 4771 (Kerberos pre-authentication failure), 4776 (NTLM
//!   validation with a non-zero `Status`).
//!
//! The account is `TargetUserName` (else `user.name`); machine accounts (`…$`) and
//! `ignore_accounts` are skipped. The source is `IpAddress` (else `WorkstationName` /
//! `Workstation`, else `source.ip`); the destination host is the target server of 4648/4769
//! and otherwise the computer that logged the event.
//!
//! Per account and per source, tumbling windows of `window_secs` count distinct destination
//! hosts (lateral movement: at least `lateral_min_hosts` and more than
//! `lateral_baseline_factor` × the largest count of its earlier windows), distinct failing
//! accounts per source (spraying) and failures per account (brute force). A success after
//! a spray or brute force in the same window re-raises the alert one severity higher (same
//! fingerprint, so a consumer aggregating by fingerprint keeps the higher severity).

use std::collections::HashMap;

use rustc_hash::FxBuildHasher;
use serde::{Deserialize, Serialize};
use yagura_model::{Detector as Family, Entities, Event, OrgId, Severity, Timestamp};

use crate::bounded::{LastSeen, enforce_cap};
use crate::detector::{
    AlertSpec, Context, Detector, EvidenceBuf, Kind, RawValue, State, StateError, View,
    checkpoint_of, evidence_of, glob_match, restored,
};
use crate::prevalence::secs_to_nanos;
use crate::stats::hash_bytes;

const NAMES: usize = 10;

/// One authentication event, as the analytics read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthEvent {
    pub success: bool,
    pub event_id: u32,
    pub account: String,
    pub source_ip: Option<String>,
    pub source_host: Option<String>,
    pub target_host: Option<String>,
    pub logon_type: Option<u32>,
}

fn clean(v: Option<&str>) -> Option<&str> {
    v.map(str::trim)
        .filter(|v| !v.is_empty() && *v != "-" && *v != "::1" && *v != "127.0.0.1")
}

fn strip_mapped(ip: &str) -> &str {
    ip.strip_prefix("::ffff:").unwrap_or(ip)
}

/// Reads an authentication event; `None` for other events and for unusable ones.
pub fn read_auth(ev: &Event, cfg: &crate::config::AuthConfig) -> Option<AuthEvent> {
    let id = ev.winlog.event_id?;
    let data = &ev.winlog.event_data;
    let get = |k: &str| clean(data.get_ignore_case(k));
    let status_ok = |k: &str| {
        get(k).is_none_or(|s| {
            let s = s.trim_start_matches("0x").trim_start_matches("0X");
            s.bytes().all(|b| b == b'0')
        })
    };
    let logon_type = get("LogonType").and_then(|s| s.parse().ok());
    let success = match id {
        4624 => matches!(logon_type, Some(3 | 10)),
        4648 => true,
        4769 => status_ok("Status"),
        4625 | 4771 => false,
        4776 => status_ok("Status"),
        _ => return None,
    };
    if id == 4624 && !success {
        return None;
    }
    let account = get("TargetUserName")
        .or(ev.user_name())?
        .to_ascii_lowercase();
    // `DOMAIN\user` and Kerberos' `user@REALM` are the same account as `user`.
    let account = account.rsplit('\\').next().unwrap_or(&account);
    let account = account.split('@').next().unwrap_or(account).to_owned();
    if account.ends_with('$')
        || account.is_empty()
        || cfg.ignore_accounts.iter().any(|p| glob_match(p, &account))
    {
        return None;
    }
    let source_ip = get("IpAddress")
        .map(strip_mapped)
        .filter(|s| !s.is_empty() && *s != "127.0.0.1" && *s != "::1")
        .map(str::to_owned)
        .or_else(|| ev.src_ip().map(|i| i.to_string()));
    let source_host = get("WorkstationName")
        .or_else(|| get("Workstation"))
        .map(|s| s.trim_start_matches('\\').to_ascii_lowercase());
    let target_host = match id {
        4648 => get("TargetServerName").map(str::to_owned),
        4769 => get("ServiceName").map(|s| s.trim_end_matches('$').to_owned()),
        _ => None,
    }
    .or_else(|| ev.winlog.computer_name.as_deref().map(str::to_owned))
    .or_else(|| ev.host_name().map(str::to_owned))
    .map(|h| h.to_ascii_lowercase());
    Some(AuthEvent {
        success,
        event_id: id,
        account,
        source_ip,
        source_host,
        target_host,
        logon_type,
    })
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct KeyState {
    org: Option<OrgId>,
    /// Who: an account name or a source (address or workstation).
    label: String,
    is_source: bool,
    window_start: i64,
    first: i64,
    last: i64,
    /// Distinct destination hosts reached with a success in this window.
    hosts: Vec<u32>,
    host_names: Vec<String>,
    /// Largest distinct-host count of an earlier window.
    baseline_max: u32,
    /// Distinct accounts failing (for a source) / failures (for an account).
    fail_accounts: Vec<u32>,
    fail_names: Vec<String>,
    failures: u32,
    fail_sources: Vec<String>,
    lateral_alerted: bool,
    /// Some success of this key came from a workstation (`workstations` globs).
    #[serde(default)]
    from_workstation: bool,
    spray_alerted: Option<Severity>,
    brute_alerted: Option<Severity>,
    src_ip: Option<String>,
    evidence: EvidenceBuf,
}

impl LastSeen for KeyState {
    fn last_seen(&self) -> i64 {
        self.last
    }
}

impl KeyState {
    fn roll(&mut self, start: i64) {
        self.baseline_max = self.baseline_max.max(self.hosts.len() as u32);
        self.window_start = start;
        self.hosts.clear();
        self.host_names.clear();
        self.fail_accounts.clear();
        self.fail_names.clear();
        self.fail_sources.clear();
        self.failures = 0;
        self.lateral_alerted = false;
        self.spray_alerted = None;
        self.brute_alerted = None;
        self.evidence.clear();
    }
}

fn push_name(v: &mut Vec<String>, name: &str) {
    if v.len() < NAMES && !v.iter().any(|n| n == name) {
        v.push(name.to_owned());
    }
}

fn insert_set(v: &mut Vec<u32>, h: u32, cap: usize) -> bool {
    match v.binary_search(&h) {
        Ok(_) => false,
        Err(pos) if v.len() < cap => {
            v.insert(pos, h);
            true
        }
        Err(_) => false,
    }
}

/// The authentication detector.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Auth {
    keys: HashMap<u64, KeyState, FxBuildHasher>,
    /// (account, workstation) pairs already reported, with the time.
    admin_seen: HashMap<u64, i64, FxBuildHasher>,
}

impl LastSeen for i64 {
    fn last_seen(&self) -> i64 {
        *self
    }
}

struct Emit<'a> {
    rule: &'static str,
    title: String,
    severity: Severity,
    attack: &'static [&'static str],
    entities: Entities,
    ks: &'a KeyState,
    org: &'a OrgId,
    now: Timestamp,
    count: u64,
    summary: String,
}

fn emit(e: Emit<'_>, cx: &mut Context<'_>) {
    cx.alerts.push(
        AlertSpec {
            family: Family::Analytic,
            rule_id: e.rule,
            title: e.title,
            severity: e.severity,
            attack: e.attack,
            org: e.org.clone(),
            entities: e.entities,
            first_seen: Timestamp::from_nanos(e.ks.first),
            last_seen: e.now,
            time: e.now,
            count: e.count,
            evidence: e.ks.evidence.to_vec(),
            summary: e.summary,
            context: serde_json::Map::new(),
        }
        .build(),
    );
}

impl Auth {
    fn key_state<'s>(
        keys: &'s mut HashMap<u64, KeyState, FxBuildHasher>,
        org: &OrgId,
        is_source: bool,
        label: &str,
        t: i64,
        window: i64,
    ) -> &'s mut KeyState {
        let key = hash_bytes(&[
            org.as_str().as_bytes(),
            if is_source { b"s" } else { b"a" },
            label.as_bytes(),
        ]);
        let start = t.div_euclid(window).saturating_mul(window);
        let ks = keys.entry(key).or_insert_with(|| KeyState {
            org: Some(org.clone()),
            label: label.to_owned(),
            is_source,
            window_start: start,
            first: t,
            last: t,
            ..KeyState::default()
        });
        if t >= ks.window_start.saturating_add(window) {
            ks.roll(start);
            ks.first = t;
        }
        ks.first = ks.first.min(t);
        ks.last = ks.last.max(t);
        ks
    }
}

impl Detector for Auth {
    fn name(&self) -> &'static str {
        "auth"
    }

    fn observe(&mut self, ev: &Event, view: &View<'_>, cx: &mut Context<'_>) {
        let cfg = &cx.config.auth;
        if !cfg.enabled || view.kind != Kind::Auth {
            return;
        }
        let Some(a) = read_auth(ev, cfg) else { return };
        let t = view.time.nanos();
        let now = view.time;
        let window = secs_to_nanos(cfg.window_secs);
        let org = view.org.clone();
        let evidence = evidence_of(ev);
        let source = a.source_ip.clone().or_else(|| a.source_host.clone());
        let mut subjects: Vec<(bool, String)> = vec![(false, a.account.clone())];
        if let Some(s) = &source {
            subjects.push((true, s.clone()));
        }
        for (is_source, label) in subjects {
            let ks = Self::key_state(&mut self.keys, &org, is_source, &label, t, window);
            ks.evidence.push(evidence.clone());
            if is_source && ks.src_ip.is_none() {
                ks.src_ip = a.source_ip.clone();
            }
            if a.success {
                if a.source_host
                    .as_deref()
                    .is_some_and(|h| cfg.workstations.iter().any(|p| glob_match(p, h)))
                {
                    ks.from_workstation = true;
                }
                if let Some(target) = &a.target_host {
                    let h = hash_bytes(&[target.as_bytes()]) as u32;
                    if insert_set(&mut ks.hosts, h, cfg.max_set) {
                        push_name(&mut ks.host_names, target);
                    }
                }
                let n = ks.hosts.len() as u32;
                let beyond_baseline =
                    f64::from(n) > cfg.lateral_baseline_factor * f64::from(ks.baseline_max);
                // A key without history is learned, not judged, unless it acts from a
                // workstation: management servers (backup, inventory, patching) fan out by
                // design, a user's PC reaching many hosts is lateral movement.
                let judged = ks.baseline_max > 0 || ks.from_workstation;
                if n >= cfg.lateral_min_hosts && beyond_baseline && judged && !ks.lateral_alerted {
                    ks.lateral_alerted = true;
                    let mut entities = Entities::default();
                    if is_source {
                        entities.src_ip = a.source_ip.clone();
                        entities.host = a.source_host.clone();
                    } else {
                        entities.user = Some(label.clone());
                    }
                    let who = if is_source {
                        format!("source {label}")
                    } else {
                        format!("account {label}")
                    };
                    let summary = format!(
                        "{who} authenticated to {n} distinct hosts within {} s ({}), more than \
                         {:.1}× its previous maximum of {} per window",
                        cfg.window_secs,
                        ks.host_names.join(", "),
                        cfg.lateral_baseline_factor,
                        ks.baseline_max
                    );
                    emit(
                        Emit {
                            rule: "lateral.fanout",
                            title: format!("Lateral movement: {who} reached {n} hosts"),
                            severity: Severity::High,
                            attack: &["T1021", "T1078"],
                            entities,
                            ks,
                            org: &org,
                            now,
                            count: u64::from(n),
                            summary,
                        },
                        cx,
                    );
                }
                // A success after a spray/brute force from the same source / on the same account.
                let raised = |s: Option<Severity>| s.map(Severity::raised);
                if is_source
                    && let Some(sev) = ks.spray_alerted
                    && sev < Severity::Critical
                    && sev == Severity::High
                {
                    ks.spray_alerted = raised(Some(sev));
                    let summary = format!(
                        "after {} failures on {} accounts from {label} within {} s ({}), {} \
                         logged on successfully",
                        ks.failures,
                        ks.fail_accounts.len(),
                        cfg.window_secs,
                        ks.fail_names.join(", "),
                        a.account
                    );
                    let entities = Entities {
                        src_ip: a.source_ip.clone(),
                        host: a.source_host.clone(),
                        ..Entities::default()
                    };
                    emit(
                        Emit {
                            rule: "auth.password_spray",
                            title: format!("Password spraying from {label}, then a success"),
                            severity: Severity::Critical,
                            attack: &["T1110.003"],
                            entities,
                            ks,
                            org: &org,
                            now,
                            count: u64::from(ks.failures) + 1,
                            summary,
                        },
                        cx,
                    );
                }
                if !is_source
                    && let Some(sev) = ks.brute_alerted
                    && sev == Severity::High
                {
                    ks.brute_alerted = raised(Some(sev));
                    let summary = format!(
                        "after {} failed logons on account {label} within {} s (from {}), a \
                         logon succeeded{}",
                        ks.failures,
                        cfg.window_secs,
                        ks.fail_sources.join(", "),
                        source
                            .as_deref()
                            .map(|s| format!(" from {s}"))
                            .unwrap_or_default()
                    );
                    emit(
                        Emit {
                            rule: "auth.brute_force",
                            title: format!("Brute force on {label}, then a success"),
                            severity: Severity::Critical,
                            attack: &["T1110.001"],
                            entities: Entities {
                                user: Some(label.clone()),
                                ..Entities::default()
                            },
                            ks,
                            org: &org,
                            now,
                            count: u64::from(ks.failures) + 1,
                            summary,
                        },
                        cx,
                    );
                }
            } else {
                ks.failures = ks.failures.saturating_add(1);
                if let Some(s) = &source {
                    push_name(&mut ks.fail_sources, s);
                }
                let h = hash_bytes(&[a.account.as_bytes()]) as u32;
                if insert_set(&mut ks.fail_accounts, h, cfg.max_set) {
                    push_name(&mut ks.fail_names, &a.account);
                }
                if is_source
                    && ks.spray_alerted.is_none()
                    && ks.fail_accounts.len() as u32 >= cfg.spray_min_accounts
                {
                    ks.spray_alerted = Some(Severity::High);
                    let summary = format!(
                        "{} failed authentications for {} distinct accounts from {label} within \
                         {} s (event {}; e.g. {})",
                        ks.failures,
                        ks.fail_accounts.len(),
                        cfg.window_secs,
                        a.event_id,
                        ks.fail_names.join(", ")
                    );
                    emit(
                        Emit {
                            rule: "auth.password_spray",
                            title: format!("Password spraying from {label}"),
                            severity: Severity::High,
                            attack: &["T1110.003"],
                            entities: Entities {
                                src_ip: a.source_ip.clone(),
                                host: a.source_host.clone(),
                                ..Entities::default()
                            },
                            ks,
                            org: &org,
                            now,
                            count: u64::from(ks.failures),
                            summary,
                        },
                        cx,
                    );
                }
                if !is_source && ks.brute_alerted.is_none() && ks.failures >= cfg.brute_min_failures
                {
                    ks.brute_alerted = Some(Severity::High);
                    let summary = format!(
                        "{} failed authentications for account {label} within {} s from {}",
                        ks.failures,
                        cfg.window_secs,
                        ks.fail_sources.join(", ")
                    );
                    emit(
                        Emit {
                            rule: "auth.brute_force",
                            title: format!("Brute force on account {label}"),
                            severity: Severity::High,
                            attack: &["T1110.001"],
                            entities: Entities {
                                user: Some(label.clone()),
                                src_ip: (ks.fail_sources.len() == 1)
                                    .then(|| a.source_ip.clone())
                                    .flatten(),
                                ..Entities::default()
                            },
                            ks,
                            org: &org,
                            now,
                            count: u64::from(ks.failures),
                            summary,
                        },
                        cx,
                    );
                }
            }
        }
        // Administrator accounts used from workstations.
        if a.success
            && matches!(a.event_id, 4624 | 4648)
            && cfg.admin_accounts.iter().any(|p| glob_match(p, &a.account))
            && let Some(ws) = a
                .source_host
                .as_deref()
                .filter(|h| cfg.workstations.iter().any(|p| glob_match(p, h)))
        {
            let key = hash_bytes(&[org.as_str().as_bytes(), a.account.as_bytes(), ws.as_bytes()]);
            let fresh = self
                .admin_seen
                .get(&key)
                .is_none_or(|&at| t.saturating_sub(at) >= window);
            if fresh {
                self.admin_seen.insert(key, t);
                let ks = KeyState {
                    first: t,
                    last: t,
                    evidence: {
                        let mut e = EvidenceBuf::default();
                        e.push(evidence.clone());
                        e
                    },
                    ..KeyState::default()
                };
                let target = a.target_host.clone().unwrap_or_else(|| "a host".into());
                emit(
                    Emit {
                        rule: "auth.admin_from_workstation",
                        title: format!(
                            "Administrator account {} used from workstation {ws}",
                            a.account
                        ),
                        severity: Severity::Medium,
                        attack: &["T1078.002"],
                        entities: Entities {
                            user: Some(a.account.clone()),
                            host: Some(ws.to_owned()),
                            src_ip: a.source_ip.clone(),
                            ..Entities::default()
                        },
                        ks: &ks,
                        org: &org,
                        now,
                        count: 1,
                        summary: format!(
                            "administrator account {} logged on to {target} from workstation \
                             {ws} (event {}, logon type {}); administrators should work from \
                             administration hosts",
                            a.account,
                            a.event_id,
                            a.logon_type.map_or("-".to_owned(), |t| t.to_string())
                        ),
                    },
                    cx,
                );
                if self.admin_seen.len() > cfg.max_keys {
                    enforce_cap(&mut self.admin_seen, cfg.max_keys);
                }
            }
        }
        if self.keys.len() > cfg.max_keys {
            enforce_cap(&mut self.keys, cfg.max_keys);
        }
    }

    fn advance_to(&mut self, _now: Timestamp, _cx: &mut Context<'_>) {}

    fn flush(&mut self, _cx: &mut Context<'_>) {}

    fn checkpoint(&self) -> Result<State, StateError> {
        checkpoint_of(self)
    }

    fn restore(&mut self, state: &RawValue) -> Result<(), StateError> {
        *self = restored(state, "auth")?;
        Ok(())
    }
}
