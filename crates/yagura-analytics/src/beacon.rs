//! Beaconing: host → domain/SNI through proxies (and HTTP/TLS sensors), src → dst:port in
//! flows.
//!
//! Two tiers keep the state bounded at estate scale:
//! 1. every (host, destination) pair has a 24-byte [`Pair`]: first/last time, connection
//!    count, a histogram of inter-arrival times in bins of two octaves (1 s … ≥ 4.5 h) and
//!    its last four inter-arrival times (one byte each, log-encoded);
//! 2. a pair whose destination is not popular in the estate and whose intervals concentrate
//!    in two adjacent bins (a period ±50% spans at most two) is promoted to a
//!    [`Candidate`] holding its last `max_samples` (time, size) samples, starting with the
//!    times of the sessions before the promotion that the pair remembers (so a beacon cut
//!    short is judged on all its connections).
//!
//! Every `evaluate_every_secs` of event time, each candidate's samples in the window are
//! scored (0..1) from
//! * regularity of inter-arrival times: relative median absolute deviation (MAD / median)
//!   and Bowley skew — both robust to missed beats (a few double intervals) and to jitter
//!   up to ±50% (uniform jitter of ±50% gives MAD/median ≈ 0.25 and no skew);
//! * regularity of sizes (same two measures);
//! * hourly coverage: hours with a beat among the hours the beacon spans, relative to what
//!   its period allows;
//! * count: intervals observed relative to twice the minimum.
//!
//! Timing is a gate as well as a component: a candidate whose MAD/median of intervals
//! exceeds `max_jitter` (0.35 by default; ±50% uniform jitter gives about 0.25) is not scored,
//! so constant sizes at random times are not a beacon. A short series must be more regular
//! ([`jitter_limit`]: the limit shrinks in proportion below `full_jitter_intervals`), because
//! a dozen random arrivals (a user's favourite site) look regular by chance far more often
//! than three dozen. Prevalence decides what the score
//! means: a destination popular across the estate never
//! alerts on periodicity alone (`popular_threshold`, 1.0 by default), a rare one gets a bonus,
//! a destination new to the estate another.

use std::collections::HashMap;

use rustc_hash::FxBuildHasher;
use serde::{Deserialize, Serialize};
use yagura_model::{Detector as Family, Entities, Event, Severity, Timestamp};

use crate::bounded::{LastSeen, enforce_cap};
use crate::detector::{
    AlertSpec, Context, Dest, Detector, EvidenceBuf, Kind, RawValue, State, StateError, View,
    checkpoint_of, restored,
};
use crate::prevalence::{Prevalence, secs_to_nanos};
use crate::stats::{Spread, hash_bytes};

const NANOS: f64 = 1e9;
const BINS: usize = 8;

/// Tier 1: compact statistics of one (host, destination) pair: 24 bytes (32 with its key in
/// the table), so 20M pairs fit in about 1.1 GB of hash table.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Pair {
    /// Last connection, nanoseconds.
    last: i64,
    /// First connection, whole seconds since the epoch (u32 reaches 2106).
    first_s: u32,
    count: u32,
    /// Inter-arrival histogram in bins of two octaves (1–4 s, 4–16 s, … ≥ 4.5 h), four bits
    /// per bin, saturating; all bins are halved when one is full (so it follows the pair's
    /// recent behaviour). Serialized as eight numbers.
    #[serde(with = "nibbles")]
    hist: u32,
    /// The last [`RECENT`] inter-arrival times, newest first, log-encoded
    /// ([`encode_interval`]; 0 = none): with `first_s`, enough to give a pair promoted after
    /// a few connections its earlier sample times, so a short beacon is judged on all its
    /// connections, not only on those after the promotion.
    #[serde(default)]
    recent: [u8; RECENT],
}

/// Inter-arrival times remembered per pair before promotion.
const RECENT: usize = 4;
/// Log-encoding of intervals: codes per octave (a code is within ±2.5% of the interval) …
const CODES_PER_OCTAVE: f64 = 14.0;
/// … and the code of intervals too long to encode (≥ 2^18.1 s ≈ 78 h).
const CODE_MAX: u8 = u8::MAX;

/// Encodes an interval (seconds) in one byte: `1 + round(14·log2(d))`, 1 for under a second,
/// [`CODE_MAX`] at and above about 78 hours.
fn encode_interval(delta_secs: f64) -> u8 {
    if delta_secs.is_nan() || delta_secs <= 1.0 {
        return 1;
    }
    let c = 1.0 + (delta_secs.log2() * CODES_PER_OCTAVE).round();
    if c >= f64::from(CODE_MAX) {
        CODE_MAX
    } else {
        c as u8
    }
}

