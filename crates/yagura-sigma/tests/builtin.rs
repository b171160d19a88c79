//! The rules built into yagura: they load, fire on the events they are written for, stay
//! quiet on benign ones, and their correlations count over event time.

use std::sync::Arc;

use yagura_model::{Event, OrgId, Timestamp};
use yagura_sigma::{LoadOptions, LoadStatus, RuleSet, SigmaDetector};

fn builtin() -> RuleSet {
    RuleSet::load_with::<&str>(&[], LoadOptions::default()).unwrap()
}

fn org() -> OrgId {
    OrgId::new("moh").unwrap()
}

fn fired(set: &RuleSet, e: &Event) -> Vec<String> {
    let mut v = Vec::new();
    set.evaluate(e, |m| v.push(m.rule.title.clone()));
    v.sort();
    v
}

fn proxy(url: &str, ext: Option<&str>, ua: &str, status: u16) -> Event {
    let mut e = Event::default();
    e.organization.id = Some(org());
    e.event.dataset = Some("squid.access".into());
    e.url.full = Some(url.into());
    e.url.extension = ext.map(Into::into);
    e.url.domain = url
        .split('/')
        .nth(2)
        .map(|h| h.split(':').next().unwrap_or(h).into());
    e.user_agent.original = Some(ua.into());
    e.http.request.method = Some("GET".into());
    e.http.response.status_code = Some(status);
    e
}

#[test]
fn every_builtin_rule_loads() {
    let set = builtin();
    let bad: Vec<_> = set
        .report()
        .rules
        .iter()
        .filter(|r| r.status != LoadStatus::Loaded)
        .collect();
    assert!(bad.is_empty(), "{bad:#?}");
    assert_eq!(set.report().rules.len(), 11);
    assert!(set.rules().iter().all(|r| r.builtin));
}

#[test]
fn proxy_rules() {
    let set = builtin();
    let browser = "Mozilla/5.0 (Windows NT 10.0; Win64; x64)";
    assert_eq!(
        fired(
            &set,
            &proxy("http://cdn-upd.net/x/upd.exe", Some("exe"), browser, 200)
        ),
        ["Executable Download Through the Web Proxy"]
    );
    assert!(
        fired(
            &set,
            &proxy("http://cdn-upd.net/x/upd.exe", Some("exe"), browser, 404)
        )
        .is_empty()
    );
    assert_eq!(
        fired(
            &set,
            &proxy("http://203.0.113.9/gate.php", Some("php"), browser, 200)
        ),
        ["Web Request to a Bare IP Address Through the Proxy"]
    );
    assert!(
        fired(
            &set,
            &proxy("http://10.1.1.1/gate.php", Some("php"), browser, 200)
        )
        .is_empty()
    );
    assert_eq!(
        fired(
            &set,
            &proxy("https://example.org/", None, "WindowsPowerShell/5.1", 200)
        ),
        ["Scripting Tool User Agent Through the Proxy"]
    );
    assert!(
        fired(
            &set,
            &proxy("https://example.org/index.html", Some("html"), browser, 200)
        )
        .is_empty()
    );
}

fn dns(name: &str, qtype: &str) -> Event {
    let mut e = Event::default();
    e.organization.id = Some(org());
    e.event.dataset = Some("zeek.dns".into());
    e.dns.question.name = Some(name.into());
    e.dns.question.kind = Some(qtype.into());
    e
}

#[test]
fn dns_rules() {
    let set = builtin();
    assert_eq!(
        fired(
            &set,
            &dns(
                "4a6f686e20446f652073656e7420746869732066696c65.t.evil.example",
                "A"
            )
        ),
        ["DNS Query With a Long Encoded Label"]
    );
    assert_eq!(
        fired(&set, &dns("c2.badguy.top", "TXT")),
        ["DNS TXT Query for a Domain Under an Abused TLD"]
    );
    assert!(fired(&set, &dns("c2.badguy.top", "A")).is_empty());
    assert!(fired(&set, &dns("www.example.org", "TXT")).is_empty());
}

