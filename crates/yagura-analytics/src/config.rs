//! The one configuration of every analytic and policy check, with sane defaults.
//!
//! Every field has a default (`#[serde(default)]` on every struct), so an empty TOML document
//! is a valid configuration and an operator only writes what they change:
//!
//! ```toml
//! [beacon]
//! min_connections = 24
//! [auth]
//! admin_accounts = ["administrator", "*-adm", "adm-*"]
//! ```
//!
//! Durations are whole seconds (`*_secs`). Caps (`max_*`) bound the state of each detector;
//! the memory each cap implies is documented on the field and in `ARCHITECTURE.md`.
//! Unknown keys are errors, so a typo is reported instead of silently ignored.

use serde::{Deserialize, Serialize};

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("analytics configuration is not valid TOML: {0}")]
    Syntax(#[from] toml::de::Error),
    #[error("analytics configuration: {field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
}

/// All analytics settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct AnalyticsConfig {
    pub prevalence: PrevalenceConfig,
    pub beacon: BeaconConfig,
    pub dns_tunnel: DnsTunnelConfig,
    pub dga: DgaConfig,
    pub exfil: ExfilConfig,
    pub auth: AuthConfig,
    pub policy: PolicyConfig,
    pub first_contact: FirstContactConfig,
    pub mail: MailConfig,
}

impl AnalyticsConfig {
    /// Parses and validates a TOML document (an empty one gives the defaults).
    pub fn from_toml(text: &str) -> Result<AnalyticsConfig, ConfigError> {
        let c: AnalyticsConfig = toml::from_str(text)?;
        c.validate()?;
        Ok(c)
    }

    /// Checks the values that would make a detector meaningless (zero windows, empty caps).
    pub fn validate(&self) -> Result<(), ConfigError> {
        fn positive(field: &'static str, v: u64) -> Result<(), ConfigError> {
            if v == 0 {
                return Err(ConfigError::Invalid {
                    field,
                    message: "must be greater than 0".into(),
                });
            }
            Ok(())
        }
        fn unit(field: &'static str, v: f64) -> Result<(), ConfigError> {
            if !(0.0..=1.0).contains(&v) {
                return Err(ConfigError::Invalid {
                    field,
                    message: format!("{v} is not between 0 and 1"),
                });
            }
            Ok(())
        }
        let p = &self.prevalence;
        positive("prevalence.max_destinations", p.max_destinations as u64)?;
        positive("prevalence.popular_hosts", p.popular_hosts as u64)?;
        positive("prevalence.popular_orgs", p.popular_orgs as u64)?;
        let b = &self.beacon;
        positive("beacon.max_pairs", b.max_pairs as u64)?;
        positive("beacon.max_candidates", b.max_candidates as u64)?;
        positive("beacon.evaluate_every_secs", b.evaluate_every_secs)?;
        positive("beacon.window_secs", b.window_secs)?;
        if b.min_connections < 4 {
            return Err(ConfigError::Invalid {
                field: "beacon.min_connections",
                message: "must be at least 4 (quartiles need four intervals)".into(),
            });
        }
        unit("beacon.threshold", b.threshold)?;
        unit("beacon.max_jitter", b.max_jitter)?;
        positive(
            "beacon.full_jitter_intervals",
            u64::from(b.full_jitter_intervals),
        )?;
        unit("beacon.popular_threshold", b.popular_threshold)?;
        let t = &self.dns_tunnel;
        positive("dns_tunnel.window_secs", t.window_secs)?;
        positive("dns_tunnel.max_keys", t.max_keys as u64)?;
        positive(
            "dns_tunnel.min_unique_subdomains",
            t.min_unique_subdomains as u64,
        )?;
        let d = &self.dga;
        positive("dga.window_secs", d.window_secs)?;
        positive("dga.min_nxdomain", d.min_nxdomain as u64)?;
        positive("dga.max_hosts", d.max_hosts as u64)?;
        let e = &self.exfil;
        positive("exfil.window_secs", e.window_secs)?;
        positive("exfil.max_pairs", e.max_pairs as u64)?;
        positive("exfil.max_hosts", e.max_hosts as u64)?;
        let a = &self.auth;
        positive("auth.window_secs", a.window_secs)?;
        positive("auth.max_keys", a.max_keys as u64)?;
        positive("auth.lateral_min_hosts", a.lateral_min_hosts as u64)?;
        positive("auth.spray_min_accounts", a.spray_min_accounts as u64)?;
        positive("auth.brute_min_failures", a.brute_min_failures as u64)?;
        positive("policy.realert_secs", self.policy.realert_secs)?;
        positive("policy.max_keys", self.policy.max_keys as u64)?;
        positive(
            "first_contact.max_hosts",
            self.first_contact.max_hosts as u64,
        )?;
        let m = &self.mail;
        positive("mail.window_secs", m.window_secs)?;
        positive("mail.min_recipients", m.min_recipients as u64)?;
        positive("mail.max_senders", m.max_senders as u64)?;
        if m.max_recipients < m.min_recipients as usize {
            return Err(ConfigError::Invalid {
                field: "mail.max_recipients",
                message: "must be at least mail.min_recipients".into(),
            });
        }
        Ok(())
    }
}

