//! The state store: everything yagura remembers that is not raw telemetry.
//!
//! [`StateStore`] is the backend-neutral interface; [`SqliteStore`] is the embedded default
//! (bundled SQLite, no server). A PostgreSQL backend is meant to implement the same trait and
//! pass the same suite: [`state_store_suite!`] expands the whole behavioural test suite for any
//! constructor expression, the way Quickwit tests every metastore.
//!
//! **Tenancy is enforced here.** Every read of tenant data takes the caller's [`Scope`] and
//! returns only rows of organizations in it; an id outside the scope reads as "not found",
//! never as "forbidden" (no existence oracle). Writes name their organization explicitly and
//! are checked against the scope by [`StateStore`] methods that take one.
//!
//! Architecture invariant: this crate knows nothing of HTTP, sessions or password hashing; it
//! stores what it is given (credential hashes are opaque strings) and filters by scope.

mod error;
mod sqlite;
pub mod testing;
mod types;

pub use error::StoreError;
pub use sqlite::SqliteStore;
pub use types::*;

#[doc(hidden)]
pub use {rusqlite, serde_json, yagura_model};

use yagura_model::{Alert, Campaign, Incident, Indicator, Organization, Scope};

/// The state store interface. Implementations must be usable from many threads.
pub trait StateStore: Send + Sync {
    // ---- organizations --------------------------------------------------------------------

    /// Replaces the stored inventory with `orgs` (inventory reload).
    fn replace_orgs(&self, orgs: &[Organization]) -> Result<(), StoreError>;
    /// The organizations in scope, ordered by id.
    fn list_orgs(&self, scope: &Scope) -> Result<Vec<Organization>, StoreError>;

    // ---- users and API tokens -------------------------------------------------------------

    fn create_user(&self, user: &NewUser) -> Result<User, StoreError>;
    /// Authentication lookup by login name: deliberately unscoped (there is no caller yet).
    fn user_for_login(&self, name: &str) -> Result<Option<UserRecord>, StoreError>;
    fn list_users(&self, scope: &Scope) -> Result<Vec<User>, StoreError>;
    fn set_user_disabled(&self, scope: &Scope, id: i64, disabled: bool) -> Result<(), StoreError>;
    fn create_token(&self, token: &NewToken) -> Result<ApiToken, StoreError>;
    /// Token lookup by its hash (unscoped: authentication).
    fn token_for_hash(&self, hash: &str) -> Result<Option<ApiToken>, StoreError>;
    fn list_tokens(&self, scope: &Scope) -> Result<Vec<ApiToken>, StoreError>;
    fn revoke_token(&self, scope: &Scope, id: i64) -> Result<(), StoreError>;

    // ---- alerts ---------------------------------------------------------------------------

