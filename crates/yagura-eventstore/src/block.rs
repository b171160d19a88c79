//! The columnar event block of a format 4 split (`events.blk`): the stored events of the split,
//! addressed by row (= the tantivy document id), one column per flattened JSON key path.
//!
//! Each event's JSON (compact, as the store serializes it) is split into a *shape* and its
//! leaf values. The shape is the event's skeleton — objects, arrays, keys, and per leaf its kind
//! (string, number, `true`, `false`, `null`) and its column (the key path from the root, array
//! elements marked) — and is interned per block: the events of one dataset share a handful of
//! shapes. Leaf values are kept as their exact JSON text (strings without their quotes, escapes
//! as written; numbers as written), one per line in their column, so decoding writes the same
//! bytes back: the round trip is byte for byte for any compact JSON. Text that is not strictly
//! compact JSON (whitespace between tokens, a control character in a string) is stored whole
//! in a `verbatim` column instead, length-prefixed.
//!
//! Rows are cut into chunks of `chunk_rows`; each chunk stores the shape id of each row (varints)
//! and each column it uses as its own zstd frame (with a checksum). Reading rows decompresses,
//! once per chunk holding any of them, the chunk's shape frame and the columns their shapes use
//! in that chunk (nothing else), and locates only the values up to the last one they need.
//! The zstd level may differ per frame (the reader does not need to know it).
//!
//! File layout: `"YGEB" version:u8 0 0 0`, the chunks' frames, the footer (zstd: keys, column
//! paths, shapes, per chunk its rows and frame lengths), then a trailer of 24 bytes: footer
//! offset (u64 LE), footer length (u32), footer raw length (u32), CRC-32 of the compressed
//! footer (u32), `"YGEB"`. Decoding validates every length, id and count against the file and
//! returns [`BlockError`] on anything inconsistent; it never panics on a corrupt file.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// File name of the block in a format 4 split directory.
pub const FILE_NAME: &str = "events.blk";
const MAGIC: &[u8; 4] = b"YGEB";
const VERSION: u8 = 1;
const HEADER: usize = 8;
const TRAILER: usize = 24;
/// Upper bound of one decompressed frame (a corrupt length must not allocate without bound).
const MAX_FRAME: usize = 64 << 20;
/// Upper bound of the rows of one chunk.
const MAX_CHUNK_ROWS: u32 = 1 << 20;
/// Path of the column of rows stored whole.
const VERBATIM: &[u8] = b"\x02";

// Shape tokens.
const T_OBJ: u8 = 1;
const T_OBJ_END: u8 = 2;
const T_ARR: u8 = 3;
const T_ARR_END: u8 = 4;
const T_KEY: u8 = 5;
const T_STR: u8 = 6;
const T_NUM: u8 = 7;
const T_TRUE: u8 = 8;
const T_FALSE: u8 = 9;
const T_NULL: u8 = 10;
const T_VERBATIM: u8 = 11;

/// Errors of reading a block.
#[derive(Debug, thiserror::Error)]
pub enum BlockError {
    #[error("event block {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("event block {path}: corrupt: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    #[error("event block {path}: row {row} out of range ({rows} rows)")]
    NoRow { path: PathBuf, row: u64, rows: u64 },
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Writes a block: [`BlockWriter::push`] each event's JSON in row order, then
/// [`BlockWriter::finish`].
pub struct BlockWriter {
    chunk_rows: usize,
    zstd: zstd::bulk::Compressor<'static>,
    keys: Vec<Vec<u8>>,
    key_ids: HashMap<Vec<u8>, u32>,
    cols: Vec<Vec<u8>>,
    col_ids: HashMap<Vec<u8>, u32>,
    shapes: Vec<Vec<u8>>,
    shape_ids: HashMap<Vec<u8>, u32>,
    num_rows: u64,
    // The chunk being filled.
    rows: u32,
    shape_col: Vec<u8>,
    data: Vec<Vec<u8>>,
    counts: Vec<u32>,
    used: Vec<u32>,
    // Written so far: header, chunk frames; then the footer's chunk part.
    out: Vec<u8>,
    chunk_meta: Vec<u8>,
    num_chunks: u64,
    // Scratch of one row.
    path: Vec<u8>,
    shape: Vec<u8>,
    leaves: Vec<(u32, usize, usize)>,
    /// Measurement aid ([`BlockWriter::keep_raw_frames`]): every column frame before
    /// compression, by column id.
    raw_frames: Option<Vec<Vec<Vec<u8>>>>,
}

/// The uncompressed frames of one column of a block, as a measurement aid.
#[derive(Debug, Clone)]
pub struct RawColumn {
    /// The column's key path, readable (`source.ip`; `[]` marks an array element).
    pub path: String,
    /// Its frame of each chunk that uses it.
    pub frames: Vec<Vec<u8>>,
}

impl std::fmt::Debug for BlockWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockWriter")
            .field("num_rows", &self.num_rows)
            .finish_non_exhaustive()
    }
}

struct NotCompact;

