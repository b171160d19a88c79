//! yagura's mail-gateway JSON lines (specified in `MAIL_FORMAT.md`).

use yagura_model::event::{Attachment, Email, Sparse};
use yagura_model::event::{Other, OtherValue};
use yagura_model::{Event, Str, Timestamp};

use super::json::{J, Obj, entries, get};
use super::{LineParser, Step, base};
use crate::util;

const DIRECTIONS: &[&str] = &["inbound", "outbound", "internal", "unknown"];
const SPF: &[&str] = &[
    "none",
    "neutral",
    "pass",
    "fail",
    "softfail",
    "temperror",
    "permerror",
];
const DKIM: &[&str] = &[
    "none",
    "pass",
    "fail",
    "policy",
    "neutral",
    "temperror",
    "permerror",
];
const DMARC: &[&str] = &["none", "pass", "fail", "temperror", "permerror"];
const VERDICTS: &[&str] = &["delivered", "quarantined", "rejected", "dropped"];

const KNOWN: &[&str] = &[
    "type",
    "ts",
    "gateway",
    "queue_id",
    "message_id",
    "direction",
    "client_ip",
    "client_hostname",
    "helo",
    "envelope_from",
    "header_from",
    "reply_to",
    "recipients",
    "cc",
    "subject",
    "size",
    "x_mailer",
    "attachments",
    "links",
    "spf",
    "dkim",
    "dmarc",
    "verdict",
    "reason",
];

/// Where a record's values are looked up: the record itself, through [`Rec`] (one pass over
/// its keys), or a nested object (an attachment), by [`get`].
trait Lookup<'o, 'a: 'o> {
    /// The last value under `k`, as [`get`] finds it.
    fn at(&self, k: &str) -> Option<&'o J<'a>>;
}

impl<'o, 'a: 'o> Lookup<'o, 'a> for &'o Obj<'a> {
    fn at(&self, k: &str) -> Option<&'o J<'a>> {
        get(self, k)
    }
}

/// The position of a key in [`KNOWN`] (a `match`: one length switch and a comparison, where
/// `KNOWN.contains` compares with up to 24 keys).
fn known(k: &str) -> Option<usize> {
    Some(match k {
        "type" => 0,
        "ts" => 1,
        "gateway" => 2,
        "queue_id" => 3,
        "message_id" => 4,
        "direction" => 5,
        "client_ip" => 6,
        "client_hostname" => 7,
        "helo" => 8,
        "envelope_from" => 9,
        "header_from" => 10,
        "reply_to" => 11,
        "recipients" => 12,
        "cc" => 13,
        "subject" => 14,
        "size" => 15,
        "x_mailer" => 16,
        "attachments" => 17,
        "links" => 18,
        "spf" => 19,
        "dkim" => 20,
        "dmarc" => 21,
        "verdict" => 22,
        "reason" => 23,
        _ => return None,
    })
}

/// A record's known keys, found in one pass (each the last of a repeated key, as [`get`]
/// finds it), and whether it holds any other key.
struct Rec<'o, 'a> {
    vals: [Option<&'o J<'a>>; KNOWN.len()],
    unknown: bool,
}

impl<'o, 'a> Rec<'o, 'a> {
    fn of(m: &'o Obj<'a>) -> Self {
        let mut r = Rec {
            vals: [None; KNOWN.len()],
            unknown: false,
        };
        for (k, v) in m {
            match known(k).and_then(|i| r.vals.get_mut(i)) {
                Some(slot) => *slot = Some(v),
                None => r.unknown = true,
            }
        }
        r
    }
}

impl<'o, 'a: 'o> Lookup<'o, 'a> for &Rec<'o, 'a> {
    fn at(&self, k: &str) -> Option<&'o J<'a>> {
        known(k).and_then(|i| self.vals.get(i).copied().flatten())
    }
}

fn opt_str<'o, 'a: 'o>(m: impl Lookup<'o, 'a>, k: &str) -> Result<Option<&'o str>, String> {
    match m.at(k) {
        None | Some(J::Null) => Ok(None),
        Some(J::Str(s)) => Ok(Some(s.as_ref())),
        Some(v) => Err(format!("{k} is a JSON {}, expected a string", v.kind())),
    }
}

fn req_str<'o, 'a: 'o>(m: impl Lookup<'o, 'a>, k: &str) -> Result<&'o str, String> {
    opt_str(m, k)?.ok_or_else(|| format!("missing required key {k}"))
}

fn enumerated<'o, 'a: 'o>(
    m: impl Lookup<'o, 'a>,
    k: &str,
    allowed: &[&str],
) -> Result<Option<&'o str>, String> {
    match opt_str(m, k)? {
        Some(v) if !allowed.contains(&v) => {
            Err(format!("{k} {v:?} is not one of {}", allowed.join("|")))
        }
        other => Ok(other),
    }
}

