//! Targeted e-mail: one external sender reaching several recipients of one organization within
//! a short window with a lure — an attachment of a type that runs or hides what runs
//! (executables, scripts, shortcuts, disk images, the archive formats targeted attacks on
//! Japanese organizations favour, a document extension followed by an executable one), or a
//! link to a site the estate's web traffic has (almost) never visited.
//!
//! This is the first step of the 2015 pension-agency intrusion and the main subject of the
//! national information-sharing partnership. A single lure to one person is left to the
//! per-message Sigma rules; what this detector adds is the campaign view (how many recipients,
//! which subjects, which lures) and the link lures, which no per-message rule can judge
//! because "rare" is a property of the whole estate's traffic.
//!
//! State: one entry per (organization, sender, lure) in the current window (recipient
//! hashes capped at `max_recipients`), at most `max_senders` entries (least recently seen
//! evicted).

use std::collections::HashMap;

use rustc_hash::FxBuildHasher;
use serde::{Deserialize, Serialize};
use yagura_model::event::FieldValue;
use yagura_model::{Detector as Family, Entities, Event, EvidenceRef, OrgId, Severity, Timestamp};

use crate::bounded::{LastSeen, enforce_cap};
use crate::config::MailConfig;
use crate::detector::{
    AlertSpec, Context, Detector, RawValue, State, StateError, View, checkpoint_of, evidence_of,
    restored,
};
use crate::prevalence::secs_to_nanos;
use crate::stats::hash_bytes;

/// One lure of a message: (campaign key, attachment name, attachment hash, rare link with its
/// prevalence note).
type Lure<'a> = (
    String,
    Option<&'a str>,
    Option<&'a str>,
    Option<&'a (String, String)>,
);

/// Lures kept per campaign for the summary.
const MAX_LURES: usize = 4;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Campaign {
    org: OrgId,
    sender: String,
    start: i64,
    last: i64,
    /// Hashes of distinct recipients, sorted, at most `max_recipients`.
    recipients: Vec<u32>,
    messages: u64,
    subjects: Vec<String>,
    attachments: Vec<String>,
    hash: Option<String>,
    links: Vec<String>,
    link_domain: Option<String>,
    evidence: Vec<EvidenceRef>,
    alerted: bool,
}

impl LastSeen for Campaign {
    fn last_seen(&self) -> i64 {
        self.last
    }
}

/// The targeted e-mail detector.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Mail {
    campaigns: HashMap<u64, Campaign, FxBuildHasher>,
}

impl Mail {
    pub fn campaigns(&self) -> usize {
        self.campaigns.len()
    }
}

/// The domain part of an address, lowercased.
fn domain_of(addr: &str) -> Option<String> {
    let d = addr.rsplit_once('@')?.1.trim().trim_end_matches('>');
    (!d.is_empty()).then(|| d.to_ascii_lowercase())
}

/// Whether an attachment name is a lure by itself.
fn risky_attachment(name: &str, cfg: &MailConfig) -> bool {
    let lower = name.trim().to_ascii_lowercase();
    let Some((stem, ext)) = lower.rsplit_once('.') else {
        return false;
    };
    if cfg.risky_extensions.iter().any(|e| e == ext) {
        return true;
    }
    // A document extension followed by anything else (`report.pdf.scr`, `a.doc   .exe`).
    let inner = stem.trim_end().rsplit_once('.').map(|(_, e)| e);
    inner.is_some_and(|i| {
        cfg.document_extensions.iter().any(|d| d == i)
            && !cfg.document_extensions.iter().any(|d| d == ext)
    })
}

fn link_domains(ev: &Event) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut push = |s: &str| {
        let s = s.trim().trim_end_matches('.').to_ascii_lowercase();
        if !s.is_empty() && !out.contains(&s) {
            out.push(s);
        }
    };
    // A list is visited item by item.
    ev.for_each_value("mailgw.link_domains", |v| {
        if let FieldValue::Str(s) = v {
            push(s);
        }
    });
    out
}

