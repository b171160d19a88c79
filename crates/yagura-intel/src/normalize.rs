//! Normalization of indicator values and of the event values they are compared with.
//!
//! Both sides of a comparison go through the same functions, so a match never depends on how a
//! feed or a reader spelled a value:
//!
//! * domains and host names: trimmed, one trailing dot removed, lower case, IDNA (UTS #46) to
//!   punycode (`bücher.example` → `xn--bcher-kva.example`), labels checked;
//! * URLs: RFC 3986 §6.2.2 syntax-based normalization (case of scheme and host, percent-encoding
//!   normalization: unreserved characters decoded, other escapes upper-cased; dot-segment
//!   removal) and §6.2.3 scheme-based normalization (default port removed, empty path → `/`),
//!   fragment dropped (it never reaches the network). A URL without a scheme (`evil.example/gate.php`,
//!   as maltrail publishes them) is read as `http://`; a bare path (`/gate.php`, an RFC 3986
//!   relative reference) stays a path and matches that path on any host;
//! * hashes: lower-case hex of the exact length; e-mail addresses: lower case, domain as above;
//! * IP addresses: parsed (IPv4-mapped IPv6 becomes IPv4), networks truncated to their prefix.
//!
//! The `*_key` functions are the hot-path variants used by the matcher on event values: they
//! borrow the input when it is already canonical (the common case, since readers lower-case
//! names) and fall back to the full normalization otherwise.

use std::borrow::Cow;
use std::net::IpAddr;

use ipnet::IpNet;
use yagura_model::IndicatorKind;

/// Why a value could not be normalized.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NormalizeError {
    #[error("empty value")]
    Empty,
    #[error("invalid domain name {0:?}: {1}")]
    Domain(String, &'static str),
    #[error("invalid URL {0:?}: {1}")]
    Url(String, String),
    #[error("invalid IP address {0:?}")]
    Ip(String),
    #[error("invalid network {0:?}")]
    Cidr(String),
    #[error("invalid {kind} hash {value:?}: expected {len} hexadecimal digits")]
    Hash {
        kind: IndicatorKind,
        value: String,
        len: usize,
    },
    #[error("invalid e-mail address {0:?}")]
    Email(String),
    #[error("invalid port in {0:?}")]
    Port(String),
    #[error("invalid {0} value {1:?}")]
    Other(IndicatorKind, String),
}

/// A normalized indicator value as read from a feed line: the kind, the canonical value and,
/// for `ip:port` trails, the destination port it is restricted to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Normalized {
    pub kind: IndicatorKind,
    pub value: String,
    pub port: Option<u16>,
}

pub(crate) const MAX_DOMAIN_LEN: usize = 253;
/// Narrowest prefix an untyped list line may list as a network (wider ones would match a
/// large part of the Internet and are rejected with that reason).
pub const MIN_V4_PREFIX: u8 = 8;
pub const MIN_V6_PREFIX: u8 = 16;
pub(crate) const MAX_LABEL_LEN: usize = 63;

/// Byte classes of the hot-path name checks, one table load per byte (the matcher checks
/// every byte of every event name): bit 0 = a plain domain byte (lower-case letter, digit,
/// `-`, `_`, `.`), bit 1 = a URL host label byte (lower-case letter, digit, `-`). (The
/// matcher's pass over event names checks eight bytes at a time instead, see
/// [`name_chunk_classes`].)
const NAME_BYTE: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0usize;
    while b < 256 {
        let c = b as u8;
        let label = c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-';
        if label || c == b'_' || c == b'.' {
            t[b] |= 1;
        }
        if label {
            t[b] |= 2;
        }
        b += 1;
    }
    t
};

fn is_plain_domain_byte(b: u8) -> bool {
    NAME_BYTE[usize::from(b)] & 1 != 0
}

fn is_url_host_label_byte(b: u8) -> bool {
    NAME_BYTE[usize::from(b)] & 2 != 0
}

