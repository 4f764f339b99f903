//! The functions' configuration, read once per cold start from the environment.
//! Variables carry secret ids (ARNs or names), never secret values. [`Config`] is the
//! `scim-api` function's (and, but for the inbound tokens, the `event-worker`'s and the
//! `reconciler`'s); [`EventsConfig`] adds what the event-hook path needs, and
//! [`ReconcileConfig`] what the scheduled reconciler needs.
//!
//! | variable | required | meaning |
//! |---|---|---|
//! | `TARGET_BASE_URL` | yes | the target's SCIM base URL, e.g. `https://scim.us-east-1.amazonaws.com/<tenant>/scim/v2` |
//! | `TARGET_TOKEN_SECRET_ID` | yes | the secret holding the target's bearer token (plain string) |
//! | `SCIM_TOKENS_SECRET_ID` | yes | the secret holding the inbound tokens' hashes (see [`crate::auth`]) |
//! | `TARGET_DIALECT` | no | `identity-center` (default) or `scim` for a plain RFC 7644 server |
//! | `REQUEST_BUDGET_MS` | no | time allowed for the target calls of one request, default 20000 |
//! | `SECRET_CACHE_TTL_SECS` | no | how long secrets are cached before a re-read, default 300 |
//! | `ALLOW_CROSS_REGION_TARGET` | no | `true` lets the function run in another region than Identity Center's SCIM endpoint (default `false`: refused at start-up, since it is most likely a stack deployed in the wrong region) |
//! | `AUDIT_TABLE_NAME` | yes | the audit table |
//! | `AUDIT_MAC_KEY_ID` | yes | the KMS HMAC key (ARN) that MACs audit records; the function needs `kms:GenerateMac` on it, nothing more |
//! | `AUDIT_RETENTION_DAYS` | no | how long audit records are kept (the audit table's TTL), default 400, at least 365 (the retention floor) |
//! | `PUBLIC_BASE_URL` | no | the gateway's SCIM base URL as clients see it (for `Location` and `meta.location`); derived from the request when unset |
//! | `STATE_TABLE_NAME` | no | the state table, where the mirror of Identity Center's users and groups is kept (`aws_adapters::DynamoDbMirror`, GetItem/PutItem/DeleteItem); when unset, each Lambda instance keeps its own mirror in memory |
//! | `MIRROR_RETENTION_DAYS` | no | how long a mirror entry is kept after its last write (the state table's TTL), default 30 |

use std::time::Duration;

pub use gateway::TargetDialect;

/// The configuration of the `scim-api` function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The target's SCIM base URL.
    pub target_base_url: String,
    /// The id (ARN or name) of the secret holding the target's token.
    pub target_token_secret_id: String,
    /// The id (ARN or name) of the secret holding the inbound tokens' hashes.
    pub scim_tokens_secret_id: String,
    /// The target's dialect.
    pub target_dialect: TargetDialect,
    /// The time allowed for the target calls of one request, retries included.
    pub request_budget: Duration,
    /// How long a secret is cached before it is read again.
    pub secret_cache_ttl: Duration,
    /// The gateway's public SCIM base URL, when it cannot be derived from requests.
    pub public_base_url: Option<String>,
    /// The audit table every request is recorded in.
    pub audit_table_name: String,
    /// The KMS HMAC key (ARN or alias) that MACs audit records: the writers' power.
    pub audit_mac_key_id: String,
    /// How long audit records are kept before DynamoDB's TTL expires them.
    pub audit_retention: Duration,
    /// The state table holding the mirror of Identity Center; `None`: an in-memory
    /// mirror per Lambda instance.
    pub state_table_name: Option<String>,
    /// How long a mirror entry in the state table is kept after its last write.
    pub mirror_retention: Duration,
}

