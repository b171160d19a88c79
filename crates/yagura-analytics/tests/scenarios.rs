//! Every detector on synthetic scenarios, as data: a list of events in, the alerts out in a
//! compact form (`rule severity entity=value …`), compared with `check`.

mod support;

use std::net::{IpAddr, Ipv4Addr};

use support::synth::{self, Rng, dns, flow, host_ip, proxy, winlog};
use yagura_analytics::{Analytics, AnalyticsConfig};
use yagura_model::{Alert, Event, Inventory};

const T0: f64 = 1_767_225_600.0; // 2026-01-01T00:00:00Z
const H: f64 = 3600.0;

fn inventory() -> Inventory {
    Inventory::from_toml(synth::INVENTORY).expect("inventory")
}

fn run_with(config: AnalyticsConfig, mut events: Vec<Event>) -> Vec<Alert> {
    events.sort_by_key(|e| e.timestamp);
    let mut a = Analytics::new(config, &inventory()).expect("config");
    let mut out = Vec::new();
    for ev in &events {
        a.observe(ev);
        out.extend(a.drain_alerts());
    }
    out.extend(a.finish());
    for al in &out {
        assert_contract(al);
    }
    out
}

fn render(alerts: &[Alert]) -> Vec<String> {
    let mut v: Vec<String> = alerts
        .iter()
        .map(|a| {
            let ents: Vec<String> = a.entities.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!("{} {} {}", a.rule_id, a.severity, ents.join(" "))
        })
        .collect();
    v.sort();
    v.dedup();
    v
}

/// Runs the default analytics over `events` and compares the distinct alerts.
fn check(events: Vec<Event>, expect: &[&str]) -> Vec<Alert> {
    let alerts = run_with(AnalyticsConfig::default(), events);
    let got = render(&alerts);
    let want: Vec<String> = expect.iter().map(|s| s.to_string()).collect();
    assert_eq!(
        got,
        want,
        "\nalerts:\n{}",
        alerts
            .iter()
            .map(|a| format!("  {}: {}", a.rule_id, a.summary))
            .collect::<Vec<_>>()
            .join("\n")
    );
    alerts
}

/// What DESIGN.md §4 requires of every alert line.
fn assert_contract(a: &Alert) {
    let v = serde_json::to_value(a).expect("serializes");
    for k in [
        "id",
        "time",
        "org",
        "detector",
        "rule_id",
        "title",
        "severity",
        "attack",
        "entities",
        "first_seen",
        "last_seen",
        "count",
        "evidence",
        "summary",
    ] {
        assert!(v.get(k).is_some(), "{k} missing in {v}");
    }
    assert!(matches!(
        v["detector"].as_str(),
        Some("analytic" | "policy")
    ));
    assert!(
        !a.attack.is_empty(),
        "{} maps to no ATT&CK technique",
        a.rule_id
    );
    assert!(!a.summary.is_empty() && !a.title.is_empty());
    assert!(a.evidence.len() <= 20);
    assert!(a.first_seen <= a.last_seen, "{a:?}");
    assert!(!a.entities.is_empty());
    let back: Alert = serde_json::from_value(v).expect("round trip");
    assert_eq!(&back, a);
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("ip")
}

/// Ordinary browsing: `hosts` hosts per organization visit popular sites at random times.
fn background(hours: f64, hosts: usize, seed: u64) -> Vec<Event> {
    let mut rng = Rng::new(seed);
    let sites = [
        "www.google.com",
        "www.microsoft.com",
        "update.av-vendor.com",
        "news.example.org",
        "cdn.jsdelivr.net",
    ];
    let mut out = Vec::new();
    for (o, org) in synth::ORGS.iter().enumerate() {
        for h in 0..hosts {
            let mut t = T0 + rng.unit() * 600.0;
            while t < T0 + hours * H {
                let site = sites[rng.below(sites.len() as u64) as usize];
                let name = format!("pc-{o}{h:03}");
                out.push(proxy(
                    t,
                    org,
                    &name,
                    host_ip(o, h + 10),
                    site,
                    "GET",
                    300,
                    5_000 + rng.below(90_000),
                ));
                t += -900.0 * (1.0 - rng.unit() * 0.999).ln();
            }
        }
    }
    out
}

