//! A Sigma match as the contract [`Alert`] (DESIGN.md §4, detector `sigma`).

use std::net::IpAddr;

use yagura_model::event::FieldValue;
use yagura_model::{Alert, Detector, Entities, Event, EvidenceRef, OrgId};

use crate::ruleset::{RuleKind, SigmaMatch};

/// Why a match cannot become an alert.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum AlertError {
    #[error("the event carries no organization id and no fallback was given")]
    NoOrganization,
}

impl SigmaMatch<'_> {
    /// The alert for this match on `event`. The organization is the event's, else `fallback`.
    pub fn to_alert(&self, event: &Event, fallback: Option<&OrgId>) -> Result<Alert, AlertError> {
        let org = event
            .organization
            .id
            .clone()
            .or_else(|| fallback.cloned())
            .ok_or(AlertError::NoOrganization)?;
        let rule = self.rule;
        let mut entities = entities_of(event);
        if let Some(c) = &self.correlation {
            // A correlation is about its group, not about the event that closed the window:
            // keep the entities whose value is one of the group-by values.
            let group: Vec<&str> = c.group.iter().map(|(_, v)| v.as_str()).collect();
            let keep = |v: &mut Option<String>| {
                if v.as_deref()
                    .is_some_and(|x| !group.iter().any(|g| g.eq_ignore_ascii_case(x)))
                {
                    *v = None;
                }
            };
            let mut grouped = entities.clone();
            keep(&mut grouped.host);
            keep(&mut grouped.src_ip);
            keep(&mut grouped.user);
            keep(&mut grouped.domain);
            keep(&mut grouped.dst_ip);
            keep(&mut grouped.url);
            keep(&mut grouped.hash);
            keep(&mut grouped.email);
            if !grouped.is_empty() {
                entities = grouped;
            }
        }
        let mut evidence = Vec::new();
        if let Some((file, line)) = event.provenance() {
            evidence.push(EvidenceRef {
                file: file.to_owned(),
                line,
            });
        }
        let count = match &self.correlation {
            Some(c) if c.value.is_finite() && c.value >= 1.0 => c.value.round() as u64,
            _ => 1,
        };
        let first_seen = match &self.correlation {
            Some(c) => event
                .timestamp
                .saturating_sub_secs(i64::try_from(c.timespan_secs).unwrap_or(i64::MAX)),
            None => event.timestamp,
        };
        let summary = match &self.correlation {
            Some(c) => {
                let group = c
                    .group
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                format!(
                    "Sigma correlation \"{}\": value {} within {} s{}",
                    rule.title,
                    c.value,
                    c.timespan_secs,
                    if group.is_empty() {
                        String::new()
                    } else {
                        format!(" for {group}")
                    }
                )
            }
            None => format!(
                "Sigma rule \"{}\" matched a {} event{}",
                rule.title,
                event.event.dataset.as_deref().unwrap_or("yagura"),
                event
                    .winlog
                    .event_id
                    .map(|id| format!(" (EventID {id})"))
                    .unwrap_or_default()
            ),
        };
        let mut context = serde_json::Map::new();
        context.insert("sigma_path".into(), rule.path.clone().into());
        if let Some(s) = &rule.status {
            context.insert("sigma_status".into(), s.clone().into());
        }
        if !rule.logsource.is_empty() {
            context.insert("sigma_logsource".into(), rule.logsource.clone().into());
        }
        if !rule.tags.is_empty() {
            context.insert("sigma_tags".into(), rule.tags.clone().into());
        }
        if rule.kind == RuleKind::Correlation
            && let Some(c) = &self.correlation
        {
            context.insert(
                "sigma_group".into(),
                serde_json::Value::Object(
                    c.group
                        .iter()
                        .map(|(k, v)| (k.clone(), serde_json::Value::from(v.clone())))
                        .collect(),
                ),
            );
        }
        let id_seed = format!(
            "sigma|{}|{}|{}|{}",
            rule.id,
            org.as_str(),
            event.timestamp.nanos(),
            evidence
                .first()
                .map(|e| format!("{}:{}", e.file, e.line))
                .unwrap_or_default()
        );
        Ok(Alert {
            id: uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, id_seed.as_bytes()).to_string(),
            time: event.timestamp,
            org,
            detector: Detector::Sigma,
            rule_id: rule.id.clone(),
            title: rule.title.clone(),
            severity: rule.severity,
            attack: rule.attack.clone(),
            entities,
            first_seen,
            last_seen: event.timestamp,
            count,
            evidence,
            summary,
            retrospective: false,
            context,
        })
    }
}

fn data<'e>(event: &'e Event, names: &[&str]) -> Option<&'e str> {
    names
        .iter()
        .filter_map(|n| event.winlog.event_data.get_ignore_case(n))
        .find(|v| !v.is_empty() && *v != "-")
}

fn ip_text(s: &str) -> Option<String> {
    let s = s.trim().trim_start_matches("::ffff:");
    s.parse::<IpAddr>().ok().map(|ip| ip.to_string())
}

fn text(event: &Event, path: &str) -> Option<String> {
    match event.first_value(path)? {
        FieldValue::Str(s) if !s.is_empty() => Some(s.to_owned()),
        FieldValue::Str(_) => None,
        other => Some(other.to_text().into_owned()),
    }
}

/// The entities of an event: ECS fields first, Windows `EventData` names as fallbacks.
pub fn entities_of(event: &Event) -> Entities {
    let user = text(event, "user.name").or_else(|| {
        data(
            event,
            &["TargetUserName", "SubjectUserName", "User", "AccountName"],
        )
        .map(str::to_owned)
    });
    let sha256 = event
        .file
        .hash
        .sha256
        .as_deref()
        .map(str::to_owned)
        .or_else(|| {
            data(event, &["Hashes", "Hash"]).and_then(|h| {
                h.split(',')
                    .find_map(|p| p.trim().strip_prefix("SHA256="))
                    .map(str::to_owned)
            })
        });
    Entities {
        host: text(event, "host.name")
            .or_else(|| event.winlog.computer_name.as_deref().map(str::to_owned)),
        src_ip: event.source.ip.map(|ip| ip.to_string()).or_else(|| {
            data(
                event,
                &["IpAddress", "SourceIp", "SourceAddress", "ClientAddress"],
            )
            .and_then(ip_text)
        }),
        user,
        domain: text(event, "url.domain")
            .or_else(|| text(event, "destination.domain"))
            .or_else(|| text(event, "dns.question.name"))
            .or_else(|| text(event, "tls.client.server_name"))
            .or_else(|| data(event, &["QueryName", "DestinationHostname"]).map(str::to_owned)),
        dst_ip: event
            .destination
            .ip
            .map(|ip| ip.to_string())
            .or_else(|| data(event, &["DestinationIp", "DestAddress"]).and_then(ip_text)),
        url: text(event, "url.full").or_else(|| text(event, "url.original")),
        hash: sha256
            .or_else(|| event.file.hash.sha1.as_deref().map(str::to_owned))
            .or_else(|| event.file.hash.md5.as_deref().map(str::to_owned)),
        email: event.email.from.address.first().map(|a| a.to_string()),
    }
}
