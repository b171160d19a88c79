//! Incidents: correlated alerts of one organization, with a lifecycle; campaigns: incidents
//! of several organizations linked by shared infrastructure.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{OrgId, Severity, Timestamp};

/// The incident lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IncidentStatus {
    New,
    Triage,
    Investigating,
    Contained,
    Eradicated,
    Recovered,
    Closed,
}

impl IncidentStatus {
    pub const ALL: [IncidentStatus; 7] = [
        IncidentStatus::New,
        IncidentStatus::Triage,
        IncidentStatus::Investigating,
        IncidentStatus::Contained,
        IncidentStatus::Eradicated,
        IncidentStatus::Recovered,
        IncidentStatus::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            IncidentStatus::New => "new",
            IncidentStatus::Triage => "triage",
            IncidentStatus::Investigating => "investigating",
            IncidentStatus::Contained => "contained",
            IncidentStatus::Eradicated => "eradicated",
            IncidentStatus::Recovered => "recovered",
            IncidentStatus::Closed => "closed",
        }
    }

    pub fn is_open(self) -> bool {
        self != IncidentStatus::Closed
    }

    /// Allowed moves: forward through the lifecycle (steps may be skipped), back to
    /// investigating from any later open state (new evidence), and reopening a closed one.
    pub fn can_move_to(self, next: IncidentStatus) -> bool {
        use IncidentStatus::*;
        match (self, next) {
            (a, b) if a == b => false,
            (Closed, Investigating) => true,
            (Closed, _) => false,
            (a, b) if b > a => true,
            (Contained | Eradicated | Recovered, Investigating) => true,
            _ => false,
        }
    }
}

impl fmt::Display for IncidentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown incident status {0:?}")]
pub struct UnknownStatus(pub String);

impl FromStr for IncidentStatus {
    type Err = UnknownStatus;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        IncidentStatus::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| UnknownStatus(s.to_owned()))
    }
}

/// An incident of one organization.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    pub id: String,
    pub org: OrgId,
    pub title: String,
    pub severity: Severity,
    pub status: IncidentStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<String>,
    /// Earliest and latest event time of its alerts.
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    pub created: Timestamp,
    pub updated: Timestamp,
    /// Alert ids, in time order.
    #[serde(default)]
    pub alert_ids: Vec<String>,
    /// Hosts, users and destinations involved.
    #[serde(default)]
    pub hosts: Vec<String>,
    #[serde(default)]
    pub users: Vec<String>,
    #[serde(default)]
    pub destinations: Vec<String>,
    /// The campaign linking incidents of several organizations that share infrastructure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign_id: Option<String>,
}

/// Incidents of several organizations that share attacker infrastructure (the same C2
/// domain or public address).
///
/// Tenancy: a campaign spans organizations, so a reader sees it only through the incidents
/// in their scope; stores return `orgs` and `incident_ids` narrowed to the caller's scope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Campaign {
    pub id: String,
    pub title: String,
    /// The highest severity of its incidents.
    pub severity: Severity,
    /// Earliest and latest event time of its incidents.
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    pub created: Timestamp,
    pub updated: Timestamp,
    /// The shared infrastructure: domains and public addresses seen by two or more of its
    /// organizations.
    pub infrastructure: Vec<String>,
    /// Organizations involved, sorted.
    pub orgs: Vec<OrgId>,
    /// Its incidents, sorted by id.
    pub incident_ids: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use IncidentStatus::*;

    #[test]
    fn lifecycle_moves() {
        assert!(New.can_move_to(Triage));
        assert!(New.can_move_to(Closed));
        assert!(Contained.can_move_to(Investigating));
        assert!(Closed.can_move_to(Investigating));
        assert!(!Closed.can_move_to(New));
        assert!(!Recovered.can_move_to(Triage));
        assert!(!Triage.can_move_to(Triage));
        for s in IncidentStatus::ALL {
            assert_eq!(s.as_str().parse::<IncidentStatus>(), Ok(s));
        }
    }
}
