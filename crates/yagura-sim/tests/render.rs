//! One line per format, exactly as the tools write it (insta snapshots).

use smallvec::SmallVec;
use yagura_sim::records::*;
use yagura_sim::render;

/// 2026-01-05T01:02:03.456789Z = 10:02:03 JST.
const TS: i64 = 1_767_574_923_456_789_000;

fn ip(s: &str) -> std::net::Ipv4Addr {
    s.parse().unwrap()
}

fn text(f: impl FnOnce(&mut Vec<u8>)) -> String {
    let mut b = Vec::new();
    f(&mut b);
    String::from_utf8(b).unwrap()
}

fn web(method: &'static str, port: u16) -> Web<&'static str> {
    Web {
        ts: TS,
        client: ip("10.4.10.12"),
        client_port: 51234,
        user: Some("tanaka.h"),
        method,
        host: "cdn-upd.net",
        port,
        path: "/cgi-bin/news.cgi?id=7",
        status: 200,
        req_bytes: 512,
        resp_bytes: 1234,
        mime: "text/html",
        user_agent: "Mozilla/5.0",
        dst: ip("203.0.113.9"),
        elapsed_ms: 87,
        denied: false,
    }
}

fn dns(qtype: QType, rcode: Rcode, answers: &[&'static str]) -> Dns<&'static str> {
    Dns {
        ts: TS,
        client: ip("10.4.10.12"),
        client_port: 53211,
        server: ip("10.4.0.53"),
        trans_id: 4242,
        query: "www.example.jp",
        qtype,
        rcode,
        answers: SmallVec::from_slice(answers),
        ttl: 300,
        rtt_us: 1234,
    }
}

fn flow() -> Flow {
    Flow {
        ts: TS,
        src: ip("10.4.0.5"),
        src_port: 40000,
        dst: ip("203.0.113.9"),
        dst_port: 443,
        proto: Proto::Tcp,
        service: Some("ssl"),
        duration_us: 2_500_000,
        orig_bytes: 1000,
        resp_bytes: 50_000,
        orig_pkts: 5,
        resp_pkts: 40,
        state: "SF",
    }
}

#[test]
fn squid_native() {
    let mut denied = web("GET", 80);
    denied.denied = true;
    denied.status = 403;
    denied.user = None;
    insta::assert_snapshot!(text(|b| {
        render::squid(b, &web("POST", 80));
        render::squid(b, &web("CONNECT", 443));
        render::squid(b, &denied);
    }));
}

#[test]
fn zeek_tsv_and_json() {
    insta::assert_snapshot!(text(|b| {
        render::zeek_header(
            b,
            "dns",
            TS,
            render::ZEEK_DNS_FIELDS,
            render::ZEEK_DNS_TYPES,
        );
        render::zeek_dns_tsv(
            b,
            &dns(QType::A, Rcode::NoError, &["cdn.example.jp", "13.1.2.3"]),
        );
        render::zeek_dns_tsv(b, &dns(QType::A, Rcode::NxDomain, &[]));
        render::zeek_dns_tsv(b, &dns(QType::Txt, Rcode::NoError, &["a,b\tc"]));
        render::zeek_conn_tsv(b, &flow());
        render::zeek_footer(b, TS);
        render::zeek_dns_json(b, &dns(QType::A, Rcode::NoError, &["13.1.2.3"]));
        render::zeek_conn_json(b, &flow());
    }));
}

#[test]
fn suricata_eve() {
    insta::assert_snapshot!(text(|b| {
        render::eve_flow(b, &flow());
        render::eve_dns(
            b,
            &dns(QType::A, Rcode::NoError, &["cdn.example.jp", "13.1.2.3"]),
        );
        render::eve_http(b, &web("POST", 80));
        render::eve_http(b, &web("CONNECT", 443));
        render::eve_alert(
            b,
            &IdsAlert {
                ts: TS,
                src: ip("10.6.10.11"),
                src_port: 50000,
                dst: ip("203.0.113.9"),
                dst_port: 80,
                proto: Proto::Tcp,
                sid: 2_027_863,
                signature: "ET MALWARE Example",
                category: "A Network Trojan was detected",
                severity: 1,
                hostname: Some("cdn-upd.net"),
            },
        );
    }));
}

#[test]
fn windows_evtx_json() {
    let auth = |kind| Auth {
        ts: TS,
        kind,
        computer: "dc01-moh.moh.go.example",
        user: "tanaka.h",
        domain: "MOH",
        ip: Some(ip("10.4.10.12")),
        port: 50123,
        workstation: "pc-0003",
        service: "cifs/pc-0007",
    };
    insta::assert_snapshot!(text(|b| {
        for (n, kind) in [
            AuthKind::Logon {
                logon_type: 3,
                ntlm: false,
            },
            AuthKind::LogonFailed {
                logon_type: 3,
                sub_status: 0xc000_006a,
            },
            AuthKind::Tgt,
            AuthKind::ServiceTicket,
            AuthKind::PreAuthFailed,
            AuthKind::NtlmValidation { status: 0 },
            AuthKind::SpecialPrivileges,
        ]
        .into_iter()
        .enumerate()
        {
            let a = auth(kind);
            render::winlog_pre(b, &a);
            b.extend_from_slice((n + 1).to_string().as_bytes());
            render::winlog_post(b, &a);
        }
    }));
}

#[test]
fn syslog_and_mail() {
    let fw = Fw {
        ts: TS,
        allow: false,
        src: ip("10.7.200.10"),
        src_port: 50001,
        dst: ip("203.0.113.20"),
        dst_port: 443,
        proto: Proto::Tcp,
        rule: "isolated-to-internet",
    };
    let mail = Mail {
        ts: TS,
        gateway: "mx1.pension.go.example",
        queue_id: "4F2A1B3C5D",
        message_id: "<1.2@freemail-jp.example>",
        client_ip: ip("203.0.113.5"),
        client_hostname: "smtp-out.freemail-jp.example",
        envelope_from: "a@freemail-jp.example",
        header_from: "研究会 <a@freemail-jp.example>",
        recipients: vec!["info@pension.go.example"],
        subject: "「意見」",
        size: 284_000,
        attachments: vec![Attachment {
            name: "意見.lzh",
            size: 271_360,
            mime: "application/octet-stream",
            md5: "d41d8cd98f00b204e9800998ecf8427e",
            sha1: "da39a3ee5e6b4b0d3255bfef95601890afd80709",
            sha256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        }],
        links: vec!["http://kansai-seminar.jp/a.php?id=1"],
        spf: "pass",
        dkim: "none",
        dmarc: "none",
        verdict: "delivered",
    };
    insta::assert_snapshot!(text(|b| {
        render::syslog_5424(b, "fw01.power-east.co.example", &fw);
        render::syslog_3164(b, "fw01", &fw, TS / 1_000_000_000 - 1000);
        render::mailgw(b, &mail);
    }));
}
