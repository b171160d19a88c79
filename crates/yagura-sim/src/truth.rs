//! Ground truth of an exercise (`truth.jsonl`, DESIGN.md §4).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use yagura_model::{Entities, OrgId, Timestamp};

/// The contract's kinds of injected activity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TruthKind {
    TargetedEmail,
    MalwareDownload,
    C2Beacon,
    DnsTunnel,
    Dga,
    Exfiltration,
    LateralMovement,
    PasswordSpray,
    BruteForce,
    SeparationViolation,
    UnsanctionedEgress,
    IocContact,
}

impl TruthKind {
    pub const ALL: [TruthKind; 12] = [
        TruthKind::TargetedEmail,
        TruthKind::MalwareDownload,
        TruthKind::C2Beacon,
        TruthKind::DnsTunnel,
        TruthKind::Dga,
        TruthKind::Exfiltration,
        TruthKind::LateralMovement,
        TruthKind::PasswordSpray,
        TruthKind::BruteForce,
        TruthKind::SeparationViolation,
        TruthKind::UnsanctionedEgress,
        TruthKind::IocContact,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TruthKind::TargetedEmail => "targeted_email",
            TruthKind::MalwareDownload => "malware_download",
            TruthKind::C2Beacon => "c2_beacon",
            TruthKind::DnsTunnel => "dns_tunnel",
            TruthKind::Dga => "dga",
            TruthKind::Exfiltration => "exfiltration",
            TruthKind::LateralMovement => "lateral_movement",
            TruthKind::PasswordSpray => "password_spray",
            TruthKind::BruteForce => "brute_force",
            TruthKind::SeparationViolation => "separation_violation",
            TruthKind::UnsanctionedEgress => "unsanctioned_egress",
            TruthKind::IocContact => "ioc_contact",
        }
    }
}

impl fmt::Display for TruthKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TruthKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TruthKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown truth kind {s:?} (expected one of {})",
                    TruthKind::ALL.map(TruthKind::as_str).join(", ")
                )
            })
    }
}

/// One injected activity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TruthItem {
    pub id: String,
    pub org: OrgId,
    pub kind: TruthKind,
    pub start: Timestamp,
    pub end: Timestamp,
    #[serde(default)]
    pub entities: Entities,
    #[serde(default)]
    pub description: String,
    /// The campaign (scenario entry) the item belongs to (yagura extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contract_example_round_trips() {
        let line = r#"{"id":"t-01","org":"moh","kind":"c2_beacon","start":"2026-01-05T01:00:00Z","end":"2026-01-05T03:00:00Z","entities":{"host":"pc-0012","src_ip":"10.10.3.4","domain":"cdn-upd.net"},"description":"beacon"}"#;
        let t: TruthItem = serde_json::from_str(line).unwrap();
        assert_eq!(t.kind, TruthKind::C2Beacon);
        assert_eq!(serde_json::to_string(&t).unwrap(), line);
        for k in TruthKind::ALL {
            let s = serde_json::to_string(&k).unwrap();
            assert_eq!(s, format!("\"{}\"", k.as_str()));
            assert_eq!(k.as_str().parse::<TruthKind>().unwrap(), k);
        }
    }
}
