//! Benign telemetry of one organization, hour by hour.
//!
//! Shape (checked by the crate's tests):
//! - a working-hours curve in JST with a lunch dip and late workers; weekends nearly empty;
//! - web through the proxy at roughly 1,000–3,000 transactions per active user per day, to a
//!   Zipf-popular universe of sites, per-user favourites, and a long tail of host names that
//!   each appear on one day only;
//! - DNS at the internal resolver: the proxy's lookups, internal names, random-looking CDN
//!   names, browser NXDOMAIN probes, typos;
//! - border flows; received mail; domain-controller authentication (Kerberos, NTLM, typos,
//!   service accounts, a nightly job touching many servers);
//! - estate-wide antivirus and update heartbeats and one rare, benign periodic poller.

use std::net::Ipv4Addr;

use smallvec::SmallVec;

use crate::estate::{OrgPlan, WebFormat};
use crate::out::{JST_OFFSET_S, NS};
use crate::records::*;
use crate::rng::SimRng;
use crate::sink::OrgSink;
use crate::universe::{self, Universe};

/// Relative web activity per JST hour of a working day (lunch dip at 12).
pub const HOUR_WEIGHTS: [f64; 24] = [
    0.01, 0.005, 0.005, 0.005, 0.005, 0.01, 0.03, 0.15, 0.65, 1.0, 1.0, 0.95, 0.4, 0.9, 1.0, 1.0,
    0.95, 0.75, 0.35, 0.15, 0.07, 0.04, 0.02, 0.015,
];
/// Extra evening weight of late workers.
pub const LATE_WEIGHTS: [f64; 24] = [
    0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.2, 0.5,
    0.7, 0.6, 0.45, 0.25, 0.1,
];

/// The benign-but-rare periodic poller: one server of one organization, every 30 minutes.
pub const RARE_POLLER_HOST: &str = "status.gridwatch-jp.net";
pub const RARE_POLLER_PERIOD_S: i64 = 1800;

/// Is the JST day `day` (days since 1970-01-01 in JST) a Saturday or Sunday?
pub fn is_weekend(jst_day: i64) -> bool {
    // 1970-01-01 was a Thursday.
    matches!((jst_day + 3).rem_euclid(7), 5 | 6)
}

#[derive(Debug, Default)]
struct Day {
    index: i64,
    active: Vec<bool>,
    /// Web transactions planned for the day, per PC.
    quota: Vec<f64>,
    /// Host names visited on this day only.
    one_offs: Vec<String>,
    /// First active hour of each PC (morning logon), 24 = none.
    first_hour: Vec<u32>,
}

/// The benign generator of one organization.
#[derive(Debug)]
pub struct Benign<'a> {
    plan: &'a OrgPlan,
    uni: &'a Universe,
    rng: SimRng,
    favourites: Vec<Vec<u32>>,
    day: Day,
    /// Phase of each PC's heartbeat within its 10 minutes (seconds).
    hb_phase: Vec<i64>,
    poller: Option<Ipv4Addr>,
    path: String,
    name: String,
}

impl<'a> Benign<'a> {
    pub fn new(plan: &'a OrgPlan, uni: &'a Universe, seed: u64, has_poller: bool) -> Self {
        let mut rng = SimRng::new(seed, plan.id());
        let favourites = plan
            .pcs
            .iter()
            .map(|_| {
                (0..15)
                    .map(|_| (50 + rng.index(uni.sites.len().saturating_sub(50).max(1))) as u32)
                    .collect()
            })
            .collect();
        let hb_phase = plan.pcs.iter().map(|_| rng.below(600) as i64).collect();
        let poller = has_poller
            .then(|| plan.servers.get(2).map(|s| s.ip))
            .flatten();
        Benign {
            plan,
            uni,
            rng,
            favourites,
            day: Day {
                index: i64::MIN,
                ..Day::default()
            },
            hb_phase,
            poller,
            path: String::new(),
            name: String::new(),
        }
    }