/// Estate-wide prevalence: which destinations many hosts of many organizations contact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PrevalenceConfig {
    /// Destinations tracked (registered domains and external IPs); least recently seen are
    /// evicted beyond it. About 120 bytes each: 2M ≈ 240 MB.
    pub max_destinations: usize,
    /// A destination contacted by at least this many distinct hosts …
    pub popular_hosts: u32,
    /// … in at least this many organizations is *popular* (updates, antivirus, CDNs):
    /// periodicity alone does not alert on it.
    pub popular_orgs: u32,
    /// At most this many distinct hosts is *rare* (raises scores).
    pub rare_hosts: u32,
    /// Destinations first seen during this period after the first event are part of the
    /// baseline, not "new" (otherwise everything is new when a deployment starts).
    pub learning_secs: u64,
    /// A destination counts as new for this long after it was first seen in the estate.
    pub new_for_secs: u64,
}

impl Default for PrevalenceConfig {
    fn default() -> Self {
        PrevalenceConfig {
            max_destinations: 2_000_000,
            popular_hosts: 20,
            popular_orgs: 3,
            rare_hosts: 3,
            learning_secs: 24 * 3600,
            new_for_secs: 7 * 24 * 3600,
        }
    }
}

/// Beaconing: host → domain/SNI through proxies, src → dst:port in flows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BeaconConfig {
    pub enabled: bool,
    /// Pairs (host, destination) with compact statistics: 33 bytes per hash-table bucket,
    /// buckets a power of two above 8/7 of the pairs, so 20M pairs ≈ 1.1 GB (measured in
    /// BENCHMARKS.md). Least recently seen are evicted beyond it.
    pub max_pairs: usize,
    /// Pairs promoted to full inter-arrival analysis (ring of `max_samples`; ≈ 1.2 KB each
    /// at 128 samples): 100k ≈ 120 MB.
    pub max_candidates: usize,
    /// Samples (time, size) kept per candidate.
    pub max_samples: usize,
    /// Fewest connections before a pair is scored.
    pub min_connections: u32,
    /// Connections closer than this are one session (browsers open several at once).
    pub session_gap_secs: u64,
    /// Candidates are scored every so often (event time).
    pub evaluate_every_secs: u64,
    /// Only samples within this window before the evaluation count.
    pub window_secs: u64,
    /// Largest MAD/median of inter-arrival times still considered periodic (±50% uniform
    /// jitter gives about 0.25; random, Poisson-like traffic about 0.5–0.7).
    pub max_jitter: f64,
    /// Intervals a series needs before `max_jitter` applies in full; a shorter series of n
    /// intervals must stay within `max_jitter × n / full_jitter_intervals`. A few random
    /// (Poisson-like) arrivals look regular by chance far more often than many: with 12
    /// intervals, 7.7% of random series have MAD/median ≤ 0.35 and 0.1% ≤ 0.14, with 30
    /// intervals 0.1% ≤ 0.33 (simulated; see BENCHMARKS.md). At 36 a short series must be
    /// about as regular as 1 random series in 10,000 (12 intervals: ≤ 0.12, which ±20%
    /// jitter meets); a beacon with ±50% jitter is judged once it has about 24 intervals.
    pub full_jitter_intervals: u32,
    /// Score (0..1) at or above which a rare or ordinary destination alerts.
    pub threshold: f64,
    /// Score a popular destination must reach (1.0 disables alerts on popular destinations).
    pub popular_threshold: f64,
    /// Also watch internal destinations (east-west beacons). Off by default: internal
    /// services (domain controllers, resolvers, proxies) are periodic by design.
    pub internal_destinations: bool,
    /// No new alert for the same pair within this period.
    pub realert_secs: u64,
}

