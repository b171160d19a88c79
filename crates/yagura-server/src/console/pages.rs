//! The console's pages. Reads go through the caller's scope exactly like the API's; state
//! changes call the API handlers (same validation, permission checks and audit trail).

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use maud::{DOCTYPE, Markup, html};
use yagura_model::{Incident, Organization, Severity, Timestamp};
use yagura_store::{
    AdvisoryFilter, AdvisoryStatus, AlertCount, AlertFilter, AlertStatus, IncidentFilter, Page,
    StoredAlert,
};

use super::charts::{bars, severity_color, stacked_columns};
use super::{
    ConsoleCaller, ConsoleForm, ConsoleResult, Fields, Key, Lang, Locale, csrf_field, enc, page,
    pre_json, see_other,
};
use crate::api;
use crate::auth;
use crate::authz::Permission;
use crate::error::ApiError;
use crate::state::AppState;

/// Rows per console list page.
const PAGE: u64 = 50;
/// Cookie of the login form's double-submit token.
const LOGIN_CSRF_COOKIE: &str = "yagura_login_csrf";

fn fmt_time(t: Timestamp) -> String {
    t.to_datetime().format("%Y-%m-%d %H:%M:%S").to_string()
}

fn severity_badge(s: Severity) -> Markup {
    html! { span.sev style={"background:" (severity_color(s))} { (s.as_str()) } }
}

fn query_fields(q: &Option<String>) -> Fields {
    Fields::parse(q.as_deref().unwrap_or("").as_bytes())
}

fn opt(f: &Fields, k: &str) -> Option<String> {
    f.get(k)
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

// ---- login / logout ---------------------------------------------------------------------

fn login_markup(lang: Lang, token: &str, error: Option<Key>) -> Markup {
    let t = |k| lang.t(k);
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                title { (t(Key::Login)) " — " (t(Key::AppName)) }
                link rel="stylesheet" href="/console/assets/console.css";
            }
            body.login {
                main {
                    h1 { (t(Key::AppName)) }
                    @if let Some(e) = error { p.error #login-error { (t(e)) } }
                    form #login-form method="post" action="/console/login" {
                        input type="hidden" name="login_csrf" value=(token);
                        label { (t(Key::Username)) input #username name="username" autocomplete="username" required; }
                        label { (t(Key::Password)) input #password type="password" name="password" autocomplete="current-password" required; }
                        button #login type="submit" { (t(Key::Login)) }
                    }
                    p { a href="?lang=en" { "EN" } " · " a href="?lang=ja" { "日本語" } }
                }
            }
        }
    }
}

