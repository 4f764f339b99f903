//! [`HttpTargetScimClient`]: the target port over HTTP, for AWS IAM Identity Center's
//! SCIM endpoint and, with [`Dialect::Rfc7644`], any SCIM 2.0 server.
//!
//! Everything the peers learned the hard way (lessons-from-peers.md items 1–3, 7–9)
//! lives here: retries with full-jitter backoff that honour `Retry-After` within the
//! caller's deadline, every cursor followed, membership changes in chunks of 100,
//! creates that adopt what a lost earlier attempt made, and a token re-read on 401.

mod backoff;
mod classify;
mod counters;
mod pacer;
mod token;
mod wire;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use gateway::{Deadline, SecretError, SecretId, SecretSource, TargetError, TargetScimClient};
use reqwest::Method;
use reqwest::header::{ACCEPT, CONTENT_TYPE, RETRY_AFTER};
use scim_core::{Filter, Group, ListPage, PatchOp, User};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

pub use backoff::RetryPolicy;
use classify::{Verdict, classify};
pub use counters::{TargetCallCounts, TargetCounters};
use pacer::Pacer;
use token::TokenCache;
use wire::{eq_filter, query_string};

/// Which SCIM dialect the target speaks, where the two differ in ways the client must
/// follow rather than translate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// AWS IAM Identity Center (protocols.md §1): cursor paging; a group's members are
    /// never returned, so they are read with `ListUsers?filter=groups.value eq`; member
    /// removal is one `remove` of `members` with a value list.
    IdentityCenter,
    /// Plain RFC 7644, e.g. scim2-server: `startIndex` paging; members read from the
    /// group itself; each removal addressed as `members[value eq "…"]`.
    Rfc7644,
}

impl Dialect {
    fn cursor_paging(self) -> bool {
        self == Dialect::IdentityCenter
    }
}

/// Reads `identity-center` or `rfc7644`, as a configuration value or a CLI flag names
/// the dialect of the target.
impl std::str::FromStr for Dialect {
    type Err = UnknownDialect;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "identity-center" => Ok(Dialect::IdentityCenter),
            "rfc7644" => Ok(Dialect::Rfc7644),
            _ => Err(UnknownDialect),
        }
    }
}

/// A dialect name other than `identity-center` or `rfc7644`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("target client: the dialect must be identity-center or rfc7644")]
pub struct UnknownDialect;

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
    pub dialect: Dialect,
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
    pub fn new(base_url: impl Into<String>, token_secret: SecretId, dialect: Dialect) -> Self {
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
    dialect: Dialect,
    attempt_timeout: Duration,
    default_budget: Duration,
    retry: RetryPolicy,
    token: TokenCache,
    pacer: Pacer,
    counters: Arc<TargetCounters>,
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

#[derive(Debug, Clone, Copy)]
enum Kind {
    User,
    Group,
}

impl Kind {
    fn path(self) -> &'static str {
        match self {
            Kind::User => "/Users",
            Kind::Group => "/Groups",
        }
    }

    /// The attribute the target keeps unique, which a 409 on create is about.
    fn unique_attr(self) -> &'static str {
        match self {
            Kind::User => "userName",
            Kind::Group => "displayName",
        }
    }
}

/// A 2xx answer's body, kept as bytes until a caller asks for JSON.
struct Answer {
    body: Vec<u8>,
}

impl Answer {
    fn is_empty(&self) -> bool {
        self.body.iter().all(u8::is_ascii_whitespace)
    }

    fn json<T: DeserializeOwned>(&self) -> Result<T, TargetError> {
        serde_json::from_slice(&self.body).map_err(|e| TargetError::Transport(Box::new(e)))
    }
}

/// A failed call, with whether an earlier attempt may have been applied although its
/// answer was lost (a 5xx, a dropped connection or a timeout): what turns a 409 on a
/// create, or a 404 on a delete, into success.
struct Failure {
    error: TargetError,
    answer_lost: bool,
}

