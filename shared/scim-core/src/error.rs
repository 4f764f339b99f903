//! The RFC 7644 §3.12 error response, with a named constructor for every `scimType`.

use serde::{Deserialize, Serialize};

/// The `scimType` detail error keywords of RFC 7644 §3.12 (Table 9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ScimType {
    /// The filter syntax was invalid, or the filter is not supported (400).
    InvalidFilter,
    /// The filter yields more results than the server will process (400).
    TooMany,
    /// One or more unique attribute values are in use (409).
    Uniqueness,
    /// An attempt to modify an immutable attribute (400).
    Mutability,
    /// The request body structure was invalid or did not conform to the schema (400).
    InvalidSyntax,
    /// The PATCH path attribute was invalid or malformed (400).
    InvalidPath,
    /// The PATCH path did not yield an attribute that could be operated on (400).
    NoTarget,
    /// A required value was missing or the value was not compatible (400).
    InvalidValue,
    /// The version number or ETag did not match (400).
    InvalidVers,
    /// The request cannot be completed because of sensitive information in the URI (403).
    Sensitive,
}

impl ScimType {
    /// The keyword as it is written on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ScimType::InvalidFilter => "invalidFilter",
            ScimType::TooMany => "tooMany",
            ScimType::Uniqueness => "uniqueness",
            ScimType::Mutability => "mutability",
            ScimType::InvalidSyntax => "invalidSyntax",
            ScimType::InvalidPath => "invalidPath",
            ScimType::NoTarget => "noTarget",
            ScimType::InvalidValue => "invalidValue",
            ScimType::InvalidVers => "invalidVers",
            ScimType::Sensitive => "sensitive",
        }
    }
}

impl std::fmt::Display for ScimType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An RFC 7644 §3.12 error. `status` is an HTTP status code; on the wire it is a string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status}{}: {detail}", scim_type.map(|t| format!(" {t}")).unwrap_or_default())]
pub struct ScimError {
    /// The HTTP status code.
    pub status: u16,
    /// The `scimType` keyword, where RFC 7644 defines one for the failure.
    pub scim_type: Option<ScimType>,
    /// A human-readable explanation. Never carries secrets.
    pub detail: String,
}

impl ScimError {
    /// An error with any status and no `scimType`.
    pub fn new(status: u16, detail: impl Into<String>) -> Self {
        Self {
            status,
            scim_type: None,
            detail: detail.into(),
        }
    }

    fn typed(status: u16, scim_type: ScimType, detail: impl Into<String>) -> Self {
        Self {
            status,
            scim_type: Some(scim_type),
            detail: detail.into(),
        }
    }

    /// 400 `invalidFilter`.
    pub fn invalid_filter(detail: impl Into<String>) -> Self {
        Self::typed(400, ScimType::InvalidFilter, detail)
    }
    /// 400 `tooMany`.
    pub fn too_many(detail: impl Into<String>) -> Self {
        Self::typed(400, ScimType::TooMany, detail)
    }
    /// 409 `uniqueness`.
    pub fn uniqueness(detail: impl Into<String>) -> Self {
        Self::typed(409, ScimType::Uniqueness, detail)
    }
    /// 400 `mutability`.
    pub fn mutability(detail: impl Into<String>) -> Self {
        Self::typed(400, ScimType::Mutability, detail)
    }
    /// 400 `invalidSyntax`.
    pub fn invalid_syntax(detail: impl Into<String>) -> Self {
        Self::typed(400, ScimType::InvalidSyntax, detail)
    }
    /// 400 `invalidPath`.
    pub fn invalid_path(detail: impl Into<String>) -> Self {
        Self::typed(400, ScimType::InvalidPath, detail)
    }
    /// 400 `noTarget`.
    pub fn no_target(detail: impl Into<String>) -> Self {
        Self::typed(400, ScimType::NoTarget, detail)
    }
    /// 400 `invalidValue`.
    pub fn invalid_value(detail: impl Into<String>) -> Self {
        Self::typed(400, ScimType::InvalidValue, detail)
    }
    /// 400 `invalidVers`.
    pub fn invalid_vers(detail: impl Into<String>) -> Self {
        Self::typed(400, ScimType::InvalidVers, detail)
    }
    /// 403 `sensitive`.
    pub fn sensitive(detail: impl Into<String>) -> Self {
        Self::typed(403, ScimType::Sensitive, detail)
    }
    /// 401, for a missing or wrong bearer token.
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(401, detail)
    }
    /// 403, for an authenticated caller that may not do this.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(403, detail)
    }
    /// 404, for a resource or endpoint that does not exist.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(404, detail)
    }
    /// 405, for a method the endpoint does not support.
    pub fn method_not_allowed(detail: impl Into<String>) -> Self {
        Self::new(405, detail)
    }
    /// 409 without `scimType`, for conflicts other than uniqueness.
    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(409, detail)
    }
    /// 412, for an `If-Match` precondition that failed (RFC 7644 §3.14).
    pub fn precondition_failed(detail: impl Into<String>) -> Self {
        Self::new(412, detail)
    }
    /// 413, for a body larger than the server accepts.
    pub fn payload_too_large(detail: impl Into<String>) -> Self {
        Self::new(413, detail)
    }
    /// 415, for a body that is not JSON.
    pub fn unsupported_media_type(detail: impl Into<String>) -> Self {
        Self::new(415, detail)
    }
    /// 429, for a caller that must slow down.
    pub fn too_many_requests(detail: impl Into<String>) -> Self {
        Self::new(429, detail)
    }
    /// 500, with a generic detail: internal causes are logged, not returned.
    pub fn internal(detail: impl Into<String>) -> Self {
        Self::new(500, detail)
    }
    /// 501, for an operation the service provider does not implement.
    pub fn not_implemented(detail: impl Into<String>) -> Self {
        Self::new(501, detail)
    }
    /// 503, for a dependency that is unavailable.
    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self::new(503, detail)
    }
}

/// The wire form: `status` as a string (RFC 7644 §3.12). Reading is lenient, because
/// Okta's examples send `status` as a number and Identity Center adds keys of its own.
#[derive(Serialize, Deserialize)]
struct WireError {
    #[serde(default)]
    schemas: Vec<String>,
    #[serde(rename = "scimType", skip_serializing_if = "Option::is_none", default)]
    scim_type: Option<ScimType>,
    #[serde(default)]
    detail: Option<String>,
    status: WireStatus,
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum WireStatus {
    Text(String),
    Number(u16),
}

impl Serialize for ScimError {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        WireError {
            schemas: vec![crate::ERROR_SCHEMA.to_owned()],
            scim_type: self.scim_type,
            detail: Some(self.detail.clone()),
            status: WireStatus::Text(self.status.to_string()),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for ScimError {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let wire = WireError::deserialize(deserializer)?;
        let status = match wire.status {
            WireStatus::Number(n) => n,
            WireStatus::Text(s) => s
                .trim()
                .parse()
                .map_err(|_| serde::de::Error::custom("error status is not an HTTP status code"))?,
        };
        Ok(Self {
            status,
            scim_type: wire.scim_type,
            detail: wire.detail.unwrap_or_default(),
        })
    }
}