fn jittered(
    period: f64,
    jitter: f64,
    start: f64,
    end: f64,
    miss_every: u64,
    seed: u64,
) -> Vec<f64> {
    let mut rng = Rng::new(seed);
    let mut t = start;
    let mut out = Vec::new();
    let mut i = 0u64;
    while t < end {
        t += period * (1.0 + jitter * (2.0 * rng.unit() - 1.0));
        i += 1;
        if miss_every > 0 && i.is_multiple_of(miss_every) {
            continue;
        }
        out.push(t);
    }
    out
}

// ---- beaconing ---------------------------------------------------------------------------

#[test]
fn proxy_beacon_with_jitter_and_missed_beats() {
    let mut ev = background(12.0, 10, 1);
    for t in jittered(300.0, 0.5, T0, T0 + 12.0 * H, 7, 2) {
        ev.push(proxy(
            t,
            "moh",
            "pc-0012",
            ip("10.10.3.4"),
            "cdn-upd.net",
            "GET",
            310,
            1_024,
        ));
    }
    let alerts = check(
        ev,
        &[
            "beacon.periodic high host=pc-0012 src_ip=10.10.3.4 domain=cdn-upd.net dst_ip=198.51.100.7",
        ],
    );
    let a = &alerts[0];
    assert_eq!(a.attack[0].as_str(), "T1071.001");
    assert!(a.summary.contains("period of"), "{}", a.summary);
    assert!(
        a.summary.contains("(rare)") || a.summary.contains("(new)"),
        "{}",
        a.summary
    );
}

#[test]
fn flow_beacon_to_dst_port() {
    let mut ev = background(8.0, 5, 3);
    for t in jittered(60.0, 0.2, T0, T0 + 8.0 * H, 0, 4) {
        ev.push(flow(
            t,
            "mof",
            ip("10.20.7.7"),
            ip("198.51.100.23"),
            8443,
            400,
            700,
        ));
    }
    // The flow sensor also shows the host going around the organization's gateway.
    check(
        ev,
        &[
            "beacon.periodic high src_ip=10.20.7.7 dst_ip=198.51.100.23",
            "policy.unsanctioned_egress high src_ip=10.20.7.7 dst_ip=198.51.100.23",
        ],
    );
}

#[test]
fn popular_periodic_destinations_do_not_alert_on_periodicity_alone() {
    // 10 hosts in each of 3 organizations poll an antivirus update server every 10 minutes.
    let mut ev = Vec::new();
    for (o, org) in synth::ORGS.iter().enumerate() {
        for h in 0..10 {
            for t in jittered(
                600.0,
                0.1,
                T0 + h as f64,
                T0 + 12.0 * H,
                0,
                (o * 100 + h) as u64,
            ) {
                ev.push(proxy(
                    t,
                    org,
                    &format!("pc-{o}{h:03}"),
                    host_ip(o, h + 10),
                    "av-updates.example.com",
                    "GET",
                    200,
                    300,
                ));
            }
        }
    }
    check(ev, &[]);
}

#[test]
fn irregular_traffic_is_not_a_beacon() {
    check(background(24.0, 10, 5), &[]);
}

// ---- DNS tunnelling ----------------------------------------------------------------------

fn b32(rng: &mut Rng, n: usize) -> String {
    const A: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";
    (0..n).map(|_| A[rng.below(32) as usize] as char).collect()
}

#[test]
fn dns_tunnel_many_long_random_subdomains() {
    let mut rng = Rng::new(9);
    let mut ev = Vec::new();
    for i in 0..300 {
        let name = format!(
            "{}.{}.t.evil-tunnel.net",
            b32(&mut rng, 40),
            b32(&mut rng, 20)
        );
        ev.push(dns(
            T0 + i as f64 * 5.0,
            "moh",
            ip("10.10.3.4"),
            &name,
            "TXT",
            "NOERROR",
            None,
        ));
    }
    let alerts = check(
        ev,
        &["dns.tunnel critical src_ip=10.10.3.4 domain=evil-tunnel.net"],
    );
    assert!(
        alerts[0].summary.contains("unique subdomains"),
        "{}",
        alerts[0].summary
    );
    assert_eq!(alerts[0].attack[0].as_str(), "T1071.004");
}

