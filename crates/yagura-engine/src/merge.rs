//! Parallel sources, merged in event-time order.
//!
//! Batch detection reads many files at once (parallel across files and cores) but the
//! stateful detectors (beaconing, spraying, correlation) want one stream in event-time order.
//! Each source runs on its own thread and hands batches through a bounded channel; the
//! consumer repeatedly takes the item with the smallest timestamp among the heads of all
//! sources (a k-way merge). Memory is bounded by `sources × channel depth × batch size`.
//!
//! Order within a source is preserved; sources are expected to be roughly time-ordered (log
//! files are), and the merge never looks ahead further than the heads.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

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
    batch: Vec<T>,
    tx: SyncSender<Vec<T>>,
    closed: bool,
}

impl<T> Sink<T> {
    /// Pushes one item. Returns false once the consumer has gone away (stop producing).
    pub fn push(&mut self, item: T) -> bool {
        if self.closed {
            return false;
        }
        self.batch.push(item);
        if self.batch.len() >= BATCH {
            self.flush();
        }
        !self.closed
    }

    fn flush(&mut self) {
        if self.batch.is_empty() || self.closed {
            return;
        }
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH));
        if self.tx.send(batch).is_err() {
            self.closed = true;
        }
    }
}

/// The merged stream; iterate it to consume items in timestamp order.
#[derive(Debug)]
pub struct Merged<T, F> {
    time_of: F,
    rx: Vec<Receiver<Vec<T>>>,
    buffers: Vec<VecDeque<T>>,
    heap: BinaryHeap<Reverse<(Timestamp, usize)>>,
    threads: Vec<JoinHandle<()>>,
    started: bool,
}

/// Starts one thread per producer and returns the merged stream.
pub fn merge<T, F>(producers: Vec<Producer<T>>, time_of: F) -> Merged<T, F>
where
    T: Send + 'static,
    F: Fn(&T) -> Timestamp,
{
    let mut rx = Vec::with_capacity(producers.len());
    let mut threads = Vec::with_capacity(producers.len());
    for p in producers {
        let (tx, r) = sync_channel(DEPTH);
        rx.push(r);
        threads.push(std::thread::spawn(move || {
            let mut sink = Sink {
                batch: Vec::with_capacity(BATCH),
                tx,
                closed: false,
            };
            p(&mut sink);
            sink.flush();
        }));
    }
    let n = rx.len();
    Merged {
        time_of,
        rx,
        buffers: (0..n).map(|_| VecDeque::new()).collect(),
        heap: BinaryHeap::with_capacity(n),
        threads,
        started: false,
    }
}

impl<T, F: Fn(&T) -> Timestamp> Merged<T, F> {
    /// Makes sure source `i` has a head item if it has any left; pushes it on the heap.
    fn refill(&mut self, i: usize) {
        if self.buffers[i].is_empty() {
            // Blocks until the source produces a batch or finishes.
            if let Ok(batch) = self.rx[i].recv() {
                self.buffers[i].extend(batch);
            }
        }
        if let Some(head) = self.buffers[i].front() {
            self.heap.push(Reverse(((self.time_of)(head), i)));
        }
    }

    /// Waits for every source thread (after the stream is exhausted). Returns the number of
    /// producers that panicked.
    pub fn join(self) -> usize {
        drop(self.rx);
        self.threads
            .into_iter()
            .map(JoinHandle::join)
            .filter(Result::is_err)
            .count()
    }
}

impl<T, F: Fn(&T) -> Timestamp> Iterator for Merged<T, F> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        if !self.started {
            self.started = true;
            for i in 0..self.rx.len() {
                self.refill(i);
            }
        }
        let Reverse((_, i)) = self.heap.pop()?;
        let item = self.buffers[i].pop_front();
        self.refill(i);
        item
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let merged = merge(vec![producer(a), producer(b), producer(c)], |x| {
            Timestamp::from_secs(x.0)
        });
        let out: Vec<i64> = merged.map(|x| x.0).collect();
        assert_eq!(out.len(), 1700);
        assert!(out.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn keeps_per_source_order_when_a_source_is_unordered() {
        let merged = merge(vec![producer(vec![5, 1, 9]), producer(vec![2, 3])], |x| {
            Timestamp::from_secs(x.0)
        });
        let out: Vec<i64> = merged.map(|x| x.0).collect();
        assert_eq!(out, [2, 3, 5, 1, 9]);
    }

    #[test]
    fn consumer_may_stop_early() {
        let long: Vec<i64> = (0..100_000).collect();
        let mut merged = merge(vec![producer(long)], |x| Timestamp::from_secs(x.0));
        assert_eq!(merged.next().map(|x| x.0), Some(0));
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
        let out: Vec<i64> = merged.by_ref().map(|x| x.0).collect();
        assert_eq!(out, [0, 2]);
        assert_eq!(merged.join(), 1);
    }
}