/// The interval (nanoseconds) a code stands for; `None` for "none" and for too long.
fn decode_interval(code: u8) -> Option<i64> {
    if code == 0 || code == CODE_MAX {
        return None;
    }
    let secs = (f64::from(code - 1) / CODES_PER_OCTAVE).exp2();
    Some((secs * NANOS).round() as i64)
}

/// The histogram's serialized form: eight counts (0–15).
mod nibbles {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(hist: &u32, s: S) -> Result<S::Ok, S::Error> {
        let bins: [u8; super::BINS] = std::array::from_fn(|i| super::nibble(*hist, i));
        bins.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
        let bins = <[u8; super::BINS]>::deserialize(d)?;
        // Counts of an older checkpoint (bytes) are scaled into four bits.
        let max = bins.iter().copied().max().unwrap_or(0);
        let shift = (0..8u32).find(|s| u32::from(max) >> s <= 15).unwrap_or(4);
        Ok(bins.iter().enumerate().fold(0u32, |h, (i, &b)| {
            h | ((u32::from(b) >> shift) & 0xF) << (4 * i)
        }))
    }
}

fn nibble(hist: u32, bin: usize) -> u8 {
    ((hist >> (4 * bin)) & 0xF) as u8
}

impl LastSeen for Pair {
    fn last_seen(&self) -> i64 {
        self.last
    }
}

/// The bin of an interval: two octaves per bin. A period with ±50% jitter spans
/// log2(1.5/0.5) ≈ 1.6 octaves, so at most two adjacent bins.
fn bin(delta_secs: f64) -> usize {
    if delta_secs < 1.0 || delta_secs.is_nan() {
        return 0;
    }
    ((delta_secs.log2() / 2.0) as usize).min(BINS - 1)
}

impl Pair {
    fn new(t: i64) -> Pair {
        Pair {
            last: t,
            first_s: u32::try_from(t.div_euclid(1_000_000_000)).unwrap_or(u32::MAX),
            count: 1,
            hist: 0,
            recent: [0; RECENT],
        }
    }

    fn first(&self) -> i64 {
        i64::from(self.first_s) * 1_000_000_000
    }

    /// Counts one inter-arrival time (nanoseconds, positive) of a new session.
    fn add_interval(&mut self, delta: i64) {
        let secs = delta as f64 / NANOS;
        let b = bin(secs);
        let v = nibble(self.hist, b) + 1;
        self.hist = (self.hist & !(0xF << (4 * b))) | (u32::from(v) << (4 * b));
        if v == 15 {
            self.hist = (self.hist >> 1) & 0x7777_7777;
        }
        self.recent.rotate_right(1);
        self.recent[0] = encode_interval(secs);
        self.count = self.count.saturating_add(1);
    }

    /// Share of intervals in the best two adjacent bins.
    fn concentration(&self) -> f64 {
        let bins: [u32; BINS] = std::array::from_fn(|i| u32::from(nibble(self.hist, i)));
        let total: u32 = bins.iter().sum();
        if total == 0 {
            return 0.0;
        }
        let best = bins.windows(2).map(|w| w[0] + w[1]).max().unwrap_or(0);
        f64::from(best) / f64::from(total)
    }

    /// The times of the sessions before the one at `t` (which must be the pair's newest, just
    /// counted), oldest first, as far as the remembered intervals reach back; the first
    /// connection too when they reach back to the second.
    fn earlier_sessions(&self, t: i64) -> Vec<i64> {
        let mut times = Vec::with_capacity(RECENT + 1);
        let mut at = t;
        let mut reached = 1u32; // sessions back from the newest that `at` stands for
        for &code in &self.recent {
            let Some(d) = decode_interval(code) else {
                break;
            };
            at = at.saturating_sub(d);
            times.push(at);
            reached += 1;
        }
        // `reached + 1 == count`: the oldest reconstructed time is the second session.
        if reached.saturating_add(1) == self.count && self.first() < at {
            times.push(self.first());
        }
        times.reverse();
        times
    }
}

