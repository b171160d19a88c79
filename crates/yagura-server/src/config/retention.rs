//! `[ingest.retention]`: how long and how much of each organization's events the event store
//! keeps. Absent, or without limits, nothing is ever deleted.
//!
//! ```toml
//! [ingest.retention]
//! interval_secs = 3600         # how often `yagura serve` applies it (default 3600, at least 60)
//! max_age_days = 400           # default of every organization; absent or "unlimited": no limit
//! max_size = "500GB"           # likewise: bytes (an integer) or "500GB", "20GiB", "1.5TB"…
//!
//! [[ingest.retention.override]]
//! org = "moh"                  # exactly one of org, sector, kind (from the inventory)
//! max_age_days = 730
//!
//! [[ingest.retention.override]]
//! sector = "medical"
//! max_size = "unlimited"
//! ```
//! Each limit of an organization comes from the first of: its `org` override, its `sector`
//! override, its `kind` override, the defaults, that sets it (`"unlimited"` sets it to no
//! limit). An age limit deletes a split once its newest event is older than that many days; a
//! size limit deletes the organization's oldest splits until the rest fit. Sizes: `KB`, `MB`,
//! `GB`, `TB` are powers of 1000, `KiB`, `MiB`, `GiB`, `TiB` of 1024 (the `bytesize` crate's
//! grammar, case-insensitive); a size under 1 MiB is refused as a likely unit mistake. An
//! override naming an organization absent from the inventory, an unknown sector or kind, or
//! the same organization, sector or kind twice is an error.

use std::collections::BTreeMap;

use serde::Deserialize;
use yagura_eventstore::RetentionPolicy;
use yagura_model::{Inventory, OrgId, OrgKind, Sector};

use super::ConfigError;

/// The raw `[ingest.retention]` section (validated by [`RetentionSection::rules`]).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionSection {
    #[serde(default = "default_interval_secs")]
    pub interval_secs: u64,
    pub max_age_days: Option<RawLimit>,
    pub max_size: Option<RawLimit>,
    #[serde(default, rename = "override")]
    pub overrides: Vec<OverrideSection>,
}

fn default_interval_secs() -> u64 {
    3600
}

impl Default for RetentionSection {
    /// No limits (keeps everything), applied hourly.
    fn default() -> Self {
        RetentionSection {
            interval_secs: default_interval_secs(),
            max_age_days: None,
            max_size: None,
            overrides: Vec::new(),
        }
    }
}

/// A limit as written: a number or a string (`"unlimited"`, or a size with its unit).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum RawLimit {
    Number(i64),
    Text(String),
}

/// `[[ingest.retention.override]]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OverrideSection {
    pub org: Option<String>,
    pub sector: Option<String>,
    pub kind: Option<String>,
    pub max_age_days: Option<RawLimit>,
    pub max_size: Option<RawLimit>,
}

/// A limit that is set: to a value, or explicitly to none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit<T> {
    Unlimited,
    At(T),
}

impl<T: Copy> Limit<T> {
    fn get(self) -> Option<T> {
        match self {
            Limit::Unlimited => None,
            Limit::At(v) => Some(v),
        }
    }
}

/// The limits one level (defaults or an override) sets; `None`: left to the next level.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    pub max_age_days: Option<Limit<u32>>,
    pub max_bytes: Option<Limit<u64>>,
}

/// The most days an age limit may be (100 years).
pub const MAX_AGE_DAYS: u32 = 36_500;
/// The smallest size limit (smaller ones are taken for a unit mistake).
pub const MIN_SIZE_BYTES: u64 = 1 << 20;

/// The validated retention rules.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetentionRules {
    pub interval_secs: u64,
    pub defaults: Limits,
    pub orgs: BTreeMap<OrgId, Limits>,
    pub sectors: BTreeMap<Sector, Limits>,
    pub kinds: BTreeMap<OrgKind, Limits>,
}

fn is_unlimited(s: &str) -> bool {
    s.trim().eq_ignore_ascii_case("unlimited")
}

fn parse_age(v: &RawLimit, what: &str) -> Result<Limit<u32>, String> {
    let n = match v {
        RawLimit::Text(s) if is_unlimited(s) => return Ok(Limit::Unlimited),
        RawLimit::Text(s) => {
            return Err(format!(
                "{what}max_age_days must be a number of days or \"unlimited\", not {s:?}"
            ));
        }
        RawLimit::Number(n) => *n,
    };
    match u32::try_from(n) {
        Ok(d) if (1..=MAX_AGE_DAYS).contains(&d) => Ok(Limit::At(d)),
        _ => Err(format!(
            "{what}max_age_days must be between 1 and {MAX_AGE_DAYS} (or \"unlimited\"), not {n}"
        )),
    }
}