impl BlockWriter {
    /// A writer compressing each column of each chunk of `chunk_rows` rows with zstd `level`.
    pub fn new(level: i32, chunk_rows: usize) -> std::io::Result<BlockWriter> {
        let mut zstd = zstd::bulk::Compressor::new(level)?;
        zstd.set_parameter(zstd::stream::raw::CParameter::ChecksumFlag(true))?;
        let mut out = Vec::with_capacity(1 << 20);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&[VERSION, 0, 0, 0]);
        Ok(BlockWriter {
            chunk_rows: chunk_rows.clamp(1, MAX_CHUNK_ROWS as usize),
            zstd,
            keys: Vec::new(),
            key_ids: HashMap::new(),
            cols: Vec::new(),
            col_ids: HashMap::new(),
            shapes: Vec::new(),
            shape_ids: HashMap::new(),
            num_rows: 0,
            rows: 0,
            shape_col: Vec::new(),
            data: Vec::new(),
            counts: Vec::new(),
            used: Vec::new(),
            out,
            chunk_meta: Vec::new(),
            num_chunks: 0,
            path: Vec::new(),
            shape: Vec::new(),
            leaves: Vec::new(),
            raw_frames: None,
        })
    }

    /// Keeps a copy of every column frame before compression (to compare codecs per column
    /// on real data, `examples/block_forms.rs`); read them with [`BlockWriter::finish_raw`].
    pub fn keep_raw_frames(&mut self) {
        self.raw_frames = Some(Vec::new());
    }

    /// The block, and the uncompressed frames of each column if
    /// [`BlockWriter::keep_raw_frames`] was called (else none).
    pub fn finish_raw(mut self) -> std::io::Result<(Vec<u8>, Vec<RawColumn>)> {
        self.flush_chunk()?;
        let frames = self.raw_frames.take().unwrap_or_default();
        let cols: Vec<RawColumn> = frames
            .into_iter()
            .enumerate()
            .filter(|(_, f)| !f.is_empty())
            .map(|(c, frames)| RawColumn {
                path: readable_path(&self.cols[c]),
                frames,
            })
            .collect();
        Ok((self.finish()?, cols))
    }

    fn col_id(&mut self, path: &[u8]) -> u32 {
        if let Some(&c) = self.col_ids.get(path) {
            return c;
        }
        let c = self.cols.len() as u32;
        self.cols.push(path.to_vec());
        self.col_ids.insert(path.to_vec(), c);
        self.data.push(Vec::new());
        self.counts.push(0);
        c
    }

    fn key_id(&mut self, key: &[u8]) -> u32 {
        if let Some(&k) = self.key_ids.get(key) {
            return k;
        }
        let k = self.keys.len() as u32;
        self.keys.push(key.to_vec());
        self.key_ids.insert(key.to_vec(), k);
        k
    }

    /// Appends one event's JSON as the next row.
    pub fn push(&mut self, json: &str) -> std::io::Result<()> {
        self.shape.clear();
        self.path.clear();
        self.leaves.clear();
        let s = json.as_bytes();
        let mut i = 0;
        let compact = self.value(s, &mut i).is_ok() && i == s.len();
        if compact {
            for j in 0..self.leaves.len() {
                let (c, a, b) = self.leaves[j];
                let c = c as usize;
                if self.counts[c] == 0 {
                    self.used.push(c as u32);
                }
                self.counts[c] += 1;
                self.data[c].extend_from_slice(&s[a..b]);
                self.data[c].push(b'\n');
            }
        } else {
            let c = self.col_id(VERBATIM);
            self.shape.clear();
            self.shape.push(T_VERBATIM);
            put_varint(&mut self.shape, u64::from(c));
            let c = c as usize;
            if self.counts[c] == 0 {
                self.used.push(c as u32);
            }
            self.counts[c] += 1;
            put_varint(&mut self.data[c], s.len() as u64);
            self.data[c].extend_from_slice(s);
        }
        let id = match self.shape_ids.get(&self.shape) {
            Some(&id) => id,
            None => {
                let id = self.shapes.len() as u32;
                self.shapes.push(self.shape.clone());
                self.shape_ids.insert(self.shape.clone(), id);
                id
            }
        };
        put_varint(&mut self.shape_col, u64::from(id));
        self.rows += 1;
        self.num_rows += 1;
        // A chunk ends at `chunk_rows` rows, or earlier when a column grows past half the
        // largest frame a reader accepts.
        let big = self
            .used
            .iter()
            .any(|&c| self.data[c as usize].len() > MAX_FRAME / 2);
        if self.rows as usize >= self.chunk_rows || big {
            self.flush_chunk()?;
        }
        Ok(())
    }

    /// Parses one strictly compact JSON value at `*i`, recording its shape and leaves.
    fn value(&mut self, s: &[u8], i: &mut usize) -> Result<(), NotCompact> {
        match s.get(*i).copied().ok_or(NotCompact)? {
            b'{' => {
                *i += 1;
                self.shape.push(T_OBJ);
                if s.get(*i) == Some(&b'}') {
                    *i += 1;
                    self.shape.push(T_OBJ_END);
                    return Ok(());
                }
                loop {
                    if s.get(*i) != Some(&b'"') {
                        return Err(NotCompact);
                    }
                    *i += 1;
                    let (a, b) = string_body(s, i)?;
                    let k = self.key_id(&s[a..b]);
                    self.shape.push(T_KEY);
                    put_varint(&mut self.shape, u64::from(k));
                    if s.get(*i) != Some(&b':') {
                        return Err(NotCompact);
                    }
                    *i += 1;
                    let depth = self.path.len();
                    self.path.push(0);
                    self.path.extend_from_slice(&s[a..b]);
                    self.value(s, i)?;
                    self.path.truncate(depth);
                    match s.get(*i) {
                        Some(b',') => *i += 1,
                        Some(b'}') => {
                            *i += 1;
                            self.shape.push(T_OBJ_END);
                            return Ok(());
                        }
                        _ => return Err(NotCompact),
                    }
                }
            }
            b'[' => {
                *i += 1;
                self.shape.push(T_ARR);
                if s.get(*i) == Some(&b']') {
                    *i += 1;
                    self.shape.push(T_ARR_END);
                    return Ok(());
                }
                let depth = self.path.len();
                self.path.push(1);
                loop {
                    self.value(s, i)?;
                    match s.get(*i) {
                        Some(b',') => *i += 1,
                        Some(b']') => {
                            *i += 1;
                            self.shape.push(T_ARR_END);
                            self.path.truncate(depth);
                            return Ok(());
                        }
                        _ => return Err(NotCompact),
                    }
                }
            }
            b'"' => {
                *i += 1;
                let (a, b) = string_body(s, i)?;
                let path = std::mem::take(&mut self.path);
                let c = self.col_id(&path);
                self.path = path;
                self.shape.push(T_STR);
                put_varint(&mut self.shape, u64::from(c));
                self.leaves.push((c, a, b));
                Ok(())
            }
            b'-' | b'0'..=b'9' => {
                let a = *i;
                while s
                    .get(*i)
                    .is_some_and(|b| matches!(b, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'))
                {
                    *i += 1;
                }
                let path = std::mem::take(&mut self.path);
                let c = self.col_id(&path);
                self.path = path;
                self.shape.push(T_NUM);
                put_varint(&mut self.shape, u64::from(c));
                self.leaves.push((c, a, *i));
                Ok(())
            }
            b't' => literal(s, i, b"true").map(|()| self.shape.push(T_TRUE)),
            b'f' => literal(s, i, b"false").map(|()| self.shape.push(T_FALSE)),
            b'n' => literal(s, i, b"null").map(|()| self.shape.push(T_NULL)),
            _ => Err(NotCompact),
        }
    }

    fn flush_chunk(&mut self) -> std::io::Result<()> {
        if self.rows == 0 {
            return Ok(());
        }
        let offset = self.out.len() as u64;
        let shape = self.zstd.compress(&self.shape_col)?;
        self.out.extend_from_slice(&shape);
        put_varint(&mut self.chunk_meta, u64::from(self.rows));
        put_varint(&mut self.chunk_meta, offset);
        put_varint(&mut self.chunk_meta, shape.len() as u64);
        put_varint(&mut self.chunk_meta, self.shape_col.len() as u64);
        self.used.sort_unstable();
        put_varint(&mut self.chunk_meta, self.used.len() as u64);
        for &c in &self.used {
            let c = c as usize;
            if let Some(raw) = self.raw_frames.as_mut() {
                if raw.len() <= c {
                    raw.resize_with(c + 1, Vec::new);
                }
                raw[c].push(self.data[c].clone());
            }
            let frame = self.zstd.compress(&self.data[c])?;
            self.out.extend_from_slice(&frame);
            put_varint(&mut self.chunk_meta, c as u64);
            put_varint(&mut self.chunk_meta, u64::from(self.counts[c]));
            put_varint(&mut self.chunk_meta, frame.len() as u64);
            put_varint(&mut self.chunk_meta, self.data[c].len() as u64);
            self.data[c].clear();
            self.counts[c] = 0;
        }
        self.used.clear();
        self.shape_col.clear();
        self.rows = 0;
        self.num_chunks += 1;
        Ok(())
    }

    /// Number of rows pushed.
    pub fn rows(&self) -> u64 {
        self.num_rows
    }

    /// The whole block file.
    pub fn finish(mut self) -> std::io::Result<Vec<u8>> {
        self.flush_chunk()?;
        let mut f = Vec::new();
        put_varint(&mut f, self.num_rows);
        for list in [&self.keys, &self.cols, &self.shapes] {
            put_varint(&mut f, list.len() as u64);
            for k in list {
                put_varint(&mut f, k.len() as u64);
                f.extend_from_slice(k);
            }
        }
        put_varint(&mut f, self.num_chunks);
        f.extend_from_slice(&self.chunk_meta);
        let footer = self.zstd.compress(&f)?;
        let at = self.out.len() as u64;
        self.out.extend_from_slice(&footer);
        self.out.extend_from_slice(&at.to_le_bytes());
        self.out
            .extend_from_slice(&(footer.len() as u32).to_le_bytes());
        self.out.extend_from_slice(&(f.len() as u32).to_le_bytes());
        self.out
            .extend_from_slice(&crc32fast::hash(&footer).to_le_bytes());
        self.out.extend_from_slice(MAGIC);
        Ok(self.out)
    }

    /// Writes the block to `path` and fsyncs it (the caller syncs the directory).
    pub fn write_to(self, path: &Path) -> std::io::Result<u64> {
        let bytes = self.finish()?;
        let mut f = std::fs::File::create(path)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
        Ok(bytes.len() as u64)
    }
}

/// A column path as text: keys joined by `.`, an array element as `[]`.
fn readable_path(path: &[u8]) -> String {
    if path == VERBATIM {
        return "(verbatim)".into();
    }
    let mut out = String::new();
    for part in path.split(|&b| b == 0).skip(1) {
        if !out.is_empty() {
            out.push('.');
        }
        let key: Vec<u8> = part.iter().copied().filter(|&b| b != 1).collect();
        out.push_str(&String::from_utf8_lossy(&key));
        for _ in part.iter().filter(|&&b| b == 1) {
            out.push_str("[]");
        }
    }
    out
}

/// The body of a JSON string starting at `*i` (after its opening quote): its byte range, with
/// `*i` moved past the closing quote. Escapes are kept as written; a raw control character is
/// not compact JSON (and would break the one-value-per-line columns).
fn string_body(s: &[u8], i: &mut usize) -> Result<(usize, usize), NotCompact> {
    let a = *i;
    loop {
        match s.get(*i).copied().ok_or(NotCompact)? {
            b'"' => {
                let b = *i;
                *i += 1;
                return Ok((a, b));
            }
            b'\\' => {
                if !s.get(*i + 1).is_some_and(|c| c.is_ascii_graphic()) {
                    return Err(NotCompact);
                }
                *i += 2;
            }
            c if c < 0x20 => return Err(NotCompact),
            _ => *i += 1,
        }
    }
}

fn literal(s: &[u8], i: &mut usize, lit: &[u8]) -> Result<(), NotCompact> {
    if s.get(*i..*i + lit.len()) == Some(lit) {
        *i += lit.len();
        Ok(())
    } else {
        Err(NotCompact)
    }
}

/// A decompressed column of a chunk and the byte span of each of its values.
type Column = (Vec<u8>, Vec<(usize, usize)>);

/// One parsed shape token; a leaf holds its slot in [`Shape::counts`] (its column).
#[derive(Debug, Clone, Copy)]
enum Tok {
    Obj,
    ObjEnd,
    Arr,
    ArrEnd,
    Key(u32),
    Str(usize),
    Num(usize),
    Lit(&'static str),
    Verbatim(usize),
}

#[derive(Debug)]
struct Shape {
    toks: Vec<Tok>,
    /// Values per column of one row of this shape.
    counts: Vec<(u32, u32)>,
}

#[derive(Debug)]
struct ChunkCol {
    col: u32,
    count: u32,
    offset: u64,
    len: u32,
    raw: u32,
}

#[derive(Debug)]
struct Chunk {
    first_row: u64,
    rows: u32,
    offset: u64,
    shape_len: u32,
    shape_raw: u32,
    cols: Vec<ChunkCol>,
}

enum Source {
    File(std::fs::File),
    Bytes(Vec<u8>),
}

/// An open block.
pub struct BlockReader {
    path: PathBuf,
    src: Source,
    keys: Vec<Vec<u8>>,
    verbatim_col: Option<u32>,
    ncols: usize,
    shapes: Vec<Shape>,
    chunks: Vec<Chunk>,
    num_rows: u64,
}

impl std::fmt::Debug for BlockReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockReader")
            .field("path", &self.path)
            .field("num_rows", &self.num_rows)
            .finish_non_exhaustive()
    }
}