/// Normalizes a domain or host name.
pub fn domain(raw: &str) -> Result<String, NormalizeError> {
    let t = raw.trim();
    let t = t.strip_suffix('.').unwrap_or(t);
    // `*.evil.example` in some feeds means "the domain and its subdomains", which is what a
    // domain indicator already means.
    let t = t.strip_prefix("*.").unwrap_or(t);
    if t.is_empty() {
        return Err(NormalizeError::Empty);
    }
    let bad = |why| NormalizeError::Domain(raw.to_owned(), why);
    let lowered;
    let ascii: &str = if t.is_ascii() {
        lowered = t.to_ascii_lowercase();
        &lowered
    } else {
        lowered =
            idna::domain_to_ascii(t).map_err(|_| bad("not a valid internationalized name"))?;
        &lowered
    };
    if ascii.len() > MAX_DOMAIN_LEN {
        return Err(bad("longer than 253 characters"));
    }
    if !ascii.bytes().all(is_plain_domain_byte) {
        return Err(bad("characters outside letters, digits, '-', '_' and '.'"));
    }
    for label in ascii.split('.') {
        if label.is_empty() {
            return Err(bad("empty label"));
        }
        if label.len() > MAX_LABEL_LEN {
            return Err(bad("label longer than 63 characters"));
        }
    }
    Ok(ascii.to_owned())
}

/// Hot-path domain key for an event value: borrowed when already canonical; `None` when the
/// value is not a domain name at all.
pub fn domain_key(raw: &str) -> Option<Cow<'_, str>> {
    if is_canonical_domain(raw.as_bytes()) {
        return Some(Cow::Borrowed(raw));
    }
    domain(raw).ok().map(Cow::Owned)
}

/// One pass: plain bytes only, no empty label (so no leading, trailing or doubled dot), labels
/// of at most 63 bytes, at most 253 bytes in all. (The matcher calls this for every name of
/// every event: substring searches here cost more than the lookups.)
pub(crate) fn is_canonical_domain(b: &[u8]) -> bool {
    if b.is_empty() || b.len() > MAX_DOMAIN_LEN {
        return false;
    }
    let mut label = 0usize;
    for &c in b {
        if c == b'.' {
            if label == 0 {
                return false;
            }
            label = 0;
        } else if is_plain_domain_byte(c) {
            label += 1;
            if label > MAX_LABEL_LEN {
                return false;
            }
        } else {
            return false;
        }
    }
    label > 0
}

/// Parses an IP address (IPv4-mapped IPv6 addresses become IPv4).
pub fn ip(raw: &str) -> Result<IpAddr, NormalizeError> {
    let t = raw.trim();
    let t = t
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(t);
    let a: IpAddr = t.parse().map_err(|_| NormalizeError::Ip(raw.to_owned()))?;
    Ok(canonical_ip(a))
}

/// IPv4-mapped IPv6 (`::ffff:1.2.3.4`) as IPv4; everything else unchanged.
pub fn canonical_ip(a: IpAddr) -> IpAddr {
    match a {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

/// Parses a network in CIDR notation, truncated to its prefix (`10.1.2.3/8` → `10.0.0.0/8`).
pub fn cidr(raw: &str) -> Result<IpNet, NormalizeError> {
    let t = raw.trim();
    let net: IpNet = t
        .parse()
        .map_err(|_| NormalizeError::Cidr(raw.to_owned()))?;
    Ok(net.trunc())
}

/// Lower-case hex of the length the hash kind requires.
pub fn hash(kind: IndicatorKind, raw: &str) -> Result<String, NormalizeError> {
    let len = match kind {
        IndicatorKind::Md5 => 32,
        IndicatorKind::Sha1 => 40,
        IndicatorKind::Sha256 => 64,
        _ => return Err(NormalizeError::Other(kind, raw.to_owned())),
    };
    let t = raw.trim();
    if t.len() != len || !t.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(NormalizeError::Hash {
            kind,
            value: raw.to_owned(),
            len,
        });
    }
    Ok(t.to_ascii_lowercase())
}

/// The hash kind of a hex string by its length.
pub fn hash_kind(raw: &str) -> Option<IndicatorKind> {
    if !raw.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    match raw.len() {
        32 => Some(IndicatorKind::Md5),
        40 => Some(IndicatorKind::Sha1),
        64 => Some(IndicatorKind::Sha256),
        _ => None,
    }
}

/// Hot-path hash key: borrowed when already lower case.
pub fn hash_key(raw: &str) -> Cow<'_, str> {
    if raw.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(raw.to_ascii_lowercase())
    } else {
        Cow::Borrowed(raw)
    }
}

