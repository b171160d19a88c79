//! yagura's REST API: accounts, roles, tenant isolation, alert triage and the advisory loop.
//!
//! [`router`] builds the axum application over an [`AppState`] (a [`StateStore`], the
//! [`Inventory`], sessions and the login limiter); [`serve`] runs it on TCP, with rustls when a
//! certificate is configured. JSON lives under `/api/v1`, the OpenAPI 3.1 document generated
//! from the handlers (utoipa) at `/api/openapi.json`. Every failure has the one body shape of
//! [`error::ErrorBody`]; every list takes `offset`/`limit` and filters and answers
//! `{items, total, offset, limit}`.
//!
//! Tenancy: a caller's [`yagura_model::Scope`] is computed once per request
//! ([`authz::scope_for`]) and passed to every store call; the store filters by it. A record
//! outside the scope answers 404, exactly like an absent one.
//!
//! The router is built from per-area sub-routers so that the server-rendered console can be
//! added later as another `Router` merged next to `/api` (see [`router`]).

pub mod api;
pub mod auth;
pub mod authz;
pub mod config;
pub mod console;
mod dbpool;
pub mod error;
pub mod latency;
pub mod openapi;
mod serve;
mod state;

pub use dbpool::DbStats;
pub use serve::{ServeError, TlsFiles, serve, tls_config};
pub use state::{AppState, Clock, EvidenceRecord, EvidenceSource, StateOptions};

use axum::Router;
use yagura_model::{OrgId, Role};
use yagura_store::NewUser;

/// Creates the first center administrator `name` in `org` when no user of that name exists
/// (so that a fresh installation can be logged into). Returns whether a user was created.
pub fn bootstrap_admin(
    state: &AppState,
    name: &str,
    org: &OrgId,
    password: &str,
) -> Result<bool, error::ApiError> {
    let store = state.store();
    if store.user_for_login(name)?.is_some() {
        return Ok(false);
    }
    if state.inventory().get(org.as_str()).is_none() {
        return Err(error::ApiError::BadRequest(format!(
            "organization {org} is not in the inventory"
        )));
    }
    if password.chars().count() < api::admin::MIN_PASSWORD_LEN {
        return Err(error::ApiError::BadRequest(format!(
            "the administrator password must be at least {} characters",
            api::admin::MIN_PASSWORD_LEN
        )));
    }
    let user = store.create_user(&NewUser {
        name: name.to_owned(),
        display_name: name.to_owned(),
        org: org.clone(),
        role: Role::CenterAdmin,
        password_hash: state.hashing().hash(password)?,
    })?;
    store.append_audit(&yagura_store::NewAuditRecord {
        time: state.now(),
        actor: "system".into(),
        org: org.clone(),
        action: "user.create".into(),
        target: user.name,
        details: serde_json::json!({"id": user.id, "role": "center-admin", "bootstrap": true}),
    })?;
    Ok(true)
}

/// The whole HTTP application.
pub fn router(state: AppState) -> Router {
    Router::new()
        .nest("/api/v1", api::routes())
        .merge(console::routes())
        .route(
            "/api/openapi.json",
            axum::routing::get(openapi::openapi_json),
        )
        .fallback(api::not_found)
        .with_state(state)
}