/// A configuration the function cannot start with. Messages name the variable, and
/// never repeat its value, in case a secret was put there by mistake.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A required variable is unset or empty.
    #[error("config: {0} is not set")]
    Missing(&'static str),
    /// A variable's value is not of the expected form.
    #[error("config: {0} is invalid: {1}")]
    Invalid(&'static str, &'static str),
}

/// The default request budget: below API Gateway's 29-second integration timeout and
/// Okta's SCIM timeout, with room for the gateway's own work.
pub const DEFAULT_REQUEST_BUDGET: Duration = Duration::from_secs(20);

/// The default TTL of cached secrets, short enough that a rotation takes effect quickly.
pub const DEFAULT_SECRET_CACHE_TTL: Duration = Duration::from_secs(300);

/// The default audit retention: 400 days, a year and a quarter for annual audits.
pub const DEFAULT_AUDIT_RETENTION_DAYS: u64 = 400;

/// The default retention of mirror entries: 30 days after their last write, so that the
/// entries of users and groups deleted behind the gateway's back do not pile up.
pub const DEFAULT_MIRROR_RETENTION_DAYS: u64 = 30;

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// The `event-worker`'s and the `reconciler`'s configuration: the same variables but
    /// the inbound tokens (`scim_tokens_secret_id` is left empty: they serve no SCIM
    /// client).
    pub fn worker_from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        Self::read(lookup, false)
    }

    /// Reads the configuration through `lookup` (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Self::read(lookup, true)
    }

    /// Reads the configuration; `inbound`: whether the inbound tokens' secret is needed.
    fn read(lookup: impl Fn(&str) -> Option<String>, inbound: bool) -> Result<Self, ConfigError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let required = |name: &'static str| get(name).ok_or(ConfigError::Missing(name));

        let target_base_url = required("TARGET_BASE_URL")?;
        if !is_http_url(&target_base_url) {
            return Err(ConfigError::Invalid(
                "TARGET_BASE_URL",
                "expected an http(s) URL",
            ));
        }
        let public_base_url = get("PUBLIC_BASE_URL");
        if public_base_url.as_deref().is_some_and(|u| !is_http_url(u)) {
            return Err(ConfigError::Invalid(
                "PUBLIC_BASE_URL",
                "expected an http(s) URL",
            ));
        }
        let target_dialect = match get("TARGET_DIALECT") {
            None => TargetDialect::IdentityCenter,
            Some(name) => name.parse().map_err(|_| {
                ConfigError::Invalid("TARGET_DIALECT", "expected `identity-center` or `scim`")
            })?,
        };
        // Identity Center's SCIM endpoint names its region
        // (`https://scim.<region>.amazonaws.com/…`); a function elsewhere works but pays
        // the distance on every call, and is most likely a stack deployed in the wrong
        // region, which the template cannot refuse. Lambda sets AWS_REGION.
        let cross_region_allowed = match get("ALLOW_CROSS_REGION_TARGET").as_deref() {
            None | Some("false") => false,
            Some("true") => true,
            Some(_) => {
                return Err(ConfigError::Invalid(
                    "ALLOW_CROSS_REGION_TARGET",
                    "expected `true` or `false`",
                ));
            }
        };
        if let (TargetDialect::IdentityCenter, Some(here), Some(there)) = (
            target_dialect,
            get("AWS_REGION"),
            scim_endpoint_region(&target_base_url),
        ) && here != there
            && !cross_region_allowed
        {
            return Err(ConfigError::Invalid(
                "TARGET_BASE_URL",
                "Identity Center's SCIM endpoint is in another region than this function: \
                 deploy the stack in Identity Center's region, or set ALLOW_CROSS_REGION_TARGET \
                 (the AllowCrossRegionTarget parameter) to true",
            ));
        }
        Ok(Self {
            target_base_url,
            target_token_secret_id: required("TARGET_TOKEN_SECRET_ID")?,
            scim_tokens_secret_id: if inbound {
                required("SCIM_TOKENS_SECRET_ID")?
            } else {
                String::new()
            },
            target_dialect,
            request_budget: positive(get("REQUEST_BUDGET_MS"), "REQUEST_BUDGET_MS")?
                .map_or(DEFAULT_REQUEST_BUDGET, Duration::from_millis),
            secret_cache_ttl: positive(get("SECRET_CACHE_TTL_SECS"), "SECRET_CACHE_TTL_SECS")?
                .map_or(DEFAULT_SECRET_CACHE_TTL, Duration::from_secs),
            public_base_url: public_base_url.map(|u| u.trim_end_matches('/').to_owned()),
            audit_table_name: required("AUDIT_TABLE_NAME")?,
            audit_mac_key_id: required("AUDIT_MAC_KEY_ID")?,
            audit_retention: audit_retention(get("AUDIT_RETENTION_DAYS"))?,
            state_table_name: get("STATE_TABLE_NAME"),
            mirror_retention: Duration::from_secs(
                positive(get("MIRROR_RETENTION_DAYS"), "MIRROR_RETENTION_DAYS")?
                    .unwrap_or(DEFAULT_MIRROR_RETENTION_DAYS)
                    .saturating_mul(86_400),
            ),
        })
    }
}

