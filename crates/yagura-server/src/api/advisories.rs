//! The advisory loop: an analyst turns alerts into an advisory to the monitored organization;
//! the organization's security officer acknowledges it, reports measures taken and closes it.
//! Every step is time-stamped (and audited); an advisory past its due time and not closed is
//! `overdue`. A center sees the advisories of every organization it supervises.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use yagura_model::{OrgId, Timestamp};
use yagura_store::{
    Advisory, AdvisoryFilter, AdvisoryStatus, AdvisoryStep, NewAdvisory, StoredAlert,
};

use super::{Json, Path, Query, paged, parse_opt_org};
use crate::auth::{self, Caller};
use crate::authz::Permission;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::state::AppState;

/// Longest free text accepted in titles, notes and list entries.
const MAX_TEXT: usize = 4000;
/// Most entries in one list field (alerts, hosts, measures, …).
const MAX_ITEMS: usize = 200;

/// One time-stamped step.
#[derive(Debug, Serialize, ToSchema)]
pub struct StepView {
    #[schema(value_type = String, format = DateTime)]
    pub time: Timestamp,
    pub actor: String,
    /// `issued`, `acknowledged`, `measures-reported`, `closed`.
    #[schema(value_type = String)]
    pub status: AdvisoryStatus,
    pub note: String,
    pub measures: Vec<String>,
}

/// An advisory as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdvisoryView {
    pub id: String,
    #[schema(value_type = String)]
    pub org: OrgId,
    pub title: String,
    /// What was seen.
    pub summary: String,
    pub alert_ids: Vec<String>,
    /// Affected hosts.
    pub hosts: Vec<String>,
    /// Affected accounts.
    pub accounts: Vec<String>,
    pub recommended_measures: Vec<String>,
    #[schema(value_type = String, format = DateTime)]
    pub due: Timestamp,
    #[schema(value_type = String)]
    pub status: AdvisoryStatus,
    /// Not closed and past `due` at the time of the response.
    pub overdue: bool,
    /// Every measure the organization reported, in order.
    pub measures_taken: Vec<String>,
    #[schema(value_type = String, format = DateTime)]
    pub created: Timestamp,
    pub created_by: String,
    #[schema(value_type = String, format = DateTime)]
    pub updated: Timestamp,
    pub steps: Vec<StepView>,
}

impl AdvisoryView {
    pub fn new(a: Advisory, now: Timestamp) -> AdvisoryView {
        AdvisoryView {
            overdue: a.is_overdue(now),
            measures_taken: a.measures_taken().map(str::to_owned).collect(),
            id: a.id,
            org: a.org,
            title: a.title,
            summary: a.summary,
            alert_ids: a.alert_ids,
            hosts: a.hosts,
            accounts: a.accounts,
            recommended_measures: a.recommended_measures,
            due: a.due,
            status: a.status,
            created: a.created,
            created_by: a.created_by,
            updated: a.updated,
            steps: a
                .steps
                .into_iter()
                .map(|s| StepView {
                    time: s.time,
                    actor: s.actor,
                    status: s.status,
                    note: s.note,
                    measures: s.measures,
                })
                .collect(),
        }
    }
}

paged!(AdvisoryPage, AdvisoryView, AdvisoryView);

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AdvisoryQuery {
    pub org: Option<String>,
    /// `issued`, `acknowledged`, `measures-reported`, `closed`.
    pub status: Option<String>,
    /// Only advisories not closed.
    pub open: Option<bool>,
    /// Only advisories overdue now.
    pub overdue: Option<bool>,
    /// Rows to skip (default 0).
    pub offset: Option<u64>,
    /// Rows to return, 1–1000 (default 50).
    pub limit: Option<u64>,
}

/// Advisories of the organizations visible to the caller, soonest due first.
#[utoipa::path(get, path = "/api/v1/advisories", tag = "advisories", params(AdvisoryQuery),
    responses((status = 200, body = AdvisoryPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<AdvisoryQuery>,
) -> ApiResult<Json<AdvisoryPage>> {
    caller.require(Permission::Read)?;
    let page = super::page(q.offset, q.limit)?;
    let now = state.now();
    let filter = AdvisoryFilter {
        org: parse_opt_org(&q.org)?,
        status: q
            .status
            .as_deref()
            .map(|s| {
                AdvisoryStatus::parse(s)
                    .ok_or_else(|| ApiError::BadRequest(format!("unknown advisory status {s:?}")))
            })
            .transpose()?,
        open_only: q.open.unwrap_or(false),
        overdue_at: q.overdue.unwrap_or(false).then_some(now),
    };
    let scope = caller.scope.clone();
    let (items, total) = state
        .db(move |s| {
            Ok((
                s.list_advisories(&scope, &filter, &page)?,
                s.count_advisories(&scope, &filter)?,
            ))
        })
        .await?;
    let items = items
        .into_iter()
        .map(|a| AdvisoryView::new(a, now))
        .collect();
    Ok(Json(AdvisoryPage::new(items, total, page)))
}

/// One advisory with its steps.
#[utoipa::path(get, path = "/api/v1/advisories/{id}", tag = "advisories", params(("id" = String, Path)),
    responses((status = 200, body = AdvisoryView), (status = 404, body = ErrorBody)))]
