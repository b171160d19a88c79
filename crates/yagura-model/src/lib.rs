//! The domain model of yagura.
//!
//! Everything here is plain data plus the rules that belong to the data (validation, the
//! visibility rule of the supervision tree, address lookups). The crate performs no I/O:
//! callers read files and hand the text in, which keeps the model usable from every layer
//! (readers, detectors, store, server) and trivially testable.
//!
//! Architecture invariant: this crate depends on no other yagura crate and on nothing that
//! touches the network, the file system or a clock (except [`Timestamp::now`], used only by
//! callers that explicitly want wall time).

pub mod alert;
pub mod attack;
pub mod event;
pub mod ids;
pub mod incident;
pub mod indicator;
pub mod inventory;
pub mod org;
pub mod severity;
pub mod tenancy;
pub mod time;
pub mod tlp;

pub use alert::{Alert, Detector, Entities, EvidenceRef};
pub use attack::AttackId;
pub use event::Event;
pub use ids::{IdError, OrgId};
pub use incident::{Campaign, Incident, IncidentStatus};
pub use indicator::{Indicator, IndicatorKind};
pub use inventory::{AddressClass, AddressIndex, Inventory, InventoryError};
pub use org::{OrgKind, Organization, Sector};
pub use severity::Severity;
pub use tenancy::{Principal, Role, Scope};
pub use time::Timestamp;
pub use tlp::Tlp;

/// Short, mostly inline string used for hot event fields (no allocation up to 24 bytes).
pub type Str = compact_str::CompactString;
