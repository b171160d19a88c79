//! DESIGN.md §4's scoring rule at each boundary, with hand-made alerts.

use proptest::prelude::*;
use yagura_model::{Alert, Entities, Timestamp};
use yagura_sim::score::{self, covers, values_match};
use yagura_sim::{TruthItem, TruthKind};

const START: &str = "2026-01-05T01:00:00Z";
const END: &str = "2026-01-05T02:00:00Z";

fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn item() -> TruthItem {
    serde_json::from_str(&format!(
        r#"{{"id":"t-01","org":"moh","kind":"c2_beacon","start":"{START}","end":"{END}",
            "entities":{{"host":"pc-0012","src_ip":"10.10.3.4","domain":"cdn-upd.net"}},"description":"beacon"}}"#
    ))
    .unwrap()
}

/// An alert of `org` seen over `[first, last]` with `entities` (JSON object text).
fn alert(org: &str, first: &str, last: &str, entities: &str) -> Alert {
    serde_json::from_str(&format!(
        r#"{{"id":"a","time":"{last}","org":"{org}","detector":"analytic","rule_id":"r",
            "title":"x","severity":"high","entities":{entities},
            "first_seen":"{first}","last_seen":"{last}","count":1}}"#
    ))
    .unwrap()
}

/// The rule as data: does the alert cover the item?
fn check(org: &str, first: &str, last: &str, entities: &str, expect: bool) {
    let a = alert(org, first, last, entities);
    assert_eq!(
        covers(&a, &item()),
        expect,
        "org={org} [{first}, {last}] {entities}"
    );
}

const DOM: &str = r#"{"domain":"cdn-upd.net"}"#;

#[test]
fn time_window_edges() {
    // The window is [start − 5 min, end + 60 min] = [00:55:00, 03:00:00], closed.
    check(
        "moh",
        "2026-01-05T00:00:00Z",
        "2026-01-05T00:55:00Z",
        DOM,
        true,
    );
    check(
        "moh",
        "2026-01-05T00:00:00Z",
        "2026-01-05T00:54:59.999999999Z",
        DOM,
        false,
    );
    check(
        "moh",
        "2026-01-05T03:00:00Z",
        "2026-01-05T04:00:00Z",
        DOM,
        true,
    );
    check(
        "moh",
        "2026-01-05T03:00:00.000000001Z",
        "2026-01-05T04:00:00Z",
        DOM,
        false,
    );
    // Inside, spanning, and far away.
    check(
        "moh",
        "2026-01-05T01:30:00Z",
        "2026-01-05T01:31:00Z",
        DOM,
        true,
    );
    check(
        "moh",
        "2026-01-04T00:00:00Z",
        "2026-01-06T00:00:00Z",
        DOM,
        true,
    );
    check(
        "moh",
        "2026-01-06T00:00:00Z",
        "2026-01-06T01:00:00Z",
        DOM,
        false,
    );
}

