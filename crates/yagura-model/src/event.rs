//! Normalized events: Elastic Common Schema (ECS 8.x) field names, nested JSON.
//!
//! An [`Event`] is a typed struct whose serde form *is* ECS JSON: hot fields (addresses, ports,
//! domains, URLs, hashes, user and host names, Windows event ids) are typed members, so
//! detectors read them without parsing or hashing; vendor-specific fields that have no ECS
//! home go under their vendor namespace (`zeek.*`, `suricata.*`, `squid.*`, `cef.*`) in
//! [`Event::other`].
//!
//! Strings are [`Str`] (inline up to 24 bytes), short lists are [`Tags`] (inline up to two),
//! so a typical proxy or DNS event costs a handful of allocations.
//!
//! Generic access by dotted ECS path (for Sigma, hunting filters and the API) goes through
//! [`Event::for_each_value`] / [`Event::first_value`]; indicator matching and store indexing
//! go through [`Event::observables`].
//!
//! Deviation from ECS, documented: `log.file.line` carries the 1-based line (or record) number
//! of the event in its source file, for evidence references.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::{OrgId, Str, Timestamp};

mod other;
mod sparse;
pub use other::{Other, OtherValue};
pub use sparse::{Empty, Sparse};

/// A short list, inline up to two elements.
pub type Tags = smallvec::SmallVec<[Str; 2]>;

fn is_default<T: Default + PartialEq>(t: &T) -> bool {
    *t == T::default()
}

/// A normalized telemetry event.
///
/// Groups that most events leave empty (`tls`, `email`, `file`, `process`, `winlog`, `rule`)
/// are [`Sparse`]: one pointer, allocated on first write, read and written like inline fields.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Event {
    #[serde(rename = "@timestamp")]
    pub timestamp: Timestamp,
    #[serde(default, skip_serializing_if = "is_default")]
    pub organization: OrgFields,
    #[serde(default, skip_serializing_if = "is_default")]
    pub event: EventFields,
    #[serde(default, skip_serializing_if = "is_default")]
    pub source: Endpoint,
    #[serde(default, skip_serializing_if = "is_default")]
    pub destination: Endpoint,
    #[serde(default, skip_serializing_if = "is_default")]
    pub network: Network,
    #[serde(default, skip_serializing_if = "is_default")]
    pub url: Url,
    #[serde(default, skip_serializing_if = "is_default")]
    pub http: Http,
    #[serde(default, skip_serializing_if = "is_default")]
    pub user_agent: UserAgent,
    #[serde(default, skip_serializing_if = "is_default")]
    pub dns: Dns,
    #[serde(default, skip_serializing_if = "Sparse::is_default")]
    pub tls: Sparse<Tls>,
    #[serde(default, skip_serializing_if = "is_default")]
    pub user: User,
    #[serde(default, skip_serializing_if = "is_default")]
    pub host: Host,
    #[serde(default, skip_serializing_if = "Sparse::is_default")]
    pub email: Sparse<Email>,
    #[serde(default, skip_serializing_if = "Sparse::is_default")]
    pub file: Sparse<File>,
    #[serde(default, skip_serializing_if = "Sparse::is_default")]
    pub process: Sparse<Process>,
    #[serde(default, skip_serializing_if = "Sparse::is_default")]
    pub winlog: Sparse<Winlog>,
    #[serde(default, skip_serializing_if = "Sparse::is_default")]
    pub rule: Sparse<Rule>,
    #[serde(default, skip_serializing_if = "is_default")]
    pub observer: Observer,
    #[serde(default, skip_serializing_if = "is_default")]
    pub log: Log,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Tags::is_empty")]
    pub tags: Tags,
    /// Everything without a typed home, by top-level key (vendor namespaces such as `zeek`,
    /// `suricata`, `squid`, `cef`, `syslog`; ECS fields yagura does not type).
    #[serde(flatten, default, skip_serializing_if = "Other::is_empty")]
    pub other: Other,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OrgFields {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<OrgId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Str>,
}

