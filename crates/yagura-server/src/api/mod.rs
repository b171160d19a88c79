//! The JSON API under `/api/v1`: one module per area, shared extractors here.

use axum::Router;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts};
use axum::http::request::Parts;
use axum::routing::{get, post, put};
use yagura_model::{OrgId, Timestamp};
use yagura_store::Page;

use crate::auth::{self, AuthKind, Caller};
use crate::authz::{self, Permission};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

pub mod admin;
pub mod advisories;
pub mod alerts;
pub mod audit;
pub mod hunt;
pub mod incidents;
pub mod ingest;
pub mod orgs;
pub mod session;

/// Routes of `/api/v1` (relative).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/session/login", post(session::login))
        .route("/session/logout", post(session::logout))
        .route("/me", get(session::me))
        .route("/orgs", get(orgs::list))
        .route("/orgs/tree", get(orgs::tree))
        .route("/orgs/{id}", get(orgs::detail))
        .route("/alerts", get(alerts::list))
        .route("/alerts/status", post(alerts::bulk_status))
        .route("/alerts/{id}", get(alerts::detail))
        .route("/alerts/{id}/status", put(alerts::set_status))
        .route("/incidents", get(incidents::list))
        .route("/incidents/{id}", get(incidents::detail))
        .route("/incidents/{id}/status", put(incidents::set_status))
        .route("/incidents/{id}/assignee", put(incidents::set_assignee))
        .route(
            "/advisories",
            get(advisories::list).post(advisories::create),
        )
        .route("/advisories/{id}", get(advisories::detail))
        .route(
            "/advisories/{id}/acknowledge",
            post(advisories::acknowledge),
        )
        .route(
            "/advisories/{id}/measures",
            post(advisories::report_measures),
        )
        .route("/advisories/{id}/close", post(advisories::close))
        .route("/users", get(admin::list_users).post(admin::create_user))
        .route("/users/{id}/disabled", put(admin::set_user_disabled))
        .route("/tokens", get(admin::list_tokens).post(admin::create_token))
        .route("/tokens/{id}", axum::routing::delete(admin::revoke_token))
        .route("/audit", get(audit::list))
        .route("/ingest", post(ingest::ingest))
        .route("/hunt", get(hunt::hunt))
}

/// Fallback: unknown paths answer with the common error body.
pub async fn not_found() -> ApiError {
    ApiError::NotFound("route".into())
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        ApiError::BadRequest(format!("request body: {}", r.body_text()))
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        ApiError::BadRequest(format!("query: {}", r.body_text()))
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        ApiError::BadRequest(format!("path: {}", r.body_text()))
    }
}

/// `axum::Json` with rejections in the common error body.
#[derive(Debug, FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct Json<T>(pub T);

impl<T: serde::Serialize> axum::response::IntoResponse for Json<T> {
    fn into_response(self) -> axum::response::Response {
        axum::Json(self.0).into_response()
    }
}

/// `axum::extract::Query` with rejections in the common error body.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct Query<T>(pub T);

/// `axum::extract::Path` with rejections in the common error body.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct Path<T>(pub T);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Caller> {
        authenticate(parts, state).await
    }
}

/// Bearer token first, else the session cookie (with CSRF on state-changing methods).
async fn authenticate(parts: &Parts, state: &AppState) -> ApiResult<Caller> {
    let now = state.now();
    let safe = auth::is_safe(&parts.method);
    if let Some(secret) = auth::bearer(&parts.headers) {
        let hash = auth::sha256_hex(secret?);
        let token = state
            .token_for_hash(hash)
            .await?
            .filter(|t| t.is_active(now))
            .ok_or(ApiError::Unauthenticated)?;
        let needed = if safe { "read" } else { "write" };
        if !token.scopes.iter().any(|s| s == needed) {
            return Err(ApiError::Forbidden(format!(
                "token lacks the {needed:?} scope"
            )));
        }
        return Ok(Caller {
            name: format!("token:{}", token.name),
            scope: state.scope_for(&token.org, token.role),
            org: token.org,
            role: token.role,
            auth: AuthKind::Token {
                id: token.id,
                scopes: token.scopes,
            },
        });
    }
    session_caller(parts, state, !safe).await
}