#[test]
fn mail_rules() {
    let set = builtin();
    let mail = |name: &str| {
        let mut e = Event::default();
        e.organization.id = Some(org());
        e.event.dataset = Some("mail.received".into());
        e.email
            .from
            .address
            .push("hr@pension-notice.example".into());
        e.email.attachments.push(yagura_model::event::Attachment {
            file: yagura_model::event::File {
                name: Some(name.into()),
                ..Default::default()
            },
        });
        e
    };
    assert_eq!(
        fired(&set, &mail("invoice.pdf.exe")),
        [
            "Received Mail Attachment With a Deceptive Double Extension",
            "Received Mail With an Executable or Script Attachment"
        ]
    );
    assert_eq!(
        fired(&set, &mail("notice.lnk")),
        ["Received Mail With an Executable or Script Attachment"]
    );
    assert!(fired(&set, &mail("minutes.pdf")).is_empty());
}

fn failed_logon(t: i64, user: &str, ip: &str) -> Event {
    let mut e = Event::default();
    e.organization.id = Some(org());
    e.timestamp = Timestamp::from_secs(t);
    e.winlog.channel = Some("Security".into());
    e.winlog.event_id = Some(4625);
    e.winlog.computer_name = Some("dc1.moh.example".into());
    e.winlog.event_data.insert("TargetUserName", user);
    e.winlog.event_data.insert("IpAddress", ip);
    e.winlog.event_data.insert("LogonType", "3");
    e.log.file.path = Some("moh/dc1/Security.evtx".into());
    e.log.file.line = Some(u64::try_from(t).unwrap());
    e
}

fn run(events: &[Event]) -> Vec<yagura_model::Alert> {
    let mut det = SigmaDetector::new(Arc::new(builtin()), None).unwrap();
    let mut out = Vec::new();
    for e in events {
        det.on_event(e, &mut out);
    }
    out
}

#[test]
fn password_spray_correlation_counts_over_event_time() {
    let t0 = 1_767_571_200; // 2026-01-05T00:00:00Z
    // Twelve accounts from one address within four minutes: a spray.
    let spray: Vec<Event> = (0..12)
        .map(|i| failed_logon(t0 + i * 20, &format!("user{i:02}"), "198.51.100.23"))
        .collect();
    let alerts = run(&spray);
    let titles: Vec<&str> = alerts.iter().map(|a| a.title.as_str()).collect();
    assert!(
        titles.contains(&"Password Spray From One Source Against Many Accounts"),
        "{titles:?}"
    );
    // The base rule has `generate: false` semantics: it only feeds the correlations.
    assert!(
        !titles.contains(&"Failed Windows Logon (password spray input)"),
        "{titles:?}"
    );
    let a = alerts
        .iter()
        .find(|a| a.title.starts_with("Password Spray"))
        .unwrap();
    assert_eq!(a.severity, yagura_model::Severity::High);
    assert_eq!(a.entities.src_ip.as_deref(), Some("198.51.100.23"));
    assert!(a.count >= 10);
    insta::assert_json_snapshot!("password_spray_alert", a);

    // The same twelve failures spread over two hours: no spray.
    let slow: Vec<Event> = (0..12)
        .map(|i| failed_logon(t0 + i * 700, &format!("user{i:02}"), "198.51.100.23"))
        .collect();
    assert!(
        run(&slow)
            .iter()
            .all(|a| !a.title.starts_with("Password Spray"))
    );
}

#[test]
fn brute_force_correlation() {
    let t0 = 1_767_571_200;
    let burst: Vec<Event> = (0..25)
        .map(|i| failed_logon(t0 + i * 5, "administrator", "203.0.113.50"))
        .collect();
    let alerts = run(&burst);
    assert!(
        alerts
            .iter()
            .any(|a| a.title == "Brute Force Against One Account"
                && a.entities.user.as_deref() == Some("administrator")),
        "{alerts:#?}"
    );
}

