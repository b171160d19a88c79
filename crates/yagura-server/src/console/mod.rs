//! The web console: server-rendered HTML (maud) under `/console`, no JavaScript.
//!
//! The console is a client of the same machinery as the JSON API: a page authenticates with
//! the session cookie into the same [`Caller`] (scope computed by [`crate::authz::scope_for`]),
//! reads through the same scoped store calls, and every state change calls the API handler
//! itself (so validation, permission checks and the audit trail are the API's). Forms carry
//! the session's CSRF token in a hidden `csrf` field, checked before anything else
//! ([`ConsoleForm`]); the login form has its own double-submit token.
//!
//! Text comes from the catalogues in [`i18n`] (`?lang=ja|en`, remembered in a cookie).

pub mod charts;
pub mod i18n;
mod pages;

use axum::Router;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{DOCTYPE, Markup, html};

use crate::auth::{self, Caller};
use crate::authz::{self, Permission};
use crate::error::ApiError;
use crate::state::AppState;
pub use i18n::{Key, Lang};

/// The console's stylesheet (embedded; served with a long cache lifetime).
const CSS: &str = include_str!("console.css");

/// Routes of the console (absolute paths).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/console/") }))
        .route("/console", get(|| async { Redirect::to("/console/") }))
        .route("/console/assets/console.css", get(css))
        .route(
            "/console/login",
            get(pages::login_page).post(pages::login_submit),
        )
        .route("/console/logout", post(pages::logout))
        .route("/console/", get(pages::dashboard))
        .route("/console/alerts", get(pages::alerts))
        .route("/console/alerts/bulk", post(pages::alerts_bulk))
        .route("/console/alerts/{id}", get(pages::alert_detail))
        .route("/console/alerts/{id}/status", post(pages::alert_status))
        .route("/console/incidents", get(pages::incidents))
        .route("/console/incidents/{id}", get(pages::incident_detail))
        .route("/console/orgs", get(pages::orgs))
        .route("/console/hunt", get(pages::hunt))
        .route(
            "/console/advisories",
            get(pages::advisories).post(pages::advisory_create),
        )
        .route("/console/advisories/{id}", get(pages::advisory_detail))
        .route(
            "/console/advisories/{id}/{step}",
            post(pages::advisory_step),
        )
}

async fn css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        CSS,
    )
        .into_response()
}

/// The request's language and whether `?lang=` asked to remember it.
#[derive(Debug, Clone, Copy)]
pub struct Locale {
    pub lang: Lang,
    remember: bool,
}

impl<S: Send + Sync> FromRequestParts<S> for Locale {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Locale, Self::Rejection> {
        let asked = parts.uri.query().and_then(|q| {
            form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "lang")
                .map(|(_, v)| v.into_owned())
        });
        let lang = Lang::negotiate(asked.as_deref(), &parts.headers);
        Ok(Locale {
            lang,
            remember: asked.as_deref().and_then(Lang::parse).is_some(),
        })
    }
}

/// A signed-in console user: the session's [`Caller`] and the page language. Without a
/// valid session a page redirects to the login form.
#[derive(Debug, Clone)]
pub struct ConsoleCaller {
    pub caller: Caller,
    pub locale: Locale,
}

/// Why a console request did not produce its page.
#[derive(Debug)]
pub enum ConsoleError {
    /// Not signed in (or the session ended): to the login page.
    Login,
    /// An error page in the caller's language.
    Page(Lang, ApiError),
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        match self {
            ConsoleError::Login => Redirect::to("/console/login").into_response(),
            ConsoleError::Page(lang, e) => error_page(lang, &e),
        }
    }
}

pub type ConsoleResult<T> = Result<T, ConsoleError>;

impl FromRequestParts<AppState> for ConsoleCaller {
    type Rejection = ConsoleError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<ConsoleCaller, ConsoleError> {
        let locale = match Locale::from_request_parts(parts, state).await {
            Ok(l) => l,
            Err(never) => match never {},
        };
        // The console authenticates by session cookie only; the form's CSRF token is
        // checked by [`ConsoleForm`] (a GET changes nothing).
        if parts.headers.contains_key(header::AUTHORIZATION) {
            return Err(ConsoleError::Page(
                locale.lang,
                ApiError::BadRequest("the console uses sessions, not bearer tokens".into()),
            ));
        }
        match crate::api::session_caller(parts, state, false).await {
            Ok(caller) => Ok(ConsoleCaller { caller, locale }),
            Err(ApiError::Unauthenticated) => Err(ConsoleError::Login),
            Err(e) => Err(ConsoleError::Page(locale.lang, e)),
        }
    }
}

impl ConsoleCaller {
    pub fn lang(&self) -> Lang {
        self.locale.lang
    }

    pub fn t(&self, k: Key) -> &'static str {
        self.locale.lang.t(k)
    }

    pub fn can(&self, p: Permission) -> bool {
        authz::allows(self.caller.role, p)
    }

    pub fn csrf(&self) -> &str {
        match &self.caller.auth {
            auth::AuthKind::Session { csrf, .. } => csrf,
            auth::AuthKind::Token { .. } => "",
        }
    }

    /// An API error as this caller's error page.
    pub fn fail(&self, e: ApiError) -> ConsoleError {
        ConsoleError::Page(self.lang(), e)
    }
}

/// The fields of a submitted form (repeated keys kept, in order).
#[derive(Debug, Default, Clone)]
pub struct Fields(Vec<(String, String)>);

