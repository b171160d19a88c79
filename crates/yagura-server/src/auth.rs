//! Authentication: argon2id passwords, session cookies with a CSRF synchronizer token, hashed
//! API tokens, and login rate limiting.
//!
//! * Sessions live in memory (a restart logs everybody out, which is acceptable for a
//!   console); the map is keyed by the SHA-256 of the cookie value, so a memory dump does not
//!   reveal usable cookies. Each session carries its own random CSRF token; every
//!   state-changing request authenticated by cookie must echo it in `X-CSRF-Token`
//!   (synchronizer-token pattern; SameSite=Strict is a second layer, not the only one).
//! * API tokens are `ygt_` + 64 hex digits of OS randomness, shown once; the store keeps only
//!   their SHA-256. Requests with `Authorization: Bearer` carry no cookie authority, so they
//!   need no CSRF token; a token needs the `read` scope for reads and `write` for changes.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use axum::http::{HeaderMap, Method, header};
use sha2::{Digest, Sha256};
use yagura_model::{OrgId, Role, Scope, Timestamp};

use crate::error::ApiError;

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "yagura_session";
/// Header carrying the session's CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Prefix of API token secrets (recognizable in logs and secret scanners).
pub const TOKEN_PREFIX: &str = "ygt_";
/// Token scopes the API understands (`ingest`: `POST /api/v1/ingest` for the token's own
/// organization only; it grants no read or write of anything else).
pub const TOKEN_SCOPES: [&str; 3] = ["read", "write", "ingest"];

/// `n` bytes of OS randomness as lowercase hex.
pub fn random_hex(n: usize) -> Result<String, ApiError> {
    let mut buf = vec![0u8; n];
    getrandom::fill(&mut buf).map_err(|e| ApiError::Internal(format!("OS randomness: {e}")))?;
    Ok(hex(&buf))
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    push_hex(&mut s, bytes);
    s
}

/// Appends `bytes` as lowercase hex (two digits each) — what `{b:02x}` per byte writes,
/// without the formatting machinery: every request hashes its token or cookie, and writing
/// the 32-byte digest through `write!` was ~7,500 instructions of the alert list's ~330k
/// (BENCHMARKS.md, server session 8).
pub(crate) fn push_hex(s: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    s.reserve(bytes.len() * 2);
    for &b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
}

