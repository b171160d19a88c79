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

/// An alert row as stored: the alert's JSON document (DESIGN.md §4, exactly as
/// `serde_json` wrote it) with the triage columns beside it. Lists that only pass alerts on
/// (the API) send the document as it is instead of decoding and re-encoding it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertJson {
    pub id: String,
    pub time: Timestamp,
    pub status: AlertStatus,
    pub incident_id: Option<String>,
    /// The stored document: one JSON object holding at least `id`.
    pub body: String,
}

impl AlertJson {
    /// The row borrowed (what [`crate::StateStore::visit_alerts_json`] hands out).
    pub fn as_ref(&self) -> AlertJsonRef<'_> {
        AlertJsonRef {
            id: &self.id,
            time: self.time,
            status: self.status,
            incident_id: self.incident_id.as_deref(),
            body: self.body.as_bytes(),
        }
    }

    /// The position of this alert in the list order (for keyset pagination).
    pub fn cursor(&self) -> AlertCursor {
        self.as_ref().cursor()
    }

    /// See [`AlertJsonRef::write_json`].
    pub fn write_json(&self, out: &mut Vec<u8>) {
        self.as_ref().write_json(out)
    }

    /// See [`AlertJsonRef::json_len_hint`].
    pub fn json_len_hint(&self) -> usize {
        self.as_ref().json_len_hint()
    }
}

/// An [`AlertJson`] borrowed from the database row it was read from: the list is written
/// from these without a copy of each document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlertJsonRef<'a> {
    pub id: &'a str,
    pub time: Timestamp,
    pub status: AlertStatus,
    pub incident_id: Option<&'a str>,
    /// The stored document: one JSON object holding at least `id`, as the bytes SQLite
    /// holds. They are copied into responses as they are: the store writes every body with
    /// `serde_json` (valid UTF-8), and checking the encoding of each ~700-byte document on
    /// every list was ≈ 5 % of a list request's instructions (BENCHMARKS.md, server session 7).
    pub body: &'a [u8],
}

impl AlertJsonRef<'_> {
    /// The position of this alert in the list order (for keyset pagination).
    pub fn cursor(&self) -> AlertCursor {
        AlertCursor {
            time: self.time,
            id: self.id.to_owned(),
        }
    }

    /// The owned row.
    pub fn to_alert_json(&self) -> AlertJson {
        AlertJson {
            id: self.id.to_owned(),
            time: self.time,
            status: self.status,
            incident_id: self.incident_id.map(str::to_owned),
            // Stored bodies are written by `serde_json` (UTF-8); a damaged one is not lost.
            body: String::from_utf8_lossy(self.body).into_owned(),
        }
    }

    /// Appends the JSON of the [`StoredAlert`] this row is — the same members, values and
    /// order as `serde_json::to_writer(&StoredAlert)`: the document's members, then
    /// `status`, then `incident_id` when there is one — without decoding the document.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        let doc = self.body.trim_ascii_end();
        // The document is an object with members (it always holds `id`), so closing it off
        // and appending members keeps it one object.
        let open = doc.strip_suffix(b"}").unwrap_or(doc).trim_ascii_end();
        out.extend_from_slice(open);
        out.extend_from_slice(b",\"status\":\"");
        out.extend_from_slice(self.status.as_str().as_bytes());
        out.push(b'"');
        if let Some(incident) = self.incident_id {
            out.extend_from_slice(b",\"incident_id\":");
            // Serializing a string into a Vec cannot fail.
            let _ = serde_json::to_writer(&mut *out, incident);
        }
        out.push(b'}');
    }

    /// The JSON length [`AlertJsonRef::write_json`] appends, at most (for pre-sizing
    /// buffers).
    pub fn json_len_hint(&self) -> usize {
        self.body.len() + 32 + self.incident_id.map_or(0, |i| i.len() + 20)
    }
}

/// A position in the alert list order (newest first, then by id): the list continues with
/// the alerts after it. Keyset pagination: a deep page costs what the first one does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertCursor {
    pub time: Timestamp,
    pub id: String,
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
    /// Substring of the whole alert (entities, evidence, context included; case-insensitive):
    /// "every alert that mentions this domain / address / account" (hunting).
    pub mentions: Option<String>,
}

/// Alerts of one organization, UTC day, severity, detector, rule and status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertCount {
    pub org: OrgId,
    /// Start of the UTC day.
    pub day: Timestamp,
    pub severity: Severity,
    pub detector: Detector,
    pub rule_id: String,
    pub status: AlertStatus,
    pub count: u64,
}

