//! Squid access logs.
//!
//! Native: `%ts.%03tu %6tr %>a %Ss/%03>Hs %<st %rm %ru %[un %Sh/%<a %mt`
//! Common: `%>a %[ui %[un [%tl] "%rm %ru HTTP/%rv" %>Hs %<st %Ss:%Sh`
//! Combined: common plus `"%{Referer}>h" "%{User-Agent}>h"` before `%Ss:%Sh`.

use yagura_model::event::{Other, OtherValue, Tags};
use yagura_model::{Event, Str};

use super::{LineParser, Step};
use crate::util::{self, Words, present};

/// The native format. It keeps the buffers of the previous event's `url.*` strings and
/// `squid` object (see [`LineParser::recycle`]): with `FileReader::next_into`, a line costs
/// no allocation.
#[derive(Debug, Default)]
pub(crate) struct Native {
    url: util::UrlBufs,
    squid: Option<Other>,
}
pub(crate) struct Common;

impl LineParser for Native {
    fn recycle(&mut self, ev: &mut Event) {
        self.url.take_from(&mut ev.url);
        if let Some(OtherValue::Object(mut m)) = ev.other.remove("squid") {
            m.clear();
            self.squid = Some(m);
        }
    }

    fn parse(&mut self, line: &str, _no: u64) -> Step {
        if line.trim().is_empty() {
            return Step::Skip;
        }
        native(line).into()
    }

    fn parse_into(&mut self, line: &str, _no: u64, out: &mut Event) -> Step {
        if line.trim().is_empty() {
            return Step::Skip;
        }
        match native_reusing(line, out, self) {
            Ok(()) => Step::Filled,
            Err(e) => Step::Reject(e),
        }
    }
}

impl LineParser for Common {
    fn parse(&mut self, line: &str, _no: u64) -> Step {
        if line.trim().is_empty() {
            return Step::Skip;
        }
        common(line).into()
    }
}

pub(crate) fn looks_native(line: &str) -> bool {
    let mut w = Words::new(line);
    let ts = w.next().unwrap_or("");
    let ok_ts = ts.split_once('.').is_some_and(|(a, b)| {
        !a.is_empty()
            && a.bytes().all(|c| c.is_ascii_digit())
            && b.bytes().all(|c| c.is_ascii_digit())
    });
    ok_ts
        && w.next()
            .is_some_and(|e| e.bytes().all(|c| c.is_ascii_digit() || c == b'-'))
        && w.next().is_some()
        && w.next().is_some_and(|c| c.contains('/'))
        && native(line).is_ok()
}

pub(crate) fn looks_common(line: &str) -> bool {
    line.contains(" [") && line.contains("] \"") && common(line).is_ok()
}

fn need<'a>(w: &mut Words<'a>, what: &str) -> Result<&'a str, String> {
    w.next().ok_or_else(|| format!("missing {what}"))
}

pub(crate) fn native(line: &str) -> Result<Event, String> {
    super::by_value(|ev| native_into(line, ev))
}

/// Native format into `ev` (which holds `Event::default()`).
pub(crate) fn native_into(line: &str, ev: &mut Event) -> Result<(), String> {
    native_reusing(line, ev, &mut Native::default())
}

