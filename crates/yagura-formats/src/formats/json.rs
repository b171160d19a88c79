//! JSON-lines plumbing and the ECS / Winlogbeat pass-through.

use serde_json::Value;
use yagura_model::Event;

use super::{LineParser, Step};

/// A JSON-lines reader around a per-line function.
pub(crate) struct Lines<F>(pub F);

impl<F: Fn(&str) -> Result<Event, String>> LineParser for Lines<F> {
    fn parse(&mut self, line: &str, _no: u64) -> Step {
        let t = line.trim();
        if t.is_empty() {
            return Step::Skip;
        }
        (self.0)(t).into()
    }
}

/// Parses one JSON object, with a reason that says "truncated" when the text just stops.
pub(crate) fn object(line: &str) -> Result<serde_json::Map<String, Value>, String> {
    match serde_json::from_str::<Value>(line) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(other) => Err(format!(
            "JSON {} where an object was expected",
            kind(&other)
        )),
        Err(e) if e.is_eof() => Err(format!("truncated JSON record: {e}")),
        Err(e) => Err(format!("invalid JSON: {e}")),
    }
}

pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// ECS JSON (and Winlogbeat, which is ECS) straight into [`Event`], after fixing the
/// scalar-versus-list and number-versus-string variations real shippers write.
pub(crate) fn ecs(line: &str) -> Result<Event, String> {
    let mut m = object(line)?;
    fix_ecs(&mut m);
    if !m.contains_key("@timestamp") {
        return Err("ECS record without @timestamp".to_owned());
    }
    serde_json::from_value::<Event>(Value::Object(m)).map_err(|e| format!("not ECS: {e}"))
}

fn fix_ecs(m: &mut serde_json::Map<String, Value>) {
    // Dotted top-level keys (`"source.ip": …`) are legal ECS shorthand: nest them.
    let dotted: Vec<String> = m.keys().filter(|k| k.contains('.')).cloned().collect();
    for k in dotted {
        if let Some(v) = m.remove(&k) {
            crate::util::put(m, &k, v);
        }
    }
    let lists = [
        ("event", "category"),
        ("event", "type"),
        ("host", "ip"),
        ("dns", "header_flags"),
        ("dns", "resolved_ip"),
    ];
    for (a, b) in lists {
        if let Some(Value::Object(o)) = m.get_mut(a)
            && let Some(v) = o.get_mut(b)
            && !v.is_array()
        {
            let old = v.take();
            *v = Value::Array(vec![old]);
        }
    }
    if let Some(v) = m.get_mut("tags")
        && v.is_string()
    {
        let old = v.take();
        *v = Value::Array(vec![old]);
    }
    if let Some(Value::Object(e)) = m.get_mut("email") {
        for k in ["from", "sender", "to", "cc", "reply_to"] {
            if let Some(Value::Object(a)) = e.get_mut(k)
                && let Some(v) = a.get_mut("address")
                && v.is_string()
            {
                let old = v.take();
                *v = Value::Array(vec![old]);
            }
        }
    }
    // Numbers written as strings and the reverse.
    let to_num = [
        ("winlog", "event_id"),
        ("winlog", "record_id"),
        ("process", "pid"),
    ];
    for (a, b) in to_num {
        if let Some(Value::Object(o)) = m.get_mut(a)
            && let Some(v) = o.get_mut(b)
            && let Some(n) = v.as_str().and_then(|s| s.trim().parse::<u64>().ok())
        {
            *v = Value::from(n);
        }
    }
    if let Some(Value::Object(p)) = m.get_mut("process")
        && let Some(Value::Object(_)) = p.get("pid")
    {
        p.remove("pid");
    }
    let to_str = [
        ("event", "code"),
        ("winlog", "task"),
        ("winlog", "opcode"),
        ("winlog", "keywords"),
    ];
    for (a, b) in to_str {
        if let Some(Value::Object(o)) = m.get_mut(a)
            && let Some(v) = o.get_mut(b)
        {
            match v {
                Value::Number(n) => *v = Value::String(n.to_string()),
                Value::Array(items) => {
                    let s: Vec<String> = items
                        .iter()
                        .filter_map(|x| crate::util::json_text(x).map(|c| c.into_owned()))
                        .collect();
                    *v = Value::String(s.join(","));
                }
                _ => {}
            }
        }
    }
    // winlog.event_data values must be strings.
    if let Some(Value::Object(w)) = m.get_mut("winlog")
        && let Some(Value::Object(d)) = w.get_mut("event_data")
    {
        for v in d.values_mut() {
            if !v.is_string() {
                let s = match &*v {
                    Value::Null => String::new(),
                    other => crate::util::json_text(other)
                        .map(|c| c.into_owned())
                        .unwrap_or_else(|| other.to_string()),
                };
                *v = Value::String(s);
            }
        }
    }
}
