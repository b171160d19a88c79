//! ArcSight CEF: `CEF:Version|Vendor|Product|Version|Signature ID|Name|Severity|Extension`.
//! Header fields escape `|` and `\`; extension values escape `=`, `\`, and write newlines as
//! `\n`/`\r`. A value runs until the next ` key=`.

use yagura_model::event::OtherValue;
use yagura_model::{Event, Str};

use super::mailgw::Fill;
use super::syslog::{Header, Spare, group, set_string};
use super::{base, refill};
use crate::util;

/// The largest scratch buffer kept for the next record (bytes).
const SCRATCH_KEPT: usize = 64 * 1024;

/// A piece of text: a slice of the line, or of the scratch buffer its unescaped copy was
/// written to.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Span {
    scratch: bool,
    start: usize,
    end: usize,
}

impl Span {
    fn get<'a>(self, line: &'a str, scratch: &'a str) -> &'a str {
        let from = if self.scratch { scratch } else { line };
        from.get(self.start..self.end).unwrap_or("")
    }
}

/// The seven header fields (`\|` and `\\` unescaped into `scratch` when a field has an
/// escape, else slices of `s`) and where the extension text after them starts.
fn header_spans(s: &str, scratch: &mut String) -> Result<([Span; 7], usize), String> {
    let mut fields = [Span::default(); 7];
    let mut n = 0;
    let b = s.as_bytes();
    let (mut start, mut i, mut escaped) = (0, 0, false);
    while let Some(&c) = b.get(i) {
        match c {
            // The escaped character (whole, when it takes several bytes: none of them is a
            // `|` or a `\`) is skipped.
            b'\\' => {
                escaped = true;
                i += 2;
            }
            b'|' => {
                if let Some(slot) = fields.get_mut(n) {
                    *slot = if escaped {
                        let at = scratch.len();
                        unescape_header(s.get(start..i).unwrap_or(""), scratch);
                        Span {
                            scratch: true,
                            start: at,
                            end: scratch.len(),
                        }
                    } else {
                        Span {
                            scratch: false,
                            start,
                            end: i,
                        }
                    };
                }
                n += 1;
                if n == 7 {
                    return Ok((fields, (i + 1).min(s.len())));
                }
                i += 1;
                start = i;
                escaped = false;
            }
            _ => i += 1,
        }
    }
    Err(format!("CEF header has {n} of 7 |-separated fields"))
}

/// The seven header fields, unescaped, and the extension text after them.
#[cfg(test)]
fn split_header(s: &str) -> Result<([String; 7], &str), String> {
    let mut scratch = String::new();
    let (spans, ext) = header_spans(s, &mut scratch)?;
    Ok((
        spans.map(|f| f.get(s, &scratch).to_owned()),
        s.get(ext..).unwrap_or(""),
    ))
}

/// A header field with `\|` and `\\` unescaped (any other `\x` kept as it is), appended to
/// `cur`.
fn unescape_header(f: &str, cur: &mut String) {
    let mut chars = f.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(n @ ('|' | '\\')) => cur.push(n),
                Some(n) => {
                    cur.push('\\');
                    cur.push(n);
                }
                None => cur.push('\\'),
            },
            _ => cur.push(c),
        }
    }
}

