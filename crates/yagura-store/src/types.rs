//! Records and query parameters of the state store.

use serde::{Deserialize, Serialize};
use yagura_model::{Alert, Detector, IncidentStatus, OrgId, Role, Severity, Timestamp};

/// A user to create. `password_hash` is an opaque PHC string (argon2id, hashed by the caller).
#[derive(Debug, Clone)]
pub struct NewUser {
    pub name: String,
    pub display_name: String,
    pub org: OrgId,
    pub role: Role,
    pub password_hash: String,
}

/// A user as listed (no credential).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: i64,
    pub name: String,
    pub display_name: String,
    pub org: OrgId,
    pub role: Role,
    pub disabled: bool,
    pub created: Timestamp,
}

/// A user with the credential hash, for authentication only.
#[derive(Debug, Clone)]
pub struct UserRecord {
    pub user: User,
    pub password_hash: String,
}

#[derive(Debug, Clone)]
pub struct NewToken {
    pub name: String,
    pub org: OrgId,
    pub role: Role,
    /// Hash of the secret (the secret itself is never stored).
    pub token_hash: String,
    /// Scopes granted, e.g. `ingest`, `read`, `write`.
    pub scopes: Vec<String>,
    pub expires: Option<Timestamp>,
    pub created_by: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiToken {
    pub id: i64,
    pub name: String,
    pub org: OrgId,
    pub role: Role,
    #[serde(skip_serializing)]
    pub token_hash: String,
    pub scopes: Vec<String>,
    pub expires: Option<Timestamp>,
    pub revoked: bool,
    pub created: Timestamp,
    pub created_by: String,
}

impl ApiToken {
    /// Usable at `now`: not revoked, not expired.
    pub fn is_active(&self, now: Timestamp) -> bool {
        !self.revoked && self.expires.is_none_or(|e| now < e)
    }
}

/// Triage state of an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AlertStatus {
    New,
    Acknowledged,
    InProgress,
    FalsePositive,
    Resolved,
}

impl AlertStatus {
    pub const ALL: [AlertStatus; 5] = [
        AlertStatus::New,
        AlertStatus::Acknowledged,
        AlertStatus::InProgress,
        AlertStatus::FalsePositive,
        AlertStatus::Resolved,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatus::New => "new",
            AlertStatus::Acknowledged => "acknowledged",
            AlertStatus::InProgress => "in-progress",
            AlertStatus::FalsePositive => "false-positive",
            AlertStatus::Resolved => "resolved",
        }
    }

    pub fn parse(s: &str) -> Option<AlertStatus> {
        AlertStatus::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

/// An alert with its triage state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredAlert {
    #[serde(flatten)]
    pub alert: Alert,
    pub status: AlertStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident_id: Option<String>,
}

/// Alert list filter; every field narrows, `None` means any.
#[derive(Debug, Clone, Default)]
pub struct AlertFilter {
    pub org: Option<OrgId>,
    pub min_severity: Option<Severity>,
    pub detector: Option<Detector>,
    pub rule_id: Option<String>,
    pub status: Option<AlertStatus>,
    /// `time >= since`
    pub since: Option<Timestamp>,
    /// `time < until`
    pub until: Option<Timestamp>,
    /// Substring of title or summary.
    pub text: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct IncidentFilter {
    pub org: Option<OrgId>,
    pub status: Option<IncidentStatus>,
    pub open_only: bool,
    pub campaign_id: Option<String>,
}

/// Offset pagination; `limit` is capped at [`Page::MAX_LIMIT`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub offset: u64,
    pub limit: u64,
}

impl Page {
    pub const MAX_LIMIT: u64 = 1000;

    pub fn first(limit: u64) -> Page {
        Page { offset: 0, limit }
    }

    pub(crate) fn clamped_limit(&self) -> i64 {
        self.limit.min(Page::MAX_LIMIT) as i64
    }
}

impl Default for Page {
    fn default() -> Self {
        Page {
            offset: 0,
            limit: 100,
        }
    }
}

/// An audit record to append.
#[derive(Debug, Clone)]
pub struct NewAuditRecord {
    pub time: Timestamp,
    /// User or token name, or `system`.
    pub actor: String,
    /// The organization whose data the action concerns.
    pub org: OrgId,
    /// Dotted verb, e.g. `alert.status`, `user.create`, `advisory.acknowledge`.
    pub action: String,
    pub target: String,
    pub details: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub id: i64,
    pub time: Timestamp,
    pub actor: String,
    pub org: OrgId,
    pub action: String,
    pub target: String,
    pub details: serde_json::Value,
}
