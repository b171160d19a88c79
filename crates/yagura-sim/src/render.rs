//! Renderers: one activity record → one line exactly as the real tool writes it.
//!
//! - Squid native `access.log`: `%ts.%03tu %6tr %>a %Ss/%03>Hs %<st %rm %ru %[un %Sh/%<a %mt`
//! - Zeek `conn` and `dns`, TSV (with the `#separator … #types` header) and JSON
//!   (`LogAscii::use_json`, epoch `ts`)
//! - Suricata EVE JSON (`flow`, `dns` v2 query/answer, `http`, `tls`, `alert`; local time
//!   with a `+0900` offset, as Suricata writes)
//! - Windows Security events as the `evtx` crate's JSON (`{"Event":{"System":…,"EventData":…}}`),
//!   one record a line
//! - syslog: RFC 5424 (key=value message) and RFC 3164 (netfilter `LOG` message)
//! - the mail gateway's `yagura-mailgw` v1 JSON lines (`yagura-formats/MAIL_FORMAT.md`)

use std::net::Ipv4Addr;

use crate::out::*;
use crate::records::*;
use crate::rng::mix64;

fn ip_json(buf: &mut Vec<u8>, ip: Ipv4Addr) {
    buf.push(b'"');
    push_ipv4(buf, ip);
    buf.push(b'"');
}

fn key_str(buf: &mut Vec<u8>, key: &str, v: &str, first: bool) {
    push_key(buf, key, first);
    push_json_str(buf, v);
}

fn key_u64(buf: &mut Vec<u8>, key: &str, v: u64) {
    push_key(buf, key, false);
    push_u64(buf, v);
}

fn key_ip(buf: &mut Vec<u8>, key: &str, ip: Ipv4Addr) {
    push_key(buf, key, false);
    ip_json(buf, ip);
}

/// A connection identity hash (stable for the same 5-tuple and start time).
pub fn conn_hash(ts: i64, src: Ipv4Addr, sport: u16, dst: Ipv4Addr, dport: u16) -> u64 {
    mix64(
        (ts as u64)
            ^ mix64(u64::from(u32::from(src)) << 16 | u64::from(sport))
            ^ mix64(u64::from(u32::from(dst)).rotate_left(24) ^ u64::from(dport)),
    )
}

/// Zeek's connection uid: `C` and 17 base-62 characters.
pub fn push_zeek_uid(buf: &mut Vec<u8>, h: u64) {
    const B62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    buf.push(b'C');
    let mut x = h;
    let mut y = mix64(h);
    for i in 0..17 {
        let src = if i < 10 { &mut x } else { &mut y };
        let c = B62.get((*src % 62) as usize).copied().unwrap_or(b'0');
        *src /= 62;
        buf.push(c);
    }
}

// ---------------------------------------------------------------- Squid

pub fn squid<S: AsRef<str>>(buf: &mut Vec<u8>, r: &Web<S>) {
    push_epoch(buf, r.ts, 3);
    buf.push(b' ');
    // %6tr: elapsed milliseconds, right-aligned in six columns.
    let mut b = itoa::Buffer::new();
    let el = b.format(r.elapsed_ms);
    for _ in el.len()..6 {
        buf.push(b' ');
    }
    buf.extend_from_slice(el.as_bytes());
    buf.push(b' ');
    push_ipv4(buf, r.client);
    buf.push(b' ');
    let result = if r.denied {
        "TCP_DENIED"
    } else if r.method == "CONNECT" {
        "TCP_TUNNEL"
    } else if r.status == 304 {
        "TCP_REFRESH_UNMODIFIED"
    } else {
        "TCP_MISS"
    };
    buf.extend_from_slice(result.as_bytes());
    buf.push(b'/');
    let st = r.status;
    buf.push(b'0' + (st / 100 % 10) as u8);
    buf.push(b'0' + (st / 10 % 10) as u8);
    buf.push(b'0' + (st % 10) as u8);
    buf.push(b' ');
    push_u64(buf, r.resp_bytes);
    buf.push(b' ');
    buf.extend_from_slice(r.method.as_bytes());
    buf.push(b' ');
    if r.method == "CONNECT" {
        buf.extend_from_slice(r.host.as_ref().as_bytes());
        buf.push(b':');
        push_u64(buf, u64::from(r.port));
    } else {
        buf.extend_from_slice(b"http://");
        buf.extend_from_slice(r.host.as_ref().as_bytes());
        if r.port != 80 {
            buf.push(b':');
            push_u64(buf, u64::from(r.port));
        }
        buf.extend_from_slice(r.path.as_ref().as_bytes());
    }
    buf.push(b' ');
    match &r.user {
        Some(u) => buf.extend_from_slice(u.as_ref().as_bytes()),
        None => buf.push(b'-'),
    }
    buf.push(b' ');
    if r.denied {
        buf.extend_from_slice(b"HIER_NONE/-");
    } else {
        buf.extend_from_slice(b"HIER_DIRECT/");
        push_ipv4(buf, r.dst);
    }
    buf.push(b' ');
    buf.extend_from_slice(if r.method == "CONNECT" { "-" } else { r.mime }.as_bytes());
    buf.push(b'\n');
}

