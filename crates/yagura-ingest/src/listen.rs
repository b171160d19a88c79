//! Syslog listeners: UDP (one datagram, one message), TCP and TLS (framed by
//! [`crate::framing::Decoder`]).
//!
//! Every listener hands its messages to one bounded `tokio::sync::mpsc` channel. TCP and TLS
//! connections await room in it, so when the consumer (parsing, the write-ahead log) falls
//! behind, they stop reading, the kernel's receive window closes and the sender slows down:
//! nothing is dropped and memory stays bounded. UDP has no way to push back: a datagram that
//! finds the channel full is dropped and counted ([`Stats::dropped`]), which is what syslog
//! over UDP means. Framing errors are delivered as messages too (with the reason), so the
//! caller can quarantine them rather than lose them silently.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;

use crate::framing::{Decoder, Frame, FrameError};

/// How a listener receives.
#[derive(Clone)]
pub enum Protocol {
    Udp,
    Tcp,
    /// TCP with TLS (RFC 5425); the configuration carries certificate and key.
    Tls(Arc<ServerConfig>),
}

impl std::fmt::Debug for Protocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Protocol::Udp => "udp",
            Protocol::Tcp => "tcp",
            Protocol::Tls(_) => "tls",
        })
    }
}

/// Settings of one listener.
#[derive(Debug, Clone)]
pub struct ListenerConfig {
    /// Name carried on every message (for example the organization or sensor it serves).
    pub name: Arc<str>,
    pub protocol: Protocol,
    /// Longest message accepted (RFC 5425 asks receivers to take at least 2 KiB; 64 KiB by
    /// default).
    pub max_frame: usize,
    /// Concurrent TCP/TLS connections; more wait in the accept queue.
    pub max_connections: usize,
    /// A connection silent this long is closed.
    pub idle_timeout: Duration,
}

impl ListenerConfig {
    pub fn new(name: &str, protocol: Protocol) -> ListenerConfig {
        ListenerConfig {
            name: Arc::from(name),
            protocol,
            max_frame: 64 << 10,
            max_connections: 1024,
            idle_timeout: Duration::from_secs(600),
        }
    }
}

/// One received message, or a framing error in its place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub listener: Arc<str>,
    pub peer: SocketAddr,
    pub body: Result<Vec<u8>, FrameError>,
}

/// Counters of one listener.
#[derive(Debug, Default)]
pub struct Stats {
    /// Messages handed to the channel (framing errors included).
    pub received: AtomicU64,
    /// UDP datagrams dropped because the channel was full.
    pub dropped: AtomicU64,
    /// Framing errors (oversized or malformed frames).
    pub framing_errors: AtomicU64,
    /// TCP/TLS connections accepted, and TLS handshakes that failed.
    pub connections: AtomicU64,
    pub handshake_failures: AtomicU64,
}

impl Stats {
    fn bump(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }
}

/// A running listener; dropping it stops accepting (connections in progress end when their
/// peer closes or the channel's receiver is dropped).
#[derive(Debug)]
pub struct Listener {
    local: SocketAddr,
    stats: Arc<Stats>,
    task: JoinHandle<()>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Listener {
    /// Binds `addr` and starts receiving into `tx`. Must be called inside a tokio runtime.
    pub async fn bind(
        addr: SocketAddr,
        config: ListenerConfig,
        tx: mpsc::Sender<Message>,
    ) -> std::io::Result<Listener> {
        let stats = Arc::new(Stats::default());
        let (local, task) = match config.protocol.clone() {
            Protocol::Udp => {
                let sock = UdpSocket::bind(addr).await?;
                let local = sock.local_addr()?;
                let task = tokio::spawn(udp_loop(sock, config, tx, stats.clone()));
                (local, task)
            }
            Protocol::Tcp => {
                let l = TcpListener::bind(addr).await?;
                let local = l.local_addr()?;
                let task = tokio::spawn(tcp_loop(l, None, config, tx, stats.clone()));
                (local, task)
            }
            Protocol::Tls(tls) => {
                let l = TcpListener::bind(addr).await?;
                let local = l.local_addr()?;
                let acceptor = TlsAcceptor::from(tls);
                let task = tokio::spawn(tcp_loop(l, Some(acceptor), config, tx, stats.clone()));
                (local, task)
            }
        };
        Ok(Listener { local, stats, task })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }
}

async fn udp_loop(
    sock: UdpSocket,
    config: ListenerConfig,
    tx: mpsc::Sender<Message>,
    stats: Arc<Stats>,
) {
    let mut buf = vec![0u8; 65_536];
    loop {
        let (n, peer) = match sock.recv_from(&mut buf).await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(listener = %config.name, error = %e, "udp receive failed");
                continue;
            }
        };
        let data = buf.get(..n).unwrap_or_default();
        // A datagram is one message; senders often end it with LF.
        let data = data.strip_suffix(b"\n").unwrap_or(data);
        let body = if data.len() > config.max_frame {
            Stats::bump(&stats.framing_errors);
            Err(FrameError::TooLong {
                len: data.len(),
                max: config.max_frame,
            })
        } else {
            Ok(data.to_vec())
        };
        let msg = Message {
            listener: config.name.clone(),
            peer,
            body,
        };
        match tx.try_send(msg) {
            Ok(()) => Stats::bump(&stats.received),
            Err(mpsc::error::TrySendError::Full(_)) => Stats::bump(&stats.dropped),
            Err(mpsc::error::TrySendError::Closed(_)) => return,
        }
    }
}

