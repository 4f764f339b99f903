//! The request engine: one request sent until it succeeds, fails for good, or the
//! deadline leaves no room for another attempt. An [`Attempt`] is what one try came to;
//! the retry loop in `send` decides what follows it (backoff, a re-read token, or the end).

use std::time::{Duration, Instant};

use gateway::{SecretError, SecretString, TargetError};
use reqwest::Method;
use reqwest::header::{ACCEPT, CONTENT_TYPE, RETRY_AFTER};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::HttpTargetScimClient;
use super::backoff;
use super::classify::{Verdict, classify};

/// A 2xx answer's body, kept as bytes until a caller asks for JSON.
pub(super) struct Answer {
    body: Vec<u8>,
}

impl Answer {
    pub(super) fn is_empty(&self) -> bool {
        self.body.iter().all(u8::is_ascii_whitespace)
    }

    pub(super) fn json<T: DeserializeOwned>(&self) -> Result<T, TargetError> {
        serde_json::from_slice(&self.body).map_err(|e| TargetError::Transport(Box::new(e)))
    }
}

/// A failed call, with whether an earlier attempt may have been applied although its
/// answer was lost (a 5xx, a dropped connection or a timeout): what turns a 409 on a
/// create, or a 404 on a delete, into success.
pub(super) struct Failure {
    pub(super) error: TargetError,
    pub(super) answer_lost: bool,
}

impl From<Failure> for TargetError {
    fn from(failure: Failure) -> Self {
        failure.error
    }
}

/// What every attempt of one call sends.
struct Request<'a> {
    method: Method,
    /// The path alone, for logs: the URL's query may carry filter values such as a
    /// `userName`.
    path: &'a str,
    url: String,
    body: Option<Vec<u8>>,
}

/// How one attempt ended, and so what the retry loop does next.
enum Attempt {
    /// A 2xx answer: the call is done.
    Answered(Answer),
    /// 401: the token was refused. The loop re-reads it once, then gives up.
    TokenRefused,
    /// 429, 5xx or a transport failure: worth another attempt after the backoff, which
    /// the target's `Retry-After` floors.
    Retryable {
        error: TargetError,
        retry_after: Option<Duration>,
        /// The request may have been applied although its answer was lost.
        answer_lost: bool,
    },
    /// Any other failure: the call fails with it.
    Failed(TargetError),
}

/// A whole answer: status, `Retry-After`, Identity Center's request id, body.
struct Reply {
    status: u16,
    retry_after: Option<Duration>,
    request_id: Option<String>,
    body: Vec<u8>,
}

