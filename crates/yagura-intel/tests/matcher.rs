//! Matching events against indicators: tests as data. Each case is an ECS event (JSON) and
//! the expected matches, one a line: `field observed -> kind value [port] (via) [warninglist]`.

use std::path::Path;
use std::sync::Arc;

use yagura_intel::import::{FeedDefaults, Format, import_bytes};
use yagura_intel::warninglist::Warninglists;
use yagura_intel::{Index, IndicatorStore, Match, Matcher};
use yagura_model::event::ObservableValue;
use yagura_model::{Event, Timestamp};

const FEED: &str = "\
evil.example
c2.other.example
198.51.100.7
198.51.100.8:8443
203.0.113.0/24
203.0.113.128/25
2001:db8:bad::/48
http://dl.example/payload.bin
http://q.example/gate.php?id=1
/wp-admin/shell.php
e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
ceo@phish.example
google.com
8.8.8.8
x.duckdns.org
bücher.example
";

fn warninglists() -> Arc<Warninglists> {
    let mut w = Warninglists::new();
    w.add_json(
        "top",
        r#"{"name":"Top sites","type":"hostname","list":["google.com","duckdns.org"],"matching_attributes":["domain","hostname","url"]}"#,
    )
    .unwrap();
    w.add_json(
        "dns",
        r#"{"name":"Public DNS","type":"cidr","list":["8.8.8.8/32"],"matching_attributes":["ip-dst","ip-src"]}"#,
    )
    .unwrap();
    w.add_json(
        "dyn",
        r#"{"name":"List of known dynamic DNS domains","type":"hostname","list":[".duckdns.org"]}"#,
    )
    .unwrap();
    Arc::new(w)
}

fn matcher() -> Matcher {
    let mut store = IndicatorStore::new();
    let d = FeedDefaults {
        source: Some("test-feed".into()),
        format: Some(Format::List),
        ..FeedDefaults::default()
    };
    let r = import_bytes(&mut store, "feed.txt", FEED.as_bytes(), &d).unwrap();
    assert!(r.rejects.is_empty(), "{:?}", r.rejects);
    // An expired indicator and one valid only from 2030.
    let mut i = store.get(0).unwrap().to_indicator();
    i.value = "expired.example".into();
    i.valid_until = Some(Timestamp::parse_rfc3339("2025-01-01T00:00:00Z").unwrap());
    store.insert(&i);
    i.value = "future.example".into();
    i.valid_until = None;
    i.valid_from = Some(Timestamp::parse_rfc3339("2030-01-01T00:00:00Z").unwrap());
    store.insert(&i);
    Matcher::new(Index::build(store), warninglists())
}

fn render(m: &Match<'_>) -> String {
    let observed = match m.observed {
        ObservableValue::Ip(ip) => ip.to_string(),
        ObservableValue::Text(_, v) => v.to_owned(),
    };
    let port = m
        .indicator
        .port
        .map(|p| format!(" port {p}"))
        .unwrap_or_default();
    let wl = m
        .warninglist
        .map(|v| format!(" [{}: {:?}, alerts {}]", v.list, v.category, m.alerts()))
        .unwrap_or_default();
    format!(
        "{} {observed} -> {} {}{port} ({}){wl}",
        m.field,
        m.indicator.kind,
        m.indicator.value,
        m.via.as_str()
    )
}

fn check(event: &str, expect: &str) {
    let mut v: serde_json::Value = serde_json::from_str(event).unwrap();
    if v.get("@timestamp").is_none() {
        v["@timestamp"] = "2026-01-05T00:00:00Z".into();
    }
    let ev: Event = serde_json::from_value(v).unwrap();
    let m = matcher();
    let mut got = Vec::new();
    let n = m.check(&ev, |m| got.push(render(&m)));
    assert_eq!(n, got.len());
    let expect: Vec<&str> = expect
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(got, expect, "event {event}");
}

