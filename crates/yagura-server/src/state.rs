//! Shared server state.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use yagura_model::{Inventory, OrgId, Role, Scope, Timestamp};
use yagura_store::{NewAuditRecord, StateStore, StoreError};

use crate::auth::{Caller, LoginLimiter, PasswordHashing, Sessions, TokenCache};
use crate::authz;
use crate::dbpool::{DbPool, DbStats};
use crate::error::{ApiError, ApiResult};

/// Where "now" comes from (injectable so tests can make advisories overdue).
pub type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// The source record behind an alert's evidence reference, for the console's alert page.
#[derive(Debug, Clone, PartialEq)]
pub struct EvidenceRecord {
    /// The record as written in its file (one line; truncated by the source if long).
    pub raw: String,
    /// The record normalized (ECS JSON), when it could be read.
    pub event: Option<serde_json::Value>,
}

/// Where evidence records are read from (the telemetry directory of a deployment, or none).
/// Implementations must stay inside their root whatever path an alert names.
pub trait EvidenceSource: Send + Sync {
    /// The record at `evidence` of an alert of `org`; `Err` says why it cannot be shown.
    fn lookup(
        &self,
        org: &OrgId,
        evidence: &yagura_model::EvidenceRef,
    ) -> Result<EvidenceRecord, String>;
}

/// Tunables of the server state.
#[derive(Clone)]
pub struct StateOptions {
    /// Mark session cookies `Secure` (set when serving TLS).
    pub secure_cookies: bool,
    pub session_ttl_secs: i64,
    /// Failed logins allowed per user name (and, ×4, per client address) in the window.
    pub login_max_failures: usize,
    pub login_window_secs: i64,
    pub clock: Clock,
    /// Reader of the records alerts cite as evidence (none: the console lists references).
    pub evidence: Option<Arc<dyn EvidenceSource>>,
    /// `POST /api/v1/ingest` (none: the endpoint answers 404).
    pub ingest: Option<crate::api::ingest::IngestEndpoint>,
    /// The event store hunts search (none: the hunt page searches alerts only and
    /// `/api/v1/hunt` answers 404).
    pub events: Option<Arc<yagura_eventstore::EventStore>>,
    /// Threads running store calls, in arrival order (none: as many as the store has read
    /// connections, [`StateStore::read_parallelism`]).
    pub db_threads: Option<usize>,
}

impl std::fmt::Debug for StateOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateOptions")
            .field("secure_cookies", &self.secure_cookies)
            .field("session_ttl_secs", &self.session_ttl_secs)
            .field("login_max_failures", &self.login_max_failures)
            .field("login_window_secs", &self.login_window_secs)
            .field("evidence", &self.evidence.is_some())
            .field("ingest", &self.ingest)
            .field("db_threads", &self.db_threads)
            .field(
                "events",
                &self.events.as_ref().map(|e| e.dir().to_path_buf()),
            )
            .finish_non_exhaustive()
    }
}

impl Default for StateOptions {
    fn default() -> Self {
        StateOptions {
            secure_cookies: false,
            session_ttl_secs: 8 * 3600,
            login_max_failures: 5,
            login_window_secs: 300,
            clock: Arc::new(Timestamp::now),
            evidence: None,
            ingest: None,
            events: None,
            db_threads: None,
        }
    }
}

pub(crate) struct Inner {
    pub store: Arc<dyn StateStore>,
    pub inventory: Inventory,
    pub sessions: Sessions,
    pub tokens: TokenCache,
    pub user_limiter: LoginLimiter,
    pub addr_limiter: LoginLimiter,
    pub hashing: PasswordHashing,
    pub options: StateOptions,
    pub db: DbPool,
    /// Scopes computed so far, by organization and role (see [`AppState::scope_for`]).
    pub scopes: Mutex<HashMap<(OrgId, Role), Scope>>,
}

/// Scopes kept at most (one per organization and role that has callers; beyond this the
/// map starts afresh).
const SCOPE_CACHE_ENTRIES: usize = 4096;

