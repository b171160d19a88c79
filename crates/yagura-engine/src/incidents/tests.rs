use super::*;
use yagura_model::{Detector, Entities};

const MIN: i64 = 60;
const HOUR: i64 = 3600;

fn alert(id: &str, org: &str, secs: i64, severity: Severity, rule: &str, e: Entities) -> Alert {
    Alert {
        id: id.into(),
        time: Timestamp::from_secs(secs),
        org: OrgId::new(org).unwrap(),
        detector: Detector::Ioc,
        rule_id: rule.into(),
        title: format!("alert {id}"),
        severity,
        attack: Vec::new(),
        entities: e,
        first_seen: Timestamp::from_secs(secs),
        last_seen: Timestamp::from_secs(secs + 5 * MIN),
        count: 1,
        evidence: Vec::new(),
        summary: String::new(),
        retrospective: false,
        context: Default::default(),
    }
}

fn host(h: &str) -> Entities {
    Entities {
        host: Some(h.into()),
        ..Entities::default()
    }
}

fn c2(h: &str, domain: &str, dst_ip: &str) -> Entities {
    Entities {
        host: Some(h.into()),
        domain: Some(domain.into()),
        dst_ip: Some(dst_ip.into()),
        ..Entities::default()
    }
}

fn now() -> Timestamp {
    Timestamp::from_secs(2_000_000_000)
}

fn run(existing: &[Incident], alerts: &[Alert]) -> Correlation {
    correlate(existing, &[], alerts, &CorrelationConfig::default(), now())
}

/// `org: alert ids` per incident, sorted.
fn shape(c: &Correlation) -> Vec<String> {
    let mut v: Vec<String> = c
        .incidents
        .iter()
        .map(|i| format!("{}: {}", i.org, i.alert_ids.join(",")))
        .collect();
    v.sort();
    v
}

#[test]
fn same_org_and_entity_within_window_is_one_incident() {
    let alerts = [
        alert("a1", "moh", 1000, Severity::High, "r1", host("pc-1")),
        alert(
            "a2",
            "moh",
            1000 + 3 * HOUR,
            Severity::Medium,
            "r2",
            host("PC-1"),
        ),
        alert(
            "a3",
            "moh",
            1000 + 6 * HOUR,
            Severity::Low,
            "r3",
            host("pc-1"),
        ),
    ];
    let c = run(&[], &alerts);
    assert_eq!(shape(&c), ["moh: a1,a2,a3"]);
    let inc = &c.incidents[0];
    // Three distinct rules corroborate: High raised to Critical.
    assert_eq!(inc.severity, Severity::Critical);
    assert_eq!(inc.status, IncidentStatus::New);
    assert_eq!(inc.hosts, ["pc-1"]);
    assert_eq!(inc.first_seen, Timestamp::from_secs(1000));
    assert_eq!(
        inc.last_seen,
        Timestamp::from_secs(1000 + 6 * HOUR + 5 * MIN)
    );
    assert_eq!(inc.title, "alert a1 and 2 related alerts");
    assert_eq!((c.opened, c.joined, c.unassigned), (3, 0, 0));
}

#[test]
fn different_entity_org_or_time_are_separate() {
    let alerts = [
        alert("a1", "moh", 1000, Severity::High, "r1", host("pc-1")),
        // Other host, same org.
        alert("a2", "moh", 1100, Severity::High, "r1", host("pc-2")),
        // Same host name, other organization.
        alert("a3", "mof", 1100, Severity::High, "r1", host("pc-1")),
        // Same host, two days later.
        alert(
            "a4",
            "moh",
            1000 + 48 * HOUR,
            Severity::High,
            "r1",
            host("pc-1"),
        ),
    ];
    let c = run(&[], &alerts);
    assert_eq!(shape(&c), ["mof: a3", "moh: a1", "moh: a2", "moh: a4"]);
}

