//! [`HttpTargetScimClient`]: the target port over HTTP, for AWS IAM Identity Center's
//! SCIM endpoint and, with [`TargetDialect::Rfc7644`], any SCIM 2.0 server.
//!
//! Everything the peers learned the hard way (`docs/okta-client.md` §8, items 1–3, 7–10)
//! lives here: retries with full-jitter backoff that honour `Retry-After` within the
//! caller's deadline, every cursor followed, membership changes in chunks of 100,
//! creates that adopt what a lost earlier attempt made, and a token re-read on 401.
//!
//! This file holds the configuration and the client itself; `engine` sends one request
//! with its retries, `resources` builds the resource operations on it, and `port`
//! implements the gateway's port with them.

mod backoff;
mod classify;
mod counters;
mod engine;
mod ids;
mod pacer;
mod paging;
mod port;
mod resources;
mod wire;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use gateway::ports::target::{TargetDialect, UnknownDialect};
use gateway::{Deadline, SecretId, SecretSource};

use crate::token::TokenCache;
pub use backoff::RetryPolicy;
pub use counters::TargetCounters;
use pacer::Pacer;

/// The `User-Agent` of every request. Identity Center blocks PATCH requests without one
/// (`docs/identity-center-dialect.md` §7), so the HTTP client sends it on every request
/// by default, whatever the caller's own client called itself.
pub const USER_AGENT: &str = concat!("scimgw/", env!("CARGO_PKG_VERSION"));

/// How the client is set up. [`TargetClientConfig::new`] fills in defaults sized for a
/// Lambda answering Okta, whose SCIM client gives up after about 30 seconds.
#[derive(Debug, Clone)]
pub struct TargetClientConfig {
    /// The SCIM base URL, e.g. `https://scim.us-east-1.amazonaws.com/{tenant}/scim/v2`,
    /// with or without a trailing slash.
    pub base_url: String,
    /// Where the bearer token is kept.
    pub token_secret: SecretId,
    /// The dialect the target speaks.
    pub dialect: TargetDialect,
    /// How long to wait for a TCP (and TLS) connection.
    pub connect_timeout: Duration,
    /// The longest a single attempt may take, body included; the deadline cuts it shorter.
    pub attempt_timeout: Duration,
    /// The budget of a call made with [`Deadline::default`], retries included.
    pub default_budget: Duration,
    /// How long the token is used before it is read again.
    pub token_ttl: Duration,
    /// The backoff schedule between attempts.
    pub retry: RetryPolicy,
}

impl TargetClientConfig {
    /// A configuration with default timeouts, TTL and retry schedule.
    pub fn new(
        base_url: impl Into<String>,
        token_secret: SecretId,
        dialect: TargetDialect,
    ) -> Self {
        Self {
            base_url: base_url.into(),
            token_secret,
            dialect,
            connect_timeout: Duration::from_secs(3),
            attempt_timeout: Duration::from_secs(10),
            default_budget: Duration::from_secs(20),
            token_ttl: Duration::from_secs(300),
            retry: RetryPolicy::default(),
        }
    }
}

/// Why a client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientBuildError {
    /// The base URL is not an absolute `http` or `https` URL.
    #[error("target client: the base URL is not an absolute http(s) URL")]
    InvalidBaseUrl,
    /// The HTTP client (TLS set-up) could not be built.
    #[error("target client: the HTTP client could not be built")]
    Http(#[source] reqwest::Error),
}

/// The target port over HTTP. Cheap to share: hold it in an `Arc` and every call uses
/// the same connection pool and token cache.
pub struct HttpTargetScimClient {
    http: reqwest::Client,
    base_url: String,
    dialect: TargetDialect,
    attempt_timeout: Duration,
    default_budget: Duration,
    retry: RetryPolicy,
    token: TokenCache,
    pacer: Pacer,
    counters: Arc<TargetCounters>,
    listings: paging::Listings,
}

impl fmt::Debug for HttpTargetScimClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpTargetScimClient")
            .field("base_url", &self.base_url)
            .field("dialect", &self.dialect)
            .field("token", &self.token)
            .finish_non_exhaustive()
    }
}

impl HttpTargetScimClient {
    /// A client with its own connection pool, reading the token from `secrets`.
    pub fn new(
        config: TargetClientConfig,
        secrets: Arc<dyn SecretSource>,
    ) -> Result<Self, ClientBuildError> {
        let base_url = config.base_url.trim_end_matches('/').to_owned();
        match reqwest::Url::parse(&base_url) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => {}
            _ => return Err(ClientBuildError::InvalidBaseUrl),
        }
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.attempt_timeout)
            .user_agent(USER_AGENT)
            .build()
            .map_err(ClientBuildError::Http)?;
        Ok(Self {
            http,
            base_url,
            dialect: config.dialect,
            attempt_timeout: config.attempt_timeout,
            default_budget: config.default_budget,
            retry: config.retry,
            token: TokenCache::new(secrets, config.token_secret, config.token_ttl),
            pacer: Pacer::default(),
            counters: Arc::default(),
            listings: paging::Listings::default(),
        })
    }

    /// The dialect this client speaks.
    pub fn dialect(&self) -> TargetDialect {
        self.dialect
    }

    /// The counts of attempts, throttles, retries and failed attempts, for metrics.
    pub fn counters(&self) -> Arc<TargetCounters> {
        self.counters.clone()
    }

    fn resolve(&self, deadline: Deadline) -> Instant {
        deadline.resolve(self.default_budget)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dialects_are_named_identity_center_and_rfc7644_in_any_case() {
        assert_eq!("identity-center".parse(), Ok(TargetDialect::IdentityCenter));
        assert_eq!(" RFC7644 ".parse(), Ok(TargetDialect::Rfc7644));
        assert_eq!("scim".parse(), Ok(TargetDialect::Rfc7644));
        assert_eq!("ldap".parse::<TargetDialect>(), Err(UnknownDialect));
    }

    #[test]
    fn a_base_url_must_be_absolute_http_or_https() {
        let secrets: Arc<dyn SecretSource> = Arc::new(gateway::InMemorySecretSource::new());
        for bad in [
            "",
            "scim.example.com/scim/v2",
            "ftp://example.com/scim",
            "/scim/v2",
        ] {
            let config =
                TargetClientConfig::new(bad, SecretId::new("t"), TargetDialect::IdentityCenter);
            assert!(
                matches!(
                    HttpTargetScimClient::new(config, secrets.clone()),
                    Err(ClientBuildError::InvalidBaseUrl)
                ),
                "{bad:?}"
            );
        }
        let good = TargetClientConfig::new(
            "https://scim.us-east-1.amazonaws.com/t-1/scim/v2/",
            SecretId::new("t"),
            TargetDialect::IdentityCenter,
        );
        let client = HttpTargetScimClient::new(good, secrets).unwrap();
        assert_eq!(
            client.base_url,
            "https://scim.us-east-1.amazonaws.com/t-1/scim/v2"
        );
    }
}
