//! Syslog: RFC 5424 (with structured data) and RFC 3164 (BSD, no year), per line. A message
//! that is a CEF record is handed to the CEF parser with the syslog header's host and time.

use yagura_model::event::{Empty, File, Other, OtherValue, Process, Rule, Sparse};
use yagura_model::{Event, Str, Timestamp};

use super::mailgw::Fill;
use super::{LineParser, Step, base};
use crate::util::{self, UrlBufs, present};

/// A parsed syslog header; `msg` borrows the line.
#[derive(Debug, Default)]
pub(crate) struct Header<'a> {
    pub pri: Option<u8>,
    pub time: Option<Timestamp>,
    pub host: Option<&'a str>,
    pub app: Option<&'a str>,
    pub pid: Option<&'a str>,
    pub msgid: Option<&'a str>,
    pub sd: Option<&'a str>,
    pub msg: &'a str,
    pub rfc5424: bool,
}

pub(crate) struct Syslog {
    reference: Option<Timestamp>,
    /// The buffers of the previous event ([`LineParser::recycle`]), refilled by the next
    /// record.
    spare: Spare,
}

/// What a syslog or CEF event leaves to the next one: its objects (written entry by entry
/// over the old ones), its groups' boxes, its strings' buffers, the CEF extension vectors.
#[derive(Default)]
pub(crate) struct Spare {
    pub(crate) cef: Other,
    pub(crate) syslog: Other,
    pub(crate) message: Option<String>,
    pub(crate) process: Sparse<Process>,
    pub(crate) rule: Sparse<Rule>,
    pub(crate) rule_name: Option<String>,
    pub(crate) file: Sparse<File>,
    pub(crate) url_original: Option<String>,
    pub(crate) url: UrlBufs,
    /// The positions of the extension keys and the (emptied) pair vector of
    /// `cef::extension`, kept for their capacity.
    pub(crate) keys: Vec<(usize, usize, super::cef::Span)>,
    pub(crate) pairs: Vec<(&'static str, &'static str)>,
    /// The unescaped CEF header fields and extension values of the record; an escaped
    /// RFC 5424 PARAM-VALUE.
    pub(crate) scratch: String,
}

impl Spare {
    /// Takes back what `ev` (about to be reset) holds.
    fn take_from(&mut self, ev: &mut Event) {
        if let Some(OtherValue::Object(o)) = ev.other.remove("cef") {
            self.cef = o;
        }
        if let Some(OtherValue::Object(o)) = ev.other.remove("syslog") {
            self.syslog = o;
        }
        keep(&mut self.message, ev.message.take());
        if !ev.process.is_unset() {
            self.process = std::mem::take(&mut ev.process);
        }
        if !ev.rule.is_unset() {
            keep(&mut self.rule_name, ev.rule.name.take());
            self.rule = std::mem::take(&mut ev.rule);
        }
        if !ev.file.is_unset() {
            self.file = std::mem::take(&mut ev.file);
        }
        keep(&mut self.url_original, ev.url.original.take());
        self.url.take_from(&mut ev.url);
    }
}

fn keep(slot: &mut Option<String>, s: Option<String>) {
    if s.is_some() {
        *slot = s;
    }
}

/// `*slot = Some(s.to_owned())`, in the buffer `slot` holds, else in `spare`'s, else new.
pub(crate) fn set_string(slot: &mut Option<String>, spare: &mut Option<String>, s: &str) {
    match slot {
        Some(b) => {
            b.clear();
            b.push_str(s);
        }
        None => {
            let mut b = spare.take().unwrap_or_default();
            b.clear();
            b.push_str(s);
            *slot = Some(b);
        }
    }
}

/// The group in `slot` for a write: when it was never written, the box of `spare` (an
/// earlier event's, emptied) is moved in first, so the write does not allocate one.
pub(crate) fn group<'s, T: Empty>(slot: &'s mut Sparse<T>, spare: &mut Sparse<T>) -> &'s mut T {
    if slot.is_unset() && !spare.is_unset() {
        *slot = std::mem::take(spare);
        **slot = T::default();
    }
    slot
}

impl Syslog {
    pub(crate) fn new(reference: Option<Timestamp>) -> Self {
        Syslog {
            reference,
            spare: Spare::default(),
        }
    }
}

