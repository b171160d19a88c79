//! Telemetry readers: every log format of DESIGN.md §4, detected from content, normalized to
//! ECS [`Event`]s, never panicking on input.
//!
//! The pipeline calls one entry point per file:
//!
//! ```no_run
//! use yagura_formats::{FileReader, ReadOptions};
//! let opts = ReadOptions::default().with_root("/data/telemetry");
//! let reader = FileReader::open("/data/telemetry/moh/proxy/access.log.gz", &opts)?;
//! for record in reader {
//!     match record {
//!         Ok(event) => { /* normalized ECS event, organization.id and log.file set */ }
//!         Err(reject) => { /* file, line, reason: nothing is silently lost */ }
//!     }
//! }
//! # Ok::<(), yagura_formats::OpenError>(())
//! ```
//!
//! Layers, from the bytes up:
//! - [`input`]: opens a file or stream, undoes gzip/zstd from the magic bytes, and yields
//!   lines with a cap on their length (an over-long line becomes a reject, and reading goes
//!   on after its end).
//! - [`detect`]: picks a [`Format`] from the first bytes (never from the file name).
//! - `formats::*`: one line (or record) parser per format; each turns borrowed text into an
//!   [`Event`] or a reason.
//! - [`FileReader`]: ties them together and stamps provenance (`log.file.path`,
//!   `log.file.line`) and tenancy (`organization.id`).

pub mod detect;
mod error;
mod formats;
pub mod input;
mod org;
mod reader;
mod util;

pub use detect::{Format, detect};
pub use error::{OpenError, Reject};
pub use org::org_from_path;
pub use reader::{FileReader, ReadOptions, read_bytes};

pub use yagura_model::Event;

/// Default cap on one (decompressed) line: 1 MiB.
pub const DEFAULT_MAX_LINE: usize = 1 << 20;
/// Default cap on a whole `.evtx` file held in memory: 2 GiB.
pub const DEFAULT_MAX_EVTX: u64 = 2 << 30;