#[test]
fn detection_alert_matches_the_contract() {
    let set = builtin();
    let mut e = proxy(
        "http://cdn-upd.net/x/upd.exe",
        Some("exe"),
        "Mozilla/5.0",
        200,
    );
    e.timestamp = Timestamp::from_secs(1_767_571_200);
    e.source.ip = Some("10.10.3.4".parse().unwrap());
    e.log.file.path = Some("moh/proxy/access.log".into());
    e.log.file.line = Some(1234);
    let mut alerts = Vec::new();
    set.evaluate(&e, |m| alerts.push(m.to_alert(&e, None).unwrap()));
    assert_eq!(alerts.len(), 1);
    insta::assert_json_snapshot!("proxy_download_alert", alerts[0]);
    let mut no_org = e.clone();
    no_org.organization.id = None;
    set.evaluate(&no_org, |m| {
        assert_eq!(
            m.to_alert(&no_org, None).unwrap_err(),
            yagura_sigma::AlertError::NoOrganization
        );
    });
}

/// A streaming restart between any two events of a correlation window yields exactly the
/// alerts of the uninterrupted run: the windows in progress travel in the checkpoint (as the
/// JSON text the stream consumer writes), including the suppression of a second firing.
#[test]
fn correlation_windows_survive_a_checkpoint_and_restore() {
    let t0 = 1_767_571_200;
    // A spray (12 accounts, one source) interleaved with a brute force (25 failures, one
    // account), and a quiet tail after the windows have closed.
    let mut events: Vec<Event> = (0..12)
        .map(|i| failed_logon(t0 + i * 20, &format!("user{i:02}"), "198.51.100.23"))
        .chain((0..25).map(|i| failed_logon(t0 + 3 + i * 9, "administrator", "203.0.113.50")))
        .chain((0..3).map(|i| failed_logon(t0 + 3_600 + i, "guest", "192.0.2.9")))
        .collect();
    events.sort_by_key(|e| e.timestamp);
    let titles = |alerts: &[yagura_model::Alert]| -> Vec<String> {
        alerts
            .iter()
            .map(|a| format!("{} {}", a.title, a.time.to_rfc3339()))
            .collect()
    };
    let uninterrupted = titles(&run(&events));
    assert!(
        uninterrupted
            .iter()
            .any(|t| t.starts_with("Password Spray"))
            && uninterrupted.iter().any(|t| t.starts_with("Brute Force")),
        "{uninterrupted:?}"
    );

    for cut in [1, 5, 11, 20, 30, events.len() - 1] {
        let mut first = SigmaDetector::new(Arc::new(builtin()), None).unwrap();
        let mut out = Vec::new();
        for e in &events[..cut] {
            first.on_event(e, &mut out);
        }
        let state = first
            .checkpoint()
            .unwrap()
            .expect("built-in rules correlate");
        let text = serde_json::to_string(&state).unwrap();
        drop(first);

        let mut resumed = SigmaDetector::new(Arc::new(builtin()), None).unwrap();
        resumed
            .restore(serde_json::from_str(&text).unwrap())
            .unwrap();
        for e in &events[cut..] {
            resumed.on_event(e, &mut out);
        }
        assert_eq!(titles(&out), uninterrupted, "restart after {cut} events");
    }

    // Without the checkpoint the windows restart empty: the cut in the middle of the burst
    // loses the brute force (which is what the checkpoint prevents).
    let cut = 20;
    let mut out = run(&events[..cut]);
    out.extend(run(&events[cut..]));
    assert_ne!(titles(&out), uninterrupted);
}

#[test]
fn a_foreign_or_malformed_correlation_checkpoint_is_refused_with_a_reason() {
    let mut det = SigmaDetector::new(Arc::new(builtin()), None).unwrap();
    let err = det.restore(serde_json::json!({"windows": 3})).unwrap_err();
    assert!(err.to_string().contains("malformed"), "{err}");
    let mut state = det.checkpoint().unwrap().unwrap();
    state["version"] = serde_json::json!(999);
    let err = det.restore(state).unwrap_err();
    assert!(err.to_string().contains("999"), "{err}");
}