/// `Display Name <addr@Example.COM>` → (`addr@example.com`, `Display Name`).
///
/// The `<`, `>` and `@` are found by byte loops (ASCII bytes occur in UTF-8 text only as
/// those characters): `rfind`/`rsplit_once` set up a searcher each, three per address, which
/// cost more than these short scans (`address_is_the_reference`).
pub(crate) fn address(s: &str) -> (Str, Option<&str>) {
    let s = s.trim();
    let b = s.as_bytes();
    let (addr, name) = match (
        b.iter().rposition(|&c| c == b'<'),
        b.iter().rposition(|&c| c == b'>'),
    ) {
        (Some(i), Some(j)) if i < j => {
            let name = s.get(..i).unwrap_or("").trim().trim_matches('"').trim();
            (
                s.get(i + 1..j).unwrap_or(""),
                Some(name).filter(|n| !n.is_empty()),
            )
        }
        _ => (s, None),
    };
    let at = addr.as_bytes().iter().rposition(|&c| c == b'@');
    let norm = match at.and_then(|i| Some((addr.get(..i)?, addr.get(i + 1..)?))) {
        Some((local, dom)) if dom.bytes().any(|b| b.is_ascii_uppercase()) => {
            Str::from(format!("{local}@{}", dom.to_ascii_lowercase()))
        }
        _ => Str::from(addr),
    };
    (norm, name)
}

fn time(v: &J<'_>) -> Result<Timestamp, String> {
    match v {
        J::Str(s) => util::iso8601(s),
        J::Num(n) => util::epoch(&n.to_string()),
        other => Err(format!("ts is a JSON {}", other.kind())),
    }
}

#[cfg(test)]
pub(crate) fn parse(line: &str) -> Result<Event, String> {
    super::by_value(|ev| parse_into(line, ev))
}

/// The mail-gateway reader: [`parse_reusing`], keeping the previous event's `email` group
/// and `mailgw` object ([`LineParser::recycle`]) to refill them in place for the next record.
#[derive(Debug, Default)]
pub(crate) struct MailGw {
    spare: Spare,
}

/// Buffers of an earlier event, refilled by the next record.
#[derive(Debug, Default)]
pub(crate) struct Spare {
    /// [`Event::email`] (its box, address vectors, subject, attachments).
    email: Sparse<Email>,
    /// The `mailgw` object of [`Event::other`], entries and all.
    mailgw: Other,
}

impl LineParser for MailGw {
    fn parse(&mut self, line: &str, _no: u64) -> Step {
        let t = line.trim();
        if t.is_empty() {
            return Step::Skip;
        }
        super::by_value(|ev| parse_into(t, ev)).into()
    }

    fn parse_into(&mut self, line: &str, _no: u64, out: &mut Event) -> Step {
        let t = line.trim();
        if t.is_empty() {
            return Step::Skip;
        }
        match parse_reusing(t, out, &mut self.spare) {
            Ok(()) => Step::Filled,
            Err(e) => Step::Reject(e),
        }
    }

    fn recycle(&mut self, ev: &mut Event) {
        if !ev.email.is_unset() {
            self.spare.email = std::mem::take(&mut ev.email);
        }
        if let Some(OtherValue::Object(o)) = ev.other.remove("mailgw") {
            self.spare.mailgw = o;
        }
    }
}

/// One record into `ev` (which holds `Event::default()`).
pub(crate) fn parse_into(line: &str, ev: &mut Event) -> Result<(), String> {
    parse_reusing(line, ev, &mut Spare::default())
}

/// The strings under a key (one string, or an array whose items were all checked to be
/// strings): what a `Vec<&str>` held, without the vector.
#[derive(Clone, Copy)]
enum Strs<'o, 'a> {
    None,
    One(&'o str),
    Many(&'o [J<'a>]),
}

impl<'o, 'a> Strs<'o, 'a> {
    fn iter(self) -> impl Iterator<Item = &'o str> {
        let (one, many): (Option<&'o str>, &'o [J<'a>]) = match self {
            Strs::None => (None, &[]),
            Strs::One(s) => (Some(s), &[]),
            Strs::Many(items) => (None, items),
        };
        one.into_iter().chain(many.iter().filter_map(J::as_str))
    }

    fn is_empty(self) -> bool {
        match self {
            Strs::None => true,
            Strs::One(_) => false,
            Strs::Many(items) => items.is_empty(),
        }
    }
}

/// A string or an array of strings under `k`, with the reasons of a wrong kind.
fn strs<'o, 'a: 'o>(m: impl Lookup<'o, 'a>, k: &str) -> Result<Strs<'o, 'a>, String> {
    match m.at(k) {
        None | Some(J::Null) => Ok(Strs::None),
        Some(J::Str(s)) => Ok(Strs::One(s.as_ref())),
        Some(J::Arr(items)) => {
            if items.iter().all(|v| v.as_str().is_some()) {
                Ok(Strs::Many(items))
            } else {
                Err(format!("{k} holds a non-string"))
            }
        }
        Some(v) => Err(format!(
            "{k} is a JSON {}, expected an array of strings",
            v.kind()
        )),
    }
}

