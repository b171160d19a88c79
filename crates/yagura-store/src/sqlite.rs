//! The embedded backend: one SQLite database file (bundled SQLite, WAL journal).

use std::path::Path;
use std::sync::Mutex;

use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};
use yagura_model::{
    Alert, Campaign, Incident, Indicator, OrgId, Organization, Role, Scope, Severity, Timestamp,
};

use crate::StateStore;
use crate::error::StoreError;
use crate::types::*;

/// Schema migrations, applied in order; `PRAGMA user_version` records how many ran.
/// Never edit a released migration: append a new one.
const MIGRATIONS: &[&str] = &[
    // 1: initial schema
    r#"
    CREATE TABLE orgs (
        id   TEXT PRIMARY KEY,
        body TEXT NOT NULL
    );
    CREATE TABLE users (
        id            INTEGER PRIMARY KEY,
        name          TEXT NOT NULL UNIQUE,
        display_name  TEXT NOT NULL,
        org           TEXT NOT NULL,
        role          TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        disabled      INTEGER NOT NULL DEFAULT 0,
        created       INTEGER NOT NULL
    );
    CREATE INDEX users_org ON users(org);
    CREATE TABLE api_tokens (
        id         INTEGER PRIMARY KEY,
        name       TEXT NOT NULL,
        org        TEXT NOT NULL,
        role       TEXT NOT NULL,
        token_hash TEXT NOT NULL UNIQUE,
        scopes     TEXT NOT NULL,
        expires    INTEGER,
        revoked    INTEGER NOT NULL DEFAULT 0,
        created    INTEGER NOT NULL,
        created_by TEXT NOT NULL
    );
    CREATE TABLE alerts (
        id          TEXT PRIMARY KEY,
        org         TEXT NOT NULL,
        time        INTEGER NOT NULL,
        detector    TEXT NOT NULL,
        rule_id     TEXT NOT NULL,
        severity    INTEGER NOT NULL,
        status      TEXT NOT NULL DEFAULT 'new',
        incident_id TEXT,
        title       TEXT NOT NULL,
        summary     TEXT NOT NULL,
        body        TEXT NOT NULL
    );
    CREATE INDEX alerts_org_time ON alerts(org, time DESC, id);
    CREATE INDEX alerts_time ON alerts(time DESC, id);
    CREATE TABLE incidents (
        id          TEXT PRIMARY KEY,
        org         TEXT NOT NULL,
        status      TEXT NOT NULL,
        severity    INTEGER NOT NULL,
        campaign_id TEXT,
        updated     INTEGER NOT NULL,
        body        TEXT NOT NULL
    );
    CREATE INDEX incidents_org ON incidents(org, updated DESC);
    CREATE TABLE indicators (
        org    TEXT NOT NULL,
        kind   TEXT NOT NULL,
        value  TEXT NOT NULL,
        source TEXT NOT NULL,
        body   TEXT NOT NULL,
        PRIMARY KEY (org, kind, value, source)
    );
    CREATE TABLE audit (
        id      INTEGER PRIMARY KEY AUTOINCREMENT,
        time    INTEGER NOT NULL,
        actor   TEXT NOT NULL,
        org     TEXT NOT NULL,
        action  TEXT NOT NULL,
        target  TEXT NOT NULL,
        details TEXT NOT NULL
    );
    CREATE INDEX audit_org ON audit(org, id);
    CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
        BEGIN SELECT RAISE(ABORT, 'audit trail is append-only'); END;
    CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
        BEGIN SELECT RAISE(ABORT, 'audit trail is append-only'); END;
    "#,
    // 2: advisories and their time-stamped steps (the advisory loop); audit lookups by time
    r#"
    CREATE TABLE advisories (
        id      TEXT PRIMARY KEY,
        org     TEXT NOT NULL,
        status  TEXT NOT NULL,
        due     INTEGER NOT NULL,
        created INTEGER NOT NULL,
        updated INTEGER NOT NULL,
        body    TEXT NOT NULL
    );
    CREATE INDEX advisories_org_due ON advisories(org, due, id);
    CREATE TABLE advisory_steps (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        advisory_id TEXT NOT NULL REFERENCES advisories(id),
        time        INTEGER NOT NULL,
        actor       TEXT NOT NULL,
        status      TEXT NOT NULL,
        note        TEXT NOT NULL,
        measures    TEXT NOT NULL
    );
    CREATE INDEX advisory_steps_advisory ON advisory_steps(advisory_id, id);
    CREATE TRIGGER advisory_steps_no_update BEFORE UPDATE ON advisory_steps
        BEGIN SELECT RAISE(ABORT, 'advisory steps are append-only'); END;
    CREATE TRIGGER advisory_steps_no_delete BEFORE DELETE ON advisory_steps
        BEGIN SELECT RAISE(ABORT, 'advisory steps are append-only'); END;
    CREATE INDEX audit_time ON audit(time);
    "#,
    // 3 (event-store work, issue 8): campaigns linking incidents of several organizations,
    // their organizations (for scoping), and incident timelines by alert time
    r#"
    CREATE TABLE campaigns (
        id      TEXT PRIMARY KEY,
        updated INTEGER NOT NULL,
        body    TEXT NOT NULL
    );
    CREATE TABLE campaign_orgs (
        campaign_id TEXT NOT NULL REFERENCES campaigns(id),
        org         TEXT NOT NULL,
        PRIMARY KEY (campaign_id, org)
    ) WITHOUT ROWID;
    CREATE INDEX campaign_orgs_org ON campaign_orgs(org, campaign_id);
    CREATE INDEX incidents_campaign ON incidents(campaign_id);
    CREATE INDEX alerts_incident ON alerts(incident_id, time, id);
    "#,
    // 4 (console work, issue 9): alert counts per (org, UTC day, severity, detector, rule, status), kept by triggers,
    // so that list totals and dashboard statistics do not scan millions of alerts.
    r#"
    CREATE TABLE alert_counts (
        org      TEXT NOT NULL,
        day      INTEGER NOT NULL,
        severity INTEGER NOT NULL,
        detector TEXT NOT NULL,
        rule_id  TEXT NOT NULL,
        status   TEXT NOT NULL,
        n        INTEGER NOT NULL,
        PRIMARY KEY (org, day, severity, detector, rule_id, status)
    ) WITHOUT ROWID;
    INSERT INTO alert_counts (org, day, severity, detector, rule_id, status, n)
        SELECT org, time / 86400000000000, severity, detector, rule_id, status, COUNT(*)
        FROM alerts GROUP BY 1, 2, 3, 4, 5, 6;
    CREATE TRIGGER alert_counts_insert AFTER INSERT ON alerts BEGIN
        INSERT INTO alert_counts (org, day, severity, detector, rule_id, status, n)
            VALUES (NEW.org, NEW.time / 86400000000000, NEW.severity, NEW.detector,
                    NEW.rule_id, NEW.status, 1)
            ON CONFLICT DO UPDATE SET n = n + 1;
    END;
    CREATE TRIGGER alert_counts_delete AFTER DELETE ON alerts BEGIN
        UPDATE alert_counts SET n = n - 1
            WHERE org = OLD.org AND day = OLD.time / 86400000000000
              AND severity = OLD.severity AND detector = OLD.detector
              AND rule_id = OLD.rule_id AND status = OLD.status;
    END;
    CREATE TRIGGER alert_counts_update
        AFTER UPDATE OF org, time, severity, detector, rule_id, status ON alerts BEGIN
        UPDATE alert_counts SET n = n - 1
            WHERE org = OLD.org AND day = OLD.time / 86400000000000
              AND severity = OLD.severity AND detector = OLD.detector
              AND rule_id = OLD.rule_id AND status = OLD.status;
        INSERT INTO alert_counts (org, day, severity, detector, rule_id, status, n)
            VALUES (NEW.org, NEW.time / 86400000000000, NEW.severity, NEW.detector,
                    NEW.rule_id, NEW.status, 1)
            ON CONFLICT DO UPDATE SET n = n + 1;
    END;
    "#,
    // 5 (alert list under load, issue 9): list indexes that answer a page by walking the index
    // in list order (newest first, then id) with every filter column inside it, so filters are
    // tested without reading the table and the walk stops after the page; they replace the
    // two time indexes of migration 1 (same prefixes).
    r#"
    CREATE INDEX alerts_list
        ON alerts(time DESC, id, org, severity, status, detector, rule_id);
    CREATE INDEX alerts_org_list
        ON alerts(org, time DESC, id, severity, status, detector, rule_id);
    CREATE INDEX alerts_status_list
        ON alerts(status, time DESC, id, org, severity, detector, rule_id);
    DROP INDEX alerts_time;
    DROP INDEX alerts_org_time;
    "#,
];

/// Nanoseconds per UTC day (the bucket of `alert_counts`).
const DAY_NANOS: i64 = 86_400_000_000_000;

/// Read-only connections opened beside the writer for a database file (WAL lets them read
/// while the writer writes); list and count queries use them so that concurrent API clients
/// do not queue behind one connection.
const READERS: usize = 4;

/// Alert totals a reader keeps (distinct count queries) before it starts afresh.
const COUNT_CACHE_ENTRIES: usize = 512;

