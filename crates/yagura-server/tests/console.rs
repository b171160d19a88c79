//! The web console: pages render for a signed-in user, forms need the session's CSRF token,
//! and the console obeys tenant isolation exactly like the API — every console route ×
//! every role × own, child, parent and foreign organization, with every page scanned for
//! records of organizations outside the caller's scope.

mod common;

use axum::http::{Method, StatusCode};
use common::matrix::{self, CALLER_ORG, Rel, Snapshot};
use common::*;
use yagura_model::Role;
use yagura_server::authz::{self, Permission};

/// What a console route answers when the role may use it.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// A page about one record of the target org: 200 when visible, else 404 (identical to
    /// a record that never existed).
    Page,
    /// A page listing records: 200; `marker(org)` appears iff the target org is visible.
    List(fn(&str) -> String),
    /// A list shown to every role, with rows marked `marker(org)` only for roles that have
    /// the permission: the marker appears iff the target org is visible and the role has it.
    ListIf(Permission, fn(&str) -> String),
    /// A form acting on one record: 303 when visible, else 404 and nothing changed.
    Action,
    /// The bulk form: 303 either way; the alert changes iff visible.
    Bulk,
}

/// (method, path, form fields without the CSRF token) against `org`; `true` asks for a
/// never-existing record.
type RequestFn = fn(&str, bool) -> (Method, String, Option<String>);

struct Route {
    name: &'static str,
    perm: Permission,
    expect: Expect,
    request: RequestFn,
}

fn id(real: String, ghost: bool) -> String {
    if ghost { "ghost-record".into() } else { real }
}

fn routes() -> Vec<Route> {
    use Expect::*;
    use Permission::*;
    vec![
        Route {
            name: "GET /console/",
            perm: Read,
            expect: List(|o| format!("\"/console/incidents/in-{o}\"")),
            request: |_, _| (Method::GET, "/console/".into(), None),
        },
        Route {
            name: "GET /console/alerts",
            perm: Read,
            expect: List(|o| format!("data-alert=\"al-{o}\"")),
            request: |_, _| (Method::GET, "/console/alerts".into(), None),
        },
        Route {
            name: "GET /console/alerts?org",
            perm: Read,
            expect: List(|o| format!("data-alert=\"al-{o}\"")),
            request: |o, _| (Method::GET, format!("/console/alerts?org={o}"), None),
        },
        Route {
            name: "GET /console/alerts/{id}",
            perm: Read,
            expect: Page,
            request: |o, g| {
                let p = format!("/console/alerts/{}", id(format!("al-{o}"), g));
                (Method::GET, p, None)
            },
        },
        Route {
            name: "GET /console/incidents",
            perm: Read,
            expect: List(|o| format!("data-incident=\"in-{o}\"")),
            request: |_, _| (Method::GET, "/console/incidents".into(), None),
        },
        Route {
            name: "GET /console/incidents/{id}",
            perm: Read,
            expect: Page,
            request: |o, g| {
                let p = format!("/console/incidents/{}", id(format!("in-{o}"), g));
                (Method::GET, p, None)
            },
        },
        Route {
            name: "GET /console/orgs",
            perm: Read,
            expect: List(|o| format!("data-org=\"{o}\"")),
            request: |_, _| (Method::GET, "/console/orgs".into(), None),
        },
        Route {
            name: "GET /console/hunt",
            perm: Read,
            expect: List(|o| format!("data-alert=\"al-{o}\"")),
            request: |o, _| (Method::GET, format!("/console/hunt?q=acct-{o}"), None),
        },
        Route {
            name: "GET /console/hunt (events)",
            perm: Read,
            expect: ListIf(HuntEvents, |o| format!("data-event-org=\"{o}\"")),
            request: |_, _| {
                let q = format!("/console/hunt?q={SHARED_INDICATOR}&from=2026-01-05");
                (Method::GET, q, None)
            },
        },
        Route {
            name: "GET /console/hunt?org (events)",
            perm: Read,
            expect: ListIf(HuntEvents, |o| format!("data-event-org=\"{o}\"")),
            request: |o, _| {
                let q = format!("/console/hunt?q={SHARED_INDICATOR}&org={o}");
                (Method::GET, q, None)
            },
        },
        Route {
            name: "GET /console/advisories",
            perm: Read,
            expect: List(|o| format!("data-advisory=\"adv-{o}\"")),
            request: |_, _| (Method::GET, "/console/advisories?all=1".into(), None),
        },
        Route {
            name: "GET /console/advisories/{id}",
            perm: Read,
            expect: Page,
            request: |o, g| {
                let p = format!("/console/advisories/{}", id(format!("adv-{o}"), g));
                (Method::GET, p, None)
            },
        },
        Route {
            name: "POST /console/alerts/{id}/status",
            perm: TriageAlerts,
            expect: Action,
            request: |o, g| {
                let p = format!("/console/alerts/{}/status", id(format!("al-{o}"), g));
                (Method::POST, p, Some("status=acknowledged".into()))
            },
        },
        Route {
            name: "POST /console/alerts/bulk",
            perm: TriageAlerts,
            expect: Bulk,
            request: |o, _| {
                let f = format!("ids=al-{o}&status=resolved&back=%2Fconsole%2Falerts");
                (Method::POST, "/console/alerts/bulk".into(), Some(f))
            },
        },
        Route {
            name: "POST /console/advisories",
            perm: IssueAdvisories,
            expect: Action,
            request: |o, g| {
                let f = format!(
                    "alert_ids={}&title=t&summary=s&measures=isolate&due_days=7",
                    id(format!("al-{o}"), g)
                );
                (Method::POST, "/console/advisories".into(), Some(f))
            },
        },
        Route {
            name: "POST /console/advisories/{id}/acknowledge",
            perm: RespondAdvisories,
            expect: Action,
            request: |o, g| {
                let p = format!(
                    "/console/advisories/{}/acknowledge",
                    id(format!("adv-{o}"), g)
                );
                (Method::POST, p, Some("note=seen".into()))
            },
        },
        Route {
            name: "POST /console/advisories/{id}/measures",
            perm: RespondAdvisories,
            expect: Action,
            request: |o, g| {
                let p = format!(
                    "/console/advisories/{}/measures",
                    id(format!("adv-ack-{o}"), g)
                );
                (Method::POST, p, Some("measures=isolated".into()))
            },
        },
        Route {
            name: "POST /console/advisories/{id}/close",
            perm: RespondAdvisories,
            expect: Action,
            request: |o, g| {
                let p = format!(
                    "/console/advisories/{}/close",
                    id(format!("adv-ack-{o}"), g)
                );
                (Method::POST, p, Some("note=done".into()))
            },
        },
    ]
}

