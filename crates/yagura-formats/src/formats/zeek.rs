//! Zeek logs: TSV driven by each file's own header, and JSON (dotted `id.orig_h` keys, or the
//! underscore dialect `id_orig_h` with `@stream` of some shippers).
//!
//! Both dialects feed one normalizer ([`Fields`]), so a `conn` record means the same whatever
//! the writer. Known fields of conn, dns, http, ssl, files, x509, notice, smtp and weird land in
//! ECS; every other field (and every field of other paths) is kept under `zeek.<path>.<field>`.

use std::borrow::Cow;

use compact_str::ToCompactString;
use yagura_model::event::{DnsAnswer, Endpoint, Other, OtherValue};

use super::json::{J, Obj, get};
use yagura_model::{Event, Str, Timestamp};

use super::{LineParser, Step, base};
use crate::util;

/// One field value, borrowed from the line, with its Zeek type when known.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Raw<'a> {
    Tsv {
        s: &'a str,
        ty: &'a str,
        set_sep: u8,
        empty: &'a str,
    },
    /// A value of a JSON record, borrowed from the line.
    Json(&'a J<'a>),
}

fn unescape(s: &str) -> Cow<'_, str> {
    if !s.contains("\\x") {
        return Cow::Borrowed(s);
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b.get(i) == Some(&b'\\') && b.get(i + 1) == Some(&b'x') {
            let hex = b
                .get(i + 2..i + 4)
                .and_then(|h| std::str::from_utf8(h).ok());
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b.get(i).copied().unwrap_or(b'?'));
        i += 1;
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

impl<'a> Raw<'a> {
    fn is_container(ty: &str) -> bool {
        ty.starts_with("set[") || ty.starts_with("vector[")
    }

    fn str(&self) -> Option<Cow<'a, str>> {
        match *self {
            Raw::Tsv { s, empty, .. } => {
                if s == empty {
                    Some(Cow::Borrowed(""))
                } else {
                    Some(unescape(s))
                }
            }
            Raw::Json(v) => v.text(),
        }
    }

    fn u64(&self) -> Option<u64> {
        match *self {
            Raw::Tsv { s, .. } => s.parse().ok(),
            Raw::Json(v) => v.u64(),
        }
    }

    fn f64(&self) -> Option<f64> {
        match *self {
            Raw::Tsv { s, .. } => s.parse().ok(),
            Raw::Json(v) => v.as_f64().or_else(|| v.as_str()?.parse().ok()),
        }
    }

    fn bool(&self) -> Option<bool> {
        match *self {
            Raw::Tsv { s, .. } => match s {
                "T" => Some(true),
                "F" => Some(false),
                _ => None,
            },
            Raw::Json(v) => v.as_bool(),
        }
    }

    fn ip(&self) -> Option<std::net::IpAddr> {
        match *self {
            Raw::Tsv { s, .. } => util::ip(s),
            Raw::Json(v) => util::ip(v.as_str()?),
        }
    }

    fn list(&self) -> Vec<Cow<'a, str>> {
        match *self {
            Raw::Tsv {
                s, set_sep, empty, ..
            } => {
                if s == empty || s.is_empty() {
                    return Vec::new();
                }
                s.split(set_sep as char).map(unescape).collect()
            }
            Raw::Json(J::Arr(items)) => items.iter().filter_map(J::text).collect(),
            Raw::Json(v) => v.text().into_iter().collect(),
        }
    }

    fn time(&self) -> Result<Timestamp, String> {
        match *self {
            Raw::Tsv { s, .. } => util::epoch(s),
            Raw::Json(J::Num(n)) => util::epoch(&n.to_string()),
            Raw::Json(J::Str(s)) => util::iso8601(s).or_else(|_| util::epoch(s)),
            Raw::Json(v) => Err(format!("time is a JSON {}", v.kind())),
        }
    }

    fn to_other(self) -> OtherValue {
        match self {
            Raw::Json(v) => v.to_other(),
            Raw::Tsv { s, ty, .. } => {
                if Self::is_container(ty) {
                    let inner = ty
                        .split_once('[')
                        .map_or("string", |(_, t)| t.trim_end_matches(']'));
                    return OtherValue::Array(
                        self.list()
                            .into_iter()
                            .map(|x| scalar_other(&x, inner))
                            .collect(),
                    );
                }
                match self.str() {
                    Some(x) if x.as_ref() == s => scalar_other(s, ty),
                    Some(x) => OtherValue::Str(Str::from(x.as_ref())),
                    None => OtherValue::Null,
                }
            }
        }
    }
}

fn scalar_other(s: &str, ty: &str) -> OtherValue {
    match ty {
        "count" | "port" => s
            .parse::<u64>()
            .map_or_else(|_| OtherValue::from(s), OtherValue::from),
        "int" => s
            .parse::<i64>()
            .map_or_else(|_| OtherValue::from(s), OtherValue::from),
        "double" | "interval" => s
            .parse::<f64>()
            .map_or_else(|_| OtherValue::from(s), OtherValue::from),
        "bool" => match s {
            "T" => OtherValue::Bool(true),
            "F" => OtherValue::Bool(false),
            _ => OtherValue::from(s),
        },
        "time" => util::epoch(s).map_or_else(
            |_| OtherValue::from(s),
            |t| OtherValue::from(t.to_rfc3339()),
        ),
        _ => OtherValue::Str(Str::from(unescape(s).as_ref())),
    }
}

