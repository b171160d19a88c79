//! Hunting the event store: stored events bearing indicators (IP addresses, domains, URLs,
//! hashes, accounts, …) in a time range, within the caller's scope. The store applies the
//! scope itself ([`yagura_eventstore::HuntQuery::scope`]), like the state store does for
//! every record.

use std::collections::BTreeMap;

use axum::extract::{RawQuery, State};
use serde::Serialize;
use utoipa::ToSchema;
use yagura_eventstore::{FieldFilter, HuntQuery, HuntResult};
use yagura_model::{Scope, Timestamp};

use super::{Json, parse_org};
use crate::auth::Caller;
use crate::authz::Permission;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::state::AppState;

/// Most indicators one hunt takes.
pub const MAX_INDICATORS: usize = 1000;
/// Most events one page returns.
pub const MAX_LIMIT: usize = 1000;
/// Default events per page.
pub const DEFAULT_LIMIT: usize = 100;
/// Deepest offset (a hunt materializes `offset + limit` events).
pub const MAX_OFFSET: usize = 10_000;
/// Longest query string accepted.
const MAX_QUERY_BYTES: usize = 64 * 1024;

/// A hunt as the API and the console take it (query-string fields, repeatable where noted).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HuntRequest {
    /// Indicators (`indicator=` repeated, and/or `q=` separated by whitespace or commas).
    pub indicators: Vec<String>,
    /// `filter=FIELD=VALUE`, repeatable; every one must hold.
    pub filters: Vec<FieldFilter>,
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
    /// Only this organization (narrows the caller's scope; never widens it).
    pub org: Option<yagura_model::OrgId>,
    pub offset: usize,
    pub limit: usize,
}

/// Parses `from`/`to`: RFC 3339, `YYYY-MM-DD` (UTC midnight) or `YYYY-MM-DDTHH:MM[:SS]`
/// (UTC; what an HTML `datetime-local` input sends).
pub fn parse_hunt_time(field: &str, s: &str) -> ApiResult<Timestamp> {
    let s = s.trim();
    let candidates = [
        s.to_owned(),
        format!("{s}T00:00:00Z"),
        format!("{s}:00Z"),
        format!("{s}Z"),
    ];
    candidates
        .iter()
        .find_map(|c| Timestamp::parse_rfc3339(c).ok())
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "{field}: {s:?} is not a time (RFC 3339, YYYY-MM-DD or YYYY-MM-DDTHH:MM, UTC)"
            ))
        })
}