/// [`native_into`], with the buffers `spare` took back from the previous event.
fn native_reusing(line: &str, ev: &mut Event, spare: &mut Native) -> Result<(), String> {
    let mut w = Words::new(line);
    let ts = need(&mut w, "timestamp")?;
    let elapsed = need(&mut w, "elapsed time")?;
    let client = need(&mut w, "client address")?;
    let code = need(&mut w, "result code")?;
    let bytes = need(&mut w, "size")?;
    let method = need(&mut w, "method")?;
    let url = need(&mut w, "URL")?;
    let user = need(&mut w, "user")?;
    let hier = need(&mut w, "hierarchy")?;
    let mime = w.next();
    let extra = w.rest();

    ev.timestamp = util::epoch(ts)?;
    let elapsed: i64 = elapsed
        .parse()
        .map_err(|_| format!("elapsed time {elapsed:?} is not a number"))?;
    if elapsed >= 0 {
        ev.event.duration = Some(elapsed.saturating_mul(1_000_000));
    }
    set_client(ev, client);
    let (result, status) = util::split_first(code, b'/')
        .ok_or_else(|| format!("result code {code:?} is not CODE/STATUS"))?;
    let status: u16 = status
        .parse()
        .map_err(|_| format!("HTTP status {status:?} is not a number"))?;
    let bytes: u64 = bytes
        .parse()
        .map_err(|_| format!("size {bytes:?} is not a number"))?;
    finish(ev, result, status, Some(bytes), method, url, &mut spare.url)?;
    set_user(ev, user);
    if let Some((h, peer)) = util::split_first(hier, b'/') {
        match util::ip(peer) {
            Some(ip) => ev.destination.ip = Some(ip),
            None => {
                if let Some(p) = present(peer) {
                    ev.destination.address = Some(Str::from(p));
                }
            }
        }
        if h != "NONE" && !h.is_empty() {
            squid_other(ev, "hierarchy_code", h.into(), &mut spare.squid);
        }
    }
    if let Some(m) = mime.and_then(present) {
        ev.http.response.mime_type = Some(Str::from(m));
    }
    if !extra.is_empty() {
        squid_other(ev, "extra", extra.into(), &mut spare.squid);
    }
    Ok(())
}

/// `squid.<key>` = `v` (what `Event::set_other` does, without splitting a path); a new
/// `squid` object reuses `spare` (empty) when there is one.
fn squid_other(ev: &mut Event, key: &'static str, v: OtherValue, spare: &mut Option<Other>) {
    if let Some(OtherValue::Object(m)) = ev.other.get_mut("squid") {
        m.insert(key, v);
        return;
    }
    let mut m = spare.take().unwrap_or_else(|| Other::with_capacity(2));
    m.push_new(key, v);
    ev.other.insert("squid", OtherValue::Object(m));
}

fn set_client(ev: &mut Event, client: &str) {
    match util::ip(client) {
        Some(ip) => ev.source.ip = Some(ip),
        None => {
            ev.source.address = Some(Str::from(client));
            ev.source.domain = Some(util::domain(client));
        }
    }
}

/// What both layouts share; the caller sets `user.name`.
fn finish(
    ev: &mut Event,
    result: &str,
    status: u16,
    bytes: Option<u64>,
    method: &str,
    url: &str,
    url_bufs: &mut util::UrlBufs,
) -> Result<(), String> {
    // A byte window: `str::contains` sets up a substring searcher for these few bytes.
    let denied = result.as_bytes().windows(6).any(|w| w == b"DENIED");
    // Constant strings built at compile time (`const_new`): no per-line conversion.
    ev.event.dataset = Some(Str::const_new("squid.access"));
    ev.event.kind = Some(Str::const_new("event"));
    ev.event.category = Tags::from_buf([Str::const_new("network"), Str::const_new("web")]);
    ev.event
        .kind_type
        .push(Str::const_new(if denied { "denied" } else { "access" }));
    ev.event.action = Some(Str::from(result));
    ev.event.outcome = Some(Str::const_new(if denied || status >= 400 || status == 0 {
        "failure"
    } else {
        "success"
    }));
    ev.observer.product = Some(Str::const_new("squid"));
    ev.observer.kind = Some(Str::const_new("proxy"));
    ev.network.protocol = Some(Str::const_new("http"));
    if status != 0 {
        ev.http.response.status_code = Some(status);
    }
    ev.http.response.bytes = bytes;
    if present(method).is_some() {
        ev.http.request.method = Some(Str::from(method));
    }
    if let Some(u) = present(url) {
        util::fill_url_reusing(&mut ev.url, &mut ev.destination, u, None, url_bufs);
        if method.eq_ignore_ascii_case("CONNECT") && ev.url.scheme.is_none() {
            ev.network.protocol = Some(Str::const_new("tls"));
        }
    }
    Ok(())
}

fn set_user(ev: &mut Event, user: &str) {
    if let Some(u) = present(user) {
        ev.user.name = Some(Str::from(u));
    }
}

/// One `"`-quoted field; Squid escapes `"` inside as `\"`.
fn quoted(s: &str) -> Result<(&str, &str), String> {
    let s = s.trim_start();
    let body = s.strip_prefix('"').ok_or("expected a quoted field")?;
    let mut i = 0;
    let b = body.as_bytes();
    while i < b.len() {
        match b.get(i) {
            Some(b'\\') => i += 2,
            Some(b'"') => return Ok((&body[..i], &body[i + 1..])),
            _ => i += 1,
        }
    }
    Err("unterminated quoted field".to_owned())
}

