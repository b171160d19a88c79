//! Low-level text output: integers, addresses, times and JSON strings appended to a byte
//! buffer without going through `fmt` (the generator's hot path).

use std::net::Ipv4Addr;

/// Nanoseconds per second.
pub const NS: i64 = 1_000_000_000;

/// Japan Standard Time, the estate's local time (UTC+9, no daylight saving).
pub const JST_OFFSET_S: i64 = 9 * 3600;

pub fn push_u64(buf: &mut Vec<u8>, v: u64) {
    let mut b = itoa::Buffer::new();
    buf.extend_from_slice(b.format(v).as_bytes());
}

pub fn push_i64(buf: &mut Vec<u8>, v: i64) {
    let mut b = itoa::Buffer::new();
    buf.extend_from_slice(b.format(v).as_bytes());
}

fn push_2(buf: &mut Vec<u8>, v: u32) {
    buf.push(b'0' + (v / 10 % 10) as u8);
    buf.push(b'0' + (v % 10) as u8);
}

/// The `digits` leading fractional digits of `nanos` (0..=9).
fn push_frac(buf: &mut Vec<u8>, nanos_in_sec: u32, digits: u32) {
    if digits == 0 {
        return;
    }
    buf.push(b'.');
    let mut div = 100_000_000;
    for _ in 0..digits.min(9) {
        buf.push(b'0' + (nanos_in_sec / div % 10) as u8);
        div /= 10;
    }
}

/// Epoch seconds with `digits` fractional digits (`1700000000.123456`), as Squid and Zeek write.
pub fn push_epoch(buf: &mut Vec<u8>, nanos: i64, digits: u32) {
    push_i64(buf, nanos.div_euclid(NS));
    push_frac(buf, nanos.rem_euclid(NS) as u32, digits);
}

/// Civil date of a day count since 1970-01-01 (H. Hinnant's algorithm).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Days since 1970-01-01 of a civil date.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

struct Civil {
    y: i64,
    mo: u32,
    d: u32,
    h: u32,
    mi: u32,
    s: u32,
    ns: u32,
}

fn civil(nanos: i64) -> Civil {
    let secs = nanos.div_euclid(NS);
    let ns = nanos.rem_euclid(NS) as u32;
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400) as u32;
    let (y, mo, d) = civil_from_days(days);
    Civil {
        y,
        mo,
        d,
        h: sod / 3600,
        mi: sod / 60 % 60,
        s: sod % 60,
        ns,
    }
}

fn push_date_time(buf: &mut Vec<u8>, c: &Civil, t: u8) {
    push_i64(buf, c.y);
    buf.push(b'-');
    push_2(buf, c.mo);
    buf.push(b'-');
    push_2(buf, c.d);
    buf.push(t);
    push_2(buf, c.h);
    buf.push(b':');
    push_2(buf, c.mi);
    buf.push(b':');
    push_2(buf, c.s);
}

/// `2026-01-05T01:02:03.123456Z`
pub fn push_rfc3339_utc(buf: &mut Vec<u8>, nanos: i64, digits: u32) {
    let c = civil(nanos);
    push_date_time(buf, &c, b'T');
    push_frac(buf, c.ns, digits);
    buf.push(b'Z');
}

/// Local time with a numeric offset: `2026-01-05T10:02:03.123456+0900` (Suricata) or, with
/// `colon`, `2026-01-05T10:02:03.123+09:00` (RFC 5424).
pub fn push_rfc3339_local(buf: &mut Vec<u8>, nanos: i64, offset_s: i64, digits: u32, colon: bool) {
    let c = civil(nanos + offset_s * NS);
    push_date_time(buf, &c, b'T');
    push_frac(buf, c.ns, digits);
    buf.push(if offset_s < 0 { b'-' } else { b'+' });
    let off = offset_s.unsigned_abs();
    push_2(buf, (off / 3600) as u32);
    if colon {
        buf.push(b':');
    }
    push_2(buf, (off / 60 % 60) as u32);
}

/// Zeek's `#open` / `#close` stamp: `2026-01-05-00-00-00` (UTC).
pub fn push_zeek_stamp(buf: &mut Vec<u8>, nanos: i64) {
    let c = civil(nanos);
    push_i64(buf, c.y);
    for v in [c.mo, c.d, c.h, c.mi, c.s] {
        buf.push(b'-');
        push_2(buf, v);
    }
}

const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

/// RFC 3164 timestamp in local time: `Jan  5 10:02:03` (day padded with a space).
pub fn push_bsd_time(buf: &mut Vec<u8>, nanos: i64, offset_s: i64) {
    let c = civil(nanos + offset_s * NS);
    let m = MONTHS
        .get((c.mo as usize).wrapping_sub(1))
        .copied()
        .unwrap_or(b"Jan");
    buf.extend_from_slice(m);
    buf.push(b' ');
    if c.d < 10 {
        buf.push(b' ');
        buf.push(b'0' + c.d as u8);
    } else {
        push_2(buf, c.d);
    }
    buf.push(b' ');
    push_2(buf, c.h);
    buf.push(b':');
    push_2(buf, c.mi);
    buf.push(b':');
    push_2(buf, c.s);
}

