//! Campaigns: data-driven scenario files turned into injected activity and ground truth.
//!
//! A scenario is TOML (`scenarios/default.toml` is embedded; `--scenario FILE` replaces it):
//! a list of `[[campaign]]` tables, each with a `kind` and its parameters. Planning is
//! single-threaded from the `"campaigns"` random stream, before any organization is generated,
//! so the injected activity and `truth.jsonl` depend only on the seed and the scenario.

use std::net::Ipv4Addr;

use serde::Deserialize;
use smallvec::SmallVec;
use yagura_model::{Entities, OrgKind, Timestamp};

use crate::SimError;
use crate::estate::{Estate, OrgPlan, WebFormat};
use crate::out::{JST_OFFSET_S, NS};
use crate::records::*;
use crate::rng::SimRng;
use crate::truth::{TruthItem, TruthKind};

/// The embedded default scenario.
pub const DEFAULT_SCENARIO: &str = include_str!("../scenarios/default.toml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    #[serde(default)]
    pub campaign: Vec<Campaign>,
}

impl Scenario {
    pub fn from_toml(text: &str) -> Result<Scenario, SimError> {
        check_keys(text)?;
        let s: Scenario = toml::from_str(text).map_err(|e| SimError::Scenario(e.to_string()))?;
        let mut ids = std::collections::HashSet::new();
        for c in &s.campaign {
            if !ids.insert(c.common().id.clone()) {
                return Err(SimError::Scenario(format!(
                    "duplicate campaign id {:?}",
                    c.common().id
                )));
            }
            if !(c.common().start_day.is_finite() && c.common().start_day >= 0.0) {
                return Err(SimError::Scenario(format!(
                    "campaign {:?}: start_day must be a non-negative number",
                    c.common().id
                )));
            }
        }
        Ok(s)
    }
}

/// Parameters each campaign kind accepts (serde cannot deny unknown fields through
/// `flatten`, so a misspelt parameter is caught here instead of being silently defaulted).
const KEYS: &[(&str, &[&str])] = &[
    (
        "pension_breach",
        &[
            "span_days",
            "sender",
            "sender_name",
            "waves",
            "openers",
            "beacon_interval_s",
            "lateral_targets",
            "c2_domains",
            "exfil_domain",
            "exfil_days",
        ],
    ),
    ("dns_tunnel", &["hours", "domain", "queries_per_minute"]),
    ("dga", &["hours", "burst_every_min", "names_per_burst"]),
    ("password_spray", &["accounts", "successes"]),
    ("brute_force", &["attempts"]),
    ("separation_violation", &["attempts"]),
    ("unsanctioned_egress", &["connections"]),
    (
        "shared_infrastructure",
        &["orgs", "gap_days", "domain", "beacon_interval_s", "hours"],
    ),
    ("ioc_contact", &["contacts", "decoys"]),
];

fn check_keys(text: &str) -> Result<(), SimError> {
    let v: toml::Table = toml::from_str(text).map_err(|e| SimError::Scenario(e.to_string()))?;
    let Some(list) = v.get("campaign").and_then(|c| c.as_array()) else {
        return Ok(());
    };
    for (i, c) in list.iter().enumerate() {
        let Some(t) = c.as_table() else { continue };
        let id = t
            .get("id")
            .and_then(|v| v.as_str())
            .map_or_else(|| format!("#{}", i + 1), str::to_owned);
        let kind = t.get("kind").and_then(|v| v.as_str()).unwrap_or("");
        let Some((_, allowed)) = KEYS.iter().find(|(k, _)| *k == kind) else {
            return Err(SimError::Scenario(format!(
                "campaign {id}: unknown kind {kind:?} (expected one of {})",
                KEYS.iter().map(|(k, _)| *k).collect::<Vec<_>>().join(", ")
            )));
        };
        for (key, value) in t {
            let bad = match value {
                toml::Value::Integer(i) => !(0..=1_000_000).contains(i),
                toml::Value::Float(f) => !(f.is_finite() && (0.0..=1_000_000.0).contains(f)),
                _ => false,
            };
            if bad {
                return Err(SimError::Scenario(format!(
                    "campaign {id}: {key} = {value} is out of range (0 to 1000000)"
                )));
            }
        }
        for key in t.keys() {
            if !["id", "kind", "org", "start_day"].contains(&key.as_str())
                && !allowed.contains(&key.as_str())
            {
                return Err(SimError::Scenario(format!(
                    "campaign {id}: unknown parameter {key:?} for kind {kind} (expected {})",
                    allowed.join(", ")
                )));
            }
        }
    }
    Ok(())
}

fn d_interval() -> u64 {
    300
}
fn d_hours() -> f64 {
    3.0
}

#[derive(Debug, Clone, Deserialize)]
pub struct Common {
    pub id: String,
    #[serde(default)]
    pub org: Option<String>,
    #[serde(default)]
    pub start_day: f64,
}

/// The 2015 pension-agency breach shape.
#[derive(Debug, Clone, Deserialize)]
pub struct PensionBreach {
    #[serde(flatten)]
    pub common: Common,
    #[serde(default = "pb_span")]
    pub span_days: f64,
    #[serde(default = "pb_sender")]
    pub sender: String,
    #[serde(default = "pb_sender_name")]
    pub sender_name: String,
    #[serde(default = "pb_waves")]
    pub waves: usize,
    #[serde(default = "pb_openers")]
    pub openers: usize,
    #[serde(default = "d_interval")]
    pub beacon_interval_s: u64,
    #[serde(default = "pb_lateral")]
    pub lateral_targets: usize,
    #[serde(default = "pb_c2")]
    pub c2_domains: Vec<String>,
    #[serde(default = "pb_exfil")]
    pub exfil_domain: String,
    #[serde(default = "pb_exfil_days")]
    pub exfil_days: f64,
}
fn pb_span() -> f64 {
    14.0
}
fn pb_sender() -> String {
    "kenkyukai.nenkin2015@freemail-jp.example".into()
}
fn pb_sender_name() -> String {
    "年金制度研究会".into()
}
fn pb_waves() -> usize {
    4
}
fn pb_openers() -> usize {
    3
}
fn pb_lateral() -> usize {
    30
}
fn pb_c2() -> Vec<String> {
    vec!["kansai-seminar.jp".into(), "cloud-news-update.net".into()]
}
fn pb_exfil() -> String {
    "data-backup-storage.net".into()
}
fn pb_exfil_days() -> f64 {
    3.0
}

#[derive(Debug, Clone, Deserialize)]
pub struct DnsTunnel {
    #[serde(flatten)]
    pub common: Common,
    #[serde(default = "d_hours")]
    pub hours: f64,
    #[serde(default = "dt_domain")]
    pub domain: String,
    #[serde(default = "dt_qpm")]
    pub queries_per_minute: u32,
}
fn dt_domain() -> String {
    "t.sync-cache-srv.net".into()
}
fn dt_qpm() -> u32 {
    20
}