impl Syslog {
    /// One line (not blank) into `out` (which holds `Event::default()`).
    fn line_into(&mut self, line: &str, out: &mut Event) -> Result<(), String> {
        let t = line.trim_start_matches('\u{feff}');
        if t.starts_with("CEF:") {
            return super::cef::parse_into(t, None, out, &mut self.spare);
        }
        let h = header(t, self.reference)?;
        // `host CEF:0|…` parses as tag "CEF"; look for the record in the whole line.
        if let Some(i) = t.find("CEF:")
            && (h.app == Some("CEF") || h.msg.contains("CEF:"))
        {
            return super::cef::parse_into(
                t.get(i..).unwrap_or(""),
                Some(&h),
                out,
                &mut self.spare,
            );
        }
        to_event_reusing(&h, "syslog", out, &mut self.spare)
    }
}

impl LineParser for Syslog {
    fn parse(&mut self, line: &str, _no: u64) -> Step {
        if line.trim().is_empty() {
            return Step::Skip;
        }
        super::by_value(|ev| self.line_into(line, ev)).into()
    }

    fn recycle(&mut self, ev: &mut Event) {
        self.spare.take_from(ev);
    }

    /// Builds the event in the caller's (reset) event: its `other` and `host.ip` buffers are
    /// kept, and no event moves through the reader's queue.
    fn parse_into(&mut self, line: &str, _no: u64, out: &mut Event) -> Step {
        if line.trim().is_empty() {
            return Step::Skip;
        }
        match self.line_into(line, out) {
            Ok(()) => Step::Filled,
            Err(e) => Step::Reject(e),
        }
    }
}

/// True when the line starts like a syslog message (`<PRI>`, a BSD timestamp, or an RFC 3339
/// timestamp followed by a host).
pub(crate) fn looks_like(line: &str) -> bool {
    header(line, Some(Timestamp::from_secs(1_700_000_000))).is_ok()
}

fn pri(line: &str) -> Result<(Option<u8>, &str), String> {
    let Some(rest) = line.strip_prefix('<') else {
        return Ok((None, line));
    };
    let end = rest.find('>').ok_or("unterminated <PRI>")?;
    let p: u8 = rest[..end]
        .parse()
        .ok()
        .filter(|p| *p <= 191)
        .ok_or_else(|| format!("PRI {:?} is not 0..191", &rest[..end]))?;
    Ok((Some(p), &rest[end + 1..]))
}

pub(crate) fn header(line: &str, reference: Option<Timestamp>) -> Result<Header<'_>, String> {
    let (pri, rest) = pri(line)?;
    // RFC 5424: VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID SP SD [SP MSG]
    if let Some(r) = rest.strip_prefix("1 ") {
        return rfc5424(pri, r);
    }
    // RFC 3339 timestamp then host (rsyslog's high-precision template).
    if rest.len() > 19
        && rest.as_bytes().get(4) == Some(&b'-')
        && rest.as_bytes().get(10) == Some(&b'T')
    {
        let (ts, r) = rest.split_once(' ').ok_or("no host after the timestamp")?;
        let time = util::iso8601(ts)?;
        return bsd_tail(pri, Some(time), r);
    }
    // RFC 3164: Mmm dd hh:mm:ss
    let b = rest.as_bytes();
    if b.len() < 16 || b.get(3) != Some(&b' ') || b.get(6) != Some(&b' ') {
        return Err("not a syslog line (no RFC 3164 or RFC 5424 header)".to_owned());
    }
    let mon = util::month(&rest[..3]).ok_or_else(|| format!("month {:?} unknown", &rest[..3]))?;
    let day: u32 = rest[4..6]
        .trim()
        .parse()
        .map_err(|_| "day is not a number")?;
    let hms = &rest[7..15];
    let mut it = hms.split(':');
    let mut num = || -> Result<u32, String> {
        it.next()
            .and_then(|x| x.parse().ok())
            .ok_or_else(|| format!("time {hms:?} is not hh:mm:ss"))
    };
    let (h, mi, s) = (num()?, num()?, num()?);
    let reference = reference.unwrap_or_else(Timestamp::now);
    let ref_dt = reference.to_datetime();
    use chrono::Datelike;
    let mut year = ref_dt.year();
    // A stamp more than a month after the reference belongs to the year before (December
    // lines read in January).
    if mon > ref_dt.month() + 1 {
        year -= 1;
    }
    let time = util::civil((year, mon, day), (h, mi, s, 0), 0)?;
    bsd_tail(pri, Some(time), rest.get(16..).unwrap_or(""))
}