#[test]
fn many_ordinary_subdomains_are_not_a_tunnel() {
    // A CDN with many short, readable host names; and reverse lookups.
    let mut ev = Vec::new();
    for i in 0..300 {
        let name = format!("img{}.static.shop-cdn.com", i % 250);
        ev.push(dns(
            T0 + i as f64 * 5.0,
            "moh",
            ip("10.10.3.4"),
            &name,
            "A",
            "NOERROR",
            Some(ip("198.51.100.1")),
        ));
        let rev = format!("{}.{}.0.10.in-addr.arpa", i % 250, i / 250);
        ev.push(dns(
            T0 + i as f64 * 5.0,
            "moh",
            ip("10.10.3.4"),
            &rev,
            "PTR",
            "NOERROR",
            None,
        ));
    }
    check(ev, &[]);
}

// ---- DGA ---------------------------------------------------------------------------------

fn random_label(rng: &mut Rng, n: usize) -> String {
    (0..n)
        .map(|_| (b'a' + rng.below(26) as u8) as char)
        .collect()
}

#[test]
fn dga_burst_then_the_name_that_resolves() {
    let mut rng = Rng::new(11);
    let mut ev = Vec::new();
    for i in 0..40 {
        let name = format!("{}.com", random_label(&mut rng, 12));
        ev.push(dns(
            T0 + i as f64,
            "city",
            ip("10.30.1.9"),
            &name,
            "A",
            "NXDOMAIN",
            None,
        ));
    }
    ev.push(dns(
        T0 + 41.0,
        "city",
        ip("10.30.1.9"),
        "qxzkvbtrwpfm.net",
        "A",
        "NOERROR",
        Some(ip("203.0.113.66")),
    ));
    let alerts = check(
        ev,
        &["dga.nxdomain_burst high src_ip=10.30.1.9 domain=qxzkvbtrwpfm.net dst_ip=203.0.113.66"],
    );
    assert_eq!(alerts[0].count, 40);
    assert_eq!(alerts[0].attack[0].as_str(), "T1568.002");
}

#[test]
fn typos_and_dictionary_names_are_not_a_dga() {
    let words = [
        "wikipedia",
        "facebooks",
        "gooogle",
        "microsfot",
        "weatherforecast",
        "newspaper",
        "mailservers",
        "yahooo",
        "amazonn",
        "linkedinn",
        "instagramm",
        "stackoverflw",
    ];
    let mut ev = Vec::new();
    for (i, w) in words.iter().enumerate() {
        ev.push(dns(
            T0 + i as f64,
            "city",
            ip("10.30.1.9"),
            &format!("{w}.com"),
            "A",
            "NXDOMAIN",
            None,
        ));
    }
    check(ev, &[]);
}

// ---- exfiltration ------------------------------------------------------------------------

#[test]
fn large_uploads_to_a_rare_destination_beyond_the_baseline() {
    let mut rng = Rng::new(17);
    let mut ev = Vec::new();
    // Eight hours of small uploads, at irregular times, build the host's baseline (the city
    // declares no egress gateways, so the flows are not a policy matter).
    let mut t = T0;
    while t < T0 + 8.0 * H {
        ev.push(flow(
            t,
            "city",
            ip("10.30.3.4"),
            ip("198.51.100.80"),
            443,
            80_000,
            20_000,
        ));
        t += -300.0 * (1.0 - rng.unit() * 0.999).ln();
    }
    // Then 40 MB to a destination nobody else uses.
    let mut t = T0 + 9.0 * H;
    for _ in 0..40 {
        ev.push(flow(
            t,
            "city",
            ip("10.30.3.4"),
            ip("203.0.113.200"),
            443,
            1_000_000,
            5_000,
        ));
        t += -60.0 * (1.0 - rng.unit() * 0.999).ln();
    }
    let alerts = check(
        ev,
        &["exfil.volume medium src_ip=10.30.3.4 dst_ip=203.0.113.200"],
    );
    assert!(
        alerts[0].summary.contains("40.0 MB"),
        "{}",
        alerts[0].summary
    );
}

