//! Windows events: the evtx crate's JSON (`Event.System`, `Event.EventData` with
//! `#attributes`), from binary `.evtx` files or from its JSON-lines dump. (Winlogbeat/ECS JSON
//! goes through the ECS pass-through.)
//!
//! `winlog.*` carries the system fields and all `EventData`/`UserData` pairs as strings; the
//! few ECS fields detectors need most (user, source address, process, hashes, DNS query of
//! Sysmon 22) are filled from them.

use compact_str::{ToCompactString, format_compact};
use serde_json::Value;
use yagura_model::event::{FieldMap, Sparse, Winlog};
use yagura_model::{Event, Str};

use super::json::J;
use super::{LineParser, Step, base};
use crate::util;

/// A node of the evtx crate's JSON, as a `serde_json::Value` (binary `.evtx` records, which
/// the evtx crate gives as `Value`s) or as the borrowed tree [`J`] (lines of its JSON dump):
/// one normalizer for both.
///
/// Lookups and iteration see an object as a `serde_json::Map` holds it: the last value of a
/// repeated key, at its first position.
trait Node: Sized {
    /// The value under `key` of an object (`None` for anything else).
    fn get(&self, key: &str) -> Option<&Self>;
    fn as_str(&self) -> Option<&str>;
    /// A scalar as text ([`util::json_text`]): strings, numbers, booleans.
    fn scalar_text(&self) -> Option<Text<'_>>;
    fn items(&self) -> Option<&[Self]>;
    fn pairs(&self) -> Option<impl Iterator<Item = (&str, &Self)>>;
    /// Whether the node is an object ([`Node::pairs`] would answer `Some`).
    fn is_obj(&self) -> bool;
    fn is_null(&self) -> bool;
}

impl Node for Value {
    fn get(&self, key: &str) -> Option<&Self> {
        self.as_object()?.get(key)
    }
    fn as_str(&self) -> Option<&str> {
        Value::as_str(self)
    }
    fn scalar_text(&self) -> Option<Text<'_>> {
        // `util::json_text`, numbers printed into an inline `Str`.
        match self {
            Value::String(s) => Some(Text::Borrowed(s)),
            Value::Number(n) => Some(Text::Owned(n.to_compact_string())),
            Value::Bool(b) => Some(Text::Borrowed(if *b { "true" } else { "false" })),
            _ => None,
        }
    }
    fn items(&self) -> Option<&[Self]> {
        self.as_array().map(Vec::as_slice)
    }
    fn pairs(&self) -> Option<impl Iterator<Item = (&str, &Self)>> {
        Some(self.as_object()?.iter().map(|(k, v)| (k.as_str(), v)))
    }
    fn is_obj(&self) -> bool {
        self.is_object()
    }
    fn is_null(&self) -> bool {
        Value::is_null(self)
    }
}

impl Node for J<'_> {
    fn get(&self, key: &str) -> Option<&Self> {
        super::json::get(self.as_obj()?, key)
    }
    fn as_str(&self) -> Option<&str> {
        J::as_str(self)
    }
    fn scalar_text(&self) -> Option<Text<'_>> {
        // `J::text`, numbers printed into an inline `Str`.
        match self {
            J::Str(s) => Some(Text::Borrowed(s)),
            J::Num(n) => Some(Text::Owned(n.to_compact_string())),
            J::Bool(b) => Some(Text::Borrowed(if *b { "true" } else { "false" })),
            _ => None,
        }
    }
    fn items(&self) -> Option<&[Self]> {
        match self {
            J::Arr(a) => Some(a),
            _ => None,
        }
    }
    fn pairs(&self) -> Option<impl Iterator<Item = (&str, &Self)>> {
        Some(super::json::entries_iter(self.as_obj()?))
    }
    fn is_obj(&self) -> bool {
        matches!(self, J::Obj(_))
    }
    fn is_null(&self) -> bool {
        J::is_null(self)
    }
}

/// The text of a node: borrowed from the record, or printed (a number: into an inline
/// [`Str`], so the usual event ids, record ids and tasks cost no allocation).
enum Text<'a> {
    Borrowed(&'a str),
    Owned(Str),
}

impl std::ops::Deref for Text<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        match self {
            Text::Borrowed(s) => s,
            Text::Owned(s) => s,
        }
    }
}