#[test]
fn chains_through_shared_entities() {
    // a1 (host pc-1, user tanaka) — a2 (user tanaka, host pc-2) — a3 (host pc-2).
    let alerts = [
        alert(
            "a1",
            "moh",
            1000,
            Severity::High,
            "r1",
            Entities {
                host: Some("pc-1".into()),
                user: Some("tanaka".into()),
                ..Entities::default()
            },
        ),
        alert(
            "a2",
            "moh",
            2000,
            Severity::High,
            "r2",
            Entities {
                host: Some("pc-2".into()),
                user: Some("Tanaka".into()),
                ..Entities::default()
            },
        ),
        alert("a3", "moh", 3000, Severity::High, "r1", host("pc-2")),
    ];
    let c = run(&[], &alerts);
    assert_eq!(shape(&c), ["moh: a1,a2,a3"]);
    assert_eq!(c.incidents[0].users, ["tanaka"]);
    assert_eq!(c.incidents[0].hosts, ["pc-1", "pc-2"]);
}

#[test]
fn generic_users_and_internal_destinations_do_not_join() {
    let resolver = |h: &str| Entities {
        host: Some(h.into()),
        user: Some("SYSTEM".into()),
        dst_ip: Some("10.0.0.53".into()),
        ..Entities::default()
    };
    let alerts = [
        alert("a1", "moh", 1000, Severity::High, "r1", resolver("pc-1")),
        alert("a2", "moh", 1100, Severity::High, "r1", resolver("pc-2")),
    ];
    let c = run(&[], &alerts);
    assert_eq!(shape(&c), ["moh: a1", "moh: a2"]);
    assert!(
        c.incidents
            .iter()
            .all(|i| i.users.is_empty() && i.destinations.is_empty())
    );
}

#[test]
fn shared_public_destination_joins_hosts_of_one_org() {
    let alerts = [
        alert(
            "a1",
            "moh",
            1000,
            Severity::High,
            "r1",
            c2("pc-1", "cdn-upd.net", "203.0.113.9"),
        ),
        alert(
            "a2",
            "moh",
            1500,
            Severity::High,
            "r1",
            c2("pc-2", "CDN-UPD.NET.", "203.0.113.9"),
        ),
    ];
    let c = run(&[], &alerts);
    assert_eq!(shape(&c), ["moh: a1,a2"]);
    assert_eq!(c.incidents[0].destinations, ["203.0.113.9", "cdn-upd.net"]);
    assert!(c.campaigns.is_empty(), "one organization is not a campaign");
}

#[test]
fn weak_alerts_only_join() {
    let alerts = [
        alert("a1", "moh", 1000, Severity::Low, "r1", host("pc-1")),
        alert(
            "a2",
            "moh",
            1000,
            Severity::Informational,
            "r2",
            host("pc-9"),
        ),
        alert("a3", "moh", 1200, Severity::High, "r3", host("pc-1")),
    ];
    let c = run(&[], &alerts);
    assert_eq!(shape(&c), ["moh: a1,a3"]);
    assert_eq!((c.opened, c.unassigned), (2, 1));
}

#[test]
fn different_orgs_sharing_c2_are_one_campaign() {
    let alerts = [
        alert(
            "a1",
            "moh",
            1000,
            Severity::High,
            "r1",
            c2("pc-1", "cdn-upd.net", "198.51.100.7"),
        ),
        alert(
            "a2",
            "mof",
            5000,
            Severity::Critical,
            "r1",
            c2("ws-4", "cdn-upd.net", "192.0.2.1"),
        ),
        alert(
            "a3",
            "mlit",
            9000,
            Severity::High,
            "r1",
            c2("srv-2", "other.example", "198.51.100.7"),
        ),
        // Shares nothing.
        alert(
            "a4",
            "mext",
            9000,
            Severity::High,
            "r1",
            c2("pc-1", "benign.example", "192.0.2.99"),
        ),
    ];
    let c = run(&[], &alerts);
    assert_eq!(c.incidents.len(), 4);
    assert_eq!(c.campaigns.len(), 1);
    let camp = &c.campaigns[0];
    let orgs: Vec<&str> = camp.orgs.iter().map(|o| o.as_str()).collect();
    assert_eq!(orgs, ["mlit", "mof", "moh"]);
    assert_eq!(camp.infrastructure, ["198.51.100.7", "cdn-upd.net"]);
    assert_eq!(camp.severity, Severity::Critical);
    assert_eq!(camp.incident_ids.len(), 3);
    for inc in &c.incidents {
        let expect = (inc.org.as_str() != "mext").then_some(camp.id.as_str());
        assert_eq!(inc.campaign_id.as_deref(), expect, "{}", inc.org);
    }
}

