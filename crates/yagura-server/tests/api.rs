//! API integration tests: sessions and CSRF, tokens, rate limiting, the advisory loop, lists,
//! errors, the OpenAPI document.

mod common;

use axum::http::{Method, StatusCode};
use common::*;
use serde_json::{Value, json};
use yagura_model::{Role, Timestamp};
use yagura_store::StateStore;

fn audit_actions(h: &Harness) -> Vec<String> {
    let all = yagura_store::testing::fixture_inventory().visible_from("central");
    let mut v: Vec<String> = h
        .store
        .list_audit(&all, &yagura_store::Page::first(1000))
        .unwrap()
        .into_iter()
        .map(|r| r.action)
        .collect();
    v.reverse();
    v
}

#[tokio::test]
async fn session_login_csrf_and_logout() {
    let h = Harness::new();
    h.seed();
    h.user("sato", "moh", Role::Analyst);
    let r = h
        .call(
            Method::POST,
            "/api/v1/session/login",
            &Auth::None,
            Some(json!({"username": "sato", "password": PASSWORD})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let cookie = r.set_cookie.clone().unwrap();
    assert!(cookie.starts_with("yagura_session="), "{cookie}");
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=28800"] {
        assert!(cookie.contains(attr), "{attr} in {cookie}");
    }
    assert!(!cookie.contains("Secure"), "no TLS, no Secure: {cookie}");
    assert_eq!(r.json["role"], "analyst");
    assert_eq!(r.json["scope"], json!(["moh"]));
    let csrf = r.json["csrf_token"].as_str().unwrap().to_owned();
    assert_eq!(csrf.len(), 64);
    let Ok(Auth::Session { cookie, .. }) = h.login("sato", PASSWORD).await else {
        panic!()
    };

    let with = |csrf: Option<&str>| Auth::Session {
        cookie: cookie.clone(),
        csrf: csrf.map(str::to_owned),
    };
    // Reads need no CSRF token.
    let me = h.get("/api/v1/me", &with(None)).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.json["name"], "sato");
    assert_eq!(me.json["auth"], "session");
    let csrf = me.json["csrf_token"].as_str().unwrap().to_owned();
    assert_eq!(
        me.json["permissions"],
        json!([
            "read",
            "alerts.triage",
            "incidents.work",
            "advisories.issue",
            "events.hunt"
        ])
    );
    // Writes do: missing or wrong → 403 csrf, and nothing changes.
    let body = json!({"status": "acknowledged"});
    for bad in [None, Some("0".repeat(64).as_str()), Some("")] {
        let r = h
            .call(
                Method::PUT,
                "/api/v1/alerts/al-moh/status",
                &with(bad),
                Some(body.clone()),
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{bad:?}: {}", r.text);
        assert_eq!(error_code(&r), "csrf");
    }
    let a = h.get("/api/v1/alerts/al-moh", &with(None)).await;
    assert_eq!(a.json["status"], "new");
    let r = h
        .call(
            Method::PUT,
            "/api/v1/alerts/al-moh/status",
            &with(Some(&csrf)),
            Some(body),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["status"], "acknowledged");
    // Logout needs CSRF too, clears the cookie, and kills the session.
    let r = h
        .call(Method::POST, "/api/v1/session/logout", &with(None), None)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = h
        .call(
            Method::POST,
            "/api/v1/session/logout",
            &with(Some(&csrf)),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert!(r.set_cookie.unwrap().contains("Max-Age=0"));
    let r = h.get("/api/v1/me", &with(None)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(&r), "unauthenticated");
    assert_eq!(
        audit_actions(&h)
            .into_iter()
            .filter(|a| !a.starts_with("seed"))
            .collect::<Vec<_>>(),
        [
            "session.login",
            "session.login",
            "alert.status",
            "session.logout"
        ]
    );
}

#[tokio::test]
async fn no_credentials_or_garbage_credentials_are_401() {
    let h = Harness::new();
    h.seed();
    for auth in [
        Auth::None,
        Auth::Bearer("ygt_nope".into()),
        Auth::Session {
            cookie: "forged".into(),
            csrf: None,
        },
    ] {
        let r = h.get("/api/v1/alerts", &auth).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{auth:?}");
        assert_eq!(error_code(&r), "unauthenticated");
    }
    // The seeded tokens have no expiry and the `read` scope.
    let r = h
        .get("/api/v1/alerts", &Auth::Bearer("secret-of-moh".into()))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["total"], 1);
}

#[tokio::test]
async fn login_failures_are_rate_limited_and_audited() {
    let h = Harness::new();
    h.seed();
    h.user("suzuki", "mof", Role::ReadOnly);
    for _ in 0..5 {
        let r = h.login("suzuki", "wrong password").await.unwrap_err();
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert_eq!(error_code(&r), "bad-credentials");
    }
    // Even the right password is refused while limited.
    let r = h.login("suzuki", PASSWORD).await.unwrap_err();
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text);
    assert_eq!(error_code(&r), "rate-limited");
    assert_eq!(r.retry_after.as_deref(), Some("300"));
    // Unknown users answer like wrong passwords (no user-name oracle) and are limited too.
    let r = h.login("nobody", PASSWORD).await.unwrap_err();
    assert_eq!(error_code(&r), "bad-credentials");
    // After the window the account works again.
    h.set_now(Timestamp::from_secs(T0 + 86_400 + 301));
    assert!(h.login("suzuki", PASSWORD).await.is_ok());
    let fails = audit_actions(&h)
        .iter()
        .filter(|a| *a == "session.login-failed")
        .count();
    assert_eq!(fails, 5);
}