impl AsRef<str> for Text<'_> {
    fn as_ref(&self) -> &str {
        self
    }
}

/// The text of an evtx JSON node: a scalar, or `{"#text": …}`.
fn text<N: Node>(v: &N) -> Option<Text<'_>> {
    if v.is_obj() {
        return v.get("#text").and_then(text);
    }
    if let Some(items) = v.items() {
        let parts: Vec<Text<'_>> = items.iter().filter_map(text).collect();
        return if parts.is_empty() {
            None
        } else {
            let parts: Vec<&str> = parts.iter().map(|p| &**p).collect();
            Some(Text::Owned(Str::from(parts.join(","))))
        };
    }
    v.scalar_text()
}

fn attr<'a, N: Node>(v: Option<&'a N>, name: &str) -> Option<&'a N> {
    v?.get("#attributes")?.get(name)
}

/// The reader of the evtx crate's JSON-lines dump: [`from_evtx_json_line_into`], keeping the
/// previous event's `winlog` group ([`LineParser::recycle`]) to refill it in place.
#[derive(Debug, Default)]
pub(crate) struct EvtxJson {
    spare: Spare,
}

/// Buffers of earlier events, refilled by the next record.
#[derive(Debug, Default)]
pub(crate) struct Spare {
    /// The previous event's `winlog` (its box, its strings, its event data's pairs).
    winlog: Sparse<Winlog>,
    /// Event data pairs beyond the previous record's count, the latest first (records of
    /// several shapes alternate: their longer pair lists keep their buffers).
    tail: Vec<(Str, Str)>,
}

impl LineParser for EvtxJson {
    fn parse(&mut self, line: &str, _no: u64) -> Step {
        let t = line.trim();
        if t.is_empty() {
            return Step::Skip;
        }
        super::by_value(|ev| from_evtx_json_line_into(t, ev, &mut Spare::default())).into()
    }

    fn parse_into(&mut self, line: &str, _no: u64, out: &mut Event) -> Step {
        let t = line.trim();
        if t.is_empty() {
            return Step::Skip;
        }
        match from_evtx_json_line_into(t, out, &mut self.spare) {
            Ok(()) => Step::Filled,
            Err(e) => Step::Reject(e),
        }
    }

    fn recycle(&mut self, ev: &mut Event) {
        if !ev.winlog.is_unset() {
            self.spare.winlog = std::mem::take(&mut ev.winlog);
        }
    }
}

/// One line of the evtx crate's JSON output (`evtx_dump -o jsonl`), into `ev` (which holds
/// `Event::default()`): parsed into the borrowed tree, not a `serde_json::Value`; the
/// `winlog` group refilled from `spare`.
pub(crate) fn from_evtx_json_line_into(
    line: &str,
    ev: &mut Event,
    spare: &mut Spare,
) -> Result<(), String> {
    let mut m = super::json::borrowed_object(line)?;
    m.as_j(|j| from_evtx(j, ev, spare))
}

/// One line of the evtx crate's JSON output through a `serde_json::Value` (the reference
/// [`from_evtx_json_line_into`] is tested against).
#[cfg(test)]
pub(crate) fn from_evtx_json_line(line: &str) -> Result<Event, String> {
    let v = Value::Object(super::json::object(line)?);
    from_evtx_value(&v)
}

/// The evtx crate's JSON value of one record.
pub(crate) fn from_evtx_value(v: &Value) -> Result<Event, String> {
    super::by_value(|ev| from_evtx(v, ev, &mut Spare::default()))
}

/// `*slot = v.map(Str::from)`, in the buffer `slot` holds.
fn set_str(slot: &mut Option<Str>, v: Option<&str>) {
    match (slot.as_mut(), v) {
        (Some(s), Some(v)) => {
            if s.as_str() != v {
                s.clear();
                s.push_str(v);
            }
        }
        (_, v) => *slot = v.map(Str::from),
    }
}

/// Event data written over the pairs of an earlier record: [`FieldMap::insert`]'s result
/// (a repeated name keeps its first position and takes the last value), with the key and
/// value of each position overwritten in their buffers.
struct Pairs<'s> {
    pairs: Vec<(Str, Str)>,
    /// Pairs written so far (those after are an earlier record's).
    n: usize,
    tail: &'s mut Vec<(Str, Str)>,
}