impl HuntRequest {
    /// Reads a hunt from query-string pairs; unknown keys are refused (a typo must not
    /// silently widen a hunt).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> ApiResult<Self> {
        let mut r = HuntRequest {
            limit: DEFAULT_LIMIT,
            ..HuntRequest::default()
        };
        let number = |k: &str, v: &str| {
            v.trim()
                .parse::<usize>()
                .map_err(|_| ApiError::BadRequest(format!("{k}: not a number: {v:?}")))
        };
        for (k, v) in pairs {
            let blank = v.trim().is_empty();
            match k {
                "indicator" | "q" => r.indicators.extend(
                    v.split(|c: char| c.is_whitespace() || c == ',')
                        .filter(|i| !i.is_empty())
                        .map(str::to_owned),
                ),
                "filter" if !blank => r.filters.push(
                    FieldFilter::parse(v)
                        .map_err(|e| ApiError::BadRequest(format!("filter: {e}")))?,
                ),
                "from" if !blank => r.from = Some(parse_hunt_time("from", v)?),
                "to" if !blank => r.to = Some(parse_hunt_time("to", v)?),
                "org" if !blank => r.org = Some(parse_org(v.trim())?),
                "offset" if !blank => r.offset = number(k, v)?,
                "limit" if !blank => r.limit = number(k, v)?,
                "filter" | "from" | "to" | "org" | "offset" | "limit" | "lang" => {}
                other => {
                    return Err(ApiError::BadRequest(format!(
                        "unknown hunt parameter {other:?}"
                    )));
                }
            }
        }
        if r.indicators.len() > MAX_INDICATORS {
            return Err(ApiError::BadRequest(format!(
                "at most {MAX_INDICATORS} indicators per hunt"
            )));
        }
        if r.limit == 0 || r.limit > MAX_LIMIT {
            return Err(ApiError::BadRequest(format!(
                "limit must be between 1 and {MAX_LIMIT}"
            )));
        }
        if r.offset > MAX_OFFSET {
            return Err(ApiError::BadRequest(format!(
                "offset must be at most {MAX_OFFSET} (narrow the hunt instead)"
            )));
        }
        if let (Some(f), Some(t)) = (r.from, r.to)
            && f >= t
        {
            return Err(ApiError::BadRequest("`from` must be before `to`".into()));
        }
        Ok(r)
    }

    /// Parses a raw query string (see [`HuntRequest::from_pairs`]).
    pub fn from_query(q: Option<&str>) -> ApiResult<Self> {
        let q = q.unwrap_or("");
        if q.len() > MAX_QUERY_BYTES {
            return Err(ApiError::BadRequest("hunt query too long".into()));
        }
        let pairs: Vec<(String, String)> = form_urlencoded::parse(q.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        HuntRequest::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    }

    /// Whether anything narrows the hunt (an empty hunt would return every stored event).
    pub fn is_empty(&self) -> bool {
        self.indicators.is_empty() && self.filters.is_empty() && self.from.is_none()
    }
}

/// Runs `req` over the server's event store within `scope` (blocking; run it off the async
/// workers). `org` narrows the scope, never widens it.
pub fn run_hunt(
    events: &yagura_eventstore::EventStore,
    scope: &Scope,
    req: &HuntRequest,
) -> ApiResult<HuntResult> {
    let scope = match &req.org {
        Some(o) => scope.intersect(&Scope::single(o.clone())),
        None => scope.clone(),
    };
    events
        .hunt(&HuntQuery {
            scope,
            indicators: req.indicators.clone(),
            filters: req.filters.clone(),
            from: req.from,
            to: req.to,
            limit: Some(req.offset + req.limit),
        })
        .map_err(|e| match e {
            yagura_eventstore::StoreError::InvalidHunt(m) => ApiError::BadRequest(m),
            other => ApiError::Internal(format!("event store: {other}")),
        })
}

/// One matching event.
#[derive(Debug, Serialize, ToSchema)]
pub struct HuntItem {
    pub org: String,
    /// The normalized indicators the event bears.
    pub matched: Vec<String>,
    /// The stored event (ECS JSON).
    #[schema(value_type = Object)]
    pub event: yagura_model::Event,
}

/// A page of a hunt's events, oldest first, with complete counts.
#[derive(Debug, Serialize, ToSchema)]
pub struct HuntPage {
    pub items: Vec<HuntItem>,
    /// Matching events in scope (all pages).
    pub total: u64,
    /// Matching events per organization (all pages).
    pub counts: BTreeMap<String, u64>,
    pub offset: u64,
    pub limit: u64,
    /// Splits searched after pruning by scope and time.
    pub splits_searched: u64,
}

/// Hunts the stored events visible to the caller.
#[utoipa::path(get, path = "/api/v1/hunt", tag = "hunt",
    params(
        ("indicator" = Option<Vec<String>>, Query, description = "An indicator: IP address, domain (subdomains match), URL, hash, e-mail address, user or file name, JA3/JA4; repeatable"),
        ("q" = Option<String>, Query, description = "Indicators separated by whitespace or commas"),
        ("filter" = Option<Vec<String>>, Query, description = "FIELD=VALUE on an ECS field, case-insensitive (e.g. event.dataset=zeek.dns); repeatable, all must hold"),
        ("from" = Option<String>, Query, description = "Events at or after (RFC 3339, YYYY-MM-DD or YYYY-MM-DDTHH:MM, UTC)"),
        ("to" = Option<String>, Query, description = "Events before (same forms)"),
        ("org" = Option<String>, Query, description = "Only this organization (within the caller's scope)"),
        ("offset" = Option<u64>, Query, description = "Events to skip, at most 10000 (default 0)"),
        ("limit" = Option<u64>, Query, description = "Events to return, 1–1000 (default 100)"),
    ),
    responses((status = 200, body = HuntPage), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody, description = "The server has no event store")))]
