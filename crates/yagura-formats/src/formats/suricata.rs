//! Suricata EVE JSON: alert, dns (v2 and the v3 `queries[]` form), http, tls, flow, fileinfo,
//! smtp, anomaly; other event types keep their common fields. Everything not mapped to ECS is
//! kept verbatim under `suricata.eve`.

use yagura_model::event::DnsAnswer;
use yagura_model::event::{Other, OtherValue};
use yagura_model::{Event, Str};

use super::json::{J, Obj, entries, get};
use super::{LineParser, Step, base, refill};
use crate::util;

/// The EVE reader. It keeps the previous record's `suricata` object (see
/// [`LineParser::recycle`]) and refills its `eve` tree in place ([`refill`]): with
/// `FileReader::next_into`, the verbatim copy of a record costs no allocation when its shape
/// repeats (the usual case: a writer emits one shape per event type).
#[derive(Debug, Default)]
pub(crate) struct Eve {
    /// The `suricata` object of the previous event, `eve` (its only entry) still filled.
    spare: Option<Other>,
}

impl LineParser for Eve {
    fn recycle(&mut self, ev: &mut Event) {
        if let Some(OtherValue::Object(sur)) = ev.other.remove("suricata") {
            self.spare = Some(sur);
        }
    }

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
}

fn s<'o>(m: &'o Obj<'_>, k: &str) -> Option<&'o str> {
    get(m, k).and_then(J::as_str).filter(|x| !x.is_empty())
}

fn u64_of(m: &Obj<'_>, k: &str) -> Option<u64> {
    get(m, k).and_then(J::u64)
}

fn port(m: &Obj<'_>, k: &str) -> Option<u16> {
    u64_of(m, k).and_then(|p| u16::try_from(p).ok())
}

fn obj<'o, 'a>(m: &'o Obj<'a>, k: &str) -> Option<&'o Obj<'a>> {
    get(m, k).and_then(J::as_obj)
}

fn arr<'o, 'a>(m: &'o Obj<'a>, k: &str) -> Option<&'o [J<'a>]> {
    match get(m, k) {
        Some(J::Arr(a)) => Some(a),
        _ => None,
    }
}

#[cfg(test)]
pub(crate) fn parse(line: &str) -> Result<Event, String> {
    super::by_value(|ev| parse_into(line, ev))
}

/// The top-level values the normalizer reads, found in one pass over the record's keys
/// (each the last of a repeated key, as [`get`] finds it) instead of one search per key.
#[derive(Default)]
struct Top<'o, 'a> {
    timestamp: Option<&'o J<'a>>,
    event_type: Option<&'o J<'a>>,
    src_ip: Option<&'o J<'a>>,
    dest_ip: Option<&'o J<'a>>,
    src_port: Option<&'o J<'a>>,
    dest_port: Option<&'o J<'a>>,
    proto: Option<&'o J<'a>>,
    app_proto: Option<&'o J<'a>>,
    community_id: Option<&'o J<'a>>,
    host: Option<&'o J<'a>>,
    alert: Option<&'o J<'a>>,
    http: Option<&'o J<'a>>,
    tls: Option<&'o J<'a>>,
    dns: Option<&'o J<'a>>,
    fileinfo: Option<&'o J<'a>>,
    flow: Option<&'o J<'a>>,
    smtp: Option<&'o J<'a>>,
    email: Option<&'o J<'a>>,
    anomaly: Option<&'o J<'a>>,
}

impl<'o, 'a> Top<'o, 'a> {
    fn of(m: &'o Obj<'a>) -> Self {
        let mut t = Top::default();
        for (k, v) in m {
            let slot = match k.as_ref() {
                "timestamp" => &mut t.timestamp,
                "event_type" => &mut t.event_type,
                "src_ip" => &mut t.src_ip,
                "dest_ip" => &mut t.dest_ip,
                "src_port" => &mut t.src_port,
                "dest_port" => &mut t.dest_port,
                "proto" => &mut t.proto,
                "app_proto" => &mut t.app_proto,
                "community_id" => &mut t.community_id,
                "host" => &mut t.host,
                "alert" => &mut t.alert,
                "http" => &mut t.http,
                "tls" => &mut t.tls,
                "dns" => &mut t.dns,
                "fileinfo" => &mut t.fileinfo,
                "flow" => &mut t.flow,
                "smtp" => &mut t.smtp,
                "email" => &mut t.email,
                "anomaly" => &mut t.anomaly,
                _ => continue,
            };
            *slot = Some(v);
        }
        t
    }
}

