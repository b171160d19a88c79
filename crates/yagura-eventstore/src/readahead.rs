//! Read-ahead of exactly the byte ranges a cold hunt reads (BENCHMARKS.md, "Event store",
//! session 10).
//!
//! Tantivy reads a split through memory maps, so a cold hunt reads the disk by page faults:
//! one fault at a time per thread, each waiting for its read. Left alone, the kernel answers a
//! fault in a memory-mapped file by reading the *read-around window* around it
//! (`read_ahead_kb`, 8 MiB on the measuring VM): the hunt of 3,812 events over 100 splits read
//! all 6.4 GB of the store for ~0.6 GB it used. A split opened for hunting therefore maps its
//! files with `MADV_RANDOM` (a fault reads its page only), and the hunt asks the kernel
//! (`posix_fadvise(POSIX_FADV_WILLNEED)`, which queues the reads and returns) for the ranges it
//! is about to touch, all at once, so the disk sees a deep queue of reads instead of one read
//! at a time:
//! - the FSTs of the term dictionaries of the fields searched (not the term-info stores, read
//!   for the terms present only, nor the dictionaries of fields not searched);
//! - the posting lists of the terms found;
//! - the doc-store blocks holding the hits.
//!
//! The ranges come from tantivy's file layouts (its footer, composite files, FST term
//! dictionary and doc-store skip index; tantivy 0.27), which tantivy does not expose. Every
//! function here is a hint only: on a layout it does not recognize it returns nothing, and the
//! hunt reads as before through tantivy (a wrong range costs a useless read, never a wrong
//! result). `readahead_layouts_of_a_built_split` in the split tests checks the parsers against
//! splits tantivy wrote.

use std::fs::File;
use std::ops::Range;
use std::path::Path;

/// Magic number of the footer tantivy appends to every file it writes.
const FOOTER_MAGIC: u32 = 1337;
/// Bytes of tantivy's doc-store footer (version, skip-index offset, compressor, reserved).
const DOC_STORE_FOOTER: u64 = 28;
/// Bytes after a field's FST term dictionary: term-info store length (u64), FST version (u32),
/// dictionary type (u32, 1 = FST).
const TERMDICT_FOOTER: u64 = 16;

/// A tantivy variable-length integer (7 bits per byte, little end first, the last byte with
/// its high bit set).
fn vint(buf: &mut &[u8]) -> Option<u64> {
    let mut value = 0u64;
    let mut shift = 0u32;
    loop {
        let (&byte, rest) = buf.split_first()?;
        *buf = rest;
        value |= u64::from(byte & 0x7f).checked_shl(shift)?;
        if byte & 0x80 != 0 {
            return Some(value);
        }
        shift += 7;
        if shift > 63 {
            return None;
        }
    }
}

fn u32_at(buf: &[u8], at: usize) -> Option<u32> {
    let b = buf.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes(b.try_into().ok()?))
}

fn u64_at(buf: &[u8], at: usize) -> Option<u64> {
    let b = buf.get(at..at.checked_add(8)?)?;
    Some(u64::from_le_bytes(b.try_into().ok()?))
}

/// `len` bytes of `file` at `offset`.
fn read_at(file: &File, offset: u64, len: u64) -> Option<Vec<u8>> {
    let mut buf = vec![0; usize::try_from(len).ok()?];
    let mut done = 0;
    while let Some(rest) = buf.get_mut(done..).filter(|r| !r.is_empty()) {
        match pread(file, rest, offset.checked_add(done as u64)?) {
            Ok(n) if n > 0 => done += n,
            _ => return None,
        }
    }
    Some(buf)
}

/// One positional read (the file offset is not used, so threads can share the file).
#[cfg(unix)]
fn pread(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buf, offset)
}

#[cfg(not(unix))]
fn pread(mut file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
    use std::io::{Read, Seek, SeekFrom};
    file.seek(SeekFrom::Start(offset))?;
    file.read(buf)
}

/// A file tantivy wrote, open for hints: its length without tantivy's footer.
#[derive(Debug)]
pub(crate) struct TantivyFile {
    pub(crate) file: File,
    pub(crate) body_len: u64,
}