/// SHA-256 of `secret`, hex: how tokens and session ids are stored.
pub fn sha256_hex(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

/// Equality that takes the same time wherever the inputs differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// argon2id hashing with configurable cost (the default is argon2's OWASP-recommended
/// m=19 MiB, t=2, p=1; tests use a cheaper setting).
#[derive(Debug, Clone)]
pub struct PasswordHashing {
    params: Params,
    /// A hash of a random password, verified against when the user does not exist so that
    /// unknown and known names take the same time.
    dummy: String,
}

impl PasswordHashing {
    pub fn new(params: Params) -> Result<PasswordHashing, ApiError> {
        let mut h = PasswordHashing {
            params,
            dummy: String::new(),
        };
        h.dummy = h.hash(&random_hex(16)?)?;
        Ok(h)
    }

    /// Production cost.
    pub fn standard() -> Result<PasswordHashing, ApiError> {
        PasswordHashing::new(Params::default())
    }

    /// Low cost for tests (still argon2id).
    pub fn fast_for_tests() -> Result<PasswordHashing, ApiError> {
        let p = Params::new(1024, 1, 1, None).map_err(|e| ApiError::Internal(e.to_string()))?;
        PasswordHashing::new(p)
    }

    fn argon(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    /// A PHC string (`$argon2id$v=19$m=…`).
    pub fn hash(&self, password: &str) -> Result<String, ApiError> {
        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt).map_err(|e| ApiError::Internal(e.to_string()))?;
        let salt = SaltString::encode_b64(&salt).map_err(|e| ApiError::Internal(e.to_string()))?;
        Ok(self
            .argon()
            .hash_password(password.as_bytes(), &salt)
            .map_err(|e| ApiError::Internal(e.to_string()))?
            .to_string())
    }

    /// Checks `password` against a stored PHC string (any argon2 parameters); `None` verifies
    /// against the dummy hash and returns false.
    pub fn verify(&self, password: &str, stored: Option<&str>) -> bool {
        let phc = stored.unwrap_or(&self.dummy);
        let Ok(parsed) = PasswordHash::new(phc) else {
            return false;
        };
        let ok = self
            .argon()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        ok && stored.is_some()
    }
}

/// A logged-in browser session.
#[derive(Debug, Clone)]
pub struct Session {
    pub user_id: i64,
    pub user: String,
    pub org: OrgId,
    pub role: Role,
    pub csrf: String,
    pub expires: Timestamp,
}

/// In-memory sessions keyed by the hash of the cookie value.
#[derive(Debug, Default)]
pub struct Sessions {
    map: Mutex<HashMap<String, Session>>,
}

impl Sessions {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts a session; returns the cookie value.
    pub fn create(&self, session: Session) -> Result<String, ApiError> {
        let id = random_hex(32)?;
        self.lock().insert(sha256_hex(&id), session);
        Ok(id)
    }

    /// The live session for a cookie value (expired ones are dropped).
    pub fn get(&self, cookie: &str, now: Timestamp) -> Option<(String, Session)> {
        let key = sha256_hex(cookie);
        let mut map = self.lock();
        match map.get(&key) {
            Some(s) if now < s.expires => Some((key, s.clone())),
            Some(_) => {
                map.remove(&key);
                None
            }
            None => None,
        }
    }

    pub fn remove(&self, key: &str) {
        self.lock().remove(key);
    }

    /// Ends every session of a user (disabled account).
    pub fn remove_user(&self, user_id: i64) {
        self.lock().retain(|_, s| s.user_id != user_id);
    }
}

/// How long an authenticated API token is reused without reading the token table again.
/// Revocation through the API takes effect at once (the entry is dropped); a change made to
/// the database behind this server's back (another process) takes effect within this time.
pub const TOKEN_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(10);

/// Tokens kept at most (a client population far beyond this just reads the table more).
const TOKEN_CACHE_ENTRIES: usize = 4096;

/// Recently used API tokens by hash, so that every request of a client does not read the
/// token table. Only tokens found are kept (unknown secrets always go to the store); expiry
/// and scopes are still checked on every request against the record.
#[derive(Debug, Default)]
pub struct TokenCache {
    inner: Mutex<TokenCacheInner>,
}

#[derive(Debug, Default)]
struct TokenCacheInner {
    map: HashMap<String, (yagura_store::ApiToken, std::time::Instant)>,
    /// Bumped by every invalidation: a lookup that began before one does not store its
    /// (possibly stale) result.
    generation: u64,
}

impl TokenCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, TokenCacheInner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The cached token of `hash`, if fresh; else the generation to pass to
    /// [`TokenCache::insert`] after reading the store.
    pub fn get(&self, hash: &str) -> Result<yagura_store::ApiToken, u64> {
        let inner = self.lock();
        match inner.map.get(hash) {
            Some((t, at)) if at.elapsed() < TOKEN_CACHE_TTL => Ok(t.clone()),
            _ => Err(inner.generation),
        }
    }

    /// Keeps `token`, unless an invalidation happened since `generation` was read.
    pub fn insert(&self, generation: u64, token: &yagura_store::ApiToken) {
        let mut inner = self.lock();
        if inner.generation != generation {
            return;
        }
        if inner.map.len() >= TOKEN_CACHE_ENTRIES {
            inner.map.clear();
        }
        inner.map.insert(
            token.token_hash.clone(),
            (token.clone(), std::time::Instant::now()),
        );
    }

    /// Forgets the token of `hash` (revoked), and makes lookups under way forget theirs.
    pub fn invalidate(&self, hash: &str) {
        let mut inner = self.lock();
        inner.generation += 1;
        inner.map.remove(hash);
    }
}

