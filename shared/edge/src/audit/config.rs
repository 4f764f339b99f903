//! The `audit-api` function's and the `sealer`'s configuration, read once per cold start
//! from the environment. Variables carry key ids, never key material: what a function
//! can do with a key is its IAM grant (`docs/audit-table.md`, "Who holds what").
//!
//! [`AuditConfig`] (`audit-api`):
//!
//! | variable | required | meaning |
//! |---|---|---|
//! | `AUDIT_TABLE_NAME` | yes | the audit table |
//! | `AUDIT_MAC_KEY_IDS` | yes | comma-separated KMS HMAC keys (ARNs) whose MACs are accepted, the current one first; the function needs `kms:VerifyMac` on them |
//! | `AUDIT_SEAL_KEY_IDS` | yes | comma-separated KMS signing keys (ARNs) whose seals are accepted, the current one first; the function needs `kms:GetPublicKey` on them |
//! | `AUDIT_ANCHOR_BUCKET` | yes | the S3 bucket holding the seals' write-once anchors; the function needs `s3:GetObject` and `s3:ListBucket` |
//! | `AUDIT_READS_QUEUE_URL` | yes | the queue that takes a note of every read (`gateway::audit_reads`); the function needs `sqs:SendMessage` |
//! | `JWT_ISSUER` | yes | the Okta authorization server's issuer, e.g. `https://example.okta.com/oauth2/aus1234` |
//! | `JWT_AUDIENCE` | yes | the audience its access tokens carry for the audit API |
//! | `JWT_REQUIRED_GROUP` | yes | the group an auditor must be in |
//! | `JWT_REQUIRED_SCOPE` | yes | the scope an auditor's token must carry (in `scp` or `scope`), e.g. `scimgw.audit.read`: one scope token, no spaces |
//! | `JWT_ALLOWED_CLIENT_IDS` | no | comma-separated OAuth client ids (`cid` or `client_id`) whose tokens are accepted, e.g. `0oa1abc,0oa2def`; unset or empty: any client |
//! | `JWT_GROUP_CLAIM` | no | the claim holding the groups, default `groups` |
//! | `JWKS_URL` | no | where the issuer's keys are, default `{JWT_ISSUER}/v1/keys` |
//! | `AUDIT_CONSOLE_CLIENT_ID` | no | the OAuth client id of the auditor console (`/audit/ui`, an Okta single-page app); unset: the console says it is not set up |
//!
//! [`SealerConfig`] (`sealer`): `AUDIT_TABLE_NAME`, `AUDIT_SEAL_KEY_IDS` (the first signs:
//! `kms:Sign`; all need `kms:GetPublicKey`), `AUDIT_MAC_KEY_IDS` (for the daily
//! verification: `kms:VerifyMac`), `AUDIT_ANCHOR_BUCKET` (`s3:PutObject`,
//! `s3:PutObjectRetention`, `s3:GetObject`, `s3:ListBucket`) and `AUDIT_RETENTION_DAYS`
//! (as for the writers: default 400, at least 365).
//!
//! [`ReadNotesConfig`] (`event-worker`, which appends the notes of reads):
//! `AUDIT_READS_QUEUE_ARN` (the reads queue, told apart from the events queue by the
//! records' `eventSourceARN`) and `AUDIT_API_ROLE_ID` (the audit API role's unique id,
//! `AROA…`: notes sent under it name the auditor the API authenticated).

use std::time::Duration;

use crate::config::{ConfigError, audit_retention, id_list};

