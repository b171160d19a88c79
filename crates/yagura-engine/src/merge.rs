//! Parallel sources, merged in event-time order.
//!
//! Batch detection reads many files at once (parallel across files and cores) but the
//! stateful detectors (beaconing, spraying, correlation) want one stream in event-time order.
//! Each source runs on its own thread and hands batches through a bounded channel; the
//! consumer repeatedly takes the item with the smallest timestamp among the heads of all
//! sources (a k-way merge). Memory is bounded by `sources × (channel depth + 2) × batch size`.
//!
//! The consumer borrows items in place ([`Merged::next_ref`]) instead of taking them: an
//! [`Event`](yagura_model::Event) is ~2 KiB, and moving each one out of its batch and dropping
//! it on the merging thread was half of that thread's time (measured: `memmove` 13 %, `free`
//! and the event's destructor 36 % of the merging thread in `yagura detect`, whose ordered
//! stages are the pipeline's serial part). A batch the consumer is done with goes back to the
//! thread that produced it, which refills its items in place ([`Sink::slot`]) for its next
//! batch: memory is freed (or kept for reuse) where it was allocated, in that thread's
//! allocator caches, and a producer that reads into the slot (`FileReader::next_into`) keeps
//! the items' buffers instead of building, moving and dropping a new item per push.
//!
//! A producer may also hold items back ([`Sink::hold`]) and send them later as one larger
//! batch ([`Sink::send`]); it bounds how many (batch detection holds a few thousand events
//! per file while its detectors load).
//!
//! Order within a source is preserved; sources are expected to be roughly time-ordered (log
//! files are), and the merge never looks ahead further than the heads.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::mpsc::{Receiver, Sender, SyncSender, TryRecvError, channel, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use yagura_model::Timestamp;

/// Items per batch sent from a source thread.
pub const BATCH: usize = 256;
/// Batches buffered per source.
pub const DEPTH: usize = 2;

/// A producer: runs on its own thread and pushes items into the sink it is given.
pub type Producer<T> = Box<dyn FnOnce(&mut Sink<T>) + Send>;

/// Where a producer puts its items (batched, blocking when the consumer is behind).
#[derive(Debug)]
pub struct Sink<T> {
    /// The batch being filled: items `..filled` are this batch's, the rest are items of a
    /// consumed batch waiting to be refilled in place (see [`Sink::slot`]).
    batch: Vec<T>,
    filled: usize,
    tx: SyncSender<Vec<T>>,
    /// Batches the consumer is done with (see the module docs). Unbounded in type, bounded in
    /// fact: only batches this sink sent can come back, and the sink allocates a new one only
    /// when none is waiting here, so at most `DEPTH + 3` vectors (of at most `BATCH` items)
    /// circulate.
    returned: Receiver<Vec<T>>,
    closed: bool,
}

impl<T> Sink<T> {
    /// Pushes one item. Returns false once the consumer has gone away (stop producing).
    pub fn push(&mut self, item: T) -> bool {
        if self.closed {
            return false;
        }
        if self.filled < self.batch.len() {
            self.batch[self.filled] = item;
        } else {
            self.batch.push(item);
        }
        self.commit()
    }

    /// The place of the next item, to be filled in place and then [`Sink::commit`]ted: an
    /// item of a batch the consumer is done with (holding whatever it held: overwrite all of
    /// it) when one is waiting, else `T::default()`. Refilling consumed items saves building,
    /// moving and dropping one per push (an `Event` is ~2 KiB with buffers worth keeping).
    /// Calling it again without `commit` returns the same place.
    pub fn slot(&mut self) -> &mut T
    where
        T: Default,
    {
        if self.filled == self.batch.len() {
            self.batch.push(T::default());
        }
        &mut self.batch[self.filled]
    }

    /// Makes the item last handed out by [`Sink::slot`] (and filled) the next item. Returns
    /// false once the consumer has gone away (stop producing).
    pub fn commit(&mut self) -> bool {
        debug_assert!(self.filled < self.batch.len(), "commit without a slot");
        if self.closed {
            return false;
        }
        self.filled = (self.filled + 1).min(self.batch.len());
        if self.filled >= BATCH {
            self.flush();
        }
        !self.closed
    }

    /// Like [`Sink::commit`], but keeps the item in the sink, unsent, however many are held:
    /// for a producer that must finish the items later ([`Sink::held`]) before they go, e.g.
    /// a reader that parses while its detectors are still loading. The caller bounds how
    /// many it holds, then [`Sink::send`]s them.
    pub fn hold(&mut self) {
        debug_assert!(self.filled < self.batch.len(), "hold without a slot");
        self.filled = (self.filled + 1).min(self.batch.len());
    }

    /// The items committed or held and not yet sent, in order.
    pub fn held(&mut self) -> &mut [T] {
        &mut self.batch[..self.filled]
    }