impl From<Failure> for TargetError {
    fn from(failure: Failure) -> Self {
        failure.error
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
            .user_agent(concat!("scimgw/", env!("CARGO_PKG_VERSION")))
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
        })
    }

    /// The dialect this client speaks.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The counts of attempts, throttles, retries and failed attempts, for metrics.
    pub fn counters(&self) -> Arc<TargetCounters> {
        self.counters.clone()
    }

    fn resolve(&self, deadline: Deadline) -> Instant {
        deadline.resolve(self.default_budget)
    }

    /// Sends one request, retrying 429, 5xx and transport failures until it succeeds,
    /// fails for good, or the next attempt could not finish before `deadline`.
    async fn send(
        &self,
        method: Method,
        path: &str,
        query: &str,
        body: Option<&Value>,
        deadline: Instant,
    ) -> Result<Answer, Failure> {
        let url = format!("{}{path}{query}", self.base_url);
        let encoded = match body.map(serde_json::to_vec).transpose() {
            Ok(encoded) => encoded,
            Err(e) => {
                return Err(Failure {
                    error: TargetError::Transport(Box::new(e)),
                    answer_lost: false,
                });
            }
        };
        let mut token = self.token.get().await.map_err(token_failure)?;
        let mut token_replaced = false;
        let mut answer_lost = false;
        let mut failures: u32 = 0;
        // The failure being retried, returned if the deadline allows no further attempt.
        let mut retrying: Option<TargetError> = None;
        loop {
            match self.pacer.reserve(Instant::now(), deadline) {
                Ok(None) => {}
                Ok(Some(slot)) => tokio::time::sleep_until(slot.into()).await,
                Err(()) => {
                    let error = retrying.unwrap_or(TargetError::Throttled { retry_after: None });
                    return Err(Failure { error, answer_lost });
                }
            }
            let Some(remaining) = deadline
                .checked_duration_since(Instant::now())
                .filter(|d| !d.is_zero())
            else {
                return Err(Failure {
                    error: retrying.unwrap_or(TargetError::Timeout),
                    answer_lost,
                });
            };
            let mut request = self
                .http
                .request(method.clone(), &url)
                .bearer_auth(token.expose())
                .header(ACCEPT, "application/scim+json, application/json")
                .timeout(remaining.min(self.attempt_timeout));
            if let Some(encoded) = &encoded {
                request = request
                    .header(CONTENT_TYPE, "application/scim+json")
                    .body(encoded.clone());
            }
            let started = Instant::now();
            let attempt = read(request).await;
            self.counters.call();
            let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            let attempt_no = failures + 1;
            match &attempt {
                Ok((429, retry_after, _, _)) => {
                    self.counters.throttle();
                    self.pacer.throttled(Instant::now(), *retry_after);
                }
                Ok((status, ..)) => {
                    if *status >= 500 {
                        self.counters.error();
                    }
                    self.pacer.admitted(Instant::now());
                }
                Err(_) => self.counters.error(),
            }
            let (error, retry_after) = match attempt {
                Ok((status, _, _, body)) if (200..300).contains(&status) => {
                    tracing::debug!(%method, path, status, attempt_no, elapsed_ms, "target answered");
                    return Ok(Answer { body });
                }
                Ok((status, retry_after, request_id, body)) => {
                    tracing::debug!(
                        %method, path, status, attempt_no, request_id, elapsed_ms, "target refused"
                    );
                    match classify(status, retry_after, &body) {
                        Verdict::Throttled { retry_after } => {
                            (TargetError::Throttled { retry_after }, retry_after)
                        }
                        Verdict::ServerError(error) => {
                            answer_lost = true;
                            (error, None)
                        }
                        Verdict::Unauthorized if !token_replaced => {
                            // Most likely a rotation the cache has not seen: re-read once.
                            token_replaced = true;
                            token = self.token.replace(&token).await.map_err(token_failure)?;
                            continue;
                        }
                        Verdict::Unauthorized => {
                            return Err(Failure {
                                error: TargetError::Unauthorized,
                                answer_lost,
                            });
                        }
                        Verdict::Final(error) => return Err(Failure { error, answer_lost }),
                    }
                }
                Err(e) => {
                    // Unless it failed to connect, the request may have reached the
                    // target and been applied.
                    answer_lost |= !e.is_connect();
                    let (timeout, connect) = (e.is_timeout(), e.is_connect());
                    tracing::debug!(%method, path, attempt_no, timeout, connect, "target unreachable");
                    // Without the URL: a list URL carries filter values such as a userName.
                    let error = if e.is_timeout() {
                        TargetError::Timeout
                    } else {
                        TargetError::Transport(Box::new(e.without_url()))
                    };
                    (error, None)
                }
            };
            failures += 1;
            let wait = self.retry.wait(failures, retry_after, &mut rand::rng());
            if Instant::now()
                .checked_add(wait)
                .is_none_or(|resume| resume >= deadline)
            {
                return Err(Failure { error, answer_lost });
            }
            retrying = Some(error);
            self.counters.retry();
            tokio::time::sleep(wait).await;
        }
    }

    async fn get_json(
        &self,
        kind: Kind,
        id: &str,
        deadline: Instant,
    ) -> Result<Value, TargetError> {
        let path = format!("{}/{}", kind.path(), wire::encode(id));
        self.send(Method::GET, &path, "", None, deadline)
            .await?
            .json()
    }

    async fn create_json(
        &self,
        kind: Kind,
        body: &Value,
        deadline: Instant,
    ) -> Result<Value, TargetError> {
        match self
            .send(Method::POST, kind.path(), "", Some(body), deadline)
            .await
        {
            Ok(answer) => answer.json(),
            Err(Failure {
                error: TargetError::Conflict { detail },
                answer_lost: true,
            }) => {
                tracing::info!(
                    resource_type = kind.path(),
                    "create met a conflict after a lost answer; adopting the existing resource"
                );
                match self.adoptable(kind, body, deadline).await? {
                    Some(existing) => Ok(existing),
                    None => Err(TargetError::Conflict { detail }),
                }
            }
            Err(failure) => Err(failure.error),
        }
    }

    /// The resource a lost earlier create made: the one with our `externalId`, else the
    /// one with our unique name (compared case-insensitively, as RFC 7643 §4.1.1 has
    /// `userName` case-insensitive) whose `externalId` does not contradict ours. A
    /// resource with someone else's `externalId` is a real conflict, never adopted.
    async fn adoptable(
        &self,
        kind: Kind,
        sent: &Value,
        deadline: Instant,
    ) -> Result<Option<Value>, TargetError> {
        let external_id = sent.get("externalId").and_then(Value::as_str);
        if let Some(external_id) = external_id {
            let found = self
                .list_json(kind, Some(eq_filter("externalId", external_id)), deadline)
                .await?;
            if let Some(existing) = found
                .into_iter()
                .find(|r| attr_eq(r, "externalId", external_id))
            {
                return Ok(Some(existing));
            }
        }
        let Some(name) = sent.get(kind.unique_attr()).and_then(Value::as_str) else {
            return Ok(None);
        };
        let found = self
            .list_json(kind, Some(eq_filter(kind.unique_attr(), name)), deadline)
            .await?;
        Ok(found.into_iter().find(|r| {
            attr_eq(r, kind.unique_attr(), name)
                && match (external_id, r.get("externalId").and_then(Value::as_str)) {
                    (None, _) => true,
                    (Some(ours), Some(theirs)) => eq_ignore_case(ours, theirs),
                    (Some(_), None) => false,
                }
        }))
    }

    async fn list_json(
        &self,
        kind: Kind,
        filter: Option<String>,
        deadline: Instant,
    ) -> Result<Vec<Value>, TargetError> {
        let mut resources = Vec::new();
        if self.dialect.cursor_paging() {
            // Identity Center pages only when `cursor` is present (empty at first), and
            // a short page does not mean the last one: only a missing nextCursor does.
            let mut cursor = String::new();
            loop {
                let mut pairs = vec![("cursor", cursor)];
                pairs.extend(filter.clone().map(|f| ("filter", f)));
                let page: ListPage<Value> = self
                    .send(
                        Method::GET,
                        kind.path(),
                        &query_string(&pairs),
                        None,
                        deadline,
                    )
                    .await?
                    .json()?;
                resources.extend(page.resources);
                match page.next_cursor {
                    Some(next) if !next.is_empty() => cursor = next,
                    _ => return Ok(resources),
                }
            }
        }
        let mut start_index = 1;
        loop {
            let mut pairs = vec![
                ("startIndex", start_index.to_string()),
                ("count", wire::MAX_PER_REQUEST.to_string()),
            ];
            pairs.extend(filter.clone().map(|f| ("filter", f)));
            let page: ListPage<Value> = self
                .send(
                    Method::GET,
                    kind.path(),
                    &query_string(&pairs),
                    None,
                    deadline,
                )
                .await?
                .json()?;
            let fetched = page.resources.len();
            resources.extend(page.resources);
            if fetched == 0
                || resources.len()
                    >= usize::try_from(page.total_results.unwrap_or(0)).unwrap_or(usize::MAX)
            {
                return Ok(resources);
            }
            start_index += fetched;
        }
    }

    /// PUT or PATCH, then the resource as stored: from the answer, or read back when
    /// the target answers 204 (Identity Center's PatchGroup, scim2-server's PATCH).
    async fn modify_json(
        &self,
        method: Method,
        kind: Kind,
        id: &str,
        body: &Value,
        deadline: Instant,
    ) -> Result<Value, TargetError> {
        let path = format!("{}/{}", kind.path(), wire::encode(id));
        let answer = self.send(method, &path, "", Some(body), deadline).await?;
        if answer.is_empty() {
            return self.get_json(kind, id, deadline).await;
        }
        answer.json()
    }

    async fn delete(&self, kind: Kind, id: &str, deadline: Instant) -> Result<(), TargetError> {
        let path = format!("{}/{}", kind.path(), wire::encode(id));
        match self.send(Method::DELETE, &path, "", None, deadline).await {
            Ok(_) => Ok(()),
            // The lost attempt deleted it.
            Err(Failure {
                error: TargetError::NotFound,
                answer_lost: true,
            }) => Ok(()),
            Err(failure) => Err(failure.error),
        }
    }

    async fn patch_members(
        &self,
        group_id: &str,
        bodies: Vec<Value>,
        deadline: Instant,
    ) -> Result<(), TargetError> {
        let path = format!("/Groups/{}", wire::encode(group_id));
        for body in &bodies {
            self.send(Method::PATCH, &path, "", Some(body), deadline)
                .await?;
        }
        Ok(())
    }
}