pub async fn detail(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<AdvisoryView>> {
    caller.require(Permission::Read)?;
    let scope = caller.scope.clone();
    let key = id.clone();
    let a = state
        .db(move |s| s.get_advisory(&scope, &key))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("advisory {id:?}")))?;
    Ok(Json(AdvisoryView::new(a, state.now())))
}

/// An advisory to issue.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAdvisory {
    /// The alerts the advisory is about (one or more, all of one organization).
    pub alert_ids: Vec<String>,
    /// The receiving organization; defaults to the alerts' organization (must match it).
    pub org: Option<String>,
    pub title: String,
    /// What was seen.
    pub summary: String,
    /// Affected hosts; the alerts' hosts are added.
    #[serde(default)]
    pub hosts: Vec<String>,
    /// Affected accounts; the alerts' users are added.
    #[serde(default)]
    pub accounts: Vec<String>,
    /// What the organization should do (at least one).
    pub recommended_measures: Vec<String>,
    /// RFC 3339, in the future.
    pub due: String,
}

fn check_text(field: &str, s: &str, required: bool) -> ApiResult<()> {
    if required && s.trim().is_empty() {
        return Err(ApiError::BadRequest(format!("{field} must not be empty")));
    }
    if s.len() > MAX_TEXT {
        return Err(ApiError::BadRequest(format!(
            "{field} is longer than {MAX_TEXT} bytes"
        )));
    }
    Ok(())
}

fn check_list(field: &str, items: &[String]) -> ApiResult<()> {
    if items.len() > MAX_ITEMS {
        return Err(ApiError::BadRequest(format!(
            "{field} has more than {MAX_ITEMS} entries"
        )));
    }
    items.iter().try_for_each(|i| check_text(field, i, true))
}

fn push_unique(list: &mut Vec<String>, v: Option<&String>) {
    if let Some(v) = v
        && !list.contains(v)
    {
        list.push(v.clone());
    }
}

/// Issue an advisory from one or more alerts.
#[utoipa::path(post, path = "/api/v1/advisories", tag = "advisories", request_body = CreateAdvisory,
    responses((status = 201, body = AdvisoryView), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody, description = "an alert is not visible")))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<CreateAdvisory>,
) -> ApiResult<(StatusCode, Json<AdvisoryView>)> {
    caller.require(Permission::IssueAdvisories)?;
    let now = state.now();
    check_text("title", &req.title, true)?;
    check_text("summary", &req.summary, true)?;
    check_list("alert_ids", &req.alert_ids)?;
    check_list("hosts", &req.hosts)?;
    check_list("accounts", &req.accounts)?;
    check_list("recommended_measures", &req.recommended_measures)?;
    if req.alert_ids.is_empty() {
        return Err(ApiError::BadRequest(
            "alert_ids must name at least one alert".into(),
        ));
    }
    if req.recommended_measures.is_empty() {
        return Err(ApiError::BadRequest(
            "recommended_measures must hold at least one measure".into(),
        ));
    }
    let due = Timestamp::parse_rfc3339(&req.due)
        .map_err(|e| ApiError::BadRequest(format!("due: {e}")))?;
    if due <= now {
        return Err(ApiError::BadRequest("due must be in the future".into()));
    }
    let requested_org = parse_opt_org(&req.org)?;
    // Load the alerts through the caller's scope: an invisible alert is simply not found.
    let scope = caller.scope.clone();
    let ids = req.alert_ids.clone();
    let alerts: Vec<Result<StoredAlert, String>> = state
        .db(move |s| {
            ids.into_iter()
                .map(|id| Ok(s.get_alert(&scope, &id)?.ok_or(id)))
                .collect()
        })
        .await?;
    let mut org: Option<OrgId> = requested_org.clone();
    let mut hosts = req.hosts;
    let mut accounts = req.accounts;
    for a in &alerts {
        let a = a
            .as_ref()
            .map_err(|id| ApiError::NotFound(format!("alert {id:?}")))?;
        match &org {
            Some(o) if *o != a.alert.org => {
                return Err(ApiError::BadRequest(format!(
                    "alert {} belongs to {}, not {o}; an advisory goes to one organization",
                    a.alert.id, a.alert.org
                )));
            }
            Some(_) => {}
            None => org = Some(a.alert.org.clone()),
        }
        let e = &a.alert.entities;
        push_unique(&mut hosts, e.host.as_ref().or(e.src_ip.as_ref()));
        push_unique(&mut accounts, e.user.as_ref());
    }
    let Some(org) = org else {
        return Err(ApiError::BadRequest("no organization".into()));
    };
    let new = NewAdvisory {
        id: format!("adv-{}", auth::random_hex(8)?),
        org: org.clone(),
        title: req.title,
        summary: req.summary,
        alert_ids: req.alert_ids,
        hosts,
        accounts,
        recommended_measures: req.recommended_measures,
        due,
        time: now,
        actor: caller.name.clone(),
    };
    let scope = caller.scope.clone();
    let created = state.db(move |s| s.create_advisory(&scope, &new)).await?;
    state
        .audit_by(
            &caller,
            &org,
            "advisory.create",
            &created.id,
            serde_json::json!({"alert_ids": created.alert_ids, "due": created.due}),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(AdvisoryView::new(created, now))))
}

