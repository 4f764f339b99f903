//! [`HttpAuditStore`]: the audit API (`GET /audit/records`, `GET /audit/verify`) read over
//! HTTP with a bearer token, as an [`AuditStore`], so that a tool runs the same code
//! against the API as against the audit table.

use std::time::Duration;

use async_trait::async_trait;
use gateway::audit_store::{AuditPage, AuditQuery, AuditStore, AuditStoreError, VerifyReport};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The audit API read through HTTP, as an [`AuditStore`].
pub struct HttpAuditStore {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl std::fmt::Debug for HttpAuditStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpAuditStore")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

/// A refusal or failure of the audit API, with its own message.
#[derive(Debug, thiserror::Error)]
#[error("the audit API answered HTTP {status}: {message}")]
pub struct AuditApiError {
    status: u16,
    message: String,
}

/// Why an [`HttpAuditStore`] could not be built. Each carries the base URL as the store
/// would have used it (without a trailing `/` or `/audit`).
#[derive(Debug, thiserror::Error)]
pub enum AuditApiBuildError {
    /// The base is not a URL.
    #[error("{base}: not a URL")]
    NotAUrl {
        /// The base URL.
        base: String,
        /// Why it does not parse.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The base is plain `http` to a host other than loopback: the token would travel in
    /// clear.
    #[error("{base}: must be https (plain http only to a loopback address)")]
    Insecure {
        /// The base URL.
        base: String,
    },
    /// The HTTP client (TLS set-up) could not be built.
    #[error("the HTTP client could not be built")]
    Http(#[source] reqwest::Error),
}

impl HttpAuditStore {
    /// A store reading the API under `base` (the stage URL; a trailing `/audit` is
    /// accepted too) with the bearer `token`. The base must be `https`, or plain `http`
    /// to a loopback address.
    pub fn new(base: &str, token: String) -> Result<Self, AuditApiBuildError> {
        let base = base
            .trim_end_matches('/')
            .trim_end_matches("/audit")
            .to_owned();
        let parsed = match reqwest::Url::parse(&base) {
            Ok(parsed) => parsed,
            Err(e) => {
                return Err(AuditApiBuildError::NotAUrl {
                    source: Box::new(e),
                    base,
                });
            }
        };
        let loopback = parsed
            .host_str()
            .is_some_and(|h| h == "localhost" || h == "127.0.0.1" || h == "[::1]");
        if parsed.scheme() != "https" && !(parsed.scheme() == "http" && loopback) {
            return Err(AuditApiBuildError::Insecure { base });
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(AuditApiBuildError::Http)?;
        Ok(Self { base, token, http })
    }

    async fn get<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        params: &[(&str, String)],
    ) -> Result<T, AuditStoreError> {
        let unavailable =
            |e: Box<dyn std::error::Error + Send + Sync>| AuditStoreError::Unavailable(e);
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .query(params)
            .bearer_auth(&self.token)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| unavailable(Box::new(e)))?;
        let status = response.status();
        if status.is_success() {
            return response
                .json::<T>()
                .await
                .map_err(|e| unavailable(Box::new(e)));
        }
        let body: serde_json::Value = response.json().await.unwrap_or_default();
        let message = body["message"].as_str().unwrap_or("no detail").to_owned();
        if status == reqwest::StatusCode::BAD_REQUEST {
            return Err(AuditStoreError::InvalidQuery(message));
        }
        Err(unavailable(Box::new(AuditApiError {
            status: status.as_u16(),
            message,
        })))
    }
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

#[async_trait]
impl AuditStore for HttpAuditStore {
    async fn query(&self, query: &AuditQuery) -> Result<AuditPage, AuditStoreError> {
        let mut params: Vec<(&str, String)> = vec![("limit", query.limit.to_string())];
        let text = |v: &serde_json::Value| v.as_str().map(str::to_owned).unwrap_or_default();
        if let Some(v) = &query.target {
            params.push(("target", v.clone()));
        }
        if let Some(v) = &query.actor {
            params.push(("actor", v.clone()));
        }
        if let Some(v) = query.since {
            params.push(("since", rfc3339(v)));
        }
        if let Some(v) = query.until {
            params.push(("until", rfc3339(v)));
        }
        if let Some(v) = query.outcome {
            params.push((
                "outcome",
                text(&serde_json::to_value(v).unwrap_or_default()),
            ));
        }
        if let Some(v) = query.operation {
            params.push((
                "operation",
                text(&serde_json::to_value(v).unwrap_or_default()),
            ));
        }
        if let Some(v) = &query.cursor {
            params.push(("cursor", v.clone()));
        }
        self.get("/audit/records", &params).await
    }

    async fn verify(
        &self,
        since: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<VerifyReport, AuditStoreError> {
        self.get(
            "/audit/verify",
            &[("since", rfc3339(since)), ("until", rfc3339(until))],
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_api_must_be_https_except_on_loopback() {
        assert!(HttpAuditStore::new("http://example.com", "t".into()).is_err());
        assert!(
            HttpAuditStore::new("https://example.com/prod/audit/", "t".into())
                .is_ok_and(|s| s.base == "https://example.com/prod")
        );
        assert!(HttpAuditStore::new("http://127.0.0.1:9/", "t".into()).is_ok());
    }
}