impl Pairs<'_> {
    fn insert(&mut self, k: &str, v: &str) {
        if let Some((_, pv)) = self
            .pairs
            .get_mut(..self.n)
            .and_then(|done| done.iter_mut().find(|(pk, _)| pk.as_str() == k))
        {
            overwrite(pv, v);
            return;
        }
        if self.pairs.len() == self.n
            && let Some(p) = self.tail.pop()
        {
            self.pairs.push(p);
        }
        match self.pairs.get_mut(self.n) {
            Some((pk, pv)) => {
                overwrite(pk, k);
                overwrite(pv, v);
            }
            None => self.pairs.push((Str::from(k), Str::from(v))),
        }
        self.n += 1;
    }

    /// The written pairs; those of the earlier record beyond them go back to the tail.
    fn finish(mut self) -> FieldMap {
        self.tail.extend(self.pairs.drain(self.n..).rev());
        // Bounded: an odd record with thousands of values does not keep them all.
        self.tail.truncate(256);
        FieldMap(self.pairs)
    }
}

/// `*s = Str::from(t)`, in the buffer of `s`.
fn overwrite(s: &mut Str, t: &str) {
    if s.as_str() != t {
        s.clear();
        s.push_str(t);
    }
}

/// One record of the evtx crate's JSON into `ev` (which holds `Event::default()`); its
/// `winlog` group is `spare`'s, overwritten (every field of it is set here).
fn from_evtx<N: Node>(v: &N, ev: &mut Event, spare: &mut Spare) -> Result<(), String> {
    let e = v.get("Event").ok_or("no Event element")?;
    let sys = e.get("System").ok_or("no Event.System element")?;
    let time = attr(sys.get("TimeCreated"), "SystemTime")
        .and_then(N::as_str)
        .ok_or("no System.TimeCreated SystemTime")?;
    ev.timestamp = util::iso8601(time)?;
    let event_id = sys
        .get("EventID")
        .and_then(text)
        .and_then(|t| t.trim().parse::<u32>().ok());
    let Some(id) = event_id else {
        return Err("no numeric System.EventID".to_owned());
    };
    ev.winlog = std::mem::take(&mut spare.winlog);
    let w = &mut *ev.winlog;
    w.event_id = event_id;
    set_str(
        &mut w.provider_name,
        attr(sys.get("Provider"), "Name").and_then(N::as_str),
    );
    set_str(&mut w.channel, sys.get("Channel").and_then(text).as_deref());
    set_str(
        &mut w.computer_name,
        sys.get("Computer").and_then(text).as_deref(),
    );
    w.record_id = sys
        .get("EventRecordID")
        .and_then(text)
        .and_then(|t| t.parse().ok());
    set_str(&mut w.task, sys.get("Task").and_then(text).as_deref());
    set_str(&mut w.opcode, sys.get("Opcode").and_then(text).as_deref());
    set_str(
        &mut w.keywords,
        sys.get("Keywords").and_then(text).as_deref(),
    );
    if let Some(sid) = attr(sys.get("Security"), "UserID").and_then(N::as_str) {
        ev.user.id = Some(Str::from(sid));
    }
    let mut data = Pairs {
        pairs: std::mem::take(&mut w.event_data.0),
        n: 0,
        tail: &mut spare.tail,
    };
    if let Some(d) = e.get("EventData").and_then(N::pairs) {
        // Room for one value per element (most are leaves): no regrowth as it fills.
        data.pairs
            .reserve(d.size_hint().0.saturating_sub(data.pairs.len()));
        flatten(d, &mut data);
    }
    if let Some(u) = e.get("UserData").and_then(N::pairs) {
        // UserData holds one provider-specific element; its children are the pairs.
        for (_, inner) in u {
            match inner.pairs() {
                Some(o) => flatten(o, &mut data),
                None => {
                    if let Some(t) = text(inner) {
                        data.insert("UserData", t.as_ref());
                    }
                }
            }
        }
    }
    ev.winlog.event_data = data.finish();
    normalize(ev, id);
    Ok(())
}

