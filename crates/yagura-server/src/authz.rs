//! Roles → permissions: the one table every handler consults.
//!
//! | permission          | center-admin | analyst | auditor | responder | org-officer | read-only |
//! |---------------------|:------------:|:-------:|:-------:|:---------:|:-----------:|:---------:|
//! | `read`              | ✓ | ✓ | ✓ | ✓ | ✓ | ✓ |
//! | `alerts.triage`     |   | ✓ |   | ✓ |   |   |
//! | `incidents.work`    |   | ✓ |   | ✓ |   |   |
//! | `advisories.issue`  |   | ✓ |   |   |   |   |
//! | `advisories.respond`|   |   |   |   | ✓ |   |
//! | `users.manage`      | ✓ |   |   |   |   |   |
//! | `tokens.manage`     | ✓ |   |   |   |   |   |
//! | `audit.read`        | ✓ |   | ✓ |   |   |   |
//! | `events.hunt`       |   | ✓ |   | ✓ | ✓ |   |
//!
//! `events.hunt` is searching the raw telemetry of the event store (who visited what), which
//! is more than reading alerts: the people who investigate have it, administrators, auditors
//! and read-only accounts do not.
//!
//! *Which* organizations a permission applies to is the caller's [`Scope`]: the caller's
//! organization and everything it supervises ([`Inventory::visible_from`]); for an
//! org-officer only the own organization ([`scope_for`]). The store applies the scope to
//! every read and write, so a handler cannot forget it.

use serde::Serialize;
use utoipa::ToSchema;
use yagura_model::{Inventory, OrgId, Role, Scope};

/// An action class guarded by role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, ToSchema)]
pub enum Permission {
    #[serde(rename = "read")]
    Read,
    #[serde(rename = "alerts.triage")]
    TriageAlerts,
    #[serde(rename = "incidents.work")]
    WorkIncidents,
    #[serde(rename = "advisories.issue")]
    IssueAdvisories,
    #[serde(rename = "advisories.respond")]
    RespondAdvisories,
    #[serde(rename = "users.manage")]
    ManageUsers,
    #[serde(rename = "tokens.manage")]
    ManageTokens,
    #[serde(rename = "audit.read")]
    ReadAudit,
    #[serde(rename = "events.hunt")]
    HuntEvents,
}

impl Permission {
    pub const ALL: [Permission; 9] = [
        Permission::Read,
        Permission::TriageAlerts,
        Permission::WorkIncidents,
        Permission::IssueAdvisories,
        Permission::RespondAdvisories,
        Permission::ManageUsers,
        Permission::ManageTokens,
        Permission::ReadAudit,
        Permission::HuntEvents,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Permission::Read => "read",
            Permission::TriageAlerts => "alerts.triage",
            Permission::WorkIncidents => "incidents.work",
            Permission::IssueAdvisories => "advisories.issue",
            Permission::RespondAdvisories => "advisories.respond",
            Permission::ManageUsers => "users.manage",
            Permission::ManageTokens => "tokens.manage",
            Permission::ReadAudit => "audit.read",
            Permission::HuntEvents => "events.hunt",
        }
    }
}

/// The permission table (see the module documentation).
pub fn allows(role: Role, perm: Permission) -> bool {
    use Permission::*;
    use Role::*;
    match perm {
        Read => true,
        TriageAlerts | WorkIncidents => matches!(role, Analyst | Responder),
        IssueAdvisories => role == Analyst,
        RespondAdvisories => role == OrgOfficer,
        ManageUsers | ManageTokens => role == CenterAdmin,
        ReadAudit => matches!(role, CenterAdmin | Auditor),
        HuntEvents => matches!(role, Analyst | Responder | OrgOfficer),
    }
}

/// The organizations a principal of `org` with `role` may see: the visibility rule, narrowed
/// to the own organization for an org-officer. An organization absent from the inventory sees
/// nothing.
pub fn scope_for(inventory: &Inventory, org: &OrgId, role: Role) -> Scope {
    let visible = inventory.visible_from(org.as_str());
    if role == Role::OrgOfficer {
        visible.intersect(&Scope::single(org.clone()))
    } else {
        visible
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table as data: role → permissions granted besides `read`.
    fn check(role: Role, expect: &[Permission]) {
        let got: Vec<Permission> = Permission::ALL
            .into_iter()
            .filter(|p| *p != Permission::Read && allows(role, *p))
            .collect();
        assert_eq!(got, expect, "{role}");
        assert!(allows(role, Permission::Read));
    }

    #[test]
    fn permission_table() {
        use Permission::*;
        check(Role::CenterAdmin, &[ManageUsers, ManageTokens, ReadAudit]);
        check(
            Role::Analyst,
            &[TriageAlerts, WorkIncidents, IssueAdvisories, HuntEvents],
        );
        check(Role::Auditor, &[ReadAudit]);
        check(Role::Responder, &[TriageAlerts, WorkIncidents, HuntEvents]);
        check(Role::OrgOfficer, &[RespondAdvisories, HuntEvents]);
        check(Role::ReadOnly, &[]);
    }

    #[test]
    fn org_officer_sees_only_its_own_org() {
        let inv = yagura_store::testing::fixture_inventory();
        let del = OrgId::new("delegated").unwrap();
        assert_eq!(scope_for(&inv, &del, Role::Analyst).len(), 3);
        let officer = scope_for(&inv, &del, Role::OrgOfficer);
        assert_eq!(
            officer.iter().map(|o| o.as_str()).collect::<Vec<_>>(),
            ["delegated"]
        );
        let unknown = OrgId::new("ghost").unwrap();
        assert!(scope_for(&inv, &unknown, Role::OrgOfficer).is_empty());
        assert!(scope_for(&inv, &unknown, Role::CenterAdmin).is_empty());
    }
}
