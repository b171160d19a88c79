use super::*;

fn proxy_event() -> Event {
    let mut e = Event {
        timestamp: "2026-01-05T01:02:03.456Z".parse().unwrap(),
        ..Default::default()
    };
    e.organization.id = Some(OrgId::new("moh").unwrap());
    e.event.dataset = Some("squid.access".into());
    e.event.category.push("web".into());
    e.source.ip = Some("10.10.3.4".parse().unwrap());
    e.destination.ip = Some("203.0.113.9".parse().unwrap());
    e.destination.port = Some(80);
    e.url.full = Some("http://cdn-upd.net/a/b.php?id=1".into());
    e.url.domain = Some("cdn-upd.net".into());
    e.url.path = Some("/a/b.php".into());
    e.url.query = Some("id=1".into());
    e.url.extension = Some("php".into());
    e.http.request.method = Some("POST".into());
    e.http.response.status_code = Some(200);
    e.user.name = Some("tanaka".into());
    e.log.file.path = Some("moh/proxy/access.log".into());
    e.log.file.line = Some(7);
    e.set_other("squid.result_code", "TCP_MISS".into());
    e
}

#[test]
fn serializes_as_nested_ecs() {
    let json = serde_json::to_value(proxy_event()).unwrap();
    insta::assert_json_snapshot!(json);
}

#[test]
fn round_trips_through_json() {
    let e = proxy_event();
    let text = serde_json::to_string(&e).unwrap();
    let back: Event = serde_json::from_str(&text).unwrap();
    assert_eq!(back, e);
}

#[test]
fn hot_accessors() {
    let e = proxy_event();
    assert_eq!(e.org().map(OrgId::as_str), Some("moh"));
    assert_eq!(e.dst_domain(), Some("cdn-upd.net"));
    assert_eq!(e.http_method(), Some("POST"));
    assert_eq!(e.provenance(), Some(("moh/proxy/access.log", 7)));
}

fn values(e: &Event, path: &str) -> Vec<String> {
    let mut out = Vec::new();
    e.for_each_value(path, |v| out.push(v.to_text().into_owned()));
    out
}

#[test]
fn generic_paths() {
    let mut e = proxy_event();
    e.winlog.event_data.insert("TargetUserName", "admin");
    e.set_other("zeek.conn.id.orig_h", "10.0.0.1".into());
    e.other.insert(
        "zeek2",
        serde_json::json!({"id.resp_p": 443, "list": ["a", "b"]}).into(),
    );
    assert_eq!(values(&e, "url.domain"), ["cdn-upd.net"]);
    assert_eq!(values(&e, "destination.port"), ["80"]);
    assert_eq!(values(&e, "source.ip"), ["10.10.3.4"]);
    assert_eq!(values(&e, "event.category"), ["web"]);
    assert_eq!(values(&e, "winlog.event_data.targetusername"), ["admin"]);
    assert_eq!(values(&e, "squid.result_code"), ["TCP_MISS"]);
    assert_eq!(values(&e, "zeek.conn.id.orig_h"), ["10.0.0.1"]);
    assert_eq!(values(&e, "zeek2.id.resp_p"), ["443"]);
    assert_eq!(values(&e, "zeek2.list"), ["a", "b"]);
    assert!(values(&e, "no.such.field").is_empty());
    assert!(e.first_value("dns.question.name").is_none());
}

#[test]
fn observables_cover_indicator_fields() {
    let mut e = proxy_event();
    e.file.hash.sha256 = Some("ab".repeat(32).into());
    e.email.to.address.push("a@moh.go.jp".into());
    let mut seen = Vec::new();
    e.observables(|o| seen.push((o.field, o.value.kind())));
    assert!(seen.contains(&("source.ip", ObservableKind::Ip)));
    assert!(seen.contains(&("destination.ip", ObservableKind::Ip)));
    assert!(seen.contains(&("url.domain", ObservableKind::Domain)));
    assert!(seen.contains(&("url.full", ObservableKind::Url)));
    assert!(seen.contains(&("user.name", ObservableKind::User)));
    assert!(seen.contains(&("file.hash.sha256", ObservableKind::Hash)));
    assert!(seen.contains(&("email.to.address", ObservableKind::Email)));
}

