//! The `ioc` detector's alert: one matched indicator on one event, in the contract's shape
//! (DESIGN.md §4). `yagura detect --intel` and the pipeline call [`ioc_alert`] for each
//! [`Match`] that [`Match::alerts`]; aggregation of repeated alerts (same fingerprint) is the
//! caller's, through `Alert::absorb`.

use serde_json::json;
use uuid::Uuid;
use yagura_model::event::ObservableValue;
use yagura_model::{
    Alert, AttackId, Detector, Entities, Event, EvidenceRef, IndicatorKind, Severity,
};

use crate::export::YAGURA_NAMESPACE;
use crate::index::{Match, MatchVia};

/// Why no alert could be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IocAlertError {
    #[error("the event has no organization.id; alerts belong to an organization")]
    NoOrganization,
}

/// `ioc.<kind>`: `ioc.domain`, `ioc.ipv4`, `ioc.url`, `ioc.sha256`, …
pub fn rule_id(kind: IndicatorKind) -> String {
    format!("ioc.{kind}")
}

/// Severity from the indicator's confidence: ≥ 80 high, ≥ 50 medium, ≥ 20 low, else
/// informational; one step lower for wide matches (a network, or a parent domain) since the
/// event is further from what was listed.
pub fn severity(confidence: u8, via: MatchVia) -> Severity {
    let s = match confidence {
        80.. => Severity::High,
        50..=79 => Severity::Medium,
        20..=49 => Severity::Low,
        _ => Severity::Informational,
    };
    match (via, s) {
        (MatchVia::Network | MatchVia::ParentDomain, Severity::High) => Severity::Medium,
        (MatchVia::Network | MatchVia::ParentDomain, Severity::Medium) => Severity::Low,
        (_, s) => s,
    }
}

fn observed_text(o: &ObservableValue<'_>) -> String {
    match o {
        ObservableValue::Ip(ip) => ip.to_string(),
        ObservableValue::Text(_, v) => (*v).to_owned(),
    }
}

/// Builds the alert for one match on one event.
pub fn ioc_alert(ev: &Event, m: &Match<'_>) -> Result<Alert, IocAlertError> {
    let org = ev.org().ok_or(IocAlertError::NoOrganization)?.clone();
    let ind = &m.indicator;
    let meta = ind.meta;
    let observed = observed_text(&m.observed);
    let rule_id = rule_id(ind.kind);

    let mut entities = Entities {
        host: ev.host_name().map(str::to_owned),
        src_ip: ev.src_ip().map(|i| i.to_string()),
        user: ev.user_name().map(str::to_owned),
        domain: ev.dst_domain().or(ev.dns_query()).map(str::to_owned),
        dst_ip: ev.dst_ip().map(|i| i.to_string()),
        url: ev.url_full().map(str::to_owned),
        ..Entities::default()
    };
    use IndicatorKind as K;
    match ind.kind {
        K::Domain | K::Hostname => entities.domain = Some(observed.clone()),
        K::Md5 | K::Sha1 | K::Sha256 => entities.hash = Some(observed.clone()),
        K::Email => entities.email = Some(observed.clone()),
        K::Url => entities.url = Some(observed.clone()),
        K::Ipv4 | K::Ipv6 | K::Cidr => match m.field {
            "source.ip" => entities.src_ip = Some(observed.clone()),
            "destination.ip" => entities.dst_ip = Some(observed.clone()),
            _ => {}
        },
        K::FileName | K::Ja3 | K::Ja4 => {}
    }

    let attack: Vec<AttackId> = meta
        .tags
        .iter()
        .filter_map(|t| AttackId::parse(t).ok())
        .collect();
    let port = ind.port.map(|p| format!(":{p}")).unwrap_or_default();
    let title = format!(
        "{} indicator {}{} from {} seen in {}",
        ind.kind, ind.value, port, meta.source, m.field
    );
    let how = match m.via {
        MatchVia::Exact => String::new(),
        MatchVia::ParentDomain => format!(", a subdomain of listed {}", ind.value),
        MatchVia::Network => format!(", inside listed network {}", ind.value),
        MatchVia::UrlWithoutQuery => " (query ignored)".into(),
        MatchVia::UrlPath => format!(", path {} listed for any host", ind.value),
        MatchVia::AddressAndPort => format!(" on listed port {}", ind.port.unwrap_or_default()),
    };
    let mut summary = format!(
        "{} {observed}{how} matched {} indicator {}{port} from {} (confidence {}, {}",
        m.field, ind.kind, ind.value, meta.source, meta.confidence, meta.tlp
    );
    if !meta.tags.is_empty() {
        let tags: Vec<&str> = meta.tags.iter().map(|t| &**t).collect();
        summary.push_str(&format!(", tags {}", tags.join(", ")));
    }
    summary.push(')');
    if let Some(v) = &m.warninglist {
        summary.push_str(&format!("; on MISP warninglist \"{}\"", v.list));
    }

    let mut indicator = json!({
        "kind": ind.kind.as_str(),
        "value": ind.value,
        "source": &*meta.source,
        "confidence": meta.confidence,
        "tlp": meta.tlp.as_str(),
        "to_ids": meta.to_ids,
    });
    if let Some(p) = ind.port {
        indicator["port"] = json!(p);
    }
    if !meta.tags.is_empty() {
        indicator["tags"] = json!(meta.tags.iter().map(|t| &**t).collect::<Vec<_>>());
    }
    for (k, t) in [
        ("first_seen", meta.first_seen),
        ("last_seen", meta.last_seen),
        ("valid_from", meta.valid_from),
        ("valid_until", meta.valid_until),
    ] {
        if let Some(t) = t {
            indicator[k] = json!(t.to_rfc3339());
        }
    }
    if let Some(d) = &meta.description {
        indicator["description"] = json!(&**d);
    }
    let mut context = serde_json::Map::new();
    context.insert("indicator".into(), indicator);
    context.insert("field".into(), json!(m.field));
    context.insert("observed".into(), json!(observed));
    context.insert("match".into(), json!(m.via.as_str()));
    if let Some(v) = &m.warninglist {
        context.insert(
            "warninglist".into(),
            json!({"name": v.list, "category": v.category, "observed_value": v.observed_value}),
        );
    }

    let evidence: Vec<EvidenceRef> = ev
        .provenance()
        .map(|(file, line)| EvidenceRef {
            file: file.to_owned(),
            line,
        })
        .into_iter()
        .collect();
    let id_name = format!(
        "ioc|{org}|{rule_id}|{}|{}|{}|{}|{}|{}",
        ind.value,
        meta.source,
        m.field,
        observed,
        ev.timestamp.to_rfc3339(),
        evidence
            .first()
            .map(|e| format!("{}:{}", e.file, e.line))
            .unwrap_or_default()
    );
    Ok(Alert {
        id: Uuid::new_v5(&YAGURA_NAMESPACE, id_name.as_bytes()).to_string(),
        time: ev.timestamp,
        org,
        detector: Detector::Ioc,
        rule_id,
        title,
        severity: severity(meta.confidence, m.via),
        attack,
        entities,
        first_seen: ev.timestamp,
        last_seen: ev.timestamp,
        count: 1,
        evidence,
        summary,
        retrospective: false,
        context,
    })
}
