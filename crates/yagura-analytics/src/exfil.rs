//! Exfiltration: many or large uploads from one host to a destination rare across the
//! estate, judged against the host's own upload baseline.
//!
//! Upload volume is the originator's bytes of a flow (`source.bytes`) or the request body of
//! a web request (`http.request.bytes`); uploads are POST/PUT requests and flows whose
//! originator sent at least 64 KiB and more than it received. Per (host,
//! destination) the current tumbling window accumulates bytes and uploads; when it closes the
//! pair alerts if the destination is not popular in the estate, the volume passes the
//! absolute thresholds, and it exceeds the host's baseline (exponentially weighted mean and
//! variance of its earlier windows' upload totals) by `baseline_sigmas`. Only pairs with an
//! upload, or that sent more than they received, get state (capped at `max_pairs`);
//! baselines are capped at `max_hosts`.

use std::collections::HashMap;

use rustc_hash::FxBuildHasher;
use serde::{Deserialize, Serialize};
use yagura_model::{Detector as Family, Entities, Event, OrgId, Severity, Timestamp};

use crate::bounded::{LastSeen, enforce_cap, take_ended};
use crate::detector::{
    AlertSpec, Context, Dest, Detector, EvidenceBuf, Kind, RawValue, State, StateError, View,
    checkpoint_of, restored, sweep_due,
};
use crate::prevalence::secs_to_nanos;
use crate::stats::hash_bytes;

const ALPHA: f64 = 0.2;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct PairState {
    org: OrgId,
    host_key: u64,
    host: Option<String>,
    src_ip: Option<String>,
    domain: Option<String>,
    dst_ip: Option<String>,
    dest_key: Option<u64>,
    window_start: i64,
    first: i64,
    last: i64,
    bytes: u64,
    uploads: u32,
    events: u32,
    evidence: EvidenceBuf,
}

