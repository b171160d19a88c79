//! TLS with rustls: a self-signed certificate generated in the test (rcgen), the server bound
//! on an ephemeral port, a rustls client trusting exactly that certificate.

mod common;

use std::sync::Arc;

use common::*;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use yagura_model::Role;
use yagura_server::{StateOptions, TlsFiles};

async fn https(
    addr: std::net::SocketAddr,
    cert: &rustls::pki_types::CertificateDer<'static>,
    request: &str,
) -> String {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.clone()).unwrap();
    let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(cfg));
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let mut tls = connector.connect(name, tcp).await.unwrap();
    tls.write_all(request.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    // The server may close without close_notify after `Connection: close`; keep what came.
    let _ = tls.read_to_end(&mut buf).await;
    String::from_utf8_lossy(&buf).into_owned()
}

#[tokio::test]
async fn serves_the_api_over_tls_with_secure_cookies() {
    let dir = tempfile::tempdir().unwrap();
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let files = TlsFiles {
        cert: dir.path().join("cert.pem"),
        key: dir.path().join("key.pem"),
    };
    std::fs::write(&files.cert, ck.cert.pem()).unwrap();
    std::fs::write(&files.key, ck.signing_key.serialize_pem()).unwrap();

    let h = Harness::with_options(StateOptions {
        secure_cookies: true,
        ..StateOptions::default()
    });
    h.user("tls-user", "moh", Role::Analyst);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let app = h.app.clone();
    let server = tokio::spawn(async move {
        yagura_server::serve(listener, app, Some(&files), async {
            let _ = stopped.await;
        })
        .await
    });

    let cert = ck.cert.der().clone();
    let doc = https(
        addr,
        &cert,
        "GET /api/openapi.json HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(doc.starts_with("HTTP/1.1 200"), "{doc}");
    assert!(
        doc.contains("\"openapi\": \"3.1"),
        "{}",
        &doc[..doc.len().min(400)]
    );

    let body = format!(r#"{{"username":"tls-user","password":"{PASSWORD}"}}"#);
    let login = https(
        addr,
        &cert,
        &format!(
            "POST /api/v1/session/login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    )
    .await;
    assert!(login.starts_with("HTTP/1.1 200"), "{login}");
    let cookie_line = login
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .unwrap_or_else(|| panic!("{login}"));
    assert!(cookie_line.contains("; Secure"), "{cookie_line}");
    assert!(cookie_line.contains("HttpOnly") && cookie_line.contains("SameSite=Strict"));

    // Plain HTTP to the TLS port does not get an answer from the API.
    let mut plain = tokio::net::TcpStream::connect(addr).await.unwrap();
    plain
        .write_all(b"GET /api/openapi.json HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        plain.read_to_end(&mut buf),
    )
    .await;
    assert!(!String::from_utf8_lossy(&buf).contains("openapi"));

    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}

#[test]
fn bad_tls_files_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "").unwrap();
    let files = TlsFiles {
        cert: empty.clone(),
        key: empty.clone(),
    };
    let err = yagura_server::tls_config(&files).unwrap_err().to_string();
    assert!(err.contains("no certificate"), "{err}");
    let missing = TlsFiles {
        cert: dir.path().join("missing.pem"),
        key: empty,
    };
    let err = yagura_server::tls_config(&missing).unwrap_err().to_string();
    assert!(err.contains("missing.pem"), "{err}");
}
