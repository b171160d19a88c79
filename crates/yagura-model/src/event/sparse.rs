//! [`Sparse`]: a group of event fields that most events leave empty, kept out of line.
//!
//! An [`crate::Event`] is built, moved and dropped once per log line; groups such as `email`,
//! `winlog` or `tls` are a few hundred bytes each and empty in almost every proxy, DNS or flow
//! event. `Sparse<T>` is one pointer: absent until the first write, it reads as `T`'s default
//! through `Deref` and allocates on the first mutable access, so `ev.email.subject = …` and
//! `ev.tls.client.ja3.as_deref()` read as if the group were inline. Its serde form is `T`'s.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::LazyLock;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A group of fields allocated on first write (see the module docs).
#[derive(Clone)]
pub struct Sparse<T>(Option<Box<T>>);

/// The empty value a [`Sparse`] group reads as before its first write.
pub trait Empty: Default + 'static {
    fn empty() -> &'static Self;
}

macro_rules! empty {
    ($($t:ty),* $(,)?) => {$(
        impl Empty for $t {
            fn empty() -> &'static Self {
                static EMPTY: LazyLock<$t> = LazyLock::new(<$t>::default);
                &EMPTY
            }
        }
    )*};
}

empty!(
    super::Tls,
    super::Email,
    super::File,
    super::Process,
    super::Winlog,
    super::Rule,
);

impl<T> Default for Sparse<T> {
    fn default() -> Self {
        Sparse(None)
    }
}

impl<T> Sparse<T> {
    /// Whether the group was never written (a written group may still hold only defaults).
    pub fn is_unset(&self) -> bool {
        self.0.is_none()
    }

    /// The group if it was ever written (an unset group holds only default values, so a
    /// reader looking for values may skip it without the `Deref` to the shared empty value).
    pub fn get(&self) -> Option<&T> {
        self.0.as_deref()
    }
}

impl<T: Empty + PartialEq> Sparse<T> {
    /// Whether the group holds only default values.
    pub fn is_default(&self) -> bool {
        match &self.0 {
            None => true,
            Some(b) => **b == T::default(),
        }
    }
}

impl<T> From<T> for Sparse<T> {
    fn from(t: T) -> Self {
        Sparse(Some(Box::new(t)))
    }
}

impl<T: Empty> Deref for Sparse<T> {
    type Target = T;
    fn deref(&self) -> &T {
        match &self.0 {
            Some(b) => b,
            None => T::empty(),
        }
    }
}

impl<T: Empty> DerefMut for Sparse<T> {
    fn deref_mut(&mut self) -> &mut T {
        self.0.get_or_insert_with(Box::default)
    }
}

impl<T: Empty + PartialEq> PartialEq for Sparse<T> {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl<T: Empty + fmt::Debug> fmt::Debug for Sparse<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

impl<T: Empty + Serialize> Serialize for Sparse<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        (**self).serialize(s)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Sparse<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        T::deserialize(d).map(|t| Sparse(Some(Box::new(t))))
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Email, Event, Tls};
    use super::*;

    #[test]
    fn reads_default_until_written() {
        let mut e = Event::default();
        assert!(e.email.is_unset());
        assert!(e.email.subject.is_none());
        assert!(e.email.is_unset(), "a read does not allocate");
        e.email.subject = Some("hi".into());
        assert!(!e.email.is_unset());
        assert_eq!(e.email.subject.as_deref(), Some("hi"));
        let mut t: Sparse<Tls> = Sparse::default();
        t.client.ja3 = None;
        assert!(t.is_default() && !t.is_unset());
        assert_eq!(t, Sparse::default());
        let s: Sparse<Email> = Email::default().into();
        assert_eq!(serde_json::to_string(&s).expect("ser"), "{}");
    }
}
