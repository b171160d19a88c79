//! The `ioc` alert built from a match: the contract's fields, the indicator and its source
//! named in title, summary and context.

use yagura_intel::import::{FeedDefaults, Format, import_bytes};
use yagura_intel::{Index, IndicatorStore, Matcher, ioc_alert};
use yagura_model::{Detector, Event};

fn alerts_for(feed: &str, source: &str, confidence: u8, event: serde_json::Value) -> Vec<String> {
    let mut store = IndicatorStore::new();
    let d = FeedDefaults {
        source: Some(source.into()),
        confidence,
        tags: vec!["emotet".into(), "T1071.001".into()],
        format: Some(Format::List),
        ..FeedDefaults::default()
    };
    import_bytes(&mut store, "feed", feed.as_bytes(), &d).unwrap();
    let m = Matcher::new(Index::build(store), Default::default());
    let ev: Event = serde_json::from_value(event).unwrap();
    let mut out = Vec::new();
    m.check(&ev, |x| {
        let a = ioc_alert(&ev, &x).unwrap();
        assert_eq!(a.detector, Detector::Ioc);
        out.push(serde_json::to_string_pretty(&a).unwrap());
    });
    out
}

#[test]
fn proxy_event_alert() {
    let a = alerts_for(
        "evil.example\n",
        "maltrail/malware/emotet",
        85,
        serde_json::json!({
            "@timestamp": "2026-01-05T01:02:03Z",
            "organization": {"id": "moh"},
            "event": {"dataset": "squid.access"},
            "source": {"ip": "10.10.3.4"},
            "destination": {"ip": "203.0.113.9", "port": 80, "domain": "cdn.evil.example"},
            "url": {"full": "http://cdn.evil.example/a.bin", "domain": "cdn.evil.example"},
            "user": {"name": "tanaka"},
            "host": {"name": "pc-0012"},
            "log": {"file": {"path": "moh/proxy/access.log", "line": 1234}}
        }),
    );
    assert_eq!(a.len(), 1);
    insta::assert_snapshot!(a[0]);
}

#[test]
fn ip_port_alert_without_host() {
    let a = alerts_for(
        "198.51.100.8:8443\n",
        "partner",
        60,
        serde_json::json!({
            "@timestamp": "2026-01-05T01:02:03Z",
            "organization": {"id": "moh"},
            "source": {"ip": "10.10.3.5"},
            "destination": {"ip": "198.51.100.8", "port": 8443}
        }),
    );
    assert_eq!(a.len(), 1);
    insta::assert_snapshot!(a[0]);
}

#[test]
fn an_event_without_organization_gives_an_error() {
    let mut store = IndicatorStore::new();
    let d = FeedDefaults {
        format: Some(Format::List),
        ..FeedDefaults::default()
    };
    import_bytes(&mut store, "feed", b"evil.example\n", &d).unwrap();
    let m = Matcher::new(Index::build(store), Default::default());
    let ev: Event = serde_json::from_value(serde_json::json!({
        "@timestamp": "2026-01-05T01:02:03Z",
        "dns": {"question": {"name": "evil.example"}}
    }))
    .unwrap();
    let mut errors = Vec::new();
    m.check(&ev, |x| {
        errors.push(ioc_alert(&ev, &x).unwrap_err().to_string())
    });
    assert_eq!(
        errors,
        vec!["the event has no organization.id; alerts belong to an organization"]
    );
}
