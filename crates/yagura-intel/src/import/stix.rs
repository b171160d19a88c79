//! STIX 2.1 bundles.
//!
//! An `indicator` becomes indicators when its pattern reduces to exact values: one or more
//! observation expressions (`[…]`) joined by `OR`, each holding comparisons joined by `OR`,
//! each comparison `object-path = 'value'` (or `IN ('a', 'b')`) on a supported path:
//! `domain-name:value`, `ipv4-addr:value` / `ipv6-addr:value` (addresses or CIDR), `url:value`,
//! `file:hashes.MD5|'SHA-1'|'SHA-256'`, `file:name`, `email-addr:value`,
//! `email-message:from_ref.value`, `network-traffic:dst_ref.value`. Anything else (`AND`,
//! `!=`, `LIKE`, `MATCHES`, qualifiers, `FOLLOWEDBY`, other paths) makes the whole pattern a
//! reject with the reason: a pattern reduced partly would match more than its author meant.
//!
//! Provenance: `created_by_ref` names the source (the identity's name), `confidence`,
//! `valid_from`/`valid_until`, `labels`, `indicator_types`, ATT&CK ids from
//! `kill_chain_phases`/`external_references`, and the names of malware the indicator
//! `indicates` (relationships) become tags; TLP 1.0 and 2.0 markings become the TLP.
//! Revoked indicators are rejected with that reason.

use std::collections::HashMap;

use serde_json::Value;
use yagura_model::{IndicatorKind, Tlp};

use super::{
    FeedDefaults, ImportError, ImportReport, RecordMeta, insert, parse_confidence, parse_time,
};
use crate::normalize::{self, Normalized};
use crate::store::IndicatorStore;

