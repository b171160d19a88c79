//! Untrusted request inputs the server parses itself: the Cookie and Authorization headers,
//! the JSON request bodies, and the server configuration. None may panic.
#![no_main]

use axum::http::{HeaderMap, HeaderValue, header};
use libfuzzer_sys::fuzz_target;
use yagura_server::api::{admin, advisories, alerts};
use yagura_server::auth;

fuzz_target!(|data: &[u8]| {
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_bytes(data) {
        headers.insert(header::COOKIE, v.clone());
        headers.insert(header::AUTHORIZATION, v);
    }
    let _ = auth::cookie(&headers, auth::SESSION_COOKIE);
    let _ = auth::bearer(&headers);
    let _ = serde_json::from_slice::<advisories::CreateAdvisory>(data);
    let _ = serde_json::from_slice::<advisories::MeasuresReport>(data);
    let _ = serde_json::from_slice::<alerts::BulkStatusChange>(data);
    let _ = serde_json::from_slice::<admin::CreateToken>(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = yagura_server::config::ServerConfig::from_toml(text, std::path::Path::new("f.toml"));
    }
});