/// Whether a field has no ECS mapping at all (it is only kept under `zeek.<path>.*`).
pub(crate) type KeepOnly = bool;

/// Accumulates one record's fields into an event (built in place, in the reader's event).
pub(crate) struct Fields<'p, 'e> {
    path: &'p str,
    ev: &'e mut Event,
    /// Fields without an ECS home, in record order, for `zeek.<path>.*`: collected here and
    /// turned into one map of the right size at the end (no regrowth, no rehash).
    extra: Vec<(&'p str, OtherValue)>,
    /// The keys of `extra` cannot collide (distinct column names, none the first part of a
    /// dotted one): `finish` then appends without looking keys up.
    keys_unique: bool,
    has_ts: bool,
    answers_ttl: Vec<u32>,
    http_host: Option<Str>,
    http_uri: Option<String>,
    /// Time for records without `ts` (`loaded_scripts`, `packet_filter` of some versions):
    /// the file's `#open` time.
    fallback_ts: Option<Timestamp>,
}

impl<'p, 'e> Fields<'p, 'e> {
    pub(crate) fn new(path: &'p str, ev: &'e mut Event) -> Self {
        Fields {
            path,
            ev,
            extra: Vec::new(),
            keys_unique: false,
            has_ts: false,
            answers_ttl: Vec::new(),
            http_host: None,
            http_uri: None,
            fallback_ts: None,
        }
    }

    pub(crate) fn keep(&mut self, key: &'p str, v: Raw<'_>) {
        let j = v.to_other();
        if !j.is_null() {
            self.extra.push((key, j));
        }
    }

