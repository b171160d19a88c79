//! `yagura serve --config FILE`: the server's TOML configuration.
//!
//! ```toml
//! listen = "127.0.0.1:8080"        # default
//! inventory = "inventory.toml"      # required (here or on the command line)
//! database = "yagura-data/state.db" # default: <data dir>/state.db
//! session_ttl_secs = 28800
//! login_max_failures = 5
//! login_window_secs = 300
//!
//! [tls]                             # optional: serve HTTPS with rustls
//! cert = "cert.pem"
//! key = "key.pem"
//!
//! [ingest]                          # optional: streaming intake and detection
//! events_dir = "yagura-data/events" # default: <data dir>/events (WAL, splits, catalogue)
//! max_body_bytes = 16777216         # POST /api/v1/ingest body cap (413 beyond)
//! max_in_flight = 32                # bodies held at once (429 beyond)
//! max_pending_events = 300000       # durable events not yet in splits (503 beyond)
//! flush_events = 100000             # the consumer builds splits at this many pending…
//! flush_interval_secs = 5           # …or when the oldest pending event waited this long
//! split_span_secs = 86400           # one split per organization and day per flush
//! compact_interval_secs = 600       # compaction every this often (0: never)
//! compacted_split_format = 4        # sealed days (2 h after their end) are rewritten into this
//! detector_checkpoint_events = 10000000  # detector state saved every this many events…
//! detector_checkpoint_interval_secs = 60 # …or this often; the WAL keeps the events since, and
//!                                        # a restart after a crash replays them into the detectors
//! rules = ["sigma/"]                # Sigma rule directories beside the built-in content
//! intel = ["feeds/"]                # indicator files/directories (plus the data dir's)
//! builtin_rules = true              # built-in Sigma and analytics content
//! analytics_config = "analytics.toml"
//!
//! [ingest.retention]                # optional: without it the event store keeps everything
//! interval_secs = 3600              # applied this often (and once at start)
//! max_age_days = 400                # every organization's default (absent: no limit)
//! max_size = "500GB"                # bytes, or with a unit: 500GB, 20GiB (absent: no limit)
//! [[ingest.retention.override]]     # per organization, sector or kind (any number)
//! org = "moh"                       # or sector = "medical", or kind = "ministry"
//! max_age_days = 730                # "unlimited" lifts a default limit
//!
//! [[ingest.syslog]]                 # a syslog listener (any number)
//! protocol = "tcp"                  # udp | tcp | tls (tls uses the [tls] certificate)
//! listen = "0.0.0.0:6514"
//! org = "moh"                       # every message belongs to this organization
//! format = "syslog"                 # optional: default detected per batch
//!
//! [[ingest.tail]]                   # a file followed across rotation and restarts
//! path = "/var/log/squid/access.log"
//! org = "moh"
//! format = "squid"                  # optional
//! ```
//! Relative paths are resolved against the configuration file's directory. Retention's rules
//! (precedence, units, errors) are in [`retention`].

pub mod retention;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::TlsFiles;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    pub listen: Option<SocketAddr>,
    pub inventory: Option<PathBuf>,
    pub database: Option<PathBuf>,
    pub session_ttl_secs: Option<i64>,
    pub login_max_failures: Option<usize>,
    pub login_window_secs: Option<i64>,
    pub tls: Option<TlsSection>,
    pub ingest: Option<IngestSection>,
}

/// `[ingest]`: HTTP push, syslog listeners and file tails into the event store's WAL, with the
/// stream consumer (splits + detectors) behind it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestSection {
    pub events_dir: Option<PathBuf>,
    #[serde(default = "defaults::max_body_bytes")]
    pub max_body_bytes: usize,
    #[serde(default = "defaults::max_in_flight")]
    pub max_in_flight: usize,
    #[serde(default = "defaults::max_pending_events")]
    pub max_pending_events: usize,
    #[serde(default = "defaults::flush_events")]
    pub flush_events: usize,
    #[serde(default = "defaults::flush_interval_secs")]
    pub flush_interval_secs: u64,
    #[serde(default = "defaults::split_span_secs")]
    pub split_span_secs: i64,
    /// Compaction (small splits merged, sealed days rewritten into `compacted_split_format`)
    /// runs on its own thread every this many seconds; 0 turns it off.
    #[serde(default = "defaults::compact_interval_secs")]
    pub compact_interval_secs: u64,
    /// Split format of sealed days after compaction: 4 (columnar, smaller; the default) or 3
    /// (what ingest writes).
    #[serde(default = "defaults::compacted_split_format")]
    pub compacted_split_format: u32,
    /// The stream detectors' state is checkpointed once this many events were detected since
    /// the last checkpoint…
    #[serde(default = "defaults::detector_checkpoint_events")]
    pub detector_checkpoint_events: u64,
    /// …or this many seconds after it (and on a clean stop). The write-ahead log keeps the
    /// events since the last checkpoint; after a crash they are replayed into the detectors.
    #[serde(default = "defaults::detector_checkpoint_interval_secs")]
    pub detector_checkpoint_interval_secs: u64,
    #[serde(default)]
    pub rules: Vec<PathBuf>,
    #[serde(default)]
    pub intel: Vec<PathBuf>,
    #[serde(default = "defaults::yes")]
    pub builtin_rules: bool,
    pub analytics_config: Option<PathBuf>,
    #[serde(default)]
    pub syslog: Vec<SyslogSection>,
    #[serde(default)]
    pub tail: Vec<TailSection>,
    /// Event retention per organization (absent: nothing is deleted).
    pub retention: Option<retention::RetentionSection>,
}