/// Markers of every record of `org` in console HTML.
fn markers(org: &str) -> Vec<String> {
    vec![
        format!("al-{org}\""),
        format!("in-{org}\""),
        format!("adv-{org}\""),
        format!("adv-ack-{org}\""),
        format!("acct-{org}"),
        format!("pc-ev-{org}"),
        format!("data-event-org=\"{org}\""),
        format!("data-org-count=\"{org}\""),
        format!("pc-al-{org}"),
        format!("data-org=\"{org}\""),
        format!("<td>{org}</td>"),
        format!("value=\"{org}\""),
        format!("· {org} ·"),
    ]
}

fn assert_no_leak(role: Role, route: &str, body: &str, request: &str) {
    matrix::assert_no_leak(markers, role, route, body, request);
}

fn status_of_alert(h: &Harness, id: &str) -> yagura_store::AlertStatus {
    use yagura_store::StateStore;
    h.store
        .get_alert(&matrix::everything(), id)
        .unwrap()
        .unwrap()
        .status
}

async fn session(h: &Harness, role: Role) -> (Auth, String) {
    let name = format!("caller-{}", role.as_str());
    h.user(&name, CALLER_ORG, role);
    let auth = h.login(&name, PASSWORD).await.unwrap();
    let Auth::Session { csrf, .. } = &auth else {
        unreachable!()
    };
    let csrf = csrf.clone().unwrap();
    (auth, csrf)
}