    /// Sends the items committed or held so far as one batch (blocking while the consumer is
    /// behind). Returns false once the consumer has gone away (stop producing).
    pub fn send(&mut self) -> bool {
        self.flush();
        !self.closed
    }

    fn flush(&mut self) {
        // Items of a consumed batch that were not refilled are not this batch's.
        self.batch.truncate(self.filled);
        if self.batch.is_empty() || self.closed {
            return;
        }
        // A consumed batch keeps its items, refilled by `slot`; those never refilled are
        // dropped here or when the sink goes, on this thread (where they were allocated).
        let spare = self
            .returned
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(BATCH));
        let batch = std::mem::replace(&mut self.batch, spare);
        self.filled = 0;
        if self.tx.send(batch).is_err() {
            self.closed = true;
        }
    }
}

/// One source as the consumer sees it: the batch being read and the way back for it.
#[derive(Debug)]
struct Source<T> {
    rx: Receiver<Vec<T>>,
    /// `None` once the source is exhausted (its thread then stops waiting for returns).
    back: Option<Sender<Vec<T>>>,
    batch: Vec<T>,
    /// Index of the head item in `batch`.
    pos: usize,
}

/// The merged stream; call [`Merged::next_ref`] to consume items in timestamp order.
#[derive(Debug)]
pub struct Merged<T, F> {
    time_of: F,
    sources: Vec<Source<T>>,
    heap: BinaryHeap<Reverse<(Timestamp, usize)>>,
    threads: Vec<JoinHandle<()>>,
    started: bool,
    /// The source whose head `next_ref` handed out last: advanced on the next call, once the
    /// caller's borrow has ended.
    lent: Option<usize>,
    /// Time spent blocked waiting for a source (see [`Merged::waited`]).
    waited: Duration,
}

/// Starts one thread per producer and returns the merged stream.
pub fn merge<T, F>(producers: Vec<Producer<T>>, time_of: F) -> Merged<T, F>
where
    T: Send + 'static,
    F: Fn(&T) -> Timestamp,
{
    let mut sources = Vec::with_capacity(producers.len());
    let mut threads = Vec::with_capacity(producers.len());
    for p in producers {
        let (tx, rx) = sync_channel(DEPTH);
        let (back, returned) = channel();
        sources.push(Source {
            rx,
            back: Some(back),
            batch: Vec::new(),
            pos: 0,
        });
        threads.push(std::thread::spawn(move || {
            let mut sink = Sink {
                batch: Vec::with_capacity(BATCH),
                filled: 0,
                tx,
                returned,
                closed: false,
            };
            p(&mut sink);
            sink.flush();
            let Sink { tx, returned, .. } = sink;
            drop(tx); // end of stream: the consumer sees the source exhausted
            // Free what the consumer hands back until it lets go of this source.
            for consumed in returned.iter() {
                drop(consumed);
            }
        }));
    }
    let n = sources.len();
    Merged {
        time_of,
        sources,
        heap: BinaryHeap::with_capacity(n),
        threads,
        started: false,
        lent: None,
        waited: Duration::ZERO,
    }
}

impl<T, F: Fn(&T) -> Timestamp> Merged<T, F> {
    /// The next item in timestamp order, borrowed in place; `None` when every source is
    /// exhausted. Blocks while the source that must come next has nothing ready.
    pub fn next_ref(&mut self) -> Option<&T> {
        if !self.started {
            self.started = true;
            for i in 0..self.sources.len() {
                if let Some(key) = self.refill(i) {
                    self.heap.push(Reverse(key));
                }
            }
        }
        if let Some(i) = self.lent.take() {
            self.sources[i].pos += 1;
            if let Some(key) = self.refill(i) {
                // Sources are runs of ordered items: while the source just consumed still
                // holds the smallest key, hand out its next item without a trip through the
                // heap (the same order: keys are distinct, ties broken by source index).
                if self.heap.peek().is_none_or(|Reverse(top)| key < *top) {
                    self.lent = Some(i);
                    let source = &self.sources[i];
                    return source.batch.get(source.pos);
                }
                self.heap.push(Reverse(key));
            }
        }
        let Reverse((_, i)) = self.heap.pop()?;
        self.lent = Some(i);
        let source = &self.sources[i];
        source.batch.get(source.pos)
    }