impl TantivyFile {
    pub(crate) fn open(path: &Path) -> Option<TantivyFile> {
        let file = File::open(path).ok()?;
        no_read_around(&file);
        let len = file.metadata().ok()?.len();
        let tail = read_at(&file, len.checked_sub(8)?, 8)?;
        if u32_at(&tail, 4)? != FOOTER_MAGIC {
            return None;
        }
        let footer = u64::from(u32_at(&tail, 0)?);
        let body_len = len.checked_sub(8)?.checked_sub(footer)?;
        Some(TantivyFile { file, body_len })
    }

    /// The byte ranges (in the file) of the fields of a composite file (`.term`, `.idx`), by
    /// field id; fields stored in several parts are left out.
    pub(crate) fn composite_fields(&self) -> Option<Vec<(u32, Range<u64>)>> {
        let end = self.body_len;
        let footer_len = u64::from(u32_at(&read_at(&self.file, end.checked_sub(4)?, 4)?, 0)?);
        let footer_start = end.checked_sub(4)?.checked_sub(footer_len)?;
        let footer = read_at(&self.file, footer_start, footer_len)?;
        let mut buf = footer.as_slice();
        let n = vint(&mut buf)?;
        let mut starts: Vec<(u32, u64, u64)> = Vec::new();
        let mut offset = 0u64;
        for _ in 0..n {
            offset = offset.checked_add(vint(&mut buf)?)?;
            let field = u32_at(buf, 0)?;
            buf = buf.get(4..)?;
            let idx = vint(&mut buf)?;
            starts.push((field, idx, offset));
        }
        let mut out = Vec::with_capacity(starts.len());
        for (i, &(field, idx, start)) in starts.iter().enumerate() {
            let end = starts.get(i + 1).map_or(footer_start, |s| s.2);
            if start > end {
                return None;
            }
            if idx == 0 {
                out.push((field, start..end));
            }
        }
        Some(out)
    }

    /// The range of the FST of each field's term dictionary in a `.term` file (the term-info
    /// store after it is left out).
    pub(crate) fn dictionary_fsts(&self) -> Option<Vec<(u32, Range<u64>)>> {
        let mut out = Vec::new();
        for (field, range) in self.composite_fields()? {
            if range.end - range.start < TERMDICT_FOOTER {
                return None;
            }
            let footer = read_at(&self.file, range.end - TERMDICT_FOOTER, TERMDICT_FOOTER)?;
            let (values, version, kind) = (u64_at(&footer, 0)?, u32_at(&footer, 8)?, {
                u32_at(&footer, 12)?
            });
            if version != 1 || kind != 1 {
                return None;
            }
            let fst_end = range
                .end
                .checked_sub(TERMDICT_FOOTER)?
                .checked_sub(values)?;
            if fst_end < range.start {
                return None;
            }
            out.push((field, range.start..fst_end));
        }
        Some(out)
    }

    /// The doc-store blocks of a `.store` file, in document order: (first document after the
    /// block, byte range in the file). `None` unless the blocks cover documents `0..max_doc`
    /// and the store's bytes exactly.
    pub(crate) fn doc_store_blocks(&self, max_doc: u32) -> Option<Vec<(u32, Range<u64>)>> {
        let footer_at = self.body_len.checked_sub(DOC_STORE_FOOTER)?;
        let footer = read_at(&self.file, footer_at, DOC_STORE_FOOTER)?;
        let data_len = u64_at(&footer, 4)?;
        let index = read_at(&self.file, data_len, footer_at.checked_sub(data_len)?)?;
        let mut buf = index.as_slice();
        let layers = vint(&mut buf)?;
        let mut ends = Vec::new();
        for _ in 0..layers {
            ends.push(usize::try_from(vint(&mut buf)?).ok()?);
        }
        // The last layer lists every block; the layers above it skip through it.
        let last_start = match ends.len() {
            0 => return None,
            n => n
                .checked_sub(2)
                .and_then(|i| ends.get(i))
                .copied()
                .unwrap_or(0),
        };
        let mut layer = buf.get(last_start..*ends.last()?)?;
        let mut blocks: Vec<(u32, Range<u64>)> = Vec::new();
        let (mut next_doc, mut next_byte) = (0u64, 0u64);
        while !layer.is_empty() {
            let n = vint(&mut layer)?;
            if n == 0 {
                continue;
            }
            let doc = vint(&mut layer)?;
            let start = vint(&mut layer)?;
            if doc != next_doc || start != next_byte {
                return None;
            }
            for _ in 0..n {
                next_doc = next_doc.checked_add(vint(&mut layer)?)?;
                let end = next_byte.checked_add(vint(&mut layer)?)?;
                blocks.push((u32::try_from(next_doc).ok()?, next_byte..end));
                next_byte = end;
            }
        }
        (next_doc == u64::from(max_doc) && next_byte == data_len).then_some(blocks)
    }
}