/// Tier 2: the recent samples of a promising pair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    org: yagura_model::OrgId,
    host: Option<String>,
    src_ip: Option<String>,
    domain: Option<String>,
    dst_ip: Option<String>,
    dst_port: Option<u16>,
    flow: bool,
    /// (time ns, size bytes), in arrival order, at most `max_samples`.
    samples: std::collections::VecDeque<(i64, u64)>,
    /// Connections (sessions) seen since promotion.
    seen: u64,
    last: i64,
    last_alert: Option<i64>,
    evidence: EvidenceBuf,
}

impl LastSeen for Candidate {
    fn last_seen(&self) -> i64 {
        self.last
    }
}

/// The outcome of scoring one candidate.
#[derive(Debug, Clone, PartialEq)]
pub struct BeaconScore {
    pub score: f64,
    pub intervals: usize,
    pub period_secs: f64,
    pub jitter: f64,
    pub skew: f64,
    /// `None` when too few samples carried a size ([`UNKNOWN_SIZE`]).
    pub size_median: Option<f64>,
    pub size_jitter: Option<f64>,
    pub coverage: f64,
    pub first: i64,
    pub last: i64,
}

/// The size of a sample whose event carried no byte count at all (a Suricata `tls` record, a
/// proxy log without sizes): unknown, which is not the same as a zero-byte connection attempt.
pub const UNKNOWN_SIZE: u64 = u64::MAX;

/// Scores sorted samples (time ns, size or [`UNKNOWN_SIZE`]); `None` with fewer than
/// `min_connections`.
///
/// Sizes count only when at least half the samples carry one: telemetry without byte counts
/// is no evidence of regular sizes (otherwise every site a PC reaches through such a sensor
/// would look perfectly regular in size); their weight then goes to the count component, so
/// such a series needs more connections to reach the same score.
pub fn score_samples(samples: &[(i64, u64)], min_connections: u32) -> Option<BeaconScore> {
    if samples.len() < min_connections as usize {
        return None;
    }
    let mut deltas: Vec<f64> = samples
        .windows(2)
        .map(|w| w[1].0.saturating_sub(w[0].0) as f64 / NANOS)
        .collect();
    let ts = Spread::of(&mut deltas)?;
    if ts.median <= 0.0 {
        return None;
    }
    let mut sizes: Vec<f64> = samples
        .iter()
        .filter(|s| s.1 != UNKNOWN_SIZE)
        .map(|s| s.1 as f64)
        .collect();
    let sz = if 2 * sizes.len() >= samples.len() {
        Spread::of(&mut sizes)
    } else {
        None
    };
    let dispersion = |rel: f64| (1.0 - rel / 0.6).clamp(0.0, 1.0);
    let ts_score = 0.4 * (1.0 - ts.bowley_skew().abs()) + 0.6 * dispersion(ts.relative_mad());
    let size_score = sz
        .as_ref()
        .map(|sz| 0.4 * (1.0 - sz.bowley_skew().abs()) + 0.6 * dispersion(sz.relative_mad()));
    let first = samples.first()?.0;
    let last = samples.last()?.0;
    // Hourly coverage relative to what the period allows (a 2-hour beacon covers half).
    let span_hours = (last.saturating_sub(first) as f64 / NANOS / 3600.0).floor() as i64 + 1;
    let mut hours: Vec<i64> = samples
        .iter()
        .map(|s| s.0.saturating_sub(first).div_euclid(3_600_000_000_000))
        .collect();
    hours.dedup();
    let possible = (span_hours as f64 * (3600.0 / ts.median).min(1.0)).max(1.0);
    let coverage = (hours.len() as f64 / possible).min(1.0);
    let count_score = (deltas.len() as f64 / (2.0 * f64::from(min_connections))).min(1.0);
    let rest = 0.45 * ts_score + 0.2 * coverage + 0.15 * count_score;
    let score = match size_score {
        Some(size_score) => rest + 0.2 * size_score,
        // Unknown sizes: their weight goes to the count, so a short series without sizes
        // (a web widget polling a dozen times) has less evidence than one with them, and a
        // long one is judged as before.
        None => rest + 0.2 * count_score,
    };
    Some(BeaconScore {
        score,
        intervals: deltas.len(),
        period_secs: ts.median,
        jitter: ts.relative_mad(),
        skew: ts.bowley_skew(),
        size_median: sz.as_ref().map(|s| s.median),
        size_jitter: sz.as_ref().map(|s| s.relative_mad()),
        coverage,
        first,
        last,
    })
}

/// The beacon detector.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Beacon {
    pairs: HashMap<u64, Pair, FxBuildHasher>,
    candidates: HashMap<u64, Candidate, FxBuildHasher>,
    next_eval: Option<i64>,
}

