//! MITRE ATT&CK technique ids (`T1071`, `T1071.001`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize};

use crate::Str;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct AttackId(Str);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an ATT&CK technique id (expected T#### or T####.###)")]
pub struct InvalidAttackId(pub String);

impl AttackId {
    /// Parses `T1071.001`, also `t1071.001` and Sigma's tag form `attack.t1071.001`.
    pub fn parse(s: &str) -> Result<AttackId, InvalidAttackId> {
        let t = s.strip_prefix("attack.").unwrap_or(s);
        let b = t.as_bytes();
        let valid = match b.len() {
            5 => matches!(b[0], b'T' | b't') && b[1..].iter().all(u8::is_ascii_digit),
            9 => {
                matches!(b[0], b'T' | b't')
                    && b[1..5].iter().all(u8::is_ascii_digit)
                    && b[5] == b'.'
                    && b[6..].iter().all(u8::is_ascii_digit)
            }
            _ => false,
        };
        if !valid {
            return Err(InvalidAttackId(s.to_owned()));
        }
        Ok(AttackId(Str::from(t.to_ascii_uppercase())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The parent technique (`T1071` for `T1071.001`).
    pub fn technique(&self) -> &str {
        &self.0[..5]
    }
}

impl fmt::Display for AttackId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for AttackId {
    type Err = InvalidAttackId;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AttackId::parse(s)
    }
}

impl<'de> Deserialize<'de> for AttackId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        AttackId::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ids_and_sigma_tags() {
        assert_eq!(AttackId::parse("T1071.001").unwrap().as_str(), "T1071.001");
        assert_eq!(
            AttackId::parse("attack.t1059.001").unwrap().as_str(),
            "T1059.001"
        );
        assert_eq!(AttackId::parse("t1110").unwrap().technique(), "T1110");
        for bad in [
            "attack.execution",
            "T10",
            "T1071.1",
            "X1071",
            "attack.g0016",
            "T1071.0a1",
        ] {
            assert!(AttackId::parse(bad).is_err(), "{bad}");
        }
    }
}
