//! What the authorization matrices of the API (`authz_matrix.rs`) and the console
//! (`console.rs`) share: the caller's organization and its relations, the expected scope of
//! each role (written out independently of the code under test), the leak scan, and the
//! before/after snapshot that proves a refused request changed nothing.

use yagura_model::{IncidentStatus, Role, Scope, Timestamp};
use yagura_store::{AlertStatus, StateStore};

use super::{Harness, ORGS};

/// The caller of every matrix cell belongs to `delegated`: a center supervising `pension`
/// and `power`, supervised by `central`, sibling of `moh`.
pub const CALLER_ORG: &str = "delegated";

/// How the target organization of a cell relates to [`CALLER_ORG`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rel {
    Own,
    Child,
    Parent,
    Foreign,
}

impl Rel {
    pub const ALL: [Rel; 4] = [Rel::Own, Rel::Child, Rel::Parent, Rel::Foreign];

    pub fn org(self) -> &'static str {
        match self {
            Rel::Own => "delegated",
            Rel::Child => "pension",
            Rel::Parent => "central",
            Rel::Foreign => "moh",
        }
    }

    /// Whether a caller of `role` in [`CALLER_ORG`] may see records of this organization.
    pub fn visible_to(self, role: Role) -> bool {
        expected_scope(role).contains(&self.org())
    }
}

/// The organizations a caller of `role` in [`CALLER_ORG`] may see: an org-officer its own
/// organization only, everybody else also the organizations it supervises.
pub fn expected_scope(role: Role) -> &'static [&'static str] {
    if role == Role::OrgOfficer {
        &["delegated"]
    } else {
        &["delegated", "pension", "power"]
    }
}

/// Every organization of the fixture estate (for reading back what a test did).
pub fn everything() -> Scope {
    yagura_store::testing::fixture_inventory().visible_from("central")
}

/// No marker (`markers(org)`) of an organization outside the caller's scope in `body`,
/// except values the caller itself sent in `request` (an id echoed back in "alert \"al-moh\"
/// not found" tells the caller nothing it did not know: the 404 is identical for ids that
/// never existed).
pub fn assert_no_leak(
    markers: fn(&str) -> Vec<String>,
    role: Role,
    endpoint: &str,
    body: &str,
    request: &str,
) {
    let scope = expected_scope(role);
    for o in ORGS.iter().filter(|o| !scope.contains(o)) {
        for m in markers(o) {
            if request.contains(m.trim_end_matches('"')) {
                continue;
            }
            assert!(
                !body.contains(&m),
                "LEAK: {role} of {CALLER_ORG} sees {m} of {o} via {endpoint}: {body}"
            );
        }
    }
}

/// Everything a write could change about the seeded records of one organization, and the
/// store-wide counts of what a write could create.
#[derive(Debug, PartialEq)]
pub struct Snapshot {
    alert_status: AlertStatus,
    advisory_steps: usize,
    acknowledged_advisory_steps: usize,
    incident: (IncidentStatus, Timestamp, Option<String>),
    user_disabled: bool,
    token_revoked: bool,
    advisories: u64,
    users: usize,
    tokens: usize,
}

impl Snapshot {
    /// The seeded records of `target` (see [`Harness::seed`]) as they are now.
    pub fn of(h: &Harness, target: &str) -> Snapshot {
        let all = everything();
        let s = &h.store;
        let steps = |id: String| s.get_advisory(&all, &id).unwrap().unwrap().steps.len();
        let inc = s
            .get_incident(&all, &format!("in-{target}"))
            .unwrap()
            .unwrap();
        let tokens = s.list_tokens(&all).unwrap();
        let token_name = format!("tok-{target}");
        Snapshot {
            alert_status: s
                .get_alert(&all, &format!("al-{target}"))
                .unwrap()
                .unwrap()
                .status,
            advisory_steps: steps(format!("adv-{target}")),
            acknowledged_advisory_steps: steps(format!("adv-ack-{target}")),
            incident: (inc.status, inc.updated, inc.assignee),
            user_disabled: s
                .user_for_login(&format!("user-{target}"))
                .unwrap()
                .unwrap()
                .user
                .disabled,
            token_revoked: tokens.iter().any(|t| t.name == token_name && t.revoked),
            advisories: s.count_advisories(&all, &Default::default()).unwrap(),
            users: s.list_users(&all).unwrap().len(),
            tokens: tokens.len(),
        }
    }
}
