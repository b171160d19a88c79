//! Format detection from content (never from the file name).

use std::fmt;
use std::str::FromStr;

/// Every format the readers know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Squid native `access.log`.
    Squid,
    /// Squid (or Apache) `common` / `combined` (the two are told apart per line).
    SquidCommon,
    /// W3C extended / ELFF, driven by `#Fields:`.
    W3c,
    /// Zeek TSV, driven by its own header.
    ZeekTsv,
    /// Zeek JSON (dotted or underscore keys).
    ZeekJson,
    /// Suricata EVE JSON.
    SuricataEve,
    /// Binary `.evtx`.
    Evtx,
    /// The evtx crate's JSON lines (`Event.System`, `Event.EventData`).
    EvtxJson,
    /// Winlogbeat / ECS JSON of Windows events.
    Winlogbeat,
    /// Syslog RFC 3164 / RFC 5424 (per line).
    Syslog,
    /// CEF, bare or behind a syslog header.
    Cef,
    /// yagura's mail-gateway JSON lines (MAIL_FORMAT.md).
    MailGw,
    /// Postfix syslog lines, joined by queue id.
    Postfix,
    /// ECS JSON lines, passed through.
    Ecs,
}

impl Format {
    pub const ALL: [Format; 14] = [
        Format::Squid,
        Format::SquidCommon,
        Format::W3c,
        Format::ZeekTsv,
        Format::ZeekJson,
        Format::SuricataEve,
        Format::Evtx,
        Format::EvtxJson,
        Format::Winlogbeat,
        Format::Syslog,
        Format::Cef,
        Format::MailGw,
        Format::Postfix,
        Format::Ecs,
    ];

    pub const NAMES: [&'static str; 14] = [
        "squid",
        "squid-common",
        "w3c",
        "zeek-tsv",
        "zeek-json",
        "suricata",
        "evtx",
        "evtx-json",
        "winlogbeat",
        "syslog",
        "cef",
        "mailgw",
        "postfix",
        "ecs",
    ];

    pub fn name(self) -> &'static str {
        let i = Format::ALL.iter().position(|f| *f == self).unwrap_or(0);
        Format::NAMES.get(i).copied().unwrap_or("squid")
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    type Err = crate::OpenError;
    fn from_str(s: &str) -> Result<Format, Self::Err> {
        let s = s.trim().to_ascii_lowercase();
        let alias = match s.as_str() {
            "squid-native" => "squid",
            "squid-combined" | "combined" | "common" | "clf" => "squid-common",
            "elff" | "w3c-extended" => "w3c",
            "zeek" | "bro" => "zeek-tsv",
            "eve" | "suricata-eve" => "suricata",
            "winlog" => "winlogbeat",
            "mail" | "mail-gateway" => "mailgw",
            "ecs-json" | "json" => "ecs",
            other => other,
        };
        Format::NAMES
            .iter()
            .position(|n| *n == alias)
            .and_then(|i| Format::ALL.get(i).copied())
            .ok_or(crate::OpenError::UnknownFormat(s))
    }
}

/// Detects the format from the first bytes of a (decompressed) file: header lines, the shape
/// of the first records, the keys of the first JSON object. `None` when nothing fits.
pub fn detect(head: &[u8]) -> Option<Format> {
    if head.starts_with(b"ElfFile\0") {
        return Some(Format::Evtx);
    }
    let mut votes: Vec<Format> = Vec::new();
    for raw in head.split(|b| *b == b'\n').take(20) {
        let line = String::from_utf8_lossy(raw);
        let line = line.trim_end_matches('\r').trim_start_matches('\u{feff}');
        if line.trim().is_empty() {
            continue;
        }
        if let Some(f) = detect_line(line) {
            // Header lines decide at once.
            if line.starts_with('#') {
                return Some(f);
            }
            votes.push(f);
            if votes.len() >= 3 {
                break;
            }
        } else if line.starts_with('#') {
            continue;
        } else if votes.is_empty() {
            // The first record line fits nothing: maybe it is cut by the head buffer; try the
            // next one, but give up on text that looks like no log at all.
            continue;
        }
    }
    // Postfix wins over plain syslog when any of the first lines is from Postfix.
    if votes.contains(&Format::Postfix) {
        return Some(Format::Postfix);
    }
    if votes.contains(&Format::Cef) {
        return Some(Format::Cef);
    }
    votes.first().copied()
}

fn detect_line(line: &str) -> Option<Format> {
    if let Some(h) = line.strip_prefix('#') {
        if h.starts_with("separator") || h.starts_with("fields\t") || h.starts_with("path\t") {
            return Some(Format::ZeekTsv);
        }
        if h.starts_with("Fields:")
            || h.starts_with("Software:")
            || h.starts_with("Version:")
            || h.starts_with("Date:")
            || h.starts_with("Remark:")
            || h.starts_with("Start-Date:")
        {
            return Some(Format::W3c);
        }
        return None;
    }
    if line.starts_with('{') {
        return detect_json(line);
    }
    if line.starts_with("CEF:") {
        return Some(Format::Cef);
    }
    if crate::formats::syslog::looks_like(line) {
        if crate::formats::postfix::is_postfix_line(line) {
            return Some(Format::Postfix);
        }
        if line.contains("CEF:") {
            return Some(Format::Cef);
        }
        return Some(Format::Syslog);
    }
    if crate::formats::squid::looks_native(line) {
        return Some(Format::Squid);
    }
    if crate::formats::squid::looks_common(line) {
        return Some(Format::SquidCommon);
    }
    if crate::formats::zeek::looks_headerless_tsv(line) {
        return Some(Format::ZeekTsv);
    }
    None
}