/// `local@domain`, lower case, domain normalized like a domain name.
pub fn email(raw: &str) -> Result<String, NormalizeError> {
    let t = raw.trim();
    let t = t
        .strip_prefix("mailto:")
        .or_else(|| t.strip_prefix('<').and_then(|t| t.strip_suffix('>')))
        .unwrap_or(t);
    let bad = || NormalizeError::Email(raw.to_owned());
    let (local, dom) = t.rsplit_once('@').ok_or_else(bad)?;
    if local.is_empty()
        || local.len() > 64
        || local
            .bytes()
            .any(|b| b.is_ascii_whitespace() || b == b'@' || b.is_ascii_control())
    {
        return Err(bad());
    }
    let dom = domain(dom).map_err(|_| bad())?;
    let mut out = local.to_lowercase();
    out.push('@');
    out.push_str(&dom);
    Ok(out)
}

/// Hot-path e-mail key.
pub fn email_key(raw: &str) -> Option<Cow<'_, str>> {
    let plain = raw
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.+@".contains(&b));
    if plain && raw.bytes().filter(|&b| b == b'@').count() == 1 && !raw.ends_with('.') {
        return Some(Cow::Borrowed(raw));
    }
    email(raw).ok().map(Cow::Owned)
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// [`normalize_percent`] until nothing changes: decoding `%66` in `%1%66` makes a new escape
/// `%1f`, which the next pass would upper-case (found by the `normalize` fuzz target). Every
/// pass that changes something either shortens the string or only upper-cases, so this ends.
fn normalize_percent_fully(s: &str) -> Cow<'_, str> {
    let mut cur = normalize_percent(s);
    loop {
        let next = normalize_percent(&cur);
        if next == cur {
            return cur;
        }
        cur = Cow::Owned(next.into_owned());
    }
}

/// RFC 3986 §6.2.2.2: decode percent-encoded unreserved characters, upper-case the hex digits
/// of the other escapes.
fn normalize_percent(s: &str) -> Cow<'_, str> {
    if !s.contains('%') {
        return Cow::Borrowed(s);
    }
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < b.len() {
        let c = b.get(i).copied().unwrap_or(0);
        if c == b'%' {
            let h = b.get(i + 1).copied().and_then(hex_val);
            let l = b.get(i + 2).copied().and_then(hex_val);
            if let (Some(h), Some(l)) = (h, l) {
                let v = h * 16 + l;
                if is_unreserved(v) {
                    out.push(char::from(v));
                } else {
                    out.push('%');
                    out.push(char::from(b"0123456789ABCDEF"[usize::from(h)]));
                    out.push(char::from(b"0123456789ABCDEF"[usize::from(l)]));
                }
                i += 3;
                continue;
            }
        }
        // Copy one whole UTF-8 character.
        let ch_len = s
            .get(i..)
            .and_then(|rest| rest.chars().next())
            .map_or(1, char::len_utf8);
        if let Some(chunk) = s.get(i..i + ch_len) {
            out.push_str(chunk);
        }
        i += ch_len;
    }
    Cow::Owned(out)
}

fn has_scheme(s: &str) -> bool {
    match s.find("://") {
        Some(p) if p > 0 => s.get(..p).is_some_and(|sch| {
            sch.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
                && sch.as_bytes().first().is_some_and(u8::is_ascii_alphabetic)
        }),
        _ => false,
    }
}