/// SQLite-backed [`StateStore`].
#[derive(Debug)]
pub struct SqliteStore {
    conn: Mutex<Connection>,
    /// Read connections (file databases only; an in-memory database reads through `conn`).
    readers: Vec<Mutex<Reader>>,
    next_reader: std::sync::atomic::AtomicUsize,
}

/// Alert totals by statement and arguments, with the `data_version` they were counted at.
type CountCache = std::collections::HashMap<String, (i64, u64)>;

/// A read-only connection and the alert totals it computed, each with the connection's
/// `PRAGMA data_version` at the time: that number changes whenever another connection (this
/// process's writer or another process) commits, so a total is reused only while the
/// database is unchanged. A list's total is then one pragma instead of a sum over thousands
/// of `alert_counts` rows, as long as no alert arrives or changes.
#[derive(Debug)]
struct Reader {
    conn: Connection,
    counts: CountCache,
    /// The organizations that have alerts, with the `data_version` they were read at
    /// ([`covers_alert_orgs`]).
    alert_orgs: Option<(i64, Vec<String>)>,
}

/// A connection for reading: a reader, or the writer of an in-memory database.
enum ReadConn<'a> {
    Writer(std::sync::MutexGuard<'a, Connection>),
    Reader(std::sync::MutexGuard<'a, Reader>),
}

impl std::ops::Deref for ReadConn<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        match self {
            ReadConn::Writer(c) => c,
            ReadConn::Reader(r) => &r.conn,
        }
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and migrates it.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        let mut store = SqliteStore::init(conn)?;
        for _ in 0..READERS {
            let r = Connection::open_with_flags(
                path,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                    | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?;
            r.busy_timeout(std::time::Duration::from_secs(5))?;
            stable_plans(&r)?;
            // List and count statements differ by scope size and filters: keep the common
            // shapes prepared.
            r.set_prepared_statement_cache_capacity(64);
            store.readers.push(Mutex::new(Reader {
                conn: r,
                counts: Default::default(),
                alert_orgs: None,
            }));
        }
        Ok(store)
    }

    /// A private in-memory database (tests, one-shot commands).
    pub fn in_memory() -> Result<SqliteStore, StoreError> {
        SqliteStore::init(Connection::open_in_memory()?)
    }

    fn init(mut conn: Connection) -> Result<SqliteStore, StoreError> {
        conn.pragma_update(None, "foreign_keys", "ON")?;
        stable_plans(&conn)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        migrate(&mut conn)?;
        Ok(SqliteStore {
            conn: Mutex::new(conn),
            readers: Vec::new(),
            next_reader: std::sync::atomic::AtomicUsize::new(0),
        })
    }

    /// The schema version in force.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        Ok(self
            .lock()
            .query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite inconsistent (statements are
        // atomic), so a poisoned lock is still safe to use.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A connection for a read-only query: a free reader if any, else the next one in turn
    /// (the writer for an in-memory database).
    fn read(&self) -> ReadConn<'_> {
        if self.readers.is_empty() {
            return ReadConn::Writer(self.lock());
        }
        for r in &self.readers {
            if let Ok(g) = r.try_lock() {
                return ReadConn::Reader(g);
            }
        }
        let i = self
            .next_reader
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            % self.readers.len();
        ReadConn::Reader(self.readers[i].lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// One page of alerts (`visit_alerts_json*`), then `after_page` in the same read
    /// transaction with that snapshot's data version: an alert committed in between can
    /// neither slip past a left-out scope test nor into a total cached under another version.
    /// On the writer of an in-memory database (whose own commits do not move its data
    /// version) the scope is always tested and `on_writer` follows the page.
    #[allow(clippy::too_many_arguments)]
    fn page_in_one_snapshot<T>(
        &self,
        scope: &Scope,
        filter: &AlertFilter,
        after: Option<&AlertCursor>,
        page: &Page,
        visit: &mut dyn FnMut(AlertJsonRef<'_>),
        on_writer: impl FnOnce(&Connection) -> Result<T, StoreError>,
        after_page: impl FnOnce(&Connection, &mut CountCache, i64) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut reader = match self.read() {
            ReadConn::Writer(w) => {
                visit_page(&w, scope, filter, after, page, ScopeTest::Test, visit)?;
                return on_writer(&w);
            }
            ReadConn::Reader(r) => r,
        };
        let Reader {
            conn,
            counts,
            alert_orgs,
        } = &mut *reader;
        if !conn.is_autocommit() {
            // A transaction left open by an earlier call that failed to end it.
            conn.execute_batch("ROLLBACK")?;
        }
        conn.prepare_cached("BEGIN")?.execute([])?;
        let res = data_version(conn).and_then(|version| {
            let test = if covers_alert_orgs(conn, alert_orgs, version, scope)? {
                ScopeTest::Covered
            } else {
                ScopeTest::Test
            };
            visit_page(conn, scope, filter, after, page, test, visit)?;
            after_page(conn, counts, version)
        });
        // A read transaction ends without effect; end it also after an error, so that the
        // connection does not keep an old snapshot.
        let end = conn.prepare_cached("COMMIT")?.execute([]);
        let out = res?;
        end?;
        Ok(out)
    }
}

/// Turns on SQLite's query planner stability guarantee: a statement's plan never depends on
/// the values bound to it. Without it, SQLite (3.47 and later) reads the bound `LIMIT` while
/// planning and marks the statement to be compiled again whenever that parameter is bound,
/// so every alert list page re-parsed and re-planned its cached statement (≈ 100,000
/// instructions, a sixth of the request; BENCHMARKS.md, server session 7). The store's
/// queries name their indexes where the plan matters, so nothing is lost.
fn stable_plans(conn: &Connection) -> Result<(), StoreError> {
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    Ok(())
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let supported = MIGRATIONS.len() as i64;
    if current > supported {
        return Err(StoreError::SchemaTooNew {
            found: current,
            supported,
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
        tracing::debug!(version = i + 1, "applied state-store migration");
    }
    Ok(())
}

/// `col IN (?, ?, …)` for the scope's organizations; `0` (false) for an empty scope.
fn scope_clause(scope: &Scope, col: &str, args: &mut Vec<SqlValue>) -> String {
    if scope.is_empty() {
        return "0".to_owned();
    }
    let marks = vec!["?"; scope.len()].join(",");
    args.extend(scope.iter().map(|o| SqlValue::Text(o.to_string())));
    format!("{col} IN ({marks})")
}

fn severity_rank(s: Severity) -> i64 {
    Severity::ALL.iter().position(|x| *x == s).unwrap_or(0) as i64
}

fn corrupt(table: &'static str, id: impl Into<String>, reason: impl ToString) -> StoreError {
    StoreError::Corrupt {
        table,
        id: id.into(),
        reason: reason.to_string(),
    }
}

/// A record stored as JSON in a `body` column.
fn decode_body<T: serde::de::DeserializeOwned>(
    table: &'static str,
    id: &str,
    body: &str,
) -> Result<T, StoreError> {
    serde_json::from_str(body).map_err(|e| corrupt(table, id, e))
}

/// `SELECT id, body …` rows.
fn id_and_body(r: &rusqlite::Row<'_>) -> rusqlite::Result<(String, String)> {
    Ok((r.get(0)?, r.get(1)?))
}

/// Decodes every `(id, body)` row of a statement.
fn decode_rows<T: serde::de::DeserializeOwned>(
    table: &'static str,
    rows: impl Iterator<Item = rusqlite::Result<(String, String)>>,
) -> Result<Vec<T>, StoreError> {
    rows.map(|row| {
        let (id, body) = row?;
        decode_body(table, &id, &body)
    })
    .collect()
}

fn parse_org(table: &'static str, id: &str, s: &str) -> Result<OrgId, StoreError> {
    OrgId::new(s).map_err(|e| corrupt(table, id, e))
}

fn parse_role(table: &'static str, id: &str, s: &str) -> Result<Role, StoreError> {
    Role::parse(s).ok_or_else(|| corrupt(table, id, format!("unknown role {s:?}")))
}

struct UserRow {
    id: i64,
    name: String,
    display_name: String,
    org: String,
    role: String,
    disabled: bool,
    created: i64,
    password_hash: String,
}

impl UserRow {
    const COLUMNS: &'static str =
        "id, name, display_name, org, role, disabled, created, password_hash";

    fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<UserRow> {
        Ok(UserRow {
            id: r.get(0)?,
            name: r.get(1)?,
            display_name: r.get(2)?,
            org: r.get(3)?,
            role: r.get(4)?,
            disabled: r.get(5)?,
            created: r.get(6)?,
            password_hash: r.get(7)?,
        })
    }

    fn into_record(self) -> Result<UserRecord, StoreError> {
        let id = self.id.to_string();
        Ok(UserRecord {
            user: User {
                id: self.id,
                org: parse_org("users", &id, &self.org)?,
                role: parse_role("users", &id, &self.role)?,
                name: self.name,
                display_name: self.display_name,
                disabled: self.disabled,
                created: Timestamp::from_nanos(self.created),
            },
            password_hash: self.password_hash,
        })
    }
}

struct TokenRow {
    id: i64,
    name: String,
    org: String,
    role: String,
    token_hash: String,
    scopes: String,
    expires: Option<i64>,
    revoked: bool,
    created: i64,
    created_by: String,
}

impl TokenRow {
    const COLUMNS: &'static str =
        "id, name, org, role, token_hash, scopes, expires, revoked, created, created_by";

    fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<TokenRow> {
        Ok(TokenRow {
            id: r.get(0)?,
            name: r.get(1)?,
            org: r.get(2)?,
            role: r.get(3)?,
            token_hash: r.get(4)?,
            scopes: r.get(5)?,
            expires: r.get(6)?,
            revoked: r.get(7)?,
            created: r.get(8)?,
            created_by: r.get(9)?,
        })
    }

    fn into_token(self) -> Result<ApiToken, StoreError> {
        let id = self.id.to_string();
        Ok(ApiToken {
            id: self.id,
            org: parse_org("api_tokens", &id, &self.org)?,
            role: parse_role("api_tokens", &id, &self.role)?,
            scopes: serde_json::from_str(&self.scopes)
                .map_err(|e| corrupt("api_tokens", &id, e))?,
            name: self.name,
            token_hash: self.token_hash,
            expires: self.expires.map(Timestamp::from_nanos),
            revoked: self.revoked,
            created: Timestamp::from_nanos(self.created),
            created_by: self.created_by,
        })
    }
}

fn read_alert(r: &rusqlite::Row<'_>) -> rusqlite::Result<(String, String, String, Option<String>)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
}

fn decode_alert(
    (id, body, status, incident_id): (String, String, String, Option<String>),
) -> Result<StoredAlert, StoreError> {
    let alert: Alert = decode_body("alerts", &id, &body)?;
    let status = AlertStatus::parse(&status)
        .ok_or_else(|| corrupt("alerts", &id, format!("unknown status {status:?}")))?;
    Ok(StoredAlert {
        alert,
        status,
        incident_id,
    })
}

impl StateStore for SqliteStore {
    fn replace_orgs(&self, orgs: &[Organization]) -> Result<(), StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        tx.execute("DELETE FROM orgs", [])?;
        {
            let mut ins = tx.prepare("INSERT INTO orgs (id, body) VALUES (?1, ?2)")?;
            for o in orgs {
                let body =
                    serde_json::to_string(o).map_err(|e| StoreError::Invalid(e.to_string()))?;
                ins.execute(params![o.id.as_str(), body])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn list_orgs(&self, scope: &Scope) -> Result<Vec<Organization>, StoreError> {
        let conn = self.lock();
        let mut args = Vec::new();
        let clause = scope_clause(scope, "id", &mut args);
        let mut st = conn.prepare(&format!(
            "SELECT id, body FROM orgs WHERE {clause} ORDER BY id"
        ))?;
        let rows = st.query_map(params_from_iter(args), id_and_body)?;
        decode_rows("orgs", rows)
    }

    fn create_user(&self, user: &NewUser) -> Result<User, StoreError> {
        let conn = self.lock();
        let created = Timestamp::now();
        let res = conn.execute(
            "INSERT INTO users (name, display_name, org, role, password_hash, created) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![user.name, user.display_name, user.org.as_str(), user.role.as_str(), user.password_hash, created.nanos()],
        );
        match res {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                return Err(StoreError::Conflict(format!("user {:?}", user.name)));
            }
            other => other?,
        };
        Ok(User {
            id: conn.last_insert_rowid(),
            name: user.name.clone(),
            display_name: user.display_name.clone(),
            org: user.org.clone(),
            role: user.role,
            disabled: false,
            created,
        })
    }

    fn user_for_login(&self, name: &str) -> Result<Option<UserRecord>, StoreError> {
        let conn = self.read();
        let row = conn
            .query_row(
                &format!("SELECT {} FROM users WHERE name = ?1", UserRow::COLUMNS),
                [name],
                UserRow::read,
            )
            .optional()?;
        row.map(UserRow::into_record).transpose()
    }

    fn list_users(&self, scope: &Scope) -> Result<Vec<User>, StoreError> {
        let conn = self.lock();
        let mut args = Vec::new();
        let clause = scope_clause(scope, "org", &mut args);
        let mut st = conn.prepare(&format!(
            "SELECT {} FROM users WHERE {clause} ORDER BY name",
            UserRow::COLUMNS
        ))?;
        let rows = st.query_map(params_from_iter(args), UserRow::read)?;
        rows.map(|r| Ok(r?.into_record()?.user)).collect()
    }

    fn set_user_disabled(&self, scope: &Scope, id: i64, disabled: bool) -> Result<(), StoreError> {
        let conn = self.lock();
        let mut args = vec![
            SqlValue::Integer(i64::from(disabled)),
            SqlValue::Integer(id),
        ];
        let clause = scope_clause(scope, "org", &mut args);
        let n = conn.execute(
            &format!("UPDATE users SET disabled = ? WHERE id = ? AND {clause}"),
            params_from_iter(args),
        )?;
        if n == 0 {
            return Err(StoreError::NotFound {
                what: "user",
                id: id.to_string(),
            });
        }
        Ok(())
    }

    fn create_token(&self, token: &NewToken) -> Result<ApiToken, StoreError> {
        let conn = self.lock();
        let created = Timestamp::now();
        let scopes =
            serde_json::to_string(&token.scopes).map_err(|e| StoreError::Invalid(e.to_string()))?;
        conn.execute(
            "INSERT INTO api_tokens (name, org, role, token_hash, scopes, expires, created, created_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                token.name,
                token.org.as_str(),
                token.role.as_str(),
                token.token_hash,
                scopes,
                token.expires.map(Timestamp::nanos),
                created.nanos(),
                token.created_by
            ],
        )?;
        Ok(ApiToken {
            id: conn.last_insert_rowid(),
            name: token.name.clone(),
            org: token.org.clone(),
            role: token.role,
            token_hash: token.token_hash.clone(),
            scopes: token.scopes.clone(),
            expires: token.expires,
            revoked: false,
            created,
            created_by: token.created_by.clone(),
        })
    }

    fn token_for_hash(&self, hash: &str) -> Result<Option<ApiToken>, StoreError> {
        // Every token-authenticated request comes here: a reader, a cached statement.
        let conn = self.read();
        let row = conn
            .prepare_cached(&format!(
                "SELECT {} FROM api_tokens WHERE token_hash = ?1",
                TokenRow::COLUMNS
            ))?
            .query_row([hash], TokenRow::read)
            .optional()?;
        row.map(TokenRow::into_token).transpose()
    }

    fn list_tokens(&self, scope: &Scope) -> Result<Vec<ApiToken>, StoreError> {
        let conn = self.lock();
        let mut args = Vec::new();
        let clause = scope_clause(scope, "org", &mut args);
        let mut st = conn.prepare(&format!(
            "SELECT {} FROM api_tokens WHERE {clause} ORDER BY id",
            TokenRow::COLUMNS
        ))?;
        let rows = st.query_map(params_from_iter(args), TokenRow::read)?;
        rows.map(|r| r?.into_token()).collect()
    }

    fn revoke_token(&self, scope: &Scope, id: i64) -> Result<(), StoreError> {
        let conn = self.lock();
        let mut args = vec![SqlValue::Integer(id)];
        let clause = scope_clause(scope, "org", &mut args);
        let n = conn.execute(
            &format!("UPDATE api_tokens SET revoked = 1 WHERE id = ? AND {clause}"),
            params_from_iter(args),
        )?;
        if n == 0 {
            return Err(StoreError::NotFound {
                what: "token",
                id: id.to_string(),
            });
        }
        Ok(())
    }

    fn upsert_alerts(&self, alerts: &[Alert]) -> Result<usize, StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let mut n = 0;
        {
            let mut get = tx.prepare("SELECT body FROM alerts WHERE id = ?1")?;
            let mut ins = tx.prepare(
                "INSERT INTO alerts (id, org, time, detector, rule_id, severity, title, summary, body)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                 ON CONFLICT(id) DO UPDATE SET time = excluded.time, severity = excluded.severity,
                    title = excluded.title, summary = excluded.summary, body = excluded.body",
            )?;
            for a in alerts {
                let existing: Option<String> = get.query_row([&a.id], |r| r.get(0)).optional()?;
                let merged = match existing {
                    Some(body) => {
                        let mut old: Alert =
                            serde_json::from_str(&body).map_err(|e| corrupt("alerts", &a.id, e))?;
                        if old.org != a.org {
                            return Err(StoreError::Conflict(format!(
                                "alert {} belongs to another organization",
                                a.id
                            )));
                        }
                        old.absorb(a);
                        old.time = old.time.max(a.time);
                        old.summary.clone_from(&a.summary);
                        old
                    }
                    None => a.clone(),
                };
                let body = serde_json::to_string(&merged)
                    .map_err(|e| StoreError::Invalid(e.to_string()))?;
                ins.execute(params![
                    merged.id,
                    merged.org.as_str(),
                    merged.time.nanos(),
                    merged.detector.as_str(),
                    merged.rule_id,
                    severity_rank(merged.severity),
                    merged.title,
                    merged.summary,
                    body
                ])?;
                n += 1;
            }
        }
        tx.commit()?;
        Ok(n)
    }

    fn get_alert(&self, scope: &Scope, id: &str) -> Result<Option<StoredAlert>, StoreError> {
        let conn = self.read();
        let mut args = vec![SqlValue::Text(id.to_owned())];
        let clause = scope_clause(scope, "org", &mut args);
        let row = conn
            .query_row(
                &format!(
                    "SELECT id, body, status, incident_id FROM alerts WHERE id = ? AND {clause}"
                ),
                params_from_iter(args),
                read_alert,
            )
            .optional()?;
        row.map(decode_alert).transpose()
    }

    fn list_alerts(
        &self,
        scope: &Scope,
        filter: &AlertFilter,
        page: &Page,
    ) -> Result<Vec<StoredAlert>, StoreError> {
        let conn = self.read();
        let mut args = Vec::new();
        let sql = alert_page_sql(
            "id, body, status, incident_id",
            scope,
            filter,
            None,
            page,
            ScopeTest::Test,
            &mut args,
        );
        let mut st = conn.prepare_cached(&sql)?;
        let rows = st.query_map(params_from_iter(args), read_alert)?;
        rows.map(|r| decode_alert(r?)).collect()
    }

    fn visit_alerts_json(
        &self,
        scope: &Scope,
        filter: &AlertFilter,
        after: Option<&AlertCursor>,
        page: &Page,
        visit: &mut dyn FnMut(AlertJsonRef<'_>),
    ) -> Result<(), StoreError> {
        self.page_in_one_snapshot(
            scope,
            filter,
            after,
            page,
            visit,
            |_writer| Ok(()),
            |_conn, _counts, _version| Ok(()),
        )
    }

    fn read_parallelism(&self) -> usize {
        self.readers.len().max(1)
    }

    fn count_alerts(&self, scope: &Scope, filter: &AlertFilter) -> Result<u64, StoreError> {
        let mut reader = match self.read() {
            // The writer's own commits do not move its data version: no cache there.
            ReadConn::Writer(w) => return CountQuery::new(scope, filter).run(&w),
            ReadConn::Reader(r) => r,
        };
        let Reader { conn, counts, .. } = &mut *reader;
        // Read before the count: the total is of this version or a later one, so a stored
        // pair is never reused once the data moved on.
        let version = data_version(conn)?;
        cached_count(conn, counts, version, scope, filter)
    }

    fn visit_alerts_json_with_total(
        &self,
        scope: &Scope,
        filter: &AlertFilter,
        after: Option<&AlertCursor>,
        page: &Page,
        visit: &mut dyn FnMut(AlertJsonRef<'_>),
    ) -> Result<u64, StoreError> {
        // The data version read first is that of the snapshot both the page and the total are
        // read from, so a total cached under it is exactly this snapshot's.
        self.page_in_one_snapshot(
            scope,
            filter,
            after,
            page,
            visit,
            |writer| CountQuery::new(scope, filter).run(writer),
            |conn, counts, version| cached_count(conn, counts, version, scope, filter),
        )
    }

    fn alert_counts(
        &self,
        scope: &Scope,
        filter: &AlertFilter,
    ) -> Result<Vec<AlertCount>, StoreError> {
        let conn = self.read();
        let mut args = Vec::new();
        let where_ = counts_where(scope, filter, &mut args).ok_or_else(|| {
            StoreError::Invalid(
                "alert counts take organization, severity, detector, rule, status and \
                 day-aligned time filters only"
                    .into(),
            )
        })?;
        let mut st = conn.prepare(&format!(
            "SELECT org, day, severity, detector, rule_id, status, n FROM alert_counts
             WHERE {where_} AND n > 0 ORDER BY day, org, severity, detector, rule_id, status"
        ))?;
        let rows = st.query_map(params_from_iter(args), |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, i64>(6)?,
            ))
        })?;
        rows.map(|r| {
            let (org, day, sev, det, rule_id, status, n) = r?;
            let key = format!("{org}/{day}/{rule_id}");
            Ok(AlertCount {
                org: parse_org("alert_counts", &key, &org)?,
                day: Timestamp::from_nanos(day.saturating_mul(DAY_NANOS)),
                severity: usize::try_from(sev)
                    .ok()
                    .and_then(|i| Severity::ALL.get(i).copied())
                    .ok_or_else(|| corrupt("alert_counts", &key, "severity rank"))?,
                detector: serde_json::from_value(serde_json::Value::String(det))
                    .map_err(|e| corrupt("alert_counts", &key, e))?,
                rule_id,
                status: AlertStatus::parse(&status)
                    .ok_or_else(|| corrupt("alert_counts", &key, "status"))?,
                count: n.max(0) as u64,
            })
        })
        .collect()
    }

    fn set_alert_status(
        &self,
        scope: &Scope,
        id: &str,
        status: AlertStatus,
    ) -> Result<(), StoreError> {
        let conn = self.lock();
        let mut args = vec![
            SqlValue::Text(status.as_str().to_owned()),
            SqlValue::Text(id.to_owned()),
        ];
        let clause = scope_clause(scope, "org", &mut args);
        let n = conn.execute(
            &format!("UPDATE alerts SET status = ? WHERE id = ? AND {clause}"),
            params_from_iter(args),
        )?;
        if n == 0 {
            return Err(StoreError::NotFound {
                what: "alert",
                id: id.to_owned(),
            });
        }
        Ok(())
    }

    fn upsert_incident(&self, incident: &Incident) -> Result<(), StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let existing_org: Option<String> = tx
            .query_row(
                "SELECT org FROM incidents WHERE id = ?1",
                [&incident.id],
                |r| r.get(0),
            )
            .optional()?;
        if existing_org.is_some_and(|o| o != incident.org.as_str()) {
            return Err(StoreError::Conflict(format!(
                "incident {} belongs to another organization",
                incident.id
            )));
        }
        let body =
            serde_json::to_string(incident).map_err(|e| StoreError::Invalid(e.to_string()))?;
        tx.execute(
            "INSERT INTO incidents (id, org, status, severity, campaign_id, updated, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT(id) DO UPDATE SET status = excluded.status, severity = excluded.severity,
                campaign_id = excluded.campaign_id, updated = excluded.updated, body = excluded.body",
            params![
                incident.id,
                incident.org.as_str(),
                incident.status.as_str(),
                severity_rank(incident.severity),
                incident.campaign_id,
                incident.updated.nanos(),
                body
            ],
        )?;
        {
            let mut link =
                tx.prepare("UPDATE alerts SET incident_id = ?1 WHERE id = ?2 AND org = ?3")?;
            for a in &incident.alert_ids {
                link.execute(params![incident.id, a, incident.org.as_str()])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn get_incident(&self, scope: &Scope, id: &str) -> Result<Option<Incident>, StoreError> {
        let conn = self.lock();
        let mut args = vec![SqlValue::Text(id.to_owned())];
        let clause = scope_clause(scope, "org", &mut args);
        let body: Option<String> = conn
            .query_row(
                &format!("SELECT body FROM incidents WHERE id = ? AND {clause}"),
                params_from_iter(args),
                |r| r.get(0),
            )
            .optional()?;
        body.map(|b| decode_body("incidents", id, &b)).transpose()
    }

    fn list_incidents(
        &self,
        scope: &Scope,
        filter: &IncidentFilter,
        page: &Page,
    ) -> Result<Vec<Incident>, StoreError> {
        let conn = self.read();
        let mut args = Vec::new();
        let where_ = incident_where(scope, filter, &mut args);
        args.push(SqlValue::Integer(page.clamped_limit()));
        args.push(SqlValue::Integer(page.offset as i64));
        let mut st = conn.prepare_cached(&format!(
            "SELECT id, body FROM incidents WHERE {where_} ORDER BY updated DESC, id LIMIT ? OFFSET ?"
        ))?;
        let rows = st.query_map(params_from_iter(args), id_and_body)?;
        decode_rows("incidents", rows)
    }

    fn upsert_indicators(
        &self,
        org: &OrgId,
        indicators: &[Indicator],
    ) -> Result<usize, StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        {
            let mut ins = tx.prepare(
                "INSERT INTO indicators (org, kind, value, source, body) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT(org, kind, value, source) DO UPDATE SET body = excluded.body",
            )?;
            for i in indicators {
                let body =
                    serde_json::to_string(i).map_err(|e| StoreError::Invalid(e.to_string()))?;
                ins.execute(params![
                    org.as_str(),
                    i.kind.as_str(),
                    i.value,
                    i.source,
                    body
                ])?;
            }
        }
        tx.commit()?;
        Ok(indicators.len())
    }

    fn list_indicators(&self, scope: &Scope, page: &Page) -> Result<Vec<Indicator>, StoreError> {
        let conn = self.lock();
        let mut args = Vec::new();
        let clause = scope_clause(scope, "org", &mut args);
        args.push(SqlValue::Integer(page.clamped_limit()));
        args.push(SqlValue::Integer(page.offset as i64));
        let mut st = conn.prepare(&format!(
            "SELECT value, body FROM indicators WHERE {clause} ORDER BY kind, value, source LIMIT ? OFFSET ?"
        ))?;
        let rows = st.query_map(params_from_iter(args), id_and_body)?;
        decode_rows("indicators", rows)
    }

    fn count_indicators(&self, scope: &Scope) -> Result<u64, StoreError> {
        let conn = self.lock();
        let mut args = Vec::new();
        let clause = scope_clause(scope, "org", &mut args);
        let n: i64 = conn.query_row(
            &format!("SELECT COUNT(*) FROM indicators WHERE {clause}"),
            params_from_iter(args),
            |r| r.get(0),
        )?;
        Ok(n as u64)
    }

    fn append_audit(&self, record: &NewAuditRecord) -> Result<i64, StoreError> {
        let conn = self.lock();
        conn.execute(
            "INSERT INTO audit (time, actor, org, action, target, details) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                record.time.nanos(),
                record.actor,
                record.org.as_str(),
                record.action,
                record.target,
                record.details.to_string()
            ],
        )?;
        Ok(conn.last_insert_rowid())
    }

    fn list_audit(&self, scope: &Scope, page: &Page) -> Result<Vec<AuditRecord>, StoreError> {
        self.query_audit(scope, &AuditFilter::default(), page)
    }

    fn query_audit(
        &self,
        scope: &Scope,
        filter: &AuditFilter,
        page: &Page,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let conn = self.lock();
        let mut args = Vec::new();
        let where_ = audit_where(scope, filter, &mut args);
        args.push(SqlValue::Integer(page.clamped_limit()));
        args.push(SqlValue::Integer(page.offset as i64));
        let mut st = conn.prepare(&format!(
            "SELECT id, time, actor, org, action, target, details FROM audit WHERE {where_} ORDER BY id DESC LIMIT ? OFFSET ?"
        ))?;
        let rows = st.query_map(params_from_iter(args), |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, String>(6)?,
            ))
        })?;
        rows.map(|r| {
            let (id, time, actor, org, action, target, details) = r?;
            let key = id.to_string();
            Ok(AuditRecord {
                id,
                time: Timestamp::from_nanos(time),
                actor,
                org: parse_org("audit", &key, &org)?,
                action,
                target,
                details: serde_json::from_str(&details).map_err(|e| corrupt("audit", key, e))?,
            })
        })
        .collect()
    }

    fn count_audit(&self, scope: &Scope, filter: &AuditFilter) -> Result<u64, StoreError> {
        let conn = self.lock();
        let mut args = Vec::new();
        let where_ = audit_where(scope, filter, &mut args);
        let n: i64 = conn.query_row(
            &format!("SELECT COUNT(*) FROM audit WHERE {where_}"),
            params_from_iter(args),
            |r| r.get(0),
        )?;
        Ok(n as u64)
    }

    fn count_incidents(&self, scope: &Scope, filter: &IncidentFilter) -> Result<u64, StoreError> {
        let conn = self.lock();
        let mut args = Vec::new();
        let where_ = incident_where(scope, filter, &mut args);
        let n: i64 = conn.query_row(
            &format!("SELECT COUNT(*) FROM incidents WHERE {where_}"),
            params_from_iter(args),
            |r| r.get(0),
        )?;
        Ok(n as u64)
    }

    fn create_advisory(&self, scope: &Scope, new: &NewAdvisory) -> Result<Advisory, StoreError> {
        if !scope.contains(new.org.as_str()) {
            return Err(StoreError::OutOfScope(new.org.to_string()));
        }
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        {
            let mut owner = tx.prepare("SELECT org FROM alerts WHERE id = ?1")?;
            for a in &new.alert_ids {
                let org: Option<String> = owner.query_row([a], |r| r.get(0)).optional()?;
                if org.as_deref() != Some(new.org.as_str()) {
                    return Err(StoreError::NotFound {
                        what: "alert",
                        id: a.clone(),
                    });
                }
            }
        }
        let issued = AdvisoryStep {
            time: new.time,
            actor: new.actor.clone(),
            status: AdvisoryStatus::Issued,
            note: String::new(),
            measures: vec![],
        };
        let advisory = Advisory {
            id: new.id.clone(),
            org: new.org.clone(),
            title: new.title.clone(),
            summary: new.summary.clone(),
            alert_ids: new.alert_ids.clone(),
            hosts: new.hosts.clone(),
            accounts: new.accounts.clone(),
            recommended_measures: new.recommended_measures.clone(),
            due: new.due,
            status: AdvisoryStatus::Issued,
            created: new.time,
            created_by: new.actor.clone(),
            updated: new.time,
            steps: vec![issued.clone()],
        };
        let res = tx.execute(
            "INSERT INTO advisories (id, org, status, due, created, updated, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                advisory.id,
                advisory.org.as_str(),
                advisory.status.as_str(),
                advisory.due.nanos(),
                advisory.created.nanos(),
                advisory.updated.nanos(),
                advisory_body(&advisory)?
            ],
        );
        match res {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                return Err(StoreError::Conflict(format!("advisory {:?}", advisory.id)));
            }
            other => other?,
        };
        insert_step(&tx, &advisory.id, &issued)?;
        tx.commit()?;
        Ok(advisory)
    }

    fn get_advisory(&self, scope: &Scope, id: &str) -> Result<Option<Advisory>, StoreError> {
        let conn = self.lock();
        let mut args = vec![SqlValue::Text(id.to_owned())];
        let clause = scope_clause(scope, "org", &mut args);
        let body: Option<String> = conn
            .query_row(
                &format!("SELECT body FROM advisories WHERE id = ? AND {clause}"),
                params_from_iter(args),
                |r| r.get(0),
            )
            .optional()?;
        body.map(|b| load_advisory(&conn, id, &b)).transpose()
    }

    fn list_advisories(
        &self,
        scope: &Scope,
        filter: &AdvisoryFilter,
        page: &Page,
    ) -> Result<Vec<Advisory>, StoreError> {
        let conn = self.lock();
        let mut args = Vec::new();
        let where_ = advisory_where(scope, filter, &mut args);
        args.push(SqlValue::Integer(page.clamped_limit()));
        args.push(SqlValue::Integer(page.offset as i64));
        let rows: Vec<(String, String)> = {
            let mut st = conn.prepare(&format!(
                "SELECT id, body FROM advisories WHERE {where_} ORDER BY due, id LIMIT ? OFFSET ?"
            ))?;
            let rows = st.query_map(params_from_iter(args), id_and_body)?;
            rows.collect::<Result<_, _>>()?
        };
        rows.iter()
            .map(|(id, body)| load_advisory(&conn, id, body))
            .collect()
    }

    fn count_advisories(&self, scope: &Scope, filter: &AdvisoryFilter) -> Result<u64, StoreError> {
        let conn = self.lock();
        let mut args = Vec::new();
        let where_ = advisory_where(scope, filter, &mut args);
        let n: i64 = conn.query_row(
            &format!("SELECT COUNT(*) FROM advisories WHERE {where_}"),
            params_from_iter(args),
            |r| r.get(0),
        )?;
        Ok(n as u64)
    }

    fn advance_advisory(
        &self,
        scope: &Scope,
        id: &str,
        step: &AdvisoryStep,
    ) -> Result<Advisory, StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let mut args = vec![SqlValue::Text(id.to_owned())];
        let clause = scope_clause(scope, "org", &mut args);
        let body: Option<String> = tx
            .query_row(
                &format!("SELECT body FROM advisories WHERE id = ? AND {clause}"),
                params_from_iter(args),
                |r| r.get(0),
            )
            .optional()?;
        let Some(body) = body else {
            return Err(StoreError::NotFound {
                what: "advisory",
                id: id.to_owned(),
            });
        };
        let mut advisory = load_advisory(&tx, id, &body)?;
        if !advisory.status.can_move_to(step.status) {
            return Err(StoreError::Conflict(format!(
                "advisory {id} is {}; it cannot move to {}",
                advisory.status.as_str(),
                step.status.as_str()
            )));
        }
        advisory.status = step.status;
        advisory.updated = step.time;
        advisory.steps.push(step.clone());
        insert_step(&tx, id, step)?;
        tx.execute(
            "UPDATE advisories SET status = ?1, updated = ?2, body = ?3 WHERE id = ?4",
            params![
                advisory.status.as_str(),
                advisory.updated.nanos(),
                advisory_body(&advisory)?,
                id
            ],
        )?;
        tx.commit()?;
        Ok(advisory)
    }

    fn update_incident(
        &self,
        scope: &Scope,
        id: &str,
        update: &IncidentUpdate,
    ) -> Result<Incident, StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let mut args = vec![SqlValue::Text(id.to_owned())];
        let clause = scope_clause(scope, "org", &mut args);
        let body: Option<String> = tx
            .query_row(
                &format!("SELECT body FROM incidents WHERE id = ? AND {clause}"),
                params_from_iter(args),
                |r| r.get(0),
            )
            .optional()?;
        let Some(body) = body else {
            return Err(StoreError::NotFound {
                what: "incident",
                id: id.to_owned(),
            });
        };
        let mut incident: Incident = decode_body("incidents", id, &body)?;
        if let Some(next) = update.status
            && next != incident.status
        {
            if !incident.status.can_move_to(next) {
                return Err(StoreError::Conflict(format!(
                    "incident {id} is {}; it cannot move to {next}",
                    incident.status
                )));
            }
            incident.status = next;
        }
        if let Some(assignee) = &update.assignee {
            let a = assignee.trim();
            incident.assignee = (!a.is_empty()).then(|| a.to_owned());
        }
        incident.updated = update.time;
        let body =
            serde_json::to_string(&incident).map_err(|e| StoreError::Invalid(e.to_string()))?;
        tx.execute(
            "UPDATE incidents SET status = ?1, updated = ?2, body = ?3 WHERE id = ?4",
            params![incident.status.as_str(), incident.updated.nanos(), body, id],
        )?;
        tx.commit()?;
        Ok(incident)
    }

    fn incident_timeline(
        &self,
        scope: &Scope,
        id: &str,
    ) -> Result<Option<Vec<StoredAlert>>, StoreError> {
        let conn = self.lock();
        let mut args = vec![SqlValue::Text(id.to_owned())];
        let clause = scope_clause(scope, "org", &mut args);
        let exists: Option<i64> = conn
            .query_row(
                &format!("SELECT 1 FROM incidents WHERE id = ? AND {clause}"),
                params_from_iter(args),
                |r| r.get(0),
            )
            .optional()?;
        if exists.is_none() {
            return Ok(None);
        }
        let mut args = vec![SqlValue::Text(id.to_owned())];
        let clause = scope_clause(scope, "org", &mut args);
        let mut st = conn.prepare(&format!(
            "SELECT id, body, status, incident_id FROM alerts WHERE incident_id = ? AND {clause}
             ORDER BY time, id"
        ))?;
        let rows = st.query_map(params_from_iter(args), read_alert)?;
        let alerts = rows
            .map(|r| decode_alert(r?))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Some(alerts))
    }

    fn upsert_campaign(&self, campaign: &Campaign) -> Result<(), StoreError> {
        if campaign.orgs.is_empty() {
            return Err(StoreError::Invalid(format!(
                "campaign {} has no organizations",
                campaign.id
            )));
        }
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let body =
            serde_json::to_string(campaign).map_err(|e| StoreError::Invalid(e.to_string()))?;
        tx.execute(
            "INSERT INTO campaigns (id, updated, body) VALUES (?1, ?2, ?3)
             ON CONFLICT(id) DO UPDATE SET updated = excluded.updated, body = excluded.body",
            params![campaign.id, campaign.updated.nanos(), body],
        )?;
        tx.execute(
            "DELETE FROM campaign_orgs WHERE campaign_id = ?1",
            [&campaign.id],
        )?;
        {
            let mut ins = tx.prepare(
                "INSERT OR IGNORE INTO campaign_orgs (campaign_id, org) VALUES (?1, ?2)",
            )?;
            for org in &campaign.orgs {
                ins.execute(params![campaign.id, org.as_str()])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn get_campaign(&self, scope: &Scope, id: &str) -> Result<Option<Campaign>, StoreError> {
        let conn = self.lock();
        let mut args = vec![SqlValue::Text(id.to_owned())];
        let clause = scope_clause(scope, "o.org", &mut args);
        let body: Option<String> = conn
            .query_row(
                &format!(
                    "SELECT c.body FROM campaigns c WHERE c.id = ? AND c.id IN
                     (SELECT o.campaign_id FROM campaign_orgs o WHERE {clause})"
                ),
                params_from_iter(args),
                |r| r.get(0),
            )
            .optional()?;
        body.map(|b| campaign_in_scope(&conn, scope, id, &b))
            .transpose()
    }

    fn list_campaigns(&self, scope: &Scope, page: &Page) -> Result<Vec<Campaign>, StoreError> {
        let conn = self.lock();
        let mut args = Vec::new();
        let clause = scope_clause(scope, "o.org", &mut args);
        args.push(SqlValue::Integer(page.clamped_limit()));
        args.push(SqlValue::Integer(page.offset as i64));
        let rows: Vec<(String, String)> = {
            let mut st = conn.prepare(&format!(
                "SELECT c.id, c.body FROM campaigns c WHERE c.id IN
                 (SELECT o.campaign_id FROM campaign_orgs o WHERE {clause})
                 ORDER BY c.updated DESC, c.id LIMIT ? OFFSET ?"
            ))?;
            st.query_map(params_from_iter(args), id_and_body)?
                .collect::<Result<_, _>>()?
        };
        rows.iter()
            .map(|(id, body)| campaign_in_scope(&conn, scope, id, body))
            .collect()
    }
}

/// A stored campaign narrowed to `scope`: only the organizations in it and their incidents
/// (the other organizations of a campaign are not the caller's business).
fn campaign_in_scope(
    conn: &Connection,
    scope: &Scope,
    id: &str,
    body: &str,
) -> Result<Campaign, StoreError> {
    let mut c: Campaign = decode_body("campaigns", id, body)?;
    c.orgs.retain(|o| scope.contains(o.as_str()));
    let mut args = vec![SqlValue::Text(id.to_owned())];
    let clause = scope_clause(scope, "org", &mut args);
    let mut st = conn.prepare(&format!(
        "SELECT id FROM incidents WHERE campaign_id = ? AND {clause} ORDER BY id"
    ))?;
    let visible: std::collections::BTreeSet<String> = st
        .query_map(params_from_iter(args), |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    c.incident_ids.retain(|i| visible.contains(i));
    Ok(c)
}

fn audit_where(scope: &Scope, f: &AuditFilter, args: &mut Vec<SqlValue>) -> String {
    let mut conds = vec![scope_clause(scope, "org", args)];
    if let Some(org) = &f.org {
        conds.push("org = ?".into());
        args.push(SqlValue::Text(org.to_string()));
    }
    if let Some(actor) = &f.actor {
        conds.push("actor = ?".into());
        args.push(SqlValue::Text(actor.clone()));
    }
    if let Some(action) = &f.action {
        if action.ends_with('.') {
            conds.push("substr(action, 1, ?) = ?".into());
            args.push(SqlValue::Integer(action.len() as i64));
        } else {
            conds.push("action = ?".into());
        }
        args.push(SqlValue::Text(action.clone()));
    }
    if let Some(t) = f.since {
        conds.push("time >= ?".into());
        args.push(SqlValue::Integer(t.nanos()));
    }
    if let Some(t) = f.until {
        conds.push("time < ?".into());
        args.push(SqlValue::Integer(t.nanos()));
    }
    conds.join(" AND ")
}

fn incident_where(scope: &Scope, filter: &IncidentFilter, args: &mut Vec<SqlValue>) -> String {
    let mut conds = vec![scope_clause(scope, "org", args)];
    if let Some(org) = &filter.org {
        conds.push("org = ?".into());
        args.push(SqlValue::Text(org.to_string()));
    }
    if let Some(status) = filter.status {
        conds.push("status = ?".into());
        args.push(SqlValue::Text(status.as_str().into()));
    }
    if filter.open_only {
        conds.push("status != 'closed'".into());
    }
    if let Some(c) = &filter.campaign_id {
        conds.push("campaign_id = ?".into());
        args.push(SqlValue::Text(c.clone()));
    }
    conds.join(" AND ")
}

fn advisory_where(scope: &Scope, f: &AdvisoryFilter, args: &mut Vec<SqlValue>) -> String {
    let mut conds = vec![scope_clause(scope, "org", args)];
    if let Some(org) = &f.org {
        conds.push("org = ?".into());
        args.push(SqlValue::Text(org.to_string()));
    }
    if let Some(s) = f.status {
        conds.push("status = ?".into());
        args.push(SqlValue::Text(s.as_str().into()));
    }
    if f.open_only {
        conds.push("status != 'closed'".into());
    }
    if let Some(t) = f.overdue_at {
        conds.push("status != 'closed' AND due <= ?".into());
        args.push(SqlValue::Integer(t.nanos()));
    }
    conds.join(" AND ")
}

/// The stored body of an advisory: everything but the steps (kept in `advisory_steps`).
fn advisory_body(a: &Advisory) -> Result<String, StoreError> {
    let mut v = serde_json::to_value(a).map_err(|e| StoreError::Invalid(e.to_string()))?;
    if let Some(o) = v.as_object_mut() {
        o.remove("steps");
    }
    Ok(v.to_string())
}

fn load_advisory(conn: &Connection, id: &str, body: &str) -> Result<Advisory, StoreError> {
    let mut v: serde_json::Value = decode_body("advisories", id, body)?;
    let mut st = conn.prepare_cached(
        "SELECT time, actor, status, note, measures FROM advisory_steps WHERE advisory_id = ?1 ORDER BY id",
    )?;
    let rows = st.query_map([id], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, String>(4)?,
        ))
    })?;
    let mut steps = Vec::new();
    for row in rows {
        let (time, actor, status, note, measures) = row?;
        steps.push(AdvisoryStep {
            time: Timestamp::from_nanos(time),
            actor,
            status: AdvisoryStatus::parse(&status).ok_or_else(|| {
                corrupt("advisory_steps", id, format!("unknown status {status:?}"))
            })?,
            note,
            measures: serde_json::from_str(&measures)
                .map_err(|e| corrupt("advisory_steps", id, e))?,
        });
    }
    let steps = serde_json::to_value(steps).map_err(|e| StoreError::Invalid(e.to_string()))?;
    match v.as_object_mut() {
        Some(o) => {
            o.insert("steps".into(), steps);
        }
        None => return Err(corrupt("advisories", id, "body is not an object")),
    }
    serde_json::from_value(v).map_err(|e| corrupt("advisories", id, e))
}