impl LastSeen for PairState {
    fn last_seen(&self) -> i64 {
        self.last
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Baseline {
    window_start: i64,
    current: u64,
    /// Total of a window that closed but is not folded yet (its pairs are judged first).
    closed: Option<u64>,
    mean: f64,
    var: f64,
    windows: u32,
    last: i64,
}

impl LastSeen for Baseline {
    fn last_seen(&self) -> i64 {
        self.last
    }
}

impl Baseline {
    /// Folds the closed window's total into the mean and variance.
    fn fold(&mut self) {
        let Some(x) = self.closed.take() else { return };
        let x = x as f64;
        if self.windows == 0 {
            self.mean = x;
            self.var = 0.0;
        } else {
            let d = x - self.mean;
            self.mean += ALPHA * d;
            self.var = (1.0 - ALPHA) * (self.var + ALPHA * d * d);
        }
        self.windows = self.windows.saturating_add(1);
    }

    /// Closes the current window (its total waits in `closed` until the next sweep).
    fn close(&mut self, new_start: i64) {
        if self.current > 0 {
            self.fold();
            self.closed = Some(self.current);
        }
        self.current = 0;
        self.window_start = new_start;
    }
}

/// The exfiltration detector.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Exfil {
    pairs: HashMap<u64, PairState, FxBuildHasher>,
    hosts: HashMap<u64, Baseline, FxBuildHasher>,
    next_sweep: Option<i64>,
}

impl Exfil {
    fn judge(&self, p: &PairState, cx: &mut Context<'_>) {
        let cfg = &cx.config.exfil;
        let volume = p.bytes >= cfg.min_bytes;
        let many = p.uploads >= cfg.min_uploads && p.bytes >= cfg.min_bytes_with_count;
        if !(volume || many) {
            return;
        }
        let prev = p
            .dest_key
            .map(|k| cx.prevalence.classify(&cx.config.prevalence, k, p.last))
            .unwrap_or_default();
        if prev.popular {
            return;
        }
        let baseline = self.hosts.get(&p.host_key);
        let (mean, sd, windows) =
            baseline.map_or((0.0, 0.0, 0), |b| (b.mean, b.var.sqrt(), b.windows));
        if windows >= cfg.baseline_min_windows
            && (p.bytes as f64) <= mean + cfg.baseline_sigmas * sd.max(mean * 0.1)
        {
            return;
        }
        let who = p
            .host
            .clone()
            .or_else(|| p.src_ip.clone())
            .unwrap_or_default();
        let target = p
            .domain
            .clone()
            .or_else(|| p.dst_ip.clone())
            .unwrap_or_default();
        let base_text = if windows >= cfg.baseline_min_windows {
            format!(
                "its baseline is {:.1} MB ± {:.1} MB per window over {windows} windows",
                mean / 1e6,
                sd / 1e6
            )
        } else {
            format!("no baseline yet ({windows} earlier windows)")
        };
        let summary = format!(
            "{who} sent {:.1} MB in {} uploads and {} connections to {target} within \
             {} s; {base_text}; {}",
            p.bytes as f64 / 1e6,
            p.uploads,
            p.events,
            cfg.window_secs,
            prev.describe()
        );
        let mut context = serde_json::Map::new();
        context.insert("bytes".into(), p.bytes.into());
        context.insert("uploads".into(), p.uploads.into());
        context.insert("baseline_mean".into(), crate::beacon::round3(mean));
        context.insert("baseline_windows".into(), windows.into());
        context.insert("prevalence_hosts".into(), prev.hosts.into());
        cx.alerts.push(
            AlertSpec {
                family: Family::Analytic,
                rule_id: "exfil.volume",
                title: format!("Large upload to rare destination {target}"),
                severity: if prev.new || p.bytes >= cfg.min_bytes.saturating_mul(4) {
                    Severity::High
                } else {
                    Severity::Medium
                },
                attack: &["T1041", "T1048"],
                org: p.org.clone(),
                entities: Entities {
                    host: p.host.clone(),
                    src_ip: p.src_ip.clone(),
                    domain: p.domain.clone(),
                    dst_ip: p.dst_ip.clone(),
                    ..Entities::default()
                },
                first_seen: Timestamp::from_nanos(p.first),
                last_seen: Timestamp::from_nanos(p.last),
                time: Timestamp::from_nanos(p.last),
                count: u64::from(p.events),
                evidence: p.evidence.to_vec(),
                summary,
                context,
            }
            .build(),
        );
    }

    fn sweep(&mut self, now: i64, cx: &mut Context<'_>) {
        let window = secs_to_nanos(cx.config.exfil.window_secs);
        for p in take_ended(&mut self.pairs, now, window, |p| p.window_start) {
            self.judge(&p, cx);
        }
        for b in self.hosts.values_mut() {
            if now >= b.window_start.saturating_add(window) {
                b.close(now.div_euclid(window).saturating_mul(window));
            }
            b.fold();
        }
    }
}

/// A flow counts as an upload when its originator sent at least this much, and more than
/// it received.
const FLOW_UPLOAD_BYTES: u64 = 64 * 1024;

/// (bytes sent by the host, whether the event is an upload).
fn upload_of(ev: &Event, kind: Kind) -> (u64, bool) {
    match kind {
        Kind::Flow => {
            let up = ev.source.bytes.unwrap_or(0);
            let down = ev.destination.bytes.unwrap_or(0);
            (up, up >= FLOW_UPLOAD_BYTES && up > down)
        }
        _ => {
            let upload = ev
                .http_method()
                .is_some_and(|m| m.eq_ignore_ascii_case("POST") || m.eq_ignore_ascii_case("PUT"));
            (
                ev.http.request.bytes.or(ev.source.bytes).unwrap_or(0),
                upload,
            )
        }
    }
}

impl Detector for Exfil {
    fn name(&self) -> &'static str {
        "exfil"
    }