#[tokio::test]
async fn every_console_route_every_role_every_relation() {
    let mut cells = 0;
    for route in routes() {
        for role in Role::ALL {
            for rel in Rel::ALL {
                let h = Harness::new();
                h.seed();
                let (auth, csrf) = session(&h, role).await;
                let target = rel.org();
                let (method, path, form) = (route.request)(target, false);
                let body = form.as_ref().map(|f| format!("csrf={csrf}&{f}"));
                let request = format!("{path} {}", form.clone().unwrap_or_default());
                let before = Snapshot::of(&h, target);
                let r = h
                    .console(method.clone(), &path, &auth, body.as_deref())
                    .await;
                let cell = format!("{} as {role} on {rel:?} ({target})", route.name);
                assert_no_leak(role, route.name, &r.text, &request);
                cells += 1;
                let visible = rel.visible_to(role);
                let allowed = authz::allows(role, route.perm);
                if method == Method::POST && !(visible && allowed) {
                    assert_eq!(Snapshot::of(&h, target), before, "{cell}: a refused form");
                }
                if !allowed {
                    assert_eq!(r.status, StatusCode::FORBIDDEN, "{cell}: {}", r.text);
                    assert!(r.text.contains("data-code=\"forbidden\""), "{cell}");
                    continue;
                }
                match route.expect {
                    Expect::Page | Expect::Action if !visible => {
                        assert_eq!(r.status, StatusCode::NOT_FOUND, "{cell}: {}", r.text);
                        let (gm, gp, gf) = (route.request)(target, true);
                        let gb = gf.map(|f| format!("csrf={csrf}&{f}"));
                        let ghost = h.console(gm, &gp, &auth, gb.as_deref()).await;
                        assert_eq!(ghost.status, r.status, "{cell} ghost");
                        assert_eq!(ghost.text, r.text, "{cell}: same page as a ghost");
                    }
                    Expect::Page => {
                        assert_eq!(r.status, StatusCode::OK, "{cell}: {}", r.text);
                    }
                    Expect::Action => {
                        assert_eq!(r.status, StatusCode::SEE_OTHER, "{cell}: {}", r.text);
                    }
                    Expect::Bulk => {
                        assert_eq!(r.status, StatusCode::SEE_OTHER, "{cell}: {}", r.text);
                        let expect = if visible {
                            yagura_store::AlertStatus::Resolved
                        } else {
                            yagura_store::AlertStatus::New
                        };
                        assert_eq!(
                            status_of_alert(&h, &format!("al-{target}")),
                            expect,
                            "{cell}"
                        );
                    }
                    Expect::List(marker) => {
                        assert_eq!(r.status, StatusCode::OK, "{cell}: {}", r.text);
                        assert_eq!(
                            r.text.contains(&marker(target)),
                            visible,
                            "{cell}: marker {} in {}",
                            marker(target),
                            r.text
                        );
                    }
                    Expect::ListIf(perm, marker) => {
                        assert_eq!(r.status, StatusCode::OK, "{cell}: {}", r.text);
                        assert_eq!(
                            r.text.contains(&marker(target)),
                            visible && authz::allows(role, perm),
                            "{cell}: marker {} in {}",
                            marker(target),
                            r.text
                        );
                    }
                }
            }
        }
    }
    assert_eq!(cells, routes().len() * Role::ALL.len() * Rel::ALL.len());
}

#[tokio::test]
async fn forms_need_the_session_csrf_token() {
    let h = Harness::new();
    h.seed();
    let (auth, csrf) = session(&h, Role::Analyst).await;
    for body in [
        "status=acknowledged".to_owned(),
        "csrf=&status=acknowledged".to_owned(),
        format!("csrf={}x&status=acknowledged", &csrf[..csrf.len() - 1]),
    ] {
        let r = h
            .console(
                Method::POST,
                "/console/alerts/al-delegated/status",
                &auth,
                Some(&body),
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{body}");
    }
    assert_eq!(
        status_of_alert(&h, "al-delegated"),
        yagura_store::AlertStatus::New
    );
    let ok = format!("csrf={csrf}&status=acknowledged");
    let r = h
        .console(
            Method::POST,
            "/console/alerts/al-delegated/status",
            &auth,
            Some(&ok),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location.as_deref(), Some("/console/alerts/al-delegated"));
    assert_eq!(
        status_of_alert(&h, "al-delegated"),
        yagura_store::AlertStatus::Acknowledged
    );
}

#[tokio::test]
async fn pages_need_a_session_and_refuse_bearer_tokens() {
    let h = Harness::new();
    h.seed();
    let r = h.console(Method::GET, "/console/", &Auth::None, None).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location.as_deref(), Some("/console/login"));
    let token = Auth::Bearer(h.token("t", CALLER_ORG, Role::Analyst));
    let r = h
        .console(Method::GET, "/console/alerts", &token, None)
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = h.console(Method::GET, "/", &Auth::None, None).await;
    assert_eq!(r.location.as_deref(), Some("/console/"));
}