fn login_response(locale: Locale, status: StatusCode, error: Option<Key>) -> Response {
    let token = match auth::random_hex(16) {
        Ok(t) => t,
        Err(e) => return super::error_page(locale.lang, &e),
    };
    let mut resp = super::html_response(status, login_markup(locale.lang, &token, error), locale);
    if let Ok(v) = format!(
        "{LOGIN_CSRF_COOKIE}={token}; Path=/console/login; HttpOnly; SameSite=Strict; Max-Age=3600"
    )
    .parse()
    {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

pub async fn login_page(locale: Locale) -> Response {
    login_response(locale, StatusCode::OK, None)
}

pub async fn login_submit(
    State(state): State<AppState>,
    locale: Locale,
    addr: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let f = Fields::parse(&body);
    let sent = f.get("login_csrf").unwrap_or_default();
    let cookie = auth::cookie(&headers, LOGIN_CSRF_COOKIE).unwrap_or_default();
    if sent.is_empty() || !auth::constant_time_eq(sent.as_bytes(), cookie.as_bytes()) {
        return super::error_page(locale.lang, &ApiError::Csrf);
    }
    let addr = addr.map(|axum::Extension(ConnectInfo(a))| a);
    let username = f.text("username");
    let password = f.get("password").unwrap_or_default().to_owned();
    match api::session::password_login(&state, addr, &username, password).await {
        Ok((cookie, _)) => {
            let mut resp = see_other("/console/");
            let c = auth::session_cookie(
                &cookie,
                state.0.options.session_ttl_secs,
                state.0.options.secure_cookies,
            );
            if let Ok(v) = c.parse() {
                resp.headers_mut().append(header::SET_COOKIE, v);
            }
            resp
        }
        Err(ApiError::BadCredentials) => {
            login_response(locale, StatusCode::UNAUTHORIZED, Some(Key::LoginFailed))
        }
        Err(ApiError::RateLimited(_)) => login_response(
            locale,
            StatusCode::TOO_MANY_REQUESTS,
            Some(Key::LoginThrottled),
        ),
        Err(e) => super::error_page(locale.lang, &e),
    }
}

pub async fn logout(State(state): State<AppState>, form: ConsoleForm) -> ConsoleResult<Response> {
    let who = form.who;
    api::session::end_session(&state, &who.caller)
        .await
        .map_err(|e| who.fail(e))?;
    let mut resp = see_other("/console/login");
    if let Ok(v) = auth::clear_cookie(state.0.options.secure_cookies).parse() {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(resp)
}

// ---- dashboard --------------------------------------------------------------------------

/// Alerts of a rule (or destination): count, organizations, highest severity.
type Tally = (u64, BTreeSet<String>, Severity);

struct Dashboard {
    counts: Vec<AlertCount>,
    titles: BTreeMap<String, String>,
    incidents: Vec<Incident>,
    open_incidents: u64,
    campaigns: Vec<yagura_model::Campaign>,
    advisories: Vec<yagura_store::Advisory>,
    open_advisories: u64,
}

pub async fn dashboard(
    State(state): State<AppState>,
    who: ConsoleCaller,
) -> ConsoleResult<Response> {
    let scope = who.caller.scope.clone();
    let d = state
        .db(move |s| {
            let counts = s.alert_counts(&scope, &AlertFilter::default())?;
            let mut per_rule: BTreeMap<&str, u64> = BTreeMap::new();
            for c in &counts {
                *per_rule.entry(c.rule_id.as_str()).or_default() += c.count;
            }
            let mut top: Vec<(&str, u64)> = per_rule.into_iter().collect();
            top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
            let mut titles = BTreeMap::new();
            for (rule, _) in top.iter().take(10) {
                let f = AlertFilter {
                    rule_id: Some((*rule).to_owned()),
                    ..Default::default()
                };
                if let Some(a) = s.list_alerts(&scope, &f, &Page::first(1))?.pop() {
                    titles.insert((*rule).to_owned(), a.alert.title);
                }
            }
            let open = IncidentFilter {
                open_only: true,
                ..Default::default()
            };
            let adv = AdvisoryFilter {
                open_only: true,
                ..Default::default()
            };
            Ok(Dashboard {
                titles,
                incidents: s.list_incidents(&scope, &open, &Page::first(10))?,
                campaigns: s.list_campaigns(&scope, &Page::first(10))?,
                open_incidents: s.count_incidents(&scope, &open)?,
                advisories: s.list_advisories(&scope, &adv, &Page::first(10))?,
                open_advisories: s.count_advisories(&scope, &adv)?,
                counts,
            })
        })
        .await
        .map_err(|e| who.fail(e))?;
    let now = state.now();
    let t = |k| who.t(k);

    let sev_index = |s: Severity| Severity::ALL.iter().position(|x| *x == s).unwrap_or(0);
    let mut per_day: BTreeMap<i64, [u64; 5]> = BTreeMap::new();
    let mut per_org: BTreeMap<String, u64> = BTreeMap::new();
    let mut per_sev = [0u64; 5];
    let mut per_rule: BTreeMap<String, Tally> = BTreeMap::new();
    for c in &d.counts {
        per_day.entry(c.day.nanos()).or_default()[sev_index(c.severity)] += c.count;
        *per_org.entry(c.org.to_string()).or_default() += c.count;
        per_sev[sev_index(c.severity)] += c.count;
        let e = per_rule
            .entry(c.rule_id.clone())
            .or_insert((0, BTreeSet::new(), c.severity));
        e.0 += c.count;
        e.1.insert(c.org.to_string());
        e.2 = e.2.max(c.severity);
    }
    let days: Vec<(String, [u64; 5])> = per_day
        .into_iter()
        .map(|(d, c)| {
            (
                Timestamp::from_nanos(d)
                    .to_datetime()
                    .format("%m-%d")
                    .to_string(),
                c,
            )
        })
        .collect();
    let mut orgs: Vec<(String, u64)> = per_org.into_iter().collect();
    orgs.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let org_rows: Vec<(String, u64, String, &str)> = orgs
        .iter()
        .map(|(o, n)| {
            (
                o.clone(),
                *n,
                format!("/console/alerts?org={}", enc(o)),
                "#35618f",
            )
        })
        .collect();
    let sev_rows: Vec<(String, u64, String, &str)> = Severity::ALL
        .iter()
        .rev()
        .map(|s| {
            (
                s.as_str().to_owned(),
                per_sev[sev_index(*s)],
                format!("/console/alerts?severity={}", s.as_str()),
                severity_color(*s),
            )
        })
        .collect();
    let mut rules: Vec<(String, Tally)> = per_rule.into_iter().collect();
    rules.sort_by(|a, b| b.1.0.cmp(&a.1.0).then(a.0.cmp(&b.0)));
    rules.truncate(10);

    let body = html! {
        div.grid {
            section.card #chart-days {
                h2 { (t(Key::AlertsPerDay)) " " small { "(" (t(Key::UtcDays)) ")" } }
                @if days.is_empty() { p { (t(Key::NoData)) } } @else { (stacked_columns("alerts-per-day", &days)) }
                p.legend {
                    @for s in Severity::ALL { span.sev style={"background:" (severity_color(s))} { (s.as_str()) } " " }
                }
            }
            section.card #chart-orgs {
                h2 { (t(Key::AlertsPerOrg)) }
                @if org_rows.is_empty() { p { (t(Key::NoData)) } } @else { (bars("alerts-per-org", &org_rows)) }
            }
            section.card #chart-severity {
                h2 { (t(Key::AlertsPerSeverity)) }
                (bars("alerts-per-severity", &sev_rows))
            }
            section.card.wide #top-detections {
                h2 { (t(Key::TopDetections)) }
                @if rules.is_empty() { p { (t(Key::NoData)) } } @else {
                    table {
                        thead { tr { th { (t(Key::Rule)) } th { (t(Key::Title)) } th { (t(Key::Severity)) } th { (t(Key::Organizations)) } th.num { (t(Key::Count)) } } }
                        tbody {
                            @for (rule, (n, orgs, sev)) in &rules {
                                tr {
                                    td { a href={"/console/alerts?rule_id=" (enc(rule))} { code { (rule) } } }
                                    td { (d.titles.get(rule).map(String::as_str).unwrap_or("")) }
                                    td { (severity_badge(*sev)) }
                                    td { (orgs.iter().cloned().collect::<Vec<_>>().join(", ")) }
                                    td.num { (n) }
                                }
                            }
                        }
                    }
                }
            }
            section.card.wide #campaigns {
                h2 { (t(Key::Campaigns)) " (" (d.campaigns.len()) ")" }
                @if d.campaigns.is_empty() { p { (t(Key::NoData)) } }
                ul {
                    @for c in &d.campaigns {
                        li data-campaign=(c.id) {
                            (severity_badge(c.severity)) " "
                            a href={"/console/incidents?campaign_id=" (enc(&c.id))} { (c.title) }
                            " · " (c.orgs.iter().map(|o| o.as_str()).collect::<Vec<_>>().join(", "))
                            " · " (fmt_time(c.first_seen)) " – " (fmt_time(c.last_seen))
                            @for i in c.infrastructure.iter().take(3) {
                                " " a href={"/console/hunt?q=" (enc(i))} { code { (i) } }
                            }
                        }
                    }
                }
            }
            section.card #open-incidents {
                h2 { (t(Key::OpenIncidents)) " (" (d.open_incidents) ")" }
                @if d.incidents.is_empty() { p { (t(Key::NoData)) } }
                ul {
                    @for i in &d.incidents {
                        li { (severity_badge(i.severity)) " " a href={"/console/incidents/" (enc(&i.id))} { (i.title) } " · " (i.org) }
                    }
                }
            }
            section.card #open-advisories {
                h2 { (t(Key::OpenAdvisories)) " (" (d.open_advisories) ")" }
                @if d.advisories.is_empty() { p { (t(Key::NoData)) } }
                ul {
                    @for a in &d.advisories {
                        li {
                            a href={"/console/advisories/" (enc(&a.id))} { (a.title) }
                            " · " (a.org) " · " (a.status.as_str())
                            @if a.is_overdue(now) { " " span.overdue { (t(Key::Overdue)) } }
                        }
                    }
                }
            }
        }
    };
    Ok(page(&who, t(Key::Dashboard), body))
}

