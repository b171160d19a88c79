//! Address classification against the inventory's prefix tries: the per-event cost the
//! network-policy checks pay for every flow.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use yagura_model::Inventory;

/// An inventory of `n` organizations, each with a /16, an isolated /24 and a gateway.
fn inventory(n: usize) -> Inventory {
    let mut text = String::from("[[org]]\nid = \"central\"\nname = \"c\"\nkind = \"center\"\n");
    for i in 0..n {
        let (a, b) = (10 + i / 256, i % 256);
        text.push_str(&format!(
            "[[org]]\nid = \"o{i}\"\nname = \"org {i}\"\nkind = \"ministry\"\nmonitored_by = \"central\"\n\
             internal_networks = [\"{a}.{b}.0.0/16\"]\nisolated_networks = [\"{a}.{b}.200.0/24\"]\n\
             egress_gateways = [\"{a}.{b}.0.5\"]\n"
        ));
    }
    Inventory::from_toml(&text).expect("valid bench inventory")
}

fn addresses(count: usize) -> Vec<IpAddr> {
    // Half internal (spread over the orgs), half external.
    let mut x: u32 = 0x9e37_79b9;
    (0..count)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            if i % 2 == 0 {
                IpAddr::V4(Ipv4Addr::from(0x0a00_0000 | (x & 0x03ff_ffff)))
            } else {
                IpAddr::V4(Ipv4Addr::from(x | 0x4000_0000))
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    for orgs in [50, 1000] {
        let inv = inventory(orgs);
        let ips = addresses(10_000);
        let mut g = c.benchmark_group(format!("classify/{orgs}-orgs"));
        g.throughput(Throughput::Elements(ips.len() as u64));
        g.bench_function("classify", |b| {
            b.iter(|| {
                let idx = inv.addresses();
                let mut internal = 0usize;
                for ip in &ips {
                    let c = idx.classify(*ip);
                    internal += usize::from(c.internal) + usize::from(c.isolated_in.is_some());
                }
                black_box(internal)
            })
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