/// `event.*`
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EventFields {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Str>,
    /// `squid.access`, `zeek.conn`, `zeek.dns`, `suricata.eve`, `windows.security`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset: Option<Str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module: Option<Str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<Str>,
    /// `event`, `alert`, `metric`, `state`, `pipeline_error`, `signal`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<Str>,
    #[serde(default, skip_serializing_if = "Tags::is_empty")]
    pub category: Tags,
    #[serde(default, rename = "type", skip_serializing_if = "Tags::is_empty")]
    pub kind_type: Tags,
    /// `success`, `failure`, `unknown`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<Str>,
    /// Windows event id as a string, Suricata event_type, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<Str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<i64>,
    /// Nanoseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original: Option<String>,
}

/// `source.*`, `destination.*`
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Endpoint {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<IpAddr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<Str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub packets: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<Str>,
}

/// `network.*`
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Network {
    /// `tcp`, `udp`, `icmp`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transport: Option<Str>,
    /// Application protocol: `http`, `dns`, `tls`, `smtp`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<Str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub packets: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<Str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub community_id: Option<Str>,
}

/// `url.*`
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Url {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme: Option<Str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<Str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension: Option<Str>,
}

/// `http.*`
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Http {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<Str>,
    #[serde(default, skip_serializing_if = "is_default")]
    pub request: HttpRequest,
    #[serde(default, skip_serializing_if = "is_default")]
    pub response: HttpResponse,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HttpRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<Str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referrer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<Str>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HttpResponse {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_code: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<Str>,
}

/// `user_agent.*`
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UserAgent {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original: Option<String>,
}

/// `dns.*`
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Dns {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Str>,
    /// `query` or `answer`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<Str>,
    #[serde(default, skip_serializing_if = "is_default")]
    pub question: DnsQuestion,
    /// `NOERROR`, `NXDOMAIN`, `SERVFAIL`, … (upper case).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_code: Option<Str>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub answers: Vec<DnsAnswer>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resolved_ip: Vec<IpAddr>,
    #[serde(default, skip_serializing_if = "Tags::is_empty")]
    pub header_flags: Tags,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DnsQuestion {
    /// Lower case, no trailing dot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Str>,
    /// `A`, `AAAA`, `TXT`, … (upper case).
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<Str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<Str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registered_domain: Option<Str>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DnsAnswer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Str>,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<Str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<u32>,
}

/// `tls.*`
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Tls {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<Str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cipher: Option<Str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub established: Option<bool>,
    #[serde(default, skip_serializing_if = "is_default")]
    pub client: TlsClient,
    #[serde(default, skip_serializing_if = "is_default")]
    pub server: TlsServer,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TlsClient {
    /// The SNI (DESIGN.md §3 calls it `tls.server.sni`; ECS's name is this one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_name: Option<Str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ja3: Option<Str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ja4: Option<Str>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TlsServer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ja3s: Option<Str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_after: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "is_default")]
    pub hash: Hashes,
}

/// `user.*`
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct User {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<Str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<Str>,
    /// `user.target.*`: the account acted upon (logon target, password reset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Box<UserTarget>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UserTarget {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<Str>,
}

/// `host.*`: the host the event is about or was observed on.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Host {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<Str>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ip: Vec<IpAddr>,
}

/// `email.*` (ECS 8.6+).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Email {
    #[serde(default, skip_serializing_if = "is_default")]
    pub from: Addresses,
    #[serde(default, skip_serializing_if = "is_default")]
    pub sender: Addresses,
    #[serde(default, skip_serializing_if = "is_default")]
    pub to: Addresses,
    #[serde(default, skip_serializing_if = "is_default")]
    pub cc: Addresses,
    #[serde(default, skip_serializing_if = "is_default")]
    pub reply_to: Addresses,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<Str>,
    /// `inbound`, `outbound`, `internal`, `unknown`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<Str>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Attachment>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x_mailer: Option<Str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery_timestamp: Option<Timestamp>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Addresses {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub address: Vec<Str>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Attachment {
    #[serde(default, skip_serializing_if = "is_default")]
    pub file: File,
}

/// `file.*`
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct File {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension: Option<Str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<Str>,
    #[serde(default, skip_serializing_if = "is_default")]
    pub hash: Hashes,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Hashes {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub md5: Option<Str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha1: Option<Str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<Str>,
}

/// `process.*` (Sysmon and 4688 events).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Process {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executable: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command_line: Option<String>,
}

/// `winlog.*` as Winlogbeat writes it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Winlog {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<Str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_name: Option<Str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub computer_name: Option<Str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_id: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<Str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opcode: Option<Str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keywords: Option<Str>,
    /// `EventData` (or `UserData`) name/value pairs, in document order, values as strings.
    #[serde(default, skip_serializing_if = "FieldMap::is_empty")]
    pub event_data: FieldMap,
}