    /// Makes sure source `i` has a head item if it has any left; returns its heap key.
    fn refill(&mut self, i: usize) -> Option<(Timestamp, usize)> {
        let source = &mut self.sources[i];
        while source.pos >= source.batch.len() {
            let consumed = std::mem::take(&mut source.batch);
            source.pos = 0;
            if consumed.capacity() > 0
                && let Some(back) = &source.back
            {
                // A producer that panicked has no receiver: the batch is dropped here.
                let _ = back.send(consumed);
            }
            // Blocks until the source produces a batch or finishes.
            let next = match source.rx.try_recv() {
                Ok(batch) => Ok(batch),
                Err(TryRecvError::Disconnected) => Err(()),
                Err(TryRecvError::Empty) => {
                    let since = Instant::now();
                    let r = source.rx.recv().map_err(|_| ());
                    self.waited += since.elapsed();
                    r
                }
            };
            match next {
                Ok(batch) => source.batch = batch,
                Err(()) => {
                    source.back = None;
                    return None;
                }
            }
        }
        let head = source.batch.get(source.pos)?;
        Some(((self.time_of)(head), i))
    }

    /// Wall time the consumer has spent blocked because the source that had to come next had
    /// nothing ready: when it is a small share of the run, the consumer (not the sources)
    /// bounds the merged stream's rate.
    pub fn waited(&self) -> Duration {
        self.waited
    }

    /// Waits for every source thread (after the stream is exhausted, or to stop early).
    /// Returns the number of producers that panicked.
    pub fn join(self) -> usize {
        let Merged {
            sources, threads, ..
        } = self;
        // Closing both directions ends every source thread: a producer still pushing sees the
        // consumer gone, a finished one stops waiting for returned batches.
        drop(sources);
        threads
            .into_iter()
            .map(JoinHandle::join)
            .filter(Result::is_err)
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain<F: Fn(&(i64, usize)) -> Timestamp>(merged: &mut Merged<(i64, usize), F>) -> Vec<i64> {
        let mut out = Vec::new();
        while let Some(x) = merged.next_ref() {
            out.push(x.0);
        }
        out
    }

    fn producer(times: Vec<i64>) -> Producer<(i64, usize)> {
        Box::new(move |sink| {
            for (k, t) in times.into_iter().enumerate() {
                if !sink.push((t, k)) {
                    return;
                }
            }
        })
    }

    #[test]
    fn merges_sorted_sources_in_order() {
        let a: Vec<i64> = (0..1000).map(|i| i * 3).collect();
        let b: Vec<i64> = (0..700).map(|i| i * 5 + 1).collect();
        let c: Vec<i64> = vec![];
        let mut merged = merge(vec![producer(a), producer(b), producer(c)], |x| {
            Timestamp::from_secs(x.0)
        });
        let out = drain(&mut merged);
        assert_eq!(merged.join(), 0);
        assert_eq!(out.len(), 1700);
        assert!(out.windows(2).all(|w| w[0] <= w[1]));
    }

    /// The order a merge must produce: repeatedly the smallest (head time, source index).
    fn reference(sources: &[Vec<i64>]) -> Vec<(i64, usize, usize)> {
        let mut pos = vec![0; sources.len()];
        let mut out = Vec::new();
        loop {
            let next = (0..sources.len())
                .filter_map(|s| sources[s].get(pos[s]).map(|&t| (t, s)))
                .min();
            let Some((t, s)) = next else { return out };
            out.push((t, s, pos[s]));
            pos[s] += 1;
        }
    }

    #[test]
    fn runs_and_ties_come_out_in_heap_order() {
        // Runs from one source, equal times across sources (ties go to the lower index),
        // unordered stretches, batch boundaries.
        let mut sources: Vec<Vec<i64>> = Vec::new();
        let mut x = 7u64;
        for s in 0..5u64 {
            let mut t = 0i64;
            let v = (0..(600 + 97 * s))
                .map(|_| {
                    x = x
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    match x >> 61 {
                        0 => t -= 3, // out of order
                        1 | 2 => {}  // the same time again
                        _ => t += ((x >> 33) % 5) as i64,
                    }
                    t
                })
                .collect();
            sources.push(v);
        }
        let producers = sources
            .iter()
            .enumerate()
            .map(|(s, v)| {
                let v = v.clone();
                Box::new(move |sink: &mut Sink<(i64, usize, usize)>| {
                    for (k, t) in v.into_iter().enumerate() {
                        if !sink.push((t, s, k)) {
                            return;
                        }
                    }
                }) as Producer<(i64, usize, usize)>
            })
            .collect();
        let mut merged = merge(producers, |x: &(i64, usize, usize)| {
            Timestamp::from_secs(x.0)
        });
        let mut out = Vec::new();
        while let Some(x) = merged.next_ref() {
            out.push(*x);
        }
        assert_eq!(merged.join(), 0);
        assert_eq!(out, reference(&sources));
    }

    #[test]
    fn keeps_per_source_order_when_a_source_is_unordered() {
        let mut merged = merge(vec![producer(vec![5, 1, 9]), producer(vec![2, 3])], |x| {
            Timestamp::from_secs(x.0)
        });
        let out = drain(&mut merged);
        assert_eq!(out, [2, 3, 5, 1, 9]);
    }

    #[test]
    fn consumer_may_stop_early() {
        let long: Vec<i64> = (0..100_000).collect();
        let mut merged = merge(vec![producer(long)], |x| Timestamp::from_secs(x.0));
        assert_eq!(merged.next_ref().map(|x| x.0), Some(0));
        assert_eq!(
            merged.join(),
            0,
            "the producer stops when the consumer leaves"
        );
    }

    #[test]
    fn a_panicking_producer_is_reported_not_hung() {
        let bad: Producer<(i64, usize)> = Box::new(|sink| {
            sink.push((1, 0));
            panic!("reader bug");
        });
        let mut merged = merge(vec![bad, producer(vec![0, 2])], |x| {
            Timestamp::from_secs(x.0)
        });
        let out = drain(&mut merged);
        assert_eq!(out, [0, 2]);
        assert_eq!(merged.join(), 1);
    }

    /// A producer filling slots in place: the consumer sees exactly the items committed, in
    /// order (never a stale item of a recycled batch, nor an uncommitted slot), and items are
    /// recycled rather than created per push.
    #[test]
    fn slots_are_refilled_in_place() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};