impl Default for BeaconConfig {
    fn default() -> Self {
        BeaconConfig {
            enabled: true,
            max_pairs: 20_000_000,
            max_candidates: 100_000,
            max_samples: 128,
            min_connections: 12,
            session_gap_secs: 2,
            evaluate_every_secs: 3600,
            window_secs: 24 * 3600,
            max_jitter: 0.35,
            full_jitter_intervals: 36,
            threshold: 0.75,
            popular_threshold: 1.0,
            internal_destinations: false,
            realert_secs: 24 * 3600,
        }
    }
}

/// DNS tunnelling, per (host, registered domain).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DnsTunnelConfig {
    pub enabled: bool,
    /// Tumbling window per key.
    pub window_secs: u64,
    /// (host, registered domain) keys tracked; ≈ 200 bytes + 4 bytes per distinct
    /// subdomain (capped at `max_subdomains`).
    pub max_keys: usize,
    /// Distinct subdomains remembered exactly per key.
    pub max_subdomains: usize,
    /// Distinct subdomains in one window before the key is scored.
    pub min_unique_subdomains: u32,
    /// Mean length of the leftmost labels at or above which names look like encoded data.
    pub min_mean_label_len: f64,
    /// Mean Shannon entropy (bits per character) of the subdomain part.
    pub min_mean_entropy: f64,
    /// Share of TXT/NULL/CNAME/MX queries that alone makes many unique names suspicious.
    pub min_txt_null_share: f64,
    /// Registered domains never scored (DNSBL services, telemetry of security products).
    pub allow_domains: Vec<String>,
}

impl Default for DnsTunnelConfig {
    fn default() -> Self {
        DnsTunnelConfig {
            enabled: true,
            window_secs: 3600,
            max_keys: 200_000,
            max_subdomains: 1024,
            min_unique_subdomains: 60,
            min_mean_label_len: 20.0,
            min_mean_entropy: 3.5,
            min_txt_null_share: 0.5,
            allow_domains: vec![
                "spamhaus.org".into(),
                "sorbs.net".into(),
                "spamcop.net".into(),
                "surbl.org".into(),
                "uribl.com".into(),
                "barracudacentral.org".into(),
                "mcafee.com".into(),
                "sophosxl.net".into(),
                "e5.sk".into(),
            ],
        }
    }
}

/// DGA: per-host bursts of NXDOMAIN for unpronounceable names, then the one that resolves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DgaConfig {
    pub enabled: bool,
    /// Tumbling window per host.
    pub window_secs: u64,
    /// Hosts tracked (≈ 300 bytes + the names kept as examples).
    pub max_hosts: usize,
    /// Distinct unpronounceable NXDOMAIN names in one window that make a burst.
    pub min_nxdomain: u32,
    /// Per-character log-likelihood under the benign n-gram model below which a name is
    /// unpronounceable (see `ngram.rs`; at -3.7, 4% of the Tranco top-10k names with a
    /// label of 7+ characters fall below, and 93% of random-character DGA names).
    pub max_log_likelihood: f64,
    /// Names whose scored part is shorter are ignored (too little evidence).
    pub min_name_len: usize,
}

impl Default for DgaConfig {
    fn default() -> Self {
        DgaConfig {
            enabled: true,
            window_secs: 3600,
            max_hosts: 200_000,
            min_nxdomain: 8,
            max_log_likelihood: -3.7,
            min_name_len: 7,
        }
    }
}