#[test]
fn many_posts_through_the_proxy() {
    let mut rng = Rng::new(19);
    let mut ev = Vec::new();
    let mut t = T0;
    for _ in 0..30 {
        ev.push(proxy(
            t,
            "mof",
            "pc-0200",
            ip("10.20.2.2"),
            "paste-drop.example",
            "POST",
            400_000,
            200,
        ));
        t += -60.0 * (1.0 - rng.unit() * 0.999).ln();
    }
    check(
        ev,
        &["exfil.volume medium host=pc-0200 src_ip=10.20.2.2 domain=paste-drop.example"],
    );
}

#[test]
fn uploads_to_a_popular_destination_do_not_alert() {
    let mut ev = Vec::new();
    for (o, org) in synth::ORGS.iter().enumerate() {
        for h in 0..10 {
            ev.push(proxy(
                T0 + h as f64,
                org,
                &format!("pc-{o}{h:03}"),
                host_ip(o, h + 10),
                "drive.cloud-storage.example",
                "PUT",
                30_000_000,
                200,
            ));
        }
    }
    check(ev, &[]);
}

// ---- authentication ----------------------------------------------------------------------

fn logon(t: f64, computer: &str, user: &str, src: &str, ws: &str, ty: &str) -> Event {
    winlog(
        t,
        "moh",
        computer,
        4624,
        &[
            ("TargetUserName", user),
            ("IpAddress", src),
            ("WorkstationName", ws),
            ("LogonType", ty),
        ],
    )
}

fn failure(t: f64, user: &str, src: &str) -> Event {
    winlog(
        t,
        "moh",
        "dc01",
        4625,
        &[
            ("TargetUserName", user),
            ("IpAddress", src),
            ("WorkstationName", "-"),
            ("LogonType", "3"),
            ("Status", "0xc000006d"),
        ],
    )
}

#[test]
fn lateral_movement_fan_out() {
    let mut ev = Vec::new();
    for i in 0..8 {
        ev.push(logon(
            T0 + i as f64 * 60.0,
            &format!("srv-{i:02}"),
            "tanaka",
            "10.10.3.4",
            "PC-0012",
            "3",
        ));
    }
    let alerts = check(
        ev,
        &[
            "lateral.fanout high host=pc-0012 src_ip=10.10.3.4",
            "lateral.fanout high user=tanaka",
        ],
    );
    assert!(
        alerts
            .iter()
            .any(|a| a.summary.contains("5 distinct hosts")),
        "{alerts:#?}"
    );
}

#[test]
fn an_account_that_always_fans_out_has_a_baseline() {
    // A backup account touches the same 8 servers every half hour for a day, from the backup
    // server: its first window is learned (a server without history is not judged), and a
    // fan-out of 12 later is within 2x of 8. Nothing alerts.
    let mut ev = Vec::new();
    for w in 0..48 {
        for i in 0..8 {
            ev.push(logon(
                T0 + w as f64 * 1800.0 + i as f64,
                &format!("srv-{i:02}"),
                "svc-backup",
                "10.10.0.9",
                "BACKUP01",
                "3",
            ));
        }
    }
    for i in 0..12 {
        ev.push(logon(
            T0 + 48.0 * 1800.0 + i as f64,
            &format!("srv-{i:02}"),
            "svc-backup",
            "10.10.0.9",
            "BACKUP01",
            "3",
        ));
    }
    check(ev, &[]);
}

#[test]
fn a_workstation_fanning_out_alerts_without_history() {
    // The same first window from a user's PC is lateral movement.
    let ev = (0..8)
        .map(|i| {
            logon(
                T0 + i as f64,
                &format!("srv-{i:02}"),
                "adm-ops",
                "10.10.3.4",
                "PC-0012",
                "3",
            )
        })
        .collect();
    let alerts = check(
        ev,
        &[
            "auth.admin_from_workstation medium host=pc-0012 src_ip=10.10.3.4 user=adm-ops",
            "lateral.fanout high host=pc-0012 src_ip=10.10.3.4",
            "lateral.fanout high user=adm-ops",
        ],
    );
    assert!(!alerts.is_empty());
}

