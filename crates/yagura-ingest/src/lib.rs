//! yagura's live intake, below the durable log: what turns network streams and growing files
//! into lines and messages.
//!
//! * [`framing`]: syslog framing on TCP/TLS streams (RFC 5425 octet counting, RFC 6587 LF
//!   framing, mixed), incremental and bounded;
//! * [`tail`]: following files across rotation (rename or copy-truncate) and restarts, with
//!   checkpoints that move only past lines the caller has made durable;
//! * [`listen`]: UDP, TCP and TLS syslog listeners feeding a bounded channel (TCP and TLS
//!   stop reading when it is full — backpressure reaches the sender; UDP cannot push back and
//!   counts what it drops).
//!
//! Parsing the messages into events (yagura-formats) and appending them to the write-ahead log
//! (yagura-eventstore) are the caller's: this crate holds no parser and no storage.
//!
//! **Architecture Invariant:** every buffer is bounded: frames by `max_frame`, lines by
//! `max_line`, queues by their capacity. A peer or a file cannot make intake grow without limit.

pub mod framing;
pub mod listen;
pub mod tail;

pub use framing::{Decoder, Frame, FrameError};
pub use listen::{Listener, ListenerConfig, Message, Protocol, Stats};
pub use tail::{Batch, Checkpoint, CheckpointFile, Line, TailError, TailOptions, Tailer};