/// Exfiltration: many or large uploads to a destination rare across the estate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExfilConfig {
    pub enabled: bool,
    /// Tumbling window per (host, destination) and for the host's baseline.
    pub window_secs: u64,
    /// (host, destination) pairs tracked in the current window (≈ 100 bytes each).
    pub max_pairs: usize,
    /// Hosts with an upload baseline (≈ 80 bytes each).
    pub max_hosts: usize,
    /// Bytes sent to one rare destination in one window that always alert.
    pub min_bytes: u64,
    /// Uploads (POST/PUT requests, flows sending ≥ 64 KiB more than they receive) to one rare
    /// destination in one window that alert with
    /// at least `min_bytes_with_count` bytes.
    pub min_uploads: u32,
    pub min_bytes_with_count: u64,
    /// The window's bytes must also exceed the host's own baseline mean by this many
    /// standard deviations (once the baseline has `baseline_min_windows` windows).
    pub baseline_sigmas: f64,
    pub baseline_min_windows: u32,
}

impl Default for ExfilConfig {
    fn default() -> Self {
        ExfilConfig {
            enabled: true,
            window_secs: 3600,
            max_pairs: 2_000_000,
            max_hosts: 200_000,
            min_bytes: 20 * 1024 * 1024,
            min_uploads: 20,
            min_bytes_with_count: 5 * 1024 * 1024,
            baseline_sigmas: 4.0,
            baseline_min_windows: 6,
        }
    }
}

/// Windows authentication: lateral movement, password spraying, brute force.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    pub enabled: bool,
    /// Sliding window (tumbling buckets of this size).
    pub window_secs: u64,
    /// Accounts and sources tracked (≈ 150 bytes + 4 bytes per distinct host or account,
    /// each set capped at `max_set`).
    pub max_keys: usize,
    pub max_set: usize,
    /// Distinct destination hosts one account or source reaches in a window.
    pub lateral_min_hosts: u32,
    /// … and more than this factor times its largest count in earlier windows.
    pub lateral_baseline_factor: f64,
    /// Distinct accounts failing from one source in a window (spraying).
    pub spray_min_accounts: u32,
    /// Failures on one account in a window (brute force).
    pub brute_min_failures: u32,
    /// Administrator accounts (case-insensitive globs with `*`).
    pub admin_accounts: Vec<String>,
    /// Workstation names (case-insensitive globs) from which administrator use alerts.
    pub workstations: Vec<String>,
    /// Accounts ignored everywhere (machine accounts end in `$` and are always ignored).
    pub ignore_accounts: Vec<String>,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            enabled: true,
            window_secs: 1800,
            max_keys: 500_000,
            max_set: 256,
            lateral_min_hosts: 5,
            lateral_baseline_factor: 2.0,
            spray_min_accounts: 10,
            brute_min_failures: 20,
            admin_accounts: vec![
                "administrator".into(),
                "admin".into(),
                "adm-*".into(),
                "*-adm".into(),
                "*_adm".into(),
                "da-*".into(),
            ],
            workstations: vec![
                "pc-*".into(),
                "ws-*".into(),
                "desktop-*".into(),
                "laptop-*".into(),
                "win10-*".into(),
                "win11-*".into(),
            ],
            ignore_accounts: vec!["anonymous logon".into(), "-".into()],
        }
    }
}

/// Network policy from the inventory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PolicyConfig {
    pub enabled: bool,
    /// Datasets whose source reached the destination through a sanctioned proxy (the
    /// egress rule does not apply; the separation rule does).
    pub proxied_datasets: Vec<String>,
    /// Private, loopback, link-local, multicast and broadcast addresses outside the
    /// inventory are not "the internet" unless this is set.
    pub non_global_is_external: bool,
    /// Sources remembered to alert once per period per rule (≈ 40 bytes each).
    pub max_keys: usize,
    pub realert_secs: u64,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        PolicyConfig {
            enabled: true,
            proxied_datasets: vec!["squid.access".into(), "proxy.access".into()],
            non_global_is_external: false,
            max_keys: 1_000_000,
            realert_secs: 3600,
        }
    }
}