// ---- alerts -----------------------------------------------------------------------------

fn alert_query(f: &Fields) -> api::alerts::AlertQuery {
    api::alerts::AlertQuery {
        org: opt(f, "org"),
        severity: opt(f, "severity"),
        detector: opt(f, "detector"),
        rule_id: opt(f, "rule_id"),
        status: opt(f, "status"),
        since: None,
        until: None,
        q: opt(f, "q"),
        mentions: opt(f, "mentions"),
        cursor: None,
        offset: f.get("offset").and_then(|v| v.parse().ok()),
        limit: Some(PAGE),
    }
}

/// The query string of `f` without `offset` (for pagination links and the bulk form's
/// return address).
fn filter_query(f: &Fields) -> String {
    [
        "org", "severity", "detector", "rule_id", "status", "q", "mentions",
    ]
    .iter()
    .filter_map(|k| opt(f, k).map(|v| format!("{k}={}", enc(&v))))
    .collect::<Vec<_>>()
    .join("&")
}

fn alert_table(who: &ConsoleCaller, items: &[StoredAlert], selectable: bool) -> Markup {
    let t = |k| who.t(k);
    html! {
        table.alerts #alert-table {
            thead { tr {
                @if selectable { th { } }
                th { (t(Key::Time)) } th { (t(Key::Organization)) } th { (t(Key::Severity)) }
                th { (t(Key::Detector)) } th { (t(Key::Title)) } th { (t(Key::Status)) } th.num { (t(Key::Count)) }
            } }
            tbody {
                @for a in items {
                    tr data-alert=(a.alert.id) {
                        @if selectable { td { input type="checkbox" name="ids" value=(a.alert.id); } }
                        td.time { (fmt_time(a.alert.time)) }
                        td { (a.alert.org) }
                        td { (severity_badge(a.alert.severity)) }
                        td { (a.alert.detector.as_str()) }
                        td { a.alert-link href={"/console/alerts/" (enc(&a.alert.id))} { (a.alert.title) } }
                        td { span class={"status " (a.status.as_str())} { (a.status.as_str()) } }
                        td.num { (a.alert.count) }
                    }
                }
            }
        }
    }
}

fn select(name: &str, any: &str, options: &[&str], current: Option<&str>) -> Markup {
    html! {
        select name=(name) {
            option value="" { (any) }
            @for o in options {
                option value=(o) selected[current == Some(*o)] { (o) }
            }
        }
    }
}

pub async fn alerts(
    State(state): State<AppState>,
    who: ConsoleCaller,
    RawQuery(q): RawQuery,
) -> ConsoleResult<Response> {
    let f = query_fields(&q);
    let query = alert_query(&f);
    let filter = query.filter().map_err(|e| who.fail(e))?;
    let page_ = api::page(query.offset, query.limit).map_err(|e| who.fail(e))?;
    let scope = who.caller.scope.clone();
    let (items, total) = state
        .db(move |s| {
            Ok((
                s.list_alerts(&scope, &filter, &page_)?,
                s.count_alerts(&scope, &filter)?,
            ))
        })
        .await
        .map_err(|e| who.fail(e))?;
    let t = |k| who.t(k);
    let base = filter_query(&f);
    let back = if base.is_empty() {
        "/console/alerts".to_owned()
    } else {
        format!("/console/alerts?{base}")
    };
    let link = |off: u64| {
        let sep = if base.is_empty() { "" } else { "&" };
        format!("/console/alerts?{base}{sep}offset={off}")
    };
    let triage = who.can(Permission::TriageAlerts);
    let sevs: Vec<&str> = Severity::ALL.iter().map(|s| s.as_str()).collect();
    let statuses: Vec<&str> = AlertStatus::ALL.iter().map(|s| s.as_str()).collect();
    let orgs: Vec<String> = who.caller.scope.iter().map(|o| o.to_string()).collect();
    let org_refs: Vec<&str> = orgs.iter().map(String::as_str).collect();
    let body = html! {
        form.filters #alert-filters method="get" action="/console/alerts" {
            label { (t(Key::Organization)) (select("org", t(Key::Any), &org_refs, f.get("org"))) }
            label { (t(Key::Severity)) " ≥ " (select("severity", t(Key::Any), &sevs, f.get("severity"))) }
            label { (t(Key::Detector)) (select("detector", t(Key::Any), &["ioc", "sigma", "analytic", "policy", "correlation"], f.get("detector"))) }
            label { (t(Key::Status)) (select("status", t(Key::Any), &statuses, f.get("status"))) }
            label { (t(Key::Rule)) input name="rule_id" value=(f.get("rule_id").unwrap_or_default()); }
            label { (t(Key::Text)) input name="q" value=(f.get("q").unwrap_or_default()); }
            button type="submit" { (t(Key::Apply)) }
        }
        p.count #alert-count data-total=(total) { (total) " " (t(Key::Results)) }
        @if triage {
            form #bulk-form method="post" action="/console/alerts/bulk" {
                (csrf_field(&who))
                input type="hidden" name="back" value=(back);
                (alert_table(&who, &items, true))
                div.bulk {
                    label { (t(Key::SetStatus)) " " (select("status", "—", &statuses, None)) }
                    button #bulk-apply type="submit" { (t(Key::Apply)) }
                }
            }
        } @else {
            (alert_table(&who, &items, false))
        }
        (pager(&who, page_.offset, total, &link))
    };
    Ok(page(&who, t(Key::Alerts), body))
}

