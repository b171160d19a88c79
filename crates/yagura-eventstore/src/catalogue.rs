//! The split catalogue: SQLite tables with the published splits, the write-ahead-log
//! checkpoint and the published batch ids — in the platform's state database (`yagura` opens
//! its stores so, as DESIGN.md places the segment catalogue there), or in `catalogue.sqlite`
//! inside the store's directory for a store on its own (tests, benches, the demo). The
//! `store_identity` row binds the catalogue to one store directory (its `store-id` file, see
//! `EventStore::open`), so that a directory is never opened against another store's catalogue.
//!
//! A split exists for readers exactly when its row exists. Publishing new splits and moving
//! the checkpoint happen in one transaction, which is what makes WAL → store exactly-once: a
//! crash before the commit leaves an unreferenced split directory (deleted on open) and the
//! events are replayed from the log; a crash after it leaves them published and below the
//! checkpoint, so they are not replayed.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};
use yagura_model::{OrgId, Scope, Timestamp};

/// A published split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitMeta {
    /// Directory name under `splits/<org>/`.
    pub id: String,
    pub org: OrgId,
    /// Smallest and largest `@timestamp` in the split (inclusive).
    pub min_ts: Timestamp,
    pub max_ts: Timestamp,
    pub num_docs: u64,
    /// Bytes on disk (sum of the split's files).
    pub bytes: u64,
    /// Number of merges behind this split (0 for a freshly built one).
    pub generation: u32,
    /// Split format (`crate::split::FORMAT`; 1 for splits published before the column
    /// existed). Only splits of one format are merged together.
    pub format: u32,
}

/// Errors of the catalogue database.
#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    #[error("split catalogue database: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("split catalogue holds an invalid organization id {0:?}")]
    BadOrg(String),
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS splits (
    id         TEXT PRIMARY KEY,
    org        TEXT NOT NULL,
    min_ts     INTEGER NOT NULL,
    max_ts     INTEGER NOT NULL,
    num_docs   INTEGER NOT NULL,
    bytes      INTEGER NOT NULL,
    generation INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS splits_org_time ON splits (org, max_ts, min_ts);
CREATE TABLE IF NOT EXISTS wal_checkpoint (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    lsn INTEGER NOT NULL
);
-- Batch ids of published batches: a client retry of a batch whose WAL segment is gone is
-- still recognized (the WAL's own index only covers the retained segments).
CREATE TABLE IF NOT EXISTS batches (
    id        BLOB PRIMARY KEY,
    first_lsn INTEGER NOT NULL,
    count     INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS batches_lsn ON batches (first_lsn);
-- The store directory this catalogue describes (its `store-id` file's content).
CREATE TABLE IF NOT EXISTS store_identity (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    store_id TEXT NOT NULL
);
";

/// A published batch: its id, first LSN and record count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedBatch {
    pub id: Vec<u8>,
    pub first_lsn: u64,
    pub count: u32,
}

/// The catalogue connection.
#[derive(Debug)]
pub struct Catalogue {
    conn: Connection,
}

type RawRow = (String, String, i64, i64, i64, i64, i64, i64);

fn raw_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<RawRow> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
        row.get(6)?,
        row.get(7)?,
    ))
}

