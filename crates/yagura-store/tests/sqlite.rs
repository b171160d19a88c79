//! The backend suite on SQLite, in memory and on disk, plus SQLite-specific checks.

mod in_memory {
    yagura_store::state_store_suite!(yagura_store::SqliteStore::in_memory().unwrap());
}

mod on_disk {
    yagura_store::state_store_suite!({
        // Each test gets its own file; the directory lives as long as the process (tests are short).
        let dir = tempfile::tempdir().unwrap().keep();
        yagura_store::SqliteStore::open(&dir.join("state.db")).unwrap()
    });
}

use yagura_store::testing::*;
use yagura_store::{NewAuditRecord, SqliteStore, StateStore};

#[test]
fn migrations_are_idempotent_and_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    {
        let s = SqliteStore::open(&path).unwrap();
        s.replace_orgs(fixture_inventory().orgs()).unwrap();
        s.upsert_alerts(&[alert(
            "a1",
            "moh",
            1,
            yagura_store::yagura_model::Severity::Low,
        )])
        .unwrap();
    }
    let s = SqliteStore::open(&path).unwrap();
    assert_eq!(s.schema_version().unwrap(), 5);
    let scope = fixture_inventory().visible_from("moh");
    assert!(s.get_alert(&scope, "a1").unwrap().is_some());
}

#[test]
fn audit_rows_cannot_be_changed_or_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let s = SqliteStore::open(&path).unwrap();
    s.append_audit(&NewAuditRecord {
        time: yagura_store::yagura_model::Timestamp::from_secs(1),
        actor: "a".into(),
        org: org("moh"),
        action: "x".into(),
        target: "t".into(),
        details: yagura_store::serde_json::Value::Null,
    })
    .unwrap();
    drop(s);
    // Even a direct connection bypassing the trait cannot rewrite history.
    let conn = yagura_store::rusqlite::Connection::open(&path).unwrap();
    let upd = conn.execute("UPDATE audit SET actor = 'mallory'", []);
    assert!(upd.unwrap_err().to_string().contains("append-only"));
    let del = conn.execute("DELETE FROM audit", []);
    assert!(del.unwrap_err().to_string().contains("append-only"));
}

#[test]
fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    drop(SqliteStore::open(&path).unwrap());
    yagura_store::rusqlite::Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    let err = SqliteStore::open(&path).unwrap_err();
    assert!(
        matches!(
            err,
            yagura_store::StoreError::SchemaTooNew { found: 99, .. }
        ),
        "{err}"
    );
}

mod scope_properties {
    use proptest::prelude::*;
    use yagura_store::testing::*;
    use yagura_store::{AlertFilter, Page, SqliteStore, StateStore};

    const ORGS: [&str; 6] = ["central", "delegated", "moh", "mof", "pension", "power"];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        #[test]
        fn scoped_queries_return_only_scope_rows(
            owners in proptest::collection::vec(0usize..6, 1..60),
            viewer in 0usize..6,
        ) {
            let s = SqliteStore::in_memory().unwrap();
            let alerts: Vec<_> = owners.iter().enumerate()
                .map(|(i, o)| alert(&format!("a{i}"), ORGS[*o], i as i64, yagura_store::yagura_model::Severity::Low))
                .collect();
            s.upsert_alerts(&alerts).unwrap();
            let scope = fixture_inventory().visible_from(ORGS[viewer]);
            let got = s.list_alerts(&scope, &AlertFilter::default(), &Page::first(1000)).unwrap();
            let expected = owners.iter().filter(|o| scope.contains(ORGS[**o])).count();
            prop_assert_eq!(got.len(), expected);
            prop_assert!(got.iter().all(|a| scope.contains(a.alert.org.as_str())));
        }
    }
}

