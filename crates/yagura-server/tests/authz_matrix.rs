//! The authorization matrix: every endpoint × every role × own, child, parent and foreign
//! organization, table-driven. The caller belongs to `delegated` (a center supervising
//! `pension` and `power`, supervised by `central`, sibling of `moh`).
//!
//! For every cell the test checks the status (403 when the role lacks the permission; the
//! success status when allowed and visible; 404 — byte-identical to the answer for an id that
//! never existed — when allowed but outside the scope), and scans **every** response body for
//! the markers of records of organizations outside the caller's scope: zero leaks.

mod common;

use axum::http::{Method, StatusCode};
use common::matrix::{self, CALLER_ORG, Rel, Snapshot};
use common::*;
use serde_json::{Value, json};
use yagura_model::Role;
use yagura_server::authz::{self, Permission};

/// What the endpoint answers when allowed.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// Acts on one record of the target org: `ok` when visible, 404 when not.
    Item(StatusCode),
    /// A list: 200; `marker(org)` appears in the body iff the target org is visible.
    List(fn(&str) -> String),
    /// Bulk alert status: 200; the id lands in `updated` iff visible, else in `not_found`.
    Bulk,
}

/// Builds (method, path, body) against an organization; `true` asks for a never-existing record.
type RequestFn = fn(&Harness, &str, bool) -> (Method, String, Option<Value>);

/// One endpoint: the permission it needs and how to build the request against `org`.
struct Endpoint {
    name: &'static str,
    perm: Permission,
    expect: Expect,
    /// The request (method, path, body) against `org`, or against a never-existing record
    /// when `ghost` is true (used to prove 404s carry no existence oracle).
    request: RequestFn,
}

fn id_or_ghost(real: String, ghost: bool) -> String {
    if ghost {
        "ghost-record".to_owned()
    } else {
        real
    }
}

fn user_id_or_ghost(h: &Harness, org: &str, ghost: bool) -> String {
    if ghost {
        "987654".into()
    } else {
        h.user_id(&format!("user-{org}")).to_string()
    }
}

fn token_id_or_ghost(h: &Harness, org: &str, ghost: bool) -> String {
    if ghost {
        "987654".into()
    } else {
        h.token_id(&format!("tok-{org}")).to_string()
    }
}

fn kind_of(org: &str) -> &'static str {
    match org {
        "central" | "delegated" => "center",
        "pension" => "agency",
        "power" => "designated-corporation",
        _ => "ministry",
    }
}

fn org_or_ghost(org: &str, ghost: bool) -> String {
    if ghost {
        "ghost-org".into()
    } else {
        org.to_owned()
    }
}

