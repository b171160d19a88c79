//! Syslog message framing on a byte stream (TCP and TLS).
//!
//! Two framings are in use and a sender may even mix them (RFC 6587):
//!
//! * **octet counting** (RFC 5425 for TLS, RFC 6587 §3.4.1 for TCP): `MSG-LEN SP SYSLOG-MSG`,
//!   where `MSG-LEN` is a decimal number without leading zeros;
//! * **non-transparent framing** (RFC 6587 §3.4.2): the message ends at an LF (a trailing CR
//!   is dropped too), the traditional framing of most TCP senders.
//!
//! Each frame is classified by its first byte: a digit `1`–`9` starts an octet count (a syslog
//! message itself starts with `<`), anything else is LF-framed. The decoder is incremental:
//! bytes arrive in arbitrary chunks, frames come out whole, and the result does not depend on
//! how the stream was cut (a property test checks that). Nothing is ever held beyond
//! `max_frame` bytes: an oversized message is reported and skipped, so a peer cannot make the
//! decoder buffer without bound.

/// One decoded unit of the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A complete message (without its length prefix or trailing LF/CR LF).
    Message(Vec<u8>),
    /// A message that could not be framed; reading continues after it.
    Invalid(FrameError),
}

/// Why a frame was not delivered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The octet count or the LF-framed message exceeds the limit; the message was skipped
    /// (for octet counting exactly its length, for LF framing up to the next LF).
    #[error("message of {len} bytes exceeds the limit of {max} bytes; skipped")]
    TooLong { len: usize, max: usize },
    /// An octet count that is not a decimal number followed by a space.
    #[error("malformed octet count {prefix:?}")]
    BadLength { prefix: String },
}

/// What the decoder is in the middle of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At a frame boundary.
    Start,
    /// Reading the digits of an octet count (value so far, digits so far).
    Count { value: usize, digits: usize },
    /// Reading `remaining` bytes of an octet-counted message.
    Counted { remaining: usize },
    /// Skipping `remaining` bytes of an oversized octet-counted message.
    SkipCounted { remaining: usize },
    /// Reading an LF-framed message.
    Line,
    /// Skipping an oversized LF-framed message up to its LF (total length so far).
    SkipLine { len: usize },
    /// Skipping the rest of a line after a malformed octet count (already reported).
    Resync,
}

/// Incremental decoder; feed it bytes with [`Decoder::push`], drain frames with
/// [`Decoder::next_frame`], and call [`Decoder::finish`] at end of stream.
#[derive(Debug)]
pub struct Decoder {
    max_frame: usize,
    state: State,
    /// The message being assembled (never longer than `max_frame`).
    buf: Vec<u8>,
    /// Input not yet consumed.
    input: Vec<u8>,
    pos: usize,
}

/// Longest octet count accepted: more digits than this cannot describe an allowed message.
const MAX_COUNT_DIGITS: usize = 10;

impl Decoder {
    /// A decoder delivering messages of at most `max_frame` bytes.
    pub fn new(max_frame: usize) -> Decoder {
        Decoder {
            max_frame: max_frame.max(1),
            state: State::Start,
            buf: Vec::new(),
            input: Vec::new(),
            pos: 0,
        }
    }