impl HttpTargetScimClient {
    /// Sends one request, retrying 429, 5xx and transport failures until it succeeds,
    /// fails for good, or the next attempt could not finish before `deadline`.
    pub(super) async fn send(
        &self,
        method: Method,
        path: &str,
        query: &str,
        body: Option<&Value>,
        deadline: Instant,
    ) -> Result<Answer, Failure> {
        let body = match body.map(serde_json::to_vec).transpose() {
            Ok(body) => body,
            Err(e) => {
                return Err(Failure {
                    error: TargetError::Transport(Box::new(e)),
                    answer_lost: false,
                });
            }
        };
        let request = Request {
            url: format!("{}{path}{query}", self.base_url),
            method,
            path,
            body,
        };
        let mut token = self.token.get().await.map_err(token_failure)?;
        let mut token_replaced = false;
        let mut answer_lost = false;
        let mut failures: u32 = 0;
        // The failure being retried, returned if the deadline allows no further attempt.
        let mut retrying: Option<TargetError> = None;
        loop {
            let timeout = match self.next_turn(deadline).await {
                Ok(timeout) => timeout,
                Err(out_of_time) => {
                    return Err(Failure {
                        error: retrying.unwrap_or(out_of_time),
                        answer_lost,
                    });
                }
            };
            match self.attempt(&request, &token, timeout, failures + 1).await {
                Attempt::Answered(answer) => return Ok(answer),
                Attempt::Failed(error) => return Err(Failure { error, answer_lost }),
                Attempt::TokenRefused if !token_replaced => {
                    // Most likely a rotation the cache has not seen: re-read once.
                    token_replaced = true;
                    token = self.token.replace(&token).await.map_err(token_failure)?;
                }
                Attempt::TokenRefused => {
                    return Err(Failure {
                        error: TargetError::Unauthorized,
                        answer_lost,
                    });
                }
                Attempt::Retryable {
                    error,
                    retry_after,
                    answer_lost: lost,
                } => {
                    answer_lost |= lost;
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
        }
    }

    /// Waits for the pacer's send slot and returns how long the attempt may take, or,
    /// when no attempt can finish before `deadline`, the error to end the call with.
    async fn next_turn(&self, deadline: Instant) -> Result<Duration, TargetError> {
        match self.pacer.reserve(Instant::now(), deadline) {
            Ok(None) => {}
            Ok(Some(slot)) => tokio::time::sleep_until(slot.into()).await,
            Err(()) => return Err(TargetError::Throttled { retry_after: None }),
        }
        deadline
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
            .map(|remaining| remaining.min(self.attempt_timeout))
            .ok_or(TargetError::Timeout)
    }

    /// Sends `request` once with `token`, counts and paces on its answer, and classifies
    /// it. `attempt_no` (from 1) is for the logs.
    async fn attempt(
        &self,
        request: &Request<'_>,
        token: &SecretString,
        timeout: Duration,
        attempt_no: u32,
    ) -> Attempt {
        let (method, path) = (&request.method, request.path);
        let mut builder = self
            .http
            .request(method.clone(), &request.url)
            .bearer_auth(token.expose())
            .header(ACCEPT, "application/scim+json, application/json")
            .timeout(timeout);
        if let Some(body) = &request.body {
            builder = builder
                .header(CONTENT_TYPE, "application/scim+json")
                .body(body.clone());
        }
        let started = Instant::now();
        let reply = read(builder).await;
        self.counters.call();
        // For the audit record of the use case this request serves (`target_calls`).
        gateway::ports::target::count_request();
        let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        match &reply {
            Ok(Reply {
                status: 429,
                retry_after,
                ..
            }) => {
                self.counters.throttle();
                self.pacer.throttled(Instant::now(), *retry_after);
            }
            Ok(Reply { status, .. }) => {
                if *status >= 500 {
                    self.counters.error();
                }
                self.pacer.admitted(Instant::now());
            }
            Err(_) => self.counters.error(),
        }
        match reply {
            Ok(Reply { status, body, .. }) if (200..300).contains(&status) => {
                tracing::debug!(%method, path, status, attempt_no, elapsed_ms, "target answered");
                Attempt::Answered(Answer { body })
            }
            Ok(Reply {
                status,
                retry_after,
                request_id,
                body,
            }) => {
                tracing::debug!(
                    %method, path, status, attempt_no, request_id, elapsed_ms, "target refused"
                );
                match classify(status, retry_after, &body) {
                    Verdict::Throttled { retry_after } => Attempt::Retryable {
                        error: TargetError::Throttled { retry_after },
                        retry_after,
                        answer_lost: false,
                    },
                    Verdict::ServerError(error) => Attempt::Retryable {
                        error,
                        retry_after: None,
                        answer_lost: true,
                    },
                    Verdict::Unauthorized => Attempt::TokenRefused,
                    Verdict::Final(error) => Attempt::Failed(error),
                }
            }
            Err(e) => {
                let (timeout, connect) = (e.is_timeout(), e.is_connect());
                tracing::debug!(%method, path, attempt_no, timeout, connect, "target unreachable");
                // Without the URL: a list URL carries filter values such as a userName.
                let error = if timeout {
                    TargetError::Timeout
                } else {
                    TargetError::Transport(Box::new(e.without_url()))
                };
                Attempt::Retryable {
                    error,
                    retry_after: None,
                    // Unless it failed to connect, the request may have reached the
                    // target and been applied.
                    answer_lost: !connect,
                }
            }
        }
    }
}

/// Reads a whole answer.
async fn read(request: reqwest::RequestBuilder) -> Result<Reply, reqwest::Error> {
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
    Ok(Reply {
        status,
        retry_after,
        request_id,
        body,
    })
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
