//! Sigma 2.1 specification, as data: one `check(detection, event, expect)` per case, over a
//! Sysmon process-creation event seen through yagura's log-source map and field view.

mod common;

use yagura_model::Event;
use yagura_sigma::{LoadStatus, LogSourceMap, RuleSet};

fn event(fields: &[(&str, &str)]) -> Event {
    let mut e = Event::default();
    e.winlog.channel = Some("Microsoft-Windows-Sysmon/Operational".into());
    e.winlog.event_id = Some(1);
    for (k, v) in fields {
        e.winlog.event_data.insert(*k, *v);
    }
    e
}

fn rule(detection: &str) -> String {
    format!(
        "title: t\nid: 00000000-0000-0000-0000-000000000001\nlogsource:\n    product: windows\n    category: process_creation\ndetection:\n{detection}\nlevel: high\n"
    )
}

#[track_caller]
fn check(detection: &str, fields: &[(&str, &str)], expect: bool) {
    let text = rule(detection);
    let set = RuleSet::from_texts([("case.yml", text.as_str())], LogSourceMap::builtin());
    let rep = &set.report().rules[0];
    assert_eq!(rep.status, LoadStatus::Loaded, "{text}\n{rep:?}");
    let mut hit = false;
    set.evaluate(&event(fields), |_| hit = true);
    assert_eq!(hit, expect, "{detection}\n{fields:?}");
}

const CMD: (&str, &str) = (
    "CommandLine",
    "C:\\Windows\\System32\\cmd.exe /c whoami /all",
);

#[test]
fn string_modifiers() {
    let d = |s: &str| format!("    sel:\n        {s}\n    condition: sel");
    check(&d("CommandLine|contains: 'WHOAMI'"), &[CMD], true);
    check(&d("CommandLine|startswith: 'c:\\windows'"), &[CMD], true);
    check(&d("CommandLine|endswith: '/ALL'"), &[CMD], true);
    check(&d("CommandLine|endswith: '/none'"), &[CMD], false);
    check(&d("CommandLine: '*cmd.exe*'"), &[CMD], true);
    check(&d("CommandLine: 'cmd.exe'"), &[CMD], false);
    check(
        &d("CommandLine|contains|all: ['whoami', '/all']"),
        &[CMD],
        true,
    );
    check(
        &d("CommandLine|contains|all: ['whoami', '/priv']"),
        &[CMD],
        false,
    );
    check(&d("CommandLine|contains|cased: 'WHOAMI'"), &[CMD], false);
    check(&d("CommandLine|contains|cased: 'whoami'"), &[CMD], true);
    check(&d("CommandLine|windash|contains: '-all'"), &[CMD], true);
    check(&d("CommandLine|re: 'who(ami|is)\\s'"), &[CMD], true);
    check(&d("CommandLine|re: 'WHOAMI'"), &[CMD], false);
    check(&d("CommandLine|re|i: 'WHOAMI'"), &[CMD], true);
    check(
        &d("CommandLine|re|m: '^second$'"),
        &[("CommandLine", "first\nsecond\nthird")],
        true,
    );
    check(
        &d("CommandLine|re|s: 'first.second'"),
        &[("CommandLine", "first\nsecond")],
        true,
    );
    check(
        &d("CommandLine|re: 'first.second'"),
        &[("CommandLine", "first\nsecond")],
        false,
    );
}

#[test]
fn encoding_modifiers() {
    let d = |s: &str| format!("    sel:\n        {s}\n    condition: sel");
    // base64("whoami") = d2hvYW1p
    check(
        &d("CommandLine|base64: 'whoami'"),
        &[("CommandLine", "d2hvYW1p")],
        true,
    );
    check(
        &d("CommandLine|base64offset|contains: 'whoami'"),
        &[("CommandLine", "powershell -e eHdob2FtaQ==")],
        true,
    );
    // utf16le("ab") base64 = YQBiAA==
    check(
        &d("CommandLine|wide|base64offset|contains: 'ab'"),
        &[("CommandLine", "-enc YQBiAA==")],
        true,
    );
    check(
        &d("CommandLine|utf16le|base64offset|contains: 'ab'"),
        &[("CommandLine", "-enc YQBiAA==")],
        true,
    );
}

