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
//! ```
//! Relative paths are resolved against the configuration file's directory.

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
            events: None,
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
    }
}