/// Bytes, or a size with a unit (`500GB`, `20GiB`, `1.5 TB`), or `unlimited`.
pub fn parse_size(v: &RawLimit) -> Result<Limit<u64>, String> {
    let bytes = match v {
        RawLimit::Text(s) if is_unlimited(s) => return Ok(Limit::Unlimited),
        RawLimit::Text(s) => s
            .trim()
            .parse::<bytesize::ByteSize>()
            .map(|b| b.as_u64())
            .map_err(|e| format!("max_size {s:?}: {e} (e.g. 500GB, 20GiB, or bytes)"))?,
        RawLimit::Number(n) => {
            u64::try_from(*n).map_err(|_| format!("max_size must be positive, not {n}"))?
        }
    };
    if bytes < MIN_SIZE_BYTES {
        return Err(format!(
            "max_size must be at least 1MiB ({MIN_SIZE_BYTES} bytes), not {bytes} bytes"
        ));
    }
    Ok(Limit::At(bytes))
}

fn limits(
    age: Option<&RawLimit>,
    size: Option<&RawLimit>,
    what: &str,
) -> Result<Limits, ConfigError> {
    let bad = |m: String| ConfigError::Invalid(format!("[ingest.retention] {m}"));
    Ok(Limits {
        max_age_days: age.map(|a| parse_age(a, what)).transpose().map_err(bad)?,
        max_bytes: size
            .map(parse_size)
            .transpose()
            .map_err(|m| bad(format!("{what}{m}")))?,
    })
}

impl RetentionSection {
    /// The section's rules, or why they are invalid.
    pub fn rules(&self) -> Result<RetentionRules, ConfigError> {
        let bad = |m: String| Err(ConfigError::Invalid(format!("[ingest.retention] {m}")));
        if self.interval_secs < 60 {
            return bad(format!(
                "interval_secs must be at least 60, not {}",
                self.interval_secs
            ));
        }
        let mut rules = RetentionRules {
            interval_secs: self.interval_secs,
            defaults: limits(self.max_age_days.as_ref(), self.max_size.as_ref(), "")?,
            ..RetentionRules::default()
        };
        for o in &self.overrides {
            let (age, size) = (o.max_age_days.as_ref(), o.max_size.as_ref());
            let dup = match (&o.org, &o.sector, &o.kind) {
                (Some(org), None, None) => {
                    let what = format!("override org {org:?}: ");
                    let id = OrgId::new(org).map_err(|e| {
                        ConfigError::Invalid(format!("[ingest.retention] {what}{e}"))
                    })?;
                    rules.orgs.insert(id, limits(age, size, &what)?).is_some()
                }
                (None, Some(sector), None) => {
                    let what = format!("override sector {sector:?}: ");
                    let Some(s) = Sector::parse(sector) else {
                        let known: Vec<&str> = Sector::ALL.iter().map(|s| s.as_str()).collect();
                        return bad(format!(
                            "{what}unknown sector (one of {})",
                            known.join(", ")
                        ));
                    };
                    rules.sectors.insert(s, limits(age, size, &what)?).is_some()
                }
                (None, None, Some(kind)) => {
                    let what = format!("override kind {kind:?}: ");
                    let Some(k) = OrgKind::ALL.into_iter().find(|k| k.as_str() == kind) else {
                        let known: Vec<&str> = OrgKind::ALL.iter().map(|k| k.as_str()).collect();
                        return bad(format!("{what}unknown kind (one of {})", known.join(", ")));
                    };
                    rules.kinds.insert(k, limits(age, size, &what)?).is_some()
                }
                _ => return bad("an override names exactly one of org, sector or kind".into()),
            };
            if dup {
                let name = [&o.org, &o.sector, &o.kind]
                    .into_iter()
                    .flatten()
                    .next()
                    .cloned()
                    .unwrap_or_default();
                return bad(format!("two overrides for {name:?}"));
            }
        }
        Ok(rules)
    }
}

impl RetentionRules {
    /// Whether any limit may delete something.
    pub fn deletes_anything(&self) -> bool {
        let sets = |l: &Limits| {
            matches!(l.max_age_days, Some(Limit::At(_)))
                || matches!(l.max_bytes, Some(Limit::At(_)))
        };
        sets(&self.defaults)
            || self.orgs.values().any(sets)
            || self.sectors.values().any(sets)
            || self.kinds.values().any(sets)
    }