fn pager(who: &ConsoleCaller, offset: u64, total: u64, link: &dyn Fn(u64) -> String) -> Markup {
    let t = |k| who.t(k);
    html! {
        nav.pager {
            @if offset > 0 { a #prev href=(link(offset.saturating_sub(PAGE))) { "← " (t(Key::Previous)) } }
            " " span { (offset + 1) "–" ((offset + PAGE).min(total)) " " (t(Key::Of)) " " (total) } " "
            @if offset + PAGE < total { a #next href=(link(offset + PAGE)) { (t(Key::Next)) " →" } }
        }
    }
}

/// Only local console paths are followed after a form (no open redirect).
fn local_path(p: &str, default: &str) -> String {
    if p.starts_with("/console/") && !p.starts_with("//") && !p.contains('\\') {
        p.to_owned()
    } else {
        default.to_owned()
    }
}

pub async fn alerts_bulk(
    State(state): State<AppState>,
    form: ConsoleForm,
) -> ConsoleResult<Response> {
    let who = form.who;
    let f = form.fields;
    let ids = f.all("ids");
    let back = local_path(&f.text("back"), "/console/alerts");
    if ids.is_empty() || f.text("status").is_empty() {
        return Ok(see_other(&back));
    }
    api::alerts::bulk_status(
        State(state),
        who.caller.clone(),
        api::Json(api::alerts::BulkStatusChange {
            ids,
            status: f.text("status"),
        }),
    )
    .await
    .map_err(|e| who.fail(e))?;
    Ok(see_other(&back))
}

pub async fn alert_status(
    State(state): State<AppState>,
    Path(id): Path<String>,
    form: ConsoleForm,
) -> ConsoleResult<Response> {
    let who = form.who;
    api::alerts::set_status(
        State(state),
        who.caller.clone(),
        api::Path(id.clone()),
        api::Json(api::alerts::StatusChange {
            status: form.fields.text("status"),
        }),
    )
    .await
    .map_err(|e| who.fail(e))?;
    Ok(see_other(&format!("/console/alerts/{}", enc(&id))))
}

/// Evidence records shown on an alert page (each is one file read).
const EVIDENCE_SHOWN: usize = 5;

pub async fn alert_detail(
    State(state): State<AppState>,
    who: ConsoleCaller,
    Path(id): Path<String>,
) -> ConsoleResult<Response> {
    let scope = who.caller.scope.clone();
    let key = id.clone();
    let a = state
        .db(move |s| s.get_alert(&scope, &key))
        .await
        .map_err(|e| who.fail(e))?
        .ok_or_else(|| who.fail(ApiError::NotFound(format!("alert {id:?}"))))?;
    // Evidence records (read outside the async workers: file I/O).
    let evidence = match state.evidence().cloned() {
        Some(src) => {
            let org = a.alert.org.clone();
            let refs: Vec<_> = a
                .alert
                .evidence
                .iter()
                .take(EVIDENCE_SHOWN)
                .cloned()
                .collect();
            tokio::task::spawn_blocking(move || {
                refs.iter().map(|r| src.lookup(&org, r)).collect::<Vec<_>>()
            })
            .await
            .unwrap_or_default()
        }
        None => vec![],
    };
    let t = |k| who.t(k);
    let al = &a.alert;
    let statuses: Vec<&str> = AlertStatus::ALL.iter().map(|s| s.as_str()).collect();
    let default_measures = match who.lang() {
        Lang::Ja => {
            "該当端末をネットワークから隔離する\n通信先をプロキシで遮断する\n関係アカウントのパスワードを変更する"
        }
        Lang::En => {
            "Isolate the host from the network\nBlock the destination at the proxy\nReset the passwords of the accounts involved"
        }
    };
    let body = html! {
        div.grid {
            section.card.wide #alert-detail data-alert=(al.id) {
                dl {
                    dt { (t(Key::Time)) } dd { (fmt_time(al.time)) " (" (t(Key::FirstSeen)) " " (fmt_time(al.first_seen)) ", " (t(Key::LastSeen)) " " (fmt_time(al.last_seen)) ")" }
                    dt { (t(Key::Organization)) } dd { (al.org) }
                    dt { (t(Key::Severity)) } dd { (severity_badge(al.severity)) }
                    dt { (t(Key::Detector)) } dd { (al.detector.as_str()) " · " code { (al.rule_id) } }
                    @if !al.attack.is_empty() { dt { "ATT&CK" } dd { (al.attack.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(", ")) } }
                    dt { (t(Key::Status)) } dd #alert-status { (a.status.as_str()) }
                    dt { (t(Key::Count)) } dd { (al.count) }
                    dt { (t(Key::Entities)) } dd {
                        @for (k, v) in al.entities.iter() {
                            span.entity { (k) ": " a href={"/console/hunt?q=" (enc(v))} { (v) } } " "
                        }
                    }
                    dt { (t(Key::Summary)) } dd { (al.summary) }
                    @if let Some(i) = &a.incident_id { dt { (t(Key::Incident)) } dd { a href={"/console/incidents/" (enc(i))} { (i) } } }
                }
                @if !al.context.is_empty() { details { summary { "context" } (pre_json(&serde_json::Value::Object(al.context.clone()))) } }
            }
            @if who.can(Permission::TriageAlerts) {
                section.card {
                    form #status-form method="post" action={"/console/alerts/" (enc(&al.id)) "/status"} {
                        (csrf_field(&who))
                        label { (t(Key::Status)) " " (select("status", "—", &statuses, Some(a.status.as_str()))) }
                        button type="submit" { (t(Key::Apply)) }
                    }
                }
            }
            @if who.can(Permission::IssueAdvisories) {
                section.card.wide {
                    h2 { (t(Key::IssueAdvisory)) " (" (al.org) ")" }
                    form #advisory-form method="post" action="/console/advisories" {
                        (csrf_field(&who))
                        input type="hidden" name="alert_ids" value=(al.id);
                        label { (t(Key::Title)) input #adv-title name="title" value=(al.title) required; }
                        label { (t(Key::Summary)) textarea #adv-summary name="summary" rows="3" required { (al.summary) } }
                        label { (t(Key::RecommendedMeasures)) " (" (t(Key::OneMeasurePerLine)) ")" textarea #adv-measures name="measures" rows="4" required { (default_measures) } }
                        label { (t(Key::DueInDays)) input #adv-due name="due_days" type="number" min="1" max="90" value="7"; }
                        button #issue-advisory type="submit" { (t(Key::Issue)) }
                    }
                }
            }
            section.card.wide #evidence {
                h2 { (t(Key::Evidence)) " (" (al.evidence.len()) ")" }
                ul {
                    @for (i, e) in al.evidence.iter().enumerate() {
                        li {
                            code { (e.file) ":" (e.line) }
                            @match evidence.get(i) {
                                Some(Ok(rec)) => {
                                    div.raw { strong { (t(Key::RawRecord)) } pre { (rec.raw) } }
                                    @if let Some(ev) = &rec.event { details open[i == 0] { summary { (t(Key::NormalizedEvent)) } (pre_json(ev)) } }
                                }
                                Some(Err(why)) => { p.muted { (why) } }
                                None => @if i < EVIDENCE_SHOWN && state.evidence().is_none() { p.muted { (t(Key::EvidenceUnavailable)) } }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(page(
        &who,
        &format!("{}: {}", t(Key::Alert), al.title),
        body,
    ))
}

// ---- advisories -------------------------------------------------------------------------

fn lines(s: &str) -> Vec<String> {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

pub async fn advisory_create(
    State(state): State<AppState>,
    form: ConsoleForm,
) -> ConsoleResult<Response> {
    let who = form.who;
    let f = form.fields;
    let days: i64 = f
        .text("due_days")
        .parse()
        .ok()
        .filter(|d| (1..=365).contains(d))
        .ok_or_else(|| who.fail(ApiError::BadRequest("due: 1 to 365 days".into())))?;
    let due = state.now().saturating_add_secs(days * 86_400).to_rfc3339();
    let (_, api::Json(view)) = api::advisories::create(
        State(state),
        who.caller.clone(),
        api::Json(api::advisories::CreateAdvisory {
            alert_ids: f.all("alert_ids"),
            org: None,
            title: f.text("title"),
            summary: f.text("summary"),
            hosts: vec![],
            accounts: vec![],
            recommended_measures: lines(f.get("measures").unwrap_or_default()),
            due,
        }),
    )
    .await
    .map_err(|e| who.fail(e))?;
    Ok(see_other(&format!("/console/advisories/{}", enc(&view.id))))
}

pub async fn advisory_step(
    State(state): State<AppState>,
    Path((id, step)): Path<(String, String)>,
    form: ConsoleForm,
) -> ConsoleResult<Response> {
    let who = form.who;
    let f = form.fields;
    let note = serde_json::to_vec(&serde_json::json!({"note": f.text("note")}))
        .map(axum::body::Bytes::from)
        .unwrap_or_default();
    let caller = who.caller.clone();
    let result = match step.as_str() {
        "acknowledge" => {
            api::advisories::acknowledge(State(state), caller, api::Path(id.clone()), note).await
        }
        "close" => api::advisories::close(State(state), caller, api::Path(id.clone()), note).await,
        "measures" => {
            api::advisories::report_measures(
                State(state),
                caller,
                api::Path(id.clone()),
                api::Json(api::advisories::MeasuresReport {
                    measures: lines(f.get("measures").unwrap_or_default()),
                    note: f.text("note"),
                }),
            )
            .await
        }
        _ => Err(ApiError::NotFound("route".into())),
    };
    result.map_err(|e| who.fail(e))?;
    Ok(see_other(&format!("/console/advisories/{}", enc(&id))))
}

pub async fn advisories(
    State(state): State<AppState>,
    who: ConsoleCaller,
    RawQuery(q): RawQuery,
) -> ConsoleResult<Response> {
    let f = query_fields(&q);
    let open_only = f.get("all").is_none();
    let offset: u64 = f.get("offset").and_then(|v| v.parse().ok()).unwrap_or(0);
    let scope = who.caller.scope.clone();
    let filter = AdvisoryFilter {
        open_only,
        ..Default::default()
    };
    let page_ = Page {
        offset,
        limit: PAGE,
    };
    let (items, total) = state
        .db(move |s| {
            Ok((
                s.list_advisories(&scope, &filter, &page_)?,
                s.count_advisories(&scope, &filter)?,
            ))
        })
        .await
        .map_err(|e| who.fail(e))?;
    let now = state.now();
    let t = |k| who.t(k);
    let extra = if open_only { "" } else { "all=1&" };
    let link = |off: u64| format!("/console/advisories?{extra}offset={off}");
    let body = html! {
        p {
            @if open_only { a href="/console/advisories?all=1" { "✓ " (t(Key::OpenAdvisories)) } }
            @else { a href="/console/advisories" { (t(Key::OpenAdvisories)) } }
        }
        table #advisory-table {
            thead { tr { th { (t(Key::Title)) } th { (t(Key::Organization)) } th { (t(Key::Status)) } th { (t(Key::Due)) } th { (t(Key::Updated)) } } }
            tbody {
                @for a in &items {
                    tr data-advisory=(a.id) {
                        td { a.advisory-link href={"/console/advisories/" (enc(&a.id))} { (a.title) } }
                        td { (a.org) }
                        td { span class={"status " (a.status.as_str())} { (a.status.as_str()) } }
                        td { (fmt_time(a.due)) @if a.is_overdue(now) { " " span.overdue { (t(Key::Overdue)) } } }
                        td { (fmt_time(a.updated)) }
                    }
                }
            }
        }
        @if items.is_empty() { p { (t(Key::NoData)) } }
        (pager(&who, offset, total, &link))
    };
    Ok(page(&who, t(Key::Advisories), body))
}

pub async fn advisory_detail(
    State(state): State<AppState>,
    who: ConsoleCaller,
    Path(id): Path<String>,
) -> ConsoleResult<Response> {
    let scope = who.caller.scope.clone();
    let key = id.clone();
    let a = state
        .db(move |s| s.get_advisory(&scope, &key))
        .await
        .map_err(|e| who.fail(e))?
        .ok_or_else(|| who.fail(ApiError::NotFound(format!("advisory {id:?}"))))?;
    let now = state.now();
    let t = |k| who.t(k);
    let respond = who.can(Permission::RespondAdvisories);
    let action = |step: &str| format!("/console/advisories/{}/{step}", enc(&a.id));
    let body = html! {
        div.grid {
            section.card.wide #advisory-detail data-advisory=(a.id) data-status=(a.status.as_str()) {
                dl {
                    dt { (t(Key::Organization)) } dd { (a.org) }
                    dt { (t(Key::Status)) } dd #advisory-status { (a.status.as_str()) @if a.is_overdue(now) { " " span.overdue { (t(Key::Overdue)) } } }
                    dt { (t(Key::Due)) } dd { (fmt_time(a.due)) }
                    dt { (t(Key::Summary)) } dd { (a.summary) }
                    dt { (t(Key::Alerts)) } dd { @for al in &a.alert_ids { a href={"/console/alerts/" (enc(al))} { (al) } " " } }
                    dt { (t(Key::Hosts)) } dd { (a.hosts.join(", ")) }
                    dt { (t(Key::Users)) } dd { (a.accounts.join(", ")) }
                    dt { (t(Key::RecommendedMeasures)) } dd { ul { @for m in &a.recommended_measures { li { (m) } } } }
                    dt { (t(Key::MeasuresTaken)) } dd { ul #measures-taken { @for m in a.measures_taken() { li { (m) } } } }
                }
            }
            section.card.wide #advisory-steps {
                h2 { (t(Key::Steps)) }
                ol.timeline {
                    @for s in &a.steps {
                        li data-step=(s.status.as_str()) {
                            span.time { (fmt_time(s.time)) } " " strong { (s.status.as_str()) } " · " (t(Key::Actor)) " " (s.actor)
                            @if !s.note.is_empty() { " — " (s.note) }
                            @if !s.measures.is_empty() { ul { @for m in &s.measures { li { (m) } } } }
                        }
                    }
                }
            }
            @if respond && a.status != AdvisoryStatus::Closed {
                section.card.wide #advisory-actions {
                    @if a.status == AdvisoryStatus::Issued {
                        form #ack-form method="post" action=(action("acknowledge")) {
                            (csrf_field(&who))
                            label { (t(Key::Note)) input name="note"; }
                            button #acknowledge type="submit" { (t(Key::Acknowledge)) }
                        }
                    } @else {
                        form #measures-form method="post" action=(action("measures")) {
                            (csrf_field(&who))
                            label { (t(Key::ReportMeasures)) " (" (t(Key::OneMeasurePerLine)) ")" textarea #measures name="measures" rows="3" required {} }
                            label { (t(Key::Note)) input name="note"; }
                            button #report-measures type="submit" { (t(Key::ReportMeasures)) }
                        }
                        form #close-form method="post" action=(action("close")) {
                            (csrf_field(&who))
                            label { (t(Key::Note)) input name="note"; }
                            button #close type="submit" { (t(Key::Close)) }
                        }
                    }
                }
            }
        }
    };
    Ok(page(&who, &a.title, body))
}

// ---- incidents --------------------------------------------------------------------------

pub async fn incidents(
    State(state): State<AppState>,
    who: ConsoleCaller,
    RawQuery(q): RawQuery,
) -> ConsoleResult<Response> {
    let f = query_fields(&q);
    let offset: u64 = f.get("offset").and_then(|v| v.parse().ok()).unwrap_or(0);
    let campaign = opt(&f, "campaign_id");
    let scope = who.caller.scope.clone();
    let page_ = Page {
        offset,
        limit: PAGE,
    };
    let filter = IncidentFilter {
        campaign_id: campaign.clone(),
        ..Default::default()
    };
    let (items, total, recent) = state
        .db(move |s| {
            let all = filter;
            let items = s.list_incidents(&scope, &all, &page_)?;
            let total = s.count_incidents(&scope, &all)?;
            // Without incidents, the most recent alerts grouped by destination stand in.
            let recent = if total == 0 {
                s.list_alerts(&scope, &AlertFilter::default(), &Page::first(1000))?
            } else {
                vec![]
            };
            Ok((items, total, recent))
        })
        .await
        .map_err(|e| who.fail(e))?;
    let t = |k| who.t(k);
    let link = |off: u64| match &campaign {
        Some(c) => format!("/console/incidents?campaign_id={}&offset={off}", enc(c)),
        None => format!("/console/incidents?offset={off}"),
    };
    let mut groups: BTreeMap<String, Tally> = BTreeMap::new();
    for a in &recent {
        let e = &a.alert.entities;
        if let Some(dest) = e.domain.as_ref().or(e.dst_ip.as_ref()) {
            let g = groups
                .entry(dest.clone())
                .or_insert((0, BTreeSet::new(), a.alert.severity));
            g.0 += 1;
            g.1.insert(a.alert.org.to_string());
            g.2 = g.2.max(a.alert.severity);
        }
    }
    let mut groups: Vec<_> = groups.into_iter().collect();
    groups.sort_by(|a, b| {
        b.1.1
            .len()
            .cmp(&a.1.1.len())
            .then(b.1.0.cmp(&a.1.0))
            .then(a.0.cmp(&b.0))
    });
    groups.truncate(30);
    let body = html! {
        @if total == 0 {
            p #no-incidents { (t(Key::NoIncidents)) }
            h2 { (t(Key::AlertsByDestination)) }
            p { (t(Key::NoIncidentsHint)) }
            table #destination-groups {
                thead { tr { th { (t(Key::Destinations)) } th { (t(Key::Severity)) } th { (t(Key::Organizations)) } th.num { (t(Key::Alerts)) } } }
                tbody {
                    @for (dest, (n, orgs, sev)) in &groups {
                        tr {
                            td { a href={"/console/hunt?q=" (enc(dest))} { (dest) } }
                            td { (severity_badge(*sev)) }
                            td { (orgs.iter().cloned().collect::<Vec<_>>().join(", ")) }
                            td.num { (n) }
                        }
                    }
                }
            }
        } @else {
            table #incident-table {
                thead { tr { th { (t(Key::Title)) } th { (t(Key::Organization)) } th { (t(Key::Severity)) } th { (t(Key::Status)) } th { (t(Key::Campaign)) } th { (t(Key::Updated)) } } }
                tbody {
                    @for i in &items {
                        tr data-incident=(i.id) {
                            td { a href={"/console/incidents/" (enc(&i.id))} { (i.title) } }
                            td { (i.org) }
                            td { (severity_badge(i.severity)) }
                            td { (i.status.as_str()) }
                            td { (i.campaign_id.as_deref().unwrap_or("")) }
                            td { (fmt_time(i.updated)) }
                        }
                    }
                }
            }
            (pager(&who, offset, total, &link))
        }
    };
    Ok(page(&who, t(Key::Incidents), body))
}

pub async fn incident_detail(
    State(state): State<AppState>,
    who: ConsoleCaller,
    Path(id): Path<String>,
) -> ConsoleResult<Response> {
    let scope = who.caller.scope.clone();
    let key = id.clone();
    let found = state
        .db(move |s| {
            let Some(inc) = s.get_incident(&scope, &key)? else {
                return Ok(None);
            };
            let mut alerts = Vec::new();
            for a in inc.alert_ids.iter().take(200) {
                if let Some(a) = s.get_alert(&scope, a)? {
                    alerts.push(a);
                }
            }
            alerts.sort_by_key(|a| a.alert.first_seen);
            let related = match &inc.campaign_id {
                Some(c) => s.list_incidents(
                    &scope,
                    &IncidentFilter {
                        campaign_id: Some(c.clone()),
                        ..Default::default()
                    },
                    &Page::first(100),
                )?,
                None => vec![],
            };
            Ok(Some((inc, alerts, related)))
        })
        .await
        .map_err(|e| who.fail(e))?;
    let (inc, alerts, related) =
        found.ok_or_else(|| who.fail(ApiError::NotFound(format!("incident {id:?}"))))?;
    let t = |k| who.t(k);
    let body = html! {
        div.grid {
            section.card.wide #incident-detail data-incident=(inc.id) {
                dl {
                    dt { (t(Key::Organization)) } dd { (inc.org) }
                    dt { (t(Key::Severity)) } dd { (severity_badge(inc.severity)) }
                    dt { (t(Key::Status)) } dd { (inc.status.as_str()) }
                    dt { (t(Key::Assignee)) } dd { (inc.assignee.as_deref().unwrap_or("—")) }
                    dt { (t(Key::FirstSeen)) } dd { (fmt_time(inc.first_seen)) }
                    dt { (t(Key::LastSeen)) } dd { (fmt_time(inc.last_seen)) }
                    dt { (t(Key::Hosts)) } dd { (inc.hosts.join(", ")) }
                    dt { (t(Key::Users)) } dd { (inc.users.join(", ")) }
                    dt { (t(Key::Destinations)) } dd { @for d in &inc.destinations { a href={"/console/hunt?q=" (enc(d))} { (d) } " " } }
                    @if let Some(c) = &inc.campaign_id {
                        dt { (t(Key::Campaign)) } dd #campaign { code { (c) } " — "
                            @for r in related.iter().filter(|r| r.id != inc.id) {
                                a href={"/console/incidents/" (enc(&r.id))} { (r.org) } " "
                            }
                        }
                    }
                }
            }
            section.card.wide #incident-timeline {
                h2 { (t(Key::Timeline)) }
                ol.timeline {
                    @for a in &alerts {
                        li {
                            span.time { (fmt_time(a.alert.first_seen)) } " " (severity_badge(a.alert.severity)) " "
                            a href={"/console/alerts/" (enc(&a.alert.id))} { (a.alert.title) }
                            " · " (a.alert.detector.as_str()) " ×" (a.alert.count)
                        }
                    }
                }
            }
        }
    };
    Ok(page(&who, &inc.title, body))
}