/// A cursor over a footer, every read checked.
struct Cur<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cur<'_> {
    fn varint(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = *self.b.get(self.i)?;
            self.i += 1;
            v |= u64::from(byte & 0x7f) << shift;
            if byte < 0x80 {
                return Some(v);
            }
        }
        None
    }
    fn u32(&mut self) -> Option<u32> {
        self.varint().and_then(|v| u32::try_from(v).ok())
    }
    fn bytes(&mut self) -> Option<&[u8]> {
        let n = usize::try_from(self.varint()?).ok()?;
        let end = self.i.checked_add(n)?;
        let s = self.b.get(self.i..end)?;
        self.i = end;
        Some(s)
    }
}

impl BlockReader {
    /// Opens the block file at `path` (reads its footer; chunks are read on demand).
    pub fn open(path: &Path) -> Result<BlockReader, BlockError> {
        let io = |source| BlockError::Io {
            path: path.to_path_buf(),
            source,
        };
        let f = std::fs::File::open(path).map_err(io)?;
        let len = f.metadata().map_err(io)?.len();
        BlockReader::parse(path, Source::File(f), len)
    }

    /// A block held in memory (tests, fuzzing).
    pub fn from_bytes(bytes: Vec<u8>) -> Result<BlockReader, BlockError> {
        let len = bytes.len() as u64;
        BlockReader::parse(Path::new("<memory>"), Source::Bytes(bytes), len)
    }

