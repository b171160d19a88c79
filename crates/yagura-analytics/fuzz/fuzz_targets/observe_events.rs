//! Arbitrary ECS JSON lines through all analytics: nothing may panic, whatever the values.
#![no_main]

use libfuzzer_sys::fuzz_target;
use yagura_analytics::{Analytics, AnalyticsConfig};
use yagura_model::{Event, Inventory};

const INVENTORY: &str = r#"
[[org]]
id = "central"
name = "C"
kind = "center"
[[org]]
id = "moh"
name = "M"
kind = "ministry"
monitored_by = "central"
internal_networks = ["10.10.0.0/16", "fd00::/8"]
egress_gateways = ["10.10.0.5"]
isolated_networks = ["10.10.200.0/24"]
"#;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(inventory) = Inventory::from_toml(INVENTORY) else { return };
    let mut config = AnalyticsConfig::default();
    // Small windows and caps so that short inputs reach window closes and evictions.
    config.beacon.min_connections = 4;
    config.beacon.evaluate_every_secs = 1;
    config.beacon.max_pairs = 8;
    config.beacon.max_candidates = 4;
    config.dga.min_nxdomain = 2;
    config.dns_tunnel.min_unique_subdomains = 2;
    config.auth.lateral_min_hosts = 2;
    config.auth.spray_min_accounts = 2;
    config.auth.brute_min_failures = 2;
    config.prevalence.max_destinations = 8;
    let Ok(mut a) = Analytics::new(config, &inventory) else { return };
    for line in text.lines() {
        if let Ok(ev) = serde_json::from_str::<Event>(line) {
            a.observe(&ev);
            let _ = a.drain_alerts();
        }
    }
    if let Ok(cp) = a.checkpoint() {
        let _ = a.restore(cp);
    }
    let _ = a.finish();
});