fn push_capped(v: &mut Vec<String>, s: &str) {
    if v.len() < MAX_LURES && !v.iter().any(|x| x == s) {
        v.push(s.to_owned());
    }
}

impl Detector for Mail {
    fn name(&self) -> &'static str {
        "mail"
    }

    fn observe(&mut self, ev: &Event, view: &View<'_>, cx: &mut Context<'_>) {
        let cfg = &cx.config.mail;
        if !cfg.enabled || ev.email.to.address.is_empty() {
            return;
        }
        if ev
            .email
            .direction
            .as_deref()
            .is_some_and(|d| d != "inbound")
        {
            return;
        }
        let Some(sender) = ev
            .email
            .from
            .address
            .first()
            .or_else(|| ev.email.sender.address.first())
            .map(|a| a.as_str().to_ascii_lowercase())
        else {
            return;
        };
        let sender_domain = domain_of(&sender);
        // Recipients of this organization: those not in the sender's own domain.
        let recipients: Vec<u32> = ev
            .email
            .to
            .address
            .iter()
            .chain(ev.email.cc.address.iter())
            .filter(|r| domain_of(r) != sender_domain)
            .map(|r| hash_bytes(&[r.to_ascii_lowercase().as_bytes()]) as u32)
            .collect();
        if recipients.is_empty() {
            return;
        }
        let now = view.time.nanos();
        // The lures of this message.
        let mut risky: Vec<(&str, Option<&str>)> = Vec::new();
        for a in &ev.email.attachments {
            if let Some(n) = a.file.name.as_deref()
                && risky_attachment(n, cfg)
            {
                risky.push((n, a.file.hash.sha256.as_deref()));
            }
        }
        let mut rare_links: Vec<(String, String)> = Vec::new();
        for d in link_domains(ev) {
            let reg = crate::domain::registered_domain(&d)
                .unwrap_or(&d)
                .to_owned();
            let key = hash_bytes(&[b"n", reg.as_bytes()]);
            let p = cx.prevalence.classify(&cx.config.prevalence, key, now);
            if !p.popular && p.hosts <= cfg.max_link_hosts {
                let note = format!("{d} ({})", p.describe());
                rare_links.push((d, note));
            }
        }
        if risky.is_empty() && rare_links.is_empty() {
            return;
        }
        // One campaign per (organization, sender, lure): each wave of a campaign carries its
        // own attachment or link, and each is reported with its own hash or domain.
        let mut lures: Vec<Lure<'_>> = Vec::new();
        for (name, hash) in &risky {
            lures.push((
                format!("a|{}", hash.unwrap_or(name)),
                Some(*name),
                *hash,
                None,
            ));
        }
        for l in &rare_links {
            lures.push((format!("l|{}", l.0), None, None, Some(l)));
        }
        let window = secs_to_nanos(cfg.window_secs);
        let evidence = evidence_of(ev);
        for (lure, name, hash, link) in lures {
            let key = hash_bytes(&[
                view.org.as_str().as_bytes(),
                sender.as_bytes(),
                lure.as_bytes(),
            ]);
            let c = self.campaigns.entry(key).or_insert_with(|| Campaign {
                org: view.org.clone(),
                sender: sender.clone(),
                start: now,
                last: now,
                recipients: Vec::new(),
                messages: 0,
                subjects: Vec::new(),
                attachments: Vec::new(),
                hash: hash.map(str::to_owned),
                links: Vec::new(),
                link_domain: link.map(|l| l.0.clone()),
                evidence: Vec::new(),
                alerted: false,
            });
            if now.saturating_sub(c.start) > window {
                // A new window for this sender and lure.
                c.start = now;
                c.recipients.clear();
                c.messages = 0;
                c.subjects.clear();
                c.evidence.clear();
                c.alerted = false;
            }
            c.last = c.last.max(now);
            c.messages += 1;
            for r in &recipients {
                if c.recipients.len() >= cfg.max_recipients {
                    break;
                }
                if let Err(pos) = c.recipients.binary_search(r) {
                    c.recipients.insert(pos, *r);
                }
            }
            if let Some(s) = ev.email.subject.as_deref() {
                push_capped(&mut c.subjects, s);
            }
            if let Some(n) = name {
                push_capped(&mut c.attachments, n);
            }
            if let Some((_, note)) = link {
                push_capped(&mut c.links, note);
            }
            if c.evidence.len() < yagura_model::alert::MAX_EVIDENCE
                && let Some(e) = &evidence
            {
                c.evidence.push(e.clone());
            }
            if !c.alerted && c.recipients.len() >= cfg.min_recipients as usize {
                c.alerted = true;
                let c = c.clone();
                cx.alerts.push(alert_of(&c, view.time));
            }
        }
        if self.campaigns.len() > cfg.max_senders {
            enforce_cap(&mut self.campaigns, cfg.max_senders);
        }
    }

    fn advance_to(&mut self, now: Timestamp, cx: &mut Context<'_>) {
        // Windows that ended hold nothing to report later (the alert is raised as soon as the
        // threshold is crossed): forget them once in a while.
        let window = secs_to_nanos(cx.config.mail.window_secs);
        if self.campaigns.len() > 1024 {
            let t = now.nanos();
            self.campaigns
                .retain(|_, c| t.saturating_sub(c.last) <= window);
        }
    }

    fn flush(&mut self, _cx: &mut Context<'_>) {}

    fn checkpoint(&self) -> Result<State, StateError> {
        checkpoint_of(self)
    }

    fn restore(&mut self, state: &RawValue) -> Result<(), StateError> {
        *self = restored(state, "mail")?;
        Ok(())
    }
}

