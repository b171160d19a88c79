//! Export: STIX 2.1 bundles and MISP event JSON.
//!
//! Both are deterministic for the same indicators and options: STIX Cyber-observable ids are
//! the UUIDv5 the STIX 2.1 specification prescribes (§2.9: namespace
//! `00abedb4-aa42-466c-9c01-fed23315a9b7`, name = the JCS-canonical JSON of the id-contributing
//! properties), and every other id (identity, indicator, relationship, bundle, MISP event and
//! attributes) is derived from the SHA-1 of the object's identity in yagura's namespace (MISP:
//! UUIDv5; STIX domain objects: a stable UUIDv4, the version STIX 2.1 asks for), so
//! re-exporting does not mint new objects.
//!
//! What cannot be expressed is counted in [`ExportReport::skipped`] with the reason: bare URL
//! paths (no STIX equivalent), JA3/JA4 (no STIX 2.1 observable), indicators above the TLP
//! ceiling.

use std::collections::BTreeSet;

use serde_json::{Value, json};
use uuid::Uuid;
use yagura_model::{IndicatorKind, Timestamp, Tlp};

use crate::store::{IndicatorRef, IndicatorStore};

/// STIX 2.1 namespace for deterministic SCO ids (spec §2.9).
pub const STIX_SCO_NAMESPACE: Uuid = Uuid::from_u128(0x00abedb4_aa42_466c_9c01_fed23315a9b7);

/// yagura's namespace: UUIDv5(URL namespace, `https://example.invalid/yagura`).
pub const YAGURA_NAMESPACE: Uuid = Uuid::from_u128(0xe80e1dd7_d12f_55ae_9d00_aca2dc721b4f);

/// The TLP 2.0 extension definition (published by the OASIS CTI TC).
pub const TLP2_EXTENSION: &str = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d";

/// Export options.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// The producing organization (STIX identity, MISP `Orgc`).
    pub producer: String,
    /// `created`/`modified` of objects without their own times, MISP timestamps.
    pub now: Timestamp,
    /// Only indicators at or below this TLP are exported (sharing ceiling).
    pub max_tlp: Tlp,
    /// MISP event `info`.
    pub title: String,
}

impl Default for ExportOptions {
    fn default() -> ExportOptions {
        ExportOptions {
            producer: "yagura".into(),
            now: Timestamp::EPOCH,
            max_tlp: Tlp::Red,
            title: "yagura indicator export".into(),
        }
    }
}

/// What an export did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ExportReport {
    pub exported: usize,
    /// (reason, count)
    pub skipped: Vec<(String, usize)>,
}

impl ExportReport {
    fn skip(&mut self, reason: &str) {
        match self.skipped.iter_mut().find(|(r, _)| r == reason) {
            Some((_, n)) => *n += 1,
            None => self.skipped.push((reason.to_owned(), 1)),
        }
    }
}

