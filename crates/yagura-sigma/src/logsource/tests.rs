use super::*;

fn win(channel: &str, id: u32) -> Event {
    let mut e = Event::default();
    e.winlog.channel = Some(channel.into());
    e.winlog.event_id = Some(id);
    e
}

fn slots(map: &LogSourceMap, e: &Event) -> Vec<String> {
    let mut out = Vec::new();
    map.slots_of(e, |s| out.push(map.slot_name(s)));
    out.sort();
    out
}

fn served(map: &LogSourceMap, c: Option<&str>, p: Option<&str>, s: Option<&str>) -> Vec<String> {
    let mut v: Vec<String> = map
        .slots_for(&Selector::new(c, p, s))
        .into_iter()
        .map(|s| map.slot_name(s))
        .collect();
    v.sort();
    v
}

#[test]
fn builtin_map_parses() {
    let m = LogSourceMap::from_yaml(BUILTIN_LOGSOURCES).unwrap();
    assert!(m.entries().len() > 100, "{}", m.entries().len());
}

#[test]
fn rules_are_served_by_the_right_entries() {
    let m = LogSourceMap::builtin();
    let check =
        |c, p, s, expect: &[&str]| assert_eq!(served(&m, c, p, s), expect, "{c:?} {p:?} {s:?}");
    check(
        Some("process_creation"),
        Some("windows"),
        None,
        &[
            "process_creation_security_4688",
            "process_creation_sysmon_1",
        ],
    );
    check(
        Some("process_creation"),
        Some("windows"),
        Some("sysmon"),
        &["process_creation_sysmon_1"],
    );
    check(
        None,
        Some("windows"),
        Some("security"),
        &["windows-security"],
    );
    check(None, Some("windows"), None, &["product:windows"]);
    check(Some("proxy"), None, None, &["proxy"]);
    check(None, Some("zeek"), Some("dns"), &["zeek-dns"]);
    check(None, Some("aws"), Some("cloudtrail"), &[]);
    check(Some("process_creation"), Some("linux"), None, &[]);
    check(Some("antivirus"), None, None, &["antivirus_defender"]);
}

#[test]
fn events_belong_to_the_right_slots() {
    let m = LogSourceMap::builtin();
    assert_eq!(
        slots(&m, &win("Microsoft-Windows-Sysmon/Operational", 1)),
        [
            "process_creation_sysmon_1",
            "product:windows",
            "windows-sysmon"
        ]
    );
    assert_eq!(
        slots(&m, &win("Security", 4688)),
        [
            "process_creation_security_4688",
            "product:windows",
            "windows-security"
        ]
    );
    // EventID 1 in the Security channel is not a Sysmon process creation.
    assert_eq!(
        slots(&m, &win("Security", 1)),
        ["product:windows", "windows-security"]
    );
    let mut reg = win("Microsoft-Windows-Sysmon/Operational", 12);
    reg.winlog.event_data.insert("EventType", "CreateKey");
    assert_eq!(
        slots(&m, &reg),
        [
            "product:windows",
            "registry_add_sysmon",
            "registry_event_sysmon_12",
            "windows-sysmon"
        ]
    );
    assert_eq!(
        slots(&m, &win("Some-Unknown/Channel", 5)),
        ["product:windows"]
    );
    let mut proxy = Event::default();
    proxy.event.dataset = Some("squid.access".into());
    assert_eq!(slots(&m, &proxy), ["proxy"]);
    let mut dns = Event::default();
    dns.event.dataset = Some("zeek.dns".into());
    assert_eq!(slots(&m, &dns), ["dns", "product:zeek", "zeek-dns"]);
    assert!(slots(&m, &Event::default()).is_empty());
}

#[test]
fn thor_style_maps_load_and_agree_with_ours_on_windows() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/sigma/tests/thor.yml"
    );
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("shared data missing ({path}): {e}"));
    let thor = LogSourceMap::from_yaml(&text).unwrap();
    let ours = LogSourceMap::builtin();
    // Every Windows event the THOR map classifies gets the same category/service names here.
    let names = |m: &LogSourceMap, e: &Event| {
        let mut v = Vec::new();
        m.slots_of(e, |s| {
            if let Some(en) = m.entries().get(s) {
                v.push(en.selector.clone());
            }
        });
        v.sort();
        v.dedup();
        v
    };
    let mut compared = 0;
    for en in thor.entries() {
        for (k, vals) in &en.conditions {
            if k != "EventID" {
                continue;
            }
            for id in &vals.0 {
                let Ok(id) = id.parse::<u32>() else { continue };
                let channels = en
                    .rewrite_service
                    .as_ref()
                    .and_then(|s| thor.service_channels.get(s))
                    .cloned()
                    .unwrap_or_default();
                for ch in channels {
                    let mut e = win(&ch, id);
                    for (k2, v2) in &en.conditions {
                        if k2 != "EventID" {
                            e.winlog.event_data.insert(k2.as_str(), v2.0[0].as_str());
                        }
                    }
                    let a = names(&thor, &e);
                    let b = names(&ours, &e);
                    for sel in &a {
                        assert!(
                            b.contains(sel),
                            "{ch} {id}: THOR gives {sel}, we give {b:?}"
                        );
                    }
                    compared += 1;
                }
            }
        }
    }
    assert!(compared > 40, "{compared}");
}
