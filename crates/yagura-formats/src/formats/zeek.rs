//! Zeek logs: TSV driven by each file's own header, and JSON (dotted `id.orig_h` keys, or the
//! underscore dialect `id_orig_h` with `@stream` of some shippers).
//!
//! Both dialects feed one normalizer ([`Fields`]), so a `conn` record means the same whatever
//! the writer. Known fields of conn, dns, http, ssl, files, x509, notice, smtp and weird land in
//! ECS; every other field (and every field of other paths) is kept under `zeek.<path>.<field>`.
//!
//! What a field does depends on the path and its name alone ([`resolve`] → [`Setter`]), so the
//! TSV reader plans each column once per header and the JSON reader once per key position.

use std::borrow::Cow;

use compact_str::ToCompactString;
use yagura_model::event::{DnsAnswer, Endpoint, Other, OtherValue, Tags};

use super::json::{J, Obj, get};
use yagura_model::{Event, Str, Timestamp};

use super::{LineParser, Step};
use crate::util;

/// One field value, borrowed from the line, with its Zeek type when known.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Raw<'a> {
    Tsv {
        s: &'a str,
        /// The column's type from `#types`, planned once per header.
        ty: ZType,
        set_sep: u8,
        empty: &'a str,
        /// Whether the record holds a `\` at all: without one, no value has an escape to
        /// decode, and no value is scanned for one.
        esc: bool,
    },
    /// A value of a JSON record, borrowed from the line.
    Json(&'a J<'a>),
}

/// Zeek's `\xHH` escapes decoded; borrowed (no copy) when `s` has none.
#[inline]
fn unescape(s: &str) -> Cow<'_, str> {
    let b = s.as_bytes();
    // Most values hold no backslash at all and are short: a plain byte loop costs less than a
    // `memchr` call (its dispatch and setup were ~1,100 instructions per DNS record).
    let first = if b.len() < 64 {
        b.iter().position(|&c| c == b'\\')
    } else {
        memchr::memchr(b'\\', b)
    };
    let Some(first) = first else {
        return Cow::Borrowed(s);
    };
    if !memchr::memchr_iter(b'\\', &b[first..]).any(|i| b.get(first + i + 1) == Some(&b'x')) {
        return Cow::Borrowed(s);
    }
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

/// [`unescape`] when the record holds a `\` (`esc`), else `s` as it is.
#[inline]
fn unescape_if(s: &str, esc: bool) -> Cow<'_, str> {
    if esc { unescape(s) } else { Cow::Borrowed(s) }
}

/// What reading a TSV column's text needs besides the text: the header's markers and set
/// separator, and whether the record holds a `\` at all.
pub(crate) struct TsvText<'h> {
    set_sep: u8,
    empty: &'h str,
    esc: bool,
}

impl TsvText<'_> {
    /// A string value ([`Raw::str`] of a TSV column): the empty marker is `""`.
    #[inline]
    fn text<'s>(&self, s: &'s str) -> Cow<'s, str> {
        if util::is_marker(s, self.empty) {
            Cow::Borrowed("")
        } else {
            unescape_if(s, self.esc)
        }
    }

    /// [`Self::text`] unless empty, as a [`Str`] (`set_str`), through the column's cache.
    #[inline]
    fn non_empty(&self, s: &str, last: &mut Str) -> Option<Str> {
        let t = self.text(s);
        (!t.is_empty()).then(|| cached(last, &t))
    }

    /// The items of a set or vector column ([`Raw::each`] of a TSV column).
    #[inline]
    fn each<'s>(&self, s: &'s str, mut f: impl FnMut(Cow<'s, str>)) {
        if util::is_marker(s, self.empty) || s.is_empty() {
            return;
        }
        let esc = self.esc;
        util::for_each_split(s, self.set_sep, |x| f(unescape_if(x, esc)));
    }
}

/// A `count` column as a string (`dns.id`): the text itself when it is already the canonical
/// decimal form, else parsed and printed.
fn tsv_count_text(s: &str) -> Option<Str> {
    if !s.is_empty()
        && s.len() < 20
        && s.bytes().all(|b| b.is_ascii_digit())
        && (s.len() == 1 || !s.starts_with('0'))
    {
        return Some(Str::from(s));
    }
    util::parse_u64(s).map(|n| n.to_compact_string())
}

/// The JSON form a kept TSV value takes, from its Zeek type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scalar {
    /// `count`, `port`
    Count,
    Int,
    /// `double`, `interval`
    Double,
    Bool,
    Time,
    /// `string`, `enum`, `addr`, `subnet` and anything unknown.
    Str,
}

impl Scalar {
    fn of(ty: &str) -> Scalar {
        match ty {
            "count" | "port" => Scalar::Count,
            "int" => Scalar::Int,
            "double" | "interval" => Scalar::Double,
            "bool" => Scalar::Bool,
            "time" => Scalar::Time,
            _ => Scalar::Str,
        }
    }
}

/// A column type from `#types`: a scalar, or a `set[…]`/`vector[…]` of one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ZType {
    container: bool,
    scalar: Scalar,
}

impl ZType {
    fn of(ty: &str) -> ZType {
        if Raw::is_container(ty) {
            let inner = ty
                .split_once('[')
                .map_or("string", |(_, t)| t.trim_end_matches(']'));
            ZType {
                container: true,
                scalar: Scalar::of(inner),
            }
        } else {
            ZType {
                container: false,
                scalar: Scalar::of(ty),
            }
        }
    }
}

impl<'a> Raw<'a> {
    fn is_container(ty: &str) -> bool {
        ty.starts_with("set[") || ty.starts_with("vector[")
    }

