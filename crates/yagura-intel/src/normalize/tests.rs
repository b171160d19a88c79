use super::*;
use proptest::prelude::*;

/// One table-driven helper: `input` classified as a list line gives `expect`
/// (`kind value[:port]`, or `error: message`).
fn check(input: &str, expect: &str) {
    let got = match classify(input) {
        Ok(n) => match n.port {
            Some(p) => format!("{} {} port {p}", n.kind, n.value),
            None => format!("{} {}", n.kind, n.value),
        },
        Err(e) => format!("error: {e}"),
    };
    assert_eq!(got, expect, "input {input:?}");
}

#[test]
fn classifies_list_lines() {
    check("1.2.3.4", "ipv4 1.2.3.4");
    check(" 1.2.3.4 ", "ipv4 1.2.3.4");
    check("95.129.236.208:443", "ipv4 95.129.236.208 port 443");
    check("[0:0:0:0:0:ffff:2d3e:c649]:53", "ipv4 45.62.198.73 port 53");
    check(
        "2400:6180:0:d0::1008:2001",
        "ipv6 2400:6180:0:d0::1008:2001",
    );
    check("::ffff:10.0.0.1", "ipv4 10.0.0.1");
    check("162.255.119.0/24", "cidr 162.255.119.0/24");
    check("10.0.0.0/8", "cidr 10.0.0.0/8");
    check("10.1.2.3/8", "url http://10.1.2.3/8");
    check("1.2.3.4/1", "url http://1.2.3.4/1");
    check(
        "0.0.0.0/0",
        "error: invalid network \"0.0.0.0/0 (wider than /8: not an indicator)\"",
    );
    check("10.1.2.3/32", "ipv4 10.1.2.3");
    check(
        "2000::/8",
        "error: invalid network \"2000::/8 (wider than /16: not an indicator)\"",
    );
    check("2001:db8::/32", "cidr 2001:db8::/32");
    check("Evil.Example.", "domain evil.example");
    check("*.evil.example", "domain evil.example");
    check("bücher.example", "domain xn--bcher-kva.example");
    check("xn--80af4bcj.online", "domain xn--80af4bcj.online");
    check("dvr.petcp.com:8080", "domain dvr.petcp.com port 8080");
    check("http://147.78.103.91", "url http://147.78.103.91/");
    check(
        "HTTP://Evil.Example:80/a/./b/../c?x=1#frag",
        "url http://evil.example/a/c?x=1",
    );
    check("evil.example/gate.php", "url http://evil.example/gate.php");
    check("/pay_or_leak/", "url /pay_or_leak/");
    check("/a/%7euser/%2f%e2%82%ac", "url /a/~user/%2F%E2%82%AC");
    check(
        "/Госуслуги.apk",
        "url /%D0%93%D0%BE%D1%81%D1%83%D1%81%D0%BB%D1%83%D0%B3%D0%B8.apk",
    );
    check(
        "ftp://ftp.fasttradeco.com",
        "url ftp://ftp.fasttradeco.com/",
    );
    check("https://EVIL.example:443", "url https://evil.example/");
    check(
        "https://evil.example:8443/X",
        "url https://evil.example:8443/X",
    );
    check(
        "D41D8CD98F00B204E9800998ECF8427E",
        "md5 d41d8cd98f00b204e9800998ecf8427e",
    );
    check(
        "da39a3ee5e6b4b0d3255bfef95601890afd80709",
        "sha1 da39a3ee5e6b4b0d3255bfef95601890afd80709",
    );
    check(
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    );
    check("Phish@Evil.Example", "email phish@evil.example");
    check(
        "182.86.133:8880",
        "error: invalid IP address \"182.86.133:8880\"",
    );
    check("182.86.133", "error: invalid IP address \"182.86.133\"");
    check(
        "(gomon|perevod)[0-9]{2,3}\\.ru",
        "error: invalid domain name \"(gomon|perevod)[0-9]{2,3}\\\\.ru\": characters outside letters, digits, '-', '_' and '.'",
    );
    check("a..b", "error: invalid domain name \"a..b\": empty label");
    check("", "error: empty value");
    check("http://", "error: invalid URL \"http://\": empty host");
}

#[test]
fn typed_values() {
    let v = |k, s| value(k, s).map(|n| n.value).map_err(|e| e.to_string());
    assert_eq!(
        v(IndicatorKind::Md5, "abc"),
        Err("invalid md5 hash \"abc\": expected 32 hexadecimal digits".into())
    );
    assert_eq!(
        v(IndicatorKind::FileName, "C:\\Temp\\Invoice.EXE"),
        Ok("invoice.exe".into())
    );
    assert_eq!(
        v(IndicatorKind::Ja4, "T13D1516H2_8daaf6152771_02713d6af862"),
        Ok("t13d1516h2_8daaf6152771_02713d6af862".into())
    );
    assert_eq!(
        value(IndicatorKind::Ipv4, "2001:db8::1").map(|n| n.kind),
        Ok(IndicatorKind::Ipv6)
    );
    assert_eq!(
        v(IndicatorKind::Email, "mailto:A@B.example"),
        Ok("a@b.example".into())
    );
}

#[test]
fn keys_borrow_canonical_values() {
    assert!(matches!(
        domain_key("www.evil.example"),
        Some(Cow::Borrowed(_))
    ));
    assert_eq!(
        domain_key("WWW.Evil.Example.").as_deref(),
        Some("www.evil.example")
    );
    assert_eq!(domain_key("a b"), None);
    assert!(matches!(
        url_key("http://evil.example/a?b=1"),
        Some(Cow::Borrowed("evil.example/a?b=1"))
    ));
    assert_eq!(
        url_key("http://Evil.example:80/a/../b").as_deref(),
        Some("evil.example/b")
    );
    assert_eq!(url_key("http://127.1/x").as_deref(), Some("127.0.0.1/x"));
    assert_eq!(url_resource("/gate.php"), "/gate.php");
    assert_eq!(
        split_resource("evil.example:8080/a?b"),
        ("evil.example:8080", "/a?b")
    );
}