        static CREATED: AtomicUsize = AtomicUsize::new(0);
        #[derive(Debug)]
        struct Item {
            t: i64,
            /// A buffer a refill keeps (its capacity survives, its content is rewritten).
            text: String,
        }
        impl Default for Item {
            fn default() -> Self {
                CREATED.fetch_add(1, Ordering::Relaxed);
                Item {
                    t: -1,
                    text: String::new(),
                }
            }
        }
        const N: i64 = 50_000;
        let rejects = Arc::new(AtomicUsize::new(0));
        let r2 = Arc::clone(&rejects);
        let p: Producer<Item> = Box::new(move |sink| {
            for t in 0..N {
                let slot = sink.slot();
                slot.t = t;
                slot.text.clear();
                slot.text.push_str(&t.to_string());
                // Every 7th "record" is a reject: the slot is filled but not committed, and
                // the next record overwrites it.
                if t % 7 == 3 {
                    r2.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                if !sink.commit() {
                    return;
                }
            }
            // A last slot taken but never committed is not sent.
            sink.slot().t = i64::MAX;
        });
        let mut merged = merge(vec![p], |x: &Item| Timestamp::from_secs(x.t));
        let mut out = Vec::new();
        while let Some(x) = merged.next_ref() {
            assert_eq!(x.text, x.t.to_string());
            out.push(x.t);
            // A slow consumer lets batches come back before the producer needs new ones.
            if out.len() % BATCH == 0 {
                std::thread::yield_now();
            }
        }
        assert_eq!(merged.join(), 0);
        let expected: Vec<i64> = (0..N).filter(|t| t % 7 != 3).collect();
        assert_eq!(out, expected);
        assert_eq!(rejects.load(Ordering::Relaxed), (N as usize).div_ceil(7));
        let created = CREATED.load(Ordering::Relaxed);
        assert!(
            created <= (DEPTH + 4) * BATCH,
            "{created} items created for {} pushed",
            out.len()
        );
    }

    /// Items are freed on the thread that produced them, not on the consumer's (the point of
    /// returning consumed batches), and every vector is reused or freed exactly once.
    #[test]
    fn consumed_items_are_dropped_by_their_producer() {
        use std::sync::{Arc, Mutex};
        use std::thread::ThreadId;

        struct Tracked(i64, Arc<Mutex<Vec<ThreadId>>>);
        impl Drop for Tracked {
            fn drop(&mut self) {
                self.1.lock().unwrap().push(std::thread::current().id());
            }
        }
        let drops = Arc::new(Mutex::new(Vec::new()));
        let producers: Vec<Producer<Tracked>> = (0..3)
            .map(|k| {
                let drops = Arc::clone(&drops);
                Box::new(move |sink: &mut Sink<Tracked>| {
                    for t in 0..2_000 {
                        if !sink.push(Tracked(t * 3 + k, Arc::clone(&drops))) {
                            return;
                        }
                    }
                }) as Producer<Tracked>
            })
            .collect();
        let mut merged = merge(producers, |x: &Tracked| Timestamp::from_secs(x.0));
        let mut last = i64::MIN;
        let mut n = 0;
        while let Some(x) = merged.next_ref() {
            assert!(x.0 >= last);
            last = x.0;
            n += 1;
        }
        assert_eq!(merged.join(), 0);
        assert_eq!(n, 6_000);
        let drops = drops.lock().unwrap();
        assert_eq!(drops.len(), 6_000, "every item dropped exactly once");
        let me = std::thread::current().id();
        assert!(
            drops.iter().all(|t| *t != me),
            "no item was dropped on the consuming thread"
        );
    }
}