    /// One field. `key` uses Zeek's dotted names.
    ///
    /// Answers whether the field is one that only goes to `zeek.<path>.*`: that depends on
    /// the path and the key alone, so the TSV reader learns it once per column and then calls
    /// [`Fields::keep`] directly.
    pub(crate) fn set(&mut self, key: &'p str, v: Raw<'_>) -> Result<KeepOnly, String> {
        let ev = &mut *self.ev;
        match key {
            "ts" => {
                ev.timestamp = v.time().map_err(|e| format!("ts: {e}"))?;
                self.has_ts = true;
                return Ok(false);
            }
            "uid" => {
                // A `uid` that is not a scalar (never written by Zeek) is kept verbatim; the
                // answer stays "mapped" so it depends on the key alone.
                match v.str() {
                    Some(s) => ev.event.id = Some(Str::from(s.as_ref())),
                    None => self.keep(key, v),
                }
                return Ok(false);
            }
            "id.orig_h" => return ip_into(&mut ev.source, v, key).map(|()| false),
            "id.resp_h" => return ip_into(&mut ev.destination, v, key).map(|()| false),
            "id.orig_p" => {
                ev.source.port = v.u64().and_then(|p| u16::try_from(p).ok());
                return Ok(false);
            }
            "id.resp_p" => {
                ev.destination.port = v.u64().and_then(|p| u16::try_from(p).ok());
                return Ok(false);
            }
            "proto" => {
                ev.network.transport = v.str().map(|s| Str::from(s.as_ref()));
                return Ok(false);
            }
            "community_id" => {
                ev.network.community_id = v.str().map(|s| Str::from(s.as_ref()));
                return Ok(false);
            }
            _ => {}
        }
        let handled = match (self.path, key) {
            ("conn", "service") => {
                let l = v.list();
                if let Some(first) = l.first() {
                    ev.network.protocol = Some(Str::from(first.as_ref()));
                }
                l.len() <= 1
            }
            ("conn", "duration") | ("dns", "rtt") => {
                ev.event.duration = v
                    .f64()
                    .filter(|d| d.is_finite() && *d >= 0.0)
                    .map(|d| (d * 1e9) as i64);
                true
            }
            ("conn", "orig_bytes") => set_u64(&mut ev.source.bytes, v),
            ("conn", "resp_bytes") => set_u64(&mut ev.destination.bytes, v),
            ("conn", "orig_pkts") => set_u64(&mut ev.source.packets, v),
            ("conn", "resp_pkts") => set_u64(&mut ev.destination.packets, v),
            ("conn", "orig_l2_addr") => set_str(&mut ev.source.mac, v),
            ("conn", "resp_l2_addr") => set_str(&mut ev.destination.mac, v),
            ("dns", "query") => {
                if let Some(s) = v.str() {
                    ev.dns.question.name = Some(util::domain(&s));
                }
                true
            }
            ("dns", "qtype_name") => set_str(&mut ev.dns.question.kind, v),
            ("dns", "qclass_name") => set_str(&mut ev.dns.question.class, v),
            ("dns", "rcode_name") => set_str(&mut ev.dns.response_code, v),
            ("dns", "trans_id") => {
                ev.dns.id = v.u64().map(|n| n.to_compact_string());
                true
            }
            ("dns", "answers") => {
                ev.dns.answers.clear();
                ev.dns.resolved_ip.clear();
                for a in v.list() {
                    if let Some(ip) = util::ip(&a) {
                        ev.dns.resolved_ip.push(ip);
                    }
                    ev.dns.answers.push(DnsAnswer {
                        data: Some(Str::from(a.as_ref())),
                        ..DnsAnswer::default()
                    });
                }
                true
            }
            ("dns", "TTLs") => {
                self.answers_ttl = v
                    .list()
                    .iter()
                    .filter_map(|t| t.parse::<f64>().ok())
                    .map(|t| t.clamp(0.0, f64::from(u32::MAX)) as u32)
                    .collect();
                true
            }
            ("dns", "AA" | "TC" | "RD" | "RA") => {
                ev.dns.header_flags.retain(|f| f != key);
                if v.bool() == Some(true) {
                    ev.dns.header_flags.push(Str::from(key));
                }
                true
            }
            ("dns", "qclass" | "qtype" | "rcode") => false,
            ("http", "method") => set_str(&mut ev.http.request.method, v),
            ("http", "host") => {
                self.http_host = v.str().map(|s| Str::from(s.as_ref()));
                true
            }
            ("http", "uri") => {
                self.http_uri = v.str().map(Cow::into_owned);
                true
            }
            ("http", "referrer") => {
                ev.http.request.referrer = v.str().map(Cow::into_owned);
                true
            }
            ("http", "version") => set_str(&mut ev.http.version, v),
            ("http", "user_agent") => {
                ev.user_agent.original = v.str().map(Cow::into_owned);
                true
            }
            ("http", "request_body_len") => set_u64(&mut ev.http.request.bytes, v),
            ("http", "response_body_len") => set_u64(&mut ev.http.response.bytes, v),
            ("http", "status_code") => {
                ev.http.response.status_code = v.u64().and_then(|s| u16::try_from(s).ok());
                true
            }
            ("http", "username") | ("smtp" | "ftp", "user") => set_str(&mut ev.user.name, v),
            ("http", "resp_mime_types") => {
                if let Some(m) = v.list().first() {
                    ev.http.response.mime_type = Some(Str::from(m.as_ref()));
                }
                false
            }
            ("ssl", "version") => set_str(&mut ev.tls.version, v),
            ("ssl", "cipher") => set_str(&mut ev.tls.cipher, v),
            ("ssl", "server_name") => {
                if let Some(s) = v.str() {
                    let d = util::domain(&s);
                    ev.destination.domain = Some(d.clone());
                    ev.tls.client.server_name = Some(d);
                }
                true
            }
            ("ssl", "established") => {
                ev.tls.established = v.bool();
                true
            }
            ("ssl", "ja3") => set_str(&mut ev.tls.client.ja3, v),
            ("ssl", "ja3s") => set_str(&mut ev.tls.server.ja3s, v),
            ("ssl", "ja4") => set_str(&mut ev.tls.client.ja4, v),
            ("ssl", "subject") | ("x509", "certificate.subject") => {
                ev.tls.server.subject = v.str().map(Cow::into_owned);
                self.path == "ssl"
            }
            ("ssl", "issuer") | ("x509", "certificate.issuer") => {
                ev.tls.server.issuer = v.str().map(Cow::into_owned);
                self.path == "ssl"
            }
            ("x509", "certificate.not_valid_after") => {
                ev.tls.server.not_after = v.time().ok();
                false
            }
            ("files", "md5") => set_str(&mut ev.file.hash.md5, v),
            ("files", "sha1") => set_str(&mut ev.file.hash.sha1, v),
            ("files", "sha256") => set_str(&mut ev.file.hash.sha256, v),
            ("files", "mime_type") => set_str(&mut ev.file.mime_type, v),
            ("files", "filename") => set_str(&mut ev.file.name, v),
            ("files", "total_bytes") => set_u64(&mut ev.file.size, v),
            ("files", "fuid") => {
                if ev.event.id.is_none() {
                    ev.event.id = v.str().map(|s| Str::from(s.as_ref()));
                }
                false
            }
            ("files", "tx_hosts") => {
                ev.source.ip = v.list().first().and_then(|s| util::ip(s));
                false
            }
            ("files", "rx_hosts") => {
                ev.destination.ip = v.list().first().and_then(|s| util::ip(s));
                false
            }
            ("notice", "note") => {
                ev.rule.name = v.str().map(Cow::into_owned);
                true
            }
            ("notice", "msg") => {
                ev.message = v.str().map(Cow::into_owned);
                true
            }
            ("notice", "src") => {
                if ev.source.ip.is_none() {
                    ev.source.ip = v.ip();
                }
                true
            }
            ("notice", "dst") => {
                if ev.destination.ip.is_none() {
                    ev.destination.ip = v.ip();
                }
                true
            }
            ("notice", "p") => {
                if ev.destination.port.is_none() {
                    ev.destination.port = v.u64().and_then(|p| u16::try_from(p).ok());
                }
                true
            }
            ("weird", "name") => set_str(&mut ev.event.action, v),
            ("smtp", "mailfrom") => {
                ev.email.sender.address = v.list().iter().map(|a| addr(a)).collect();
                true
            }
            ("smtp", "rcptto") => {
                ev.email.to.address = v.list().iter().map(|a| addr(a)).collect();
                true
            }
            ("smtp", "from") => {
                ev.email.from.address = v.list().iter().map(|a| addr(a)).collect();
                false
            }
            ("smtp", "cc") => {
                ev.email.cc.address = v.list().iter().map(|a| addr(a)).collect();
                true
            }
            ("smtp", "reply_to") => {
                ev.email.reply_to.address = v.list().iter().map(|a| addr(a)).collect();
                false
            }
            ("smtp", "subject") => {
                ev.email.subject = v.str().map(Cow::into_owned);
                true
            }
            ("smtp", "msg_id") => set_str(&mut ev.email.message_id, v),
            ("smtp", "user_agent") => set_str(&mut ev.email.x_mailer, v),
            _ => {
                self.keep(key, v);
                return Ok(true);
            }
        };
        if !handled {
            self.keep(key, v);
        }
        Ok(false)
    }

