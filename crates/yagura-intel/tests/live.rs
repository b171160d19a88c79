//! Indicators added, removed and expired while readers keep matching.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use yagura_intel::import::{FeedDefaults, Format, import_bytes};
use yagura_intel::{IndicatorStore, LiveMatcher};
use yagura_model::{Event, IndicatorKind, Timestamp};

fn store(lines: &str, source: &str) -> IndicatorStore {
    let mut s = IndicatorStore::new();
    let d = FeedDefaults {
        source: Some(source.into()),
        format: Some(Format::List),
        ..FeedDefaults::default()
    };
    import_bytes(&mut s, "feed", lines.as_bytes(), &d).unwrap();
    s
}

fn dns(name: &str) -> Event {
    serde_json::from_value(serde_json::json!({
        "@timestamp": "2026-01-01T00:00:00Z",
        "dns": {"question": {"name": name}}
    }))
    .unwrap()
}

fn hits(m: &LiveMatcher, name: &str) -> Vec<String> {
    let mut v = Vec::new();
    m.check(&dns(name), |x| {
        v.push(format!("{} {}", x.indicator.value, x.indicator.meta.source))
    });
    v.sort();
    v
}

#[test]
fn add_remove_update_and_expire() {
    let m = LiveMatcher::new(
        store("base.example\nold.example\n", "feed-a"),
        Default::default(),
    )
    .with_compaction_threshold(2);
    assert_eq!(hits(&m, "x.base.example"), vec!["base.example feed-a"]);
    assert_eq!(hits(&m, "new.example"), Vec::<String>::new());

    m.add(&store("new.example\n", "feed-b"));
    assert_eq!(hits(&m, "new.example"), vec!["new.example feed-b"]);
    assert_eq!(m.snapshot().delta_len(), 1);

    // Re-adding a base indicator replaces it rather than doubling it.
    m.add(&store("base.example\n", "feed-a"));
    assert_eq!(hits(&m, "base.example"), vec!["base.example feed-a"]);

    m.remove(IndicatorKind::Domain, "old.example", None, "feed-a");
    assert_eq!(hits(&m, "old.example"), Vec::<String>::new());
    m.remove(IndicatorKind::Domain, "new.example", None, "feed-b");
    assert_eq!(hits(&m, "new.example"), Vec::<String>::new());

    // Crossing the threshold folds the delta into a new base.
    m.add(&store("c.example\nd.example\ne.example\n", "feed-c"));
    let snap = m.snapshot();
    assert_eq!(snap.delta_len(), 0);
    assert_eq!(hits(&m, "d.example"), vec!["d.example feed-c"]);
    assert_eq!(hits(&m, "old.example"), Vec::<String>::new());
    assert_eq!(hits(&m, "base.example"), vec!["base.example feed-a"]);

    // Expiry: an indicator valid until 2026-06 stops matching events after it and is dropped
    // from the set by `expire`.
    let mut exp = store("temp.example\n", "feed-d");
    let mut i = exp.get(0).unwrap().to_indicator();
    i.valid_until = Some(Timestamp::parse_rfc3339("2026-06-01T00:00:00Z").unwrap());
    exp = IndicatorStore::new();
    exp.insert(&i);
    m.add(&exp);
    assert_eq!(hits(&m, "temp.example"), vec!["temp.example feed-d"]);
    let before = m.snapshot().len();
    m.expire(Timestamp::parse_rfc3339("2026-07-01T00:00:00Z").unwrap());
    assert_eq!(m.snapshot().len(), before - 1);
    assert_eq!(hits(&m, "temp.example"), Vec::<String>::new());
    assert!(m.snapshot().generation() >= 7);
}

#[test]
fn readers_never_block_and_always_see_a_consistent_set() {
    let base: String = (0..20_000).map(|i| format!("base{i}.example\n")).collect();
    let m = Arc::new(
        LiveMatcher::new(store(&base, "base"), Default::default()).with_compaction_threshold(500),
    );
    let stop = Arc::new(AtomicBool::new(false));
    let checks = Arc::new(AtomicUsize::new(0));
    let readers: Vec<_> = (0..2)
        .map(|r| {
            let (m, stop, checks) = (m.clone(), stop.clone(), checks.clone());
            std::thread::spawn(move || {
                let mut i = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    // A base indicator always matches, whatever the writer is doing.
                    let name = format!("x.base{}.example", (i * 7 + r) % 20_000);
                    let mut n = 0;
                    m.check(&dns(&name), |_| n += 1);
                    assert_eq!(n, 1, "{name}");
                    i += 1;
                    checks.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for batch in 0..40 {
        let lines: String = (0..50)
            .map(|i| format!("live{batch}-{i}.example\n"))
            .collect();
        m.add(&store(&lines, "live"));
        assert_eq!(hits(&m, &format!("live{batch}-49.example")).len(), 1);
    }
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        r.join().unwrap();
    }
    assert!(checks.load(Ordering::Relaxed) > 0);
    assert_eq!(m.snapshot().len(), 20_000 + 40 * 50);
}
