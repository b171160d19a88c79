//! Windows events: the evtx crate's JSON (`Event.System`, `Event.EventData` with
//! `#attributes`), from binary `.evtx` files or from its JSON-lines dump. (Winlogbeat/ECS JSON
//! goes through the ECS pass-through.)
//!
//! `winlog.*` carries the system fields and all `EventData`/`UserData` pairs as strings; the
//! few ECS fields detectors need most (user, source address, process, hashes, DNS query of
//! Sysmon 22) are filled from them.

use std::borrow::Cow;

use compact_str::ToCompactString;
use serde_json::{Map, Value};
use yagura_model::event::FieldMap;
use yagura_model::{Event, Str};

use super::base;
use crate::util;

/// The text of an evtx JSON node: a scalar, or `{"#text": …}`.
fn text(v: &Value) -> Option<Cow<'_, str>> {
    match v {
        Value::Object(o) => o.get("#text").and_then(text),
        Value::Array(items) => {
            let parts: Vec<Cow<'_, str>> = items.iter().filter_map(text).collect();
            if parts.is_empty() {
                None
            } else {
                Some(Cow::Owned(parts.join(",")))
            }
        }
        other => util::json_text(other),
    }
}

fn attr<'a>(v: Option<&'a Value>, name: &str) -> Option<&'a Value> {
    v?.get("#attributes")?.get(name)
}

/// One line of the evtx crate's JSON output (`evtx_dump -o jsonl`).
pub(crate) fn from_evtx_json_line(line: &str) -> Result<Event, String> {
    let v = Value::Object(super::json::object(line)?);
    from_evtx_value(&v)
}

/// The evtx crate's JSON value of one record.
pub(crate) fn from_evtx_value(v: &Value) -> Result<Event, String> {
    let e = v.get("Event").ok_or("no Event element")?;
    let sys = e.get("System").ok_or("no Event.System element")?;
    let time = attr(sys.get("TimeCreated"), "SystemTime")
        .and_then(Value::as_str)
        .ok_or("no System.TimeCreated SystemTime")?;
    let mut ev = Event {
        timestamp: util::iso8601(time)?,
        ..Event::default()
    };
    let w = &mut ev.winlog;
    w.event_id = sys
        .get("EventID")
        .and_then(text)
        .and_then(|t| t.trim().parse::<u32>().ok());
    let Some(id) = w.event_id else {
        return Err("no numeric System.EventID".to_owned());
    };
    w.provider_name = attr(sys.get("Provider"), "Name")
        .and_then(Value::as_str)
        .map(Str::from);
    w.channel = sys
        .get("Channel")
        .and_then(text)
        .map(|c| Str::from(c.as_ref()));
    w.computer_name = sys
        .get("Computer")
        .and_then(text)
        .map(|c| Str::from(c.as_ref()));
    w.record_id = sys
        .get("EventRecordID")
        .and_then(text)
        .and_then(|t| t.parse().ok());
    w.task = sys
        .get("Task")
        .and_then(text)
        .map(|c| Str::from(c.as_ref()));
    w.opcode = sys
        .get("Opcode")
        .and_then(text)
        .map(|c| Str::from(c.as_ref()));
    w.keywords = sys
        .get("Keywords")
        .and_then(text)
        .map(|c| Str::from(c.as_ref()));
    if let Some(sid) = attr(sys.get("Security"), "UserID").and_then(Value::as_str) {
        ev.user.id = Some(Str::from(sid));
    }
    let mut data = FieldMap::default();
    if let Some(Value::Object(d)) = e.get("EventData") {
        flatten(d, &mut data);
    }
    if let Some(Value::Object(u)) = e.get("UserData") {
        // UserData holds one provider-specific element; its children are the pairs.
        for (_, inner) in u {
            match inner {
                Value::Object(o) => flatten(o, &mut data),
                other => {
                    if let Some(t) = text(other) {
                        data.insert("UserData", t.as_ref());
                    }
                }
            }
        }
    }
    ev.winlog.event_data = data;
    normalize(&mut ev, id);
    Ok(ev)
}

fn flatten(d: &Map<String, Value>, out: &mut FieldMap) {
    for (k, v) in d {
        if k == "#attributes" {
            continue;
        }
        match (k.as_str(), v) {
            // Unnamed <Data> elements: Data, or a list of them.
            ("Data" | "#text", Value::Array(items)) => {
                for (i, it) in items.iter().enumerate() {
                    if let Some(t) = text(it) {
                        out.insert(format!("Data{}", i + 1), t.as_ref());
                    }
                }
            }
            (_, Value::Object(o)) if !o.contains_key("#text") => {
                // Nested element (UserData children): keep the leaf pairs.
                flatten(o, out);
            }
            _ => {
                if let Some(t) = text(v) {
                    out.insert(k.as_str(), t.as_ref());
                } else if v.is_null() {
                    out.insert(k.as_str(), "");
                }
            }
        }
    }
}

fn dataset_of(channel: &str) -> String {
    match channel {
        "Security" => "windows.security".to_owned(),
        "System" => "windows.system".to_owned(),
        "Application" => "windows.application".to_owned(),
        "Microsoft-Windows-Sysmon/Operational" => "windows.sysmon_operational".to_owned(),
        "Windows PowerShell" | "Microsoft-Windows-PowerShell/Operational" => {
            "windows.powershell".to_owned()
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
            s
        }
    }
}

fn present(s: Option<&str>) -> Option<&str> {
    s.filter(|v| !v.is_empty() && *v != "-")
}

fn normalize(ev: &mut Event, id: u32) {
    let channel = ev.winlog.channel.clone().unwrap_or_default();
    let ds = dataset_of(&channel);
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
    base(ev, &ds, "event", cat, ty);
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

    fn check(input: &str, expect: &str) {
        let got = match from_evtx_json_line(input) {
            Ok(ev) => serde_json::to_string(&ev).unwrap_or_default(),
            Err(e) => format!("ERR {e}"),
        };
        assert_eq!(got, expect);
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
}