/// `Str::from(v)`, written into `old`'s buffer when it has one on the heap.
fn str_in(old: Option<Str>, v: &str) -> Str {
    match old {
        Some(mut s) if s.is_heap_allocated() => {
            s.clear();
            s.push_str(v);
            s
        }
        _ => Str::from(v),
    }
}

/// `util::lower(v)` (ASCII lower case), written into `old`'s buffer when it has one on the
/// heap.
fn lower_in(old: Option<Str>, v: &str) -> Str {
    match old {
        Some(mut s) if s.is_heap_allocated() => {
            s.clear();
            s.push_str(v);
            s.make_ascii_lowercase();
            s
        }
        _ => util::lower(v),
    }
}

/// `*dst = OtherValue::from(v)`, in the string buffer `dst` holds when it holds one.
pub(crate) fn set_str(dst: &mut OtherValue, v: &str) {
    match dst {
        OtherValue::Str(d) => {
            if d.as_str() != v {
                d.clear();
                d.push_str(v);
            }
        }
        _ => *dst = OtherValue::from(v),
    }
}

/// The `mailgw` object written entry by entry over the previous record's: an entry whose key
/// and kind match keeps its buffers. The keys written are distinct literals.
pub(crate) struct Fill<'d> {
    pub(crate) dst: &'d mut Other,
    pub(crate) n: usize,
}

impl Fill<'_> {
    /// Writes the next entry, keyed `k`: `f` gets the previous record's value at this
    /// position (or `Null`) to overwrite.
    pub(crate) fn put(&mut self, k: &str, f: impl FnOnce(&mut OtherValue)) {
        let i = self.n;
        self.n += 1;
        match self.dst.entry_at_mut(i) {
            Some((dk, dv)) => {
                if dk.as_str() != k {
                    *dk = Str::from(k);
                }
                f(dv);
            }
            None => {
                let mut v = OtherValue::Null;
                f(&mut v);
                self.dst.push_new(k, v);
            }
        }
    }

    pub(crate) fn str(&mut self, k: &str, v: &str) {
        self.put(k, |dv| set_str(dv, v));
    }

    pub(crate) fn value(&mut self, k: &str, v: OtherValue) {
        self.put(k, |dv| *dv = v);
    }

    /// Writes an array under the next entry `k`: `f` gets the previous value's vector when
    /// it was an array (elements still in it), else an empty one.
    pub(crate) fn array(&mut self, k: &str, f: impl FnOnce(&mut Vec<OtherValue>)) {
        self.put(k, |dv| {
            if !matches!(dv, OtherValue::Array(_)) {
                *dv = OtherValue::Array(Vec::new());
            }
            if let OtherValue::Array(a) = dv {
                f(a);
            }
        });
    }

    /// Drops the previous record's entries past the last one written.
    /// Writes an object under the next entry `k`: `f` gets the previous value's object when
    /// it was one (entries still in it), else an empty one.
    pub(crate) fn object(&mut self, k: &str, f: impl FnOnce(&mut Other)) {
        self.put(k, |dv| {
            if !matches!(dv, OtherValue::Object(_)) {
                *dv = OtherValue::Object(Other::new());
            }
            if let OtherValue::Object(o) = dv {
                f(o);
            }
        });
    }

    pub(crate) fn finish(self) {
        self.dst.truncate(self.n);
    }

    /// The index of the entry keyed `k` among those written so far.
    fn written(&mut self, k: &str) -> Option<usize> {
        (0..self.n).find(|&i| {
            self.dst
                .entry_at_mut(i)
                .is_some_and(|(dk, _)| dk.as_str() == k)
        })
    }

    /// [`Fill::str`], or, when an entry keyed `k` was written before, its value replaced
    /// (`Other::insert`'s answer: a repeated key keeps its first position, takes its last
    /// value).
    pub(crate) fn str_upsert(&mut self, k: &str, v: &str) {
        match self.written(k).and_then(|i| self.dst.entry_at_mut(i)) {
            Some((_, dv)) => set_str(dv, v),
            None => self.str(k, v),
        }
    }

    /// [`Fill::object`], or, when an entry keyed `k` was written before, `f` on its value
    /// (which `f` writes over from its first entry: the object is replaced).
    pub(crate) fn object_upsert(&mut self, k: &str, f: impl FnOnce(&mut Other)) {
        match self.written(k).and_then(|i| self.dst.entry_at_mut(i)) {
            Some((_, dv)) => {
                if !matches!(dv, OtherValue::Object(_)) {
                    *dv = OtherValue::Object(Other::new());
                }
                if let OtherValue::Object(o) = dv {
                    f(o);
                }
            }
            None => self.object(k, f),
        }
    }
}