/// The event-hook path's configuration (`okta-hook` and `event-worker`):
///
/// | variable | required | meaning |
/// |---|---|---|
/// | `STATE_TABLE_NAME` | yes | the state table, where event uuids are recorded (`EVENT#<uuid>` items) |
/// | `EVENTS_QUEUE_URL` | yes | the SQS FIFO queue from the hook to the worker |
/// | `HOOK_SECRET_ID` | hook | the secret holding the hashes of the hook's shared secret(s), in the inbound tokens' format ([`crate::auth`]) |
/// | `OKTA_ORG_URL` | worker | the Okta org, e.g. `https://example.okta.com` |
/// | `OKTA_TOKEN_SECRET_ID` | worker | the secret holding the Okta API token (SSWS, read-only admin) |
/// | `EVENTS_MAX_RECEIVES` | no | the queue's redrive limit (`maxReceiveCount`), default 5: the attempt that reaches it is the last before the dead-letter queue |
/// | `EVENT_RETENTION_DAYS` | no | how long an event uuid is remembered (duplicates within it are dropped), default 14 |
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventsConfig {
    /// The state table.
    pub state_table_name: String,
    /// The events queue's URL.
    pub queue_url: String,
    /// The hook-secret secret's id (the hook's).
    pub hook_secret_id: Option<String>,
    /// The Okta org URL (the worker's).
    pub okta_org_url: Option<String>,
    /// The Okta API token secret's id (the worker's).
    pub okta_token_secret_id: Option<String>,
    /// The queue's redrive limit.
    pub max_receives: u32,
    /// How long an event uuid is remembered.
    pub retention: Duration,
}

/// The default redrive limit: five attempts, over about five minutes of backoff.
pub const DEFAULT_EVENTS_MAX_RECEIVES: u32 = 5;

/// The default time event uuids are remembered: Okta retries within seconds, but a
/// batch may be redelivered late; two weeks is far beyond anything observed.
pub const DEFAULT_EVENT_RETENTION_DAYS: u64 = 14;