impl Beacon {
    pub fn pairs(&self) -> usize {
        self.pairs.len()
    }

    pub fn candidates(&self) -> usize {
        self.candidates.len()
    }

    fn evaluate(&mut self, now: i64, cx: &mut Context<'_>) {
        let cfg = &cx.config.beacon;
        let window = secs_to_nanos(cfg.window_secs);
        let realert = secs_to_nanos(cfg.realert_secs);
        let mut keys: Vec<u64> = self.candidates.keys().copied().collect();
        keys.sort_unstable();
        for key in keys {
            let Some(c) = self.candidates.get_mut(&key) else {
                continue;
            };
            if c.last_alert
                .is_some_and(|a| now.saturating_sub(a) < realert)
            {
                continue;
            }
            let mut samples: Vec<(i64, u64)> = c
                .samples
                .iter()
                .copied()
                .filter(|s| s.0 > now.saturating_sub(window) && s.0 <= now)
                .collect();
            samples.sort_unstable();
            let Some(s) = score_samples(&samples, cfg.min_connections) else {
                continue;
            };
            // Timing must be regular: sizes, coverage and count alone make no beacon; and the
            // shorter the series, the more regular (chance regularity of a few random
            // arrivals is common).
            if s.jitter > jitter_limit(cfg, s.intervals) {
                continue;
            }
            let dest_key = match (&c.domain, &c.dst_ip) {
                (Some(d), _) => {
                    let reg = crate::domain::registered_domain(d).unwrap_or(d);
                    hash_bytes(&[b"n", reg.as_bytes()])
                }
                (None, Some(ip)) => match ip.parse() {
                    Ok(ip) => crate::detector::hash_ip("a", ip),
                    Err(_) => continue,
                },
                (None, None) => continue,
            };
            let prev = cx.prevalence.classify(&cx.config.prevalence, dest_key, now);
            let mut score = s.score;
            if prev.rare {
                score += 0.05;
            }
            if prev.new {
                score += 0.05;
            }
            let score = score.min(1.0);
            let threshold = if prev.popular {
                cfg.popular_threshold
            } else {
                cfg.threshold
            };
            if score < threshold || (prev.popular && cfg.popular_threshold >= 1.0) {
                continue;
            }
            c.last_alert = Some(now);
            // The pair's own statistics go back before the promotion: the first connection
            // within the window and the number of sessions since.
            let (since, sessions) = self
                .pairs
                .get(&key)
                .map_or((s.first, c.seen), |p| (p.first(), u64::from(p.count)));
            let first = since.max(now.saturating_sub(window)).min(s.first);
            cx.alerts.push(beacon_alert(
                c,
                &s,
                score,
                &prev,
                now,
                first,
                sessions.max(c.seen),
            ));
        }
    }
}

/// The largest MAD/median of `intervals` inter-arrival times still judged periodic:
/// `max_jitter`, scaled down in proportion for series shorter than `full_jitter_intervals`.
pub fn jitter_limit(cfg: &crate::config::BeaconConfig, intervals: usize) -> f64 {
    let full = f64::from(cfg.full_jitter_intervals.max(1));
    cfg.max_jitter * (intervals as f64 / full).min(1.0)
}

