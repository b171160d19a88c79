//! Golden file: a small estate (`test_data/estate-inventory.toml`) and its ECS JSON lines
//! (`test_data/estate-events.jsonl`, one of each behaviour) through the default analytics;
//! the alerts, as contract JSON lines, are an insta snapshot.

use yagura_analytics::{Analytics, AnalyticsConfig};
use yagura_model::{Event, Inventory};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/test_data");

#[test]
fn golden_estate() {
    let inv = Inventory::from_toml(
        &std::fs::read_to_string(format!("{DIR}/estate-inventory.toml")).expect("inventory file"),
    )
    .expect("inventory");
    let text = std::fs::read_to_string(format!("{DIR}/estate-events.jsonl")).expect("events file");
    let mut a = Analytics::new(AnalyticsConfig::default(), &inv).expect("config");
    for (i, line) in text.lines().enumerate() {
        let ev: Event =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("line {}: {e}", i + 1));
        a.observe(&ev);
    }
    let alerts = a.finish();
    let lines: Vec<String> = alerts
        .iter()
        .map(|a| serde_json::to_string(a).expect("alert json"))
        .collect();
    let rules: Vec<&str> = alerts.iter().map(|a| a.rule_id.as_str()).collect();
    for want in [
        "policy.separation_violation",
        "policy.unsanctioned_egress",
        "auth.password_spray",
        "dga.nxdomain_burst",
        "beacon.periodic",
    ] {
        assert!(rules.contains(&want), "{want} missing from {rules:?}");
    }
    insta::assert_snapshot!("golden_estate_alerts", lines.join("\n"));
}