    pub(crate) fn finish(self) -> Result<(), String> {
        if !self.has_ts {
            match self.fallback_ts {
                Some(t) => {
                    self.ev.timestamp = t;
                    self.ev.tags.push(Str::from("zeek_ts_from_open"));
                }
                None => return Err("record without ts".to_owned()),
            }
        }
        let p = self.path;
        let ev = self.ev;
        if !self.answers_ttl.is_empty() {
            for (a, t) in ev.dns.answers.iter_mut().zip(&self.answers_ttl) {
                a.ttl = Some(*t);
            }
        }
        if p == "http" {
            let host = self.http_host.as_deref();
            if let Some(h) = host {
                let (name, _) = util::split_host_port(h);
                ev.destination.domain = Some(util::domain(name));
            }
            if let Some(uri) = self.http_uri.as_deref() {
                util::fill_url(&mut ev.url, &mut ev.destination, uri, host);
                ev.url.original = Some(uri.to_owned());
            } else if let Some(h) = host {
                ev.url.domain = Some(util::domain(util::split_host_port(h).0));
            }
        }
        let dataset = match p {
            "conn" => "zeek.conn",
            "dns" => "zeek.dns",
            "http" => "zeek.http",
            "ssl" => "zeek.ssl",
            "files" => "zeek.files",
            "x509" => "zeek.x509",
            "notice" => "zeek.notice",
            "smtp" => "zeek.smtp",
            "weird" => "zeek.weird",
            _ => "",
        };
        let ds = if dataset.is_empty() {
            Cow::Owned(format!("zeek.{p}"))
        } else {
            Cow::Borrowed(dataset)
        };
        let (kind, cat, ty): (&str, &[&str], &[&str]) = match p {
            "conn" => ("event", &["network"], &["connection"]),
            "dns" | "ssl" | "http" | "smtp" => {
                if p == "smtp" {
                    ("event", &["network", "email"], &["protocol"])
                } else if p == "http" {
                    ("event", &["network", "web"], &["protocol"])
                } else {
                    ("event", &["network"], &["protocol"])
                }
            }
            "files" => ("event", &["file"], &["info"]),
            "notice" => ("alert", &["network", "intrusion_detection"], &["info"]),
            "weird" => ("event", &["network"], &["info"]),
            _ => ("event", &["network"], &["info"]),
        };
        base(ev, &ds, kind, cat, ty);
        match p {
            "dns" => {
                ev.network.protocol.get_or_insert_with(|| Str::from("dns"));
                ev.dns.kind = Some(Str::from(if ev.dns.response_code.is_some() {
                    "answer"
                } else {
                    "query"
                }));
            }
            "http" => {
                ev.network.protocol.get_or_insert_with(|| Str::from("http"));
            }
            "ssl" => {
                ev.network.protocol.get_or_insert_with(|| Str::from("tls"));
            }
            "smtp" => {
                ev.network.protocol.get_or_insert_with(|| Str::from("smtp"));
            }
            _ => {}
        }
        if !self.extra.is_empty() {
            let mut m = Other::with_capacity(self.extra.len());
            for (k, v) in self.extra {
                if k.contains('.') {
                    util::put_other(&mut m, k, v);
                } else if self.keys_unique {
                    m.push_new(k, v);
                } else {
                    m.insert(k, v);
                }
            }
            let mut z = Other::with_capacity(1);
            z.push_new(p, OtherValue::Object(m));
            ev.other.insert("zeek", OtherValue::Object(z));
        }
        Ok(())
    }
}

fn addr(a: &str) -> Str {
    let a = a.trim();
    let a = match (a.rfind('<'), a.rfind('>')) {
        (Some(i), Some(j)) if i < j => &a[i + 1..j],
        _ => a,
    };
    Str::from(a)
}

fn set_u64(slot: &mut Option<u64>, v: Raw<'_>) -> bool {
    *slot = v.u64();
    true
}

fn set_str(slot: &mut Option<Str>, v: Raw<'_>) -> bool {
    *slot = v
        .str()
        .filter(|s| !s.is_empty())
        .map(|s| Str::from(s.as_ref()));
    true
}

fn ip_into(e: &mut Endpoint, v: Raw<'_>, key: &str) -> Result<(), String> {
    match v.ip() {
        Some(ip) => {
            e.ip = Some(ip);
            Ok(())
        }
        None => Err(format!(
            "{key}: {:?} is not an IP address",
            v.str().unwrap_or_default()
        )),
    }
}

// ---- TSV ---------------------------------------------------------------------------------

/// Zeek's default columns for files that lost their header (RITA's `conn_top.log`): Zeek 2.x
/// conn and dns layouts. Used only when the file name says the path and the column count fits.
const DEFAULT_LAYOUTS: &[(&str, &str, &str)] = &[
    (
        "conn",
        "ts uid id.orig_h id.orig_p id.resp_h id.resp_p proto service duration orig_bytes resp_bytes conn_state local_orig local_resp missed_bytes history orig_pkts orig_ip_bytes resp_pkts resp_ip_bytes tunnel_parents",
        "time string addr port addr port enum string interval count count string bool bool count string count count count count set[string]",
    ),
    (
        "dns",
        "ts uid id.orig_h id.orig_p id.resp_h id.resp_p proto trans_id rtt query qclass qclass_name qtype qtype_name rcode rcode_name AA TC RD RA Z answers TTLs rejected",
        "time string addr port addr port enum count interval string count string count string count string bool bool bool bool count vector[string] vector[interval] bool",
    ),
];

pub(crate) fn looks_headerless_tsv(line: &str) -> bool {
    let mut it = line.split('\t');
    let ts = it.next().unwrap_or("");
    ts.split_once('.').is_some_and(|(a, b)| {
        a.len() >= 9
            && a.bytes().all(|c| c.is_ascii_digit())
            && b.bytes().all(|c| c.is_ascii_digit())
    }) && it.count() >= 5
}

/// The path a file name implies: `conn.log`, `conn.16:00:00-17:00:00.log.gz`,
/// `NASHUA_conn.log`, `open_conn.log` → `conn`.
fn path_from_name(name: &str) -> String {
    let stem = name.split('.').next().unwrap_or("");
    let stem = stem.split('-').next().unwrap_or(stem).to_ascii_lowercase();
    if KNOWN.contains(&stem.as_str()) {
        return stem;
    }
    let mut pieces: Vec<&str> = stem.split('_').collect();
    pieces.reverse();
    for p in &pieces {
        if KNOWN.contains(p) {
            return (*p).to_owned();
        }
    }
    pieces.first().map_or(String::new(), |p| (*p).to_owned())
}

const KNOWN: &[&str] = &[
    "conn",
    "dns",
    "http",
    "ssl",
    "files",
    "x509",
    "notice",
    "smtp",
    "weird",
    "dhcp",
    "kerberos",
    "dce_rpc",
    "smb_files",
    "smb_mapping",
    "ntlm",
    "rdp",
    "ssh",
    "pe",
    "dpd",
    "software",
    "tunnel",
    "known_hosts",
    "known_services",
    "known_certs",
    "ftp",
    "sip",
    "snmp",
    "capture_loss",
    "stats",
    "packet_filter",
    "loaded_scripts",
];

pub(crate) struct Tsv {
    sep: u8,
    set_sep: u8,
    empty: String,
    unset: String,
    path: String,
    fields: Vec<String>,
    types: Vec<String>,
    /// Per column, learned from the first record: 0 not yet known, 1 mapped to ECS, 2 only
    /// kept under `zeek.<path>.*` (then the record loop skips the key dispatch). Cleared by
    /// every header line.
    col_kind: Vec<u8>,
    /// [`keys_unique`] of `fields`, computed with `col_kind`.
    unique: bool,
    name_path: String,
    closed: bool,
    open: Option<Timestamp>,
}

impl Tsv {
    pub(crate) fn new(file_name: &str) -> Self {
        Tsv {
            sep: b'\t',
            set_sep: b',',
            empty: "(empty)".to_owned(),
            unset: "-".to_owned(),
            path: String::new(),
            fields: Vec::new(),
            types: Vec::new(),
            col_kind: Vec::new(),
            unique: false,
            name_path: path_from_name(file_name),
            closed: false,
            open: None,
        }
    }