    fn start_day(&mut self, jst_day: i64) {
        let weekend = is_weekend(jst_day);
        let n = self.plan.pcs.len();
        let mut d = Day {
            index: jst_day,
            active: Vec::with_capacity(n),
            quota: Vec::with_capacity(n),
            one_offs: Vec::new(),
            first_hour: vec![24; n],
        };
        for pc in &self.plan.pcs {
            let active = self.rng.chance(if weekend { 0.04 } else { 0.93 });
            d.active.push(active);
            let t = (1700.0 * pc.activity * (1.0 + 0.15 * self.rng.gauss())).clamp(1000.0, 3000.0);
            d.quota.push(if active { t } else { 0.0 });
        }
        let n_active = d.active.iter().filter(|a| **a).count();
        for _ in 0..(n_active * 25).max(10) {
            Universe::one_off(&mut self.rng, &mut self.name);
            d.one_offs.push(self.name.clone());
        }
        self.day = d;
    }

    fn weight(&self, pc: usize, hour: usize) -> f64 {
        let late = self.plan.pcs.get(pc).is_some_and(|p| p.late_worker);
        let w = HOUR_WEIGHTS.get(hour).copied().unwrap_or(0.0);
        let l = if late {
            LATE_WEIGHTS.get(hour).copied().unwrap_or(0.0)
        } else {
            0.0
        };
        w + l
    }

    fn day_weight(&self, pc: usize) -> f64 {
        (0..24).map(|h| self.weight(pc, h)).sum()
    }

    /// Generates one hour starting at `hour_ns` (UTC nanoseconds, aligned to the hour).
    pub fn hour(&mut self, hour_ns: i64, sink: &mut OrgSink) {
        let local_s = hour_ns / NS + JST_OFFSET_S;
        let jst_day = local_s.div_euclid(86_400);
        let hour = (local_s.rem_euclid(86_400) / 3600) as usize;
        if self.day.index != jst_day {
            self.start_day(jst_day);
        }
        for pc in 0..self.plan.pcs.len() {
            let active = self.day.active.get(pc).copied().unwrap_or(false);
            let w = self.weight(pc, hour);
            if active && w > 0.0 {
                let quota = self.day.quota.get(pc).copied().unwrap_or(0.0);
                let expected = quota * w / self.day_weight(pc);
                let target = self.rng.round_stochastic(expected);
                if target > 0 && self.day.first_hour.get(pc).copied() == Some(24) {
                    if let Some(f) = self.day.first_hour.get_mut(pc) {
                        *f = hour as u32;
                    }
                    self.morning(pc, hour_ns, sink);
                }
                let mut written = 0;
                while written < target {
                    let ts = hour_ns + self.rng.below(3600 * NS as u64) as i64;
                    written += self.visit(pc, ts, sink);
                }
                self.office_hour(pc, hour_ns, w, sink);
            }
            // Machines run while their user is in (and a little before and after).
            let on = active && (7..=19).contains(&hour)
                || active && self.plan.pcs.get(pc).is_some_and(|p| p.late_worker) && hour <= 22;
            if on {
                self.heartbeats(pc, hour_ns, sink);
            }
        }
        self.servers(hour_ns, hour, sink);
        self.internet_noise(hour_ns, sink);
    }

    fn web_client(&self, pc: usize) -> (Ipv4Addr, Option<&'a str>) {
        match self.plan.pcs.get(pc) {
            Some(p) => (p.ip, Some(p.user.as_str())),
            None => (self.plan.proxy, None),
        }
    }

    /// Who resolves the names of a client's web requests: the explicit proxy (every
    /// organization consolidates its web traffic in one; Suricata organizations watch the
    /// client side of it).
    fn border_src(&self, _client: Ipv4Addr) -> Ipv4Addr {
        self.plan.proxy
    }

    /// The source address of the client's internet flows at the border: the sanctioned egress
    /// (the proxy, or for a city the prefecture's security cloud).
    fn egress_src(&self, _client: Ipv4Addr) -> Ipv4Addr {
        self.plan.egress
    }