fn flatten<'n, N: Node + 'n>(d: impl Iterator<Item = (&'n str, &'n N)>, out: &mut Pairs<'_>) {
    for (k, v) in d {
        if k == "#attributes" {
            continue;
        }
        // Unnamed <Data> elements: Data, or a list of them.
        if let ("Data" | "#text", Some(items)) = (k, v.items()) {
            for (i, it) in items.iter().enumerate() {
                if let Some(t) = text(it) {
                    out.insert(&format_compact!("Data{}", i + 1), t.as_ref());
                }
            }
            continue;
        }
        if let Some(o) = v.pairs()
            && v.get("#text").is_none()
        {
            // Nested element (UserData children): keep the leaf pairs.
            flatten(o, out);
            continue;
        }
        if let Some(t) = text(v) {
            out.insert(k, t.as_ref());
        } else if v.is_null() {
            out.insert(k, "");
        }
    }
}

/// `event.dataset` of a channel (the usual ones as constants: no copy, no allocation).
fn dataset_of(channel: &str) -> Str {
    match channel {
        "Security" => Str::const_new("windows.security"),
        "System" => Str::const_new("windows.system"),
        "Application" => Str::const_new("windows.application"),
        "Microsoft-Windows-Sysmon/Operational" => Str::const_new("windows.sysmon_operational"),
        "Windows PowerShell" | "Microsoft-Windows-PowerShell/Operational" => {
            Str::const_new("windows.powershell")
        }
        other => {
            let mut s = String::from("windows.");
            for c in other.chars() {
                s.push(if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                });
            }
            Str::from(s)
        }
    }
}

fn present(s: Option<&str>) -> Option<&str> {
    s.filter(|v| !v.is_empty() && *v != "-")
}

