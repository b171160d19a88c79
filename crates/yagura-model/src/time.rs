//! Event time: UTC, nanosecond precision, cheap to copy and compare.
//!
//! Every time in yagura is event time in UTC. Readers convert whatever the source wrote
//! (epoch seconds with milliseconds, RFC 3339 with offsets, Windows FILETIME, syslog without a
//! year) into a [`Timestamp`]; nothing downstream looks at wall-clock time.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Nanoseconds since 1970-01-01T00:00:00Z.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(i64);

/// The range readers accept: 1970-01-01 to 2200-01-01. Anything outside is an impossible
/// timestamp for telemetry and is rejected with a reason.
pub const MIN_NANOS: i64 = 0;
pub const MAX_NANOS: i64 = 7_258_118_400 * 1_000_000_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    #[error("timestamp {0:?} is not RFC 3339")]
    Syntax(String),
    #[error("timestamp {0} is outside 1970..2200")]
    OutOfRange(String),
}

impl Timestamp {
    pub const EPOCH: Timestamp = Timestamp(0);

    pub const fn from_nanos(n: i64) -> Timestamp {
        Timestamp(n)
    }

    /// Checked constructor for untrusted input.
    pub fn try_from_nanos(n: i64) -> Result<Timestamp, TimeError> {
        if !(MIN_NANOS..MAX_NANOS).contains(&n) {
            return Err(TimeError::OutOfRange(format!("{n}ns")));
        }
        Ok(Timestamp(n))
    }

    pub fn from_secs(s: i64) -> Timestamp {
        Timestamp(s.saturating_mul(1_000_000_000))
    }

    pub fn from_millis(ms: i64) -> Timestamp {
        Timestamp(ms.saturating_mul(1_000_000))
    }

    /// Epoch seconds with a fraction (Zeek's `ts`), checked.
    pub fn from_epoch_f64(secs: f64) -> Result<Timestamp, TimeError> {
        if !secs.is_finite() {
            return Err(TimeError::OutOfRange(secs.to_string()));
        }
        if !(MIN_NANOS as f64 / 1e9..MAX_NANOS as f64 / 1e9).contains(&secs) {
            return Err(TimeError::OutOfRange(secs.to_string()));
        }
        // Whole seconds and the fraction separately: `secs * 1e9` alone loses the last digits.
        let whole = secs.trunc();
        let frac = ((secs - whole) * 1e9).round() as i64;
        Timestamp::try_from_nanos(whole as i64 * 1_000_000_000 + frac)
    }

    /// Parses decimal epoch seconds as written in logs (`1331901000.123456`, `1700000000`),
    /// exactly, without going through floating point. At most 9 fractional digits are used.
    pub fn parse_epoch_decimal(s: &str) -> Result<Timestamp, TimeError> {
        // One pass over the bytes (this runs once per Zeek/Squid line): integer digits, an
        // optional `.`, fraction digits; no split, no second validation scan, no `pow`.
        const SCALE: [i64; 10] = [
            1_000_000_000,
            100_000_000,
            10_000_000,
            1_000_000,
            100_000,
            10_000,
            1_000,
            100,
            10,
            1,
        ];
        let bad = || TimeError::Syntax(s.to_owned());
        let b = s.as_bytes();
        let mut i = 0;
        let mut secs: i64 = 0;
        while let Some(&c) = b.get(i) {
            let d = c.wrapping_sub(b'0');
            if d > 9 {
                break;
            }
            // At most 11 integer digits (also keeps `secs` far from overflowing).
            if i == 11 {
                return Err(bad());
            }
            secs = secs * 10 + i64::from(d);
            i += 1;
        }
        if i == 0 {
            return Err(bad());
        }
        let mut nanos: i64 = 0;
        if let Some(&c) = b.get(i) {
            if c != b'.' {
                return Err(bad());
            }
            // Up to 9 fraction digits are used; later ones must still be digits.
            let mut used = 0;
            for &c in b.get(i + 1..).unwrap_or_default() {
                let d = c.wrapping_sub(b'0');
                if d > 9 {
                    return Err(bad());
                }
                if used < 9 {
                    nanos = nanos * 10 + i64::from(d);
                    used += 1;
                }
            }
            nanos *= SCALE.get(used).copied().unwrap_or(1);
        }
        // Checked: 11 integer digits overflow i64 nanoseconds.
        secs.checked_mul(1_000_000_000)
            .and_then(|n| n.checked_add(nanos))
            .ok_or_else(|| TimeError::OutOfRange(s.to_owned()))
            .and_then(|n| {
                Timestamp::try_from_nanos(n).map_err(|_| TimeError::OutOfRange(s.to_owned()))
            })
    }