    /// Checks the overrides against `inventory` (every `org` override names one of its
    /// organizations; overrides need an inventory to be resolved at all).
    pub fn check_inventory(&self, inventory: Option<&Inventory>) -> Result<(), ConfigError> {
        let has_overrides =
            !(self.orgs.is_empty() && self.sectors.is_empty() && self.kinds.is_empty());
        let Some(inventory) = inventory else {
            if has_overrides {
                return Err(ConfigError::Invalid(
                    "[ingest.retention] overrides need the inventory".into(),
                ));
            }
            return Ok(());
        };
        let unknown: Vec<&str> = self
            .orgs
            .keys()
            .map(OrgId::as_str)
            .filter(|o| inventory.get(o).is_none())
            .collect();
        if !unknown.is_empty() {
            return Err(ConfigError::Invalid(format!(
                "[ingest.retention] override for organizations not in the inventory: {}",
                unknown.join(", ")
            )));
        }
        Ok(())
    }

    /// The policy of `org`: each limit from its org override, else its sector's, else its
    /// kind's (from `inventory`), else the defaults; an organization absent from the inventory
    /// gets the defaults (or its org override).
    pub fn policy(&self, org: &OrgId, inventory: Option<&Inventory>) -> RetentionPolicy {
        let entry = inventory.and_then(|i| i.get(org.as_str()));
        let levels = [
            self.orgs.get(org),
            entry
                .and_then(|e| e.sector)
                .and_then(|s| self.sectors.get(&s)),
            entry.and_then(|e| self.kinds.get(&e.kind)),
            Some(&self.defaults),
        ];
        let age = levels.iter().flatten().find_map(|l| l.max_age_days);
        let bytes = levels.iter().flatten().find_map(|l| l.max_bytes);
        RetentionPolicy {
            max_age_secs: age.and_then(Limit::get).map(|d| i64::from(d) * 86_400),
            max_bytes: bytes.and_then(Limit::get),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::ServerConfig;

    const INVENTORY: &str = r#"
[[org]]
id = "nisc"
name = "Center"
kind = "center"

[[org]]
id = "moh"
name = "Ministry of Health"
kind = "ministry"
sector = "medical"
monitored_by = "nisc"

[[org]]
id = "mof"
name = "Ministry of Finance"
kind = "ministry"
sector = "finance"
monitored_by = "nisc"

[[org]]
id = "hosp"
name = "Hospital"
kind = "agency"
sector = "medical"
monitored_by = "nisc"
"#;

    /// Parses `[ingest.retention]` + `text` and renders each organization's policy as
    /// `org=age_days/bytes` (`-`: no limit), organizations of the inventory then `other` (not
    /// in it); or the error.
    fn check(text: &str, expect: Result<&str, &str>) {
        let inventory = Inventory::from_toml(INVENTORY).unwrap();
        let toml = format!("[ingest]\n[ingest.retention]\n{text}");
        let got =
            ServerConfig::from_toml(&toml, Path::new("/etc/yagura/server.toml")).and_then(|cfg| {
                let section = cfg.ingest.and_then(|i| i.retention).unwrap_or_default();
                let rules = section.rules()?;
                rules.check_inventory(Some(&inventory))?;
                Ok(rules)
            });
        match (got, expect) {
            (Ok(rules), Ok(want)) => {
                let orgs = ["nisc", "moh", "mof", "hosp", "other"];
                let got: Vec<String> = orgs
                    .iter()
                    .map(|o| {
                        let p = rules.policy(&OrgId::new(o).unwrap(), Some(&inventory));
                        let age = p
                            .max_age_secs
                            .map_or("-".into(), |s| (s / 86_400).to_string());
                        let bytes = p.max_bytes.map_or("-".into(), |b| b.to_string());
                        format!("{o}={age}/{bytes}")
                    })
                    .collect();
                assert_eq!(got.join(" "), want, "{text}");
                assert_eq!(
                    rules.deletes_anything(),
                    !want.split(' ').all(|p| p.ends_with("=-/-")),
                    "{text}"
                );
            }
            (Err(e), Err(msg)) => assert!(e.to_string().contains(msg), "{text}: {e}"),
            (got, want) => panic!("{text}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn retention_configs() {
        let all = |p: &str| {
            ["nisc", "moh", "mof", "hosp", "other"]
                .map(|o| format!("{o}={p}"))
                .join(" ")
        };
        // Nothing configured: keep everything.
        check("", Ok(&all("-/-")));
        check("interval_secs = 600", Ok(&all("-/-")));
        // Defaults for every organization (also one absent from the inventory).
        check(
            "max_age_days = 30\nmax_size = 1048576",
            Ok(&all("30/1048576")),
        );
        // Units: SI powers of 1000, IEC powers of 1024, case-insensitive, spaces allowed.
        check("max_size = \"500GB\"", Ok(&all("-/500000000000")));
        check("max_size = \"20GiB\"", Ok(&all("-/21474836480")));
        check("max_size = \"1.5 tb\"", Ok(&all("-/1500000000000")));
        check("max_size = \"2MiB\"", Ok(&all("-/2097152")));
        check("max_size = \"unlimited\"", Ok(&all("-/-")));
        // Overrides: org before sector before kind before the defaults, limit by limit;
        // "unlimited" lifts a limit set further down.
        check(
            r#"max_age_days = 30
max_size = "1GB"
[[ingest.retention.override]]
kind = "ministry"
max_age_days = 90
[[ingest.retention.override]]
sector = "medical"
max_size = "unlimited"
[[ingest.retention.override]]
org = "moh"
max_age_days = 365
[[ingest.retention.override]]
org = "nisc"
max_age_days = "unlimited"
max_size = "unlimited""#,
            Ok("nisc=-/- moh=365/- mof=90/1000000000 hosp=30/- other=30/1000000000"),
        );
        // Errors.
        check(
            "max_age_days = 0",
            Err("max_age_days must be between 1 and 36500"),
        );
        check("max_age_days = -3", Err("max_age_days must be between 1"));
        check(
            "max_age_days = 40000",
            Err("max_age_days must be between 1"),
        );
        check(
            "max_age_days = \"30d\"",
            Err("max_age_days must be a number of days"),
        );
        check("max_size = 0", Err("max_size must be at least 1MiB"));
        check("max_size = -5", Err("max_size must be positive"));
        check("max_size = 500", Err("max_size must be at least 1MiB"));
        check("max_size = \"500XB\"", Err("max_size \"500XB\""));
        check("max_size = \"lots\"", Err("max_size \"lots\""));
        check("max_size = \"-1GB\"", Err("max_size \"-1GB\""));
        check("max_size = 1.5", Err("server.toml"));
        check(
            "interval_secs = 10",
            Err("interval_secs must be at least 60"),
        );
        check("max_age = 3", Err("unknown field"));
        check(
            "[[ingest.retention.override]]\norg = \"nobody\"\nmax_age_days = 1",
            Err("not in the inventory: nobody"),
        );
        check(
            "[[ingest.retention.override]]\norg = \"Bad Org\"",
            Err("override org \"Bad Org\""),
        );
        check(
            "[[ingest.retention.override]]\nsector = \"medicine\"",
            Err("unknown sector (one of information-communications"),
        );
        check(
            "[[ingest.retention.override]]\nkind = \"ngo\"",
            Err("unknown kind (one of center"),
        );
        check(
            "[[ingest.retention.override]]\norg = \"moh\"\nsector = \"medical\"",
            Err("exactly one of org, sector or kind"),
        );
        check(
            "[[ingest.retention.override]]\nmax_age_days = 3",
            Err("exactly one of org, sector or kind"),
        );
        check(
            "[[ingest.retention.override]]\norg = \"moh\"\n[[ingest.retention.override]]\norg = \"moh\"",
            Err("two overrides for \"moh\""),
        );
        check(
            "[[ingest.retention.override]]\nsector = \"medical\"\nmax_size = \"12\"",
            Err("override sector \"medical\": max_size must be at least 1MiB"),
        );
    }

    #[test]
    fn overrides_need_an_inventory() {
        let section = RetentionSection {
            overrides: vec![OverrideSection {
                org: Some("moh".into()),
                ..OverrideSection::default()
            }],
            ..RetentionSection::default()
        };
        let rules = section.rules().unwrap();
        let e = rules.check_inventory(None).unwrap_err();
        assert!(
            e.to_string().contains("overrides need the inventory"),
            "{e}"
        );
        let plain = RetentionSection {
            max_age_days: Some(RawLimit::Number(7)),
            ..RetentionSection::default()
        }
        .rules()
        .unwrap();
        plain.check_inventory(None).unwrap();
        let p = plain.policy(&OrgId::new("moh").unwrap(), None);
        assert_eq!(p.max_age_secs, Some(7 * 86_400));
    }
}