    /// One page visit: several transactions; returns the number of proxy lines written.
    fn visit(&mut self, pc: usize, ts: i64, sink: &mut OrgSink) -> u64 {
        let r = self.rng.unit();
        let (host, https): (&str, bool) = if r < 0.35 {
            let fav = self.favourites.get(pc).map(|f| f.as_slice()).unwrap_or(&[]);
            let k = self.rng.pick(fav).copied().unwrap_or(0) as usize;
            match self.uni.sites.get(k) {
                Some(s) => (s.host.as_str(), s.https),
                None => return 1,
            }
        } else if r < 0.42 {
            let i = self.rng.index(self.day.one_offs.len());
            let Some(h) = self.day.one_offs.get(i) else {
                return 1;
            };
            self.name.clone_from(h);
            (self.name.as_str(), true)
        } else {
            let k = self.uni.popularity.sample(&mut self.rng);
            match self.uni.sites.get(k) {
                Some(s) => (s.host.as_str(), s.https),
                None => return 1,
            }
        };
        // Borrow-checker friendly copy of the host for this visit (the one-off name lives in
        // `self.name`, which the calls below may not touch).
        let host: String = host.to_owned();
        let (client, user) = self.web_client(pc);
        let ua = universe::USER_AGENTS
            .get(pc % universe::USER_AGENTS.len())
            .copied()
            .unwrap_or("Mozilla/5.0");
        let dst = universe::benign_ip(&host);
        let mut lines = 0;
        let mut t = ts;
        // The proxy (or the PC) resolves the name unless cached.
        if self.rng.chance(0.3) {
            let resolver_client = self.border_src(client);
            self.dns_lookup(resolver_client, &host, dst, t, sink);
        }
        let denied = self.rng.chance(0.002);
        let n_main = if https {
            1 + self.rng.below(3)
        } else {
            1 + self.rng.below(12)
        };
        for i in 0..n_main {
            let method = if https {
                "CONNECT"
            } else if self.rng.chance(0.04) {
                "POST"
            } else {
                "GET"
            };
            let (mime, path_kind) = if i == 0 {
                ("text/html", 0)
            } else {
                match self.rng.below(4) {
                    0 => ("application/javascript", 1),
                    1 => ("image/jpeg", 2),
                    2 => ("text/css", 3),
                    _ => ("application/json", 4),
                }
            };
            self.path.clear();
            self.make_path(path_kind);
            let status = if denied {
                403
            } else {
                match self.rng.below(100) {
                    0..=1 => 404,
                    2..=4 => 302,
                    5..=13 if !https => 304,
                    _ => 200,
                }
            };
            let resp = if https {
                2_000 + self.rng.exp(120_000.0) as u64
            } else {
                300 + self.rng.exp(25_000.0) as u64
            };
            let rec = Web {
                ts: t,
                client,
                client_port: 49152 + self.rng.below(16383) as u16,
                user,
                method,
                host: host.as_str(),
                port: if https { 443 } else { 80 },
                path: self.path.as_str(),
                status: if https && !denied { 200 } else { status },
                req_bytes: 400 + self.rng.below(900),
                resp_bytes: if denied { 3_900 } else { resp },
                mime,
                user_agent: ua,
                dst,
                elapsed_ms: if https {
                    self.rng.exp(15_000.0) as u32
                } else {
                    5 + self.rng.exp(180.0) as u32
                },
                denied,
            };
            sink.web(&rec);
            lines += 1;
            if i == 0 && !denied {
                self.border_flow(self.egress_src(client), dst, https, t, resp, sink);
            }
            t += (self.rng.exp(0.4) * NS as f64) as i64;
            if denied {
                return lines;
            }
        }
        // Sub-resources from shared CDNs.
        let n_cdn = self.rng.below(4);
        for _ in 0..n_cdn {
            let k = self.uni.cdn_popularity.sample(&mut self.rng);
            let Some(site) = self.uni.cdn.get(k) else {
                break;
            };
            let resp = 1_000 + self.rng.exp(60_000.0) as u64;
            if self.rng.chance(0.2) {
                self.dns_lookup(self.border_src(client), &site.host, site.ip, t, sink);
            }
            let rec = Web {
                ts: t,
                client,
                client_port: 49152 + self.rng.below(16383) as u16,
                user,
                method: "CONNECT",
                host: site.host.as_str(),
                port: 443,
                path: "",
                status: 200,
                req_bytes: 500 + self.rng.below(600),
                resp_bytes: resp,
                mime: "-",
                user_agent: ua,
                dst: site.ip,
                elapsed_ms: self.rng.exp(8_000.0) as u32,
                denied: false,
            };
            sink.web(&rec);
            self.border_flow(self.egress_src(client), site.ip, true, t, resp, sink);
            lines += 1;
            t += (self.rng.exp(0.2) * NS as f64) as i64;
        }
        // Typing mistakes end in NXDOMAIN.
        if self.rng.chance(0.004) {
            let mut typo = host.clone();
            if typo.len() > 6 {
                let cut = 4 + self.rng.index(typo.len() - 6);
                if typo.is_char_boundary(cut) && typo.is_char_boundary(cut + 1) {
                    typo.remove(cut);
                }
            }
            self.dns_nx(self.border_src(client), &typo, ts, sink);
        }
        lines
    }

