//! Index terms: the normalized indicator-bearing values of an event, and the same
//! normalization applied to the indicators of a hunt, so both sides meet on equal terms.
//!
//! Rules (one place, used by the index writer, the hunt and the in-memory scan):
//! - IP addresses: canonical text (`std::net::IpAddr` display; IPv6 compressed, lowercase).
//! - Domains: lowercase, trailing dot removed; each domain also yields its parent domains of
//!   at least two labels (`a.b.example.com` → `b.example.com`, `example.com`), so an indicator
//!   for a domain matches its subdomains.
//! - URLs: the full URL as recorded, the URL without its scheme (`evil.com/x` as blocklists
//!   write it) and the URL's host as a domain (with parents).
//! - Hashes, e-mail addresses, user names, file names, JA3/JA4: lowercase.
//!
//! What a split indexes ([`index_terms`]) is that set of terms with one exception: a URL term
//! with a query string (`?`) is nearly unique per event (ids, cache busters), and indexing it
//! dominated the cost and size of a split's term dictionary. Such a term goes to the split's
//! `url_stem` field as its [`url_stem`] instead (cut at the `?`, without scheme), and a hunt
//! indicator containing a `?` looks up its own stem there and re-checks each candidate event
//! with [`event_terms`], so a hunt matches exactly the events it matched when the full URLs
//! were indexed.

use std::net::IpAddr;

use yagura_model::Event;
use yagura_model::event::{ObservableKind, ObservableValue};

/// The kind-specific index field a term goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TermKind {
    Ip,
    Domain,
    Url,
    Hash,
    Email,
    User,
    File,
    Fingerprint,
}

impl TermKind {
    pub const ALL: [TermKind; 8] = [
        TermKind::Ip,
        TermKind::Domain,
        TermKind::Url,
        TermKind::Hash,
        TermKind::Email,
        TermKind::User,
        TermKind::File,
        TermKind::Fingerprint,
    ];

    /// Name of the index field holding terms of this kind.
    pub fn field_name(self) -> &'static str {
        match self {
            TermKind::Ip => "ip",
            TermKind::Domain => "domain",
            TermKind::Url => "url",
            TermKind::Hash => "hash",
            TermKind::Email => "email",
            TermKind::User => "user",
            TermKind::File => "file",
            TermKind::Fingerprint => "fingerprint",
        }
    }

    fn of(kind: ObservableKind) -> TermKind {
        match kind {
            ObservableKind::Ip => TermKind::Ip,
            ObservableKind::Domain => TermKind::Domain,
            ObservableKind::Url => TermKind::Url,
            ObservableKind::Hash => TermKind::Hash,
            ObservableKind::Email => TermKind::Email,
            ObservableKind::User => TermKind::User,
            ObservableKind::FileName => TermKind::File,
            ObservableKind::Ja3 | ObservableKind::Ja4 => TermKind::Fingerprint,
        }
    }
}

/// Lowercases `s` and strips trailing dots (domain normalization).
pub fn normalize_domain(s: &str) -> String {
    // Trailing dots and whitespace in any mix (`"a. ."`), so normalizing twice changes nothing.
    s.trim_start()
        .trim_end_matches(|c: char| c == '.' || c.is_whitespace())
        .to_ascii_lowercase()
}

/// Calls `f` with `domain` and each parent of at least two labels.
pub fn domain_and_parents(domain: &str, mut f: impl FnMut(&str)) {
    if domain.is_empty() {
        return;
    }
    f(domain);
    let mut rest = domain;
    while let Some((_, parent)) = rest.split_once('.') {
        if !parent.contains('.') || parent.is_empty() {
            break;
        }
        f(parent);
        rest = parent;
    }
}

/// The host of a URL (`scheme://[user@]host[:port]/...`), without port or brackets.
pub fn url_host(url: &str) -> Option<&str> {
    let after = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = after.split(['/', '?', '#']).next()?;
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        v6.split(']').next()?
    } else {
        host_port.split(':').next()?
    };
    (!host.is_empty()).then_some(host)
}