/// The caller of a session cookie; with `check_csrf_header` the request must echo the
/// session's CSRF token in `X-CSRF-Token` (the console checks its forms' field instead).
pub(crate) async fn session_caller(
    parts: &Parts,
    state: &AppState,
    check_csrf_header: bool,
) -> ApiResult<Caller> {
    let now = state.now();
    let cookie =
        auth::cookie(&parts.headers, auth::SESSION_COOKIE).ok_or(ApiError::Unauthenticated)?;
    let (key, session) = state
        .0
        .sessions
        .get(cookie, now)
        .ok_or(ApiError::Unauthenticated)?;
    if check_csrf_header {
        let sent = parts
            .headers
            .get(auth::CSRF_HEADER)
            .map(|v| v.as_bytes())
            .unwrap_or_default();
        if !auth::constant_time_eq(sent, session.csrf.as_bytes()) {
            return Err(ApiError::Csrf);
        }
    }
    // A disabled account loses its sessions at once.
    let name = session.user.clone();
    let rec = state.db(move |s| s.user_for_login(&name)).await?;
    if rec
        .as_ref()
        .is_none_or(|r| r.user.disabled || r.user.id != session.user_id)
    {
        state.0.sessions.remove(&key);
        return Err(ApiError::Unauthenticated);
    }
    Ok(Caller {
        name: session.user,
        scope: state.scope_for(&session.org, session.role),
        org: session.org,
        role: session.role,
        auth: AuthKind::Session {
            key,
            csrf: session.csrf,
        },
    })
}

impl Caller {
    /// Fails with 403 unless the caller's role grants `perm`.
    pub fn require(&self, perm: Permission) -> ApiResult<()> {
        if authz::allows(self.role, perm) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "role {} may not {}",
                self.role,
                perm.as_str()
            )))
        }
    }
}

/// Default page size of every list.
pub const DEFAULT_LIMIT: u64 = 50;

/// Validates the `offset`/`limit` pair every list takes (each query struct declares the two
/// fields itself: `serde(flatten)` does not work with numbers in query strings).
pub fn page(offset: Option<u64>, limit: Option<u64>) -> ApiResult<Page> {
    let limit = limit.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > Page::MAX_LIMIT {
        return Err(ApiError::BadRequest(format!(
            "limit must be between 1 and {}",
            Page::MAX_LIMIT
        )));
    }
    let offset = offset.unwrap_or(0);
    if offset > i64::MAX as u64 {
        return Err(ApiError::BadRequest("offset too large".into()));
    }
    Ok(Page { offset, limit })
}

/// Declares a page type `{items, total, offset, limit}` of one item type. `$schema` is the
/// OpenAPI type of one item (`Object` for records whose schema is a documented contract, e.g.
/// alerts per DESIGN.md §4).
macro_rules! paged {
    ($name:ident, $item:ty, $schema:ident) => {
        #[derive(Debug, serde::Serialize, utoipa::ToSchema)]
        pub struct $name {
            #[schema(value_type = Vec<$schema>)]
            pub items: Vec<$item>,
            /// Rows matching the filters (all pages).
            pub total: u64,
            pub offset: u64,
            pub limit: u64,
        }

        impl $name {
            pub fn new(items: Vec<$item>, total: u64, page: yagura_store::Page) -> $name {
                $name {
                    items,
                    total,
                    offset: page.offset,
                    limit: page.limit,
                }
            }
        }
    };
}
pub(crate) use paged;

pub(crate) fn parse_org(s: &str) -> ApiResult<OrgId> {
    OrgId::new(s).map_err(|e| ApiError::BadRequest(format!("org: {e}")))
}

pub(crate) fn parse_opt_org(s: &Option<String>) -> ApiResult<Option<OrgId>> {
    s.as_deref().map(parse_org).transpose()
}

pub(crate) fn parse_time(field: &str, s: &Option<String>) -> ApiResult<Option<Timestamp>> {
    s.as_deref()
        .map(|v| {
            Timestamp::parse_rfc3339(v).map_err(|e| ApiError::BadRequest(format!("{field}: {e}")))
        })
        .transpose()
}
