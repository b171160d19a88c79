//! Alerts: list with filters, detail, triage status (single and bulk).

use std::io::Write as _;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use yagura_model::{Detector, Severity, Timestamp};
use yagura_store::{
    AlertCursor, AlertFilter, AlertJson, AlertJsonRef, AlertStatus, Page, StoreError, StoredAlert,
};

use super::{Json, Path, Query, parse_opt_org, parse_time};
use crate::auth::Caller;
use crate::authz::Permission;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::state::AppState;

/// One page of alerts: `{items, total, offset, limit}` like every list, plus `next_cursor`
/// when the page is full. The handler writes this shape itself from the stored documents
/// ([`alert_page_json`]); the type documents it (OpenAPI) and reads it back (tests).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AlertPage {
    /// The alerts (DESIGN.md §4) plus `status` and `incident_id`, newest first.
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<StoredAlert>,
    /// Rows matching the filters (all pages).
    pub total: u64,
    pub offset: u64,
    pub limit: u64,
    /// Present when the page is full: pass it as `cursor` for the next page (same filters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// Alert list filters; every parameter narrows.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AlertQuery {
    /// Only this organization (must be in the caller's scope to match anything).
    pub org: Option<String>,
    /// Minimum severity (`informational` … `critical`; Sigma levels accepted).
    pub severity: Option<String>,
    /// `ioc`, `sigma`, `analytic`, `policy`, `correlation`.
    pub detector: Option<String>,
    pub rule_id: Option<String>,
    /// `new`, `acknowledged`, `in-progress`, `false-positive`, `resolved`.
    pub status: Option<String>,
    /// RFC 3339; `time >= since`.
    pub since: Option<String>,
    /// RFC 3339; `time < until`.
    pub until: Option<String>,
    /// Substring of title or summary (case-insensitive).
    pub q: Option<String>,
    /// Substring anywhere in the alert — entities, evidence, context (case-insensitive):
    /// every alert that mentions a domain, address, account, … (hunting).
    pub mentions: Option<String>,
    /// Continue after this position: the `next_cursor` of the previous page (keyset
    /// pagination; a deep page costs what the first one does). `offset` then skips further.
    pub cursor: Option<String>,
    /// Rows to skip (default 0).
    pub offset: Option<u64>,
    /// Rows to return, 1–1000 (default 50).
    pub limit: Option<u64>,
}

/// The opaque cursor of a list position: `<time in ns>.<id in hex>` (URL-safe as it is).
pub fn encode_cursor(c: &AlertCursor) -> String {
    let mut s = String::with_capacity(24 + 2 * c.id.len());
    let _ = std::fmt::Write::write_fmt(&mut s, format_args!("{}.", c.time.nanos()));
    crate::auth::push_hex(&mut s, c.id.as_bytes());
    s
}

/// Reads a cursor of [`encode_cursor`]; 400 when it is not one.
pub fn decode_cursor(s: &str) -> ApiResult<AlertCursor> {
    let bad = || ApiError::BadRequest(format!("cursor: {s:?} is not a list cursor"));
    let (time, hex) = s.split_once('.').ok_or_else(bad)?;
    let time: i64 = time.parse().map_err(|_| bad())?;
    if hex.is_empty() || !hex.len().is_multiple_of(2) || hex.len() > 1024 {
        return Err(bad());
    }
    let bytes = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2).ok_or_else(bad)?, 16).map_err(|_| bad()))
        .collect::<ApiResult<Vec<u8>>>()?;
    Ok(AlertCursor {
        time: Timestamp::from_nanos(time),
        id: String::from_utf8(bytes).map_err(|_| bad())?,
    })
}

/// The list response written from the stored documents, without decoding them: the bytes
/// `serde_json` would write for the [`AlertPage`] of the same alerts. Rows are appended as
/// the store lends them ([`yagura_store::StateStore::visit_alerts_json`]), straight into the
/// response buffer.
#[derive(Debug)]
pub struct AlertPageWriter {
    out: Vec<u8>,
    rows: u64,
    last: AlertCursor,
}