    fn corrupt(&self, reason: impl Into<String>) -> BlockError {
        BlockError::Corrupt {
            path: self.path.clone(),
            reason: reason.into(),
        }
    }

    fn read_at(&self, offset: u64, len: usize) -> Result<Vec<u8>, BlockError> {
        match &self.src {
            Source::Bytes(b) => usize::try_from(offset)
                .ok()
                .and_then(|o| b.get(o..o.checked_add(len)?))
                .map(<[u8]>::to_vec)
                .ok_or_else(|| self.corrupt("frame beyond the end of the file")),
            Source::File(f) => {
                let mut buf = vec![0; len];
                std::os::unix::fs::FileExt::read_exact_at(f, &mut buf, offset).map_err(
                    |source| BlockError::Io {
                        path: self.path.clone(),
                        source,
                    },
                )?;
                Ok(buf)
            }
        }
    }

    fn parse(path: &Path, src: Source, len: u64) -> Result<BlockReader, BlockError> {
        let mut r = BlockReader {
            path: path.to_path_buf(),
            src,
            keys: Vec::new(),
            verbatim_col: None,
            ncols: 0,
            shapes: Vec::new(),
            chunks: Vec::new(),
            num_rows: 0,
        };
        if len < (HEADER + TRAILER) as u64 {
            return Err(r.corrupt("shorter than header and trailer"));
        }
        let head = r.read_at(0, HEADER)?;
        if &head[..4] != MAGIC || head[4] != VERSION {
            return Err(r.corrupt("bad magic or version"));
        }
        let t = r.read_at(len - TRAILER as u64, TRAILER)?;
        let le32 = |i: usize| u32::from_le_bytes([t[i], t[i + 1], t[i + 2], t[i + 3]]);
        let at = u64::from_le_bytes([t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7]]);
        let (flen, fraw, crc) = (le32(8), le32(12), le32(16));
        if &t[20..24] != MAGIC {
            return Err(r.corrupt("bad trailer"));
        }
        let data_end = len - TRAILER as u64;
        if at < HEADER as u64 || at.checked_add(u64::from(flen)) != Some(data_end) {
            return Err(r.corrupt("footer position"));
        }
        let footer = r.read_at(at, flen as usize)?;
        if crc32fast::hash(&footer) != crc {
            return Err(r.corrupt("footer checksum mismatch"));
        }
        let f = r.decompress(&footer, fraw)?;
        let bad = |what: &str| r.corrupt(format!("footer: {what}"));
        let mut c = Cur { b: &f, i: 0 };
        let num_rows = c.varint().ok_or_else(|| bad("rows"))?;
        let mut lists: [Vec<Vec<u8>>; 3] = Default::default();
        for list in &mut lists {
            let n = c.varint().ok_or_else(|| bad("list length"))?;
            for _ in 0..n {
                list.push(c.bytes().ok_or_else(|| bad("list entry"))?.to_vec());
            }
        }
        let [keys, cols, shapes] = lists;
        let verbatim_col = cols.iter().position(|p| p == VERBATIM).map(|c| c as u32);
        let mut parsed = Vec::with_capacity(shapes.len());
        for s in &shapes {
            parsed.push(
                parse_shape(s, keys.len(), cols.len(), verbatim_col)
                    .ok_or_else(|| bad("invalid shape"))?,
            );
        }
        let nchunks = c.varint().ok_or_else(|| bad("chunk count"))?;
        let mut chunks = Vec::new();
        let mut first_row = 0u64;
        let mut end = HEADER as u64;
        for _ in 0..nchunks {
            let rows = c.u32().ok_or_else(|| bad("chunk rows"))?;
            let offset = c.varint().ok_or_else(|| bad("chunk offset"))?;
            let shape_len = c.u32().ok_or_else(|| bad("shape frame"))?;
            let shape_raw = c.u32().ok_or_else(|| bad("shape frame"))?;
            if offset != end || rows == 0 || rows > MAX_CHUNK_ROWS {
                return Err(bad("chunk position"));
            }
            let mut pos = offset
                .checked_add(u64::from(shape_len))
                .ok_or_else(|| bad("chunk position"))?;
            let n = c.varint().ok_or_else(|| bad("chunk columns"))?;
            let mut ccols = Vec::new();
            for _ in 0..n {
                let col = c.u32().ok_or_else(|| bad("column"))?;
                let count = c.u32().ok_or_else(|| bad("column"))?;
                let len = c.u32().ok_or_else(|| bad("column"))?;
                let raw = c.u32().ok_or_else(|| bad("column"))?;
                if col as usize >= cols.len()
                    || ccols.last().is_some_and(|p: &ChunkCol| p.col >= col)
                {
                    return Err(bad("column id"));
                }
                ccols.push(ChunkCol {
                    col,
                    count,
                    offset: pos,
                    len,
                    raw,
                });
                pos = pos
                    .checked_add(u64::from(len))
                    .ok_or_else(|| bad("chunk position"))?;
            }
            if pos > at {
                return Err(bad("chunk beyond the footer"));
            }
            end = pos;
            chunks.push(Chunk {
                first_row,
                rows,
                offset,
                shape_len,
                shape_raw,
                cols: ccols,
            });
            first_row += u64::from(rows);
        }
        if first_row != num_rows || end != at || c.i != f.len() {
            return Err(bad("rows or frames do not add up"));
        }
        r.keys = keys;
        r.verbatim_col = verbatim_col;
        r.ncols = cols.len();
        r.shapes = parsed;
        r.chunks = chunks;
        r.num_rows = num_rows;
        Ok(r)
    }

    fn decompress(&self, frame: &[u8], raw: u32) -> Result<Vec<u8>, BlockError> {
        let raw = raw as usize;
        if raw > MAX_FRAME {
            return Err(self.corrupt("frame too large"));
        }
        match zstd::zstd_safe::get_frame_content_size(frame) {
            Ok(Some(n)) if n == raw as u64 => {}
            _ => return Err(self.corrupt("frame header does not match its length")),
        }
        let out =
            zstd::bulk::decompress(frame, raw).map_err(|e| self.corrupt(format!("zstd: {e}")))?;
        if out.len() != raw {
            return Err(self.corrupt("frame length mismatch"));
        }
        Ok(out)
    }

    /// Number of rows.
    pub fn num_rows(&self) -> u64 {
        self.num_rows
    }

    /// The JSON of each row of `rows` (in that order).
    pub fn get(&self, rows: &[u64]) -> Result<Vec<String>, BlockError> {
        let mut out: Vec<Option<String>> = vec![None; rows.len()];
        let mut order: Vec<usize> = (0..rows.len()).collect();
        order.sort_by_key(|&i| rows[i]);
        let mut k = 0;
        while k < order.len() {
            let row = rows[order[k]];
            if row >= self.num_rows {
                return Err(BlockError::NoRow {
                    path: self.path.clone(),
                    row,
                    rows: self.num_rows,
                });
            }
            let ci = self.chunks.partition_point(|c| c.first_row <= row) - 1;
            let chunk = &self.chunks[ci];
            let end = chunk.first_row + u64::from(chunk.rows);
            let mut j = k;
            while j < order.len() && rows[order[j]] < end {
                j += 1;
            }
            let want: Vec<(usize, u32)> = order[k..j]
                .iter()
                .map(|&i| (i, (rows[i] - chunk.first_row) as u32))
                .collect();
            for (i, json) in self.chunk_rows(chunk, &want)? {
                out[i] = Some(json);
            }
            k = j;
        }
        out.into_iter()
            .map(|o| o.ok_or_else(|| self.corrupt("row not decoded")))
            .collect()
    }

    /// Every row, in order.
    pub fn all(&self) -> Result<Vec<String>, BlockError> {
        let mut out = Vec::new();
        for chunk in &self.chunks {
            let want: Vec<(usize, u32)> = (0..chunk.rows).map(|r| (r as usize, r)).collect();
            out.extend(self.chunk_rows(chunk, &want)?.into_iter().map(|(_, j)| j));
        }
        Ok(out)
    }

    /// Decodes rows `want` (tag, row within the chunk; sorted by row) of `chunk`: its shape
    /// frame, then only the columns the shapes of those rows use.
    fn chunk_rows(
        &self,
        chunk: &Chunk,
        want: &[(usize, u32)],
    ) -> Result<Vec<(usize, String)>, BlockError> {
        let last = want.last().map_or(0, |w| w.1);
        if last >= chunk.rows {
            return Err(self.corrupt("row beyond its chunk"));
        }
        let frame = self.read_at(chunk.offset, chunk.shape_len as usize)?;
        let ids = self.decompress(&frame, chunk.shape_raw)?;
        let mut c = Cur { b: &ids, i: 0 };
        // Value index of each wanted row in each column: the counts of the rows before it;
        // `upto[col]` = how many values of the column the wanted rows need (a prefix).
        let mut before = vec![0u32; self.ncols];
        let mut upto = vec![0u32; self.ncols];
        let mut starts: Vec<(u32, Vec<u32>)> = Vec::with_capacity(want.len());
        let mut w = 0;
        for row in 0..=last {
            let id = c
                .u32()
                .filter(|&id| (id as usize) < self.shapes.len())
                .ok_or_else(|| self.corrupt("shape id"))?;
            let shape = &self.shapes[id as usize];
            if want.get(w).is_some_and(|x| x.1 == row) {
                let mut s = Vec::with_capacity(shape.counts.len());
                for &(col, n) in &shape.counts {
                    let b = before[col as usize];
                    let u = &mut upto[col as usize];
                    *u = (*u).max(b.checked_add(n).ok_or_else(|| self.corrupt("counts"))?);
                    s.push(b);
                }
                while want.get(w).is_some_and(|x| x.1 == row) {
                    starts.push((id, s.clone()));
                    w += 1;
                }
            }
            for &(col, n) in &shape.counts {
                let b = &mut before[col as usize];
                *b = b.checked_add(n).ok_or_else(|| self.corrupt("counts"))?;
            }
        }
        // The needed columns, decompressed (whole frames: the zstd checksum is verified), with
        // the spans of the values up to the last one needed (`memchr` over the newlines).
        let mut values: Vec<Option<Column>> = (0..self.ncols).map(|_| None).collect();
        for cc in chunk.cols.iter().filter(|cc| upto[cc.col as usize] > 0) {
            let need = upto[cc.col as usize] as usize;
            if need > cc.count as usize {
                return Err(self.corrupt("column value count"));
            }
            let frame = self.read_at(cc.offset, cc.len as usize)?;
            let data = self.decompress(&frame, cc.raw)?;
            let mut spans = Vec::with_capacity(need);
            if Some(cc.col) == self.verbatim_col {
                let mut cur = Cur { b: &data, i: 0 };
                while spans.len() < need {
                    let n = cur
                        .varint()
                        .and_then(|n| usize::try_from(n).ok())
                        .ok_or_else(|| self.corrupt("verbatim length"))?;
                    let a = cur.i;
                    let b = a
                        .checked_add(n)
                        .filter(|&b| b <= data.len())
                        .ok_or_else(|| self.corrupt("verbatim length"))?;
                    spans.push((a, b));
                    cur.i = b;
                }
            } else {
                if data.last().is_some_and(|&b| b != b'\n') {
                    return Err(self.corrupt("column not newline-terminated"));
                }
                let mut a = 0;
                for i in memchr::memchr_iter(b'\n', &data).take(need) {
                    spans.push((a, i));
                    a = i + 1;
                }
                if spans.len() != need {
                    return Err(self.corrupt("column value count"));
                }
            }
            values[cc.col as usize] = Some((data, spans));
        }
        let mut out = Vec::with_capacity(want.len());
        for (&(tag, _), (id, start)) in want.iter().zip(&starts) {
            let shape = &self.shapes[*id as usize];
            let mut next: Vec<u32> = start.clone();
            let mut json = Vec::with_capacity(256);
            let mut first = vec![true];
            let mut value =
                |slot: usize, json: &mut Vec<u8>, quote: bool| -> Result<(), BlockError> {
                    let col = shape.counts[slot].0;
                    let (data, spans) = values
                        .get(col as usize)
                        .and_then(Option::as_ref)
                        .ok_or_else(|| self.corrupt("column missing in chunk"))?;
                    let &(a, b) = spans
                        .get(next[slot] as usize)
                        .ok_or_else(|| self.corrupt("column too short"))?;
                    next[slot] += 1;
                    if quote {
                        json.push(b'"');
                    }
                    json.extend_from_slice(&data[a..b]);
                    if quote {
                        json.push(b'"');
                    }
                    Ok(())
                };
            let mut after_key = false;
            for tok in &shape.toks {
                let is_value = !matches!(tok, Tok::ObjEnd | Tok::ArrEnd);
                if is_value
                    && !after_key
                    && let Some(f) = first.last_mut()
                {
                    if !*f {
                        json.push(b',');
                    }
                    *f = false;
                }
                after_key = false;
                match *tok {
                    Tok::Obj => {
                        json.push(b'{');
                        first.push(true);
                    }
                    Tok::Arr => {
                        json.push(b'[');
                        first.push(true);
                    }
                    Tok::ObjEnd => {
                        json.push(b'}');
                        first.pop();
                    }
                    Tok::ArrEnd => {
                        json.push(b']');
                        first.pop();
                    }
                    Tok::Key(k) => {
                        json.push(b'"');
                        json.extend_from_slice(&self.keys[k as usize]);
                        json.extend_from_slice(b"\":");
                        after_key = true;
                    }
                    Tok::Str(slot) => value(slot, &mut json, true)?,
                    Tok::Num(slot) | Tok::Verbatim(slot) => value(slot, &mut json, false)?,
                    Tok::Lit(l) => json.extend_from_slice(l.as_bytes()),
                }
            }
            let json = String::from_utf8(json).map_err(|_| self.corrupt("not UTF-8"))?;
            out.push((tag, json));
        }
        Ok(out)
    }
}