    fn header(&mut self, line: &str) -> Result<(), String> {
        if let Some(v) = line.strip_prefix("#separator ") {
            let v = unescape(v.trim());
            let b = v.as_bytes();
            if b.len() != 1 {
                return Err(format!("#separator {v:?} is not one byte"));
            }
            self.sep = b.first().copied().unwrap_or(b'\t');
            // A new header block (concatenated logs) starts afresh.
            self.fields.clear();
            self.types.clear();
            self.closed = false;
            return Ok(());
        }
        let body = &line[1..];
        let sep = self.sep as char;
        let (name, value) = body.split_once(sep).unwrap_or((body, ""));
        match name {
            "set_separator" => {
                let v = unescape(value);
                self.set_sep = v.as_bytes().first().copied().unwrap_or(b',');
            }
            "empty_field" => self.empty = unescape(value).into_owned(),
            "unset_field" => self.unset = unescape(value).into_owned(),
            "path" => self.path = value.to_owned(),
            "fields" => {
                self.fields = value.split(sep).map(str::to_owned).collect();
                self.closed = false;
            }
            "types" => self.types = value.split(sep).map(str::to_owned).collect(),
            "close" => self.closed = true,
            // `2019-02-28-12-07-01`
            "open" => {
                let v = value.trim();
                self.open = (v.len() == 19)
                    .then(|| format!("{}T{}:{}:{}Z", &v[..10], &v[11..13], &v[14..16], &v[17..19]))
                    .and_then(|iso| util::iso8601(&iso).ok());
            }
            _ => {}
        }
        Ok(())
    }