#[derive(Debug, Clone, Default)]
pub struct IncidentFilter {
    pub org: Option<OrgId>,
    pub status: Option<IncidentStatus>,
    pub open_only: bool,
    pub campaign_id: Option<String>,
}

/// A change to an incident: a lifecycle move and/or an assignment (`Some("")` unassigns).
#[derive(Debug, Clone)]
pub struct IncidentUpdate {
    pub status: Option<IncidentStatus>,
    pub assignee: Option<String>,
    /// When the change was made (wall time).
    pub time: Timestamp,
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

// ---- advisories (migration 2) ---------------------------------------------------------------

/// Where an advisory stands in the loop center → organization → center.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AdvisoryStatus {
    /// Sent by the center; the organization has not reacted yet.
    Issued,
    /// The organization's security officer has seen it.
    Acknowledged,
    /// The organization has reported measures taken (possibly several times).
    MeasuresReported,
    /// Done.
    Closed,
}

impl AdvisoryStatus {
    pub const ALL: [AdvisoryStatus; 4] = [
        AdvisoryStatus::Issued,
        AdvisoryStatus::Acknowledged,
        AdvisoryStatus::MeasuresReported,
        AdvisoryStatus::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AdvisoryStatus::Issued => "issued",
            AdvisoryStatus::Acknowledged => "acknowledged",
            AdvisoryStatus::MeasuresReported => "measures-reported",
            AdvisoryStatus::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<AdvisoryStatus> {
        AdvisoryStatus::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// The loop's allowed steps: acknowledge an issued advisory; report measures once
    /// acknowledged (repeatable); close after acknowledgement. A closed advisory stays closed.
    pub fn can_move_to(self, next: AdvisoryStatus) -> bool {
        use AdvisoryStatus::*;
        matches!(
            (self, next),
            (Issued, Acknowledged)
                | (Acknowledged | MeasuresReported, MeasuresReported)
                | (Acknowledged | MeasuresReported, Closed)
        )
    }
}

/// An advisory to create. The store checks that `org` is in the caller's scope and that every
/// alert named belongs to `org`.
#[derive(Debug, Clone)]
pub struct NewAdvisory {
    pub id: String,
    pub org: OrgId,
    pub title: String,
    /// What was seen.
    pub summary: String,
    pub alert_ids: Vec<String>,
    pub hosts: Vec<String>,
    pub accounts: Vec<String>,
    pub recommended_measures: Vec<String>,
    pub due: Timestamp,
    pub time: Timestamp,
    pub actor: String,
}

/// One time-stamped step of an advisory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdvisoryStep {
    pub time: Timestamp,
    pub actor: String,
    /// The status the step moved the advisory to (`issued` for the first step).
    pub status: AdvisoryStatus,
    #[serde(default)]
    pub note: String,
    /// Measures taken (for `measures-reported`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub measures: Vec<String>,
}

/// An advisory with its whole history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Advisory {
    pub id: String,
    pub org: OrgId,
    pub title: String,
    pub summary: String,
    pub alert_ids: Vec<String>,
    pub hosts: Vec<String>,
    pub accounts: Vec<String>,
    pub recommended_measures: Vec<String>,
    pub due: Timestamp,
    pub status: AdvisoryStatus,
    pub created: Timestamp,
    pub created_by: String,
    pub updated: Timestamp,
    /// Oldest first; the first step is always `issued`.
    pub steps: Vec<AdvisoryStep>,
}

impl Advisory {
    /// Not closed and past its due time at `now`.
    pub fn is_overdue(&self, now: Timestamp) -> bool {
        self.status != AdvisoryStatus::Closed && now >= self.due
    }

    /// Every measure reported so far, in order.
    pub fn measures_taken(&self) -> impl Iterator<Item = &str> {
        self.steps
            .iter()
            .flat_map(|s| s.measures.iter().map(String::as_str))
    }
}

/// Advisory list filter; every field narrows.
#[derive(Debug, Clone, Default)]
pub struct AdvisoryFilter {
    pub org: Option<OrgId>,
    pub status: Option<AdvisoryStatus>,
    /// Not closed.
    pub open_only: bool,
    /// Only advisories overdue at this instant (not closed, `due <= t`).
    pub overdue_at: Option<Timestamp>,
}

/// Audit trail filter; every field narrows.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub org: Option<OrgId>,
    pub actor: Option<String>,
    /// Exact action, or a prefix ending in `.` (`advisory.` matches every advisory action).
    pub action: Option<String>,
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
}