// ---------------------------------------------------------------- Zeek

pub const ZEEK_CONN_FIELDS: &str = "ts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\thistory\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\ttunnel_parents";
pub const ZEEK_CONN_TYPES: &str = "time\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\tstring\tbool\tbool\tcount\tstring\tcount\tcount\tcount\tcount\tset[string]";
pub const ZEEK_DNS_FIELDS: &str = "ts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\ttrans_id\trtt\tquery\tqclass\tqclass_name\tqtype\tqtype_name\trcode\trcode_name\tAA\tTC\tRD\tRA\tZ\tanswers\tTTLs\trejected";
pub const ZEEK_DNS_TYPES: &str = "time\tstring\taddr\tport\taddr\tport\tenum\tcount\tinterval\tstring\tcount\tstring\tcount\tstring\tcount\tstring\tbool\tbool\tbool\tbool\tcount\tvector[string]\tvector[interval]\tbool";

/// The TSV header Zeek writes at the top of a log.
pub fn zeek_header(buf: &mut Vec<u8>, path: &str, open_ns: i64, fields: &str, types: &str) {
    buf.extend_from_slice(
        b"#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\t",
    );
    buf.extend_from_slice(path.as_bytes());
    buf.extend_from_slice(b"\n#open\t");
    push_zeek_stamp(buf, open_ns);
    buf.extend_from_slice(b"\n#fields\t");
    buf.extend_from_slice(fields.as_bytes());
    buf.extend_from_slice(b"\n#types\t");
    buf.extend_from_slice(types.as_bytes());
    buf.push(b'\n');
}

pub fn zeek_footer(buf: &mut Vec<u8>, close_ns: i64) {
    buf.extend_from_slice(b"#close\t");
    push_zeek_stamp(buf, close_ns);
    buf.push(b'\n');
}

fn is_local(ip: Ipv4Addr) -> bool {
    ip.is_private()
}

fn history(f: &Flow) -> &'static str {
    match (f.proto, f.state) {
        (Proto::Tcp, "SF") => "ShADadFf",
        (Proto::Tcp, "S0") => "S",
        (Proto::Tcp, "REJ") => "Sr",
        (Proto::Tcp, "RSTO") => "ShADadR",
        (Proto::Tcp, _) => "ShADad",
        (Proto::Udp, _) => "Dd",
        (Proto::Icmp, _) => "-",
    }
}

fn ip_overhead(f: &Flow) -> (u64, u64) {
    let per = match f.proto {
        Proto::Tcp => 40,
        Proto::Udp => 28,
        Proto::Icmp => 28,
    };
    (
        f.orig_bytes + per * f.orig_pkts,
        f.resp_bytes + per * f.resp_pkts,
    )
}

pub fn zeek_conn_tsv(buf: &mut Vec<u8>, f: &Flow) {
    push_epoch(buf, f.ts, 6);
    buf.push(b'\t');
    push_zeek_uid(buf, conn_hash(f.ts, f.src, f.src_port, f.dst, f.dst_port));
    buf.push(b'\t');
    push_ipv4(buf, f.src);
    buf.push(b'\t');
    push_u64(buf, u64::from(f.src_port));
    buf.push(b'\t');
    push_ipv4(buf, f.dst);
    buf.push(b'\t');
    push_u64(buf, u64::from(f.dst_port));
    buf.push(b'\t');
    buf.extend_from_slice(f.proto.zeek().as_bytes());
    buf.push(b'\t');
    buf.extend_from_slice(f.service.unwrap_or("-").as_bytes());
    buf.push(b'\t');
    let established = f.state != "S0" && f.state != "REJ";
    if established {
        push_secs_micros(buf, f.duration_us, 6);
        buf.push(b'\t');
        push_u64(buf, f.orig_bytes);
        buf.push(b'\t');
        push_u64(buf, f.resp_bytes);
    } else {
        buf.extend_from_slice(b"-\t-\t-");
    }
    buf.push(b'\t');
    buf.extend_from_slice(f.state.as_bytes());
    buf.push(b'\t');
    buf.push(if is_local(f.src) { b'T' } else { b'F' });
    buf.push(b'\t');
    buf.push(if is_local(f.dst) { b'T' } else { b'F' });
    buf.extend_from_slice(b"\t0\t");
    buf.extend_from_slice(history(f).as_bytes());
    let (oip, rip) = ip_overhead(f);
    buf.push(b'\t');
    push_u64(buf, f.orig_pkts);
    buf.push(b'\t');
    push_u64(buf, oip);
    buf.push(b'\t');
    push_u64(buf, f.resp_pkts);
    buf.push(b'\t');
    push_u64(buf, rip);
    buf.extend_from_slice(b"\t-\n");
}

