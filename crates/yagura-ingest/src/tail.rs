//! Following log files as they grow, across rotation and restarts.
//!
//! A [`Tailer`] reads complete lines from one path. Files are identified by device and inode,
//! not by name, as Filebeat and Fluent Bit do:
//!
//! * **rotation by rename** (`access.log` → `access.log.1`, a new `access.log` created): at the
//!   end of the current file the path is stat'ed; when it names another inode, the old file is
//!   read to its end through the descriptor still open (the writer's last lines are not lost),
//!   then the new file is read from its start;
//! * **copy-truncate** (same inode, now shorter than the position): reading restarts at 0;
//! * **restart**: a [`Checkpoint`] records inode and offset. If the path still names that
//!   inode, reading resumes at the offset; if the file was rotated while yagura was down, the
//!   old inode is looked for among the path's siblings (`access.log.1`, `access.log-20261126`),
//!   drained from the offset, and the new file is read from its start.
//!
//! The checkpoint only moves past lines the caller has taken, and the caller stores it only
//! once those lines are durable (in the write-ahead log), so a crash re-reads at most the lines
//! of the batch in flight; their batch id ([`Batch::id`]) is derived from inode and offsets,
//! which makes the re-delivery idempotent in the log. A line without its final LF is held back
//! until the LF arrives (or the file is rotated away); a line longer than the cap is reported
//! and skipped.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Where reading of one path stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub dev: u64,
    pub ino: u64,
    /// Byte offset just after the last line taken.
    pub offset: u64,
}

/// Errors of the tailer (file system only: content is never an error).
#[derive(Debug, thiserror::Error)]
pub enum TailError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("checkpoint file {path}: {reason}")]
    Checkpoints { path: String, reason: String },
}

/// One line read, or why one could not be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// A complete line, without its LF (and without a CR before it).
    Text(Vec<u8>),
    /// A line longer than the cap, skipped; `len` bytes were dropped.
    TooLong { len: usize, offset: u64 },
}

/// Lines read in one [`Tailer::poll`], and the positions before and after them.
#[derive(Debug, Clone)]
pub struct Batch {
    pub lines: Vec<Line>,
    pub from: Checkpoint,
    pub to: Checkpoint,
}

impl Batch {
    /// A batch id for the write-ahead log that is the same when the same lines are read again
    /// after a crash: path, inode and byte range.
    pub fn id(&self, path: &Path) -> Vec<u8> {
        format!(
            "tail:{}:{}:{}:{}-{}:{}",
            path.display(),
            self.from.dev,
            self.from.ino,
            self.from.offset,
            self.to.ino,
            self.to.offset
        )
        .into_bytes()
    }
}

/// Options of a tailer.
#[derive(Debug, Clone, Copy)]
pub struct TailOptions {
    /// Longest line delivered; longer lines become [`Line::TooLong`].
    pub max_line: usize,
    /// Bytes read per system call.
    pub chunk: usize,
}

impl Default for TailOptions {
    fn default() -> TailOptions {
        TailOptions {
            max_line: 1 << 20,
            chunk: 64 << 10,
        }
    }
}

#[derive(Debug)]
struct Open {
    file: File,
    dev: u64,
    ino: u64,
    /// Offset of the first byte not yet read from the file.
    read_pos: u64,
    /// Offset just after the last complete line delivered (the checkpoint).
    line_pos: u64,
    /// Bytes of an unfinished line (from `line_pos`), at most `max_line`.
    partial: Vec<u8>,
    /// Length of an oversized line being skipped (0 when not skipping).
    skipping: usize,
}

/// Follows one path.
#[derive(Debug)]
pub struct Tailer {
    path: PathBuf,
    opts: TailOptions,
    /// A rotated-away file still to be drained before `current`.
    draining: Option<Open>,
    current: Option<Open>,
}

fn identity(meta: &std::fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (meta.dev(), meta.ino())
}