impl EventsConfig {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let okta_org_url = get("OKTA_ORG_URL");
        if okta_org_url.as_deref().is_some_and(|u| !is_http_url(u)) {
            return Err(ConfigError::Invalid(
                "OKTA_ORG_URL",
                "expected an http(s) URL",
            ));
        }
        let max_receives = positive(get("EVENTS_MAX_RECEIVES"), "EVENTS_MAX_RECEIVES")?.map_or(
            Ok(DEFAULT_EVENTS_MAX_RECEIVES),
            |n| {
                u32::try_from(n).map_err(|_| {
                    ConfigError::Invalid("EVENTS_MAX_RECEIVES", "expected a small number")
                })
            },
        )?;
        Ok(Self {
            state_table_name: get("STATE_TABLE_NAME")
                .ok_or(ConfigError::Missing("STATE_TABLE_NAME"))?,
            queue_url: get("EVENTS_QUEUE_URL").ok_or(ConfigError::Missing("EVENTS_QUEUE_URL"))?,
            hook_secret_id: get("HOOK_SECRET_ID"),
            okta_org_url: okta_org_url.map(|u| u.trim_end_matches('/').to_owned()),
            okta_token_secret_id: get("OKTA_TOKEN_SECRET_ID"),
            max_receives,
            retention: Duration::from_secs(
                positive(get("EVENT_RETENTION_DAYS"), "EVENT_RETENTION_DAYS")?
                    .unwrap_or(DEFAULT_EVENT_RETENTION_DAYS)
                    .saturating_mul(86_400),
            ),
        })
    }
}

/// The scheduled reconciler's configuration (the target, the audit trail and the mirror
/// come from [`Config::worker_from_lookup`]):
///
/// | variable | required | meaning |
/// |---|---|---|
/// | `STATE_TABLE_NAME` | yes | the state table: the active rule set, and the mirror the run refreshes |
/// | `OKTA_ORG_URL` | yes | the Okta org, e.g. `https://example.okta.com` |
/// | `OKTA_TOKEN_SECRET_ID` | yes | the secret holding the Okta API token (SSWS, read-only admin) |
/// | `RECONCILE_MODE` | no | `report` (default): plan and report the drift; `apply`: also apply the plan within the safety rules |
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReconcileConfig {
    /// The state table.
    pub state_table_name: String,
    /// The Okta org URL, without a trailing slash.
    pub okta_org_url: String,
    /// The Okta API token secret's id.
    pub okta_token_secret_id: String,
    /// Whether a run applies its plan.
    pub mode: ReconcileMode,
}

/// What a scheduled reconcile run does with its plan.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ReconcileMode {
    /// Report the drift (audit record and metrics), change nothing: the default, so that
    /// a new deployment shows what it would do before it does it.
    #[default]
    Report,
    /// Apply the plan's changes too, within the safety rules.
    Apply,
}

impl ReconcileMode {
    /// The variable's value for this mode.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Report => "report",
            Self::Apply => "apply",
        }
    }
}

impl ReconcileConfig {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let required = |name: &'static str| get(name).ok_or(ConfigError::Missing(name));
        let okta_org_url = required("OKTA_ORG_URL")?;
        if !is_http_url(&okta_org_url) {
            return Err(ConfigError::Invalid(
                "OKTA_ORG_URL",
                "expected an http(s) URL",
            ));
        }
        let mode = match get("RECONCILE_MODE").as_deref() {
            None | Some("report") => ReconcileMode::Report,
            Some("apply") => ReconcileMode::Apply,
            Some(_) => {
                return Err(ConfigError::Invalid(
                    "RECONCILE_MODE",
                    "expected `report` or `apply`",
                ));
            }
        };
        Ok(Self {
            state_table_name: required("STATE_TABLE_NAME")?,
            okta_org_url: okta_org_url.trim_end_matches('/').to_owned(),
            okta_token_secret_id: required("OKTA_TOKEN_SECRET_ID")?,
            mode,
        })
    }
}

/// The region of an Identity Center SCIM endpoint, `https://scim.<region>.amazonaws.com/…`;
/// `None` for any other URL.
pub fn scim_endpoint_region(url: &str) -> Option<String> {
    let host = url.strip_prefix("https://")?.split('/').next()?;
    let region = host.strip_prefix("scim.")?.strip_suffix(".amazonaws.com")?;
    let plain = !region.is_empty()
        && region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    plain.then(|| region.to_owned())
}

fn is_http_url(url: &str) -> bool {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    rest.is_some_and(|r| !r.is_empty() && !r.starts_with('/') && !r.contains(char::is_whitespace))
}