pub fn push_ipv4(buf: &mut Vec<u8>, ip: Ipv4Addr) {
    let [a, b, c, d] = ip.octets();
    push_u64(buf, u64::from(a));
    buf.push(b'.');
    push_u64(buf, u64::from(b));
    buf.push(b'.');
    push_u64(buf, u64::from(c));
    buf.push(b'.');
    push_u64(buf, u64::from(d));
}

/// A non-negative duration in seconds with `digits` decimals, from microseconds.
pub fn push_secs_micros(buf: &mut Vec<u8>, micros: u64, digits: u32) {
    push_u64(buf, micros / 1_000_000);
    if digits > 0 {
        buf.push(b'.');
        let frac = (micros % 1_000_000) as u32;
        let mut div = 100_000;
        for _ in 0..digits.min(6) {
            buf.push(b'0' + (frac / div % 10) as u8);
            div /= 10;
        }
    }
}

/// A JSON string literal, escaped per RFC 8259.
pub fn push_json_str(buf: &mut Vec<u8>, s: &str) {
    buf.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f => b"",
            _ => continue,
        };
        buf.extend_from_slice(bytes.get(start..i).unwrap_or_default());
        if esc.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            buf.extend_from_slice(b"\\u00");
            buf.push(HEX[usize::from(b >> 4)]);
            buf.push(HEX[usize::from(b & 15)]);
        } else {
            buf.extend_from_slice(esc);
        }
        start = i + 1;
    }
    buf.extend_from_slice(bytes.get(start..).unwrap_or_default());
    buf.push(b'"');
}

/// `"key":` with a leading comma unless `first`.
pub fn push_key(buf: &mut Vec<u8>, key: &str, first: bool) {
    if !first {
        buf.push(b',');
    }
    buf.push(b'"');
    buf.extend_from_slice(key.as_bytes());
    buf.extend_from_slice(b"\":");
}

/// A Zeek TSV field: escapes tab, newline and backslash as `\xNN`; empty strings are
/// `(empty)`.
pub fn push_zeek_field(buf: &mut Vec<u8>, s: &str) {
    if s.is_empty() {
        buf.extend_from_slice(b"(empty)");
        return;
    }
    for &b in s.as_bytes() {
        if b == b'\t' || b == b'\n' || b == b'\\' || b < 0x20 {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            buf.extend_from_slice(b"\\x");
            buf.push(HEX[usize::from(b >> 4)]);
            buf.push(HEX[usize::from(b & 15)]);
        } else {
            buf.push(b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use yagura_model::Timestamp;

    fn s(f: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut b = Vec::new();
        f(&mut b);
        String::from_utf8(b).unwrap()
    }

    #[test]
    fn times_agree_with_the_model() {
        for text in [
            "2026-01-05T01:02:03.123456Z",
            "2024-02-29T23:59:59.000001Z",
            "1970-01-01T00:00:00.000000Z",
            "2100-12-31T12:00:00.999999Z",
        ] {
            let t = Timestamp::parse_rfc3339(text).unwrap().nanos();
            assert_eq!(s(|b| push_rfc3339_utc(b, t, 6)), text);
        }
        let t = Timestamp::parse_rfc3339("2026-01-05T01:02:03.5Z")
            .unwrap()
            .nanos();
        assert_eq!(
            s(|b| push_rfc3339_local(b, t, JST_OFFSET_S, 6, false)),
            "2026-01-05T10:02:03.500000+0900"
        );
        assert_eq!(
            s(|b| push_rfc3339_local(b, t, JST_OFFSET_S, 3, true)),
            "2026-01-05T10:02:03.500+09:00"
        );
        assert_eq!(s(|b| push_bsd_time(b, t, JST_OFFSET_S)), "Jan  5 10:02:03");
        assert_eq!(s(|b| push_epoch(b, t, 3)), "1767574923.500");
        assert_eq!(s(|b| push_zeek_stamp(b, t)), "2026-01-05-01-02-03");
        let parsed = Timestamp::parse_epoch_decimal(&s(|b| push_epoch(b, t, 6))).unwrap();
        assert_eq!(parsed.nanos(), t);
    }

    #[test]
    fn civil_round_trips() {
        for days in [-1000, 0, 59, 365, 10_957, 20_000, 47_482] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn json_strings_are_valid_json() {
        for raw in [
            "plain",
            "q\"uote",
            "back\\slash",
            "ctl\u{1}x",
            "tab\tnl\n",
            "日本",
        ] {
            let out = s(|b| push_json_str(b, raw));
            let back: String = serde_json::from_str(&out).unwrap();
            assert_eq!(back, raw);
        }
    }

    #[test]
    fn zeek_fields_escape_separators() {
        assert_eq!(s(|b| push_zeek_field(b, "a\tb")), "a\\x09b");
        assert_eq!(s(|b| push_zeek_field(b, "")), "(empty)");
        assert_eq!(s(|b| push_secs_micros(b, 1_234_567, 6)), "1.234567");
    }
}