#[test]
fn numeric_network_and_presence_modifiers() {
    let d = |s: &str| format!("    sel:\n        {s}\n    condition: sel");
    let pid = ("ProcessId", "4460");
    check(&d("ProcessId|gt: 4000"), &[pid], true);
    check(&d("ProcessId|gte: 4460"), &[pid], true);
    check(&d("ProcessId|lt: 4460"), &[pid], false);
    check(&d("ProcessId|lte: 4460"), &[pid], true);
    check(&d("ProcessId: 4460"), &[pid], true);
    let ip = ("DestinationIp", "10.10.3.4");
    check(&d("DestinationIp|cidr: '10.10.0.0/16'"), &[ip], true);
    check(&d("DestinationIp|cidr: '192.168.0.0/16'"), &[ip], false);
    check(&d("ParentImage|exists: true"), &[CMD], false);
    check(&d("CommandLine|exists: true"), &[CMD], true);
    check(&d("ParentImage|exists: false"), &[CMD], true);
    check(&d("ParentImage: null"), &[CMD], true);
    check(&d("CommandLine|neq: 'x'"), &[CMD], true);
    check(
        &d("User|fieldref: TargetUser"),
        &[("User", "alice"), ("TargetUser", "alice")],
        true,
    );
    check(
        &d("User|fieldref: TargetUser"),
        &[("User", "alice"), ("TargetUser", "bob")],
        false,
    );
}

#[test]
fn time_modifiers() {
    let d = |s: &str| format!("    sel:\n        {s}\n    condition: sel");
    let t = ("UtcTime", "2026-01-05T03:04:05Z");
    check(&d("UtcTime|hour: 3"), &[t], true);
    check(&d("UtcTime|hour: 4"), &[t], false);
    check(&d("UtcTime|minute: 4"), &[t], true);
    check(&d("UtcTime|day: 5"), &[t], true);
    check(&d("UtcTime|month: 1"), &[t], true);
    check(&d("UtcTime|year: 2026"), &[t], true);
}

#[test]
fn condition_grammar_and_keywords() {
    let fields = [CMD, ("Image", "C:\\Windows\\System32\\cmd.exe")];
    let base = "    sel_a:\n        CommandLine|contains: whoami\n    sel_b:\n        Image|endswith: '\\powershell.exe'\n    filter:\n        CommandLine|contains: '/priv'\n";
    for (cond, expect) in [
        ("sel_a", true),
        ("sel_a and sel_b", false),
        ("sel_a or sel_b", true),
        ("sel_a and not filter", true),
        ("not sel_a", false),
        ("1 of sel_*", true),
        ("all of sel_*", false),
        ("1 of them", true),
        ("all of them", false),
        ("(sel_a or sel_b) and not filter", true),
        ("sel_a and (sel_b or filter)", false),
    ] {
        check(&format!("{base}    condition: {cond}"), &fields, expect);
    }
    // Condition lists: any of the conditions.
    check(
        &format!("{base}    condition:\n        - sel_b\n        - sel_a"),
        &fields,
        true,
    );
    // Keywords search every EventData value.
    check(
        "    keywords:\n        - 'whoami /all'\n    condition: keywords",
        &fields,
        true,
    );
    check(
        "    keywords:\n        - 'mimikatz'\n    condition: keywords",
        &fields,
        false,
    );
}

#[test]
fn specification_schema_test_rules_load() {
    let dir = common::shared().join("sigma/specification/tests/schema");
    let set = RuleSet::load_with(
        &[dir],
        yagura_sigma::LoadOptions {
            builtin: false,
            ..Default::default()
        },
    )
    .unwrap();
    let bad: Vec<_> = set
        .report()
        .rules
        .iter()
        .filter(|r| r.status == LoadStatus::Invalid)
        .collect();
    assert!(bad.is_empty(), "{bad:#?}");
    assert!(set.report().rules.len() >= 12, "{:#?}", set.report());
}
