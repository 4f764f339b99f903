//! Test support: where the local services that `scripts/test` starts are listening, and
//! an organization in moto for the entitlements tests ([`organizations`]).
//!
//! Tests that need a real service call these and fail with a clear message when the
//! service is missing, rather than passing without having tested anything.

#![allow(clippy::panic)] // Only tests link this crate; a missing service must fail the test.

pub mod organizations;

use aws_config::{BehaviorVersion, Region, SdkConfig};

fn required(var: &str, what: &str) -> String {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => v,
        _ => panic!(
            "{var} is not set: {what} is not running. Run the suite with scripts/test, \
             or start the services with `eval \"$(scripts/services up)\"`."
        ),
    }
}

/// The endpoint of moto's server (DynamoDB, Secrets Manager, SQS), e.g. `http://127.0.0.1:5000`.
pub fn moto_url() -> String {
    required("SCIMGW_TEST_MOTO_URL", "moto's server")
}

/// The base URL (ending in `/v2`) and bearer token of the scim2-server instance.
pub fn scim2_server() -> (String, String) {
    (
        required("SCIMGW_TEST_SCIM2_URL", "scim2-server"),
        required("SCIMGW_TEST_SCIM2_TOKEN", "scim2-server"),
    )
}

/// The Python of the services' virtual environment, which has moto (for tests that run
/// a moto server of their own, such as `infra/test-services/moto_restartable.py`).
pub fn python() -> String {
    required("SCIMGW_TEST_PYTHON", "the test services' Python")
}

/// An AWS SDK configuration that talks to moto's server with throw-away credentials.
pub async fn moto_sdk_config() -> SdkConfig {
    let creds =
        aws_credential_types::Credentials::new("testing", "testing", None, None, "test-services");
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(moto_url())
        .region(Region::new("us-east-1"))
        .credentials_provider(creds)
        .load()
        .await
}

/// A name no other test uses, for tables, queues and secrets in the shared moto server.
pub fn unique_name(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{prefix}-{}-{nanos:x}-{n}", std::process::id())
}