pub fn zeek_conn_json(buf: &mut Vec<u8>, f: &Flow) {
    buf.extend_from_slice(b"{\"ts\":");
    push_epoch(buf, f.ts, 6);
    push_key(buf, "uid", false);
    buf.push(b'"');
    push_zeek_uid(buf, conn_hash(f.ts, f.src, f.src_port, f.dst, f.dst_port));
    buf.push(b'"');
    key_ip(buf, "id.orig_h", f.src);
    key_u64(buf, "id.orig_p", u64::from(f.src_port));
    key_ip(buf, "id.resp_h", f.dst);
    key_u64(buf, "id.resp_p", u64::from(f.dst_port));
    key_str(buf, "proto", f.proto.zeek(), false);
    if let Some(s) = f.service {
        key_str(buf, "service", s, false);
    }
    if f.state != "S0" && f.state != "REJ" {
        push_key(buf, "duration", false);
        push_secs_micros(buf, f.duration_us, 6);
        key_u64(buf, "orig_bytes", f.orig_bytes);
        key_u64(buf, "resp_bytes", f.resp_bytes);
    }
    key_str(buf, "conn_state", f.state, false);
    push_key(buf, "local_orig", false);
    buf.extend_from_slice(if is_local(f.src) { b"true" } else { b"false" });
    push_key(buf, "local_resp", false);
    buf.extend_from_slice(if is_local(f.dst) { b"true" } else { b"false" });
    key_u64(buf, "missed_bytes", 0);
    key_str(buf, "history", history(f), false);
    let (oip, rip) = ip_overhead(f);
    key_u64(buf, "orig_pkts", f.orig_pkts);
    key_u64(buf, "orig_ip_bytes", oip);
    key_u64(buf, "resp_pkts", f.resp_pkts);
    key_u64(buf, "resp_ip_bytes", rip);
    buf.extend_from_slice(b"}\n");
}

fn dns_uid(d: &Dns<impl AsRef<str>>) -> u64 {
    conn_hash(d.ts, d.client, d.client_port, d.server, 53)
}

pub fn zeek_dns_tsv<S: AsRef<str>>(buf: &mut Vec<u8>, d: &Dns<S>) {
    push_epoch(buf, d.ts, 6);
    buf.push(b'\t');
    push_zeek_uid(buf, dns_uid(d));
    buf.push(b'\t');
    push_ipv4(buf, d.client);
    buf.push(b'\t');
    push_u64(buf, u64::from(d.client_port));
    buf.push(b'\t');
    push_ipv4(buf, d.server);
    buf.extend_from_slice(b"\t53\tudp\t");
    push_u64(buf, u64::from(d.trans_id));
    buf.push(b'\t');
    push_secs_micros(buf, u64::from(d.rtt_us), 6);
    buf.push(b'\t');
    push_zeek_field(buf, d.query.as_ref());
    buf.extend_from_slice(b"\t1\tC_INTERNET\t");
    push_u64(buf, u64::from(d.qtype.code()));
    buf.push(b'\t');
    buf.extend_from_slice(d.qtype.name().as_bytes());
    buf.push(b'\t');
    push_u64(buf, u64::from(d.rcode.code()));
    buf.push(b'\t');
    buf.extend_from_slice(d.rcode.name().as_bytes());
    buf.extend_from_slice(b"\tF\tF\tT\tT\t0\t");
    if d.answers.is_empty() {
        buf.extend_from_slice(b"-\t-");
    } else {
        for (i, a) in d.answers.iter().enumerate() {
            if i > 0 {
                buf.push(b',');
            }
            // The set separator is escaped inside a value.
            for &b in a.as_ref().as_bytes() {
                if b == b',' {
                    buf.extend_from_slice(b"\\x2c");
                } else if b == b'\t' || b == b'\\' || b < 0x20 {
                    push_zeek_field(buf, &char::from(b).to_string());
                } else {
                    buf.push(b);
                }
            }
        }
        buf.push(b'\t');
        for i in 0..d.answers.len() {
            if i > 0 {
                buf.push(b',');
            }
            push_u64(buf, u64::from(d.ttl));
            buf.extend_from_slice(b".000000");
        }
    }
    buf.extend_from_slice(b"\tF\n");
}

pub fn zeek_dns_json<S: AsRef<str>>(buf: &mut Vec<u8>, d: &Dns<S>) {
    buf.extend_from_slice(b"{\"ts\":");
    push_epoch(buf, d.ts, 6);
    push_key(buf, "uid", false);
    buf.push(b'"');
    push_zeek_uid(buf, dns_uid(d));
    buf.push(b'"');
    key_ip(buf, "id.orig_h", d.client);
    key_u64(buf, "id.orig_p", u64::from(d.client_port));
    key_ip(buf, "id.resp_h", d.server);
    key_u64(buf, "id.resp_p", 53);
    key_str(buf, "proto", "udp", false);
    key_u64(buf, "trans_id", u64::from(d.trans_id));
    push_key(buf, "rtt", false);
    push_secs_micros(buf, u64::from(d.rtt_us), 6);
    key_str(buf, "query", d.query.as_ref(), false);
    key_u64(buf, "qclass", 1);
    key_str(buf, "qclass_name", "C_INTERNET", false);
    key_u64(buf, "qtype", u64::from(d.qtype.code()));
    key_str(buf, "qtype_name", d.qtype.name(), false);
    key_u64(buf, "rcode", u64::from(d.rcode.code()));
    key_str(buf, "rcode_name", d.rcode.name(), false);
    buf.extend_from_slice(b",\"AA\":false,\"TC\":false,\"RD\":true,\"RA\":true,\"Z\":0");
    if !d.answers.is_empty() {
        push_key(buf, "answers", false);
        buf.push(b'[');
        for (i, a) in d.answers.iter().enumerate() {
            if i > 0 {
                buf.push(b',');
            }
            push_json_str(buf, a.as_ref());
        }
        buf.extend_from_slice(b"],\"TTLs\":[");
        for i in 0..d.answers.len() {
            if i > 0 {
                buf.push(b',');
            }
            push_u64(buf, u64::from(d.ttl));
            buf.extend_from_slice(b".0");
        }
        buf.push(b']');
    }
    buf.extend_from_slice(b",\"rejected\":false}\n");
}