/// The URL without its `scheme://` prefix.
pub fn url_without_scheme(url: &str) -> &str {
    url.split_once("://").map_or(url, |(_, r)| r)
}

/// The stem under which a URL term with a query string is indexed: the part before the first
/// `?`, without `scheme://` (both forms of one URL, as recorded and without scheme, share it).
pub fn url_stem(url: &str) -> &str {
    let before_query = url.split('?').next().unwrap_or(url);
    url_without_scheme(before_query)
}

/// The stem a normalized hunt indicator must look up in `url_stem`, if it may equal an
/// indexed URL term with a query string (any indicator containing a `?`: a URL written
/// without scheme or slash, `evil.com?x=1`, normalizes like a domain). Matches found through a
/// stem are candidates, re-checked with [`event_terms`].
pub fn indicator_stem(normalized: &str) -> Option<&str> {
    normalized.contains('?').then(|| url_stem(normalized))
}

/// Calls `observable(term)` for every term a split indexes in `observables` and `stem(term)`
/// for every URL stem it indexes in `url_stem` (see the module docs). Terms may repeat.
pub fn index_terms(event: &Event, mut observable: impl FnMut(&str), mut stem: impl FnMut(&str)) {
    event_terms(event, |kind, t| {
        if kind == TermKind::Url && t.contains('?') {
            stem(url_stem(t));
        } else {
            observable(t);
        }
    });
}

/// The binary key under which split format 3 indexes a term that is an IP address in
/// canonical text (the form [`event_terms`] and [`normalize_indicator`] give addresses): the 4
/// bytes of an IPv4 or the 16 of an IPv6 address. `None` for any other term, including text
/// that parses as an address only in a non-canonical spelling (it stays a text term, so a hunt
/// matches exactly what text equality matched).
pub fn ip_key(term: &str) -> Option<IpKey> {
    let b = term.as_bytes();
    if b.is_empty()
        || b.len() > 45
        || !b
            .iter()
            .all(|c| c.is_ascii_hexdigit() || *c == b'.' || *c == b':')
    {
        return None;
    }
    let ip: IpAddr = term.parse().ok()?;
    let key = IpKey::of(ip);
    // Canonical only: `ip.to_string() == term`, checked without allocating for IPv4.
    let canonical = match ip {
        IpAddr::V4(_) => {
            !b.iter().any(|c| !c.is_ascii_digit() && *c != b'.') && {
                b.split(|c| *c == b'.')
                    .all(|oct| oct.len() == 1 || oct.first() != Some(&b'0'))
            }
        }
        IpAddr::V6(_) => ip.to_string() == term,
    };
    canonical.then_some(key)
}

/// An address as split format 3 indexes it: 4 or 16 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IpKey {
    bytes: [u8; 16],
    len: u8,
}