impl Tailer {
    /// Starts following `path` from `checkpoint` (or from the start of the file when there is
    /// none). A path that does not exist yet is not an error: it is opened when it appears.
    pub fn new(
        path: impl Into<PathBuf>,
        checkpoint: Option<Checkpoint>,
        opts: TailOptions,
    ) -> Result<Tailer, TailError> {
        let mut t = Tailer {
            path: path.into(),
            opts,
            draining: None,
            current: None,
        };
        let Some(cp) = checkpoint else {
            return Ok(t);
        };
        match t.open_path()? {
            Some(mut cur) if (cur.dev, cur.ino) == (cp.dev, cp.ino) => {
                let len = cur.file.metadata().map_err(|e| t.io(e))?.len();
                if len >= cp.offset {
                    cur.read_pos = cp.offset;
                    cur.line_pos = cp.offset;
                }
                t.current = Some(cur);
            }
            other => {
                // Rotated while we were away: finish the old inode if it is still beside us.
                if let Some((file, _)) = t.find_sibling(cp.dev, cp.ino)? {
                    let len = file.metadata().map_err(|e| t.io(e))?.len();
                    let start = if len >= cp.offset { cp.offset } else { 0 };
                    t.draining = Some(Open {
                        file,
                        dev: cp.dev,
                        ino: cp.ino,
                        read_pos: start,
                        line_pos: start,
                        partial: Vec::new(),
                        skipping: 0,
                    });
                }
                t.current = other;
            }
        }
        Ok(t)
    }

    /// The path followed.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn io(&self, e: std::io::Error) -> TailError {
        TailError::Io {
            path: self.path.display().to_string(),
            source: e,
        }
    }

    fn open_path(&self) -> Result<Option<Open>, TailError> {
        match File::open(&self.path) {
            Ok(file) => {
                let (dev, ino) = identity(&file.metadata().map_err(|e| self.io(e))?);
                Ok(Some(Open {
                    file,
                    dev,
                    ino,
                    read_pos: 0,
                    line_pos: 0,
                    partial: Vec::new(),
                    skipping: 0,
                }))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(self.io(e)),
        }
    }

    /// A file beside the path (same directory, name starting with the path's file name) with
    /// this identity.
    fn find_sibling(&self, dev: u64, ino: u64) -> Result<Option<(File, PathBuf)>, TailError> {
        let (Some(dir), Some(name)) = (self.path.parent(), self.path.file_name()) else {
            return Ok(None);
        };
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        let name = name.to_string_lossy();
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.io(e)),
        };
        for entry in entries.flatten() {
            let p = entry.path();
            if p == self.path || !entry.file_name().to_string_lossy().starts_with(&*name) {
                continue;
            }
            if let Ok(meta) = std::fs::metadata(&p)
                && identity(&meta) == (dev, ino)
                && let Ok(f) = File::open(&p)
            {
                return Ok(Some((f, p)));
            }
        }
        Ok(None)
    }

    /// The position after the last line returned (what to store once those lines are durable).
    pub fn checkpoint(&self) -> Option<Checkpoint> {
        let o = self.draining.as_ref().or(self.current.as_ref())?;
        Some(Checkpoint {
            dev: o.dev,
            ino: o.ino,
            offset: o.line_pos,
        })
    }

    /// Reads what has been appended since the last poll, at most `max_lines` lines; an empty
    /// batch means nothing new (poll again later).
    pub fn poll(&mut self, max_lines: usize) -> Result<Batch, TailError> {
        let from = self.checkpoint().unwrap_or(Checkpoint {
            dev: 0,
            ino: 0,
            offset: 0,
        });
        let mut lines = Vec::new();
        let opts = self.opts;
        // First the rotated-away file, to its very end (its last line needs no LF).
        if let Some(old) = self.draining.as_mut() {
            let eof = read_lines(old, &opts, max_lines, &mut lines).map_err(|e| TailError::Io {
                path: self.path.display().to_string(),
                source: e,
            })?;
            if !eof {
                return Ok(self.batch(from, lines));
            }
            flush_partial(old, &mut lines);
            self.draining = None;
        }
        if self.current.is_none() {
            self.current = self.open_path()?;
        }
        while let Some(cur) = self.current.as_mut() {
            let room = max_lines.saturating_sub(lines.len());
            let eof = read_lines(cur, &opts, room, &mut lines).map_err(|e| TailError::Io {
                path: self.path.display().to_string(),
                source: e,
            })?;
            if !eof {
                break;
            }
            // At the end: has the path moved on to another file, or been truncated?
            let now = match std::fs::metadata(&self.path) {
                Ok(m) => Some((identity(&m), m.len())),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) => return Err(self.io(e)),
            };
            let Some(cur) = self.current.as_mut() else {
                break;
            };
            match now {
                Some((id, _)) if id != (cur.dev, cur.ino) => {
                    // Rotated: whatever the writer added before the rename was read above
                    // (same descriptor, read to EOF); an unterminated last line is complete.
                    flush_partial(cur, &mut lines);
                    self.current = self.open_path()?;
                    if lines.len() >= max_lines {
                        break;
                    }
                }
                Some((_, len)) if len < cur.read_pos => {
                    // Truncated in place (copytruncate): start over.
                    cur.read_pos = 0;
                    cur.line_pos = 0;
                    cur.partial.clear();
                    cur.skipping = 0;
                }
                _ => break,
            }
        }
        Ok(self.batch(from, lines))
    }

    fn batch(&self, from: Checkpoint, lines: Vec<Line>) -> Batch {
        Batch {
            lines,
            from,
            to: self.checkpoint().unwrap_or(from),
        }
    }
}

