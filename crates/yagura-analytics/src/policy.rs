//! Network policy from the inventory.
//!
//! * **Separation violation** (critical): a connection from an address in some
//!   organization's `isolated_networks` to a non-internal address — directly or through a
//!   proxy (a proxied request names an external destination just the same).
//! * **Unsanctioned egress** (high): an internal source other than the organization's
//!   `egress_gateways` reaching an external address directly. Only organizations that
//!   declare `egress_gateways` have an egress policy to violate. Requests seen in a proxy's log
//!   (`proxied_datasets`) went through the sanctioned path and are exempt.
//!
//! "External" means outside every organization's internal networks and globally routable:
//! private, loopback, link-local, multicast and broadcast addresses outside the inventory are
//! not the internet (unless `non_global_is_external`). Documentation ranges (TEST-NET,
//! 2001:db8::/32) *are* treated as external: exercises and simulations use them for
//! internet hosts. Each (rule, source) alerts once per `realert_secs`, naming the first
//! destination it reached in that period.

use std::collections::HashMap;
use std::net::IpAddr;

use rustc_hash::FxBuildHasher;
use serde::{Deserialize, Serialize};
use yagura_model::{Alert, Detector as Family, Entities, Event, Severity, Timestamp};

use crate::bounded::{LastSeen, enforce_cap};
use crate::detector::{
    AlertSpec, Context, Detector, Kind, RawValue, State, StateError, View, checkpoint_of,
    evidence_of, restored,
};
use crate::prevalence::secs_to_nanos;
use crate::stats::hash_bytes;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Seen {
    last: i64,
    alerted_at: i64,
}

impl LastSeen for Seen {
    fn last_seen(&self) -> i64 {
        self.last
    }
}

/// The policy checks.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Policy {
    seen: HashMap<u64, Seen, FxBuildHasher>,
}

/// Whether an address outside the inventory is on the internet.
pub fn is_global(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => {
            let o = a.octets();
            !(a.is_private()
                || a.is_loopback()
                || a.is_link_local()
                || a.is_multicast()
                || a.is_broadcast()
                || a.is_unspecified()
                || o[0] == 0
                || (o[0] == 100 && (o[1] & 0xc0) == 64) // 100.64/10 shared address space
                || o[0] >= 240)
        }
        IpAddr::V6(a) => {
            let s = a.segments();
            !(a.is_loopback()
                || a.is_unspecified()
                || a.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local
                || (s[0] & 0xffc0) == 0xfe80) // link local
        }
    }
}

impl Policy {
    #[allow(clippy::too_many_arguments)]
    fn raise(
        &mut self,
        ev: &Event,
        view: &View<'_>,
        cx: &mut Context<'_>,
        rule: &'static str,
        src: IpAddr,
        dst: Option<IpAddr>,
        domain: Option<&str>,
    ) {
        let t = view.time.nanos();
        let dst_text = dst.map(|d| d.to_string());
        // One alert per (rule, source) and period: the first destination is named, later
        // ones to other destinations are the same finding about the same host.
        let key = hash_bytes(&[
            rule.as_bytes(),
            view.org.as_str().as_bytes(),
            src.to_string().as_bytes(),
        ]);
        let realert = secs_to_nanos(cx.config.policy.realert_secs);
        if let Some(s) = self.seen.get_mut(&key) {
            s.last = s.last.max(t);
            if t.saturating_sub(s.alerted_at) < realert {
                return;
            }
            s.alerted_at = t;
        } else {
            self.seen.insert(
                key,
                Seen {
                    last: t,
                    alerted_at: t,
                },
            );
            if self.seen.len() > cx.config.policy.max_keys {
                enforce_cap(&mut self.seen, cx.config.policy.max_keys);
            }
        }
        cx.alerts
            .push(policy_alert(ev, view, rule, src, dst_text, domain));
    }
}

