//! Traffic Light Protocol 2.0 (FIRST): who may receive shared information.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// TLP 2.0 labels, ordered from least to most restrictive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Tlp {
    /// TLP:CLEAR — no limit on disclosure.
    Clear,
    /// TLP:GREEN — the community, not public channels.
    Green,
    /// TLP:AMBER — the recipient organization and its clients, need to know.
    Amber,
    /// TLP:AMBER+STRICT — the recipient organization only.
    AmberStrict,
    /// TLP:RED — the named recipients only.
    Red,
}

impl Tlp {
    pub const ALL: [Tlp; 5] = [
        Tlp::Clear,
        Tlp::Green,
        Tlp::Amber,
        Tlp::AmberStrict,
        Tlp::Red,
    ];

    /// The label as written in TLP 2.0 (`TLP:AMBER+STRICT`).
    pub fn label(self) -> &'static str {
        match self {
            Tlp::Clear => "TLP:CLEAR",
            Tlp::Green => "TLP:GREEN",
            Tlp::Amber => "TLP:AMBER",
            Tlp::AmberStrict => "TLP:AMBER+STRICT",
            Tlp::Red => "TLP:RED",
        }
    }

    /// The lower-case short form used in files and the API (`amber+strict`).
    pub fn as_str(self) -> &'static str {
        match self {
            Tlp::Clear => "clear",
            Tlp::Green => "green",
            Tlp::Amber => "amber",
            Tlp::AmberStrict => "amber+strict",
            Tlp::Red => "red",
        }
    }

    /// The fixed STIX 2.1 marking-definition id for this TLP 2.0 level (published by OASIS).
    pub fn stix_marking_id(self) -> &'static str {
        match self {
            Tlp::Clear => "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
            Tlp::Green => "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
            Tlp::Amber => "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
            Tlp::AmberStrict => "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
            Tlp::Red => "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
        }
    }

    /// May information of this label be passed to a participant outside the source org?
    pub fn shareable_with_community(self) -> bool {
        self <= Tlp::Green
    }
}

impl fmt::Display for Tlp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown TLP label {0:?} (expected clear, green, amber, amber+strict or red)")]
pub struct UnknownTlp(pub String);

impl FromStr for Tlp {
    type Err = UnknownTlp;
    /// Accepts `TLP:AMBER+STRICT`, `amber+strict`, `tlp:amber-strict`; TLP 1.0's WHITE maps to CLEAR.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim().to_ascii_lowercase();
        let t = t.strip_prefix("tlp:").unwrap_or(&t);
        match t {
            "clear" | "white" => Ok(Tlp::Clear),
            "green" => Ok(Tlp::Green),
            "amber" => Ok(Tlp::Amber),
            "amber+strict" | "amber-strict" | "amber_strict" => Ok(Tlp::AmberStrict),
            "red" => Ok(Tlp::Red),
            _ => Err(UnknownTlp(s.to_owned())),
        }
    }
}

impl Serialize for Tlp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Tlp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_spelling() {
        for t in Tlp::ALL {
            assert_eq!(t.label().parse::<Tlp>(), Ok(t));
            assert_eq!(t.as_str().parse::<Tlp>(), Ok(t));
            let json = serde_json::to_string(&t).unwrap();
            assert_eq!(serde_json::from_str::<Tlp>(&json).unwrap(), t);
        }
        assert_eq!("TLP:WHITE".parse::<Tlp>(), Ok(Tlp::Clear));
        assert!("orange".parse::<Tlp>().is_err());
    }

    #[test]
    fn ordered_by_restriction() {
        assert!(
            Tlp::Clear < Tlp::Green && Tlp::Amber < Tlp::AmberStrict && Tlp::AmberStrict < Tlp::Red
        );
        assert!(Tlp::Green.shareable_with_community());
        assert!(!Tlp::Amber.shareable_with_community());
    }
}