/// Normalizes a URL (see the module documentation). A bare path (`/gate.php?x=1`) is
/// normalized as a path and returned without scheme and host.
pub fn url(raw: &str) -> Result<String, NormalizeError> {
    let t = raw.trim();
    if t.is_empty() {
        return Err(NormalizeError::Empty);
    }
    let bad = |why: String| NormalizeError::Url(raw.to_owned(), why);
    // The URL standard removes tabs and newlines anywhere in a URL; do it before the
    // percent-escape pass so that "%\n2E" is seen as the "%2E" the parser will make of it.
    let stripped: Cow<'_, str> = if t.contains(['\t', '\n', '\r']) {
        Cow::Owned(t.replace(['\t', '\n', '\r'], ""))
    } else {
        Cow::Borrowed(t)
    };
    let t = normalize_percent_fully(&stripped);
    if t.starts_with('/') && !t.starts_with("//") {
        let u = url::Url::parse(&format!("http://h{t}")).map_err(|e| bad(e.to_string()))?;
        let mut out = u.path().to_owned();
        // "/\\/x" parses to the path "///x"; written down that would read as a network-path
        // reference (`//host/…`), a different indicator, so it is not a bare path.
        if out.starts_with("//") {
            return Err(bad("a bare path must not begin with //".to_owned()));
        }
        if let Some(q) = u.query() {
            out.push('?');
            out.push_str(q);
        }
        return Ok(out);
    }
    let with_scheme: Cow<'_, str> = if has_scheme(&t) {
        t
    } else {
        Cow::Owned(format!("http://{t}"))
    };
    let mut u = url::Url::parse(&with_scheme).map_err(|e| bad(e.to_string()))?;
    if u.cannot_be_a_base() || u.host_str().is_none_or(str::is_empty) {
        return Err(bad("no host".to_owned()));
    }
    u.set_fragment(None);
    if let Some(url::Host::Domain(host)) = u.host() {
        let canonical = domain(host).map_err(|e| bad(e.to_string()))?;
        if canonical != host {
            u.set_host(Some(&canonical))
                .map_err(|e| bad(e.to_string()))?;
        }
    }
    if u.query() == Some("") {
        u.set_query(None);
    }
    let out = u.to_string();
    // `file:` URLs have a quirk of the URL standard: a path whose first segment reads as a
    // Windows drive letter drops the host when parsed. "file://A//A:" serializes as
    // "file://a/A:", which parses again without a host (found by the `normalize` fuzz
    // target): such a URL is refused rather than normalized into another indicator.
    if u.scheme() == "file" && url::Url::parse(&out).map_or(true, |again| again.as_str() != out) {
        return Err(bad("a file URL that does not keep its host".to_owned()));
    }
    Ok(out)
}

/// The part of a normalized URL that identifies the resource independently of the scheme:
/// `host[:port]/path[?query]` (for a bare path, the path itself).
pub fn url_resource(normalized: &str) -> &str {
    match normalized.find("://") {
        Some(p) => normalized.get(p + 3..).unwrap_or(normalized),
        None => normalized,
    }
}

/// Splits a resource key (`host/path?query`) into (host-and-port, path-and-query).
pub fn split_resource(resource: &str) -> (&str, &str) {
    match resource.find('/') {
        Some(p) => (
            resource.get(..p).unwrap_or(""),
            resource.get(p..).unwrap_or(""),
        ),
        None => (resource, "/"),
    }
}

/// A host made of digits and dots is read by URL parsers as an IPv4 address in any of its
/// legacy spellings (`127.1`, `0x7f.0.0.1`, `010.0.0.1`): only the dotted-quad form that std
/// accepts is already canonical.
fn numeric_host_ok(host_port: &str) -> bool {
    let host = host_port.split(':').next().unwrap_or(host_port);
    let last = host.rsplit('.').next().unwrap_or(host);
    if !last.bytes().all(|b| b.is_ascii_digit()) && !last.starts_with("0x") {
        return true;
    }
    host.parse::<std::net::Ipv4Addr>().is_ok()
}

/// Bytes an event URL's path and query may hold for the fast path (the parser leaves them
/// as they are): printable ASCII except quotes, angle brackets, backslash, backtick, braces,
/// `%` (escapes are normalized), `#`, `^` and `|`. A table: the matcher tests every byte of
/// every event URL.
const FAST_URL_BYTE: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0usize;
    while b < 256 {
        let c = b as u8;
        t[b] = c.is_ascii_graphic()
            && !matches!(
                c,
                b'"' | b'<' | b'>' | b'\\' | b'`' | b'{' | b'}' | b'%' | b'#' | b'\'' | b'^' | b'|'
            );
        b += 1;
    }
    t
};