    fn make_path(&mut self, kind: u32) {
        let mut b = itoa::Buffer::new();
        match kind {
            0 => match self.rng.below(4) {
                0 => self.path.push('/'),
                1 => {
                    self.path.push_str("/news/2026/");
                    self.path.push_str(b.format(self.rng.range(1000, 99999)));
                    self.path.push_str(".html");
                }
                2 => {
                    self.path.push_str("/articles/");
                    self.rng.alnum(8, &mut self.path);
                }
                _ => {
                    self.path.push_str("/search?q=");
                    self.rng.letters(6, &mut self.path);
                }
            },
            1 => {
                self.path.push_str("/static/js/app.");
                self.rng.hex(8, &mut self.path);
                self.path.push_str(".js");
            }
            2 => {
                self.path.push_str("/img/");
                self.path.push_str(b.format(self.rng.below(100_000)));
                self.path.push_str(".jpg");
            }
            3 => {
                self.path.push_str("/css/style.");
                self.rng.hex(6, &mut self.path);
                self.path.push_str(".css");
            }
            _ => {
                self.path.push_str("/api/v1/items?id=");
                self.path.push_str(b.format(self.rng.below(1_000_000)));
            }
        }
    }

    fn dns_lookup(
        &mut self,
        client: Ipv4Addr,
        name: &str,
        ip: Ipv4Addr,
        ts: i64,
        sink: &mut OrgSink,
    ) {
        let ip_s = ip.to_string();
        let rec = Dns {
            ts: ts - 20_000_000,
            client,
            client_port: 1024 + self.rng.below(64000) as u16,
            server: self.plan.resolver,
            trans_id: self.rng.below(65536) as u16,
            query: name,
            qtype: QType::A,
            rcode: Rcode::NoError,
            answers: SmallVec::from_iter([ip_s.as_str()]),
            ttl: 60 + self.rng.below(3600) as u32,
            rtt_us: 300 + self.rng.below(40_000) as u32,
        };
        sink.dns(&rec);
        if self.rng.chance(0.5) {
            self.upstream(ts - 19_000_000, sink);
        }
    }

    fn dns_nx(&mut self, client: Ipv4Addr, name: &str, ts: i64, sink: &mut OrgSink) {
        let rec = Dns {
            ts,
            client,
            client_port: 1024 + self.rng.below(64000) as u16,
            server: self.plan.resolver,
            trans_id: self.rng.below(65536) as u16,
            query: name,
            qtype: QType::A,
            rcode: Rcode::NxDomain,
            answers: SmallVec::new(),
            ttl: 0,
            rtt_us: 500 + self.rng.below(60_000) as u32,
        };
        sink.dns(&rec);
    }

    fn upstream(&mut self, ts: i64, sink: &mut OrgSink) {
        let f = Flow {
            ts,
            src: self.plan.resolver,
            src_port: 1024 + self.rng.below(64000) as u16,
            dst: self.plan.upstream_dns,
            dst_port: 53,
            proto: Proto::Udp,
            service: Some("dns"),
            duration_us: 2_000 + self.rng.below(30_000),
            orig_bytes: 40 + self.rng.below(30),
            resp_bytes: 80 + self.rng.below(200),
            orig_pkts: 1,
            resp_pkts: 1,
            state: "SF",
        };
        sink.flow(&f);
    }

