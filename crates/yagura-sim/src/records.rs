//! Format-independent activity records.
//!
//! Benign generators and campaigns both produce these; [`crate::render`] turns each into the
//! line its organization's sensor would write. String fields are generic (`&str` on the hot
//! benign path, `String` for injected campaign activity held until its hour is written).

use std::net::Ipv4Addr;

use smallvec::SmallVec;

/// A web transaction as a proxy (or an inline sensor) sees it.
#[derive(Debug, Clone)]
pub struct Web<S> {
    pub ts: i64,
    pub client: Ipv4Addr,
    pub client_port: u16,
    /// Authenticated proxy user, if any.
    pub user: Option<S>,
    /// `GET`, `POST`, `CONNECT`, …
    pub method: &'static str,
    pub host: S,
    pub port: u16,
    /// Path and query (`/a/b?c=d`); ignored for `CONNECT`.
    pub path: S,
    pub status: u16,
    pub req_bytes: u64,
    pub resp_bytes: u64,
    pub mime: &'static str,
    pub user_agent: S,
    pub dst: Ipv4Addr,
    pub elapsed_ms: u32,
    /// Refused by the proxy (`TCP_DENIED`).
    pub denied: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QType {
    A,
    Aaaa,
    Txt,
    Mx,
    Srv,
    Ptr,
}

impl QType {
    pub fn code(self) -> u16 {
        match self {
            QType::A => 1,
            QType::Aaaa => 28,
            QType::Txt => 16,
            QType::Mx => 15,
            QType::Srv => 33,
            QType::Ptr => 12,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            QType::A => "A",
            QType::Aaaa => "AAAA",
            QType::Txt => "TXT",
            QType::Mx => "MX",
            QType::Srv => "SRV",
            QType::Ptr => "PTR",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rcode {
    NoError,
    NxDomain,
    ServFail,
}

impl Rcode {
    pub fn code(self) -> u16 {
        match self {
            Rcode::NoError => 0,
            Rcode::ServFail => 2,
            Rcode::NxDomain => 3,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Rcode::NoError => "NOERROR",
            Rcode::ServFail => "SERVFAIL",
            Rcode::NxDomain => "NXDOMAIN",
        }
    }
}

/// A DNS query and its response, as seen at the internal resolver.
#[derive(Debug, Clone)]
pub struct Dns<S> {
    pub ts: i64,
    pub client: Ipv4Addr,
    pub client_port: u16,
    pub server: Ipv4Addr,
    pub trans_id: u16,
    pub query: S,
    pub qtype: QType,
    pub rcode: Rcode,
    /// Answer data (addresses, CNAME targets, TXT strings).
    pub answers: SmallVec<[S; 2]>,
    pub ttl: u32,
    pub rtt_us: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    Tcp,
    Udp,
    Icmp,
}

impl Proto {
    pub fn zeek(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
            Proto::Icmp => "icmp",
        }
    }
    pub fn upper(self) -> &'static str {
        match self {
            Proto::Tcp => "TCP",
            Proto::Udp => "UDP",
            Proto::Icmp => "ICMP",
        }
    }
}

/// A connection summary (Zeek `conn`, Suricata `flow`).
#[derive(Debug, Clone)]
pub struct Flow {
    pub ts: i64,
    pub src: Ipv4Addr,
    pub src_port: u16,
    pub dst: Ipv4Addr,
    pub dst_port: u16,
    pub proto: Proto,
    /// Application protocol (`http`, `ssl`, `dns`, `smtp`), if recognised.
    pub service: Option<&'static str>,
    pub duration_us: u64,
    pub orig_bytes: u64,
    pub resp_bytes: u64,
    pub orig_pkts: u64,
    pub resp_pkts: u64,
    /// Zeek `conn_state` (`SF`, `S0`, `REJ`, …).
    pub state: &'static str,
}

/// Windows Security-log authentication events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthKind {
    /// 4624.
    Logon { logon_type: u8, ntlm: bool },
    /// 4625; `sub_status` e.g. `0xc000006a` (bad password), `0xc0000064` (no such user).
    LogonFailed { logon_type: u8, sub_status: u32 },
    /// 4768 (TGT requested).
    Tgt,
    /// 4769 (service ticket for `service`).
    ServiceTicket,
    /// 4771 (Kerberos pre-authentication failed, `0x18` = bad password).
    PreAuthFailed,
    /// 4776 (NTLM credential validation).
    NtlmValidation { status: u32 },
    /// 4672 (special privileges assigned to a new logon).
    SpecialPrivileges,
}

impl AuthKind {
    pub fn event_id(&self) -> u16 {
        match self {
            AuthKind::Logon { .. } => 4624,
            AuthKind::LogonFailed { .. } => 4625,
            AuthKind::Tgt => 4768,
            AuthKind::ServiceTicket => 4769,
            AuthKind::PreAuthFailed => 4771,
            AuthKind::NtlmValidation { .. } => 4776,
            AuthKind::SpecialPrivileges => 4672,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Auth<S> {
    pub ts: i64,
    pub kind: AuthKind,
    /// The computer that logged the event (a DC, or a member server/PC via event forwarding).
    pub computer: S,
    pub user: S,
    pub domain: S,
    pub ip: Option<Ipv4Addr>,
    pub port: u16,
    pub workstation: S,
    /// 4769's service (`cifs/pc-0012`, `srv01$`), empty otherwise.
    pub service: S,
}

#[derive(Debug, Clone)]
pub struct Attachment<S> {
    pub name: S,
    pub size: u64,
    pub mime: &'static str,
    pub md5: S,
    pub sha1: S,
    pub sha256: S,
}

/// A message received by the mail gateway (`yagura-mailgw` v1).
#[derive(Debug, Clone)]
pub struct Mail<S> {
    pub ts: i64,
    pub gateway: S,
    pub queue_id: S,
    pub message_id: S,
    pub client_ip: Ipv4Addr,
    pub client_hostname: S,
    pub envelope_from: S,
    pub header_from: S,
    pub recipients: Vec<S>,
    pub subject: S,
    pub size: u64,
    pub attachments: Vec<Attachment<S>>,
    pub links: Vec<S>,
    pub spf: &'static str,
    pub dkim: &'static str,
    pub dmarc: &'static str,
    pub verdict: &'static str,
}

/// An IDS signature hit (Suricata `alert`).
#[derive(Debug, Clone)]
pub struct IdsAlert<S> {
    pub ts: i64,
    pub src: Ipv4Addr,
    pub src_port: u16,
    pub dst: Ipv4Addr,
    pub dst_port: u16,
    pub proto: Proto,
    pub sid: u32,
    pub signature: S,
    pub category: S,
    pub severity: u8,
    pub hostname: Option<S>,
}

/// A firewall decision (syslog).
#[derive(Debug, Clone)]
pub struct Fw {
    pub ts: i64,
    pub allow: bool,
    pub src: Ipv4Addr,
    pub src_port: u16,
    pub dst: Ipv4Addr,
    pub dst_port: u16,
    pub proto: Proto,
    pub rule: &'static str,
}

/// Any activity, owned (campaign injections).
#[derive(Debug, Clone)]
pub enum Activity {
    Web(Web<String>),
    Dns(Dns<String>),
    Flow(Flow),
    Auth(Auth<String>),
    Mail(Mail<String>),
    Ids(IdsAlert<String>),
    Fw(Fw),
}

impl Activity {
    pub fn ts(&self) -> i64 {
        match self {
            Activity::Web(r) => r.ts,
            Activity::Dns(r) => r.ts,
            Activity::Flow(r) => r.ts,
            Activity::Auth(r) => r.ts,
            Activity::Mail(r) => r.ts,
            Activity::Ids(r) => r.ts,
            Activity::Fw(r) => r.ts,
        }
    }
}
