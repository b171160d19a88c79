//! The backend test suite, as a macro: `state_store_suite!(make_store_expr)` expands every
//! behavioural test of [`crate::StateStore`] for one backend. SQLite runs it in
//! `tests/sqlite.rs`; a PostgreSQL backend runs the same macro.

use yagura_model::{
    Alert, Campaign, Detector, Entities, EvidenceRef, Incident, IncidentStatus, Indicator,
    IndicatorKind, Inventory, OrgId, Severity, Timestamp, Tlp,
};

/// The estate the suite runs on: central ⊃ {delegated ⊃ {pension, power}, moh, mof}.
pub fn fixture_inventory() -> Inventory {
    Inventory::from_toml(
        r#"
        [[org]]
        id = "central"
        name = "Central"
        kind = "center"
        [[org]]
        id = "delegated"
        name = "Delegated"
        kind = "center"
        monitored_by = "central"
        [[org]]
        id = "moh"
        name = "Ministry of Health"
        kind = "ministry"
        monitored_by = "central"
        [[org]]
        id = "mof"
        name = "Ministry of Finance"
        kind = "ministry"
        monitored_by = "central"
        [[org]]
        id = "pension"
        name = "Pension agency"
        kind = "agency"
        monitored_by = "delegated"
        [[org]]
        id = "power"
        name = "Power company"
        kind = "designated-corporation"
        monitored_by = "delegated"
        "#,
    )
    .expect("fixture inventory is valid")
}

pub fn org(id: &str) -> OrgId {
    OrgId::new(id).expect("fixture org id")
}

/// An alert of `org` at `secs` past a fixed epoch.
pub fn alert(id: &str, org_id: &str, secs: i64, severity: Severity) -> Alert {
    let t = Timestamp::from_secs(1_767_571_200 + secs);
    Alert {
        id: id.to_owned(),
        time: t,
        org: org(org_id),
        detector: Detector::Analytic,
        rule_id: "beacon.periodic".into(),
        title: format!("Beacon {id}"),
        severity,
        attack: vec![],
        entities: Entities {
            host: Some(format!("pc-{id}")),
            ..Default::default()
        },
        first_seen: t,
        last_seen: t,
        count: 1,
        evidence: vec![EvidenceRef {
            file: format!("{org_id}/proxy/access.log"),
            line: secs as u64,
        }],
        summary: format!("summary of {id}"),
        retrospective: false,
        context: Default::default(),
    }
}

pub fn incident(id: &str, org_id: &str, status: IncidentStatus, alert_ids: &[&str]) -> Incident {
    let t = Timestamp::from_secs(1_767_571_200);
    Incident {
        id: id.to_owned(),
        org: org(org_id),
        title: format!("Incident {id}"),
        severity: Severity::High,
        status,
        assignee: None,
        first_seen: t,
        last_seen: t,
        created: t,
        updated: t,
        alert_ids: alert_ids.iter().map(|s| s.to_string()).collect(),
        hosts: vec![],
        users: vec![],
        destinations: vec![],
        campaign_id: None,
    }
}

/// A campaign over `incident_ids` of `orgs`.
pub fn campaign(id: &str, orgs: &[&str], incident_ids: &[&str]) -> Campaign {
    let t = Timestamp::from_secs(1_767_571_200);
    Campaign {
        id: id.to_owned(),
        title: format!("Campaign {id}"),
        severity: Severity::High,
        first_seen: t,
        last_seen: t,
        created: t,
        updated: t,
        infrastructure: vec!["cdn-upd.example".into()],
        orgs: orgs.iter().map(|o| org(o)).collect(),
        incident_ids: incident_ids.iter().map(|s| s.to_string()).collect(),
    }
}

pub fn indicator(value: &str) -> Indicator {
    Indicator {
        kind: IndicatorKind::Domain,
        value: value.to_owned(),
        port: None,
        source: "test-feed".into(),
        confidence: 80,
        tlp: Tlp::Green,
        first_seen: None,
        last_seen: None,
        valid_from: None,
        valid_until: None,
        tags: vec![],
        to_ids: true,
        description: None,
    }
}