    fn observe(&mut self, ev: &Event, view: &View<'_>, cx: &mut Context<'_>) {
        let cfg = &cx.config.exfil;
        if !cfg.enabled || !matches!(view.kind, Kind::Flow | Kind::Web) || view.dest_internal {
            return;
        }
        let Some(dest) = view.dest else { return };
        let (bytes, upload) = upload_of(ev, view.kind);
        // Only what looks like sending: uploads, and traffic that sent more than it received
        // (ordinary browsing and downloads receive more and cost no state here).
        let received = ev.destination.bytes.or(ev.http.response.bytes).unwrap_or(0);
        if !upload && (bytes < 1024 || bytes <= received) {
            return;
        }
        let t = view.time.nanos();
        let window = secs_to_nanos(cfg.window_secs);
        let start = t.div_euclid(window).saturating_mul(window);
        let base = self.hosts.entry(view.host_key).or_insert(Baseline {
            window_start: start,
            current: 0,
            closed: None,
            mean: 0.0,
            var: 0.0,
            windows: 0,
            last: t,
        });
        if t >= base.window_start.saturating_add(window) {
            base.close(start);
        }
        base.last = base.last.max(t);
        let (domain, dst_ip, key) = match dest {
            Dest::Name(n) => (
                Some(view.registered.unwrap_or(n).to_owned()),
                None,
                hash_bytes(&[
                    &view.host_key.to_le_bytes(),
                    b"n",
                    view.registered.unwrap_or(n).as_bytes(),
                ]),
            ),
            Dest::Addr(ip, _) => (
                None,
                Some(ip.to_string()),
                hash_bytes(&[
                    &view.host_key.to_le_bytes(),
                    &crate::detector::hash_ip("a", ip).to_le_bytes(),
                ]),
            ),
        };
        if let Some(p) = self.pairs.get(&key)
            && t >= p.window_start.saturating_add(window)
            && let Some(closed) = self.pairs.remove(&key)
        {
            self.judge(&closed, cx);
        }
        if let Some(b) = self.hosts.get_mut(&view.host_key) {
            b.current = b.current.saturating_add(bytes);
        }
        let p = self.pairs.entry(key).or_insert_with(|| PairState {
            org: view.org.clone(),
            host_key: view.host_key,
            host: view.host.map(str::to_owned),
            src_ip: view.src_ip.map(|i| i.to_string()),
            domain,
            dst_ip,
            dest_key: view.dest_key,
            window_start: start,
            first: t,
            last: t,
            bytes: 0,
            uploads: 0,
            events: 0,
            evidence: EvidenceBuf::default(),
        });
        p.first = p.first.min(t);
        p.last = p.last.max(t);
        p.bytes = p.bytes.saturating_add(bytes);
        p.events = p.events.saturating_add(1);
        if upload {
            p.uploads = p.uploads.saturating_add(1);
        }
        p.evidence.push_event(ev);
        if self.pairs.len() > cfg.max_pairs {
            enforce_cap(&mut self.pairs, cfg.max_pairs);
        }
        if self.hosts.len() > cfg.max_hosts {
            enforce_cap(&mut self.hosts, cfg.max_hosts);
        }
    }

    fn advance_to(&mut self, now: Timestamp, cx: &mut Context<'_>) {
        let cfg = &cx.config.exfil;
        if !cfg.enabled {
            return;
        }
        let n = now.nanos();
        if sweep_due(&mut self.next_sweep, n, cfg.window_secs) {
            self.sweep(n, cx);
        }
    }

    fn flush(&mut self, cx: &mut Context<'_>) {
        if cx.config.exfil.enabled {
            self.sweep(i64::MAX, cx);
        }
    }

    fn checkpoint(&self) -> Result<State, StateError> {
        checkpoint_of(self)
    }

    fn restore(&mut self, state: &RawValue) -> Result<(), StateError> {
        *self = restored(state, "exfil")?;
        Ok(())
    }
}
