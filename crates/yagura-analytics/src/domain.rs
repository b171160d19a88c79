//! Domain names: the registered domain (public-suffix aware, with the list the `psl` crate
//! compiles in) and the subdomain part left of it.

/// The registered domain ("eTLD+1") of a lower-case name without trailing dot, or `None` for
/// a bare public suffix, an IP literal or an empty name.
pub fn registered_domain(name: &str) -> Option<&str> {
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty()
        || name.split('.').any(str::is_empty)
        || name.parse::<std::net::IpAddr>().is_ok()
    {
        return None;
    }
    let d = psl::domain(name.as_bytes())?;
    // `psl::domain` returns a suffix of its input, so the byte length locates it.
    let len = d.as_bytes().len();
    name.get(name.len().checked_sub(len)?..)
}

/// The part of `name` left of its registered domain, without the joining dot ("" if none).
pub fn subdomain_of<'a>(name: &'a str, registered: &str) -> &'a str {
    let name = name.strip_suffix('.').unwrap_or(name);
    match name.len().checked_sub(registered.len() + 1) {
        Some(end) if name.ends_with(registered) && name.as_bytes().get(end) == Some(&b'.') => {
            name.get(..end).unwrap_or("")
        }
        _ => "",
    }
}

/// The label left of the public suffix: `example` in `www.example.co.uk`.
pub fn second_level_label(registered: &str) -> &str {
    registered.split('.').next().unwrap_or(registered)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(name: &str, expect: Option<(&str, &str)>) {
        let got = registered_domain(name).map(|r| (r, subdomain_of(name, r)));
        assert_eq!(got, expect, "{name}");
    }

    #[test]
    fn registered_domains() {
        check("www.example.com", Some(("example.com", "www")));
        check("a.b.example.co.uk", Some(("example.co.uk", "a.b")));
        check("example.com.", Some(("example.com", "")));
        check("foo.blogspot.com", Some(("foo.blogspot.com", "")));
        check("x1.y2.github.io", Some(("y2.github.io", "x1")));
        check("com", None);
        check("", None);
        check("10.0.0.1", None);
        check("a..example.com", None);
        check(".example.com", None);
        check(
            "dGhpcyBpcyBkYXRh.t.evil-tunnel.net",
            Some(("evil-tunnel.net", "dGhpcyBpcyBkYXRh.t")),
        );
    }

    #[test]
    fn second_level() {
        assert_eq!(second_level_label("example.co.uk"), "example");
        assert_eq!(second_level_label("x"), "x");
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in "[a-z0-9.\\-]{0,40}") {
            if let Some(r) = registered_domain(&s) {
                proptest::prop_assert!(s.strip_suffix('.').unwrap_or(&s).ends_with(r));
                let _ = subdomain_of(&s, r);
            }
        }
    }
}