    /// Inserts alerts; an alert whose id exists already is folded in (count, times, evidence).
    fn upsert_alerts(&self, alerts: &[Alert]) -> Result<usize, StoreError>;
    fn get_alert(&self, scope: &Scope, id: &str) -> Result<Option<StoredAlert>, StoreError>;
    fn list_alerts(
        &self,
        scope: &Scope,
        filter: &AlertFilter,
        page: &Page,
    ) -> Result<Vec<StoredAlert>, StoreError>;
    fn count_alerts(&self, scope: &Scope, filter: &AlertFilter) -> Result<u64, StoreError>;
    /// The page of [`StateStore::list_alerts`] as stored documents (no decoding), continuing
    /// after `after` when given (keyset pagination; `page.offset` then skips further rows).
    /// Same scope, filters and order (newest first, then id) as `list_alerts`. Each row is
    /// lent to `visit` in turn, borrowed from the database (no copy of the document).
    fn visit_alerts_json(
        &self,
        scope: &Scope,
        filter: &AlertFilter,
        after: Option<&AlertCursor>,
        page: &Page,
        visit: &mut dyn FnMut(AlertJsonRef<'_>),
    ) -> Result<(), StoreError>;
    /// [`StateStore::visit_alerts_json`], then the list's total ([`StateStore::count_alerts`]
    /// of the same scope and filter): what one list response needs. A backend may answer
    /// both from one snapshot of the database (SQLite: one read transaction on one reader),
    /// so the total is that of the page's own snapshot.
    fn visit_alerts_json_with_total(
        &self,
        scope: &Scope,
        filter: &AlertFilter,
        after: Option<&AlertCursor>,
        page: &Page,
        visit: &mut dyn FnMut(AlertJsonRef<'_>),
    ) -> Result<u64, StoreError> {
        self.visit_alerts_json(scope, filter, after, page, visit)?;
        self.count_alerts(scope, filter)
    }
    /// [`StateStore::visit_alerts_json`] collected.
    fn list_alerts_json(
        &self,
        scope: &Scope,
        filter: &AlertFilter,
        after: Option<&AlertCursor>,
        page: &Page,
    ) -> Result<Vec<AlertJson>, StoreError> {
        let mut rows = Vec::new();
        self.visit_alerts_json(scope, filter, after, page, &mut |r| {
            rows.push(r.to_alert_json())
        })?;
        Ok(rows)
    }
    /// How many store calls can read at the same time without waiting for one another
    /// (read connections): callers that queue calls need run no more at once.
    fn read_parallelism(&self) -> usize {
        1
    }
    /// Alert counts in scope grouped by organization, UTC day, severity, detector, rule and
    /// status (dashboards). `filter` may not carry a text filter, and its times must fall on
    /// UTC day boundaries ([`StoreError::Invalid`] otherwise).
    fn alert_counts(
        &self,
        scope: &Scope,
        filter: &AlertFilter,
    ) -> Result<Vec<AlertCount>, StoreError>;
    fn set_alert_status(
        &self,
        scope: &Scope,
        id: &str,
        status: AlertStatus,
    ) -> Result<(), StoreError>;

    // ---- incidents ------------------------------------------------------------------------

    fn upsert_incident(&self, incident: &Incident) -> Result<(), StoreError>;
    fn get_incident(&self, scope: &Scope, id: &str) -> Result<Option<Incident>, StoreError>;
    fn list_incidents(
        &self,
        scope: &Scope,
        filter: &IncidentFilter,
        page: &Page,
    ) -> Result<Vec<Incident>, StoreError>;

    // ---- indicators -----------------------------------------------------------------------

    /// Stores indicators owned by `org` (the organization that submitted or imported them).
    fn upsert_indicators(
        &self,
        org: &yagura_model::OrgId,
        indicators: &[Indicator],
    ) -> Result<usize, StoreError>;
    fn list_indicators(&self, scope: &Scope, page: &Page) -> Result<Vec<Indicator>, StoreError>;
    fn count_indicators(&self, scope: &Scope) -> Result<u64, StoreError>;

    // ---- audit trail (append-only) --------------------------------------------------------

    fn append_audit(&self, record: &NewAuditRecord) -> Result<i64, StoreError>;
    fn list_audit(&self, scope: &Scope, page: &Page) -> Result<Vec<AuditRecord>, StoreError>;
    /// The audit trail in scope narrowed by `filter`, newest first.
    fn query_audit(
        &self,
        scope: &Scope,
        filter: &AuditFilter,
        page: &Page,
    ) -> Result<Vec<AuditRecord>, StoreError>;
    fn count_audit(&self, scope: &Scope, filter: &AuditFilter) -> Result<u64, StoreError>;

    // ---- incidents, counted (migration 2 era) ---------------------------------------------

    fn count_incidents(&self, scope: &Scope, filter: &IncidentFilter) -> Result<u64, StoreError>;

    // ---- advisories (migration 2) ---------------------------------------------------------

    /// Issues an advisory: `org` must be in `scope` ([`StoreError::OutOfScope`] otherwise) and
    /// every alert id must be an alert of `org` visible in `scope` ([`StoreError::NotFound`]).
    /// Records the `issued` step. A duplicate id is a [`StoreError::Conflict`].
    fn create_advisory(
        &self,
        scope: &Scope,
        advisory: &NewAdvisory,
    ) -> Result<Advisory, StoreError>;
    fn get_advisory(&self, scope: &Scope, id: &str) -> Result<Option<Advisory>, StoreError>;
    /// Advisories in scope, soonest due first (then id).
    fn list_advisories(
        &self,
        scope: &Scope,
        filter: &AdvisoryFilter,
        page: &Page,
    ) -> Result<Vec<Advisory>, StoreError>;
    fn count_advisories(&self, scope: &Scope, filter: &AdvisoryFilter) -> Result<u64, StoreError>;
    /// Appends a step and moves the advisory to `step.status`, atomically. Not in scope →
    /// [`StoreError::NotFound`]; a move [`AdvisoryStatus::can_move_to`] refuses →
    /// [`StoreError::Conflict`].
    fn advance_advisory(
        &self,
        scope: &Scope,
        id: &str,
        step: &AdvisoryStep,
    ) -> Result<Advisory, StoreError>;

    // ---- incident lifecycle, timelines and campaigns (migration 3) ------------------------

    /// Moves an incident through its lifecycle and/or (re)assigns it, atomically. Not in scope
    /// → [`StoreError::NotFound`]; a move [`yagura_model::IncidentStatus::can_move_to`] refuses
    /// → [`StoreError::Conflict`]. An empty assignee unassigns.
    fn update_incident(
        &self,
        scope: &Scope,
        id: &str,
        update: &IncidentUpdate,
    ) -> Result<Incident, StoreError>;
    /// The incident's alerts in time order (its timeline); `None` when the incident is not
    /// visible in `scope`.
    fn incident_timeline(
        &self,
        scope: &Scope,
        id: &str,
    ) -> Result<Option<Vec<StoredAlert>>, StoreError>;
    /// Stores a campaign (replacing one with the same id) and the organizations it spans.
    fn upsert_campaign(&self, campaign: &Campaign) -> Result<(), StoreError>;
    /// A campaign with at least one organization in `scope`, its `orgs` and `incident_ids`
    /// narrowed to the scope; `None` otherwise.
    fn get_campaign(&self, scope: &Scope, id: &str) -> Result<Option<Campaign>, StoreError>;
    /// Campaigns touching `scope` (narrowed like [`StateStore::get_campaign`]), most recently
    /// updated first.
    fn list_campaigns(&self, scope: &Scope, page: &Page) -> Result<Vec<Campaign>, StoreError>;
}