#[test]
fn deterministic_ids_and_order_independent() {
    let mut alerts = vec![
        alert(
            "a1",
            "moh",
            1000,
            Severity::High,
            "r1",
            c2("pc-1", "cdn-upd.net", "198.51.100.7"),
        ),
        alert("a2", "moh", 1100, Severity::High, "r2", host("pc-1")),
        alert(
            "a3",
            "mof",
            5000,
            Severity::High,
            "r1",
            c2("ws-4", "cdn-upd.net", "192.0.2.1"),
        ),
    ];
    let first = run(&[], &alerts);
    alerts.reverse();
    let second = run(&[], &alerts);
    assert_eq!(first, second);
}

#[test]
fn existing_incidents_absorb_new_alerts_and_keep_identity() {
    let c = run(
        &[],
        &[alert(
            "a1",
            "moh",
            1000,
            Severity::Medium,
            "r1",
            host("pc-1"),
        )],
    );
    let mut existing = c.incidents[0].clone();
    existing.status = IncidentStatus::Contained;
    existing.assignee = Some("sato".into());
    let later = [
        // Already in the incident: ignored.
        alert("a1", "moh", 1000, Severity::Medium, "r1", host("pc-1")),
        alert(
            "a2",
            "moh",
            1000 + 2 * HOUR,
            Severity::High,
            "r2",
            host("pc-1"),
        ),
    ];
    let c2 = run(std::slice::from_ref(&existing), &later);
    assert_eq!(c2.incidents.len(), 1);
    let inc = &c2.incidents[0];
    assert_eq!(inc.id, existing.id);
    assert_eq!(inc.alert_ids, ["a1", "a2"]);
    assert_eq!(inc.assignee.as_deref(), Some("sato"));
    assert_eq!(inc.severity, Severity::High);
    assert_eq!(
        inc.status,
        IncidentStatus::Investigating,
        "new evidence reopens containment"
    );
    assert_eq!(c2.joined, 1);

    // Nothing new: nothing changes.
    let c3 = run(std::slice::from_ref(inc), &later);
    assert!(c3.incidents.is_empty());

    // A closed incident takes no new alerts: a new incident opens.
    let mut closed = inc.clone();
    closed.status = IncidentStatus::Closed;
    let c4 = run(
        &[closed],
        &[alert(
            "a9",
            "moh",
            1000 + 3 * HOUR,
            Severity::High,
            "r2",
            host("pc-1"),
        )],
    );
    assert_eq!(shape(&c4), ["moh: a9"]);
}

#[test]
fn two_existing_incidents_are_not_merged() {
    let a = run(
        &[],
        &[alert("a1", "moh", 1000, Severity::High, "r1", host("pc-1"))],
    );
    let b = run(
        &[],
        &[alert(
            "b1",
            "moh",
            1100,
            Severity::High,
            "r1",
            Entities {
                src_ip: Some("10.0.0.1".into()),
                ..Entities::default()
            },
        )],
    );
    let existing = [a.incidents[0].clone(), b.incidents[0].clone()];
    let bridge = alert(
        "x",
        "moh",
        1200,
        Severity::High,
        "r1",
        Entities {
            host: Some("pc-1".into()),
            src_ip: Some("10.0.0.1".into()),
            ..Entities::default()
        },
    );
    // The bridge shares pc-1 with the first and 10.0.0.1 with the second: it joins the
    // earlier one, and the two stay apart.
    let c = run(&existing, &[bridge]);
    assert_eq!(c.incidents.len(), 1);
    assert_eq!(c.incidents[0].id, existing[0].id);
    assert_eq!(c.incidents[0].alert_ids, ["a1", "x"]);
}