impl IpKey {
    /// The key of an address (the key [`ip_key`] gives its canonical text).
    pub fn of(ip: IpAddr) -> IpKey {
        match ip {
            IpAddr::V4(v4) => {
                let mut bytes = [0; 16];
                bytes[..4].copy_from_slice(&v4.octets());
                IpKey { bytes, len: 4 }
            }
            IpAddr::V6(v6) => IpKey {
                bytes: v6.octets(),
                len: 16,
            },
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

/// An index term as [`walk_terms`] yields it: an address not yet formatted, or text.
#[derive(Debug, Clone, Copy)]
enum RawTerm<'a> {
    /// An address; its term is its canonical text (`IpAddr`'s display).
    Ip(IpAddr),
    Text(TermKind, &'a str),
}

/// Calls `f` for every index term of `event` (the one walk behind [`event_terms`] and
/// [`index_keys`]). Terms may repeat.
fn walk_terms(event: &Event, mut f: impl FnMut(RawTerm<'_>)) {
    event.observables(|o| match o.value {
        ObservableValue::Ip(ip) => f(RawTerm::Ip(ip)),
        ObservableValue::Text(ObservableKind::Domain, d) => {
            let d = normalize_domain(d);
            if let Ok(ip) = d.parse::<IpAddr>() {
                f(RawTerm::Ip(ip));
            } else {
                domain_and_parents(&d, |p| f(RawTerm::Text(TermKind::Domain, p)));
            }
        }
        ObservableValue::Text(ObservableKind::Url, u) => {
            let u = u.trim();
            f(RawTerm::Text(TermKind::Url, u));
            let bare = url_without_scheme(u);
            if bare != u {
                f(RawTerm::Text(TermKind::Url, bare));
            }
            if let Some(h) = url_host(u) {
                let h = normalize_domain(h);
                if let Ok(ip) = h.parse::<IpAddr>() {
                    f(RawTerm::Ip(ip));
                } else {
                    domain_and_parents(&h, |p| f(RawTerm::Text(TermKind::Domain, p)));
                }
            }
        }
        ObservableValue::Text(kind, v) => {
            let v = v.trim().to_lowercase();
            if !v.is_empty() {
                f(RawTerm::Text(TermKind::of(kind), &v));
            }
        }
    });
}

/// Calls `f(kind, term)` for every index term of `event`. Terms may repeat; the index and the
/// matchers treat them as a set.
pub fn event_terms(event: &Event, mut f: impl FnMut(TermKind, &str)) {
    let mut buf = String::new();
    walk_terms(event, |t| match t {
        RawTerm::Ip(ip) => {
            buf.clear();
            use std::fmt::Write;
            let _ = write!(buf, "{ip}");
            f(TermKind::Ip, &buf);
        }
        RawTerm::Text(kind, t) => f(kind, t),
    });
}

/// The terms a split of format 3 or 4 indexes, routed to their fields: `ip(key)` for every
/// term that is an address in canonical text (`ip_bytes`), `observable(term)` for the other
/// terms of `observables`, `stem(term)` for URL stems (`url_stem`). The same terms and fields
/// as [`index_terms`] with [`ip_key`] applied to each observable term, without formatting
/// addresses to text and parsing them back (an address's display is canonical, so its key is
/// its own bytes). Terms may repeat.
pub fn index_keys(
    event: &Event,
    mut ip: impl FnMut(IpKey),
    mut observable: impl FnMut(&str),
    mut stem: impl FnMut(&str),
) {
    walk_terms(event, |t| match t {
        RawTerm::Ip(addr) => ip(IpKey::of(addr)),
        RawTerm::Text(TermKind::Url, t) if t.contains('?') => stem(url_stem(t)),
        RawTerm::Text(_, t) => match ip_key(t) {
            Some(k) => ip(k),
            None => observable(t),
        },
    });
}

/// Normalizes one hunt indicator to the term it must equal in the `observables` field.
/// Returns `None` for blank input.
pub fn normalize_indicator(raw: &str) -> Option<String> {
    let s = raw.trim();
    if s.is_empty() {
        return None;
    }
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(ip.to_string());
    }
    if s.contains("://") || s.contains('/') {
        // A URL: as recorded (with scheme) or as blocklists write it (without); the index
        // holds both forms.
        return Some(s.to_string());
    }
    let domain = normalize_domain(s);
    if domain.is_empty() {
        return None;
    }
    // An address written with a trailing dot ("10.0.0.1.", "0::.") is an address, in the one
    // canonical form, so that normalizing twice gives the same term.
    if let Ok(ip) = domain.parse::<IpAddr>() {
        return Some(ip.to_string());
    }
    Some(domain)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(event_json: &str, expect: &str) {
        let ev: Event = serde_json::from_str(event_json).unwrap();
        let mut got = std::collections::BTreeSet::new();
        event_terms(&ev, |k, t| {
            got.insert(format!("{}:{t}", k.field_name()));
        });
        let got: Vec<_> = got.into_iter().collect();
        assert_eq!(got.join(" "), expect);
    }

    #[test]
    fn normalization_is_idempotent_on_mixed_trailing_dots_and_space() {
        // Found by the `indicator` fuzz target: "&\0\n." normalized to "&\0\n", then to "&\0".
        // And "0::." normalized to "0::", then to "::" (an address behind a trailing dot).
        for raw in [
            "&\0\n.",
            "a. .",
            "Example.COM. \t.",
            " x.example. ",
            "0::.",
            "10.0.0.1.",
        ] {
            let once = normalize_indicator(raw).unwrap();
            assert_eq!(
                normalize_indicator(&once).as_deref(),
                Some(once.as_str()),
                "{raw:?}"
            );
        }
        assert_eq!(normalize_domain("Example.COM. \t."), "example.com");
        assert_eq!(normalize_indicator("0::.").as_deref(), Some("::"));
    }

    #[test]
    fn proxy_event_terms() {
        check(
            r#"{"@timestamp":"2024-01-01T00:00:00Z","source":{"ip":"10.0.0.5"},
               "url":{"full":"http://WWW.Evil.example.COM:8080/a?b=1","domain":"www.evil.example.com"},
               "user":{"name":"Alice"}}"#,
            "domain:evil.example.com domain:example.com domain:www.evil.example.com \
             ip:10.0.0.5 url:WWW.Evil.example.COM:8080/a?b=1 \
             url:http://WWW.Evil.example.COM:8080/a?b=1 user:alice",
        );
    }

    #[test]
    fn dns_and_hash_terms() {
        check(
            r#"{"@timestamp":"2024-01-01T00:00:00Z",
               "dns":{"question":{"name":"C2.Bad.ORG."},"resolved_ip":["2001:DB8::1"]},
               "file":{"hash":{"sha256":"ABCDEF"}},"email":{"from":{"address":["X@Y.jp"]}}}"#,
            "domain:bad.org domain:c2.bad.org email:x@y.jp hash:abcdef ip:2001:db8::1",
        );
    }

    #[test]
    fn ip_in_domain_field_is_an_ip_term() {
        check(
            r#"{"@timestamp":"2024-01-01T00:00:00Z","url":{"full":"http://[2001:db8::2]:80/x"}}"#,
            "ip:2001:db8::2 url:[2001:db8::2]:80/x url:http://[2001:db8::2]:80/x",
        );
    }

    #[test]
    fn indicator_normalization() {
        for (raw, want) in [
            ("  Evil.COM. ", Some("evil.com")),
            ("2001:DB8:0::1", Some("2001:db8::1")),
            ("10.1.2.3", Some("10.1.2.3")),
            ("evil.com/Path", Some("evil.com/Path")),
            ("", None),
            ("   ", None),
            ("...", None),
            ("a..", Some("a")),
        ] {
            assert_eq!(normalize_indicator(raw).as_deref(), want, "{raw:?}");
        }
    }

    #[test]
    fn urls_with_a_query_string_are_indexed_by_their_stem() {
        let ev: Event = serde_json::from_str(
            r#"{"@timestamp":"2024-01-01T00:00:00Z","source":{"ip":"10.0.0.5"},
               "url":{"full":"https://Evil.example.com/a/b?id=1&r=http://x/y"},
               "user":{"name":"Alice"}}"#,
        )
        .unwrap();
        let (mut obs, mut stems) = (Vec::new(), Vec::new());
        index_terms(
            &ev,
            |t| obs.push(t.to_string()),
            |t| stems.push(t.to_string()),
        );
        obs.sort();
        stems.sort();
        stems.dedup();
        assert_eq!(
            obs,
            ["10.0.0.5", "alice", "evil.example.com", "example.com"]
        );
        assert_eq!(stems, ["Evil.example.com/a/b"]);
        // Every URL term with a `?` has a stem that its indicator form finds.
        event_terms(&ev, |k, t| {
            if k == TermKind::Url && t.contains('?') {
                let ind = normalize_indicator(t).unwrap();
                assert_eq!(indicator_stem(&ind), Some("Evil.example.com/a/b"), "{t}");
            }
        });
        assert_eq!(indicator_stem("evil.com?x=1"), Some("evil.com"));
        assert_eq!(indicator_stem("evil.com/x"), None);
    }

