//! Property test: the index (hash tables behind a Bloom prefilter, longest-prefix network
//! probes, parent-domain walk cut at the shortest listed domain) finds exactly what a naive
//! linear scan over the same indicators finds. Small alphabets make collisions, shared
//! suffixes and nested networks common.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};

use ipnet::IpNet;
use proptest::prelude::*;
use yagura_intel::import::{FeedDefaults, Format, import_bytes};
use yagura_intel::warninglist::Warninglists;
use yagura_intel::{Index, IndicatorStore, Matcher};
use yagura_model::Event;

fn label() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["a", "b", "ab", "c2", "x-y", "evil", "cdn"]).prop_map(String::from)
}

fn domain() -> impl Strategy<Value = String> {
    prop::collection::vec(label(), 1..5).prop_map(|ls| format!("{}.test", ls.join(".")))
}

fn ipv4() -> impl Strategy<Value = Ipv4Addr> {
    (0u8..3, 0u8..3, 0u8..4).prop_map(|(b, c, d)| Ipv4Addr::new(10, b, c, d))
}

fn net() -> impl Strategy<Value = IpNet> {
    // A /32 is imported as an address indicator, which the `ips` side covers.
    (ipv4(), 8u8..=31).prop_map(|(a, len)| IpNet::new(IpAddr::V4(a), len).unwrap().trunc())
}

fn path() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["/", "/a", "/a/b", "/gate.php", "/a/gate.php"]).prop_map(String::from)
}

fn query() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["", "?id=1", "?id=2"]).prop_map(String::from)
}

/// A URL resource as the index keys it: `host/path?query` (canonical, no scheme).
fn resource() -> impl Strategy<Value = String> {
    (domain(), path(), query()).prop_map(|(h, p, q)| format!("{h}{p}{q}"))
}

#[derive(Debug, Clone)]
struct Feed {
    domains: Vec<String>,
    ips: Vec<Ipv4Addr>,
    nets: Vec<IpNet>,
    /// URL indicators, as resources (imported as `http://` URLs).
    urls: Vec<String>,
    /// Bare path indicators (`/path?query`).
    paths: Vec<String>,
}

fn feed() -> impl Strategy<Value = Feed> {
    (
        prop::collection::vec(domain(), 0..12),
        prop::collection::vec(ipv4(), 0..12),
        prop::collection::vec(net(), 0..6),
        prop::collection::vec(resource(), 0..8),
        prop::collection::vec((path(), query()).prop_map(|(p, q)| format!("{p}{q}")), 0..4),
    )
        .prop_map(|(domains, ips, nets, urls, paths)| Feed {
            domains,
            ips,
            nets,
            urls,
            // A lone "/" is not a path indicator (it would match every URL).
            paths: paths.into_iter().filter(|p| p != "/").collect(),
        })
}