#[test]
fn a_version_1_database_migrates_to_the_latest_keeping_its_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    {
        // Build a version-1 database by hand: only migration 1's tables, user_version = 1.
        let s = SqliteStore::open(&path).unwrap();
        s.upsert_alerts(&[alert(
            "a1",
            "moh",
            1,
            yagura_store::yagura_model::Severity::Low,
        )])
        .unwrap();
        drop(s);
        let conn = yagura_store::rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "DROP TRIGGER alert_counts_insert; DROP TRIGGER alert_counts_update;
             DROP TRIGGER alert_counts_delete; DROP TABLE alert_counts;
             DROP TABLE campaign_orgs; DROP TABLE campaigns; DROP INDEX incidents_campaign;
             DROP INDEX alerts_incident;
             DROP TABLE advisory_steps; DROP TABLE advisories; DROP INDEX audit_time;
             DROP INDEX alerts_list; DROP INDEX alerts_org_list; DROP INDEX alerts_status_list;
             CREATE INDEX alerts_org_time ON alerts(org, time DESC, id);
             CREATE INDEX alerts_time ON alerts(time DESC, id);
             PRAGMA user_version = 1;",
        )
        .unwrap();
    }
    let s = SqliteStore::open(&path).unwrap();
    assert_eq!(s.schema_version().unwrap(), 5);
    let scope = fixture_inventory().visible_from("moh");
    assert!(s.get_alert(&scope, "a1").unwrap().is_some());
    // Migration 3 counted the alerts already there.
    let all = yagura_store::AlertFilter::default();
    assert_eq!(s.count_alerts(&scope, &all).unwrap(), 1);
    assert_eq!(s.alert_counts(&scope, &all).unwrap()[0].count, 1);
    // Migration 5's list indexes serve the page queries.
    let page = s
        .list_alerts_json(&scope, &all, None, &yagura_store::Page::first(10))
        .unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].id, "a1");
    assert_eq!(
        s.count_advisories(&scope, &yagura_store::AdvisoryFilter::default())
            .unwrap(),
        0
    );
}

#[test]
fn advisory_steps_cannot_be_changed_or_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let s = SqliteStore::open(&path).unwrap();
    s.replace_orgs(fixture_inventory().orgs()).unwrap();
    s.create_advisory(
        &fixture_inventory().visible_from("central"),
        &yagura_store::NewAdvisory {
            id: "adv".into(),
            org: org("moh"),
            title: "t".into(),
            summary: "s".into(),
            alert_ids: vec![],
            hosts: vec![],
            accounts: vec![],
            recommended_measures: vec![],
            due: yagura_store::yagura_model::Timestamp::from_secs(10),
            time: yagura_store::yagura_model::Timestamp::from_secs(1),
            actor: "a".into(),
        },
    )
    .unwrap();
    drop(s);
    let conn = yagura_store::rusqlite::Connection::open(&path).unwrap();
    let upd = conn.execute("UPDATE advisory_steps SET actor = 'mallory'", []);
    assert!(upd.unwrap_err().to_string().contains("append-only"));
    let del = conn.execute("DELETE FROM advisory_steps", []);
    assert!(del.unwrap_err().to_string().contains("append-only"));
}

#[test]
fn a_covering_scope_notices_alerts_another_connection_commits() {
    // The list leaves its scope test out while every alert belongs to the caller's scope;
    // an alert of another organization committed through another connection (another
    // process, in production) must be noticed by every reader at once.
    use yagura_store::yagura_model::Severity;
    use yagura_store::{AlertFilter, Page};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let s = SqliteStore::open(&path).unwrap();
    s.replace_orgs(fixture_inventory().orgs()).unwrap();
    s.upsert_alerts(&[alert("p1", "pension", 1, Severity::Low)])
        .unwrap();
    let delegated = fixture_inventory().visible_from("delegated");
    let listed = |s: &SqliteStore| -> Vec<String> {
        s.list_alerts_json(&delegated, &AlertFilter::default(), None, &Page::first(100))
            .unwrap()
            .into_iter()
            .map(|a| a.id)
            .collect()
    };
    for _ in 0..8 {
        assert_eq!(listed(&s), ["p1"]);
    }
    let other = SqliteStore::open(&path).unwrap();
    other
        .upsert_alerts(&[alert("m1", "moh", 2, Severity::Critical)])
        .unwrap();
    // Readers are used concurrently: ask from several threads so that every reader
    // connection (each with its own cache) answers at least once.
    std::thread::scope(|t| {
        for _ in 0..8 {
            t.spawn(|| {
                for _ in 0..50 {
                    assert_eq!(listed(&s), ["p1"]);
                }
            });
        }
    });
    assert_eq!(
        s.list_alerts_json(
            &fixture_inventory().visible_from("central"),
            &AlertFilter::default(),
            None,
            &Page::first(100)
        )
        .unwrap()
        .into_iter()
        .map(|a| a.id)
        .collect::<Vec<_>>(),
        ["m1", "p1"]
    );
}