const URL_BAD: u8 = 0;
const URL_ORDINARY: u8 = 1;
const URL_SLASH: u8 = 2;
const URL_QUERY: u8 = 3;

/// [`FAST_URL_BYTE`] as classes for the path scan: bad, ordinary, `/`, `?`.
const FAST_URL_CLASS: [u8; 256] = {
    let mut t = [URL_BAD; 256];
    let mut b = 0usize;
    while b < 256 {
        if FAST_URL_BYTE[b] {
            t[b] = match b as u8 {
                b'/' => URL_SLASH,
                b'?' => URL_QUERY,
                _ => URL_ORDINARY,
            };
        }
        b += 1;
    }
    t
};

fn fast_url_byte_ok(b: u8) -> bool {
    FAST_URL_BYTE[usize::from(b)]
}

/// Hot-path URL resource key (see [`url_resource`]) of an event URL: borrowed when the URL is
/// already canonical http(s) with a lower-case host, no escapes, no dot segments and no
/// explicit default port; otherwise the full normalization.
pub fn url_key(raw: &str) -> Option<Cow<'_, str>> {
    if let Some(k) = url_fast(raw) {
        return Some(Cow::Borrowed(k.resource));
    }
    let n = url(raw).ok()?;
    Some(Cow::Owned(url_resource(&n).to_owned()))
}

/// An event URL that is already canonical (see [`url_key`]), split where the matcher probes
/// it: `resource` is `host[:port]/path?query` (a suffix of the raw URL), `path` the offset of
/// its first `/`, `query` the offset of its first `?` (the resource's length when there is
/// none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FastUrl<'a> {
    pub resource: &'a str,
    pub path: usize,
    pub query: usize,
}

// ---- eight bytes at a time (SWAR on a `u64`, no `unsafe`, no SIMD intrinsics) -----------

#[inline(always)]
pub(crate) fn le8(b: &[u8]) -> u64 {
    b.first_chunk::<8>().map_or(0, |c| u64::from_le_bytes(*c))
}

#[inline(always)]
pub(crate) fn le8_end(b: &[u8]) -> u64 {
    b.last_chunk::<8>().map_or(0, |c| u64::from_le_bytes(*c))
}

#[inline(always)]
pub(crate) fn le4(b: &[u8]) -> u64 {
    b.first_chunk::<4>()
        .map_or(0, |c| u64::from(u32::from_le_bytes(*c)))
}

#[inline(always)]
pub(crate) fn le4_end(b: &[u8]) -> u64 {
    b.last_chunk::<4>()
        .map_or(0, |c| u64::from(u32::from_le_bytes(*c)))
}

/// The high bit of every byte of a `u64`.
pub(crate) const HI: u64 = 0x8080_8080_8080_8080;

#[inline(always)]
const fn splat(b: u8) -> u64 {
    (b as u64) * 0x0101_0101_0101_0101
}

/// The high bit of each byte of `x7` (bytes below 0x80) set where the byte lies in
/// `lo..=hi` (`1 <= lo <= hi <= 0x7f`): no sum carries into the next byte.
#[inline(always)]
fn bytes_in_range(x7: u64, lo: u8, hi: u8) -> u64 {
    x7.wrapping_add(splat(0x80 - lo)) & !x7.wrapping_add(splat(0x7f - hi))
}

/// The classes of the eight bytes of `x` as high bits: (bytes that are not plain domain
/// bytes — lower-case letter, digit, `-`, `_`, `.` — , dots, underscores).
#[inline(always)]
pub(crate) fn name_chunk_classes(x: u64) -> (u64, u64, u64) {
    let x7 = x & !HI;
    let ascii = !x & HI;
    let unders = bytes_in_range(x7, b'_', b'_') & ascii;
    let ok = (bytes_in_range(x7, b'a', b'z')
        | bytes_in_range(x7, b'0', b'9')
        | bytes_in_range(x7, b'-', b'.'))
        & ascii
        | unders;
    let dots = bytes_in_range(x7, b'.', b'.') & ascii;
    (!ok & HI, dots, unders)
}

