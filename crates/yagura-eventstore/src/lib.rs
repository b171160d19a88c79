//! yagura's durable event path and event store.
//!
//! - [`wal`]: the write-ahead log (group-commit fsync, CRC per record, segments, replay,
//!   torn-tail truncation, idempotent batch ids, bounded queue, clean disk-full errors).
//! - [`block`]: the columnar event block of a format 4 split (events addressed by row).
//! - `readahead`: read-ahead hints of the byte ranges a cold hunt reads.
//! - [`split`]: immutable tantivy indexes ("splits") of one organization and time range.
//! - [`catalogue`]: the SQLite catalogue of published splits and the WAL checkpoint.
//! - [`store`]: [`EventStore`], tying them together: ingest, flush (exactly-once WAL → store),
//!   hunt, retention, compaction.
//! - [`retention`]: which splits retention deletes, per organization, by age and size.
//! - [`terms`]: normalization of indicator-bearing values shared by indexing and hunting.
//!
//! Architecture invariant: this crate depends on `yagura-model` only among yagura crates; it
//! knows nothing of readers, detectors, HTTP or the state DB. Every read is filtered by a
//! [`yagura_model::Scope`].

pub mod block;
#[cfg(feature = "store")]
pub mod catalogue;
#[cfg(feature = "store")]
mod readahead;
#[cfg(feature = "store")]
pub mod retention;
#[cfg(feature = "store")]
pub mod split;
#[cfg(feature = "store")]
pub mod store;
pub mod terms;
pub mod wal;

#[cfg(feature = "store")]
pub use catalogue::SplitMeta;
#[cfg(feature = "store")]
pub use retention::{OrgRetention, RetentionPlan};
#[cfg(feature = "store")]
pub use store::{
    CompactOptions, EventStore, FieldFilter, FlushReport, HuntHit, HuntQuery, HuntResult,
    IngestAck, MaintenanceReport, PendingBatch, Reject, RetentionPolicy, StoreError, StoreOptions,
    StoreStats,
};
pub use wal::{ReadBack, Wal, WalError, WalOptions};
