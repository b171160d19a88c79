#![no_main]
//! Syslog stream framing on arbitrary bytes: no panic, no message over the limit, and the same
//! frames whatever the chunking (the first byte picks the chunk size and the limit).
use libfuzzer_sys::fuzz_target;
use yagura_ingest::{Decoder, Frame};

fn decode(chunks: &mut dyn Iterator<Item = &[u8]>, max: usize) -> Vec<Frame> {
    let mut d = Decoder::new(max);
    let mut out = Vec::new();
    for c in chunks {
        d.push(c);
        while let Some(f) = d.next_frame() {
            if let Frame::Message(m) = &f {
                assert!(m.len() <= max, "message of {} bytes over the limit {max}", m.len());
            }
            out.push(f);
        }
        assert!(d.buffered() <= max + c.len() + 16, "decoder holds {} bytes", d.buffered());
    }
    out.extend(d.finish());
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&knob, data)) = data.split_first() else { return };
    let max = usize::from(knob % 64) + 1;
    let chunk = usize::from(knob / 64) + 1;
    let whole = decode(&mut std::iter::once(data), max);
    let chunked = decode(&mut data.chunks(chunk), max);
    assert_eq!(whole, chunked);
});