    /// Wall-clock now. Only for callers that want wall time (ingest receipt, audit trail).
    pub fn now() -> Timestamp {
        Timestamp::from(Utc::now())
    }

    pub const fn nanos(self) -> i64 {
        self.0
    }

    pub const fn secs(self) -> i64 {
        self.0.div_euclid(1_000_000_000)
    }

    pub const fn millis(self) -> i64 {
        self.0.div_euclid(1_000_000)
    }

    pub fn to_datetime(self) -> DateTime<Utc> {
        Utc.timestamp_nanos(self.0)
    }

    pub fn saturating_add_secs(self, s: i64) -> Timestamp {
        Timestamp(self.0.saturating_add(s.saturating_mul(1_000_000_000)))
    }

    pub fn saturating_sub_secs(self, s: i64) -> Timestamp {
        Timestamp(self.0.saturating_sub(s.saturating_mul(1_000_000_000)))
    }

    /// Seconds from `earlier` to `self` (negative when `earlier` is later).
    pub fn secs_since(self, earlier: Timestamp) -> f64 {
        (self.0 - earlier.0) as f64 / 1e9
    }

    /// Parses RFC 3339 (any offset; converted to UTC).
    pub fn parse_rfc3339(s: &str) -> Result<Timestamp, TimeError> {
        let dt = DateTime::parse_from_rfc3339(s).map_err(|_| TimeError::Syntax(s.to_owned()))?;
        let n = dt
            .timestamp_nanos_opt()
            .ok_or_else(|| TimeError::OutOfRange(s.to_owned()))?;
        Timestamp::try_from_nanos(n).map_err(|_| TimeError::OutOfRange(s.to_owned()))
    }

    /// RFC 3339 in UTC with `Z`, with as many fractional digits as needed (0, 3, 6 or 9).
    pub fn to_rfc3339(self) -> String {
        self.to_datetime()
            .to_rfc3339_opts(SecondsFormat::AutoSi, true)
    }
}

