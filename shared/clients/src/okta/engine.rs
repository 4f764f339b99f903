//! One GET, sent until it is answered for good: a 429 waits until Okta's
//! `X-Rate-Limit-Reset` (while the call's throttle budget lasts), a 5xx or a transport
//! failure is retried a few times with backoff, a 401 re-reads the token once. The
//! answer's status decides the rest: 2xx is a reply, 404 is `None`, anything else an
//! [`OktaError`].

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use gateway::ports::okta::OktaError;
use gateway::{SecretError, SecretString};
use reqwest::Url;
use reqwest::header::{ACCEPT, AUTHORIZATION, DATE, HeaderMap, HeaderValue, LINK};
use serde::Deserialize;
use time::OffsetDateTime;
use time::macros::format_description;

use super::OktaClient;

/// The least a 429 is waited for, when the reset it names is already past (the server's
/// clock and the `Date` header have a one-second grain): enough not to spin.
const MIN_THROTTLE_WAIT: Duration = Duration::from_millis(100);

/// How much of a non-JSON error body goes into an error message.
const BODY_START: usize = 120;

/// What one port call has spent waiting for rate limits, over all its requests.
#[derive(Debug, Default)]
pub(super) struct CallBudget {
    throttled: Duration,
}

/// A 2xx answer: its body and its `Link` header values.
pub(super) struct Reply {
    pub(super) body: Vec<u8>,
    pub(super) links: Vec<String>,
}

/// Okta's error body, the parts the client reads (Okta error codes reference).
#[derive(Deserialize)]
struct ErrorBody {
    #[serde(rename = "errorCode")]
    code: Option<String>,
    #[serde(rename = "errorSummary")]
    summary: Option<String>,
}

/// How one attempt ended.
enum Attempt {
    Answered {
        status: u16,
        headers: HeaderMap,
        body: Vec<u8>,
    },
    Unreachable(String),
}

