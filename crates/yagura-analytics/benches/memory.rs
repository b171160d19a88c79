//! Scale: (1) state size at estate scale — 10,000 hosts × 2,000 destinations (20M
//! host→destination pairs) through all analytics, then the resident set size; (2) throughput
//! per CPU-second on a mixed proxy/flow/DNS workload (1M events from 10,000 hosts to 20,000
//! destinations). Not a criterion bench: CPU time (user + system, from /proc) is what it
//! reports, because wall time on a shared machine mostly measures the other builds. Run with
//! `cargo bench -p yagura-analytics --bench memory` (optionally `-- HOSTS DESTS MIXED`).

use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

use yagura_analytics::{Analytics, AnalyticsConfig};
use yagura_model::{Event, Inventory, OrgId, Timestamp};

#[path = "../tests/support/synth.rs"]
mod synth;

fn rss_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// CPU seconds (user + system) this process used: a throughput per core that other builds
/// on a shared machine do not distort as much as wall time.
fn cpu_secs() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the command name (which is in parentheses and may contain spaces).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after the name.
    (ticks(11) + ticks(12)) / 100.0
}

/// Peak resident set size of the process so far, KiB.
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let hosts: usize = args.first().and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let dests: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(2_000);
    let inventory = Inventory::from_toml(
        "[[org]]\nid = \"central\"\nname = \"C\"\nkind = \"center\"\n\
         [[org]]\nid = \"moh\"\nname = \"M\"\nkind = \"ministry\"\nmonitored_by = \"central\"\n\
         internal_networks = [\"10.0.0.0/8\"]\negress_gateways = [\"10.0.0.5\"]\n",
    )
    .expect("inventory");
    let org = OrgId::new("moh").expect("org");
    let names: Vec<String> = (0..dests).map(|d| format!("www.site{d}.example")).collect();
    let host_names: Vec<String> = (0..hosts).map(|h| format!("pc-{h:05}")).collect();
    let before = rss_bytes().unwrap_or(0);
    let mut a = Analytics::new(AnalyticsConfig::default(), &inventory).expect("config");
    let start = Instant::now();
    let cpu0 = cpu_secs();
    let t0 = 1_767_225_600i64 * 1_000_000_000;
    let mut n = 0u64;
    // Every host contacts every destination once, destination-major (so time advances
    // evenly); a template event is reused and only its varying fields are rewritten.
    let mut ev = Event::default();
    ev.organization.id = Some(org);
    ev.event.dataset = Some("squid.access".into());
    ev.http.request.method = Some("GET".into());
    ev.http.response.bytes = Some(5_000);
    ev.destination.ip = Some(IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7)));
    for (d, name) in names.iter().enumerate() {
        ev.url.domain = Some(name.as_str().into());
        for (h, host) in host_names.iter().enumerate() {
            ev.timestamp =
                Timestamp::from_nanos(t0 + (d as i64 * hosts as i64 + h as i64) * 1_000_000);
            ev.host.name = Some(host.as_str().into());
            ev.source.ip = Some(IpAddr::V4(Ipv4Addr::new(
                10,
                1,
                (h / 250) as u8,
                (h % 250) as u8 + 1,
            )));
            a.observe(&ev);
            n += 1;
        }
    }
    let elapsed = start.elapsed();
    let cpu = cpu_secs() - cpu0;
    let after = rss_bytes().unwrap_or(0);
    let alerts = a.finish().len();
    let sizes = a.table_sizes();
    let grown = after.saturating_sub(before);
    println!("hosts {hosts}, destinations {dests}, events {n}, alerts {alerts}");
    println!("tables {sizes}");
    println!(
        "cpu {cpu:.1} s ({:.2} M events per CPU-second)",
        n as f64 / cpu.max(1e-9) / 1e6
    );
    println!(
        "wall {:.1} s ({:.2} M events/s), RSS before {:.1} MiB, after {:.1} MiB, grown {:.1} MiB ({:.1} bytes per pair)",
        elapsed.as_secs_f64(),
        n as f64 / elapsed.as_secs_f64() / 1e6,
        before as f64 / 1048576.0,
        after as f64 / 1048576.0,
        grown as f64 / 1048576.0,
        grown as f64 / n.max(1) as f64
    );
    assert!(after < 2 * 1024 * 1024 * 1024, "state exceeds 2 GB");
    drop(a);
    // Peak before the second phase (whose stored input events dominate its own peak).
    println!(
        "peak RSS of the scale phase (VmHWM) {:.1} MiB",
        peak_rss_kib() as f64 / 1024.0
    );

    let mixed: usize = args
        .get(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let inventory = Inventory::from_toml(synth::INVENTORY).expect("inventory");
    let events = synth::mixed_events(mixed, 10_000, 20_000);
    let mut a = Analytics::new(AnalyticsConfig::default(), &inventory).expect("config");
    let wall = Instant::now();
    let cpu0 = cpu_secs();
    for ev in &events {
        a.observe(ev);
    }
    let alerts = a.finish();
    let cpu = cpu_secs() - cpu0;
    let mut by_rule = std::collections::BTreeMap::new();
    for al in &alerts {
        *by_rule.entry(al.rule_id.clone()).or_insert(0u64) += 1;
    }
    let alerts = format!("{} alerts {by_rule:?}", alerts.len());
    println!(
        "mixed: {} events (proxy/flow/DNS, 10k hosts, 20k destinations, one day), {alerts}, \
         cpu {cpu:.2} s ({:.2} M events per CPU-second), wall {:.2} s, tables {}",
        events.len(),
        events.len() as f64 / cpu.max(1e-9) / 1e6,
        wall.elapsed().as_secs_f64(),
        a.table_sizes()
    );
}