/// What a linear scan says: (field, indicator value) pairs.
fn naive(
    feed: &Feed,
    names: &[(&'static str, String)],
    ips: &[(&'static str, Ipv4Addr)],
) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (field, name) in names {
        for d in &feed.domains {
            if name == d || name.ends_with(&format!(".{d}")) {
                out.insert((field.to_string(), d.clone()));
            }
        }
    }
    for (field, ip) in ips {
        for i in &feed.ips {
            if ip == i {
                out.insert((field.to_string(), i.to_string()));
            }
        }
        // Longest prefix only: the most specific listed networks containing the address.
        let covering: Vec<&IpNet> = feed
            .nets
            .iter()
            .filter(|n| n.contains(&IpAddr::V4(*ip)))
            .collect();
        if let Some(best) = covering.iter().map(|n| n.prefix_len()).max() {
            for n in covering.iter().filter(|n| n.prefix_len() == best) {
                out.insert((field.to_string(), n.to_string()));
            }
        }
    }
    out
}

/// What a linear scan says for an event URL resource: a URL indicator equal to it, or to it
/// without its query (indicators without a query); a path indicator equal to its path with
/// or without the query.
fn naive_url(feed: &Feed, resource: &str) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    let no_query = resource.split_once('?').map(|(r, _)| r);
    let path = &resource[resource.find('/').unwrap_or(resource.len())..];
    let path_no_query = path.split_once('?').map(|(p, _)| p);
    for u in &feed.urls {
        if u == resource || (!u.contains('?') && Some(u.as_str()) == no_query) {
            out.insert(("url.full".to_string(), format!("http://{u}")));
        }
    }
    for p in &feed.paths {
        if p == path || Some(p.as_str()) == path_no_query {
            out.insert(("url.full".to_string(), p.clone()));
        }
    }
    out
}

fn matcher(feed: &Feed) -> Matcher {
    let mut text = String::new();
    for d in &feed.domains {
        text.push_str(d);
        text.push('\n');
    }
    for i in &feed.ips {
        text.push_str(&i.to_string());
        text.push('\n');
    }
    for n in &feed.nets {
        text.push_str(&n.to_string());
        text.push('\n');
    }
    for u in &feed.urls {
        text.push_str(&format!("http://{u}\n"));
    }
    for p in &feed.paths {
        text.push_str(p);
        text.push('\n');
    }
    let mut store = IndicatorStore::new();
    let d = FeedDefaults {
        source: Some("prop".into()),
        format: Some(Format::List),
        ..FeedDefaults::default()
    };
    import_bytes(&mut store, "prop.txt", text.as_bytes(), &d).unwrap();
    Matcher::new(
        Index::build(store),
        std::sync::Arc::new(Warninglists::new()),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn index_agrees_with_a_linear_scan(
        feed in feed(),
        qname in domain(),
        sni in domain(),
        src in ipv4(),
        dst in ipv4(),
        url in resource(),
        https in any::<bool>(),
        listed_url in any::<Option<prop::sample::Index>>(),
    ) {
        let scheme = if https { "https" } else { "http" };
        // Half the time the event fetches a listed resource (exact hits are rare otherwise).
        let url = match listed_url {
            Some(i) if !feed.urls.is_empty() => feed.urls[i.index(feed.urls.len())].clone(),
            _ => url,
        };
        let ev: Event = serde_json::from_value(serde_json::json!({
            "@timestamp": "2026-01-05T00:00:00Z",
            "source": {"ip": src.to_string()},
            "destination": {"ip": dst.to_string()},
            "dns": {"question": {"name": qname}},
            "tls": {"client": {"server_name": sni}},
            "url": {"full": format!("{scheme}://{url}")},
        })).unwrap();
        let m = matcher(&feed);
        let mut got = BTreeSet::new();
        m.check(&ev, |hit| {
            got.insert((hit.field.to_string(), hit.indicator.value.to_string()));
        });
        let names = [("dns.question.name", qname.clone()), ("tls.client.server_name", sni.clone())];
        let ips = [("source.ip", src), ("destination.ip", dst)];
        // The event de-duplicates equal observables (first field wins); so does the reference.
        let mut expect = naive(&feed, &names[..1], &ips[..1]);
        if sni != qname {
            expect.extend(naive(&feed, &names[1..], &[]));
        }
        if dst != src {
            expect.extend(naive(&feed, &[], &ips[1..]));
        }
        expect.extend(naive_url(&feed, &url));
        prop_assert_eq!(got, expect);
    }
}

fn ipv6() -> impl Strategy<Value = std::net::Ipv6Addr> {
    (0u16..3, 0u16..3, 0u16..4)
        .prop_map(|(b, c, d)| std::net::Ipv6Addr::new(0x2001, 0xdb8, b, c, 0, 0, 0, d))
}

fn net6() -> impl Strategy<Value = IpNet> {
    (ipv6(), 32u8..=127).prop_map(|(a, len)| IpNet::new(IpAddr::V6(a), len).unwrap().trunc())
}

/// How an event may carry a listed name: as listed, upper case, with a trailing dot.
fn spelled(name: &str, upper: bool, dot: bool) -> String {
    let mut s = if upper {
        name.to_uppercase()
    } else {
        name.to_owned()
    };
    if dot {
        s.push('.');
    }
    s
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    /// The whole-event fast path against a reference built from `Event::observables` and a
    /// linear scan: names in non-canonical spellings, the same value in several fields (only
    /// the first field reports it), IPv6 addresses and networks (longest prefix), IPv4
    /// addresses in lists.
    #[test]
    fn event_check_agrees_with_a_reference_on_varied_events(
        feed in feed(),
        ips6 in prop::collection::vec(ipv6(), 0..6),
        nets6 in prop::collection::vec(net6(), 0..6),
        qname in domain(),
        dst_name in domain(),
        spell in (any::<bool>(), any::<bool>()),
        src in ipv4(),
        dst in ipv4(),
        host6 in prop::collection::vec(ipv6(), 0..3),
        resolved_dup in any::<bool>(),
    ) {
        let mut text = String::new();
        for v in ips6.iter().map(|a| a.to_string()).chain(nets6.iter().map(|n| n.to_string())) {
            text.push_str(&v);
            text.push('\n');
        }
        let mut store = IndicatorStore::new();
        let d = FeedDefaults {
            source: Some("prop6".into()),
            format: Some(Format::List),
            ..FeedDefaults::default()
        };
        import_bytes(&mut store, "prop6.txt", text.as_bytes(), &d).unwrap();
        let base = matcher(&feed);
        let mut all = base.index().to_store();
        all.extend_from(&store);
        let m = Matcher::new(Index::build(all), std::sync::Arc::new(Warninglists::new()));

        let q = spelled(&qname, spell.0, spell.1);
        let resolved: Vec<String> = if resolved_dup {
            vec![dst.to_string(), src.to_string()]
        } else {
            host6.iter().map(|a| a.to_string()).collect()
        };
        let ev: Event = serde_json::from_value(serde_json::json!({
            "@timestamp": "2026-01-05T00:00:00Z",
            "source": {"ip": src.to_string()},
            "destination": {"ip": dst.to_string(), "domain": dst_name},
            "host": {"ip": host6.iter().map(|a| a.to_string()).collect::<Vec<_>>()},
            "url": {"domain": dst_name},
            "dns": {"question": {"name": q}, "resolved_ip": resolved},
        })).unwrap();
        let mut got = BTreeSet::new();
        m.check(&ev, |hit| {
            got.insert((hit.field.to_string(), hit.indicator.value.to_string()));
        });

        // Reference: the event's distinct observables (first field wins), each checked by a
        // linear scan over the indicators.
        let mut seen = Vec::new();
        let mut expect = BTreeSet::new();
        ev.observables(|o| {
            if seen.contains(&o.value) {
                return;
            }
            seen.push(o.value);
            match o.value {
                yagura_model::event::ObservableValue::Ip(ip) => {
                    let exact = feed.ips.iter().map(|a| IpAddr::V4(*a))
                        .chain(ips6.iter().map(|a| IpAddr::V6(*a)));
                    for i in exact {
                        if i == ip {
                            expect.insert((o.field.to_string(), i.to_string()));
                        }
                    }
                    let nets: Vec<IpNet> = feed.nets.iter().chain(&nets6).copied()
                        .filter(|n| n.contains(&ip)).collect();
                    if let Some(best) = nets.iter().map(|n| n.prefix_len()).max() {
                        for n in nets.iter().filter(|n| n.prefix_len() == best) {
                            expect.insert((o.field.to_string(), n.to_string()));
                        }
                    }
                }
                yagura_model::event::ObservableValue::Text(_, v) => {
                    let name = v.trim_end_matches('.').to_lowercase();
                    for d in &feed.domains {
                        if name == *d || name.ends_with(&format!(".{d}")) {
                            expect.insert((o.field.to_string(), d.clone()));
                        }
                    }
                }
            }
        });
        prop_assert_eq!(got, expect);
    }
}

/// A host label, sometimes one that IDNA turns into punycode.
fn url_label() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["a", "evil", "c2", "x-y", "bücher", "www", "a_b", "xn"])
        .prop_map(String::from)
}

/// The parts of a URL: host labels (under `.test`), port, path, query.
fn url_parts() -> impl Strategy<Value = (Vec<String>, Option<u16>, String, String)> {
    (
        prop::collection::vec(url_label(), 1..4),
        prop::sample::select(vec![None, Some(80), Some(443), Some(8080)]),
        path(),
        query(),
    )
}

/// A URL from its parts, spelled as events and feeds may spell it: scheme, host case,
/// Unicode or punycode host, an explicit default port, a trailing dot, a `.` segment.
fn spell_url(
    (labels, port, path, query): &(Vec<String>, Option<u16>, String, String),
    https: bool,
    spelling: u8,
) -> String {
    let mut host = format!("{}.test", labels.join("."));
    if spelling & 1 != 0 {
        host = host.to_uppercase();
    }
    if spelling & 2 != 0 {
        host = host.replace("bücher", "xn--bcher-kva");
    }
    let scheme = match (https, spelling & 4 != 0) {
        (true, false) => "https",
        (true, true) => "HTTPS",
        (false, false) => "http",
        (false, true) => "HTTP",
    };
    let port = match port {
        Some(p) => format!(":{p}"),
        None if spelling & 8 != 0 => (if https { ":443" } else { ":80" }).to_string(),
        None => String::new(),
    };
    let path = if spelling & 16 != 0 {
        format!("/.{path}")
    } else {
        path.clone()
    };
    format!("{scheme}://{host}{port}{path}{query}")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    /// The URL-host gate (URL-table probes only when the event URL's authority is some URL
    /// indicator's) never skips a listed URL: the matcher's URL hits equal a reference that
    /// normalizes the event URL in full and compares resources, for events fetching a listed
    /// URL (spelled differently), a subdomain of its host, another port, or another path.
    #[test]
    fn url_host_gate_never_skips_a_listed_url(
        listed in prop::collection::vec((url_parts(), any::<bool>(), 0u8..32), 1..6),
        other in (url_parts(), any::<bool>(), 0u8..32),
        pick in any::<prop::sample::Index>(),
        variant in 0u8..5,
        https in any::<bool>(),
        spelling in 0u8..32,
        dst_name in 0u8..4,
    ) {
        let mut text = String::new();
        let mut values = Vec::new();
        for (parts, https, spelling) in &listed {
            let raw = spell_url(parts, *https, *spelling);
            if let Ok(v) = yagura_intel::normalize::url(&raw) {
                values.push(v);
                text.push_str(&raw);
                text.push('\n');
            }
        }
        let mut store = IndicatorStore::new();
        let d = FeedDefaults {
            source: Some("prop-url".into()),
            format: Some(Format::List),
            ..FeedDefaults::default()
        };
        import_bytes(&mut store, "urls.txt", text.as_bytes(), &d).unwrap();
        let m = Matcher::new(Index::build(store), std::sync::Arc::new(Warninglists::new()));

        let mut parts = listed[pick.index(listed.len())].0.clone();
        match variant {
            0 => {}
            1 => parts.0.insert(0, "sub".into()),
            2 => parts.1 = Some(8443),
            3 => parts.2 = "/other".into(),
            _ => parts = other.0.clone(),
        }
        let url = spell_url(&parts, https, spelling);
        // The event's `destination.domain` (the matcher reuses its name check for the URL's
        // host when they are the same): absent, the URL's host as spelled, in lower case, or
        // another name.
        let host = url.split_once("://").map_or("", |(_, r)| r).split([':', '/']).next()
            .unwrap_or("").to_string();
        let dst = match dst_name {
            0 => None,
            1 => Some(host.clone()),
            2 => Some(host.to_lowercase()),
            _ => Some(format!("{}.test", other.0.0.join("."))),
        };
        let ev: Event = serde_json::from_value(serde_json::json!({
            "@timestamp": "2026-01-05T00:00:00Z",
            "destination": {"domain": dst},
            "url": {"full": url},
        })).unwrap();
        let mut got = BTreeSet::new();
        m.check(&ev, |hit| {
            if hit.indicator.kind == yagura_model::IndicatorKind::Url {
                got.insert(hit.indicator.value.to_string());
            }
        });

        let mut expect = BTreeSet::new();
        if let Ok(n) = yagura_intel::normalize::url(&url) {
            let r = yagura_intel::normalize::url_resource(&n);
            let r = if r.contains('/') { r.to_string() } else { format!("{r}/") };
            let no_query = r.split_once('?').map(|(a, _)| a.to_string());
            for v in &values {
                let u = yagura_intel::normalize::url_resource(v);
                if u == r || (!u.contains('?') && Some(u) == no_query.as_deref()) {
                    expect.insert(v.clone());
                }
            }
        }
        prop_assert_eq!(got, expect, "{}", url);
    }
}

/// IPv4 addresses spread over /16s at the edges of the index's /16 bitmap words (32 /16s a
/// word) and over several first octets, a few hosts each.
fn ipv4_wide() -> impl Strategy<Value = Ipv4Addr> {
    (
        prop::sample::select(vec![0u8, 10, 93, 127, 255]),
        prop::sample::select(vec![0u8, 1, 31, 32, 63, 64, 200, 255]),
        0u8..2,
        0u8..3,
    )
        .prop_map(|(a, b, c, d)| Ipv4Addr::new(a, b, c, d))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    /// The per-/16 bitmap in front of the exact-address filter and the network probes never
    /// hides a listed address or network: whole-event hits on addresses spread over many /16s
    /// (networks from /8, the widest an indicator may be, to /31, so some cover many /16s)
    /// equal a linear scan's, including an
    /// address repeated in several fields (first field wins).
    #[test]
    fn ipv4_bitmap_never_hides_a_listed_address(
        ips in prop::collection::vec(ipv4_wide(), 0..12),
        nets in prop::collection::vec((ipv4_wide(), 8u8..=31), 0..5),
        src in ipv4_wide(),
        dst in ipv4_wide(),
        resolved in prop::collection::vec(ipv4_wide(), 0..3),
        listed in prop::collection::vec(any::<prop::sample::Index>(), 0..2),
    ) {
        let feed = Feed {
            domains: Vec::new(),
            ips: ips.clone(),
            nets: nets
                .iter()
                .map(|&(a, len)| IpNet::new(IpAddr::V4(a), len).unwrap().trunc())
                .collect(),
            urls: Vec::new(),
            paths: Vec::new(),
        };
        let m = matcher(&feed);
        // Some resolved addresses are listed ones (hits are rare otherwise).
        let mut resolved = resolved;
        for i in &listed {
            if !ips.is_empty() {
                resolved.push(ips[i.index(ips.len())]);
            }
        }
        let ev: Event = serde_json::from_value(serde_json::json!({
            "@timestamp": "2026-01-05T00:00:00Z",
            "source": {"ip": src.to_string()},
            "destination": {"ip": dst.to_string()},
            "dns": {"resolved_ip": resolved.iter().map(|a| a.to_string()).collect::<Vec<_>>()},
        })).unwrap();
        let mut got = BTreeSet::new();
        m.check(&ev, |hit| {
            got.insert((hit.field.to_string(), hit.indicator.value.to_string()));
        });
        let mut seen = Vec::new();
        let mut expect = BTreeSet::new();
        let fields = [("source.ip", src), ("destination.ip", dst)]
            .into_iter()
            .chain(resolved.iter().map(|&a| ("dns.resolved_ip", a)));
        for (field, a) in fields {
            if seen.contains(&a) {
                continue;
            }
            seen.push(a);
            expect.extend(naive(&feed, &[], &[(field, a)]));
        }
        prop_assert_eq!(got, expect);
        // The single-address lookup agrees too.
        for a in [src, dst] {
            let mut one = BTreeSet::new();
            m.index().check_ip(IpAddr::V4(a), None, |r, _| {
                one.insert(r.value.to_string());
            });
            let want: BTreeSet<String> =
                naive(&feed, &[], &[("x", a)]).into_iter().map(|(_, v)| v).collect();
            prop_assert_eq!(one, want);
        }
    }
}