fn insert_step(conn: &Connection, id: &str, step: &AdvisoryStep) -> Result<(), StoreError> {
    let measures =
        serde_json::to_string(&step.measures).map_err(|e| StoreError::Invalid(e.to_string()))?;
    conn.execute(
        "INSERT INTO advisory_steps (advisory_id, time, actor, status, note, measures) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![id, step.time.nanos(), step.actor, step.status.as_str(), step.note, measures],
    )?;
    Ok(())
}

/// The `alert_counts` condition equivalent to `f`, when there is one (no text filter, times
/// on UTC day boundaries).
fn counts_where(scope: &Scope, f: &AlertFilter, args: &mut Vec<SqlValue>) -> Option<String> {
    let day_of = |t: Timestamp| (t.nanos() % DAY_NANOS == 0).then(|| t.nanos() / DAY_NANOS);
    let since = f.since.map(day_of);
    let until = f.until.map(day_of);
    if f.text.is_some() || f.mentions.is_some() || since == Some(None) || until == Some(None) {
        return None;
    }
    let mut conds = alert_columns_where(scope, f, ScopeTest::Test, args);
    if let Some(Some(d)) = since {
        conds.push("day >= ?".into());
        args.push(SqlValue::Integer(d));
    }
    if let Some(Some(d)) = until {
        conds.push("day < ?".into());
        args.push(SqlValue::Integer(d));
    }
    Some(conds.join(" AND "))
}