mod defaults {
    pub fn max_body_bytes() -> usize {
        16 << 20
    }
    pub fn max_in_flight() -> usize {
        32
    }
    pub fn max_pending_events() -> usize {
        300_000
    }
    pub fn flush_events() -> usize {
        100_000
    }
    pub fn flush_interval_secs() -> u64 {
        5
    }
    pub fn split_span_secs() -> i64 {
        86_400
    }
    pub fn compact_interval_secs() -> u64 {
        600
    }
    pub fn compacted_split_format() -> u32 {
        4
    }
    /// At most this many events are replayed into the detectors after a crash (BENCHMARKS.md
    /// "Session 11": 36 s for a restart after a kill -9 at 10M events), and the detectors'
    /// state — hundreds of MB of JSON for a large estate, seconds of CPU to write — is written
    /// at most once per this many events. Usually the interval comes first.
    pub fn detector_checkpoint_events() -> u64 {
        10_000_000
    }
    pub fn detector_checkpoint_interval_secs() -> u64 {
        60
    }
    pub fn yes() -> bool {
        true
    }
}

/// `[[ingest.syslog]]`: one syslog listener.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyslogSection {
    /// `udp`, `tcp` or `tls`.
    pub protocol: String,
    pub listen: SocketAddr,
    pub org: String,
    pub format: Option<String>,
}

/// `[[ingest.tail]]`: one followed file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TailSection {
    pub path: PathBuf,
    pub org: String,
    pub format: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSection {
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("{0}")]
    Invalid(String),
}

/// The default listen address (loopback: exposing the API is an explicit decision).
pub const DEFAULT_LISTEN: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 8080);

