//! Postfix syslog lines joined by queue id into one message event (dataset
//! `postfix.message`, the same shape as the mail-gateway records; see `MAIL_FORMAT.md`).
//!
//! A message is emitted when its queue id is `removed`, at the line of its first mention;
//! messages still open at the end of the file are emitted then, tagged `postfix_incomplete`.
//! `NOQUEUE: reject` lines are one rejected message each. Postfix lines without a queue id
//! (connect, disconnect, warnings) and other programs' lines become plain syslog events, so
//! nothing is dropped.

use std::collections::HashMap;

use serde_json::{Map, Value};
use yagura_model::{Event, Str, Timestamp};

use super::mailgw::address;
use super::syslog::{self, Header};
use super::{LineParser, Step, base};
use crate::util;

/// Bound on messages held open at once (a log with lost `removed` lines cannot exhaust memory).
const MAX_OPEN: usize = 200_000;

#[derive(Debug, Default)]
struct Msg {
    line: u64,
    time: Timestamp,
    host: Option<Str>,
    client_ip: Option<std::net::IpAddr>,
    client_name: Option<Str>,
    message_id: Option<Str>,
    from: Option<Str>,
    size: Option<u64>,
    rcpts: Vec<(Str, Str)>,
    subject: Option<String>,
    header_from: Option<Str>,
    helo: Option<Str>,
    rejected: Option<String>,
}

pub(crate) struct Postfix {
    reference: Option<Timestamp>,
    open: HashMap<String, Msg>,
}

impl Postfix {
    pub(crate) fn new(reference: Option<Timestamp>) -> Self {
        Postfix {
            reference,
            open: HashMap::new(),
        }
    }
}

pub(crate) fn is_postfix_line(line: &str) -> bool {
    syslog::header(line, Some(Timestamp::from_secs(1_700_000_000)))
        .is_ok_and(|h| h.app.is_some_and(is_postfix_app))
}

fn is_postfix_app(app: &str) -> bool {
    app.starts_with("postfix")
}

fn queue_id(msg: &str) -> Option<(&str, &str)> {
    let (id, rest) = msg.split_once(": ")?;
    let ok = id.len() >= 5 && id.len() <= 20 && id.bytes().all(|b| b.is_ascii_alphanumeric());
    if ok && id != "warning" && id != "error" && id != "fatal" && id != "panic" {
        Some((id, rest))
    } else {
        None
    }
}

/// `key=<value>` or `key=value` up to `,`/`;`/space.
fn kv<'a>(s: &'a str, key: &str) -> Option<&'a str> {
    let mut from = 0;
    while let Some(i) = s[from..].find(key) {
        let at = from + i;
        let ok_start = at == 0 || matches!(s.as_bytes().get(at - 1), Some(b' ' | b',' | b';'));
        let after = &s[at + key.len()..];
        if ok_start && let Some(v) = after.strip_prefix('=') {
            if let Some(v) = v.strip_prefix('<') {
                return v.split_once('>').map(|(a, _)| a);
            }
            let end = v.find([',', ';', ' ']).unwrap_or(v.len());
            return Some(&v[..end]);
        }
        from = at + key.len();
    }
    None
}

/// `name[1.2.3.4]` → (name, ip).
fn client(s: &str) -> (Option<&str>, Option<std::net::IpAddr>) {
    match s.split_once('[') {
        Some((n, rest)) => {
            let ip = rest.split(']').next().and_then(util::ip);
            (Some(n).filter(|n| *n != "unknown"), ip)
        }
        None => (None, util::ip(s)),
    }
}

fn to_event(id: &str, m: Msg, complete: bool) -> Event {
    let mut ev = Event {
        timestamp: m.time,
        ..Event::default()
    };
    base(&mut ev, "postfix.message", "event", &["email"], &["info"]);
    ev.network.protocol = Some(Str::from("smtp"));
    ev.observer.kind = Some(Str::from("mail-gateway"));
    ev.observer.product = Some(Str::from("postfix"));
    ev.observer.hostname = m.host;
    ev.source.ip = m.client_ip;
    ev.source.domain = m.client_name.map(|n| util::domain(&n));
    ev.email.message_id = m.message_id;
    if let Some(f) = m.from.filter(|f| !f.is_empty()) {
        ev.email.sender.address.push(f);
    }
    if let Some(f) = m.header_from {
        ev.email.from.address.push(f);
    }
    ev.email.subject = m.subject;
    let mut statuses = Map::new();
    for (r, st) in &m.rcpts {
        if !ev.email.to.address.contains(r) {
            ev.email.to.address.push(r.clone());
        }
        statuses.insert(r.to_string(), Value::from(st.as_str()));
    }
    let sent = m.rcpts.iter().any(|(_, s)| s == "sent");
    let bounced = m
        .rcpts
        .iter()
        .any(|(_, s)| s == "bounced" || s == "expired");
    let verdict = if m.rejected.is_some() || (bounced && !sent) {
        "rejected"
    } else if sent {
        "delivered"
    } else {
        "dropped"
    };
    ev.event.action = Some(Str::from(verdict));
    ev.event.outcome = Some(Str::from(if verdict == "delivered" {
        "success"
    } else {
        "failure"
    }));
    let mut pf = Map::new();
    pf.insert("queue_id".to_owned(), Value::from(id));
    if let Some(s) = m.size {
        pf.insert("size".to_owned(), Value::from(s));
    }
    if let Some(h) = m.helo {
        pf.insert("helo".to_owned(), Value::from(h.as_str()));
    }
    if let Some(r) = m.rejected {
        pf.insert("reason".to_owned(), Value::from(r));
    }
    if !statuses.is_empty() {
        pf.insert("recipient_status".to_owned(), Value::Object(statuses));
    }
    ev.other.insert("postfix", Value::Object(pf).into());
    if !complete {
        ev.tags.push(Str::from("postfix_incomplete"));
    }
    ev.log.file.line = Some(m.line);
    ev
}