/// The quoted request line. Some servers log a raw `"` inside it (attack traffic:
/// `?q="><script>`), so prefer the quote that is followed by ` NNN ` (the status).
fn request_field(s: &str) -> Result<(&str, &str), String> {
    let t = s.trim_start();
    let body = t.strip_prefix('"').ok_or("expected a quoted request")?;
    let b = body.as_bytes();
    for i in memchr::memchr_iter(b'"', b) {
        let after = b.get(i + 1..).unwrap_or_default();
        let status_follows = after.first() == Some(&b' ')
            && after
                .get(1..4)
                .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
            && matches!(after.get(4), None | Some(b' '));
        if status_follows {
            return Ok((&body[..i], &body[i + 1..]));
        }
    }
    quoted(t)
}

pub(crate) fn common(line: &str) -> Result<Event, String> {
    let mut w = Words::new(line);
    let client = need(&mut w, "client address")?;
    let _ident = need(&mut w, "ident")?;
    let user = need(&mut w, "user")?;
    let rest = w.rest();
    let rest = rest.strip_prefix('[').ok_or("missing [time]")?;
    let (time, rest) = rest.split_once(']').ok_or("unterminated [time]")?;
    let mut ev = Event {
        timestamp: util::clf_time(time)?,
        ..Event::default()
    };
    set_client(&mut ev, client);
    let (request, rest) = request_field(rest)?;
    let mut r = request.split(' ');
    let method = r.next().unwrap_or("-");
    let url = r.next().unwrap_or("-");
    if let Some(v) = r.next().and_then(|v| v.strip_prefix("HTTP/")) {
        ev.http.version = Some(Str::from(v));
    }
    let mut w = Words::new(rest);
    let status = need(&mut w, "status")?;
    let status: u16 = status
        .parse()
        .map_err(|_| format!("HTTP status {status:?} is not a number"))?;
    let bytes = need(&mut w, "size")?;
    let bytes = match bytes {
        "-" => None,
        b => Some(
            b.parse::<u64>()
                .map_err(|_| format!("size {b:?} is not a number"))?,
        ),
    };
    let mut rest = w.rest();
    let mut referer = None;
    let mut agent = None;
    if rest.starts_with('"') {
        let (r, tail) = quoted(rest)?;
        let (a, tail) = quoted(tail)?;
        referer = present(r);
        agent = present(a);
        rest = tail.trim_start();
    }
    let squid = rest.split_whitespace().next().unwrap_or("");
    let (result, hier) = squid.split_once(':').unwrap_or((squid, ""));
    let result = present(result).unwrap_or("NONE");
    finish(
        &mut ev,
        result,
        status,
        bytes,
        method,
        url,
        &mut util::UrlBufs::default(),
    )?;
    set_user(&mut ev, user);
    if squid.is_empty() {
        // Plain Apache/NCSA common or combined: same layout, no Squid result code.
        ev.event.dataset = Some(Str::from("apache.access"));
        ev.event.action = None;
        ev.observer.product = None;
        ev.observer.kind = Some(Str::from("web-server"));
    }
    if let Some(r) = referer {
        ev.http.request.referrer = Some(r.to_owned());
    }
    if let Some(a) = agent {
        ev.user_agent.original = Some(a.to_owned());
    }
    if let Some(h) = present(hier).filter(|h| *h != "NONE") {
        squid_other(&mut ev, "hierarchy_code", h.into(), &mut None);
    }
    Ok(ev)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(f: fn(&str) -> Result<Event, String>, input: &str, expect: &str) {
        let got = match f(input) {
            Ok(ev) => serde_json::to_string(&ev).unwrap_or_default(),
            Err(e) => format!("ERR {e}"),
        };
        assert_eq!(got, expect, "{input}");
    }

    #[test]
    fn native_lines() {
        check(
            native,
            "1286536309.450    410 192.168.0.224 TCP_MISS/200 1520 GET http://www.example.com/a.js?x=1 - DIRECT/93.184.216.34 text/html",
            r#"{"@timestamp":"2010-10-08T11:11:49.450Z","event":{"dataset":"squid.access","kind":"event","category":["network","web"],"type":["access"],"outcome":"success","action":"TCP_MISS","duration":410000000},"source":{"ip":"192.168.0.224"},"destination":{"ip":"93.184.216.34","port":80,"domain":"www.example.com"},"network":{"protocol":"http"},"url":{"full":"http://www.example.com/a.js?x=1","scheme":"http","domain":"www.example.com","path":"/a.js","query":"x=1","extension":"js"},"http":{"request":{"method":"GET"},"response":{"status_code":200,"bytes":1520,"mime_type":"text/html"}},"observer":{"product":"squid","type":"proxy"},"squid":{"hierarchy_code":"DIRECT"}}"#,
        );
        check(
            native,
            "1286536309.450 12 10.0.0.5 TCP_DENIED/403 3800 CONNECT evil.example:443 alice HIER_NONE/- text/html",
            r#"{"@timestamp":"2010-10-08T11:11:49.450Z","event":{"dataset":"squid.access","kind":"event","category":["network","web"],"type":["denied"],"outcome":"failure","action":"TCP_DENIED","duration":12000000},"source":{"ip":"10.0.0.5"},"destination":{"port":443,"domain":"evil.example"},"network":{"protocol":"tls"},"url":{"domain":"evil.example","port":443},"http":{"request":{"method":"CONNECT"},"response":{"status_code":403,"bytes":3800,"mime_type":"text/html"}},"user":{"name":"alice"},"observer":{"product":"squid","type":"proxy"},"squid":{"hierarchy_code":"HIER_NONE"}}"#,
        );
        check(
            native,
            "1286536309.450 12 10.0.0.5",
            "ERR missing result code",
        );
        check(
            native,
            "99999999999999.1 12 10.0.0.5 TCP_MISS/200 1 GET http://a/ - DIRECT/- -",
            "ERR epoch time \"99999999999999.1\" is not decimal seconds",
        );
        check(
            native,
            "1286536309.450 12 10.0.0.5 TCP_MISS/2x0 1 GET http://a/ - DIRECT/- -",
            "ERR HTTP status \"2x0\" is not a number",
        );
    }

    #[test]
    fn common_and_combined() {
        check(
            common,
            r#"192.168.0.224 - - [08/Oct/2010:11:11:49 +0200] "GET http://www.example.com/ HTTP/1.1" 200 1520 TCP_MISS:DIRECT"#,
            r#"{"@timestamp":"2010-10-08T09:11:49Z","event":{"dataset":"squid.access","kind":"event","category":["network","web"],"type":["access"],"outcome":"success","action":"TCP_MISS"},"source":{"ip":"192.168.0.224"},"destination":{"port":80,"domain":"www.example.com"},"network":{"protocol":"http"},"url":{"full":"http://www.example.com/","scheme":"http","domain":"www.example.com","path":"/"},"http":{"version":"1.1","request":{"method":"GET"},"response":{"status_code":200,"bytes":1520}},"observer":{"product":"squid","type":"proxy"},"squid":{"hierarchy_code":"DIRECT"}}"#,
        );
        check(
            common,
            r#"10.1.2.3 - bob [08/Oct/2010:11:11:49 +0000] "GET http://x.example/p HTTP/1.0" 404 - "http://ref.example/" "Mozilla/5.0 \"q\"" TCP_MISS:HIER_DIRECT"#,
            r#"{"@timestamp":"2010-10-08T11:11:49Z","event":{"dataset":"squid.access","kind":"event","category":["network","web"],"type":["access"],"outcome":"failure","action":"TCP_MISS"},"source":{"ip":"10.1.2.3"},"destination":{"port":80,"domain":"x.example"},"network":{"protocol":"http"},"url":{"full":"http://x.example/p","scheme":"http","domain":"x.example","path":"/p"},"http":{"version":"1.0","request":{"method":"GET","referrer":"http://ref.example/"},"response":{"status_code":404}},"user_agent":{"original":"Mozilla/5.0 \\\"q\\\""},"user":{"name":"bob"},"observer":{"product":"squid","type":"proxy"},"squid":{"hierarchy_code":"HIER_DIRECT"}}"#,
        );
        check(
            common,
            r#"1.2.3.4 - - [08/Oct/2010:11:11:49 +0000] "GET / HTTP/1.0 200 1"#,
            "ERR unterminated quoted field",
        );
    }
}