    fn border_flow(
        &mut self,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        https: bool,
        ts: i64,
        resp: u64,
        sink: &mut OrgSink,
    ) {
        let orig = 500 + self.rng.below(3000);
        let f = Flow {
            ts,
            src,
            src_port: 1024 + self.rng.below(64000) as u16,
            dst,
            dst_port: if https { 443 } else { 80 },
            proto: Proto::Tcp,
            service: Some(if https { "ssl" } else { "http" }),
            duration_us: 50_000 + self.rng.exp(8_000_000.0) as u64,
            orig_bytes: orig,
            resp_bytes: resp,
            orig_pkts: 4 + orig / 1400,
            resp_pkts: 3 + resp / 1400,
            state: "SF",
        };
        sink.flow(&f);
    }

    /// The user's first activity: domain logon (with the odd typo), browser probes.
    fn morning(&mut self, pc: usize, hour_ns: i64, sink: &mut OrgSink) {
        let Some(p) = self.plan.pcs.get(pc) else {
            return;
        };
        let plan = self.plan;
        let ts = hour_ns + self.rng.below(600 * NS as u64) as i64;
        let auth = |kind: AuthKind, ts: i64, port: u16| Auth {
            ts,
            kind,
            computer: plan.dc.name.as_str(),
            user: p.user.as_str(),
            domain: plan.ad_domain.as_str(),
            ip: Some(p.ip),
            port,
            workstation: p.name.as_str(),
            service: "",
        };
        let port = 49152 + self.rng.below(16000) as u16;
        if self.rng.chance(0.05) {
            sink.auth(&auth(AuthKind::PreAuthFailed, ts - 8 * NS, port));
        }
        sink.auth(&auth(AuthKind::Tgt, ts, port));
        sink.auth(&auth(
            AuthKind::Logon {
                logon_type: 3,
                ntlm: false,
            },
            ts + 300_000_000,
            port + 1,
        ));
        let mut svc = format!("{}$", plan.dc.name.split('.').next().unwrap_or("dc01"));
        let mut st = auth(AuthKind::ServiceTicket, ts + 200_000_000, port + 2);
        st.service = svc.as_str();
        sink.auth(&st);
        svc = format!(
            "{}$",
            plan.file_server.name.split('.').next().unwrap_or("fs01")
        );
        let mut st = auth(AuthKind::ServiceTicket, ts + 900_000_000, port + 3);
        st.service = svc.as_str();
        sink.auth(&st);
        // Internal names and the browser's NXDOMAIN probes at start-up.
        let wpad = format!("wpad.{}", plan.domain);
        self.dns_nx(p.ip, &wpad, ts + NS, sink);
        for _ in 0..3 {
            self.name.clear();
            let n = 7 + self.rng.index(9);
            self.rng.letters(n, &mut self.name);
            let probe = self.name.clone();
            self.dns_nx(p.ip, &probe, ts + 2 * NS, sink);
        }
    }

    /// Per active hour: internal DNS, service tickets, NTLM, mail.
    fn office_hour(&mut self, pc: usize, hour_ns: i64, w: f64, sink: &mut OrgSink) {
        let Some(p) = self.plan.pcs.get(pc) else {
            return;
        };
        let plan = self.plan;
        for _ in 0..self.rng.round_stochastic(2.0 * w) {
            let ts = hour_ns + self.rng.below(3600 * NS as u64) as i64;
            let (name, ip) = match self.rng.below(3) {
                0 => (plan.dc.name.clone(), plan.dc.ip),
                1 => (plan.file_server.name.clone(), plan.file_server.ip),
                _ => {
                    let s = self.rng.pick(&plan.servers);
                    match s {
                        Some(s) => (s.name.clone(), s.ip),
                        None => continue,
                    }
                }
            };
            let ip_s = ip.to_string();
            let rec = Dns {
                ts,
                client: p.ip,
                client_port: 49152 + self.rng.below(16000) as u16,
                server: plan.resolver,
                trans_id: self.rng.below(65536) as u16,
                query: name.as_str(),
                qtype: QType::A,
                rcode: Rcode::NoError,
                answers: SmallVec::from_iter([ip_s.as_str()]),
                ttl: 1200,
                rtt_us: 150 + self.rng.below(900) as u32,
            };
            sink.dns(&rec);
        }
        if self.rng.chance(0.4 * w) {
            let ts = hour_ns + self.rng.below(3600 * NS as u64) as i64;
            if let Some(s) = self.rng.pick(&plan.servers) {
                let svc = format!("{}$", s.name.split('.').next().unwrap_or("srv"));
                sink.auth(&Auth {
                    ts,
                    kind: AuthKind::ServiceTicket,
                    computer: plan.dc.name.as_str(),
                    user: p.user.as_str(),
                    domain: plan.ad_domain.as_str(),
                    ip: Some(p.ip),
                    port: 49152 + self.rng.below(16000) as u16,
                    workstation: p.name.as_str(),
                    service: svc.as_str(),
                });
            }
        }
        if self.rng.chance(0.1 * w) {
            let ts = hour_ns + self.rng.below(3600 * NS as u64) as i64;
            let status = if self.rng.chance(0.03) {
                0xc000_006a
            } else {
                0
            };
            sink.auth(&Auth {
                ts,
                kind: AuthKind::NtlmValidation { status },
                computer: plan.dc.name.as_str(),
                user: p.user.as_str(),
                domain: plan.ad_domain.as_str(),
                ip: None,
                port: 0,
                workstation: p.name.as_str(),
                service: "",
            });
        }
        // Received mail: about 25 messages per working day.
        for _ in 0..self.rng.round_stochastic(25.0 * w / 9.0) {
            let ts = hour_ns + self.rng.below(3600 * NS as u64) as i64;
            self.mail(p.user.as_str(), ts, sink);
        }
    }

