//! Tenancy: who may see which organizations' records.
//!
//! A [`Scope`] is the set of organizations a caller may see. It is computed once from the
//! inventory ([`crate::Inventory::visible_from`]) and handed to every store read; the store
//! filters by it. There is deliberately no "all organizations" shortcut that skips the set:
//! even the central center's scope is the explicit list of what it supervises.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::OrgId;

/// The organizations a caller may read.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Scope {
    orgs: BTreeSet<OrgId>,
}

impl Scope {
    /// Sees nothing (an unknown principal).
    pub fn none() -> Scope {
        Scope::default()
    }

    pub fn orgs(orgs: BTreeSet<OrgId>) -> Scope {
        Scope { orgs }
    }

    pub fn single(org: OrgId) -> Scope {
        Scope {
            orgs: BTreeSet::from([org]),
        }
    }

    pub fn contains(&self, org: &str) -> bool {
        self.orgs.contains(org)
    }

    pub fn iter(&self) -> impl Iterator<Item = &OrgId> {
        self.orgs.iter()
    }

    pub fn len(&self) -> usize {
        self.orgs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.orgs.is_empty()
    }

    /// The part of this scope inside `other` (used to narrow a query by an org filter).
    pub fn intersect(&self, other: &Scope) -> Scope {
        Scope {
            orgs: self.orgs.intersection(&other.orgs).cloned().collect(),
        }
    }
}

/// An authenticated caller: a user or API token of one organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    pub name: String,
    pub org: OrgId,
    pub scope: Scope,
}

/// What a user may do. Visibility (which organizations) comes from the user's organization
/// through the supervision tree; the role says which actions are allowed within it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Administers a center: users, inventory, configuration.
    CenterAdmin,
    /// Triages alerts, runs hunts, writes advisories.
    Analyst,
    /// Reads everything in scope including the audit trail; changes nothing.
    Auditor,
    /// Incident response team member: works incidents and response tasks.
    Responder,
    /// Security officer of one monitored organization: own organization only.
    OrgOfficer,
    /// Reads dashboards and lists; changes nothing.
    ReadOnly,
}

impl Role {
    pub const ALL: [Role; 6] = [
        Role::CenterAdmin,
        Role::Analyst,
        Role::Auditor,
        Role::Responder,
        Role::OrgOfficer,
        Role::ReadOnly,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::CenterAdmin => "center-admin",
            Role::Analyst => "analyst",
            Role::Auditor => "auditor",
            Role::Responder => "responder",
            Role::OrgOfficer => "org-officer",
            Role::ReadOnly => "read-only",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