impl AlertPageWriter {
    pub fn new(page: &Page) -> AlertPageWriter {
        // Stored alerts are mostly under a kilobyte: one allocation for a usual page.
        let rows = page.limit.clamp(1, 100) as usize;
        let mut out = Vec::with_capacity(rows * 1024 + 192);
        out.extend_from_slice(b"{\"items\":[");
        AlertPageWriter {
            out,
            rows: 0,
            last: AlertCursor {
                time: Timestamp::from_nanos(0),
                id: String::new(),
            },
        }
    }

    pub fn push(&mut self, a: AlertJsonRef<'_>) {
        if self.rows > 0 {
            self.out.push(b',');
        }
        a.write_json(&mut self.out);
        self.rows += 1;
        self.last.time = a.time;
        self.last.id.clear();
        self.last.id.push_str(a.id);
    }

    /// The response: the items, `total`, the page, and `next_cursor` when the page is full.
    pub fn finish(mut self, total: u64, page: &Page) -> Vec<u8> {
        // Writing into a Vec cannot fail.
        let _ = write!(
            self.out,
            "],\"total\":{total},\"offset\":{},\"limit\":{}",
            page.offset, page.limit
        );
        if self.rows > 0 && self.rows >= page.limit {
            // The cursor is digits, `.` and hex: nothing to escape.
            self.out.extend_from_slice(b",\"next_cursor\":\"");
            self.out
                .extend_from_slice(encode_cursor(&self.last).as_bytes());
            self.out.push(b'"');
        }
        self.out.push(b'}');
        self.out
    }
}

/// [`AlertPageWriter`] over rows already read.
pub fn alert_page_json(items: &[AlertJson], total: u64, page: Page) -> Vec<u8> {
    let mut w = AlertPageWriter::new(&page);
    for a in items {
        w.push(a.as_ref());
    }
    w.finish(total, &page)
}

pub(crate) fn parse_status(s: &str) -> ApiResult<AlertStatus> {
    AlertStatus::parse(s).ok_or_else(|| ApiError::BadRequest(format!("unknown alert status {s:?}")))
}

fn parse_detector(s: &str) -> ApiResult<Detector> {
    serde_json::from_value(serde_json::Value::String(s.to_owned()))
        .map_err(|_| ApiError::BadRequest(format!("unknown detector {s:?}")))
}

impl AlertQuery {
    pub(crate) fn filter(&self) -> ApiResult<AlertFilter> {
        Ok(AlertFilter {
            org: parse_opt_org(&self.org)?,
            min_severity: self
                .severity
                .as_deref()
                .map(|s| {
                    s.parse::<Severity>()
                        .map_err(|e| ApiError::BadRequest(format!("severity: {e}")))
                })
                .transpose()?,
            detector: self.detector.as_deref().map(parse_detector).transpose()?,
            rule_id: self.rule_id.clone(),
            status: self.status.as_deref().map(parse_status).transpose()?,
            since: parse_time("since", &self.since)?,
            until: parse_time("until", &self.until)?,
            text: self.q.clone().filter(|t| !t.is_empty()),
            mentions: self.mentions.clone().filter(|t| !t.is_empty()),
        })
    }
}

/// Alerts visible to the caller, newest first (then by id). Page with `offset`, or with
/// `cursor` (the previous page's `next_cursor`), which stays cheap however deep the page.
#[utoipa::path(get, path = "/api/v1/alerts", tag = "alerts", params(AlertQuery),
    responses((status = 200, body = AlertPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<AlertQuery>,
) -> ApiResult<Response> {
    caller.require(Permission::Read)?;
    let page = super::page(q.offset, q.limit)?;
    let filter = q.filter()?;
    let after = q.cursor.as_deref().map(decode_cursor).transpose()?;
    let scope = caller.scope;
    let body = state
        .db(move |s| {
            // Written on the store's thread as the rows come: it is the rest of the
            // request's CPU.
            let mut w = AlertPageWriter::new(&page);
            let total =
                s.visit_alerts_json_with_total(&scope, &filter, after.as_ref(), &page, &mut |a| {
                    w.push(a)
                })?;
            Ok(w.finish(total, &page))
        })
        .await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// One alert with its triage status, entities and evidence references.
#[utoipa::path(get, path = "/api/v1/alerts/{id}", tag = "alerts", params(("id" = String, Path)),
    responses((status = 200, body = Object, description = "The alert (DESIGN.md §4) plus `status` and `incident_id`"),
              (status = 404, body = ErrorBody)))]
