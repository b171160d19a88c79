//! The OpenAPI 3.1 document, generated from the handlers' `#[utoipa::path]` annotations.

use std::sync::OnceLock;

use axum::http::header;
use axum::response::IntoResponse;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::api;
use crate::error::{ErrorBody, ErrorDetail};

/// The API description (`ApiDoc::openapi()`).
#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "yagura API",
        description = "Monitoring of illicit communications across many organizations: alerts, \
incidents, the advisory loop, accounts and the audit trail. Every list takes `offset`/`limit` \
and answers `{items, total, offset, limit}`; every error answers `{\"error\": {status, code, \
message}}`. Records outside the caller's organization scope answer 404. Cookie sessions must \
send `X-CSRF-Token` on every state-changing request; bearer tokens need the `read` or `write` \
scope (`ingest` for `POST /api/v1/ingest`, which takes bearer tokens only)."
    ),
    paths(
        api::session::login,
        api::session::logout,
        api::session::me,
        api::orgs::list,
        api::orgs::tree,
        api::orgs::detail,
        api::alerts::list,
        api::alerts::detail,
        api::alerts::set_status,
        api::alerts::bulk_status,
        api::incidents::list,
        api::incidents::detail,
        api::incidents::set_status,
        api::incidents::set_assignee,
        api::advisories::list,
        api::advisories::create,
        api::advisories::detail,
        api::advisories::acknowledge,
        api::advisories::report_measures,
        api::advisories::close,
        api::admin::list_users,
        api::admin::create_user,
        api::admin::set_user_disabled,
        api::admin::list_tokens,
        api::admin::create_token,
        api::admin::revoke_token,
        api::audit::list,
        api::ingest::ingest,
        api::hunt::hunt,
    ),
    components(schemas(ErrorBody, ErrorDetail)),
    modifiers(&Security),
    security(("bearer" = []), ("session" = [])),
    tags(
        (name = "session", description = "Login, logout, the caller"),
        (name = "orgs", description = "Organizations and the supervision tree"),
        (name = "alerts", description = "Alert triage"),
        (name = "incidents", description = "Incidents"),
        (name = "advisories", description = "The advisory loop: center → organization → center"),
        (name = "admin", description = "Users and API tokens"),
        (name = "audit", description = "The append-only audit trail"),
        (name = "ingest", description = "HTTP push of telemetry (tokens with the ingest scope)"),
        (name = "hunt", description = "Stored events bearing indicators, within the caller's scope"),
    )
)]
pub struct ApiDoc;

#[derive(Debug)]
struct Security;

impl Modify for Security {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(
                crate::auth::SESSION_COOKIE,
            ))),
        );
    }
}

/// The document as JSON text (built once).
pub fn openapi_text() -> &'static str {
    static DOC: OnceLock<String> = OnceLock::new();
    DOC.get_or_init(|| {
        ApiDoc::openapi()
            .to_pretty_json()
            .unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    })
}

/// `GET /api/openapi.json` (public: the document reveals no tenant data).
pub async fn openapi_json() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], openapi_text())
}