/// The conditions the `alerts` and `alert_counts` tables share: scope, organization, minimum
/// severity, detector, rule and status.
fn alert_columns_where(
    scope: &Scope,
    f: &AlertFilter,
    scope_test: ScopeTest,
    args: &mut Vec<SqlValue>,
) -> Vec<String> {
    let mut conds = Vec::with_capacity(8);
    if let Some(s) = f.min_severity {
        conds.push("severity >= ?".into());
        args.push(SqlValue::Integer(severity_rank(s)));
    }
    if let Some(d) = f.detector {
        conds.push("detector = ?".into());
        args.push(SqlValue::Text(d.as_str().into()));
    }
    if let Some(r) = &f.rule_id {
        conds.push("rule_id = ?".into());
        args.push(SqlValue::Text(r.clone()));
    }
    if let Some(s) = f.status {
        conds.push("status = ?".into());
        args.push(SqlValue::Text(s.as_str().into()));
    }
    // The scope test comes last: SQLite tests an index entry's conditions in this order and
    // stops at the first that fails, and the scope's `IN (…)` (a probe of a temporary
    // b-tree, ≈ 2,000 instructions per entry with six organizations) is the dearest; with
    // `severity >= high` first, 60 % of the entries a filtered walk reads never reach it.
    match &f.org {
        // One organization asked for: inside the scope, `org = ?` is the whole scope test
        // (a row of that organization is in scope) and no `IN (…)` is probed at all;
        // outside the scope nothing matches.
        Some(org) if scope.contains(org.as_str()) => {
            conds.push("org = ?".into());
            args.push(SqlValue::Text(org.to_string()));
        }
        Some(_) => conds.push("0".into()),
        None if scope_test == ScopeTest::Covered => {}
        None => conds.push(scope_clause(scope, "org", args)),
    }
    conds
}

