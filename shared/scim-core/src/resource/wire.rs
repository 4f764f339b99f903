//! Lenient readings of single values on the wire: booleans sent as strings, and the
//! `password` secret that must never reach a log line.

use std::fmt;

use serde::de::{self, Deserializer, Unexpected, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// `true`/`false` in any ASCII case, as Identity Center's own PATCH example sends `active`.
pub(crate) fn parse_bool_text(text: &str) -> Option<bool> {
    if text.eq_ignore_ascii_case("true") {
        Some(true)
    } else if text.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// Reads an optional boolean from a JSON bool or the strings `"true"`/`"false"`;
/// use with `#[serde(default, deserialize_with = "lenient_bool")]`. Writing is the
/// derived one, so a bool always goes out.
pub(crate) fn lenient_bool<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<bool>, D::Error> {
    deserializer.deserialize_any(LenientBool)
}

struct LenientBool;

impl<'de> Visitor<'de> for LenientBool {
    type Value = Option<bool>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a boolean, or the string \"true\" or \"false\"")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Some(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        parse_bool_text(v)
            .map(Some)
            .ok_or_else(|| E::invalid_value(Unexpected::Str(v), &self))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(LenientBool)
    }
}

/// A cleartext password (RFC 7643 §4.1.1, `mutability: writeOnly`, `returned: never`).
/// `Debug` never shows it, and a value of the wrong type is refused without echoing it.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// Wraps a cleartext password.
    pub fn new(cleartext: impl Into<String>) -> Self {
        Self(cleartext.into())
    }

    /// The cleartext, for the one place that must forward it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

impl Serialize for Password {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Password {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Through `Value` so that serde's own "invalid type: integer `…`" message, which
        // quotes the value, never forms.
        match serde_json::Value::deserialize(deserializer)? {
            serde_json::Value::String(s) => Ok(Self(s)),
            _ => Err(de::Error::custom("password must be a string")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Flag {
        #[serde(default, deserialize_with = "lenient_bool")]
        flag: Option<bool>,
    }

    #[test]
    fn a_boolean_reads_from_a_bool_a_string_or_null() {
        let table = [
            (r#"{"flag": true}"#, Some(true)),
            (r#"{"flag": "false"}"#, Some(false)),
            (r#"{"flag": "TRUE"}"#, Some(true)),
            (r#"{"flag": null}"#, None),
            (r#"{}"#, None),
        ];
        for (input, expected) in table {
            assert_eq!(
                serde_json::from_str::<Flag>(input).unwrap().flag,
                expected,
                "{input}"
            );
        }
    }

    #[test]
    fn a_boolean_refuses_other_strings_and_numbers() {
        for input in [r#"{"flag": "yes"}"#, r#"{"flag": 1}"#] {
            assert!(serde_json::from_str::<Flag>(input).is_err(), "{input}");
        }
    }

    #[test]
    fn a_password_of_the_wrong_type_is_refused_without_echoing_it() {
        // Act
        let error = serde_json::from_str::<Password>("918273645").unwrap_err();

        // Assert
        assert!(!error.to_string().contains("918273645"));
    }

    #[test]
    fn a_password_is_redacted_in_debug() {
        assert_eq!(
            format!("{:?}", Password::new("hunter2")),
            "Password(<redacted>)"
        );
    }
}
