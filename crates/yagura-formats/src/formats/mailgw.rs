//! yagura's mail-gateway JSON lines (specified in `MAIL_FORMAT.md`).

use yagura_model::event::Attachment;
use yagura_model::event::{Other, OtherValue};
use yagura_model::{Event, Str, Timestamp};

use super::base;
use super::json::{J, Obj, entries, get};
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

/// One record into `ev` (which holds `Event::default()`).
pub(crate) fn parse_into(line: &str, ev: &mut Event) -> Result<(), String> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
