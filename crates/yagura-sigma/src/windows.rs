//! A small adapter from the Windows event JSON that `evtx` (and `evtx_dump -o json`) produce —
//! `{"Event": {"System": {...}, "EventData": {...}}}` with `#attributes`/`#text` — to a yagura
//! [`Event`]. The readers crate owns Windows parsing for the pipeline; this adapter exists so
//! the Sigma conformance tests and the `sigma` tools can read the regression samples, and it is
//! deliberately lenient: anything it does not understand is kept as text, never dropped.

use serde_json::{Map, Value};
use yagura_model::{Event, Timestamp};

/// Errors of the adapter.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum WindowsJsonError {
    #[error("not a Windows event: no `Event.System` object")]
    NotAnEvent,
    #[error("invalid JSON: {0}")]
    Json(String),
}

/// Converts one event (`{"Event": {...}}` or the inner object) into an [`Event`].
pub fn event_from_json(v: &Value) -> Result<Event, WindowsJsonError> {
    let ev = v.get("Event").unwrap_or(v);
    let sys = ev
        .get("System")
        .and_then(Value::as_object)
        .ok_or(WindowsJsonError::NotAnEvent)?;
    let mut e = Event::default();
    let w = &mut e.winlog;
    w.event_id = sys
        .get("EventID")
        .and_then(text_of)
        .and_then(|t| t.trim().parse().ok());
    w.channel = sys.get("Channel").and_then(text_of).map(Into::into);
    w.provider_name = sys
        .get("Provider")
        .and_then(|p| p.get("#attributes"))
        .and_then(|a| a.get("Name"))
        .and_then(text_of)
        .map(Into::into);
    w.computer_name = sys.get("Computer").and_then(text_of).map(Into::into);
    w.record_id = sys
        .get("EventRecordID")
        .and_then(text_of)
        .and_then(|t| t.parse().ok());
    w.task = sys.get("Task").and_then(text_of).map(Into::into);
    w.opcode = sys.get("Opcode").and_then(text_of).map(Into::into);
    w.keywords = sys.get("Keywords").and_then(text_of).map(Into::into);
    if let Some(t) = sys
        .get("TimeCreated")
        .and_then(|t| t.get("#attributes"))
        .and_then(|a| a.get("SystemTime"))
        .and_then(Value::as_str)
        .and_then(parse_system_time)
    {
        e.timestamp = t;
    }
    for key in ["EventData", "UserData"] {
        match ev.get(key) {
            Some(Value::Object(m)) => flatten_data(m, &mut e, 0),
            Some(Value::Null) | None => {}
            Some(other) => e.winlog.event_data.insert("Data", json_text(other)),
        }
    }
    e.event.code = e.winlog.event_id.map(|n| n.to_string().into());
    e.event.provider = e.winlog.provider_name.clone();
    e.event.kind = Some("event".into());
    e.event.dataset = Some(dataset_of(e.winlog.channel.as_deref()).into());
    e.host.name = e.winlog.computer_name.clone();
    Ok(e)
}

/// The `event.dataset` given to a Windows event of a channel.
pub fn dataset_of(channel: Option<&str>) -> &'static str {
    match channel.map(str::to_ascii_lowercase).as_deref() {
        Some("security") => "windows.security",
        Some("system") => "windows.system",
        Some("application") => "windows.application",
        Some("microsoft-windows-sysmon/operational") => "windows.sysmon_operational",
        Some("microsoft-windows-powershell/operational") | Some("windows powershell") => {
            "windows.powershell"
        }
        _ => "windows.eventlog",
    }
}

fn parse_system_time(s: &str) -> Option<Timestamp> {
    Timestamp::parse_rfc3339(s)
        .ok()
        // `2019-03-19 23:34:25.123456 UTC` (older evtx output)
        .or_else(|| {
            let t = s.trim_end_matches(" UTC").replacen(' ', "T", 1);
            Timestamp::parse_rfc3339(&format!("{t}Z")).ok()
        })
}

