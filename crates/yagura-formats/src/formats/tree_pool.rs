//! The buffers of the borrowed JSON tree ([`J`]) kept from one record to the next.
//!
//! A record parsed into [`J`] costs a vector per object and per array, and a `String` per
//! string holding an escape (a Windows path), each allocated at the parse and freed when the
//! tree is dropped: 8–12 allocations per Windows or EVE record. A tree returned by
//! [`super::json::borrowed_object`] is a [`Tree`], which at its drop empties every vector and
//! string of it into a per-thread [`Pool`] (capacity kept); the next parse on the thread takes
//! its vectors and strings from there. In steady state (records of similar shapes) a parse
//! allocates nothing.
//!
//! The tree borrows from its line, the pool outlives every line: an emptied vector is given
//! the pool's lifetime by collecting it into itself (`into_iter().filter_map(..).collect()`,
//! which the standard library does in place, reusing the allocation, when the element types
//! have the same size and alignment; `relabel_keeps_the_buffer` checks it does), and handed
//! back to a parse as it is (the tree's types are covariant). No `unsafe`.
//! The pool is bounded ([`MAX_KEPT`] buffers of each kind, none larger than [`MAX_CAP`]
//! elements or [`MAX_STR`] bytes), so an odd huge record does not pin its memory.

use std::borrow::Cow;
use std::cell::RefCell;
use std::ops::{Deref, DerefMut};

use super::json::{J, Obj};

/// At most this many buffers of each kind (objects, arrays, strings) are kept per thread.
const MAX_KEPT: usize = 256;
/// Vectors with room for more elements than this are freed, not kept.
const MAX_CAP: usize = 256;
/// Strings with room for more bytes than this are freed, not kept.
const MAX_STR: usize = 4096;

/// Emptied buffers of earlier trees.
#[derive(Debug, Default)]
pub(crate) struct Pool {
    objs: Vec<Obj<'static>>,
    arrs: Vec<Vec<J<'static>>>,
    strs: Vec<String>,
}

thread_local! {
    static POOL: RefCell<Pool> = const {
        RefCell::new(Pool {
            objs: Vec::new(),
            arrs: Vec::new(),
            strs: Vec::new(),
        })
    };
}

/// [`super::json_fast::parse`] with this thread's pool (or without one, when it is not
/// reachable: in use further up the stack, or the thread is ending).
pub(crate) fn parse(line: &str, top_cap: usize) -> Option<J<'_>> {
    let mut out = None;
    let _ = POOL.try_with(|p| {
        if let Ok(mut pool) = p.try_borrow_mut() {
            out = Some(super::json_fast::parse_in(line, top_cap, &mut pool));
        }
    });
    match out {
        Some(parsed) => parsed,
        None => super::json_fast::parse(line, top_cap),
    }
}

/// An empty array with room for `cap` values, from this thread's pool.
pub(crate) fn arr<'a>(cap: usize) -> Vec<J<'a>> {
    let mut out = None;
    let _ = POOL.try_with(|p| {
        if let Ok(mut pool) = p.try_borrow_mut() {
            out = Some(pool.arr(cap));
        }
    });
    out.unwrap_or_else(|| Vec::with_capacity(cap))
}

/// Keeps the buffers of `j` in this thread's pool (or frees them, when it is not reachable).
pub(crate) fn put(j: J<'_>) {
    let _ = POOL.try_with(|p| {
        if let Ok(mut pool) = p.try_borrow_mut() {
            pool.put(j);
        }
    });
}

/// Keeps the buffers of `o` in this thread's pool (or frees them, when it is not reachable).
pub(crate) fn recycle(o: Obj<'_>) {
    let _ = POOL.try_with(|p| {
        if let Ok(mut pool) = p.try_borrow_mut() {
            pool.put_obj(o);
        }
    });
}