/// Reads a whole answer: status, `Retry-After`, Identity Center's request id, body.
async fn read(
    request: reqwest::RequestBuilder,
) -> Result<(u16, Option<Duration>, Option<String>, Vec<u8>), reqwest::Error> {
    let response = request.send().await?;
    let status = response.status().as_u16();
    let header = |name| {
        response
            .headers()
            .get(name)
            .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
            .map(str::to_owned)
    };
    let retry_after = header(RETRY_AFTER.as_str())
        .as_deref()
        .and_then(backoff::parse_retry_after);
    let request_id = header("x-amzn-requestid");
    let body = response.bytes().await?.to_vec();
    Ok((status, retry_after, request_id, body))
}

/// A token that cannot be read means no request can be authenticated: unauthorized,
/// unless the store itself is unreachable, which is transient.
fn token_failure(error: SecretError) -> Failure {
    tracing::error!(error = %error, "target client: the bearer token could not be read");
    let error = match error {
        SecretError::Transport(_) => TargetError::Transport(Box::new(error)),
        _ => TargetError::Unauthorized,
    };
    Failure {
        error,
        answer_lost: false,
    }
}

fn eq_ignore_case(a: &str, b: &str) -> bool {
    a == b || a.to_lowercase() == b.to_lowercase()
}

