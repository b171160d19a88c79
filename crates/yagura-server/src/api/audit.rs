//! The audit trail (auditor and center-admin), newest first.

use axum::extract::State;
use serde::Deserialize;
use utoipa::IntoParams;
use yagura_store::{AuditFilter, AuditRecord};

use super::{Json, Query, paged, parse_opt_org, parse_time};
use crate::auth::Caller;
use crate::authz::Permission;
use crate::error::{ApiResult, ErrorBody};
use crate::state::AppState;

paged!(AuditPage, AuditRecord, Object);

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    pub org: Option<String>,
    pub actor: Option<String>,
    /// Exact action (`advisory.close`) or a prefix ending in `.` (`advisory.`).
    pub action: Option<String>,
    /// RFC 3339; `time >= since`.
    pub since: Option<String>,
    /// RFC 3339; `time < until`.
    pub until: Option<String>,
    /// Rows to skip (default 0).
    pub offset: Option<u64>,
    /// Rows to return, 1–1000 (default 50).
    pub limit: Option<u64>,
}

/// Audit records of the organizations in the caller's scope.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(AuditQuery),
    responses((status = 200, body = AuditPage), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<AuditQuery>,
) -> ApiResult<Json<AuditPage>> {
    caller.require(Permission::ReadAudit)?;
    let page = super::page(q.offset, q.limit)?;
    let filter = AuditFilter {
        org: parse_opt_org(&q.org)?,
        actor: q.actor,
        action: q.action,
        since: parse_time("since", &q.since)?,
        until: parse_time("until", &q.until)?,
    };
    let scope = caller.scope.clone();
    let (items, total) = state
        .db(move |s| {
            Ok((
                s.query_audit(&scope, &filter, &page)?,
                s.count_audit(&scope, &filter)?,
            ))
        })
        .await?;
    Ok(Json(AuditPage::new(items, total, page)))
}
