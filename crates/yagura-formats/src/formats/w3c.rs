//! W3C extended log format / ELFF (IIS, Blue Coat ProxySG, Forcepoint, …), driven by the
//! `#Fields:` directive; a new `#Fields:` mid-file switches the layout. Times are UTC (W3C).
//! Mapped fields land in ECS; every field is also kept verbatim under `w3c.<field>` so Sigma
//! proxy rules (which use these names: `c-uri`, `cs-host`, …) can be mapped either way.

use serde_json::{Map, Value};
use yagura_model::{Event, Str};

use super::{LineParser, Step, base};
use crate::util::{self, present};

#[derive(Default)]
pub(crate) struct W3c {
    fields: Vec<String>,
    date: Option<String>,
}

/// Space/tab separated tokens; `"…"` tokens may hold blanks (`""` is an escaped quote).
fn tokens(line: &str) -> Result<Vec<std::borrow::Cow<'_, str>>, String> {
    let mut out = Vec::with_capacity(24);
    let mut rest = line.trim_start_matches([' ', '\t']);
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('"') {
            let b = r.as_bytes();
            let mut i = 0;
            let mut escaped = false;
            loop {
                match b.get(i) {
                    None => return Err("unterminated quoted field".to_owned()),
                    Some(b'"') if b.get(i + 1) == Some(&b'"') => {
                        escaped = true;
                        i += 2;
                    }
                    Some(b'"') => break,
                    _ => i += 1,
                }
            }
            let body = &r[..i];
            out.push(if escaped {
                std::borrow::Cow::Owned(body.replace("\"\"", "\""))
            } else {
                std::borrow::Cow::Borrowed(body)
            });
            rest = r[i + 1..].trim_start_matches([' ', '\t']);
        } else {
            let end = rest.find([' ', '\t']).unwrap_or(rest.len());
            out.push(std::borrow::Cow::Borrowed(&rest[..end]));
            rest = rest[end..].trim_start_matches([' ', '\t']);
        }
    }
    Ok(out)
}

impl LineParser for W3c {
    fn parse(&mut self, line: &str, _no: u64) -> Step {
        if line.trim().is_empty() {
            return Step::Skip;
        }
        if let Some(h) = line.strip_prefix('#') {
            if let Some(f) = h.strip_prefix("Fields:") {
                self.fields = f.split_whitespace().map(str::to_owned).collect();
            } else if let Some(d) = h.strip_prefix("Date:") {
                self.date = d.split_whitespace().next().map(str::to_owned);
            }
            return Step::Skip;
        }
        if self.fields.is_empty() {
            return Step::Reject("W3C record before any #Fields: directive".to_owned());
        }
        self.record(line).into()
    }
}