pub async fn hunt(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<HuntPage>> {
    caller.require(Permission::HuntEvents)?;
    let req = HuntRequest::from_query(q.as_deref())?;
    if req.is_empty() {
        return Err(ApiError::BadRequest(
            "nothing to hunt for: give indicators, a filter or a time range".into(),
        ));
    }
    let events = state
        .events()
        .cloned()
        .ok_or_else(|| ApiError::NotFound("event store".into()))?;
    let scope = caller.scope.clone();
    let (offset, limit) = (req.offset, req.limit);
    let result = tokio::task::spawn_blocking(move || run_hunt(&events, &scope, &req))
        .await
        .map_err(|e| ApiError::Internal(format!("hunt task: {e}")))??;
    Ok(Json(HuntPage {
        total: result.total(),
        counts: result
            .counts
            .iter()
            .map(|(o, n)| (o.to_string(), *n))
            .collect(),
        splits_searched: result.splits_searched as u64,
        items: result
            .hits
            .into_iter()
            .skip(offset)
            .take(limit)
            .map(|h| HuntItem {
                org: h.org.to_string(),
                matched: h.matched,
                event: h.event,
            })
            .collect(),
        offset: offset as u64,
        limit: limit as u64,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(q: &str) -> ApiResult<HuntRequest> {
        HuntRequest::from_query(Some(q))
    }

    #[test]
    fn hunts_parse_from_the_query_string() {
        let r = parse("q=evil.example+10.0.0.1,%0Aabc&indicator=x.test&filter=event.dataset%3Dzeek.dns&from=2026-01-05&to=2026-01-06T12:30&org=moh&limit=10").unwrap();
        assert_eq!(r.indicators, ["evil.example", "10.0.0.1", "abc", "x.test"]);
        assert_eq!(r.filters[0].field, "event.dataset");
        assert_eq!(r.filters[0].value, "zeek.dns");
        assert_eq!(
            r.from,
            Some(Timestamp::parse_rfc3339("2026-01-05T00:00:00Z").unwrap())
        );
        assert_eq!(
            r.to,
            Some(Timestamp::parse_rfc3339("2026-01-06T12:30:00Z").unwrap())
        );
        assert_eq!(r.org.as_ref().map(|o| o.as_str()), Some("moh"));
        assert_eq!((r.offset, r.limit), (0, 10));
        // Empty form fields are absent, not errors.
        let r = parse("q=a&from=&to=&org=&filter=&offset=&limit=").unwrap();
        assert_eq!(
            (r.from, r.to, r.org, r.limit),
            (None, None, None, DEFAULT_LIMIT)
        );
        assert!(parse("").unwrap().is_empty());
    }

    #[test]
    fn bad_hunts_are_refused() {
        for q in [
            "q=a&limit=0",
            "q=a&limit=1001",
            "q=a&offset=10001",
            "q=a&from=yesterday",
            "q=a&from=2026-01-06&to=2026-01-05",
            "q=a&filter=nofield",
            "q=a&org=Not%20An%20Org",
            "q=a&scope=everything",
        ] {
            assert!(
                matches!(parse(q), Err(ApiError::BadRequest(_))),
                "{q}: {:?}",
                parse(q)
            );
        }
        let many = (0..=MAX_INDICATORS)
            .map(|i| format!("10.0.{}.{}", i / 256, i % 256))
            .collect::<Vec<_>>()
            .join(",");
        assert!(parse(&format!("q={many}")).is_err());
    }
}