fn detect_json(line: &str) -> Option<Format> {
    // The first line may be cut by the head buffer: look at keys textually when it does not
    // parse.
    let v: Option<serde_json::Value> = serde_json::from_str(line).ok();
    let has = |k: &str| match &v {
        Some(serde_json::Value::Object(m)) => m.contains_key(k),
        _ => line.contains(&format!("\"{k}\"")),
    };
    let str_at = |k: &str| match &v {
        Some(serde_json::Value::Object(m)) => m.get(k).and_then(|x| x.as_str()).map(str::to_owned),
        _ => None,
    };
    if str_at("type").as_deref() == Some("mailgw") || line.contains("\"type\":\"mailgw\"") {
        return Some(Format::MailGw);
    }
    if has("event_type") && has("timestamp") {
        return Some(Format::SuricataEve);
    }
    if has("Event") && (line.contains("\"System\"") || line.contains("\"EventData\"")) {
        return Some(Format::EvtxJson);
    }
    if has("winlog") {
        return Some(Format::Winlogbeat);
    }
    if has("_path")
        || has("@stream")
        || has("uid")
        || has("id.orig_h")
        || has("id_orig_h")
        || has("fuid")
        || (has("ts") && !has("@timestamp"))
    {
        return Some(Format::ZeekJson);
    }
    if has("@timestamp") {
        return Some(Format::Ecs);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expect: Option<Format>) {
        assert_eq!(detect(input.as_bytes()), expect, "{input}");
    }

    #[test]
    fn detects() {
        check(
            "#separator \\x09\n#set_separator\t,\n",
            Some(Format::ZeekTsv),
        );
        check(
            "#Software: SGOS 6.7\n#Fields: date time c-ip\n",
            Some(Format::W3c),
        );
        check(
            "1286536309.450    410 192.168.0.224 TCP_MISS/200 1520 GET http://www.example.com/ - DIRECT/93.184.216.34 text/html\n",
            Some(Format::Squid),
        );
        check(
            "192.168.0.224 - - [08/Oct/2010:11:11:49 +0200] \"GET http://www.example.com/ HTTP/1.1\" 200 1520 TCP_MISS:DIRECT\n",
            Some(Format::SquidCommon),
        );
        check(
            "{\"timestamp\":\"2017-05-10T06:17:29.183405+0200\",\"event_type\":\"dns\"}\n",
            Some(Format::SuricataEve),
        );
        check(
            "{\"_path\":\"dns\",\"ts\":\"2018-03-24T17:15:20Z\"}\n",
            Some(Format::ZeekJson),
        );
        check("{\"ts\":1.5,\"uid\":\"C1\"}\n", Some(Format::ZeekJson));
        check("{\"Event\":{\"System\":{}}}\n", Some(Format::EvtxJson));
        check(
            "{\"@timestamp\":\"2020-01-01T00:00:00Z\",\"winlog\":{}}\n",
            Some(Format::Winlogbeat),
        );
        check(
            "{\"@timestamp\":\"2020-01-01T00:00:00Z\",\"url\":{}}\n",
            Some(Format::Ecs),
        );
        check("{\"type\":\"mailgw\",\"ts\":1}\n", Some(Format::MailGw));
        check(
            "<34>Oct 11 22:14:15 mymachine su: 'su root' failed\n",
            Some(Format::Syslog),
        );
        check(
            "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 - msg\n",
            Some(Format::Syslog),
        );
        check(
            "Jan  5 01:02:03 mx1 postfix/smtpd[123]: 4F2A1B3C5D: client=mail.example.net[203.0.113.5]\n",
            Some(Format::Postfix),
        );
        check(
            "CEF:0|Vendor|Prod|1.0|100|name|5|src=10.0.0.1\n",
            Some(Format::Cef),
        );
        check(
            "<134>Jan  5 01:02:03 fw CEF:0|Vendor|Prod|1.0|100|name|5|src=10.0.0.1\n",
            Some(Format::Cef),
        );
        check("ElfFile\0...", Some(Format::Evtx));
        check("Lorem ipsum dolor sit amet\n", None);
        check("\u{0}\u{1}\u{2}binary", None);
        check("", None);
    }

    #[test]
    fn names_round_trip() {
        for f in Format::ALL {
            assert_eq!(f.name().parse::<Format>().ok(), Some(f));
        }
        assert!("nope".parse::<Format>().is_err());
    }
}