#[test]
fn winlogbeat_event_data_values_become_strings() {
    let e: Event = serde_json::from_str(
        r#"{"@timestamp":"2026-01-05T01:02:03Z","winlog":{"event_id":4624,"event_data":{"LogonType":3,"TargetUserName":"bob","Flag":true}}}"#,
    )
    .unwrap();
    assert_eq!(e.winlog.event_data.get("LogonType"), Some("3"));
    assert_eq!(e.winlog.event_data.get("Flag"), Some("true"));
    assert_eq!(e.event_id(), Some(4624));
}

mod properties {
    use proptest::prelude::*;

    use super::*;

    fn arb_str() -> impl Strategy<Value = Str> {
        "[a-zA-Z0-9 ./:_-]{0,40}".prop_map(Str::from)
    }

    prop_compose! {
        fn arb_event()(
            secs in 0i64..4_000_000_000,
            nanos in 0i64..1_000_000_000,
            src in any::<[u8; 4]>(),
            port in proptest::option::of(any::<u16>()),
            domain in proptest::option::of(arb_str()),
            user in proptest::option::of(arb_str()),
            data in proptest::collection::vec((arb_str(), arb_str()), 0..5),
            event_id in proptest::option::of(any::<u32>()),
        ) -> Event {
            let mut e = Event { timestamp: Timestamp::from_nanos(secs * 1_000_000_000 + nanos), ..Default::default() };
            e.source.ip = Some(IpAddr::from(src));
            e.destination.port = port;
            e.destination.domain = domain;
            e.user.name = user;
            e.winlog.event_id = event_id;
            for (k, v) in data {
                e.winlog.event_data.insert(k, v);
            }
            e
        }
    }

    proptest! {
        #[test]
        fn serde_round_trip(e in arb_event()) {
            let text = serde_json::to_string(&e).unwrap();
            let mut back: Event = serde_json::from_str(&text).unwrap();
            // Event data comes back in key order (JSON objects are unordered).
            back.winlog.event_data.0.sort();
            let mut e = e;
            e.winlog.event_data.0.sort();
            prop_assert_eq!(back, e);
        }
    }
}

#[test]
fn reset_is_default_and_keeps_list_buffers() {
    let mut e = proxy_event();
    e.dns.answers.push(DnsAnswer {
        data: Some("203.0.113.7".into()),
        ..DnsAnswer::default()
    });
    e.dns.resolved_ip.push("203.0.113.7".parse().unwrap());
    e.host.ip.push("10.0.0.1".parse().unwrap());
    e.tls.version = Some("1.3".into());
    e.message = Some("hello".into());
    let caps = (
        e.dns.answers.capacity(),
        e.dns.resolved_ip.capacity(),
        e.host.ip.capacity(),
    );
    e.reset();
    assert_eq!(e, Event::default());
    assert_eq!(
        serde_json::to_string(&e).unwrap(),
        serde_json::to_string(&Event::default()).unwrap()
    );
    assert!(e.tls.is_unset(), "sparse groups are released");
    assert_eq!(
        (
            e.dns.answers.capacity(),
            e.dns.resolved_ip.capacity(),
            e.host.ip.capacity()
        ),
        caps
    );
    // Reusable: a second fill serializes like a fresh event with the same fields.
    e.dns.resolved_ip.push("192.0.2.1".parse().unwrap());
    let mut fresh = Event::default();
    fresh.dns.resolved_ip.push("192.0.2.1".parse().unwrap());
    assert_eq!(
        serde_json::to_string(&e).unwrap(),
        serde_json::to_string(&fresh).unwrap()
    );
}