fn attr_eq(resource: &Value, attr: &str, expected: &str) -> bool {
    resource
        .get(attr)
        .and_then(Value::as_str)
        .is_some_and(|v| eq_ignore_case(v, expected))
}

fn encode<T: Serialize>(resource: &T) -> Result<Value, TargetError> {
    serde_json::to_value(resource).map_err(|e| TargetError::Transport(Box::new(e)))
}

fn decode<T: DeserializeOwned>(value: Value) -> Result<T, TargetError> {
    serde_json::from_value(value).map_err(|e| TargetError::Transport(Box::new(e)))
}

#[async_trait]
impl TargetScimClient for HttpTargetScimClient {
    async fn create_user(&self, user: &User, deadline: Deadline) -> Result<User, TargetError> {
        decode(
            self.create_json(Kind::User, &encode(user)?, self.resolve(deadline))
                .await?,
        )
    }

    async fn get_user(&self, id: &str, deadline: Deadline) -> Result<User, TargetError> {
        decode(
            self.get_json(Kind::User, id, self.resolve(deadline))
                .await?,
        )
    }

    async fn list_users(
        &self,
        filter: Option<&Filter>,
        deadline: Deadline,
    ) -> Result<Vec<User>, TargetError> {
        let found = self
            .list_json(
                Kind::User,
                filter.map(ToString::to_string),
                self.resolve(deadline),
            )
            .await?;
        found.into_iter().map(decode).collect()
    }