/// An extension value, unescaped (`\n`, `\r`, any other `\x` as `x`) and trimmed at the end:
/// a slice of `v`'s text when it has no escape, else appended to `out`.
fn unescape_ext(v: &str, at: usize, out: &mut String) -> Span {
    if !v.contains('\\') {
        return Span {
            scratch: false,
            start: at,
            end: at + v.trim_end().len(),
        };
    }
    let start = out.len();
    let mut it = v.chars();
    while let Some(c) = it.next() {
        if c == '\\' {
            match it.next() {
                Some('n') => out.push('\n'),
                Some('r') => out.push('\r'),
                Some(n) => out.push(n),
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    let end = start + out.get(start..).unwrap_or("").trim_end().len();
    out.truncate(end);
    Span {
        scratch: true,
        start,
        end,
    }
}

/// Extension pairs. A key is `[A-Za-z0-9_.\[\]-]+` directly before an unescaped `=`.
#[cfg(test)]
fn extension(s: &str) -> Vec<(&str, std::borrow::Cow<'_, str>)> {
    let (mut keys, mut scratch) = (Vec::new(), String::new());
    extension_spans(s, &mut keys, &mut scratch);
    keys.iter()
        .map(|&(k, e, v)| {
            let val = v.get(s, &scratch).to_owned();
            (s.get(k..e).unwrap_or(""), std::borrow::Cow::Owned(val))
        })
        .collect()
}

/// [`extension`] as positions: each key's start and end (its `=`) and its value's [`Span`]
/// (in `s`, or unescaped into `scratch`), in `keys` (emptied first).
fn extension_spans(s: &str, keys: &mut Vec<(usize, usize, Span)>, scratch: &mut String) {
    keys.clear();
    let b = s.as_bytes();
    let is_key = |c: u8| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-' | b'[' | b']');
    // For each unescaped '=', its key's start: back up over key characters to a space (or
    // the start).
    let mut i = 0;
    while i < b.len() {
        match b.get(i) {
            Some(b'\\') => i += 2,
            Some(b'=') => {
                let e = i;
                let mut k = e;
                while k > 0 && b.get(k - 1).is_some_and(|c| is_key(*c)) {
                    k -= 1;
                }
                if k < e && (k == 0 || b.get(k - 1) == Some(&b' ')) {
                    keys.push((k, e, Span::default()));
                }
                i += 1;
            }
            _ => i += 1,
        }
    }
    for n in 0..keys.len() {
        let next = keys.get(n + 1).map(|&(next, _, _)| next);
        let Some((_, e, span)) = keys.get_mut(n) else {
            break;
        };
        let vend = next.map_or(s.len(), |next| next.saturating_sub(1));
        let val = s.get(*e + 1..vend.max(*e + 1)).unwrap_or("");
        *span = unescape_ext(val, *e + 1, scratch);
    }
}

/// An empty vector of pairs borrowing anything, in `v`'s allocation (the in-place `collect`
/// of an emptied vector into elements of the same size keeps the buffer).
fn relife<'b>(mut v: Vec<(&str, &str)>) -> Vec<(&'b str, &'b str)> {
    v.clear();
    v.into_iter().map(|_| ("", "")).collect()
}

/// CEF time: epoch milliseconds, or `MMM dd yyyy HH:mm:ss(.SSS)`, or ISO 8601.
fn cef_time(v: &str) -> Result<yagura_model::Timestamp, String> {
    if !v.is_empty() && v.bytes().all(|c| c.is_ascii_digit()) {
        let ms: i64 = v.parse().map_err(|_| format!("rt {v:?} out of range"))?;
        return yagura_model::Timestamp::try_from_nanos(ms.saturating_mul(1_000_000))
            .map_err(|e| e.to_string());
    }
    // (`iso8601` refuses any text without a `-` at byte 4, with a formatted reason: not
    // asked, for the usual `MMM dd yyyy` form.)
    if v.as_bytes().get(4) == Some(&b'-')
        && let Ok(t) = util::iso8601(v)
    {
        return Ok(t);
    }
    let mut w = v.split_whitespace();
    let bad = || format!("time {v:?} is neither epoch ms nor MMM dd yyyy HH:mm:ss");
    let mon = w.next().and_then(util::month).ok_or_else(bad)?;
    let day: u32 = w.next().and_then(|d| d.parse().ok()).ok_or_else(bad)?;
    let year: i32 = w.next().and_then(|d| d.parse().ok()).ok_or_else(bad)?;
    let hms = w.next().ok_or_else(bad)?;
    let (hms, frac) = hms.split_once('.').unwrap_or((hms, ""));
    let mut p = hms.split(':').map(|x| x.parse::<u32>().ok());
    let (h, mi, s) = match (p.next().flatten(), p.next().flatten(), p.next().flatten()) {
        (Some(h), Some(m), Some(s)) => (h, m, s),
        _ => return Err(bad()),
    };
    let ms: u32 = frac
        .get(..frac.len().min(3))
        .and_then(|f| f.parse().ok())
        .unwrap_or(0);
    util::civil((year, mon, day), (h, mi, s, ms * 1_000_000), 0)
}

#[cfg(test)]
pub(crate) fn parse(line: &str, syslog: Option<&Header<'_>>) -> Result<Event, String> {
    super::by_value(|ev| parse_into(line, syslog, ev, &mut Spare::default()))
}

/// [`parse`] into the caller's event (which holds `Event::default()`), refilling `spare`
/// (an earlier event's): the `cef` object written over the old one (entries and buffers
/// kept where they match), the groups' boxes, the strings' and vectors' buffers.
pub(crate) fn parse_into(
    line: &str,
    syslog: Option<&Header<'_>>,
    ev: &mut Event,
    spare: &mut Spare,
) -> Result<(), String> {
    let body = line.strip_prefix("CEF:").ok_or("not a CEF record")?;
    // Unescaped header fields and extension values are written to one scratch buffer (kept
    // across records), then read as slices of it or of the line.
    let mut scratch = std::mem::take(&mut spare.scratch);
    scratch.clear();
    let spans = header_spans(body, &mut scratch).map(|(hdr, at)| {
        let ext = body.get(at..).unwrap_or("");
        extension_spans(ext, &mut spare.keys, &mut scratch);
        (hdr, ext)
    });
    let mut pairs = relife(std::mem::take(&mut spare.pairs));
    let r = spans.and_then(|(hdr, ext)| {
        let hdr = hdr.map(|f| f.get(body, &scratch));
        for &(k, e, v) in &spare.keys {
            pairs.push((ext.get(k..e).unwrap_or(""), v.get(ext, &scratch)));
        }
        fill(&hdr, &pairs, syslog, ev, spare)
    });
    spare.pairs = relife(pairs);
    // Kept unless one long record grew it: a reader does not hold a huge buffer for good.
    if scratch.capacity() <= SCRATCH_KEPT {
        spare.scratch = scratch;
    }
    r
}

fn fill(
    hdr: &[&str; 7],
    pairs: &[(&str, &str)],
    syslog: Option<&Header<'_>>,
    ev: &mut Event,
    spare: &mut Spare,
) -> Result<(), String> {
    let get = |i: usize| hdr.get(i).copied().unwrap_or("");
    let mut time = None;
    for key in ["rt", "end", "start"] {
        if let Some((_, v)) = pairs.iter().find(|(k, _)| *k == key) {
            time = Some(cef_time(v).map_err(|e| format!("{key}: {e}"))?);
            break;
        }
    }
    ev.timestamp = match (time, syslog.and_then(|h| h.time)) {
        (Some(t), _) | (None, Some(t)) => t,
        (None, None) => {
            return Err("CEF record without a time (rt, end, start or a syslog header)".to_owned());
        }
    };
    if let Some(h) = syslog {
        super::syslog::fill_common(ev, h, spare);
        if ev.process.name.as_deref() == Some("CEF") {
            ev.process.name = None;
        }
    }
    let vendor = get(1);
    base(ev, "cef.log", "event", &["network"], &["info"]);
    ev.observer.vendor = Some(Str::from(vendor));
    ev.observer.product = Some(Str::from(get(2)));
    ev.event.code = Some(Str::from(get(4)));
    let rule = group(&mut ev.rule, &mut spare.rule);
    rule.id = Some(Str::from(get(4)));
    set_string(&mut rule.name, &mut spare.rule_name, get(5));
    set_string(&mut ev.message, &mut spare.message, get(5));
    let sev = get(6);
    // (A name compared without a lower-cased copy: `Option::or`'s argument was built on
    // every record, numbers included.)
    ev.event.severity = sev.parse::<i64>().ok().or_else(|| {
        [("low", 3), ("medium", 5), ("high", 8), ("very-high", 10)]
            .into_iter()
            .find(|(name, _)| sev.eq_ignore_ascii_case(name))
            .map(|(_, n)| n)
    });
    // The `cef` object is built as `Other` directly (it was a `serde_json` map, converted),
    // written over the previous record's: same order, same values (a repeated extension key
    // keeps its first position and its last value).
    for &(k, v) in pairs {
        match k {
            "src" | "sourceAddress" => ev.source.ip = util::ip(v),
            "dst" | "destinationAddress" => ev.destination.ip = util::ip(v),
            "spt" | "sourcePort" => ev.source.port = v.parse().ok(),
            "dpt" | "destinationPort" => ev.destination.port = v.parse().ok(),
            "shost" | "sourceHostName" => ev.source.domain = Some(util::domain(v)),
            "dhost" | "destinationHostName" => ev.destination.domain = Some(util::domain(v)),
            "smac" => ev.source.mac = Some(Str::from(v)),
            "dmac" => ev.destination.mac = Some(Str::from(v)),
            "suser" | "sourceUserName" => ev.user.name = Some(Str::from(v)),
            "duser" | "destinationUserName" => {
                ev.user.target = Some(Box::new(yagura_model::event::UserTarget {
                    name: Some(Str::from(v)),
                    domain: None,
                }));
            }
            "proto" | "transportProtocol" => ev.network.transport = Some(util::domain(v)),
            "app" | "applicationProtocol" => ev.network.protocol = Some(util::domain(v)),
            "in" | "bytesIn" => ev.source.bytes = v.parse().ok(),
            "out" | "bytesOut" => ev.destination.bytes = v.parse().ok(),
            "act" | "deviceAction" => ev.event.action = Some(Str::from(v)),
            "outcome" | "eventOutcome" => {
                ev.event.outcome = Some(Str::from(v.to_ascii_lowercase()))
            }
            "msg" | "message" => set_string(&mut ev.message, &mut spare.message, v),
            "request" | "requestUrl" => {
                util::fill_url_reusing(&mut ev.url, &mut ev.destination, v, None, &mut spare.url);
                set_string(&mut ev.url.original, &mut spare.url_original, v);
            }
            "requestMethod" => ev.http.request.method = Some(Str::from(v)),
            "requestClientApplication" => ev.user_agent.original = Some(v.to_owned()),
            "fname" | "fileName" => group(&mut ev.file, &mut spare.file).name = Some(Str::from(v)),
            "filePath" => group(&mut ev.file, &mut spare.file).path = Some(v.to_owned()),
            "fsize" | "fileSize" => group(&mut ev.file, &mut spare.file).size = v.parse().ok(),
            "fileHash" => {
                let h = Some(Str::from(v.to_ascii_lowercase()));
                let file = group(&mut ev.file, &mut spare.file);
                match v.len() {
                    32 => file.hash.md5 = h,
                    40 => file.hash.sha1 = h,
                    64 => file.hash.sha256 = h,
                    _ => {}
                }
            }
            "dvchost" | "deviceHostName" => ev.observer.hostname = Some(Str::from(v)),
            "cat" | "deviceEventCategory" => {
                group(&mut ev.rule, &mut spare.rule).category = Some(Str::from(v))
            }
            _ => {}
        }
    }
    // The last value of an extension key (what the map held).
    let last = |key: &str| pairs.iter().rev().find(|(k, _)| *k == key).map(|(_, v)| *v);
    let mut cef = Fill {
        dst: &mut spare.cef,
        n: 0,
    };
    cef.str("version", get(0));
    cef.object("device", |d| {
        let mut d = Fill { dst: d, n: 0 };
        d.str("vendor", vendor);
        d.str("product", get(2));
        d.str("version", get(3));
        d.str("event_class_id", get(4));
        d.finish();
    });
    cef.str("name", get(5));
    cef.str("severity", sev);
    if pairs.iter().any(|(k, _)| k.ends_with("Label")) {
        cef.object("labeled", |named| {
            let mut named = Fill { dst: named, n: 0 };
            for (k, label) in pairs {
                if k.ends_with("Label")
                    && let Some(v) = last(k.trim_end_matches("Label"))
                {
                    named.str_upsert(label, v);
                }
            }
            named.finish();
        });
    }
    let distinct = refill::keys_distinct(pairs.iter().map(|(k, _)| *k));
    cef.object("extensions", |x| {
        let mut x = Fill { dst: x, n: 0 };
        for (k, v) in pairs {
            if distinct {
                x.str(k, v);
            } else {
                x.str_upsert(k, v);
            }
        }
        x.finish();
    });
    cef.finish();
    ev.other
        .insert("cef", OtherValue::Object(std::mem::take(&mut spare.cef)));
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::{Map, Value};

    // The previous reader (header fields and extension values copied into `String`s, the
    // `cef` object built as a `serde_json` map and converted), the reference.
    fn split_header_reference(s: &str) -> Result<(Vec<String>, &str), String> {
        let mut fields = Vec::with_capacity(7);
        let mut cur = String::new();
        let mut chars = s.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some((_, n @ ('|' | '\\'))) => cur.push(n),
                    Some((_, n)) => {
                        cur.push('\\');
                        cur.push(n);
                    }
                    None => cur.push('\\'),
                },
                '|' => {
                    fields.push(std::mem::take(&mut cur));
                    if fields.len() == 7 {
                        return Ok((fields, &s[i + 1..]));
                    }
                }
                _ => cur.push(c),
            }
        }
        Err(format!(
            "CEF header has {} of 7 |-separated fields",
            fields.len()
        ))
    }

    fn unescape_ext_reference(v: &str) -> String {
        if !v.contains('\\') {
            return v.trim_end().to_owned();
        }
        let mut out = String::with_capacity(v.len());
        let mut it = v.chars();
        while let Some(c) = it.next() {
            if c == '\\' {
                match it.next() {
                    Some('n') => out.push('\n'),
                    Some('r') => out.push('\r'),
                    Some(n) => out.push(n),
                    None => out.push('\\'),
                }
            } else {
                out.push(c);
            }
        }
        out.trim_end().to_owned()
    }

    /// Extension pairs. A key is `[A-Za-z0-9_.\[\]-]+` directly before an unescaped `=`.
    fn extension_reference(s: &str) -> Vec<(String, String)> {
        let b = s.as_bytes();
        // Positions of unescaped '='.
        let mut eqs = Vec::new();
        let mut i = 0;
        while i < b.len() {
            match b.get(i) {
                Some(b'\\') => i += 2,
                Some(b'=') => {
                    eqs.push(i);
                    i += 1;
                }
                _ => i += 1,
            }
        }
        let is_key =
            |c: u8| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-' | b'[' | b']');
        // Key start for each '=': back up over key characters to a space (or the start).
        let mut keys: Vec<(usize, usize)> = Vec::new();
        for &e in &eqs {
            let mut k = e;
            while k > 0 && b.get(k - 1).is_some_and(|c| is_key(*c)) {
                k -= 1;
            }
            if k < e && (k == 0 || b.get(k - 1) == Some(&b' ')) {
                keys.push((k, e));
            }
        }
        let mut out = Vec::with_capacity(keys.len());
        for (n, &(ks, e)) in keys.iter().enumerate() {
            let vend = keys
                .get(n + 1)
                .map_or(s.len(), |(next, _)| next.saturating_sub(1));
            let key = &s[ks..e];
            let val = s.get(e + 1..vend.max(e + 1)).unwrap_or("");
            out.push((key.to_owned(), unescape_ext_reference(val)));
        }
        out
    }

    pub(crate) fn parse_reference(
        line: &str,
        syslog: Option<&Header<'_>>,
    ) -> Result<Event, String> {
        let body = line.strip_prefix("CEF:").ok_or("not a CEF record")?;
        let (hdr, ext) = split_header_reference(body)?;
        let get = |i: usize| hdr.get(i).map(String::as_str).unwrap_or("");
        let pairs = extension_reference(ext);
        let mut ev = Event::default();
        let mut time = None;
        for key in ["rt", "end", "start"] {
            if let Some((_, v)) = pairs.iter().find(|(k, _)| k == key) {
                time = Some(cef_time(v).map_err(|e| format!("{key}: {e}"))?);
                break;
            }
        }
        ev.timestamp = match (time, syslog.and_then(|h| h.time)) {
            (Some(t), _) | (None, Some(t)) => t,
            (None, None) => {
                return Err(
                    "CEF record without a time (rt, end, start or a syslog header)".to_owned(),
                );
            }
        };
        if let Some(h) = syslog {
            super::super::syslog::tests::fill_common_reference(&mut ev, h);
            if ev.process.name.as_deref() == Some("CEF") {
                ev.process.name = None;
            }
        }
        let vendor = get(1);
        base(&mut ev, "cef.log", "event", &["network"], &["info"]);
        ev.observer.vendor = Some(Str::from(vendor));
        ev.observer.product = Some(Str::from(get(2)));
        ev.event.code = Some(Str::from(get(4)));
        ev.rule.id = Some(Str::from(get(4)));
        ev.rule.name = Some(get(5).to_owned());
        ev.message = Some(get(5).to_owned());
        let sev = get(6);
        ev.event.severity = sev
            .parse::<i64>()
            .ok()
            .or(match sev.to_ascii_lowercase().as_str() {
                "low" => Some(3),
                "medium" => Some(5),
                "high" => Some(8),
                "very-high" => Some(10),
                _ => None,
            });
        let mut exts = Map::new();
        let mut labels: Vec<(String, String)> = Vec::new();
        for (k, v) in &pairs {
            let v = v.as_str();
            match k.as_str() {
                "src" | "sourceAddress" => ev.source.ip = util::ip(v),
                "dst" | "destinationAddress" => ev.destination.ip = util::ip(v),
                "spt" | "sourcePort" => ev.source.port = v.parse().ok(),
                "dpt" | "destinationPort" => ev.destination.port = v.parse().ok(),
                "shost" | "sourceHostName" => ev.source.domain = Some(util::domain(v)),
                "dhost" | "destinationHostName" => ev.destination.domain = Some(util::domain(v)),
                "smac" => ev.source.mac = Some(Str::from(v)),
                "dmac" => ev.destination.mac = Some(Str::from(v)),
                "suser" | "sourceUserName" => ev.user.name = Some(Str::from(v)),
                "duser" | "destinationUserName" => {
                    ev.user.target = Some(Box::new(yagura_model::event::UserTarget {
                        name: Some(Str::from(v)),
                        domain: None,
                    }));
                }
                "proto" | "transportProtocol" => ev.network.transport = Some(util::domain(v)),
                "app" | "applicationProtocol" => ev.network.protocol = Some(util::domain(v)),
                "in" | "bytesIn" => ev.source.bytes = v.parse().ok(),
                "out" | "bytesOut" => ev.destination.bytes = v.parse().ok(),
                "act" | "deviceAction" => ev.event.action = Some(Str::from(v)),
                "outcome" | "eventOutcome" => {
                    ev.event.outcome = Some(Str::from(v.to_ascii_lowercase()))
                }
                "msg" | "message" => ev.message = Some(v.to_owned()),
                "request" | "requestUrl" => {
                    util::fill_url(&mut ev.url, &mut ev.destination, v, None);
                    ev.url.original = Some(v.to_owned());
                }
                "requestMethod" => ev.http.request.method = Some(Str::from(v)),
                "requestClientApplication" => ev.user_agent.original = Some(v.to_owned()),
                "fname" | "fileName" => ev.file.name = Some(Str::from(v)),
                "filePath" => ev.file.path = Some(v.to_owned()),
                "fsize" | "fileSize" => ev.file.size = v.parse().ok(),
                "fileHash" => {
                    let h = Some(Str::from(v.to_ascii_lowercase()));
                    match v.len() {
                        32 => ev.file.hash.md5 = h,
                        40 => ev.file.hash.sha1 = h,
                        64 => ev.file.hash.sha256 = h,
                        _ => {}
                    }
                }
                "dvchost" | "deviceHostName" => ev.observer.hostname = Some(Str::from(v)),
                "cat" | "deviceEventCategory" => ev.rule.category = Some(Str::from(v)),
                _ => {}
            }
            if k.ends_with("Label") {
                labels.push((k.trim_end_matches("Label").to_owned(), v.to_owned()));
            }
            exts.insert(k.clone(), Value::String(v.to_owned()));
        }
        let mut cef = Map::new();
        cef.insert("version".to_owned(), Value::String(get(0).to_owned()));
        cef.insert(
            "device".to_owned(),
            serde_json::json!({
                "vendor": vendor, "product": get(2), "version": get(3), "event_class_id": get(4)
            }),
        );
        cef.insert("name".to_owned(), Value::String(get(5).to_owned()));
        cef.insert("severity".to_owned(), Value::String(sev.to_owned()));
        if !labels.is_empty() {
            let mut named = Map::new();
            for (field, label) in labels {
                if let Some(v) = exts.get(&field) {
                    named.insert(label, v.clone());
                }
            }
            cef.insert("labeled".to_owned(), Value::Object(named));
        }
        cef.insert("extensions".to_owned(), Value::Object(exts));
        ev.other.insert("cef", Value::Object(cef).into());
        Ok(ev)
    }

    #[test]
    fn escapes() {
        let (h, ext) =
            split_header(r"0|Ven\|dor|Prod\\uct|1.0|100|Na=me|Low|a=b").unwrap_or_default();
        assert_eq!(
            h,
            ["0", "Ven|dor", r"Prod\uct", "1.0", "100", "Na=me", "Low"]
        );
        assert_eq!(ext, "a=b");
        assert_eq!(
            extension(
                r"src=10.0.0.1 msg=a b\=c\\d\nx cs1=v cs1Label=Threat Name fname=C:\\x y.exe"
            )
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.into_owned()))
            .collect::<Vec<_>>(),
            [
                ("src".to_owned(), "10.0.0.1".to_owned()),
                ("msg".to_owned(), "a b=c\\d\nx".to_owned()),
                ("cs1".to_owned(), "v".to_owned()),
                ("cs1Label".to_owned(), "Threat Name".to_owned()),
                ("fname".to_owned(), "C:\\x y.exe".to_owned()),
            ]
        );
        assert_eq!(
            split_header("0|a|b").map(|_| ()),
            Err("CEF header has 2 of 7 |-separated fields".to_owned())
        );
    }

    #[test]
    fn record() {
        let ev = parse(
            "CEF:0|Trend|DDI|6.0|100119|Malware URL|8|rt=Jan 05 2026 01:02:03.500 src=10.10.3.4 dst=203.0.113.9 dpt=80 request=http://cdn-upd.net/a.exe act=blocked",
            None,
        )
        .unwrap_or_default();
        assert_eq!(ev.timestamp.to_rfc3339(), "2026-01-05T01:02:03.500Z");
        assert_eq!(ev.url.domain.as_deref(), Some("cdn-upd.net"));
        assert_eq!(ev.event.severity, Some(8));
        assert_eq!(ev.event.action.as_deref(), Some("blocked"));
        assert_eq!(
            parse("CEF:0|a|b|c|d|e|f|src=1.2.3.4", None)
                .err()
                .as_deref(),
            Some("CEF record without a time (rt, end, start or a syslog header)")
        );
    }
}