fn bsd_tail(pri: Option<u8>, time: Option<Timestamp>, rest: &str) -> Result<Header<'_>, String> {
    let rest = rest.trim_start();
    let (host, rest) = rest.split_once(' ').unwrap_or((rest, ""));
    if host.is_empty() {
        return Err("no host in the syslog header".to_owned());
    }
    let mut h = Header {
        pri,
        time,
        host: Some(host),
        msg: rest,
        ..Header::default()
    };
    // TAG[PID]: message
    let tag_end = rest.find([':', ' ', '[']).unwrap_or(0);
    if tag_end > 0 {
        let tag = &rest[..tag_end];
        let mut after = &rest[tag_end..];
        if let Some(r) = after.strip_prefix('[')
            && let Some((pid, r2)) = r.split_once(']')
        {
            h.pid = Some(pid);
            after = r2;
        }
        if let Some(m) = after.strip_prefix(':') {
            h.app = Some(tag);
            h.msg = m.strip_prefix(' ').unwrap_or(m);
        }
    }
    Ok(h)
}

fn rfc5424(pri: Option<u8>, r: &str) -> Result<Header<'_>, String> {
    let mut w = r.splitn(6, ' ');
    let ts = w.next().ok_or("no timestamp")?;
    let host = w.next().ok_or("no host")?;
    let app = w.next().ok_or("no app-name")?;
    let procid = w.next().ok_or("no procid")?;
    let msgid = w.next().ok_or("no msgid")?;
    let rest = w.next().unwrap_or("-");
    let time = if ts == "-" {
        None
    } else {
        Some(util::iso8601(ts)?)
    };
    let (sd, msg) = if let Some(m) = rest.strip_prefix('-') {
        (None, m)
    } else if rest.starts_with('[') {
        let end = sd_end(rest).ok_or("unterminated structured data")?;
        (Some(&rest[..end]), &rest[end..])
    } else {
        return Err("structured data is neither - nor [..]".to_owned());
    };
    let msg = msg.strip_prefix(' ').unwrap_or(msg);
    let msg = msg.strip_prefix('\u{feff}').unwrap_or(msg);
    Ok(Header {
        pri,
        time,
        host: present(host),
        app: present(app),
        pid: present(procid),
        msgid: present(msgid),
        sd,
        msg,
        rfc5424: true,
    })
}

/// End of the SD-ELEMENTs (`[id k="v"][id2 …]`), honouring `\"` and `\]` inside values.
fn sd_end(s: &str) -> Option<usize> {
    let mut i = 0;
    while s.as_bytes().get(i) == Some(&b'[') {
        i += sd_elem_end(s.get(i..)?)?;
    }
    Some(i)
}

/// End of one SD-ELEMENT starting at `s[0] == '['`.
fn sd_elem_end(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut in_q = false;
    let mut i = 1;
    loop {
        match b.get(i)? {
            b'\\' if in_q => i += 2,
            b'"' => {
                in_q = !in_q;
                i += 1;
            }
            b']' if !in_q => return Some(i + 1),
            _ => i += 1,
        }
    }
}

/// The SD-ELEMENTs as an object of objects (`{id: {param: value}}`; a repeated id or param
/// keeps its first position and its last value), written over `dst` (an earlier record's:
/// keys, objects and string buffers kept where they match): a value without an escape is
/// copied once, from the line.
/// Values with an escape are unescaped in `scratch` (a buffer kept across records).
fn sd_fill(dst: &mut Other, sd: &str, scratch: &mut String) {
    let mut out = Fill { dst, n: 0 };
    let mut rest = sd;
    while let Some(r) = rest.strip_prefix('[') {
        let Some(end) = sd_elem_end(rest) else { break };
        let elem = r.get(..end.saturating_sub(2)).unwrap_or("");
        rest = rest.get(end..).unwrap_or("");
        let (id, mut params) = elem.split_once(' ').unwrap_or((elem, ""));
        out.object_upsert(id, |obj| {
            let mut obj = Fill { dst: obj, n: 0 };
            while let Some((k, v)) = params.trim_start().split_once("=\"") {
                let vb = v.as_bytes();
                // The value runs to the first unescaped `"`: a plain one is a slice of the line.
                let plain = vb.iter().position(|&c| c == b'"' || c == b'\\');
                let (val, i) = match plain {
                    Some(q) if vb.get(q) == Some(&b'"') => (v.get(..q).unwrap_or(""), q),
                    None => (v, vb.len()),
                    Some(_) => {
                        let i = sd_value(v, scratch);
                        (scratch.as_str(), i)
                    }
                };
                obj.str_upsert(k.trim(), val);
                params = v.get(i + 1..).unwrap_or("");
            }
            obj.finish();
        });
    }
    out.finish();
}