#[derive(Debug, Clone, Deserialize)]
pub struct Dga {
    #[serde(flatten)]
    pub common: Common,
    #[serde(default = "d_hours")]
    pub hours: f64,
    #[serde(default = "dga_every")]
    pub burst_every_min: u32,
    #[serde(default = "dga_names")]
    pub names_per_burst: u32,
}
fn dga_every() -> u32 {
    30
}
fn dga_names() -> u32 {
    25
}

#[derive(Debug, Clone, Deserialize)]
pub struct PasswordSpray {
    #[serde(flatten)]
    pub common: Common,
    #[serde(default = "ps_accounts")]
    pub accounts: usize,
    #[serde(default = "ps_successes")]
    pub successes: usize,
}
fn ps_accounts() -> usize {
    60
}
fn ps_successes() -> usize {
    1
}

#[derive(Debug, Clone, Deserialize)]
pub struct BruteForce {
    #[serde(flatten)]
    pub common: Common,
    #[serde(default = "bf_attempts")]
    pub attempts: usize,
}
fn bf_attempts() -> usize {
    200
}

#[derive(Debug, Clone, Deserialize)]
pub struct Separation {
    #[serde(flatten)]
    pub common: Common,
    #[serde(default = "sv_attempts")]
    pub attempts: usize,
}
fn sv_attempts() -> usize {
    12
}

#[derive(Debug, Clone, Deserialize)]
pub struct Egress {
    #[serde(flatten)]
    pub common: Common,
    #[serde(default = "eg_conns")]
    pub connections: usize,
}
fn eg_conns() -> usize {
    40
}

#[derive(Debug, Clone, Deserialize)]
pub struct SharedInfra {
    #[serde(flatten)]
    pub common: Common,
    #[serde(default)]
    pub orgs: Vec<String>,
    #[serde(default = "si_gap")]
    pub gap_days: f64,
    #[serde(default = "si_domain")]
    pub domain: String,
    #[serde(default = "d_interval")]
    pub beacon_interval_s: u64,
    #[serde(default = "d_hours")]
    pub hours: f64,
}
fn si_gap() -> f64 {
    0.7
}
fn si_domain() -> String {
    "secure-update-portal.com".into()
}

#[derive(Debug, Clone, Deserialize)]
pub struct IocContact {
    #[serde(flatten)]
    pub common: Common,
    #[serde(default = "ioc_contacts")]
    pub contacts: usize,
    #[serde(default = "ioc_decoys")]
    pub decoys: usize,
}
fn ioc_contacts() -> usize {
    6
}
fn ioc_decoys() -> usize {
    5000
}

/// One `[[campaign]]` of a scenario.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Campaign {
    PensionBreach(PensionBreach),
    DnsTunnel(DnsTunnel),
    Dga(Dga),
    PasswordSpray(PasswordSpray),
    BruteForce(BruteForce),
    SeparationViolation(Separation),
    UnsanctionedEgress(Egress),
    SharedInfrastructure(SharedInfra),
    IocContact(IocContact),
}

impl Campaign {
    pub fn common(&self) -> &Common {
        match self {
            Campaign::PensionBreach(c) => &c.common,
            Campaign::DnsTunnel(c) => &c.common,
            Campaign::Dga(c) => &c.common,
            Campaign::PasswordSpray(c) => &c.common,
            Campaign::BruteForce(c) => &c.common,
            Campaign::SeparationViolation(c) => &c.common,
            Campaign::UnsanctionedEgress(c) => &c.common,
            Campaign::SharedInfrastructure(c) => &c.common,
            Campaign::IocContact(c) => &c.common,
        }
    }
}

/// An indicator of the feed the simulator writes to `DIR/intel/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedValue {
    Domain(String),
    Ipv4(Ipv4Addr),
    Url(String),
    Sha256(String),
}

#[derive(Debug, Clone)]
pub struct FeedIndicator {
    pub value: FeedValue,
    /// Contacted by the estate (true) or a decoy.
    pub contacted: bool,
    pub family: &'static str,
}

/// Everything the campaigns inject.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// Activity per organization index of the estate, in any order.
    pub per_org: Vec<Vec<Activity>>,
    pub truth: Vec<TruthItem>,
    pub feed: Vec<FeedIndicator>,
}

struct Ctx<'a> {
    estate: &'a Estate,
    start_ns: i64,
    end_ns: i64,
    rng: SimRng,
    next_ip: u32,
    plan: Plan,
}

const TEST_NETS: [[u8; 3]; 3] = [[203, 0, 113], [198, 51, 100], [192, 0, 2]];

fn ts_of(t: i64) -> Timestamp {
    Timestamp::from_nanos(t)
}

impl<'a> Ctx<'a> {
    fn days(&self) -> f64 {
        (self.end_ns - self.start_ns) as f64 / (86_400.0 * NS as f64)
    }

    /// Campaign time at `day` (fractional days from the estate start), kept inside the estate
    /// with room for the activity that follows.
    fn at(&self, day: f64) -> i64 {
        let t = self.start_ns + (day * 86_400.0).round() as i64 * NS;
        t.clamp(self.start_ns, self.end_ns - 2 * 3600 * NS)
    }

    /// Like [`Ctx::at`], moved into JST working hours (09:00–17:59) when outside them.
    fn at_work(&mut self, day: f64) -> i64 {
        let t = self.at(day);
        let local = t / NS + JST_OFFSET_S;
        let h = local.rem_euclid(86_400) / 3600;
        if (9..18).contains(&h) {
            return t;
        }
        let day_start = (local - local.rem_euclid(86_400) - JST_OFFSET_S) * NS;
        let next = if h < 9 {
            day_start
        } else {
            day_start + 86_400 * NS
        };
        let t = next + (9 * 3600 + self.rng.below(2 * 3600) as i64) * NS;
        t.min(self.end_ns - 2 * 3600 * NS).max(self.start_ns)
    }

    fn infra_ip(&mut self) -> Ipv4Addr {
        let k = self.next_ip;
        self.next_ip += 1;
        let [a, b, c] = TEST_NETS[(k / 250) as usize % 3];
        Ipv4Addr::new(a, b, c, 2 + (k % 250) as u8)
    }

    fn org(
        &self,
        name: Option<&str>,
        fallback: OrgKind,
        campaign: &str,
    ) -> Result<usize, SimError> {
        match name {
            Some(n) => self
                .estate
                .orgs
                .iter()
                .position(|o| o.id() == n)
                .ok_or_else(|| {
                    SimError::Scenario(format!(
                        "campaign {campaign:?}: organization {n:?} is not in the estate (use more --orgs or another org)"
                    ))
                }),
            None => self
                .estate
                .orgs
                .iter()
                .position(|o| o.org.kind == fallback)
                .ok_or_else(|| SimError::Scenario(format!("campaign {campaign:?}: no {fallback} in the estate"))),
        }
    }

