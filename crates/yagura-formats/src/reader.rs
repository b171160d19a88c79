//! [`FileReader`]: one file (or stream) in, `Result<Event, Reject>` out, in order.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Cursor, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use yagura_model::{Event, OrgId, Str};

use crate::detect::{Format, detect};
use crate::error::{OpenError, Reject};
use crate::formats::{self, LineParser, ParseCtx, Step};
use crate::input::{Line, LineReader, decompress, read_capped};

/// How to read.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// Force a format (`--format`); otherwise detected per file.
    pub format: Option<Format>,
    /// `organization.id` for every event; wins over `root`.
    pub org: Option<OrgId>,
    /// The telemetry root: files under `ROOT/<org-id>/` get that org.
    pub root: Option<PathBuf>,
    /// Cap on one decompressed line (an over-long line becomes a reject).
    pub max_line: usize,
    /// Cap on a decompressed `.evtx` file (read into memory).
    pub max_evtx: u64,
    /// Year for syslog RFC 3164 stamps, which have none. Default: the year of the file's
    /// modification time (events more than a month after it are put in the year before).
    pub syslog_reference: Option<yagura_model::Timestamp>,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            format: None,
            org: None,
            root: None,
            max_line: crate::DEFAULT_MAX_LINE,
            max_evtx: crate::DEFAULT_MAX_EVTX,
            syslog_reference: None,
        }
    }
}

impl ReadOptions {
    pub fn with_root(mut self, root: impl Into<PathBuf>) -> Self {
        self.root = Some(root.into());
        self
    }
    pub fn with_org(mut self, org: OrgId) -> Self {
        self.org = Some(org);
        self
    }
    pub fn with_format(mut self, f: Format) -> Self {
        self.format = Some(f);
        self
    }
}

const HEAD: usize = 16 * 1024;

/// Reads one file: detection, decompression, parsing, provenance and tenancy.
///
/// Iterating yields every record of the file exactly once, as an event or as a reject.
pub struct FileReader {
    label: String,
    label_str: Str,
    org: Option<OrgId>,
    format: Format,
    inner: Inner,
    queue: VecDeque<Result<Event, Reject>>,
    /// A reject to report once the records are exhausted (a read error met early).
    tail: Option<Reject>,
    /// `log.file.path` of the event [`FileReader::next_into`] last filled, reused for the
    /// next one: a label longer than 24 bytes lives on the heap, so a clone per event would be
    /// an allocation per event.
    spare_path: Option<Str>,
}

impl std::fmt::Debug for FileReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileReader")
            .field("file", &self.label)
            .field("format", &self.format)
            .finish_non_exhaustive()
    }
}

enum Inner {
    Lines {
        lines: LineReader<Box<dyn BufRead + Send>>,
        parser: Box<dyn LineParser + Send>,
    },
    Evtx {
        chunks: Box<evtx::IntoIterChunks<Cursor<Vec<u8>>>>,
        settings: Arc<evtx::ParserSettings>,
        chunk_no: u64,
        declared: u64,
    },
    Done,
}

impl FileReader {
    /// Opens `path`. The org comes from `opts.org`, else from `ROOT/<org>/…` when `opts.root`
    /// is set.
    pub fn open(path: impl AsRef<Path>, opts: &ReadOptions) -> Result<FileReader, OpenError> {
        let path = path.as_ref();
        let io_err = |source| OpenError::Io {
            path: path.display().to_string(),
            source,
        };
        let file = File::open(path).map_err(io_err)?;
        let mut opts = opts.clone();
        if opts.syslog_reference.is_none() {
            opts.syslog_reference =
                file.metadata().and_then(|m| m.modified()).ok().map(|t| {
                    yagura_model::Timestamp::from(chrono::DateTime::<chrono::Utc>::from(t))
                });
        }
        if opts.org.is_none()
            && let Some(root) = &opts.root
        {
            opts.org = crate::org_from_path(root, path);
        }
        let label = match &opts.root {
            Some(root) => path.strip_prefix(root).unwrap_or(path),
            None => path,
        };
        FileReader::from_reader(
            BufReader::with_capacity(1 << 16, file),
            &label.display().to_string(),
            &opts,
        )
    }