// ---------------------------------------------------------------- Suricata EVE

fn eve_head(
    buf: &mut Vec<u8>,
    ts: i64,
    flow_id: u64,
    event_type: &str,
    (src, sport, dst, dport): (Ipv4Addr, u16, Ipv4Addr, u16),
    proto: Proto,
) {
    buf.extend_from_slice(b"{\"timestamp\":\"");
    push_rfc3339_local(buf, ts, JST_OFFSET_S, 6, false);
    buf.push(b'"');
    key_u64(buf, "flow_id", flow_id & 0x000F_FFFF_FFFF_FFFF);
    key_str(buf, "in_iface", "ens1f0", false);
    key_str(buf, "event_type", event_type, false);
    key_ip(buf, "src_ip", src);
    key_u64(buf, "src_port", u64::from(sport));
    key_ip(buf, "dest_ip", dst);
    key_u64(buf, "dest_port", u64::from(dport));
    key_str(buf, "proto", proto.upper(), false);
}

pub fn eve_flow(buf: &mut Vec<u8>, f: &Flow) {
    let h = conn_hash(f.ts, f.src, f.src_port, f.dst, f.dst_port);
    eve_head(
        buf,
        f.ts,
        h,
        "flow",
        (f.src, f.src_port, f.dst, f.dst_port),
        f.proto,
    );
    if let Some(s) = f.service {
        let app = if s == "ssl" { "tls" } else { s };
        key_str(buf, "app_proto", app, false);
    }
    buf.extend_from_slice(b",\"flow\":{\"pkts_toserver\":");
    push_u64(buf, f.orig_pkts);
    key_u64(buf, "pkts_toclient", f.resp_pkts);
    key_u64(buf, "bytes_toserver", ip_overhead(f).0);
    key_u64(buf, "bytes_toclient", ip_overhead(f).1);
    push_key(buf, "start", false);
    buf.push(b'"');
    push_rfc3339_local(buf, f.ts, JST_OFFSET_S, 6, false);
    buf.push(b'"');
    push_key(buf, "end", false);
    buf.push(b'"');
    let end = f.ts + (f.duration_us as i64).saturating_mul(1000);
    push_rfc3339_local(buf, end, JST_OFFSET_S, 6, false);
    buf.push(b'"');
    key_u64(buf, "age", f.duration_us / 1_000_000);
    let state = match f.state {
        "SF" => "closed",
        "S0" => "new",
        "REJ" | "RSTO" => "closed",
        _ => "established",
    };
    key_str(buf, "state", state, false);
    key_str(buf, "reason", "timeout", false);
    buf.extend_from_slice(b",\"alerted\":false}}\n");
}

pub fn eve_dns<S: AsRef<str>>(buf: &mut Vec<u8>, d: &Dns<S>) {
    let h = conn_hash(d.ts, d.client, d.client_port, d.server, 53);
    let tuple = (d.client, d.client_port, d.server, 53);
    eve_head(buf, d.ts, h, "dns", tuple, Proto::Udp);
    buf.extend_from_slice(b",\"dns\":{\"type\":\"query\",\"id\":");
    push_u64(buf, u64::from(d.trans_id));
    key_str(buf, "rrname", d.query.as_ref(), false);
    key_str(buf, "rrtype", d.qtype.name(), false);
    buf.extend_from_slice(b",\"tx_id\":0,\"opcode\":0}}\n");
    let ats = d.ts + i64::from(d.rtt_us) * 1000;
    eve_head(buf, ats, h, "dns", tuple, Proto::Udp);
    buf.extend_from_slice(b",\"dns\":{\"version\":2,\"type\":\"answer\",\"id\":");
    push_u64(buf, u64::from(d.trans_id));
    let flags = match d.rcode {
        Rcode::NoError => "8180",
        Rcode::ServFail => "8182",
        Rcode::NxDomain => "8183",
    };
    key_str(buf, "flags", flags, false);
    buf.extend_from_slice(b",\"qr\":true,\"rd\":true,\"ra\":true,\"opcode\":0");
    key_str(buf, "rrname", d.query.as_ref(), false);
    key_str(buf, "rrtype", d.qtype.name(), false);
    key_str(buf, "rcode", d.rcode.name(), false);
    if !d.answers.is_empty() {
        buf.extend_from_slice(b",\"answers\":[");
        for (i, a) in d.answers.iter().enumerate() {
            if i > 0 {
                buf.push(b',');
            }
            let a = a.as_ref();
            let rrtype = if d.qtype == QType::Txt {
                "TXT"
            } else if a.parse::<Ipv4Addr>().is_ok() {
                d.qtype.name()
            } else {
                "CNAME"
            };
            buf.push(b'{');
            key_str(buf, "rrname", d.query.as_ref(), true);
            key_str(buf, "rrtype", rrtype, false);
            key_u64(buf, "ttl", u64::from(d.ttl));
            key_str(buf, "rdata", a, false);
            buf.push(b'}');
        }
        buf.push(b']');
    }
    buf.extend_from_slice(b"}}\n");
}

