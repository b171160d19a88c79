//! Listeners end to end on loopback: UDP datagrams, TCP with mixed framing, TLS (RFC 5425),
//! backpressure on TCP (nothing lost when the consumer is slow) and counted drops on UDP.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tokio_rustls::rustls;
use yagura_ingest::{Listener, ListenerConfig, Message, Protocol};

fn any_port() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

async fn recv(rx: &mut mpsc::Receiver<Message>) -> Message {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("a message within 10 s")
        .expect("channel open")
}

fn body(m: &Message) -> String {
    match &m.body {
        Ok(b) => String::from_utf8_lossy(b).into_owned(),
        Err(e) => format!("error: {e}"),
    }
}

#[tokio::test]
async fn udp_datagrams_are_messages() {
    let (tx, mut rx) = mpsc::channel(16);
    let l = Listener::bind(any_port(), ListenerConfig::new("moh", Protocol::Udp), tx)
        .await
        .unwrap();
    let s = UdpSocket::bind(any_port()).await.unwrap();
    s.send_to(b"<13>Nov 26 10:00:00 host app: hello\n", l.local_addr())
        .await
        .unwrap();
    let m = recv(&mut rx).await;
    assert_eq!(body(&m), "<13>Nov 26 10:00:00 host app: hello");
    assert_eq!(&*m.listener, "moh");
    assert_eq!(m.peer, s.local_addr().unwrap());
}

#[tokio::test]
async fn udp_drops_are_counted_when_the_consumer_is_full() {
    let (tx, mut rx) = mpsc::channel(4);
    let l = Listener::bind(any_port(), ListenerConfig::new("moh", Protocol::Udp), tx)
        .await
        .unwrap();
    let s = UdpSocket::bind(any_port()).await.unwrap();
    for i in 0..50 {
        s.send_to(format!("<13>msg {i}").as_bytes(), l.local_addr())
            .await
            .unwrap();
    }
    // Wait until every datagram is accounted for (received or dropped).
    for _ in 0..200 {
        let st = l.stats();
        if st.received.load(Ordering::Relaxed) + st.dropped.load(Ordering::Relaxed) == 50 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let st = l.stats();
    assert_eq!(st.received.load(Ordering::Relaxed), 4);
    assert_eq!(st.dropped.load(Ordering::Relaxed), 46);
    assert_eq!(body(&recv(&mut rx).await), "<13>msg 0");
}

#[tokio::test]
async fn tcp_mixed_framing_and_backpressure_lose_nothing() {
    // A channel of one: the connection must wait for the consumer, not drop.
    let (tx, mut rx) = mpsc::channel(1);
    let mut cfg = ListenerConfig::new("soumu", Protocol::Tcp);
    cfg.max_frame = 64;
    let l = Listener::bind(any_port(), cfg, tx).await.unwrap();
    let mut c = TcpStream::connect(l.local_addr()).await.unwrap();
    let mut expect = Vec::new();
    let mut wire = Vec::new();
    for i in 0..2000 {
        let m = format!("<14>message {i}");
        if i % 2 == 0 {
            wire.extend_from_slice(format!("{} {m}", m.len()).as_bytes());
        } else {
            wire.extend_from_slice(format!("{m}\n").as_bytes());
        }
        expect.push(m);
    }
    wire.extend_from_slice(&[b'x'; 100]);
    wire.extend_from_slice(b"\n<14>after the long one");
    let writer = tokio::spawn(async move {
        c.write_all(&wire).await.unwrap();
        c.shutdown().await.unwrap();
    });
    let mut got = Vec::new();
    for _ in 0..2002 {
        tokio::time::sleep(Duration::from_micros(if got.len() < 5 { 2000 } else { 0 })).await;
        got.push(body(&recv(&mut rx).await));
    }
    writer.await.unwrap();
    assert_eq!(got[..2000], expect[..]);
    assert_eq!(
        got[2000],
        "error: message of 100 bytes exceeds the limit of 64 bytes; skipped"
    );
    assert_eq!(got[2001], "<14>after the long one");
    assert_eq!(l.stats().framing_errors.load(Ordering::Relaxed), 1);
}

fn tls_configs() -> (Arc<rustls::ServerConfig>, Arc<rustls::ClientConfig>) {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert = ck.cert.der().clone();
    let key = rustls::pki_types::PrivateKeyDer::try_from(ck.signing_key.serialize_der()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).unwrap();
    let client = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    (Arc::new(server), Arc::new(client))
}

#[tokio::test]
async fn tls_octet_counted_syslog() {
    let (server, client) = tls_configs();
    let (tx, mut rx) = mpsc::channel(16);
    let l = Listener::bind(
        any_port(),
        ListenerConfig::new("ci-power", Protocol::Tls(server)),
        tx,
    )
    .await
    .unwrap();
    let tcp = TcpStream::connect(l.local_addr()).await.unwrap();
    let connector = tokio_rustls::TlsConnector::from(client);
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = connector.connect(name, tcp).await.unwrap();
    let msg = "<34>1 2026-11-26T10:00:00.123Z fw01 sshd 42 ID47 - login failed";
    tls.write_all(format!("{} {msg}", msg.len()).as_bytes())
        .await
        .unwrap();
    tls.flush().await.unwrap();
    assert_eq!(body(&recv(&mut rx).await), msg);

    // A client that does not speak TLS is refused, and counted.
    let mut plain = TcpStream::connect(l.local_addr()).await.unwrap();
    plain.write_all(b"12 <13>plain!!\n").await.unwrap();
    plain.shutdown().await.unwrap();
    for _ in 0..200 {
        if l.stats().handshake_failures.load(Ordering::Relaxed) == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(l.stats().handshake_failures.load(Ordering::Relaxed), 1);
    assert!(rx.try_recv().is_err(), "nothing from the plain-text client");
}