    /// Reads any stream (stdin, a network body, a test buffer); `label` is its name in
    /// `log.file.path` and in rejects.
    pub fn from_reader(
        inner: impl BufRead + Send + 'static,
        label: &str,
        opts: &ReadOptions,
    ) -> Result<FileReader, OpenError> {
        let io_err = |source| OpenError::Io {
            path: label.to_owned(),
            source,
        };
        let mut dec = decompress(inner).map_err(io_err)?;
        let mut head = Vec::with_capacity(HEAD);
        // A stream that breaks within its first bytes (a truncated .gz): keep what was read,
        // report the error as a reject after it.
        let mut head_error = None;
        if let Err(e) = (&mut dec).take(HEAD as u64).read_to_end(&mut head) {
            if head.is_empty() {
                return Err(io_err(e));
            }
            head_error = Some(format!("read error (truncated or corrupt input?): {e}"));
            dec = Box::new(io::empty());
        }
        let format = match opts.format {
            Some(f) => f,
            None => detect(&head).ok_or_else(|| OpenError::Unrecognized {
                path: label.to_owned(),
                head: crate::error::excerpt(head.get(..80).unwrap_or(&head)),
            })?,
        };
        let stream: Box<dyn BufRead + Send> = Box::new(BufReader::with_capacity(
            1 << 16,
            Cursor::new(head).chain(dec),
        ));
        let mut reader = FileReader {
            label: label.to_owned(),
            label_str: Str::from(label),
            org: opts.org.clone(),
            format,
            inner: Inner::Done,
            queue: VecDeque::new(),
            tail: head_error.map(|e| Reject::new(label, 0, e, b"")),
            spare_path: None,
        };
        reader.inner = if format == Format::Evtx {
            match read_capped(stream, opts.max_evtx)
                .map_err(|e| e.to_string())
                .and_then(|buf| {
                    evtx::EvtxParser::from_buffer(buf)
                        .map_err(|e| format!("not a valid .evtx: {e}"))
                }) {
                Ok(p) => Inner::Evtx {
                    declared: u64::from(p.header().chunk_count),
                    chunks: Box::new(p.into_chunks()),
                    settings: Arc::new(
                        evtx::ParserSettings::new()
                            .num_threads(1)
                            .separate_json_attributes(false),
                    ),
                    chunk_no: 0,
                },
                Err(reason) => {
                    reader
                        .queue
                        .push_back(Err(Reject::new(label, 0, reason, b"")));
                    Inner::Done
                }
            }
        } else {
            let ctx = ParseCtx {
                file_name: Path::new(label)
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or("")
                    .to_owned(),
                syslog_reference: opts.syslog_reference,
            };
            Inner::Lines {
                lines: LineReader::new(stream, opts.max_line),
                parser: formats::parser_for(format, ctx),
            }
        };
        Ok(reader)
    }

    /// The format in use (detected or forced).
    pub fn format(&self) -> Format {
        self.format
    }

