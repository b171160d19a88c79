//! Test harness: an in-memory store with the suite's estate
//! (central ⊃ {delegated ⊃ {pension, power}, moh, mof}), one marked record of every kind per
//! organization, and helpers to call the router without a network.

#![allow(dead_code)]

pub mod matrix;

use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;
use yagura_eventstore::{EventStore, StoreOptions};
use yagura_model::{IncidentStatus, Role, Severity, Timestamp};
use yagura_server::auth::{self, PasswordHashing};
use yagura_server::{AppState, Clock, StateOptions};
use yagura_store::testing::{alert, fixture_inventory, incident, org};
use yagura_store::{
    AdvisoryStatus, AdvisoryStep, NewAdvisory, NewAuditRecord, NewToken, NewUser, SqliteStore,
    StateStore,
};

pub const ORGS: [&str; 6] = ["central", "delegated", "moh", "mof", "pension", "power"];
/// Base time of the fixture alerts (2026-01-05T00:00:00Z).
pub const T0: i64 = 1_767_571_200;
pub const PASSWORD: &str = "correct horse battery staple";

pub struct Harness {
    pub state: AppState,
    pub app: Router,
    pub store: Arc<SqliteStore>,
    pub now: Arc<Mutex<Timestamp>>,
}

/// A response: status, headers we care about, JSON body (Null when empty), raw text.
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub set_cookie: Option<String>,
    pub retry_after: Option<String>,
    /// `Location` of a redirect.
    pub location: Option<String>,
    pub json: Value,
    pub text: String,
}

/// How a request authenticates.
#[derive(Debug, Clone)]
pub enum Auth {
    None,
    Bearer(String),
    /// Cookie value and the CSRF token to send (None: send none).
    Session {
        cookie: String,
        csrf: Option<String>,
    },
}

impl Harness {
    /// The harness with the fixture's event store ([`fixture_events`]).
    pub fn new() -> Harness {
        Harness::with_options(StateOptions {
            events: Some(fixture_events()),
            ..StateOptions::default()
        })
    }

    /// The harness with `options` as given (no event store unless they name one).
    pub fn with_options(mut options: StateOptions) -> Harness {
        let store = Arc::new(SqliteStore::in_memory().expect("in-memory store"));
        let now = Arc::new(Mutex::new(Timestamp::from_secs(T0 + 86_400)));
        let n = now.clone();
        let clock: Clock = Arc::new(move || *n.lock().unwrap());
        options.clock = clock;
        let dyn_store: Arc<dyn StateStore> = store.clone();
        let state = AppState::new(
            dyn_store,
            fixture_inventory(),
            PasswordHashing::fast_for_tests().unwrap(),
            options,
        )
        .expect("state");
        let app = yagura_server::router(state.clone());
        Harness {
            state,
            app,
            store,
            now,
        }
    }

    pub fn set_now(&self, t: Timestamp) {
        *self.now.lock().unwrap() = t;
    }

    /// Seeds one marked record of every kind per organization: alert `al-<org>`, incident
    /// `in-<org>`, advisories `adv-<org>` (issued) and `adv-ack-<org>` (acknowledged), user
    /// `user-<org>`, token `tok-<org>`, audit record with target `audit-<org>`.
    pub fn seed(&self) {
        let s = &self.store;
        for (i, o) in ORGS.iter().enumerate() {
            let mut a = alert(&format!("al-{o}"), o, i as i64 * 60, Severity::High);
            a.entities.user = Some(format!("acct-{o}"));
            s.upsert_alerts(&[a]).unwrap();
            s.upsert_incident(&incident(
                &format!("in-{o}"),
                o,
                IncidentStatus::New,
                &[&format!("al-{o}")],
            ))
            .unwrap();
            let everything = fixture_inventory().visible_from("central");
            for id in [format!("adv-{o}"), format!("adv-ack-{o}")] {
                s.create_advisory(
                    &everything,
                    &NewAdvisory {
                        id: id.clone(),
                        org: org(o),
                        title: format!("Advisory {id}"),
                        summary: "beaconing".into(),
                        alert_ids: vec![format!("al-{o}")],
                        hosts: vec![format!("pc-al-{o}")],
                        accounts: vec![],
                        recommended_measures: vec!["isolate".into()],
                        due: Timestamp::from_secs(T0 + 10 * 86_400),
                        time: Timestamp::from_secs(T0),
                        actor: "seed".into(),
                    },
                )
                .unwrap();
            }
            s.advance_advisory(
                &everything,
                &format!("adv-ack-{o}"),
                &AdvisoryStep {
                    time: Timestamp::from_secs(T0 + 1),
                    actor: "seed".into(),
                    status: AdvisoryStatus::Acknowledged,
                    note: String::new(),
                    measures: vec![],
                },
            )
            .unwrap();
            s.create_user(&NewUser {
                name: format!("user-{o}"),
                display_name: format!("User of {o}"),
                org: org(o),
                role: Role::Analyst,
                password_hash: "$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaA".into(),
            })
            .unwrap();
            s.create_token(&NewToken {
                name: format!("tok-{o}"),
                org: org(o),
                role: Role::ReadOnly,
                token_hash: auth::sha256_hex(&format!("secret-of-{o}")),
                scopes: vec!["read".into()],
                expires: None,
                created_by: "seed".into(),
            })
            .unwrap();
            s.append_audit(&NewAuditRecord {
                time: Timestamp::from_secs(T0),
                actor: "seed".into(),
                org: org(o),
                action: "seed.record".into(),
                target: format!("audit-{o}"),
                details: Value::Null,
            })
            .unwrap();
        }
    }

