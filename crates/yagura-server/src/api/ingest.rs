//! `POST /api/v1/ingest`: HTTP push of telemetry (JSON lines / NDJSON of ECS events, or any
//! format yagura reads) by an organization's API token with the `ingest` scope.
//!
//! The server only translates HTTP: parsing and the durable write-ahead log are behind the
//! [`IngestSink`] the binary provides (`yagura serve`). The contract:
//! - the events belong to the token's organization (a line naming another one is rejected);
//! - `200` only once the accepted lines are fsynced; malformed lines are listed (line number
//!   and reason) and the good lines are kept; `422` when no line is acceptable;
//! - an `Idempotency-Key` header makes a retried batch an acknowledged duplicate instead of a
//!   second copy;
//! - the body is read with a cap (`413` beyond `max_body_bytes`, checked while streaming, not
//!   only from `Content-Length`), and at most `max_in_flight` bodies are held at once;
//! - saturation answers `429` (too many requests in flight, or the log's queue is full) or
//!   `503` (the store is behind), a full disk `507`, all with `Retry-After`.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use yagura_model::OrgId;

use crate::api::Query;
use crate::auth;
use crate::error::{ApiError, ErrorBody, ErrorDetail};
use crate::state::AppState;

/// Where pushed bodies go (implemented by the binary over the event store's WAL).
pub trait IngestSink: Send + Sync {
    /// Parses `body` (format named or detected) into events of `org` and stores the good ones
    /// durably as batch `batch_id`. Blocking: called off the async workers.
    fn submit(
        &self,
        org: &OrgId,
        batch_id: &str,
        format: Option<&str>,
        body: &[u8],
    ) -> Result<IngestReceipt, IngestRefusal>;
}

/// A line that was not stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct RejectedLine {
    /// 1-based line number in the body (0: the body as a whole).
    pub line: u64,
    pub reason: String,
}

/// The answer to a push.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct IngestReceipt {
    /// Events stored durably (for a duplicate: by the first attempt).
    pub accepted: u64,
    /// The `Idempotency-Key` was already stored: nothing was stored twice.
    pub duplicate: bool,
    /// Lines rejected, with line number and reason (at most 1000 listed).
    pub rejected: Vec<RejectedLine>,
}

/// Why a push was refused as a whole (nothing stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IngestRefusal {
    /// Intake queue full: 429, retry in a second.
    Busy,
    /// The store is behind: 503, retry in a few seconds.
    Backlog(String),
    /// Disk full: 507, retry once space is freed.
    DiskFull(String),
    /// The request is unacceptable: 400.
    Invalid(String),
    /// The log is unusable (failed fsync, closed): 503.
    Unavailable(String),
}

/// The ingest endpoint's configuration and its in-flight bound.
#[derive(Clone)]
pub struct IngestEndpoint {
    pub sink: Arc<dyn IngestSink>,
    /// Largest accepted body (bytes).
    pub max_body_bytes: usize,
    permits: Arc<tokio::sync::Semaphore>,
}

impl std::fmt::Debug for IngestEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IngestEndpoint")
            .field("max_body_bytes", &self.max_body_bytes)
            .field("in_flight_free", &self.permits.available_permits())
            .finish_non_exhaustive()
    }
}

impl IngestEndpoint {
    /// At most `max_in_flight` bodies of at most `max_body_bytes` are held at once.
    pub fn new(sink: Arc<dyn IngestSink>, max_body_bytes: usize, max_in_flight: usize) -> Self {
        IngestEndpoint {
            sink,
            max_body_bytes,
            permits: Arc::new(tokio::sync::Semaphore::new(max_in_flight.max(1))),
        }
    }
}

/// Query of `POST /api/v1/ingest`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct IngestParams {
    /// Format of the body (as `yagura parse --format`: `ecs`, `squid`, `zeek-json`,
    /// `suricata`, `syslog`, `cef`, …). Default: detected from the content.
    pub format: Option<String>,
}

/// Longest accepted `Idempotency-Key`.
pub const MAX_IDEMPOTENCY_KEY: usize = 128;