fn stix_time(t: Timestamp) -> String {
    // STIX requires millisecond precision at least for `created`/`modified`; RFC 3339 with
    // exactly three fraction digits.
    let dt = t.to_datetime();
    dt.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

fn v5(name: &str) -> Uuid {
    Uuid::new_v5(&YAGURA_NAMESPACE, name.as_bytes())
}

/// A stable UUIDv4 for STIX domain objects and bundles, which STIX 2.1 wants as version 4
/// (the validator's rule 103): the 122 pseudo-random bits come from the SHA-1 of the object's
/// identity (as in UUIDv5), so re-exports keep their ids and partners see updates, not new
/// objects.
fn stable_v4(name: &str) -> Uuid {
    uuid::Builder::from_random_bytes(*v5(name).as_bytes()).into_uuid()
}

fn json_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// The STIX SCO type and JCS-canonical id-contributing properties of an indicator, or why it
/// has none.
pub fn sco_of(kind: IndicatorKind, value: &str) -> Result<(&'static str, String), &'static str> {
    use IndicatorKind as K;
    let value_obj = |v: &str| format!("{{\"value\":{}}}", json_str(v));
    Ok(match kind {
        K::Domain | K::Hostname => ("domain-name", value_obj(value)),
        K::Ipv4 => ("ipv4-addr", value_obj(value)),
        K::Ipv6 => ("ipv6-addr", value_obj(value)),
        K::Cidr if value.contains(':') => ("ipv6-addr", value_obj(value)),
        K::Cidr => ("ipv4-addr", value_obj(value)),
        K::Url if value.starts_with('/') => {
            return Err("a bare URL path has no STIX 2.1 equivalent");
        }
        K::Url => ("url", value_obj(value)),
        K::Email => ("email-addr", value_obj(value)),
        K::Md5 => (
            "file",
            format!("{{\"hashes\":{{\"MD5\":{}}}}}", json_str(value)),
        ),
        K::Sha1 => (
            "file",
            format!("{{\"hashes\":{{\"SHA-1\":{}}}}}", json_str(value)),
        ),
        K::Sha256 => (
            "file",
            format!("{{\"hashes\":{{\"SHA-256\":{}}}}}", json_str(value)),
        ),
        K::FileName => ("file", format!("{{\"name\":{}}}", json_str(value))),
        K::Ja3 | K::Ja4 => return Err("JA3/JA4 fingerprints have no STIX 2.1 observable"),
    })
}

/// The deterministic STIX id of an observable (`domain-name--bedb4899-…`).
pub fn sco_id(kind: IndicatorKind, value: &str) -> Result<String, &'static str> {
    let (ty, canonical) = sco_of(kind, value)?;
    Ok(format!(
        "{ty}--{}",
        Uuid::new_v5(&STIX_SCO_NAMESPACE, canonical.as_bytes())
    ))
}

fn stix_quote(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\'', "\\'")
}

/// The STIX pattern of an indicator (the inverse of the importer's reduction).
pub fn pattern_of(
    kind: IndicatorKind,
    value: &str,
    port: Option<u16>,
) -> Result<String, &'static str> {
    use IndicatorKind as K;
    let (ty, _) = sco_of(kind, value)?;
    let v = stix_quote(value);
    let path = match kind {
        K::Md5 => "file:hashes.MD5".to_owned(),
        K::Sha1 => "file:hashes.'SHA-1'".to_owned(),
        K::Sha256 => "file:hashes.'SHA-256'".to_owned(),
        K::FileName => "file:name".to_owned(),
        _ => format!("{ty}:value"),
    };
    Ok(match (kind, port) {
        (K::Ipv4 | K::Ipv6 | K::Cidr, Some(p)) => format!(
            "[network-traffic:dst_ref.type = '{ty}' AND network-traffic:dst_ref.value = '{v}' AND network-traffic:dst_port = {p}]"
        ),
        _ => format!("[{path} = '{v}']"),
    })
}

fn indicator_identity(i: &IndicatorRef<'_>) -> String {
    format!(
        "{}|{}|{}|{}",
        i.meta.source,
        i.kind,
        i.value,
        i.port.map(|p| p.to_string()).unwrap_or_default()
    )
}

fn tlp_marking(t: Tlp) -> Value {
    json!({
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": t.stix_marking_id(),
        "created": "2022-10-01T00:00:00.000Z",
        "name": t.label(),
        "extensions": {
            TLP2_EXTENSION: {
                "extension_type": "property-extension",
                "tlp_2_0": t.as_str(),
            }
        }
    })
}