fn beacon_alert(
    c: &Candidate,
    s: &BeaconScore,
    score: f64,
    prev: &Prevalence,
    now: i64,
    first: i64,
    sessions: u64,
) -> yagura_model::Alert {
    let target = match (&c.domain, &c.dst_ip) {
        (Some(d), _) => d.clone(),
        (None, Some(ip)) => match c.dst_port {
            Some(p) => format!("{ip}:{p}"),
            None => ip.clone(),
        },
        (None, None) => String::new(),
    };
    let who = c
        .host
        .clone()
        .or_else(|| c.src_ip.clone())
        .unwrap_or_default();
    let severity = if prev.rare || prev.new {
        Severity::High
    } else {
        Severity::Medium
    };
    let sizes = match (s.size_median, s.size_jitter) {
        (Some(m), Some(j)) => format!("sizes median {m:.0} B (jitter {:.0}%)", j * 100.0),
        _ => "sizes unknown (the telemetry carries no byte counts)".to_owned(),
    };
    let summary = format!(
        "{who} contacted {target} {sessions} times; the last {} connections at a period of {:.0} s (jitter {:.0}% MAD/median, \
         Bowley skew {:.2}), {sizes}, hourly coverage {:.0}%; \
         score {:.2}; {}",
        s.intervals + 1,
        s.period_secs,
        s.jitter * 100.0,
        s.skew,
        s.coverage * 100.0,
        score,
        prev.describe()
    );
    let mut context = serde_json::Map::new();
    context.insert("score".into(), round3(score));
    context.insert("period_secs".into(), round3(s.period_secs));
    context.insert("jitter".into(), round3(s.jitter));
    context.insert("skew".into(), round3(s.skew));
    if let Some(m) = s.size_median {
        context.insert("size_median".into(), round3(m));
    }
    context.insert("coverage".into(), round3(s.coverage));
    context.insert("prevalence_hosts".into(), prev.hosts.into());
    context.insert("prevalence_orgs".into(), prev.orgs.into());
    AlertSpec {
        family: Family::Analytic,
        rule_id: "beacon.periodic",
        title: if prev.popular {
            format!("Periodic beaconing to {target}")
        } else {
            format!("Periodic beaconing to rare destination {target}")
        },
        severity,
        attack: if c.flow { &["T1071"] } else { &["T1071.001"] },
        org: c.org.clone(),
        entities: Entities {
            host: c.host.clone(),
            src_ip: c.src_ip.clone(),
            domain: c.domain.clone(),
            dst_ip: c.dst_ip.clone(),
            ..Entities::default()
        },
        first_seen: Timestamp::from_nanos(first),
        last_seen: Timestamp::from_nanos(s.last),
        time: Timestamp::from_nanos(now),
        count: sessions,
        evidence: c.evidence.to_vec(),
        summary,
        context,
    }
    .build()
}

pub(crate) fn round3(v: f64) -> serde_json::Value {
    serde_json::Number::from_f64((v * 1000.0).round() / 1000.0)
        .map(serde_json::Value::Number)
        .unwrap_or(serde_json::Value::Null)
}

/// Bytes both ways, or [`UNKNOWN_SIZE`] when the event carries no byte count at all.
fn event_size(ev: &Event) -> u64 {
    let up = ev.source.bytes.or(ev.http.request.bytes);
    let down = ev.destination.bytes.or(ev.http.response.bytes);
    match (up, down) {
        (None, None) => UNKNOWN_SIZE,
        (up, down) => up
            .unwrap_or(0)
            .saturating_add(down.unwrap_or(0))
            .min(UNKNOWN_SIZE - 1),
    }
}

/// Adds a connection's size to its session's (unknown only while both are).
fn add_size(session: u64, size: u64) -> u64 {
    match (session, size) {
        (UNKNOWN_SIZE, s) | (s, UNKNOWN_SIZE) => s,
        (a, b) => a.saturating_add(b).min(UNKNOWN_SIZE - 1),
    }
}

