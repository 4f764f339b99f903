//! [`OktaClient`]: the Okta directory port over Okta's Management API (Users, Groups and
//! Apps API references), authenticated with an API token (`Authorization: SSWS <token>`).
//!
//! What it guards against: a rotated token (re-read once after a 401), Okta's rate limits
//! (a 429 waits until `X-Rate-Limit-Reset`, within a per-call budget), transient 5xx and
//! network failures (a few retries with backoff), listings of any length (every `next`
//! link followed, up to a page cap), and a `next` link to another server (never followed:
//! the token would go with it).
//!
//! This file holds the configuration and the client; `engine` sends one request with its
//! waits and retries, `links` reads the paging links, `port` implements the port.

mod engine;
mod links;
mod port;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use gateway::{SecretId, SecretSource};
use reqwest::Url;

use crate::identity_center::{RetryPolicy, USER_AGENT};
use crate::token::TokenCache;

/// How the client is set up. [`OktaClientConfig::new`] fills in the defaults.
#[derive(Debug, Clone)]
pub struct OktaClientConfig {
    /// The org URL, e.g. `https://example.okta.com`, with or without a trailing slash;
    /// the API is under its `/api/v1`.
    pub org_url: String,
    /// Where the API token is kept; its value is the bare token, sent as `SSWS <token>`.
    pub token_secret: SecretId,
    /// How long to wait for a TCP (and TLS) connection.
    pub connect_timeout: Duration,
    /// The longest one request may take, body included.
    pub request_timeout: Duration,
    /// The most one port call (a listing's pages included) waits for rate limits to
    /// reset; a wait that would go past it ends the call with `OktaError::Throttled`.
    pub throttle_budget: Duration,
    /// How many times a 5xx or a transport failure is retried before the call fails with
    /// `OktaError::Unavailable`.
    pub max_retries: u32,
    /// The backoff between those retries; its `base` is also the jitter added to a wait
    /// for a rate-limit reset.
    pub retry: RetryPolicy,
    /// How long the token is used before it is read again.
    pub token_ttl: Duration,
    /// The most pages one listing follows, against a server whose links never end.
    pub max_pages: usize,
}

impl OktaClientConfig {
    /// A configuration with a 3 s connect timeout, a 10 s request timeout, a 20 s
    /// throttle budget, 2 retries, a 5-minute token TTL and at most 10 000 pages.
    pub fn new(org_url: impl Into<String>, token_secret: SecretId) -> Self {
        Self {
            org_url: org_url.into(),
            token_secret,
            connect_timeout: Duration::from_secs(3),
            request_timeout: Duration::from_secs(10),
            throttle_budget: Duration::from_secs(20),
            max_retries: 2,
            retry: RetryPolicy::default(),
            token_ttl: Duration::from_secs(300),
            max_pages: 10_000,
        }
    }
}

/// Why an Okta client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum OktaClientBuildError {
    /// The org URL is not an absolute `http` or `https` URL without a query.
    #[error("okta client: the org URL is not an absolute http(s) URL")]
    InvalidOrgUrl,
    /// The HTTP client (TLS set-up) could not be built.
    #[error("okta client: the HTTP client could not be built")]
    Http(#[source] reqwest::Error),
}

/// The Okta directory port over HTTP. Cheap to share: hold it in an `Arc` and every call
/// uses the same connection pool and token cache.
pub struct OktaClient {
    http: reqwest::Client,
    /// The org URL without a trailing slash.
    org: Url,
    throttle_budget: Duration,
    max_retries: u32,
    retry: RetryPolicy,
    max_pages: usize,
    token: TokenCache,
}

impl fmt::Debug for OktaClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OktaClient")
            .field("org", &self.org.as_str())
            .field("token", &self.token)
            .finish_non_exhaustive()
    }
}

impl OktaClient {
    /// A client with its own connection pool, reading the token from `secrets`.
    pub fn new(
        config: OktaClientConfig,
        secrets: Arc<dyn SecretSource>,
    ) -> Result<Self, OktaClientBuildError> {
        let org = Url::parse(config.org_url.trim_end_matches('/'))
            .ok()
            .filter(|url| {
                matches!(url.scheme(), "http" | "https")
                    && url.has_host()
                    && url.query().is_none()
                    && url.fragment().is_none()
            })
            .ok_or(OktaClientBuildError::InvalidOrgUrl)?;
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .user_agent(USER_AGENT)
            // Okta's API does not redirect; a redirect would be a way to carry the token
            // elsewhere, so it is an answer like any other (a 3xx, rejected).
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(OktaClientBuildError::Http)?;
        Ok(Self {
            http,
            org,
            throttle_budget: config.throttle_budget,
            max_retries: config.max_retries,
            retry: config.retry,
            max_pages: config.max_pages.max(1),
            token: TokenCache::new(secrets, config.token_secret, config.token_ttl),
        })
    }

    /// The org URL the client reads, without a trailing slash.
    pub fn org_url(&self) -> &str {
        self.org.as_str().trim_end_matches('/')
    }
}

#[cfg(test)]
mod tests {
    use gateway::InMemorySecretSource;

    use super::*;

    #[test]
    fn an_org_url_must_be_absolute_http_or_https_without_a_query() {
        let secrets: Arc<dyn SecretSource> = Arc::new(InMemorySecretSource::new());
        let build = |url: &str| {
            OktaClient::new(
                OktaClientConfig::new(url, SecretId::new("t")),
                secrets.clone(),
            )
        };
        for bad in [
            "",
            "example.okta.com",
            "ftp://example.okta.com",
            "/api",
            "https://o?x=1",
        ] {
            assert!(
                matches!(build(bad), Err(OktaClientBuildError::InvalidOrgUrl)),
                "{bad:?}"
            );
        }
        assert_eq!(
            build("https://example.okta.com/").unwrap().org_url(),
            "https://example.okta.com"
        );
        assert_eq!(
            build("http://127.0.0.1:8080/okta/").unwrap().org_url(),
            "http://127.0.0.1:8080/okta"
        );
    }
}