    #[inline]
    fn str(&self) -> Option<Cow<'a, str>> {
        match *self {
            Raw::Tsv { s, empty, esc, .. } => {
                if util::is_marker(s, empty) {
                    Some(Cow::Borrowed(""))
                } else {
                    Some(unescape_if(s, esc))
                }
            }
            Raw::Json(v) => v.text(),
        }
    }

    #[inline]
    fn u64(&self) -> Option<u64> {
        match *self {
            Raw::Tsv { s, .. } => util::parse_u64(s),
            Raw::Json(v) => v.u64(),
        }
    }

    #[inline]
    fn f64(&self) -> Option<f64> {
        match *self {
            Raw::Tsv { s, .. } => util::parse_f64(s),
            Raw::Json(v) => v.as_f64().or_else(|| v.as_str()?.parse().ok()),
        }
    }

    #[inline]
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

    #[inline]
    fn ip(&self) -> Option<std::net::IpAddr> {
        match *self {
            Raw::Tsv { s, .. } => util::ip(s),
            Raw::Json(v) => util::ip(v.as_str()?),
        }
    }

    fn list(&self) -> Vec<Cow<'a, str>> {
        match *self {
            Raw::Tsv {
                s,
                set_sep,
                empty,
                esc,
                ..
            } => {
                if s == empty || s.is_empty() {
                    return Vec::new();
                }
                s.split(set_sep as char)
                    .map(|x| unescape_if(x, esc))
                    .collect()
            }
            Raw::Json(J::Arr(items)) => items.iter().filter_map(J::text).collect(),
            Raw::Json(v) => v.text().into_iter().collect(),
        }
    }

    /// Calls `f` on each item of a list value ([`Raw::list`] without the `Vec`).
    #[inline]
    fn each(&self, f: impl FnMut(Cow<'a, str>)) {
        match *self {
            Raw::Tsv {
                s,
                set_sep,
                empty,
                esc,
                ..
            } => {
                if util::is_marker(s, empty) || s.is_empty() {
                    return;
                }
                let mut f = f;
                util::for_each_split(s, set_sep, |x| f(unescape_if(x, esc)));
            }
            Raw::Json(J::Arr(items)) => items.iter().filter_map(J::text).for_each(f),
            Raw::Json(v) => v.text().into_iter().for_each(f),
        }
    }

    /// A `count` as a string (`dns.id`): the column text itself when it is already the
    /// canonical decimal form, else parsed and printed.
    #[inline]
    fn count_text(&self) -> Option<Str> {
        match *self {
            Raw::Tsv { s, .. } => tsv_count_text(s),
            Raw::Json(v) => v.u64().map(|n| n.to_compact_string()),
        }
    }

    #[inline]
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
            Raw::Tsv {
                s,
                ty,
                set_sep,
                empty,
                esc,
            } => tsv_other(s, ty, set_sep, empty, esc),
        }
    }
}

/// A TSV column's text as the value kept under `zeek.<path>.*`: typed from `#types`, the
/// `#empty_field` marker an empty string (or an empty list), `\xHH` escapes decoded (when the
/// record holds a `\`: `esc`).
#[inline(always)]
fn tsv_other(s: &str, ty: ZType, set_sep: u8, empty: &str, esc: bool) -> OtherValue {
    if ty.container {
        return tsv_list_other(s, ty.scalar, set_sep, empty, esc);
    }
    if util::is_marker(s, empty) {
        return OtherValue::Str(Str::default());
    }
    // An escaped value stays a string whatever its declared type (one whose `\x` is not
    // followed by hex digits comes back unchanged: as a string too, which is what the typed
    // parse of such text falls back to).
    if esc && let Cow::Owned(u) = unescape(s) {
        return OtherValue::Str(Str::from(u));
    }
    match ty.scalar {
        Scalar::Str => OtherValue::Str(Str::from(s)),
        scalar => scalar_other(s, scalar, esc),
    }
}

/// [`tsv_other`] of a `set[…]` / `vector[…]` column.
fn tsv_list_other(s: &str, scalar: Scalar, set_sep: u8, empty: &str, esc: bool) -> OtherValue {
    if util::is_marker(s, empty) || s.is_empty() {
        return OtherValue::Array(Vec::new());
    }
    OtherValue::Array(
        util::split_byte(s, set_sep)
            .map(|x| scalar_other(&unescape_if(x, esc), scalar, esc))
            .collect(),
    )
}

#[inline]
fn scalar_other(s: &str, ty: Scalar, esc: bool) -> OtherValue {
    match ty {
        Scalar::Count => util::parse_u64(s).map_or_else(|| OtherValue::from(s), OtherValue::from),
        Scalar::Int => s
            .parse::<i64>()
            .map_or_else(|_| OtherValue::from(s), OtherValue::from),
        Scalar::Double => util::parse_f64(s).map_or_else(|| OtherValue::from(s), OtherValue::from),
        Scalar::Bool => match s {
            "T" => OtherValue::Bool(true),
            "F" => OtherValue::Bool(false),
            _ => OtherValue::from(s),
        },
        Scalar::Time => util::epoch(s).map_or_else(
            |_| OtherValue::from(s),
            |t| OtherValue::from(t.to_rfc3339()),
        ),
        Scalar::Str => OtherValue::Str(Str::from(unescape_if(s, esc).as_ref())),
    }
}

/// The Zeek paths with ECS mappings (`Other`: every other path, fields only kept).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PathKind {
    Conn,
    Dns,
    Http,
    Ssl,
    Files,
    X509,
    Notice,
    Smtp,
    Weird,
    Ftp,
    Other,
}