/// Expands the whole backend suite. `$make` is an expression returning a fresh, empty store
/// (a value implementing `StateStore`). Invoke it inside a module of its own.
#[macro_export]
macro_rules! state_store_suite {
    ($make:expr) => {
        #[allow(unused_imports)]
        use $crate::testing::*;
        #[allow(unused_imports)]
        use $crate::{
            AdvisoryFilter, AdvisoryStatus, AdvisoryStep, AlertFilter, AlertStatus, AuditFilter,
            IncidentFilter, IncidentUpdate, NewAdvisory, NewAuditRecord, NewToken, NewUser, Page, StateStore,
            StoreError,
        };
        #[allow(unused_imports)]
        use $crate::yagura_model::{IncidentStatus, Role, Scope, Severity, Timestamp};

        fn store() -> impl StateStore {
            let s = $make;
            s.replace_orgs(fixture_inventory().orgs()).expect("load fixture orgs");
            s
        }

        fn scope_of(id: &str) -> Scope {
            fixture_inventory().visible_from(id)
        }

        fn ids<T>(items: &[T], id: impl Fn(&T) -> String) -> Vec<String> {
            let mut v: Vec<String> = items.iter().map(id).collect();
            v.sort();
            v
        }

        #[test]
        fn orgs_are_listed_by_scope() {
            let s = store();
            let central = s.list_orgs(&scope_of("central")).unwrap();
            assert_eq!(central.len(), 6);
            let del = s.list_orgs(&scope_of("delegated")).unwrap();
            assert_eq!(ids(&del, |o| o.id.to_string()), ["delegated", "pension", "power"]);
            assert!(s.list_orgs(&Scope::none()).unwrap().is_empty());
        }

        #[test]
        fn users_create_login_and_scope() {
            let s = store();
            let u = s
                .create_user(&NewUser {
                    name: "tanaka".into(),
                    display_name: "Tanaka".into(),
                    org: org("moh"),
                    role: Role::OrgOfficer,
                    password_hash: "$argon2id$v=19$opaque".into(),
                })
                .unwrap();
            assert_eq!(u.role, Role::OrgOfficer);
            let dup = s.create_user(&NewUser {
                name: "tanaka".into(),
                display_name: "Other".into(),
                org: org("mof"),
                role: Role::Analyst,
                password_hash: "x".into(),
            });
            assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");
            let rec = s.user_for_login("tanaka").unwrap().unwrap();
            assert_eq!(rec.password_hash, "$argon2id$v=19$opaque");
            assert!(s.user_for_login("nobody").unwrap().is_none());
            assert_eq!(s.list_users(&scope_of("central")).unwrap().len(), 1);
            assert!(s.list_users(&scope_of("mof")).unwrap().is_empty());
            assert!(s.list_users(&scope_of("delegated")).unwrap().is_empty());
            // A sibling cannot disable the user; the owner's supervisor can.
            assert!(matches!(s.set_user_disabled(&scope_of("mof"), u.id, true), Err(StoreError::NotFound { .. })));
            s.set_user_disabled(&scope_of("central"), u.id, true).unwrap();
            assert!(s.user_for_login("tanaka").unwrap().unwrap().user.disabled);
        }

        #[test]
        fn tokens_are_scoped_revocable_and_expire() {
            let s = store();
            let t = s
                .create_token(&NewToken {
                    name: "ingest-moh".into(),
                    org: org("moh"),
                    role: Role::ReadOnly,
                    token_hash: "hash-1".into(),
                    scopes: vec!["ingest".into()],
                    expires: Some(Timestamp::from_secs(2_000_000_000)),
                    created_by: "admin".into(),
                })
                .unwrap();
            let found = s.token_for_hash("hash-1").unwrap().unwrap();
            assert_eq!(found.id, t.id);
            assert_eq!(found.scopes, ["ingest"]);
            assert!(found.is_active(Timestamp::from_secs(1_900_000_000)));
            assert!(!found.is_active(Timestamp::from_secs(2_000_000_001)));
            assert!(s.list_tokens(&scope_of("delegated")).unwrap().is_empty());
            assert!(matches!(s.revoke_token(&scope_of("pension"), t.id), Err(StoreError::NotFound { .. })));
            s.revoke_token(&scope_of("moh"), t.id).unwrap();
            assert!(!s.token_for_hash("hash-1").unwrap().unwrap().is_active(Timestamp::from_secs(0)));
        }

        #[test]
        fn alerts_fold_on_same_id() {
            let s = store();
            s.upsert_alerts(&[alert("a1", "moh", 10, Severity::Medium)]).unwrap();
            let mut later = alert("a1", "moh", 70, Severity::High);
            later.count = 4;
            s.upsert_alerts(&[later]).unwrap();
            let got = s.get_alert(&scope_of("moh"), "a1").unwrap().unwrap();
            assert_eq!(got.alert.count, 5);
            assert_eq!(got.alert.severity, Severity::High);
            assert_eq!(got.alert.last_seen, Timestamp::from_secs(1_767_571_270));
            assert_eq!(got.alert.first_seen, Timestamp::from_secs(1_767_571_210));
            assert_eq!(got.alert.evidence.len(), 2);
            assert_eq!(got.status, AlertStatus::New);
            // The same id may not move to another organization.
            assert!(s.upsert_alerts(&[alert("a1", "mof", 80, Severity::Low)]).is_err());
        }

        #[test]
        fn alerts_never_leak_across_tenants() {
            let s = store();
            let mut all = Vec::new();
            for (i, o) in ["central", "delegated", "moh", "mof", "pension", "power"].iter().enumerate() {
                for k in 0..3 {
                    all.push(alert(&format!("{o}-{k}"), o, (i * 10 + k) as i64, Severity::ALL[k % 5]));
                }
            }
            s.upsert_alerts(&all).unwrap();
            let inv = fixture_inventory();
            for viewer in inv.orgs() {
                let scope = inv.visible_from(viewer.id.as_str());
                let got = s.list_alerts(&scope, &AlertFilter::default(), &Page::first(1000)).unwrap();
                assert_eq!(got.len(), scope.len() * 3, "viewer {}", viewer.id);
                assert!(got.iter().all(|a| scope.contains(a.alert.org.as_str())));
                assert_eq!(s.count_alerts(&scope, &AlertFilter::default()).unwrap(), (scope.len() * 3) as u64);
                for a in &all {
                    let visible = s.get_alert(&scope, &a.id).unwrap().is_some();
                    assert_eq!(visible, scope.contains(a.org.as_str()), "{} sees {}?", viewer.id, a.id);
                }
                // A filter naming a foreign org returns nothing rather than widening the scope.
                let f = AlertFilter { org: Some(org("mof")), ..Default::default() };
                let n = s.count_alerts(&scope, &f).unwrap();
                assert_eq!(n, if scope.contains("mof") { 3 } else { 0 });
            }
            // Status changes are scoped too.
            assert!(matches!(
                s.set_alert_status(&scope_of("moh"), "mof-0", AlertStatus::Resolved),
                Err(StoreError::NotFound { .. })
            ));
            s.set_alert_status(&scope_of("central"), "mof-0", AlertStatus::Resolved).unwrap();
            let f = AlertFilter { status: Some(AlertStatus::Resolved), ..Default::default() };
            assert_eq!(s.count_alerts(&scope_of("mof"), &f).unwrap(), 1);
        }

        #[test]
        fn alert_filters_and_pages() {
            let s = store();
            let alerts: Vec<_> = (0..25).map(|i| alert(&format!("x{i:02}"), "moh", i, Severity::ALL[(i % 5) as usize])).collect();
            s.upsert_alerts(&alerts).unwrap();
            let scope = scope_of("moh");
            let page1 = s.list_alerts(&scope, &AlertFilter::default(), &Page { offset: 0, limit: 10 }).unwrap();
            let page3 = s.list_alerts(&scope, &AlertFilter::default(), &Page { offset: 20, limit: 10 }).unwrap();
            assert_eq!(page1.len(), 10);
            assert_eq!(page1[0].alert.id, "x24", "newest first");
            assert_eq!(page3.len(), 5);
            let high = AlertFilter { min_severity: Some(Severity::High), ..Default::default() };
            assert_eq!(s.count_alerts(&scope, &high).unwrap(), 10);
            let window = AlertFilter {
                since: Some(Timestamp::from_secs(1_767_571_200 + 5)),
                until: Some(Timestamp::from_secs(1_767_571_200 + 15)),
                ..Default::default()
            };
            assert_eq!(s.count_alerts(&scope, &window).unwrap(), 10);
            let text = AlertFilter { text: Some("BEACON X1".into()), ..Default::default() };
            assert_eq!(s.count_alerts(&scope, &text).unwrap(), 10);
            // `mentions` looks into the whole alert (entities), case-insensitively.
            let host = alerts[3].entities.iter().next().map(|(_, v)| v.to_uppercase()).unwrap();
            let mentions = AlertFilter { mentions: Some(host), ..Default::default() };
            let found = s.list_alerts(&scope, &mentions, &Page::first(100)).unwrap();
            assert!(found.iter().any(|a| a.alert.id == "x03"), "{found:?}");
            assert_eq!(s.count_alerts(&scope, &mentions).unwrap(), found.len() as u64);
        }

        #[test]
        fn alert_json_rows_are_the_stored_alerts_and_cursors_page_through() {
            let s = store();
            let mut all = Vec::new();
            for (i, o) in ["moh", "mof", "pension"].iter().enumerate() {
                for k in 0..9usize {
                    // Times repeat across organizations: ties are ordered by id.
                    let mut a = alert(&format!("{o}-{k}"), o, (k % 4) as i64 * 60 + i as i64 % 2, Severity::ALL[k % 5]);
                    if k == 2 {
                        a.title = "quote \" backslash \\ \u{1b} 櫓".into();
                        a.context.insert("score".into(), $crate::serde_json::json!(0.25));
                        a.retrospective = true;
                    }
                    all.push(a);
                }
            }
            s.upsert_alerts(&all).unwrap();
            let everything = scope_of("central");
            s.set_alert_status(&everything, "moh-1", AlertStatus::Resolved).unwrap();
            s.upsert_incident(&incident("in-1", "mof", IncidentStatus::New, &["mof-3", "mof-4"])).unwrap();
            let filters = [
                AlertFilter::default(),
                AlertFilter { status: Some(AlertStatus::New), ..Default::default() },
                AlertFilter { min_severity: Some(Severity::High), status: Some(AlertStatus::New), ..Default::default() },
                AlertFilter { org: Some(org("mof")), ..Default::default() },
                AlertFilter { org: Some(org("mof")), min_severity: Some(Severity::Medium), ..Default::default() },
                AlertFilter { text: Some("backslash".into()), ..Default::default() },
            ];
            for scope in [everything.clone(), scope_of("moh"), scope_of("mof"), Scope::none()] {
                for f in &filters {
                    let decoded = s.list_alerts(&scope, f, &Page::first(1000)).unwrap();
                    let raw = s.list_alerts_json(&scope, f, None, &Page::first(1000)).unwrap();
                    assert_eq!(raw.len(), decoded.len(), "{f:?}");
                    for (r, d) in raw.iter().zip(&decoded) {
                        let mut got = Vec::new();
                        r.write_json(&mut got);
                        // Byte for byte what the decoded alert serializes to.
                        assert_eq!(String::from_utf8(got).unwrap(), $crate::serde_json::to_string(d).unwrap());
                        assert!(r.json_len_hint() >= $crate::serde_json::to_vec(d).unwrap().len());
                        assert!(scope.contains(d.alert.org.as_str()));
                    }
                    // Cursor pages (with and without an offset) walk the same list.
                    let want: Vec<String> = decoded.iter().map(|a| a.alert.id.clone()).collect();
                    for (limit, skip) in [(4u64, 0u64), (3, 1)] {
                        let mut after = None;
                        let mut got = Vec::new();
                        let mut expect = Vec::new();
                        let mut pos = 0usize;
                        loop {
                            let page = Page { offset: skip, limit };
                            let p = s.list_alerts_json(&scope, f, after.as_ref(), &page).unwrap();
                            pos = (pos + skip as usize).min(want.len());
                            let end = (pos + limit as usize).min(want.len());
                            expect.extend_from_slice(&want[pos..end]);
                            pos = end;
                            let Some(last) = p.last() else { break };
                            after = Some(last.cursor());
                            got.extend(p.iter().map(|a| a.id.clone()));
                        }
                        assert_eq!(got, expect, "{f:?} limit {limit} offset {skip}");
                    }
                }
            }
        }

        #[test]
        fn alert_lists_hold_exactly_the_scope_and_organization_asked_for() {
            // Every scope shape (all, several, one, none) × organization filters in and out of
            // it: the rows and totals are exactly the alerts of `org ∈ scope ∧ org = filter`.
            let s = store();
            let orgs = ["central", "delegated", "moh", "mof", "pension", "power"];
            let all: Vec<_> = (0..36usize)
                .map(|k| alert(&format!("a{k:02}"), orgs[k % 6], k as i64, Severity::ALL[k % 5]))
                .collect();
            s.upsert_alerts(&all).unwrap();
            for viewer in ["central", "delegated", "moh", "nobody"] {
                let scope = if viewer == "nobody" { Scope::none() } else { scope_of(viewer) };
                for wanted in [None, Some("moh"), Some("pension"), Some("power"), Some("unknown")] {
                    for min_severity in [None, Some(Severity::High)] {
                        let f = AlertFilter { org: wanted.map(org), min_severity, ..Default::default() };
                        let mut expect: Vec<&$crate::yagura_model::Alert> = all
                            .iter()
                            .filter(|a| scope.contains(a.org.as_str()))
                            .filter(|a| wanted.is_none_or(|w| a.org.as_str() == w))
                            .filter(|a| min_severity.is_none_or(|m| a.severity >= m))
                            .collect();
                        expect.sort_by(|a, b| b.time.cmp(&a.time).then(a.id.cmp(&b.id)));
                        let expect: Vec<&str> = expect.iter().map(|a| a.id.as_str()).collect();
                        let listed = s.list_alerts(&scope, &f, &Page::first(1000)).unwrap();
                        let got: Vec<&str> = listed.iter().map(|a| a.alert.id.as_str()).collect();
                        assert_eq!(got, expect, "{viewer} {f:?}");
                        let raw = s.list_alerts_json(&scope, &f, None, &Page::first(1000)).unwrap();
                        let got: Vec<&str> = raw.iter().map(|a| a.id.as_str()).collect();
                        assert_eq!(got, expect, "{viewer} {f:?} (documents)");
                        assert_eq!(s.count_alerts(&scope, &f).unwrap(), expect.len() as u64, "{viewer} {f:?}");
                        // The page and its total in one call.
                        let mut first = Vec::new();
                        let total = s
                            .visit_alerts_json_with_total(&scope, &f, None, &Page::first(5), &mut |a| first.push(a.id.to_owned()))
                            .unwrap();
                        assert_eq!(total, expect.len() as u64, "{viewer} {f:?} (with total)");
                        assert_eq!(first, expect[..expect.len().min(5)], "{viewer} {f:?} (with total)");
                    }
                }
            }
        }

        #[test]
        fn alert_lists_keep_the_scope_when_it_stops_covering_every_alert() {
            // A scope that holds every organization with alerts may be listed without a
            // per-row scope test; the moment an alert of another organization arrives, the
            // list must test again. Asked repeatedly, with filters and cursors, before and
            // after each write.
            let s = store();
            let delegated = scope_of("delegated");
            let moh = scope_of("moh");
            let mine: Vec<_> = (0..40usize)
                .map(|k| {
                    let o = if k % 2 == 0 { "pension" } else { "power" };
                    alert(&format!("d{k:02}"), o, k as i64, Severity::ALL[k % 5])
                })
                .collect();
            s.upsert_alerts(&mine).unwrap();
            let check = |scope: &Scope, want: &[&str]| {
                for f in [
                    AlertFilter::default(),
                    AlertFilter { min_severity: Some(Severity::High), ..Default::default() },
                    AlertFilter { status: Some(AlertStatus::New), ..Default::default() },
                ] {
                    let mut expect: Vec<&str> = want
                        .iter()
                        .copied()
                        .filter(|id| {
                            let a = s.get_alert(scope, id).unwrap().expect("listed alert in scope");
                            f.min_severity.is_none_or(|m| a.alert.severity >= m)
                        })
                        .collect();
                    // Newest first: ids are numbered in time order.
                    expect.sort_by(|a, b| b.cmp(a));
                    for _ in 0..3 {
                        let raw = s.list_alerts_json(scope, &f, None, &Page::first(1000)).unwrap();
                        let got: Vec<&str> = raw.iter().map(|a| a.id.as_str()).collect();
                        assert_eq!(got, expect, "{f:?}");
                        // The same by pages of 7, continued by cursor.
                        let mut paged = Vec::new();
                        let mut after = None;
                        loop {
                            let p = s.list_alerts_json(scope, &f, after.as_ref(), &Page::first(7)).unwrap();
                            paged.extend(p.iter().map(|a| a.id.clone()));
                            match p.last() {
                                Some(last) if p.len() == 7 => after = Some(last.cursor()),
                                _ => break,
                            }
                        }
                        assert_eq!(paged, expect, "{f:?} by cursor");
                        // The page with its total (one snapshot on a reader), before and
                        // after each write of the test.
                        let mut ids = Vec::new();
                        let total = s
                            .visit_alerts_json_with_total(scope, &f, None, &Page::first(1000), &mut |a| ids.push(a.id.to_owned()))
                            .unwrap();
                        assert_eq!(ids, expect, "{f:?} with total");
                        assert_eq!(total, expect.len() as u64, "{f:?} total");
                        assert_eq!(s.count_alerts(scope, &f).unwrap(), total, "{f:?} count");
                    }
                }
            };
            let ids_of = |v: &[$crate::yagura_model::Alert]| -> Vec<String> {
                v.iter().map(|a| a.id.clone()).collect()
            };
            let mine_ids = ids_of(&mine);
            let mine_ids: Vec<&str> = mine_ids.iter().map(String::as_str).collect();
            check(&delegated, &mine_ids);
            check(&moh, &[]);
            // An alert outside the delegated scope: it must never be listed there.
            s.upsert_alerts(&[alert("d98", "moh", 98, Severity::Critical)]).unwrap();
            check(&delegated, &mine_ids);
            check(&moh, &["d98"]);
            // Also when the outsider is the newest and the only one of its severity.
            s.upsert_alerts(&[alert("d99", "central", 99, Severity::Critical)]).unwrap();
            check(&delegated, &mine_ids);
            check(&moh, &["d98"]);
            check(&Scope::none(), &[]);
        }

        #[test]
        fn alert_totals_follow_every_change() {
            // Asked repeatedly: a backend that keeps totals must notice every write.
            let s = store();
            let scope = scope_of("central");
            let all = AlertFilter::default();
            let new = AlertFilter { status: Some(AlertStatus::New), ..Default::default() };
            let text = AlertFilter { text: Some("beacon".into()), ..Default::default() };
            let check = |want: [u64; 3]| {
                for _ in 0..3 {
                    let got = [&all, &new, &text].map(|f| s.count_alerts(&scope, f).unwrap());
                    assert_eq!(got, want);
                }
            };
            check([0, 0, 0]);
            s.upsert_alerts(&[alert("t1", "moh", 1, Severity::Low)]).unwrap();
            check([1, 1, 1]);
            s.set_alert_status(&scope, "t1", AlertStatus::Resolved).unwrap();
            check([1, 0, 1]);
            s.upsert_alerts(&[alert("t2", "mof", 2, Severity::High)]).unwrap();
            check([2, 1, 2]);
            assert_eq!(s.count_alerts(&scope_of("moh"), &all).unwrap(), 1);
        }

        #[test]
        fn alert_counts_follow_inserts_status_and_scope() {
            let s = store();
            let day = 86_400;
            let mut alerts: Vec<_> = (0..30)
                .map(|i| alert(&format!("c{i:02}"), if i % 3 == 0 { "moh" } else { "pension" }, (i % 3) * day + i, Severity::ALL[(i % 5) as usize]))
                .collect();
            s.upsert_alerts(&alerts).unwrap();
            // Folding a repeat changes nothing in the counts; a status change moves one.
            alerts[1].count = 5;
            s.upsert_alerts(&alerts[1..2]).unwrap();
            let everything = scope_of("central");
            s.set_alert_status(&everything, "c01", AlertStatus::Resolved).unwrap();
            let counts = s.alert_counts(&everything, &AlertFilter::default()).unwrap();
            assert_eq!(counts.iter().map(|c| c.count).sum::<u64>(), 30);
            assert_eq!(counts.iter().filter(|c| c.status == AlertStatus::Resolved).map(|c| c.count).sum::<u64>(), 1);
            // Every filter the counts answer agrees with a scan of the alerts.
            let t0 = Timestamp::from_secs(1_767_571_200);
            let filters = [
                AlertFilter::default(),
                AlertFilter { status: Some(AlertStatus::New), ..Default::default() },
                AlertFilter { min_severity: Some(Severity::High), ..Default::default() },
                AlertFilter { org: Some(org("moh")), ..Default::default() },
                AlertFilter { since: Some(t0.saturating_add_secs(day)), until: Some(t0.saturating_add_secs(2 * day)), ..Default::default() },
            ];
            for scope in [scope_of("central"), scope_of("pension"), scope_of("moh"), scope_of("mof")] {
                for f in &filters {
                    let listed = s.list_alerts(&scope, f, &Page::first(1000)).unwrap().len() as u64;
                    assert_eq!(s.count_alerts(&scope, f).unwrap(), listed, "{f:?}");
                    let grouped: u64 = s.alert_counts(&scope, f).unwrap().iter().map(|c| c.count).sum();
                    assert_eq!(grouped, listed, "{f:?}");
                }
            }
            let moh = s.alert_counts(&scope_of("moh"), &AlertFilter::default()).unwrap();
            assert!(moh.iter().all(|c| c.org.as_str() == "moh"));
            assert!(moh.iter().all(|c| c.day.nanos() % 86_400_000_000_000 == 0));
            let text = AlertFilter { text: Some("x".into()), ..Default::default() };
            assert!(matches!(s.alert_counts(&everything, &text), Err(StoreError::Invalid(_))));
        }

        #[test]
        fn incidents_are_scoped_and_link_alerts() {
            let s = store();
            s.upsert_alerts(&[alert("a1", "pension", 1, Severity::High), alert("a2", "pension", 2, Severity::High)]).unwrap();
            s.upsert_incident(&incident("i1", "pension", IncidentStatus::New, &["a1", "a2"])).unwrap();
            s.upsert_incident(&incident("i2", "moh", IncidentStatus::Closed, &[])).unwrap();
            assert!(s.get_incident(&scope_of("delegated"), "i1").unwrap().is_some());
            assert!(s.get_incident(&scope_of("moh"), "i1").unwrap().is_none());
            assert_eq!(s.get_alert(&scope_of("pension"), "a1").unwrap().unwrap().incident_id.as_deref(), Some("i1"));
            let open = IncidentFilter { open_only: true, ..Default::default() };
            assert_eq!(s.list_incidents(&scope_of("central"), &open, &Page::default()).unwrap().len(), 1);
            assert_eq!(s.list_incidents(&scope_of("central"), &IncidentFilter::default(), &Page::default()).unwrap().len(), 2);
            assert!(s.list_incidents(&scope_of("mof"), &IncidentFilter::default(), &Page::default()).unwrap().is_empty());
            let mut moved = incident("i1", "moh", IncidentStatus::Triage, &[]);
            moved.title = "hijack".into();
            assert!(s.upsert_incident(&moved).is_err(), "an incident cannot change organization");
            let mut next = incident("i1", "pension", IncidentStatus::Investigating, &["a1", "a2"]);
            next.assignee = Some("responder-1".into());
            s.upsert_incident(&next).unwrap();
            let got = s.get_incident(&scope_of("pension"), "i1").unwrap().unwrap();
            assert_eq!(got.status, IncidentStatus::Investigating);
            assert_eq!(got.assignee.as_deref(), Some("responder-1"));
        }

        #[test]
        fn incident_lifecycle_assignment_and_timeline() {
            let s = store();
            s.upsert_alerts(&[alert("a2", "pension", 20, Severity::High), alert("a1", "pension", 10, Severity::Low), alert("x", "moh", 5, Severity::Low)]).unwrap();
            s.upsert_incident(&incident("i1", "pension", IncidentStatus::New, &["a1", "a2"])).unwrap();
            let t = Timestamp::from_secs(1_800_000_000);
            let up = |status: Option<IncidentStatus>, assignee: Option<&str>| IncidentUpdate {
                status,
                assignee: assignee.map(str::to_owned),
                time: t,
            };
            let got = s.update_incident(&scope_of("delegated"), "i1", &up(Some(IncidentStatus::Triage), Some("sato"))).unwrap();
            assert_eq!((got.status, got.assignee.as_deref(), got.updated), (IncidentStatus::Triage, Some("sato"), t));
            // Skipping forward is allowed, going back to triage is not.
            s.update_incident(&scope_of("pension"), "i1", &up(Some(IncidentStatus::Contained), None)).unwrap();
            assert!(matches!(
                s.update_incident(&scope_of("pension"), "i1", &up(Some(IncidentStatus::Triage), None)),
                Err(StoreError::Conflict(_))
            ));
            // Out of scope reads as not found; nothing changes.
            assert!(matches!(
                s.update_incident(&scope_of("moh"), "i1", &up(Some(IncidentStatus::Closed), Some(""))),
                Err(StoreError::NotFound { .. })
            ));
            let got = s.update_incident(&scope_of("pension"), "i1", &up(None, Some(" "))).unwrap();
            assert_eq!((got.status, got.assignee), (IncidentStatus::Contained, None));
            assert_eq!(s.get_incident(&scope_of("pension"), "i1").unwrap().unwrap().status, IncidentStatus::Contained);
            let open = IncidentFilter { status: Some(IncidentStatus::Contained), ..Default::default() };
            assert_eq!(s.count_incidents(&scope_of("central"), &open).unwrap(), 1);

            let timeline = s.incident_timeline(&scope_of("pension"), "i1").unwrap().unwrap();
            let ids: Vec<&str> = timeline.iter().map(|a| a.alert.id.as_str()).collect();
            assert_eq!(ids, ["a1", "a2"], "alerts in time order");
            assert!(s.incident_timeline(&scope_of("moh"), "i1").unwrap().is_none());
            assert!(s.incident_timeline(&scope_of("pension"), "nope").unwrap().is_none());
        }

        #[test]
        fn campaigns_are_narrowed_to_the_scope() {
            let s = store();
            let mut i1 = incident("i1", "pension", IncidentStatus::New, &[]);
            i1.campaign_id = Some("c1".into());
            let mut i2 = incident("i2", "moh", IncidentStatus::New, &[]);
            i2.campaign_id = Some("c1".into());
            s.upsert_incident(&i1).unwrap();
            s.upsert_incident(&i2).unwrap();
            s.upsert_campaign(&campaign("c1", &["moh", "pension"], &["i1", "i2"])).unwrap();
            s.upsert_campaign(&campaign("c2", &["mof"], &[])).unwrap();
            assert!(s.upsert_campaign(&campaign("c3", &[], &[])).is_err());

            let all = s.get_campaign(&scope_of("central"), "c1").unwrap().unwrap();
            assert_eq!(all, campaign("c1", &["moh", "pension"], &["i1", "i2"]));
            // A delegated center sees the campaign through its own organization only.
            let mine = s.get_campaign(&scope_of("delegated"), "c1").unwrap().unwrap();
            assert_eq!(mine.orgs, [org("pension")]);
            assert_eq!(mine.incident_ids, ["i1"]);
            assert!(s.get_campaign(&scope_of("mof"), "c1").unwrap().is_none());
            assert!(s.get_campaign(&scope_of("power"), "c1").unwrap().is_none());

            let ids = |scope: &str| -> Vec<String> {
                s.list_campaigns(&scope_of(scope), &Page::default()).unwrap().into_iter().map(|c| c.id).collect()
            };
            assert_eq!(ids("central"), ["c1", "c2"]);
            assert_eq!(ids("moh"), ["c1"]);
            assert_eq!(ids("mof"), ["c2"]);
            assert!(ids("power").is_empty());

            // Re-stored with fewer organizations: the old ones no longer see it.
            let mut smaller = campaign("c1", &["moh"], &["i2"]);
            smaller.updated = Timestamp::from_secs(1_800_000_000);
            s.upsert_campaign(&smaller).unwrap();
            assert!(s.get_campaign(&scope_of("pension"), "c1").unwrap().is_none());
            assert_eq!(ids("central"), ["c1", "c2"], "most recently updated first");
        }

        #[test]
        fn indicators_are_scoped() {
            let s = store();
            s.upsert_indicators(&org("central"), &[indicator("evil.example"), indicator("bad.example")]).unwrap();
            s.upsert_indicators(&org("pension"), &[indicator("local.example")]).unwrap();
            s.upsert_indicators(&org("pension"), &[indicator("local.example")]).unwrap();
            assert_eq!(s.count_indicators(&scope_of("central")).unwrap(), 3);
            assert_eq!(s.count_indicators(&scope_of("delegated")).unwrap(), 1);
            assert_eq!(s.count_indicators(&scope_of("moh")).unwrap(), 0);
            let listed = s.list_indicators(&scope_of("central"), &Page::default()).unwrap();
            assert_eq!(listed.len(), 3);
        }

        #[test]
        fn audit_trail_is_scoped_and_ordered() {
            let s = store();
            for (i, o) in ["moh", "mof", "moh"].iter().enumerate() {
                s.append_audit(&NewAuditRecord {
                    time: Timestamp::from_secs(i as i64),
                    actor: "analyst-1".into(),
                    org: org(o),
                    action: "alert.status".into(),
                    target: format!("a{i}"),
                    details: $crate::serde_json::json!({"status": "resolved"}),
                })
                .unwrap();
            }
            let moh = s.list_audit(&scope_of("moh"), &Page::default()).unwrap();
            assert_eq!(moh.iter().map(|r| r.target.as_str()).collect::<Vec<_>>(), ["a2", "a0"]);
            assert_eq!(s.list_audit(&scope_of("central"), &Page::default()).unwrap().len(), 3);
            assert!(s.list_audit(&scope_of("delegated"), &Page::default()).unwrap().is_empty());
            assert_eq!(moh[0].details["status"], "resolved");
        }
        #[test]
        fn audit_filters_and_counts() {
            let s = store();
            let rows = [
                ("moh", "analyst-1", "alert.status", 1),
                ("moh", "officer", "advisory.acknowledge", 2),
                ("mof", "analyst-1", "advisory.create", 3),
                ("pension", "admin", "user.create", 4),
            ];
            for (o, actor, action, t) in rows {
                s.append_audit(&NewAuditRecord {
                    time: Timestamp::from_secs(t),
                    actor: actor.into(),
                    org: org(o),
                    action: action.into(),
                    target: "x".into(),
                    details: $crate::serde_json::Value::Null,
                })
                .unwrap();
            }
            let central = scope_of("central");
            let check = |scope: &Scope, f: AuditFilter, expect: &[&str]| {
                let got = s.query_audit(scope, &f, &Page::default()).unwrap();
                let actions: Vec<&str> = got.iter().map(|r| r.action.as_str()).collect();
                assert_eq!(actions, expect, "{f:?}");
                assert_eq!(s.count_audit(scope, &f).unwrap(), expect.len() as u64);
            };
            check(&central, AuditFilter::default(), &["user.create", "advisory.create", "advisory.acknowledge", "alert.status"]);
            check(&central, AuditFilter { action: Some("advisory.".into()), ..Default::default() }, &["advisory.create", "advisory.acknowledge"]);
            check(&central, AuditFilter { action: Some("advisory".into()), ..Default::default() }, &[]);
            check(&central, AuditFilter { actor: Some("analyst-1".into()), ..Default::default() }, &["advisory.create", "alert.status"]);
            check(&central, AuditFilter { since: Some(Timestamp::from_secs(2)), until: Some(Timestamp::from_secs(4)), ..Default::default() }, &["advisory.create", "advisory.acknowledge"]);
            check(&scope_of("moh"), AuditFilter::default(), &["advisory.acknowledge", "alert.status"]);
            // A filter on a foreign org does not widen the scope.
            check(&scope_of("moh"), AuditFilter { org: Some(org("mof")), ..Default::default() }, &[]);
            check(&scope_of("delegated"), AuditFilter::default(), &["user.create"]);
        }

        #[test]
        fn incidents_are_counted_by_scope_and_filter() {
            let s = store();
            s.upsert_incident(&incident("i1", "pension", IncidentStatus::New, &[])).unwrap();
            s.upsert_incident(&incident("i2", "moh", IncidentStatus::Closed, &[])).unwrap();
            s.upsert_incident(&incident("i3", "moh", IncidentStatus::Triage, &[])).unwrap();
            assert_eq!(s.count_incidents(&scope_of("central"), &IncidentFilter::default()).unwrap(), 3);
            let open = IncidentFilter { open_only: true, ..Default::default() };
            assert_eq!(s.count_incidents(&scope_of("central"), &open).unwrap(), 2);
            assert_eq!(s.count_incidents(&scope_of("moh"), &IncidentFilter::default()).unwrap(), 2);
            assert_eq!(s.count_incidents(&scope_of("delegated"), &IncidentFilter::default()).unwrap(), 1);
            assert_eq!(s.count_incidents(&scope_of("mof"), &IncidentFilter::default()).unwrap(), 0);
        }

        fn new_advisory(id: &str, org_id: &str, alerts: &[&str], due_secs: i64) -> NewAdvisory {
            NewAdvisory {
                id: id.into(),
                org: org(org_id),
                title: format!("Advisory {id}"),
                summary: "Beaconing to cdn-upd.net from pc-0012".into(),
                alert_ids: alerts.iter().map(|a| a.to_string()).collect(),
                hosts: vec!["pc-0012".into()],
                accounts: vec!["tanaka".into()],
                recommended_measures: vec!["isolate pc-0012".into(), "reset tanaka".into()],
                due: Timestamp::from_secs(due_secs),
                time: Timestamp::from_secs(100),
                actor: "analyst-1".into(),
            }
        }

        fn step(status: AdvisoryStatus, t: i64, measures: &[&str]) -> AdvisoryStep {
            AdvisoryStep {
                time: Timestamp::from_secs(t),
                actor: "officer-pension".into(),
                status,
                note: format!("step {}", status.as_str()),
                measures: measures.iter().map(|m| m.to_string()).collect(),
            }
        }

        #[test]
        fn advisory_loop_is_time_stamped_and_ordered() {
            let s = store();
            s.upsert_alerts(&[alert("a1", "pension", 1, Severity::High), alert("m1", "moh", 2, Severity::High)]).unwrap();
            let del = scope_of("delegated");
            let a = s.create_advisory(&del, &new_advisory("adv-1", "pension", &["a1"], 1000)).unwrap();
            assert_eq!(a.status, AdvisoryStatus::Issued);
            assert_eq!(a.steps.len(), 1);
            assert_eq!(a.steps[0].status, AdvisoryStatus::Issued);
            assert_eq!(a.steps[0].time, Timestamp::from_secs(100));
            // Duplicate ids conflict.
            assert!(matches!(s.create_advisory(&del, &new_advisory("adv-1", "pension", &[], 1000)), Err(StoreError::Conflict(_))));
            // Closing before acknowledgement is refused.
            let pension = scope_of("pension");
            assert!(matches!(s.advance_advisory(&pension, "adv-1", &step(AdvisoryStatus::Closed, 150, &[])), Err(StoreError::Conflict(_))));
            s.advance_advisory(&pension, "adv-1", &step(AdvisoryStatus::Acknowledged, 200, &[])).unwrap();
            assert!(matches!(s.advance_advisory(&pension, "adv-1", &step(AdvisoryStatus::Acknowledged, 210, &[])), Err(StoreError::Conflict(_))));
            s.advance_advisory(&pension, "adv-1", &step(AdvisoryStatus::MeasuresReported, 300, &["terminal isolated"])).unwrap();
            s.advance_advisory(&pension, "adv-1", &step(AdvisoryStatus::MeasuresReported, 400, &["accounts reset"])).unwrap();
            let closed = s.advance_advisory(&pension, "adv-1", &step(AdvisoryStatus::Closed, 500, &[])).unwrap();
            assert_eq!(closed.status, AdvisoryStatus::Closed);
            assert_eq!(closed.updated, Timestamp::from_secs(500));
            assert!(matches!(s.advance_advisory(&pension, "adv-1", &step(AdvisoryStatus::MeasuresReported, 600, &["late"])), Err(StoreError::Conflict(_))));
            let got = s.get_advisory(&scope_of("central"), "adv-1").unwrap().unwrap();
            assert_eq!(got, closed, "read back equals the returned record");
            let trail: Vec<(&str, i64)> = got.steps.iter().map(|st| (st.status.as_str(), st.time.nanos() / 1_000_000_000)).collect();
            assert_eq!(trail, [("issued", 100), ("acknowledged", 200), ("measures-reported", 300), ("measures-reported", 400), ("closed", 500)]);
            assert_eq!(got.measures_taken().collect::<Vec<_>>(), ["terminal isolated", "accounts reset"]);
            assert_eq!(got.recommended_measures, ["isolate pc-0012", "reset tanaka"]);
            assert!(!got.is_overdue(Timestamp::from_secs(10_000)), "a closed advisory is never overdue");
        }

        #[test]
        fn advisories_are_scoped() {
            let s = store();
            s.upsert_alerts(&[alert("a1", "pension", 1, Severity::High), alert("m1", "moh", 2, Severity::High)]).unwrap();
            // Out of scope: a sibling center cannot issue to moh.
            assert!(matches!(s.create_advisory(&scope_of("delegated"), &new_advisory("x", "moh", &[], 1000)), Err(StoreError::OutOfScope(_))));
            // An alert of another org cannot be attached (no cross-tenant reference).
            assert!(matches!(s.create_advisory(&scope_of("central"), &new_advisory("x", "pension", &["m1"], 1000)), Err(StoreError::NotFound { .. })));
            assert!(matches!(s.create_advisory(&scope_of("central"), &new_advisory("x", "pension", &["nope"], 1000)), Err(StoreError::NotFound { .. })));
            s.create_advisory(&scope_of("central"), &new_advisory("p1", "pension", &["a1"], 1000)).unwrap();
            s.create_advisory(&scope_of("central"), &new_advisory("m1", "moh", &["m1"], 500)).unwrap();
            for (viewer, expect) in [("central", vec!["m1", "p1"]), ("delegated", vec!["p1"]), ("pension", vec!["p1"]), ("moh", vec!["m1"]), ("mof", vec![]), ("power", vec![])] {
                let sc = scope_of(viewer);
                let got = s.list_advisories(&sc, &AdvisoryFilter::default(), &Page::default()).unwrap();
                assert_eq!(got.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(), expect, "viewer {viewer}");
                assert_eq!(s.count_advisories(&sc, &AdvisoryFilter::default()).unwrap(), expect.len() as u64);
                for id in ["p1", "m1"] {
                    assert_eq!(s.get_advisory(&sc, id).unwrap().is_some(), expect.contains(&id), "{viewer} reads {id}");
                }
            }
            // A foreign org cannot advance it; the error is not-found (no existence oracle).
            assert!(matches!(s.advance_advisory(&scope_of("mof"), "p1", &step(AdvisoryStatus::Acknowledged, 200, &[])), Err(StoreError::NotFound { .. })));
            assert_eq!(s.get_advisory(&scope_of("pension"), "p1").unwrap().unwrap().status, AdvisoryStatus::Issued);
        }

        #[test]
        fn advisory_filters_flag_overdue() {
            let s = store();
            let c = scope_of("central");
            s.create_advisory(&c, &new_advisory("early", "moh", &[], 1000)).unwrap();
            s.create_advisory(&c, &new_advisory("late", "moh", &[], 5000)).unwrap();
            s.create_advisory(&c, &new_advisory("done", "mof", &[], 900)).unwrap();
            s.advance_advisory(&c, "done", &step(AdvisoryStatus::Acknowledged, 200, &[])).unwrap();
            s.advance_advisory(&c, "done", &step(AdvisoryStatus::Closed, 300, &[])).unwrap();
            let ids = |f: AdvisoryFilter| {
                let got = s.list_advisories(&c, &f, &Page::default()).unwrap();
                assert_eq!(s.count_advisories(&c, &f).unwrap(), got.len() as u64);
                got.into_iter().map(|a| a.id).collect::<Vec<_>>()
            };
            assert_eq!(ids(AdvisoryFilter::default()), ["done", "early", "late"], "soonest due first");
            assert_eq!(ids(AdvisoryFilter { overdue_at: Some(Timestamp::from_secs(2000)), ..Default::default() }), ["early"]);
            assert_eq!(ids(AdvisoryFilter { overdue_at: Some(Timestamp::from_secs(999)), ..Default::default() }), Vec::<String>::new());
            assert_eq!(ids(AdvisoryFilter { open_only: true, ..Default::default() }), ["early", "late"]);
            assert_eq!(ids(AdvisoryFilter { status: Some(AdvisoryStatus::Closed), ..Default::default() }), ["done"]);
            assert_eq!(ids(AdvisoryFilter { org: Some(org("mof")), ..Default::default() }), ["done"]);
            let p = s.list_advisories(&c, &AdvisoryFilter::default(), &Page { offset: 1, limit: 1 }).unwrap();
            assert_eq!(p.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(), ["early"]);
            let early = s.get_advisory(&c, "early").unwrap().unwrap();
            assert!(early.is_overdue(Timestamp::from_secs(1000)));
            assert!(!early.is_overdue(Timestamp::from_secs(999)));
        }
    };
}