pub fn eve_http<S: AsRef<str>>(buf: &mut Vec<u8>, w: &Web<S>) {
    eve_http_to(buf, w, (w.dst, w.port));
}

/// A web transaction as a Suricata sensor on the client side of an explicit proxy sees it:
/// the connection goes to `(proxy, port)`, the request names the origin host (TLS inside the
/// `CONNECT` tunnel still carries the origin's SNI).
pub fn eve_http_via_proxy<S: AsRef<str>>(buf: &mut Vec<u8>, w: &Web<S>, proxy: Ipv4Addr) {
    eve_http_to(buf, w, (proxy, crate::estate::PROXY_PORT));
}

fn eve_http_to<S: AsRef<str>>(buf: &mut Vec<u8>, w: &Web<S>, (dst, port): (Ipv4Addr, u16)) {
    let h = conn_hash(w.ts, w.client, w.client_port, dst, port);
    let tuple = (w.client, w.client_port, dst, port);
    if w.method == "CONNECT" || w.port == 443 {
        eve_head(buf, w.ts, h, "tls", tuple, Proto::Tcp);
        buf.extend_from_slice(b",\"tls\":{\"subject\":\"CN=");
        buf.extend_from_slice(w.host.as_ref().as_bytes());
        buf.extend_from_slice(b"\",\"issuerdn\":\"C=US, O=Let's Encrypt, CN=R11\"");
        key_str(buf, "sni", w.host.as_ref(), false);
        key_str(buf, "version", "TLS 1.3", false);
        buf.extend_from_slice(b",\"ja3\":{\"hash\":\"");
        buf.extend_from_slice(JA3_BROWSER.as_bytes());
        buf.extend_from_slice(b"\"}}}\n");
        return;
    }
    eve_head(buf, w.ts, h, "http", tuple, Proto::Tcp);
    buf.extend_from_slice(b",\"tx_id\":0,\"http\":{\"hostname\":");
    push_json_str(buf, w.host.as_ref());
    key_str(buf, "url", w.path.as_ref(), false);
    key_str(buf, "http_user_agent", w.user_agent.as_ref(), false);
    key_str(buf, "http_content_type", w.mime, false);
    key_str(buf, "http_method", w.method, false);
    key_str(buf, "protocol", "HTTP/1.1", false);
    key_u64(buf, "status", u64::from(w.status));
    key_u64(buf, "length", w.resp_bytes);
    buf.extend_from_slice(b"}}\n");
}

/// JA3 of a current Chrome build (benign browsers all look alike at this level).
pub const JA3_BROWSER: &str = "cd08e31494f9531f560d64c695473da9";

pub fn eve_alert<S: AsRef<str>>(buf: &mut Vec<u8>, a: &IdsAlert<S>) {
    let h = conn_hash(a.ts, a.src, a.src_port, a.dst, a.dst_port);
    let tuple = (a.src, a.src_port, a.dst, a.dst_port);
    eve_head(buf, a.ts, h, "alert", tuple, a.proto);
    buf.extend_from_slice(b",\"alert\":{\"action\":\"allowed\",\"gid\":1,\"signature_id\":");
    push_u64(buf, u64::from(a.sid));
    key_u64(buf, "rev", 3);
    key_str(buf, "signature", a.signature.as_ref(), false);
    key_str(buf, "category", a.category.as_ref(), false);
    key_u64(buf, "severity", u64::from(a.severity));
    buf.push(b'}');
    if let Some(hn) = &a.hostname {
        buf.extend_from_slice(b",\"http\":{\"hostname\":");
        push_json_str(buf, hn.as_ref());
        buf.push(b'}');
    }
    buf.extend_from_slice(b"}\n");
}

// ---------------------------------------------------------------- Windows (evtx JSON)

/// The part of a Windows record before its `EventRecordID` value (which the sink inserts in
/// file order).
pub fn winlog_pre<S: AsRef<str>>(buf: &mut Vec<u8>, a: &Auth<S>) {
    let (version, task, keywords) = match a.kind {
        AuthKind::Logon { .. } => (2, 12544, "0x8020000000000000"),
        AuthKind::LogonFailed { .. } => (0, 12544, "0x8010000000000000"),
        AuthKind::Tgt => (0, 14339, "0x8020000000000000"),
        AuthKind::ServiceTicket => (0, 14337, "0x8020000000000000"),
        AuthKind::PreAuthFailed => (0, 14339, "0x8010000000000000"),
        AuthKind::NtlmValidation { status } => (
            0,
            14336,
            if status == 0 {
                "0x8020000000000000"
            } else {
                "0x8010000000000000"
            },
        ),
        AuthKind::SpecialPrivileges => (0, 12548, "0x8020000000000000"),
    };
    buf.extend_from_slice(b"{\"Event\":{\"#attributes\":{\"xmlns\":\"http://schemas.microsoft.com/win/2004/08/events/event\"},\"System\":{\"Provider\":{\"#attributes\":{\"Name\":\"Microsoft-Windows-Security-Auditing\",\"Guid\":\"54849625-5478-4994-A5BA-3E3B0328C30D\"}},\"EventID\":");
    push_u64(buf, u64::from(a.kind.event_id()));
    key_u64(buf, "Version", version);
    key_u64(buf, "Level", 0);
    key_u64(buf, "Task", task);
    key_u64(buf, "Opcode", 0);
    key_str(buf, "Keywords", keywords, false);
    buf.extend_from_slice(b",\"TimeCreated\":{\"#attributes\":{\"SystemTime\":\"");
    push_rfc3339_utc(buf, a.ts, 6);
    buf.extend_from_slice(b"\"}},\"EventRecordID\":");
}