/// [`s`] of a [`Top`] value: a non-empty string.
fn st<'o>(v: Option<&'o J<'_>>) -> Option<&'o str> {
    v.and_then(J::as_str).filter(|x| !x.is_empty())
}

/// [`port`] of a [`Top`] value.
fn tport(v: Option<&J<'_>>) -> Option<u16> {
    v.and_then(J::u64).and_then(|p| u16::try_from(p).ok())
}

/// [`obj`] of a [`Top`] value.
fn tobj<'o, 'a>(v: Option<&'o J<'a>>) -> Option<&'o Obj<'a>> {
    v.and_then(J::as_obj)
}

/// One EVE record into `ev` (which holds `Event::default()`).
pub(crate) fn parse_into(line: &str, ev: &mut Event) -> Result<(), String> {
    parse_reusing(line, ev, &mut None)
}

/// [`parse_into`], refilling the `suricata` object in `spare` (left there when the record
/// keeps nothing verbatim) instead of building a new one.
fn parse_reusing(line: &str, ev: &mut Event, spare: &mut Option<Other>) -> Result<(), String> {
    let m = super::json::borrowed_object(line)?;
    let m = &m;
    let top = Top::of(m);
    // Keys mapped to ECS and dropped from the verbatim copy, in the order they are removed.
    let mut removed: [&str; 9] = [""; 9];
    let mut n_removed = 0;
    let mut remove = |k: &'static str| {
        if let Some(slot) = removed.get_mut(n_removed) {
            *slot = k;
            n_removed += 1;
        }
    };
    let ts = st(top.timestamp).ok_or("EVE record without timestamp")?;
    let et_j = top.event_type.ok_or("EVE record without event_type")?;
    let et = st(Some(et_j)).ok_or("EVE record without event_type")?;
    ev.timestamp = util::iso8601(ts)?;
    remove("timestamp");
    remove("event_type");
    if let Some(ip) = st(top.src_ip) {
        ev.source.ip =
            Some(util::ip(ip).ok_or_else(|| format!("src_ip {ip:?} is not an IP address"))?);
        remove("src_ip");
    }
    if let Some(ip) = st(top.dest_ip) {
        ev.destination.ip =
            Some(util::ip(ip).ok_or_else(|| format!("dest_ip {ip:?} is not an IP address"))?);
        remove("dest_ip");
    }
    ev.source.port = tport(top.src_port);
    ev.destination.port = tport(top.dest_port);
    remove("src_port");
    remove("dest_port");
    if let Some(p) = st(top.proto) {
        ev.network.transport = Some(util::domain(p));
        remove("proto");
    }
    if let Some(p) = st(top.app_proto).filter(|p| *p != "failed") {
        ev.network.protocol = Some(Str::from(p));
    }
    if let Some(c) = st(top.community_id) {
        ev.network.community_id = Some(Str::from(c));
        remove("community_id");
    }
    if let Some(h) = st(top.host) {
        ev.observer.hostname = Some(Str::from(h));
        remove("host");
    }
    ev.observer.product = Some(Str::const_new("suricata"));
    ev.observer.kind = Some(Str::const_new("ids"));
    ev.event.code = Some(Str::from(et));
    let (kind, cat, ty): (&str, &[&str], &[&str]) = match et {
        "alert" => ("alert", &["network", "intrusion_detection"], &["info"]),
        "anomaly" => ("event", &["network"], &["info"]),
        "fileinfo" => ("event", &["network", "file"], &["info"]),
        "flow" | "netflow" => ("event", &["network"], &["connection"]),
        "smtp" => ("event", &["network", "email"], &["protocol"]),
        "http" => ("event", &["network", "web"], &["protocol"]),
        _ => ("event", &["network"], &["protocol"]),
    };
    base(ev, "suricata.eve", kind, cat, ty);

    // Sub-objects present whatever the event type (an alert carries http/tls/dns context).
    if let Some(a) = tobj(top.alert) {
        ev.rule.id = get(a, "signature_id")
            .and_then(J::text)
            .map(|x| Str::from(x.as_ref()));
        ev.rule.name = s(a, "signature").map(str::to_owned);
        ev.rule.category = s(a, "category").map(Str::from);
        ev.event.severity = get(a, "severity").and_then(J::as_i64);
        ev.event.action = s(a, "action").map(Str::from);
    }
    if let Some(h) = tobj(top.http) {
        http(ev, h);
    }
    if let Some(t) = tobj(top.tls) {
        tls(ev, t);
    }
    if let Some(d) = tobj(top.dns) {
        dns(ev, d);
    }
    if let Some(f) = tobj(top.fileinfo) {
        ev.file.name = s(f, "filename").map(|n| Str::from(n.rsplit('/').next().unwrap_or(n)));
        ev.file.path = s(f, "filename").map(str::to_owned);
        ev.file.size = u64_of(f, "size");
        ev.file.hash.md5 = s(f, "md5").map(Str::from);
        ev.file.hash.sha1 = s(f, "sha1").map(Str::from);
        ev.file.hash.sha256 = s(f, "sha256").map(Str::from);
        ev.file.mime_type = s(f, "mimetype").map(Str::from);
        if let Some(n) = ev.file.name.as_deref()
            && let Some((_, ext)) = n.rsplit_once('.')
        {
            ev.file.extension = Some(util::lower(ext));
        }
    }
    if let Some(f) = tobj(top.flow) {
        ev.source.packets = u64_of(f, "pkts_toserver");
        ev.destination.packets = u64_of(f, "pkts_toclient");
        ev.source.bytes = u64_of(f, "bytes_toserver");
        ev.destination.bytes = u64_of(f, "bytes_toclient");
        if let (Some(a), Some(b)) = (ev.source.bytes, ev.destination.bytes) {
            ev.network.bytes = Some(a.saturating_add(b));
        }
        if let (Some(a), Some(b)) = (ev.source.packets, ev.destination.packets) {
            ev.network.packets = Some(a.saturating_add(b));
        }
        if et == "flow"
            && let (Some(a), Some(b)) = (s(f, "start"), s(f, "end"))
            && let (Ok(a), Ok(b)) = (util::iso8601(a), util::iso8601(b))
        {
            ev.event.duration = Some((b.nanos() - a.nanos()).max(0));
        }
    }
    if let Some(sm) = tobj(top.smtp) {
        if let Some(f) = s(sm, "mail_from") {
            ev.email.sender.address.push(addr(f));
        }
        if let Some(to) = arr(sm, "rcpt_to") {
            ev.email
                .to
                .address
                .extend(to.iter().filter_map(J::as_str).map(addr));
        }
    }
    if let Some(em) = tobj(top.email) {
        if let Some(f) = s(em, "from") {
            ev.email.from.address.push(addr(f));
        }
        if let Some(to) = arr(em, "to") {
            ev.email
                .to
                .address
                .extend(to.iter().filter_map(J::as_str).map(addr));
        }
        if let Some(cc) = arr(em, "cc") {
            ev.email
                .cc
                .address
                .extend(cc.iter().filter_map(J::as_str).map(addr));
        }
        ev.email.subject = s(em, "subject").map(str::to_owned);
        if let Some(att) = arr(em, "attachment") {
            for a in att.iter().filter_map(J::as_str) {
                let mut at = yagura_model::event::Attachment::default();
                at.file.name = Some(Str::from(a));
                ev.email.attachments.push(at);
            }
        }
    }
    if let Some(a) = tobj(top.anomaly) {
        ev.event.action = s(a, "event").or_else(|| s(a, "type")).map(Str::from);
    }
    // The rest, verbatim, in the order `serde_json::Map` would leave it after the removals
    // above (its `remove` is a swap-remove: the last entry takes the removed one's place).
    // (On the stack: records hold 10–30 keys.)
    let mut rest: smallvec::SmallVec<[(&str, &J<'_>); 32]> =
        if refill::keys_distinct(m.iter().map(|(k, _)| k.as_ref())) {
            m.iter().map(|(k, v)| (k.as_ref(), v)).collect()
        } else {
            entries(m).into_iter().collect()
        };
    for k in removed.iter().take(n_removed) {
        if let Some(i) = rest.iter().position(|(rk, _)| rk == k) {
            rest.swap_remove(i);
        }
    }
    if !rest.is_empty() {
        // The keys are unique and `event_type` was removed from them; `top.event_type` is
        // the string `et`.
        let mut sur = spare.take().unwrap_or_default();
        if !matches!(sur.entry_at_mut(0), Some((k, OtherValue::Object(_))) if k.as_str() == "eve") {
            sur.clear();
            sur.push_new(
                Str::const_new("eve"),
                OtherValue::Object(Other::with_capacity(rest.len() + 1)),
            );
        }
        sur.truncate(1);
        if let Some((_, OtherValue::Object(eve))) = sur.entry_at_mut(0) {
            refill::distinct_pairs(
                eve,
                std::iter::once(("event_type", et_j)).chain(rest.iter().copied()),
            );
        }
        ev.other
            .insert(Str::const_new("suricata"), OtherValue::Object(sur));
    }
    Ok(())
}

fn addr(a: &str) -> Str {
    let a = a.trim();
    match (a.rfind('<'), a.rfind('>')) {
        (Some(i), Some(j)) if i < j => Str::from(&a[i + 1..j]),
        _ => Str::from(a),
    }
}

fn http(ev: &mut Event, h: &Obj<'_>) {
    ev.http.request.method = s(h, "http_method").map(Str::from);
    ev.http.response.status_code = u64_of(h, "status").and_then(|x| u16::try_from(x).ok());
    ev.http.response.bytes = u64_of(h, "length");
    ev.http.response.mime_type = s(h, "http_content_type").map(Str::from);
    ev.http.request.referrer = s(h, "http_refer").map(str::to_owned);
    ev.user_agent.original = s(h, "http_user_agent").map(str::to_owned);
    ev.http.version = s(h, "protocol").map(|p| Str::from(p.strip_prefix("HTTP/").unwrap_or(p)));
    let host = s(h, "hostname");
    if let Some(hn) = host
        && util::ip(hn).is_none()
    {
        ev.destination.domain = Some(util::domain(hn));
    }
    if let Some(u) = s(h, "url") {
        util::fill_url(&mut ev.url, &mut ev.destination, u, host);
        ev.url.original = Some(u.to_owned());
    }
    if let Some(p) = port(h, "http_port") {
        ev.url.port = Some(p);
    }
}

fn tls(ev: &mut Event, t: &Obj<'_>) {
    if let Some(sni) = s(t, "sni") {
        let d = util::domain(sni);
        ev.destination.domain = Some(d.clone());
        ev.tls.client.server_name = Some(d);
    }
    ev.tls.version = s(t, "version").map(Str::from);
    ev.tls.server.subject = s(t, "subject").map(str::to_owned);
    ev.tls.server.issuer = s(t, "issuerdn").map(str::to_owned);
    ev.tls.server.not_after = s(t, "notafter").and_then(|x| util::iso8601(x).ok());
    if let Some(j) = obj(t, "ja3") {
        ev.tls.client.ja3 = s(j, "hash").map(Str::from);
    }
    if let Some(j) = obj(t, "ja3s") {
        ev.tls.server.ja3s = s(j, "hash").map(Str::from);
    }
    if let Some(j) = s(t, "ja4") {
        ev.tls.client.ja4 = Some(Str::from(j));
    }
    if let Some(fp) = s(t, "fingerprint") {
        ev.tls.server.hash.sha1 = Some(Str::from(fp.replace(':', "").to_ascii_lowercase()));
    }
}

fn dns(ev: &mut Event, d: &Obj<'_>) {
    ev.network.protocol.get_or_insert_with(|| Str::from("dns"));
    ev.dns.kind = s(d, "type").map(Str::from);
    ev.dns.id = get(d, "id")
        .and_then(J::text)
        .map(|x| Str::from(x.as_ref()));
    ev.dns.response_code = s(d, "rcode").map(util::upper);
    // v2: rrname/rrtype at the top; v3: queries[] (and answers[] with their own rrname).
    let q = arr(d, "queries")
        .and_then(|qs| qs.first())
        .and_then(J::as_obj);
    let qm = q.unwrap_or(d);
    if let Some(n) = s(qm, "rrname") {
        ev.dns.question.name = Some(util::domain(n));
    }
    ev.dns.question.kind = s(qm, "rrtype").map(Str::from);
    // v2 "answer" records carry one answer at the top level.
    if s(d, "type") == Some("answer") && s(d, "rdata").is_some() {
        push_answer(ev, d);
    }
    if let Some(answers) = arr(d, "answers") {
        for a in answers.iter().filter_map(J::as_obj) {
            push_answer(ev, a);
        }
    }
    if let Some(g) = obj(d, "grouped") {
        for (ty, vals) in entries(g) {
            if let J::Arr(vals) = vals {
                for v in vals.iter().filter_map(J::as_str) {
                    if ev.dns.answers.iter().any(|a| a.data.as_deref() == Some(v)) {
                        continue;
                    }
                    if let Some(ip) = util::ip(v) {
                        ev.dns.resolved_ip.push(ip);
                    }
                    ev.dns.answers.push(DnsAnswer {
                        kind: Some(Str::from(ty)),
                        data: Some(Str::from(v)),
                        ..DnsAnswer::default()
                    });
                }
            }
        }
    }
    for (k, f) in [("aa", "AA"), ("tc", "TC"), ("rd", "RD"), ("ra", "RA")] {
        if get(d, k).and_then(J::as_bool) == Some(true) {
            ev.dns.header_flags.push(Str::from(f));
        }
    }
}

fn push_answer(ev: &mut Event, a: &Obj<'_>) {
    let data = s(a, "rdata");
    if let Some(ip) = data.and_then(util::ip) {
        ev.dns.resolved_ip.push(ip);
    }
    ev.dns.answers.push(DnsAnswer {
        name: s(a, "rrname").map(util::domain),
        kind: s(a, "rrtype").map(Str::from),
        data: data.map(Str::from),
        ttl: u64_of(a, "ttl").and_then(|t| u32::try_from(t).ok()),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expect: &str) {
        let got = match parse(input) {
            Ok(ev) => serde_json::to_string(&ev).unwrap_or_default(),
            Err(e) => format!("ERR {e}"),
        };
        assert_eq!(got, expect);
    }

    #[test]
    fn dns_v3_queries() {
        check(
            r#"{"timestamp":"2023-01-01T00:00:00.5+0000","event_type":"dns","src_ip":"10.0.0.1","src_port":5353,"dest_ip":"10.0.0.2","dest_port":53,"proto":"UDP","dns":{"version":3,"type":"response","id":7,"rcode":"nxdomain","queries":[{"rrname":"Bad.Example","rrtype":"A"}],"answers":[{"rrname":"bad.example","rrtype":"A","ttl":5,"rdata":"192.0.2.1"}]}}"#,
            r#"{"@timestamp":"2023-01-01T00:00:00.500Z","event":{"dataset":"suricata.eve","kind":"event","category":["network"],"type":["protocol"],"code":"dns"},"source":{"ip":"10.0.0.1","port":5353},"destination":{"ip":"10.0.0.2","port":53},"network":{"transport":"udp","protocol":"dns"},"dns":{"id":"7","type":"response","question":{"name":"bad.example","type":"A"},"response_code":"NXDOMAIN","answers":[{"name":"bad.example","type":"A","data":"192.0.2.1","ttl":5}],"resolved_ip":["192.0.2.1"]},"observer":{"product":"suricata","type":"ids"},"suricata":{"eve":{"event_type":"dns","dns":{"version":3,"type":"response","id":7,"rcode":"nxdomain","queries":[{"rrname":"Bad.Example","rrtype":"A"}],"answers":[{"rrname":"bad.example","rrtype":"A","ttl":5,"rdata":"192.0.2.1"}]}}}}"#,
        );
        check(
            r#"{"timestamp":"2023-13-01T00:00:00Z","event_type":"dns"}"#,
            "ERR impossible date 2023-13-01",
        );
        check(
            r#"{"event_type":"dns"}"#,
            "ERR EVE record without timestamp",
        );
        check(r#"[1,2]"#, "ERR JSON array where an object was expected");
    }
}
