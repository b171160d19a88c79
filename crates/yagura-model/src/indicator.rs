//! Indicators of compromise (the data; normalization and matching live in `yagura-intel`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{Timestamp, Tlp};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IndicatorKind {
    Ipv4,
    Ipv6,
    /// An IPv4 or IPv6 network in CIDR notation.
    Cidr,
    /// A registered domain: matches itself and every subdomain.
    Domain,
    /// One host name: matches exactly.
    Hostname,
    Url,
    Md5,
    Sha1,
    Sha256,
    Email,
    FileName,
    Ja3,
    Ja4,
}

impl IndicatorKind {
    pub const ALL: [IndicatorKind; 13] = [
        IndicatorKind::Ipv4,
        IndicatorKind::Ipv6,
        IndicatorKind::Cidr,
        IndicatorKind::Domain,
        IndicatorKind::Hostname,
        IndicatorKind::Url,
        IndicatorKind::Md5,
        IndicatorKind::Sha1,
        IndicatorKind::Sha256,
        IndicatorKind::Email,
        IndicatorKind::FileName,
        IndicatorKind::Ja3,
        IndicatorKind::Ja4,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            IndicatorKind::Ipv4 => "ipv4",
            IndicatorKind::Ipv6 => "ipv6",
            IndicatorKind::Cidr => "cidr",
            IndicatorKind::Domain => "domain",
            IndicatorKind::Hostname => "hostname",
            IndicatorKind::Url => "url",
            IndicatorKind::Md5 => "md5",
            IndicatorKind::Sha1 => "sha1",
            IndicatorKind::Sha256 => "sha256",
            IndicatorKind::Email => "email",
            IndicatorKind::FileName => "file-name",
            IndicatorKind::Ja3 => "ja3",
            IndicatorKind::Ja4 => "ja4",
        }
    }
}

impl fmt::Display for IndicatorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown indicator kind {0:?}")]
pub struct UnknownIndicatorKind(pub String);

impl FromStr for IndicatorKind {
    type Err = UnknownIndicatorKind;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        IndicatorKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownIndicatorKind(s.to_owned()))
    }
}

/// One indicator with its provenance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Indicator {
    pub kind: IndicatorKind,
    /// Normalized value (lower case, punycode, no trailing dot, RFC 3986 URL normalization).
    pub value: String,
    /// Destination port the indicator is restricted to (maltrail `ip:port` trails, STIX
    /// `network-traffic:dst_port`); `None` matches every port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// The feed or partner it came from.
    pub source: String,
    /// 0–100.
    pub confidence: u8,
    pub tlp: Tlp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<Timestamp>,
    /// Expiry: after this the indicator no longer matches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<Timestamp>,
    /// Malware family, ATT&CK ids, free tags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// May be deployed to detection (MISP's `to_ids`).
    #[serde(default = "yes")]
    pub to_ids: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

fn yes() -> bool {
    true
}

impl Indicator {
    /// Is the indicator in force at event time `t`?
    pub fn valid_at(&self, t: Timestamp) -> bool {
        self.valid_from.is_none_or(|from| t >= from)
            && self.valid_until.is_none_or(|until| t < until)
    }
}
