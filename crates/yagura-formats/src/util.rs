//! Small, allocation-free helpers shared by the parsers.

use std::borrow::Cow;
use std::net::IpAddr;

use chrono::NaiveDate;
use yagura_model::event::{Endpoint, Other, OtherValue, Url};
use yagura_model::{Str, Timestamp};

/// Splits on runs of ASCII spaces/tabs, like `awk` (Squid pads its columns with spaces).
pub(crate) struct Words<'a> {
    rest: &'a str,
}

impl<'a> Words<'a> {
    pub(crate) fn new(s: &'a str) -> Self {
        Words { rest: s }
    }

    /// What is left, leading blanks removed.
    pub(crate) fn rest(&self) -> &'a str {
        self.rest.trim_start_matches([' ', '\t'])
    }
}

impl<'a> Iterator for Words<'a> {
    type Item = &'a str;
    fn next(&mut self) -> Option<&'a str> {
        let s = self.rest;
        let b = s.as_bytes();
        let start = b
            .iter()
            .position(|&c| c != b' ' && c != b'\t')
            .unwrap_or(b.len());
        let end = b
            .get(start..)
            .and_then(find_blank)
            .map_or(b.len(), |i| start + i);
        // Blanks are ASCII: both offsets are char boundaries.
        self.rest = s.get(end..).unwrap_or("");
        s.get(start..end).filter(|w| !w.is_empty())
    }
}

/// `(x == 0)` per byte as a mask: the high bit of each byte of the result is set exactly where
/// `x` has a zero byte (no carry crosses bytes: `(x & 0x7f) + 0x7f <= 0xff`).
#[inline]
pub(crate) fn zero_bytes(x: u64) -> u64 {
    const LO7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    !(((x & LO7) + LO7) | x | LO7)
}

/// The offset of the first space or tab of `b`, eight bytes at a time (a `memchr2` call costs
/// more than the scan for the short words of a log line).
#[inline]
fn find_blank(b: &[u8]) -> Option<usize> {
    const SP: u64 = 0x2020_2020_2020_2020;
    const TAB: u64 = 0x0909_0909_0909_0909;
    let mut chunks = b.chunks_exact(8);
    let mut base = 0;
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        let x = u64::from_le_bytes(w);
        let m = zero_bytes(x ^ SP) | zero_bytes(x ^ TAB);
        if m != 0 {
            return Some(base + (m.trailing_zeros() / 8) as usize);
        }
        base += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&c| c == b' ' || c == b'\t')
        .map(|i| base + i)
}

/// `s == marker`, with the one-byte markers (Zeek's `-`) compared without a `memcmp` call.
#[inline]
pub(crate) fn is_marker(s: &str, marker: &str) -> bool {
    match (s.as_bytes(), marker.as_bytes()) {
        ([a], [b]) => a == b,
        (a, b) => a == b,
    }
}

/// Pushes the offset of every `sep` byte of `b`, then `b.len()`: the end of each column.
/// Eight bytes at a time (SWAR): TSV columns are short, and a `memchr` call per column costs
/// more than the scan.
pub(crate) fn separator_ends(b: &[u8], sep: u8, out: &mut Vec<usize>) {
    let pat = 0x0101_0101_0101_0101u64 * u64::from(sep);
    let mut chunks = b.chunks_exact(8);
    let mut base = 0;
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        let mut m = zero_bytes(u64::from_le_bytes(w) ^ pat);
        while m != 0 {
            out.push(base + (m.trailing_zeros() / 8) as usize);
            m &= m - 1;
        }
        base += 8;
    }
    for (i, &c) in chunks.remainder().iter().enumerate() {
        if c == sep {
            out.push(base + i);
        }
    }
    out.push(b.len());
}

/// The end offset of each column of a line, found as the record loop asks for them: eight
/// bytes are searched at a time (SWAR) and the separators of one word are handed out from its
/// mask, so no offset is stored (what [`separator_ends`] collects, yielded in the same order:
/// every `sep` offset, then the length of the line).
pub(crate) struct ColumnEnds<'b> {
    b: &'b [u8],
    pat: u64,
    /// Offset of the word `mask` was computed from.
    base: usize,
    /// Separators of that word not yet handed out (the high bit of each matching byte).
    mask: u64,
    /// Offset of the next word to search; past the end once the tail was searched.
    next: usize,
    /// Whether the line's end was handed out.
    done: bool,
}

impl<'b> ColumnEnds<'b> {
    pub(crate) fn new(b: &'b [u8], sep: u8) -> Self {
        ColumnEnds {
            b,
            pat: 0x0101_0101_0101_0101u64 * u64::from(sep),
            base: 0,
            mask: 0,
            next: 0,
            done: false,
        }
    }
}

impl Iterator for ColumnEnds<'_> {
    type Item = usize;

    #[inline(always)]
    fn next(&mut self) -> Option<usize> {
        loop {
            if self.mask != 0 {
                let i = self.base + (self.mask.trailing_zeros() / 8) as usize;
                self.mask &= self.mask - 1;
                return Some(i);
            }
            if let Some(w) = self.b.get(self.next..).and_then(<[u8]>::first_chunk::<8>) {
                self.base = self.next;
                self.next += 8;
                self.mask = zero_bytes(u64::from_le_bytes(*w) ^ self.pat);
                continue;
            }
            if let Some(tail) = self.b.get(self.next..)
                && !tail.is_empty()
            {
                // The last 1–7 bytes, padded with a byte that is not the separator.
                let pad = (self.pat as u8).wrapping_add(1);
                let mut w = [pad; 8];
                if let Some(dst) = w.get_mut(..tail.len()) {
                    dst.copy_from_slice(tail);
                }
                self.base = self.next;
                self.next = self.b.len() + 1;
                self.mask = zero_bytes(u64::from_le_bytes(w) ^ self.pat);
                continue;
            }
            if self.done {
                return None;
            }
            self.done = true;
            return Some(self.b.len());
        }
    }
}