    fn mail(&mut self, user: &str, ts: i64, sink: &mut OrgSink) {
        let plan = self.plan;
        let Some((from, display, mta)) = self.rng.pick(&self.uni.senders) else {
            return;
        };
        let rcpt = plan.email_of(user);
        let mut qid = String::new();
        self.rng.hex(10, &mut qid);
        let qid = qid.to_ascii_uppercase();
        let domain = from.split('@').nth(1).unwrap_or("example.net");
        let message_id = format!("<{}.{qid}@{domain}>", ts / NS);
        let header_from = format!("{display} <{from}>");
        let spam = self.rng.chance(0.05);
        let subjects = [
            "Meeting schedule",
            "Monthly report",
            "Newsletter",
            "Invoice",
            "Seminar invitation",
            "Re: request for materials",
            "Notice of system maintenance",
            "Press release",
        ];
        let subject = self.rng.pick(&subjects).copied().unwrap_or("Notice");
        let mut attachments = Vec::new();
        let (mut md5, mut sha1, mut sha256) = (String::new(), String::new(), String::new());
        let name;
        if self.rng.chance(0.2) {
            self.rng.hex(32, &mut md5);
            self.rng.hex(40, &mut sha1);
            self.rng.hex(64, &mut sha256);
            let (ext, mime) = match self.rng.below(3) {
                0 => ("pdf", "application/pdf"),
                1 => (
                    "xlsx",
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                ),
                _ => (
                    "docx",
                    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                ),
            };
            name = format!("document_{}.{ext}", self.rng.below(1000));
            attachments.push(Attachment {
                name: name.as_str(),
                size: 20_000 + self.rng.below(2_000_000),
                mime,
                md5: md5.as_str(),
                sha1: sha1.as_str(),
                sha256: sha256.as_str(),
            });
        }
        let size = 4_000 + self.rng.below(40_000) + attachments.iter().map(|a| a.size).sum::<u64>();
        let client_ip = universe::benign_ip(mta);
        let m = Mail {
            ts,
            gateway: plan.mail_gw.name.as_str(),
            queue_id: qid.as_str(),
            message_id: message_id.as_str(),
            client_ip,
            client_hostname: mta.as_str(),
            envelope_from: from.as_str(),
            header_from: header_from.as_str(),
            recipients: vec![rcpt.as_str()],
            subject,
            size,
            attachments,
            links: Vec::new(),
            spf: if spam { "softfail" } else { "pass" },
            dkim: if spam { "none" } else { "pass" },
            dmarc: if spam { "fail" } else { "pass" },
            verdict: if spam { "quarantined" } else { "delivered" },
        };
        sink.mail(&m);
        let f = Flow {
            ts: ts - 2 * NS,
            src: client_ip,
            src_port: 1024 + self.rng.below(64000) as u16,
            dst: plan.mail_gw.ip,
            dst_port: 25,
            proto: Proto::Tcp,
            service: Some("smtp"),
            duration_us: 300_000 + self.rng.below(2_000_000),
            orig_bytes: size,
            resp_bytes: 600,
            orig_pkts: 4 + size / 1400,
            resp_pkts: 8,
            state: "SF",
        };
        sink.flow(&f);
    }