/// First contact: destinations never seen before in the estate, with other evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FirstContactConfig {
    pub enabled: bool,
    /// A new destination contacted by at most this many hosts.
    pub max_hosts: u32,
    /// Other evidence about the same host within this period (an analytic alert) combines.
    /// Short on purpose: most host names are seen on one day only, so an infected or noisy
    /// host contacts new destinations all day long.
    pub correlate_secs: u64,
    /// A new name is evidence by itself only when it is clearly unpronounceable: trigram
    /// log-likelihood below this (stricter than `dga.max_log_likelihood`, which judges bursts
    /// of names; −4.2 flags 0.9% of the Tranco top 10k, see BENCHMARKS.md).
    pub max_log_likelihood: f64,
    /// Hosts remembered with their recent analytic alerts (≈ 100 bytes each).
    pub max_tracked_hosts: usize,
}

impl Default for FirstContactConfig {
    fn default() -> Self {
        FirstContactConfig {
            enabled: true,
            max_hosts: 2,
            correlate_secs: 3600,
            max_log_likelihood: -4.2,
            max_tracked_hosts: 200_000,
        }
    }
}

/// Targeted e-mail: one external sender, several recipients, a lure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailConfig {
    pub enabled: bool,
    /// Messages of one sender to one organization within this period form one campaign.
    pub window_secs: u64,
    /// Distinct recipients of lure-carrying messages that make a campaign (one recipient is
    /// left to the per-message Sigma rules).
    pub min_recipients: u32,
    /// Recipients remembered per campaign (4 bytes each).
    pub max_recipients: usize,
    /// (Organization, sender) pairs with a lure in the current window (≈ 300 bytes each).
    pub max_senders: usize,
    /// Attachment extensions that are lures by themselves (lowercase, without the dot):
    /// executables, scripts, shortcuts, disk images, and archive formats that mail filters
    /// rarely open (LZH/ACE/ARJ were the containers of the 2015 attacks).
    pub risky_extensions: Vec<String>,
    /// A name with one of these extensions followed by another extension is a lure
    /// (`report.pdf.exe`).
    pub document_extensions: Vec<String>,
    /// A link is a lure when its registered domain is not popular and at most this many
    /// hosts of the estate have visited it.
    pub max_link_hosts: u32,
}

impl Default for MailConfig {
    fn default() -> Self {
        let list = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect();
        MailConfig {
            enabled: true,
            window_secs: 3600,
            min_recipients: 3,
            max_recipients: 256,
            max_senders: 100_000,
            risky_extensions: list(&[
                "exe", "scr", "com", "pif", "cpl", "msi", "js", "jse", "vbs", "vbe", "wsf", "wsh",
                "hta", "ps1", "bat", "cmd", "lnk", "url", "iso", "img", "vhd", "vhdx", "chm",
                "jar", "lzh", "lha", "ace", "arj", "cab", "docm", "xlsm", "pptm",
            ]),
            document_extensions: list(&[
                "pdf", "doc", "docx", "xls", "xlsx", "ppt", "pptx", "txt", "rtf", "jpg", "jpeg",
                "png", "gif", "zip",
            ]),
            max_link_hosts: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_document_gives_defaults() {
        assert_eq!(
            AnalyticsConfig::from_toml("").unwrap(),
            AnalyticsConfig::default()
        );
    }

    #[test]
    fn defaults_round_trip_through_toml() {
        let text = toml::to_string(&AnalyticsConfig::default()).unwrap();
        assert_eq!(
            AnalyticsConfig::from_toml(&text).unwrap(),
            AnalyticsConfig::default()
        );
    }

    #[test]
    fn partial_documents_override_only_what_they_name() {
        let c = AnalyticsConfig::from_toml("[beacon]\nmin_connections = 24\n").unwrap();
        assert_eq!(c.beacon.min_connections, 24);
        assert_eq!(c.beacon.threshold, BeaconConfig::default().threshold);
    }

    #[test]
    fn typos_and_bad_values_are_errors() {
        let e = AnalyticsConfig::from_toml("[beacon]\nmin_conections = 24\n").unwrap_err();
        assert!(e.to_string().contains("min_conections"), "{e}");
        let e = AnalyticsConfig::from_toml("[dga]\nwindow_secs = 0\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "analytics configuration: dga.window_secs: must be greater than 0"
        );
        let e = AnalyticsConfig::from_toml("[beacon]\nthreshold = 1.5\n").unwrap_err();
        assert!(e.to_string().contains("not between 0 and 1"), "{e}");
    }
}
