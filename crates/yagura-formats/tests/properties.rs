//! Property tests: writer → reader round trips (Squid native, CEF escaping, Zeek TSV escaping)
//! and "never panics, never loses a line" on arbitrary input for every format.

use proptest::prelude::*;
use yagura_formats::{Format, ReadOptions, read_bytes};

fn forced(f: Format) -> ReadOptions {
    ReadOptions::default().with_format(f)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn squid_native_round_trip(
        secs in 0i64..7_000_000_000,
        millis in 0u32..1000,
        elapsed in 0u32..10_000_000,
        ip in any::<[u8; 4]>(),
        status in 100u16..600,
        bytes in any::<u32>(),
        host in "[a-z]{1,12}(\\.[a-z]{2,8}){1,3}",
        path in "(/[A-Za-z0-9_.~-]{0,12}){1,4}",
        user in prop_oneof![Just("-".to_owned()), "[a-z]{1,8}"],
    ) {
        let ipaddr = std::net::Ipv4Addr::from(ip);
        let line = format!(
            "{secs}.{millis:03} {elapsed:6} {ipaddr} TCP_MISS/{status:03} {bytes} GET http://{host}{path} {user} HIER_DIRECT/{ipaddr} text/html\n"
        );
        let recs = read_bytes(line.as_bytes(), "p.log", &forced(Format::Squid)).expect("open");
        prop_assert_eq!(recs.len(), 1);
        let ev = recs.into_iter().next().expect("one").expect("an event");
        prop_assert_eq!(ev.timestamp.nanos(), secs * 1_000_000_000 + i64::from(millis) * 1_000_000);
        prop_assert_eq!(ev.event.duration, Some(i64::from(elapsed) * 1_000_000));
        prop_assert_eq!(ev.source.ip, Some(std::net::IpAddr::V4(ipaddr)));
        prop_assert_eq!(ev.http.response.status_code, Some(status));
        prop_assert_eq!(ev.http.response.bytes, Some(u64::from(bytes)));
        prop_assert_eq!(ev.url.domain.as_deref(), Some(host.as_str()));
        prop_assert_eq!(ev.url.path.as_deref(), Some(path.as_str()));
        prop_assert_eq!(ev.user.name.as_deref(), (user != "-").then_some(user.as_str()));
    }

    #[test]
    fn cef_escaping_round_trip(
        name in "[ -~]{0,20}",
        msg in "[ -~\n]{0,40}[!-~]",
        fname in "[ -~]{0,20}[!-~]",
    ) {
        let esc_h = |s: &str| s.replace('\\', "\\\\").replace('|', "\\|");
        let esc_e = |s: &str| s.replace('\\', "\\\\").replace('=', "\\=").replace('\n', "\\n");
        let line = format!(
            "CEF:0|V|P|1|42|{}|5|rt=1767574923000 msg={} fname={}\n",
            esc_h(&name), esc_e(&msg), esc_e(&fname)
        );
        let recs = read_bytes(line.as_bytes(), "p.log", &forced(Format::Cef)).expect("open");
        let ev = recs.into_iter().next().expect("one").expect("an event");
        prop_assert_eq!(ev.rule.name.as_deref(), Some(name.as_str()));
        prop_assert_eq!(ev.message.as_deref(), Some(msg.as_str()));
        prop_assert_eq!(ev.file.name.as_deref(), Some(fname.as_str()));
    }

    #[test]
    fn zeek_tsv_escaping_round_trip(query in "[ -~\t]{1,30}") {
        // Zeek's ASCII writer escapes the separator (and non-printables) as \xHH.
        // A value that reads like the unset or empty marker is written escaped (`\x2d`).
        let esc: String = match query.as_str() {
            "-" => "\\x2d".to_owned(),
            "(empty)" => "\\x28empty)".to_owned(),
            _ => query.chars().map(|c| if c == '\t' { "\\x09".to_owned() } else { c.to_string() }).collect(),
        };
        let input = format!(
            "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tdns\n#fields\tts\tquery\n#types\ttime\tstring\n1767574923.5\t{esc}\n"
        );
        let recs = read_bytes(input.as_bytes(), "dns.log", &forced(Format::ZeekTsv)).expect("open");
        let ev = recs.into_iter().next().expect("one").expect("an event");
        let expect = query.strip_suffix('.').unwrap_or(&query).to_ascii_lowercase();
        prop_assume!(!expect.is_empty());
        prop_assert_eq!(ev.dns.question.name.as_deref(), Some(expect.as_str()));
    }

    #[test]
    fn arbitrary_bytes_never_panic_or_vanish(
        data in proptest::collection::vec(any::<u8>(), 0..2048),
        fmt in proptest::sample::select(Format::ALL.to_vec()),
    ) {
        let opts = ReadOptions { max_line: 256, ..forced(fmt) };
        let recs = read_bytes(&data, "p.log", &opts).expect("forced formats always open");
        if fmt != Format::Evtx && fmt != Format::Postfix {
            // One record per non-blank line at most, each with its line number.
            let lines = data.split(|b| *b == b'\n').count();
            prop_assert!(recs.len() <= lines);
        }
        for r in recs {
            match r {
                Ok(ev) => prop_assert!(ev.log.file.line.is_some()),
                Err(rej) => prop_assert!(!rej.reason.is_empty()),
            }
        }
    }
}