/// A PARAM-VALUE with escapes (`\"`, `\\`, `\]`; any other `\` kept), and the index of its
/// closing quote (or the end); the value is written over `val`.
fn sd_value(v: &str, val: &mut String) -> usize {
    let vb = v.as_bytes();
    let mut i = 0;
    val.clear();
    while let Some(&c) = vb.get(i) {
        match c {
            b'\\' if matches!(vb.get(i + 1), Some(b'"' | b'\\' | b']')) => {
                val.push(vb.get(i + 1).copied().map_or('?', char::from));
                i += 2;
            }
            b'"' => break,
            _ => {
                let ch = v.get(i..).and_then(|r| r.chars().next()).unwrap_or('?');
                val.push(ch);
                i += ch.len_utf8();
            }
        }
    }
    i
}

pub(crate) fn to_event(h: &Header<'_>, dataset: &str) -> Result<Event, String> {
    super::by_value(|ev| to_event_into(h, dataset, ev))
}

/// [`to_event`] into `ev` (which holds `Event::default()`).
pub(crate) fn to_event_into(h: &Header<'_>, dataset: &str, ev: &mut Event) -> Result<(), String> {
    to_event_reusing(h, dataset, ev, &mut Spare::default())
}

/// [`to_event_into`], refilling the buffers of `spare` (an earlier event's).
fn to_event_reusing(
    h: &Header<'_>,
    dataset: &str,
    ev: &mut Event,
    spare: &mut Spare,
) -> Result<(), String> {
    ev.timestamp = h.time.ok_or("syslog line without a timestamp")?;
    base(ev, dataset, "event", &["host"], &["info"]);
    fill_common(ev, h, spare);
    set_string(&mut ev.message, &mut spare.message, h.msg);
    Ok(())
}