/// Parses and validates a shape: one value (objects of key/value pairs, arrays of values),
/// ids in range; `None` if invalid.
fn parse_shape(s: &[u8], nkeys: usize, ncols: usize, verbatim: Option<u32>) -> Option<Shape> {
    let mut c = Cur { b: s, i: 0 };
    let mut toks = Vec::new();
    let mut counts: Vec<(u32, u32)> = Vec::new();
    let mut count = |col: u32| match counts.iter().position(|(c, _)| *c == col) {
        Some(slot) => {
            counts[slot].1 += 1;
            slot
        }
        None => {
            counts.push((col, 1));
            counts.len() - 1
        }
    };
    // Stack of open containers: true = object. `key` = an object's key was just read.
    let mut stack: Vec<bool> = Vec::new();
    let mut key = false;
    let mut done = false;
    while c.i < s.len() {
        if done {
            return None;
        }
        let t = s[c.i];
        c.i += 1;
        let in_obj = stack.last().copied();
        // Where a value may stand: top level, array, or after a key.
        let value_ok = match in_obj {
            None => true,
            Some(false) => true,
            Some(true) => key,
        };
        match t {
            T_KEY => {
                if in_obj != Some(true) || key {
                    return None;
                }
                let k = c.u32()?;
                if k as usize >= nkeys {
                    return None;
                }
                toks.push(Tok::Key(k));
                key = true;
                continue;
            }
            T_OBJ_END | T_ARR_END => {
                if key || in_obj != Some(t == T_OBJ_END) {
                    return None;
                }
                stack.pop();
                toks.push(if t == T_OBJ_END {
                    Tok::ObjEnd
                } else {
                    Tok::ArrEnd
                });
            }
            _ if !value_ok => return None,
            T_OBJ | T_ARR => {
                stack.push(t == T_OBJ);
                toks.push(if t == T_OBJ { Tok::Obj } else { Tok::Arr });
            }
            T_STR | T_NUM => {
                let col = c.u32()?;
                if col as usize >= ncols || Some(col) == verbatim {
                    return None;
                }
                let slot = count(col);
                toks.push(if t == T_STR {
                    Tok::Str(slot)
                } else {
                    Tok::Num(slot)
                });
            }
            T_TRUE => toks.push(Tok::Lit("true")),
            T_FALSE => toks.push(Tok::Lit("false")),
            T_NULL => toks.push(Tok::Lit("null")),
            T_VERBATIM => {
                let col = c.u32()?;
                if !stack.is_empty() || Some(col) != verbatim {
                    return None;
                }
                let slot = count(col);
                toks.push(Tok::Verbatim(slot));
            }
            _ => return None,
        }
        key = false;
        if stack.is_empty() {
            done = true;
        }
    }
    done.then_some(Shape { toks, counts })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(rows: &[&str], chunk_rows: usize) {
        let mut w = BlockWriter::new(3, chunk_rows).unwrap();
        for r in rows {
            w.push(r).unwrap();
        }
        let bytes = w.finish().unwrap();
        let b = BlockReader::from_bytes(bytes).unwrap();
        assert_eq!(b.num_rows(), rows.len() as u64);
        let all = b.all().unwrap();
        assert_eq!(all, rows);
        // Random access, out of order and repeated.
        let idx: Vec<u64> = (0..rows.len() as u64).rev().chain([0]).collect();
        if !rows.is_empty() {
            let got = b.get(&idx).unwrap();
            for (i, g) in idx.iter().zip(got) {
                assert_eq!(g, rows[*i as usize]);
            }
        }
        // One row at a time and every second row: a read locates only a prefix of each
        // column it decodes.
        for i in 0..rows.len() as u64 {
            assert_eq!(b.get(&[i]).unwrap(), [rows[i as usize]]);
        }
        let odd: Vec<u64> = (1..rows.len() as u64).step_by(2).collect();
        let want: Vec<&str> = odd.iter().map(|&i| rows[i as usize]).collect();
        assert_eq!(b.get(&odd).unwrap(), want);
    }

    #[test]
    fn round_trips_every_json_form_byte_for_byte() {
        let rows = [
            r#"{"@timestamp":"2026-11-27T05:00:00.123Z","event":{"dataset":"proxy","kind":"event"},"source":{"ip":"10.0.0.1","port":51234},"url":{"full":"http://a.example/x?q=\"1\"\\n\u00e9"},"tags":["a","b",""],"n":-1.5e-3,"t":true,"f":false,"z":null,"e":{},"ea":[],"nested":[[1,2],[{"k":"v"}],[]]}"#,
            r#"{"event":{"dataset":"dns"},"dns":{"answers":[{"data":"1.2.3.4","ttl":60},{"data":"x.example","ttl":0}]},"other":{"odd key \" with quote":"日本","x":[null,true,1,"s"]}}"#,
            r#"{"event":{"dataset":"proxy","kind":"event"},"source":{"ip":"10.0.0.2","port":1}}"#,
            "{ \"spaced\": 1 }",
            "not json at all\nwith a newline",
            "",
            r#"{"a":"unterminated"#,
            "[1,2,3]",
            "\"top string\"",
            r#"{"ctl":"tab	raw"}"#,
            r#"{"dup":1,"dup":2}"#,
        ];
        for chunk in [1, 2, 3, 1000] {
            round_trip(&rows, chunk);
        }
        round_trip(&[], 10);
    }

    #[test]
    fn rejects_corruption_with_an_error() {
        let mut w = BlockWriter::new(3, 2).unwrap();
        for i in 0..5 {
            w.push(&format!(r#"{{"i":{i},"s":"v{i}","a":[{i}]}}"#))
                .unwrap();
        }
        let good = w.finish().unwrap();
        // Every single-byte change and every truncation either errors or decodes (a flipped
        // value byte inside a frame is caught by the zstd checksum); nothing panics.
        for i in 0..good.len() {
            let mut bad = good.clone();
            bad[i] ^= 0x55;
            if let Ok(b) = BlockReader::from_bytes(bad) {
                let _ = b.all();
            }
            if let Ok(b) = BlockReader::from_bytes(good[..i].to_vec()) {
                let _ = b.all();
            }
        }
        let b = BlockReader::from_bytes(good).unwrap();
        assert!(matches!(b.get(&[5]), Err(BlockError::NoRow { .. })));
    }
}