async fn tcp_loop(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    config: ListenerConfig,
    tx: mpsc::Sender<Message>,
    stats: Arc<Stats>,
) {
    let slots = Arc::new(Semaphore::new(config.max_connections.max(1)));
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let (stream, peer) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(listener = %config.name, error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        Stats::bump(&stats.connections);
        let (config, tx, stats, tls) = (config.clone(), tx.clone(), stats.clone(), tls.clone());
        tokio::spawn(async move {
            let _permit = permit;
            match tls {
                None => read_stream(stream, peer, &config, &tx, &stats).await,
                Some(acceptor) => {
                    let handshake =
                        tokio::time::timeout(config.idle_timeout, acceptor.accept(stream)).await;
                    match handshake {
                        Ok(Ok(s)) => read_stream(s, peer, &config, &tx, &stats).await,
                        Ok(Err(e)) => {
                            Stats::bump(&stats.handshake_failures);
                            tracing::info!(listener = %config.name, %peer, error = %e, "TLS handshake failed");
                        }
                        Err(_) => Stats::bump(&stats.handshake_failures),
                    }
                }
            }
        });
    }
}

async fn read_stream<S: AsyncRead + Unpin>(
    mut stream: S,
    peer: SocketAddr,
    config: &ListenerConfig,
    tx: &mpsc::Sender<Message>,
    stats: &Stats,
) {
    let mut decoder = Decoder::new(config.max_frame);
    let mut buf = vec![0u8; 16 << 10];
    loop {
        let n = match tokio::time::timeout(config.idle_timeout, stream.read(&mut buf)).await {
            Ok(Ok(n)) => n,
            Ok(Err(e)) => {
                tracing::debug!(listener = %config.name, %peer, error = %e, "connection read failed");
                0
            }
            Err(_) => {
                tracing::debug!(listener = %config.name, %peer, "idle connection closed");
                0
            }
        };
        if n == 0 {
            if let Some(f) = decoder.finish() {
                let _ = deliver(f, peer, config, tx, stats).await;
            }
            return;
        }
        decoder.push(buf.get(..n).unwrap_or_default());
        while let Some(f) = decoder.next_frame() {
            if !deliver(f, peer, config, tx, stats).await {
                return;
            }
        }
    }
}

/// Sends one frame, waiting for room (backpressure); false when the receiver is gone.
async fn deliver(
    f: Frame,
    peer: SocketAddr,
    config: &ListenerConfig,
    tx: &mpsc::Sender<Message>,
    stats: &Stats,
) -> bool {
    let body = match f {
        Frame::Message(m) => Ok(m),
        Frame::Invalid(e) => {
            Stats::bump(&stats.framing_errors);
            Err(e)
        }
    };
    let msg = Message {
        listener: config.name.clone(),
        peer,
        body,
    };
    if tx.send(msg).await.is_err() {
        return false;
    }
    Stats::bump(&stats.received);
    true
}
