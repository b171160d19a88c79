//! Incidents: list with filters, detail, status and assignee.

use axum::extract::State;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use yagura_model::{Incident, IncidentStatus};
use yagura_store::{IncidentFilter, IncidentUpdate};

use super::{Json, Path, Query, paged, parse_opt_org};
use crate::auth::Caller;
use crate::authz::Permission;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::state::AppState;

paged!(IncidentPage, Incident, Object);

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct IncidentQuery {
    pub org: Option<String>,
    /// `new`, `triage`, `investigating`, `contained`, `eradicated`, `recovered`, `closed`.
    pub status: Option<String>,
    /// Only incidents not closed.
    pub open: Option<bool>,
    pub campaign_id: Option<String>,
    /// Rows to skip (default 0).
    pub offset: Option<u64>,
    /// Rows to return, 1–1000 (default 50).
    pub limit: Option<u64>,
}

fn parse_status(s: &str) -> ApiResult<IncidentStatus> {
    s.parse()
        .map_err(|e: yagura_model::incident::UnknownStatus| ApiError::BadRequest(e.to_string()))
}

/// Incidents visible to the caller, most recently updated first.
#[utoipa::path(get, path = "/api/v1/incidents", tag = "incidents", params(IncidentQuery),
    responses((status = 200, body = IncidentPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<IncidentQuery>,
) -> ApiResult<Json<IncidentPage>> {
    caller.require(Permission::Read)?;
    let page = super::page(q.offset, q.limit)?;
    let filter = IncidentFilter {
        org: parse_opt_org(&q.org)?,
        status: q.status.as_deref().map(parse_status).transpose()?,
        open_only: q.open.unwrap_or(false),
        campaign_id: q.campaign_id.clone(),
    };
    let scope = caller.scope.clone();
    let (items, total) = state
        .db(move |s| {
            Ok((
                s.list_incidents(&scope, &filter, &page)?,
                s.count_incidents(&scope, &filter)?,
            ))
        })
        .await?;
    Ok(Json(IncidentPage::new(items, total, page)))
}

/// One incident.
#[utoipa::path(get, path = "/api/v1/incidents/{id}", tag = "incidents", params(("id" = String, Path)),
    responses((status = 200, body = Object), (status = 404, body = ErrorBody)))]
pub async fn detail(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Incident>> {
    caller.require(Permission::Read)?;
    Ok(Json(load(&state, &caller, &id).await?))
}

async fn load(state: &AppState, caller: &Caller, id: &str) -> ApiResult<Incident> {
    let scope = caller.scope.clone();
    let key = id.to_owned();
    state
        .db(move |s| s.get_incident(&scope, &key))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("incident {id:?}")))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IncidentStatusChange {
    pub status: String,
}

/// Move an incident through its lifecycle (409 for a move the lifecycle does not allow).
#[utoipa::path(put, path = "/api/v1/incidents/{id}/status", tag = "incidents", params(("id" = String, Path)),
    request_body = IncidentStatusChange,
    responses((status = 200, body = Object), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn set_status(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(req): Json<IncidentStatusChange>,
) -> ApiResult<Json<Incident>> {
    caller.require(Permission::WorkIncidents)?;
    let next = parse_status(&req.status)?;
    let update = IncidentUpdate {
        status: Some(next),
        assignee: None,
        time: state.now(),
    };
    apply(&state, &caller, &id, update, "incident.status", |before, after| {
        serde_json::json!({"from": before.status.as_str(), "to": after.status.as_str()})
    })
    .await
}

/// Applies `update` atomically in the store (which checks the lifecycle and the scope) and
/// writes `action` to the audit trail with the details `audit(before, after)`.
async fn apply(
    state: &AppState,
    caller: &Caller,
    id: &str,
    update: IncidentUpdate,
    action: &str,
    audit: impl FnOnce(&Incident, &Incident) -> serde_json::Value,
) -> ApiResult<Json<Incident>> {
    let before = load(state, caller, id).await?;
    let scope = caller.scope.clone();
    let key = id.to_owned();
    let after = state
        .db(move |s| s.update_incident(&scope, &key, &update))
        .await?;
    state
        .audit_by(caller, &after.org, action, id, audit(&before, &after))
        .await?;
    Ok(Json(after))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssigneeChange {
    /// User name of the assignee; `null` unassigns.
    pub assignee: Option<String>,
}

/// Assign (or unassign) an incident. The assignee must be a user visible to the caller.
#[utoipa::path(put, path = "/api/v1/incidents/{id}/assignee", tag = "incidents", params(("id" = String, Path)),
    request_body = AssigneeChange,
    responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn set_assignee(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(req): Json<AssigneeChange>,
) -> ApiResult<Json<Incident>> {
    caller.require(Permission::WorkIncidents)?;
    if let Some(name) = &req.assignee {
        let scope = caller.scope.clone();
        let users = state.db(move |s| s.list_users(&scope)).await?;
        if !users.iter().any(|u| &u.name == name && !u.disabled) {
            return Err(ApiError::BadRequest(format!(
                "assignee {name:?} is not an active user visible to you"
            )));
        }
    }
    let update = IncidentUpdate {
        status: None,
        // The store reads an empty assignee as "unassign".
        assignee: Some(req.assignee.unwrap_or_default()),
        time: state.now(),
    };
    apply(
        &state,
        &caller,
        &id,
        update,
        "incident.assign",
        |before, after| serde_json::json!({"from": before.assignee, "to": after.assignee}),
    )
    .await
}