    /// A bearer token of `role` in `org_id` with the `read` and `write` scopes.
    pub fn token(&self, name: &str, org_id: &str, role: Role) -> String {
        self.token_with(name, org_id, role, &["read", "write"], None)
    }

    pub fn token_with(
        &self,
        name: &str,
        org_id: &str,
        role: Role,
        scopes: &[&str],
        expires: Option<Timestamp>,
    ) -> String {
        let secret = format!("ygt_test_{name}_{org_id}");
        self.store
            .create_token(&NewToken {
                name: name.into(),
                org: org(org_id),
                role,
                token_hash: auth::sha256_hex(&secret),
                scopes: scopes.iter().map(|s| s.to_string()).collect(),
                expires,
                created_by: "test".into(),
            })
            .unwrap();
        secret
    }

    /// Creates a user with [`PASSWORD`] (hashed with the harness's argon2id settings).
    pub fn user(&self, name: &str, org_id: &str, role: Role) -> i64 {
        let hash = self.state.hashing().hash(PASSWORD).unwrap();
        self.store
            .create_user(&NewUser {
                name: name.into(),
                display_name: name.into(),
                org: org(org_id),
                role,
                password_hash: hash,
            })
            .unwrap()
            .id
    }

    pub fn user_id(&self, name: &str) -> i64 {
        self.store.user_for_login(name).unwrap().unwrap().user.id
    }

    pub fn token_id(&self, name: &str) -> i64 {
        self.store
            .list_tokens(&fixture_inventory().visible_from("central"))
            .unwrap()
            .into_iter()
            .find(|t| t.name == name)
            .unwrap()
            .id
    }

    /// An API request: bearer token, or session cookie with its CSRF token in the header;
    /// an optional JSON body.
    pub async fn call(&self, method: Method, path: &str, auth: &Auth, body: Option<Value>) -> Resp {
        let body = body.map(|b| ("application/json", b.to_string()));
        let mut resp = self.send(method, path, auth, true, body).await;
        if !resp.text.is_empty() {
            resp.json =
                serde_json::from_str(&resp.text).unwrap_or(Value::String(resp.text.clone()));
        }
        resp
    }