impl W3c {
    fn record(&self, line: &str) -> Result<Event, String> {
        let toks = tokens(line)?;
        if toks.len() != self.fields.len() {
            return Err(format!(
                "record has {} fields, #Fields: declares {}",
                toks.len(),
                self.fields.len()
            ));
        }
        let mut ev = Event::default();
        let mut date = self.date.as_deref();
        let mut time = None;
        let mut keep = Map::new();
        let (mut stem, mut query, mut host, mut scheme, mut full) = (None, None, None, None, None);
        let mut port = None;
        for (name, v) in self.fields.iter().zip(toks.iter()) {
            let v: &str = v;
            if let Some(p) = present(v) {
                keep.insert(name.clone(), Value::from(p));
            }
            let Some(v) = present(v) else { continue };
            match name.as_str() {
                "date" => date = Some(v),
                "time" => time = Some(v),
                "c-ip" => ev.source.ip = util::ip(v),
                "s-ip" | "r-ip" => ev.destination.ip = util::ip(v),
                "cs-username" => ev.user.name = Some(Str::from(v)),
                "cs-method" => ev.http.request.method = Some(Str::from(v)),
                "cs-uri-stem" | "cs-uri-path" => stem = Some(v),
                "cs-uri-query" => {
                    query = Some(v.strip_prefix('?').unwrap_or(v)).filter(|q| !q.is_empty())
                }
                "cs-uri" | "c-uri" => full = Some(v),
                "cs-host" | "r-host" | "cs(Host)" => host = Some(v),
                "cs-uri-scheme" => scheme = Some(v),
                "cs-uri-port" | "s-port" | "r-port" => port = v.parse::<u16>().ok().or(port),
                "sc-status" => ev.http.response.status_code = v.parse().ok(),
                "sc-bytes" => ev.http.response.bytes = v.parse().ok(),
                "cs-bytes" => ev.http.request.bytes = v.parse().ok(),
                "cs(User-Agent)" | "c-useragent" => {
                    // IIS writes blanks as '+'.
                    ev.user_agent.original = Some(if line.contains('"') {
                        v.to_owned()
                    } else {
                        v.replace('+', " ")
                    });
                }
                "cs(Referer)" | "cs-referer" => ev.http.request.referrer = Some(v.to_owned()),
                "s-action" | "sc-filter-result" if ev.event.action.is_none() => {
                    ev.event.action = Some(Str::from(v));
                }
                "rs(Content-Type)" | "sc(Content-Type)" => {
                    ev.http.response.mime_type = Some(Str::from(v))
                }
                "cs-version" | "cs-protocol-version" => {
                    ev.http.version = Some(Str::from(v.strip_prefix("HTTP/").unwrap_or(v)));
                }
                "time-taken" => {
                    // IIS: milliseconds; Blue Coat: milliseconds.
                    ev.event.duration =
                        v.parse::<i64>().ok().map(|ms| ms.saturating_mul(1_000_000));
                }
                "s-computername" | "s-sitename" | "s-hierarchy"
                    if ev.observer.hostname.is_none() =>
                {
                    ev.observer.hostname = Some(Str::from(v));
                }
                _ => {}
            }
        }
        let date = date.ok_or("record without a date (no date field, no #Date:)")?;
        let time = time.ok_or("record without a time field")?;
        ev.timestamp = util::iso8601(&format!("{date}T{time}Z"))?;
        if let Some(s) = scheme {
            ev.url.scheme = Some(Str::from(s.to_ascii_lowercase()));
        }
        match (full, stem) {
            (Some(f), _) => util::fill_url(&mut ev.url, &mut ev.destination, f, host),
            (None, Some(p)) => {
                let raw = match query {
                    Some(q) => format!("{p}?{q}"),
                    None => p.to_owned(),
                };
                if let Some(h) = host {
                    util::fill_url(&mut ev.url, &mut ev.destination, &raw, Some(h));
                } else {
                    util::fill_url(&mut ev.url, &mut ev.destination, &raw, None);
                }
            }
            (None, None) => {
                if let Some(h) = host {
                    util::fill_url(&mut ev.url, &mut ev.destination, h, None);
                }
            }
        }
        if let Some(p) = port {
            ev.destination.port.get_or_insert(p);
        }
        let denied = ev
            .event
            .action
            .as_deref()
            .is_some_and(|a| a.contains("DENIED") || a.contains("BLOCK"));
        base(
            &mut ev,
            "w3c.access",
            "event",
            &["network", "web"],
            &[if denied { "denied" } else { "access" }],
        );
        if let Some(s) = ev.http.response.status_code {
            ev.event.outcome = Some(Str::from(if s < 400 && !denied {
                "success"
            } else {
                "failure"
            }));
        }
        ev.network.protocol = Some(Str::from("http"));
        ev.other.insert("w3c", Value::Object(keep).into());
        Ok(ev)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bluecoat_and_iis() {
        let mut p = W3c::default();
        let lines = [
            "#Software: SGOS 6.7.5.3",
            "#Fields: date time time-taken c-ip cs-username s-action sc-status cs-method cs-uri-scheme cs-host cs-uri-port cs-uri-path cs-uri-query cs(User-Agent) s-ip",
            "2026-01-05 01:02:03 12 10.10.3.4 tanaka TCP_NC_MISS 200 GET http cdn-upd.net 80 /beacon.php ?id=7 \"Mozilla/5.0 (Windows NT 10.0)\" 10.10.0.5",
            "2026-01-05 01:02:03 12 10.10.3.4",
        ];
        let mut out = vec![];
        for (i, l) in lines.iter().enumerate() {
            match p.parse(l, i as u64 + 1) {
                Step::Event(e) => out.push(format!(
                    "{} {:?} {:?} {:?} {:?}",
                    e.timestamp.to_rfc3339(),
                    e.url.full,
                    e.user_agent.original,
                    e.user.name.as_deref(),
                    e.destination.port
                )),
                Step::Reject(r) => out.push(format!("REJECT {r}")),
                Step::Skip | Step::Filled => {}
            }
        }
        assert_eq!(
            out,
            [
                "2026-01-05T01:02:03Z Some(\"http://cdn-upd.net/beacon.php?id=7\") Some(\"Mozilla/5.0 (Windows NT 10.0)\") Some(\"tanaka\") Some(80)",
                "REJECT record has 4 fields, #Fields: declares 15",
            ]
        );
        let mut p = W3c::default();
        assert!(matches!(
            p.parse("2026-01-05 01:02:03 x", 1),
            Step::Reject(_)
        ));
    }
}
