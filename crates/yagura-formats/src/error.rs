//! Errors and rejects.

use serde::Serialize;

/// A record that could not be turned into an event, with where it was and why.
///
/// Serialized as one JSON line in `yagura parse --rejects FILE`:
/// `{"file":"moh/proxy/access.log","line":12,"reason":"…","excerpt":"…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reject {
    /// Path of the file as given to the reader (or `-` for a stream).
    pub file: String,
    /// 1-based line number (record number for `.evtx`); 0 for a whole-file problem.
    pub line: u64,
    pub reason: String,
    /// The start of the offending record (at most [`Reject::EXCERPT`] bytes, lossy UTF-8).
    pub excerpt: String,
}

impl Reject {
    pub const EXCERPT: usize = 256;

    pub fn new(file: &str, line: u64, reason: impl Into<String>, raw: &[u8]) -> Reject {
        Reject {
            file: file.to_owned(),
            line,
            reason: reason.into(),
            excerpt: excerpt(raw),
        }
    }
}

impl std::fmt::Display for Reject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.reason)
    }
}

pub(crate) fn excerpt(raw: &[u8]) -> String {
    let mut end = raw.len().min(Reject::EXCERPT);
    // Do not cut a UTF-8 sequence in half when the input is valid.
    while end < raw.len() && end > 0 && (raw.get(end).copied().unwrap_or(0) & 0xC0) == 0x80 {
        end -= 1;
    }
    String::from_utf8_lossy(raw.get(..end).unwrap_or_default()).into_owned()
}

/// A file that cannot be read at all.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("cannot open {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: format not recognized (first bytes: {head:?}); use --format to force one")]
    Unrecognized { path: String, head: String },
    #[error("unknown format name {0:?} (known: {known})", known = crate::Format::NAMES.join(", "))]
    UnknownFormat(String),
}