impl Detector for Beacon {
    fn name(&self) -> &'static str {
        "beacon"
    }

    fn observe(&mut self, ev: &Event, view: &View<'_>, cx: &mut Context<'_>) {
        let cfg = &cx.config.beacon;
        if !cfg.enabled || !matches!(view.kind, Kind::Web | Kind::Flow) {
            return;
        }
        let Some(dest) = view.dest else { return };
        if view.dest_internal && !cfg.internal_destinations {
            return;
        }
        let t = view.time.nanos();
        let pair_key = match dest {
            Dest::Name(n) => hash_bytes(&[&view.host_key.to_le_bytes(), b"n", n.as_bytes()]),
            Dest::Addr(ip, port) => {
                let a = crate::detector::hash_ip("a", ip);
                hash_bytes(&[
                    &view.host_key.to_le_bytes(),
                    &a.to_le_bytes(),
                    &port.unwrap_or(0).to_le_bytes(),
                ])
            }
        };
        let gap = secs_to_nanos(cfg.session_gap_secs);
        let mut new_session = true;
        let mut counted = false;
        let pair = self.pairs.entry(pair_key).or_insert_with(|| Pair::new(t));
        if pair.count > 1 || pair.last != t {
            let delta = t.saturating_sub(pair.last);
            if delta.abs() < gap {
                new_session = false;
            } else if delta > 0 {
                pair.add_interval(delta);
                counted = true;
            }
            pair.last = pair.last.max(t);
        }
        let size = event_size(ev);
        if let Some(c) = self.candidates.get_mut(&pair_key) {
            if new_session {
                if c.samples.len() >= cfg.max_samples.max(4) {
                    c.samples.pop_front();
                }
                c.samples.push_back((t, size));
                c.seen += 1;
            } else if let Some(last) = c.samples.back_mut() {
                last.1 = add_size(last.1, size);
            }
            c.last = c.last.max(t);
            c.evidence.push_event(ev);
        } else if counted
            && pair.count >= cfg.min_connections / 2
            && pair.concentration() >= 0.6
            && !view.dest_prevalence(cx).is_some_and(|p| p.popular)
        {
            let (domain, dst_ip, dst_port, flow) = match dest {
                Dest::Name(n) => (
                    Some(n.to_owned()),
                    ev.dst_ip().map(|i| i.to_string()),
                    None,
                    false,
                ),
                Dest::Addr(ip, port) => (None, Some(ip.to_string()), port, true),
            };
            // A proxy's own address is not the destination of a proxied request.
            let dst_ip = if view.dest_internal
                || (domain.is_some()
                    && ev.url.domain.is_some()
                    && ev.dst_ip().is_some_and(|ip| cx.addresses.is_internal(ip)))
            {
                if flow { dst_ip } else { None }
            } else {
                dst_ip
            };
            let mut evidence = EvidenceBuf::default();
            evidence.push_event(ev);
            // The sessions before the promotion, as far as the pair remembers them (sizes
            // unknown), then this one.
            let cap = cfg.max_samples.max(4);
            let earlier = pair.earlier_sessions(t);
            let skip = (earlier.len() + 1).saturating_sub(cap);
            let mut samples = std::collections::VecDeque::with_capacity(cap.min(16));
            samples.extend(earlier.iter().skip(skip).map(|&e| (e, UNKNOWN_SIZE)));
            samples.push_back((t, size));
            self.candidates.insert(
                pair_key,
                Candidate {
                    org: view.org.clone(),
                    host: view.host.map(str::to_owned),
                    src_ip: view.src_ip.map(|i| i.to_string()),
                    domain,
                    dst_ip,
                    dst_port,
                    flow,
                    samples,
                    seen: 1,
                    last: t,
                    last_alert: None,
                    evidence,
                },
            );
            if self.candidates.len() > cfg.max_candidates {
                enforce_cap(&mut self.candidates, cfg.max_candidates);
            }
        }
        if self.pairs.len() > cfg.max_pairs {
            enforce_cap(&mut self.pairs, cfg.max_pairs);
        }
    }

    fn advance_to(&mut self, now: Timestamp, cx: &mut Context<'_>) {
        if !cx.config.beacon.enabled {
            return;
        }
        let every = secs_to_nanos(cx.config.beacon.evaluate_every_secs);
        let n = now.nanos();
        match self.next_eval {
            None => self.next_eval = Some(n.div_euclid(every) * every + every),
            Some(due) if n >= due => {
                self.evaluate(due, cx);
                self.next_eval = Some(n.div_euclid(every) * every + every);
            }
            Some(_) => {}
        }
    }

    fn flush(&mut self, cx: &mut Context<'_>) {
        if !cx.config.beacon.enabled {
            return;
        }
        let last = self.candidates.values().map(|c| c.last).max();
        if let Some(last) = last {
            self.evaluate(last, cx);
        }
    }

    fn checkpoint(&self) -> Result<State, StateError> {
        checkpoint_of(self)
    }

    fn restore(&mut self, state: &RawValue) -> Result<(), StateError> {
        *self = restored(state, "beacon")?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic pseudo-random jitter in [-1, 1).
    fn jitter(i: u64) -> f64 {
        let x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17) ^ 0x5851_F42D;
        (x % 20_000) as f64 / 10_000.0 - 1.0
    }

    fn beacon(period: f64, jit: f64, n: u64, miss_every: u64) -> Vec<(i64, u64)> {
        let mut t = 1_700_000_000.0;
        let mut out = Vec::new();
        for i in 0..n {
            t += period * (1.0 + jit * jitter(i));
            if miss_every > 0 && i % miss_every == miss_every - 1 {
                continue;
            }
            out.push(((t * NANOS) as i64, 512));
        }
        out
    }

    fn check(samples: &[(i64, u64)], expect_above: bool) {
        let s = score_samples(samples, 12).unwrap();
        assert_eq!(s.score >= 0.75, expect_above, "{s:?}");
    }

    #[test]
    fn regular_beacons_score_high() {
        check(&beacon(60.0, 0.0, 100, 0), true);
        check(&beacon(300.0, 0.1, 100, 0), true);
        check(&beacon(300.0, 0.5, 200, 0), true);
        // ±50% jitter and every fifth beat missed
        check(&beacon(300.0, 0.5, 200, 5), true);
        // two-hourly beacon over several days
        check(&beacon(7200.0, 0.2, 60, 0), true);
    }

    #[test]
    fn irregular_traffic_scores_low() {
        // exponential inter-arrivals (human browsing), variable sizes
        let mut t = 1_700_000_000.0f64;
        let mut v = Vec::new();
        for i in 0..200u64 {
            let u = (jitter(i) + 1.0) / 2.0;
            t += -300.0 * (1.0 - u * 0.999).ln();
            v.push(((t * NANOS) as i64, 200 + (i * 7919) % 50_000));
        }
        check(&v, false);
    }

    #[test]
    fn unknown_sizes_are_no_evidence_but_zero_sizes_are() {
        let known = beacon(300.0, 0.3, 60, 0);
        let zero: Vec<(i64, u64)> = known.iter().map(|s| (s.0, 0)).collect();
        let unknown: Vec<(i64, u64)> = known.iter().map(|s| (s.0, UNKNOWN_SIZE)).collect();
        let z = score_samples(&zero, 12).unwrap();
        let u = score_samples(&unknown, 12).unwrap();
        // Zero-byte connection attempts are perfectly regular sizes: full size score.
        assert_eq!(z.size_median, Some(0.0));
        assert_eq!(u.size_median, None);
        // Unknown sizes are never better than perfectly regular ones; on a short series
        // (count component below 1) they are worse.
        assert!(u.score <= z.score, "{u:?} {z:?}");
        let short_z: Vec<(i64, u64)> = zero.iter().take(14).copied().collect();
        let short_u: Vec<(i64, u64)> = unknown.iter().take(14).copied().collect();
        let (sz, su) = (
            score_samples(&short_z, 12).unwrap(),
            score_samples(&short_u, 12).unwrap(),
        );
        assert!(su.score < sz.score, "{su:?} {sz:?}");
        // Mostly unknown: sizes are not scored at all; mostly known: the unknown ones are
        // left out.
        let mut mixed = unknown.clone();
        for s in mixed.iter_mut().step_by(3) {
            s.1 = 512;
        }
        assert_eq!(score_samples(&mixed, 12).unwrap().size_median, None);
        let mut mixed = known.clone();
        for s in mixed.iter_mut().step_by(3) {
            s.1 = UNKNOWN_SIZE;
        }
        assert_eq!(score_samples(&mixed, 12).unwrap().size_median, Some(512.0));
        assert_eq!(add_size(UNKNOWN_SIZE, UNKNOWN_SIZE), UNKNOWN_SIZE);
        assert_eq!(add_size(UNKNOWN_SIZE, 0), 0);
        assert_eq!(add_size(7, UNKNOWN_SIZE), 7);
        assert_eq!(add_size(UNKNOWN_SIZE - 1, 5), UNKNOWN_SIZE - 1);
    }

    #[test]
    fn short_series_must_be_more_regular() {
        let cfg = crate::config::BeaconConfig::default();
        assert!((jitter_limit(&cfg, 12) - 0.35 * 12.0 / 36.0).abs() < 1e-12);
        assert_eq!(jitter_limit(&cfg, 36), cfg.max_jitter);
        assert_eq!(jitter_limit(&cfg, 500), cfg.max_jitter);
        // A 12-beat beacon with ±10% jitter passes; ±50% passes once the series is long.
        let short = score_samples(&beacon(600.0, 0.1, 12, 0), 12).unwrap();
        assert!(
            short.jitter <= jitter_limit(&cfg, short.intervals),
            "{short:?}"
        );
        let long = score_samples(&beacon(600.0, 0.5, 60, 0), 12).unwrap();
        assert!(
            long.jitter <= jitter_limit(&cfg, long.intervals),
            "{long:?}"
        );
        // Random arrivals of a dozen visits do not pass (deterministic exponential series).
        let mut t = 1_700_000_000.0f64;
        let mut v = Vec::new();
        for i in 0..13u64 {
            let u = (jitter(i) + 1.0) / 2.0;
            t += -2700.0 * (1.0 - u * 0.999).ln();
            v.push(((t * NANOS) as i64, UNKNOWN_SIZE));
        }
        let r = score_samples(&v, 12).unwrap();
        assert!(r.jitter > jitter_limit(&cfg, r.intervals), "{r:?}");
    }

    #[test]
    fn too_few_samples_are_not_scored() {
        assert!(score_samples(&beacon(60.0, 0.0, 5, 0), 12).is_none());
    }

    #[test]
    fn bins() {
        assert_eq!(bin(0.2), 0);
        assert_eq!(bin(1.0), 0);
        assert_eq!(bin(3.9), 0);
        assert_eq!(bin(4.0), 1);
        assert_eq!(bin(300.0), 4);
        assert_eq!(bin(1e9), BINS - 1);
        assert_eq!(bin(f64::NAN), 0);
        assert_eq!(std::mem::size_of::<Pair>(), 24);
    }

    #[test]
    fn jittered_periods_concentrate_in_two_bins() {
        let mut p = Pair::new(0);
        for d in [150.0, 300.0, 449.0, 200.0, 400.0, 310.0] {
            p.add_interval((d * NANOS) as i64);
        }
        assert_eq!(p.concentration(), 1.0);
        assert_eq!(p.count, 7);
    }

    #[test]
    fn histogram_halves_when_a_bin_is_full() {
        let mut p = Pair::new(0);
        for _ in 0..14 {
            p.add_interval(300 * 1_000_000_000);
        }
        p.add_interval(10 * 1_000_000_000);
        assert_eq!(nibble(p.hist, bin(300.0)), 14);
        p.add_interval(300 * 1_000_000_000);
        assert_eq!(nibble(p.hist, bin(300.0)), 7);
        assert_eq!(nibble(p.hist, bin(10.0)), 0);
        assert!(p.concentration() > 0.99);
    }

    #[test]
    fn intervals_encode_within_three_percent() {
        for d in [
            2.0, 14.0, 59.0, 261.0, 600.0, 1800.0, 14_400.0, 86_400.0, 200_000.0,
        ] {
            let back = decode_interval(encode_interval(d)).unwrap() as f64 / NANOS;
            assert!((back / d - 1.0).abs() < 0.026, "{d} → {back}");
        }
        assert_eq!(encode_interval(0.2), 1);
        assert_eq!(encode_interval(f64::NAN), 1);
        assert_eq!(encode_interval(1e7), CODE_MAX);
        assert_eq!(decode_interval(CODE_MAX), None);
        assert_eq!(decode_interval(0), None);
    }

    #[test]
    fn a_pair_remembers_its_sessions_before_promotion() {
        let s = 1_000_000_000i64;
        let times: Vec<i64> = [0, 600, 1190, 1805, 2400, 3010]
            .iter()
            .map(|&x| (1_700_000_000 + x) * s)
            .collect();
        let mut p = Pair::new(times[0]);
        for w in times.windows(2) {
            p.add_interval(w[1] - w[0]);
            p.last = w[1];
        }
        let earlier = p.earlier_sessions(times[5]);
        assert_eq!(earlier.len(), 5);
        assert_eq!(earlier[0], times[0]);
        for (got, want) in earlier.iter().zip(&times) {
            assert!((got - want).abs() < 50 * s, "{got} vs {want}");
        }
        // One more session: the first connection is out of reach of the four intervals.
        let mut q = p;
        q.add_interval(600 * s);
        let later = q.earlier_sessions(times[5] + 600 * s);
        assert_eq!(later.len(), 4);
        assert!((later[3] - times[5]).abs() < 20 * s);
        // A pair that only just began remembers just its first connection.
        let mut r = Pair::new(times[0]);
        r.add_interval(600 * s);
        assert_eq!(r.earlier_sessions(times[1]).len(), 1);
    }

    #[test]
    fn pairs_round_trip_and_older_histograms_load() {
        let mut p = Pair::new(1_700_000_000_000_000_000);
        for d in [30, 31, 29, 3000] {
            p.add_interval(d * 1_000_000_000);
        }
        let json = serde_json::to_value(p).unwrap();
        assert_eq!(serde_json::from_value::<Pair>(json.clone()).unwrap(), p);
        // A checkpoint of the byte-per-bin layout (no `recent`): counts scaled to four bits.
        let old = serde_json::json!({"last": 5, "first_s": 1, "count": 300,
            "hist": [0, 0, 200, 40, 0, 0, 0, 1]});
        let q: Pair = serde_json::from_value(old).unwrap();
        assert_eq!(nibble(q.hist, 2), 12);
        assert_eq!(nibble(q.hist, 3), 2);
        assert_eq!(q.recent, [0; RECENT]);
    }
}