fn endpoints() -> Vec<Endpoint> {
    use Expect::*;
    use Permission::*;
    vec![
        Endpoint {
            name: "GET /orgs",
            perm: Read,
            expect: List(|o| format!("\"id\":\"{o}\"")),
            request: |_, _, _| (Method::GET, "/api/v1/orgs?limit=1000".into(), None),
        },
        Endpoint {
            name: "GET /orgs?kind",
            perm: Read,
            expect: List(|o| format!("\"id\":\"{o}\"")),
            request: |_, o, _| {
                (
                    Method::GET,
                    format!("/api/v1/orgs?kind={}", kind_of(o)),
                    None,
                )
            },
        },
        Endpoint {
            name: "GET /orgs/tree",
            perm: Read,
            expect: List(|o| format!("\"id\":\"{o}\"")),
            request: |_, _, _| (Method::GET, "/api/v1/orgs/tree".into(), None),
        },
        Endpoint {
            name: "GET /orgs/{id}",
            perm: Read,
            expect: Item(StatusCode::OK),
            request: |_, o, g| {
                (
                    Method::GET,
                    format!("/api/v1/orgs/{}", org_or_ghost(o, g)),
                    None,
                )
            },
        },
        Endpoint {
            name: "GET /alerts",
            perm: Read,
            expect: List(|o| format!("al-{o}")),
            request: |_, _, _| (Method::GET, "/api/v1/alerts?limit=1000".into(), None),
        },
        Endpoint {
            name: "GET /alerts?org",
            perm: Read,
            expect: List(|o| format!("al-{o}")),
            request: |_, o, _| (Method::GET, format!("/api/v1/alerts?org={o}"), None),
        },
        Endpoint {
            name: "GET /alerts/{id}",
            perm: Read,
            expect: Item(StatusCode::OK),
            request: |_, o, g| {
                (
                    Method::GET,
                    format!("/api/v1/alerts/{}", id_or_ghost(format!("al-{o}"), g)),
                    None,
                )
            },
        },
        Endpoint {
            name: "PUT /alerts/{id}/status",
            perm: TriageAlerts,
            expect: Item(StatusCode::OK),
            request: |_, o, g| {
                (
                    Method::PUT,
                    format!(
                        "/api/v1/alerts/{}/status",
                        id_or_ghost(format!("al-{o}"), g)
                    ),
                    Some(json!({"status": "acknowledged"})),
                )
            },
        },
        Endpoint {
            name: "POST /alerts/status",
            perm: TriageAlerts,
            expect: Bulk,
            request: |_, o, g| {
                (
                    Method::POST,
                    "/api/v1/alerts/status".into(),
                    Some(json!({"ids": [id_or_ghost(format!("al-{o}"), g)], "status": "resolved"})),
                )
            },
        },
        Endpoint {
            name: "GET /incidents",
            perm: Read,
            expect: List(|o| format!("in-{o}")),
            request: |_, _, _| (Method::GET, "/api/v1/incidents?limit=1000".into(), None),
        },
        Endpoint {
            name: "GET /incidents?org",
            perm: Read,
            expect: List(|o| format!("in-{o}")),
            request: |_, o, _| {
                (
                    Method::GET,
                    format!("/api/v1/incidents?org={o}&open=true"),
                    None,
                )
            },
        },
        Endpoint {
            name: "GET /incidents/{id}",
            perm: Read,
            expect: Item(StatusCode::OK),
            request: |_, o, g| {
                (
                    Method::GET,
                    format!("/api/v1/incidents/{}", id_or_ghost(format!("in-{o}"), g)),
                    None,
                )
            },
        },
        Endpoint {
            name: "PUT /incidents/{id}/status",
            perm: WorkIncidents,
            expect: Item(StatusCode::OK),
            request: |_, o, g| {
                (
                    Method::PUT,
                    format!(
                        "/api/v1/incidents/{}/status",
                        id_or_ghost(format!("in-{o}"), g)
                    ),
                    Some(json!({"status": "triage"})),
                )
            },
        },
        Endpoint {
            name: "PUT /incidents/{id}/assignee",
            perm: WorkIncidents,
            expect: Item(StatusCode::OK),
            request: |_, o, g| {
                (
                    Method::PUT,
                    format!(
                        "/api/v1/incidents/{}/assignee",
                        id_or_ghost(format!("in-{o}"), g)
                    ),
                    Some(json!({"assignee": null})),
                )
            },
        },
        Endpoint {
            name: "GET /advisories",
            perm: Read,
            expect: List(|o| format!("adv-{o}")),
            request: |_, _, _| (Method::GET, "/api/v1/advisories?limit=1000".into(), None),
        },
        Endpoint {
            name: "GET /advisories?org",
            perm: Read,
            expect: List(|o| format!("adv-ack-{o}")),
            request: |_, o, _| {
                (
                    Method::GET,
                    format!("/api/v1/advisories?org={o}&status=acknowledged"),
                    None,
                )
            },
        },
        Endpoint {
            name: "GET /advisories/{id}",
            perm: Read,
            expect: Item(StatusCode::OK),
            request: |_, o, g| {
                (
                    Method::GET,
                    format!("/api/v1/advisories/{}", id_or_ghost(format!("adv-{o}"), g)),
                    None,
                )
            },
        },
        Endpoint {
            name: "POST /advisories",
            perm: IssueAdvisories,
            expect: Item(StatusCode::CREATED),
            request: |_, o, g| {
                (
                    Method::POST,
                    "/api/v1/advisories".into(),
                    Some(json!({
                "alert_ids": [id_or_ghost(format!("al-{o}"), g)], "title": "C2 beaconing",
                "summary": "periodic beaconing", "recommended_measures": ["isolate the host"], "due": "2026-03-01T00:00:00Z"})),
                )
            },
        },
        Endpoint {
            name: "POST /advisories/{id}/acknowledge",
            perm: RespondAdvisories,
            expect: Item(StatusCode::OK),
            request: |_, o, g| {
                (
                    Method::POST,
                    format!(
                        "/api/v1/advisories/{}/acknowledge",
                        id_or_ghost(format!("adv-{o}"), g)
                    ),
                    Some(json!({"note": "seen"})),
                )
            },
        },
        Endpoint {
            name: "POST /advisories/{id}/measures",
            perm: RespondAdvisories,
            expect: Item(StatusCode::OK),
            request: |_, o, g| {
                (
                    Method::POST,
                    format!(
                        "/api/v1/advisories/{}/measures",
                        id_or_ghost(format!("adv-ack-{o}"), g)
                    ),
                    Some(json!({"measures": ["terminal isolated"]})),
                )
            },
        },
        Endpoint {
            name: "POST /advisories/{id}/close",
            perm: RespondAdvisories,
            expect: Item(StatusCode::OK),
            request: |_, o, g| {
                (
                    Method::POST,
                    format!(
                        "/api/v1/advisories/{}/close",
                        id_or_ghost(format!("adv-ack-{o}"), g)
                    ),
                    None,
                )
            },
        },
        Endpoint {
            name: "GET /users",
            perm: ManageUsers,
            expect: List(|o| format!("user-{o}")),
            request: |_, _, _| (Method::GET, "/api/v1/users?limit=1000".into(), None),
        },
        Endpoint {
            name: "POST /users",
            perm: ManageUsers,
            expect: Item(StatusCode::CREATED),
            request: |_, o, g| {
                (
                    Method::POST,
                    "/api/v1/users".into(),
                    Some(json!({
                "name": "newcomer", "org": org_or_ghost(o, g), "role": "analyst", "password": PASSWORD})),
                )
            },
        },
        Endpoint {
            name: "PUT /users/{id}/disabled",
            perm: ManageUsers,
            expect: Item(StatusCode::OK),
            request: |h, o, g| {
                (
                    Method::PUT,
                    format!("/api/v1/users/{}/disabled", user_id_or_ghost(h, o, g)),
                    Some(json!({"disabled": true})),
                )
            },
        },
        Endpoint {
            name: "GET /tokens",
            perm: ManageTokens,
            expect: List(|o| format!("tok-{o}")),
            request: |_, _, _| (Method::GET, "/api/v1/tokens?limit=1000".into(), None),
        },
        Endpoint {
            name: "POST /tokens",
            perm: ManageTokens,
            expect: Item(StatusCode::CREATED),
            request: |_, o, g| {
                (
                    Method::POST,
                    "/api/v1/tokens".into(),
                    Some(json!({
                "name": "ingest", "org": org_or_ghost(o, g), "role": "read-only", "scopes": ["read"], "expires": "2026-06-01T00:00:00Z"})),
                )
            },
        },
        Endpoint {
            name: "DELETE /tokens/{id}",
            perm: ManageTokens,
            expect: Item(StatusCode::NO_CONTENT),
            request: |h, o, g| {
                (
                    Method::DELETE,
                    format!("/api/v1/tokens/{}", token_id_or_ghost(h, o, g)),
                    None,
                )
            },
        },
        Endpoint {
            name: "GET /audit",
            perm: ReadAudit,
            expect: List(|o| format!("audit-{o}")),
            request: |_, _, _| (Method::GET, "/api/v1/audit?limit=1000".into(), None),
        },
        Endpoint {
            name: "GET /audit?org",
            perm: ReadAudit,
            expect: List(|o| format!("audit-{o}")),
            request: |_, o, _| {
                (
                    Method::GET,
                    format!("/api/v1/audit?org={o}&action=seed."),
                    None,
                )
            },
        },
        Endpoint {
            name: "GET /hunt",
            perm: HuntEvents,
            expect: List(|o| format!("pc-ev-{o}")),
            request: |_, _, _| {
                let q = format!("/api/v1/hunt?q={SHARED_INDICATOR}&limit=1000");
                (Method::GET, q, None)
            },
        },
        Endpoint {
            name: "GET /hunt?org",
            perm: HuntEvents,
            expect: List(|o| format!("pc-ev-{o}")),
            request: |_, o, _| {
                let q = format!("/api/v1/hunt?indicator=acct-{o}&org={o}&from=2026-01-05");
                (Method::GET, q, None)
            },
        },
    ]
}