    /// Antivirus (every 10 minutes) and update (hourly) heartbeats of one PC.
    fn heartbeats(&mut self, pc: usize, hour_ns: i64, sink: &mut OrgSink) {
        let Some(p) = self.plan.pcs.get(pc) else {
            return;
        };
        let phase = self.hb_phase.get(pc).copied().unwrap_or(0);
        for k in 0..6 {
            let ts = hour_ns + (phase + k * 600) * NS + self.rng.below(2 * NS as u64) as i64;
            self.machine_web(p.ip, universe::AV_HEARTBEAT, "CONNECT", "", ts, sink);
        }
        let ts = hour_ns + (phase * 5 % 3600) * NS;
        self.machine_web(
            p.ip,
            universe::UPDATE_CHECK,
            "GET",
            "/msdownload/update/v3/static/trustedr/en/authrootstl.cab",
            ts,
            sink,
        );
    }

    fn machine_web(
        &mut self,
        client: Ipv4Addr,
        host: &str,
        method: &'static str,
        path: &str,
        ts: i64,
        sink: &mut OrgSink,
    ) {
        let https = method == "CONNECT";
        let dst = universe::benign_ip(host);
        let rec = Web {
            ts,
            client,
            client_port: 49152 + self.rng.below(16000) as u16,
            user: None,
            method,
            host,
            port: if https { 443 } else { 80 },
            path,
            status: 200,
            req_bytes: 350,
            resp_bytes: if https {
                5_800 + self.rng.below(400)
            } else {
                6_431
            },
            mime: if https {
                "-"
            } else {
                "application/vnd.ms-cab-compressed"
            },
            user_agent: "Microsoft-CryptoAPI/10.0",
            dst,
            elapsed_ms: 40 + self.rng.below(300) as u32,
            denied: false,
        };
        sink.web(&rec);
    }