/// The configuration of the `audit-api` function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditConfig {
    /// The audit table's name.
    pub table_name: String,
    /// The MAC keys whose MACs are accepted, the current one first.
    pub mac_key_ids: Vec<String>,
    /// The seal keys whose seals are accepted, the current one first.
    pub seal_key_ids: Vec<String>,
    /// The bucket of seal anchors.
    pub anchor_bucket: String,
    /// The queue that takes a note of every read.
    pub reads_queue_url: String,
    /// The exact `iss` of accepted tokens.
    pub jwt_issuer: String,
    /// The `aud` of accepted tokens.
    pub jwt_audience: String,
    /// The group an auditor must be in.
    pub jwt_required_group: String,
    /// The scope an auditor's token must carry.
    pub jwt_required_scope: String,
    /// The OAuth clients whose tokens are accepted; empty: any.
    pub jwt_allowed_client_ids: Vec<String>,
    /// The claim holding the groups, when not `groups`.
    pub jwt_group_claim: Option<String>,
    /// The key set's URL, when not `{issuer}/v1/keys`.
    pub jwks_url: Option<String>,
    /// The auditor console's OAuth client id, when it is set up.
    pub console_client_id: Option<String>,
}

/// The configuration of the `sealer` function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealerConfig {
    /// The audit table's name.
    pub table_name: String,
    /// The seal keys: the first signs, all are accepted when reading earlier seals.
    pub seal_key_ids: Vec<String>,
    /// The MAC keys whose MACs the daily verification accepts.
    pub mac_key_ids: Vec<String>,
    /// The bucket of seal anchors.
    pub anchor_bucket: String,
    /// The records' retention (the seals outlive it by the bookkeeping margin).
    pub retention: Duration,
}

/// What the `event-worker` needs to append the notes of reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadNotesConfig {
    /// The reads queue's ARN.
    pub queue_arn: String,
    /// The audit API role's unique id.
    pub audit_api_role_id: String,
}

