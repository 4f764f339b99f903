//! Shared set-up of the client's integration tests: clients over an in-memory secret
//! source, and resources shaped the way Identity Center requires them.

pub mod front;

use std::sync::Arc;
use std::time::Duration;

use clients::{HttpTargetScimClient, RetryPolicy, TargetClientConfig, TargetDialect};
use gateway::{InMemorySecretSource, SecretId};
use scim_core::{Filter, Group, PatchOp, User};
use serde_json::json;

/// The secret id the tests' clients read their token from.
pub fn token_id() -> SecretId {
    SecretId::new("arn:aws:secretsmanager:us-east-1:111122223333:secret:ic-scim-token")
}

/// A client of `base_url` whose token source holds `token`, with the test's budget.
pub fn client(
    base_url: &str,
    token: &str,
    dialect: TargetDialect,
) -> (HttpTargetScimClient, Arc<InMemorySecretSource>) {
    client_with(base_url, token, dialect, |_| {})
}

/// Like [`client`], with the configuration adjusted by `adjust`.
pub fn client_with(
    base_url: &str,
    token: &str,
    dialect: TargetDialect,
    adjust: impl FnOnce(&mut TargetClientConfig),
) -> (HttpTargetScimClient, Arc<InMemorySecretSource>) {
    let secrets = Arc::new(InMemorySecretSource::with(&token_id(), token));
    let mut config = TargetClientConfig::new(base_url, token_id(), dialect);
    config.default_budget = Duration::from_secs(30);
    config.retry = RetryPolicy {
        base: Duration::from_millis(20),
        cap: Duration::from_secs(1),
    };
    adjust(&mut config);
    let client = HttpTargetScimClient::new(config, secrets.clone()).unwrap();
    (client, secrets)
}

/// A user with every attribute Identity Center requires (AWS-DG createuser).
pub fn user(user_name: &str, external_id: Option<&str>) -> User {
    let mut body = json!({
        "schemas": [scim_core::USER_SCHEMA],
        "userName": user_name,
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
        "displayName": "Ada Lovelace",
        "emails": [{"value": format!("{user_name}@example.com"), "type": "work", "primary": true}],
        "active": true,
    });
    if let Some(external_id) = external_id {
        body["externalId"] = json!(external_id);
    }
    serde_json::from_value(body).unwrap()
}

/// A group with only a display name (and an external id when given).
pub fn group(display_name: &str, external_id: Option<&str>) -> Group {
    let mut body = json!({"schemas": [scim_core::GROUP_SCHEMA], "displayName": display_name});
    if let Some(external_id) = external_id {
        body["externalId"] = json!(external_id);
    }
    serde_json::from_value(body).unwrap()
}

/// A parsed filter.
pub fn filter(text: &str) -> Filter {
    scim_core::parse_filter(text).unwrap()
}

/// A parsed PATCH body.
pub fn patch(body: serde_json::Value) -> PatchOp {
    PatchOp::parse(&body).unwrap()
}

/// A name unique to this run, so tests can share a server.
pub fn unique(prefix: &str) -> String {
    test_services::unique_name(prefix)
}

/// An id shaped like Identity Center's that no resource has: the client sends requests
/// for it, where it answers an id of another shape itself (`identity_center::ids`).
pub const SOME_ID: &str = "9067729b3d-00000000-0000-4000-8000-000000000000";

/// The token the emulators of these tests accept.
pub const TOKEN: &str = "emulator-token-0f3c9a";

/// An emulator on a free loopback port, with these knobs.
pub async fn emulator(knobs: ic_emulator::Knobs) -> ic_emulator::RunningEmulator {
    let config = ic_emulator::EmulatorConfig::new(TOKEN).with_knobs(knobs);
    ic_emulator::Emulator::start(config, "127.0.0.1:0")
        .await
        .unwrap()
}

/// A client of `running` with the tests' default configuration.
pub fn ic_client(running: &ic_emulator::RunningEmulator) -> HttpTargetScimClient {
    client(&running.base_url(), TOKEN, TargetDialect::IdentityCenter).0
}