/// What a path implies for every record of it, computed once per path (not per record).
#[derive(Debug, Clone)]
pub(crate) struct PathInfo {
    kind: PathKind,
    /// The path, as the key under `zeek`.
    ns: Str,
    dataset: Str,
    ev_kind: Str,
    category: Tags,
    kind_type: Tags,
}

impl PathInfo {
    pub(crate) fn new(p: &str) -> PathInfo {
        let kind = match p {
            "conn" => PathKind::Conn,
            "dns" => PathKind::Dns,
            "http" => PathKind::Http,
            "ssl" => PathKind::Ssl,
            "files" => PathKind::Files,
            "x509" => PathKind::X509,
            "notice" => PathKind::Notice,
            "smtp" => PathKind::Smtp,
            "weird" => PathKind::Weird,
            "ftp" => PathKind::Ftp,
            _ => PathKind::Other,
        };
        let (ev_kind, cat, ty): (&str, &[&str], &[&str]) = match kind {
            PathKind::Conn => ("event", &["network"], &["connection"]),
            PathKind::Smtp => ("event", &["network", "email"], &["protocol"]),
            PathKind::Http => ("event", &["network", "web"], &["protocol"]),
            PathKind::Dns | PathKind::Ssl => ("event", &["network"], &["protocol"]),
            PathKind::Files => ("event", &["file"], &["info"]),
            PathKind::Notice => ("alert", &["network", "intrusion_detection"], &["info"]),
            PathKind::Weird | PathKind::X509 | PathKind::Ftp | PathKind::Other => {
                ("event", &["network"], &["info"])
            }
        };
        PathInfo {
            kind,
            ns: Str::from(p),
            dataset: Str::from(format!("zeek.{p}")),
            ev_kind: Str::from(ev_kind),
            category: cat.iter().map(|c| Str::from(*c)).collect(),
            kind_type: ty.iter().map(|c| Str::from(*c)).collect(),
        }
    }
}

/// What one field of a path does: an ECS mapping (then maybe kept too), or only kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Setter {
    /// No ECS home: only kept under `zeek.<path>.*`.
    Keep,
    Ts,
    Uid,
    OrigH,
    RespH,
    OrigP,
    RespP,
    Proto,
    CommunityId,
    Service,
    Duration,
    SrcBytes,
    DstBytes,
    SrcPkts,
    DstPkts,
    SrcMac,
    DstMac,
    Query,
    QType,
    QClass,
    RCode,
    TransId,
    Answers,
    Ttls,
    DnsFlag,
    Method,
    Host,
    Uri,
    Referrer,
    HttpVersion,
    UserAgent,
    ReqBytes,
    RespBytes,
    Status,
    UserName,
    RespMime,
    TlsVersion,
    Cipher,
    ServerName,
    Established,
    Ja3,
    Ja3s,
    Ja4,
    CertSubject,
    CertIssuer,
    NotAfter,
    Md5,
    Sha1,
    Sha256,
    MimeType,
    FileName,
    FileSize,
    Fuid,
    TxHosts,
    RxHosts,
    Note,
    Msg,
    NoticeSrc,
    NoticeDst,
    NoticePort,
    WeirdName,
    MailFrom,
    RcptTo,
    From,
    Cc,
    ReplyTo,
    Subject,
    MsgId,
    XMailer,
}