/// A positive whole number.
/// `AUDIT_RETENTION_DAYS`: the default, or a value no lower than the retention floor
/// (`gateway::audit_store::ledger::RETENTION_FLOOR`), below which `verify` would report
/// every record.
pub(crate) fn audit_retention(value: Option<String>) -> Result<Duration, ConfigError> {
    let days = positive(value, "AUDIT_RETENTION_DAYS")?.unwrap_or(DEFAULT_AUDIT_RETENTION_DAYS);
    let floor = gateway::audit_store::ledger::RETENTION_FLOOR
        .whole_days()
        .unsigned_abs();
    if days < floor {
        return Err(ConfigError::Invalid(
            "AUDIT_RETENTION_DAYS",
            "must be at least 365, the audit retention floor",
        ));
    }
    Ok(Duration::from_secs(days.saturating_mul(86_400)))
}

/// A comma-separated list of ids, none empty.
pub(crate) fn id_list(
    value: Option<String>,
    name: &'static str,
) -> Result<Vec<String>, ConfigError> {
    let value = value.ok_or(ConfigError::Missing(name))?;
    let ids: Vec<String> = value.split(',').map(|v| v.trim().to_owned()).collect();
    if ids.iter().any(String::is_empty) {
        return Err(ConfigError::Invalid(
            name,
            "expected comma-separated key ids, none empty",
        ));
    }
    Ok(ids)
}

