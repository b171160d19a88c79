//! Synthetic events for tests and benchmarks: a deterministic mix of proxy requests, flows
//! and DNS lookups from many hosts to many destinations, plus builders for single events.
#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr};

use yagura_model::{Event, OrgId, Timestamp};

pub const INVENTORY: &str = r#"
[[org]]
id = "central"
name = "Central"
kind = "center"

[[org]]
id = "moh"
name = "Ministry of Health"
kind = "ministry"
sector = "government"
monitored_by = "central"
internal_networks = ["10.10.0.0/16"]
egress_gateways = ["10.10.0.5"]
isolated_networks = ["10.10.200.0/24"]

[[org]]
id = "mof"
name = "Ministry of Finance"
kind = "ministry"
sector = "government"
monitored_by = "central"
internal_networks = ["10.20.0.0/16"]
egress_gateways = ["10.20.0.5"]

[[org]]
id = "city"
name = "City"
kind = "local-government"
sector = "government"
monitored_by = "central"
internal_networks = ["10.30.0.0/16"]
# declares no egress gateways: no egress policy to violate
"#;

/// xorshift64*: deterministic and dependency-free.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

pub fn org(id: &str) -> OrgId {
    OrgId::new(id).expect("org id")
}

pub fn host_ip(org_index: usize, host: usize) -> IpAddr {
    let second = [10u8, 20, 30][org_index % 3];
    IpAddr::V4(Ipv4Addr::new(
        10,
        second,
        (host / 250) as u8 + 1,
        (host % 250) as u8 + 1,
    ))
}

pub const ORGS: [&str; 3] = ["moh", "mof", "city"];

pub fn at(secs: f64) -> Timestamp {
    Timestamp::from_nanos((secs * 1e9) as i64)
}

/// A proxy request from `src` (host `host`) to `domain`.
#[allow(clippy::too_many_arguments)]
pub fn proxy(
    t: f64,
    org_id: &str,
    host: &str,
    src: IpAddr,
    domain: &str,
    method: &str,
    up: u64,
    down: u64,
) -> Event {
    let mut e = Event {
        timestamp: at(t),
        ..Event::default()
    };
    e.organization.id = Some(org(org_id));
    e.event.dataset = Some("squid.access".into());
    e.host.name = Some(host.into());
    e.source.ip = Some(src);
    e.url.domain = Some(domain.into());
    e.url.full = Some(format!("http://{domain}/"));
    e.http.request.method = Some(method.into());
    e.http.request.bytes = Some(up);
    e.http.response.bytes = Some(down);
    e.destination.ip = Some(IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7)));
    e
}

/// A flow (Zeek conn) from `src` to `dst:port`.
pub fn flow(
    t: f64,
    org_id: &str,
    src: IpAddr,
    dst: IpAddr,
    port: u16,
    up: u64,
    down: u64,
) -> Event {
    let mut e = Event {
        timestamp: at(t),
        ..Event::default()
    };
    e.organization.id = Some(org(org_id));
    e.event.dataset = Some("zeek.conn".into());
    e.source.ip = Some(src);
    e.destination.ip = Some(dst);
    e.destination.port = Some(port);
    e.source.bytes = Some(up);
    e.destination.bytes = Some(down);
    e.network.transport = Some("tcp".into());
    e
}

/// A DNS lookup by `src` with its response code.
pub fn dns(
    t: f64,
    org_id: &str,
    src: IpAddr,
    name: &str,
    qtype: &str,
    rcode: &str,
    answer: Option<IpAddr>,
) -> Event {
    let mut e = Event {
        timestamp: at(t),
        ..Event::default()
    };
    e.organization.id = Some(org(org_id));
    e.event.dataset = Some("zeek.dns".into());
    e.source.ip = Some(src);
    e.destination.ip = Some(IpAddr::V4(Ipv4Addr::new(10, 10, 0, 53)));
    e.destination.port = Some(53);
    e.dns.question.name = Some(name.into());
    e.dns.question.kind = Some(qtype.into());
    e.dns.response_code = Some(rcode.into());
    if let Some(ip) = answer {
        e.dns.resolved_ip.push(ip);
        e.dns.answers.push(yagura_model::event::DnsAnswer {
            data: Some(ip.to_string().into()),
            kind: Some("A".into()),
            ..Default::default()
        });
    }
    e
}

/// A Windows Security event with EventData pairs.
pub fn winlog(t: f64, org_id: &str, computer: &str, id: u32, data: &[(&str, &str)]) -> Event {
    let mut e = Event {
        timestamp: at(t),
        ..Event::default()
    };
    e.organization.id = Some(org(org_id));
    e.event.dataset = Some("windows.security".into());
    e.winlog.event_id = Some(id);
    e.winlog.channel = Some("Security".into());
    e.winlog.computer_name = Some(computer.into());
    for (k, v) in data {
        e.winlog.event_data.insert(*k, *v);
    }
    e
}

/// `n` events, one third each proxy / flow / DNS, from `hosts` hosts in three organizations
/// to `dests` destinations (Zipf-like popularity), over one day, in time order.
pub fn mixed_events(n: usize, hosts: usize, dests: usize) -> Vec<Event> {
    let mut rng = Rng::new(42);
    let day = 86_400.0;
    let t0 = 1_767_225_600.0; // 2026-01-01
    let mut out = Vec::with_capacity(n);
    let names: Vec<String> = (0..dests)
        .map(|i| format!("site{i}.example{}.com", i % 97))
        .collect();
    for i in 0..n {
        let t = t0 + day * i as f64 / n as f64;
        let h = rng.below(hosts as u64) as usize;
        let o = h % 3;
        // Zipf-ish: squares concentrate on low indexes.
        let u = rng.unit();
        let d = ((u * u) * dests as f64) as usize % dests;
        let src = host_ip(o, h / 3);
        let host = format!("pc-{h:05}");
        let ev = match i % 3 {
            0 => proxy(
                t,
                ORGS[o],
                &host,
                src,
                &names[d],
                "GET",
                400,
                10_000 + rng.below(50_000),
            ),
            // Flows come from the city, which declares no egress gateways (so they are not
            // all policy violations, as they would be in the ministries).
            1 => flow(
                t,
                "city",
                host_ip(2, h),
                IpAddr::V4(Ipv4Addr::new(198, 18, (d / 250) as u8, (d % 250) as u8 + 1)),
                443,
                500 + rng.below(2_000),
                5_000 + rng.below(100_000),
            ),
            _ => dns(
                t,
                ORGS[o],
                src,
                &names[d],
                "A",
                "NOERROR",
                Some(IpAddr::V4(Ipv4Addr::new(198, 18, 0, 1))),
            ),
        };
        out.push(ev);
    }
    out
}