#[tokio::test]
async fn login_form_starts_a_session_with_its_double_submit_token() {
    let h = Harness::new();
    h.user("ana", CALLER_ORG, Role::Analyst);
    // Without the login form's token cookie, the form is refused.
    let r = h
        .console(
            Method::POST,
            "/console/login",
            &Auth::None,
            Some("login_csrf=abc&username=ana&password=x"),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let page = h.get("/console/login", &Auth::None).await;
    assert_eq!(page.status, StatusCode::OK);
    let token = page
        .set_cookie
        .as_deref()
        .and_then(|c| c.split(';').next())
        .and_then(|kv| kv.strip_prefix("yagura_login_csrf="))
        .expect("login token cookie")
        .to_owned();
    assert!(page.text.contains(&format!("value=\"{token}\"")));
    let login = |password: &'static str| {
        let token = token.clone();
        let app = h.app.clone();
        async move {
            use tower::ServiceExt;
            let body = format!(
                "login_csrf={token}&username=ana&password={}",
                password.replace(' ', "+")
            );
            let req = axum::http::Request::post("/console/login")
                .header("cookie", format!("yagura_login_csrf={token}"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(axum::body::Body::from(body))
                .unwrap();
            app.oneshot(req).await.unwrap()
        }
    };
    let bad = login("wrong").await;
    assert_eq!(bad.status(), StatusCode::UNAUTHORIZED);
    let good = login(PASSWORD).await;
    assert_eq!(good.status(), StatusCode::SEE_OTHER);
    let cookie = good
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix("yagura_session="))
        .and_then(|c| c.split(';').next())
        .expect("session cookie")
        .to_owned();
    let auth = Auth::Session { cookie, csrf: None };
    let dash = h.console(Method::GET, "/console/", &auth, None).await;
    assert_eq!(dash.status, StatusCode::OK);
    assert!(dash.text.contains("data-role=\"analyst\""));
}

#[tokio::test]
async fn pages_render_in_japanese_and_english() {
    let h = Harness::new();
    h.seed();
    let (auth, _) = session(&h, Role::Analyst).await;
    let ja = h
        .console(Method::GET, "/console/?lang=ja", &auth, None)
        .await;
    assert!(ja.text.contains("<html lang=\"ja\""), "{}", ja.text);
    assert!(ja.text.contains("日別アラート件数"));
    let en = h
        .console(Method::GET, "/console/?lang=en", &auth, None)
        .await;
    assert!(en.text.contains("<html lang=\"en\""));
    assert!(en.text.contains("Alerts per day"));
    // The dashboard's charts are inline SVG built from the alert counts.
    assert!(en.text.contains("<svg id=\"alerts-per-day\""));
    assert!(en.text.contains("<svg id=\"alerts-per-org\""));
    for path in [
        "/console/alerts",
        "/console/alerts/al-pension",
        "/console/incidents",
        "/console/incidents/in-pension",
        "/console/orgs",
        "/console/hunt?q=acct-power",
        "/console/advisories",
        "/console/advisories/adv-pension",
    ] {
        let r = h.console(Method::GET, path, &auth, None).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.text);
        assert!(r.text.contains("nav-dashboard"), "{path}");
    }
    let css = h
        .console(
            Method::GET,
            "/console/assets/console.css",
            &Auth::None,
            None,
        )
        .await;
    assert_eq!(css.status, StatusCode::OK);
}