    #[test]
    fn ip_keys_only_for_canonical_addresses() {
        let k = |t: &str| ip_key(t).map(|k| k.as_bytes().to_vec());
        assert_eq!(k("10.0.0.1"), Some(vec![10, 0, 0, 1]));
        assert_eq!(k("0.0.0.0"), Some(vec![0, 0, 0, 0]));
        assert_eq!(k("2001:db8::1").map(|b| b.len()), Some(16));
        assert_eq!(k("::ffff:1.2.3.4").map(|b| b.len()), Some(16));
        for not in [
            "2001:DB8::1",
            "0:0::1",
            "010.0.0.1",
            "evil.com",
            "",
            "1.2.3",
            "abc",
            "a.b",
        ] {
            assert_eq!(k(not), None, "{not:?}");
        }
    }

    proptest::proptest! {
        /// `ip_key` accepts exactly the terms that are an address's canonical text.
        #[test]
        fn ip_key_is_canonical_text(v4 in proptest::prelude::any::<u32>(), v6 in proptest::prelude::any::<u128>(), s in "[0-9a-f.:]{0,20}") {
            let a = std::net::Ipv4Addr::from(v4).to_string();
            proptest::prop_assert_eq!(ip_key(&a).map(|k| k.as_bytes().to_vec()), Some(v4.to_be_bytes().to_vec()));
            let b = std::net::Ipv6Addr::from(v6).to_string();
            proptest::prop_assert_eq!(ip_key(&b).map(|k| k.as_bytes().to_vec()), Some(v6.to_be_bytes().to_vec()));
            let canonical = s.parse::<IpAddr>().is_ok_and(|ip| ip.to_string() == s);
            proptest::prop_assert_eq!(ip_key(&s).is_some(), canonical, "{:?}", s);
        }
    }