#[test]
fn url_hosts() {
    assert_eq!(
        url_host("https://User@Evil.COM:8443/x?y").as_deref(),
        Some("evil.com")
    );
    assert_eq!(url_host("evil.com/path").as_deref(), Some("evil.com"));
    assert_eq!(
        url_host("http://[2001:db8::1]:80/").as_deref(),
        Some("2001:db8::1")
    );
    assert_eq!(url_host("://"), None);
    assert!(is_public("203.0.113.9"));
    assert!(!is_public("10.1.2.3"));
    assert!(!is_public("100.64.0.1"));
    assert!(!is_public("fd00::1"));
    assert!(is_public("2001:db8::1"));
}

#[test]
fn stored_incidents_and_campaigns_follow_the_tenancy_rule() {
    use yagura_store::{IncidentFilter, Page, SqliteStore, StateStore};
    let inv = yagura_store::testing::fixture_inventory();
    let state = SqliteStore::in_memory().unwrap();
    state.replace_orgs(inv.orgs()).unwrap();
    let all = inv.visible_from("central");
    let alerts = [
        alert(
            "a1",
            "moh",
            1000,
            Severity::High,
            "r1",
            c2("pc-1", "cdn-upd.net", "198.51.100.7"),
        ),
        alert("a2", "moh", 1300, Severity::Medium, "r2", host("pc-1")),
        alert(
            "a3",
            "pension",
            5000,
            Severity::High,
            "r1",
            c2("ws-4", "cdn-upd.net", "192.0.2.1"),
        ),
        alert("a4", "power", 5000, Severity::High, "r1", host("plc-1")),
    ];
    let c =
        correlate_into_store(&state, &all, &alerts, &CorrelationConfig::default(), now()).unwrap();
    assert_eq!(c.incidents.len(), 3);
    assert_eq!(c.campaigns.len(), 1);

    let ids = |scope: &str| -> Vec<String> {
        let mut v: Vec<String> = state
            .list_incidents(
                &inv.visible_from(scope),
                &IncidentFilter::default(),
                &Page::default(),
            )
            .unwrap()
            .into_iter()
            .map(|i| i.org.to_string())
            .collect();
        v.sort();
        v
    };
    assert_eq!(ids("central"), ["moh", "pension", "power"]);
    assert_eq!(ids("moh"), ["moh"]);
    assert_eq!(ids("delegated"), ["pension", "power"]);
    assert_eq!(ids("power"), ["power"]);
    assert!(ids("mof").is_empty());

    // The moh incident's timeline holds both of its alerts, linked in the store.
    let moh = &state
        .list_incidents(
            &inv.visible_from("moh"),
            &IncidentFilter::default(),
            &Page::default(),
        )
        .unwrap()[0];
    let timeline = state
        .incident_timeline(&inv.visible_from("moh"), &moh.id)
        .unwrap()
        .unwrap();
    let tl: Vec<&str> = timeline.iter().map(|a| a.alert.id.as_str()).collect();
    assert_eq!(tl, ["a1", "a2"]);

    // The campaign: whole for the center, narrowed for each member, invisible to others.
    let camp = &c.campaigns[0];
    let seen = |scope: &str| {
        state
            .get_campaign(&inv.visible_from(scope), &camp.id)
            .unwrap()
    };
    assert_eq!(seen("central").unwrap().orgs.len(), 2);
    let for_moh = seen("moh").unwrap();
    assert_eq!(for_moh.orgs, [OrgId::new("moh").unwrap()]);
    assert_eq!(for_moh.incident_ids, std::slice::from_ref(&moh.id));
    assert!(seen("power").is_none());
    assert!(seen("mof").is_none());

    // Re-running the same alerts changes nothing.
    let again =
        correlate_into_store(&state, &all, &alerts, &CorrelationConfig::default(), now()).unwrap();
    assert!(again.incidents.is_empty());
    assert_eq!(
        state
            .count_incidents(&all, &IncidentFilter::default())
            .unwrap(),
        3
    );
}