fn refusal(
    status: StatusCode,
    code: &'static str,
    message: String,
    retry: Option<u32>,
) -> Response {
    let body = ErrorBody {
        error: ErrorDetail {
            status: status.as_u16(),
            code,
            message,
        },
    };
    let mut resp = (status, axum::Json(body)).into_response();
    if let Some(secs) = retry
        && let Ok(v) = HeaderValue::from_str(&secs.to_string())
    {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    resp
}

/// The token's organization, if the request carries an active token with the `ingest` scope.
async fn ingest_caller(headers: &HeaderMap, state: &AppState) -> Result<OrgId, ApiError> {
    let secret = auth::bearer(headers).ok_or(ApiError::Unauthenticated)??;
    let hash = auth::sha256_hex(secret);
    let now = state.now();
    let token = state
        .token_for_hash(hash)
        .await?
        .filter(|t| t.is_active(now))
        .ok_or(ApiError::Unauthenticated)?;
    if !token.scopes.iter().any(|s| s == "ingest") {
        return Err(ApiError::Forbidden(
            "token lacks the \"ingest\" scope".into(),
        ));
    }
    Ok(token.org)
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(v) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let ok = v.to_str().ok().filter(|k| {
        !k.is_empty()
            && k.len() <= MAX_IDEMPOTENCY_KEY
            && k.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.:/".contains(&b))
    });
    match ok {
        Some(k) => Ok(Some(k.to_owned())),
        None => Err(ApiError::BadRequest(format!(
            "Idempotency-Key must be 1-{MAX_IDEMPOTENCY_KEY} characters of A-Z a-z 0-9 - _ . : /"
        ))),
    }
}

/// Push telemetry of the token's organization (JSON lines / NDJSON by default).
#[utoipa::path(post, path = "/api/v1/ingest", tag = "ingest", params(IngestParams,
        ("Idempotency-Key" = Option<String>, Header, description = "Batch id: a retry with the same key is acknowledged without storing twice")),
    request_body(content = String, content_type = "application/x-ndjson", description = "One record per line"),
    responses(
        (status = 200, body = IngestReceipt, description = "Accepted lines are durable (fsynced); rejected lines listed"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody, description = "Token without the ingest scope"),
        (status = 404, body = ErrorBody, description = "Ingest not enabled on this server"),
        (status = 413, body = ErrorBody, description = "Body larger than the configured cap"),
        (status = 422, body = IngestReceipt, description = "No line was acceptable"),
        (status = 429, body = ErrorBody, description = "Busy: retry after Retry-After seconds"),
        (status = 503, body = ErrorBody, description = "Store behind or unavailable: retry after Retry-After seconds"),
        (status = 507, body = ErrorBody, description = "Disk full: nothing stored; retry after Retry-After seconds")),
    security(("bearer" = [])))]
pub async fn ingest(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Query<IngestParams>,
    body: Body,
) -> Response {
    let Some(endpoint) = state.0.options.ingest.clone() else {
        return ApiError::NotFound(
            "ingest endpoint (not enabled in the server configuration)".into(),
        )
        .into_response();
    };
    let org = match ingest_caller(&headers, &state).await {
        Ok(o) => o,
        Err(e) => return e.into_response(),
    };
    let key = match idempotency_key(&headers) {
        Ok(k) => k,
        Err(e) => return e.into_response(),
    };
    let too_large = || {
        refusal(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload-too-large",
            format!(
                "body larger than {} bytes: split the batch",
                endpoint.max_body_bytes
            ),
            None,
        )
    };
    if headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|n| n > endpoint.max_body_bytes as u64)
    {
        return too_large();
    }
    // Bound the memory held by bodies: no permit, no read.
    let Ok(_permit) = Arc::clone(&endpoint.permits).try_acquire_owned() else {
        return refusal(
            StatusCode::TOO_MANY_REQUESTS,
            "busy",
            "too many ingest requests in flight".into(),
            Some(1),
        );
    };
    let bytes = match http_body_util::Limited::new(body, endpoint.max_body_bytes)
        .collect()
        .await
    {
        Ok(c) => c.to_bytes(),
        Err(e) => {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                return too_large();
            }
            return ApiError::BadRequest(format!("reading the body: {e}")).into_response();
        }
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return ApiError::BadRequest("empty body".into()).into_response();
    }
    let batch_id = match key {
        Some(k) => format!("http/{org}/{k}"),
        None => match auth::random_hex(16) {
            Ok(r) => format!("http/{org}/~{r}"),
            Err(e) => return e.into_response(),
        },
    };
    let sink = Arc::clone(&endpoint.sink);
    let format = params.format;
    let org2 = org.clone();
    let res = tokio::task::spawn_blocking(move || {
        sink.submit(&org2, &batch_id, format.as_deref(), &bytes)
    })
    .await;
    match res {
        Err(e) => ApiError::Internal(format!("ingest task: {e}")).into_response(),
        Ok(Ok(receipt)) => {
            let status = if receipt.accepted == 0 && !receipt.duplicate {
                StatusCode::UNPROCESSABLE_ENTITY
            } else {
                StatusCode::OK
            };
            (status, axum::Json(receipt)).into_response()
        }
        Ok(Err(r)) => match r {
            IngestRefusal::Busy => refusal(
                StatusCode::TOO_MANY_REQUESTS,
                "busy",
                "intake queue full: retry later".into(),
                Some(1),
            ),
            IngestRefusal::Backlog(m) => {
                refusal(StatusCode::SERVICE_UNAVAILABLE, "backlog", m, Some(5))
            }
            IngestRefusal::DiskFull(m) => refusal(
                StatusCode::INSUFFICIENT_STORAGE,
                "insufficient-storage",
                m,
                Some(30),
            ),
            IngestRefusal::Invalid(m) => ApiError::BadRequest(m).into_response(),
            IngestRefusal::Unavailable(m) => {
                tracing::error!(org = %org, error = %m, "ingest unavailable");
                refusal(StatusCode::SERVICE_UNAVAILABLE, "unavailable", m, Some(10))
            }
        },
    }
}