fn sid_of(domain: &str, user: &str) -> String {
    let h = mix64(
        domain
            .bytes()
            .chain(user.bytes())
            .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b))),
    );
    let d = mix64(
        domain
            .bytes()
            .fold(7u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b))),
    );
    format!(
        "S-1-5-21-{}-{}-{}-{}",
        d % 4_000_000_000,
        (d >> 20) % 4_000_000_000,
        (d >> 40) % 4_000_000_000,
        1100 + h % 50_000
    )
}

/// The rest of a Windows record after its `EventRecordID`.
pub fn winlog_post<S: AsRef<str>>(buf: &mut Vec<u8>, a: &Auth<S>) {
    let computer = a.computer.as_ref();
    let user = a.user.as_ref();
    let domain = a.domain.as_ref();
    let pid = 600 + (mix64(computer.len() as u64) % 100) * 4;
    buf.extend_from_slice(b",\"Correlation\":null,\"Execution\":{\"#attributes\":{\"ProcessID\":");
    push_u64(buf, pid);
    key_u64(buf, "ThreadID", pid + 36);
    buf.extend_from_slice(b"}},\"Channel\":\"Security\"");
    key_str(buf, "Computer", computer, false);
    buf.extend_from_slice(b",\"Security\":null},\"EventData\":{");
    let ip = |buf: &mut Vec<u8>, key: &str, v6: bool| {
        push_key(buf, key, false);
        match a.ip {
            Some(ip) => {
                buf.push(b'"');
                if v6 {
                    buf.extend_from_slice(b"::ffff:");
                }
                push_ipv4(buf, ip);
                buf.push(b'"');
            }
            None => buf.extend_from_slice(b"\"-\""),
        }
    };
    let port = |buf: &mut Vec<u8>| {
        push_key(buf, "IpPort", false);
        buf.push(b'"');
        if a.ip.is_some() {
            push_u64(buf, u64::from(a.port));
        } else {
            buf.push(b'-');
        }
        buf.push(b'"');
    };
    let hexs = |v: u32| format!("0x{v:x}");
    match &a.kind {
        AuthKind::Logon { logon_type, ntlm } => {
            key_str(buf, "SubjectUserSid", "S-1-0-0", true);
            key_str(buf, "SubjectUserName", "-", false);
            key_str(buf, "SubjectDomainName", "-", false);
            key_str(buf, "SubjectLogonId", "0x0", false);
            key_str(buf, "TargetUserSid", &sid_of(domain, user), false);
            key_str(buf, "TargetUserName", user, false);
            key_str(buf, "TargetDomainName", domain, false);
            key_str(
                buf,
                "TargetLogonId",
                &hexs((mix64(a.ts as u64) & 0xff_ffff) as u32),
                false,
            );
            key_str(buf, "LogonType", &logon_type.to_string(), false);
            let (proc, pkg, lm, kl) = if *ntlm {
                ("NtLmSsp ", "NTLM", "NTLM V2", "128")
            } else {
                ("Kerberos", "Kerberos", "-", "0")
            };
            key_str(buf, "LogonProcessName", proc, false);
            key_str(buf, "AuthenticationPackageName", pkg, false);
            key_str(buf, "WorkstationName", a.workstation.as_ref(), false);
            key_str(
                buf,
                "LogonGuid",
                "00000000-0000-0000-0000-000000000000",
                false,
            );
            key_str(buf, "TransmittedServices", "-", false);
            key_str(buf, "LmPackageName", lm, false);
            key_str(buf, "KeyLength", kl, false);
            key_str(buf, "ProcessId", "0x0", false);
            key_str(buf, "ProcessName", "-", false);
            ip(buf, "IpAddress", false);
            port(buf);
            key_str(buf, "ImpersonationLevel", "%%1833", false);
            key_str(buf, "RestrictedAdminMode", "-", false);
            key_str(buf, "TargetOutboundUserName", "-", false);
            key_str(buf, "TargetOutboundDomainName", "-", false);
            key_str(buf, "VirtualAccount", "%%1843", false);
            key_str(buf, "TargetLinkedLogonId", "0x0", false);
            key_str(buf, "ElevatedToken", "%%1842", false);
        }
        AuthKind::LogonFailed {
            logon_type,
            sub_status,
        } => {
            key_str(buf, "SubjectUserSid", "S-1-0-0", true);
            key_str(buf, "SubjectUserName", "-", false);
            key_str(buf, "SubjectDomainName", "-", false);
            key_str(buf, "SubjectLogonId", "0x0", false);
            key_str(buf, "TargetUserSid", "S-1-0-0", false);
            key_str(buf, "TargetUserName", user, false);
            key_str(buf, "TargetDomainName", domain, false);
            key_str(buf, "Status", "0xc000006d", false);
            key_str(buf, "FailureReason", "%%2313", false);
            key_str(buf, "SubStatus", &hexs(*sub_status), false);
            key_str(buf, "LogonType", &logon_type.to_string(), false);
            key_str(buf, "LogonProcessName", "NtLmSsp ", false);
            key_str(buf, "AuthenticationPackageName", "NTLM", false);
            key_str(buf, "WorkstationName", a.workstation.as_ref(), false);
            key_str(buf, "TransmittedServices", "-", false);
            key_str(buf, "LmPackageName", "-", false);
            key_str(buf, "KeyLength", "0", false);
            key_str(buf, "ProcessId", "0x0", false);
            key_str(buf, "ProcessName", "-", false);
            ip(buf, "IpAddress", false);
            port(buf);
        }
        AuthKind::Tgt | AuthKind::PreAuthFailed => {
            key_str(buf, "TargetUserName", user, true);
            key_str(buf, "TargetDomainName", domain, false);
            key_str(buf, "TargetSid", &sid_of(domain, user), false);
            key_str(buf, "ServiceName", "krbtgt", false);
            key_str(buf, "ServiceSid", &sid_of(domain, "krbtgt"), false);
            key_str(buf, "TicketOptions", "0x40810010", false);
            let failed = a.kind == AuthKind::PreAuthFailed;
            key_str(buf, "Status", if failed { "0x18" } else { "0x0" }, false);
            key_str(
                buf,
                "TicketEncryptionType",
                if failed { "0xffffffff" } else { "0x12" },
                false,
            );
            key_str(buf, "PreAuthType", "2", false);
            ip(buf, "IpAddress", true);
            port(buf);
            key_str(buf, "CertIssuerName", "", false);
            key_str(buf, "CertSerialNumber", "", false);
            key_str(buf, "CertThumbprint", "", false);
        }
        AuthKind::ServiceTicket => {
            key_str(buf, "TargetUserName", &format!("{user}@{domain}"), true);
            key_str(buf, "TargetDomainName", domain, false);
            key_str(buf, "ServiceName", a.service.as_ref(), false);
            key_str(
                buf,
                "ServiceSid",
                &sid_of(domain, a.service.as_ref()),
                false,
            );
            key_str(buf, "TicketOptions", "0x40810000", false);
            key_str(buf, "TicketEncryptionType", "0x12", false);
            ip(buf, "IpAddress", true);
            port(buf);
            key_str(buf, "Status", "0x0", false);
            key_str(
                buf,
                "LogonGuid",
                "00000000-0000-0000-0000-000000000000",
                false,
            );
            key_str(buf, "TransmittedServices", "-", false);
        }
        AuthKind::NtlmValidation { status } => {
            key_str(
                buf,
                "PackageName",
                "MICROSOFT_AUTHENTICATION_PACKAGE_V1_0",
                true,
            );
            key_str(buf, "TargetUserName", user, false);
            key_str(buf, "Workstation", a.workstation.as_ref(), false);
            key_str(buf, "Status", &hexs(*status), false);
        }
        AuthKind::SpecialPrivileges => {
            key_str(buf, "SubjectUserSid", &sid_of(domain, user), true);
            key_str(buf, "SubjectUserName", user, false);
            key_str(buf, "SubjectDomainName", domain, false);
            key_str(
                buf,
                "SubjectLogonId",
                &hexs((mix64(a.ts as u64) & 0xff_ffff) as u32),
                false,
            );
            key_str(
                buf,
                "PrivilegeList",
                "SeSecurityPrivilege\r\n\t\t\tSeBackupPrivilege\r\n\t\t\tSeRestorePrivilege\r\n\t\t\tSeTakeOwnershipPrivilege\r\n\t\t\tSeDebugPrivilege\r\n\t\t\tSeSystemEnvironmentPrivilege\r\n\t\t\tSeLoadDriverPrivilege\r\n\t\t\tSeImpersonatePrivilege\r\n\t\t\tSeDelegateSessionUserImpersonatePrivilege",
                false,
            );
        }
    }
    buf.extend_from_slice(b"}}}\n");
}

