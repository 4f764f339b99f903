//! [`TargetCounters`]: what the client's retry loop did, counted for the functions'
//! metrics (calls, throttles, retries, failed attempts). The loop only increments; the
//! function drains the counts after each request and publishes them.

use std::sync::atomic::{AtomicU64, Ordering};

use gateway::CallCounts;

/// Counts of HTTP attempts since the last [`TargetCounters::take`].
#[derive(Debug, Default)]
pub struct TargetCounters {
    calls: AtomicU64,
    throttles: AtomicU64,
    retries: AtomicU64,
    errors: AtomicU64,
}

impl TargetCounters {
    /// The counts so far, resetting them to zero (each counter is swapped on its own,
    /// so an attempt racing with the read is counted now or next time, never lost).
    pub fn take(&self) -> CallCounts {
        let take = |c: &AtomicU64| c.swap(0, Ordering::Relaxed);
        CallCounts {
            calls: take(&self.calls),
            throttles: take(&self.throttles),
            retries: take(&self.retries),
            errors: take(&self.errors),
        }
    }

    pub(super) fn call(&self) {
        self.calls.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn throttle(&self) {
        self.throttles.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn retry(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn error(&self) {
        self.errors.fetch_add(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    use gateway::{Deadline, InMemorySecretSource, SecretId, TargetScimClient};

    use super::*;
    use crate::identity_center::{
        HttpTargetScimClient, RetryPolicy, TargetClientConfig, TargetDialect,
    };

    /// An id shaped like Identity Center's, which the client sends (`ids`).
    const USER_ID: &str = "9067729b3d-ee533c18-538a-4cd3-a572-63fb863ed734";

    /// A target that answers 429, then 503, then the user.
    async fn flaky_target() -> String {
        let calls = Arc::new(AtomicUsize::new(0));
        let app = axum::Router::new().route(
            "/scim/v2/Users/{id}",
            axum::routing::get(move || {
                let calls = calls.clone();
                async move {
                    match calls.fetch_add(1, Ordering::SeqCst) {
                        0 => StatusCode::TOO_MANY_REQUESTS.into_response(),
                        1 => StatusCode::SERVICE_UNAVAILABLE.into_response(),
                        _ => axum::Json(serde_json::json!({
                            "schemas": [scim_core::USER_SCHEMA],
                            "id": USER_ID,
                            "userName": "ada",
                        }))
                        .into_response(),
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{address}/scim/v2")
    }

    #[tokio::test]
    async fn the_client_counts_its_attempts_throttles_retries_and_failures() {
        // Arrange
        let token = SecretId::new("token");
        let secrets = Arc::new(InMemorySecretSource::with(&token, "t0ken"));
        let mut config =
            TargetClientConfig::new(flaky_target().await, token, TargetDialect::IdentityCenter);
        config.retry = RetryPolicy {
            base: Duration::from_millis(5),
            cap: Duration::from_millis(20),
        };
        let client = HttpTargetScimClient::new(config, secrets).unwrap();
        let counters = client.counters();

        // Act
        let user = client.get_user(USER_ID, Deadline::default()).await;

        // Assert
        assert!(user.is_ok(), "{user:?}");
        assert_eq!(
            counters.take(),
            CallCounts {
                calls: 3,
                throttles: 1,
                retries: 2,
                errors: 1
            }
        );
    }

    #[test]
    fn take_returns_the_counts_and_starts_again_from_zero() {
        // Arrange
        let counters = TargetCounters::default();
        counters.call();
        counters.call();
        counters.throttle();
        counters.retry();

        // Act
        let first = counters.take();
        let second = counters.take();

        // Assert
        assert_eq!(
            first,
            CallCounts {
                calls: 2,
                throttles: 1,
                retries: 1,
                errors: 0
            }
        );
        assert_eq!(second, CallCounts::default());
    }
}