impl ServerConfig {
    /// Parses `text` (the contents of `path`), resolving relative paths against its directory.
    pub fn from_toml(text: &str, path: &Path) -> Result<ServerConfig, ConfigError> {
        let mut cfg: ServerConfig = toml::from_str(text).map_err(|e| ConfigError::Syntax {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        let fix = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        if let Some(p) = cfg.inventory.as_mut() {
            fix(p);
        }
        if let Some(p) = cfg.database.as_mut() {
            fix(p);
        }
        if let Some(t) = cfg.tls.as_mut() {
            fix(&mut t.cert);
            fix(&mut t.key);
        }
        if let Some(i) = cfg.ingest.as_mut() {
            if let Some(p) = i.events_dir.as_mut() {
                fix(p);
            }
            if let Some(p) = i.analytics_config.as_mut() {
                fix(p);
            }
            i.rules.iter_mut().for_each(fix);
            i.intel.iter_mut().for_each(fix);
            i.tail.iter_mut().for_each(|t| fix(&mut t.path));
        }
        cfg.validate()?;
        Ok(cfg)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if self
            .session_ttl_secs
            .is_some_and(|t| !(60..=30 * 86_400).contains(&t))
        {
            return Err(ConfigError::Invalid(
                "session_ttl_secs must be between 60 and 2592000".into(),
            ));
        }
        if self.login_max_failures == Some(0) {
            return Err(ConfigError::Invalid(
                "login_max_failures must be at least 1".into(),
            ));
        }
        if self.login_window_secs.is_some_and(|w| w < 1) {
            return Err(ConfigError::Invalid(
                "login_window_secs must be positive".into(),
            ));
        }
        if let Some(i) = &self.ingest {
            let bad = |m: String| Err(ConfigError::Invalid(format!("[ingest] {m}")));
            if !(1024..=1 << 30).contains(&i.max_body_bytes) {
                return bad("max_body_bytes must be between 1024 and 1073741824".into());
            }
            if i.max_in_flight == 0 || i.max_pending_events == 0 || i.flush_events == 0 {
                return bad(
                    "max_in_flight, max_pending_events and flush_events must be positive".into(),
                );
            }
            if i.flush_interval_secs == 0 {
                return bad("flush_interval_secs must be positive".into());
            }
            if !(60..=30 * 86_400).contains(&i.split_span_secs) {
                return bad("split_span_secs must be between 60 and 2592000".into());
            }
            if !matches!(i.compacted_split_format, 3 | 4) {
                return bad("compacted_split_format must be 3 or 4".into());
            }
            for l in &i.syslog {
                if !matches!(l.protocol.as_str(), "udp" | "tcp" | "tls") {
                    return bad(format!(
                        "syslog listener {}: protocol must be udp, tcp or tls",
                        l.listen
                    ));
                }
                if l.protocol == "tls" && self.tls.is_none() {
                    return bad(format!(
                        "syslog listener {}: tls needs the [tls] certificate",
                        l.listen
                    ));
                }
                if yagura_model::OrgId::new(&l.org).is_err() {
                    return bad(format!("syslog listener {}: bad org {:?}", l.listen, l.org));
                }
            }
            for t in &i.tail {
                if yagura_model::OrgId::new(&t.org).is_err() {
                    return bad(format!("tail {}: bad org {:?}", t.path.display(), t.org));
                }
            }
            if let Some(r) = &i.retention {
                r.rules()?;
            }
        }
        Ok(())
    }

    pub fn tls_files(&self) -> Option<TlsFiles> {
        self.tls.as_ref().map(|t| TlsFiles {
            cert: t.cert.clone(),
            key: t.key.clone(),
        })
    }

    /// State options from this configuration (Secure cookies exactly when TLS is configured).
    pub fn state_options(&self) -> crate::StateOptions {
        let d = crate::StateOptions::default();
        crate::StateOptions {
            secure_cookies: self.tls.is_some(),
            session_ttl_secs: self.session_ttl_secs.unwrap_or(d.session_ttl_secs),
            login_max_failures: self.login_max_failures.unwrap_or(d.login_max_failures),
            login_window_secs: self.login_window_secs.unwrap_or(d.login_window_secs),
            clock: d.clock,
            evidence: None,
            ingest: None,
            events: None,
            db_threads: d.db_threads,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, expect: Result<&str, &str>) {
        let got = ServerConfig::from_toml(text, Path::new("/etc/yagura/server.toml"));
        match (got, expect) {
            (Ok(cfg), Ok(debug)) => {
                let s = format!(
                    "listen={:?} inventory={:?} tls={:?} secure={}",
                    cfg.listen,
                    cfg.inventory,
                    cfg.tls_files().map(|t| t.cert),
                    cfg.state_options().secure_cookies
                );
                assert_eq!(s, debug);
            }
            (Err(e), Err(msg)) => assert!(e.to_string().contains(msg), "{e}"),
            (got, want) => panic!("{text}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn configs() {
        check("", Ok("listen=None inventory=None tls=None secure=false"));
        check(
            "listen = \"0.0.0.0:8443\"\ninventory = \"inv.toml\"\n[tls]\ncert = \"c.pem\"\nkey = \"/k.pem\"",
            Ok(
                "listen=Some(0.0.0.0:8443) inventory=Some(\"/etc/yagura/inv.toml\") tls=Some(\"/etc/yagura/c.pem\") secure=true",
            ),
        );
        check("listen = \"nowhere\"", Err("server.toml"));
        check("lisen = \"127.0.0.1:1\"", Err("unknown field"));
        check("session_ttl_secs = 1", Err("session_ttl_secs"));
        check("login_max_failures = 0", Err("login_max_failures"));
        check("[tls]\ncert = \"c.pem\"", Err("missing field `key`"));
        check("[ingest]\nmax_body_bytes = 10", Err("max_body_bytes"));
        check(
            "[ingest]\n[[ingest.syslog]]\nprotocol = \"tls\"\nlisten = \"127.0.0.1:6514\"\norg = \"moh\"",
            Err("needs the [tls] certificate"),
        );
        check(
            "[ingest]\n[[ingest.syslog]]\nprotocol = \"tcp\"\nlisten = \"127.0.0.1:6514\"\norg = \"Not An Org\"",
            Err("bad org"),
        );
        check(
            "[ingest]\nrules = [\"r\"]\n[[ingest.tail]]\npath = \"a.log\"\norg = \"moh\"",
            Ok("listen=None inventory=None tls=None secure=false"),
        );
    }
}