    /// A console request: the session cookie only (no CSRF header), an optional
    /// form-urlencoded body.
    pub async fn console(
        &self,
        method: Method,
        path: &str,
        auth: &Auth,
        form: Option<&str>,
    ) -> Resp {
        let body = form.map(|f| ("application/x-www-form-urlencoded", f.to_owned()));
        self.send(method, path, auth, false, body).await
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        auth: &Auth,
        csrf_header: bool,
        body: Option<(&str, String)>,
    ) -> Resp {
        let mut req = Request::builder().method(method).uri(path);
        match auth {
            Auth::None => {}
            Auth::Bearer(t) => req = req.header(header::AUTHORIZATION, format!("Bearer {t}")),
            Auth::Session { cookie, csrf } => {
                req = req.header(header::COOKIE, format!("{}={cookie}", auth::SESSION_COOKIE));
                if let (true, Some(c)) = (csrf_header, csrf) {
                    req = req.header(auth::CSRF_HEADER, c);
                }
            }
        }
        let req = match body {
            Some((content_type, b)) => req
                .header(header::CONTENT_TYPE, content_type)
                .body(Body::from(b)),
            None => req.body(Body::empty()),
        }
        .unwrap();
        let resp = self.app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let hdr = |n: header::HeaderName| {
            resp.headers()
                .get(n)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let set_cookie = hdr(header::SET_COOKIE);
        let retry_after = hdr(header::RETRY_AFTER);
        let location = hdr(header::LOCATION);
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        Resp {
            status,
            set_cookie,
            retry_after,
            location,
            json: Value::Null,
            text: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    pub async fn get(&self, path: &str, auth: &Auth) -> Resp {
        self.call(Method::GET, path, auth, None).await
    }

    /// Logs in; returns the session auth (cookie + CSRF token).
    pub async fn login(&self, name: &str, password: &str) -> Result<Auth, Resp> {
        let r = self
            .call(
                Method::POST,
                "/api/v1/session/login",
                &Auth::None,
                Some(json!({"username": name, "password": password})),
            )
            .await;
        if r.status != StatusCode::OK {
            return Err(r);
        }
        let cookie = r
            .set_cookie
            .as_deref()
            .and_then(|c| c.split(';').next())
            .and_then(|kv| kv.split_once('='))
            .map(|(_, v)| v.to_owned())
            .expect("session cookie");
        let csrf = r.json["csrf_token"].as_str().map(str::to_owned);
        Ok(Auth::Session { cookie, csrf })
    }
}

/// The indicator every organization's fixture event bears (hunting it shows whose events a
/// caller can see).
pub const SHARED_INDICATOR: &str = "shared-c2.example";

/// The fixture's event store: one proxy event per organization at `T0 + 1 h` (host
/// `pc-ev-<org>`, user `acct-<org>`, to [`SHARED_INDICATOR`]) and one DNS event per
/// organization a day later, flushed into splits. Hunts only read, so every harness of a
/// test binary shares one store (in cargo's per-target temporary directory; directories of
/// test processes that ended are removed).
pub fn fixture_events() -> Arc<EventStore> {
    static EVENTS: OnceLock<Arc<EventStore>> = OnceLock::new();
    EVENTS
        .get_or_init(|| {
            let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("yagura-server-events");
            if let Ok(dirs) = std::fs::read_dir(&root) {
                for d in dirs.flatten() {
                    let pid = d.file_name().to_string_lossy().into_owned();
                    if !PathBuf::from("/proc").join(&pid).exists() {
                        let _ = std::fs::remove_dir_all(d.path());
                    }
                }
            }
            let dir = root.join(std::process::id().to_string());
            let _ = std::fs::remove_dir_all(&dir);
            let store = EventStore::open(&dir, StoreOptions::default()).expect("event store");
            let mut events = Vec::new();
            for (i, o) in ORGS.iter().enumerate() {
                let t = |secs: i64| Timestamp::from_secs(secs).to_rfc3339();
                events.push(json!({
                    "@timestamp": t(T0 + 3600 + i as i64),
                    "organization": {"id": o},
                    "event": {"dataset": "squid.access"},
                    "source": {"ip": format!("10.9.{i}.5")},
                    "destination": {"domain": SHARED_INDICATOR, "port": 80},
                    "url": {"full": format!("http://{SHARED_INDICATOR}/beacon?org={o}")},
                    "user": {"name": format!("acct-{o}")},
                    "host": {"name": format!("pc-ev-{o}")},
                }));
                events.push(json!({
                    "@timestamp": t(T0 + 86_400 + 3600 + i as i64),
                    "organization": {"id": o},
                    "event": {"dataset": "zeek.dns"},
                    "source": {"ip": format!("10.9.{i}.6")},
                    "dns": {"question": {"name": format!("www.{SHARED_INDICATOR}")}},
                    "host": {"name": format!("pc-ev-{o}")},
                }));
            }
            let events = events
                .into_iter()
                .map(|v| serde_json::from_value(v).expect("fixture event"))
                .collect();
            store.ingest("fixture", events).expect("ingest");
            store.flush().expect("flush");
            Arc::new(store)
        })
        .clone()
}

/// Asserts the common error body shape and returns its code.
pub fn error_code(r: &Resp) -> &str {
    let e = &r.json["error"];
    assert_eq!(e["status"], r.status.as_u16(), "error body {}", r.text);
    assert!(e["message"].is_string(), "error body {}", r.text);
    e["code"]
        .as_str()
        .unwrap_or_else(|| panic!("error body {}", r.text))
}