// ---- organizations ----------------------------------------------------------------------

pub async fn orgs(State(state): State<AppState>, who: ConsoleCaller) -> ConsoleResult<Response> {
    let scope = who.caller.scope.clone();
    let (orgs, counts) = state
        .db(move |s| {
            Ok((
                s.list_orgs(&scope)?,
                s.alert_counts(&scope, &AlertFilter::default())?,
            ))
        })
        .await
        .map_err(|e| who.fail(e))?;
    let mut per_org: BTreeMap<String, u64> = BTreeMap::new();
    for c in &counts {
        *per_org.entry(c.org.to_string()).or_default() += c.count;
    }
    let ids: BTreeSet<&str> = orgs.iter().map(|o| o.id.as_str()).collect();
    let mut children: BTreeMap<&str, Vec<&Organization>> = BTreeMap::new();
    let mut roots = Vec::new();
    for o in &orgs {
        match o.monitored_by.as_ref().filter(|m| ids.contains(m.as_str())) {
            Some(m) => children.entry(m.as_str()).or_default().push(o),
            None => roots.push(o),
        }
    }
    let t = |k| who.t(k);
    fn node(
        o: &Organization,
        children: &BTreeMap<&str, Vec<&Organization>>,
        per_org: &BTreeMap<String, u64>,
        t: &dyn Fn(Key) -> &'static str,
        depth: usize,
    ) -> Markup {
        html! {
            li data-org=(o.id) {
                strong { (o.name) } " " code { (o.id) } " · " (o.kind.as_str())
                @if let Some(s) = o.sector { " · " (s.as_str()) }
                " · " a href={"/console/alerts?org=" (enc(o.id.as_str()))} { (per_org.get(o.id.as_str()).copied().unwrap_or(0)) " " (t(Key::AlertsOfRule)) }
                @if !o.internal_networks.is_empty() {
                    div.muted { (t(Key::Networks)) ": " (o.internal_networks.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(", ")) }
                }
                @if let Some(kids) = children.get(o.id.as_str()).filter(|_| depth < 16) {
                    ul { @for k in kids { (node(k, children, per_org, t, depth + 1)) } }
                }
            }
        }
    }
    let body = html! {
        ul.tree #org-tree {
            @for r in &roots { (node(r, &children, &per_org, &t, 0)) }
        }
    };
    Ok(page(&who, t(Key::Organizations), body))
}