impl Fields {
    pub fn parse(body: &[u8]) -> Fields {
        Fields(
            form_urlencoded::parse(body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self, key: &str) -> String {
        self.get(key).unwrap_or_default().trim().to_owned()
    }

    /// Every field in order.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn all(&self, key: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    }
}

/// Largest form body the console accepts.
const MAX_FORM: usize = 256 * 1024;

/// A signed-in user's form submission whose `csrf` field matched the session's token.
#[derive(Debug)]
pub struct ConsoleForm {
    pub who: ConsoleCaller,
    pub fields: Fields,
}

impl FromRequest<AppState> for ConsoleForm {
    type Rejection = ConsoleError;

    async fn from_request(req: Request, state: &AppState) -> Result<ConsoleForm, ConsoleError> {
        let (mut parts, body) = req.into_parts();
        let who = ConsoleCaller::from_request_parts(&mut parts, state).await?;
        let bytes = axum::body::to_bytes(body, MAX_FORM)
            .await
            .map_err(|e| who.fail(ApiError::BadRequest(format!("form: {e}"))))?;
        let fields = Fields::parse(&bytes);
        let sent = fields.get("csrf").unwrap_or_default();
        if !auth::constant_time_eq(sent.as_bytes(), who.csrf().as_bytes()) || sent.is_empty() {
            return Err(who.fail(ApiError::Csrf));
        }
        Ok(ConsoleForm { who, fields })
    }
}

/// Hidden CSRF field of a form.
pub fn csrf_field(who: &ConsoleCaller) -> Markup {
    html! { input type="hidden" name="csrf" value=(who.csrf()); }
}

/// Renders a full page with navigation, and the language cookie when `?lang=` chose one.
pub fn page(who: &ConsoleCaller, title: &str, body: Markup) -> Response {
    let lang = who.lang();
    let t = |k| lang.t(k);
    let c = &who.caller;
    let nav = [
        ("/console/", Key::Dashboard, "nav-dashboard"),
        ("/console/alerts", Key::Alerts, "nav-alerts"),
        ("/console/incidents", Key::Incidents, "nav-incidents"),
        ("/console/orgs", Key::Organizations, "nav-orgs"),
        ("/console/hunt", Key::Hunt, "nav-hunt"),
        ("/console/advisories", Key::Advisories, "nav-advisories"),
    ];
    let markup = html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " — " (t(Key::AppName)) }
                link rel="stylesheet" href="/console/assets/console.css";
            }
            body {
                header.top {
                    a.brand href="/console/" { (t(Key::AppName)) }
                    nav {
                        @for (href, key, id) in nav {
                            a #(id) href=(href) { (t(key)) }
                        }
                    }
                    div.who {
                        span #whoami data-role=(c.role.as_str()) data-org=(c.org.as_str()) {
                            (c.name) " · " (c.org) " · " (c.role.as_str())
                        }
                        a #lang-en href="?lang=en" { "EN" }
                        " "
                        a #lang-ja href="?lang=ja" { "日本語" }
                        form.inline method="post" action="/console/logout" {
                            (csrf_field(who))
                            button #logout type="submit" { (t(Key::Logout)) }
                        }
                    }
                }
                main { h1 { (title) } (body) }
            }
        }
    };
    html_response(StatusCode::OK, markup, who.locale)
}

fn html_response(status: StatusCode, markup: Markup, locale: Locale) -> Response {
    let mut resp = (status, markup).into_response();
    let headers = resp.headers_mut();
    headers.insert(
        header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    headers.insert(
        header::HeaderName::from_static("x-frame-options"),
        axum::http::HeaderValue::from_static("DENY"),
    );
    headers.insert(
        header::HeaderName::from_static("content-security-policy"),
        axum::http::HeaderValue::from_static(
            "default-src 'self'; script-src 'none'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'",
        ),
    );
    if locale.remember
        && let Ok(v) = format!(
            "{}={}; Path=/; SameSite=Lax; Max-Age=31536000",
            i18n::LANG_COOKIE,
            locale.lang.code()
        )
        .parse()
    {
        headers.append(header::SET_COOKIE, v);
    }
    resp
}

/// A page for an error, in the caller's language, with the API error's status.
pub fn error_page(lang: Lang, e: &ApiError) -> Response {
    let (key, detail) = match e {
        ApiError::Forbidden(_) | ApiError::Csrf => (Key::Forbidden, None),
        ApiError::NotFound(_) => (Key::NotFound, None),
        ApiError::BadRequest(m) => (Key::BadRequest, Some(m.clone())),
        ApiError::Conflict(m) => (Key::Conflict, Some(m.clone())),
        ApiError::Internal(m) => {
            tracing::error!(error = %m, "console request failed");
            (Key::ServerError, None)
        }
        other => (Key::BadRequest, Some(other.to_string())),
    };
    let markup = html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                title { (lang.t(key)) }
                link rel="stylesheet" href="/console/assets/console.css";
            }
            body {
                main.error {
                    h1 #error data-code=(e.code()) { (lang.t(key)) }
                    @if let Some(d) = detail { p { (d) } }
                    p { a href="/console/" { (lang.t(Key::Back)) } }
                }
            }
        }
    };
    html_response(
        e.status(),
        markup,
        Locale {
            lang,
            remember: false,
        },
    )
}

/// After a successful form: back to `to` (303 so the browser GETs it).
pub fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// Percent-encodes a path segment or query value.
pub fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Pretty-printed JSON in a `<pre>` (escaped like all text).
pub fn pre_json(v: &serde_json::Value) -> Markup {
    let pretty = serde_json::to_string_pretty(v).unwrap_or_default();
    html! { pre.json { (pretty) } }
}