/// Markers of every record of `org` (any of them in a response body is a leak of `org`).
fn markers(org: &str) -> Vec<String> {
    vec![
        format!("al-{org}\""),
        format!("in-{org}\""),
        format!("adv-{org}\""),
        format!("adv-ack-{org}\""),
        format!("user-{org}\""),
        format!("tok-{org}\""),
        format!("audit-{org}\""),
        format!("acct-{org}\""),
        format!("pc-ev-{org}"),
        format!("\"org\":\"{org}\""),
        // An organization's own record names its supervisor (`monitored_by`), which is not a
        // record of the supervisor; the supervisor's own record (`"id"`) must not appear.
        format!("\"id\":\"{org}\""),
    ]
}

fn assert_no_leak(role: Role, endpoint: &str, body: &str, request: &str) {
    matrix::assert_no_leak(markers, role, endpoint, body, request);
}

#[tokio::test]
async fn every_endpoint_every_role_every_relation() {
    let mut cells = 0;
    for ep in endpoints() {
        for role in Role::ALL {
            for rel in Rel::ALL {
                let h = Harness::new();
                h.seed();
                let token = Auth::Bearer(h.token("caller", CALLER_ORG, role));
                let target = rel.org();
                let (method, path, body) = (ep.request)(&h, target, false);
                let request = format!(
                    "{path} {}",
                    body.as_ref().map(|b| b.to_string()).unwrap_or_default()
                );
                let before = Snapshot::of(&h, target);
                let r = h.call(method.clone(), &path, &token, body).await;
                let cell = format!("{} as {role} on {rel:?} ({target})", ep.name);
                assert_no_leak(role, ep.name, &r.text, &request);
                cells += 1;
                let visible = rel.visible_to(role);
                if method != Method::GET && !(visible && authz::allows(role, ep.perm)) {
                    assert_eq!(Snapshot::of(&h, target), before, "{cell}: a refused write");
                }
                if !authz::allows(role, ep.perm) {
                    assert_eq!(r.status, StatusCode::FORBIDDEN, "{cell}: {}", r.text);
                    assert_eq!(error_code(&r), "forbidden", "{cell}");
                    continue;
                }
                match ep.expect {
                    Expect::Item(ok) if visible => {
                        assert_eq!(r.status, ok, "{cell}: {}", r.text);
                    }
                    Expect::Item(_) => {
                        assert_eq!(r.status, StatusCode::NOT_FOUND, "{cell}: {}", r.text);
                        assert_eq!(error_code(&r), "not-found", "{cell}");
                        // Same answer as for a record that never existed: no existence oracle.
                        let (gm, gp, gb) = (ep.request)(&h, target, true);
                        let ghost = h.call(gm, &gp, &token, gb).await;
                        assert_eq!(ghost.status, r.status, "{cell} ghost: {}", ghost.text);
                        assert_eq!(
                            ghost.json["error"]["code"], r.json["error"]["code"],
                            "{cell}"
                        );
                    }
                    Expect::List(marker) => {
                        assert_eq!(r.status, StatusCode::OK, "{cell}: {}", r.text);
                        assert_eq!(
                            r.text.contains(&marker(target)),
                            visible,
                            "{cell}: marker {} {}",
                            marker(target),
                            r.text
                        );
                    }
                    Expect::Bulk => {
                        assert_eq!(r.status, StatusCode::OK, "{cell}: {}", r.text);
                        let id = json!(format!("al-{target}"));
                        let bucket = if visible { "updated" } else { "not_found" };
                        assert_eq!(r.json[bucket], json!([id]), "{cell}: {}", r.text);
                    }
                }
            }
        }
    }
    assert_eq!(cells, endpoints().len() * Role::ALL.len() * Rel::ALL.len());
}