// ---------------------------------------------------------------- syslog

/// RFC 5424: `<134>1 2026-01-05T10:02:03.123+09:00 fw01.x fwd 2211 TRAFFIC - action=…`
pub fn syslog_5424(buf: &mut Vec<u8>, host: &str, f: &Fw) {
    buf.extend_from_slice(if f.allow { b"<134>1 " } else { b"<132>1 " });
    push_rfc3339_local(buf, f.ts, JST_OFFSET_S, 3, true);
    buf.push(b' ');
    buf.extend_from_slice(host.as_bytes());
    buf.extend_from_slice(b" fwd 2211 TRAFFIC - action=");
    buf.extend_from_slice(if f.allow { b"allow" } else { b"deny" });
    buf.extend_from_slice(b" rule=");
    buf.extend_from_slice(f.rule.as_bytes());
    buf.extend_from_slice(b" proto=");
    buf.extend_from_slice(f.proto.zeek().as_bytes());
    buf.extend_from_slice(b" src=");
    push_ipv4(buf, f.src);
    buf.extend_from_slice(b" sport=");
    push_u64(buf, u64::from(f.src_port));
    buf.extend_from_slice(b" dst=");
    push_ipv4(buf, f.dst);
    buf.extend_from_slice(b" dport=");
    push_u64(buf, u64::from(f.dst_port));
    buf.push(b'\n');
}