/// Asks the kernel to read `ranges` of `file` into the page cache in the background.
pub(crate) fn will_need(file: &File, ranges: impl IntoIterator<Item = Range<u64>>) {
    for r in ranges {
        if let Some(len) = std::num::NonZeroU64::new(r.end.saturating_sub(r.start)) {
            advise(file, r.start, len);
        }
    }
}

#[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
fn advise(file: &File, offset: u64, len: std::num::NonZeroU64) {
    if let Err(e) = rustix::fs::fadvise(file, offset, Some(len), rustix::fs::Advice::WillNeed) {
        tracing::debug!(error = %e, "fadvise(WILLNEED) failed; the hunt reads on demand");
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
fn advise(_file: &File, _offset: u64, _len: std::num::NonZeroU64) {}

/// Reads of `file` read what they ask for, not the kernel's read-ahead window after it
/// (`POSIX_FADV_RANDOM`, on this open file only).
#[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
fn no_read_around(file: &File) {
    if let Err(e) = rustix::fs::fadvise(file, 0, None, rustix::fs::Advice::Random) {
        tracing::debug!(error = %e, "fadvise(RANDOM) failed");
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
fn no_read_around(_file: &File) {}

/// Reads `ranges` of `file` (opened by [`TantivyFile::open`]: no read-ahead beyond what is
/// asked) into the page cache and returns once they are there; the bytes are dropped. A read
/// error ends the loading quietly (the hunt then reads through tantivy and reports it there).
pub(crate) fn load(file: &File, ranges: impl IntoIterator<Item = Range<u64>>) {
    let mut buf = vec![0u8; 1 << 20];
    for r in ranges {
        let mut at = r.start;
        while at < r.end {
            let n = usize::try_from(r.end - at).map_or(buf.len(), |l| l.min(buf.len()));
            match buf.get_mut(..n).map(|b| pread(file, b, at)) {
                Some(Ok(read)) if read > 0 => at += read as u64,
                _ => return,
            }
        }
    }
}

/// Sorted, overlapping or adjacent ranges merged (fewer, longer reads).
pub(crate) fn merged(mut ranges: Vec<Range<u64>>) -> Vec<Range<u64>> {
    ranges.sort_unstable_by_key(|r| r.start);
    let mut out: Vec<Range<u64>> = Vec::with_capacity(ranges.len());
    for r in ranges {
        match out.last_mut() {
            Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
            _ => out.push(r),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vints_decode_as_tantivy_writes_them() {
        // 5 in one byte; 300 = 0b10_0101100 in two (low 7 bits first, stop bit on the last).
        let bytes = [0x85u8, 0x2c, 0x82, 0x01];
        let mut buf = &bytes[..];
        assert_eq!(vint(&mut buf), Some(5));
        assert_eq!(vint(&mut buf), Some(300));
        assert_eq!(vint(&mut buf), None, "no stop bit: truncated");
        let endless = [0u8; 20];
        assert_eq!(vint(&mut &endless[..]), None);
    }

    #[test]
    fn ranges_merge_when_they_touch() {
        assert_eq!(
            merged(vec![10..20, 0..5, 5..8, 15..30, 40..41]),
            vec![0..8, 10..30, 40..41]
        );
    }
}