/// Reads complete lines into `out` until `max` lines or the end of the file; returns whether
/// the end was reached.
fn read_lines(
    o: &mut Open,
    opts: &TailOptions,
    max: usize,
    out: &mut Vec<Line>,
) -> std::io::Result<bool> {
    let mut taken = 0;
    let mut buf = vec![0u8; opts.chunk.max(1)];
    while taken < max {
        o.file.seek(SeekFrom::Start(o.read_pos))?;
        let n = o.file.read(&mut buf)?;
        if n == 0 {
            return Ok(true);
        }
        let data = buf.get(..n).unwrap_or_default();
        let mut start = 0;
        let mut consumed = 0;
        while taken < max {
            let Some(rel) = memchr::memchr(b'\n', data.get(start..).unwrap_or_default()) else {
                break;
            };
            let end = start + rel;
            let piece = data.get(start..end).unwrap_or_default();
            let line_len = o.partial.len() + o.skipping + piece.len();
            if o.skipping > 0 || line_len > opts.max_line {
                out.push(Line::TooLong {
                    len: line_len,
                    offset: o.line_pos,
                });
            } else {
                let mut line = std::mem::take(&mut o.partial);
                line.extend_from_slice(piece);
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                out.push(Line::Text(line));
            }
            o.partial.clear();
            o.skipping = 0;
            taken += 1;
            start = end + 1;
            consumed = start;
            o.line_pos = o.read_pos + consumed as u64;
        }
        if taken >= max {
            o.read_pos += consumed as u64;
            return Ok(false);
        }
        // The rest of the chunk is an unfinished line.
        let rest = data.get(start..).unwrap_or_default();
        if o.skipping > 0 || o.partial.len() + rest.len() > opts.max_line {
            o.skipping += o.partial.len() + rest.len();
            o.partial.clear();
        } else {
            o.partial.extend_from_slice(rest);
        }
        o.read_pos += n as u64;
    }
    Ok(false)
}

/// A file that will not grow any more: its unterminated last line is a line.
fn flush_partial(o: &mut Open, out: &mut Vec<Line>) {
    if o.skipping > 0 {
        out.push(Line::TooLong {
            len: o.skipping,
            offset: o.line_pos,
        });
    } else if !o.partial.is_empty() {
        let mut line = std::mem::take(&mut o.partial);
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        out.push(Line::Text(line));
    }
    o.skipping = 0;
    o.partial.clear();
    o.line_pos = o.read_pos;
}

/// Checkpoints of many paths in one JSON file, replaced atomically (write, fsync, rename,
/// fsync the directory), so a crash leaves either the old or the new set.
#[derive(Debug)]
pub struct CheckpointFile {
    path: PathBuf,
}

impl CheckpointFile {
    pub fn new(path: impl Into<PathBuf>) -> CheckpointFile {
        CheckpointFile { path: path.into() }
    }

    fn err(&self, reason: impl std::fmt::Display) -> TailError {
        TailError::Checkpoints {
            path: self.path.display().to_string(),
            reason: reason.to_string(),
        }
    }

    /// The stored checkpoints (none when the file does not exist yet).
    pub fn load(&self) -> Result<std::collections::BTreeMap<String, Checkpoint>, TailError> {
        match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| self.err(e)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Default::default()),
            Err(e) => Err(self.err(e)),
        }
    }

    /// Replaces the stored checkpoints.
    pub fn store(
        &self,
        checkpoints: &std::collections::BTreeMap<String, Checkpoint>,
    ) -> Result<(), TailError> {
        use std::io::Write;
        let dir = match self.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let tmp = self.path.with_extension("tmp");
        let bytes = serde_json::to_vec_pretty(checkpoints).map_err(|e| self.err(e))?;
        let mut f = File::create(&tmp).map_err(|e| self.err(e))?;
        f.write_all(&bytes).map_err(|e| self.err(e))?;
        f.sync_all().map_err(|e| self.err(e))?;
        std::fs::rename(&tmp, &self.path).map_err(|e| self.err(e))?;
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| self.err(e))?;
        Ok(())
    }
}