/// Cheaply clonable handle on everything the handlers share.
#[derive(Clone)]
pub struct AppState(pub(crate) Arc<Inner>);

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("orgs", &self.0.inventory.len())
            .field("options", &self.0.options)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// Loads the inventory's organizations into the store and builds the state.
    pub fn new(
        store: Arc<dyn StateStore>,
        inventory: Inventory,
        hashing: PasswordHashing,
        options: StateOptions,
    ) -> Result<AppState, StoreError> {
        store.replace_orgs(inventory.orgs())?;
        let db = DbPool::new(
            options
                .db_threads
                .unwrap_or_else(|| store.read_parallelism()),
        );
        Ok(AppState(Arc::new(Inner {
            store,
            inventory,
            sessions: Sessions::default(),
            tokens: TokenCache::default(),
            user_limiter: LoginLimiter::new(options.login_max_failures, options.login_window_secs),
            addr_limiter: LoginLimiter::new(
                options.login_max_failures.saturating_mul(4),
                options.login_window_secs,
            ),
            hashing,
            options,
            db,
            scopes: Mutex::new(HashMap::new()),
        })))
    }

    /// How long store calls queued and ran (for benchmarks; [`DbStats::reset`] starts
    /// afresh).
    pub fn db_stats(&self) -> &DbStats {
        self.0.db.stats()
    }

    /// Threads running store calls.
    pub fn db_threads(&self) -> usize {
        self.0.db.size()
    }

    pub fn store(&self) -> &Arc<dyn StateStore> {
        &self.0.store
    }

    pub fn inventory(&self) -> &Inventory {
        &self.0.inventory
    }

    pub fn hashing(&self) -> &PasswordHashing {
        &self.0.hashing
    }

    pub fn evidence(&self) -> Option<&Arc<dyn EvidenceSource>> {
        self.0.options.evidence.as_ref()
    }

    /// The event store hunts search, when the server has one.
    pub fn events(&self) -> Option<&Arc<yagura_eventstore::EventStore>> {
        self.0.options.events.as_ref()
    }

    pub fn now(&self) -> Timestamp {
        (self.0.options.clock)()
    }

    /// The scope of a caller of `org` with `role` ([`authz::scope_for`]). Every request
    /// needs one; it is computed once per organization and role and then copied: it is a
    /// function of the inventory, which is fixed for the life of the state (a changed
    /// inventory means a new `AppState`), and of the pair, which the caller's token or
    /// session record gives afresh on every request.
    pub fn scope_for(&self, org: &OrgId, role: Role) -> Scope {
        let key = (org.clone(), role);
        let mut scopes = self.0.scopes.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(scope) = scopes.get(&key) {
            return scope.clone();
        }
        let scope = authz::scope_for(&self.0.inventory, org, role);
        if scopes.len() >= SCOPE_CACHE_ENTRIES {
            scopes.clear();
        }
        scopes.insert(key, scope.clone());
        scope
    }

    /// The API token of a secret's hash (active or not), from the token cache when it is
    /// fresh, else from the store.
    pub async fn token_for_hash(&self, hash: String) -> ApiResult<Option<yagura_store::ApiToken>> {
        let generation = match self.0.tokens.get(&hash) {
            Ok(token) => return Ok(Some(token)),
            Err(g) => g,
        };
        let token = self.db(move |s| s.token_for_hash(&hash)).await?;
        if let Some(t) = &token {
            self.0.tokens.insert(generation, t);
        }
        Ok(token)
    }

    /// Runs a (blocking) store call off the async workers: on the store's threads, after
    /// every call made before it (first come, first served; see `dbpool`).
    pub async fn db<T, F>(&self, f: F) -> ApiResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&dyn StateStore) -> Result<T, StoreError> + Send + 'static,
    {
        let store = self.0.store.clone();
        self.0
            .db
            .run(move || f(store.as_ref()))
            .await
            .map_err(|_| ApiError::Internal("store call panicked".into()))?
            .map_err(ApiError::from)
    }

    /// Appends one record to the audit trail.
    pub async fn audit(
        &self,
        actor: &str,
        org: &OrgId,
        action: &str,
        target: &str,
        details: serde_json::Value,
    ) -> ApiResult<()> {
        let rec = NewAuditRecord {
            time: self.now(),
            actor: actor.to_owned(),
            org: org.clone(),
            action: action.to_owned(),
            target: target.to_owned(),
            details,
        };
        self.db(move |s| s.append_audit(&rec)).await.map(|_| ())
    }

    /// [`AppState::audit`] with the caller as actor.
    pub async fn audit_by(
        &self,
        caller: &Caller,
        org: &OrgId,
        action: &str,
        target: &str,
        details: serde_json::Value,
    ) -> ApiResult<()> {
        self.audit(&caller.name, org, action, target, details).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cached_scopes_are_the_computed_ones_for_every_org_and_role() {
        let inventory = yagura_store::testing::fixture_inventory();
        let store: Arc<dyn StateStore> = Arc::new(yagura_store::SqliteStore::in_memory().unwrap());
        let state = AppState::new(
            store,
            inventory.clone(),
            PasswordHashing::fast_for_tests().unwrap(),
            StateOptions::default(),
        )
        .unwrap();
        let mut orgs: Vec<OrgId> = inventory.orgs().iter().map(|o| o.id.clone()).collect();
        orgs.push(OrgId::new("ghost").unwrap());
        // Twice: computed, then from the cache; interleaved so a key mix-up would show.
        for _ in 0..2 {
            for org in &orgs {
                for role in Role::ALL {
                    assert_eq!(
                        state.scope_for(org, role),
                        authz::scope_for(&inventory, org, role),
                        "{org} {role:?}"
                    );
                }
            }
        }
        assert_eq!(
            state.0.scopes.lock().unwrap().len(),
            orgs.len() * Role::ALL.len()
        );
    }
}