pub async fn detail(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<StoredAlert>> {
    caller.require(Permission::Read)?;
    let scope = caller.scope.clone();
    let key = id.clone();
    state
        .db(move |s| s.get_alert(&scope, &key))
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("alert {id:?}")))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusChange {
    /// `new`, `acknowledged`, `in-progress`, `false-positive`, `resolved`.
    pub status: String,
}

/// Change one alert's triage status.
#[utoipa::path(put, path = "/api/v1/alerts/{id}/status", tag = "alerts", params(("id" = String, Path)),
    request_body = StatusChange,
    responses((status = 200, body = Object), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn set_status(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(req): Json<StatusChange>,
) -> ApiResult<Json<StoredAlert>> {
    caller.require(Permission::TriageAlerts)?;
    let status = parse_status(&req.status)?;
    match change_status(&state, &caller, &id, status).await? {
        Some(a) => Ok(Json(a)),
        None => Err(ApiError::NotFound(format!("alert {id:?}"))),
    }
}

/// Reads the alert in scope, changes its status, audits. `None` when not visible.
async fn change_status(
    state: &AppState,
    caller: &Caller,
    id: &str,
    status: AlertStatus,
) -> ApiResult<Option<StoredAlert>> {
    let scope = caller.scope.clone();
    let key = id.to_owned();
    let updated = state
        .db(move |s| {
            let Some(before) = s.get_alert(&scope, &key)? else {
                return Ok(None);
            };
            match s.set_alert_status(&scope, &key, status) {
                Ok(()) => {}
                Err(StoreError::NotFound { .. }) => return Ok(None),
                Err(e) => return Err(e),
            }
            let after = s.get_alert(&scope, &key)?;
            Ok(after.map(|a| (before.status, a)))
        })
        .await?;
    let Some((from, alert)) = updated else {
        return Ok(None);
    };
    state
        .audit_by(
            caller,
            &alert.alert.org,
            "alert.status",
            id,
            serde_json::json!({"from": from.as_str(), "to": status.as_str()}),
        )
        .await?;
    Ok(Some(alert))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkStatusChange {
    /// At most 1000 alert ids.
    pub ids: Vec<String>,
    pub status: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BulkStatusResult {
    /// Ids changed.
    pub updated: Vec<String>,
    /// Ids not found in the caller's scope (unchanged).
    pub not_found: Vec<String>,
}

/// Change the triage status of many alerts at once.
#[utoipa::path(post, path = "/api/v1/alerts/status", tag = "alerts", request_body = BulkStatusChange,
    responses((status = 200, body = BulkStatusResult), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn bulk_status(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<BulkStatusChange>,
) -> ApiResult<Json<BulkStatusResult>> {
    caller.require(Permission::TriageAlerts)?;
    let status = parse_status(&req.status)?;
    if req.ids.len() > 1000 {
        return Err(ApiError::BadRequest("at most 1000 ids per request".into()));
    }
    let mut out = BulkStatusResult {
        updated: vec![],
        not_found: vec![],
    };
    for id in req.ids {
        match change_status(&state, &caller, &id, status).await? {
            Some(_) => out.updated.push(id),
            None => out.not_found.push(id),
        }
    }
    Ok(Json(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_are_time_dot_hex_of_the_id_and_read_back() {
        for (t, id) in [
            (0, "a"),
            (-5, "alert-1"),
            (1_764_201_600_123_456_789, "ÿ\u{1f}é/日本"),
        ] {
            let c = AlertCursor {
                time: Timestamp::from_nanos(t),
                id: id.to_owned(),
            };
            let hex: String = id.bytes().map(|b| format!("{b:02x}")).collect();
            let s = encode_cursor(&c);
            assert_eq!(s, format!("{t}.{hex}"));
            let back = decode_cursor(&s).unwrap();
            assert_eq!((back.time, back.id), (c.time, c.id));
        }
    }
}
