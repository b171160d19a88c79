//! Organizations in scope: list, supervision tree, detail.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use yagura_model::{OrgKind, Organization, Sector};

use super::{Json, Path, Query, paged};
use crate::auth::Caller;
use crate::authz::Permission;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::state::AppState;

paged!(OrgPage, Organization, Object);

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrgQuery {
    /// `center`, `ministry`, `agency`, `designated-corporation`, `local-government`, `ci-operator`.
    pub kind: Option<String>,
    /// One of the 13 sectors, kebab-case.
    pub sector: Option<String>,
    /// Direct children of this organization only.
    pub monitored_by: Option<String>,
    /// Rows to skip (default 0).
    pub offset: Option<u64>,
    /// Rows to return, 1–1000 (default 50).
    pub limit: Option<u64>,
}

fn parse_kind(s: &str) -> ApiResult<OrgKind> {
    OrgKind::ALL
        .into_iter()
        .find(|k| k.as_str() == s)
        .ok_or_else(|| ApiError::BadRequest(format!("unknown organization kind {s:?}")))
}

/// Organizations visible to the caller, ordered by id.
#[utoipa::path(get, path = "/api/v1/orgs", tag = "orgs", params(OrgQuery),
    responses((status = 200, body = OrgPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<OrgQuery>,
) -> ApiResult<Json<OrgPage>> {
    caller.require(Permission::Read)?;
    let page = super::page(q.offset, q.limit)?;
    let kind = q.kind.as_deref().map(parse_kind).transpose()?;
    let sector = q
        .sector
        .as_deref()
        .map(|s| {
            Sector::parse(s).ok_or_else(|| ApiError::BadRequest(format!("unknown sector {s:?}")))
        })
        .transpose()?;
    let parent = super::parse_opt_org(&q.monitored_by)?;
    let scope = caller.scope.clone();
    let orgs = state.db(move |s| s.list_orgs(&scope)).await?;
    let matching: Vec<Organization> = orgs
        .into_iter()
        .filter(|o| kind.is_none_or(|k| o.kind == k))
        .filter(|o| sector.is_none_or(|s| o.sector == Some(s)))
        .filter(|o| {
            parent
                .as_ref()
                .is_none_or(|p| o.monitored_by.as_ref() == Some(p))
        })
        .collect();
    let total = matching.len() as u64;
    let items = matching
        .into_iter()
        .skip(usize::try_from(page.offset).unwrap_or(usize::MAX))
        .take(usize::try_from(page.limit).unwrap_or(usize::MAX))
        .collect();
    Ok(Json(OrgPage::new(items, total, page)))
}

/// One node of the supervision tree.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrgNode {
    #[schema(value_type = Object)]
    pub org: Organization,
    #[schema(no_recursion)]
    pub children: Vec<OrgNode>,
}

/// The supervision tree as the caller sees it: roots are the visible organizations whose
/// supervisor is not visible (for a ministry user: the ministry alone).
#[utoipa::path(get, path = "/api/v1/orgs/tree", tag = "orgs",
    responses((status = 200, body = Vec<OrgNode>), (status = 401, body = ErrorBody)))]
pub async fn tree(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<OrgNode>>> {
    caller.require(Permission::Read)?;
    let scope = caller.scope.clone();
    let orgs = state.db(move |s| s.list_orgs(&scope)).await?;
    Ok(Json(build_tree(orgs)))
}

fn build_tree(orgs: Vec<Organization>) -> Vec<OrgNode> {
    use std::collections::BTreeMap;
    let ids: std::collections::BTreeSet<String> = orgs.iter().map(|o| o.id.to_string()).collect();
    let mut children: BTreeMap<String, Vec<Organization>> = BTreeMap::new();
    let mut roots = Vec::new();
    for o in orgs {
        match o.monitored_by.as_ref().filter(|p| ids.contains(p.as_str())) {
            Some(p) => children.entry(p.to_string()).or_default().push(o),
            None => roots.push(o),
        }
    }
    // Iterative construction would be needed only for absurdly deep trees; the inventory
    // validator rejects cycles, and depth is bounded by the number of organizations.
    fn node(o: Organization, children: &mut BTreeMap<String, Vec<Organization>>) -> OrgNode {
        let kids = children.remove(o.id.as_str()).unwrap_or_default();
        OrgNode {
            children: kids.into_iter().map(|k| node(k, children)).collect(),
            org: o,
        }
    }
    roots.into_iter().map(|r| node(r, &mut children)).collect()
}

/// One organization (404 outside the caller's scope).
#[utoipa::path(get, path = "/api/v1/orgs/{id}", tag = "orgs", params(("id" = String, Path)),
    responses((status = 200, body = Object), (status = 404, body = ErrorBody)))]
pub async fn detail(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Organization>> {
    caller.require(Permission::Read)?;
    let scope = caller.scope.clone();
    let orgs = state.db(move |s| s.list_orgs(&scope)).await?;
    orgs.into_iter()
        .find(|o| o.id.as_str() == id)
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("organization {id:?}")))
}