#[test]
fn entity_values_and_subdomains() {
    let at = |e: &str, expect: bool| {
        check(
            "moh",
            "2026-01-05T01:10:00Z",
            "2026-01-05T01:20:00Z",
            e,
            expect,
        )
    };
    at(r#"{"domain":"cdn-upd.net"}"#, true);
    at(r#"{"domain":"CDN-UPD.NET"}"#, true);
    at(r#"{"domain":"cdn-upd.net."}"#, true);
    at(r#"{"domain":"x.cdn-upd.net"}"#, true);
    at(r#"{"domain":"a.b.cdn-upd.net"}"#, true);
    // Not a label boundary, a parent TLD, or another name.
    at(r#"{"domain":"evilcdn-upd.net"}"#, false);
    at(r#"{"domain":"net"}"#, false);
    at(r#"{"domain":"upd.net"}"#, false);
    // Any entity value counts, across keys.
    at(r#"{"host":"PC-0012"}"#, true);
    at(r#"{"src_ip":"10.10.3.4"}"#, true);
    at(r#"{"dst_ip":"10.10.3.4"}"#, true);
    at(r#"{"src_ip":"10.10.3.40"}"#, false);
    at(r#"{"user":"tanaka","dst_ip":"203.0.113.9"}"#, false);
    at(r#"{"user":"tanaka","host":"pc-0012"}"#, true);
    at(r#"{}"#, false);
    // An IP is never a "subdomain" of another.
    assert!(!values_match("110.10.3.4", "10.3.4"));
    assert!(!values_match("", ""));
}

#[test]
fn a_parent_domain_in_the_alert_covers_a_subdomain_in_the_truth() {
    let mut it = item();
    it.entities = Entities {
        domain: Some("t.sync-cache-srv.net".into()),
        ..Entities::default()
    };
    let a = alert(
        "moh",
        "2026-01-05T01:10:00Z",
        "2026-01-05T01:20:00Z",
        r#"{"domain":"sync-cache-srv.net"}"#,
    );
    assert!(covers(&a, &it));
}

#[test]
fn organizations_must_be_equal() {
    check(
        "mof",
        "2026-01-05T01:10:00Z",
        "2026-01-05T01:20:00Z",
        DOM,
        false,
    );
    check(
        "moh",
        "2026-01-05T01:10:00Z",
        "2026-01-05T01:20:00Z",
        DOM,
        true,
    );
}

#[test]
fn metrics_recall_precision_false_positives_and_median() {
    let mut second = item();
    second.id = "t-02".into();
    second.kind = TruthKind::DnsTunnel;
    second.start = t("2026-01-05T05:00:00Z");
    second.end = t("2026-01-05T06:00:00Z");
    second.entities = Entities {
        domain: Some("tunnel.example".into()),
        ..Entities::default()
    };
    let mut third = item();
    third.id = "t-03".into();
    third.kind = TruthKind::Dga;
    third.entities = Entities {
        host: Some("pc-0099".into()),
        ..Entities::default()
    };
    let truth = vec![item(), second, third];
    let mut a1 = alert("moh", "2026-01-05T01:00:00Z", "2026-01-05T01:10:00Z", DOM);
    a1.time = t("2026-01-05T01:02:00Z");
    let mut a2 = alert(
        "moh",
        "2026-01-05T05:00:00Z",
        "2026-01-05T05:30:00Z",
        r#"{"domain":"x.tunnel.example"}"#,
    );
    a2.id = "a2".into();
    a2.time = t("2026-01-05T05:06:00Z");
    // Two false-positive alerts with the same identity count once; a third identity once more.
    let fp1 = alert(
        "moh",
        "2026-01-05T09:00:00Z",
        "2026-01-05T09:10:00Z",
        r#"{"domain":"benign.example"}"#,
    );
    let fp2 = alert(
        "moh",
        "2026-01-05T10:00:00Z",
        "2026-01-05T10:10:00Z",
        r#"{"domain":"benign.example"}"#,
    );
    let mut fp3 = fp1.clone();
    fp3.rule_id = "other".into();
    let s = score::score(&truth, &[a1, a2, fp1, fp2, fp3]);
    assert_eq!(s.truth, 3);
    assert_eq!(s.detected, 2);
    assert_eq!(s.alerts, 5);
    assert_eq!(s.false_positives, 2);
    assert!((s.recall.unwrap() - 2.0 / 3.0).abs() < 1e-12);
    // Distinct identities: 2 covering, 2 false → 0.5.
    assert_eq!(s.precision, Some(0.5));
    // Times to detect 120 s and 360 s → median 240 s.
    assert_eq!(s.median_time_to_detect_s, Some(240.0));
    assert_eq!(s.by_kind[&TruthKind::Dga].detected, 0);
    assert_eq!(s.by_kind[&TruthKind::DnsTunnel].recall, Some(1.0));
    let json = serde_json::to_value(&s).unwrap();
    for key in [
        "truth",
        "detected",
        "recall",
        "by_kind",
        "alerts",
        "false_positives",
        "precision",
        "median_time_to_detect_s",
    ] {
        assert!(json.get(key).is_some(), "{key}");
    }
    assert!(s.table().contains("dns_tunnel"));
}

#[test]
fn time_to_detect_uses_the_earliest_covering_alert_and_may_be_negative() {
    let mut early = alert("moh", "2026-01-05T00:56:00Z", "2026-01-05T00:57:00Z", DOM);
    early.time = t("2026-01-05T00:57:00Z");
    let late = alert("moh", "2026-01-05T01:30:00Z", "2026-01-05T01:40:00Z", DOM);
    let s = score::score(&[item()], &[late, early]);
    assert_eq!(s.median_time_to_detect_s, Some(-180.0));
}

#[test]
fn undefined_ratios_are_null() {
    let s = score::score(&[], &[]);
    assert_eq!(s.recall, None);
    assert_eq!(s.precision, None);
    assert_eq!(s.median_time_to_detect_s, None);
    let v = serde_json::to_value(&s).unwrap();
    assert!(v["recall"].is_null());
}

#[test]
fn malformed_lines_are_errors_with_their_number() {
    let text = "\n{\"id\":\"t-1\"}\n";
    let e = score::read_jsonl::<TruthItem>("truth.jsonl", text).unwrap_err();
    assert!(e.to_string().starts_with("truth.jsonl: line 2:"), "{e}");
}

proptest! {
    #[test]
    fn any_alert_inside_the_window_with_a_shared_value_covers(
        off_a in -300i64..=(3600 + 3600), len in 0i64..7200, upper in any::<bool>()
    ) {
        let start = t(START);
        let first = start.saturating_add_secs(off_a);
        let last = first.saturating_add_secs(len);
        let mut a = alert("moh", START, START, DOM);
        a.first_seen = first;
        a.last_seen = last;
        if upper {
            a.entities.domain = Some("SUB.CDN-UPD.NET".into());
        }
        prop_assert!(covers(&a, &item()));
        // Moving the alert to another organization never covers.
        a.org = "mof".parse().unwrap();
        prop_assert!(!covers(&a, &item()));
    }

    #[test]
    fn alerts_entirely_outside_the_window_never_cover(gap in 1i64..1_000_000, before in any::<bool>()) {
        let mut a = alert("moh", START, START, DOM);
        if before {
            let last = t(START).saturating_sub_secs(300 + gap);
            a.first_seen = last.saturating_sub_secs(600);
            a.last_seen = last;
        } else {
            let first = t(END).saturating_add_secs(3600 + gap);
            a.first_seen = first;
            a.last_seen = first.saturating_add_secs(600);
        }
        prop_assert!(!covers(&a, &item()));
    }

    #[test]
    fn read_jsonl_never_panics(s in "\\PC*") {
        let _ = score::read_jsonl::<Alert>("a", &s);
    }
}