    async fn replace_user(
        &self,
        id: &str,
        user: &User,
        deadline: Deadline,
    ) -> Result<User, TargetError> {
        decode(
            self.modify_json(
                Method::PUT,
                Kind::User,
                id,
                &encode(user)?,
                self.resolve(deadline),
            )
            .await?,
        )
    }

    async fn patch_user(
        &self,
        id: &str,
        patch: &PatchOp,
        deadline: Deadline,
    ) -> Result<User, TargetError> {
        decode(
            self.modify_json(
                Method::PATCH,
                Kind::User,
                id,
                &encode(patch)?,
                self.resolve(deadline),
            )
            .await?,
        )
    }

    async fn delete_user(&self, id: &str, deadline: Deadline) -> Result<(), TargetError> {
        self.delete(Kind::User, id, self.resolve(deadline)).await
    }

    async fn create_group(&self, group: &Group, deadline: Deadline) -> Result<Group, TargetError> {
        decode(
            self.create_json(Kind::Group, &encode(group)?, self.resolve(deadline))
                .await?,
        )
    }

    async fn get_group(&self, id: &str, deadline: Deadline) -> Result<Group, TargetError> {
        decode(
            self.get_json(Kind::Group, id, self.resolve(deadline))
                .await?,
        )
    }

    async fn list_groups(
        &self,
        filter: Option<&Filter>,
        deadline: Deadline,
    ) -> Result<Vec<Group>, TargetError> {
        let found = self
            .list_json(
                Kind::Group,
                filter.map(ToString::to_string),
                self.resolve(deadline),
            )
            .await?;
        found.into_iter().map(decode).collect()
    }

    async fn patch_group(
        &self,
        id: &str,
        patch: &PatchOp,
        deadline: Deadline,
    ) -> Result<Group, TargetError> {
        decode(
            self.modify_json(
                Method::PATCH,
                Kind::Group,
                id,
                &encode(patch)?,
                self.resolve(deadline),
            )
            .await?,
        )
    }

    async fn delete_group(&self, id: &str, deadline: Deadline) -> Result<(), TargetError> {
        self.delete(Kind::Group, id, self.resolve(deadline)).await
    }

    async fn add_group_members(
        &self,
        group_id: &str,
        user_ids: &[String],
        deadline: Deadline,
    ) -> Result<(), TargetError> {
        self.patch_members(
            group_id,
            wire::add_member_bodies(user_ids),
            self.resolve(deadline),
        )
        .await
    }

    async fn remove_group_members(
        &self,
        group_id: &str,
        user_ids: &[String],
        deadline: Deadline,
    ) -> Result<(), TargetError> {
        let bodies = match self.dialect {
            Dialect::IdentityCenter => wire::remove_member_bodies_as_value_list(user_ids),
            Dialect::Rfc7644 => wire::remove_member_bodies_as_value_paths(user_ids),
        };
        self.patch_members(group_id, bodies, self.resolve(deadline))
            .await
    }

    async fn list_group_member_ids(
        &self,
        group_id: &str,
        deadline: Deadline,
    ) -> Result<Vec<String>, TargetError> {
        let deadline = self.resolve(deadline);
        let members: Vec<Value> = match self.dialect {
            // Identity Center never returns `members` (protocols.md §1.3).
            Dialect::IdentityCenter => self
                .list_json(
                    Kind::User,
                    Some(eq_filter("groups.value", group_id)),
                    deadline,
                )
                .await?
                .into_iter()
                .map(|user| user.get("id").cloned().unwrap_or(Value::Null))
                .collect(),
            Dialect::Rfc7644 => {
                let group = self.get_json(Kind::Group, group_id, deadline).await?;
                group
                    .get("members")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .map(|member| member.get("value").cloned().unwrap_or(Value::Null))
                    .collect()
            }
        };
        Ok(members
            .into_iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dialects_are_named_identity_center_and_rfc7644_in_any_case() {
        assert_eq!("identity-center".parse(), Ok(Dialect::IdentityCenter));
        assert_eq!(" RFC7644 ".parse(), Ok(Dialect::Rfc7644));
        assert_eq!("scim".parse::<Dialect>(), Err(UnknownDialect));
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
            let config = TargetClientConfig::new(bad, SecretId::new("t"), Dialect::IdentityCenter);
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
            Dialect::IdentityCenter,
        );
        let client = HttpTargetScimClient::new(good, secrets).unwrap();
        assert_eq!(
            client.base_url,
            "https://scim.us-east-1.amazonaws.com/t-1/scim/v2"
        );
    }
}
