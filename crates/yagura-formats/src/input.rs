//! Bytes in: transparent decompression (from the magic bytes, not the file name) and capped
//! line reading.

use std::io::{self, BufRead, BufReader, Read};

/// The compression a stream starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    /// From the first bytes of a stream.
    pub fn sniff(head: &[u8]) -> Compression {
        if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }
}

/// Wraps `inner` in the decoder its first bytes call for. The result is buffered.
pub fn decompress<'a, R: BufRead + Send + 'a>(
    mut inner: R,
) -> io::Result<Box<dyn BufRead + Send + 'a>> {
    let head = inner.fill_buf()?;
    Ok(match Compression::sniff(head) {
        Compression::None => Box::new(inner),
        Compression::Gzip => Box::new(BufReader::with_capacity(
            1 << 16,
            flate2::bufread::MultiGzDecoder::new(inner),
        )),
        Compression::Zstd => {
            let dec = ruzstd::decoding::StreamingDecoder::new(inner)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("zstd: {e}")))?;
            Box::new(BufReader::with_capacity(1 << 16, dec))
        }
    })
}

/// One line as read.
#[derive(Debug, PartialEq, Eq)]
pub enum Line<'a> {
    /// The line without its terminator (`\n` or `\r\n`).
    Text(&'a [u8]),
    /// A line longer than the cap: its first bytes and its full length. The rest was skipped.
    TooLong { head: &'a [u8], len: usize },
}

/// Reads `\n`-terminated lines, reusing one buffer, with a cap on the line length so a
/// stream without newlines (binary garbage, a decompression bomb) cannot exhaust memory.
#[derive(Debug)]
pub struct LineReader<R> {
    inner: R,
    buf: Vec<u8>,
    max: usize,
    line_no: u64,
    /// Bytes of `inner`'s buffer lent out as the last line, consumed on the next call.
    lent: usize,
}

impl<R: BufRead> LineReader<R> {
    pub fn new(inner: R, max_line: usize) -> Self {
        LineReader {
            inner,
            buf: Vec::with_capacity(512),
            max: max_line.max(1),
            line_no: 0,
            lent: 0,
        }
    }

    /// 1-based number of the line last returned.
    pub fn line_no(&self) -> u64 {
        self.line_no
    }

    /// The next line, `None` at the end of the stream. A final line without a terminator is
    /// returned like any other.
    ///
    /// `#[inline]`: once per record on the readers' hot path; whether the compiler inlined it
    /// into `FileReader::fill` on its own changed with unrelated edits of the crate (+35–45
    /// instructions per line when it did not, BENCHMARKS.md "Seventh pass").
    #[inline]
    pub fn next_line(&mut self) -> io::Result<Option<Line<'_>>> {
        self.inner.consume(std::mem::take(&mut self.lent));
        // A whole line in `inner`'s buffer is lent as is, without a copy.
        let whole = loop {
            match self.inner.fill_buf() {
                Ok(avail) => break memchr::memchr(b'\n', avail).filter(|&i| i <= self.max),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        };
        if let Some(i) = whole {
            // `fill_buf` again returns the same buffered bytes (no read): the borrow of the
            // first call could not outlive the `None` branch.
            let avail = self.inner.fill_buf()?;
            // `i` indexes this same buffer (found by the first call).
            let mut line = avail.get(..i).unwrap_or(avail);
            self.lent = i + 1;
            self.line_no += 1;
            if let [rest @ .., b'\r'] = line {
                line = rest;
            }
            return Ok(Some(Line::Text(line)));
        }
        self.buf.clear();
        let mut total = 0usize;
        let mut saw_any = false;
        loop {
            let avail = match self.inner.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if avail.is_empty() {
                break;
            }
            saw_any = true;
            let (chunk, used, done) = match memchr::memchr(b'\n', avail) {
                Some(i) => (&avail[..i], i + 1, true),
                None => (avail, avail.len(), false),
            };
            total += chunk.len();
            let room = self.max.saturating_sub(self.buf.len());
            let take = room.min(chunk.len());
            self.buf.extend_from_slice(&chunk[..take]);
            self.inner.consume(used);
            if done {
                break;
            }
        }
        if !saw_any {
            return Ok(None);
        }
        self.line_no += 1;
        if total > self.max {
            return Ok(Some(Line::TooLong {
                head: &self.buf[..self.buf.len().min(crate::Reject::EXCERPT)],
                len: total,
            }));
        }
        let mut line = &self.buf[..];
        if let [rest @ .., b'\r'] = line {
            line = rest;
        }
        Ok(Some(Line::Text(line)))
    }
}

/// Reads the whole stream into memory, failing when it exceeds `cap` bytes.
pub fn read_capped(mut r: impl Read, cap: u64) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    let n = r
        .by_ref()
        .take(cap.saturating_add(1))
        .read_to_end(&mut out)?;
    if n as u64 > cap {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("input larger than the {cap}-byte cap"),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[u8], cap: usize) -> Vec<String> {
        let small = lines_of(io::BufReader::with_capacity(3, input), cap);
        // Lines lent from the source's own buffer (every line fits in it) read the same.
        assert_eq!(lines_of(input, cap), small);
        small
    }

    fn lines_of(input: impl BufRead, cap: usize) -> Vec<String> {
        let mut r = LineReader::new(input, cap);
        let mut out = vec![];
        loop {
            let no = r.line_no() + 1;
            let Some(l) = r.next_line().unwrap() else {
                break;
            };
            out.push(match l {
                Line::Text(t) => format!("{no}:{}", String::from_utf8_lossy(t)),
                Line::TooLong { head, len } => {
                    format!("{no}:LONG({len}) {}", String::from_utf8_lossy(head))
                }
            });
        }
        out
    }

    #[test]
    fn splits_and_caps() {
        assert_eq!(lines(b"a\nbb\r\n\nccc", 10), ["1:a", "2:bb", "3:", "4:ccc"]);
        assert_eq!(lines(b"", 10), Vec::<String>::new());
        assert_eq!(
            lines(b"0123456789abc\nok\n", 5),
            ["1:LONG(13) 01234", "2:ok"]
        );
        assert_eq!(
            lines(b"ok\n0123456789abc\r\n\r\n12345\n123456", 5),
            [
                "1:ok",
                "2:LONG(14) 01234",
                "3:",
                "4:12345",
                "5:LONG(6) 12345"
            ]
        );
    }

    #[test]
    fn gzip_and_zstd_are_transparent() {
        use std::io::Write;
        let text = b"line one\nline two\n";
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(text).unwrap();
        let gz = gz.finish().unwrap();
        let mut out = String::new();
        decompress(&gz[..])
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out.as_bytes(), text);
        // Written by the `zstd` command-line tool.
        let zst = include_bytes!("../test_data/squid-native.log.zst");
        let mut out = String::new();
        decompress(&zst[..])
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(
            out,
            "1767574923.120 410 10.10.3.4 TCP_MISS/200 1520 GET http://cdn-upd.net/z.php - HIER_DIRECT/203.0.113.9 text/html\n"
        );
        // A zstd stream cut short is an error, not a panic and not silence.
        let mut out = Vec::new();
        let res = decompress(&zst[..zst.len() - 6]).and_then(|mut r| r.read_to_end(&mut out));
        assert!(res.is_err(), "truncated zstd must fail, got {out:?}");
    }

    #[test]
    fn capped_read() {
        assert_eq!(read_capped(&b"abc"[..], 3).unwrap(), b"abc");
        assert!(read_capped(&b"abcd"[..], 3).is_err());
    }
}