/// `s.parse::<f64>()`, bit for bit, with a short path for the plain decimals text logs write
/// (`0.001234`, `60.000000`): at most 15 digits and one `.` make an integer mantissa below
/// 2^53 and an exact power of ten, whose quotient is the correctly rounded value, the one
/// the standard parser returns (Clinger's fast path). Anything else goes to the standard
/// parser.
pub(crate) fn parse_f64(s: &str) -> Option<f64> {
    const POW10: [f64; 16] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
    ];
    let b = s.as_bytes();
    if b.is_empty() || b.len() > 16 {
        return s.parse().ok();
    }
    // Integer digits, then (after one `.`) fraction digits: two tight loops, no per-digit
    // bookkeeping of where the point was.
    let mut m: u64 = 0;
    let mut it = b.iter();
    let mut int_digits = 0;
    let mut point = false;
    for &c in &mut it {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            if c != b'.' {
                return s.parse().ok();
            }
            point = true;
            break;
        }
        m = m * 10 + u64::from(d);
        int_digits += 1;
    }
    let mut k = 0;
    if point {
        for &c in it {
            let d = c.wrapping_sub(b'0');
            if d > 9 {
                return s.parse().ok();
            }
            m = m * 10 + u64::from(d);
            k += 1;
        }
    }
    let digits = int_digits + k;
    if digits == 0 || digits > 15 {
        return s.parse().ok();
    }
    // `m < 10^15 < 2^53`: exact as f64; `k <= 15`: the power is exact too.
    Some(m as f64 / POW10.get(k).copied()?)
}

/// `s.parse::<u64>().ok()`, with a short path for plain decimals of at most 19 digits (they
/// cannot overflow: `10^19 - 1 < 2^64`); anything else (a `+` sign, more digits, other bytes)
/// goes to the standard parser.
#[inline]
pub(crate) fn parse_u64(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.is_empty() || b.len() > 19 {
        return s.parse().ok();
    }
    let mut n: u64 = 0;
    for &c in b {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return s.parse().ok();
        }
        n = n * 10 + u64::from(d);
    }
    Some(n)
}

/// Calls `f` on each item of `s.split(sep as char)`: by bytes for an ASCII `sep` (Zeek's set
/// separator; no `CharSearcher`, no iterator state), by `char` otherwise.
#[inline]
pub(crate) fn for_each_split<'a>(s: &'a str, sep: u8, mut f: impl FnMut(&'a str)) {
    if !sep.is_ascii() {
        s.split(char::from(sep)).for_each(f);
        return;
    }
    let mut rest = s;
    loop {
        match rest.bytes().position(|b| b == sep) {
            // `sep` is ASCII: both sides of it are char boundaries.
            Some(i) => {
                f(rest.get(..i).unwrap_or(""));
                rest = rest.get(i + 1..).unwrap_or("");
            }
            None => {
                f(rest);
                return;
            }
        }
    }
}

/// `s.split(sep as char)` for an ASCII `sep` (Zeek's set separator), by bytes: no
/// `CharSearcher`, no `memchr` call for the few short items of a set or vector. A non-ASCII
/// `sep` falls back to the `char` split.
pub(crate) fn split_byte(s: &str, sep: u8) -> impl Iterator<Item = &str> {
    let ascii = sep.is_ascii();
    let mut rest = Some(s);
    let mut fallback = (!ascii).then(|| s.split(char::from(sep)));
    std::iter::from_fn(move || {
        if let Some(f) = fallback.as_mut() {
            return f.next();
        }
        let r = rest?;
        match r.bytes().position(|b| b == sep) {
            // `sep` is ASCII: both sides of it are char boundaries.
            Some(i) => {
                rest = r.get(i + 1..);
                r.get(..i)
            }
            None => {
                rest = None;
                Some(r)
            }
        }
    })
}

/// `-` and the empty string mean "no value" in most text logs.
pub(crate) fn present(s: &str) -> Option<&str> {
    match s {
        "" | "-" => None,
        _ => Some(s),
    }
}

pub(crate) fn ip(s: &str) -> Option<IpAddr> {
    if let Some(v4) = ipv4(s.as_bytes()) {
        return Some(IpAddr::V4(v4));
    }
    // Strip an IPv6 zone or brackets as some logs write them.
    let s = s
        .strip_prefix('[')
        .and_then(|x| x.strip_suffix(']'))
        .unwrap_or(s);
    // Every IPv6 address has a `:`; without one, [`ipv4`] has answered exactly what the
    // standard parser would (a host name costs no second parse).
    if !s.as_bytes().contains(&b':') {
        return ipv4(s.as_bytes()).map(IpAddr::V4);
    }
    s.parse().ok()
}

/// A dotted-quad IPv4 address in one pass over the bytes, or `None` for anything else (then
/// the standard parser decides). It returns an address only for text `Ipv4Addr::from_str`
/// accepts as the same address: four parts of one to three digits, each at most 255, no
/// leading zero. The standard parser's generic combinators cost several times more per
/// address, and text logs carry two or three per line.
#[inline]
fn ipv4(b: &[u8]) -> Option<std::net::Ipv4Addr> {
    #[inline]
    fn digit(c: Option<&u8>) -> Option<u32> {
        let d = c?.wrapping_sub(b'0');
        (d <= 9).then_some(u32::from(d))
    }
    if b.len() < 7 || b.len() > 15 {
        return None;
    }
    let mut addr: u32 = 0;
    let mut i = 0;
    for part in 0..4 {
        if part > 0 {
            if b.get(i) != Some(&b'.') {
                return None;
            }
            i += 1;
        }
        let mut v = digit(b.get(i))?;
        i += 1;
        // After a leading `0` only a `.` (or the end) may follow: the check above or the
        // length check below refuses a digit there, as the standard parser does.
        if v != 0
            && let Some(d) = digit(b.get(i))
        {
            v = v * 10 + d;
            i += 1;
            if let Some(d) = digit(b.get(i)) {
                v = v * 10 + d;
                i += 1;
            }
        }
        if v > 255 {
            return None;
        }
        addr = (addr << 8) | v;
    }
    (i == b.len()).then(|| std::net::Ipv4Addr::from_bits(addr))
}

/// Lower-cases without allocating when already lower case, drops one trailing dot.
pub(crate) fn domain(s: &str) -> Str {
    lower(s.strip_suffix('.').unwrap_or(s))
}

/// ASCII lower case as a [`Str`]; no heap allocation for up to 24 bytes (the inline size),
/// whatever the case of the input.
pub(crate) fn lower(s: &str) -> Str {
    recase(s, false)
}

/// ASCII upper case as a [`Str`], like [`lower`].
pub(crate) fn upper(s: &str) -> Str {
    recase(s, true)
}

