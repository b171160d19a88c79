//! A minimal Zeek TSV/JSON → `Event` adapter for evaluating the analytics on
//! `../shared/data` before the readers crate is available (the lead will route these
//! evaluations through `yagura-formats` later). Handles conn, dns, http and ssl logs, TSV
//! with `#fields` headers and JSON lines (dotted or underscore keys), plain or gzip.

use std::io::Read;
use std::net::IpAddr;
use std::path::Path;

use yagura_model::event::DnsAnswer;
use yagura_model::{Event, OrgId, Timestamp};

/// Reads a whole Zeek log as events attributed to `org`; returns (events, rejected lines).
pub fn read_log(path: &Path, org: &str) -> (Vec<Event>, usize) {
    let raw = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let text = if path.extension().is_some_and(|e| e == "gz") {
        let mut s = String::new();
        flate2::read::MultiGzDecoder::new(&raw[..])
            .read_to_string(&mut s)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        s
    } else {
        String::from_utf8_lossy(&raw).into_owned()
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let org = OrgId::new(org).expect("org");
    // Evidence names the file relative to the shared data root, as a telemetry root would.
    let root = super::shared_data();
    let file = path
        .strip_prefix(&root)
        .unwrap_or(path)
        .to_string_lossy()
        .into_owned();
    let mut kind = name
        .split('.')
        .next()
        .unwrap_or("")
        .trim_start_matches("labeled-")
        .to_owned();
    let mut fields: Vec<String> = Vec::new();
    let mut out = Vec::new();
    let mut rejects = 0;
    for (i, line) in text.lines().enumerate() {
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("#fields\t") {
            fields = rest.split('\t').map(str::to_owned).collect();
            continue;
        }
        if let Some(rest) = line.strip_prefix("#path\t") {
            kind = rest.trim().to_owned();
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let rec: Vec<(String, serde_json::Value)> = if line.starts_with('{') {
            match serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(line) {
                Ok(m) => m
                    .into_iter()
                    .map(|(k, v)| {
                        (
                            k.replace("id_orig", "id.orig")
                                .replace("id_resp", "id.resp"),
                            v,
                        )
                    })
                    .collect(),
                Err(_) => {
                    rejects += 1;
                    continue;
                }
            }
        } else {
            fields
                .iter()
                .zip(line.split('\t'))
                .filter(|(_, v)| *v != "-" && *v != "(empty)")
                .map(|(k, v)| (k.clone(), serde_json::Value::String(v.to_owned())))
                .collect()
        };
        match to_event(&kind, &rec, &org, &file, (i + 1) as u64) {
            Some(e) => out.push(e),
            None => rejects += 1,
        }
    }
    (out, rejects)
}

fn text(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        serde_json::Value::Array(a) => {
            Some(a.iter().filter_map(text).collect::<Vec<_>>().join(","))
        }
        _ => None,
    }
}

fn to_event(
    kind: &str,
    rec: &[(String, serde_json::Value)],
    org: &OrgId,
    file: &str,
    line: u64,
) -> Option<Event> {
    let get = |k: &str| rec.iter().find(|(f, _)| f == k).and_then(|(_, v)| text(v));
    let num = |k: &str| get(k).and_then(|v| v.parse::<u64>().ok());
    let ts = get("ts")?;
    let timestamp = Timestamp::parse_epoch_decimal(&ts)
        .or_else(|_| Timestamp::parse_rfc3339(&ts))
        .ok()?;
    let mut e = Event {
        timestamp,
        ..Event::default()
    };
    e.organization.id = Some(org.clone());
    e.event.dataset = Some(format!("zeek.{kind}").into());
    e.log.file.path = Some(file.into());
    e.log.file.line = Some(line);
    e.source.ip = get("id.orig_h").and_then(|v| v.parse::<IpAddr>().ok());
    e.source.port = get("id.orig_p").and_then(|v| v.parse().ok());
    e.destination.ip = get("id.resp_h").and_then(|v| v.parse::<IpAddr>().ok());
    e.destination.port = get("id.resp_p").and_then(|v| v.parse().ok());
    match kind {
        "conn" => {
            e.network.transport = get("proto").map(Into::into);
            e.network.protocol = get("service").map(Into::into);
            e.source.bytes = num("orig_bytes");
            e.destination.bytes = num("resp_bytes");
            if let Some(l) = get("label") {
                e.set_other("zeek.conn.label", l.into());
            }
            if let Some(l) = get("detailedlabel") {
                e.set_other("zeek.conn.detailedlabel", l.into());
            }
        }
        "dns" => {
            let q = get("query")?;
            e.dns.question.name = Some(q.trim_end_matches('.').to_ascii_lowercase().into());
            e.dns.question.kind = get("qtype_name").map(Into::into);
            e.dns.response_code = get("rcode_name").map(|r| r.to_ascii_uppercase().into());
            if let Some(a) = get("answers") {
                for ans in a.split(',').filter(|s| !s.is_empty()) {
                    if let Ok(ip) = ans.parse::<IpAddr>() {
                        e.dns.resolved_ip.push(ip);
                    }
                    e.dns.answers.push(DnsAnswer {
                        data: Some(ans.into()),
                        ..DnsAnswer::default()
                    });
                }
            }
        }
        "http" => {
            e.http.request.method = get("method").map(Into::into);
            if let Some(h) = get("host") {
                let h = h
                    .rsplit_once(':')
                    .filter(|(_, p)| p.bytes().all(|b| b.is_ascii_digit()))
                    .map_or(h.as_str(), |(h, _)| h);
                e.url.domain = Some(h.to_ascii_lowercase().into());
            }
            e.url.path = get("uri");
            e.http.request.bytes = num("request_body_len");
            e.http.response.bytes = num("response_body_len");
            e.http.response.status_code = get("status_code").and_then(|v| v.parse().ok());
            e.user_agent.original = get("user_agent");
        }
        "ssl" => {
            e.tls.client.server_name = get("server_name").map(|s| s.to_ascii_lowercase().into());
            e.tls.version = get("version").map(Into::into);
        }
        _ => return None,
    }
    Some(e)
}

/// Reads several logs and merges them in time order (stable: file order, then line).
pub fn read_logs(paths: &[&Path], org: &str) -> (Vec<Event>, usize) {
    let mut all = Vec::new();
    let mut rejects = 0;
    for p in paths {
        let (mut ev, r) = read_log(p, org);
        all.append(&mut ev);
        rejects += r;
    }
    all.sort_by_key(|e| e.timestamp);
    (all, rejects)
}