/// Up to 8 bytes as a little-endian `u64` (missing high bytes zero).
#[inline(always)]
pub(crate) fn le_partial(b: &[u8]) -> u64 {
    let len = b.len();
    if len >= 8 {
        le8(b)
    } else if len >= 4 {
        le4(b) | le4_end(b) << (8 * (len - 4))
    } else {
        b.iter()
            .enumerate()
            .fold(0, |w, (i, &c)| w | u64::from(c) << (8 * i))
    }
}

/// The fast path of [`url_key`] in one left-to-right pass (the matcher runs it on every event
/// URL): the host's bytes and labels (lower-case letters, digits and `-`, no empty label, none
/// over 63 bytes, no `xn--` label since IDNA would validate it, numeric hosts only in the
/// dotted-quad form, see [`numeric_host_ok`]), the port (not the scheme's default), then the
/// path's bytes ([`FAST_URL_BYTE`]), its dot segments and the query's position. `None` sends
/// the caller to the full normalization.
pub(crate) fn url_fast(raw: &str) -> Option<FastUrl<'_>> {
    url_fast_known_host(raw, KnownHost::default())
}

/// [`url_fast`] for a URL whose host is likely `known` (empty name when there is none): a
/// proxy event's `url.full` names the host its `destination.domain` holds, which the
/// matcher's name pass has checked already. When the URL's host is that name, the host's
/// byte scan is replaced by a comparison; the result is [`url_fast`]'s.
pub(crate) fn url_fast_known_host<'a>(raw: &'a str, known: KnownHost<'_>) -> Option<FastUrl<'a>> {
    let (resource, default_port) = if let Some(r) = raw.strip_prefix("https://") {
        (r, &b"443"[..])
    } else {
        (raw.strip_prefix("http://")?, &b"80"[..])
    };
    let b = resource.as_bytes();
    // (end of the host, start of its last label)
    let (end, start) = match known_url_host(b, known) {
        Some(host) => host,
        None => scan_url_host(b)?,
    };
    let host = resource.get(..end)?;
    let last = b.get(start..end)?;
    if (last.iter().all(u8::is_ascii_digit) || last.starts_with(b"0x")) && !numeric_host_ok(host) {
        return None;
    }
    // Port: 1 to 5 digits, no leading zero, at most 65535, not the scheme's default.
    let path = if b.get(end) == Some(&b':') {
        let digits = b.get(end + 1..)?;
        let n = digits.iter().take_while(|c| c.is_ascii_digit()).count();
        let port = digits.get(..n)?;
        if n == 0 || n > 5 || port.first() == Some(&b'0') || port == default_port {
            return None;
        }
        if port.iter().fold(0u32, |v, &d| v * 10 + u32::from(d - b'0')) > 65535 {
            return None;
        }
        if digits.get(n) != Some(&b'/') {
            return None;
        }
        end + 1 + n
    } else {
        end
    };
    // Path and query: safe bytes only, no `.`/`..` segment before the query, no empty query.
    // Segment by segment: runs of ordinary bytes ended by `/`, `?` or the end.
    let mut seg_start = path + 1;
    let query = loop {
        let rest = b.get(seg_start..).unwrap_or_default();
        let n = rest
            .iter()
            .position(|&c| FAST_URL_CLASS[usize::from(c)] != URL_ORDINARY);
        let seg = rest.get(..n.unwrap_or(rest.len())).unwrap_or_default();
        if is_dot_segment(seg) {
            return None;
        }
        let Some(n) = n else {
            break b.len();
        };
        match rest.get(n).map(|&c| FAST_URL_CLASS[usize::from(c)]) {
            Some(URL_SLASH) => seg_start += n + 1,
            Some(URL_QUERY) => break seg_start + n,
            _ => return None,
        }
    };
    // The query: fast bytes; a URL ending in `?` is not canonical.
    let q = b.get(query..).unwrap_or_default();
    if b.last() == Some(&b'?') || !q.iter().all(|&c| fast_url_byte_ok(c)) {
        return None;
    }
    Some(FastUrl {
        resource,
        path,
        query,
    })
}

