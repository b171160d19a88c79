//! Administration of users and API tokens (center-admin, within the admin's scope).

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use yagura_model::{OrgId, Role};
use yagura_store::{ApiToken, NewToken, NewUser, User};

use super::{Json, Path, Query, paged, parse_opt_org, parse_org, parse_time};
use crate::auth::{self, Caller};
use crate::authz::Permission;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::state::AppState;

paged!(UserPage, User, Object);
paged!(TokenPage, ApiToken, Object);

/// Minimum password length for accounts created through the API.
pub const MIN_PASSWORD_LEN: usize = 12;
/// Longest token lifetime.
pub const MAX_TOKEN_DAYS: i64 = 366;

fn parse_role(s: &str) -> ApiResult<Role> {
    Role::parse(s).ok_or_else(|| ApiError::BadRequest(format!("unknown role {s:?}")))
}

fn window<T>(items: Vec<T>, page: yagura_store::Page) -> (Vec<T>, u64) {
    let total = items.len() as u64;
    let items = items
        .into_iter()
        .skip(usize::try_from(page.offset).unwrap_or(usize::MAX))
        .take(usize::try_from(page.limit).unwrap_or(usize::MAX))
        .collect();
    (items, total)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserQuery {
    pub org: Option<String>,
    pub role: Option<String>,
    pub disabled: Option<bool>,
    /// Rows to skip (default 0).
    pub offset: Option<u64>,
    /// Rows to return, 1–1000 (default 50).
    pub limit: Option<u64>,
}

/// Users of the organizations in the admin's scope, by name.
#[utoipa::path(get, path = "/api/v1/users", tag = "admin", params(UserQuery),
    responses((status = 200, body = UserPage), (status = 403, body = ErrorBody)))]
pub async fn list_users(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<UserQuery>,
) -> ApiResult<Json<UserPage>> {
    caller.require(Permission::ManageUsers)?;
    let page = super::page(q.offset, q.limit)?;
    let org = parse_opt_org(&q.org)?;
    let role = q.role.as_deref().map(parse_role).transpose()?;
    let scope = caller.scope.clone();
    let users = state.db(move |s| s.list_users(&scope)).await?;
    let users = users
        .into_iter()
        .filter(|u| org.as_ref().is_none_or(|o| &u.org == o))
        .filter(|u| role.is_none_or(|r| u.role == r))
        .filter(|u| q.disabled.is_none_or(|d| u.disabled == d))
        .collect();
    let (items, total) = window(users, page);
    Ok(Json(UserPage::new(items, total, page)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    /// Login name: 1–64 of `A-Z a-z 0-9 . _ @ -`.
    pub name: String,
    #[serde(default)]
    pub display_name: String,
    pub org: String,
    /// `center-admin`, `analyst`, `auditor`, `responder`, `org-officer`, `read-only`.
    pub role: String,
    /// At least 12 characters; stored as an argon2id hash.
    pub password: String,
}

fn valid_login_name(n: &str) -> bool {
    (1..=64).contains(&n.len())
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'@' | b'-'))
}

/// Fails with 404 unless `org` is in the caller's scope (no existence oracle).
fn require_in_scope(caller: &Caller, org: &OrgId) -> ApiResult<()> {
    if caller.scope.contains(org.as_str()) {
        Ok(())
    } else {
        Err(ApiError::NotFound(format!(
            "organization {:?}",
            org.as_str()
        )))
    }
}

/// Create a user in an organization of the admin's scope.
#[utoipa::path(post, path = "/api/v1/users", tag = "admin", request_body = CreateUser,
    responses((status = 201, body = Object), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create_user(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<CreateUser>,
) -> ApiResult<(StatusCode, Json<User>)> {
    caller.require(Permission::ManageUsers)?;
    if !valid_login_name(&req.name) {
        return Err(ApiError::BadRequest(
            "name must be 1-64 characters of A-Z a-z 0-9 . _ @ -".into(),
        ));
    }
    let chars = req.password.chars().count();
    if !(MIN_PASSWORD_LEN..=1024).contains(&chars) {
        return Err(ApiError::BadRequest(format!(
            "password must be {MIN_PASSWORD_LEN} to 1024 characters"
        )));
    }
    let org = parse_org(&req.org)?;
    let role = parse_role(&req.role)?;
    require_in_scope(&caller, &org)?;
    let hasher = state.clone();
    let password = req.password;
    let password_hash = tokio::task::spawn_blocking(move || hasher.hashing().hash(&password))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))??;
    let new = NewUser {
        display_name: if req.display_name.is_empty() {
            req.name.clone()
        } else {
            req.display_name
        },
        name: req.name,
        org: org.clone(),
        role,
        password_hash,
    };
    let user = state.db(move |s| s.create_user(&new)).await?;
    state
        .audit_by(
            &caller,
            &org,
            "user.create",
            &user.name,
            serde_json::json!({"id": user.id, "role": role.as_str()}),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(user)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DisabledChange {
    pub disabled: bool,
}

/// Disable (ending its sessions) or re-enable a user.
#[utoipa::path(put, path = "/api/v1/users/{id}/disabled", tag = "admin", params(("id" = i64, Path)),
    request_body = DisabledChange,
    responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn set_user_disabled(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(req): Json<DisabledChange>,
) -> ApiResult<Json<User>> {
    caller.require(Permission::ManageUsers)?;
    let scope = caller.scope.clone();
    let disabled = req.disabled;
    let me = caller.name.clone();
    let user = state
        .db(move |s| {
            let Some(mut u) = s.list_users(&scope)?.into_iter().find(|u| u.id == id) else {
                return Ok(Err(ApiError::NotFound(format!("user {id}"))));
            };
            if u.name == me && disabled {
                return Ok(Err(ApiError::BadRequest(
                    "you cannot disable yourself".into(),
                )));
            }
            s.set_user_disabled(&scope, id, disabled)?;
            u.disabled = disabled;
            Ok(Ok(u))
        })
        .await??;
    if disabled {
        state.0.sessions.remove_user(id);
    }
    let action = if disabled {
        "user.disable"
    } else {
        "user.enable"
    };
    state
        .audit_by(
            &caller,
            &user.org,
            action,
            &user.name,
            serde_json::json!({"id": id}),
        )
        .await?;
    Ok(Json(user))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TokenQuery {
    pub org: Option<String>,
    /// Only tokens usable now (`true`) or only revoked/expired ones (`false`).
    pub active: Option<bool>,
    /// Rows to skip (default 0).
    pub offset: Option<u64>,
    /// Rows to return, 1–1000 (default 50).
    pub limit: Option<u64>,
}

/// API tokens of the organizations in the admin's scope (never their secrets).
#[utoipa::path(get, path = "/api/v1/tokens", tag = "admin", params(TokenQuery),
    responses((status = 200, body = TokenPage), (status = 403, body = ErrorBody)))]
