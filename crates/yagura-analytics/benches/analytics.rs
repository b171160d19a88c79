//! Throughput of all analytics on a synthetic proxy/flow/DNS mix (see BENCHMARKS.md).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use yagura_analytics::{Analytics, AnalyticsConfig};
use yagura_model::{Event, Inventory};

#[path = "../tests/support/synth.rs"]
mod synth;

fn bench(c: &mut Criterion) {
    let inventory = Inventory::from_toml(synth::INVENTORY).expect("inventory");
    let events: Vec<Event> = synth::mixed_events(200_000, 2_000, 5_000);
    let mut g = c.benchmark_group("analytics");
    g.sample_size(10);
    g.throughput(Throughput::Elements(events.len() as u64));
    g.bench_function("observe_mixed_200k", |b| {
        b.iter(|| {
            let mut a = Analytics::new(AnalyticsConfig::default(), &inventory).expect("config");
            for ev in &events {
                a.observe(ev);
            }
            a.finish().len()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