    fn default_layout(&mut self, cols: usize) -> bool {
        let path = if self.path.is_empty() {
            self.name_path.clone()
        } else {
            self.path.clone()
        };
        for (p, f, t) in DEFAULT_LAYOUTS {
            if *p == path && f.split(' ').count() == cols {
                self.path = path;
                self.fields = f.split(' ').map(str::to_owned).collect();
                self.types = t.split(' ').map(str::to_owned).collect();
                return true;
            }
        }
        false
    }
}

/// Whether column names can be appended to one `zeek.<path>` object without lookups: no name
/// twice, and no plain name equal to the first part of a dotted one (`id` and `id.orig_h`).
fn keys_unique(fields: &[String]) -> bool {
    let mut seen = std::collections::HashSet::with_capacity(fields.len());
    if !fields.iter().all(|f| seen.insert(f.as_str())) {
        return false;
    }
    fields
        .iter()
        .filter_map(|f| f.split_once('.'))
        .all(|(head, _)| !seen.contains(head))
}

impl LineParser for Tsv {
    fn parse(&mut self, line: &str, no: u64) -> Step {
        let mut ev = Event::default();
        match self.parse_into(line, no, &mut ev) {
            Step::Filled => Step::Event(ev),
            s => s,
        }
    }

    fn parse_into(&mut self, line: &str, _no: u64, out: &mut Event) -> Step {
        if line.is_empty() {
            return Step::Skip;
        }
        if line.starts_with('#') {
            self.col_kind.clear();
            return match self.header(line) {
                Ok(()) => Step::Skip,
                Err(e) => Step::Reject(e),
            };
        }
        let sep = self.sep;
        let cols = memchr::memchr_iter(sep, line.as_bytes()).count() + 1;
        if self.fields.is_empty() && !self.default_layout(cols) {
            return Step::Reject(format!(
                "Zeek TSV record before any #fields header (and no default {:?} layout with {cols} columns)",
                self.name_path
            ));
        }
        if cols != self.fields.len() {
            return Step::Reject(format!(
                "record has {cols} fields, the #fields header declares {} (truncated record?)",
                self.fields.len()
            ));
        }
        if self.path.is_empty() {
            self.path = self.name_path.clone();
        }
        if self.col_kind.len() != cols {
            self.col_kind.clear();
            self.col_kind.resize(cols, 0);
            self.unique = keys_unique(&self.fields);
        }
        let mut f = Fields::new(&self.path, out);
        f.keys_unique = self.unique;
        // Columns not known to be mapped (kept ones, and all of them on the first record).
        f.extra
            .reserve(self.col_kind.iter().filter(|k| **k != 1).count());
        f.fallback_ts = self.open;
        let mut start = 0;
        let bytes = line.as_bytes();
        let ends = memchr::memchr_iter(sep, bytes).chain(std::iter::once(bytes.len()));
        for (col, end) in ends.enumerate() {
            // `sep` is one ASCII byte (checked in `header`), so both ends are char boundaries.
            let s = line.get(start..end).unwrap_or("");
            start = end + 1;
            if s == self.unset {
                continue;
            }
            let key = self.fields.get(col).map_or("", String::as_str);
            let ty = self.types.get(col).map_or("string", String::as_str);
            let raw = Raw::Tsv {
                s,
                ty,
                set_sep: self.set_sep,
                empty: &self.empty,
            };
            match self.col_kind.get(col) {
                Some(2) => f.keep(key, raw),
                kind => match f.set(key, raw) {
                    Ok(keep_only) => {
                        if kind == Some(&0)
                            && let Some(k) = self.col_kind.get_mut(col)
                        {
                            *k = if keep_only { 2 } else { 1 };
                        }
                    }
                    Err(e) => return Step::Reject(e),
                },
            }
        }
        let _ = self.closed;
        match f.finish() {
            Ok(()) => Step::Filled,
            Err(e) => Step::Reject(e),
        }
    }
}

// ---- JSON --------------------------------------------------------------------------------

pub(crate) struct Json {
    name_path: String,
    /// The keys of the last record, by position, with their path and whether each is only kept
    /// under `zeek.<path>.*` (see [`Fields::set`]). A writer emits its keys in a fixed order,
    /// so most keys are recognized with one comparison instead of the full dispatch.
    shape: Vec<(String, bool)>,
    shape_path: String,
}

impl Json {
    pub(crate) fn new(file_name: &str) -> Self {
        Json {
            name_path: path_from_name(file_name),
            shape: Vec::new(),
            shape_path: String::new(),
        }
    }
}

/// The path of a JSON record without `_path`: from the file name when it names a known path,
/// else from telltale keys.
fn guess_path<'a>(m: &Obj<'_>, from_name: &'a str) -> &'a str {
    if KNOWN.contains(&from_name) {
        return from_name;
    }
    let has = |k: &str| get(m, k).is_some();
    if has("query") && (has("qtype") || has("qtype_name") || has("rcode")) {
        "dns"
    } else if has("conn_state") || has("history") {
        "conn"
    } else if has("method") && has("uri") {
        "http"
    } else if has("server_name") || has("cipher") {
        "ssl"
    } else if has("fuid") {
        "files"
    } else if has("certificate.version") || has("certificate.subject") {
        "x509"
    } else if has("note") {
        "notice"
    } else if has("mailfrom") || has("rcptto") {
        "smtp"
    } else if has("name") && has("notice") {
        "weird"
    } else if from_name.is_empty() {
        "unknown"
    } else {
        from_name
    }
}

/// `id_orig_h` → `id.orig_h` (the underscore dialect); other keys unchanged.
fn dotted(k: &str) -> &str {
    match k {
        "id_orig_h" => "id.orig_h",
        "id_orig_p" => "id.orig_p",
        "id_resp_h" => "id.resp_h",
        "id_resp_p" => "id.resp_p",
        _ => k,
    }
}

impl LineParser for Json {
    fn parse(&mut self, line: &str, no: u64) -> Step {
        let mut ev = Event::default();
        match self.parse_into(line, no, &mut ev) {
            Step::Filled => Step::Event(ev),
            s => s,
        }
    }