fn normalize(ev: &mut Event, id: u32) {
    let channel = ev.winlog.channel.as_deref().unwrap_or_default();
    let ds = dataset_of(channel);
    let sysmon = channel == "Microsoft-Windows-Sysmon/Operational";
    let (cat, ty): (&[&str], &[&str]) = match (sysmon, id) {
        (false, 4624 | 4625 | 4634 | 4647 | 4648 | 4768 | 4769 | 4771 | 4776 | 4778 | 4779) => {
            (&["authentication"], &["start"])
        }
        (false, 4688) | (true, 1) => (&["process"], &["start"]),
        (false, 4720 | 4722 | 4723 | 4724 | 4725 | 4726 | 4738 | 4740 | 4794) => {
            (&["iam"], &["user", "change"])
        }
        (true, 3) | (false, 5156 | 5157) => (&["network"], &["connection"]),
        (true, 22) => (&["network"], &["protocol"]),
        (true, 11 | 23 | 26) | (false, 4663 | 4656 | 5140 | 5145) => (&["file"], &["access"]),
        _ => (&["host"], &["info"]),
    };
    base(ev, ds, "event", cat, ty);
    ev.event.code = Some(id.to_compact_string());
    ev.event.provider.clone_from(&ev.winlog.provider_name);
    ev.host.name.clone_from(&ev.winlog.computer_name);
    // Audit success/failure from the keywords mask.
    if let Some(k) = ev.winlog.keywords.as_deref()
        && let Ok(mask) = u64::from_str_radix(k.trim_start_matches("0x"), 16)
    {
        if mask & 0x0010_0000_0000_0000 != 0 {
            ev.event.outcome = Some(Str::from("failure"));
        } else if mask & 0x0020_0000_0000_0000 != 0 {
            ev.event.outcome = Some(Str::from("success"));
        }
    }
    let d = &ev.winlog.event_data;
    let get = |k: &str| present(d.get(k));
    let subject = get("SubjectUserName").map(Str::from);
    let subject_dom = get("SubjectDomainName").map(Str::from);
    let target = get("TargetUserName").map(Str::from);
    let target_dom = get("TargetDomainName").map(Str::from);
    let logon = matches!(
        id,
        4624 | 4625 | 4634 | 4647 | 4648 | 4768 | 4769 | 4771 | 4776
    ) && !sysmon;
    if logon && target.is_some() {
        ev.user.name = target.clone();
        ev.user.domain = target_dom.clone();
    } else {
        ev.user.name = subject.clone().or_else(|| get("User").map(Str::from));
        ev.user.domain = subject_dom.clone();
        if target.is_some() {
            ev.user.target = Some(Box::new(yagura_model::event::UserTarget {
                name: target,
                domain: target_dom,
            }));
        }
    }
    if id == 4776 && ev.user.name.is_none() {
        ev.user.name = get("TargetUserName").map(Str::from);
    }
    let src_ip = get("IpAddress")
        .or(get("SourceAddress"))
        .or(get("SourceIp"))
        .or(get("ClientAddress"));
    if let Some(ip) = src_ip
        .map(|s| s.strip_prefix("::ffff:").unwrap_or(s))
        .and_then(util::ip)
    {
        ev.source.ip = Some(ip);
    }
    if let Some(p) = get("IpPort")
        .or(get("SourcePort"))
        .and_then(|p| p.parse().ok())
    {
        ev.source.port = Some(p).filter(|p| *p != 0);
    }
    if let Some(ws) = get("WorkstationName")
        .or(get("Workstation"))
        .or(get("SourceHostname"))
    {
        ev.source.domain = Some(Str::from(ws));
    }
    if let Some(ip) = get("DestAddress")
        .or(get("DestinationIp"))
        .and_then(util::ip)
    {
        ev.destination.ip = Some(ip);
    }
    if let Some(p) = get("DestPort")
        .or(get("DestinationPort"))
        .and_then(|p| p.parse().ok())
    {
        ev.destination.port = Some(p);
    }
    if let Some(h) = get("DestinationHostname") {
        ev.destination.domain = Some(util::domain(h));
    }
    if let Some(t) = get("Protocol").filter(|_| sysmon) {
        ev.network.transport = Some(util::domain(t));
    }
    let exe = get("Image")
        .or(get("NewProcessName"))
        .or(get("ProcessName"))
        .or(get("Application"));
    if let Some(x) = exe {
        ev.process.executable = Some(x.to_owned());
        ev.process.name = Some(Str::from(x.rsplit(['\\', '/']).next().unwrap_or(x)));
    }
    if let Some(c) = get("CommandLine") {
        ev.process.command_line = Some(c.to_owned());
    }
    let pid = get("ProcessId").or(get("NewProcessId"));
    if let Some(p) = pid.and_then(|p| {
        p.strip_prefix("0x")
            .map_or_else(|| p.parse().ok(), |h| u32::from_str_radix(h, 16).ok())
    }) {
        ev.process.pid = Some(p);
    }
    if let Some(q) = get("QueryName").filter(|_| sysmon) {
        ev.dns.question.name = Some(util::domain(q));
    }
    if let Some(f) =
        get("TargetFilename").or(get("ObjectName").filter(|_| matches!(id, 4663 | 4656)))
    {
        ev.file.path = Some(f.to_owned());
        ev.file.name = Some(Str::from(f.rsplit(['\\', '/']).next().unwrap_or(f)));
    }
    if let Some(h) = get("Hashes").or(get("Hash")) {
        for part in h.split(',') {
            if let Some((alg, val)) = part.split_once('=') {
                let val = Some(Str::from(val.to_ascii_lowercase()));
                match alg.trim() {
                    "MD5" => ev.file.hash.md5 = val,
                    "SHA1" => ev.file.hash.sha1 = val,
                    "SHA256" => ev.file.hash.sha256 = val,
                    _ => {}
                }
            }
        }
    }
    if ev.event.outcome.is_none() {
        match id {
            4625 | 4771 => ev.event.outcome = Some(Str::from("failure")),
            4624 => ev.event.outcome = Some(Str::from("success")),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The borrowed-tree path of a line, as the reader runs it.
    fn via_tree(line: &str) -> Result<Event, String> {
        super::super::by_value(|ev| from_evtx_json_line_into(line, ev, &mut Spare::default()))
    }

    /// Lines read one after the other into one event through one [`EvtxJson`] parser, as
    /// `FileReader::next_into` reads them (`recycle`, `reset`, `parse_into`: the refill
    /// path): each gives what the `Value` path gives for it alone, serialized the same.
    fn reused_is_value(lines: &[&str]) {
        let mut p = EvtxJson::default();
        let mut ev = Event::default();
        for line in lines {
            p.recycle(&mut ev);
            ev.reset();
            let got = match p.parse_into(line, 1, &mut ev) {
                Step::Filled => Ok(ev.clone()),
                Step::Reject(e) => Err(e),
                Step::Event(e) => Ok(e),
                Step::Skip => continue,
            };
            let want = from_evtx_json_line(line.trim());
            assert_eq!(got, want, "{line}");
            if let (Ok(a), Ok(b)) = (&got, &want) {
                assert_eq!(
                    serde_json::to_string(a).expect("ser"),
                    serde_json::to_string(b).expect("ser"),
                    "{line}"
                );
            }
        }
    }

    fn check(input: &str, expect: &str) {
        let got = match via_tree(input) {
            Ok(ev) => serde_json::to_string(&ev).unwrap_or_default(),
            Err(e) => format!("ERR {e}"),
        };
        assert_eq!(got, expect);
        same_as_value_path(input);
    }

    /// The borrowed-tree path gives what the `serde_json::Value` path gives: the same event
    /// (serialized the same, so in the same order) or the same reason.
    fn same_as_value_path(line: &str) {
        let reference = from_evtx_json_line(line);
        let tree = via_tree(line);
        assert_eq!(tree, reference, "{line}");
        if let (Ok(a), Ok(b)) = (&tree, &reference) {
            assert_eq!(
                serde_json::to_string(a).expect("ser"),
                serde_json::to_string(b).expect("ser"),
                "{line}"
            );
        }
    }

    #[test]
    fn logon() {
        check(
            r##"{"Event":{"#attributes":{"xmlns":"x"},"System":{"Provider":{"#attributes":{"Name":"Microsoft-Windows-Security-Auditing"}},"EventID":4625,"Keywords":"0x8010000000000000","TimeCreated":{"#attributes":{"SystemTime":"2019-03-19T23:34:20.123456Z"}},"EventRecordID":42,"Channel":"Security","Computer":"DC01.corp"},"EventData":{"SubjectUserName":"-","TargetUserName":"admin","TargetDomainName":"CORP","LogonType":3,"IpAddress":"10.0.0.9","IpPort":"50000"}}}"##,
            r#"{"@timestamp":"2019-03-19T23:34:20.123456Z","event":{"dataset":"windows.security","provider":"Microsoft-Windows-Security-Auditing","kind":"event","category":["authentication"],"type":["start"],"outcome":"failure","code":"4625"},"source":{"ip":"10.0.0.9","port":50000},"user":{"name":"admin","domain":"CORP"},"host":{"name":"DC01.corp"},"winlog":{"event_id":4625,"channel":"Security","provider_name":"Microsoft-Windows-Security-Auditing","computer_name":"DC01.corp","record_id":42,"keywords":"0x8010000000000000","event_data":{"SubjectUserName":"-","TargetUserName":"admin","TargetDomainName":"CORP","LogonType":"3","IpAddress":"10.0.0.9","IpPort":"50000"}}}"#,
        );
        check(r#"{"Event":{}}"#, "ERR no Event.System element");
        check(
            r##"{"Event":{"System":{"EventID":"x","TimeCreated":{"#attributes":{"SystemTime":"2019-03-19T23:34:20Z"}}}}}"##,
            "ERR no numeric System.EventID",
        );
    }

    #[test]
    fn tree_path_is_the_value_path_on_edge_cases() {
        let mut lines = Vec::new();
        for line in [
            include_str!("../../test_data/evtx-dump.jsonl")
                .lines()
                .next()
                .unwrap_or_default(),
            r#"[1]"#,
            r#"{"Event":"#,
            r#"{"Event":1}"#,
            r#"{"Nope":{}}"#,
            r##"{"Event":{"System":{"EventID":7,"TimeCreated":{"#attributes":{"SystemTime":"not a time"}}}}}"##,
            r##"{"Event":{"System":{"EventID":7,"TimeCreated":{"#attributes":{"SystemTime":5}}}}}"##,
            r##"{"Event":{"System":{"EventID":[{"#text":7},"8"],"TimeCreated":{"#attributes":{"SystemTime":"2019-03-19T23:34:20Z"}}}}}"##,
            r##"{"Event":{"System":{"EventID":{"#text":" 4624 "},"Channel":"Security","Channel":"System","TimeCreated":{"#attributes":{"SystemTime":"2019-03-19T23:34:20Z"},"#attributes":{"SystemTime":"2020-03-19T23:34:20Z"}}},"EventData":{"Data":["a",{"#text":"b"},null,3,["x","y"]],"B":"1","A":"2","B":{"#text":"3"},"N":{"X":{"Y":"deep","#attributes":{"q":1}},"Z":null},"T":true,"F":1.5}}}"##,
            r##"{"Event":{"System":{"EventID":4663,"Keywords":"0x8020000000000000","TimeCreated":{"#attributes":{"SystemTime":"2019-03-19T23:34:20+09:00"}}},"EventData":{"#text":["p","q"],"ObjectName":"C:\\Users\\\u00e9\\f.txt","ProcessId":"0x1a4","ProcessName":"C:\\x\\y.exe"}}}"##,
            r##"{"Event":{"System":{"EventID":4688,"TimeCreated":{"#attributes":{"SystemTime":"2019-03-19T23:34:20Z"}}},"UserData":{"LogFileCleared":{"SubjectUserName":"bob","SubjectDomainName":"D"},"Other":"text","Num":5,"Null":null}}}"##,
            r##"{"Event":{"System":{"EventID":22,"Channel":"Microsoft-Windows-Sysmon/Operational","TimeCreated":{"#attributes":{"SystemTime":"2019-03-19T23:34:20Z"}}},"EventData":{"QueryName":"Ex.Example.COM","Image":"C:/a/b.exe","Protocol":"TCP","DestinationIp":"::ffff:10.0.0.1","SourceIp":"::ffff:10.0.0.2","DestinationPort":"x","Hashes":"MD5=AB,SHA1=CD,SHA256=EF,IMPHASH=00"}}}"##,
        ] {
            same_as_value_path(line);
            lines.push(line);
        }
        reused_is_value(&lines);
        lines.reverse();
        reused_is_value(&lines);
    }

    /// Every record of the evtx samples in `../shared/data` (the evtx crate's own JSON, as the
    /// `.json` files beside them hold it): through the borrowed tree as through `Value`.
    #[test]
    fn tree_path_is_the_value_path_on_shared_data() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/data/sigma/regression_data");
        let mut stack = vec![root];
        let (mut json_records, mut evtx_records) = (0usize, 0usize);
        let mut all = Vec::new();
        while let Some(dir) = stack.pop() {
            let Ok(rd) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in rd.flatten() {
                let p = entry.path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|e| e == "json") {
                    let text = std::fs::read_to_string(&p).expect("read json");
                    for v in serde_json::Deserializer::from_str(&text).into_iter::<Value>() {
                        let v = v.expect("json record");
                        same_as_value_path(&v.to_string());
                        all.push(v.to_string());
                        json_records += 1;
                    }
                } else if p.extension().is_some_and(|e| e == "evtx") && evtx_records < 3000 {
                    let Ok(mut parser) = evtx::EvtxParser::from_path(&p) else {
                        continue;
                    };
                    for r in parser.records_json_value().flatten() {
                        let line = r.data.to_string();
                        same_as_value_path(&line);
                        all.push(line.clone());
                        // And the binary path's own conversion.
                        assert_eq!(from_evtx_value(&r.data), via_tree(&line), "{line}");
                        evtx_records += 1;
                    }
                }
            }
        }
        assert!(
            json_records > 100 && evtx_records > 100,
            "{json_records} JSON and {evtx_records} .evtx records"
        );
        // Every record in a row through one reused event (the reader's `next_into`).
        let refs: Vec<&str> = all.iter().map(String::as_str).collect();
        reused_is_value(&refs);
    }

    proptest::proptest! {
        /// Generated records: any mix, order and repetition of system fields and event data
        /// in the shapes the evtx crate writes (numbers or text, `#text` objects, `Data`
        /// lists, nested `UserData`), with escapes and non-ASCII text.
        #[test]
        fn tree_path_is_the_value_path_on_generated_records(
            sys in proptest::collection::vec(0usize..24, 0..12),
            data in proptest::collection::vec((0usize..24, 0usize..16), 0..14),
            user_data in proptest::bool::ANY,
            free in "\\PC{0,10}",
        ) {
            const SYS: [&str; 24] = [
                r#""EventID":4624"#,
                r#""EventID":"4625""#,
                r##""EventID":{"#attributes":{"Qualifiers":16384},"#text":7045}"##,
                r#""EventID":"x""#,
                r#""EventID":1"#,
                r#""EventID":22"#,
                r##""TimeCreated":{"#attributes":{"SystemTime":"2026-01-05T01:02:03.123456Z"}}"##,
                r##""TimeCreated":{"#attributes":{"SystemTime":"2026-01-05T01:02:03Z"}}"##,
                r##""TimeCreated":{"#attributes":{"SystemTime":"bad"}}"##,
                r##""Provider":{"#attributes":{"Name":"Microsoft-Windows-Sysmon","Guid":"{5770385F}"}}"##,
                r##""Provider":{"#attributes":{"Name":"Service Control Manager"}}"##,
                r#""Channel":"Security""#,
                r#""Channel":"Microsoft-Windows-Sysmon/Operational""#,
                r#""Channel":"Weird Ch\u00e4nnel/\u65e5\u672c""#,
                r#""Channel":null"#,
                r#""Computer":"DC01.corp""#,
                r#""EventRecordID":42"#,
                r#""EventRecordID":" 43""#,
                r#""Task":12544"#,
                r#""Opcode":[0,"x"]"#,
                r#""Keywords":"0x8010000000000000""#,
                r#""Keywords":"0x8020000000000000""#,
                r##""Security":{"#attributes":{"UserID":"S-1-5-18"}}"##,
                r#""Correlation":null"#,
            ];
            const KEYS: [&str; 24] = [
                "SubjectUserName", "SubjectDomainName", "TargetUserName", "TargetDomainName",
                "IpAddress", "IpPort", "WorkstationName", "Image", "CommandLine", "ProcessId",
                "Hashes", "QueryName", "DestinationIp", "DestinationPort", "TargetFilename",
                "ObjectName", "Data", "#text", "#attributes", "User", "Protocol",
                "DestinationHostname", "Nested", "Caf\u{e9} \u{65e5}",
            ];
            let free_json = serde_json::to_string(&free).expect("json");
            let vals: [String; 16] = [
                free_json.clone(),
                r#""10.0.0.9""#.to_owned(),
                r#""::ffff:10.1.2.3""#.to_owned(),
                r#""0x1a4""#.to_owned(),
                r#""MD5=AB12,SHA256=CD34""#.to_owned(),
                r#""C:\\Windows\\System32\\cmd.exe""#.to_owned(),
                "4321".to_owned(),
                "-1.5e3".to_owned(),
                "null".to_owned(),
                "true".to_owned(),
                r#""-""#.to_owned(),
                format!(r#"["a",{free_json},null,7,{{"x":1}}]"#),
                format!(r##"{{"#text":{free_json}}}"##),
                r##"{"#attributes":{"a":1},"Inner":"v","Deeper":{"Leaf":"w"}}"##.to_owned(),
                r#""Ex.Example.COM""#.to_owned(),
                r#""""#.to_owned(),
            ];
            let sys_body: Vec<&str> = sys.iter().map(|&i| SYS[i]).collect();
            let data_body: Vec<String> = data
                .iter()
                .map(|&(k, v)| format!("{}:{}", serde_json::to_string(KEYS[k]).expect("json"), vals[v]))
                .collect();
            let data_part = if user_data {
                format!(r#""UserData":{{"Elem":{{{}}},"Loose":{free_json}}}"#, data_body.join(","))
            } else {
                format!(r#""EventData":{{{}}}"#, data_body.join(","))
            };
            let line = format!(
                r#"{{"Event":{{"System":{{{}}},{data_part}}}}}"#,
                sys_body.join(",")
            );
            same_as_value_path(&line);
            // And after the last few generated records, through one reused event (the
            // refill path meets records of other shapes before this one).
            thread_local! {
                static RECENT: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
            }
            RECENT.with_borrow_mut(|recent| {
                recent.push(line.clone());
                if recent.len() > 4 {
                    recent.remove(0);
                }
                let refs: Vec<&str> = recent.iter().map(String::as_str).collect();
                reused_is_value(&refs);
            });
        }
    }
}
