//! The threat feed the simulator publishes in `DIR/intel/`: a STIX 2.1 bundle and the same
//! indicators as a plain list, mostly decoys, with the few the estate contacts.

use std::fs;
use std::path::Path;

use serde_json::{Value, json};
use uuid::Uuid;
use yagura_model::{Timestamp, Tlp};

use crate::SimError;
use crate::campaign::{FeedIndicator, FeedValue};

/// Namespace of the simulator's deterministic STIX ids (UUID v5).
const NAMESPACE: Uuid = Uuid::from_u128(0x6a2f_0d1c_8e55_4a0b_9f3e_5d7c_1b2a_9e40);

fn stix_id(kind: &str, value: &str) -> String {
    format!(
        "{kind}--{}",
        Uuid::new_v5(&NAMESPACE, format!("{kind}:{value}").as_bytes())
    )
}

fn pattern(v: &FeedValue) -> (String, String) {
    let esc = |s: &str| s.replace('\\', "\\\\").replace('\'', "\\'");
    match v {
        FeedValue::Domain(d) => (format!("[domain-name:value = '{}']", esc(d)), d.clone()),
        FeedValue::Ipv4(ip) => (format!("[ipv4-addr:value = '{ip}']"), ip.to_string()),
        FeedValue::Url(u) => (format!("[url:value = '{}']", esc(u)), u.clone()),
        FeedValue::Sha256(h) => (format!("[file:hashes.'SHA-256' = '{h}']"), h.clone()),
    }
}

/// Writes `intel/feed.stix.json` and `intel/feed.txt`; returns the number of indicators.
pub fn write(dir: &Path, feed: &[FeedIndicator], created: Timestamp) -> Result<usize, SimError> {
    let intel = dir.join("intel");
    fs::create_dir_all(&intel).map_err(|e| SimError::io(&intel, e))?;
    let when = created.to_rfc3339();
    let identity = stix_id("identity", "yagura-sim-feed");
    let tlp = Tlp::Amber.stix_marking_id();
    let mut objects: Vec<Value> = vec![json!({
        "type": "identity",
        "spec_version": "2.1",
        "id": identity,
        "created": when,
        "modified": when,
        "name": "Exercise threat feed (yagura sim)",
        "identity_class": "organization",
    })];
    let mut list = String::from(
        "# Exercise threat feed written by `yagura sim`: one indicator a line (domain, IPv4,\n\
         # URL or SHA-256). TLP:AMBER. Most entries are decoys the estate never contacts.\n",
    );
    for f in feed {
        let (pat, value) = pattern(&f.value);
        list.push_str(&value);
        list.push('\n');
        let id = stix_id("indicator", &value);
        objects.push(json!({
            "type": "indicator",
            "spec_version": "2.1",
            "id": id,
            "created": when,
            "modified": when,
            "created_by_ref": identity,
            "name": format!("{} infrastructure", f.family),
            "indicator_types": ["malicious-activity"],
            "pattern": pat,
            "pattern_type": "stix",
            "valid_from": when,
            "labels": [f.family],
            "confidence": 80,
            "object_marking_refs": [tlp],
        }));
    }
    let bundle = json!({
        "type": "bundle",
        "id": stix_id("bundle", "yagura-sim-feed"),
        "objects": objects,
    });
    let text = serde_json::to_string_pretty(&bundle)
        .map_err(|e| SimError::Scenario(format!("feed serialization: {e}")))?;
    let p = intel.join("feed.stix.json");
    fs::write(&p, text).map_err(|e| SimError::io(&p, e))?;
    let p = intel.join("feed.txt");
    fs::write(&p, list).map_err(|e| SimError::io(&p, e))?;
    Ok(feed.len())
}