    fn parse_into(&mut self, line: &str, _no: u64, out: &mut Event) -> Step {
        let t = line.trim();
        if t.is_empty() {
            return Step::Skip;
        }
        let m = match super::json::borrowed_object(t) {
            Ok(m) => m,
            Err(e) => return Step::Reject(e),
        };
        let path: &str = match get(&m, "_path")
            .or_else(|| get(&m, "@stream"))
            .and_then(J::as_str)
        {
            Some(p) => p,
            None => guess_path(&m, &self.name_path),
        };
        if self.shape_path != path {
            self.shape.clear();
            path.clone_into(&mut self.shape_path);
        }
        let mut f = Fields::new(path, out);
        f.extra.reserve(
            self.shape
                .iter()
                .filter(|(_, keep_only)| *keep_only)
                .count(),
        );
        // Document order; a key written twice is mapped twice, and every mapping assigns (the
        // last occurrence wins, as when the record is read as a JSON map).
        for (i, (k, v)) in m.iter().enumerate() {
            match k.as_ref() {
                "_path" | "@stream" | "_write_ts" => continue,
                "@system" => {
                    if let Some(s) = v.as_str() {
                        f.ev.observer.hostname = Some(Str::from(s));
                    }
                    continue;
                }
                "@proc" => continue,
                _ => {}
            }
            if v.is_null() {
                continue;
            }
            let key = dotted(k);
            match self.shape.get(i) {
                Some((known, true)) if known == key => f.keep(key, Raw::Json(v)),
                Some((known, false)) if known == key => {
                    if let Err(e) = f.set(key, Raw::Json(v)) {
                        return Step::Reject(e);
                    }
                }
                _ => match f.set(key, Raw::Json(v)) {
                    Ok(keep_only) => {
                        if self.shape.len() <= i {
                            self.shape.resize(i + 1, (String::new(), false));
                        }
                        if let Some(slot) = self.shape.get_mut(i) {
                            key.clone_into(&mut slot.0);
                            slot.1 = keep_only;
                        }
                    }
                    Err(e) => return Step::Reject(e),
                },
            }
        }
        match f.finish() {
            Ok(()) => Step::Filled,
            Err(e) => Step::Reject(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_tsv(input: &str, expect: &str) {
        let mut p = Tsv::new("conn.log");
        let mut out = vec![];
        for (i, l) in input.lines().enumerate() {
            match p.parse(l, i as u64 + 1) {
                Step::Event(e) => out.push(serde_json::to_string(&e).unwrap_or_default()),
                Step::Reject(r) => out.push(format!("REJECT {r}")),
                Step::Skip | Step::Filled => {}
            }
        }
        assert_eq!(out.join("\n"), expect);
    }

    #[test]
    fn tsv_header_driven() {
        let h = "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tdns\n#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tquery\tqtype_name\trcode_name\tanswers\tTTLs\tRD\n#types\ttime\tstring\taddr\tport\taddr\tport\tstring\tstring\tstring\tvector[string]\tvector[interval]\tbool\n";
        check_tsv(
            &format!(
                "{h}1517336042.279652\tCVvre\t192.168.88.2\t55638\t165.227.88.15\t53\tEx\\x09ample.COM.\tA\tNOERROR\tcname.example,1.2.3.4\t60.0,30.5\tT\n1517336042.1\tC\t1.1.1.1\n"
            ),
            "{\"@timestamp\":\"2018-01-30T18:14:02.279652Z\",\"event\":{\"id\":\"CVvre\",\"dataset\":\"zeek.dns\",\"kind\":\"event\",\"category\":[\"network\"],\"type\":[\"protocol\"]},\"source\":{\"ip\":\"192.168.88.2\",\"port\":55638},\"destination\":{\"ip\":\"165.227.88.15\",\"port\":53},\"network\":{\"protocol\":\"dns\"},\"dns\":{\"type\":\"answer\",\"question\":{\"name\":\"ex\\tample.com\",\"type\":\"A\"},\"response_code\":\"NOERROR\",\"answers\":[{\"data\":\"cname.example\",\"ttl\":60},{\"data\":\"1.2.3.4\",\"ttl\":30}],\"resolved_ip\":[\"1.2.3.4\"],\"header_flags\":[\"RD\"]}}\nREJECT record has 3 fields, the #fields header declares 12 (truncated record?)",
        );
    }

    #[test]
    fn tsv_colliding_column_names_keep_map_semantics() {
        // Repeated names and a plain name that is also a dotted prefix: the last value wins at
        // the first position, a scalar in the way of a dotted name moves under `_value`.
        let mut p = Tsv::new("foo.log");
        let mut got = vec![];
        for l in [
            "#fields\tts\tx\tx\ta\ta.b",
            "#types\ttime\tstring\tstring\tstring\tstring",
            "1517336042.1\tv1\tv2\tv3\tv4",
            "#fields\tts\tx\ty",
            "1517336042.1\tv1\tv2",
        ] {
            if let Step::Event(e) = p.parse(l, 1) {
                got.push(serde_json::to_string(&e.other).unwrap_or_default());
            }
        }
        assert_eq!(
            got,
            [
                r#"{"zeek":{"foo":{"x":"v2","a":{"_value":"v3","b":"v4"}}}}"#,
                r#"{"zeek":{"foo":{"x":"v1","y":"v2"}}}"#,
            ]
        );
        assert!(keys_unique(&["a".into(), "b.c".into()]));
        assert!(!keys_unique(&["a".into(), "a".into()]));
        assert!(!keys_unique(&["a".into(), "a.c".into()]));
    }

    #[test]
    fn tsv_without_header() {
        check_tsv(
            "1517336042.090842\tCi85\t10.55.182.100\t14291\t10.233.233.5\t80\ttcp\t-\t3.000158\t0\t0\tS0\tT\tT\t0\tS\t2\t104\t0\t0\t(empty)\n1517336042.090842\tCi85\t10.55.182.100",
            "{\"@timestamp\":\"2018-01-30T18:14:02.090842Z\",\"event\":{\"id\":\"Ci85\",\"dataset\":\"zeek.conn\",\"kind\":\"event\",\"category\":[\"network\"],\"type\":[\"connection\"],\"duration\":3000158000},\"source\":{\"ip\":\"10.55.182.100\",\"port\":14291,\"bytes\":0,\"packets\":2},\"destination\":{\"ip\":\"10.233.233.5\",\"port\":80,\"bytes\":0,\"packets\":0},\"network\":{\"transport\":\"tcp\"},\"zeek\":{\"conn\":{\"conn_state\":\"S0\",\"local_orig\":true,\"local_resp\":true,\"missed_bytes\":0,\"history\":\"S\",\"orig_ip_bytes\":104,\"resp_ip_bytes\":0,\"tunnel_parents\":[]}}}\nREJECT record has 3 fields, the #fields header declares 21 (truncated record?)",
        );
    }

    #[test]
    fn json_dialects() {
        let mut p = Json::new("x.log");
        let Step::Event(e) = p.parse(r#"{"@stream":"conn","@system":"bobs","ts":1588205199.82437,"uid":"C1","id_orig_h":"10.0.1.6","id_orig_p":54243,"id_resp_h":"10.0.0.4","id_resp_p":53,"proto":"udp","service":"dns","conn_state":"SF"}"#, 1) else {
            panic!("expected an event")
        };
        assert_eq!(
            e.source.ip.map(|i| i.to_string()).as_deref(),
            Some("10.0.1.6")
        );
        assert_eq!(e.event.dataset.as_deref(), Some("zeek.conn"));
        assert_eq!(e.timestamp.to_rfc3339(), "2020-04-30T00:06:39.824370Z");
        let Step::Reject(r) = p.parse(r#"{"ts":1588205199.8,"id.orig_h":"nope"}"#, 2) else {
            panic!("expected a reject")
        };
        assert_eq!(r, "id.orig_h: \"nope\" is not an IP address");
        let Step::Reject(r) = p.parse(r#"{"ts":1588205199.8,"uid":"#, 3) else {
            panic!("expected a reject")
        };
        assert!(r.starts_with("truncated JSON record"), "{r}");
    }

    #[test]
    fn names_to_paths() {
        assert_eq!(path_from_name("conn.16:00:00-17:00:00.log.gz"), "conn");
        assert_eq!(path_from_name("NASHUA_conn.log"), "conn");
        assert_eq!(path_from_name("open_conn.log"), "conn");
        assert_eq!(path_from_name("conn_top.log"), "conn");
        assert_eq!(path_from_name("SCRANTON_smb_files.log"), "files");
        assert_eq!(path_from_name("smb_files.log"), "smb_files");
    }
}