fn alert_of(c: &Campaign, time: Timestamp) -> yagura_model::Alert {
    let mut lures = Vec::new();
    if !c.attachments.is_empty() {
        lures.push(format!("attachments {}", c.attachments.join(", ")));
    }
    if !c.links.is_empty() {
        lures.push(format!("links to {}", c.links.join("; ")));
    }
    let summary = format!(
        "{} sent {} message(s) to {} distinct recipients of {} within {} min carrying {}; \
         subjects: {}",
        c.sender,
        c.messages,
        c.recipients.len(),
        c.org,
        (c.last.saturating_sub(c.start) / 60_000_000_000).max(1),
        lures.join(" and "),
        c.subjects
            .iter()
            .map(|s| format!("\"{s}\""))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut context = serde_json::Map::new();
    context.insert("recipients".into(), (c.recipients.len() as u64).into());
    context.insert("attachments".into(), c.attachments.clone().into());
    context.insert("links".into(), c.links.clone().into());
    AlertSpec {
        family: Family::Analytic,
        rule_id: "mail.targeted",
        title: format!(
            "Targeted e-mail: {} reached {} recipients with {}",
            c.sender,
            c.recipients.len(),
            if c.attachments.is_empty() {
                "a link to a rarely visited site"
            } else {
                "a dangerous attachment"
            }
        ),
        severity: Severity::High,
        attack: &["T1566.001", "T1566.002"],
        org: c.org.clone(),
        entities: Entities {
            email: Some(c.sender.clone()),
            hash: c.hash.clone(),
            domain: c.link_domain.clone(),
            ..Entities::default()
        },
        first_seen: Timestamp::from_nanos(c.start),
        last_seen: Timestamp::from_nanos(c.last),
        time,
        count: c.messages,
        evidence: c.evidence.clone(),
        summary,
        context,
    }
    .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn risky_names() {
        let cfg = MailConfig::default();
        for (n, r) in [
            ("医療費通知.exe", true),
            ("研修資料.doc.exe", true),
            ("試案に対する意見.lzh", true),
            ("invoice.pdf   .scr", true),
            ("report.pdf", false),
            ("document_12.xlsx", false),
            ("archive.tar.gz", false),
            ("photo.jpg.png", false),
            ("noext", false),
        ] {
            assert_eq!(risky_attachment(n, &cfg), r, "{n}");
        }
    }
}
