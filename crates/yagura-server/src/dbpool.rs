//! The threads store calls run on: a fixed number, taking calls strictly in arrival order.
//!
//! Store calls block (SQLite), so they cannot run on the async workers. Handing each to
//! `spawn_blocking` made every concurrent request a blocking thread of its own (200 clients:
//! ~200 threads) racing for the store's four reader connections on mutexes that are not fair:
//! a request could lose the race many times in a row, which is the alert list's long latency
//! tail. Here a call waits in one FIFO queue — as a job, not as a thread — and as many
//! threads as the store has read connections take jobs from its head, so the call that has
//! waited longest is always the next to run, each thread finds a reader free, and a thread
//! busy with a queue behind it takes the next job without sleeping.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Instant;

use crate::latency::LatencyHistogram;

type Job = Box<dyn FnOnce() + Send>;

/// How long store calls waited for a thread and how long they ran (since the last reset).
#[derive(Debug, Default)]
pub struct DbStats {
    /// From the call to the moment a thread started it.
    pub queued: LatencyHistogram,
    /// From its start to its end.
    pub service: LatencyHistogram,
}

impl DbStats {
    pub fn reset(&self) {
        self.queued.reset();
        self.service.reset();
    }
}

struct Queue {
    jobs: VecDeque<Job>,
    /// Threads waiting for a job.
    idle: usize,
    /// Threads started (they start on demand, up to the pool's size).
    started: usize,
    /// Set when the pool is dropped: the threads finish the queue and end.
    closed: bool,
}

struct Shared {
    queue: Mutex<Queue>,
    ready: Condvar,
    stats: DbStats,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        // Jobs run outside the lock and catch their panics: nothing can poison it midway
        // through an update, so a poisoned lock still holds a consistent queue.
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A fixed-size FIFO pool of threads for blocking store calls.
pub(crate) struct DbPool {
    shared: Arc<Shared>,
    size: usize,
}

/// A job's result was not delivered: it panicked.
#[derive(Debug)]
pub(crate) struct JobPanicked;

impl DbPool {
    /// A pool of `size` threads (at least one), started when first needed.
    pub(crate) fn new(size: usize) -> DbPool {
        DbPool {
            shared: Arc::new(Shared {
                queue: Mutex::new(Queue {
                    jobs: VecDeque::new(),
                    idle: 0,
                    started: 0,
                    closed: false,
                }),
                ready: Condvar::new(),
                stats: DbStats::default(),
            }),
            size: size.max(1),
        }
    }

    pub(crate) fn size(&self) -> usize {
        self.size
    }

    pub(crate) fn stats(&self) -> &DbStats {
        &self.shared.stats
    }

    /// Queues `f` behind every call made before and resolves to its result.
    pub(crate) async fn run<T, F>(&self, f: F) -> Result<T, JobPanicked>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let shared = self.shared.clone();
        let queued = Instant::now();
        self.submit(Box::new(move || {
            let start = Instant::now();
            shared.stats.queued.record(start - queued);
            let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
            shared.stats.service.record(start.elapsed());
            // The caller may have gone (client disconnected): nothing to deliver then.
            let _ = tx.send(out);
        }));
        match rx.await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(_)) | Err(_) => Err(JobPanicked),
        }
    }

    fn submit(&self, job: Job) {
        let mut q = self.shared.lock();
        q.jobs.push_back(job);
        if q.idle > 0 {
            // Only a sleeping thread needs waking; a busy one takes the job when it is done.
            drop(q);
            self.shared.ready.notify_one();
        } else if q.started < self.size {
            q.started += 1;
            drop(q);
            let shared = self.shared.clone();
            let spawned = std::thread::Builder::new()
                .name("yagura-db".into())
                .spawn(move || worker(&shared));
            if spawned.is_err() {
                // No thread to be had (resource limits): the threads running already take
                // the job; if there are none, run it here rather than lose it.
                let mut q = self.shared.lock();
                q.started -= 1;
                if q.started == 0 {
                    let job = q.jobs.pop_front();
                    drop(q);
                    if let Some(job) = job {
                        job();
                    }
                }
            }
        }
    }
}