#[test]
fn administrator_used_from_a_workstation() {
    check(
        vec![logon(
            T0,
            "fileserver01",
            "Administrator",
            "10.10.3.4",
            "PC-0012",
            "10",
        )],
        &["auth.admin_from_workstation medium host=pc-0012 src_ip=10.10.3.4 user=administrator"],
    );
}

#[test]
fn password_spray_then_success() {
    let mut ev = Vec::new();
    for i in 0..15 {
        ev.push(failure(
            T0 + i as f64 * 10.0,
            &format!("user{i:02}"),
            "10.10.9.9",
        ));
    }
    ev.push(logon(T0 + 200.0, "dc01", "user07", "10.10.9.9", "-", "3"));
    let alerts = check(
        ev,
        &[
            "auth.password_spray critical src_ip=10.10.9.9",
            "auth.password_spray high src_ip=10.10.9.9",
        ],
    );
    assert_eq!(
        alerts
            .iter()
            .map(|a| a.fingerprint())
            .collect::<std::collections::BTreeSet<_>>()
            .len(),
        1
    );
    assert_eq!(alerts[0].attack[0].as_str(), "T1110.003");
}

#[test]
fn brute_force_then_success() {
    let mut ev = Vec::new();
    for i in 0..25 {
        ev.push(failure(T0 + i as f64 * 5.0, "tanaka", "10.10.9.9"));
    }
    ev.push(logon(T0 + 200.0, "dc01", "tanaka", "10.10.9.9", "-", "3"));
    check(
        ev,
        &[
            "auth.brute_force critical user=tanaka",
            "auth.brute_force high src_ip=10.10.9.9 user=tanaka",
        ],
    );
}

#[test]
fn kerberos_and_ntlm_failures_count() {
    let mut ev = Vec::new();
    for i in 0..12 {
        let user = format!("acct{i}");
        let e = if i % 2 == 0 {
            winlog(
                T0 + i as f64,
                "moh",
                "dc01",
                4771,
                &[
                    ("TargetUserName", &user),
                    ("IpAddress", "::ffff:10.10.9.8"),
                    ("Status", "0x18"),
                ],
            )
        } else {
            winlog(
                T0 + i as f64,
                "moh",
                "dc01",
                4776,
                &[
                    ("TargetUserName", &user),
                    ("Workstation", "PC-0099"),
                    ("Status", "0xc000006a"),
                ],
            )
        };
        ev.push(e);
    }
    // 4771 carries the address, 4776 only the workstation: two sources of six accounts each.
    check(ev, &[]);
    let mut ev2 = Vec::new();
    for i in 0..12 {
        ev2.push(winlog(
            T0 + i as f64,
            "moh",
            "dc01",
            4771,
            &[
                ("TargetUserName", &format!("acct{i}")),
                ("IpAddress", "::ffff:10.10.9.8"),
                ("Status", "0x18"),
            ],
        ));
    }
    check(ev2, &["auth.password_spray high src_ip=10.10.9.8"]);
}

// ---- policy ------------------------------------------------------------------------------

#[test]
fn separation_violations() {
    check(
        vec![
            flow(T0, "moh", ip("10.10.200.7"), ip("8.8.8.8"), 53, 60, 120),
            // later connections from the same source are the same finding
            flow(
                T0 + 5.0,
                "moh",
                ip("10.10.200.7"),
                ip("1.1.1.1"),
                443,
                60,
                120,
            ),
            // internal traffic from the isolated network is fine
            flow(
                T0 + 6.0,
                "moh",
                ip("10.10.200.8"),
                ip("10.10.1.1"),
                445,
                60,
                120,
            ),
            // through the proxy: still a violation
            proxy(
                T0 + 7.0,
                "moh",
                "rr-01",
                ip("10.10.200.9"),
                "files.example.net",
                "GET",
                100,
                100,
            ),
        ],
        &[
            "policy.separation_violation critical host=rr-01 src_ip=10.10.200.9 domain=files.example.net dst_ip=198.51.100.7",
            "policy.separation_violation critical src_ip=10.10.200.7 dst_ip=8.8.8.8",
        ],
    );
}