fn recase(s: &str, up: bool) -> Str {
    let wrong = |b: u8| {
        if up {
            b.is_ascii_lowercase()
        } else {
            b.is_ascii_uppercase()
        }
    };
    if !s.bytes().any(wrong) {
        return Str::from(s);
    }
    let mut buf = [0u8; 24];
    match buf.get_mut(..s.len()) {
        Some(dst) => {
            dst.copy_from_slice(s.as_bytes());
            if up {
                dst.make_ascii_uppercase();
            } else {
                dst.make_ascii_lowercase();
            }
            // ASCII case changes keep UTF-8 valid.
            Str::from(std::str::from_utf8(dst).unwrap_or(s))
        }
        None if up => Str::from(s.to_ascii_uppercase()),
        None => Str::from(s.to_ascii_lowercase()),
    }
}

/// (scheme, authority, path-and-query) of an absolute URL, an authority-form `host:port`
/// (CONNECT) or an origin-form `/path?query` (whose authority is `host`).
fn split_url<'a>(
    raw: &'a str,
    host: Option<&'a str>,
) -> (Option<&'a str>, Option<&'a str>, &'a str) {
    // The scheme is a run of alphanumerics and `+` directly followed by `://` (the first
    // `://` of `raw` can only be there: anything before it that is not such a run holds a
    // byte that disqualifies it). Byte scans: the URLs are short, `str::find`'s searchers
    // cost more to set up than these loops run.
    let b = raw.as_bytes();
    let k = b
        .iter()
        .position(|&c| !(c.is_ascii_alphanumeric() || c == b'+'))
        .unwrap_or(b.len());
    let (scheme, after_scheme) = match (b.get(k..k + 3), raw.split_at_checked(k)) {
        (Some(b"://"), Some((scheme, rest))) => (Some(scheme), rest.get(3..).unwrap_or("")),
        _ => (None, raw),
    };
    let (authority, path_q) = if scheme.is_some() {
        match after_scheme
            .bytes()
            .position(|c| matches!(c, b'/' | b'?' | b'#'))
            .and_then(|i| after_scheme.split_at_checked(i))
        {
            Some((a, p)) => (Some(a), p),
            None => (Some(after_scheme), ""),
        }
    } else if raw.starts_with('/') || raw == "*" {
        (host, raw)
    } else {
        // authority-form (CONNECT host:443) or a bare host
        (Some(raw), "")
    };
    (scheme, authority, path_q)
}

/// The host of a URL as [`fill_url`] would set `url.domain`, without building the rest.
pub(crate) fn url_domain(raw: &str) -> Option<Str> {
    let (_, authority, _) = split_url(raw, None);
    let a = after_last(authority.filter(|a| !a.is_empty())?, b'@');
    let (h, _) = split_host_port(a);
    (!h.is_empty()).then(|| domain(h))
}

/// Fills `url` (and `dest.domain`/`dest.port` when empty) from an absolute URL, an
/// authority-form `host:port` (CONNECT) or an origin-form `/path?query` plus `host`.
pub(crate) fn fill_url(url: &mut Url, dest: &mut Endpoint, raw: &str, host: Option<&str>) {
    fill_url_reusing(url, dest, raw, host, &mut UrlBufs::default());
}

/// The `String`s of `url.full`, `url.path` and `url.query` taken back from a previous event
/// (see `LineParser::recycle`), reused by [`fill_url_reusing`] instead of new allocations.
#[derive(Debug, Default)]
pub(crate) struct UrlBufs {
    full: Option<String>,
    path: Option<String>,
    query: Option<String>,
}

impl UrlBufs {
    /// Takes the three `String`s out of `url` (which is about to be reset).
    pub(crate) fn take_from(&mut self, url: &mut Url) {
        fn keep(slot: &mut Option<String>, s: Option<String>) {
            if s.is_some() {
                *slot = s;
            }
        }
        keep(&mut self.full, url.full.take());
        keep(&mut self.path, url.path.take());
        keep(&mut self.query, url.query.take());
    }
}

/// `s` in a spare buffer when there is one, else in a new `String`.
fn reuse(spare: &mut Option<String>, s: &str) -> String {
    match spare.take() {
        Some(mut b) => {
            b.clear();
            b.push_str(s);
            b
        }
        None => s.to_owned(),
    }
}

/// [`fill_url`], with the `String`s taken from `bufs` when it holds some.
pub(crate) fn fill_url_reusing(
    url: &mut Url,
    dest: &mut Endpoint,
    raw: &str,
    host: Option<&str>,
    bufs: &mut UrlBufs,
) {
    let (scheme, authority, path_q) = split_url(raw, host);
    if let Some(s) = scheme {
        url.scheme = Some(lower(s));
    }
    if let Some(a) = authority.filter(|a| !a.is_empty()) {
        let a = after_last(a, b'@');
        let (h, port) = split_host_port(a);
        if !h.is_empty() {
            let d = domain(h);
            if dest.domain.is_none() && ip(h).is_none() {
                dest.domain = Some(d.clone());
            }
            url.domain = Some(d);
        }
        if let Some(p) = port {
            url.port = Some(p);
            dest.port.get_or_insert(p);
        } else if let Some(p) = url.scheme.as_deref().and_then(default_port) {
            dest.port.get_or_insert(p);
        }
    }
    let path_q = before_first(path_q, b'#');
    let (path, query) = match split_first(path_q, b'?') {
        Some((p, q)) => (p, Some(q)),
        None => (path_q, None),
    };
    if !path.is_empty() {
        let last = after_last(path, b'/');
        if let Some((_, ext)) = split_last(last, b'.')
            && !ext.is_empty()
            && ext.len() <= 10
            && ext.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            url.extension = Some(lower(ext));
        }
        url.path = Some(reuse(&mut bufs.path, path));
    }
    if let Some(q) = query.filter(|q| !q.is_empty()) {
        url.query = Some(reuse(&mut bufs.query, q));
    }
    if scheme.is_some() {
        url.full = Some(reuse(&mut bufs.full, raw));
    } else if let (Some(h), true) = (host, raw.starts_with('/')) {
        let scheme = url.scheme.as_deref().unwrap_or("http");
        url.full = Some(format!("{scheme}://{h}{raw}"));
    }
}

/// `s` split around its first `c` (an ASCII byte, so both sides are `str`s), by a byte loop:
/// `split_once` with a `char` pattern costs a `memchr` call or a searcher per use.
#[inline]
pub(crate) fn split_first(s: &str, c: u8) -> Option<(&str, &str)> {
    let i = s.bytes().position(|b| b == c)?;
    Some((s.get(..i)?, s.get(i + 1..)?))
}