impl ReadNotesConfig {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup` (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &'static str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
                .ok_or(ConfigError::Missing(name))
        };
        let queue_arn = get("AUDIT_READS_QUEUE_ARN")?;
        if !queue_arn.starts_with("arn:") {
            return Err(ConfigError::Invalid(
                "AUDIT_READS_QUEUE_ARN",
                "expected an SQS queue ARN",
            ));
        }
        Ok(Self {
            queue_arn,
            audit_api_role_id: get("AUDIT_API_ROLE_ID")?,
        })
    }
}

impl SealerConfig {
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
        Ok(Self {
            table_name: get("AUDIT_TABLE_NAME").ok_or(ConfigError::Missing("AUDIT_TABLE_NAME"))?,
            seal_key_ids: id_list(get("AUDIT_SEAL_KEY_IDS"), "AUDIT_SEAL_KEY_IDS")?,
            mac_key_ids: id_list(get("AUDIT_MAC_KEY_IDS"), "AUDIT_MAC_KEY_IDS")?,
            anchor_bucket: get("AUDIT_ANCHOR_BUCKET")
                .ok_or(ConfigError::Missing("AUDIT_ANCHOR_BUCKET"))?,
            retention: audit_retention(get("AUDIT_RETENTION_DAYS"))?,
        })
    }
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
        let jwt_required_scope = required("JWT_REQUIRED_SCOPE")?;
        if !is_scope_token(&jwt_required_scope) {
            return Err(ConfigError::Invalid(
                "JWT_REQUIRED_SCOPE",
                "expected one scope token, without spaces",
            ));
        }
        let jwt_allowed_client_ids: Vec<String> = get("JWT_ALLOWED_CLIENT_IDS")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|id| !id.is_empty())
            .map(str::to_owned)
            .collect();
        if jwt_allowed_client_ids
            .iter()
            .any(|id| id.contains(char::is_whitespace))
        {
            return Err(ConfigError::Invalid(
                "JWT_ALLOWED_CLIENT_IDS",
                "expected client ids separated by commas",
            ));
        }
        let console_client_id = get("AUDIT_CONSOLE_CLIENT_ID");
        if console_client_id
            .as_deref()
            .is_some_and(|id| id.contains(char::is_whitespace) || id.contains(','))
        {
            return Err(ConfigError::Invalid(
                "AUDIT_CONSOLE_CLIENT_ID",
                "expected one client id, without spaces",
            ));
        }
        Ok(Self {
            table_name: required("AUDIT_TABLE_NAME")?,
            mac_key_ids: id_list(get("AUDIT_MAC_KEY_IDS"), "AUDIT_MAC_KEY_IDS")?,
            seal_key_ids: id_list(get("AUDIT_SEAL_KEY_IDS"), "AUDIT_SEAL_KEY_IDS")?,
            anchor_bucket: required("AUDIT_ANCHOR_BUCKET")?,
            reads_queue_url: required("AUDIT_READS_QUEUE_URL")?,
            jwt_issuer,
            jwt_audience: required("JWT_AUDIENCE")?,
            jwt_required_group: required("JWT_REQUIRED_GROUP")?,
            jwt_required_scope,
            jwt_allowed_client_ids,
            jwt_group_claim: get("JWT_GROUP_CLAIM"),
            jwks_url,
            console_client_id,
        })
    }
}

/// One OAuth scope token (RFC 6749 §3.3): printable ASCII other than space, `"` and `\`.
fn is_scope_token(scope: &str) -> bool {
    !scope.is_empty()
        && scope
            .bytes()
            .all(|b| matches!(b, 0x21 | 0x23..=0x5B | 0x5D..=0x7E))
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

    const MAC_KEY: &str = "arn:aws:kms:us-east-1:1:key/mac";

    const REQUIRED: [(&str, &str); 9] = [
        (
            "AUDIT_READS_QUEUE_URL",
            "https://sqs.us-east-1.amazonaws.com/1/scimgw-audit-reads",
        ),
        ("AUDIT_TABLE_NAME", "scimgw-audit"),
        ("AUDIT_MAC_KEY_IDS", MAC_KEY),
        ("AUDIT_SEAL_KEY_IDS", "arn:aws:kms:us-east-1:1:key/seal"),
        ("AUDIT_ANCHOR_BUCKET", "scimgw-anchors"),
        ("JWT_ISSUER", "https://example.okta.com/oauth2/aus1"),
        ("JWT_AUDIENCE", "api://scimgw-audit"),
        ("JWT_REQUIRED_GROUP", "scimgw-auditors"),
        ("JWT_REQUIRED_SCOPE", "scimgw.audit.read"),
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
        assert_eq!(config.console_client_id, None);
        assert_eq!(config.mac_key_ids, [MAC_KEY]);
        assert_eq!(config.jwt_required_scope, "scimgw.audit.read");
        assert!(config.jwt_allowed_client_ids.is_empty(), "any client");
    }

    #[test]
    fn the_console_client_id_is_one_id() {
        let mut pairs = REQUIRED.to_vec();
        pairs.push(("AUDIT_CONSOLE_CLIENT_ID", " 0oa1console "));
        assert_eq!(
            config(&pairs).unwrap().console_client_id.as_deref(),
            Some("0oa1console")
        );
        for bad in ["0oa1,0oa2", "two ids"] {
            let mut pairs = REQUIRED.to_vec();
            pairs.push(("AUDIT_CONSOLE_CLIENT_ID", bad));
            assert!(
                matches!(
                    config(&pairs),
                    Err(ConfigError::Invalid("AUDIT_CONSOLE_CLIENT_ID", _))
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn the_scope_is_one_scope_token() {
        for bad in ["two scopes", "quo\"te", "back\\slash", "tab\tbed"] {
            let mut pairs = REQUIRED.to_vec();
            pairs.retain(|(k, _)| *k != "JWT_REQUIRED_SCOPE");
            pairs.push(("JWT_REQUIRED_SCOPE", bad));
            assert!(
                matches!(
                    config(&pairs),
                    Err(ConfigError::Invalid("JWT_REQUIRED_SCOPE", _))
                ),
                "{bad:?}"
            );
        }
        let mut pairs = REQUIRED.to_vec();
        pairs.retain(|(k, _)| *k != "JWT_REQUIRED_SCOPE");
        pairs.push(("JWT_REQUIRED_SCOPE", "  audit:read "));
        assert_eq!(config(&pairs).unwrap().jwt_required_scope, "audit:read");
    }

    #[test]
    fn allowed_client_ids_are_a_comma_separated_list_and_empty_means_any() {
        let with = |value: &str| {
            let mut pairs = REQUIRED.to_vec();
            pairs.push(("JWT_ALLOWED_CLIENT_IDS", value));
            config(&pairs)
        };
        assert_eq!(with("0oa1abc").unwrap().jwt_allowed_client_ids, ["0oa1abc"]);
        assert_eq!(
            with(" 0oa1abc , 0oa2def,").unwrap().jwt_allowed_client_ids,
            ["0oa1abc", "0oa2def"]
        );
        for any in ["", "  ", ","] {
            assert!(
                with(any).unwrap().jwt_allowed_client_ids.is_empty(),
                "{any:?}"
            );
        }
        assert!(matches!(
            with("0oa1abc 0oa2def"),
            Err(ConfigError::Invalid("JWT_ALLOWED_CLIENT_IDS", _))
        ));
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

    #[test]
    fn key_lists_take_the_current_key_first_and_refuse_empty_entries() {
        let with = |value: &str| {
            let mut pairs = REQUIRED.to_vec();
            pairs.retain(|(k, _)| *k != "AUDIT_MAC_KEY_IDS");
            pairs.push(("AUDIT_MAC_KEY_IDS", value));
            config(&pairs)
        };
        assert_eq!(with("new, old").unwrap().mac_key_ids, ["new", "old"]);
        assert!(matches!(
            with("new,,old"),
            Err(ConfigError::Invalid("AUDIT_MAC_KEY_IDS", _))
        ));
    }

    #[test]
    fn the_sealer_refuses_a_retention_below_the_floor() {
        let sealer = |days: &str| {
            let map: HashMap<&str, &str> = [
                ("AUDIT_TABLE_NAME", "t"),
                ("AUDIT_SEAL_KEY_IDS", "seal"),
                ("AUDIT_MAC_KEY_IDS", "mac"),
                ("AUDIT_ANCHOR_BUCKET", "b"),
                ("AUDIT_RETENTION_DAYS", days),
            ]
            .into();
            SealerConfig::from_lookup(|name| map.get(name).map(|v| (*v).to_owned()))
        };
        assert_eq!(
            sealer("365").unwrap().retention,
            Duration::from_secs(365 * 86_400)
        );
        assert!(matches!(
            sealer("30"),
            Err(ConfigError::Invalid("AUDIT_RETENTION_DAYS", _))
        ));
    }

    #[test]
    fn the_worker_needs_the_reads_queue_and_the_audit_apis_role() {
        let read = |pairs: &[(&'static str, &'static str)]| {
            let map: HashMap<&str, &str> = pairs.iter().copied().collect();
            ReadNotesConfig::from_lookup(|name| map.get(name).map(|v| (*v).to_owned()))
        };
        let arn = (
            "AUDIT_READS_QUEUE_ARN",
            "arn:aws:sqs:us-east-1:1:scimgw-audit-reads",
        );
        let role = ("AUDIT_API_ROLE_ID", "AROAEXAMPLE");
        assert_eq!(
            read(&[arn, role]).unwrap(),
            ReadNotesConfig {
                queue_arn: arn.1.into(),
                audit_api_role_id: role.1.into(),
            }
        );
        assert!(matches!(
            read(&[arn]),
            Err(ConfigError::Missing("AUDIT_API_ROLE_ID"))
        ));
        assert!(matches!(
            read(&[("AUDIT_READS_QUEUE_ARN", "scimgw-audit-reads"), role]),
            Err(ConfigError::Invalid("AUDIT_READS_QUEUE_ARN", _))
        ));
    }
}