#[test]
fn unsanctioned_egress() {
    check(
        vec![
            flow(T0, "moh", ip("10.10.3.4"), ip("203.0.113.9"), 443, 100, 100),
            // the egress gateway is sanctioned
            flow(
                T0 + 1.0,
                "moh",
                ip("10.10.0.5"),
                ip("203.0.113.9"),
                443,
                100,
                100,
            ),
            // requests in the proxy's own log went through the proxy
            proxy(
                T0 + 2.0,
                "moh",
                "pc-1",
                ip("10.10.3.5"),
                "example.com",
                "GET",
                100,
                100,
            ),
            // multicast, link-local and other organizations' addresses are not the internet
            flow(
                T0 + 3.0,
                "moh",
                ip("10.10.3.6"),
                ip("224.0.0.251"),
                5353,
                100,
                0,
            ),
            flow(
                T0 + 4.0,
                "moh",
                ip("10.10.3.6"),
                ip("169.254.10.1"),
                80,
                100,
                0,
            ),
            flow(
                T0 + 5.0,
                "moh",
                ip("10.10.3.6"),
                ip("10.20.1.1"),
                443,
                100,
                0,
            ),
        ],
        &["policy.unsanctioned_egress high src_ip=10.10.3.4 dst_ip=203.0.113.9"],
    );
}

// ---- first contact -----------------------------------------------------------------------

#[test]
fn first_contact_needs_other_evidence() {
    let mut ev = background(26.0, 5, 21);
    // After the 24-hour learning period: a new, readable domain (benign) …
    ev.push(proxy(
        T0 + 25.0 * H,
        "moh",
        "pc-0012",
        ip("10.10.3.4"),
        "new-bakery-shop.com",
        "GET",
        300,
        20_000,
    ));
    // … and a new, unpronounceable one.
    ev.push(proxy(
        T0 + 25.5 * H,
        "moh",
        "pc-0012",
        ip("10.10.3.4"),
        "xkqzvbwtrp.top",
        "GET",
        300,
        20_000,
    ));
    check(
        ev,
        &["first_contact.correlated medium host=pc-0012 src_ip=10.10.3.4 domain=xkqzvbwtrp.top"],
    );
}

// ---- the engine --------------------------------------------------------------------------

fn mixed_scenario() -> Vec<Event> {
    let mut ev = background(30.0, 6, 31);
    for t in jittered(120.0, 0.3, T0 + H, T0 + 30.0 * H, 5, 32) {
        ev.push(proxy(
            t,
            "city",
            "pc-0300",
            ip("10.30.3.3"),
            "stat-collector.example",
            "POST",
            900,
            100,
        ));
    }
    let mut rng = Rng::new(33);
    for i in 0..20 {
        let name = format!("{}.net", random_label(&mut rng, 14));
        ev.push(dns(
            T0 + 20.0 * H + i as f64,
            "mof",
            ip("10.20.5.5"),
            &name,
            "A",
            "NXDOMAIN",
            None,
        ));
    }
    for i in 0..12 {
        ev.push(failure(
            T0 + 10.0 * H + i as f64,
            &format!("u{i}"),
            "10.10.9.9",
        ));
    }
    ev.push(flow(
        T0 + 2.0 * H,
        "moh",
        ip("10.10.200.7"),
        ip("8.8.8.8"),
        53,
        60,
        120,
    ));
    ev.sort_by_key(|e| e.timestamp);
    ev
}

#[test]
fn deterministic_and_resumable_from_a_checkpoint() {
    let events = mixed_scenario();
    let inv = inventory();
    let straight = run_with(AnalyticsConfig::default(), events.clone());
    assert!(straight.len() >= 4, "{:#?}", render(&straight));
    assert_eq!(
        straight,
        run_with(AnalyticsConfig::default(), events.clone()),
        "deterministic"
    );

    let cut = events.len() / 2;
    let mut first = Analytics::new(AnalyticsConfig::default(), &inv).expect("config");
    let mut resumed_alerts = Vec::new();
    for ev in &events[..cut] {
        first.observe(ev);
        resumed_alerts.extend(first.drain_alerts());
    }
    let cp = first.checkpoint().expect("checkpoint");
    let text = serde_json::to_string(&cp).expect("checkpoint json");
    drop(first);
    let mut second = Analytics::new(AnalyticsConfig::default(), &inv).expect("config");
    second
        .restore(serde_json::from_str(&text).expect("parse"))
        .expect("restore");
    for ev in &events[cut..] {
        second.observe(ev);
        resumed_alerts.extend(second.drain_alerts());
    }
    resumed_alerts.extend(second.finish());
    assert_eq!(render(&resumed_alerts), render(&straight));
    assert_eq!(resumed_alerts, straight);
}