#[test]
fn domains_match_themselves_and_subdomains() {
    check(
        r#"{"destination":{"domain":"evil.example"}}"#,
        "destination.domain evil.example -> domain evil.example (exact)",
    );
    check(
        r#"{"dns":{"question":{"name":"a.b.evil.example"}}}"#,
        "dns.question.name a.b.evil.example -> domain evil.example (parent-domain)",
    );
    check(r#"{"dns":{"question":{"name":"notevil.example"}}}"#, "");
    check(r#"{"dns":{"question":{"name":"other.example"}}}"#, "");
    check(
        r#"{"dns":{"question":{"name":"EVIL.Example."}}}"#,
        "dns.question.name EVIL.Example. -> domain evil.example (exact)",
    );
    check(
        r#"{"dns":{"question":{"name":"www.bücher.example"}}}"#,
        "dns.question.name www.bücher.example -> domain xn--bcher-kva.example (parent-domain)",
    );
}

#[test]
fn url_domain_equal_to_destination_domain_is_checked_once() {
    check(
        r#"{"destination":{"domain":"evil.example"},"url":{"domain":"evil.example","full":"http://evil.example/x"}}"#,
        "destination.domain evil.example -> domain evil.example (exact)",
    );
}

#[test]
fn ips_exact_port_and_longest_prefix() {
    check(
        r#"{"source":{"ip":"10.0.0.1"},"destination":{"ip":"198.51.100.7","port":443}}"#,
        "destination.ip 198.51.100.7 -> ipv4 198.51.100.7 (exact)",
    );
    check(
        r#"{"destination":{"ip":"198.51.100.8","port":8443}}"#,
        "destination.ip 198.51.100.8 -> ipv4 198.51.100.8 port 8443 (address-and-port)",
    );
    check(r#"{"destination":{"ip":"198.51.100.8","port":443}}"#, "");
    check(r#"{"source":{"ip":"198.51.100.8","port":8443}}"#, "");
    check(
        r#"{"destination":{"ip":"203.0.113.200"}}"#,
        "destination.ip 203.0.113.200 -> cidr 203.0.113.128/25 (network)",
    );
    check(
        r#"{"destination":{"ip":"203.0.113.5"}}"#,
        "destination.ip 203.0.113.5 -> cidr 203.0.113.0/24 (network)",
    );
    check(
        r#"{"source":{"ip":"2001:db8:bad:1::5"}}"#,
        "source.ip 2001:db8:bad:1::5 -> cidr 2001:db8:bad::/48 (network)",
    );
    check(
        r#"{"destination":{"ip":"::ffff:198.51.100.7"}}"#,
        "destination.ip ::ffff:198.51.100.7 -> ipv4 198.51.100.7 (exact)",
    );
}

#[test]
fn urls_normalized_with_query_and_path_variants() {
    check(
        r#"{"url":{"full":"HTTP://DL.example:80/a/../payload.bin"}}"#,
        "url.full HTTP://DL.example:80/a/../payload.bin -> url http://dl.example/payload.bin (exact)",
    );
    check(
        r#"{"url":{"full":"https://dl.example/payload.bin?x=1"}}"#,
        "url.full https://dl.example/payload.bin?x=1 -> url http://dl.example/payload.bin (url-without-query)",
    );
    check(
        r#"{"url":{"full":"http://q.example/gate.php?id=1"}}"#,
        "url.full http://q.example/gate.php?id=1 -> url http://q.example/gate.php?id=1 (exact)",
    );
    check(r#"{"url":{"full":"http://q.example/gate.php?id=2"}}"#, "");
    check(
        r#"{"url":{"full":"http://victim.example/wp-admin/shell.php?c=id"}}"#,
        "url.full http://victim.example/wp-admin/shell.php?c=id -> url /wp-admin/shell.php (url-path)",
    );
}

#[test]
fn hashes_and_email_addresses() {
    check(
        r#"{"file":{"hash":{"sha256":"E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"}}}"#,
        "file.hash.sha256 E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855 -> sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 (exact)",
    );
    check(
        r#"{"email":{"from":{"address":["CEO@Phish.Example"]},"to":{"address":["a@gov.example"]}}}"#,
        "email.from.address CEO@Phish.Example -> email ceo@phish.example (exact)",
    );
}

#[test]
fn warninglists_mark_benign_values_and_say_so() {
    check(
        r#"{"dns":{"question":{"name":"mail.google.com"}}}"#,
        "dns.question.name mail.google.com -> domain google.com (parent-domain) [Top sites: FalsePositive, alerts false]",
    );
    check(
        r#"{"destination":{"ip":"8.8.8.8"}}"#,
        "destination.ip 8.8.8.8 -> ipv4 8.8.8.8 (exact) [Public DNS: FalsePositive, alerts false]",
    );
    // A dynamic DNS host is known infrastructure, not benign: it still alerts.
    check(
        r#"{"dns":{"question":{"name":"x.duckdns.org"}}}"#,
        "dns.question.name x.duckdns.org -> domain x.duckdns.org (exact) [List of known dynamic DNS domains: Known, alerts true]",
    );
}

#[test]
fn expiry_and_validity_follow_event_time() {
    check(r#"{"dns":{"question":{"name":"expired.example"}}}"#, "");
    check(
        r#"{"@timestamp":"2024-06-01T00:00:00Z","dns":{"question":{"name":"expired.example"}}}"#,
        "dns.question.name expired.example -> domain expired.example (exact)",
    );
    check(r#"{"dns":{"question":{"name":"future.example"}}}"#, "");
}

#[test]
fn shared_warninglists_suppress_public_resolvers() {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/intel/misp-warninglists/lists"
    );
    let w = Warninglists::load_dir(Path::new(dir))
        .unwrap_or_else(|e| panic!("shared data missing: {e}"));
    let mut store = IndicatorStore::new();
    let d = FeedDefaults {
        format: Some(Format::List),
        ..FeedDefaults::default()
    };
    import_bytes(&mut store, "f.txt", b"1.1.1.1\n203.0.113.66\n", &d).unwrap();
    let m = Matcher::new(Index::build(store), Arc::new(w));
    let ev: Event =
        serde_json::from_str(r#"{"@timestamp":"2026-01-01T00:00:00Z","destination":{"ip":"1.1.1.1"},"source":{"ip":"203.0.113.66"}}"#)
            .unwrap();
    let mut verdicts = Vec::new();
    m.check(&ev, |m| {
        verdicts.push((m.indicator.value.to_owned(), m.alerts()))
    });
    verdicts.sort();
    assert_eq!(
        verdicts,
        vec![
            ("1.1.1.1".to_owned(), false),
            ("203.0.113.66".to_owned(), true)
        ]
    );
}