fn policy_alert(
    ev: &Event,
    view: &View<'_>,
    rule: &'static str,
    src: IpAddr,
    dst: Option<String>,
    domain: Option<&str>,
) -> Alert {
    let target = match (domain, &dst) {
        (Some(d), Some(ip)) => format!("{d} ({ip})"),
        (Some(d), None) => d.to_owned(),
        (None, Some(ip)) => match ev.dst_port() {
            Some(p) => format!("{ip}:{p}"),
            None => ip.clone(),
        },
        (None, None) => "an external destination".to_owned(),
    };
    let via = ev.dataset().unwrap_or("telemetry");
    let (title, severity, attack, summary): (String, Severity, &'static [&'static str], String) =
        if rule == "policy.separation_violation" {
            (
                format!("Isolated network reached the internet: {src} → {target}"),
                Severity::Critical,
                &["T1599"],
                format!(
                    "{src} is in an isolated network of {} (inventory isolated_networks) and \
                     connected to {target}, which is not internal ({via})",
                    view.org
                ),
            )
        } else {
            (
                format!("Unsanctioned internet egress: {src} → {target}"),
                Severity::High,
                &["T1048"],
                format!(
                    "{src} is internal to {} and not one of its egress gateways, yet reached \
                     the external address {target} directly ({via})",
                    view.org
                ),
            )
        };
    let mut entities = view.host_entities();
    entities.src_ip = Some(src.to_string());
    entities.dst_ip = dst;
    entities.domain = domain.map(str::to_owned);
    AlertSpec {
        family: Family::Policy,
        rule_id: rule,
        title,
        severity,
        attack,
        org: view.org.clone(),
        entities: Entities { ..entities },
        first_seen: view.time,
        last_seen: view.time,
        time: view.time,
        count: 1,
        evidence: evidence_of(ev).into_iter().collect(),
        summary,
        context: serde_json::Map::new(),
    }
    .build()
}

impl Detector for Policy {
    fn name(&self) -> &'static str {
        "policy"
    }

    fn observe(&mut self, ev: &Event, view: &View<'_>, cx: &mut Context<'_>) {
        let cfg = &cx.config.policy;
        if !cfg.enabled || !matches!(view.kind, Kind::Flow | Kind::Web | Kind::Dns) {
            return;
        }
        let Some(src) = view.src_ip else { return };
        let addr = cx.addresses;
        let external =
            |ip: IpAddr| !addr.is_internal(ip) && (cfg.non_global_is_external || is_global(ip));
        let dst = ev.dst_ip();
        let proxied = ev
            .dataset()
            .is_some_and(|d| cfg.proxied_datasets.iter().any(|p| p == d))
            || ev.observer.kind.as_deref() == Some("proxy")
            // A sensor in front of an explicit proxy: the client talks to a sanctioned gateway
            // and names the origin it wants.
            || (ev.dst_domain().is_some()
                && dst.is_some_and(|d| addr.egress_gateway_of(d).is_some()));
        // Inbound traffic and answers: only the originator's side is judged.
        if ev.network.direction.as_deref() == Some("inbound") {
            return;
        }
        if addr.isolated_in(src).is_some() {
            // Through a proxy the destination is the requested name (and the origin server's
            // address when the proxy logs it); directly, the destination address.
            let domain = if proxied { ev.dst_domain() } else { None };
            let reached = match dst {
                // The request to an explicit proxy names where it goes.
                Some(d) if addr.egress_gateway_of(d).is_some() => proxied && domain.is_some(),
                Some(d) => external(d),
                None => proxied && domain.is_some(),
            };
            if reached {
                let domain = domain.map(str::to_owned);
                let dst = dst.filter(|d| !addr.is_internal(*d));
                self.raise(
                    ev,
                    view,
                    cx,
                    "policy.separation_violation",
                    src,
                    dst,
                    domain.as_deref(),
                );
            }
            return;
        }
        if proxied || addr.egress_gateway_of(src).is_some() {
            return;
        }
        let Some(d) = dst.filter(|d| external(*d)) else {
            return;
        };
        // The egress rule applies to organizations that declare their gateways, and to the
        // organization owning the source address.
        match addr.owner(src) {
            Some(owner) if cx.egress_orgs.contains(owner) => {}
            _ => return,
        }
        self.raise(
            ev,
            view,
            cx,
            "policy.unsanctioned_egress",
            src,
            Some(d),
            None,
        );
    }

    fn advance_to(&mut self, _now: Timestamp, _cx: &mut Context<'_>) {}

    fn flush(&mut self, _cx: &mut Context<'_>) {}

    fn checkpoint(&self) -> Result<State, StateError> {
        checkpoint_of(self)
    }

    fn restore(&mut self, state: &RawValue) -> Result<(), StateError> {
        *self = restored(state, "policy")?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn global_addresses() {
        for (ip, g) in [
            ("8.8.8.8", true),
            ("203.0.113.9", true),
            ("10.1.2.3", false),
            ("192.168.1.1", false),
            ("169.254.1.1", false),
            ("224.0.0.251", false),
            ("255.255.255.255", false),
            ("100.64.0.1", false),
            ("2001:4860::8888", true),
            ("fe80::1", false),
            ("fd00::1", false),
            ("ff02::fb", false),
        ] {
            assert_eq!(is_global(ip.parse().unwrap()), g, "{ip}");
        }
    }
}