// ---- hunt -------------------------------------------------------------------------------

/// Indicators whose alert mentions the hunt page also lists (each is a scan of alert bodies).
const HUNT_ALERT_NEEDLES: usize = 5;

/// A stored event in one line: where from, where to, what.
fn event_summary(e: &yagura_model::Event) -> (String, String) {
    let who = [
        e.host_name().map(str::to_owned),
        e.user_name().map(str::to_owned),
        e.src_ip().map(|ip| ip.to_string()),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" · ");
    let what = e
        .url_full()
        .or_else(|| e.dns_query())
        .or_else(|| e.dst_domain())
        .or_else(|| e.sni())
        .map(str::to_owned)
        .or_else(|| {
            e.dst_ip().map(|ip| match e.dst_port() {
                Some(p) => format!("{ip}:{p}"),
                None => ip.to_string(),
            })
        })
        .or_else(|| e.message.clone())
        .unwrap_or_default();
    (who, what)
}

pub async fn hunt(
    State(state): State<AppState>,
    who: ConsoleCaller,
    RawQuery(q): RawQuery,
) -> ConsoleResult<Response> {
    let f = query_fields(&q);
    let t = |k| who.t(k);
    let req = api::hunt::HuntRequest::from_pairs(f.pairs().filter(|(k, _)| *k != "limit"))
        .map_err(|e| who.fail(e))?;
    let req = api::hunt::HuntRequest {
        limit: PAGE as usize,
        ..req
    };
    let store = state.events().cloned();
    let may_hunt = who.can(Permission::HuntEvents);
    let events = match (&store, may_hunt, req.is_empty()) {
        (Some(store), true, false) => {
            let (store, scope, req) = (store.clone(), who.caller.scope.clone(), req.clone());
            let result =
                tokio::task::spawn_blocking(move || api::hunt::run_hunt(&store, &scope, &req))
                    .await
                    .map_err(|e| who.fail(ApiError::Internal(format!("hunt task: {e}"))))?
                    .map_err(|e| who.fail(e))?;
            Some(result)
        }
        _ => None,
    };
    // Alerts mentioning the first few values (what the page searched before the event
    // store existed, and still useful beside it).
    let needles: Vec<String> = req
        .indicators
        .iter()
        .take(HUNT_ALERT_NEEDLES)
        .cloned()
        .collect();
    let alerts = if needles.is_empty() {
        None
    } else {
        let scope = who.caller.scope.clone();
        let org = req.org.clone();
        let found = state
            .db(move |s| {
                let mut per_needle = Vec::new();
                let mut items: Vec<StoredAlert> = Vec::new();
                for n in &needles {
                    let filter = AlertFilter {
                        mentions: Some(n.clone()),
                        org: org.clone(),
                        ..Default::default()
                    };
                    per_needle.push((n.clone(), s.count_alerts(&scope, &filter)?));
                    for a in s.list_alerts(&scope, &filter, &Page::first(PAGE))? {
                        if !items.iter().any(|x| x.alert.id == a.alert.id) {
                            items.push(a);
                        }
                    }
                }
                items.sort_by(|a, b| {
                    b.alert
                        .time
                        .cmp(&a.alert.time)
                        .then(a.alert.id.cmp(&b.alert.id))
                });
                items.truncate(PAGE as usize);
                Ok((per_needle, items))
            })
            .await
            .map_err(|e| who.fail(e))?;
        Some(found)
    };

    let orgs: Vec<String> = who.caller.scope.iter().map(|o| o.to_string()).collect();
    let org_refs: Vec<&str> = orgs.iter().map(String::as_str).collect();
    let base: String = f
        .pairs()
        .filter(|(k, _)| !matches!(*k, "offset" | "lang"))
        .map(|(k, v)| format!("{k}={}", enc(v)))
        .collect::<Vec<_>>()
        .join("&");
    let link = |off: u64| format!("/console/hunt?{base}&offset={off}");
    let body = html! {
        p { (t(Key::HuntHint)) }
        @if store.is_none() {
            p.note #hunt-no-events { (t(Key::NoEventStore)) }
        } @else if !may_hunt {
            p.note #hunt-not-allowed { (t(Key::HuntNotAllowed)) }
        }
        form.filters #hunt-form method="get" action="/console/hunt" {
            label.wide { (t(Key::Indicators)) textarea #hunt-q name="q" rows="3" autofocus { (f.get("q").unwrap_or_default()) } }
            label { (t(Key::From)) input #hunt-from name="from" placeholder="2026-01-05" value=(f.get("from").unwrap_or_default()); }
            label { (t(Key::To)) input #hunt-to name="to" placeholder="2026-01-06T12:00" value=(f.get("to").unwrap_or_default()); }
            label { (t(Key::Organization)) (select("org", t(Key::Any), &org_refs, f.get("org"))) }
            label { (t(Key::Filter)) input #hunt-filter name="filter" placeholder="event.dataset=zeek.dns" value=(f.get("filter").unwrap_or_default()); }
            button #hunt-submit type="submit" { (t(Key::Search)) }
        }
        @if let Some(r) = &events {
            section #hunt-events {
                h2 { (t(Key::Events)) }
                p.count #hunt-count data-total=(r.total()) data-splits=(r.splits_searched) {
                    (r.total()) " " (t(Key::Results))
                    @for (o, n) in &r.counts { " · " span.org-count data-org-count=(o) { (o) ": " (n) } }
                }
                table.events #event-table {
                    thead { tr {
                        th { (t(Key::Time)) } th { (t(Key::Organization)) } th { (t(Key::Dataset)) }
                        th { (t(Key::Source)) } th { (t(Key::Destination)) } th { (t(Key::Matched)) } th { }
                    } }
                    tbody {
                        @for h in r.hits.iter().skip(req.offset) {
                            @let (src, dst) = event_summary(&h.event);
                            tr data-event-org=(h.org) {
                                td.time { (fmt_time(h.event.timestamp)) }
                                td { (h.org) }
                                td { (h.event.dataset().unwrap_or("")) }
                                td { (src) }
                                td.wrap { (dst) }
                                td { @for m in &h.matched { code { (m) } " " } }
                                td { details { summary { (t(Key::NormalizedEvent)) } (pre_json(&serde_json::to_value(&h.event).unwrap_or_default())) } }
                            }
                        }
                    }
                }
                (pager(&who, req.offset as u64, r.total(), &link))
            }
        }
        @if let Some((per_needle, items)) = &alerts {
            section #hunt-alerts {
                h2 { (t(Key::AlertsMentioning)) }
                p.count #hunt-alert-count {
                    @for (n, c) in per_needle {
                        a href={"/console/alerts?mentions=" (enc(n))} { code { (n) } ": " (c) } " "
                    }
                }
                (alert_table(&who, items, false))
            }
        }
    };
    Ok(page(&who, t(Key::Hunt), body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_console_paths_are_followed() {
        assert_eq!(
            local_path("/console/alerts?x=1", "/d"),
            "/console/alerts?x=1"
        );
        assert_eq!(local_path("//evil.example/", "/d"), "/d");
        assert_eq!(local_path("https://evil.example/", "/d"), "/d");
        assert_eq!(local_path("/console/\\evil", "/d"), "/d");
    }

    #[test]
    fn measure_lines_are_trimmed() {
        assert_eq!(lines(" a \n\n b\r\n"), ["a", "b"]);
    }

    #[test]
    fn filters_round_trip_into_links() {
        let f = Fields::parse(b"org=moh&severity=&q=a+b&offset=50");
        assert_eq!(filter_query(&f), "org=moh&q=a+b");
        let q = alert_query(&f);
        assert_eq!(q.severity, None);
        assert_eq!(q.offset, Some(50));
    }
}