/// The [`Setter`] of field `key` (Zeek's dotted names) of a path.
fn resolve(path: PathKind, key: &str) -> Setter {
    use PathKind as P;
    use Setter as S;
    match key {
        "ts" => return S::Ts,
        "uid" => return S::Uid,
        "id.orig_h" => return S::OrigH,
        "id.resp_h" => return S::RespH,
        "id.orig_p" => return S::OrigP,
        "id.resp_p" => return S::RespP,
        "proto" => return S::Proto,
        "community_id" => return S::CommunityId,
        _ => {}
    }
    match (path, key) {
        (P::Conn, "service") => S::Service,
        (P::Conn, "duration") | (P::Dns, "rtt") => S::Duration,
        (P::Conn, "orig_bytes") => S::SrcBytes,
        (P::Conn, "resp_bytes") => S::DstBytes,
        (P::Conn, "orig_pkts") => S::SrcPkts,
        (P::Conn, "resp_pkts") => S::DstPkts,
        (P::Conn, "orig_l2_addr") => S::SrcMac,
        (P::Conn, "resp_l2_addr") => S::DstMac,
        (P::Dns, "query") => S::Query,
        (P::Dns, "qtype_name") => S::QType,
        (P::Dns, "qclass_name") => S::QClass,
        (P::Dns, "rcode_name") => S::RCode,
        (P::Dns, "trans_id") => S::TransId,
        (P::Dns, "answers") => S::Answers,
        (P::Dns, "TTLs") => S::Ttls,
        (P::Dns, "AA" | "TC" | "RD" | "RA") => S::DnsFlag,
        (P::Http, "method") => S::Method,
        (P::Http, "host") => S::Host,
        (P::Http, "uri") => S::Uri,
        (P::Http, "referrer") => S::Referrer,
        (P::Http, "version") => S::HttpVersion,
        (P::Http, "user_agent") => S::UserAgent,
        (P::Http, "request_body_len") => S::ReqBytes,
        (P::Http, "response_body_len") => S::RespBytes,
        (P::Http, "status_code") => S::Status,
        (P::Http, "username") | (P::Smtp | P::Ftp, "user") => S::UserName,
        (P::Http, "resp_mime_types") => S::RespMime,
        (P::Ssl, "version") => S::TlsVersion,
        (P::Ssl, "cipher") => S::Cipher,
        (P::Ssl, "server_name") => S::ServerName,
        (P::Ssl, "established") => S::Established,
        (P::Ssl, "ja3") => S::Ja3,
        (P::Ssl, "ja3s") => S::Ja3s,
        (P::Ssl, "ja4") => S::Ja4,
        (P::Ssl, "subject") | (P::X509, "certificate.subject") => S::CertSubject,
        (P::Ssl, "issuer") | (P::X509, "certificate.issuer") => S::CertIssuer,
        (P::X509, "certificate.not_valid_after") => S::NotAfter,
        (P::Files, "md5") => S::Md5,
        (P::Files, "sha1") => S::Sha1,
        (P::Files, "sha256") => S::Sha256,
        (P::Files, "mime_type") => S::MimeType,
        (P::Files, "filename") => S::FileName,
        (P::Files, "total_bytes") => S::FileSize,
        (P::Files, "fuid") => S::Fuid,
        (P::Files, "tx_hosts") => S::TxHosts,
        (P::Files, "rx_hosts") => S::RxHosts,
        (P::Notice, "note") => S::Note,
        (P::Notice, "msg") => S::Msg,
        (P::Notice, "src") => S::NoticeSrc,
        (P::Notice, "dst") => S::NoticeDst,
        (P::Notice, "p") => S::NoticePort,
        (P::Weird, "name") => S::WeirdName,
        (P::Smtp, "mailfrom") => S::MailFrom,
        (P::Smtp, "rcptto") => S::RcptTo,
        (P::Smtp, "from") => S::From,
        (P::Smtp, "cc") => S::Cc,
        (P::Smtp, "reply_to") => S::ReplyTo,
        (P::Smtp, "subject") => S::Subject,
        (P::Smtp, "msg_id") => S::MsgId,
        (P::Smtp, "user_agent") => S::XMailer,
        // `dns` `qclass`, `qtype`, `rcode` (the names are mapped) and everything else.
        _ => S::Keep,
    }
}

/// The two objects of `zeek.<path>` taken back from the previous event (see
/// [`LineParser::recycle`]), emptied with their capacity kept: with
/// `FileReader::next_into`, a record's leftovers cost no allocation.
#[derive(Debug, Default)]
pub(crate) struct Spare {
    /// `Event::other`.
    top: Other,
    /// The `zeek` object.
    outer: Other,
    /// The `zeek.<path>` object.
    inner: Other,
}

impl Spare {
    /// Takes `ev.other` (about to be reset) and the objects at the head of it (`zeek`, and
    /// `zeek.<path>` under it, when the previous record was read by this parser). Only the
    /// buffers are kept: keys and values are dropped.
    fn take_from(&mut self, ev: &mut Event) {
        let mut top = std::mem::take(&mut ev.other);
        if let Some((_, v)) = top.iter_mut().next()
            && let OtherValue::Object(mut outer) = std::mem::take(v)
        {
            if let Some((_, v)) = outer.iter_mut().next()
                && let OtherValue::Object(mut inner) = std::mem::take(v)
            {
                inner.clear();
                self.inner = inner;
            }
            outer.clear();
            self.outer = outer;
        }
        top.clear();
        self.top = top;
    }
}

/// Accumulates one record's fields into an event (built in place, in the reader's event).
pub(crate) struct Fields<'p, 'e> {
    info: &'p PathInfo,
    ev: &'e mut Event,
    /// Fields without an ECS home, in record order: the object under `zeek.<path>`.
    extra: Other,
    /// The `zeek` object that will hold `extra` (empty; a recycled buffer when there is one).
    outer: Other,
    /// `Event::other`'s buffer, when the event's is empty (a recycled buffer, or none).
    top: Other,
    /// The plain keys of `extra` cannot collide (distinct column names, none the first part
    /// of a dotted one): they are appended without looking them up.
    keys_unique: bool,
    has_ts: bool,
    /// `TTLs`, applied to `dns.answers` at the end (the columns may come in any order).
    answers_ttl: smallvec::SmallVec<[u32; 8]>,
    http_host: Option<Str>,
    http_uri: Option<String>,
    /// Time for records without `ts` (`loaded_scripts`, `packet_filter` of some versions):
    /// the file's `#open` time.
    fallback_ts: Option<Timestamp>,
}

impl<'p, 'e> Fields<'p, 'e> {
    /// `kept`: how many fields are expected under `zeek.<path>.*` (capacity, not a limit);
    /// the objects are `spare`'s when it holds some.
    pub(crate) fn new(
        info: &'p PathInfo,
        ev: &'e mut Event,
        kept: usize,
        spare: &mut Spare,
    ) -> Self {
        let mut extra = std::mem::take(&mut spare.inner);
        extra.reserve(kept);
        Fields {
            info,
            ev,
            extra,
            outer: std::mem::take(&mut spare.outer),
            top: std::mem::take(&mut spare.top),
            keys_unique: false,
            has_ts: false,
            answers_ttl: smallvec::SmallVec::new(),
            http_host: None,
            http_uri: None,
            fallback_ts: None,
        }
    }

    pub(crate) fn keep(&mut self, key: &str, v: Raw<'_>) {
        let j = v.to_other();
        if !j.is_null() {
            self.put(key, j);
        }
    }