/// A note with a step (optional).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StepNote {
    #[serde(default)]
    pub note: String,
}

/// Measures the organization took.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MeasuresReport {
    /// For example "terminal isolated", "accounts reset" (at least one).
    pub measures: Vec<String>,
    #[serde(default)]
    pub note: String,
}

/// The optional `{"note": …}` body of acknowledge and close (an empty body is no note).
fn step_note(body: &[u8]) -> ApiResult<String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(String::new());
    }
    serde_json::from_slice::<StepNote>(body)
        .map(|n| n.note)
        .map_err(|e| ApiError::BadRequest(format!("request body: {e}")))
}

async fn advance(
    state: &AppState,
    caller: &Caller,
    id: String,
    status: AdvisoryStatus,
    note: String,
    measures: Vec<String>,
) -> ApiResult<Json<AdvisoryView>> {
    caller.require(Permission::RespondAdvisories)?;
    check_text("note", &note, false)?;
    check_list("measures", &measures)?;
    let now = state.now();
    let step = AdvisoryStep {
        time: now,
        actor: caller.name.clone(),
        status,
        note,
        measures,
    };
    let scope = caller.scope.clone();
    let key = id.clone();
    let details = serde_json::json!({"note": step.note, "measures": step.measures});
    let a = state
        .db(move |s| s.advance_advisory(&scope, &key, &step))
        .await?;
    let action = match status {
        AdvisoryStatus::Issued => "advisory.create",
        AdvisoryStatus::Acknowledged => "advisory.acknowledge",
        AdvisoryStatus::MeasuresReported => "advisory.report-measures",
        AdvisoryStatus::Closed => "advisory.close",
    };
    state.audit_by(caller, &a.org, action, &id, details).await?;
    Ok(Json(AdvisoryView::new(a, now)))
}

/// The organization's security officer acknowledges the advisory.
#[utoipa::path(post, path = "/api/v1/advisories/{id}/acknowledge", tag = "advisories",
    params(("id" = String, Path)), request_body = StepNote,
    responses((status = 200, body = AdvisoryView), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn acknowledge(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult<Json<AdvisoryView>> {
    let note = step_note(&body)?;
    advance(
        &state,
        &caller,
        id,
        AdvisoryStatus::Acknowledged,
        note,
        vec![],
    )
    .await
}

/// The organization reports measures taken (repeatable until closed).
#[utoipa::path(post, path = "/api/v1/advisories/{id}/measures", tag = "advisories",
    params(("id" = String, Path)), request_body = MeasuresReport,
    responses((status = 200, body = AdvisoryView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn report_measures(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(req): Json<MeasuresReport>,
) -> ApiResult<Json<AdvisoryView>> {
    if req.measures.is_empty() {
        caller.require(Permission::RespondAdvisories)?;
        return Err(ApiError::BadRequest(
            "measures must name at least one measure".into(),
        ));
    }
    advance(
        &state,
        &caller,
        id,
        AdvisoryStatus::MeasuresReported,
        req.note,
        req.measures,
    )
    .await
}

/// The organization closes the advisory.
#[utoipa::path(post, path = "/api/v1/advisories/{id}/close", tag = "advisories",
    params(("id" = String, Path)), request_body = StepNote,
    responses((status = 200, body = AdvisoryView), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn close(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult<Json<AdvisoryView>> {
    let note = step_note(&body)?;
    advance(&state, &caller, id, AdvisoryStatus::Closed, note, vec![]).await
}