impl OktaClient {
    /// GETs `url`: `Ok(None)` on a 404.
    pub(super) async fn get(
        &self,
        url: &Url,
        budget: &mut CallBudget,
    ) -> Result<Option<Reply>, OktaError> {
        let path = url.path();
        let mut token = self.token.get().await.map_err(token_failure)?;
        let mut token_replaced = false;
        let mut failures: u32 = 0;
        let mut throttles: u32 = 0;
        loop {
            let failure = match self.attempt(url, &token, failures + throttles + 1).await {
                Attempt::Answered {
                    status: 200..=299,
                    headers,
                    body,
                } => {
                    return Ok(Some(Reply {
                        body,
                        links: links(&headers),
                    }));
                }
                Attempt::Answered { status: 404, .. } => return Ok(None),
                Attempt::Answered { status: 401, .. } if !token_replaced => {
                    // Most likely a rotation the cache has not seen: re-read once, and
                    // try again only if that gave another token.
                    token_replaced = true;
                    let fresh = self.token.replace(&token).await.map_err(token_failure)?;
                    if fresh == token {
                        return Err(OktaError::Unauthorized { status: 401 });
                    }
                    token = fresh;
                    continue;
                }
                Attempt::Answered {
                    status: status @ (401 | 403),
                    ..
                } => return Err(OktaError::Unauthorized { status }),
                Attempt::Answered {
                    status: 429,
                    headers,
                    ..
                } => {
                    throttles += 1;
                    let until_reset = until_reset(&headers);
                    let wait = match until_reset {
                        Some(d) => self.retry.wait(
                            throttles,
                            Some(d.max(MIN_THROTTLE_WAIT)),
                            &mut rand::rng(),
                        ),
                        None => self
                            .retry
                            .wait(throttles, None, &mut rand::rng())
                            .max(MIN_THROTTLE_WAIT),
                    };
                    let spent = budget.throttled.saturating_add(wait);
                    if spent > self.throttle_budget {
                        tracing::debug!(
                            path,
                            ?until_reset,
                            "okta: rate limited past the call's budget"
                        );
                        return Err(OktaError::Throttled {
                            retry_after: until_reset.or(Some(wait)),
                        });
                    }
                    budget.throttled = spent;
                    let wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX);
                    tracing::debug!(path, wait_ms, "okta: rate limited; waiting for the reset");
                    tokio::time::sleep(wait).await;
                    continue;
                }
                Attempt::Answered {
                    status: status @ 500..=599,
                    ..
                } => format!("{path} answered {status}"),
                Attempt::Answered { status, body, .. } => {
                    return Err(OktaError::Rejected {
                        status,
                        message: self.scrubbed(&error_message(&body), &token),
                    });
                }
                Attempt::Unreachable(why) => format!("{path}: {why}"),
            };
            failures += 1;
            if failures > self.max_retries {
                return Err(OktaError::Unavailable(failure));
            }
            let backoff = self.retry.wait(failures, None, &mut rand::rng());
            tokio::time::sleep(backoff).await;
        }
    }

    /// Sends the GET once. `attempt_no` (from 1) is for the logs.
    async fn attempt(&self, url: &Url, token: &SecretString, attempt_no: u32) -> Attempt {
        let path = url.path();
        let mut authorization = match HeaderValue::from_str(&format!("SSWS {}", token.expose())) {
            Ok(value) => value,
            // Its error names no value; a token that cannot be sent is as good as refused.
            Err(_) => {
                tracing::error!("okta client: the API token is not a valid header value");
                return Attempt::Answered {
                    status: 401,
                    headers: HeaderMap::new(),
                    body: Vec::new(),
                };
            }
        };
        authorization.set_sensitive(true);
        let started = Instant::now();
        let sent = self
            .http
            .get(url.clone())
            .header(AUTHORIZATION, authorization)
            .header(ACCEPT, "application/json")
            .send()
            .await;
        let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let answer = match sent {
            Ok(response) => {
                let status = response.status().as_u16();
                let headers = response.headers().clone();
                response
                    .bytes()
                    .await
                    .map(|body| (status, headers, body.to_vec()))
            }
            Err(e) => Err(e),
        };
        match answer {
            Ok((status, headers, body)) => {
                let remaining = header(&headers, "x-rate-limit-remaining");
                tracing::debug!(
                    path,
                    status,
                    attempt_no,
                    elapsed_ms,
                    remaining,
                    "okta answered"
                );
                Attempt::Answered {
                    status,
                    headers,
                    body,
                }
            }
            Err(e) => {
                let why = if e.is_timeout() {
                    "timed out"
                } else if e.is_connect() {
                    "connection failed"
                } else {
                    "the answer was lost"
                };
                tracing::debug!(path, attempt_no, elapsed_ms, why, "okta unreachable");
                Attempt::Unreachable(why.to_owned())
            }
        }
    }

    /// `message` without the token in it, should a server or proxy have echoed it.
    fn scrubbed(&self, message: &str, token: &SecretString) -> String {
        if token.expose().is_empty() {
            message.to_owned()
        } else {
            message.replace(token.expose(), "<redacted>")
        }
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn links(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(LINK)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(str::to_owned)
        .collect()
}

/// How long until the rate limit resets: `X-Rate-Limit-Reset` (epoch seconds) less the
/// answer's `Date`, as Okta's rate limits reference advises, so that a skewed local clock
/// neither shortens nor stretches the wait; the local clock when there is no `Date`.
fn until_reset(headers: &HeaderMap) -> Option<Duration> {
    let reset = header(headers, "x-rate-limit-reset")?
        .trim()
        .parse::<u64>()
        .ok()?;
    let reset = Duration::from_secs(reset);
    let now = header(headers, DATE.as_str())
        .and_then(parse_http_date)
        .or_else(|| SystemTime::now().duration_since(UNIX_EPOCH).ok())?;
    Some(reset.saturating_sub(now))
}

/// An IMF-fixdate (RFC 9110 §5.6.7), e.g. `Sun, 06 Nov 1994 08:49:37 GMT`, as time since
/// the epoch.
fn parse_http_date(value: &str) -> Option<Duration> {
    let format = format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    let at = time::PrimitiveDateTime::parse(value.trim(), format)
        .ok()?
        .assume_utc();
    let secs = (at - OffsetDateTime::UNIX_EPOCH).whole_seconds();
    u64::try_from(secs).ok().map(Duration::from_secs)
}

/// Okta's `errorCode: errorSummary`, or the start of a body that is not Okta's error.
fn error_message(body: &[u8]) -> String {
    if let Ok(ErrorBody {
        code,
        summary: Some(summary),
    }) = serde_json::from_slice::<ErrorBody>(body)
    {
        return match code {
            Some(code) => format!("{code}: {summary}"),
            None => summary,
        };
    }
    let text = String::from_utf8_lossy(body);
    let start: String = text.chars().take(BODY_START).collect();
    if start.trim().is_empty() {
        "no error body".to_owned()
    } else {
        start
    }
}

/// A token that cannot be read means no request can be authenticated: unauthorized,
/// unless the store itself is unreachable, which is transient.
fn token_failure(error: SecretError) -> OktaError {
    tracing::error!(error = %error, "okta client: the API token could not be read");
    match error {
        SecretError::Transport(_) => {
            OktaError::Unavailable("the API token could not be read".to_owned())
        }
        _ => OktaError::Unauthorized { status: 401 },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn the_wait_runs_from_the_answer_s_date_to_the_reset() {
        // 784111777 is Sun, 06 Nov 1994 08:49:37 GMT (RFC 9110's example).
        let h = headers(&[
            ("x-rate-limit-reset", "784111800"),
            ("date", "Sun, 06 Nov 1994 08:49:37 GMT"),
        ]);
        assert_eq!(until_reset(&h), Some(Duration::from_secs(23)));
        let past = headers(&[
            ("x-rate-limit-reset", "784111700"),
            ("date", "Sun, 06 Nov 1994 08:49:37 GMT"),
        ]);
        assert_eq!(until_reset(&past), Some(Duration::ZERO));
        assert_eq!(
            until_reset(&headers(&[("date", "Sun, 06 Nov 1994 08:49:37 GMT")])),
            None
        );
    }

    #[test]
    fn without_a_date_the_local_clock_measures_the_wait() {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let h = headers(&[("x-rate-limit-reset", &(now + 5).to_string())]);
        let wait = until_reset(&h).unwrap();
        assert!(
            wait > Duration::from_secs(3) && wait <= Duration::from_secs(5),
            "{wait:?}"
        );
    }

    #[test]
    fn error_messages_take_okta_s_code_and_summary_or_the_body_s_start() {
        let okta = br#"{"errorCode":"E0000001","errorSummary":"Api validation failed: login","errorCauses":[]}"#;
        assert_eq!(
            error_message(okta),
            "E0000001: Api validation failed: login"
        );
        let long = "x".repeat(500);
        assert_eq!(error_message(long.as_bytes()).len(), BODY_START);
        assert_eq!(error_message(b""), "no error body");
    }
}