/// `rule.*`: the rule that produced an upstream alert (IDS signatures).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<Str>,
}

/// `observer.*`: the sensor or appliance that produced the log.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Observer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<Str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor: Option<Str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<Str>,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<Str>,
}

/// `log.*`: where the event was read.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Log {
    #[serde(default, skip_serializing_if = "is_default")]
    pub file: LogFile,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<Str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logger: Option<Str>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LogFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<Str>,
    /// 1-based line or record number (yagura extension, for evidence references).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
}

/// An ordered string map serialized as a JSON object (Windows `EventData`).
///
/// A `Vec` rather than a tree: event data has a few dozen entries at most, and keeping
/// document order and avoiding per-node allocations beats logarithmic lookup at that size.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldMap(pub Vec<(Str, Str)>);

impl FieldMap {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Exact-name lookup.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Case-insensitive lookup (Sigma field names are case-insensitive on Windows data).
    pub fn get_ignore_case(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn insert(&mut self, name: impl Into<Str>, value: impl Into<Str>) {
        let name = name.into();
        let value = value.into();
        match self.0.iter_mut().find(|(k, _)| *k == name) {
            Some(slot) => slot.1 = value,
            None => self.0.push((name, value)),
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

impl Serialize for FieldMap {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for FieldMap {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Values may arrive as numbers, booleans or nested objects (Winlogbeat and evtx JSON
        // both do this); they are kept as their JSON text so nothing is lost.
        let map = BTreeMap::<String, serde_json::Value>::deserialize(d)?;
        Ok(FieldMap(
            map.into_iter()
                .map(|(k, v)| {
                    let v = match v {
                        serde_json::Value::String(s) => Str::from(s),
                        serde_json::Value::Null => Str::default(),
                        other => Str::from(other.to_string()),
                    };
                    (Str::from(k), v)
                })
                .collect(),
        ))
    }
}

/// One value read by dotted path.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FieldValue<'a> {
    Str(&'a str),
    UInt(u64),
    Int(i64),
    Bool(bool),
    Ip(IpAddr),
    Time(Timestamp),
    /// A value from [`Event::other`] that is not a string, integer or boolean (a float, an
    /// object).
    Json(&'a OtherValue),
}

impl FieldValue<'_> {
    /// The value as text (numbers and addresses formatted), for string matching.
    pub fn to_text(&self) -> std::borrow::Cow<'_, str> {
        use std::borrow::Cow;
        match self {
            FieldValue::Str(s) => Cow::Borrowed(s),
            FieldValue::UInt(n) => Cow::Owned(n.to_string()),
            FieldValue::Int(n) => Cow::Owned(n.to_string()),
            FieldValue::Bool(b) => Cow::Borrowed(if *b { "true" } else { "false" }),
            FieldValue::Ip(ip) => Cow::Owned(ip.to_string()),
            FieldValue::Time(t) => Cow::Owned(t.to_rfc3339()),
            FieldValue::Json(v) => match v {
                OtherValue::Str(s) => Cow::Borrowed(s.as_str()),
                other => Cow::Owned(other.to_string()),
            },
        }
    }
}

/// The kind of an indicator-bearing value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObservableKind {
    Ip,
    Domain,
    Url,
    Hash,
    Email,
    User,
    FileName,
    Ja3,
    Ja4,
}

/// An indicator-bearing value of an event and the ECS field it came from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Observable<'a> {
    pub field: &'static str,
    pub value: ObservableValue<'a>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObservableValue<'a> {
    Ip(IpAddr),
    Text(ObservableKind, &'a str),
}

impl ObservableValue<'_> {
    pub fn kind(&self) -> ObservableKind {
        match self {
            ObservableValue::Ip(_) => ObservableKind::Ip,
            ObservableValue::Text(k, _) => *k,
        }
    }
}

impl Event {
    /// Makes `self` equal to `Event::default()` again, keeping the heap buffers the next
    /// record of the same reader most likely needs: the list buffers of `dns.answers`,
    /// `dns.resolved_ip`, `host.ip` and the top level of [`Event::other`] (emptied, capacity
    /// kept). For callers that read many events into one value
    /// (`yagura_formats::FileReader::next_into`). Nothing of the old event remains visible:
    /// equality, serialization and every accessor see a default event.
    pub fn reset(&mut self) {
        let mut answers = std::mem::take(&mut self.dns.answers);
        let mut resolved = std::mem::take(&mut self.dns.resolved_ip);
        let mut host_ip = std::mem::take(&mut self.host.ip);
        let mut other = std::mem::take(&mut self.other);
        answers.clear();
        resolved.clear();
        host_ip.clear();
        other.clear();
        *self = Event::default();
        self.dns.answers = answers;
        self.dns.resolved_ip = resolved;
        self.host.ip = host_ip;
        self.other = other;
    }

    // ---- hot accessors -------------------------------------------------------------------

    pub fn org(&self) -> Option<&OrgId> {
        self.organization.id.as_ref()
    }

    pub fn dataset(&self) -> Option<&str> {
        self.event.dataset.as_deref()
    }

    pub fn src_ip(&self) -> Option<IpAddr> {
        self.source.ip
    }

    pub fn dst_ip(&self) -> Option<IpAddr> {
        self.destination.ip
    }

    pub fn dst_port(&self) -> Option<u16> {
        self.destination.port
    }

    /// The destination name of a network event: `destination.domain`, else `url.domain`,
    /// else the TLS SNI.
    pub fn dst_domain(&self) -> Option<&str> {
        self.destination
            .domain
            .as_deref()
            .or(self.url.domain.as_deref())
            .or(self.tls.client.server_name.as_deref())
    }

    pub fn url_full(&self) -> Option<&str> {
        self.url.full.as_deref()
    }

    pub fn dns_query(&self) -> Option<&str> {
        self.dns.question.name.as_deref()
    }

    pub fn sni(&self) -> Option<&str> {
        self.tls.client.server_name.as_deref()
    }

    pub fn user_name(&self) -> Option<&str> {
        self.user.name.as_deref()
    }

    pub fn host_name(&self) -> Option<&str> {
        self.host.name.as_deref()
    }

    pub fn event_id(&self) -> Option<u32> {
        self.winlog.event_id
    }

    pub fn http_method(&self) -> Option<&str> {
        self.http.request.method.as_deref()
    }

    /// Where the event was read: (`log.file.path`, `log.file.line`).
    pub fn provenance(&self) -> Option<(&str, u64)> {
        Some((self.log.file.path.as_deref()?, self.log.file.line?))
    }

    // ---- observables ---------------------------------------------------------------------

    /// Calls `f` for every indicator-bearing value: the IPs, domains, URLs, hashes, e-mail
    /// addresses, user names, file names and TLS fingerprints of the event, each with its
    /// ECS field. Values are reported as stored (readers normalize case and trailing dots).
    /// The values borrow from the event (`'a`), so callers may keep them while they hold it.
    pub fn observables<'a>(&'a self, mut f: impl FnMut(Observable<'a>)) {
        use ObservableKind as K;
        let ip = |field: &'static str, v: Option<IpAddr>, f: &mut dyn FnMut(Observable<'a>)| {
            if let Some(v) = v {
                f(Observable {
                    field,
                    value: ObservableValue::Ip(v),
                });
            }
        };
        ip("source.ip", self.source.ip, &mut f);
        ip("destination.ip", self.destination.ip, &mut f);
        for h in &self.host.ip {
            ip("host.ip", Some(*h), &mut f);
        }
        for r in &self.dns.resolved_ip {
            ip("dns.resolved_ip", Some(*r), &mut f);
        }
        let mut text = |field: &'static str, kind: K, v: Option<&'a str>| {
            if let Some(v) = v.filter(|v| !v.is_empty()) {
                f(Observable {
                    field,
                    value: ObservableValue::Text(kind, v),
                });
            }
        };
        text(
            "destination.domain",
            K::Domain,
            self.destination.domain.as_deref(),
        );
        text("source.domain", K::Domain, self.source.domain.as_deref());
        text("url.domain", K::Domain, self.url.domain.as_deref());
        text(
            "dns.question.name",
            K::Domain,
            self.dns.question.name.as_deref(),
        );
        for a in &self.dns.answers {
            if matches!(a.kind.as_deref(), Some("CNAME" | "NS" | "MX" | "PTR")) {
                text("dns.answers.data", K::Domain, a.data.as_deref());
            }
        }
        // The sparse groups (`tls`, `email`, `file`) are skipped when never written: most
        // events have none of them, and an unset group holds no values.
        let tls = self.tls.get();
        if let Some(tls) = tls {
            text(
                "tls.client.server_name",
                K::Domain,
                tls.client.server_name.as_deref(),
            );
        }
        text("url.full", K::Url, self.url.full.as_deref());
        text("user.name", K::User, self.user.name.as_deref());
        text("user.email", K::Email, self.user.email.as_deref());
        let email = self.email.get();
        if let Some(email) = email {
            for (field, list) in [
                ("email.from.address", &email.from.address),
                ("email.sender.address", &email.sender.address),
                ("email.to.address", &email.to.address),
                ("email.cc.address", &email.cc.address),
                ("email.reply_to.address", &email.reply_to.address),
            ] {
                for a in list {
                    text(field, K::Email, Some(a));
                }
            }
        }
        if let Some(file) = self.file.get() {
            text("file.name", K::FileName, file.name.as_deref());
            text("file.hash.md5", K::Hash, file.hash.md5.as_deref());
            text("file.hash.sha1", K::Hash, file.hash.sha1.as_deref());
            text("file.hash.sha256", K::Hash, file.hash.sha256.as_deref());
        }
        if let Some(email) = email {
            for a in &email.attachments {
                text(
                    "email.attachments.file.name",
                    K::FileName,
                    a.file.name.as_deref(),
                );
                text(
                    "email.attachments.file.hash.md5",
                    K::Hash,
                    a.file.hash.md5.as_deref(),
                );
                text(
                    "email.attachments.file.hash.sha1",
                    K::Hash,
                    a.file.hash.sha1.as_deref(),
                );
                text(
                    "email.attachments.file.hash.sha256",
                    K::Hash,
                    a.file.hash.sha256.as_deref(),
                );
            }
        }
        if let Some(tls) = tls {
            text("tls.client.ja3", K::Ja3, tls.client.ja3.as_deref());
            text("tls.client.ja4", K::Ja4, tls.client.ja4.as_deref());
            text("tls.server.ja3s", K::Ja3, tls.server.ja3s.as_deref());
        }
    }

    // ---- generic access by dotted path -----------------------------------------------------

    /// Calls `f` for each value at the dotted ECS `path` (several for list fields). Paths
    /// under `winlog.event_data.` match the event data name case-insensitively. Unknown
    /// typed paths fall back to [`Event::other`].
    pub fn for_each_value<'a>(&'a self, path: &str, mut f: impl FnMut(FieldValue<'a>)) {
        use FieldValue as V;
        macro_rules! s {
            ($e:expr) => {{
                if let Some(v) = $e.as_deref() {
                    f(V::Str(v));
                }
                return;
            }};
        }
        macro_rules! sr {
            ($e:expr) => {{
                if let Some(v) = $e {
                    f(V::Str(v));
                }
                return;
            }};
        }
        macro_rules! u {
            ($e:expr) => {{
                if let Some(v) = $e {
                    f(V::UInt(u64::from(v)));
                }
                return;
            }};
        }
        macro_rules! list {
            ($e:expr) => {{
                for v in $e.iter() {
                    f(V::Str(v));
                }
                return;
            }};
        }
        match path {
            "@timestamp" => return f(V::Time(self.timestamp)),
            "organization.id" => sr!(self.organization.id.as_ref().map(OrgId::as_str)),
            "organization.name" => s!(self.organization.name),
            "event.id" => s!(self.event.id),
            "event.dataset" => s!(self.event.dataset),
            "event.module" => s!(self.event.module),
            "event.provider" => s!(self.event.provider),
            "event.kind" => s!(self.event.kind),
            "event.category" => list!(self.event.category),
            "event.type" => list!(self.event.kind_type),
            "event.outcome" => s!(self.event.outcome),
            "event.action" => s!(self.event.action),
            "event.code" => s!(self.event.code),
            "event.severity" => {
                if let Some(v) = self.event.severity {
                    f(V::Int(v));
                }
                return;
            }
            "message" => s!(self.message),
            "tags" => list!(self.tags),
            "network.transport" => s!(self.network.transport),
            "network.protocol" => s!(self.network.protocol),
            "network.bytes" => u!(self.network.bytes),
            "network.packets" => u!(self.network.packets),
            "network.direction" => s!(self.network.direction),
            "network.community_id" => s!(self.network.community_id),
            "url.full" => s!(self.url.full),
            "url.original" => s!(self.url.original),
            "url.scheme" => s!(self.url.scheme),
            "url.domain" => s!(self.url.domain),
            "url.port" => u!(self.url.port),
            "url.path" => s!(self.url.path),
            "url.query" => s!(self.url.query),
            "url.extension" => s!(self.url.extension),
            "http.version" => s!(self.http.version),
            "http.request.method" => s!(self.http.request.method),
            "http.request.bytes" => u!(self.http.request.bytes),
            "http.request.referrer" => s!(self.http.request.referrer),
            "http.request.mime_type" => s!(self.http.request.mime_type),
            "http.response.status_code" => u!(self.http.response.status_code),
            "http.response.bytes" => u!(self.http.response.bytes),
            "http.response.mime_type" => s!(self.http.response.mime_type),
            "user_agent.original" => s!(self.user_agent.original),
            "dns.id" => s!(self.dns.id),
            "dns.type" => s!(self.dns.kind),
            "dns.question.name" => s!(self.dns.question.name),
            "dns.question.type" => s!(self.dns.question.kind),
            "dns.question.class" => s!(self.dns.question.class),
            "dns.question.registered_domain" => s!(self.dns.question.registered_domain),
            "dns.response_code" => s!(self.dns.response_code),
            "dns.answers.data" => {
                self.dns
                    .answers
                    .iter()
                    .filter_map(|a| a.data.as_deref())
                    .for_each(|v| f(V::Str(v)));
                return;
            }
            "dns.answers.name" => {
                self.dns
                    .answers
                    .iter()
                    .filter_map(|a| a.name.as_deref())
                    .for_each(|v| f(V::Str(v)));
                return;
            }
            "dns.answers.type" => {
                self.dns
                    .answers
                    .iter()
                    .filter_map(|a| a.kind.as_deref())
                    .for_each(|v| f(V::Str(v)));
                return;
            }
            "dns.resolved_ip" => return self.dns.resolved_ip.iter().for_each(|ip| f(V::Ip(*ip))),
            "dns.header_flags" => list!(self.dns.header_flags),
            "tls.version" => s!(self.tls.version),
            "tls.cipher" => s!(self.tls.cipher),
            "tls.established" => {
                if let Some(b) = self.tls.established {
                    f(V::Bool(b));
                }
                return;
            }
            "tls.client.server_name" | "tls.server.sni" => s!(self.tls.client.server_name),
            "tls.client.ja3" => s!(self.tls.client.ja3),
            "tls.client.ja4" => s!(self.tls.client.ja4),
            "tls.server.ja3s" => s!(self.tls.server.ja3s),
            "tls.server.subject" => s!(self.tls.server.subject),
            "tls.server.issuer" => s!(self.tls.server.issuer),
            "user.name" => s!(self.user.name),
            "user.domain" => s!(self.user.domain),
            "user.id" => s!(self.user.id),
            "user.email" => s!(self.user.email),
            "user.target.name" => sr!(self.user.target.as_ref().and_then(|t| t.name.as_deref())),
            "user.target.domain" => {
                sr!(self.user.target.as_ref().and_then(|t| t.domain.as_deref()))
            }
            "host.name" => s!(self.host.name),
            "host.hostname" => s!(self.host.hostname),
            "host.ip" => return self.host.ip.iter().for_each(|ip| f(V::Ip(*ip))),
            "email.from.address" => list!(self.email.from.address),
            "email.sender.address" => list!(self.email.sender.address),
            "email.to.address" => list!(self.email.to.address),
            "email.cc.address" => list!(self.email.cc.address),
            "email.reply_to.address" => list!(self.email.reply_to.address),
            "email.subject" => s!(self.email.subject),
            "email.message_id" => s!(self.email.message_id),
            "email.direction" => s!(self.email.direction),
            "email.x_mailer" => s!(self.email.x_mailer),
            "email.attachments.file.name" => {
                self.email
                    .attachments
                    .iter()
                    .filter_map(|a| a.file.name.as_deref())
                    .for_each(|v| f(V::Str(v)));
                return;
            }
            "email.attachments.file.hash.sha256" => {
                self.email
                    .attachments
                    .iter()
                    .filter_map(|a| a.file.hash.sha256.as_deref())
                    .for_each(|v| f(V::Str(v)));
                return;
            }
            "email.attachments.file.hash.md5" => {
                self.email
                    .attachments
                    .iter()
                    .filter_map(|a| a.file.hash.md5.as_deref())
                    .for_each(|v| f(V::Str(v)));
                return;
            }
            "file.name" => s!(self.file.name),
            "file.path" => s!(self.file.path),
            "file.extension" => s!(self.file.extension),
            "file.size" => u!(self.file.size),
            "file.mime_type" => s!(self.file.mime_type),
            "file.hash.md5" => s!(self.file.hash.md5),
            "file.hash.sha1" => s!(self.file.hash.sha1),
            "file.hash.sha256" => s!(self.file.hash.sha256),
            "process.pid" => u!(self.process.pid),
            "process.name" => s!(self.process.name),
            "process.executable" => s!(self.process.executable),
            "process.command_line" => s!(self.process.command_line),
            "winlog.event_id" => u!(self.winlog.event_id),
            "winlog.channel" => s!(self.winlog.channel),
            "winlog.provider_name" => s!(self.winlog.provider_name),
            "winlog.computer_name" => s!(self.winlog.computer_name),
            "winlog.record_id" => u!(self.winlog.record_id),
            "winlog.task" => s!(self.winlog.task),
            "winlog.opcode" => s!(self.winlog.opcode),
            "winlog.keywords" => s!(self.winlog.keywords),
            "rule.id" => s!(self.rule.id),
            "rule.name" => s!(self.rule.name),
            "rule.category" => s!(self.rule.category),
            "observer.name" => s!(self.observer.name),
            "observer.hostname" => s!(self.observer.hostname),
            "observer.vendor" => s!(self.observer.vendor),
            "observer.product" => s!(self.observer.product),
            "observer.type" => s!(self.observer.kind),
            "log.file.path" => s!(self.log.file.path),
            "log.file.line" => u!(self.log.file.line),
            "log.level" => s!(self.log.level),
            "log.logger" => s!(self.log.logger),
            _ => {}
        }
        if let Some(rest) = path.strip_prefix("source.") {
            return endpoint_field(&self.source, rest, f);
        }
        if let Some(rest) = path.strip_prefix("destination.") {
            return endpoint_field(&self.destination, rest, f);
        }
        if let Some(name) = path.strip_prefix("winlog.event_data.") {
            if let Some(v) = self.winlog.event_data.get_ignore_case(name) {
                f(V::Str(v));
            }
            return;
        }
        json_path(&self.other, path, &mut f);
    }

    /// The first value at `path`, if any.
    pub fn first_value(&self, path: &str) -> Option<FieldValue<'_>> {
        let mut out = None;
        self.for_each_value(path, |v| {
            if out.is_none() {
                out = Some(v);
            }
        });
        out
    }

    /// Sets a value under [`Event::other`] by dotted path (each dot separates two keys),
    /// creating objects on the way. Returns false when a non-object is in the way.
    pub fn set_other(&mut self, path: &str, value: OtherValue) -> bool {
        self.other.set_path(path, value)
    }
}

fn endpoint_field<'a>(e: &'a Endpoint, field: &str, f: impl FnMut(FieldValue<'a>)) {
    use FieldValue as V;
    match field {
        "ip" => e.ip.map(V::Ip).into_iter().for_each(f),
        "port" => e
            .port
            .map(|p| V::UInt(u64::from(p)))
            .into_iter()
            .for_each(f),
        "domain" => e.domain.as_deref().map(V::Str).into_iter().for_each(f),
        "address" => e.address.as_deref().map(V::Str).into_iter().for_each(f),
        "bytes" => e.bytes.map(V::UInt).into_iter().for_each(f),
        "packets" => e.packets.map(V::UInt).into_iter().for_each(f),
        "mac" => e.mac.as_deref().map(V::Str).into_iter().for_each(f),
        _ => {}
    }
}

fn json_path<'a>(root: &'a Other, path: &str, f: &mut impl FnMut(FieldValue<'a>)) {
    // Keys may themselves contain dots (Zeek's `id.orig_h` kept verbatim), so try the whole
    // remaining path as one key before descending.
    fn walk<'a>(v: &'a OtherValue, path: &str, f: &mut impl FnMut(FieldValue<'a>)) {
        if path.is_empty() {
            return emit(v, f);
        }
        match v {
            OtherValue::Object(m) => walk_map(m, path, f),
            OtherValue::Array(items) => items.iter().for_each(|i| walk(i, path, f)),
            _ => {}
        }
    }
    fn walk_map<'a>(m: &'a Other, path: &str, f: &mut impl FnMut(FieldValue<'a>)) {
        if let Some(v) = m.get(path) {
            return emit(v, f);
        }
        let mut split = 0;
        while let Some(dot) = path.get(split..).and_then(|p| p.find('.')) {
            let (head, tail) = (&path[..split + dot], &path[split + dot + 1..]);
            if let Some(v) = m.get(head) {
                walk(v, tail, f);
                return;
            }
            split += dot + 1;
        }
    }
    fn emit<'a>(v: &'a OtherValue, f: &mut impl FnMut(FieldValue<'a>)) {
        match v {
            OtherValue::Null => {}
            OtherValue::Str(s) => f(FieldValue::Str(s)),
            OtherValue::Bool(b) => f(FieldValue::Bool(*b)),
            OtherValue::UInt(u) => f(FieldValue::UInt(*u)),
            OtherValue::Int(i) => f(FieldValue::Int(*i)),
            OtherValue::Float(_) | OtherValue::Object(_) => f(FieldValue::Json(v)),
            OtherValue::Array(items) => items.iter().for_each(|i| emit(i, f)),
        }
    }
    walk_map(root, path, f);
}

#[cfg(test)]
mod tests;