fn flatten_data(m: &Map<String, Value>, e: &mut Event, depth: usize) {
    for (k, v) in m {
        if k == "#attributes" {
            continue;
        }
        match v {
            Value::Object(inner) if depth < 4 && !inner.contains_key("#text") => {
                // UserData wraps its fields in one element named after the event schema.
                flatten_data(inner, e, depth + 1);
            }
            Value::Null => e.winlog.event_data.insert(k.as_str(), ""),
            other => {
                let text = text_of(other).unwrap_or_else(|| json_text(other));
                e.winlog.event_data.insert(k.as_str(), text);
            }
        }
    }
}

/// The text of a scalar, of `{"#text": …}`, or of a list of scalars (joined by newlines).
fn text_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Object(o) => o.get("#text").and_then(text_of),
        Value::Array(a) => {
            let parts: Option<Vec<String>> = a.iter().map(text_of).collect();
            parts.map(|p| p.join("\n"))
        }
        Value::Null => None,
    }
}

fn json_text(v: &Value) -> String {
    v.to_string()
}

/// Reads a file's worth of events: a JSON array, one object, or concatenated objects (as some
/// regression samples are). Returns the events in order; a value that is not a Windows event
/// is returned as an error at its position so the caller can report it.
pub fn events_from_json_text(text: &str) -> Vec<Result<Event, WindowsJsonError>> {
    let mut out = Vec::new();
    for v in serde_json::Deserializer::from_str(text).into_iter::<Value>() {
        match v {
            Ok(Value::Array(items)) => out.extend(items.iter().map(event_from_json)),
            Ok(v) => out.push(event_from_json(&v)),
            Err(e) => {
                out.push(Err(WindowsJsonError::Json(e.to_string())));
                break;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r##"{"Event":{"#attributes":{"xmlns":"x"},"System":{"Provider":{"#attributes":{"Name":"Microsoft-Windows-Security-Auditing"}},"EventID":{"#attributes":{"Qualifiers":0},"#text":4625},"Channel":"Security","Computer":"dc1","EventRecordID":77,"TimeCreated":{"#attributes":{"SystemTime":"2026-01-05T01:02:03.5Z"}}},"EventData":{"TargetUserName":"admin","IpAddress":"10.1.2.3","LogonType":3,"Nothing":null,"Data":{"#text":["a","b"]}}}}"##;

    #[test]
    fn converts_system_and_event_data() {
        let v: Value = serde_json::from_str(SAMPLE).unwrap();
        let e = event_from_json(&v).unwrap();
        assert_eq!(e.winlog.event_id, Some(4625));
        assert_eq!(e.winlog.channel.as_deref(), Some("Security"));
        assert_eq!(
            e.winlog.provider_name.as_deref(),
            Some("Microsoft-Windows-Security-Auditing")
        );
        assert_eq!(e.winlog.record_id, Some(77));
        assert_eq!(e.timestamp.to_rfc3339(), "2026-01-05T01:02:03.500Z");
        assert_eq!(e.winlog.event_data.get("LogonType"), Some("3"));
        assert_eq!(e.winlog.event_data.get("Nothing"), Some(""));
        assert_eq!(e.winlog.event_data.get("Data"), Some("a\nb"));
        assert_eq!(e.event.dataset.as_deref(), Some("windows.security"));
    }

    #[test]
    fn concatenated_objects_and_garbage() {
        let text = format!("{SAMPLE}\n{SAMPLE} [{SAMPLE}] {{\"x\":1}} nonsense");
        let got = events_from_json_text(&text);
        assert_eq!(got.len(), 5);
        assert!(got[..3].iter().all(Result::is_ok));
        assert_eq!(got[3], Err(WindowsJsonError::NotAnEvent));
        assert!(matches!(got[4], Err(WindowsJsonError::Json(_))));
    }
}