impl Drop for DbPool {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.ready.notify_all();
    }
}

fn worker(shared: &Shared) {
    let mut q = shared.lock();
    loop {
        if let Some(job) = q.jobs.pop_front() {
            drop(q);
            job();
            q = shared.lock();
            continue;
        }
        if q.closed {
            q.started -= 1;
            return;
        }
        q.idle += 1;
        q = shared.ready.wait(q).unwrap_or_else(|p| p.into_inner());
        q.idle -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Jobs are taken from the head of the queue, however many wait.
    #[test]
    fn jobs_run_in_arrival_order() {
        let pool = DbPool::new(1);
        // Hold the thread so that every later job queues.
        let (hold_tx, hold_rx) = std::sync::mpsc::channel::<()>();
        let (held_tx, held_rx) = std::sync::mpsc::channel::<()>();
        pool.submit(Box::new(move || {
            held_tx.send(()).unwrap();
            let _ = hold_rx.recv();
        }));
        held_rx.recv().unwrap();
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        for i in 0..500 {
            let done_tx = done_tx.clone();
            pool.submit(Box::new(move || done_tx.send(i).unwrap()));
        }
        assert_eq!(pool.shared.lock().jobs.len(), 500);
        hold_tx.send(()).unwrap();
        let got: Vec<i32> = (0..500).map(|_| done_rx.recv().unwrap()).collect();
        assert_eq!(got, (0..500).collect::<Vec<_>>());
    }

    /// With one thread, calls through `run` complete exactly in the order they were made.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn run_keeps_call_order() {
        let pool = Arc::new(DbPool::new(1));
        let (hold_tx, hold_rx) = std::sync::mpsc::channel::<()>();
        let (held_tx, held_rx) = std::sync::mpsc::channel::<()>();
        pool.submit(Box::new(move || {
            held_tx.send(()).unwrap();
            let _ = hold_rx.recv();
        }));
        held_rx.recv().unwrap();
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut calls = Vec::new();
        for i in 0..100 {
            let order = order.clone();
            let mut call = Box::pin(pool.run(move || order.lock().unwrap().push(i)));
            // The first poll queues the call (it cannot finish: the thread is held).
            assert!(futures_poll_once(call.as_mut()).await.is_none());
            calls.push(call);
        }
        hold_tx.send(()).unwrap();
        for c in calls {
            c.await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), (0..100).collect::<Vec<_>>());
        assert_eq!(pool.stats().queued.count(), 100);
        assert_eq!(pool.stats().service.count(), 100);
    }

    /// Never more calls run at once than the pool has threads.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn at_most_size_calls_run_at_once() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let pool = Arc::new(DbPool::new(3));
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let mut calls = Vec::new();
        for _ in 0..64 {
            let (pool, running, most) = (pool.clone(), running.clone(), most.clone());
            calls.push(tokio::spawn(async move {
                pool.run(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    std::thread::yield_now();
                    running.fetch_sub(1, Ordering::SeqCst);
                })
                .await
            }));
        }
        for c in calls {
            c.await.unwrap().unwrap();
        }
        assert!(most.load(Ordering::SeqCst) <= 3);
        assert!(pool.shared.lock().started <= 3);
    }

    /// A panicking call is an error for its caller only; the pool goes on.
    #[tokio::test]
    async fn a_panic_is_the_callers_error() {
        let pool = DbPool::new(1);
        let r = pool.run(|| -> u32 { panic!("store call failed") }).await;
        assert!(r.is_err());
        assert_eq!(pool.run(|| 7).await.unwrap(), 7);
    }

    /// Polls a future once: its output if ready.
    async fn futures_poll_once<F: std::future::Future + Unpin>(f: F) -> Option<F::Output> {
        let mut f = f;
        std::future::poll_fn(|cx| {
            std::task::Poll::Ready(match std::pin::Pin::new(&mut f).poll(cx) {
                std::task::Poll::Ready(v) => Some(v),
                std::task::Poll::Pending => None,
            })
        })
        .await
    }
}