/// TLP 1.0 marking-definition ids (STIX 2.1 spec §7.2.1.4) in addition to TLP 2.0's.
fn tlp_of_marking(id: &str) -> Option<Tlp> {
    if let Some(t) = Tlp::ALL.into_iter().find(|t| t.stix_marking_id() == id) {
        return Some(t);
    }
    Some(match id {
        "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9" => Tlp::Clear,
        "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da" => Tlp::Green,
        "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82" => Tlp::Amber,
        "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed" => Tlp::Red,
        _ => return None,
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    LBracket,
    RBracket,
    LParen,
    RParen,
    Comma,
    Word(String),
    Str(String),
    Op(String),
}

fn tokenize(p: &str) -> Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    let mut it = p.char_indices().peekable();
    while let Some((_, c)) = it.next() {
        match c {
            c if c.is_whitespace() => {}
            '[' => out.push(Tok::LBracket),
            ']' => out.push(Tok::RBracket),
            '(' => out.push(Tok::LParen),
            ')' => out.push(Tok::RParen),
            ',' => out.push(Tok::Comma),
            '\'' => {
                let mut s = String::new();
                loop {
                    match it.next() {
                        Some((_, '\\')) => match it.next() {
                            Some((_, e)) => s.push(e),
                            None => return Err("unterminated string".into()),
                        },
                        Some((_, '\'')) => break,
                        Some((_, ch)) => s.push(ch),
                        None => return Err("unterminated string".into()),
                    }
                }
                out.push(Tok::Str(s));
            }
            '=' | '!' | '<' | '>' => {
                let mut op = c.to_string();
                if let Some(&(_, '=')) = it.peek() {
                    op.push('=');
                    it.next();
                }
                out.push(Tok::Op(op));
            }
            _ => {
                let mut w = c.to_string();
                let mut in_quote = false;
                while let Some(&(_, ch)) = it.peek() {
                    // Quoted path components: `file:hashes.'SHA-256'`.
                    if ch == '\'' && w.ends_with('.') {
                        in_quote = true;
                    } else if ch == '\'' && in_quote {
                        in_quote = false;
                        w.push(ch);
                        it.next();
                        continue;
                    }
                    if !in_quote && (ch.is_whitespace() || "[]()=!<>,".contains(ch) || ch == '\'') {
                        break;
                    }
                    w.push(ch);
                    it.next();
                }
                out.push(Tok::Word(w));
            }
        }
    }
    Ok(out)
}

fn kind_of_path(path: &str) -> Option<IndicatorKind> {
    use IndicatorKind as K;
    let p = path.replace('"', "'");
    Some(match p.as_str() {
        "domain-name:value" => K::Domain,
        "ipv4-addr:value" => K::Ipv4,
        "ipv6-addr:value" => K::Ipv6,
        "url:value" => K::Url,
        "email-addr:value" | "email-message:from_ref.value" | "email-message:sender_ref.value" => {
            K::Email
        }
        "file:name" => K::FileName,
        "network-traffic:dst_ref.value" => K::Ipv4,
        _ => {
            let h = p
                .strip_prefix("file:hashes.")?
                .trim_matches('\'')
                .to_ascii_uppercase();
            match h.as_str() {
                "MD5" => K::Md5,
                "SHA-1" | "SHA1" => K::Sha1,
                "SHA-256" | "SHA256" => K::Sha256,
                _ => return None,
            }
        }
    })
}

/// Reduces one observation expression: comparisons joined by `OR` each give values; the one
/// `AND` form accepted is an address with a destination port
/// (`network-traffic:dst_ref.value = '…' AND network-traffic:dst_port = N`, optionally with
/// `dst_ref.type`), which is what yagura exports for `ip:port` indicators.
fn reduce_observation(
    comps: &[(String, Vec<String>)],
    connectors: &[String],
) -> Result<Vec<Normalized>, String> {
    let mut out = Vec::new();
    if connectors.iter().all(|c| c == "OR") {
        for (path, values) in comps {
            let kind = kind_of_path(path)
                .ok_or_else(|| format!("object path {path} is not an indicator kind"))?;
            for v in values {
                let kind = match kind {
                    IndicatorKind::Ipv4 | IndicatorKind::Ipv6 if v.contains('/') => {
                        IndicatorKind::Cidr
                    }
                    k => k,
                };
                out.push(normalize::value(kind, v).map_err(|e| e.to_string())?);
            }
        }
        return Ok(out);
    }
    let and_err = || "AND inside an observation cannot reduce to exact values".to_owned();
    if !connectors.iter().all(|c| c == "AND") {
        return Err(and_err());
    }
    let one = |name: &str| -> Option<&str> {
        let mut found = comps.iter().filter(|(p, _)| p == name);
        let (_, v) = found.next()?;
        if found.next().is_some() || v.len() != 1 {
            return None;
        }
        v.first().map(String::as_str)
    };
    let known = [
        "network-traffic:dst_ref.value",
        "network-traffic:dst_port",
        "network-traffic:dst_ref.type",
    ];
    if !comps.iter().all(|(p, _)| known.contains(&p.as_str())) {
        return Err(and_err());
    }
    let (Some(addr), Some(port)) = (one(known[0]), one(known[1])) else {
        return Err(and_err());
    };
    let port: u16 = port
        .parse()
        .map_err(|_| format!("port {port} is not 0–65535"))?;
    let kind = if addr.contains('/') {
        IndicatorKind::Cidr
    } else {
        IndicatorKind::Ipv4
    };
    let mut n = normalize::value(kind, addr).map_err(|e| e.to_string())?;
    n.port = Some(port);
    out.push(n);
    Ok(out)
}

/// Reduces a STIX pattern to exact values, or says why it cannot.
pub fn reduce_pattern(pattern: &str) -> Result<Vec<Normalized>, String> {
    let toks = tokenize(pattern)?;
    let mut out = Vec::new();
    let mut i = 0;
    let at = |i: usize| toks.get(i);
    let mut expect_obs = true;
    while i < toks.len() {
        if !expect_obs {
            match at(i) {
                Some(Tok::Word(w)) if w.eq_ignore_ascii_case("OR") => {
                    expect_obs = true;
                    i += 1;
                    continue;
                }
                Some(Tok::Word(w)) => {
                    return Err(format!(
                        "{w} between observation expressions cannot reduce to exact values"
                    ));
                }
                Some(t) => return Err(format!("unexpected {t:?} after an observation")),
                None => break,
            }
        }
        if at(i) != Some(&Tok::LBracket) {
            return Err("expected '[' (observation expression)".into());
        }
        i += 1;
        let mut comps: Vec<(String, Vec<String>)> = Vec::new();
        let mut connectors: Vec<String> = Vec::new();
        let mut expect_cmp = true;
        loop {
            match at(i) {
                Some(Tok::RBracket) if !expect_cmp => {
                    i += 1;
                    break;
                }
                Some(Tok::Word(w)) if !expect_cmp => {
                    let u = w.to_ascii_uppercase();
                    if u != "OR" && u != "AND" {
                        return Err(format!(
                            "{w} inside an observation cannot reduce to exact values"
                        ));
                    }
                    connectors.push(u);
                    expect_cmp = true;
                    i += 1;
                }
                Some(Tok::Word(path)) if expect_cmp => {
                    let path = path.replace('"', "'");
                    i += 1;
                    let mut values = Vec::new();
                    match at(i) {
                        Some(Tok::Op(op)) if op == "=" => {
                            i += 1;
                            match at(i) {
                                Some(Tok::Str(s)) => values.push(s.clone()),
                                Some(Tok::Word(n)) if n.bytes().all(|b| b.is_ascii_digit()) => {
                                    values.push(n.clone())
                                }
                                other => {
                                    return Err(format!(
                                        "expected a string after '=', found {other:?}"
                                    ));
                                }
                            }
                            i += 1;
                        }
                        Some(Tok::Word(w)) if w.eq_ignore_ascii_case("IN") => {
                            i += 1;
                            if at(i) != Some(&Tok::LParen) {
                                return Err("expected '(' after IN".into());
                            }
                            i += 1;
                            loop {
                                match at(i) {
                                    Some(Tok::Str(s)) => values.push(s.clone()),
                                    other => {
                                        return Err(format!(
                                            "expected a string in IN list, found {other:?}"
                                        ));
                                    }
                                }
                                i += 1;
                                match at(i) {
                                    Some(Tok::Comma) => i += 1,
                                    Some(Tok::RParen) => {
                                        i += 1;
                                        break;
                                    }
                                    other => {
                                        return Err(format!("unexpected {other:?} in IN list"));
                                    }
                                }
                            }
                        }
                        Some(Tok::Op(op)) => {
                            return Err(format!("operator {op} cannot reduce to exact values"));
                        }
                        Some(Tok::Word(w)) => {
                            return Err(format!("operator {w} cannot reduce to exact values"));
                        }
                        other => {
                            return Err(format!("expected a comparison operator, found {other:?}"));
                        }
                    }
                    comps.push((path, values));
                    expect_cmp = false;
                }
                Some(t) => return Err(format!("unexpected {t:?} in an observation")),
                None => return Err("unterminated observation expression".into()),
            }
        }
        out.extend(reduce_observation(&comps, &connectors)?);
        expect_obs = false;
        // Qualifiers (WITHIN, REPEATS, START) follow an observation.
        if let Some(Tok::Word(w)) = at(i) {
            let u = w.to_ascii_uppercase();
            if matches!(u.as_str(), "WITHIN" | "REPEATS" | "START") {
                return Err(format!("qualifier {u} cannot reduce to exact values"));
            }
        }
    }
    if out.is_empty() {
        return Err("empty pattern".into());
    }
    Ok(out)
}

fn str_of<'a>(o: &'a Value, k: &str) -> Option<&'a str> {
    o.get(k).and_then(Value::as_str)
}