/// The header's fields into `ev` (which holds `Event::default()`); the `process` box and
/// the `syslog` object are `spare`'s when it holds them.
pub(crate) fn fill_common(ev: &mut Event, h: &Header<'_>, spare: &mut Spare) {
    if let Some(host) = h.host {
        ev.host.hostname = Some(Str::from(host));
        match util::ip(host) {
            Some(ip) => ev.host.ip.push(ip),
            None => ev.host.name = Some(Str::from(host)),
        }
    }
    if let Some(app) = h.app {
        group(&mut ev.process, &mut spare.process).name = Some(Str::from(app));
    }
    if let Some(pid) = h.pid.and_then(|p| p.parse().ok()) {
        group(&mut ev.process, &mut spare.process).pid = Some(pid);
    }
    // The `syslog` object, written over the previous record's (the event's `other` is empty
    // here: inserted last, it takes the place `set_other` gave it).
    let mut sys = Fill {
        dst: &mut spare.syslog,
        n: 0,
    };
    if let Some(p) = h.pri {
        sys.value("priority", p.into());
        sys.value("facility", (p >> 3).into());
        sys.value("severity", (p & 7).into());
        const LEVELS: [&str; 8] = [
            "emergency",
            "alert",
            "critical",
            "error",
            "warning",
            "notice",
            "informational",
            "debug",
        ];
        ev.log.level = LEVELS.get(usize::from(p & 7)).map(|l| Str::from(*l));
    }
    if let Some(m) = h.msgid {
        sys.str("msgid", m);
    }
    if let Some(sd) = h.sd {
        sys.object("structured_data", |o| sd_fill(o, sd, &mut spare.scratch));
    }
    if h.rfc5424 {
        sys.value("version", 1u64.into());
    }
    if sys.n > 0 {
        sys.finish();
        ev.other.insert(
            "syslog",
            OtherValue::Object(std::mem::take(&mut spare.syslog)),
        );
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    // The previous structured-data conversion (a `serde_json` map, converted), the reference.
    fn sd_json_reference(sd: &str) -> serde_json::Map<String, serde_json::Value> {
        let mut out = serde_json::Map::new();
        let mut rest = sd;
        while let Some(r) = rest.strip_prefix('[') {
            let Some(end) = sd_elem_end(rest) else { break };
            let elem = r.get(..end.saturating_sub(2)).unwrap_or("");
            rest = &rest[end..];
            let (id, mut params) = elem.split_once(' ').unwrap_or((elem, ""));
            let mut obj = serde_json::Map::new();
            while let Some((k, v)) = params.trim_start().split_once("=\"") {
                let vb = v.as_bytes();
                let mut i = 0;
                let mut val = String::new();
                while let Some(&c) = vb.get(i) {
                    match c {
                        b'\\' if matches!(vb.get(i + 1), Some(b'"' | b'\\' | b']')) => {
                            val.push(vb.get(i + 1).copied().map_or('?', char::from));
                            i += 2;
                        }
                        b'"' => break,
                        _ => {
                            let ch = v[i..].chars().next().unwrap_or('?');
                            val.push(ch);
                            i += ch.len_utf8();
                        }
                    }
                }
                obj.insert(k.trim().to_owned(), serde_json::Value::String(val));
                params = v.get(i + 1..).unwrap_or("");
            }
            out.insert(id.to_owned(), serde_json::Value::Object(obj));
        }
        out
    }

    pub(crate) fn fill_common_reference(ev: &mut Event, h: &Header<'_>) {
        if let Some(host) = h.host {
            ev.host.hostname = Some(Str::from(host));
            match util::ip(host) {
                Some(ip) => ev.host.ip.push(ip),
                None => ev.host.name = Some(Str::from(host)),
            }
        }
        if let Some(app) = h.app {
            ev.process.name = Some(Str::from(app));
        }
        if let Some(pid) = h.pid.and_then(|p| p.parse().ok()) {
            ev.process.pid = Some(pid);
        }
        if let Some(p) = h.pri {
            ev.set_other("syslog.priority", p.into());
            ev.set_other("syslog.facility", (p >> 3).into());
            ev.set_other("syslog.severity", (p & 7).into());
            const LEVELS: [&str; 8] = [
                "emergency",
                "alert",
                "critical",
                "error",
                "warning",
                "notice",
                "informational",
                "debug",
            ];
            ev.log.level = LEVELS.get(usize::from(p & 7)).map(|l| Str::from(*l));
        }
        if let Some(m) = h.msgid {
            ev.set_other("syslog.msgid", m.into());
        }
        if let Some(sd) = h.sd {
            ev.set_other(
                "syslog.structured_data",
                serde_json::Value::Object(sd_json_reference(sd)).into(),
            );
        }
        if h.rfc5424 {
            ev.set_other("syslog.version", 1u64.into());
        }
    }

    /// The previous reader's answer for a line: CEF through [`super::super::cef`]'s
    /// reference, syslog through [`fill_common_reference`].
    fn parse_reference(line: &str, reference: Option<Timestamp>) -> Result<Event, String> {
        use super::super::cef::tests::parse_reference as cef_reference;
        let t = line.trim_start_matches('\u{feff}');
        if t.starts_with("CEF:") {
            return cef_reference(t, None);
        }
        let h = header(t, reference)?;
        if let Some(i) = t.find("CEF:")
            && (h.app == Some("CEF") || h.msg.contains("CEF:"))
        {
            return cef_reference(&t[i..], Some(&h));
        }
        let time = h.time.ok_or("syslog line without a timestamp")?;
        let mut ev = Event {
            timestamp: time,
            ..Event::default()
        };
        base(&mut ev, "syslog", "event", &["host"], &["info"]);
        fill_common_reference(&mut ev, &h);
        ev.message = Some(h.msg.to_owned());
        Ok(ev)
    }

    /// The reader gives what the previous one gave: the same event, serialized the same, or
    /// the same reason.
    fn same_as_reference(line: &str) {
        let reference = Some(Timestamp::from_secs(1_700_000_000));
        if line.trim().is_empty() {
            return;
        }
        let got = match Syslog::new(reference).parse(line, 1) {
            Step::Event(e) => Ok(e),
            Step::Reject(e) => Err(e),
            Step::Skip | Step::Filled => return,
        };
        let want = parse_reference(line, reference);
        assert_eq!(got, want, "{line}");
        // Through `parse_into`, into an event that held another record and was reset (as
        // `FileReader::next_into` drives it).
        let mut p = Syslog::new(reference);
        let mut ev = Event::default();
        for prev in [
            "<134>Jan  5 01:02:04 fw01 CEF:0|V|P|1|2|N|Low|src=10.0.0.1 cs1Label=L cs1=v",
            // Leftovers of every kind: the `syslog` object with structured data (a repeated
            // id and param), the `process`, `rule` and `file` boxes, the message, URL and
            // rule-name strings, a `labeled` object, repeated extension keys.
            r#"<165>1 2003-10-11T22:14:15.003Z h a 42 ID1 [x@1 a="1" a="2" b="a value longer than twenty-four bytes"][y c="\""][x@1 d="e"] m"#,
            r"CEF:0|V|P|1|2|A rule name longer than twenty-four bytes|Low|rt=1767574923000 request=http://h.example/a/b?q=1 fname=f.exe filePath=C:\x fsize=3 cat=c cs1Label=L cs2Label=L cs1=v cs2=w src=1 src=2 msg=m",
            line,
        ] {
            let _ = p.parse_into(prev, 1, &mut ev);
            p.recycle(&mut ev);
            ev.reset();
        }
        let into = match p.parse_into(line, 1, &mut ev) {
            Step::Filled => Ok(ev),
            Step::Event(e) => Ok(e),
            Step::Reject(e) => Err(e),
            Step::Skip => return,
        };
        assert_eq!(into, want, "{line}");
        if let (Ok(a), Ok(b)) = (&got, &want) {
            assert_eq!(
                serde_json::to_string(a).unwrap_or_default(),
                serde_json::to_string(b).unwrap_or_default(),
                "{line}"
            );
        }
    }

    #[test]
    fn same_as_reference_on_the_test_data() {
        for f in ["syslog.log", "cef.log", "postfix.log"] {
            let p = format!("{}/test_data/{f}", env!("CARGO_MANIFEST_DIR"));
            let text = std::fs::read_to_string(&p).expect("test data");
            for line in text.lines() {
                same_as_reference(line);
            }
        }
        for line in [
            r#"<165>1 2003-10-11T22:14:15.003Z h a - - [x@1 a="1" a="2" b="\\" c="\q"][x@1 d="é\"]"][y] m"#,
            r#"<165>1 2003-10-11T22:14:15.003Z h a - - [x@1 a="no end"#,
            r"CEF:0|V\|x\\y\z|P|1|2|N|Low|rt=1767574923000 a=1 a=2 cs1Label=L cs1=v cs1=w xLabelLabel=Q x=3 msg=a\=b\nc\\ ",
            r"CEF:0|V|P|1|2|N|Low|rt=1767574923000 cs1Label=only a label",
            r"CEF:0|V|P|1|2|N|Low|rt=1767574923000 trailing\",
            "CEF:0|V|P|1|2|N|Very-HIGH|rt=1767574923000",
            "CEF:0|V|P|1|2|N|mEdIuM|rt=1767574923000",
            "CEF:0|V|P|1|2|N|low |rt=1767574923000",
            "CEF:0|V|P|1|2|N|-7|rt=1767574923000",
        ] {
            same_as_reference(line);
        }
        // Escaped values over the scratch buffer's kept size (dropped after the record).
        same_as_reference(&format!(
            r"CEF:0|V|P|1|2|N|Low|rt=1767574923000 msg={} cs1=x\y",
            r"a\=".repeat(30_000)
        ));
    }

    fn piece() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        prop_oneof![
            Just(r"\|".to_owned()),
            Just(r"\\".to_owned()),
            Just(r"\=".to_owned()),
            Just(r"\n".to_owned()),
            Just(r#"\""#.to_owned()),
            Just(r"\]".to_owned()),
            Just("=".to_owned()),
            Just("|".to_owned()),
            Just("\"".to_owned()),
            Just(" ".to_owned()),
            Just("cs1Label=".to_owned()),
            Just(" cs1=".to_owned()),
            Just(" src=10.0.0.1".to_owned()),
            "[a-zA-Zé\\]\\[ ]{0,8}",
        ]
    }

    fn text() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        proptest::collection::vec(piece(), 0..8).prop_map(|v| v.concat())
    }

    proptest::proptest! {
        #[test]
        fn cef_is_the_reference(
            hdr in proptest::collection::vec(text(), 5..9),
            ext in proptest::collection::vec(
                (proptest::sample::select(vec!["rt", "src", "msg", "cs1", "cs1Label", "act", "fname", "a.b", "x[0]"]), text()),
                0..8
            ),
            syslog in proptest::bool::ANY,
        ) {
            let mut line = if syslog { "<134>Jan  5 01:02:04 fw01 ".to_owned() } else { String::new() };
            line += "CEF:0|";
            line += &hdr.join("|");
            line += "|";
            let e: Vec<String> = ext.iter().map(|(k, v)| format!("{k}={v}")).collect();
            line += &e.join(" ");
            same_as_reference(&line);
            same_as_reference(&format!("CEF:0|a|b|c|d|e|5|rt=1767574923000 {}", e.join(" ")));
        }

        #[test]
        fn structured_data_is_the_reference(
            elems in proptest::collection::vec(
                (
                    proptest::sample::select(vec!["origin@32473", "meta", "x@1"]),
                    proptest::collection::vec((proptest::sample::select(vec!["ip", "a", "sequenceId"]), text()), 0..4),
                ),
                1..4
            ),
            tail in text(),
        ) {
            let mut sd = String::new();
            for (id, params) in &elems {
                sd += "[";
                sd += id;
                for (k, v) in params {
                    sd += &format!(" {k}=\"{v}\"");
                }
                sd += "]";
            }
            same_as_reference(&format!("<165>1 2026-01-05T01:02:03.003+09:00 h app 42 ID1 {sd} {tail}"));
            same_as_reference(&format!("<165>1 2026-01-05T01:02:03Z h app - - {sd}{tail}"));
        }

        #[test]
        fn any_line_is_the_reference(s in "\\PC{0,80}") {
            same_as_reference(&s);
            same_as_reference(&format!("CEF:0|{s}"));
            same_as_reference(&format!("<165>1 2026-01-05T01:02:03Z h a - - [{s}"));
        }
    }

    fn check(input: &str, expect: &str) {
        let mut p = Syslog::new(Some(Timestamp::from_secs(1_700_000_000))); // 2023-11-14
        let got = match p.parse(input, 1) {
            Step::Event(ev) => serde_json::to_string(&ev).unwrap_or_default(),
            Step::Reject(e) => format!("ERR {e}"),
            Step::Skip => "SKIP".to_owned(),
            Step::Filled => unreachable!("parse never answers Filled"),
        };
        assert_eq!(got, expect, "{input}");
    }

    #[test]
    fn rfc3164() {
        check(
            "<34>Oct 11 22:14:15 mymachine su[77]: 'su root' failed for lonvick on /dev/pts/8",
            r#"{"@timestamp":"2023-10-11T22:14:15Z","event":{"dataset":"syslog","kind":"event","category":["host"],"type":["info"]},"host":{"name":"mymachine","hostname":"mymachine"},"process":{"pid":77,"name":"su"},"log":{"level":"critical"},"message":"'su root' failed for lonvick on /dev/pts/8","syslog":{"priority":34,"facility":4,"severity":2}}"#,
        );
        // December lines read with a January reference go to the previous year.
        let mut p = Syslog::new(Some(Timestamp::from_secs(1_704_153_600))); // 2024-01-02
        let Step::Event(e) = p.parse("Dec 31 23:59:59 h app: x", 1) else {
            panic!()
        };
        assert_eq!(e.timestamp.to_rfc3339(), "2023-12-31T23:59:59Z");
        check("Feb 30 10:00:00 h app: x", "ERR impossible date 2023-02-30");
        check("<999>Oct 11 22:14:15 h x", "ERR PRI \"999\" is not 0..191");
        check(
            "hello world",
            "ERR not a syslog line (no RFC 3164 or RFC 5424 header)",
        );
    }

    #[test]
    fn rfc5424_structured_data() {
        check(
            r#"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Appl\"ication"][x@1 a="]"] BOMAn application event"#,
            r#"{"@timestamp":"2003-10-11T22:14:15.003Z","event":{"dataset":"syslog","kind":"event","category":["host"],"type":["info"]},"host":{"name":"mymachine.example.com","hostname":"mymachine.example.com"},"process":{"name":"evntslog"},"log":{"level":"notice"},"message":"BOMAn application event","syslog":{"priority":165,"facility":20,"severity":5,"msgid":"ID47","structured_data":{"exampleSDID@32473":{"iut":"3","eventSource":"Appl\"ication"},"x@1":{"a":"]"}},"version":1}}"#,
        );
        check(
            "<165>1 2003-10-11T22:14:15.003Z h a - - [x",
            "ERR unterminated structured data",
        );
    }
}