impl From<DateTime<Utc>> for Timestamp {
    fn from(dt: DateTime<Utc>) -> Timestamp {
        // Saturate outside ±292 years; such times are rejected by readers before they get here.
        Timestamp(dt.timestamp_nanos_opt().unwrap_or(if dt.timestamp() < 0 {
            i64::MIN
        } else {
            i64::MAX
        }))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl FromStr for Timestamp {
    type Err = TimeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Timestamp::parse_rfc3339(s)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // The text is parsed where the deserializer holds it, without a copy into a `String`
        // (`Cow<str>`'s `Deserialize` always copies). The visitor accepts what `String`'s
        // accepts (text, UTF-8 bytes) and words its errors alike ("expected a string").
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Timestamp;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Timestamp, E> {
                Timestamp::parse_rfc3339(s).map_err(E::custom)
            }
            fn visit_bytes<E: serde::de::Error>(self, b: &[u8]) -> Result<Timestamp, E> {
                match std::str::from_utf8(b) {
                    Ok(s) => self.visit_str(s),
                    Err(_) => Err(E::invalid_value(serde::de::Unexpected::Bytes(b), &self)),
                }
            }
        }
        d.deserialize_string(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The previous `Deserialize` (through an owned `Cow<str>`), the reference.
    fn via_cow(v: &serde_json::Value) -> Result<Timestamp, String> {
        let s: std::borrow::Cow<'_, str> =
            serde_json::from_value(v.clone()).map_err(|e| e.to_string())?;
        Timestamp::parse_rfc3339(&s).map_err(|e| e.to_string())
    }

    #[test]
    fn deserialize_is_the_cow_path() {
        let texts = [
            r#""2026-01-05T01:02:03Z""#,
            r#""2026-01-05T01:02:03.123456789+09:00""#,
            r#""not a time""#,
            r#""1969-12-31T23:59:59Z""#,
            r#""""#,
            r#""2026-01-05T01:02:03\u005a""#,
            "5",
            "-1.5",
            "null",
            "true",
            "[]",
            "{}",
        ];
        for t in texts {
            let v: serde_json::Value = serde_json::from_str(t).expect("json");
            let reference = via_cow(&v);
            let from_value = serde_json::from_value::<Timestamp>(v).map_err(|e| e.to_string());
            assert_eq!(from_value, reference, "{t}");
            // From text (borrowed, or unescaped into a scratch buffer): the same, but for the
            // position serde_json adds to errors of its own.
            let from_str = serde_json::from_str::<Timestamp>(t).map_err(|e| e.to_string());
            match (&from_str, &reference) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "{t}"),
                (Err(a), Err(b)) => assert!(a.starts_with(b.as_str()), "{t}: {a} / {b}"),
                _ => panic!("{t}: {from_str:?} / {reference:?}"),
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn deserialize_is_the_cow_path_on_any_text(s in "\\PC{0,40}", stamp in 0i64..MAX_NANOS) {
            for text in [s, Timestamp::from_nanos(stamp).to_rfc3339()] {
                let v = serde_json::Value::String(text);
                proptest::prop_assert_eq!(
                    serde_json::from_value::<Timestamp>(v.clone()).map_err(|e| e.to_string()),
                    via_cow(&v)
                );
            }
        }
    }

    #[test]
    fn rfc3339_round_trip_keeps_precision() {
        for s in [
            "2026-01-05T01:02:03Z",
            "2026-01-05T01:02:03.123Z",
            "2026-01-05T01:02:03.123456Z",
            "2026-01-05T01:02:03.123456789Z",
        ] {
            let t: Timestamp = s.parse().unwrap();
            assert_eq!(t.to_rfc3339(), s);
        }
    }

    #[test]
    fn offsets_become_utc() {
        let t: Timestamp = "2026-01-05T10:02:03+09:00".parse().unwrap();
        assert_eq!(t.to_rfc3339(), "2026-01-05T01:02:03Z");
    }

    #[test]
    fn impossible_times_are_errors() {
        assert!(Timestamp::from_epoch_f64(f64::NAN).is_err());
        assert!(Timestamp::from_epoch_f64(-1.0).is_err());
        assert!(Timestamp::from_epoch_f64(1e12).is_err());
        assert!("1969-12-31T23:59:59Z".parse::<Timestamp>().is_err());
        assert!("not a time".parse::<Timestamp>().is_err());
        assert_eq!(
            Timestamp::from_epoch_f64(1_700_000_000.25)
                .unwrap()
                .millis(),
            1_700_000_000_250
        );
    }

    #[test]
    fn epoch_decimal_is_exact() {
        let t = Timestamp::parse_epoch_decimal("1331901000.123456789").unwrap();
        assert_eq!(t.nanos(), 1_331_901_000_123_456_789);
        assert_eq!(
            Timestamp::parse_epoch_decimal("1700000000").unwrap().secs(),
            1_700_000_000
        );
        assert_eq!(
            Timestamp::parse_epoch_decimal("1700000000.5")
                .unwrap()
                .millis(),
            1_700_000_000_500
        );
        assert_eq!(
            Timestamp::parse_epoch_decimal("1700000000.")
                .unwrap()
                .secs(),
            1_700_000_000
        );
        // Digits after the ninth are checked, not used.
        assert_eq!(
            Timestamp::parse_epoch_decimal("1.1234567899")
                .unwrap()
                .nanos(),
            1_123_456_789
        );
        assert_eq!(
            Timestamp::parse_epoch_decimal("99999999999.5"),
            Err(TimeError::OutOfRange("99999999999.5".to_owned()))
        );
        for bad in [
            "",
            ".5",
            "-1",
            "1e9",
            "17000000000000.0",
            "170000000000",
            "12a.4",
            "1.2.3",
            "1.1234567890x",
            "1 ",
        ] {
            assert!(Timestamp::parse_epoch_decimal(bad).is_err(), "{bad}");
        }
    }
}