    /// Adds a kept value; a dotted key nests (`a.b` → `a: {b: …}`).
    fn put(&mut self, key: &str, j: OtherValue) {
        if key.contains('.') {
            util::put_other(&mut self.extra, key, j);
        } else if self.keys_unique {
            self.extra.push_new(key, j);
        } else {
            self.extra.insert(key, j);
        }
    }

    /// One field whose [`Setter`] is known.
    pub(crate) fn apply(&mut self, setter: Setter, key: &str, v: Raw<'_>) -> Result<(), String> {
        use Setter as S;
        let ev = &mut *self.ev;
        let handled = match setter {
            S::Keep => false,
            S::Ts => {
                ev.timestamp = v.time().map_err(|e| format!("ts: {e}"))?;
                self.has_ts = true;
                true
            }
            // A `uid` that is not a scalar (never written by Zeek) is kept verbatim.
            S::Uid => match v.str() {
                Some(s) => {
                    ev.event.id = Some(Str::from(s.as_ref()));
                    true
                }
                None => false,
            },
            S::OrigH => {
                ip_into(&mut ev.source, v, key)?;
                true
            }
            S::RespH => {
                ip_into(&mut ev.destination, v, key)?;
                true
            }
            S::OrigP => {
                ev.source.port = v.u64().and_then(|p| u16::try_from(p).ok());
                true
            }
            S::RespP => {
                ev.destination.port = v.u64().and_then(|p| u16::try_from(p).ok());
                true
            }
            S::Proto => {
                ev.network.transport = v.str().map(|s| Str::from(s.as_ref()));
                true
            }
            S::CommunityId => {
                ev.network.community_id = v.str().map(|s| Str::from(s.as_ref()));
                true
            }
            S::Service => {
                // The first service is the protocol; a list of several is kept as well.
                let mut n = 0;
                v.each(|s| {
                    if n == 0 {
                        ev.network.protocol = Some(Str::from(s.as_ref()));
                    }
                    n += 1;
                });
                n <= 1
            }
            S::Duration => {
                ev.event.duration = v
                    .f64()
                    .filter(|d| d.is_finite() && *d >= 0.0)
                    .map(|d| (d * 1e9) as i64);
                true
            }
            S::SrcBytes => set_u64(&mut ev.source.bytes, v),
            S::DstBytes => set_u64(&mut ev.destination.bytes, v),
            S::SrcPkts => set_u64(&mut ev.source.packets, v),
            S::DstPkts => set_u64(&mut ev.destination.packets, v),
            S::SrcMac => set_str(&mut ev.source.mac, v),
            S::DstMac => set_str(&mut ev.destination.mac, v),
            S::Query => {
                if let Some(s) = v.str() {
                    ev.dns.question.name = Some(util::domain(&s));
                }
                true
            }
            S::QType => set_str(&mut ev.dns.question.kind, v),
            S::QClass => set_str(&mut ev.dns.question.class, v),
            S::RCode => set_str(&mut ev.dns.response_code, v),
            S::TransId => {
                ev.dns.id = v.count_text();
                true
            }
            S::Answers => {
                ev.dns.answers.clear();
                ev.dns.resolved_ip.clear();
                v.each(|a| {
                    if let Some(ip) = util::ip(&a) {
                        ev.dns.resolved_ip.push(ip);
                    }
                    ev.dns.answers.push(DnsAnswer {
                        data: Some(Str::from(a.as_ref())),
                        ..DnsAnswer::default()
                    });
                });
                true
            }
            S::Ttls => {
                self.answers_ttl.clear();
                v.each(|t| {
                    if let Some(t) = util::parse_f64(&t) {
                        self.answers_ttl
                            .push(t.clamp(0.0, f64::from(u32::MAX)) as u32);
                    }
                });
                true
            }
            S::DnsFlag => {
                // A flag seen twice in one record (JSON) keeps the last value.
                if !ev.dns.header_flags.is_empty() {
                    ev.dns.header_flags.retain(|f| f != key);
                }
                if v.bool() == Some(true) {
                    ev.dns.header_flags.push(Str::from(key));
                }
                true
            }
            S::Method => set_str(&mut ev.http.request.method, v),
            S::Host => {
                self.http_host = v.str().map(|s| Str::from(s.as_ref()));
                true
            }
            S::Uri => {
                self.http_uri = v.str().map(Cow::into_owned);
                true
            }
            S::Referrer => {
                ev.http.request.referrer = v.str().map(Cow::into_owned);
                true
            }
            S::HttpVersion => set_str(&mut ev.http.version, v),
            S::UserAgent => {
                ev.user_agent.original = v.str().map(Cow::into_owned);
                true
            }
            S::ReqBytes => set_u64(&mut ev.http.request.bytes, v),
            S::RespBytes => set_u64(&mut ev.http.response.bytes, v),
            S::Status => {
                ev.http.response.status_code = v.u64().and_then(|s| u16::try_from(s).ok());
                true
            }
            S::UserName => set_str(&mut ev.user.name, v),
            S::RespMime => {
                if let Some(m) = v.list().first() {
                    ev.http.response.mime_type = Some(Str::from(m.as_ref()));
                }
                false
            }
            S::TlsVersion => set_str(&mut ev.tls.version, v),
            S::Cipher => set_str(&mut ev.tls.cipher, v),
            S::ServerName => {
                if let Some(s) = v.str() {
                    let d = util::domain(&s);
                    ev.destination.domain = Some(d.clone());
                    ev.tls.client.server_name = Some(d);
                }
                true
            }
            S::Established => {
                ev.tls.established = v.bool();
                true
            }
            S::Ja3 => set_str(&mut ev.tls.client.ja3, v),
            S::Ja3s => set_str(&mut ev.tls.server.ja3s, v),
            S::Ja4 => set_str(&mut ev.tls.client.ja4, v),
            S::CertSubject => {
                ev.tls.server.subject = v.str().map(Cow::into_owned);
                self.info.kind == PathKind::Ssl
            }
            S::CertIssuer => {
                ev.tls.server.issuer = v.str().map(Cow::into_owned);
                self.info.kind == PathKind::Ssl
            }
            S::NotAfter => {
                ev.tls.server.not_after = v.time().ok();
                false
            }
            S::Md5 => set_str(&mut ev.file.hash.md5, v),
            S::Sha1 => set_str(&mut ev.file.hash.sha1, v),
            S::Sha256 => set_str(&mut ev.file.hash.sha256, v),
            S::MimeType => set_str(&mut ev.file.mime_type, v),
            S::FileName => set_str(&mut ev.file.name, v),
            S::FileSize => set_u64(&mut ev.file.size, v),
            S::Fuid => {
                if ev.event.id.is_none() {
                    ev.event.id = v.str().map(|s| Str::from(s.as_ref()));
                }
                false
            }
            S::TxHosts => {
                ev.source.ip = v.list().first().and_then(|s| util::ip(s));
                false
            }
            S::RxHosts => {
                ev.destination.ip = v.list().first().and_then(|s| util::ip(s));
                false
            }
            S::Note => {
                ev.rule.name = v.str().map(Cow::into_owned);
                true
            }
            S::Msg => {
                ev.message = v.str().map(Cow::into_owned);
                true
            }
            S::NoticeSrc => {
                if ev.source.ip.is_none() {
                    ev.source.ip = v.ip();
                }
                true
            }
            S::NoticeDst => {
                if ev.destination.ip.is_none() {
                    ev.destination.ip = v.ip();
                }
                true
            }
            S::NoticePort => {
                if ev.destination.port.is_none() {
                    ev.destination.port = v.u64().and_then(|p| u16::try_from(p).ok());
                }
                true
            }
            S::WeirdName => set_str(&mut ev.event.action, v),
            S::MailFrom => {
                ev.email.sender.address = v.list().iter().map(|a| addr(a)).collect();
                true
            }
            S::RcptTo => {
                ev.email.to.address = v.list().iter().map(|a| addr(a)).collect();
                true
            }
            S::From => {
                ev.email.from.address = v.list().iter().map(|a| addr(a)).collect();
                false
            }
            S::Cc => {
                ev.email.cc.address = v.list().iter().map(|a| addr(a)).collect();
                true
            }
            S::ReplyTo => {
                ev.email.reply_to.address = v.list().iter().map(|a| addr(a)).collect();
                false
            }
            S::Subject => {
                ev.email.subject = v.str().map(Cow::into_owned);
                true
            }
            S::MsgId => set_str(&mut ev.email.message_id, v),
            S::XMailer => set_str(&mut ev.email.x_mailer, v),
        };
        if !handled {
            self.keep(key, v);
        }
        Ok(())
    }