/// Writes a STIX 2.1 bundle: one `identity` per source (the indicators' `created_by_ref`, so
/// the source survives a round trip), the TLP 2.0 marking definitions in use, an `indicator`
/// per exportable indicator and its observable (SCO) with the deterministic id.
///
/// Host names (exact-match domain indicators) carry `x_yagura_hostname: true`; STIX has only
/// `domain-name`, and the flag keeps yagura's reader from widening them to subdomains.
pub fn to_stix(store: &IndicatorStore, opts: &ExportOptions) -> (Value, ExportReport) {
    let mut report = ExportReport::default();
    let now = stix_time(opts.now);
    let mut identities = std::collections::BTreeMap::new();
    let mut tlps = BTreeSet::new();
    let mut body = Vec::new();
    let mut scos = BTreeSet::new();
    let producer_id = format!(
        "identity--{}",
        stable_v4(&format!("identity|{}", opts.producer))
    );
    let extension_id = format!(
        "extension-definition--{}",
        stable_v4("extension|yagura-indicator-properties|1")
    );
    let mut uses_extension = false;
    for i in store.iter() {
        if i.meta.tlp > opts.max_tlp {
            report.skip("above the TLP ceiling");
            continue;
        }
        let (pattern, (ty, canonical)) =
            match (pattern_of(i.kind, i.value, i.port), sco_of(i.kind, i.value)) {
                (Ok(p), Ok(sco)) => (p, sco),
                (Err(why), _) | (_, Err(why)) => {
                    report.skip(why);
                    continue;
                }
            };
        tlps.insert(i.meta.tlp);
        let source = i.meta.source.to_string();
        let identity_id = format!("identity--{}", stable_v4(&format!("identity|{source}")));
        identities
            .entry(source)
            .or_insert_with(|| identity_id.clone());
        let ind_id = format!(
            "indicator--{}",
            stable_v4(&format!("indicator|{}", indicator_identity(&i)))
        );
        let created = i.meta.first_seen.unwrap_or(opts.now);
        let modified = i.meta.last_seen.unwrap_or(created).max(created);
        let valid_from = i.meta.valid_from.or(i.meta.first_seen).unwrap_or(opts.now);
        let mut o = json!({
            "type": "indicator",
            "spec_version": "2.1",
            "id": ind_id,
            "created_by_ref": identity_id,
            "created": stix_time(created),
            "modified": stix_time(modified),
            "name": format!("{} {}", i.kind, i.value),
            "indicator_types": ["malicious-activity"],
            "pattern": pattern,
            "pattern_type": "stix",
            "pattern_version": "2.1",
            "valid_from": stix_time(valid_from),
            "confidence": i.meta.confidence,
            "object_marking_refs": [i.meta.tlp.stix_marking_id()],
        });
        if let Some(until) = i.meta.valid_until.filter(|u| *u > valid_from) {
            o["valid_until"] = json!(stix_time(until));
        }
        if !i.meta.tags.is_empty() {
            o["labels"] = json!(
                i.meta
                    .tags
                    .iter()
                    .map(|t| t.to_string())
                    .collect::<Vec<_>>()
            );
        }
        o["description"] = json!(match &i.meta.description {
            Some(d) => format!("{d} (source: {})", i.meta.source),
            None => format!("{} indicator from {}", i.kind, i.meta.source),
        });
        let mut ext = false;
        if i.kind == IndicatorKind::Hostname {
            o["x_yagura_hostname"] = json!(true);
            ext = true;
        }
        if !i.meta.to_ids {
            o["x_yagura_to_ids"] = json!(false);
            ext = true;
        }
        if ext {
            uses_extension = true;
            o["extensions"] = json!({
                extension_id.as_str(): {"extension_type": "toplevel-property-extension"}
            });
        }
        let sco_id = format!(
            "{ty}--{}",
            Uuid::new_v5(&STIX_SCO_NAMESPACE, canonical.as_bytes())
        );
        if scos.insert(sco_id.clone()) {
            let mut s: Value = serde_json::from_str(&canonical).unwrap_or_else(|_| json!({}));
            s["type"] = json!(ty);
            s["spec_version"] = json!("2.1");
            s["id"] = json!(sco_id);
            body.push(s);
        }
        body.push(o);
        report.exported += 1;
    }
    let mut objects: Vec<Value> = identities
        .into_iter()
        .map(|(name, id)| {
            json!({
                "type": "identity",
                "spec_version": "2.1",
                "id": id,
                "created": now,
                "modified": now,
                "name": name,
                "identity_class": "organization",
            })
        })
        .collect();
    if uses_extension {
        if !objects.iter().any(|o| o["id"] == json!(producer_id)) {
            objects.push(json!({
                "type": "identity",
                "spec_version": "2.1",
                "id": producer_id,
                "created": now,
                "modified": now,
                "name": opts.producer,
                "identity_class": "organization",
            }));
        }
        objects.push(json!({
            "type": "extension-definition",
            "spec_version": "2.1",
            "id": extension_id,
            "created_by_ref": producer_id,
            "created": "2026-01-01T00:00:00.000Z",
            "modified": "2026-01-01T00:00:00.000Z",
            "name": "yagura indicator properties",
            "description": "x_yagura_hostname: the domain-name value matches only itself, not its subdomains. x_yagura_to_ids: false when the indicator is context, not for detection.",
            "schema": "https://example.invalid/yagura/stix/indicator-properties-v1.json",
            "version": "1.0.0",
            "extension_types": ["toplevel-property-extension"],
            "extension_properties": ["x_yagura_hostname", "x_yagura_to_ids"],
        }));
    }
    objects.extend(tlps.into_iter().map(tlp_marking));
    objects.extend(body);
    let ids: Vec<&str> = objects.iter().filter_map(|o| o["id"].as_str()).collect();
    let bundle_id = format!(
        "bundle--{}",
        stable_v4(&format!("bundle|{}", ids.join(",")))
    );
    report.skipped.sort();
    (
        json!({"type": "bundle", "id": bundle_id, "objects": objects}),
        report,
    )
}