/// Writes `items` (strings) over `dst`'s elements, reusing their buffers.
fn set_strs<'s>(dst: &mut Vec<OtherValue>, items: impl Iterator<Item = &'s str>) {
    let mut n = 0;
    for v in items {
        match dst.get_mut(n) {
            Some(d) => set_str(d, v),
            None => dst.push(OtherValue::from(v)),
        }
        n += 1;
    }
    dst.truncate(n);
}

/// [`parse_into`], refilling the buffers of `spare` (an earlier event's): the result equals
/// what `parse_into` builds from `Event::default()` (`refill_is_fresh`).
pub(crate) fn parse_reusing(line: &str, ev: &mut Event, spare: &mut Spare) -> Result<(), String> {
    let obj = super::json::borrowed_object(line)?;
    let rec = Rec::of(&obj);
    let m = &rec;
    if m.at("type").and_then(J::as_str) != Some("mailgw") {
        return Err("record without \"type\":\"mailgw\"".to_owned());
    }
    let ts = m.at("ts").ok_or("missing required key ts")?;
    ev.timestamp = time(ts).map_err(|e| format!("ts: {e}"))?;
    base(ev, "mailgw.message", "event", &["email"], &["info"]);
    ev.network.protocol = Some(Str::const_new("smtp"));
    ev.observer.kind = Some(Str::const_new("mail-gateway"));
    let client = req_str(m, "client_ip")?;
    ev.source.ip =
        Some(util::ip(client).ok_or_else(|| format!("client_ip {client:?} is not an IP address"))?);
    if let Some(h) = opt_str(m, "client_hostname")? {
        ev.source.domain = Some(util::domain(h));
    }
    if let Some(g) = opt_str(m, "gateway")? {
        ev.observer.hostname = Some(Str::from(g));
    }
    let direction = enumerated(m, "direction", DIRECTIONS)?.unwrap_or("inbound");
    // The previous event's group, emptied (every field, so that nothing of it shows): its
    // box, vectors and subject buffer are refilled below.
    let mut subject_buf = None;
    let mut old_atts = Vec::new();
    if !spare.email.is_unset() {
        ev.email = std::mem::take(&mut spare.email);
        let Email {
            from,
            sender,
            to,
            cc,
            reply_to,
            subject,
            message_id,
            direction,
            attachments,
            x_mailer,
            delivery_timestamp,
        } = &mut *ev.email;
        for a in [from, sender, to, cc, reply_to] {
            a.address.clear();
        }
        subject_buf = subject.take();
        *message_id = None;
        *direction = None;
        old_atts = std::mem::take(attachments);
        *x_mailer = None;
        *delivery_timestamp = None;
    }
    ev.email.direction = Some(Str::from(direction));
    ev.network.direction = Some(Str::from(direction));
    let env_from = req_str(m, "envelope_from")?;
    if !env_from.is_empty() && env_from != "<>" {
        ev.email.sender.address.push(address(env_from).0);
    }
    let mut mailgw = Fill {
        dst: &mut spare.mailgw,
        n: 0,
    };
    if let Some(hf) = opt_str(m, "header_from")? {
        let (a, name) = address(hf);
        ev.email.from.address.push(a);
        if let Some(n) = name {
            mailgw.str("header_from_name", n);
        }
    }
    for r in strs(m, "reply_to")?.iter() {
        ev.email.reply_to.address.push(address(r).0);
    }
    let rcpts = strs(m, "recipients")?;
    if rcpts.is_empty() {
        return Err("recipients is missing or empty".to_owned());
    }
    ev.email
        .to
        .address
        .extend(rcpts.iter().map(|r| address(r).0));
    ev.email
        .cc
        .address
        .extend(strs(m, "cc")?.iter().map(|r| address(r).0));
    ev.email.subject = opt_str(m, "subject")?.map(|s| match subject_buf {
        Some(mut b) => {
            b.clear();
            b.push_str(s);
            b
        }
        None => s.to_owned(),
    });
    ev.email.message_id = opt_str(m, "message_id")?.map(Str::from);
    ev.email.x_mailer = opt_str(m, "x_mailer")?.map(Str::from);
    // The previous event's attachments (each one's text buffers refilled in turn).
    let mut list = old_atts;
    match m.at("attachments") {
        None | Some(J::Null) => list.clear(),
        Some(J::Arr(atts)) => {
            for (i, a) in atts.iter().enumerate() {
                let a = a
                    .as_obj()
                    .ok_or_else(|| format!("attachments[{i}] is not an object"))?;
                let prev = list
                    .get_mut(i)
                    .map(|p| std::mem::take(&mut p.file))
                    .unwrap_or_default();
                let mut at = Attachment::default();
                let name = req_str(a, "name").map_err(|e| format!("attachments[{i}]: {e}"))?;
                at.file.name = Some(str_in(prev.name, name));
                if let Some((_, ext)) = name.rsplit_once('.') {
                    at.file.extension = Some(lower_in(prev.extension, ext));
                }
                at.file.size = get(a, "size").and_then(J::u64);
                at.file.mime_type = opt_str(a, "mime_type")?.map(|v| str_in(prev.mime_type, v));
                let hashes = prev.hash;
                at.file.hash.md5 = opt_str(a, "md5")?.map(|v| lower_in(hashes.md5, v));
                at.file.hash.sha1 = opt_str(a, "sha1")?.map(|v| lower_in(hashes.sha1, v));
                at.file.hash.sha256 = opt_str(a, "sha256")?.map(|v| lower_in(hashes.sha256, v));
                match list.get_mut(i) {
                    Some(slot) => *slot = at,
                    None => list.push(at),
                }
            }
            list.truncate(atts.len());
        }
        Some(v) => {
            return Err(format!(
                "attachments is a JSON {}, expected an array",
                v.kind()
            ));
        }
    }
    ev.email.attachments = list;
    let links = strs(m, "links")?;
    if !links.is_empty() {
        mailgw.array("links", |a| set_strs(a, links.iter()));
        mailgw.array("link_domains", |domains| {
            let mut n = 0;
            for l in links.iter() {
                if let Some(dom) = util::url_domain(l)
                    && !domains
                        .get(..n)
                        .unwrap_or_default()
                        .iter()
                        .any(|d| d.as_str() == Some(dom.as_str()))
                {
                    match domains.get_mut(n) {
                        Some(d) => set_str(d, &dom),
                        None => domains.push(OtherValue::Str(dom)),
                    }
                    n += 1;
                }
            }
            domains.truncate(n);
        });
    }
    for (k, allowed) in [("spf", SPF), ("dkim", DKIM), ("dmarc", DMARC)] {
        if let Some(v) = enumerated(m, k, allowed)? {
            mailgw.str(k, v);
        }
    }
    let verdict = enumerated(m, "verdict", VERDICTS)?.ok_or("missing required key verdict")?;
    ev.event.action = Some(Str::from(verdict));
    ev.event.outcome = Some(Str::from(if verdict == "delivered" {
        "success"
    } else {
        "failure"
    }));
    for k in ["queue_id", "helo", "reason"] {
        if let Some(v) = opt_str(m, k)? {
            mailgw.str(k, v);
        }
    }
    if let Some(sz) = m.at("size") {
        mailgw.value(
            "size",
            OtherValue::from(sz.u64().ok_or("size is not a byte count")?),
        );
    }
    if rec.unknown {
        // `entries` made the keys unique.
        let mut extra = Other::new();
        for (k, v) in entries(&obj)
            .into_iter()
            .filter(|(k, _)| known(k).is_none())
        {
            extra.push_new(k, v.to_other());
        }
        if !extra.is_empty() {
            mailgw.value("extra", OtherValue::Object(extra));
        }
    }
    mailgw.finish();
    ev.other.insert(
        "mailgw",
        OtherValue::Object(std::mem::take(&mut spare.mailgw)),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The previous `parse_into` (a fresh `Email` group, `mailgw` object and string lists per
    /// record), the reference of the refill.
    fn str_list<'o, 'a: 'o>(m: impl Lookup<'o, 'a>, k: &str) -> Result<Vec<&'o str>, String> {
        match m.at(k) {
            None | Some(J::Null) => Ok(Vec::new()),
            Some(J::Str(s)) => Ok(vec![s.as_ref()]),
            Some(J::Arr(items)) => items
                .iter()
                .map(|v| v.as_str().ok_or_else(|| format!("{k} holds a non-string")))
                .collect(),
            Some(v) => Err(format!(
                "{k} is a JSON {}, expected an array of strings",
                v.kind()
            )),
        }
    }

    fn parse_into_reference(line: &str, ev: &mut Event) -> Result<(), String> {
        let obj = super::super::json::borrowed_object(line)?;
        let rec = Rec::of(&obj);
        let m = &rec;
        if m.at("type").and_then(J::as_str) != Some("mailgw") {
            return Err("record without \"type\":\"mailgw\"".to_owned());
        }
        let ts = m.at("ts").ok_or("missing required key ts")?;
        ev.timestamp = time(ts).map_err(|e| format!("ts: {e}"))?;
        base(ev, "mailgw.message", "event", &["email"], &["info"]);
        ev.network.protocol = Some(Str::const_new("smtp"));
        ev.observer.kind = Some(Str::const_new("mail-gateway"));
        let client = req_str(m, "client_ip")?;
        ev.source.ip = Some(
            util::ip(client).ok_or_else(|| format!("client_ip {client:?} is not an IP address"))?,
        );
        if let Some(h) = opt_str(m, "client_hostname")? {
            ev.source.domain = Some(util::domain(h));
        }
        if let Some(g) = opt_str(m, "gateway")? {
            ev.observer.hostname = Some(Str::from(g));
        }
        let direction = enumerated(m, "direction", DIRECTIONS)?.unwrap_or("inbound");
        ev.email.direction = Some(Str::from(direction));
        ev.network.direction = Some(Str::from(direction));
        let env_from = req_str(m, "envelope_from")?;
        if !env_from.is_empty() && env_from != "<>" {
            ev.email.sender.address.push(address(env_from).0);
        }
        // Each key is inserted once below (distinct literals): `push_new` needs no lookup.
        let mut mailgw = Other::with_capacity(12);
        if let Some(hf) = opt_str(m, "header_from")? {
            let (a, name) = address(hf);
            ev.email.from.address.push(a);
            if let Some(n) = name {
                mailgw.push_new("header_from_name", OtherValue::from(n));
            }
        }
        for r in str_list(m, "reply_to")? {
            ev.email.reply_to.address.push(address(r).0);
        }
        let rcpts = str_list(m, "recipients")?;
        if rcpts.is_empty() {
            return Err("recipients is missing or empty".to_owned());
        }
        ev.email
            .to
            .address
            .extend(rcpts.iter().map(|r| address(r).0));
        ev.email
            .cc
            .address
            .extend(str_list(m, "cc")?.iter().map(|r| address(r).0));
        ev.email.subject = opt_str(m, "subject")?.map(str::to_owned);
        ev.email.message_id = opt_str(m, "message_id")?.map(Str::from);
        ev.email.x_mailer = opt_str(m, "x_mailer")?.map(Str::from);
        match m.at("attachments") {
            None | Some(J::Null) => {}
            Some(J::Arr(atts)) => {
                for (i, a) in atts.iter().enumerate() {
                    let a = a
                        .as_obj()
                        .ok_or_else(|| format!("attachments[{i}] is not an object"))?;
                    let mut at = Attachment::default();
                    let name = req_str(a, "name").map_err(|e| format!("attachments[{i}]: {e}"))?;
                    at.file.name = Some(Str::from(name));
                    if let Some((_, ext)) = name.rsplit_once('.') {
                        at.file.extension = Some(util::lower(ext));
                    }
                    at.file.size = get(a, "size").and_then(J::u64);
                    at.file.mime_type = opt_str(a, "mime_type")?.map(Str::from);
                    let hash = |k: &str| -> Result<Option<Str>, String> {
                        Ok(opt_str(a, k)?.map(util::lower))
                    };
                    at.file.hash.md5 = hash("md5")?;
                    at.file.hash.sha1 = hash("sha1")?;
                    at.file.hash.sha256 = hash("sha256")?;
                    ev.email.attachments.push(at);
                }
            }
            Some(v) => {
                return Err(format!(
                    "attachments is a JSON {}, expected an array",
                    v.kind()
                ));
            }
        }
        let links = str_list(m, "links")?;
        if !links.is_empty() {
            let mut domains: Vec<OtherValue> = Vec::with_capacity(links.len());
            for l in &links {
                if let Some(dom) = util::url_domain(l)
                    && !domains.iter().any(|d| d.as_str() == Some(dom.as_str()))
                {
                    domains.push(OtherValue::from(dom.as_str()));
                }
            }
            mailgw.push_new(
                "links",
                OtherValue::Array(links.iter().map(|l| OtherValue::from(*l)).collect()),
            );
            mailgw.push_new("link_domains", OtherValue::Array(domains));
        }
        for (k, allowed) in [("spf", SPF), ("dkim", DKIM), ("dmarc", DMARC)] {
            if let Some(v) = enumerated(m, k, allowed)? {
                mailgw.push_new(k, OtherValue::from(v));
            }
        }
        let verdict = enumerated(m, "verdict", VERDICTS)?.ok_or("missing required key verdict")?;
        ev.event.action = Some(Str::from(verdict));
        ev.event.outcome = Some(Str::from(if verdict == "delivered" {
            "success"
        } else {
            "failure"
        }));
        for k in ["queue_id", "helo", "reason"] {
            if let Some(v) = opt_str(m, k)? {
                mailgw.push_new(k, OtherValue::from(v));
            }
        }
        if let Some(sz) = m.at("size") {
            mailgw.push_new(
                "size",
                OtherValue::from(sz.u64().ok_or("size is not a byte count")?),
            );
        }
        if rec.unknown {
            // `entries` made the keys unique.
            let mut extra = Other::new();
            for (k, v) in entries(&obj)
                .into_iter()
                .filter(|(k, _)| known(k).is_none())
            {
                extra.push_new(k, v.to_other());
            }
            if !extra.is_empty() {
                mailgw.push_new("extra", OtherValue::Object(extra));
            }
        }
        ev.other.insert("mailgw", OtherValue::Object(mailgw));
        Ok(())
    }

    fn check(input: &str, expect: &str) {
        let got = match parse(input) {
            Ok(_) => "OK".to_owned(),
            Err(e) => format!("ERR {e}"),
        };
        assert_eq!(got, expect, "{input}");
    }

    #[test]
    fn validation() {
        let ok = r#"{"type":"mailgw","ts":"2026-01-05T01:02:03Z","client_ip":"203.0.113.5","envelope_from":"","recipients":["a@b"],"verdict":"delivered"}"#;
        check(ok, "OK");
        check(
            &ok.replace("203.0.113.5", "x"),
            "ERR client_ip \"x\" is not an IP address",
        );
        check(
            &ok.replace("[\"a@b\"]", "[]"),
            "ERR recipients is missing or empty",
        );
        check(
            &ok.replace("delivered", "maybe"),
            "ERR verdict \"maybe\" is not one of delivered|quarantined|rejected|dropped",
        );
        check(
            &ok.replace("2026-01-05", "2026-02-31"),
            "ERR ts: impossible date 2026-02-31",
        );
        check(
            &ok.replace("\"ts\":\"2026-01-05T01:02:03Z\"", "\"ts\":1767574923.25"),
            "OK",
        );
        check(
            r#"{"type":"other"}"#,
            "ERR record without \"type\":\"mailgw\"",
        );
    }

    #[test]
    fn known_is_the_list() {
        for (i, k) in KNOWN.iter().enumerate() {
            assert_eq!(known(k), Some(i), "{k}");
        }
        for k in ["", "Type", "types", "t", "extra", "header_from_name"] {
            assert_eq!(known(k), None, "{k}");
        }
    }

    #[test]
    fn repeated_and_unknown_keys() {
        // The last of a repeated key counts (as `serde_json::Map` keeps it); unknown keys go
        // to `mailgw.extra`, each once.
        let line = r#"{"type":"mailgw","ts":"2026-01-05T01:02:03Z","client_ip":"203.0.113.5","envelope_from":"","recipients":["a@b"],"verdict":"rejected","verdict":"delivered","x":1,"y":{"z":2},"x":3}"#;
        let ev = parse(line).expect("parses");
        assert_eq!(ev.event.action.as_deref(), Some("delivered"));
        assert_eq!(
            serde_json::to_string(ev.other.get("mailgw").expect("mailgw")).unwrap_or_default(),
            r#"{"extra":{"x":3,"y":{"z":2}}}"#
        );
    }

    /// Lines read one after the other into one event through one [`MailGw`] parser, as
    /// `FileReader::next_into` reads them (`recycle`, `reset`, `parse_into`: the refill
    /// path): each gives what [`parse_into_reference`] gives for it alone from a fresh event,
    /// the same reason or the same event, serialized the same.
    fn refill_is_fresh(lines: &[String]) {
        let mut p = MailGw::default();
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
            let want = super::super::by_value(|e| parse_into_reference(line.trim(), e));
            assert_eq!(got, want, "{line}");
            if let (Ok(a), Ok(b)) = (&got, &want) {
                assert_eq!(
                    serde_json::to_string(a).expect("ser"),
                    serde_json::to_string(b).expect("ser"),
                    "{line}"
                );
            }
            // The by-value path (the `Iterator` API) too.
            assert_eq!(parse(line.trim()), want, "{line}");
        }
    }

    #[test]
    fn refill_is_fresh_on_the_test_data() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/test_data/mailgw.jsonl"
        ))
        .expect("test data");
        let lines: Vec<String> = text.lines().map(str::to_owned).collect();
        // Each line after each other (and itself), in both orders.
        let mut seq = lines.clone();
        seq.extend(lines.iter().rev().cloned());
        seq.extend(lines.iter().flat_map(|l| [l.clone(), l.clone()]));
        refill_is_fresh(&seq);
    }

    /// A mail-gateway record whose optional parts come and go (so that refills meet longer,
    /// shorter and missing lists, attachments and `mailgw` entries, strings of both sizes,
    /// upper-case hashes and domains, and rejects half-way).
    fn record() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let s = || {
            prop_oneof![
                Just("a".to_owned()),
                Just("Info <Info@Pension.EXAMPLE>".to_owned()),
                Just("a-string-longer-than-twenty-four-bytes@example.net".to_owned()),
                "[a-zA-Z@.<> ]{0,30}",
            ]
        };
        let list = move || prop::collection::vec(s(), 0..4);
        let link = prop_oneof![
            Just("http://example.net/x?1".to_owned()),
            Just("https://Example.NET/a-long-path/for-a-heap-string".to_owned()),
            Just("http://other.example/".to_owned()),
            Just("not a url".to_owned()),
        ];
        let att = (
            prop_oneof![
                Just("r.PDF"),
                Just("a-long-attachment-name-here.xlsm"),
                Just("noext")
            ],
            proptest::option::of(0u64..100_000),
            proptest::option::of(Just("application/vnd.ms-excel.sheet.macroEnabled.12")),
            proptest::option::of(Just("44D88612FEA8A8F36DE82E1278ABB02F")),
            proptest::option::of(Just(
                "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f",
            )),
            0u8..8,
        )
            .prop_map(|(name, size, mime, md5, sha, bad)| {
                if bad == 0 {
                    return "7".to_owned();
                }
                let mut o = serde_json::Map::new();
                o.insert("name".into(), name.into());
                if let Some(v) = size {
                    o.insert("size".into(), v.into());
                }
                if let Some(v) = mime {
                    o.insert("mime_type".into(), v.into());
                }
                if let Some(v) = md5 {
                    o.insert("md5".into(), v.into());
                }
                if let Some(v) = sha {
                    o.insert("sha256".into(), v.into());
                }
                serde_json::Value::Object(o).to_string()
            });
        let opt =
            |v: Option<String>, k: &str| v.map(|v| format!(",\"{k}\":{v}")).unwrap_or_default();
        let js = |v: &String| serde_json::to_string(v).unwrap_or_default();
        let jl = |v: &Vec<String>| serde_json::to_string(v).unwrap_or_default();
        (
            (
                proptest::option::of(s()),
                proptest::option::of(list()),
                list(),
                proptest::option::of(list()),
                proptest::option::of(s()),
                proptest::option::of(prop::collection::vec(att, 0..3)),
                proptest::option::of(prop::collection::vec(link, 0..4)),
            ),
            (
                proptest::option::of(prop_oneof![Just("pass"), Just("fail"), Just("bogus")]),
                proptest::option::of(s()),
                proptest::option::of(0u64..100_000),
                any::<bool>(),
                prop_oneof![Just("delivered"), Just("rejected")],
                proptest::option::of(prop_oneof![Just("outbound"), Just("inbound")]),
            ),
        )
            .prop_map(
                move |(
                    (hf, reply, rcpts, cc, subject, atts, links),
                    (spf, helo, size, extra, verdict, dir),
                )| {
                    let mut l = String::from(
                        r#"{"type":"mailgw","ts":"2026-01-05T01:02:03Z","client_ip":"203.0.113.5","envelope_from":"b@Example.NET""#,
                    );
                    l += &opt(hf.as_ref().map(js), "header_from");
                    l += &opt(reply.as_ref().map(jl), "reply_to");
                    l += &format!(",\"recipients\":{}", jl(&rcpts));
                    l += &opt(cc.as_ref().map(jl), "cc");
                    l += &opt(subject.as_ref().map(js), "subject");
                    l += &opt(
                        atts.map(|a| format!("[{}]", a.join(","))),
                        "attachments",
                    );
                    l += &opt(links.as_ref().map(jl), "links");
                    l += &opt(spf.map(|v| format!("\"{v}\"")), "spf");
                    l += &opt(helo.as_ref().map(js), "helo");
                    l += &opt(size.map(|v| v.to_string()), "size");
                    l += &opt(dir.map(|v| format!("\"{v}\"")), "direction");
                    if extra {
                        l += r#","x_score":87,"x_obj":{"a":[1,"b"]}"#;
                    }
                    l += &format!(",\"verdict\":\"{verdict}\"}}");
                    l
                },
            )
    }

    /// The previous [`address`] (with `rfind` and `rsplit_once`), the reference.
    fn address_reference(s: &str) -> (Str, Option<&str>) {
        let s = s.trim();
        let (addr, name) = match (s.rfind('<'), s.rfind('>')) {
            (Some(i), Some(j)) if i < j => {
                let name = s[..i].trim().trim_matches('"').trim();
                (&s[i + 1..j], Some(name).filter(|n| !n.is_empty()))
            }
            _ => (s, None),
        };
        let norm = match addr.rsplit_once('@') {
            Some((local, dom)) if dom.bytes().any(|b| b.is_ascii_uppercase()) => {
                Str::from(format!("{local}@{}", dom.to_ascii_lowercase()))
            }
            _ => Str::from(addr),
        };
        (norm, name)
    }

    proptest::proptest! {
        #[test]
        fn refill_is_fresh_on_generated_records(
            lines in proptest::collection::vec(record(), 1..6)
        ) {
            refill_is_fresh(&lines);
        }

        #[test]
        fn address_is_the_reference(s in "[ a-zA-Z\\\"<>@.é\u{3000}\t]{0,40}") {
            proptest::prop_assert_eq!(address(&s), address_reference(&s));
        }

        #[test]
        fn address_is_the_reference_on_any_text(s in "\\PC{0,40}") {
            proptest::prop_assert_eq!(address(&s), address_reference(&s));
        }
    }

    #[test]
    fn addresses() {
        assert_eq!(
            address("Pension Service <Info@Pension.EXAMPLE>"),
            (Str::from("Info@pension.example"), Some("Pension Service"))
        );
        assert_eq!(address("a@b.c"), (Str::from("a@b.c"), None));
    }
}