    /// The name used in `log.file.path` and rejects.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Reads on until something is ready: an event built in `out` ([`Fill::Out`]), or records
    /// in the queue ([`Fill::Queued`]), or the end ([`Fill::End`]).
    fn fill(&mut self, out: &mut Event) -> Fill {
        loop {
            match &mut self.inner {
                Inner::Done => return Fill::End,
                Inner::Lines { lines, parser } => {
                    let sink = Sink {
                        label: &self.label,
                        label_str: &self.label_str,
                        org: &self.org,
                        queue: &mut self.queue,
                    };
                    let next_no = lines.line_no() + 1;
                    match lines.next_line() {
                        Ok(Some(Line::Text(raw))) => {
                            let no = next_no;
                            let (text, lossy) = crate::util::text(raw);
                            let step = match parser.parse_into(&text, no, out) {
                                Step::Filled => {
                                    if lossy {
                                        out.tags.push(Str::from("invalid_utf8"));
                                    }
                                    let spare = self.spare_path.take();
                                    stamp(out, &self.org, &self.label_str, no, spare);
                                    return Fill::Out;
                                }
                                Step::Event(mut e) if lossy => {
                                    e.tags.push(Str::from("invalid_utf8"));
                                    Step::Event(e)
                                }
                                s => s,
                            };
                            if sink.push(no, step, raw) {
                                return Fill::Queued;
                            }
                        }
                        Ok(Some(Line::TooLong { head, len })) => {
                            let no = next_no;
                            let reason = format!("line of {len} bytes exceeds the cap");
                            sink.push(no, Step::Reject(reason), head);
                            return Fill::Queued;
                        }
                        Ok(None) => {
                            let mut sink = sink;
                            for (no, step) in parser.finish() {
                                sink.push_mut(no, step, b"");
                            }
                            self.inner = Inner::Done;
                            return if self.queue.is_empty() {
                                Fill::End
                            } else {
                                Fill::Queued
                            };
                        }
                        Err(e) => {
                            let no = next_no;
                            let reason = format!("read error (truncated or corrupt input?): {e}");
                            let mut sink = sink;
                            for (no, step) in parser.finish() {
                                sink.push_mut(no, step, b"");
                            }
                            sink.push_mut(no, Step::Reject(reason), b"");
                            self.inner = Inner::Done;
                            return Fill::Queued;
                        }
                    }
                }
                Inner::Evtx {
                    chunks,
                    settings,
                    chunk_no,
                    declared,
                } => {
                    *chunk_no += 1;
                    let Some(chunk) = chunks.next() else {
                        let seen = *chunk_no - 1;
                        let declared = *declared;
                        self.inner = Inner::Done;
                        if seen < declared {
                            let reason = format!(
                                "truncated .evtx: the header declares {declared} chunks, {seen} present"
                            );
                            self.queue
                                .push_back(Err(Reject::new(&self.label, 0, reason, b"")));
                            return Fill::Queued;
                        }
                        return Fill::End;
                    };
                    let cno = *chunk_no;
                    let settings = settings.clone();
                    let mut out = Vec::new();
                    match chunk {
                        Err(e) => out.push(Err(format!("evtx chunk {cno}: {e}"))),
                        Ok(mut data) => match data.parse(settings) {
                            Err(e) => out.push(Err(format!("evtx chunk {cno}: {e}"))),
                            Ok(mut chunk) => {
                                for rec in chunk.iter() {
                                    out.push(
                                        rec.and_then(|r| r.into_json_value())
                                            .map_err(|e| format!("evtx record: {e}"))
                                            .and_then(|r| {
                                                formats::windows::from_evtx_value(&r.data)
                                                    .map(|ev| (r.event_record_id, ev))
                                            }),
                                    );
                                }
                            }
                        },
                    }
                    let mut last = 0;
                    for r in out {
                        match r {
                            Ok((rid, mut ev)) => {
                                last = rid;
                                stamp(&mut ev, &self.org, &self.label_str, rid, None);
                                self.queue.push_back(Ok(ev));
                            }
                            Err(reason) => self.queue.push_back(Err(Reject::new(
                                &self.label,
                                last + 1,
                                reason,
                                b"",
                            ))),
                        }
                    }
                    if !self.queue.is_empty() {
                        return Fill::Queued;
                    }
                }
            }
        }
    }
}