/// Sessions go through the same scope computation as tokens; spot-check the matrix's corners
/// with real logins (org-officer of a center: own org only; analyst: own and children).
#[tokio::test]
async fn sessions_follow_the_same_scope() {
    let h = Harness::new();
    h.seed();
    h.user("officer", CALLER_ORG, Role::OrgOfficer);
    h.user("analyst", CALLER_ORG, Role::Analyst);
    let officer = h.login("officer", PASSWORD).await.unwrap();
    let analyst = h.login("analyst", PASSWORD).await.unwrap();
    let r = h.get("/api/v1/alerts?limit=1000", &officer).await;
    assert_no_leak(Role::OrgOfficer, "GET /alerts", &r.text, "");
    assert_eq!(r.json["total"], 1, "{}", r.text);
    let r = h.get("/api/v1/alerts?limit=1000", &analyst).await;
    assert_no_leak(Role::Analyst, "GET /alerts", &r.text, "");
    assert_eq!(r.json["total"], 3, "delegated, pension, power: {}", r.text);
    assert_eq!(
        h.get("/api/v1/alerts/al-pension", &officer).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        h.get("/api/v1/alerts/al-pension", &analyst).await.status,
        StatusCode::OK
    );
    assert_eq!(
        h.get("/api/v1/alerts/al-moh", &analyst).await.status,
        StatusCode::NOT_FOUND
    );
}