/// The host of `b` (a URL after its scheme), label by label: each a run of label bytes (no
/// `_`) of 1 to 63 bytes, not starting with `xn--`, ended by `.`, `:` or `/`; at most 253
/// bytes in all. Returns (end of the host, start of its last label).
fn scan_url_host(b: &[u8]) -> Option<(usize, usize)> {
    let mut start = 0usize;
    let end = loop {
        let rest = b.get(start..)?;
        let n = rest.iter().position(|&c| !is_url_host_label_byte(c))?;
        if n == 0 || n > MAX_LABEL_LEN || rest.starts_with(b"xn--") {
            return None;
        }
        match rest.get(n) {
            Some(b'.') => start += n + 1,
            Some(b':' | b'/') => break start + n,
            _ => return None,
        }
    };
    if end > MAX_DOMAIN_LEN {
        return None;
    }
    Some((end, start))
}

/// What [`scan_url_host`] returns for `b`, when `b` starts with `known.name` followed by `:`
/// or `/` (see [`KnownHost`]: then every label of the host is a run the scan accepts, and
/// the name is at most 253 bytes). `None` when it does not (the caller scans).
fn known_url_host(b: &[u8], known: KnownHost<'_>) -> Option<(usize, usize)> {
    let n = known.name.len();
    if n == 0 || !matches!(b.get(n), Some(b':' | b'/')) || !same_bytes(b.get(..n)?, known.name) {
        return None;
    }
    // The last label (a top-level domain: a few bytes from the end).
    let last = known
        .name
        .iter()
        .rposition(|&c| c == b'.')
        .map_or(0, |d| d + 1);
    Some((n, last))
}

/// `a == b` for slices of equal length, eight bytes at a time (names are too short for the
/// library comparison's call and set-up to pay).
#[inline(always)]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if n < 8 {
        return le_partial(a) == le_partial(b);
    }
    let mut i = 0;
    while i + 8 < n {
        if le8(a.get(i..).unwrap_or_default()) != le8(b.get(i..).unwrap_or_default()) {
            return false;
        }
        i += 8;
    }
    le8_end(a) == le8_end(b)
}

/// An event name the matcher's name pass found to be a URL host as [`url_fast`] reads one:
/// canonical (`is_canonical_domain`), no `_`, no label starting `xn--`.
/// [`url_fast_known_host`] then compares an event URL's host with it instead of checking the
/// host again.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct KnownHost<'a> {
    pub name: &'a [u8],
}

fn is_dot_segment(seg: &[u8]) -> bool {
    seg == b"." || seg == b".."
}

/// A file name as matched: trimmed, path separators stripped, lower case (Windows and most
/// feeds treat names case-insensitively).
pub fn file_name(raw: &str) -> Result<String, NormalizeError> {
    let t = raw.trim();
    let t = t.rsplit(['/', '\\']).next().unwrap_or(t);
    if t.is_empty() {
        return Err(NormalizeError::Empty);
    }
    Ok(t.to_lowercase())
}

/// JA3 (32 hex) or JA4 (`t13d1516h2_8daaf6152771_02713d6af862`), lower case.
pub fn tls_fingerprint(kind: IndicatorKind, raw: &str) -> Result<String, NormalizeError> {
    let t = raw.trim().to_ascii_lowercase();
    let ok = match kind {
        IndicatorKind::Ja3 => t.len() == 32 && t.bytes().all(|b| b.is_ascii_hexdigit()),
        IndicatorKind::Ja4 => {
            !t.is_empty()
                && t.len() <= 64
                && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                && t.contains('_')
        }
        _ => false,
    };
    if ok {
        Ok(t)
    } else {
        Err(NormalizeError::Other(kind, raw.to_owned()))
    }
}