    #[test]
    fn parents_stop_at_two_labels() {
        let mut v = Vec::new();
        domain_and_parents("a.b.c.d", |p| v.push(p.to_string()));
        assert_eq!(v, ["a.b.c.d", "b.c.d", "c.d"]);
        v.clear();
        domain_and_parents("localhost", |p| v.push(p.to_string()));
        assert_eq!(v, ["localhost"]);
        v.clear();
        domain_and_parents("a..b", |p| v.push(p.to_string()));
        assert_eq!(v, ["a..b", ".b"]);
    }

    proptest::proptest! {
        #[test]
        fn url_host_never_panics(s in ".{0,80}") {
            let _ = url_host(&s);
            let _ = normalize_indicator(&s);
            let mut n = 0;
            domain_and_parents(&s, |_| n += 1);
        }
    }

    /// What a split indexes, field by field, through the reference path ([`index_terms`]
    /// with [`ip_key`] on each observable term, as split building did before
    /// [`index_keys`]) and through [`index_keys`]: (addresses, observables, stems), sorted.
    type Indexed = (Vec<Vec<u8>>, Vec<String>, Vec<String>);

    fn indexed_both_ways(ev: &Event) -> (Indexed, Indexed) {
        let (mut ips, mut obs, mut stems) = (Vec::new(), Vec::new(), Vec::new());
        index_terms(
            ev,
            |t| match ip_key(t) {
                Some(k) => ips.push(k.as_bytes().to_vec()),
                None => obs.push(t.to_string()),
            },
            |t| stems.push(t.to_string()),
        );
        let reference = (ips, obs, stems);
        let (mut ips, mut obs, mut stems) = (Vec::new(), Vec::new(), Vec::new());
        index_keys(
            ev,
            |k| ips.push(k.as_bytes().to_vec()),
            |t| obs.push(t.to_string()),
            |t| stems.push(t.to_string()),
        );
        // Same terms in the same order (not only the same sets).
        (reference, (ips, obs, stems))
    }

