//! Plain lists: one value per line; `#`, `;` and `//` start comment lines; a value may be
//! followed by whitespace and anything else (maltrail's `# was: …`, ipsum's counts).
//!
//! Maltrail trail files are recognized by their header: the `# Aliases:` line adds the
//! family's aliases as tags, and the family (the file stem) is a tag of every trail. The
//! trail forms maltrail publishes (domains, IPs, `ip:port`, `[v6]:port`, CIDRs, URLs with and
//! without scheme, bare paths) all import; the few regular-expression trails cannot become
//! exact indicators and are rejected with that reason. A leading dot (`.xyz`, `.cu.cc`) is
//! maltrail's explicit suffix trail: a domain indicator for the suffix, which matches every
//! name below it; a bare single label without the dot is rejected (a typo such as `localhost`
//! would otherwise match a whole namespace). A bare path may contain spaces. Maltrail's
//! `suspicious/` trails and the mass-scanner lists get at most confidence
//! [`SUSPICIOUS_CONFIDENCE`] (low severity): they are leads, not verdicts.

use super::{FeedDefaults, ImportReport, RecordMeta, insert};
use crate::normalize;
use crate::store::IndicatorStore;

/// Confidence ceiling of maltrail's `suspicious/` trails and mass-scanner lists.
pub const SUSPICIOUS_CONFIDENCE: u8 = 30;

fn family_of(origin: &str) -> Option<String> {
    let stem = std::path::Path::new(origin).file_stem()?.to_string_lossy();
    Some(stem.into_owned())
}

pub(crate) fn import(
    store: &mut IndicatorStore,
    origin: &str,
    bytes: &[u8],
    d: &FeedDefaults,
    report: &mut ImportReport,
) {
    let head = bytes.get(..bytes.len().min(512)).unwrap_or(bytes);
    let maltrail = memchr_contains(head, b"Maltrail");
    let mut meta = RecordMeta::default();
    if maltrail {
        if let Some(f) = family_of(origin) {
            meta.tags.push(f);
        }
        // Aliases appear in the header comments.
        for line in bytes.split(|&b| b == b'\n').take(40) {
            if let Ok(l) = std::str::from_utf8(line)
                && let Some(a) = l.trim().strip_prefix("# Aliases:")
            {
                for alias in a.split(',') {
                    let alias = alias.trim();
                    if !alias.is_empty() && !meta.tags.iter().any(|t| t.eq_ignore_ascii_case(alias))
                    {
                        meta.tags.push(alias.to_owned());
                    }
                }
            }
        }
    }
    let mut d = d.clone();
    if maltrail && (origin.contains("/suspicious/") || origin.contains("mass_scanner")) {
        // Suspicious trails (whole TLDs, dynamic DNS, scanners) are leads, not verdicts.
        d.confidence = d.confidence.min(SUSPICIOUS_CONFIDENCE);
    }
    let meta_id = store.intern(meta.into_meta(origin, &d));
    for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
        let Ok(line) = std::str::from_utf8(line) else {
            report.reject(
                format!("line {}", i + 1),
                &String::from_utf8_lossy(line),
                "not valid UTF-8",
            );
            continue;
        };
        let t = line.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
        if t.is_empty() || t.starts_with('#') || t.starts_with(';') || t.starts_with("//") {
            continue;
        }
        // A bare path may contain spaces (`/Consulta FGTS.js`): the whole line up to a
        // comment is the value.
        let (value, rest) = if t.starts_with('/') {
            match t.find(" #") {
                Some(p) => (t.get(..p).unwrap_or(t).trim_end(), ""),
                None => (t, ""),
            }
        } else {
            let mut parts = t.splitn(2, char::is_whitespace);
            (
                parts.next().unwrap_or(t),
                parts.next().map(str::trim).unwrap_or(""),
            )
        };
        // After the value only a comment or a number (ipsum's list count) may follow.
        if !(rest.is_empty()
            || rest.starts_with('#')
            || rest.starts_with(';')
            || rest.starts_with("//")
            || rest.bytes().all(|b| b.is_ascii_digit()))
        {
            report.reject(
                format!("line {}", i + 1),
                t,
                "more than one value on the line",
            );
            continue;
        }
        // `value#comment` without a space.
        let value = match value.find('#') {
            Some(p) if !value.contains("://") => value.get(..p).unwrap_or(value),
            _ => value,
        };
        // `.xyz`, `.cu.cc`: maltrail's explicit suffix trails (every name below it).
        let classified = match value.strip_prefix('.') {
            Some(suffix) if !suffix.is_empty() && !suffix.contains('/') => {
                normalize::domain(suffix).map(|d| normalize::Normalized {
                    kind: yagura_model::IndicatorKind::Domain,
                    value: d,
                    port: None,
                })
            }
            _ => normalize::classify(value),
        };
        match classified {
            Ok(n) => insert(store, report, &n, meta_id),
            Err(e) => {
                let reason = if value.contains(['(', '[', '{', '^', '$', '\\', '|', '*', '+', '?'])
                    && !value.starts_with('[')
                {
                    format!("a regular expression, not an exact value ({e})")
                } else {
                    e.to_string()
                };
                report.reject(format!("line {}", i + 1), value, reason);
            }
        }
    }
}

fn memchr_contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}
