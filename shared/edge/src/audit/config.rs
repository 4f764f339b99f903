//! The `audit-api` function's configuration, read once per cold start from the
//! environment. As for the SCIM function, variables carry secret ids, never secrets.
//!
//! | variable | required | meaning |
//! |---|---|---|
//! | `AUDIT_TABLE_NAME` | yes | the audit table |
//! | `AUDIT_KEY_SECRET_ID` | yes | the secret holding the audit HMAC key(s), to verify the trail |
//! | `JWT_ISSUER` | yes | the Okta authorization server's issuer, e.g. `https://example.okta.com/oauth2/aus1234` |
//! | `JWT_AUDIENCE` | yes | the audience its access tokens carry for the audit API |
//! | `JWT_REQUIRED_GROUP` | yes | the group an auditor must be in |
//! | `JWT_GROUP_CLAIM` | no | the claim holding the groups, default `groups` |
//! | `JWKS_URL` | no | where the issuer's keys are, default `{JWT_ISSUER}/v1/keys` |
//! | `SECRET_CACHE_TTL_SECS` | no | how long the audit key is cached before a re-read, default 300 |

use std::time::Duration;

use crate::config::{ConfigError, DEFAULT_SECRET_CACHE_TTL};

/// The configuration of the `audit-api` function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditConfig {
    /// The audit table's name.
    pub table_name: String,
    /// The id (ARN or name) of the secret holding the audit key(s).
    pub key_secret_id: String,
    /// The exact `iss` of accepted tokens.
    pub jwt_issuer: String,
    /// The `aud` of accepted tokens.
    pub jwt_audience: String,
    /// The group an auditor must be in.
    pub jwt_required_group: String,
    /// The claim holding the groups, when not `groups`.
    pub jwt_group_claim: Option<String>,
    /// The key set's URL, when not `{issuer}/v1/keys`.
    pub jwks_url: Option<String>,
    /// How long the audit key is cached.
    pub secret_cache_ttl: Duration,
}

impl AuditConfig {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup` (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let required = |name: &'static str| get(name).ok_or(ConfigError::Missing(name));
        let jwt_issuer = required("JWT_ISSUER")?;
        if !jwt_issuer.starts_with("https://") && !is_loopback_http(&jwt_issuer) {
            return Err(ConfigError::Invalid("JWT_ISSUER", "expected an https URL"));
        }
        let jwks_url = get("JWKS_URL");
        if jwks_url
            .as_deref()
            .is_some_and(|u| !u.starts_with("https://") && !is_loopback_http(u))
        {
            return Err(ConfigError::Invalid("JWKS_URL", "expected an https URL"));
        }
        let secret_cache_ttl = match get("SECRET_CACHE_TTL_SECS") {
            None => DEFAULT_SECRET_CACHE_TTL,
            Some(v) => match v.parse::<u64>() {
                Ok(n) if n > 0 => Duration::from_secs(n),
                _ => {
                    return Err(ConfigError::Invalid(
                        "SECRET_CACHE_TTL_SECS",
                        "expected a positive whole number",
                    ));
                }
            },
        };
        Ok(Self {
            table_name: required("AUDIT_TABLE_NAME")?,
            key_secret_id: required("AUDIT_KEY_SECRET_ID")?,
            jwt_issuer,
            jwt_audience: required("JWT_AUDIENCE")?,
            jwt_required_group: required("JWT_REQUIRED_GROUP")?,
            jwt_group_claim: get("JWT_GROUP_CLAIM"),
            jwks_url,
            secret_cache_ttl,
        })
    }
}

/// `http://127.0.0.1…` or `http://localhost…`: a local issuer (`cargo lambda watch`).
fn is_loopback_http(url: &str) -> bool {
    [
        "http://127.0.0.1:",
        "http://127.0.0.1/",
        "http://localhost:",
        "http://localhost/",
        "http://[::1]",
    ]
    .iter()
    .any(|p| url.starts_with(p))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    const REQUIRED: [(&str, &str); 5] = [
        ("AUDIT_TABLE_NAME", "scimgw-audit"),
        (
            "AUDIT_KEY_SECRET_ID",
            "arn:aws:secretsmanager:us-east-1:1:secret:audit-key",
        ),
        ("JWT_ISSUER", "https://example.okta.com/oauth2/aus1"),
        ("JWT_AUDIENCE", "api://scimgw-audit"),
        ("JWT_REQUIRED_GROUP", "scimgw-auditors"),
    ];

    fn config(pairs: &[(&str, &str)]) -> Result<AuditConfig, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        AuditConfig::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn the_required_variables_alone_give_the_defaults() {
        let config = config(&REQUIRED).unwrap();
        assert_eq!(config.table_name, "scimgw-audit");
        assert_eq!((config.jwks_url, config.jwt_group_claim), (None, None));
        assert_eq!(config.secret_cache_ttl, DEFAULT_SECRET_CACHE_TTL);
    }

    #[test]
    fn each_required_variable_is_named_when_missing_and_urls_must_be_https() {
        for i in 0..REQUIRED.len() {
            let mut pairs = REQUIRED.to_vec();
            let (name, _) = pairs.remove(i);
            assert_eq!(config(&pairs), Err(ConfigError::Missing(name)));
        }
        let mut pairs = REQUIRED.to_vec();
        pairs.push(("JWKS_URL", "http://example.okta.com/keys"));
        assert!(matches!(
            config(&pairs),
            Err(ConfigError::Invalid("JWKS_URL", _))
        ));
        let mut pairs = REQUIRED.to_vec();
        pairs.extend([
            ("JWKS_URL", "http://127.0.0.1:8080/keys"),
            ("JWT_GROUP_CLAIM", "auditGroups"),
        ]);
        let config = config(&pairs).unwrap();
        assert_eq!(
            config.jwks_url.as_deref(),
            Some("http://127.0.0.1:8080/keys")
        );
        assert_eq!(config.jwt_group_claim.as_deref(), Some("auditGroups"));
    }
}