impl Catalogue {
    /// Opens (or creates) the catalogue at `path`. `synchronous = FULL`: a published split
    /// survives power loss once `publish` returns.
    pub fn open(path: &Path) -> Result<Catalogue, CatalogueError> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.execute_batch(SCHEMA)?;
        // Catalogues from before split format 2: every split they list is format 1.
        let has_format: bool = conn.query_row(
            "SELECT count(*) FROM pragma_table_info('splits') WHERE name = 'format'",
            [],
            |r| r.get::<_, i64>(0).map(|n| n > 0),
        )?;
        if !has_format {
            conn.execute_batch("ALTER TABLE splits ADD COLUMN format INTEGER NOT NULL DEFAULT 1")?;
        }
        Ok(Catalogue { conn })
    }

    /// The id of the store directory this catalogue describes (`None`: not bound yet).
    pub fn store_id(&self) -> Result<Option<String>, CatalogueError> {
        Ok(self
            .conn
            .query_row(
                "SELECT store_id FROM store_identity WHERE id = 1",
                [],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Binds the catalogue to the store directory `id`.
    pub fn set_store_id(&self, id: &str) -> Result<(), CatalogueError> {
        self.conn.execute(
            "INSERT OR REPLACE INTO store_identity (id, store_id) VALUES (1, ?1)",
            params![id],
        )?;
        Ok(())
    }

    /// Copies every row of the catalogue database at `from` (splits, checkpoint, batch ids)
    /// into this one and binds it to `store_id`, in one transaction: a store's own
    /// `catalogue.sqlite` moving into the state database. `from` is opened first so that its
    /// schema is current.
    pub fn import(&mut self, from: &Path, store_id: &str) -> Result<(), CatalogueError> {
        drop(Catalogue::open(from)?);
        let from = from.to_string_lossy().into_owned();
        self.conn
            .execute("ATTACH DATABASE ?1 AS moving", params![from])?;
        let copied = (|| -> Result<(), CatalogueError> {
            let tx = self.conn.transaction()?;
            tx.execute_batch(
                "INSERT INTO splits (id, org, min_ts, max_ts, num_docs, bytes, generation, format)
                     SELECT id, org, min_ts, max_ts, num_docs, bytes, generation, format
                     FROM moving.splits;
                 INSERT OR REPLACE INTO wal_checkpoint (id, lsn)
                     SELECT id, lsn FROM moving.wal_checkpoint;
                 INSERT OR REPLACE INTO batches (id, first_lsn, count)
                     SELECT id, first_lsn, count FROM moving.batches;",
            )?;
            tx.execute(
                "INSERT OR REPLACE INTO store_identity (id, store_id) VALUES (1, ?1)",
                params![store_id],
            )?;
            tx.commit()?;
            Ok(())
        })();
        let detached = self.conn.execute("DETACH DATABASE moving", []);
        copied?;
        detached?;
        Ok(())
    }

    /// Whether the catalogue lists no split and no checkpoint (a new store).
    pub fn is_empty(&self) -> Result<bool, CatalogueError> {
        let n: i64 = self.conn.query_row(
            "SELECT (SELECT count(*) FROM splits) + (SELECT count(*) FROM wal_checkpoint)",
            [],
            |r| r.get(0),
        )?;
        Ok(n == 0)
    }

    /// The LSN of the last write-ahead-log record stored in a published split (0: none).
    pub fn checkpoint(&self) -> Result<u64, CatalogueError> {
        let lsn: Option<i64> = self
            .conn
            .query_row("SELECT lsn FROM wal_checkpoint WHERE id = 1", [], |r| {
                r.get(0)
            })
            .optional()?;
        Ok(lsn.unwrap_or(0).max(0) as u64)
    }

    /// The published batch `id`, if any.
    pub fn batch(&self, id: &[u8]) -> Result<Option<PublishedBatch>, CatalogueError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT first_lsn, count FROM batches WHERE id = ?1")?;
        let row = stmt
            .query_row(params![id], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
            })
            .optional()?;
        Ok(row.map(|(first, count)| PublishedBatch {
            id: id.to_vec(),
            first_lsn: first.max(0) as u64,
            count: count.clamp(0, i64::from(u32::MAX)) as u32,
        }))
    }

    /// Forgets published batch ids whose records are all below `lsn` (bounds the table: a
    /// retry older than that is no longer recognized).
    pub fn forget_batches_before(&mut self, lsn: u64) -> Result<usize, CatalogueError> {
        Ok(self.conn.execute(
            "DELETE FROM batches WHERE first_lsn + count <= ?1",
            params![lsn as i64],
        )?)
    }

    /// Publishes `added`, removes `removed` and (if given) moves the checkpoint, atomically.
    pub fn publish(
        &mut self,
        added: &[SplitMeta],
        removed: &[String],
        checkpoint: Option<u64>,
    ) -> Result<(), CatalogueError> {
        self.publish_batches(added, removed, checkpoint, &[])
    }

    /// [`Catalogue::publish`], also recording the ids of the batches the new splits hold.
    pub fn publish_batches(
        &mut self,
        added: &[SplitMeta],
        removed: &[String],
        checkpoint: Option<u64>,
        batches: &[PublishedBatch],
    ) -> Result<(), CatalogueError> {
        let tx = self.conn.transaction()?;
        {
            let mut ins = tx.prepare_cached(
                "INSERT OR IGNORE INTO batches (id, first_lsn, count) VALUES (?1, ?2, ?3)",
            )?;
            for b in batches {
                ins.execute(params![b.id, b.first_lsn as i64, i64::from(b.count)])?;
            }
        }
        {
            let mut ins = tx.prepare_cached(
                "INSERT INTO splits (id, org, min_ts, max_ts, num_docs, bytes, generation, format)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?;
            for s in added {
                ins.execute(params![
                    s.id,
                    s.org.as_str(),
                    s.min_ts.nanos(),
                    s.max_ts.nanos(),
                    s.num_docs as i64,
                    s.bytes as i64,
                    i64::from(s.generation),
                    i64::from(s.format)
                ])?;
            }
            let mut del = tx.prepare_cached("DELETE FROM splits WHERE id = ?1")?;
            for id in removed {
                del.execute(params![id])?;
            }
            if let Some(lsn) = checkpoint {
                tx.execute(
                    "INSERT INTO wal_checkpoint (id, lsn) VALUES (1, ?1)
                     ON CONFLICT(id) DO UPDATE SET lsn = max(lsn, excluded.lsn)",
                    params![lsn as i64],
                )?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn collect(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
    ) -> Result<Vec<SplitMeta>, CatalogueError> {
        let mut stmt = self.conn.prepare_cached(sql)?;
        let rows = stmt.query_map(params, raw_row)?;
        let mut out = Vec::new();
        for r in rows {
            let (id, org, min_ts, max_ts, num_docs, bytes, generation, format) = r?;
            let org = OrgId::new(&org).map_err(|_| CatalogueError::BadOrg(org))?;
            out.push(SplitMeta {
                id,
                org,
                min_ts: Timestamp::from_nanos(min_ts),
                max_ts: Timestamp::from_nanos(max_ts),
                num_docs: num_docs.max(0) as u64,
                bytes: bytes.max(0) as u64,
                generation: generation.clamp(0, i64::from(u32::MAX)) as u32,
                format: format.clamp(0, i64::from(u32::MAX)) as u32,
            });
        }
        Ok(out)
    }

    /// All splits, ordered by organization then time.
    pub fn all(&self) -> Result<Vec<SplitMeta>, CatalogueError> {
        self.collect(
            "SELECT id, org, min_ts, max_ts, num_docs, bytes, generation, format FROM splits
             ORDER BY org, min_ts, id",
            [],
        )
    }

    /// The organizations that have published splits.
    pub fn orgs(&self) -> Result<Vec<OrgId>, CatalogueError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT DISTINCT org FROM splits ORDER BY org")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        let mut out = Vec::new();
        for r in rows {
            let org = r?;
            out.push(OrgId::new(&org).map_err(|_| CatalogueError::BadOrg(org))?);
        }
        Ok(out)
    }

    /// The splits of one organization, oldest first.
    pub fn of_org(&self, org: &OrgId) -> Result<Vec<SplitMeta>, CatalogueError> {
        self.collect(
            "SELECT id, org, min_ts, max_ts, num_docs, bytes, generation, format FROM splits
             WHERE org = ?1 ORDER BY max_ts, id",
            params![org.as_str()],
        )
    }

    /// The splits a hunt must open: organization in `scope` and time overlapping
    /// `[from, to)`. Everything else is pruned here, without touching the split.
    pub fn prune(
        &self,
        scope: &Scope,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
    ) -> Result<Vec<SplitMeta>, CatalogueError> {
        let from = from.map_or(i64::MIN, Timestamp::nanos);
        let to = to.map_or(i64::MAX, Timestamp::nanos);
        let mut out = Vec::new();
        for org in scope.iter() {
            out.extend(self.collect(
                "SELECT id, org, min_ts, max_ts, num_docs, bytes, generation, format FROM splits
                 WHERE org = ?1 AND max_ts >= ?2 AND min_ts < ?3 ORDER BY min_ts, id",
                params![org.as_str(), from, to],
            )?);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(id: &str, org: &str, min: i64, max: i64) -> SplitMeta {
        SplitMeta {
            id: id.into(),
            org: OrgId::new(org).unwrap(),
            min_ts: Timestamp::from_secs(min),
            max_ts: Timestamp::from_secs(max),
            num_docs: 10,
            bytes: 100,
            generation: 0,
            format: 2,
        }
    }

    #[test]
    fn publish_prune_and_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = Catalogue::open(&dir.path().join("c.sqlite")).unwrap();
        assert_eq!(c.checkpoint().unwrap(), 0);
        c.publish(
            &[
                meta("a1", "org-a", 0, 99),
                meta("a2", "org-a", 100, 199),
                meta("b1", "org-b", 0, 199),
            ],
            &[],
            Some(42),
        )
        .unwrap();
        assert_eq!(c.checkpoint().unwrap(), 42);
        // The checkpoint never moves backwards.
        c.publish(&[], &[], Some(7)).unwrap();
        assert_eq!(c.checkpoint().unwrap(), 42);

        let check = |scope: &[&str], from: Option<i64>, to: Option<i64>, expect: &[&str]| {
            let scope = Scope::orgs(scope.iter().map(|o| OrgId::new(o).unwrap()).collect());
            let got = c
                .prune(
                    &scope,
                    from.map(Timestamp::from_secs),
                    to.map(Timestamp::from_secs),
                )
                .unwrap();
            let ids: Vec<&str> = got.iter().map(|s| s.id.as_str()).collect();
            assert_eq!(ids, expect, "scope {scope:?} {from:?}..{to:?}");
        };
        check(&["org-a"], None, None, &["a1", "a2"]);
        check(&["org-a", "org-b"], Some(150), None, &["a2", "b1"]);
        check(&["org-a"], Some(50), Some(100), &["a1"]);
        check(&["org-a"], Some(99), Some(100), &["a1"]);
        check(&["org-a"], Some(200), None, &[]);
        check(&["org-c"], None, None, &[]);
        check(&[], None, None, &[]);

        c.publish(
            &[meta("a3", "org-a", 0, 199)],
            &["a1".into(), "a2".into()],
            None,
        )
        .unwrap();
        let ids: Vec<String> = c.all().unwrap().into_iter().map(|s| s.id).collect();
        assert_eq!(ids, ["a3", "b1"]);
    }

    #[test]
    fn failed_publish_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = Catalogue::open(&dir.path().join("c.sqlite")).unwrap();
        c.publish(&[meta("a1", "org-a", 0, 1)], &[], Some(1))
            .unwrap();
        // Duplicate primary key: the whole transaction (including the checkpoint) rolls back.
        let err = c.publish(
            &[meta("a2", "org-a", 0, 1), meta("a1", "org-a", 0, 1)],
            &[],
            Some(9),
        );
        assert!(err.is_err());
        assert_eq!(c.checkpoint().unwrap(), 1);
        assert_eq!(c.all().unwrap().len(), 1);
    }

    #[test]
    fn catalogues_without_a_format_column_list_format_1_splits() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.sqlite");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(
                "CREATE TABLE splits (id TEXT PRIMARY KEY, org TEXT NOT NULL,
                    min_ts INTEGER NOT NULL, max_ts INTEGER NOT NULL, num_docs INTEGER NOT NULL,
                    bytes INTEGER NOT NULL, generation INTEGER NOT NULL DEFAULT 0);
                 INSERT INTO splits VALUES ('g0-x', 'org-a', 1, 2, 3, 4, 0);",
            )
            .unwrap();
        }
        let mut c = Catalogue::open(&path).unwrap();
        let all = c.all().unwrap();
        assert_eq!((all.len(), all[0].format), (1, 1));
        c.publish(&[meta("s2", "org-a", 5, 6)], &[], None).unwrap();
        drop(c);
        // Reopening does not migrate twice.
        let c = Catalogue::open(&path).unwrap();
        let formats: Vec<u32> = c.all().unwrap().iter().map(|s| s.format).collect();
        assert_eq!(formats, [1, 2]);
    }
}
