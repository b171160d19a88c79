//! The backend test suite, as a macro: `state_store_suite!(make_store_expr)` expands every
//! behavioural test of [`crate::StateStore`] for one backend. SQLite runs it in
//! `tests/sqlite.rs`; a PostgreSQL backend runs the same macro.

use yagura_model::{
    Alert, Detector, Entities, EvidenceRef, Incident, IncidentStatus, Indicator, IndicatorKind,
    Inventory, OrgId, Severity, Timestamp, Tlp,
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

pub fn indicator(value: &str) -> Indicator {
    Indicator {
        kind: IndicatorKind::Domain,
        value: value.to_owned(),
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
            AlertFilter, AlertStatus, IncidentFilter, NewAuditRecord, NewToken, NewUser, Page,
            StateStore, StoreError,
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
    };
}