fn positive(value: Option<String>, name: &'static str) -> Result<Option<u64>, ConfigError> {
    value
        .map(|v| match v.parse::<u64>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(ConfigError::Invalid(
                name,
                "expected a positive whole number",
            )),
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    const REQUIRED: [(&str, &str); 5] = [
        (
            "TARGET_BASE_URL",
            "https://scim.us-east-1.amazonaws.com/t-1/scim/v2",
        ),
        (
            "TARGET_TOKEN_SECRET_ID",
            "arn:aws:secretsmanager:us-east-1:1:secret:ic",
        ),
        (
            "SCIM_TOKENS_SECRET_ID",
            "arn:aws:secretsmanager:us-east-1:1:secret:in",
        ),
        ("AUDIT_TABLE_NAME", "scimgw-audit"),
        (
            "AUDIT_MAC_KEY_ID",
            "arn:aws:secretsmanager:us-east-1:1:secret:audit-key",
        ),
    ];

    #[test]
    fn the_events_configuration_needs_the_table_and_the_queue_and_checks_the_rest() {
        let lookup = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        const BASE: &[(&str, &str)] = &[
            ("STATE_TABLE_NAME", "state"),
            ("EVENTS_QUEUE_URL", "http://q"),
        ];
        let config = EventsConfig::from_lookup(lookup(BASE)).unwrap();
        assert_eq!(config.max_receives, DEFAULT_EVENTS_MAX_RECEIVES);
        assert_eq!(config.retention, Duration::from_secs(14 * 86_400));
        assert_eq!(
            EventsConfig::from_lookup(lookup(&[("STATE_TABLE_NAME", "state")])),
            Err(ConfigError::Missing("EVENTS_QUEUE_URL"))
        );
        assert!(
            EventsConfig::from_lookup(lookup(&[
                ("STATE_TABLE_NAME", "state"),
                ("EVENTS_QUEUE_URL", "http://q"),
                ("OKTA_ORG_URL", "example.okta.com"),
            ]))
            .is_err()
        );
        let worker = Config::worker_from_lookup(lookup(&[
            ("TARGET_BASE_URL", "https://scim.example/v2"),
            ("TARGET_TOKEN_SECRET_ID", "t"),
            ("AUDIT_TABLE_NAME", "a"),
            ("AUDIT_MAC_KEY_ID", "k"),
        ]))
        .unwrap();
        assert!(worker.scim_tokens_secret_id.is_empty());
    }

    #[test]
    fn the_reconcile_configuration_needs_the_table_and_okta_and_reports_by_default() {
        // Arrange
        let lookup = |pairs: Vec<(&'static str, &'static str)>| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        let base = vec![
            ("STATE_TABLE_NAME", "state"),
            ("OKTA_ORG_URL", "https://example.okta.com/"),
            ("OKTA_TOKEN_SECRET_ID", "okta"),
        ];
        let with = |extra: (&'static str, &'static str)| {
            let mut pairs: Vec<_> = base
                .iter()
                .filter(|(k, _)| *k != extra.0)
                .copied()
                .collect();
            pairs.push(extra);
            ReconcileConfig::from_lookup(lookup(pairs))
        };

        // Act
        let config = ReconcileConfig::from_lookup(lookup(base.clone())).unwrap();

        // Assert
        assert_eq!(config.mode, ReconcileMode::Report);
        assert_eq!(config.okta_org_url, "https://example.okta.com");
        assert_eq!(
            with(("RECONCILE_MODE", "apply")).unwrap().mode,
            ReconcileMode::Apply
        );
        assert_eq!(
            with(("RECONCILE_MODE", " report ")).unwrap().mode.as_str(),
            "report"
        );
        assert!(matches!(
            with(("RECONCILE_MODE", "yes")),
            Err(ConfigError::Invalid("RECONCILE_MODE", _))
        ));
        assert_eq!(
            ReconcileConfig::from_lookup(lookup(base[1..].to_vec())),
            Err(ConfigError::Missing("STATE_TABLE_NAME"))
        );
        assert_eq!(
            ReconcileConfig::from_lookup(lookup(vec![base[0], base[2]])),
            Err(ConfigError::Missing("OKTA_ORG_URL"))
        );
        assert!(matches!(
            with(("OKTA_ORG_URL", "example.okta.com")),
            Err(ConfigError::Invalid("OKTA_ORG_URL", _))
        ));
    }

    #[test]
    fn the_required_variables_alone_give_the_defaults() {
        // Act
        let config = config(&REQUIRED).unwrap();

        // Assert
        assert_eq!(config.target_dialect, TargetDialect::IdentityCenter);
        assert_eq!(config.request_budget, DEFAULT_REQUEST_BUDGET);
        assert_eq!(config.secret_cache_ttl, DEFAULT_SECRET_CACHE_TTL);
        assert_eq!(config.public_base_url, None);
        assert_eq!(
            config.audit_retention,
            Duration::from_secs(DEFAULT_AUDIT_RETENTION_DAYS * 86_400)
        );
        assert_eq!(config.state_table_name, None, "the in-memory mirror");
        assert_eq!(
            config.mirror_retention,
            Duration::from_secs(DEFAULT_MIRROR_RETENTION_DAYS * 86_400)
        );
    }

    #[test]
    fn the_state_table_and_the_mirror_retention_are_read_and_checked() {
        // Arrange
        let mut pairs = REQUIRED.to_vec();
        pairs.extend([
            ("STATE_TABLE_NAME", " scimgw-StateTable-1ABC "),
            ("MIRROR_RETENTION_DAYS", "7"),
        ]);

        // Act
        let read = config(&pairs).unwrap();

        // Assert
        assert_eq!(
            read.state_table_name.as_deref(),
            Some("scimgw-StateTable-1ABC")
        );
        assert_eq!(read.mirror_retention, Duration::from_secs(7 * 86_400));
        let mut empty = REQUIRED.to_vec();
        empty.push(("STATE_TABLE_NAME", ""));
        assert_eq!(config(&empty).unwrap().state_table_name, None);
        let mut zero = REQUIRED.to_vec();
        zero.push(("MIRROR_RETENTION_DAYS", "0"));
        assert!(matches!(
            config(&zero),
            Err(ConfigError::Invalid("MIRROR_RETENTION_DAYS", _))
        ));
    }

    #[test]
    fn optional_variables_are_read_and_checked() {
        let mut pairs = REQUIRED.to_vec();
        pairs.extend([
            ("TARGET_DIALECT", "scim"),
            ("REQUEST_BUDGET_MS", "1500"),
            ("SECRET_CACHE_TTL_SECS", "60"),
            ("PUBLIC_BASE_URL", "https://gw.example.com/scim/v2/"),
        ]);
        let config = config(&pairs).unwrap();
        assert_eq!(config.target_dialect, TargetDialect::Rfc7644);
        assert_eq!(config.request_budget, Duration::from_millis(1500));
        assert_eq!(config.secret_cache_ttl, Duration::from_secs(60));
        assert_eq!(
            config.public_base_url.as_deref(),
            Some("https://gw.example.com/scim/v2")
        );
    }

    #[test]
    fn a_missing_or_bad_variable_is_named_without_its_value() {
        assert_eq!(
            config(&REQUIRED[1..]),
            Err(ConfigError::Missing("TARGET_BASE_URL"))
        );
        let mut pairs = REQUIRED.to_vec();
        pairs.push(("REQUEST_BUDGET_MS", "soon"));
        let error = config(&pairs).unwrap_err();
        assert!(matches!(
            error,
            ConfigError::Invalid("REQUEST_BUDGET_MS", _)
        ));
        assert!(!error.to_string().contains("soon"));
        let mut pairs = REQUIRED.to_vec();
        pairs[0] = ("TARGET_BASE_URL", "scim.example.com");
        assert!(matches!(
            config(&pairs),
            Err(ConfigError::Invalid("TARGET_BASE_URL", _))
        ));
        let mut pairs = REQUIRED.to_vec();
        pairs.push(("TARGET_DIALECT", "okta"));
        assert!(matches!(
            config(&pairs),
            Err(ConfigError::Invalid("TARGET_DIALECT", _))
        ));
    }

    #[test]
    fn an_identity_center_endpoint_in_another_region_is_refused_unless_allowed() {
        let endpoint = "https://scim.eu-west-1.amazonaws.com/abc-123/scim/v2";
        let with = |extra: &[(&'static str, &'static str)]| {
            let mut pairs: Vec<(&str, &str)> = vec![
                ("TARGET_BASE_URL", endpoint),
                ("TARGET_TOKEN_SECRET_ID", "t"),
                ("SCIM_TOKENS_SECRET_ID", "s"),
                ("AUDIT_TABLE_NAME", "a"),
                ("AUDIT_MAC_KEY_ID", "k"),
            ];
            pairs.extend_from_slice(extra);
            let map: std::collections::HashMap<&str, &str> = pairs.into_iter().collect();
            Config::from_lookup(|name| map.get(name).map(|v| (*v).to_owned()))
        };
        assert!(with(&[("AWS_REGION", "eu-west-1")]).is_ok());
        assert!(with(&[]).is_ok());
        assert!(matches!(
            with(&[("AWS_REGION", "us-east-1")]),
            Err(ConfigError::Invalid("TARGET_BASE_URL", _))
        ));
        assert!(
            with(&[
                ("AWS_REGION", "us-east-1"),
                ("ALLOW_CROSS_REGION_TARGET", "true")
            ])
            .is_ok()
        );
        assert!(matches!(
            with(&[("ALLOW_CROSS_REGION_TARGET", "yes")]),
            Err(ConfigError::Invalid("ALLOW_CROSS_REGION_TARGET", _))
        ));
        assert!(with(&[("AWS_REGION", "us-east-1"), ("TARGET_DIALECT", "scim")]).is_ok());
        assert_eq!(scim_endpoint_region(endpoint).as_deref(), Some("eu-west-1"));
        assert_eq!(scim_endpoint_region("https://scim.example.com/v2"), None);
        assert_eq!(scim_endpoint_region("http://127.0.0.1:9090/scim/v2"), None);
    }
}
