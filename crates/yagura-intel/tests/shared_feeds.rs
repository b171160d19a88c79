//! The public feeds in `../shared/data/intel` import as published: every maltrail trail and
//! every ipsum address becomes an indicator, or a reject with its reason.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use yagura_intel::import::{FeedDefaults, import_path};
use yagura_intel::{Index, IndicatorStore, Matcher};
use yagura_model::IndicatorKind;

fn shared(rel: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/intel")
        .join(rel);
    assert!(p.exists(), "shared data missing: {}", p.display());
    p
}

#[test]
fn maltrail_and_ipsum_import_as_published() {
    let mut store = IndicatorStore::new();
    let d = FeedDefaults::default();
    let mut reports = import_path(&mut store, &shared("maltrail/trails/static"), &d).unwrap();
    reports.extend(import_path(&mut store, &shared("ipsum/levels"), &d).unwrap());
    assert_eq!(
        reports.len(),
        3114 + 6 - 1,
        "every trail file and ipsum level (LICENSE skipped)"
    );

    let values: usize = reports.iter().map(|r| r.values).sum();
    let rejects: Vec<_> = reports.iter().flat_map(|r| r.rejects.iter()).collect();
    // Every content line is accounted for.
    assert!(values > 1_500_000, "{values} values");
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    for r in &rejects {
        let key = r.reason.split(" (").next().unwrap_or(&r.reason);
        let key = if key.starts_with("invalid IP address") {
            "truncated IP address".to_owned()
        } else if key.starts_with("invalid domain name") {
            key.split(": ").last().unwrap_or(key).to_owned()
        } else {
            key.to_owned()
        };
        *reasons.entry(key).or_default() += 1;
    }
    println!(
        "{} values, {} indicators, rejects by reason: {reasons:#?}",
        values,
        store.len()
    );
    for r in rejects.iter().step_by(5) {
        println!("  e.g. {} {:?}: {}", r.location, r.value, r.reason);
    }
    println!("by kind: {:?}", store.stats().by_kind);
    assert!(
        rejects.len() < 100,
        "too many rejects: {}: {:?}",
        rejects.len(),
        &rejects[..rejects.len().min(20)]
    );
    for r in &rejects {
        assert!(!r.reason.is_empty());
    }

    let stats = store.stats();
    let kind = |k| stats.by_kind.get(&k).copied().unwrap_or(0);
    assert!(kind(IndicatorKind::Domain) > 1_100_000);
    assert!(kind(IndicatorKind::Ipv4) > 300_000);
    assert!(kind(IndicatorKind::Url) > 160_000);
    assert!(kind(IndicatorKind::Cidr) > 1_000);
    assert!(kind(IndicatorKind::Ipv6) > 1_000);
    assert_eq!(stats.by_source.get("ipsum/level-8"), Some(&23));
    assert!(stats.by_source.contains_key("maltrail/malware/emotet"));

    // A family's trail matches with the family as a tag.
    let emotet = store
        .iter()
        .find(|i| &*i.meta.source == "maltrail/malware/emotet" && i.kind == IndicatorKind::Domain)
        .map(|i| (i.value.to_owned(), i.meta.tags.to_vec()))
        .unwrap();
    assert!(emotet.1.iter().any(|t| &**t == "emotet"), "{emotet:?}");
    assert!(emotet.1.iter().any(|t| &**t == "Heodo"), "{emotet:?}");
    let matcher = Matcher::new(Index::build(store), Default::default());
    let ev: yagura_model::Event = serde_json::from_value(serde_json::json!({
        "@timestamp": "2026-01-01T00:00:00Z",
        "dns": {"question": {"name": format!("sub.{}", emotet.0)}}
    }))
    .unwrap();
    let mut hits = Vec::new();
    matcher.check(&ev, |m| hits.push(m.indicator.meta.source.to_string()));
    assert!(
        hits.contains(&"maltrail/malware/emotet".to_owned()),
        "{hits:?}"
    );
}