impl FileReader {
    /// The next record, read into `out`: `Some(Ok(()))` when `out` holds the next event,
    /// `Some(Err(reject))` for a reject, `None` at the end. The same records, in the same
    /// order, as the [`Iterator`] API.
    ///
    /// Whatever `out` held is replaced ([`Event::reset`]): a caller that reads a file into
    /// one `Event` (and clones or serializes what it keeps) saves building, moving and
    /// dropping a ~2 KiB event per record and reuses its list buffers. On a reject, `out`
    /// holds no meaningful event.
    pub fn next_into(&mut self, out: &mut Event) -> Option<Result<(), Reject>> {
        if let Some(r) = self.queue.pop_front() {
            return Some(r.map(|ev| *out = ev));
        }
        // Only a label on the heap is worth keeping: an inline one is copied for less than
        // the comparison costs.
        if self.label_str.is_heap_allocated()
            && let Some(p) = out.log.file.path.take()
            && p == self.label_str
        {
            self.spare_path = Some(p);
        }
        if let Inner::Lines { parser, .. } = &mut self.inner {
            parser.recycle(out);
        }
        out.reset();
        match self.fill(out) {
            Fill::Out => Some(Ok(())),
            Fill::Queued => self.queue.pop_front().map(|r| r.map(|ev| *out = ev)),
            Fill::End => self.tail.take().map(Err),
        }
    }
}

/// What [`FileReader::fill`] produced.
enum Fill {
    /// An event, built in the caller's `out`.
    Out,
    /// Records (events or rejects) in the queue.
    Queued,
    End,
}

struct Sink<'a> {
    label: &'a str,
    label_str: &'a Str,
    org: &'a Option<OrgId>,
    queue: &'a mut VecDeque<Result<Event, Reject>>,
}

impl Sink<'_> {
    fn push(mut self, no: u64, step: Step, raw: &[u8]) -> bool {
        self.push_mut(no, step, raw)
    }

    /// Queues a step; true when something was queued.
    fn push_mut(&mut self, no: u64, step: Step, raw: &[u8]) -> bool {
        match step {
            // `Filled` never reaches the sink: `fill` hands such events out directly.
            Step::Skip | Step::Filled => false,
            Step::Event(mut ev) => {
                stamp(&mut ev, self.org, self.label_str, no, None);
                self.queue.push_back(Ok(ev));
                true
            }
            Step::Reject(reason) => {
                self.queue
                    .push_back(Err(Reject::new(self.label, no, reason, raw)));
                true
            }
        }
    }
}

/// Provenance and tenancy; `path` is `label` already allocated (see `spare_path`), if any.
fn stamp(ev: &mut Event, org: &Option<OrgId>, label: &Str, line: u64, path: Option<Str>) {
    if org.is_some() {
        ev.organization.id.clone_from(org);
    }
    ev.log.file.path = Some(path.unwrap_or_else(|| label.clone()));
    ev.log.file.line.get_or_insert(line);
}

impl Iterator for FileReader {
    type Item = Result<Event, Reject>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(r) = self.queue.pop_front() {
            return Some(r);
        }
        // The event is built in place by the parser, in the value this function returns (one
        // variable returned on every path, so the compiler can place it in the caller's slot).
        let mut out = Some(Ok(Event::default()));
        let fill = match &mut out {
            Some(Ok(ev)) => self.fill(ev),
            _ => Fill::End,
        };
        match fill {
            Fill::Out => {}
            Fill::Queued => out = self.queue.pop_front(),
            Fill::End => out = self.tail.take().map(Err),
        }
        out
    }
}

/// Reads a whole in-memory buffer (tests, fuzzing, HTTP push bodies).
pub fn read_bytes(
    bytes: &[u8],
    label: &str,
    opts: &ReadOptions,
) -> Result<Vec<Result<Event, Reject>>, OpenError> {
    let r = FileReader::from_reader(Cursor::new(bytes.to_vec()), label, opts)?;
    Ok(r.collect())
}

#[allow(dead_code)]
fn _assert_send() {
    fn is_send<T: Send>() {}
    is_send::<FileReader>();
    let _ = io::empty();
}