impl Postfix {
    fn on_line(&mut self, h: &Header<'_>, no: u64) -> Result<Step, String> {
        let Some(app) = h.app.filter(|a| is_postfix_app(a)) else {
            return syslog::to_event(h, "syslog").map(Step::Event);
        };
        let time = h.time.ok_or("syslog line without a timestamp")?;
        let msg = h.msg;
        if let Some(rest) = msg.strip_prefix("NOQUEUE: ") {
            let mut m = Msg {
                line: no,
                time,
                host: h.host.map(Str::from),
                ..Msg::default()
            };
            if let Some(after) = rest.split_once(" from ").map(|(_, a)| a) {
                let (name, ip) = client(after.split(':').next().unwrap_or(""));
                m.client_name = name.map(Str::from);
                m.client_ip = ip;
            }
            m.from = kv(rest, "from").map(|f| address(f).0);
            if let Some(to) = kv(rest, "to") {
                m.rcpts.push((address(to).0, Str::from("rejected")));
            }
            m.helo = kv(rest, "helo").map(Str::from);
            m.rejected = Some(rest.split(';').next().unwrap_or(rest).to_owned());
            return Ok(Step::Event(to_event("NOQUEUE", m, true)));
        }
        let Some((id, rest)) = queue_id(msg) else {
            let mut ev = syslog::to_event(h, "postfix.log")?;
            ev.observer.product = Some(Str::from("postfix"));
            let _ = app;
            return Ok(Step::Event(ev));
        };
        if self.open.len() >= MAX_OPEN && !self.open.contains_key(id) {
            return Err(format!(
                "more than {MAX_OPEN} Postfix messages open at once; queue id {id} not tracked"
            ));
        }
        let m = self.open.entry(id.to_owned()).or_insert_with(|| Msg {
            line: no,
            time,
            host: h.host.map(Str::from),
            ..Msg::default()
        });
        if rest == "removed" {
            if let Some(m) = self.open.remove(id) {
                return Ok(Step::Event(to_event(id, m, true)));
            }
            return Ok(Step::Skip);
        }
        if let Some(c) = rest.strip_prefix("client=") {
            let (name, ip) = client(c.split(',').next().unwrap_or(c));
            m.client_name = name.map(Str::from);
            m.client_ip = ip;
        } else if let Some(mid) = rest.strip_prefix("message-id=") {
            let mid = mid.trim();
            m.message_id = Some(Str::from(mid));
        } else if rest.starts_with("from=") {
            m.from = kv(rest, "from").map(|f| address(f).0);
            m.size = kv(rest, "size").and_then(|s| s.parse().ok());
        } else if rest.starts_with("to=") {
            if let Some(to) = kv(rest, "to") {
                let st = kv(rest, "status").unwrap_or("unknown");
                let a = address(to).0;
                match m.rcpts.iter_mut().find(|(r, _)| *r == a) {
                    Some(slot) => slot.1 = Str::from(st),
                    None => m.rcpts.push((a, Str::from(st))),
                }
            }
        } else if let Some(w) = rest
            .strip_prefix("warning: header ")
            .or_else(|| rest.strip_prefix("info: header "))
        {
            if let Some(s) = w.strip_prefix("Subject: ") {
                let subj = s.split(" from ").next().unwrap_or(s);
                m.subject = Some(subj.to_owned());
            } else if let Some(f) = w.strip_prefix("From: ") {
                let f = f.split(" from ").next().unwrap_or(f);
                m.header_from = Some(address(f).0);
            }
            if m.helo.is_none() {
                m.helo = kv(rest, "helo").map(Str::from);
            }
        } else if rest.starts_with("reject: ") || rest.starts_with("milter-reject: ") {
            m.rejected = Some(rest.split(';').next().unwrap_or(rest).to_owned());
            if m.client_ip.is_none()
                && let Some(after) = rest.split_once(" from ").map(|(_, a)| a)
            {
                let (name, ip) = client(after.split(':').next().unwrap_or(""));
                m.client_name = name.map(Str::from);
                m.client_ip = ip;
            }
        }
        Ok(Step::Skip)
    }
}

impl LineParser for Postfix {
    fn parse(&mut self, line: &str, no: u64) -> Step {
        if line.trim().is_empty() {
            return Step::Skip;
        }
        match syslog::header(line, self.reference).and_then(|h| self.on_line(&h, no)) {
            Ok(s) => s,
            Err(e) => Step::Reject(e),
        }
    }

    fn finish(&mut self) -> Vec<(u64, Step)> {
        let mut open: Vec<(String, Msg)> = self.open.drain().collect();
        open.sort_by_key(|(_, m)| m.line);
        open.into_iter()
            .map(|(id, m)| (m.line, Step::Event(to_event(&id, m, false))))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kv_values() {
        let s = "from=<a@b.c>, size=123, nrcpt=1 (queue active)";
        assert_eq!(kv(s, "from"), Some("a@b.c"));
        assert_eq!(kv(s, "size"), Some("123"));
        assert_eq!(kv(s, "nrcpt"), Some("1"));
        assert_eq!(kv(s, "to"), None);
        assert_eq!(
            client("mail.example.net[203.0.113.5]")
                .1
                .map(|i| i.to_string())
                .as_deref(),
            Some("203.0.113.5")
        );
    }
}