/// `s` split around its last `c` (an ASCII byte), like [`split_first`].
#[inline]
fn split_last(s: &str, c: u8) -> Option<(&str, &str)> {
    let i = s.bytes().rposition(|b| b == c)?;
    Some((s.get(..i)?, s.get(i + 1..)?))
}

/// What follows the last `c` of `s`, or all of `s`.
#[inline]
fn after_last(s: &str, c: u8) -> &str {
    split_last(s, c).map_or(s, |(_, t)| t)
}

/// What precedes the first `c` of `s`, or all of `s`.
#[inline]
fn before_first(s: &str, c: u8) -> &str {
    split_first(s, c).map_or(s, |(h, _)| h)
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" | "ws" => Some(80),
        "https" | "wss" => Some(443),
        "ftp" => Some(21),
        _ => None,
    }
}

/// `host:port`, `[v6]:port`, `host`, bare IPv6.
pub(crate) fn split_host_port(a: &str) -> (&str, Option<u16>) {
    if let Some(rest) = a.strip_prefix('[') {
        if let Some((h, p)) = split_first(rest, b']') {
            return (h, p.strip_prefix(':').and_then(|p| p.parse().ok()));
        }
        return (a, None);
    }
    match split_last(a, b':') {
        Some((h, p)) if !h.as_bytes().contains(&b':') => match p.parse() {
            Ok(port) => (h, Some(port)),
            Err(_) => (a, None),
        },
        _ => (a, None),
    }
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

pub(crate) fn month(s: &str) -> Option<u32> {
    MONTHS
        .iter()
        .position(|m| m.eq_ignore_ascii_case(s))
        .map(|i| i as u32 + 1)
}

fn digits(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 9 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Civil date and time to a checked [`Timestamp`]; `offset_secs` is east of UTC.
pub(crate) fn civil(
    (y, mo, d): (i32, u32, u32),
    (h, mi, s, nanos): (u32, u32, u32, u32),
    offset_secs: i64,
) -> Result<Timestamp, String> {
    let date = NaiveDate::from_ymd_opt(y, mo, d)
        .ok_or_else(|| format!("impossible date {y:04}-{mo:02}-{d:02}"))?;
    // 60 is a leap second: fold it onto 59.999… rather than rejecting real logs.
    let (s, nanos) = if s == 60 {
        (59, 999_999_999)
    } else {
        (s, nanos)
    };
    let dt = date
        .and_hms_nano_opt(h, mi, s, nanos)
        .ok_or_else(|| format!("impossible time {h:02}:{mi:02}:{s:02}"))?;
    let secs = dt.and_utc().timestamp() - offset_secs;
    let n = secs
        .checked_mul(1_000_000_000)
        .and_then(|x| x.checked_add(i64::from(nanos)))
        .ok_or_else(|| "timestamp out of range".to_owned())?;
    Timestamp::try_from_nanos(n).map_err(|e| e.to_string())
}

/// Fractional seconds `.123456` (up to 9 digits kept) to nanoseconds.
fn frac_nanos(f: &str) -> Option<u32> {
    if f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut n = 0u32;
    for (i, b) in f.bytes().take(9).enumerate() {
        n += u32::from(b - b'0') * 10u32.pow(8 - i as u32);
    }
    Some(n)
}

/// Two ASCII digits at `b[i..i + 2]`.
#[inline]
fn d2(b: &[u8], i: usize) -> Option<u32> {
    match b.get(i..i + 2)? {
        [x, y] if x.is_ascii_digit() && y.is_ascii_digit() => {
            Some(u32::from(x - b'0') * 10 + u32::from(y - b'0'))
        }
        _ => None,
    }
}

/// ISO 8601 / RFC 3339 as logs write it: `T` or space, optional fraction, `Z`, `±HH:MM`,
/// `±HHMM` or no offset (then UTC). Suricata writes `+0200`, RFC 3339 parsers refuse it.
/// Read by byte positions (no slicing of the text: any byte may be anywhere).
pub(crate) fn iso8601(s: &str) -> Result<Timestamp, String> {
    let bad = || format!("timestamp {s:?} is not ISO 8601");
    let b = s.as_bytes();
    if b.len() < 19 || b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return Err(bad());
    }
    if !matches!(b.get(10), Some(b'T' | b't' | b' '))
        || b.get(13) != Some(&b':')
        || b.get(16) != Some(&b':')
    {
        return Err(bad());
    }
    let (Some(y1), Some(y2), Some(mo), Some(d), Some(h), Some(mi), Some(sec)) = (
        d2(b, 0),
        d2(b, 2),
        d2(b, 5),
        d2(b, 8),
        d2(b, 11),
        d2(b, 14),
        d2(b, 17),
    ) else {
        return Err(bad());
    };
    let y = (y1 * 100 + y2) as i32;
    let mut i = 19;
    let mut nanos = 0;
    if matches!(b.get(19), Some(b'.' | b',')) {
        i = 20;
        let mut scale = 100_000_000;
        while let Some(&c) = b.get(i) {
            if !c.is_ascii_digit() {
                break;
            }
            // Up to 9 digits are kept, later ones only skipped.
            nanos += u32::from(c - b'0') * scale;
            scale /= 10;
            i += 1;
        }
        if i == 20 {
            return Err(bad());
        }
    }
    let offset = offset_bytes(b.get(i..).unwrap_or_default()).ok_or_else(bad)?;
    civil((y, mo, d), (h, mi, sec, nanos), offset)
}

/// `""`, `Z`, `+09:00`, `+0900`, `-05`.
fn parse_offset(s: &str) -> Option<i64> {
    offset_bytes(s.as_bytes())
}

/// [`parse_offset`] on bytes.
fn offset_bytes(s: &[u8]) -> Option<i64> {
    let (sign, r) = match s {
        [] | [b'Z' | b'z'] => return Some(0),
        [b'+', r @ ..] => (1, r),
        [b'-', r @ ..] => (-1, r),
        _ => return None,
    };
    let (h, m) = match r.len() {
        2 => (d2(r, 0)?, 0),
        4 => (d2(r, 0)?, d2(r, 2)?),
        5 if r.get(2) == Some(&b':') => (d2(r, 0)?, d2(r, 3)?),
        _ => return None,
    };
    if h > 23 || m > 59 {
        return None;
    }
    Some(sign * i64::from(h * 3600 + m * 60))
}

/// Apache/Squid `common` time: `08/Oct/2010:11:11:49 +0200`.
pub(crate) fn clf_time(s: &str) -> Result<Timestamp, String> {
    let bad = || format!("timestamp {s:?} is not dd/Mon/yyyy:HH:MM:SS +zzzz");
    let (dt, off) = s.split_once(' ').unwrap_or((s, "+0000"));
    let mut p = dt.splitn(3, '/');
    let d = p.next().and_then(digits).ok_or_else(bad)?;
    let mo = p.next().and_then(month).ok_or_else(bad)?;
    let rest = p.next().ok_or_else(bad)?;
    let mut q = rest.split(':');
    let y = q.next().and_then(digits).ok_or_else(bad)? as i32;
    let h = q.next().and_then(digits).ok_or_else(bad)?;
    let mi = q.next().and_then(digits).ok_or_else(bad)?;
    let sec = q.next().ok_or_else(bad)?;
    let (sec, nanos) = match sec.split_once('.') {
        Some((s, f)) => (digits(s).ok_or_else(bad)?, frac_nanos(f).ok_or_else(bad)?),
        None => (digits(sec).ok_or_else(bad)?, 0),
    };
    let off = parse_offset(off).ok_or_else(bad)?;
    civil((y, mo, d), (h, mi, sec, nanos), off)
}

/// Decimal epoch seconds (`1286536309.450`), exact.
pub(crate) fn epoch(s: &str) -> Result<Timestamp, String> {
    use yagura_model::time::TimeError;
    Timestamp::parse_epoch_decimal(s).map_err(|e| match e {
        TimeError::Syntax(_) => format!("epoch time {s:?} is not decimal seconds"),
        TimeError::OutOfRange(_) => format!("epoch time {s} is outside 1970..2200"),
    })
}

/// Lossy UTF-8 that borrows when the input is valid; the flag says whether bytes were replaced.
pub(crate) fn text(raw: &[u8]) -> (Cow<'_, str>, bool) {
    match std::str::from_utf8(raw) {
        Ok(s) => (Cow::Borrowed(s), false),
        Err(_) => (String::from_utf8_lossy(raw), true),
    }
}

/// A JSON scalar as text (numbers and booleans printed), `None` for null/containers.
pub(crate) fn json_text(v: &serde_json::Value) -> Option<Cow<'_, str>> {
    use serde_json::Value as J;
    match v {
        J::String(s) => Some(Cow::Borrowed(s)),
        J::Number(n) => Some(Cow::Owned(n.to_string())),
        J::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
        _ => None,
    }
}