#[tokio::test]
async fn analyst_turns_an_alert_into_an_advisory_and_the_officer_closes_it() {
    let h = Harness::new();
    h.seed();
    let (analyst, a_csrf) = session(&h, Role::Analyst).await;
    h.user("officer-pension", "pension", Role::OrgOfficer);
    let officer = h.login("officer-pension", PASSWORD).await.unwrap();
    let Auth::Session { csrf: o_csrf, .. } = &officer else {
        unreachable!()
    };
    let o_csrf = o_csrf.clone().unwrap();
    let form = format!(
        "csrf={a_csrf}&alert_ids=al-pension&title=Beaconing+from+PC&summary=seen&measures=isolate%0Ablock&due_days=7"
    );
    let r = h
        .console(Method::POST, "/console/advisories", &analyst, Some(&form))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let url = r.location.unwrap();
    let id = url.trim_start_matches("/console/advisories/").to_owned();
    // The officer sees it in the inbox and acknowledges, reports and closes it.
    let inbox = h
        .console(Method::GET, "/console/advisories", &officer, None)
        .await;
    assert!(inbox.text.contains(&format!("data-advisory=\"{id}\"")));
    for (step, extra) in [
        ("acknowledge", "note=seen"),
        ("measures", "measures=PC+isolated"),
        ("close", "note=done"),
    ] {
        let r = h
            .console(
                Method::POST,
                &format!("/console/advisories/{id}/{step}"),
                &officer,
                Some(&format!("csrf={o_csrf}&{extra}")),
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{step}: {}", r.text);
    }
    let page = h.console(Method::GET, &url, &analyst, None).await;
    assert!(
        page.text.contains("data-status=\"closed\""),
        "{}",
        page.text
    );
    assert!(page.text.contains("PC isolated"));
    // Closing twice is a conflict page, not a crash.
    let again = h
        .console(
            Method::POST,
            &format!("/console/advisories/{id}/close"),
            &officer,
            Some(&format!("csrf={o_csrf}")),
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn the_hunt_page_searches_stored_events_within_the_callers_scope() {
    let h = Harness::new();
    h.seed();
    h.user("officer-pension", "pension", Role::OrgOfficer);
    let officer = h.login("officer-pension", PASSWORD).await.unwrap();
    let (analyst, _) = session(&h, Role::Analyst).await;
    let hunt = format!("/console/hunt?q={SHARED_INDICATOR}&lang=en");

    // The analyst of `delegated` sees the events of delegated, pension and power: the
    // proxy event and the DNS query (a subdomain) of each.
    let r = h.console(Method::GET, &hunt, &analyst, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(
        r.text.contains("id=\"hunt-count\" data-total=\"6\""),
        "{}",
        r.text
    );
    for o in ["delegated", "pension", "power"] {
        assert_eq!(
            r.text.matches(&format!("data-event-org=\"{o}\"")).count(),
            2,
            "{o}"
        );
    }
    assert_no_leak(Role::Analyst, "hunt", &r.text, &hunt);

    // The officer of pension sees pension's events only, whatever it asks for.
    for q in [
        hunt.clone(),
        format!("{hunt}&org=moh"),
        "/console/hunt?q=acct-moh+acct-pension".to_owned(),
    ] {
        let r = h.console(Method::GET, &q, &officer, None).await;
        assert_eq!(r.status, StatusCode::OK, "{q}: {}", r.text);
        for o in ORGS.iter().filter(|o| **o != "pension") {
            assert!(!r.text.contains(&format!("pc-ev-{o}")), "{q}: {o} leaked");
            assert!(!r.text.contains(&format!("data-event-org=\"{o}\"")), "{q}");
        }
    }
    let r = h.console(Method::GET, &hunt, &officer, None).await;
    assert!(r.text.contains("data-total=\"2\""), "{}", r.text);

    // The time range narrows: only the proxy events are on the first day.
    let day1 = format!("{hunt}&from=2026-01-05&to=2026-01-06");
    let r = h.console(Method::GET, &day1, &analyst, None).await;
    assert!(r.text.contains("data-total=\"3\""), "{}", r.text);
    assert!(r.text.contains("<td>squid.access</td>") && !r.text.contains("<td>zeek.dns</td>"));
    // A field filter narrows too.
    let dns = format!("{hunt}&filter=event.dataset%3Dzeek.dns");
    let r = h.console(Method::GET, &dns, &analyst, None).await;
    assert!(r.text.contains("data-total=\"3\""), "{}", r.text);
    // Alerts mentioning the values are listed beside the events.
    let r = h
        .console(Method::GET, "/console/hunt?q=acct-pension", &analyst, None)
        .await;
    assert!(r.text.contains("data-alert=\"al-pension\""), "{}", r.text);
    assert!(r.text.contains("data-event-org=\"pension\""), "{}", r.text);
    // A malformed hunt is a 400 page, not a crash.
    let bad = format!("{hunt}&from=yesterday");
    let r = h.console(Method::GET, &bad, &analyst, None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    // Roles without the hunt permission and servers without an event store search alerts.
    h.user("reader", CALLER_ORG, Role::ReadOnly);
    let reader = h.login("reader", PASSWORD).await.unwrap();
    let r = h.console(Method::GET, &hunt, &reader, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.text.contains("id=\"hunt-not-allowed\""));
    assert!(!r.text.contains("data-event-org"));
    let bare = Harness::with_options(Default::default());
    bare.seed();
    let (analyst, _) = session(&bare, Role::Analyst).await;
    let r = bare
        .console(Method::GET, "/console/hunt?q=acct-pension", &analyst, None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.text.contains("id=\"hunt-no-events\""));
    assert!(r.text.contains("data-alert=\"al-pension\""));
}