    #[test]
    fn index_keys_index_what_index_terms_and_ip_key_indexed() {
        for json in [
            r#"{"@timestamp":"2024-01-01T00:00:00Z","source":{"ip":"10.0.0.5"},"destination":{"ip":"::ffff:1.2.3.4","domain":"10.0.0.7."},
               "url":{"full":"http://WWW.Evil.example.COM:8080/a?b=1","domain":"www.evil.example.com"},"user":{"name":"010.0.0.1"}}"#,
            r#"{"@timestamp":"2024-01-01T00:00:00Z","url":{"full":"http://[2001:DB8::2]:80/x?y"},"user":{"name":"2001:DB8::3","email":"::1"},
               "dns":{"question":{"name":"C2.Bad.ORG."},"resolved_ip":["2001:DB8::1","192.0.2.1"]},"host":{"ip":["::","0.0.0.0"]}}"#,
            r#"{"@timestamp":"2024-01-01T00:00:00Z","url":{"full":"https://192.0.2.9/p"},"source":{"domain":"::ffff:c000:0201"},
               "file":{"name":"1.2.3.4","hash":{"sha256":"ABCDEF"}},"email":{"from":{"address":["X@Y.jp"]}}}"#,
        ] {
            let ev: Event = serde_json::from_str(json).unwrap();
            let (reference, fast) = indexed_both_ways(&ev);
            assert_eq!(fast, reference, "{json}");
        }
    }

    fn ip_text() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        prop_oneof![
            any::<u32>().prop_map(|v| std::net::Ipv4Addr::from(v).to_string()),
            any::<u128>().prop_map(|v| std::net::Ipv6Addr::from(v).to_string()),
            any::<u32>().prop_map(|v| std::net::Ipv4Addr::from(v).to_ipv6_mapped().to_string()),
            // Non-canonical spellings and text that only looks like an address.
            any::<u32>().prop_map(|v| format!("0{}", std::net::Ipv4Addr::from(v))),
            any::<u128>().prop_map(|v| std::net::Ipv6Addr::from(v).to_string().to_uppercase()),
            "[0-9a-fA-F.:]{1,20}",
            "[a-z0-9.-]{1,24}",
        ]
    }

    proptest::proptest! {
        #[test]
        fn index_keys_agree_with_index_terms_and_ip_key(
            src in proptest::option::of(any_ip()),
            dst in proptest::option::of(any_ip()),
            domain in proptest::option::of(ip_text()),
            host in ip_text(),
            query in proptest::option::of("[a-z0-9=&]{0,8}"),
            user in proptest::option::of(ip_text()),
            qname in proptest::option::of(ip_text()),
        ) {
            let mut ev = serde_json::json!({"@timestamp": "2024-01-01T00:00:00Z"});
            if let Some(ip) = src { ev["source"] = serde_json::json!({"ip": ip.to_string()}); }
            let mut d = serde_json::json!({});
            if let Some(ip) = dst { d["ip"] = serde_json::json!(ip.to_string()); }
            if let Some(dom) = &domain { d["domain"] = serde_json::json!(dom); }
            ev["destination"] = d;
            let url = match &query {
                Some(q) => format!("http://{host}/p?{q}"),
                None => format!("https://{host}/p"),
            };
            ev["url"] = serde_json::json!({"full": url});
            if let Some(u) = &user { ev["user"] = serde_json::json!({"name": u}); }
            if let Some(q) = &qname { ev["dns"] = serde_json::json!({"question": {"name": q}}); }
            let ev: Event = serde_json::from_value(ev).unwrap();
            let (reference, fast) = indexed_both_ways(&ev);
            proptest::prop_assert_eq!(fast, reference);
        }
    }

    fn any_ip() -> impl proptest::strategy::Strategy<Value = IpAddr> {
        use proptest::prelude::*;
        prop_oneof![
            any::<u32>().prop_map(|v| IpAddr::V4(v.into())),
            any::<u128>().prop_map(|v| IpAddr::V6(v.into())),
            any::<u32>().prop_map(|v| IpAddr::V6(std::net::Ipv4Addr::from(v).to_ipv6_mapped())),
        ]
    }
}
