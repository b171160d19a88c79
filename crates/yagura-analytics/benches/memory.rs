//! State size at estate scale: 10,000 hosts × 2,000 destinations (20M host→destination
//! pairs) through all analytics, then the resident set size. Not a criterion bench: it
//! measures memory once. Run with
//! `cargo bench -p yagura-analytics --bench memory` (optionally `-- HOSTS DESTS`).

use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

use yagura_analytics::{Analytics, AnalyticsConfig};
use yagura_model::{Event, Inventory, OrgId, Timestamp};

fn rss_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
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
    let after = rss_bytes().unwrap_or(0);
    let alerts = a.finish().len();
    let sizes = a.table_sizes();
    let grown = after.saturating_sub(before);
    println!("hosts {hosts}, destinations {dests}, events {n}, alerts {alerts}");
    println!("tables {sizes}");
    println!(
        "time {:.1} s ({:.2} M events/s), RSS before {:.1} MiB, after {:.1} MiB, grown {:.1} MiB ({:.1} bytes per pair)",
        elapsed.as_secs_f64(),
        n as f64 / elapsed.as_secs_f64() / 1e6,
        before as f64 / 1048576.0,
        after as f64 / 1048576.0,
        grown as f64 / 1048576.0,
        grown as f64 / n.max(1) as f64
    );
    assert!(after < 2 * 1024 * 1024 * 1024, "state exceeds 2 GB");
}