/// Sets `path` (dotted) to `v` in a JSON object, creating objects on the way; a non-object
/// in the way is replaced by an object holding the old value under `_value`.
pub(crate) fn put(
    map: &mut serde_json::Map<String, serde_json::Value>,
    path: &str,
    v: serde_json::Value,
) {
    use serde_json::Value as J;
    match path.split_once('.') {
        None => {
            map.insert(path.to_owned(), v);
        }
        Some((head, tail)) => {
            let slot = map
                .entry(head.to_owned())
                .or_insert_with(|| J::Object(Default::default()));
            if !slot.is_object() {
                let old = std::mem::take(slot);
                let mut m = serde_json::Map::new();
                m.insert("_value".to_owned(), old);
                *slot = J::Object(m);
            }
            if let J::Object(m) = slot {
                put(m, tail, v);
            }
        }
    }
}

/// [`put`] for an [`Other`] tree, with the same conflict rule (a scalar in the way moves
/// under `_value`).
pub(crate) fn put_other(map: &mut Other, path: &str, v: OtherValue) {
    match path.split_once('.') {
        None => {
            map.insert(path, v);
        }
        Some((head, tail)) => {
            if !matches!(map.get(head), None | Some(OtherValue::Object(_)))
                && let Some(slot) = map.get_mut(head)
            {
                let old = std::mem::take(slot);
                let mut m = Other::with_capacity(2);
                m.push_new("_value", old);
                *slot = OtherValue::Object(m);
            }
            if let Some(m) = map.object_mut(head) {
                put_other(m, tail, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The previous `iso8601` (slicing the text as `&str`), the reference the byte-position
    /// parser is compared with on ASCII text (where the slicing cannot split a character).
    fn iso8601_reference(s: &str) -> Result<Timestamp, String> {
        let bad = || format!("timestamp {s:?} is not ISO 8601");
        let b = s.as_bytes();
        if b.len() < 19 || b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
            return Err(bad());
        }
        if !matches!(b.get(10), Some(b'T' | b't' | b' ')) || b.get(13) != Some(&b':') {
            return Err(bad());
        }
        let y = digits(&s[0..4]).ok_or_else(bad)? as i32;
        let mo = digits(&s[5..7]).ok_or_else(bad)?;
        let d = digits(&s[8..10]).ok_or_else(bad)?;
        let h = digits(&s[11..13]).ok_or_else(bad)?;
        let mi = digits(&s[14..16]).ok_or_else(bad)?;
        if b.get(16) != Some(&b':') {
            return Err(bad());
        }
        let sec = digits(&s[17..19]).ok_or_else(bad)?;
        let mut rest = &s[19..];
        let mut nanos = 0;
        if let Some(r) = rest.strip_prefix(['.', ',']) {
            let end = r.find(|c: char| !c.is_ascii_digit()).unwrap_or(r.len());
            nanos = frac_nanos(&r[..end]).ok_or_else(bad)?;
            rest = &r[end..];
        }
        let offset = offset_reference(rest).ok_or_else(bad)?;
        civil((y, mo, d), (h, mi, sec, nanos), offset)
    }

    fn offset_reference(s: &str) -> Option<i64> {
        match s {
            "" | "Z" | "z" => return Some(0),
            _ => {}
        }
        let sign = match s.as_bytes().first()? {
            b'+' => 1,
            b'-' => -1,
            _ => return None,
        };
        let r = &s[1..];
        let (h, m) = match r.len() {
            2 => (r, "00"),
            4 => (&r[..2], &r[2..]),
            5 if r.as_bytes().get(2) == Some(&b':') => (&r[..2], &r[3..]),
            _ => return None,
        };
        let (h, m) = (digits(h)?, digits(m)?);
        if h > 23 || m > 59 {
            return None;
        }
        Some(sign * i64::from(h * 3600 + m * 60))
    }

    fn same_as_reference(s: &str) -> Result<(), proptest::test_runner::TestCaseError> {
        let ours = iso8601(s).map(|t| t.nanos());
        if s.is_ascii() {
            proptest::prop_assert_eq!(ours, iso8601_reference(s).map(|t| t.nanos()), "{:?}", s);
        }
        Ok(())
    }

    #[test]
    fn iso8601_matches_the_reference() {
        for s in [
            "2021-06-06T15:59:46.457984+0200",
            "2021-06-06T15:59:46.457984+02:00",
            "2021-06-06T15:59:46.457984-05",
            "2021-06-06 15:59:46,5Z",
            "2021-06-06t15:59:46z",
            "2021-06-06T15:59:46",
            "2021-06-06T15:59:46.",
            "2021-06-06T15:59:46.1234567891234Z",
            "2021-06-06T15:59:60.5Z",
            "2021-02-29T00:00:00Z",
            "2020-02-29T00:00:00Z",
            "2021-13-01T00:00:00Z",
            "2021-06-06T24:00:00Z",
            "2021-06-06T15:59:46+2400",
            "2021-06-06T15:59:46+0060",
            "2021-06-06T15:59:46+02:0",
            "2021-06-06T15:59:46+0a00",
            "+021-06-06T15:59:46Z",
            "2021-06-06T15:59:46Zx",
        ] {
            if let Err(e) = same_as_reference(s) {
                panic!("{e}");
            }
        }
        // Text the old slicing panicked on: a character across a field boundary.
        assert!(iso8601("2023-01-01T00:00:0\u{e9}").is_err());
        assert!(iso8601("2023-01-01T00:00:00+0\u{e9}1").is_err());
        assert!(clf_time("08/Oct/2010:11:11:49 +0\u{e9}1").is_err());
    }

    fn check_iso(input: &str, expect: &str) {
        let got = match iso8601(input) {
            Ok(t) => t.to_rfc3339(),
            Err(e) => format!("ERR {e}"),
        };
        assert_eq!(got, expect, "{input}");
    }

    #[test]
    fn iso_times() {
        check_iso(
            "2017-05-10T06:17:29.183405+0200",
            "2017-05-10T04:17:29.183405Z",
        );
        check_iso("2018-03-24T17:15:20.865716Z", "2018-03-24T17:15:20.865716Z");
        check_iso("2018-03-24 17:15:20", "2018-03-24T17:15:20Z");
        check_iso("2018-03-24T17:15:20-05:30", "2018-03-24T22:45:20Z");
        check_iso("2018-02-30T17:15:20Z", "ERR impossible date 2018-02-30");
        check_iso("2018-03-24T25:15:20Z", "ERR impossible time 25:15:20");
        check_iso(
            "1900-03-24T01:15:20Z",
            "ERR timestamp -2201899480000000000ns is outside 1970..2200",
        );
        check_iso("garbage", "ERR timestamp \"garbage\" is not ISO 8601");
        check_iso(
            "2018-03-24T17:15:20+2",
            "ERR timestamp \"2018-03-24T17:15:20+2\" is not ISO 8601",
        );
    }

    #[test]
    fn clf_times() {
        assert_eq!(
            clf_time("08/Oct/2010:11:11:49 +0200").map(|t| t.to_rfc3339()),
            Ok("2010-10-08T09:11:49Z".to_owned())
        );
        assert!(clf_time("08/Foo/2010:11:11:49 +0200").is_err());
    }

    fn check_url(raw: &str, host: Option<&str>, expect: &str) {
        let mut u = Url::default();
        let mut d = Endpoint::default();
        fill_url(&mut u, &mut d, raw, host);
        let got = format!(
            "full={:?} scheme={:?} domain={:?} port={:?} path={:?} query={:?} ext={:?} dest={:?}:{:?}",
            u.full,
            u.scheme.as_deref(),
            u.domain.as_deref(),
            u.port,
            u.path,
            u.query,
            u.extension.as_deref(),
            d.domain.as_deref(),
            d.port
        );
        assert_eq!(got, expect, "{raw}");
    }

    #[test]
    fn urls() {
        check_url(
            "http://WWW.Example.com:8080/a/b.PHP?x=1#f",
            None,
            "full=Some(\"http://WWW.Example.com:8080/a/b.PHP?x=1#f\") scheme=Some(\"http\") domain=Some(\"www.example.com\") port=Some(8080) path=Some(\"/a/b.PHP\") query=Some(\"x=1\") ext=Some(\"php\") dest=Some(\"www.example.com\"):Some(8080)",
        );
        check_url(
            "evil.example:443",
            None,
            "full=None scheme=None domain=Some(\"evil.example\") port=Some(443) path=None query=None ext=None dest=Some(\"evil.example\"):Some(443)",
        );
        check_url(
            "/index.html",
            Some("h.example"),
            "full=Some(\"http://h.example/index.html\") scheme=None domain=Some(\"h.example\") port=None path=Some(\"/index.html\") query=None ext=Some(\"html\") dest=Some(\"h.example\"):None",
        );
        check_url(
            "https://[2001:db8::1]:8443/",
            None,
            "full=Some(\"https://[2001:db8::1]:8443/\") scheme=Some(\"https\") domain=Some(\"2001:db8::1\") port=Some(8443) path=Some(\"/\") query=None ext=None dest=None:Some(8443)",
        );
    }

    #[test]
    fn case_folding_and_url_domain() {
        assert_eq!(lower("WWW.Example.COM"), "www.example.com");
        assert_eq!(lower("already.lower"), "already.lower");
        let long = "A".repeat(40);
        assert_eq!(lower(&long), "a".repeat(40));
        assert_eq!(upper("nxdomain"), "NXDOMAIN");
        assert_eq!(domain("Ex.COM."), "ex.com");
        for (raw, host) in [
            (
                "http://User@WWW.Example.com:8080/a?b",
                Some("www.example.com"),
            ),
            ("evil.example:443", Some("evil.example")),
            ("/index.html", None),
            ("https://[2001:db8::1]:8443/", Some("2001:db8::1")),
            ("", None),
        ] {
            let mut u = Url::default();
            let mut d = Endpoint::default();
            fill_url(&mut u, &mut d, raw, None);
            assert_eq!(u.domain.as_deref(), host, "{raw}");
            assert_eq!(url_domain(raw).as_deref(), host, "{raw}");
        }
    }

    #[test]
    fn split_byte_is_the_char_split() {
        for (s, sep) in [
            ("a,b,c", b','),
            ("", b','),
            (",", b','),
            ("a,,b,", b','),
            ("abc", b','),
            ("日本,語", b','),
            ("a\u{e9}b", 0xe9),
        ] {
            let ours: Vec<&str> = split_byte(s, sep).collect();
            let std: Vec<&str> = s.split(char::from(sep)).collect();
            assert_eq!(ours, std, "{s:?} {sep}");
            let mut each = Vec::new();
            for_each_split(s, sep, |x| each.push(x));
            assert_eq!(each, std, "{s:?} {sep}");
        }
    }

    #[test]
    fn parse_f64_matches_the_standard_parser() {
        for s in [
            "0",
            "0.0012",
            "60.000000",
            "0.000001",
            "1.",
            ".5",
            "123456789.123456",
            "999999999999999",
            "9999999999999999",
            "0.1",
            "0.3",
            "2.675",
            "1e3",
            "-1.5",
            "",
            ".",
            "1.2.3",
            "inf",
            "NaN",
            "00000000000000001",
            "0.100000000000000",
        ] {
            let ours = parse_f64(s).map(f64::to_bits);
            let std = s.parse::<f64>().ok().map(f64::to_bits);
            assert_eq!(ours, std, "{s:?}");
        }
    }

    #[test]
    fn parse_u64_matches_the_standard_parser() {
        for s in [
            "0",
            "00",
            "7",
            "65535",
            "18446744073709551615",
            "18446744073709551616",
            "9999999999999999999",
            "99999999999999999999",
            "+5",
            "-0",
            "",
            " 1",
            "1 ",
            "1.0",
            "\u{663}",
        ] {
            assert_eq!(parse_u64(s), s.parse::<u64>().ok(), "{s:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn iso8601_is_the_reference(
            s in "[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}([.,][0-9]{0,12})?(Z|z|[+-][0-9]{2}(:?[0-9]{2})?)?"
        ) {
            same_as_reference(&s)?;
        }

        #[test]
        fn iso8601_on_any_text(s in "[0-9T:+Z., -]{0,34}", t in "\\PC{0,34}") {
            same_as_reference(&s)?;
            // Never a panic, whatever the characters.
            let _ = iso8601(&t);
            let _ = clf_time(&t);
        }

        /// Whatever the text, the fast path never answers an address the standard parser
        /// would not (it may decline, then the standard parser decides).
        #[test]
        fn ipv4_agrees_with_the_standard_parser(s in "[0-9.]{0,17}", a: u8, b: u8, c: u8, d: u8) {
            if let Some(v4) = ipv4(s.as_bytes()) {
                proptest::prop_assert_eq!(Some(v4), s.parse().ok(), "{}", s);
            }
            let dotted = format!("{a}.{b}.{c}.{d}");
            proptest::prop_assert_eq!(ipv4(dotted.as_bytes()), Some(std::net::Ipv4Addr::new(a, b, c, d)));
        }

        #[test]
        fn column_ends_are_the_separator_ends(s in "[a\t,]{0,40}", sep in proptest::sample::select(vec![b'\t', b',', b'a'])) {
            let mut ends = Vec::new();
            separator_ends(s.as_bytes(), sep, &mut ends);
            let streamed: Vec<usize> = ColumnEnds::new(s.as_bytes(), sep).collect();
            proptest::prop_assert_eq!(streamed, ends);
        }

        #[test]
        fn parse_u64_is_the_standard_parser(s in "[+0-9a ]{0,22}", n: u64) {
            proptest::prop_assert_eq!(parse_u64(&s), s.parse::<u64>().ok(), "{}", s);
            let t = n.to_string();
            proptest::prop_assert_eq!(parse_u64(&t), Some(n));
        }

        #[test]
        fn parse_f64_text_is_the_standard_parser(s in "[0-9.e+-]{0,18}") {
            proptest::prop_assert_eq!(
                parse_f64(&s).map(f64::to_bits),
                s.parse::<f64>().ok().map(f64::to_bits),
                "{}", s
            );
        }

        #[test]
        fn parse_f64_is_the_standard_parser(int in 0u64..10_000_000_000, frac in 0u64..1_000_000, width in 0usize..8) {
            let s = if width == 0 {
                int.to_string()
            } else {
                format!("{int}.{frac:0width$}")
            };
            proptest::prop_assert_eq!(
                parse_f64(&s).map(f64::to_bits),
                s.parse::<f64>().ok().map(f64::to_bits),
                "{}", s
            );
        }
    }

    #[test]
    fn ipv4_is_the_standard_parser() {
        for s in [
            "0.0.0.0",
            "255.255.255.255",
            "256.1.1.1",
            "1.2.3.256",
            "01.2.3.4",
            "1.2.3.04",
            "1.2.3.0",
            "10.0.0.10",
            "1.2.3",
            "1.2.3.4.5",
            "1..2.3",
            ".1.2.3",
            "1.2.3.",
            "1.2.3.4 ",
            "1.2.3.+4",
            "1111.2.3.4",
            "a.b.c.d",
            "[1.2.3.4]",
            "::ffff:1.2.3.4",
            "100.200.250.199",
        ] {
            let std = s.parse::<std::net::Ipv4Addr>().ok();
            assert_eq!(ipv4(s.as_bytes()), std, "{s:?}");
            assert_eq!(
                ip(s),
                s.parse::<IpAddr>()
                    .ok()
                    .or_else(|| { s.strip_prefix('[')?.strip_suffix(']')?.parse().ok() }),
                "{s:?}"
            );
        }
    }

    /// The URL and address code before the byte-scan rewrite, kept as the reference the
    /// rewrite must agree with.
    mod reference {
        use super::super::{Endpoint, IpAddr, Url, default_port, domain, lower};

        fn old_split_url<'a>(
            raw: &'a str,
            host: Option<&'a str>,
        ) -> (Option<&'a str>, Option<&'a str>, &'a str) {
            let (scheme, after_scheme) = match raw.find("://") {
                Some(i)
                    if raw[..i]
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'+') =>
                {
                    (Some(&raw[..i]), &raw[i + 3..])
                }
                _ => (None, raw),
            };
            let (authority, path_q) = if scheme.is_some() {
                match after_scheme.find(['/', '?', '#']) {
                    Some(i) => (Some(&after_scheme[..i]), &after_scheme[i..]),
                    None => (Some(after_scheme), ""),
                }
            } else if raw.starts_with('/') || raw == "*" {
                (host, raw)
            } else {
                // authority-form (CONNECT host:443) or a bare host
                (Some(raw), "")
            };
            (scheme, authority, path_q)
        }
        pub(super) fn old_fill_url(
            url: &mut Url,
            dest: &mut Endpoint,
            raw: &str,
            host: Option<&str>,
        ) {
            let (scheme, authority, path_q) = old_split_url(raw, host);
            if let Some(s) = scheme {
                url.scheme = Some(lower(s));
            }
            if let Some(a) = authority.filter(|a| !a.is_empty()) {
                let a = a.rsplit_once('@').map_or(a, |(_, h)| h);
                let (h, port) = old_split_host_port(a);
                if !h.is_empty() {
                    let d = domain(h);
                    if dest.domain.is_none() && old_ip(h).is_none() {
                        dest.domain = Some(d.clone());
                    }
                    url.domain = Some(d);
                }
                if let Some(p) = port {
                    url.port = Some(p);
                    dest.port.get_or_insert(p);
                } else if let Some(p) = url.scheme.as_deref().and_then(default_port) {
                    dest.port.get_or_insert(p);
                }
            }
            let path_q = path_q.split_once('#').map_or(path_q, |(p, _)| p);
            let (path, query) = match path_q.split_once('?') {
                Some((p, q)) => (p, Some(q)),
                None => (path_q, None),
            };
            if !path.is_empty() {
                let last = path.rsplit('/').next().unwrap_or("");
                if let Some((_, ext)) = last.rsplit_once('.')
                    && !ext.is_empty()
                    && ext.len() <= 10
                    && ext.bytes().all(|b| b.is_ascii_alphanumeric())
                {
                    url.extension = Some(lower(ext));
                }
                url.path = Some(path.to_owned());
            }
            if let Some(q) = query.filter(|q| !q.is_empty()) {
                url.query = Some(q.to_owned());
            }
            if scheme.is_some() {
                url.full = Some(raw.to_owned());
            } else if let (Some(h), true) = (host, raw.starts_with('/')) {
                let scheme = url.scheme.as_deref().unwrap_or("http");
                url.full = Some(format!("{scheme}://{h}{raw}"));
            }
        }
        fn old_split_host_port(a: &str) -> (&str, Option<u16>) {
            if let Some(rest) = a.strip_prefix('[') {
                if let Some((h, p)) = rest.split_once(']') {
                    return (h, p.strip_prefix(':').and_then(|p| p.parse().ok()));
                }
                return (a, None);
            }
            match a.rsplit_once(':') {
                Some((h, p)) if !h.contains(':') => match p.parse() {
                    Ok(port) => (h, Some(port)),
                    Err(_) => (a, None),
                },
                _ => (a, None),
            }
        }
        pub(super) fn old_ip(s: &str) -> Option<IpAddr> {
            // Strip an IPv6 zone or brackets as some logs write them.
            let s = s
                .strip_prefix('[')
                .and_then(|x| x.strip_suffix(']'))
                .unwrap_or(s);
            s.parse().ok()
        }
    }

    fn url_fields(u: &Url, d: &Endpoint) -> String {
        format!("{u:?} {d:?}")
    }

    proptest::proptest! {
        /// The byte-scan URL split fills exactly what the `str`-pattern one did.
        #[test]
        fn fill_url_is_the_reference(
            raw in "[a-zA-Z0-9+:/?#@.\\[\\]%-]{0,40}",
            host in proptest::option::of("[a-z0-9.:\\[\\]-]{0,12}"),
        ) {
            let (mut u1, mut d1) = (Url::default(), Endpoint::default());
            let (mut u2, mut d2) = (Url::default(), Endpoint::default());
            fill_url(&mut u1, &mut d1, &raw, host.as_deref());
            reference::old_fill_url(&mut u2, &mut d2, &raw, host.as_deref());
            proptest::prop_assert_eq!(url_fields(&u1, &d1), url_fields(&u2, &d2));
            let (mut u3, mut d3) = (Url::default(), Endpoint::default());
            reference::old_fill_url(&mut u3, &mut d3, &raw, None);
            proptest::prop_assert_eq!(url_domain(&raw), u3.domain);
        }

        /// `ip` answers what `str::parse` (after stripping brackets) answers, on any text.
        #[test]
        fn ip_is_the_reference(s in "[0-9a-fA-F.:\\[\\]g+ %-]{0,20}") {
            proptest::prop_assert_eq!(ip(&s), reference::old_ip(&s));
        }

        /// The fast IPv4 parser is the standard one on dotted digits.
        #[test]
        fn ipv4_is_the_standard_parser_on_digits(s in "[0-9.]{0,17}") {
            proptest::prop_assert_eq!(ipv4(s.as_bytes()), s.parse().ok(), "{}", s);
        }

        /// `Words` splits on runs of spaces and tabs like `str::split` without the empties.
        #[test]
        fn words_split_on_blank_runs(s in "[ \ta-z\u{e9}]{0,80}") {
            let want: Vec<&str> = s.split([' ', '\t']).filter(|w| !w.is_empty()).collect();
            let got: Vec<&str> = Words::new(&s).collect();
            proptest::prop_assert_eq!(got, want);
            let mut w = Words::new(&s);
            w.next();
            proptest::prop_assert_eq!(w.rest(), {
                let t = s.trim_start_matches([' ', '\t']);
                let end = t.find([' ', '\t']).unwrap_or(t.len());
                t[end..].trim_start_matches([' ', '\t'])
            });
        }
    }

    #[test]
    fn separator_ends_finds_every_separator() {
        for line in [
            "",
            "a",
            "\t",
            "a\tb",
            "1517336042.279652\tCVvre\t192.168.88.2\t55638\t\t\t-\t(empty)\t\u{e9}\u{ff}x\t",
            "0123456\t89abcdef\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t",
        ] {
            for sep in [b'\t', b',', 0x7f, 0x80, 0xff, 0] {
                let mut got = Vec::new();
                separator_ends(line.as_bytes(), sep, &mut got);
                let mut want: Vec<usize> = memchr::memchr_iter(sep, line.as_bytes()).collect();
                want.push(line.len());
                assert_eq!(got, want, "{line:?} {sep}");
            }
        }
        assert!(is_marker("-", "-") && !is_marker("x", "-") && !is_marker("--", "-"));
        assert!(is_marker("(empty)", "(empty)") && is_marker("", "") && !is_marker("", "-"));
    }

    #[test]
    fn words() {
        let w: Vec<_> = Words::new("  a  b\tc ").collect();
        assert_eq!(w, ["a", "b", "c"]);
    }
}