/// Whether a query tests each row's organization against the caller's scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ScopeTest {
    /// `org IN (scope)` on every row (or `org = ?` for an organization filter).
    Test,
    /// Every alert of the snapshot the query reads belongs to an organization in the scope
    /// (checked in the same read transaction, [`covers_alert_orgs`]): the test could reject
    /// nothing, so it is left out. An organization filter is still applied.
    Covered,
}

/// Whether every alert in the current read transaction's snapshot belongs to an organization
/// in `scope`, so that the list may leave its per-row scope test out ([`ScopeTest::Covered`]):
/// the common case of a center's staff, whose scope is every organization. Must run inside
/// the read transaction the list then runs in. The organizations that have alerts are read
/// from the alerts themselves (one index seek per organization, on the organization index)
/// and kept with the connection's `data_version`, which moves with any commit by another
/// connection, so they are read again only after alerts changed.
fn covers_alert_orgs(
    conn: &Connection,
    cache: &mut Option<(i64, Vec<String>)>,
    version: i64,
    scope: &Scope,
) -> Result<bool, StoreError> {
    if !matches!(cache, Some((v, _)) if *v == version) {
        let mut orgs = Vec::new();
        let mut first = conn.prepare_cached(
            "SELECT org FROM alerts INDEXED BY alerts_org_list ORDER BY org LIMIT 1",
        )?;
        let mut next = conn.prepare_cached(
            "SELECT org FROM alerts INDEXED BY alerts_org_list WHERE org > ?1 \
             ORDER BY org LIMIT 1",
        )?;
        let mut org: Option<String> = first.query_row([], |r| r.get(0)).optional()?;
        while let Some(o) = org {
            org = next.query_row([&o], |r| r.get(0)).optional()?;
            orgs.push(o);
        }
        *cache = Some((version, orgs));
    }
    let orgs = cache.as_ref().map_or(&[][..], |(_, orgs)| orgs.as_slice());
    Ok(orgs.iter().all(|o| scope.contains(o)))
}

