//! Login, logout, and who am I.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use yagura_model::{OrgId, Role};

use super::Json;
use crate::auth::{self, AuthKind, Caller, Session};
use crate::authz::{self, Permission};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

/// The authenticated principal.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    pub name: String,
    #[schema(value_type = String)]
    pub org: OrgId,
    #[schema(value_type = String, example = "analyst")]
    pub role: Role,
    /// `session` or `token`.
    pub auth: &'static str,
    /// Organizations visible to this principal.
    #[schema(value_type = Vec<String>)]
    pub scope: Vec<OrgId>,
    pub permissions: Vec<Permission>,
    /// The session's CSRF token, to send as `X-CSRF-Token` on state-changing requests
    /// (absent for bearer tokens, which need none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub csrf_token: Option<String>,
}

impl Me {
    fn of(c: &Caller) -> Me {
        let (auth, csrf_token) = match &c.auth {
            AuthKind::Session { csrf, .. } => ("session", Some(csrf.clone())),
            AuthKind::Token { .. } => ("token", None),
        };
        Me {
            name: c.name.clone(),
            org: c.org.clone(),
            role: c.role,
            auth,
            scope: c.scope.iter().cloned().collect(),
            permissions: Permission::ALL
                .into_iter()
                .filter(|p| authz::allows(c.role, *p))
                .collect(),
            csrf_token,
        }
    }
}

/// Log in with user name and password; sets the session cookie and returns the CSRF token.
#[utoipa::path(post, path = "/api/v1/session/login", tag = "session", request_body = LoginRequest,
    responses((status = 200, description = "Logged in; `Set-Cookie: yagura_session=…`", body = Me),
              (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    addr: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
    Json(req): Json<LoginRequest>,
) -> ApiResult<Response> {
    let addr = addr.map(|axum::Extension(ConnectInfo(a))| a);
    let (cookie, caller) = password_login(&state, addr, &req.username, req.password).await?;
    let set_cookie = auth::session_cookie(
        &cookie,
        state.0.options.session_ttl_secs,
        state.0.options.secure_cookies,
    );
    Ok((
        [(header::SET_COOKIE, set_cookie)],
        axum::Json(Me::of(&caller)),
    )
        .into_response())
}

/// Checks a user name and password (rate-limited per name and client address, failures
/// audited) and starts a session: returns the cookie value and the caller.
pub(crate) async fn password_login(
    state: &AppState,
    addr: Option<SocketAddr>,
    username: &str,
    password: String,
) -> ApiResult<(String, Caller)> {
    let now = state.now();
    let user_key = format!("user:{username}");
    let addr_key = addr.map(|a| format!("addr:{}", a.ip()));
    state
        .0
        .user_limiter
        .check(&user_key, now)
        .map_err(ApiError::RateLimited)?;
    if let Some(k) = &addr_key {
        state
            .0
            .addr_limiter
            .check(k, now)
            .map_err(ApiError::RateLimited)?;
    }
    let name = username.to_owned();
    let record = state.db(move |s| s.user_for_login(&name)).await?;
    let verifier = state.clone();
    let stored = record.as_ref().map(|r| r.password_hash.clone());
    let verified = tokio::task::spawn_blocking(move || {
        verifier.hashing().verify(&password, stored.as_deref())
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?;
    let user = match record {
        Some(r) if verified && !r.user.disabled => r.user,
        other => {
            state.0.user_limiter.fail(&user_key, now);
            if let Some(k) = &addr_key {
                state.0.addr_limiter.fail(k, now);
            }
            if let Some(r) = other {
                let reason = if r.user.disabled {
                    "disabled"
                } else {
                    "password"
                };
                state
                    .audit(
                        &r.user.name,
                        &r.user.org,
                        "session.login-failed",
                        &r.user.name,
                        serde_json::json!({"reason": reason}),
                    )
                    .await?;
            }
            return Err(ApiError::BadCredentials);
        }
    };
    state.0.user_limiter.clear(&user_key);
    let csrf = auth::random_hex(32)?;
    let ttl = state.0.options.session_ttl_secs;
    let cookie = state.0.sessions.create(Session {
        user_id: user.id,
        user: user.name.clone(),
        org: user.org.clone(),
        role: user.role,
        csrf: csrf.clone(),
        expires: now.saturating_add_secs(ttl),
    })?;
    state
        .audit(
            &user.name,
            &user.org,
            "session.login",
            &user.name,
            serde_json::Value::Null,
        )
        .await?;
    let key = auth::sha256_hex(&cookie);
    let caller = Caller {
        name: user.name.clone(),
        scope: state.scope_for(&user.org, user.role),
        org: user.org,
        role: user.role,
        auth: AuthKind::Session { key, csrf },
    };
    Ok((cookie, caller))
}

/// Ends a cookie session and audits it.
pub(crate) async fn end_session(state: &AppState, caller: &Caller) -> ApiResult<()> {
    let AuthKind::Session { key, .. } = &caller.auth else {
        return Err(ApiError::BadRequest(
            "logout ends a cookie session; revoke a token with DELETE /api/v1/tokens/{id}".into(),
        ));
    };
    state.0.sessions.remove(key);
    state
        .audit_by(
            caller,
            &caller.org,
            "session.logout",
            &caller.name,
            serde_json::Value::Null,
        )
        .await
}

/// End the session (cookie sessions only; needs the CSRF token).
#[utoipa::path(post, path = "/api/v1/session/logout", tag = "session",
    responses((status = 204, description = "Logged out; the cookie is cleared"),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn logout(State(state): State<AppState>, caller: Caller) -> ApiResult<Response> {
    end_session(&state, &caller).await?;
    let mut headers = HeaderMap::new();
    if let Ok(v) = auth::clear_cookie(state.0.options.secure_cookies).parse() {
        headers.insert(header::SET_COOKIE, v);
    }
    Ok((StatusCode::NO_CONTENT, headers).into_response())
}

/// The caller: organization, role, visible organizations, permissions, CSRF token.
#[utoipa::path(get, path = "/api/v1/me", tag = "session",
    responses((status = 200, body = Me), (status = 401, body = ErrorBody)))]
pub async fn me(caller: Caller) -> Json<Me> {
    Json(Me::of(&caller))
}
