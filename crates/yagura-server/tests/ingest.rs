//! `POST /api/v1/ingest` over a fake sink: who may push, for which organization, the batch id,
//! the status of every refusal (429/503/507 with Retry-After, 413 while streaming). The real
//! sink (WAL, parsing) is tested through the binary (`crates/yagura/tests/serve_ingest.rs`).

mod common;

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::Harness;
use http_body_util::BodyExt;
use tower::ServiceExt;
use yagura_model::{OrgId, Role};
use yagura_server::StateOptions;
use yagura_server::api::ingest::{
    IngestEndpoint, IngestReceipt, IngestRefusal, IngestSink, RejectedLine,
};

/// (organization, batch id, format, body length) of one call.
type Call = (String, String, Option<String>, usize);

#[derive(Default)]
struct Fake {
    calls: Mutex<Vec<Call>>,
    refuse: Mutex<Option<IngestRefusal>>,
}

impl IngestSink for Fake {
    fn submit(
        &self,
        org: &OrgId,
        batch_id: &str,
        format: Option<&str>,
        body: &[u8],
    ) -> Result<IngestReceipt, IngestRefusal> {
        self.calls.lock().unwrap().push((
            org.to_string(),
            batch_id.to_string(),
            format.map(str::to_owned),
            body.len(),
        ));
        if let Some(r) = self.refuse.lock().unwrap().clone() {
            return Err(r);
        }
        Ok(IngestReceipt {
            accepted: 1,
            duplicate: false,
            rejected: vec![RejectedLine {
                line: 2,
                reason: "bad".into(),
            }],
        })
    }
}

fn harness(fake: Arc<Fake>) -> Harness {
    let h = Harness::with_options(StateOptions {
        ingest: Some(IngestEndpoint::new(fake, 1024, 4)),
        ..StateOptions::default()
    });
    h.seed();
    h
}

async fn push(
    h: &Harness,
    token: Option<&str>,
    key: Option<&str>,
    query: &str,
    body: Body,
) -> (StatusCode, Option<String>, serde_json::Value) {
    let mut req = Request::builder()
        .method("POST")
        .uri(format!("/api/v1/ingest{query}"));
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    if let Some(k) = key {
        req = req.header("Idempotency-Key", k);
    }
    let resp = h
        .app
        .clone()
        .oneshot(req.body(body).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let retry = resp
        .headers()
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    (status, retry, json)
}

#[tokio::test]
async fn only_ingest_tokens_push_and_only_for_their_organization() {
    let fake = Arc::new(Fake::default());
    let h = harness(Arc::clone(&fake));
    let ingest = h.token_with("pusher", "moh", Role::OrgOfficer, &["ingest"], None);
    let rw = h.token("rw", "central", Role::Analyst);

    let (s, _, _) = push(&h, None, None, "", Body::from("{}\n")).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _, _) = push(&h, Some(&rw), None, "", Body::from("{}\n")).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "read/write tokens cannot push");

    let (s, _, j) = push(
        &h,
        Some(&ingest),
        Some("b-1"),
        "?format=ecs",
        Body::from("{}\n"),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{j}");
    assert_eq!(j["rejected"][0]["line"], 2);
    let calls = fake.calls.lock().unwrap().clone();
    assert_eq!(
        calls,
        vec![("moh".into(), "http/moh/b-1".into(), Some("ecs".into()), 3)],
        "the org comes from the token, the batch id is namespaced by it"
    );

    // An ingest-only token reads nothing.
    let req = Request::builder()
        .uri("/api/v1/alerts")
        .header(header::AUTHORIZATION, format!("Bearer {ingest}"))
        .body(Body::empty())
        .unwrap();
    let r = h.app.clone().oneshot(req).await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    let (s, _, _) = push(&h, Some(&ingest), Some("no spaces"), "", Body::from("{}\n")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _, _) = push(&h, Some(&ingest), None, "", Body::from("  \n")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "empty body");
}

#[tokio::test]
async fn the_body_cap_holds_while_streaming() {
    let fake = Arc::new(Fake::default());
    let h = harness(Arc::clone(&fake));
    let ingest = h.token_with("pusher", "moh", Role::OrgOfficer, &["ingest"], None);
    // No Content-Length header: the cap is enforced on the bytes read, not on a declaration.
    let (s, _, j) = push(&h, Some(&ingest), None, "", Body::from(vec![b'x'; 2048])).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE, "{j}");
    assert!(
        fake.calls.lock().unwrap().is_empty(),
        "nothing reached the sink"
    );
}

#[tokio::test]
async fn refusals_carry_their_status_and_retry_after() {
    let fake = Arc::new(Fake::default());
    let h = harness(Arc::clone(&fake));
    let ingest = h.token_with("pusher", "moh", Role::OrgOfficer, &["ingest"], None);
    for (refusal, status) in [
        (IngestRefusal::Busy, StatusCode::TOO_MANY_REQUESTS),
        (
            IngestRefusal::Backlog("behind".into()),
            StatusCode::SERVICE_UNAVAILABLE,
        ),
        (
            IngestRefusal::DiskFull("ENOSPC".into()),
            StatusCode::INSUFFICIENT_STORAGE,
        ),
        (
            IngestRefusal::Unavailable("poisoned".into()),
            StatusCode::SERVICE_UNAVAILABLE,
        ),
    ] {
        *fake.refuse.lock().unwrap() = Some(refusal.clone());
        let (s, retry, j) = push(&h, Some(&ingest), None, "", Body::from("{}\n")).await;
        assert_eq!(s, status, "{refusal:?}: {j}");
        assert!(
            retry.is_some_and(|r| r.parse::<u32>().is_ok_and(|n| n > 0)),
            "{refusal:?} has a Retry-After"
        );
        assert_eq!(j["error"]["status"], status.as_u16());
    }
    *fake.refuse.lock().unwrap() = Some(IngestRefusal::Invalid("bad format".into()));
    let (s, retry, _) = push(&h, Some(&ingest), None, "", Body::from("{}\n")).await;
    assert_eq!((s, retry), (StatusCode::BAD_REQUEST, None));
}