fn attack_ids(o: &Value, tags: &mut Vec<String>) {
    for r in o
        .get("external_references")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if str_of(r, "source_name") == Some("mitre-attack")
            && let Some(id) = str_of(r, "external_id")
        {
            tags.push(id.to_owned());
        }
    }
    for k in o
        .get("kill_chain_phases")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let (Some(chain), Some(phase)) = (str_of(k, "kill_chain_name"), str_of(k, "phase_name"))
        {
            tags.push(format!("{chain}:{phase}"));
        }
    }
}

pub(crate) fn import(
    store: &mut IndicatorStore,
    origin: &str,
    bytes: &[u8],
    d: &FeedDefaults,
    report: &mut ImportReport,
) -> Result<(), ImportError> {
    let doc: Value = serde_json::from_slice(bytes).map_err(|e| ImportError::Json {
        origin: origin.to_owned(),
        reason: e.to_string(),
    })?;
    let objects: Vec<&Value> = match &doc {
        Value::Object(_) if doc.get("objects").is_some() => doc
            .get("objects")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .collect(),
        Value::Array(a) => a.iter().collect(),
        Value::Object(_) => vec![&doc],
        _ => {
            return Err(ImportError::Invalid {
                origin: origin.to_owned(),
                reason: "not a STIX bundle or object".into(),
            });
        }
    };
    let mut names: HashMap<&str, &str> = HashMap::new();
    for o in &objects {
        if let (Some(id), Some(name)) = (str_of(o, "id"), str_of(o, "name")) {
            names.insert(id, name);
        }
    }
    // indicator id → names of what it indicates
    let mut indicates: HashMap<&str, Vec<&str>> = HashMap::new();
    for o in &objects {
        if str_of(o, "type") == Some("relationship")
            && str_of(o, "relationship_type") == Some("indicates")
            && let (Some(src), Some(dst)) = (str_of(o, "source_ref"), str_of(o, "target_ref"))
            && let Some(n) = names.get(dst)
        {
            indicates.entry(src).or_default().push(n);
        }
    }
    for o in &objects {
        if str_of(o, "type") != Some("indicator") {
            continue;
        }
        let id = str_of(o, "id").unwrap_or("indicator (no id)");
        let pattern = str_of(o, "pattern").unwrap_or("");
        if o.get("revoked").and_then(Value::as_bool) == Some(true) {
            report.reject(id, pattern, "revoked");
            continue;
        }
        match str_of(o, "pattern_type") {
            Some("stix") | None => {}
            Some(other) => {
                report.reject(
                    id,
                    pattern,
                    format!("pattern_type {other} is not a STIX pattern"),
                );
                continue;
            }
        }
        let values = match reduce_pattern(pattern) {
            Ok(v) => v,
            Err(why) => {
                report.reject(id, pattern, why);
                continue;
            }
        };
        let mut m = RecordMeta {
            source: str_of(o, "created_by_ref")
                .and_then(|r| names.get(r))
                .map(|s| (*s).to_owned()),
            confidence: o.get("confidence").and_then(parse_confidence),
            tlp: o
                .get("object_marking_refs")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .filter_map(tlp_of_marking)
                .max(),
            valid_from: str_of(o, "valid_from").and_then(parse_time),
            valid_until: str_of(o, "valid_until").and_then(parse_time),
            first_seen: str_of(o, "created").and_then(parse_time),
            last_seen: str_of(o, "modified").and_then(parse_time),
            description: str_of(o, "description")
                .or_else(|| str_of(o, "name"))
                .map(str::to_owned),
            ..RecordMeta::default()
        };
        for key in ["indicator_types", "labels"] {
            for t in o.get(key).and_then(Value::as_array).into_iter().flatten() {
                if let Some(t) = t.as_str() {
                    m.tags.push(t.to_owned());
                }
            }
        }
        attack_ids(o, &mut m.tags);
        for n in indicates.get(id).into_iter().flatten() {
            m.tags.push((*n).to_owned());
        }
        if o.get("x_yagura_to_ids").and_then(Value::as_bool) == Some(false) {
            m.to_ids = Some(false);
        }
        let hostname = o.get("x_yagura_hostname").and_then(Value::as_bool) == Some(true);
        let meta = store.intern(m.into_meta(origin, d));
        for n in &values {
            if hostname && n.kind == IndicatorKind::Domain {
                let mut n = n.clone();
                n.kind = IndicatorKind::Hostname;
                insert(store, report, &n, meta);
            } else {
                insert(store, report, n, meta);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `pattern` → `kind value; …` or `reject: reason`.
    fn check(pattern: &str, expect: &str) {
        let got = match reduce_pattern(pattern) {
            Ok(v) => v
                .iter()
                .map(|n| format!("{} {}", n.kind, n.value))
                .collect::<Vec<_>>()
                .join("; "),
            Err(e) => format!("reject: {e}"),
        };
        assert_eq!(got, expect, "{pattern}");
    }

    #[test]
    fn patterns() {
        check(
            "[domain-name:value = 'Evil.Example']",
            "domain evil.example",
        );
        check(
            "[ipv4-addr:value = '198.51.100.1' OR ipv4-addr:value = '203.0.113.0/24']",
            "ipv4 198.51.100.1; cidr 203.0.113.0/24",
        );
        check("[ipv6-addr:value = '2001:db8::/32']", "cidr 2001:db8::/32");
        check(
            "[url:value = 'http://evil.example/a b'] OR [email-addr:value = 'X@evil.example']",
            "url http://evil.example/a%20b; email x@evil.example",
        );
        check(
            "[file:hashes.'SHA-256' = 'E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855']",
            "sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        );
        check(
            "[file:hashes.MD5 = 'd41d8cd98f00b204e9800998ecf8427e']",
            "md5 d41d8cd98f00b204e9800998ecf8427e",
        );
        check(
            "[domain-name:value IN ('a.example', 'b.example')]",
            "domain a.example; domain b.example",
        );
        check(
            "[url:value = 'http://x.example/it\\'s']",
            "url http://x.example/it's",
        );
        check(
            "[ipv4-addr:value = '1.2.3.4' AND network-traffic:dst_port = 443]",
            "reject: AND inside an observation cannot reduce to exact values",
        );
        check(
            "[domain-name:value LIKE '%.evil.example']",
            "reject: operator LIKE cannot reduce to exact values",
        );
        check(
            "[domain-name:value != 'a.example']",
            "reject: operator != cannot reduce to exact values",
        );
        check(
            "[file:size = '1']",
            "reject: object path file:size is not an indicator kind",
        );
        check(
            "[domain-name:value = 'a.example'] FOLLOWEDBY [domain-name:value = 'b.example']",
            "reject: FOLLOWEDBY between observation expressions cannot reduce to exact values",
        );
        check(
            "[domain-name:value = 'a.example'] WITHIN 300 SECONDS",
            "reject: qualifier WITHIN cannot reduce to exact values",
        );
        check(
            "[domain-name:value = 'a..b']",
            "reject: invalid domain name \"a..b\": empty label",
        );
        check("[domain-name:value = 'a", "reject: unterminated string");
        check("", "reject: empty pattern");
    }
}