/// Normalizes a value of a known kind.
pub fn value(kind: IndicatorKind, raw: &str) -> Result<Normalized, NormalizeError> {
    use IndicatorKind as K;
    let (value, kind) = match kind {
        K::Ipv4 | K::Ipv6 => {
            let a = ip(raw)?;
            let k = if a.is_ipv4() { K::Ipv4 } else { K::Ipv6 };
            (a.to_string(), k)
        }
        K::Cidr => {
            let n = cidr(raw)?;
            // A host route is an address.
            if n.prefix_len() == n.max_prefix_len() {
                let a = canonical_ip(n.addr());
                let k = if a.is_ipv4() { K::Ipv4 } else { K::Ipv6 };
                (a.to_string(), k)
            } else {
                (n.to_string(), K::Cidr)
            }
        }
        K::Domain | K::Hostname => (domain(raw)?, kind),
        K::Url => (url(raw)?, kind),
        K::Md5 | K::Sha1 | K::Sha256 => (hash(kind, raw)?, kind),
        K::Email => (email(raw)?, kind),
        K::FileName => (file_name(raw)?, kind),
        K::Ja3 | K::Ja4 => (tls_fingerprint(kind, raw)?, kind),
    };
    Ok(Normalized {
        kind,
        value,
        port: None,
    })
}

/// Recognizes and normalizes one untyped value as written in plain lists (maltrail trails,
/// ipsum, one-per-line feeds): IPs, `ip:port`, `[v6]:port`, CIDR, URLs with or without scheme,
/// bare paths, hashes, e-mail addresses, domains.
pub fn classify(raw: &str) -> Result<Normalized, NormalizeError> {
    use IndicatorKind as K;
    let t = raw.trim();
    if t.is_empty() {
        return Err(NormalizeError::Empty);
    }
    if let Ok(a) = ip(t) {
        let kind = if a.is_ipv4() { K::Ipv4 } else { K::Ipv6 };
        return Ok(Normalized {
            kind,
            value: a.to_string(),
            port: None,
        });
    }
    if let Ok(sa) = t.parse::<std::net::SocketAddr>() {
        let a = canonical_ip(sa.ip());
        let kind = if a.is_ipv4() { K::Ipv4 } else { K::Ipv6 };
        return Ok(Normalized {
            kind,
            value: a.to_string(),
            port: Some(sa.port()),
        });
    }
    // A network only when written as one (no host bits): `1.2.3.4/1` is a path on a host, not
    // half of the address space.
    if t.contains('/')
        && !t.contains("://")
        && let Ok(net) = t.parse::<IpNet>()
        && net.addr() == net.network()
    {
        let min = if net.addr().is_ipv4() {
            MIN_V4_PREFIX
        } else {
            MIN_V6_PREFIX
        };
        if net.prefix_len() < min {
            return Err(NormalizeError::Cidr(format!(
                "{raw} (wider than /{min}: not an indicator)"
            )));
        }
        return value(K::Cidr, t);
    }
    if has_scheme(t) || t.contains('/') {
        return Ok(Normalized {
            kind: K::Url,
            value: url(t)?,
            port: None,
        });
    }
    if let Some(k) = hash_kind(t) {
        // A 32/40/64-digit hex string could in theory be a host label, but no feed publishes
        // those as domains: they are hashes.
        return value(k, t);
    }
    if t.contains('@') {
        return value(K::Email, t);
    }
    // `host:port` (not an IP): the port does not change what the name is.
    if let Some((h, p)) = t.rsplit_once(':')
        && !p.is_empty()
        && p.bytes().all(|b| b.is_ascii_digit())
    {
        let port: u16 = p
            .parse()
            .map_err(|_| NormalizeError::Port(raw.to_owned()))?;
        if let Ok(a) = ip(h) {
            let kind = if a.is_ipv4() { K::Ipv4 } else { K::Ipv6 };
            return Ok(Normalized {
                kind,
                value: a.to_string(),
                port: Some(port),
            });
        }
        let d = domain(h)?;
        if d.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            return Err(NormalizeError::Ip(raw.to_owned()));
        }
        return Ok(Normalized {
            kind: K::Domain,
            value: d,
            port: Some(port),
        });
    }
    let d = domain(t)?;
    if d.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        // `182.86.133` is a truncated address, not a domain.
        return Err(NormalizeError::Ip(raw.to_owned()));
    }
    if !d.contains('.') {
        // A bare label is a TLD or a local name: as a domain indicator it would match every
        // name below it.
        return Err(NormalizeError::Domain(
            raw.to_owned(),
            "a single label (a TLD or a local name) is not an indicator",
        ));
    }
    Ok(Normalized {
        kind: K::Domain,
        value: d,
        port: None,
    })
}

#[cfg(test)]
mod tests;
