//! Snapshots (insta) of the normalized output for the hand-written logs in `test_data/`, one
//! snapshot per format, events and rejects in file order.

use std::path::Path;

use yagura_formats::{FileReader, ReadOptions};
use yagura_model::Timestamp;

fn render(file: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("test_data")
        .join(file);
    let opts = ReadOptions {
        // Syslog RFC 3164 has no year: pin the reference so snapshots do not depend on mtime.
        syslog_reference: Some(Timestamp::parse_rfc3339("2026-01-10T00:00:00Z").expect("time")),
        ..ReadOptions::default()
    }
    .with_org("moh".parse().expect("org"));
    let reader = FileReader::from_reader(
        std::io::BufReader::new(std::fs::File::open(&path).expect("open test file")),
        file,
        &opts,
    )
    .expect("format detected");
    let mut out = format!("format: {}\n", reader.format());
    for rec in reader {
        match rec {
            Ok(ev) => {
                out.push_str(&serde_json::to_string_pretty(&ev).expect("serialize"));
                out.push('\n');
            }
            Err(r) => out.push_str(&format!("REJECT {}:{}: {}\n", r.file, r.line, r.reason)),
        }
    }
    out
}

macro_rules! snap {
    ($name:ident, $file:literal) => {
        #[test]
        fn $name() {
            insta::assert_snapshot!(render($file));
        }
    };
}

snap!(squid_native, "squid-native.log");
snap!(squid_native_gz, "squid-native.log.gz");
snap!(squid_native_zst, "squid-native.log.zst");
snap!(squid_combined, "squid-combined.log");
snap!(squid_common, "squid-common.log");
snap!(w3c_proxysg, "w3c-proxysg.log");
snap!(w3c_iis, "w3c-iis.log");
snap!(syslog, "syslog.log");
snap!(cef, "cef.log");
snap!(mailgw, "mailgw.jsonl");
snap!(postfix, "postfix.log");
snap!(ecs, "ecs.jsonl");
snap!(winlogbeat, "winlogbeat.jsonl");
snap!(evtx_dump, "evtx-dump.jsonl");

/// A few records of each shared-data format (first 2 records of each file).
fn render_shared(rel: &str, n: usize) -> String {
    let p = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data")).join(rel);
    assert!(p.exists(), "shared test data missing: {}", p.display());
    let reader = FileReader::open(&p, &ReadOptions::default()).expect("open");
    let mut out = format!("format: {}\n", reader.format());
    for rec in reader.take(n) {
        match rec {
            Ok(mut ev) => {
                ev.log.file.path = Some(rel.into());
                out.push_str(&serde_json::to_string_pretty(&ev).expect("serialize"));
                out.push('\n');
            }
            Err(r) => out.push_str(&format!("REJECT {}: {}\n", r.line, r.reason)),
        }
    }
    out
}

macro_rules! snap_shared {
    ($name:ident, $file:literal) => {
        #[test]
        fn $name() {
            insta::assert_snapshot!(render_shared($file, 2));
        }
    };
}

snap_shared!(zeek_tsv_conn, "zeek/rita/test_data/proxy/conn.log");
snap_shared!(zeek_tsv_dns, "zeek/rita/test_data/proxy/dns.log");
snap_shared!(zeek_tsv_http, "zeek/rita/test_data/proxy/http.log");
snap_shared!(zeek_tsv_ssl_gz, "zeek/zed/zeek-default/ssl.log.gz");
snap_shared!(zeek_tsv_x509_gz, "zeek/zed/zeek-default/x509.log.gz");
snap_shared!(zeek_tsv_notice_gz, "zeek/zed/zeek-default/notice.log.gz");
snap_shared!(zeek_tsv_files, "zeek/rita/test_data/proxy/files.log");
snap_shared!(zeek_tsv_weird, "zeek/rita/test_data/proxy/weird.log");
snap_shared!(zeek_json_dns_gz, "zeek/zed/zeek-json/dns.json.gz");
snap_shared!(
    zeek_json_rita,
    "zeek/rita/test_data/json_with_all_fields/dns.log"
);
snap_shared!(
    zeek_json_otrf_conn,
    "zeek/otrf/datasets/compound/apt29/day1/zeek/individual_zeek_logs/NASHUA_conn.log"
);
snap_shared!(
    suricata_eve,
    "suricata/slips/dataset/test6-malicious.suricata.json"
);
snap_shared!(
    suricata_fileinfo,
    "suricata/suricata-verify/tests/output-eve-fileinfo/expected/eve.json"
);
snap_shared!(
    evtx_lateral,
    "windows/evtx-attack-samples/Lateral Movement/LM_4624_mimikatz_sekurlsa_pth_source_machine.evtx"
);