/// RFC 3164 with a netfilter `LOG` message:
/// `<132>Jan  5 10:02:03 fw01 kernel: [12345.678901] FW-DROP IN=… SRC=… DST=… PROTO=TCP SPT=… DPT=…`
pub fn syslog_3164(buf: &mut Vec<u8>, host: &str, f: &Fw, uptime_base_s: i64) {
    buf.extend_from_slice(if f.allow { b"<134>" } else { b"<132>" });
    push_bsd_time(buf, f.ts, JST_OFFSET_S);
    buf.push(b' ');
    buf.extend_from_slice(host.as_bytes());
    buf.extend_from_slice(b" kernel: [");
    let up = (f.ts - uptime_base_s * NS).max(0);
    push_i64(buf, up / NS);
    buf.push(b'.');
    let us = (up % NS) / 1000;
    let s = format!("{us:06}");
    buf.extend_from_slice(s.as_bytes());
    buf.extend_from_slice(b"] ");
    buf.extend_from_slice(if f.allow { b"FW-ACCEPT " } else { b"FW-DROP " });
    buf.extend_from_slice(b"IN=eth1 OUT=eth0 SRC=");
    push_ipv4(buf, f.src);
    buf.extend_from_slice(b" DST=");
    push_ipv4(buf, f.dst);
    buf.extend_from_slice(b" LEN=60 TOS=0x00 PREC=0x00 TTL=63 ID=");
    push_u64(buf, u64::from(f.src_port ^ f.dst_port));
    buf.extend_from_slice(b" DF PROTO=");
    buf.extend_from_slice(f.proto.upper().as_bytes());
    buf.extend_from_slice(b" SPT=");
    push_u64(buf, u64::from(f.src_port));
    buf.extend_from_slice(b" DPT=");
    push_u64(buf, u64::from(f.dst_port));
    if f.proto == Proto::Tcp {
        buf.extend_from_slice(b" WINDOW=64240 RES=0x00 SYN URGP=0");
    }
    buf.push(b'\n');
}

// ---------------------------------------------------------------- mail gateway

pub fn mailgw<S: AsRef<str>>(buf: &mut Vec<u8>, m: &Mail<S>) {
    buf.extend_from_slice(b"{\"type\":\"mailgw\",\"ts\":\"");
    push_rfc3339_utc(buf, m.ts, 3);
    buf.push(b'"');
    key_str(buf, "gateway", m.gateway.as_ref(), false);
    key_str(buf, "queue_id", m.queue_id.as_ref(), false);
    key_str(buf, "message_id", m.message_id.as_ref(), false);
    key_str(buf, "direction", "inbound", false);
    key_ip(buf, "client_ip", m.client_ip);
    key_str(buf, "client_hostname", m.client_hostname.as_ref(), false);
    key_str(buf, "helo", m.client_hostname.as_ref(), false);
    key_str(buf, "envelope_from", m.envelope_from.as_ref(), false);
    key_str(buf, "header_from", m.header_from.as_ref(), false);
    push_key(buf, "recipients", false);
    buf.push(b'[');
    for (i, r) in m.recipients.iter().enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        push_json_str(buf, r.as_ref());
    }
    buf.push(b']');
    key_str(buf, "subject", m.subject.as_ref(), false);
    key_u64(buf, "size", m.size);
    if !m.attachments.is_empty() {
        push_key(buf, "attachments", false);
        buf.push(b'[');
        for (i, a) in m.attachments.iter().enumerate() {
            if i > 0 {
                buf.push(b',');
            }
            buf.push(b'{');
            key_str(buf, "name", a.name.as_ref(), true);
            key_u64(buf, "size", a.size);
            key_str(buf, "mime_type", a.mime, false);
            key_str(buf, "md5", a.md5.as_ref(), false);
            key_str(buf, "sha1", a.sha1.as_ref(), false);
            key_str(buf, "sha256", a.sha256.as_ref(), false);
            buf.push(b'}');
        }
        buf.push(b']');
    }
    if !m.links.is_empty() {
        push_key(buf, "links", false);
        buf.push(b'[');
        for (i, l) in m.links.iter().enumerate() {
            if i > 0 {
                buf.push(b',');
            }
            push_json_str(buf, l.as_ref());
        }
        buf.push(b']');
    }
    key_str(buf, "spf", m.spf, false);
    key_str(buf, "dkim", m.dkim, false);
    key_str(buf, "dmarc", m.dmarc, false);
    key_str(buf, "verdict", m.verdict, false);
    buf.extend_from_slice(b"}\n");
}