/// `v` emptied, as a vector of pairs that outlives the line (same allocation).
///
/// Only this direction needs a conversion: a vector of the pool is handed to a parse as it
/// is (`Vec<(Cow<'static, str>, J<'static>)>` is a `Vec<(Cow<'a, str>, J<'a>)>`, the types
/// being covariant). The conversion is the standard library's in-place collection (~80
/// instructions per buffer: less than a `malloc` and a `free`; the workspace forbids the
/// `unsafe` `from_raw_parts` that would make it free).
// (`filter` would keep the element type, lifetime included: the map is the point.)
#[allow(clippy::unnecessary_filter_map)]
fn relabel_obj(v: Obj<'_>) -> Obj<'static> {
    v.into_iter().filter_map(|_| None).collect()
}

/// `v` emptied, as a vector of values that outlives the line (same allocation).
#[allow(clippy::unnecessary_filter_map)]
fn relabel_arr(v: Vec<J<'_>>) -> Vec<J<'static>> {
    v.into_iter().filter_map(|_| None).collect()
}

impl Pool {
    /// An empty object with room for `cap` pairs.
    pub(crate) fn obj<'a>(&mut self, cap: usize) -> Obj<'a> {
        match self.objs.pop() {
            Some(mut v) => {
                v.reserve(cap);
                v
            }
            None => Vec::with_capacity(cap),
        }
    }

    /// An empty array with room for `cap` values.
    pub(crate) fn arr<'a>(&mut self, cap: usize) -> Vec<J<'a>> {
        match self.arrs.pop() {
            Some(mut v) => {
                v.reserve(cap);
                v
            }
            None => Vec::with_capacity(cap),
        }
    }

    /// An empty string with room for `cap` bytes.
    pub(crate) fn string(&mut self, cap: usize) -> String {
        match self.strs.pop() {
            Some(mut s) => {
                s.reserve(cap);
                s
            }
            None => String::with_capacity(cap),
        }
    }

    /// Keeps the buffers of `j` (recursively).
    pub(crate) fn put(&mut self, j: J<'_>) {
        match j {
            J::Obj(o) => self.put_obj(o),
            J::Arr(a) => self.put_arr(a),
            J::Str(Cow::Owned(s)) => self.put_str(s),
            _ => {}
        }
    }

    /// Keeps the buffers of `o` and of everything in it.
    pub(crate) fn put_obj(&mut self, mut o: Obj<'_>) {
        for (k, v) in o.drain(..) {
            if let Cow::Owned(s) = k {
                self.put_str(s);
            }
            self.put(v);
        }
        if o.capacity() != 0 && o.capacity() <= MAX_CAP && self.objs.len() < MAX_KEPT {
            self.objs.push(relabel_obj(o));
        }
    }

    fn put_arr(&mut self, mut a: Vec<J<'_>>) {
        for v in a.drain(..) {
            self.put(v);
        }
        if a.capacity() != 0 && a.capacity() <= MAX_CAP && self.arrs.len() < MAX_KEPT {
            self.arrs.push(relabel_arr(a));
        }
    }

    fn put_str(&mut self, mut s: String) {
        if s.capacity() != 0 && s.capacity() <= MAX_STR && self.strs.len() < MAX_KEPT {
            s.clear();
            self.strs.push(s);
        }
    }
}

/// A record's top-level object; at its drop its buffers go to this thread's [`Pool`].
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Tree<'a>(pub(crate) Obj<'a>);

impl<'a> Tree<'a> {
    /// `f` of the object as a [`J`] value (without a copy).
    pub(crate) fn as_j<R>(&mut self, f: impl FnOnce(&J<'a>) -> R) -> R {
        let j = J::Obj(std::mem::take(&mut self.0));
        let r = f(&j);
        if let J::Obj(o) = j {
            self.0 = o;
        }
        r
    }
}

impl<'a> Deref for Tree<'a> {
    type Target = Obj<'a>;
    fn deref(&self) -> &Obj<'a> {
        &self.0
    }
}

impl DerefMut for Tree<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl Drop for Tree<'_> {
    fn drop(&mut self) {
        let o = std::mem::take(&mut self.0);
        if o.capacity() != 0 {
            recycle(o);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relabel_keeps_the_buffer() {
        let mut o: Obj<'_> = Vec::with_capacity(40);
        o.push((Cow::Borrowed("k"), J::Null));
        o.clear();
        let (ptr, cap) = (o.as_ptr() as usize, o.capacity());
        let r = relabel_obj(o);
        assert_eq!((r.as_ptr() as usize, r.capacity()), (ptr, cap));
        let a: Vec<J<'_>> = Vec::with_capacity(9);
        let (ptr, cap) = (a.as_ptr() as usize, a.capacity());
        let r = relabel_arr(a);
        assert_eq!((r.as_ptr() as usize, r.capacity()), (ptr, cap));
    }

    #[test]
    fn buffers_come_back() {
        let mut pool = Pool::default();
        let text = r#"{"a":{"b":[1,"x\"y"],"c\n":{}},"d":[]}"#.to_owned();
        let tree = super::super::json_fast::parse_in(&text, 32, &mut pool);
        let Some(J::Obj(o)) = tree else {
            panic!("not parsed");
        };
        pool.put_obj(o);
        // The top object, `a`, `b`; `b`'s array; the escaped string and key. (`{}` and `[]`
        // own no buffer.)
        assert_eq!(
            (pool.objs.len(), pool.arrs.len(), pool.strs.len()),
            (2, 1, 2)
        );
        let again = super::super::json_fast::parse_in(&text, 32, &mut pool);
        assert_eq!(again, super::super::json_fast::parse(&text, 32));
        assert_eq!(
            (pool.objs.len(), pool.arrs.len(), pool.strs.len()),
            (0, 0, 0)
        );
    }

    #[test]
    fn huge_buffers_are_not_kept() {
        let mut pool = Pool::default();
        let mut o: Obj<'_> = Vec::with_capacity(MAX_CAP + 1);
        o.push((Cow::Owned("x".repeat(MAX_STR + 1)), J::Null));
        pool.put_obj(o);
        assert_eq!((pool.objs.len(), pool.strs.len()), (0, 0));
    }
}
