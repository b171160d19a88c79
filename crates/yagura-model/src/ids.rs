//! Identifiers.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize};

use crate::Str;

/// Why an identifier was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("organization id is empty")]
    Empty,
    #[error("organization id {0:?} is longer than 32 characters")]
    TooLong(String),
    #[error("organization id {0:?} may contain only a-z, 0-9 and '-'")]
    InvalidChar(String),
}

/// An organization id: `[a-z0-9-]{1,32}` (DESIGN.md §4).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct OrgId(Str);

impl OrgId {
    pub fn new(id: &str) -> Result<Self, IdError> {
        if id.is_empty() {
            return Err(IdError::Empty);
        }
        if id.len() > 32 {
            return Err(IdError::TooLong(id.to_owned()));
        }
        if !id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(IdError::InvalidChar(id.to_owned()));
        }
        Ok(OrgId(Str::from(id)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for OrgId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for OrgId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        OrgId::new(s)
    }
}

impl AsRef<str> for OrgId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for OrgId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for OrgId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        OrgId::new(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_contract_ids() {
        for ok in ["central", "moh", "a", "city-001", &"x".repeat(32)] {
            assert!(OrgId::new(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn refuses_bad_ids() {
        assert_eq!(OrgId::new(""), Err(IdError::Empty));
        assert!(matches!(
            OrgId::new(&"x".repeat(33)),
            Err(IdError::TooLong(_))
        ));
        for bad in ["MoH", "a_b", "a b", "é", "a.b"] {
            assert!(
                matches!(OrgId::new(bad), Err(IdError::InvalidChar(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn deserialization_validates() {
        assert!(serde_json::from_str::<OrgId>("\"ok-1\"").is_ok());
        assert!(serde_json::from_str::<OrgId>("\"Not OK\"").is_err());
    }
}