    /// Appends received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.pos > 0 && self.pos == self.input.len() {
            self.input.clear();
            self.pos = 0;
        }
        self.input.extend_from_slice(bytes);
    }

    /// Bytes held and not yet delivered (for backpressure accounting).
    pub fn buffered(&self) -> usize {
        self.buf.len() + self.input.len() - self.pos
    }

    /// The next complete frame, if the bytes pushed so far hold one.
    pub fn next_frame(&mut self) -> Option<Frame> {
        loop {
            let rest = self.input.get(self.pos..).unwrap_or_default();
            if rest.is_empty() {
                self.compact();
                return None;
            }
            match self.state {
                State::Start => {
                    let first = rest[0];
                    if first.is_ascii_digit() && first != b'0' {
                        self.state = State::Count {
                            value: 0,
                            digits: 0,
                        };
                    } else if first == b'\n' {
                        // An empty line between frames carries nothing.
                        self.pos += 1;
                    } else {
                        self.state = State::Line;
                    }
                }
                State::Count { value, digits } => {
                    let b = rest[0];
                    self.pos += 1;
                    if b.is_ascii_digit() && digits < MAX_COUNT_DIGITS {
                        self.buf.push(b);
                        self.state = State::Count {
                            value: value
                                .saturating_mul(10)
                                .saturating_add(usize::from(b - b'0')),
                            digits: digits + 1,
                        };
                    } else if b == b' ' {
                        self.buf.clear();
                        if value > self.max_frame {
                            self.state = State::SkipCounted { remaining: value };
                            return Some(Frame::Invalid(FrameError::TooLong {
                                len: value,
                                max: self.max_frame,
                            }));
                        }
                        self.state = State::Counted { remaining: value };
                    } else {
                        // Not an octet count after all: digits then something else. Report
                        // it and resynchronize at the next LF, the only other boundary.
                        let mut prefix = String::from_utf8_lossy(&self.buf).into_owned();
                        prefix.push(char::from(b));
                        self.buf.clear();
                        self.state = if b == b'\n' {
                            State::Start
                        } else {
                            State::Resync
                        };
                        return Some(Frame::Invalid(FrameError::BadLength { prefix }));
                    }
                }
                State::Counted { remaining } => {
                    let take = remaining.min(rest.len());
                    self.buf.extend_from_slice(&rest[..take]);
                    self.pos += take;
                    let remaining = remaining - take;
                    if remaining == 0 {
                        self.state = State::Start;
                        return Some(Frame::Message(std::mem::take(&mut self.buf)));
                    }
                    self.state = State::Counted { remaining };
                }
                State::SkipCounted { remaining } => {
                    let take = remaining.min(rest.len());
                    self.pos += take;
                    let remaining = remaining - take;
                    self.state = if remaining == 0 {
                        State::Start
                    } else {
                        State::SkipCounted { remaining }
                    };
                }
                State::Line => match memchr::memchr(b'\n', rest) {
                    Some(i) => {
                        let part = &rest[..i];
                        self.pos += i + 1;
                        if self.buf.len() + part.len() > self.max_frame {
                            let len = self.buf.len() + part.len();
                            self.buf.clear();
                            self.state = State::Start;
                            return Some(Frame::Invalid(FrameError::TooLong {
                                len,
                                max: self.max_frame,
                            }));
                        }
                        self.buf.extend_from_slice(part);
                        if self.buf.last() == Some(&b'\r') {
                            self.buf.pop();
                        }
                        self.state = State::Start;
                        return Some(Frame::Message(std::mem::take(&mut self.buf)));
                    }
                    None => {
                        self.pos += rest.len();
                        if self.buf.len() + rest.len() > self.max_frame {
                            let len = self.buf.len() + rest.len();
                            self.buf.clear();
                            self.state = State::SkipLine { len };
                        } else {
                            self.buf.extend_from_slice(rest);
                        }
                    }
                },
                State::Resync => match memchr::memchr(b'\n', rest) {
                    Some(i) => {
                        self.pos += i + 1;
                        self.state = State::Start;
                    }
                    None => self.pos += rest.len(),
                },
                State::SkipLine { len } => match memchr::memchr(b'\n', rest) {
                    Some(i) => {
                        self.pos += i + 1;
                        self.state = State::Start;
                        return Some(Frame::Invalid(FrameError::TooLong {
                            len: len + i,
                            max: self.max_frame,
                        }));
                    }
                    None => {
                        self.pos += rest.len();
                        self.state = State::SkipLine {
                            len: len + rest.len(),
                        };
                    }
                },
            }
        }
    }

    /// End of stream: an LF-framed message without its final LF is still a message (many
    /// senders omit it on close); a cut octet-counted message is reported.
    pub fn finish(&mut self) -> Option<Frame> {
        let state = std::mem::replace(&mut self.state, State::Start);
        let buf = std::mem::take(&mut self.buf);
        match state {
            State::Line if !buf.is_empty() => {
                let mut buf = buf;
                if buf.last() == Some(&b'\r') {
                    buf.pop();
                }
                Some(Frame::Message(buf))
            }
            State::Counted { remaining } => Some(Frame::Invalid(FrameError::BadLength {
                prefix: format!("stream ended {remaining} bytes short of the octet count"),
            })),
            State::Count { .. } => Some(Frame::Invalid(FrameError::BadLength {
                prefix: String::from_utf8_lossy(&buf).into_owned(),
            })),
            State::SkipLine { len } => Some(Frame::Invalid(FrameError::TooLong {
                len,
                max: self.max_frame,
            })),
            _ => None,
        }
    }

    fn compact(&mut self) {
        if self.pos > 0 {
            self.input.drain(..self.pos);
            self.pos = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(chunks: &[&[u8]], max: usize) -> Vec<String> {
        let mut d = Decoder::new(max);
        let mut out = Vec::new();
        for c in chunks {
            d.push(c);
            while let Some(f) = d.next_frame() {
                out.push(render(f));
            }
        }
        out.extend(d.finish().map(render));
        out
    }

    fn render(f: Frame) -> String {
        match f {
            Frame::Message(m) => format!("msg {:?}", String::from_utf8_lossy(&m)),
            Frame::Invalid(e) => format!("invalid {e}"),
        }
    }

    fn check(input: &[u8], max: usize, expect: &str) {
        let got = frames(&[input], max);
        let expect: Vec<&str> = expect
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        assert_eq!(got, expect, "input {:?}", String::from_utf8_lossy(input));
    }

    #[test]
    fn octet_counting_and_lf_framing_mix() {
        check(
            b"9 <13>hello10 <13>a\nb\nc\n<14>plain line\r\n<15>last without lf",
            64,
            r#"msg "<13>hello"
               msg "<13>a\nb\nc\n"
               msg "<14>plain line"
               msg "<15>last without lf""#,
        );
    }

    #[test]
    fn oversized_messages_are_skipped_not_buffered() {
        check(
            b"100 <13>xxxx\n<13>short\n",
            16,
            "invalid message of 100 bytes exceeds the limit of 16 bytes; skipped",
        );
        check(
            b"<13>this line is far too long\n<13>ok\n",
            16,
            r#"invalid message of 29 bytes exceeds the limit of 16 bytes; skipped
               msg "<13>ok""#,
        );
    }

    #[test]
    fn malformed_counts_resynchronize_at_the_next_lf() {
        check(
            b"12x <13>junk\n5 <13>x",
            64,
            r#"invalid malformed octet count "12x"
               msg "<13>x""#,
        );
        check(
            b"99999999999999 <13>x\n<13>y\n",
            64,
            r#"invalid malformed octet count "99999999999"
               msg "<13>y""#,
        );
        check(
            b"20 <13>cut",
            64,
            "invalid malformed octet count \"stream ended 13 bytes short of the octet count\"",
        );
    }

    #[test]
    fn chunking_does_not_change_the_frames() {
        let input = b"11 <13>hello\n<14>two\n3 abc\n\n<15>x\r\n";
        let whole = frames(&[input], 64);
        for cut in 0..input.len() {
            let (a, b) = input.split_at(cut);
            assert_eq!(frames(&[a, b], 64), whole, "cut at {cut}");
        }
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(frames(&bytes, 64), whole);
    }

    proptest::proptest! {
        #[test]
        fn any_chunking_gives_the_same_frames(
            data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400),
            cuts in proptest::collection::vec(0usize..400, 0..8),
            max in 1usize..64,
        ) {
            let whole = frames(&[&data], max);
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(data.len())).collect();
            cuts.sort_unstable();
            let mut chunks = Vec::new();
            let mut at = 0;
            for c in cuts {
                chunks.push(&data[at..c]);
                at = c;
            }
            chunks.push(&data[at..]);
            proptest::prop_assert_eq!(frames(&chunks, max), whole);
        }

        #[test]
        fn octet_counted_messages_round_trip(
            msgs in proptest::collection::vec(proptest::collection::vec(proptest::prelude::any::<u8>(), 1..50), 0..10),
        ) {
            let mut stream = Vec::new();
            for m in &msgs {
                stream.extend_from_slice(format!("{} ", m.len()).as_bytes());
                stream.extend_from_slice(m);
            }
            let mut d = Decoder::new(64);
            d.push(&stream);
            let mut got = Vec::new();
            while let Some(f) = d.next_frame() {
                got.push(f);
            }
            proptest::prop_assert_eq!(d.finish(), None);
            let expect: Vec<Frame> = msgs.into_iter().map(Frame::Message).collect();
            proptest::prop_assert_eq!(got, expect);
        }
    }
}