/// Sliding-window limiter of failed logins per key (user name, client address).
#[derive(Debug)]
pub struct LoginLimiter {
    max_failures: usize,
    window_secs: i64,
    failures: Mutex<HashMap<String, VecDeque<Timestamp>>>,
}

impl LoginLimiter {
    pub fn new(max_failures: usize, window_secs: i64) -> LoginLimiter {
        LoginLimiter {
            max_failures,
            window_secs,
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, VecDeque<Timestamp>>> {
        self.failures.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `Err(seconds to wait)` when `key` has used up its failures in the window.
    pub fn check(&self, key: &str, now: Timestamp) -> Result<(), u64> {
        let mut map = self.lock();
        let Some(q) = map.get_mut(key) else {
            return Ok(());
        };
        let horizon = now.saturating_sub_secs(self.window_secs);
        while q.front().is_some_and(|t| *t <= horizon) {
            q.pop_front();
        }
        if q.len() >= self.max_failures {
            let oldest = q.front().copied().unwrap_or(now);
            let wait = oldest
                .saturating_add_secs(self.window_secs)
                .secs_since(now)
                .ceil()
                .max(1.0);
            return Err(wait as u64);
        }
        if q.is_empty() {
            map.remove(key);
        }
        Ok(())
    }

    pub fn fail(&self, key: &str, now: Timestamp) {
        self.lock()
            .entry(key.to_owned())
            .or_default()
            .push_back(now);
    }

    pub fn clear(&self, key: &str) {
        self.lock().remove(key);
    }
}

/// How a caller authenticated.
#[derive(Debug, Clone)]
pub enum AuthKind {
    /// Browser session; `key` is the stored hash of the cookie.
    Session {
        key: String,
        csrf: String,
    },
    Token {
        id: i64,
        scopes: Vec<String>,
    },
}

/// An authenticated caller with its role and scope.
#[derive(Debug, Clone)]
pub struct Caller {
    pub name: String,
    pub org: OrgId,
    pub role: Role,
    pub scope: Scope,
    pub auth: AuthKind,
}

/// Value of cookie `name` in the request headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The bearer secret of `Authorization: Bearer …`, if that header is present.
pub fn bearer(headers: &HeaderMap) -> Option<Result<&str, ApiError>> {
    let v = headers.get(header::AUTHORIZATION)?;
    let parsed = v
        .to_str()
        .ok()
        .and_then(|v| {
            let (scheme, rest) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
        })
        .filter(|t| !t.is_empty())
        .ok_or(ApiError::Unauthenticated);
    Some(parsed)
}

/// GET, HEAD and OPTIONS change nothing; everything else is state-changing.
pub fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// `Set-Cookie` value for a new session.
pub fn session_cookie(value: &str, max_age_secs: i64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}{secure}"
    )
}

/// `Set-Cookie` value that deletes the session cookie.
pub fn clear_cookie(secure: bool) -> String {
    session_cookie("", 0, secure)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(hash: &str) -> yagura_store::ApiToken {
        yagura_store::ApiToken {
            id: 1,
            name: "t".into(),
            org: OrgId::new("moh").unwrap(),
            role: Role::Analyst,
            token_hash: hash.into(),
            scopes: vec!["read".into()],
            expires: None,
            revoked: false,
            created: Timestamp::from_secs(0),
            created_by: "test".into(),
        }
    }

    #[test]
    fn token_cache_forgets_revoked_tokens_and_stale_lookups() {
        let c = TokenCache::default();
        let g = c.get("h1").unwrap_err();
        c.insert(g, &token("h1"));
        assert_eq!(c.get("h1").unwrap().token_hash, "h1");
        c.invalidate("h1");
        let g = c.get("h1").unwrap_err();
        // A lookup that read the store before a revocation must not bring the token back.
        c.invalidate("h2");
        c.insert(g, &token("h1"));
        assert!(c.get("h1").is_err());
        let g = c.get("h1").unwrap_err();
        c.insert(g, &token("h1"));
        assert!(c.get("h1").is_ok());
    }

    #[test]
    fn passwords_hash_as_argon2id_and_verify() {
        let h = PasswordHashing::fast_for_tests().unwrap();
        let phc = h.hash("correct horse").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$"), "{phc}");
        assert!(h.verify("correct horse", Some(&phc)));
        assert!(!h.verify("wrong", Some(&phc)));
        assert!(!h.verify("correct horse", None));
        assert!(!h.verify("x", Some("not a phc string")));
        assert_ne!(phc, h.hash("correct horse").unwrap(), "salted");
    }

    #[test]
    fn cookies_and_bearer_are_parsed() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            "a=1; yagura_session=abc; b=2".parse().unwrap(),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&h, "c"), None);
        assert!(bearer(&h).is_none());
        h.insert(header::AUTHORIZATION, "Bearer ygt_x".parse().unwrap());
        assert_eq!(bearer(&h).unwrap().unwrap(), "ygt_x");
        h.insert(header::AUTHORIZATION, "Basic abc".parse().unwrap());
        assert!(bearer(&h).unwrap().is_err());
        h.insert(header::AUTHORIZATION, "Bearer ".parse().unwrap());
        assert!(bearer(&h).unwrap().is_err());
    }

    #[test]
    fn cookie_attributes() {
        let c = session_cookie("v", 60, true);
        assert_eq!(
            c,
            "yagura_session=v; Path=/; HttpOnly; SameSite=Strict; Max-Age=60; Secure"
        );
        assert!(!session_cookie("v", 60, false).contains("Secure"));
    }

    #[test]
    fn limiter_blocks_after_failures_and_forgets_after_window() {
        let l = LoginLimiter::new(3, 60);
        let t = |s: i64| Timestamp::from_secs(1000 + s);
        for i in 0..3 {
            assert!(l.check("u", t(i)).is_ok());
            l.fail("u", t(i));
        }
        assert_eq!(l.check("u", t(3)), Err(57));
        assert!(l.check("other", t(3)).is_ok());
        assert!(
            l.check("u", t(61)).is_ok(),
            "oldest failure left the window"
        );
        l.clear("u");
        assert!(l.check("u", t(4)).is_ok());
    }

    #[test]
    fn sessions_expire_and_are_stored_hashed() {
        let s = Sessions::default();
        let org = OrgId::new("moh").unwrap();
        let id = s
            .create(Session {
                user_id: 7,
                user: "u".into(),
                org,
                role: Role::Analyst,
                csrf: "c".into(),
                expires: Timestamp::from_secs(100),
            })
            .unwrap();
        assert_eq!(id.len(), 64);
        assert!(
            s.lock().keys().all(|k| *k != id),
            "stored under its hash only"
        );
        let (key, got) = s.get(&id, Timestamp::from_secs(99)).unwrap();
        assert_eq!(got.user_id, 7);
        assert_eq!(key, sha256_hex(&id));
        assert!(s.get(&id, Timestamp::from_secs(100)).is_none());
        assert!(
            s.get(&id, Timestamp::from_secs(0)).is_none(),
            "expired one was dropped"
        );
    }

    #[test]
    fn hex_is_two_lowercase_digits_per_byte() {
        let all: Vec<u8> = (0..=255).collect();
        let expect: String = all.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex(&all), expect);
        let mut s = String::from("x.");
        push_hex(&mut s, b"\x00\x0f\xf0\xff");
        assert_eq!(s, "x.000ff0ff");
        // The stored form of a secret: SHA-256 of its UTF-8, hex (FIPS 180-2 test vector).
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn constant_time_eq_compares() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