fn url_like() -> impl Strategy<Value = String> {
    let scheme = prop_oneof!["http://", "https://", "HTTP://", "ftp://", ""];
    let host = prop_oneof![
        "[a-zA-Z0-9.-]{1,20}",
        "[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}",
        "(0x)?[0-9a-f]{1,4}(\\.[0-9]{1,3}){0,3}",
        "xn--[a-z0-9]{1,8}\\.[a-z]{2,3}",
        "[a-z]{1,5}\\.xn--[a-z0-9]{1,8}\\.[a-z]{2,3}",
        "[a-z0-9_]{1,8}\\.[a-z]{2,3}",
        "[a-z]{1,4}\\.0x[0-9a-f]{1,3}",
        "[a-zé]{1,6}\\.example",
    ];
    let port = prop_oneof!["", ":80", ":443", ":8080", ":0", ":99999", ":"];
    let path = "(/[a-zA-Z0-9._~%:@!$&'()*+,;=|^{}\\[\\]\\\\\"<> -]{0,8}){0,4}";
    let query = prop_oneof!["", "\\?[a-zA-Z0-9=&%/.?'-]{0,10}"];
    let frag = prop_oneof!["", "#[a-z]{0,4}"];
    (scheme, host, port, path, query, frag)
        .prop_map(|(s, h, p, pa, q, f)| format!("{s}{h}{p}{pa}{q}{f}"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// The borrowed fast path agrees with the full normalization whenever it applies.
    #[test]
    fn url_fast_path_agrees(raw in url_like()) {
        let fast = url_key(&raw);
        let slow = url(&raw).ok().map(|n| url_resource(&n).to_owned());
        prop_assert_eq!(fast.as_deref(), slow.as_deref());
    }

    /// The URL fast path given the event's name as a known host (what the matcher does with
    /// `destination.domain`) agrees with the plain fast path: for the URL's own host when the
    /// name pass finds it a URL host, and for names that are not the URL's host.
    #[test]
    fn url_fast_with_a_known_host_agrees(
        raw in url_like(),
        other in "[a-z0-9_-]{1,6}(\\.[a-z0-9_-]{1,6}){0,2}|xn--[a-z]{1,4}\\.[a-z]{2}",
        pick in 0u8..3,
    ) {
        let after_scheme = raw.split_once("://").map_or(raw.as_str(), |(_, r)| r);
        let host = after_scheme.split([':', '/']).next().unwrap_or("");
        let name = match pick {
            0 => host.to_owned(),
            1 => other,
            // A prefix of the host (ends inside it: never followed by `:` or `/`).
            _ => host.get(..host.len() / 2).unwrap_or("").to_owned(),
        };
        let known = match crate::index::canonical_domain_pass(name.as_bytes(), |_, _| {}) {
            Some(true) => KnownHost { name: name.as_bytes() },
            _ => KnownHost::default(),
        };
        prop_assert_eq!(url_fast_known_host(&raw, known), url_fast(&raw));
    }

    #[test]
    fn url_normalization_is_idempotent(raw in url_like()) {
        if let Ok(n) = url(&raw) {
            let again = url(&n);
            prop_assert_eq!(again.as_deref(), Ok(n.as_str()));
        }
    }

    #[test]
    fn domain_key_agrees(raw in "[a-zA-Z0-9._é-]{0,30}\\.?") {
        let fast = domain_key(&raw).map(|c| c.into_owned());
        prop_assert_eq!(fast, domain(&raw).ok());
    }

    #[test]
    fn classify_never_panics(raw in "\\PC{0,64}") {
        let _ = classify(&raw);
        let _ = url_key(&raw);
        let _ = email_key(&raw);
    }
}

#[test]
fn file_urls_whose_host_would_not_survive_are_refused() {
    // Found by the `normalize` fuzz target: "file://A//A:?C\u{4}" normalized to
    // "file://a/A:?C", which parses again as a file URL without a host ("A:" reads as a
    // Windows drive letter) — not idempotent.
    assert!(url("file://A//A:?C\u{4}").is_err());
    assert!(url("file://a/A:?C").is_err());
    assert_eq!(
        url("file://Server/share/x.exe").as_deref(),
        Ok("file://server/share/x.exe")
    );
}

#[test]
fn bare_paths_that_would_read_as_network_paths_are_refused() {
    // Found by the `normalize` fuzz target: "/\/6" normalized to "///6", which normalizes
    // again as the URL http://0.0.0.6/ — not idempotent, and not the same indicator.
    assert!(url("/\\/6").is_err());
    assert_eq!(
        url("/wp-admin/shell.php").as_deref(),
        Ok("/wp-admin/shell.php")
    );
    // And "0X-/s%`1s%\n2E+/:": the parser drops the newline, making a "%2E" the percent pass
    // had not seen.
    // And "/%1%66": decoding "%66" makes a new escape "%1f".
    for raw in [
        "/\\/6",
        "/\\\\x",
        "/%2F/x",
        "0X-/s%`1s%\n2E+/:",
        "/%1%66x",
        "h.example/%%32%65",
    ] {
        if let Ok(u) = url(raw) {
            assert_eq!(url(&u).as_deref(), Ok(u.as_str()), "{raw:?}");
        }
    }
}