    /// The mappings of Zeek's conn and dns columns (and the common ones) straight from a TSV
    /// column's text: what [`Fields::apply`] does with a [`Raw::Tsv`], without building one
    /// and without a call per column. `Ok(false)`: not done here (any other setter, an
    /// address that does not parse, a `service` list), [`Fields::apply`] decides.
    #[inline(always)]
    fn apply_tsv(
        &mut self,
        col: &mut Col,
        key: &str,
        s: &str,
        t: &TsvText<'_>,
    ) -> Result<bool, String> {
        use Setter as S;
        let setter = col.setter;
        let ev = &mut *self.ev;
        match setter {
            S::Ts => {
                ev.timestamp = util::epoch(s).map_err(|e| format!("ts: {e}"))?;
                self.has_ts = true;
            }
            S::Uid => ev.event.id = Some(Str::from(t.text(s).as_ref())),
            S::OrigH | S::RespH => {
                let Some(ip) = util::ip(s) else {
                    return Ok(false);
                };
                if setter == S::OrigH {
                    ev.source.ip = Some(ip);
                } else {
                    ev.destination.ip = Some(ip);
                }
            }
            S::OrigP => ev.source.port = util::parse_u64(s).and_then(|p| u16::try_from(p).ok()),
            S::RespP => {
                ev.destination.port = util::parse_u64(s).and_then(|p| u16::try_from(p).ok());
            }
            S::Proto => ev.network.transport = Some(cached(&mut col.last, &t.text(s))),
            S::CommunityId => ev.network.community_id = Some(Str::from(t.text(s).as_ref())),
            S::Service => {
                // One service (no set separator in the text): the protocol; a list is also
                // kept, which `apply` does.
                if s.as_bytes().contains(&t.set_sep) {
                    return Ok(false);
                }
                if !util::is_marker(s, t.empty) && !s.is_empty() {
                    ev.network.protocol = Some(cached(&mut col.last, &unescape_if(s, t.esc)));
                }
            }
            S::Duration => {
                ev.event.duration = util::parse_f64(s)
                    .filter(|d| d.is_finite() && *d >= 0.0)
                    .map(|d| (d * 1e9) as i64);
            }
            S::SrcBytes => ev.source.bytes = util::parse_u64(s),
            S::DstBytes => ev.destination.bytes = util::parse_u64(s),
            S::SrcPkts => ev.source.packets = util::parse_u64(s),
            S::DstPkts => ev.destination.packets = util::parse_u64(s),
            S::Query => ev.dns.question.name = Some(util::domain(&t.text(s))),
            S::QType => ev.dns.question.kind = t.non_empty(s, &mut col.last),
            S::QClass => ev.dns.question.class = t.non_empty(s, &mut col.last),
            S::RCode => ev.dns.response_code = t.non_empty(s, &mut col.last),
            S::TransId => ev.dns.id = tsv_count_text(s),
            S::Answers => {
                ev.dns.answers.clear();
                ev.dns.resolved_ip.clear();
                t.each(s, |a| {
                    if let Some(ip) = util::ip(&a) {
                        ev.dns.resolved_ip.push(ip);
                    }
                    ev.dns.answers.push(DnsAnswer {
                        data: Some(Str::from(a.as_ref())),
                        ..DnsAnswer::default()
                    });
                });
            }
            S::Ttls => {
                self.answers_ttl.clear();
                let ttls = &mut self.answers_ttl;
                t.each(s, |x| {
                    if let Some(x) = util::parse_f64(&x) {
                        ttls.push(x.clamp(0.0, f64::from(u32::MAX)) as u32);
                    }
                });
            }
            S::DnsFlag => {
                // Distinct column names: no earlier column set this flag.
                if !self.keys_unique && !ev.dns.header_flags.is_empty() {
                    ev.dns.header_flags.retain(|f| f != key);
                }
                if s == "T" {
                    let flag = col.key.clone().unwrap_or_else(|| Str::from(key));
                    ev.dns.header_flags.push(flag);
                }
            }
            _ => return Ok(false),
        }
        Ok(true)
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
        let info = self.info;
        let ev = self.ev;
        if !self.answers_ttl.is_empty() {
            for (a, t) in ev.dns.answers.iter_mut().zip(&self.answers_ttl) {
                a.ttl = Some(*t);
            }
        }
        if info.kind == PathKind::Http {
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
        ev.event.dataset = Some(info.dataset.clone());
        ev.event.kind = Some(info.ev_kind.clone());
        // `ev` comes reset: an inline list is copied without `clone_from`'s truncation (and
        // without `SmallVec`'s `Extend` for the usual one or two tags).
        ev.event.category = copy_tags(&info.category);
        ev.event.kind_type = copy_tags(&info.kind_type);
        let protocol = match info.kind {
            PathKind::Dns => {
                ev.dns.kind = Some(Str::const_new(if ev.dns.response_code.is_some() {
                    "answer"
                } else {
                    "query"
                }));
                "dns"
            }
            PathKind::Http => "http",
            PathKind::Ssl => "tls",
            PathKind::Smtp => "smtp",
            _ => "",
        };
        if !protocol.is_empty() {
            ev.network
                .protocol
                .get_or_insert_with(|| Str::const_new(protocol));
        }
        if !self.extra.is_empty() {
            let mut z = self.outer;
            z.push_new(info.ns.clone(), OtherValue::Object(self.extra));
            if ev.other.is_empty() {
                let mut top = self.top;
                top.push_new(Str::const_new("zeek"), OtherValue::Object(z));
                ev.other = top;
            } else {
                ev.other.insert("zeek", OtherValue::Object(z));
            }
        }
        Ok(())
    }
}

/// `t.clone()`, without the generic `Extend` path for one or two tags.
fn copy_tags(t: &Tags) -> Tags {
    match t.as_slice() {
        [a] => {
            let mut out = Tags::new();
            out.push(a.clone());
            out
        }
        [a, b] => Tags::from_buf([a.clone(), b.clone()]),
        _ => t.clone(),
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

/// One column of a TSV header, planned once per header: what it does, its type, its key.
#[derive(Debug, Clone)]
struct Col {
    setter: Setter,
    ty: ZType,
    /// The column name as a key of `zeek.<path>`, built once, when a kept value can be appended
    /// as is (a plain name and [`keys_unique`]); else kept values go through [`Fields::keep`].
    key: Option<Str>,
    /// The last value this column gave a low-cardinality ECS field (`proto`, `service`, the
    /// DNS names of classes, types and codes): a repeated value is cloned from here instead
    /// of being built again.
    last: Str,
}

/// `Str::from(t)` through a column's cache of its last value ([`Col::last`]).
#[inline]
fn cached(last: &mut Str, t: &str) -> Str {
    if last.as_str() != t {
        *last = Str::from(t);
    }
    last.clone()
}

pub(crate) struct Tsv {
    sep: u8,
    set_sep: u8,
    empty: String,
    unset: String,
    path: String,
    fields: Vec<String>,
    types: Vec<String>,
    /// Per column, from the header (built on the first record after it, cleared by every
    /// header line): the record loop does no key dispatch.
    plan: Vec<Col>,
    /// The path's [`PathInfo`], with `plan`.
    info: PathInfo,
    /// How many columns are only kept (the capacity of `zeek.<path>`), with `plan`.
    kept: usize,
    /// [`keys_unique`] of `fields`, with `plan`.
    unique: bool,
    /// End offsets of a record's columns, collected only to count them for a reject (records
    /// are split by [`util::ColumnEnds`] as they are read).
    ends: Vec<usize>,
    spare: Spare,
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
            plan: Vec::new(),
            info: PathInfo::new(""),
            kept: 0,
            unique: false,
            ends: Vec::new(),
            spare: Spare::default(),
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

    /// Plans every column of the current header (see [`Col`]).
    fn plan(&mut self) {
        self.info = PathInfo::new(&self.path);
        self.unique = keys_unique(&self.fields);
        let (kind, unique) = (self.info.kind, self.unique);
        self.plan = self
            .fields
            .iter()
            .enumerate()
            .map(|(i, name)| Col {
                setter: resolve(kind, name),
                ty: ZType::of(self.types.get(i).map_or("string", String::as_str)),
                key: (unique && !name.contains('.')).then(|| Str::from(name.as_str())),
                last: Str::default(),
            })
            .collect();
        self.kept = self
            .plan
            .iter()
            .filter(|c| c.setter == Setter::Keep)
            .count();
    }
}

/// How many columns `line` has (the separators plus one); `ends` is a reused buffer.
fn count_columns(line: &[u8], sep: u8, ends: &mut Vec<usize>) -> usize {
    ends.clear();
    util::separator_ends(line, sep, ends);
    ends.len()
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
    fn recycle(&mut self, ev: &mut Event) {
        self.spare.take_from(ev);
    }

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
            self.plan.clear();
            return match self.header(line) {
                Ok(()) => Step::Skip,
                Err(e) => Step::Reject(e),
            };
        }
        let bytes = line.as_bytes();
        if self.fields.is_empty() {
            let cols = count_columns(bytes, self.sep, &mut self.ends);
            if !self.default_layout(cols) {
                return Step::Reject(format!(
                    "Zeek TSV record before any #fields header (and no default {:?} layout with {cols} columns)",
                    self.name_path
                ));
            }
        }
        if self.path.is_empty() {
            self.path = self.name_path.clone();
        }
        if self.plan.len() != self.fields.len() {
            self.plan();
        }
        let mut f = Fields::new(&self.info, out, self.kept, &mut self.spare);
        f.keys_unique = self.unique;
        f.fallback_ts = self.open;
        let (set_sep, empty, unset) = (self.set_sep, self.empty.as_str(), self.unset.as_str());
        // One scan of the record for `\` instead of one per value (most records hold none).
        let esc = memchr::memchr(b'\\', bytes).is_some();
        let text = TsvText {
            set_sep,
            empty,
            esc,
        };
        // The columns are split as they are read (no offsets stored); a record with another
        // column count than `#fields` is rejected as such whatever else is wrong with it.
        let mut ends = util::ColumnEnds::new(bytes, self.sep);
        let mut start = 0;
        let mut read = 0;
        let mut failed = None;
        // The unset marker is one byte (`-`) in every Zeek log: compared as such.
        let unset_byte = match unset.as_bytes() {
            [u] => Some(*u),
            _ => None,
        };
        for (i, col) in self.plan.iter_mut().enumerate() {
            let Some(end) = ends.next() else {
                break;
            };
            read += 1;
            // `sep` is one ASCII byte (checked in `header`), so both ends are char boundaries.
            let s = line.get(start..end).unwrap_or("");
            start = end + 1;
            let is_unset = match unset_byte {
                Some(u) => s.as_bytes() == [u],
                None => s == unset,
            };
            if is_unset {
                continue;
            }
            let name = self.fields.get(i).map_or("", String::as_str);
            if col.setter == Setter::Keep {
                let j = tsv_other(s, col.ty, set_sep, empty, esc);
                if j.is_null() {
                    continue;
                }
                match &col.key {
                    Some(k) => f.extra.push_new(k.clone(), j),
                    None => f.put(name, j),
                }
                continue;
            }
            match f.apply_tsv(col, name, s, &text) {
                Ok(true) => continue,
                Ok(false) => {}
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
            let raw = Raw::Tsv {
                s,
                ty: col.ty,
                set_sep,
                empty,
                esc,
            };
            if let Err(e) = f.apply(col.setter, name, raw) {
                failed = Some(e);
                break;
            }
        }
        // Every column read and nothing left over: the count is right.
        if failed.is_some() || read != self.plan.len() || ends.next().is_some() {
            let cols = count_columns(bytes, self.sep, &mut self.ends);
            if cols != self.fields.len() {
                return Step::Reject(format!(
                    "record has {cols} fields, the #fields header declares {} (truncated record?)",
                    self.fields.len()
                ));
            }
            if let Some(e) = failed {
                return Step::Reject(e);
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
    /// The keys of the last record, by position, with what each does (see [`resolve`]). A
    /// writer emits its keys in a fixed order, so most keys are recognized with one comparison
    /// instead of the full dispatch.
    shape: Vec<(String, Setter)>,
    shape_path: String,
    /// [`PathInfo`] of `shape_path`.
    info: PathInfo,
    spare: Spare,
}

impl Json {
    pub(crate) fn new(file_name: &str) -> Self {
        Json {
            name_path: path_from_name(file_name),
            shape: Vec::new(),
            shape_path: String::new(),
            info: PathInfo::new(""),
            spare: Spare::default(),
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
    fn recycle(&mut self, ev: &mut Event) {
        self.spare.take_from(ev);
    }

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
            self.info = PathInfo::new(path);
        }
        let kept = self
            .shape
            .iter()
            .filter(|(_, s)| *s == Setter::Keep)
            .count();
        let mut f = Fields::new(&self.info, out, kept, &mut self.spare);
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
            let setter = match self.shape.get(i) {
                Some((known, setter)) if known == key => *setter,
                _ => {
                    let setter = resolve(self.info.kind, key);
                    if self.shape.len() <= i {
                        self.shape.resize(i + 1, (String::new(), Setter::Keep));
                    }
                    if let Some(slot) = self.shape.get_mut(i) {
                        key.clone_into(&mut slot.0);
                        slot.1 = setter;
                    }
                    setter
                }
            };
            if let Err(e) = f.apply(setter, key, Raw::Json(v)) {
                return Step::Reject(e);
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