/// Runs the page query of [`StateStore::visit_alerts_json`] on `conn`.
fn visit_page(
    conn: &Connection,
    scope: &Scope,
    filter: &AlertFilter,
    after: Option<&AlertCursor>,
    page: &Page,
    scope_test: ScopeTest,
    visit: &mut dyn FnMut(AlertJsonRef<'_>),
) -> Result<(), StoreError> {
    let mut args = Vec::new();
    let sql = alert_page_sql(
        "id, time, body, status, incident_id",
        scope,
        filter,
        after,
        page,
        scope_test,
        &mut args,
    );
    let mut st = conn.prepare_cached(&sql)?;
    let mut rows = st.query(params_from_iter(args))?;
    while let Some(r) = rows.next()? {
        // Borrowed from SQLite's row: no copy of the document.
        let id = r.get_ref(0)?.as_str().map_err(rusqlite::Error::from)?;
        let time = r.get_ref(1)?.as_i64().map_err(rusqlite::Error::from)?;
        // The document's bytes, not checked for UTF-8 (see `AlertJsonRef::body`).
        let body = r.get_ref(2)?.as_bytes().map_err(rusqlite::Error::from)?;
        let status = r.get_ref(3)?.as_str().map_err(rusqlite::Error::from)?;
        let incident_id = r
            .get_ref(4)?
            .as_str_or_null()
            .map_err(rusqlite::Error::from)?;
        // `upsert_alerts` writes every body with `serde_json::to_string(&Alert)`: an
        // object with members. Anything else would break the list it is spliced into.
        let t = body.trim_ascii();
        if !(t.starts_with(b"{") && t.ends_with(b"}") && t.len() > 2) {
            return Err(corrupt("alerts", id, "body is not a JSON object"));
        }
        let status = AlertStatus::parse(status)
            .ok_or_else(|| corrupt("alerts", id, format!("unknown status {status:?}")))?;
        visit(AlertJsonRef {
            id,
            time: Timestamp::from_nanos(time),
            status,
            incident_id,
            body,
        });
    }
    Ok(())
}

/// `PRAGMA data_version` of `conn`: it moves whenever another connection commits. Inside a
/// read transaction it also begins the transaction's snapshot, so it is that snapshot's.
fn data_version(conn: &Connection) -> Result<i64, StoreError> {
    Ok(conn
        .prepare_cached("PRAGMA data_version")?
        .query_row([], |r| r.get(0))?)
}

/// The statement of an alert total and its arguments.
struct CountQuery {
    sql: String,
    args: Vec<SqlValue>,
}

impl CountQuery {
    fn new(scope: &Scope, filter: &AlertFilter) -> CountQuery {
        let mut args = Vec::new();
        // Filters on the columns of `alert_counts` (and day-aligned times) are answered from
        // it; text and unaligned time filters need the alerts themselves.
        let (table, count, where_) = match counts_where(scope, filter, &mut args) {
            Some(w) => ("alert_counts", "COALESCE(SUM(n), 0)", w),
            None => {
                args.clear();
                (
                    "alerts",
                    "COUNT(*)",
                    alert_where(scope, filter, ScopeTest::Test, &mut args),
                )
            }
        };
        CountQuery {
            sql: format!("SELECT {count} FROM {table} WHERE {where_}"),
            args,
        }
    }

    fn run(self, conn: &Connection) -> Result<u64, StoreError> {
        let n: i64 = conn
            .prepare_cached(&self.sql)?
            .query_row(params_from_iter(self.args), |r| r.get(0))?;
        Ok(n.max(0) as u64)
    }
}

/// The alert total of `scope` and `filter` on a reader whose data version is `version`
/// (read before, or inside the same read transaction): the one kept in `counts` when it was
/// computed at this version, else counted now and kept.
fn cached_count(
    conn: &Connection,
    counts: &mut CountCache,
    version: i64,
    scope: &Scope,
    filter: &AlertFilter,
) -> Result<u64, StoreError> {
    let q = CountQuery::new(scope, filter);
    let key = count_cache_key(&q.sql, &q.args);
    if let Some(&(v, n)) = counts.get(&key)
        && v == version
    {
        return Ok(n);
    }
    let n = q.run(conn)?;
    if counts.len() >= COUNT_CACHE_ENTRIES {
        counts.clear();
    }
    counts.insert(key, (version, n));
    Ok(n)
}

/// The key of a cached alert total: the statement (generated here, it holds no U+001F) and
/// its arguments, each tagged by type and texts length-prefixed, so that two different
/// queries never share a key. Written without
/// an allocation per argument (this runs on every list request).
fn count_cache_key(sql: &str, args: &[SqlValue]) -> String {
    use std::fmt::Write as _;
    let mut key = String::with_capacity(sql.len() + args.len() * 24);
    key.push_str(sql);
    for a in args {
        // Writing into a String cannot fail.
        let _ = match a {
            // Digits and `-` only: the next argument's separator ends it.
            SqlValue::Integer(i) => write!(key, "\u{1f}i{i}"),
            SqlValue::Text(t) => write!(key, "\u{1f}t{}:{t}", t.len()),
            other => {
                let v = format!("{other:?}");
                write!(key, "\u{1f}o{}:{v}", v.len())
            }
        };
    }
    key
}

/// The alert list's page query (newest first, then id), continuing after `after`.
///
/// The index is chosen here rather than left to the planner: each of the three list indexes
/// (migration 5) is in list order after its equality prefix and carries every filter column,
/// so the walk tests filters inside the index and stops after `offset + limit` matches; only
/// the rows of the page are read from the table. Without the hint the planner may prefer an
/// `org IN (…)` range on the organization index, which then sorts every alert in scope.
fn alert_page_sql(
    columns: &str,
    scope: &Scope,
    f: &AlertFilter,
    after: Option<&AlertCursor>,
    page: &Page,
    scope_test: ScopeTest,
    args: &mut Vec<SqlValue>,
) -> String {
    // The organization index serves an `org = ?` prefix: an organization filter, or the
    // scope test of a one-organization scope (left out when the scope covers every alert).
    let org_prefix = f.org.is_some() || (scope.len() == 1 && scope_test == ScopeTest::Test);
    let index = if org_prefix {
        "alerts_org_list"
    } else if f.status.is_some() {
        "alerts_status_list"
    } else {
        "alerts_list"
    };
    let mut where_ = alert_where(scope, f, scope_test, args);
    if let Some(c) = after {
        // `time <= t` bounds the index range; the rest is decided inside it.
        where_.push_str(" AND time <= ? AND (time < ? OR id > ?)");
        args.push(SqlValue::Integer(c.time.nanos()));
        args.push(SqlValue::Integer(c.time.nanos()));
        args.push(SqlValue::Text(c.id.clone()));
    }
    args.push(SqlValue::Integer(page.clamped_limit()));
    args.push(SqlValue::Integer(page.offset.min(i64::MAX as u64) as i64));
    format!(
        "SELECT {columns} FROM alerts INDEXED BY {index} WHERE {where_} \
         ORDER BY time DESC, id LIMIT ? OFFSET ?"
    )
}

fn alert_where(
    scope: &Scope,
    f: &AlertFilter,
    scope_test: ScopeTest,
    args: &mut Vec<SqlValue>,
) -> String {
    let mut conds = alert_columns_where(scope, f, scope_test, args);
    if let Some(t) = f.since {
        conds.push("time >= ?".into());
        args.push(SqlValue::Integer(t.nanos()));
    }
    if let Some(t) = f.until {
        conds.push("time < ?".into());
        args.push(SqlValue::Integer(t.nanos()));
    }
    if let Some(text) = &f.text {
        conds.push(
            "(instr(lower(title), lower(?)) > 0 OR instr(lower(summary), lower(?)) > 0)".into(),
        );
        args.push(SqlValue::Text(text.clone()));
        args.push(SqlValue::Text(text.clone()));
    }
    if let Some(m) = &f.mentions {
        conds.push("instr(lower(body), lower(?)) > 0".into());
        args.push(SqlValue::Text(m.clone()));
    }
    if conds.is_empty() {
        // No filter and no scope test (a covering scope): every row.
        return "1".to_owned();
    }
    conds.join(" AND ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{alert, fixture_inventory};
    use rusqlite::StatementStatus;

    #[test]
    fn count_cache_keys_differ_whenever_the_query_does() {
        use SqlValue::{Integer, Null, Text};
        let cases: Vec<(&str, Vec<SqlValue>)> = vec![
            ("q", vec![]),
            ("q", vec![Integer(1)]),
            ("q", vec![Integer(12)]),
            ("q", vec![Integer(1), Integer(2)]),
            ("q", vec![Integer(-1)]),
            ("q", vec![Text("1".into())]),
            ("q", vec![Text("1\u{1f}i2".into())]),
            ("q", vec![Text("1".into()), Integer(2)]),
            ("q", vec![Text("".into()), Text("".into())]),
            ("q", vec![Text("".into())]),
            ("q", vec![Null]),
            ("r", vec![Integer(1)]),
        ];
        let keys: std::collections::HashSet<String> = cases
            .iter()
            .map(|(sql, args)| count_cache_key(sql, args))
            .collect();
        assert_eq!(keys.len(), cases.len());
        assert_eq!(
            count_cache_key("q", &[Integer(-3), Text("a:b".into())]),
            "q\u{1f}i-3\u{1f}t3:a:b"
        );
    }

    #[test]
    fn sqlite_is_built_with_the_repository_options() {
        // `.cargo/config.toml` (`LIBSQLITE3_FLAGS`) sets these for every build; a build
        // without them (the variable lost, or libsqlite3-sys ignoring it) shows here.
        let conn = Connection::open_in_memory().unwrap();
        let mut st = conn.prepare("PRAGMA compile_options").unwrap();
        let opts: Vec<String> = st
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        // No memory statistics: no global mutex around every SQLite allocation.
        assert!(opts.iter().any(|o| o == "DEFAULT_MEMSTATUS=0"), "{opts:?}");
        // No shared page-cache group: each connection's page cache has no mutex.
        assert!(
            !opts.iter().any(|o| o == "ENABLE_MEMORY_MANAGEMENT"),
            "{opts:?}"
        );
        assert!(
            opts.iter().any(|o| o == "LIKE_DOESNT_MATCH_BLOBS"),
            "{opts:?}"
        );
    }

    #[test]
    fn list_pages_reuse_their_compiled_statement() {
        // A cached statement that SQLite compiles again on every execution (a bound value
        // the planner looked at) costs a sixth of a list request: each shape is compiled
        // once per connection and then only rebound.
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(&dir.path().join("state.db")).unwrap();
        s.replace_orgs(fixture_inventory().orgs()).unwrap();
        let alerts: Vec<_> = (0..30)
            .map(|k| {
                alert(
                    &format!("a{k:02}"),
                    ["moh", "mof"][k % 2],
                    k as i64,
                    Severity::High,
                )
            })
            .collect();
        s.upsert_alerts(&alerts).unwrap();
        let filters = [
            AlertFilter::default(),
            AlertFilter {
                min_severity: Some(Severity::High),
                status: Some(AlertStatus::New),
                ..Default::default()
            },
        ];
        for scope in [
            fixture_inventory().visible_from("central"),
            fixture_inventory().visible_from("moh"),
        ] {
            for f in &filters {
                for (limit, offset) in [(10, 0), (10, 0), (5, 3), (10, 0)] {
                    let page = Page { offset, limit };
                    let mut n = 0;
                    s.visit_alerts_json(&scope, f, None, &page, &mut |_| n += 1)
                        .unwrap();
                    assert!(n > 0);
                }
            }
        }
        // Sequential calls use the first reader.
        let reader = s.readers[0].lock().unwrap();
        let mut checked = 0;
        for scope in [
            fixture_inventory().visible_from("central"),
            fixture_inventory().visible_from("moh"),
        ] {
            for f in &filters {
                for test in [ScopeTest::Test, ScopeTest::Covered] {
                    let sql = alert_page_sql(
                        "id, time, body, status, incident_id",
                        &scope,
                        f,
                        None,
                        &Page::first(10),
                        test,
                        &mut Vec::new(),
                    );
                    let st = reader.conn.prepare_cached(&sql).unwrap();
                    if st.get_status(StatementStatus::VmStep) > 0 {
                        assert_eq!(st.get_status(StatementStatus::RePrepare), 0, "{sql}");
                        checked += 1;
                    }
                }
            }
        }
        // Only moh and mof have alerts: central's scope covers both (its lists leave the
        // scope test out), moh's does not (its lists test it).
        assert!(checked >= 3, "{checked} statements checked");
    }
}