pub async fn list_tokens(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<TokenQuery>,
) -> ApiResult<Json<TokenPage>> {
    caller.require(Permission::ManageTokens)?;
    let page = super::page(q.offset, q.limit)?;
    let org = parse_opt_org(&q.org)?;
    let now = state.now();
    let scope = caller.scope.clone();
    let tokens = state.db(move |s| s.list_tokens(&scope)).await?;
    let tokens = tokens
        .into_iter()
        .filter(|t| org.as_ref().is_none_or(|o| &t.org == o))
        .filter(|t| q.active.is_none_or(|a| t.is_active(now) == a))
        .collect();
    let (items, total) = window(tokens, page);
    Ok(Json(TokenPage::new(items, total, page)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    pub name: String,
    pub org: String,
    pub role: String,
    /// Subset of `read`, `write`, `ingest` (at least one).
    pub scopes: Vec<String>,
    /// RFC 3339 expiry, in the future and at most 366 days ahead.
    pub expires: String,
}

/// A new token: the secret is shown here once and never again.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedToken {
    #[schema(value_type = Object)]
    pub token: ApiToken,
    /// Send as `Authorization: Bearer <secret>`.
    pub secret: String,
}

/// Create an API token for an organization in the admin's scope.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "admin", request_body = CreateToken,
    responses((status = 201, body = CreatedToken), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn create_token(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<CreateToken>,
) -> ApiResult<(StatusCode, Json<CreatedToken>)> {
    caller.require(Permission::ManageTokens)?;
    if req.name.trim().is_empty() || req.name.len() > 128 {
        return Err(ApiError::BadRequest("name must be 1-128 bytes".into()));
    }
    let org = parse_org(&req.org)?;
    let role = parse_role(&req.role)?;
    if req.scopes.is_empty()
        || !req
            .scopes
            .iter()
            .all(|s| auth::TOKEN_SCOPES.contains(&s.as_str()))
    {
        return Err(ApiError::BadRequest(format!(
            "scopes must be a non-empty subset of {:?}",
            auth::TOKEN_SCOPES
        )));
    }
    let now = state.now();
    let expires = parse_time("expires", &Some(req.expires))?
        .ok_or_else(|| ApiError::BadRequest("expires is required".into()))?;
    if expires <= now || expires > now.saturating_add_secs(MAX_TOKEN_DAYS * 86_400) {
        return Err(ApiError::BadRequest(format!(
            "expires must be in the future and at most {MAX_TOKEN_DAYS} days ahead"
        )));
    }
    require_in_scope(&caller, &org)?;
    let secret = format!("{}{}", auth::TOKEN_PREFIX, auth::random_hex(32)?);
    let mut scopes = req.scopes;
    scopes.sort();
    scopes.dedup();
    let new = NewToken {
        name: req.name,
        org: org.clone(),
        role,
        token_hash: auth::sha256_hex(&secret),
        scopes,
        expires: Some(expires),
        created_by: caller.name.clone(),
    };
    let token = state.db(move |s| s.create_token(&new)).await?;
    state
        .audit_by(
            &caller,
            &org,
            "token.create",
            &token.name,
            serde_json::json!({"id": token.id, "role": role.as_str(), "scopes": token.scopes, "expires": expires}),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(CreatedToken { token, secret })))
}

/// Revoke a token (immediately unusable).
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "admin", params(("id" = i64, Path)),
    responses((status = 204, description = "Revoked"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn revoke_token(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    caller.require(Permission::ManageTokens)?;
    let scope = caller.scope.clone();
    let token = state
        .db(move |s| {
            let Some(t) = s.list_tokens(&scope)?.into_iter().find(|t| t.id == id) else {
                return Ok(None);
            };
            s.revoke_token(&scope, id)?;
            Ok(Some(t))
        })
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("token {id}")))?;
    // Unusable at once, also for a client whose token was cached a moment ago.
    state.0.tokens.invalidate(&token.token_hash);
    state
        .audit_by(
            &caller,
            &token.org,
            "token.revoke",
            &token.name,
            serde_json::json!({"id": id}),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