fn misp_type(kind: IndicatorKind, value: &str, port: Option<u16>) -> (&'static str, &'static str) {
    use IndicatorKind as K;
    match kind {
        K::Ipv4 | K::Ipv6 | K::Cidr if port.is_some() => ("ip-dst|port", "Network activity"),
        K::Ipv4 | K::Ipv6 | K::Cidr => ("ip-dst", "Network activity"),
        K::Domain => ("domain", "Network activity"),
        K::Hostname => ("hostname", "Network activity"),
        K::Url if value.starts_with('/') => ("uri", "Network activity"),
        K::Url => ("url", "Network activity"),
        K::Md5 => ("md5", "Payload delivery"),
        K::Sha1 => ("sha1", "Payload delivery"),
        K::Sha256 => ("sha256", "Payload delivery"),
        K::Email => ("email-src", "Payload delivery"),
        K::FileName => ("filename", "Payload delivery"),
        K::Ja3 => ("ja3-fingerprint-md5", "Network activity"),
        K::Ja4 => ("ja4-fingerprint", "Network activity"),
    }
}

fn misp_tlp_tag(t: Tlp) -> String {
    format!("tlp:{}", t.as_str())
}

/// Writes one MISP event (`{"Event": …}`) holding the indicators as attributes. MISP writes
/// numbers as strings; the event's TLP tag is the most restrictive of its attributes'.
pub fn to_misp(store: &IndicatorStore, opts: &ExportOptions) -> (Value, ExportReport) {
    let mut report = ExportReport::default();
    let ts = (opts.now.to_datetime().timestamp()).to_string();
    let mut attrs = Vec::new();
    let mut event_tlp = Tlp::Clear;
    let mut uuids = Vec::new();
    for i in store.iter() {
        if i.meta.tlp > opts.max_tlp {
            report.skip("above the TLP ceiling");
            continue;
        }
        event_tlp = event_tlp.max(i.meta.tlp);
        let (ty, category) = misp_type(i.kind, i.value, i.port);
        let value = match i.port {
            Some(p) if ty == "ip-dst|port" => format!("{}|{p}", i.value),
            _ => i.value.to_owned(),
        };
        let uuid = v5(&format!("misp-attribute|{}", indicator_identity(&i))).to_string();
        let mut tags = vec![json!({"name": misp_tlp_tag(i.meta.tlp)})];
        let mut seen = BTreeSet::new();
        for t in i.meta.tags.iter() {
            if seen.insert(t.as_ref()) {
                tags.push(json!({"name": t.as_ref()}));
            }
        }
        let mut comment = format!("source: {}", i.meta.source);
        if let Some(d) = &i.meta.description {
            comment = format!("{d}; {comment}");
        }
        if let Some(u) = i.meta.valid_until {
            comment.push_str(&format!("; valid until {}", u.to_rfc3339()));
        }
        let last = i.meta.last_seen.or(i.meta.first_seen).unwrap_or(opts.now);
        attrs.push(json!({
            "uuid": uuid,
            "type": ty,
            "category": category,
            "value": value,
            "to_ids": i.meta.to_ids,
            "distribution": "5",
            "timestamp": last.to_datetime().timestamp().to_string(),
            "comment": comment,
            "Tag": tags,
        }));
        uuids.push(uuid);
        report.exported += 1;
    }
    report.skipped.sort();
    let org_uuid = v5(&format!("org|{}", opts.producer)).to_string();
    let event_uuid = v5(&format!("misp-event|{}|{}", opts.title, uuids.join(","))).to_string();
    let event = json!({
        "Event": {
            "uuid": event_uuid,
            "info": opts.title,
            "date": opts.now.to_datetime().format("%Y-%m-%d").to_string(),
            "timestamp": ts,
            "publish_timestamp": ts,
            "published": false,
            "threat_level_id": "2",
            "analysis": "2",
            "distribution": "0",
            "attribute_count": attrs.len().to_string(),
            "Orgc": {"name": opts.producer, "uuid": org_uuid},
            "Org": {"name": opts.producer, "uuid": org_uuid},
            "Tag": [{"name": misp_tlp_tag(event_tlp)}],
            "Attribute": attrs,
        }
    });
    (event, report)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Expected ids computed by the OASIS `stix2` Python library (3.0.2), e.g.
    /// `stix2.DomainName(value='example.com').id`, and by Python's `uuid.uuid5`.
    #[test]
    fn sco_ids_are_the_specified_uuidv5() {
        let check = |k, v, expect: &str| assert_eq!(sco_id(k, v).unwrap(), expect);
        check(
            IndicatorKind::Domain,
            "example.com",
            "domain-name--bedb4899-d24b-5401-bc86-8f6b4cc18ec7",
        );
        check(
            IndicatorKind::Ipv4,
            "198.51.100.3",
            "ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4",
        );
        check(
            IndicatorKind::Url,
            "https://example.com/research/index.html",
            "url--47c3cf9a-5027-5bf0-997a-017c7edc7c55",
        );
        check(
            IndicatorKind::Sha256,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "file--22f8ff52-8f62-5f03-a53a-6f50f54fd74c",
        );
        assert_eq!(
            YAGURA_NAMESPACE,
            Uuid::new_v5(&Uuid::NAMESPACE_URL, b"https://example.invalid/yagura")
        );
        assert!(sco_id(IndicatorKind::Url, "/gate.php").is_err());
    }

    #[test]
    fn patterns_round_trip_through_the_importer() {
        use IndicatorKind as K;
        for (k, v, port) in [
            (K::Domain, "evil.example", None),
            (K::Ipv4, "198.51.100.1", Some(443)),
            (K::Cidr, "203.0.113.0/24", None),
            (K::Ipv6, "2001:db8::1", None),
            (K::Url, "http://evil.example/it's", None),
            (K::Sha1, "da39a3ee5e6b4b0d3255bfef95601890afd80709", None),
            (K::Email, "a@evil.example", None),
            (K::FileName, "invoice.exe", None),
        ] {
            let p = pattern_of(k, v, port).unwrap();
            let back = crate::import::stix::reduce_pattern(&p).unwrap();
            assert_eq!(back.len(), 1, "{p}");
            assert_eq!(
                (back[0].kind, back[0].value.as_str(), back[0].port),
                (k, v, port),
                "{p}"
            );
        }
    }
}
