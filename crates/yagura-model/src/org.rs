//! Organizations: the monitored estate and the centers that monitor it.

use std::fmt;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::OrgId;

/// What an organization is (DESIGN.md §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OrgKind {
    /// A monitoring center (the central center or a delegated one).
    Center,
    Ministry,
    /// Incorporated administrative agency.
    Agency,
    DesignatedCorporation,
    LocalGovernment,
    /// Critical-infrastructure operator.
    CiOperator,
}

impl OrgKind {
    pub const ALL: [OrgKind; 6] = [
        OrgKind::Center,
        OrgKind::Ministry,
        OrgKind::Agency,
        OrgKind::DesignatedCorporation,
        OrgKind::LocalGovernment,
        OrgKind::CiOperator,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrgKind::Center => "center",
            OrgKind::Ministry => "ministry",
            OrgKind::Agency => "agency",
            OrgKind::DesignatedCorporation => "designated-corporation",
            OrgKind::LocalGovernment => "local-government",
            OrgKind::CiOperator => "ci-operator",
        }
    }
}

impl fmt::Display for OrgKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The 13 critical-infrastructure sectors of the policy (DESIGN.md §1), in kebab-case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Sector {
    InformationCommunications,
    Finance,
    Aviation,
    Railways,
    ElectricPower,
    Gas,
    /// Government and administrative services, including local governments.
    Government,
    Medical,
    Water,
    Logistics,
    Chemicals,
    CreditCards,
    Petroleum,
}

impl Sector {
    pub const ALL: [Sector; 13] = [
        Sector::InformationCommunications,
        Sector::Finance,
        Sector::Aviation,
        Sector::Railways,
        Sector::ElectricPower,
        Sector::Gas,
        Sector::Government,
        Sector::Medical,
        Sector::Water,
        Sector::Logistics,
        Sector::Chemicals,
        Sector::CreditCards,
        Sector::Petroleum,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Sector::InformationCommunications => "information-communications",
            Sector::Finance => "finance",
            Sector::Aviation => "aviation",
            Sector::Railways => "railways",
            Sector::ElectricPower => "electric-power",
            Sector::Gas => "gas",
            Sector::Government => "government",
            Sector::Medical => "medical",
            Sector::Water => "water",
            Sector::Logistics => "logistics",
            Sector::Chemicals => "chemicals",
            Sector::CreditCards => "credit-cards",
            Sector::Petroleum => "petroleum",
        }
    }

    pub fn parse(s: &str) -> Option<Sector> {
        Sector::ALL.into_iter().find(|sector| sector.as_str() == s)
    }
}

impl fmt::Display for Sector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One organization of the inventory, validated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Organization {
    pub id: OrgId,
    pub name: String,
    pub kind: OrgKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sector: Option<Sector>,
    /// The center that monitors (and supervises) this organization; `None` for the root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitored_by: Option<OrgId>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub internal_networks: Vec<IpNet>,
    /// Sanctioned internet connection points (proxies, NAT gateways).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub egress_gateways: Vec<std::net::IpAddr>,
    /// Networks that must never reach the internet.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub isolated_networks: Vec<IpNet>,
}

impl Organization {
    pub fn is_center(&self) -> bool {
        self.kind == OrgKind::Center
    }
}