    /// Servers: heartbeats around the clock, service accounts, the nightly job, the poller.
    fn servers(&mut self, hour_ns: i64, hour: usize, sink: &mut OrgSink) {
        let plan = self.plan;
        for s in plan.servers.iter().take(4) {
            let ts = hour_ns + self.rng.below(600 * NS as u64) as i64;
            self.machine_web(s.ip, universe::AV_HEARTBEAT, "CONNECT", "", ts, sink);
        }
        // svc-sql every 15 minutes from srv01 to srv02 (NTLM network logon).
        if let (Some(a), Some(b)) = (plan.servers.first(), plan.servers.get(1)) {
            for q in 0..4 {
                let ts = hour_ns + q * 900 * NS + self.rng.below(NS as u64) as i64;
                sink.auth(&Auth {
                    ts,
                    kind: AuthKind::NtlmValidation { status: 0 },
                    computer: plan.dc.name.as_str(),
                    user: "svc-sql",
                    domain: plan.ad_domain.as_str(),
                    ip: None,
                    port: 0,
                    workstation: a.name.split('.').next().unwrap_or("srv01"),
                    service: "",
                });
                let _ = b;
            }
        }
        // The nightly backup at 01:00 JST touches every server and most PCs.
        if hour == 1 {
            let backup = plan.servers.last().map(|s| (s.ip, s.name.clone()));
            if let Some((ip, name)) = backup {
                let targets: Vec<String> = plan
                    .servers
                    .iter()
                    .map(|s| s.name.clone())
                    .chain(std::iter::once(plan.file_server.name.clone()))
                    .chain(
                        plan.pcs
                            .iter()
                            .map(|p| format!("{}.{}", p.name, plan.domain)),
                    )
                    .collect();
                let mut ts = hour_ns + self.rng.below(300 * NS as u64) as i64;
                for t in &targets {
                    ts += (self.rng.exp(4.0) * NS as f64) as i64;
                    let short = t.split('.').next().unwrap_or(t);
                    let svc = format!("cifs/{short}");
                    let base = Auth {
                        ts,
                        kind: AuthKind::ServiceTicket,
                        computer: plan.dc.name.as_str(),
                        user: "svc-backup",
                        domain: plan.ad_domain.as_str(),
                        ip: Some(ip),
                        port: 49152 + self.rng.below(16000) as u16,
                        workstation: name.split('.').next().unwrap_or("srv"),
                        service: svc.as_str(),
                    };
                    sink.auth(&base);
                    let mut logon = base.clone();
                    logon.kind = AuthKind::Logon {
                        logon_type: 3,
                        ntlm: false,
                    };
                    logon.computer = t.as_str();
                    logon.ts += 50_000_000;
                    sink.auth(&logon);
                }
            }
        }
        // The LGWAN segment exchanges mail and application data with the prefecture's hub on
        // the inter-government network during office hours; nothing else leaves it.
        if let Some(hub) = plan.lgwan_hub
            && (8..=18).contains(&hour)
        {
            for (k, s) in plan.lgwan.iter().enumerate() {
                if s.ip == hub {
                    continue;
                }
                let port = if k == 0 { 25 } else { 443 };
                for _ in 0..self.rng.round_stochastic(6.0) {
                    let orig = 2_000 + self.rng.exp(40_000.0) as u64;
                    let resp = 500 + self.rng.exp(8_000.0) as u64;
                    let f = Flow {
                        ts: hour_ns + self.rng.below(3600 * NS as u64) as i64,
                        src: s.ip,
                        src_port: 1024 + self.rng.below(64000) as u16,
                        dst: hub,
                        dst_port: port,
                        proto: Proto::Tcp,
                        service: Some(if port == 25 { "smtp" } else { "ssl" }),
                        duration_us: 20_000 + self.rng.exp(900_000.0) as u64,
                        orig_bytes: orig,
                        resp_bytes: resp,
                        orig_pkts: 4 + orig / 1400,
                        resp_pkts: 3 + resp / 1400,
                        state: "SF",
                    };
                    sink.flow(&f);
                }
            }
        }
        if let Some(ip) = self.poller {
            let mut t = hour_ns + 17 * NS;
            while t < hour_ns + 3600 * NS {
                let ts = t + self.rng.below(NS as u64 / 2) as i64;
                self.machine_web(ip, RARE_POLLER_HOST, "CONNECT", "", ts, sink);
                t += RARE_POLLER_PERIOD_S * NS;
            }
        }
    }

    /// Internet background radiation at the firewall, and the inline sensor's benign
    /// policy signatures (STUN from conferencing clients).
    fn internet_noise(&mut self, hour_ns: i64, sink: &mut OrgSink) {
        if self.plan.formats.web == WebFormat::Eve {
            for _ in 0..self.rng.round_stochastic(1.5) {
                let Some(pc) = self.rng.pick(&self.plan.pcs) else {
                    break;
                };
                let a = IdsAlert {
                    ts: hour_ns + self.rng.below(3600 * NS as u64) as i64,
                    src: pc.ip,
                    src_port: 49152 + self.rng.below(16000) as u16,
                    dst: universe::benign_ip("stun.l.google.com"),
                    dst_port: 19302,
                    proto: Proto::Udp,
                    sid: 2_016_149,
                    signature: "ET INFO Session Traversal Utilities for NAT (STUN Binding Request)",
                    category: "Attempted User Privilege Gain",
                    severity: 2,
                    hostname: None,
                };
                sink.ids(&a);
            }
        }
        if !sink.has_firewall() {
            return;
        }
        for _ in 0..self.rng.round_stochastic(30.0) {
            let ts = hour_ns + self.rng.below(3600 * NS as u64) as i64;
            let mut src_name = String::from("scan");
            self.rng.alnum(6, &mut src_name);
            let src = universe::benign_ip(&src_name);
            let ports = [22u16, 23, 445, 3389, 8080, 5900, 1433];
            let fw = Fw {
                ts,
                allow: false,
                src,
                src_port: 1024 + self.rng.below(64000) as u16,
                dst: self.plan.mail_gw.ip,
                dst_port: self.rng.pick(&ports).copied().unwrap_or(22),
                proto: Proto::Tcp,
                rule: "inbound-default-deny",
            };
            sink.fw(&fw);
        }
    }
}