#[test]
fn broken_checkpoints_are_errors_and_change_nothing() {
    let inv = inventory();
    let mut a = Analytics::new(AnalyticsConfig::default(), &inv).expect("config");
    for ev in mixed_scenario().iter().take(500) {
        a.observe(ev);
    }
    let before = serde_json::to_string(&a.checkpoint().expect("cp")).expect("json");
    let mut cp = a.checkpoint().expect("cp");
    cp.detectors.remove("beacon");
    assert_eq!(
        a.restore(cp).unwrap_err().to_string(),
        "checkpoint has no state for detector beacon"
    );
    let mut cp = a.checkpoint().expect("cp");
    cp.detectors.insert(
        "dga".into(),
        serde_json::value::to_raw_value(&serde_json::json!({"hosts": 7})).expect("raw"),
    );
    assert!(
        a.restore(cp)
            .unwrap_err()
            .to_string()
            .starts_with("checkpoint of detector dga is not valid")
    );
    let mut cp = a.checkpoint().expect("cp");
    cp.version = 99;
    assert!(a.restore(cp).is_err());
    assert_eq!(
        serde_json::to_string(&a.checkpoint().expect("cp")).expect("json"),
        before
    );
}

#[test]
fn unattributed_events_are_counted_not_analysed() {
    let inv = inventory();
    let mut a = Analytics::new(AnalyticsConfig::default(), &inv).expect("config");
    let mut e = flow(T0, "moh", ip("192.0.2.1"), ip("8.8.8.8"), 53, 1, 1);
    e.organization.id = None;
    a.observe(&e);
    a.observe(&Event::default());
    let c = a.counters();
    assert_eq!((c.events, c.unattributed), (2, 2));
    assert!(a.finish().is_empty());
}

#[test]
fn state_stays_within_its_caps() {
    let mut config = AnalyticsConfig::default();
    config.beacon.max_pairs = 1_000;
    config.beacon.max_candidates = 50;
    config.prevalence.max_destinations = 500;
    let inv = inventory();
    let mut a = Analytics::new(config, &inv).expect("config");
    for ev in synth::mixed_events(30_000, 300, 3_000) {
        a.observe(&ev);
    }
    let sizes = a.table_sizes();
    assert!(
        sizes["beacon_pairs"].as_u64().unwrap_or(u64::MAX) <= 1_000,
        "{sizes}"
    );
    assert!(
        sizes["beacon_candidates"].as_u64().unwrap_or(u64::MAX) <= 50,
        "{sizes}"
    );
    assert!(
        sizes["prevalence_destinations"]
            .as_u64()
            .unwrap_or(u64::MAX)
            <= 500,
        "{sizes}"
    );
}

#[test]
fn an_invalid_config_is_refused() {
    let mut config = AnalyticsConfig::default();
    config.auth.window_secs = 0;
    let err = Analytics::new(config, &inventory()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "analytics configuration: auth.window_secs: must be greater than 0"
    );
}

#[test]
fn contract_json_of_a_policy_alert() {
    let alerts = run_with(
        AnalyticsConfig::default(),
        vec![{
            let mut e = flow(T0, "moh", ip("10.10.200.7"), ip("8.8.8.8"), 53, 60, 120);
            e.log.file.path = Some("moh/zeek/conn.log".into());
            e.log.file.line = Some(42);
            e
        }],
    );
    insta::assert_json_snapshot!("policy_separation_alert", alerts);
}

#[test]
fn ipv4_helper_sanity() {
    assert_eq!(host_ip(0, 0), IpAddr::V4(Ipv4Addr::new(10, 10, 1, 1)));
}