#[tokio::test]
async fn disabled_users_cannot_log_in_and_lose_their_sessions() {
    let h = Harness::new();
    h.seed();
    let id = h.user("kato", "moh", Role::Analyst);
    let session = h.login("kato", PASSWORD).await.unwrap();
    let admin = Auth::Bearer(h.token("admin", "central", Role::CenterAdmin));
    let r = h
        .call(
            Method::PUT,
            &format!("/api/v1/users/{id}/disabled"),
            &admin,
            Some(json!({"disabled": true})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        h.get("/api/v1/me", &session).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        h.login("kato", PASSWORD).await.unwrap_err().status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn admins_manage_users_and_tokens() {
    let h = Harness::new();
    h.seed();
    h.user("root", "central", Role::CenterAdmin);
    let admin = h.login("root", PASSWORD).await.unwrap();
    let Auth::Session { cookie, .. } = &admin else {
        panic!()
    };
    let csrf = h.get("/api/v1/me", &admin).await.json["csrf_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let admin = Auth::Session {
        cookie: cookie.clone(),
        csrf: Some(csrf),
    };
    // Users: validation, creation, conflict, listing with filters.
    for (body, why) in [
        (
            json!({"name": "x", "org": "moh", "role": "analyst", "password": "short"}),
            "short password",
        ),
        (
            json!({"name": "bad name", "org": "moh", "role": "analyst", "password": PASSWORD}),
            "bad name",
        ),
        (
            json!({"name": "x", "org": "moh", "role": "boss", "password": PASSWORD}),
            "bad role",
        ),
        (
            json!({"name": "x", "org": "Not An Org", "role": "analyst", "password": PASSWORD}),
            "bad org id",
        ),
        (
            json!({"name": "x", "org": "moh", "role": "analyst", "password": PASSWORD, "extra": 1}),
            "unknown field",
        ),
    ] {
        let r = h
            .call(Method::POST, "/api/v1/users", &admin, Some(body))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{why}: {}", r.text);
        assert_eq!(error_code(&r), "bad-request");
    }
    let new = json!({"name": "yamada", "display_name": "山田", "org": "moh", "role": "org-officer", "password": PASSWORD});
    let r = h
        .call(Method::POST, "/api/v1/users", &admin, Some(new.clone()))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.json["display_name"], "山田");
    assert!(!r.text.contains("argon2"), "no hash in responses");
    let r = h
        .call(Method::POST, "/api/v1/users", &admin, Some(new))
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(
        h.login("yamada", PASSWORD).await.is_ok(),
        "created user can log in"
    );
    let stored = h
        .store
        .user_for_login("yamada")
        .unwrap()
        .unwrap()
        .password_hash;
    assert!(stored.starts_with("$argon2id$"), "{stored}");
    let r = h
        .get("/api/v1/users?org=moh&role=org-officer", &admin)
        .await;
    assert_eq!(r.json["total"], 1, "{}", r.text);
    assert_eq!(r.json["items"][0]["name"], "yamada");
    let r = h.get("/api/v1/users?limit=2&offset=1", &admin).await;
    assert_eq!(r.json["items"].as_array().unwrap().len(), 2);
    assert_eq!(r.json["total"], 8, "6 seeded + root + yamada");

    // Tokens: the secret is shown once, stored hashed, scoped, revocable.
    let r = h.call(Method::POST, "/api/v1/tokens", &admin, Some(json!({
        "name": "moh-reader", "org": "moh", "role": "analyst", "scopes": ["read"], "expires": "2026-03-01T00:00:00Z"}))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let secret = r.json["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("ygt_") && secret.len() == 68, "{secret}");
    let id = r.json["token"]["id"].as_i64().unwrap();
    assert!(r.json["token"].get("token_hash").is_none());
    let listed = h.get("/api/v1/tokens?org=moh", &admin).await;
    assert!(
        !listed.text.contains(&secret)
            && !listed
                .text
                .contains(&yagura_server::auth::sha256_hex(&secret))
    );
    assert_eq!(listed.json["total"], 2);
    let tok = Auth::Bearer(secret.clone());
    assert_eq!(h.get("/api/v1/me", &tok).await.json["auth"], "token");
    // `read` scope: reads work, writes are forbidden even for an analyst role.
    let r = h
        .call(
            Method::PUT,
            "/api/v1/alerts/al-moh/status",
            &tok,
            Some(json!({"status": "resolved"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    for (body, why) in [
        (
            json!({"name": "t", "org": "moh", "role": "analyst", "scopes": [], "expires": "2026-03-01T00:00:00Z"}),
            "no scopes",
        ),
        (
            json!({"name": "t", "org": "moh", "role": "analyst", "scopes": ["root"], "expires": "2026-03-01T00:00:00Z"}),
            "unknown scope",
        ),
        (
            json!({"name": "t", "org": "moh", "role": "analyst", "scopes": ["read"], "expires": "2025-01-01T00:00:00Z"}),
            "past",
        ),
        (
            json!({"name": "t", "org": "moh", "role": "analyst", "scopes": ["read"], "expires": "2030-01-01T00:00:00Z"}),
            "too far",
        ),
        (
            json!({"name": "t", "org": "moh", "role": "analyst", "scopes": ["read"], "expires": "soon"}),
            "not a time",
        ),
    ] {
        let r = h
            .call(Method::POST, "/api/v1/tokens", &admin, Some(body))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{why}: {}", r.text);
    }
    let r = h
        .call(
            Method::DELETE,
            &format!("/api/v1/tokens/{id}"),
            &admin,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert_eq!(
        h.get("/api/v1/me", &tok).await.status,
        StatusCode::UNAUTHORIZED
    );
    let r = h.get("/api/v1/tokens?active=false&org=moh", &admin).await;
    assert_eq!(r.json["total"], 1);
    // An expiring token stops working at its expiry.
    let exp = h.token_with(
        "short",
        "moh",
        Role::Analyst,
        &["read"],
        Some(Timestamp::from_secs(T0 + 86_400 + 10)),
    );
    let exp = Auth::Bearer(exp);
    assert_eq!(h.get("/api/v1/me", &exp).await.status, StatusCode::OK);
    h.set_now(Timestamp::from_secs(T0 + 86_400 + 10));
    assert_eq!(
        h.get("/api/v1/me", &exp).await.status,
        StatusCode::UNAUTHORIZED
    );
    let actions = audit_actions(&h);
    for a in ["user.create", "token.create", "token.revoke"] {
        assert!(actions.iter().any(|x| x == a), "{a} audited: {actions:?}");
    }
}

#[tokio::test]
async fn the_advisory_loop() {
    let h = Harness::new();
    h.seed();
    // A second alert of pension with another host and account.
    let mut second = yagura_store::testing::alert(
        "al-pension-2",
        "pension",
        30,
        yagura_model::Severity::Critical,
    );
    second.entities.user = Some("tanaka".into());
    h.store.upsert_alerts(&[second]).unwrap();
    let analyst = Auth::Bearer(h.token("analyst-1", "delegated", Role::Analyst));
    let officer = Auth::Bearer(h.token("officer-pension", "pension", Role::OrgOfficer));
    let center = Auth::Bearer(h.token("watch", "central", Role::ReadOnly));

    // The officer cannot issue; the analyst cannot mix organizations.
    let body = json!({
        "alert_ids": ["al-pension", "al-pension-2"],
        "title": "C2 beaconing from two terminals",
        "summary": "Periodic beaconing to cdn-upd.net every 300 s",
        "hosts": ["pc-0012"],
        "recommended_measures": ["isolate the terminals", "reset the accounts"],
        "due": "2026-01-08T00:00:00Z"
    });
    let r = h
        .call(
            Method::POST,
            "/api/v1/advisories",
            &officer,
            Some(body.clone()),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let mut mixed = body.clone();
    mixed["alert_ids"] = json!(["al-pension", "al-power"]);
    let r = h
        .call(Method::POST, "/api/v1/advisories", &analyst, Some(mixed))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    let mut past = body.clone();
    past["due"] = json!("2026-01-01T00:00:00Z");
    assert_eq!(
        h.call(Method::POST, "/api/v1/advisories", &analyst, Some(past))
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    let mut none = body.clone();
    none["recommended_measures"] = json!([]);
    assert_eq!(
        h.call(Method::POST, "/api/v1/advisories", &analyst, Some(none))
            .await
            .status,
        StatusCode::BAD_REQUEST
    );

    let r = h
        .call(Method::POST, "/api/v1/advisories", &analyst, Some(body))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let adv = r.json.clone();
    let id = adv["id"].as_str().unwrap().to_owned();
    assert_eq!(adv["org"], "pension");
    assert_eq!(adv["status"], "issued");
    assert_eq!(adv["overdue"], false);
    assert_eq!(
        adv["hosts"],
        json!(["pc-0012", "pc-al-pension", "pc-al-pension-2"])
    );
    assert_eq!(adv["accounts"], json!(["acct-pension", "tanaka"]));
    assert_eq!(adv["created_by"], "token:analyst-1");
    assert_eq!(adv["steps"][0]["status"], "issued");
    assert_eq!(adv["steps"][0]["time"], "2026-01-06T00:00:00Z");

    // The officer's inbox: open advisories of pension only.
    let inbox = h.get("/api/v1/advisories?open=true", &officer).await;
    assert_eq!(
        inbox.json["total"], 3,
        "two seeded + the new one: {}",
        inbox.text
    );
    assert!(
        inbox.json["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["org"] == "pension")
    );

    // Report before acknowledging: refused (409), the loop has an order.
    let r = h
        .call(
            Method::POST,
            &format!("/api/v1/advisories/{id}/measures"),
            &officer,
            Some(json!({"measures": ["terminal isolated"]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    // The analyst may not answer for the organization.
    let r = h
        .call(
            Method::POST,
            &format!("/api/v1/advisories/{id}/acknowledge"),
            &analyst,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    h.set_now(Timestamp::parse_rfc3339("2026-01-06T01:00:00Z").unwrap());
    let r = h
        .call(
            Method::POST,
            &format!("/api/v1/advisories/{id}/acknowledge"),
            &officer,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["status"], "acknowledged");
    let r = h
        .call(
            Method::POST,
            &format!("/api/v1/advisories/{id}/measures"),
            &officer,
            Some(json!({"measures": []})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    h.set_now(Timestamp::parse_rfc3339("2026-01-06T05:00:00Z").unwrap());
    let r = h.call(Method::POST, &format!("/api/v1/advisories/{id}/measures"), &officer,
        Some(json!({"measures": ["terminal isolated", "accounts reset"], "note": "pc-0012 off the network"}))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        r.json["measures_taken"],
        json!(["terminal isolated", "accounts reset"])
    );

    // Past due and not closed: overdue, in the center's view and its filter.
    h.set_now(Timestamp::parse_rfc3339("2026-01-09T00:00:00Z").unwrap());
    let r = h.get(&format!("/api/v1/advisories/{id}"), &center).await;
    assert_eq!(r.json["overdue"], true, "{}", r.text);
    let r = h.get("/api/v1/advisories?overdue=true", &center).await;
    assert_eq!(r.json["total"], 1, "{}", r.text);
    assert_eq!(r.json["items"][0]["id"], id.as_str());

    let r = h
        .call(
            Method::POST,
            &format!("/api/v1/advisories/{id}/close"),
            &officer,
            Some(json!({"note": "done"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["status"], "closed");
    assert_eq!(r.json["overdue"], false);
    let steps: Vec<(String, String, String)> = r.json["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["status"].as_str().unwrap().into(),
                s["time"].as_str().unwrap().into(),
                s["actor"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        steps,
        [
            (
                "issued".into(),
                "2026-01-06T00:00:00Z".into(),
                "token:analyst-1".into()
            ),
            (
                "acknowledged".into(),
                "2026-01-06T01:00:00Z".into(),
                "token:officer-pension".into()
            ),
            (
                "measures-reported".into(),
                "2026-01-06T05:00:00Z".into(),
                "token:officer-pension".into()
            ),
            (
                "closed".into(),
                "2026-01-09T00:00:00Z".into(),
                "token:officer-pension".into()
            ),
        ]
    );
    let r = h
        .call(
            Method::POST,
            &format!("/api/v1/advisories/{id}/close"),
            &officer,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    // The center sees it closed; a sibling ministry does not see it at all.
    let r = h
        .get("/api/v1/advisories?status=closed&org=pension", &center)
        .await;
    assert_eq!(r.json["total"], 1);
    let moh = Auth::Bearer(h.token("moh-watch", "moh", Role::ReadOnly));
    assert_eq!(
        h.get(&format!("/api/v1/advisories/{id}"), &moh)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let actions: Vec<String> = audit_actions(&h)
        .into_iter()
        .filter(|a| a.starts_with("advisory."))
        .collect();
    assert_eq!(
        actions,
        [
            "advisory.create",
            "advisory.acknowledge",
            "advisory.report-measures",
            "advisory.close"
        ]
    );
}

#[tokio::test]
async fn alert_lists_filter_and_paginate() {
    let h = Harness::new();
    h.seed();
    let central = Auth::Bearer(h.token("analyst", "central", Role::Analyst));
    let r = h.get("/api/v1/alerts?limit=2", &central).await;
    assert_eq!(r.json["total"], 6);
    assert_eq!(r.json["limit"], 2);
    let ids: Vec<&str> = r.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["al-power", "al-pension"], "newest first");
    let r = h.get("/api/v1/alerts?limit=2&offset=4", &central).await;
    let ids: Vec<&str> = r.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["al-delegated", "al-central"]);
    let check = |q: &'static str, n: u64| {
        let h = &h;
        let central = central.clone();
        async move {
            let r = h.get(&format!("/api/v1/alerts?{q}"), &central).await;
            assert_eq!(r.status, StatusCode::OK, "{q}: {}", r.text);
            assert_eq!(r.json["total"], n, "{q}: {}", r.text);
        }
    };
    check("org=moh", 1).await;
    check("severity=high", 6).await;
    check("severity=critical", 0).await;
    check("detector=analytic&rule_id=beacon.periodic", 6).await;
    check("detector=sigma", 0).await;
    check("status=new", 6).await;
    check("since=2026-01-05T00:02:00Z&until=2026-01-05T00:04:00Z", 2).await;
    check("q=BEACON%20AL-MO", 2).await;
    // `mentions` looks into entities too (the account is only an entity).
    check("mentions=ACCT-PENSION", 1).await;
    check("mentions=acct-pension&org=moh", 0).await;
    // Day-aligned windows are counted from the aggregate, others by scanning: same answers.
    check("since=2026-01-05T00:00:00Z&until=2026-01-06T00:00:00Z", 6).await;
    check("since=2026-01-06T00:00:00Z", 0).await;
    let bulk = h
        .call(
            Method::POST,
            "/api/v1/alerts/status",
            &central,
            Some(json!({"ids": ["al-moh", "al-mof", "missing"], "status": "false-positive"})),
        )
        .await;
    assert_eq!(
        bulk.json,
        json!({"updated": ["al-moh", "al-mof"], "not_found": ["missing"]})
    );
    check("status=false-positive", 2).await;
    for (q, why) in [
        ("limit=0", "zero limit"),
        ("limit=1001", "limit too big"),
        ("offset=-1", "negative"),
        ("severity=extreme", "severity"),
        ("status=closed", "status"),
        ("since=yesterday", "time"),
        ("org=NOT_AN_ORG", "org id"),
        ("detector=magic", "detector"),
    ] {
        let r = h.get(&format!("/api/v1/alerts?{q}"), &central).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{why}: {}", r.text);
        assert_eq!(error_code(&r), "bad-request", "{why}");
    }
}

/// The list is written from the stored documents without decoding them: byte for byte what
/// serializing the decoded alerts gives (the response before that change), for every shape.
#[tokio::test]
async fn alert_list_is_the_serialized_page_and_pages_by_cursor() {
    use yagura_server::api::alerts::{AlertPage, encode_cursor};
    use yagura_store::{AlertCursor, AlertFilter, AlertStatus, Page};
    let h = Harness::new();
    h.seed();
    let central = Auth::Bearer(h.token("analyst", "central", Role::Analyst));
    let everything = yagura_store::testing::fixture_inventory().visible_from("central");
    let moh = yagura_store::yagura_model::OrgId::new("moh").unwrap();
    let high_new = AlertFilter {
        min_severity: Some(yagura_model::Severity::High),
        status: Some(AlertStatus::New),
        ..Default::default()
    };
    let cases = [
        ("", AlertFilter::default(), Page::first(50)),
        ("severity=high&status=new", high_new, Page::first(50)),
        (
            "org=moh&detector=analytic",
            AlertFilter {
                org: Some(moh),
                detector: Some(yagura_model::Detector::Analytic),
                ..Default::default()
            },
            Page::first(50),
        ),
        (
            "limit=2&offset=1",
            AlertFilter::default(),
            Page {
                offset: 1,
                limit: 2,
            },
        ),
        (
            "q=beacon&limit=6",
            AlertFilter {
                text: Some("beacon".into()),
                ..Default::default()
            },
            Page::first(6),
        ),
    ];
    for (q, filter, page) in cases {
        let r = h.get(&format!("/api/v1/alerts?{q}"), &central).await;
        assert_eq!(r.status, StatusCode::OK, "{q}: {}", r.text);
        let items = h.store.list_alerts(&everything, &filter, &page).unwrap();
        let next_cursor = items
            .last()
            .filter(|_| items.len() as u64 == page.limit)
            .map(|a| {
                encode_cursor(&AlertCursor {
                    time: a.alert.time,
                    id: a.alert.id.clone(),
                })
            });
        let want = AlertPage {
            total: h.store.count_alerts(&everything, &filter).unwrap(),
            items,
            offset: page.offset,
            limit: page.limit,
            next_cursor,
        };
        assert_eq!(r.text, serde_json::to_string(&want).unwrap(), "{q}");
    }
    // Incident links and status changes are in the rows too.
    let r = h.get("/api/v1/alerts?org=moh", &central).await;
    assert_eq!(r.json["items"][0]["incident_id"], "in-moh");
    assert_eq!(r.json["items"][0]["status"], "new");

    // Cursor pages walk the same list as offsets, and the last full page's cursor leads to
    // an empty page.
    let mut ids = Vec::new();
    let mut path = "/api/v1/alerts?limit=4".to_owned();
    loop {
        let r = h.get(&path, &central).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.text);
        assert_eq!(r.json["total"], 6);
        ids.extend(
            r.json["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["id"].as_str().unwrap().to_owned()),
        );
        match r.json["next_cursor"].as_str() {
            Some(c) => path = format!("/api/v1/alerts?limit=4&cursor={c}"),
            None => break,
        }
    }
    let by_offset = h.get("/api/v1/alerts?limit=6", &central).await;
    let want: Vec<&str> = by_offset.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, want);

    // A cursor positions the walk; it never widens the scope.
    let first = h.get("/api/v1/alerts?limit=1", &central).await;
    let c = first.json["next_cursor"].as_str().unwrap().to_owned();
    let officer = Auth::Bearer("secret-of-moh".into());
    let r = h.get(&format!("/api/v1/alerts?cursor={c}"), &officer).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    for a in r.json["items"].as_array().unwrap() {
        assert_eq!(a["org"], "moh");
    }
    for bad in ["x", "12", "12.zz", "12.6", "abc.6162", "12.ff"] {
        let r = h
            .get(&format!("/api/v1/alerts?cursor={bad}"), &central)
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}: {}", r.text);
        assert_eq!(error_code(&r), "bad-request");
    }
}

#[tokio::test]
async fn incidents_move_through_their_lifecycle() {
    let h = Harness::new();
    h.seed();
    h.user("ito", "moh", Role::Responder);
    let resp = Auth::Bearer(h.token("responder", "central", Role::Responder));
    let r = h
        .call(
            Method::PUT,
            "/api/v1/incidents/in-moh/status",
            &resp,
            Some(json!({"status": "contained"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["status"], "contained");
    let r = h
        .call(
            Method::PUT,
            "/api/v1/incidents/in-moh/status",
            &resp,
            Some(json!({"status": "triage"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    assert_eq!(error_code(&r), "conflict");
    let r = h
        .call(
            Method::PUT,
            "/api/v1/incidents/in-moh/status",
            &resp,
            Some(json!({"status": "gone"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = h
        .call(
            Method::PUT,
            "/api/v1/incidents/in-moh/assignee",
            &resp,
            Some(json!({"assignee": "ito"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["assignee"], "ito");
    let r = h
        .call(
            Method::PUT,
            "/api/v1/incidents/in-moh/assignee",
            &resp,
            Some(json!({"assignee": "stranger"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = h.get("/api/v1/incidents?status=contained", &resp).await;
    assert_eq!(r.json["total"], 1);
    let r = h.get("/api/v1/incidents?open=true&limit=2", &resp).await;
    assert_eq!(r.json["total"], 6);
    assert_eq!(r.json["items"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn errors_share_one_body_shape() {
    let h = Harness::new();
    h.seed();
    let t = Auth::Bearer(h.token("a", "central", Role::Analyst));
    let r = h.get("/api/v1/no/such/route", &t).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(error_code(&r), "not-found");
    let r = h
        .call(
            Method::PUT,
            "/api/v1/alerts/al-moh/status",
            &t,
            Some(Value::String("not an object".into())),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(error_code(&r), "bad-request");
    let r = h
        .call(
            Method::POST,
            "/api/v1/advisories/adv-moh/acknowledge",
            &Auth::Bearer(h.token("o", "moh", Role::OrgOfficer)),
            Some(json!({"note": 5})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    let r = h
        .call(
            Method::PUT,
            "/api/v1/users/not-a-number/disabled",
            &Auth::Bearer(h.token("ad", "central", Role::CenterAdmin)),
            Some(json!({"disabled": true})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(error_code(&r), "bad-request");
}

#[tokio::test]
async fn org_tree_is_the_visible_part_of_the_supervision_tree() {
    let h = Harness::new();
    let del = Auth::Bearer(h.token("d", "delegated", Role::ReadOnly));
    let r = h.get("/api/v1/orgs/tree", &del).await;
    assert_eq!(r.json.as_array().unwrap().len(), 1);
    assert_eq!(r.json[0]["org"]["id"], "delegated");
    let kids: Vec<&str> = r.json[0]["children"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["org"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(kids, ["pension", "power"]);
    let central = Auth::Bearer(h.token("c", "central", Role::ReadOnly));
    let r = h.get("/api/v1/orgs/tree", &central).await;
    assert_eq!(r.json[0]["org"]["id"], "central");
    assert_eq!(r.json[0]["children"].as_array().unwrap().len(), 3);
    let r = h.get("/api/v1/orgs?kind=center", &central).await;
    assert_eq!(r.json["total"], 2);
    let r = h.get("/api/v1/orgs?kind=castle", &central).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_openapi_document_is_3_1_and_lists_every_route() {
    let h = Harness::new();
    let r = h.get("/api/openapi.json", &Auth::None).await;
    assert_eq!(r.status, StatusCode::OK);
    let doc = &r.json;
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    let paths = doc["paths"].as_object().unwrap();
    let expected = [
        ("/api/v1/session/login", "post"),
        ("/api/v1/session/logout", "post"),
        ("/api/v1/me", "get"),
        ("/api/v1/orgs", "get"),
        ("/api/v1/orgs/tree", "get"),
        ("/api/v1/orgs/{id}", "get"),
        ("/api/v1/alerts", "get"),
        ("/api/v1/alerts/status", "post"),
        ("/api/v1/alerts/{id}", "get"),
        ("/api/v1/alerts/{id}/status", "put"),
        ("/api/v1/incidents", "get"),
        ("/api/v1/incidents/{id}", "get"),
        ("/api/v1/incidents/{id}/status", "put"),
        ("/api/v1/incidents/{id}/assignee", "put"),
        ("/api/v1/advisories", "get"),
        ("/api/v1/advisories", "post"),
        ("/api/v1/advisories/{id}", "get"),
        ("/api/v1/advisories/{id}/acknowledge", "post"),
        ("/api/v1/advisories/{id}/measures", "post"),
        ("/api/v1/advisories/{id}/close", "post"),
        ("/api/v1/users", "get"),
        ("/api/v1/users", "post"),
        ("/api/v1/users/{id}/disabled", "put"),
        ("/api/v1/tokens", "get"),
        ("/api/v1/tokens", "post"),
        ("/api/v1/tokens/{id}", "delete"),
        ("/api/v1/audit", "get"),
        ("/api/v1/ingest", "post"),
        ("/api/v1/hunt", "get"),
    ];
    let mut documented = 0;
    for (_, item) in paths {
        documented += item.as_object().unwrap().len();
    }
    assert_eq!(documented, expected.len(), "no undocumented extras");
    for (p, m) in expected {
        let op = &paths[p][m];
        assert!(op.is_object(), "{m} {p} documented");
        let responses = op["responses"].as_object().unwrap();
        assert!(
            responses.keys().any(|k| k.starts_with('4')),
            "{m} {p} documents its errors"
        );
        // Lists document offset/limit.
        if m == "get" && !p.contains('{') && !["/api/v1/me", "/api/v1/orgs/tree"].contains(&p) {
            let names: Vec<&str> = op["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x["name"].as_str().unwrap())
                .collect();
            assert!(
                names.contains(&"offset") && names.contains(&"limit"),
                "{p}: {names:?}"
            );
        }
    }
    let schemes = doc["components"]["securitySchemes"].as_object().unwrap();
    assert!(schemes.contains_key("bearer") && schemes.contains_key("session"));
    // Every documented route answers something other than the router's fallback.
    let t = Auth::Bearer(h.token("x", "central", Role::ReadOnly));
    for (p, m) in expected {
        let path = p.replace("{id}", "1");
        let method = Method::from_bytes(m.to_uppercase().as_bytes()).unwrap();
        let r = h.call(method, &path, &t, Some(json!({}))).await;
        assert!(
            !(r.status == StatusCode::NOT_FOUND && r.text.contains("route")),
            "{m} {p} is routed: {}",
            r.text
        );
    }
}

#[tokio::test]
async fn hunting_stored_events() {
    let h = Harness::new();
    h.seed();
    let analyst = Auth::Bearer(h.token("ana", "central", Role::Analyst));
    let officer = Auth::Bearer(h.token("off", "moh", Role::OrgOfficer));
    let reader = Auth::Bearer(h.token("ro", "central", Role::ReadOnly));
    let url = format!("/api/v1/hunt?indicator={SHARED_INDICATOR}");

    let r = h.get(&url, &analyst).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        r.json["total"], 12,
        "two events of each of six organizations"
    );
    assert_eq!(r.json["counts"]["moh"], 2);
    let items = r.json["items"].as_array().unwrap();
    assert_eq!(items.len(), 12);
    let times: Vec<&str> = items
        .iter()
        .map(|i| i["event"]["@timestamp"].as_str().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "oldest first");
    assert_eq!(items[0]["matched"], json!([SHARED_INDICATOR]));

    // An officer's hunt is its own organization's, whatever it asks.
    for q in [
        url.clone(),
        format!("{url}&org=pension"),
        "/api/v1/hunt?q=acct-pension,acct-moh".to_string(),
    ] {
        let r = h.get(&q, &officer).await;
        assert_eq!(r.status, StatusCode::OK, "{q}: {}", r.text);
        for item in r.json["items"].as_array().unwrap() {
            assert_eq!(item["org"], "moh", "{q}");
            assert_eq!(item["event"]["organization"]["id"], "moh", "{q}");
        }
        let counts = r.json["counts"].as_object().unwrap();
        assert!(counts.keys().all(|k| k == "moh"), "{q}: {counts:?}");
    }
    assert_eq!(h.get(&url, &officer).await.json["total"], 2);

    // Time range, field filter, pagination.
    let r = h.get(&format!("{url}&from=2026-01-06"), &analyst).await;
    assert_eq!(
        r.json["total"], 6,
        "only the DNS events are on the second day"
    );
    let r = h
        .get(
            &format!("{url}&filter=event.dataset=squid.access&org=power"),
            &analyst,
        )
        .await;
    assert_eq!(r.json["total"], 1, "{}", r.text);
    let r = h.get(&format!("{url}&offset=10&limit=5"), &analyst).await;
    assert_eq!(r.json["items"].as_array().unwrap().len(), 2);
    assert_eq!(
        (r.json["offset"].clone(), r.json["limit"].clone()),
        (json!(10), json!(5))
    );

    // Refusals: an empty or malformed hunt, a role without the permission, no event store.
    for bad in [
        "/api/v1/hunt",
        "/api/v1/hunt?q=a&limit=0",
        "/api/v1/hunt?q=a&from=soon",
        "/api/v1/hunt?q=a&orgs=moh",
    ] {
        let r = h.get(bad, &analyst).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}: {}", r.text);
        assert_eq!(error_code(&r), "bad-request");
    }
    let r = h.get(&url, &reader).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let bare = Harness::with_options(Default::default());
    let token = Auth::Bearer(bare.token("ana", "central", Role::Analyst));
    let r = bare.get(&url, &token).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    assert_eq!(error_code(&r), "not-found");
}