    fn plan_of(&self, o: usize) -> &'a OrgPlan {
        let orgs: &'a [OrgPlan] = &self.estate.orgs;
        &orgs[o.min(orgs.len() - 1)]
    }

    fn push(&mut self, o: usize, a: Activity) {
        if let Some(v) = self.plan.per_org.get_mut(o)
            && a.ts() >= self.start_ns
            && a.ts() < self.end_ns
        {
            v.push(a);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn truth(
        &mut self,
        o: usize,
        kind: TruthKind,
        start: i64,
        end: i64,
        entities: Entities,
        description: String,
        campaign: &str,
    ) {
        let id = format!("t-{:03}", self.plan.truth.len() + 1);
        let org = self.plan_of(o).org.id.clone();
        self.plan.truth.push(TruthItem {
            id,
            org,
            kind,
            start: ts_of(start.max(self.start_ns)),
            end: ts_of(end.min(self.end_ns).max(start)),
            entities,
            description,
            campaign: Some(campaign.to_owned()),
        });
    }

    fn pc(&mut self, o: usize) -> (String, Ipv4Addr, String) {
        let p = self.plan_of(o);
        let pc = self.rng.pick(&p.pcs).or(p.pcs.first());
        match pc {
            Some(pc) => (pc.name.clone(), pc.ip, pc.user.clone()),
            None => ("pc-0001".into(), p.proxy, "unknown".into()),
        }
    }

    fn port(&mut self) -> u16 {
        49152 + self.rng.below(16000) as u16
    }

    /// A web transaction from a PC through the organization's egress path, plus the border
    /// flow and (sometimes) the DNS lookup that go with it.
    #[allow(clippy::too_many_arguments)]
    fn web(
        &mut self,
        o: usize,
        ts: i64,
        (client, user): (Ipv4Addr, &str),
        method: &'static str,
        host: &str,
        path: &str,
        dst: Ipv4Addr,
        (req, resp): (u64, u64),
        lookup: bool,
    ) {
        let p = self.plan_of(o);
        // The explicit proxy resolves the name and opens the connection (a Suricata sensor
        // sees the client's request to the proxy, the proxy's flow out).
        let border = p.proxy;
        if lookup {
            let d = Dns {
                ts: ts - 15_000_000,
                client: border,
                client_port: self.port(),
                server: p.resolver,
                trans_id: self.rng.below(65536) as u16,
                query: host.to_owned(),
                qtype: QType::A,
                rcode: Rcode::NoError,
                answers: SmallVec::from_iter([dst.to_string()]),
                ttl: 300,
                rtt_us: 20_000 + self.rng.below(30_000) as u32,
            };
            self.push(o, Activity::Dns(d));
        }
        let w = Web {
            ts,
            client,
            client_port: self.port(),
            user: Some(user.to_owned()),
            method,
            host: host.to_owned(),
            port: 80,
            path: path.to_owned(),
            status: 200,
            req_bytes: req,
            resp_bytes: resp,
            mime: if method == "POST" {
                "text/html"
            } else {
                "application/octet-stream"
            },
            user_agent: "Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 6.1; Trident/4.0)".into(),
            dst,
            elapsed_ms: 80 + self.rng.below(400) as u32,
            denied: false,
        };
        self.push(o, Activity::Web(w));
        let f = Flow {
            ts,
            src: p.egress,
            src_port: self.port(),
            dst,
            dst_port: 80,
            proto: Proto::Tcp,
            service: Some("http"),
            duration_us: 100_000 + self.rng.below(900_000),
            orig_bytes: req,
            resp_bytes: resp,
            orig_pkts: 3 + req / 1400,
            resp_pkts: 3 + resp / 1400,
            state: "SF",
        };
        self.push(o, Activity::Flow(f));
    }

    /// Periodic HTTP POST/cookie beaconing; returns the last beacon time.
    #[allow(clippy::too_many_arguments)]
    fn beacon(
        &mut self,
        o: usize,
        who: (Ipv4Addr, &str),
        host: &str,
        dst: Ipv4Addr,
        start: i64,
        end: i64,
        interval_s: u64,
        path: &str,
    ) -> i64 {
        let mut t = start;
        let mut last = start;
        let mut n = 0u64;
        if self.plan_of(o).formats.web == WebFormat::Eve && start < self.end_ns {
            // The inline sensor's signature fires on the first beacon.
            let a = IdsAlert {
                ts: start,
                src: who.0,
                src_port: self.port(),
                // The sensor watches the client side of the explicit proxy.
                dst: self.plan_of(o).proxy,
                dst_port: crate::estate::PROXY_PORT,
                proto: Proto::Tcp,
                sid: 2_019_000 + (self.rng.below(900) as u32),
                signature: "ET MALWARE Suspicious POST with Cookie-Only Beacon".into(),
                category: "A Network Trojan was detected".into(),
                severity: 1,
                hostname: Some(host.to_owned()),
            };
            self.push(o, Activity::Ids(a));
        }
        while t < end.min(self.end_ns) {
            let lookup = n.is_multiple_of(12);
            let req = 300 + self.rng.below(200);
            let resp = 200 + self.rng.below(300);
            self.web(o, t, who, "POST", host, path, dst, (req, resp), lookup);
            last = t;
            n += 1;
            let jitter = 1.0 + 0.1 * (self.rng.unit() * 2.0 - 1.0);
            t += ((interval_s.max(1) as f64) * jitter * NS as f64) as i64;
        }
        last
    }

    fn auth(&mut self, o: usize, a: Auth<String>) {
        self.push(o, Activity::Auth(a));
    }

    fn hash_hex(&mut self, n: usize) -> String {
        let mut s = String::with_capacity(n);
        self.rng.hex(n, &mut s);
        s
    }
}

fn ent() -> Entities {
    Entities::default()
}

fn host_of(url_host: &str) -> String {
    url_host.to_ascii_lowercase()
}

/// Plans every campaign of `scenario` over the estate `[start_ns, end_ns)`.
pub fn plan(
    estate: &Estate,
    scenario: &Scenario,
    seed: u64,
    start_ns: i64,
    end_ns: i64,
) -> Result<Plan, SimError> {
    let mut ctx = Ctx {
        estate,
        start_ns,
        end_ns,
        rng: SimRng::new(seed, "campaigns"),
        next_ip: 0,
        plan: Plan {
            per_org: vec![Vec::new(); estate.orgs.len()],
            ..Plan::default()
        },
    };
    for c in &scenario.campaign {
        if c.common().start_day >= ctx.days() {
            // Outside the simulated period: nothing to inject (and nothing to detect).
            continue;
        }
        match c {
            Campaign::PensionBreach(p) => pension(&mut ctx, p)?,
            Campaign::DnsTunnel(p) => dns_tunnel(&mut ctx, p)?,
            Campaign::Dga(p) => dga(&mut ctx, p)?,
            Campaign::PasswordSpray(p) => spray(&mut ctx, p)?,
            Campaign::BruteForce(p) => brute(&mut ctx, p)?,
            Campaign::SeparationViolation(p) => separation(&mut ctx, p)?,
            Campaign::UnsanctionedEgress(p) => egress(&mut ctx, p)?,
            Campaign::SharedInfrastructure(p) => shared(&mut ctx, p)?,
            Campaign::IocContact(p) => ioc(&mut ctx, p)?,
        }
    }
    for v in &mut ctx.plan.per_org {
        v.sort_by_key(Activity::ts);
    }
    Ok(ctx.plan)
}

fn pension(ctx: &mut Ctx<'_>, p: &PensionBreach) -> Result<(), SimError> {
    let cid = p.common.id.as_str();
    let o = ctx.org(p.common.org.as_deref(), OrgKind::DesignatedCorporation, cid)?;
    let plan = ctx.plan_of(o);
    if p.c2_domains.is_empty() {
        return Err(SimError::Scenario(format!(
            "campaign {cid:?}: c2_domains is empty"
        )));
    }
    let span = p
        .span_days
        .min(ctx.days() - p.common.start_day - 0.1)
        .max(0.2);
    let day = |f: f64| p.common.start_day + f * span;
    let sender_domain = p
        .sender
        .split('@')
        .nth(1)
        .unwrap_or("freemail.example")
        .to_owned();
    let sender_mta = format!("smtp-out.{sender_domain}");
    let mta_ip = ctx.infra_ip();
    let c2: Vec<(String, Ipv4Addr)> = p
        .c2_domains
        .iter()
        .map(|d| (host_of(d), ctx.infra_ip()))
        .collect();
    let (c2a, c2a_ip) = c2[0].clone();
    let (c2b, c2b_ip) = c2.get(1).cloned().unwrap_or_else(|| c2[0].clone());
    let public: Vec<String> = ["info", "koho", "soudan", "jinji"]
        .iter()
        .map(|l| format!("{l}@{}", plan.domain))
        .collect();
    let mut openers: Vec<usize> = Vec::new();
    while openers.len() < p.openers.min(plan.pcs.len()) {
        let k = ctx.rng.index(plan.pcs.len());
        if !openers.contains(&k) {
            openers.push(k);
        }
    }
    let subjects = [
        "「厚生年金基金制度の見直しについて（試案）」に関する意見",
        "医療費通知のお知らせ",
        "年金機構の職員向け研修資料",
        "【至急】セミナー開催のご案内",
    ];
    let mut opened: Vec<(usize, i64)> = Vec::new();
    let waves = p.waves.max(1);
    let mut wave_hash = Vec::new();
    for w in 0..waves {
        let t0 = ctx.at_work(day(0.35 * w as f64 / waves as f64));
        let harvested = w >= 2 || waves <= 2 && w == 1;
        let recipients: Vec<String> = if harvested {
            let mut r: Vec<String> = openers
                .iter()
                .filter_map(|&k| plan.pcs.get(k).map(|pc| plan.email_of(&pc.user)))
                .collect();
            for _ in 0..5 {
                if let Some(pc) = ctx.rng.pick(&plan.pcs) {
                    let e = plan.email_of(&pc.user);
                    if !r.contains(&e) {
                        r.push(e);
                    }
                }
            }
            r
        } else {
            public.clone()
        };
        let link_wave = w == 0;
        let url = format!(
            "http://{c2a}/images/data/{}.php?id={}",
            ["doc", "file"][w % 2],
            1000 + w
        );
        let (md5, sha1, sha256) = (ctx.hash_hex(32), ctx.hash_hex(40), ctx.hash_hex(64));
        let att_name = [
            "試案に対する意見.lzh",
            "医療費通知.exe",
            "研修資料.doc.exe",
            "開催案内.lzh",
        ][w % 4];
        wave_hash.push(sha256.clone());
        let mut qid = String::new();
        ctx.rng.hex(10, &mut qid);
        for (i, r) in recipients.iter().enumerate() {
            let m = Mail {
                ts: t0 + i as i64 * 3 * NS,
                gateway: plan.mail_gw.name.clone(),
                queue_id: format!("{}{i}", qid.to_ascii_uppercase()),
                message_id: format!("<{}.{}{i}@{sender_domain}>", t0 / NS, qid),
                client_ip: mta_ip,
                client_hostname: sender_mta.clone(),
                envelope_from: p.sender.clone(),
                header_from: format!("{} <{}>", p.sender_name, p.sender),
                recipients: vec![r.clone()],
                subject: subjects
                    .get(w % subjects.len())
                    .copied()
                    .unwrap_or("")
                    .to_owned(),
                size: if link_wave { 3_800 } else { 284_000 },
                attachments: if link_wave {
                    Vec::new()
                } else {
                    vec![Attachment {
                        name: att_name.to_owned(),
                        size: 271_360,
                        mime: "application/octet-stream",
                        md5: md5.clone(),
                        sha1: sha1.clone(),
                        sha256: sha256.clone(),
                    }]
                },
                links: if link_wave {
                    vec![url.clone()]
                } else {
                    Vec::new()
                },
                spf: "pass",
                dkim: "none",
                dmarc: "none",
                verdict: "delivered",
            };
            ctx.push(o, Activity::Mail(m));
        }
        let mut e = ent();
        e.email = Some(p.sender.clone());
        if link_wave {
            e.url = Some(url.clone());
            e.domain = Some(c2a.clone());
        } else {
            e.hash = Some(sha256.clone());
        }
        let desc = format!(
            "targeted e-mail wave {} of {waves} from a free-mail sender to {} {} addresses ({})",
            w + 1,
            recipients.len(),
            if harvested {
                "harvested personal"
            } else {
                "public"
            },
            if link_wave {
                "download link"
            } else {
                "attachment"
            }
        );
        ctx.truth(
            o,
            TruthKind::TargetedEmail,
            t0,
            t0 + recipients.len() as i64 * 3 * NS,
            e,
            desc,
            cid,
        );
        // Openers: the first opens the link wave, the others the later attachment waves.
        let opener_idx = if w == 0 {
            Some(0)
        } else if harvested {
            Some(1 + (w - 2).min(openers.len()))
        } else {
            None
        };
        if let Some(k) = opener_idx.and_then(|i| openers.get(i))
            && !opened.iter().any(|(x, _)| x == k)
        {
            let t_open = t0 + (600 + ctx.rng.below(3 * 3600) as i64) * NS;
            opened.push((*k, t_open));
            if link_wave {
                let pc = &plan.pcs[(*k).min(plan.pcs.len() - 1)];
                ctx.web(
                    o,
                    t_open,
                    (pc.ip, &pc.user),
                    "GET",
                    &c2a,
                    url.trim_start_matches(&format!("http://{c2a}")),
                    c2a_ip,
                    (420, 271_800),
                    true,
                );
                let mut e = ent();
                e.host = Some(pc.name.clone());
                e.src_ip = Some(pc.ip.to_string());
                e.user = Some(pc.user.clone());
                e.url = Some(url.clone());
                e.domain = Some(c2a.clone());
                e.dst_ip = Some(c2a_ip.to_string());
                ctx.truth(
                    o,
                    TruthKind::MalwareDownload,
                    t_open,
                    t_open + NS,
                    e,
                    "the link's archive downloaded through the proxy".into(),
                    cid,
                );
            }
        }
    }
    let interval = p.beacon_interval_s.max(10);
    let exfil_start = ctx.at(day(0.7));
    for (n, (k, t_open)) in opened.clone().into_iter().enumerate() {
        let pc = &plan.pcs[k.min(plan.pcs.len() - 1)];
        let exec = t_open + (40 + ctx.rng.below(40) as i64) * NS;
        let last = ctx.beacon(
            o,
            (pc.ip, &pc.user),
            &c2a,
            c2a_ip,
            exec,
            exfil_start + 86_400 * NS,
            interval,
            "/cgi-bin/news.cgi",
        );
        let mut e = ent();
        e.host = Some(pc.name.clone());
        e.src_ip = Some(pc.ip.to_string());
        e.user = Some(pc.user.clone());
        e.domain = Some(c2a.clone());
        e.dst_ip = Some(c2a_ip.to_string());
        let desc = if n == 0 {
            "catch point 1 of 2: HTTP POST/cookie beaconing to a compromised legitimate-looking site through the proxy, starting within about a minute of execution".to_owned()
        } else {
            "beaconing of a further opener to the same compromised site".to_owned()
        };
        ctx.truth(o, TruthKind::C2Beacon, exec, last, e, desc, cid);
        if n == 0 {
            // Second-stage tool, then its own channel.
            let t2 = exec + 2 * 3600 * NS;
            let url2 = format!("http://{c2b}/img/logo.gif");
            ctx.web(
                o,
                t2,
                (pc.ip, &pc.user),
                "GET",
                &c2b,
                "/img/logo.gif",
                c2b_ip,
                (380, 412_160),
                true,
            );
            let mut e = ent();
            e.host = Some(pc.name.clone());
            e.src_ip = Some(pc.ip.to_string());
            e.url = Some(url2);
            e.domain = Some(c2b.clone());
            e.dst_ip = Some(c2b_ip.to_string());
            ctx.truth(
                o,
                TruthKind::MalwareDownload,
                t2,
                t2 + NS,
                e,
                "second-stage tool fetched disguised as an image".into(),
                cid,
            );
            let s2 = t2 + 90 * NS;
            let last2 = ctx.beacon(
                o,
                (pc.ip, &pc.user),
                &c2b,
                c2b_ip,
                s2,
                exfil_start + 86_400 * NS,
                interval * 2,
                "/index.php",
            );
            let mut e = ent();
            e.host = Some(pc.name.clone());
            e.src_ip = Some(pc.ip.to_string());
            e.domain = Some(c2b.clone());
            e.dst_ip = Some(c2b_ip.to_string());
            ctx.truth(
                o,
                TruthKind::C2Beacon,
                s2,
                last2,
                e,
                "second-stage tool's channel".into(),
                cid,
            );
        }
    }
    // Lateral movement with administrator accounts on the authentication server.
    let Some(&(p0, _)) = opened.first() else {
        return Ok(());
    };
    let pc0 = &plan.pcs[p0.min(plan.pcs.len() - 1)];
    let admin = plan
        .admins
        .first()
        .cloned()
        .unwrap_or_else(|| "administrator".into());
    let t_lat = ctx.at_work(day(0.5));
    let mk = |ts: i64, kind: AuthKind, computer: &str, service: String, port: u16| Auth {
        ts,
        kind,
        computer: computer.to_owned(),
        user: admin.clone(),
        domain: plan.ad_domain.clone(),
        ip: Some(pc0.ip),
        port,
        workstation: pc0.name.clone(),
        service,
    };
    let port = ctx.port();
    ctx.auth(
        o,
        mk(t_lat, AuthKind::Tgt, &plan.dc.name, String::new(), port),
    );
    ctx.auth(
        o,
        mk(
            t_lat + NS,
            AuthKind::Logon {
                logon_type: 3,
                ntlm: false,
            },
            &plan.dc.name,
            String::new(),
            port,
        ),
    );
    ctx.auth(
        o,
        mk(
            t_lat + NS,
            AuthKind::SpecialPrivileges,
            &plan.dc.name,
            String::new(),
            port,
        ),
    );
    let mut t = t_lat + 60 * NS;
    let mut victims: Vec<usize> = Vec::new();
    let targets = p.lateral_targets.min(plan.pcs.len().saturating_sub(1));
    while victims.len() < targets {
        let k = ctx.rng.index(plan.pcs.len());
        if k != p0 && !victims.contains(&k) {
            victims.push(k);
        }
    }
    for &k in &victims {
        let v = &plan.pcs[k.min(plan.pcs.len() - 1)];
        t += (60 + ctx.rng.below(300) as i64) * NS;
        let port = ctx.port();
        ctx.auth(
            o,
            mk(
                t,
                AuthKind::ServiceTicket,
                &plan.dc.name,
                format!("cifs/{}", v.name),
                port,
            ),
        );
        let fqdn = format!("{}.{}", v.name, plan.domain);
        ctx.auth(
            o,
            mk(
                t + 200_000_000,
                AuthKind::Logon {
                    logon_type: 3,
                    ntlm: false,
                },
                &fqdn,
                String::new(),
                port,
            ),
        );
        ctx.auth(
            o,
            mk(
                t + 200_000_000,
                AuthKind::SpecialPrivileges,
                &fqdn,
                String::new(),
                port,
            ),
        );
    }
    let mut e = ent();
    e.user = Some(admin.clone());
    e.host = Some(pc0.name.clone());
    e.src_ip = Some(pc0.ip.to_string());
    ctx.truth(o, TruthKind::LateralMovement, t_lat, t, e, format!(
        "catch point 2 of 2: administrator account {admin} used from an ordinary PC on the authentication server, then on {} PCs", victims.len()), cid);
    // Staged collection from the file shares (from a PC reached by lateral movement).
    let stage = victims
        .first()
        .map(|&k| &plan.pcs[k.min(plan.pcs.len() - 1)])
        .unwrap_or(pc0);
    let t_col = ctx.at_work(day(0.62));
    let mut tc = t_col;
    for _ in 0..20 {
        tc += (120 + ctx.rng.below(600) as i64) * NS;
        let port = ctx.port();
        let mut a = mk(
            tc,
            AuthKind::ServiceTicket,
            &plan.dc.name,
            format!(
                "cifs/{}",
                plan.file_server.name.split('.').next().unwrap_or("fs01")
            ),
            port,
        );
        a.ip = Some(stage.ip);
        a.workstation = stage.name.clone();
        ctx.auth(o, a.clone());
        a.kind = AuthKind::Logon {
            logon_type: 3,
            ntlm: false,
        };
        a.computer = plan.file_server.name.clone();
        a.ts += 100_000_000;
        a.service = String::new();
        ctx.auth(o, a);
    }
    let mut e = ent();
    e.user = Some(admin.clone());
    e.host = Some(stage.name.clone());
    e.src_ip = Some(stage.ip.to_string());
    ctx.truth(
        o,
        TruthKind::LateralMovement,
        t_col,
        tc,
        e,
        "staged collection from the file shares with the administrator account".into(),
        cid,
    );
    // Multi-day exfiltration to one destination.
    let exfil_ip = ctx.infra_ip();
    let exfil_host = host_of(&p.exfil_domain);
    let ex_end =
        (exfil_start + (p.exfil_days * 86_400.0 * NS as f64) as i64).min(ctx.end_ns - 60 * NS);
    let mut te = exfil_start;
    let mut last = te;
    let stage_user = stage.user.clone();
    while te < ex_end {
        let req = 5_000_000 + ctx.rng.below(45_000_000);
        ctx.web(
            o,
            te,
            (stage.ip, &stage_user),
            "POST",
            &exfil_host,
            "/upload/part.php",
            exfil_ip,
            (req, 320),
            true,
        );
        last = te;
        te += (900 + ctx.rng.below(1800) as i64) * NS;
    }
    let mut e = ent();
    e.host = Some(stage.name.clone());
    e.src_ip = Some(stage.ip.to_string());
    e.domain = Some(exfil_host.clone());
    e.dst_ip = Some(exfil_ip.to_string());
    ctx.truth(
        o,
        TruthKind::Exfiltration,
        exfil_start,
        last,
        e,
        "multi-day exfiltration of staged archives to one destination by HTTP POST".into(),
        cid,
    );
    Ok(())
}

fn dns_tunnel(ctx: &mut Ctx<'_>, p: &DnsTunnel) -> Result<(), SimError> {
    let cid = p.common.id.as_str();
    let o = ctx.org(p.common.org.as_deref(), OrgKind::Ministry, cid)?;
    let plan = ctx.plan_of(o);
    let (name, ip, user) = ctx.pc(o);
    let _ = user;
    let start = ctx.at(p.common.start_day);
    let end = (start + (p.hours * 3600.0 * NS as f64) as i64).min(ctx.end_ns - NS);
    let step = (60 * NS) / i64::from(p.queries_per_minute.max(1));
    let domain = p.domain.to_ascii_lowercase();
    let mut t = start;
    let mut seq = 0u32;
    const B32: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";
    while t < end {
        let mut q = String::with_capacity(96);
        let n = 40 + ctx.rng.index(20);
        for _ in 0..n {
            q.push(char::from(B32[ctx.rng.index(32)]));
        }
        q.push_str(&format!(".{seq:04x}.{domain}"));
        let mut answer = String::new();
        let alen = 60 + ctx.rng.index(120);
        ctx.rng.alnum(alen, &mut answer);
        let d = Dns {
            ts: t,
            client: ip,
            client_port: ctx.port(),
            server: plan.resolver,
            trans_id: ctx.rng.below(65536) as u16,
            query: q,
            qtype: QType::Txt,
            rcode: Rcode::NoError,
            answers: SmallVec::from_iter([answer]),
            ttl: 0,
            rtt_us: 30_000 + ctx.rng.below(60_000) as u32,
        };
        ctx.push(o, Activity::Dns(d));
        seq = seq.wrapping_add(1);
        t += step + ctx.rng.below((step / 2).max(1) as u64) as i64;
    }
    let mut e = ent();
    e.host = Some(name);
    e.src_ip = Some(ip.to_string());
    e.domain = Some(domain);
    ctx.truth(
        o,
        TruthKind::DnsTunnel,
        start,
        t,
        e,
        format!(
            "DNS tunnelling: long TXT queries under one domain, {} per minute",
            p.queries_per_minute
        ),
        cid,
    );
    Ok(())
}

fn dga(ctx: &mut Ctx<'_>, p: &Dga) -> Result<(), SimError> {
    let cid = p.common.id.as_str();
    let o = ctx.org(p.common.org.as_deref(), OrgKind::CiOperator, cid)?;
    let plan = ctx.plan_of(o);
    let (name, ip, _) = ctx.pc(o);
    let start = ctx.at(p.common.start_day);
    let end = (start + (p.hours * 3600.0 * NS as f64) as i64).min(ctx.end_ns - NS);
    let c2_ip = ctx.infra_ip();
    let tlds = ["com", "net", "org", "info", "top", "xyz"];
    let mut registered = String::new();
    let mut t = start;
    let mut burst = 0;
    while t < end {
        for i in 0..p.names_per_burst {
            let mut n = String::new();
            let len = 12 + ctx.rng.index(7);
            ctx.rng.letters(len, &mut n);
            n.push('.');
            n.push_str(ctx.rng.pick(&tlds).copied().unwrap_or("com"));
            let resolves = burst == 0 && i == p.names_per_burst / 2;
            if resolves {
                registered.clone_from(&n);
            }
            let ts = t + i64::from(i) * 300_000_000;
            let d = Dns {
                ts,
                client: ip,
                client_port: ctx.port(),
                server: plan.resolver,
                trans_id: ctx.rng.below(65536) as u16,
                query: n,
                qtype: QType::A,
                rcode: if resolves {
                    Rcode::NoError
                } else {
                    Rcode::NxDomain
                },
                answers: if resolves {
                    SmallVec::from_iter([c2_ip.to_string()])
                } else {
                    SmallVec::new()
                },
                ttl: if resolves { 300 } else { 0 },
                rtt_us: 20_000 + ctx.rng.below(80_000) as u32,
            };
            ctx.push(o, Activity::Dns(d));
        }
        if !registered.is_empty() {
            let f = Flow {
                ts: t + 10 * NS,
                src: ip,
                src_port: ctx.port(),
                dst: c2_ip,
                dst_port: 443,
                proto: Proto::Tcp,
                service: Some("ssl"),
                duration_us: 2_000_000,
                orig_bytes: 900,
                resp_bytes: 4_000,
                orig_pkts: 8,
                resp_pkts: 7,
                state: "SF",
            };
            ctx.push(o, Activity::Flow(f));
        }
        burst += 1;
        t += i64::from(p.burst_every_min.max(1)) * 60 * NS;
    }
    let mut e = ent();
    e.host = Some(name);
    e.src_ip = Some(ip.to_string());
    if !registered.is_empty() {
        e.domain = Some(registered);
        e.dst_ip = Some(c2_ip.to_string());
    }
    ctx.truth(
        o,
        TruthKind::Dga,
        start,
        t,
        e,
        format!(
            "DGA: {} algorithmic names every {} min, mostly NXDOMAIN, one registered",
            p.names_per_burst, p.burst_every_min
        ),
        cid,
    );
    Ok(())
}

fn spray(ctx: &mut Ctx<'_>, p: &PasswordSpray) -> Result<(), SimError> {
    let cid = p.common.id.as_str();
    let o = ctx.org(p.common.org.as_deref(), OrgKind::Agency, cid)?;
    let plan = ctx.plan_of(o);
    let (name, ip, _) = ctx.pc(o);
    let start = ctx.at(p.common.start_day);
    let mut t = start;
    let mut users: Vec<String> = plan.pcs.iter().map(|pc| pc.user.clone()).collect();
    for extra in ["admin", "test", "guest", "backup", "scanner", "user01"] {
        users.push(extra.to_owned());
    }
    let n = p.accounts.min(users.len());
    for (i, u) in users.iter().take(n).enumerate() {
        t += (5 + ctx.rng.below(20) as i64) * NS;
        let exists = plan.pcs.iter().any(|pc| &pc.user == u);
        let success = i < p.successes && exists;
        let port = ctx.port();
        let base = Auth {
            ts: t,
            kind: AuthKind::LogonFailed {
                logon_type: 3,
                sub_status: if exists { 0xc000_006a } else { 0xc000_0064 },
            },
            computer: plan.dc.name.clone(),
            user: u.clone(),
            domain: plan.ad_domain.clone(),
            ip: Some(ip),
            port,
            workstation: name.clone(),
            service: String::new(),
        };
        if success {
            let mut a = base.clone();
            a.kind = AuthKind::Logon {
                logon_type: 3,
                ntlm: true,
            };
            ctx.auth(o, a);
        } else {
            ctx.auth(o, base.clone());
            let mut v = base;
            v.kind = AuthKind::NtlmValidation {
                status: if exists { 0xc000_006a } else { 0xc000_0064 },
            };
            ctx.auth(o, v);
        }
    }
    let mut e = ent();
    e.host = Some(name);
    e.src_ip = Some(ip.to_string());
    ctx.truth(
        o,
        TruthKind::PasswordSpray,
        start,
        t,
        e,
        format!(
            "password spraying: one password against {n} accounts from one host, {} success(es)",
            p.successes
        ),
        cid,
    );
    Ok(())
}

fn brute(ctx: &mut Ctx<'_>, p: &BruteForce) -> Result<(), SimError> {
    let cid = p.common.id.as_str();
    let o = ctx.org(p.common.org.as_deref(), OrgKind::Ministry, cid)?;
    let plan = ctx.plan_of(o);
    let (name, ip, _) = ctx.pc(o);
    let target = plan
        .admins
        .first()
        .cloned()
        .unwrap_or_else(|| "administrator".into());
    let start = ctx.at(p.common.start_day);
    let mut t = start;
    for _ in 0..p.attempts {
        t += 1_000_000_000 + ctx.rng.below(4 * NS as u64) as i64;
        let a = Auth {
            ts: t,
            kind: AuthKind::LogonFailed {
                logon_type: 3,
                sub_status: 0xc000_006a,
            },
            computer: plan.dc.name.clone(),
            user: target.clone(),
            domain: plan.ad_domain.clone(),
            ip: Some(ip),
            port: ctx.port(),
            workstation: name.clone(),
            service: String::new(),
        };
        ctx.auth(o, a);
    }
    let mut e = ent();
    e.user = Some(target.clone());
    e.host = Some(name);
    e.src_ip = Some(ip.to_string());
    ctx.truth(
        o,
        TruthKind::BruteForce,
        start,
        t,
        e,
        format!("brute force: {} failed logons against {target}", p.attempts),
        cid,
    );
    Ok(())
}

fn separation(ctx: &mut Ctx<'_>, p: &Separation) -> Result<(), SimError> {
    let cid = p.common.id.as_str();
    let o = ctx.org(p.common.org.as_deref(), OrgKind::LocalGovernment, cid)?;
    let plan = ctx.plan_of(o);
    let Some(host) = plan.isolated.first() else {
        return Err(SimError::Scenario(format!(
            "campaign {cid:?}: {} has no isolated network",
            plan.id()
        )));
    };
    let dst = ctx.infra_ip();
    let start = ctx.at_work(p.common.start_day);
    let mut t = start;
    for _ in 0..p.attempts {
        t += (30 + ctx.rng.below(300) as i64) * NS;
        let f = Fw {
            ts: t,
            allow: false,
            src: host.ip,
            src_port: ctx.port(),
            dst,
            dst_port: 443,
            proto: Proto::Tcp,
            rule: "isolated-to-internet",
        };
        ctx.push(o, Activity::Fw(f));
    }
    let mut e = ent();
    e.host = Some(host.name.clone());
    e.src_ip = Some(host.ip.to_string());
    e.dst_ip = Some(dst.to_string());
    ctx.truth(
        o,
        TruthKind::SeparationViolation,
        start,
        t,
        e,
        "a host of the isolated network tried to reach the internet".into(),
        cid,
    );
    Ok(())
}

fn egress(ctx: &mut Ctx<'_>, p: &Egress) -> Result<(), SimError> {
    let cid = p.common.id.as_str();
    let o = ctx.org(p.common.org.as_deref(), OrgKind::Ministry, cid)?;
    let (name, ip, _) = ctx.pc(o);
    let dst = ctx.infra_ip();
    let start = ctx.at_work(p.common.start_day);
    let mut t = start;
    for _ in 0..p.connections {
        t += (60 + ctx.rng.below(240) as i64) * NS;
        let resp = 2_000 + ctx.rng.below(80_000);
        let f = Flow {
            ts: t,
            src: ip,
            src_port: ctx.port(),
            dst,
            dst_port: 443,
            proto: Proto::Tcp,
            service: Some("ssl"),
            duration_us: 500_000 + ctx.rng.below(20_000_000),
            orig_bytes: 1_500 + ctx.rng.below(5_000),
            resp_bytes: resp,
            orig_pkts: 8,
            resp_pkts: 4 + resp / 1400,
            state: "SF",
        };
        ctx.push(o, Activity::Flow(f));
    }
    let mut e = ent();
    e.host = Some(name);
    e.src_ip = Some(ip.to_string());
    e.dst_ip = Some(dst.to_string());
    ctx.truth(
        o,
        TruthKind::UnsanctionedEgress,
        start,
        t,
        e,
        "a PC reached the internet directly, bypassing the sanctioned gateway".into(),
        cid,
    );
    Ok(())
}

fn shared(ctx: &mut Ctx<'_>, p: &SharedInfra) -> Result<(), SimError> {
    let cid = p.common.id.as_str();
    let ip = ctx.infra_ip();
    let domain = host_of(&p.domain);
    let orgs: Vec<usize> = if p.orgs.is_empty() {
        ctx.estate
            .orgs
            .iter()
            .enumerate()
            .filter(|(_, o)| !o.org.is_center())
            .map(|(i, _)| i)
            .take(3)
            .collect()
    } else {
        p.orgs
            .iter()
            .map(|n| ctx.org(Some(n), OrgKind::Ministry, cid))
            .collect::<Result<_, _>>()?
    };
    for (k, o) in orgs.into_iter().enumerate() {
        let day = p.common.start_day + k as f64 * p.gap_days;
        if day >= ctx.days() {
            break;
        }
        let (name, pcip, user) = ctx.pc(o);
        let start = ctx.at_work(day);
        let end = start + (p.hours * 3600.0 * NS as f64) as i64;
        let last = ctx.beacon(
            o,
            (pcip, &user),
            &domain,
            ip,
            start,
            end,
            p.beacon_interval_s,
            "/api/check",
        );
        let mut e = ent();
        e.host = Some(name);
        e.src_ip = Some(pcip.to_string());
        e.user = Some(user.clone());
        e.domain = Some(domain.clone());
        e.dst_ip = Some(ip.to_string());
        ctx.truth(o, TruthKind::C2Beacon, start, last, e, format!("shared infrastructure {domain} ({ip}) reused against organization {} of the campaign", k + 1), cid);
    }
    Ok(())
}

fn ioc(ctx: &mut Ctx<'_>, p: &IocContact) -> Result<(), SimError> {
    let cid = p.common.id.as_str();
    let monitored: Vec<usize> = ctx
        .estate
        .orgs
        .iter()
        .enumerate()
        .filter(|(_, o)| !o.org.is_center() && o.id() != "pref-cloud")
        .map(|(i, _)| i)
        .collect();
    let words = [
        "update", "cdn", "secure", "login", "portal", "sync", "mail", "service", "cloud", "doc",
    ];
    let tlds = ["com", "net", "info", "biz", "org"];
    for k in 0..p.contacts {
        let Some(&o) = monitored.get(k * 3 % monitored.len().max(1)) else {
            break;
        };
        let a = ctx.rng.pick(&words).copied().unwrap_or("cdn");
        let b = ctx.rng.pick(&words).copied().unwrap_or("sync");
        let mut dom = format!("{a}-{b}-");
        ctx.rng.letters(4, &mut dom);
        dom.push('.');
        dom.push_str(ctx.rng.pick(&tlds).copied().unwrap_or("com"));
        let ip = ctx.infra_ip();
        let (name, pcip, user) = ctx.pc(o);
        let day = p.common.start_day
            + (k as f64 + 0.5) * (ctx.days() - p.common.start_day) / (p.contacts as f64 + 1.0);
        let t = ctx.at_work(day);
        let path = "/download/setup.bin";
        let by_ip = k % 3 == 2;
        ctx.web(
            o,
            t,
            (pcip, &user),
            "GET",
            &dom,
            path,
            ip,
            (400, 180_000),
            true,
        );
        let mut e = ent();
        e.host = Some(name);
        e.src_ip = Some(pcip.to_string());
        // The name the PC requested is part of the contact whichever value the feed lists.
        e.domain = Some(dom.clone());
        if by_ip {
            e.dst_ip = Some(ip.to_string());
            ctx.plan.feed.push(FeedIndicator {
                value: FeedValue::Ipv4(ip),
                contacted: true,
                family: "generic.loader",
            });
        } else {
            e.domain = Some(dom.clone());
            e.dst_ip = Some(ip.to_string());
            ctx.plan.feed.push(FeedIndicator {
                value: FeedValue::Domain(dom.clone()),
                contacted: true,
                family: "generic.loader",
            });
        }
        ctx.truth(
            o,
            TruthKind::IocContact,
            t,
            t + NS,
            e,
            "contact with an indicator of the feed in intel/".into(),
            cid,
        );
    }
    // Decoys: never contacted. Their address ranges and name shapes are disjoint from the
    // benign traffic's by construction.
    let families = [
        "emotet",
        "qakbot",
        "plugx",
        "redleaves",
        "shadowpad",
        "cobaltstrike",
    ];
    let decoy_tlds = ["top", "xyz", "biz", "club", "online"];
    for i in 0..p.decoys {
        let family = families[i % families.len()];
        let v = match i % 4 {
            0 | 1 => {
                let mut d = String::new();
                let n = 8 + ctx.rng.index(8);
                ctx.rng.letters(n, &mut d);
                d.push('.');
                d.push_str(ctx.rng.pick(&decoy_tlds).copied().unwrap_or("top"));
                FeedValue::Domain(d)
            }
            2 => {
                let first = [46u8, 91, 193][ctx.rng.index(3)];
                FeedValue::Ipv4(Ipv4Addr::new(
                    first,
                    ctx.rng.below(256) as u8,
                    ctx.rng.below(256) as u8,
                    1 + ctx.rng.below(254) as u8,
                ))
            }
            _ => {
                let mut d = String::from("http://");
                ctx.rng.letters(10, &mut d);
                d.push_str(".top/gate.php");
                FeedValue::Url(d)
            }
        };
        ctx.plan.feed.push(FeedIndicator {
            value: v,
            contacted: false,
            family,
        });
        if i % 10 == 0 {
            let h = ctx.hash_hex(64);
            ctx.plan.feed.push(FeedIndicator {
                value: FeedValue::Sha256(h),
                contacted: false,
                family,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_scenario_parses_and_covers_every_campaign_kind() {
        let s = Scenario::from_toml(DEFAULT_SCENARIO).unwrap();
        assert_eq!(s.campaign.len(), 9);
        for (kind, _) in KEYS {
            let found = s.campaign.iter().any(|c| match c {
                Campaign::PensionBreach(_) => *kind == "pension_breach",
                Campaign::DnsTunnel(_) => *kind == "dns_tunnel",
                Campaign::Dga(_) => *kind == "dga",
                Campaign::PasswordSpray(_) => *kind == "password_spray",
                Campaign::BruteForce(_) => *kind == "brute_force",
                Campaign::SeparationViolation(_) => *kind == "separation_violation",
                Campaign::UnsanctionedEgress(_) => *kind == "unsanctioned_egress",
                Campaign::SharedInfrastructure(_) => *kind == "shared_infrastructure",
                Campaign::IocContact(_) => *kind == "ioc_contact",
            });
            assert!(found, "{kind}");
        }
    }

    fn err(text: &str) -> String {
        Scenario::from_toml(text).unwrap_err().to_string()
    }

    #[test]
    fn mistakes_are_errors_that_name_the_campaign() {
        let e = err("[[campaign]]\nid = \"x\"\nkind = \"dga\"\nburst_evry_min = 5\n");
        assert!(
            e.contains("campaign x: unknown parameter \"burst_evry_min\""),
            "{e}"
        );
        let e = err("[[campaign]]\nid = \"x\"\nkind = \"teleport\"\n");
        assert!(e.contains("unknown kind \"teleport\""), "{e}");
        let e = err("[[campaign]]\nid = \"x\"\nkind = \"dga\"\nnames_per_burst = -3\n");
        assert!(e.contains("out of range"), "{e}");
        let e = err(
            "[[campaign]]\nid = \"x\"\nkind = \"dga\"\n[[campaign]]\nid = \"x\"\nkind = \"dga\"\n",
        );
        assert!(e.contains("duplicate campaign id"), "{e}");
        let e = err("[[campaign]]\nkind = \"dga\"\n");
        assert!(e.contains("id"), "{e}");
        // Parameters default when absent.
        let s = Scenario::from_toml("[[campaign]]\nid = \"d\"\nkind = \"dga\"\n").unwrap();
        match &s.campaign[0] {
            Campaign::Dga(d) => assert_eq!(d.names_per_burst, 25),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn planning_is_deterministic_and_refuses_unknown_orgs() {
        let estate = crate::estate::build(5, 8, 8).unwrap();
        let s = Scenario::from_toml(DEFAULT_SCENARIO).unwrap();
        let start = 1_767_538_800 * NS;
        let end = start + 3 * 86_400 * NS;
        let a = plan(&estate, &s, 5, start, end).unwrap();
        let b = plan(&estate, &s, 5, start, end).unwrap();
        assert_eq!(a.truth, b.truth);
        assert!(a.truth.len() > 20);
        let bad =
            Scenario::from_toml("[[campaign]]\nid = \"x\"\nkind = \"dga\"\norg = \"nowhere\"\n")
                .unwrap();
        let e = plan(&estate, &bad, 5, start, end).unwrap_err().to_string();
        assert!(e.contains("\"nowhere\" is not in the estate"), "{e}");
    }
}
