//! `SecretsManagerSource` against a real Secrets Manager API (moto's server): reading,
//! the TTL cache picking up a rotation, and a missing secret.

use std::time::Duration;

use aws_adapters::SecretsManagerSource;
use aws_sdk_secretsmanager::Client;
use gateway::{SecretError, SecretId, SecretSource};

async fn client() -> Client {
    Client::new(&test_services::moto_sdk_config().await)
}

async fn create_secret(client: &Client, value: &str) -> SecretId {
    let name = test_services::unique_name("scimgw-ic-token");
    client
        .create_secret()
        .name(&name)
        .secret_string(value)
        .send()
        .await
        .unwrap();
    SecretId::new(name)
}

#[tokio::test]
async fn a_stored_secret_is_read_as_its_string_value() {
    // Arrange
    let client = client().await;
    let id = create_secret(&client, "first-token").await;
    let source = SecretsManagerSource::new(client, Duration::from_secs(60));

    // Act
    let value = source.get(&id).await.unwrap();

    // Assert
    assert_eq!(value.expose(), "first-token");
}

#[tokio::test]
async fn a_rotated_secret_is_seen_once_the_ttl_has_passed_and_not_before() {
    // Arrange
    let client = client().await;
    let id = create_secret(&client, "before-rotation").await;
    let ttl = Duration::from_millis(400);
    let source = SecretsManagerSource::new(client.clone(), ttl);
    assert_eq!(source.get(&id).await.unwrap().expose(), "before-rotation");

    // Act: rotate by putting a new current version.
    client
        .put_secret_value()
        .secret_id(id.as_str())
        .secret_string("after-rotation")
        .send()
        .await
        .unwrap();
    let within_ttl = source.get(&id).await.unwrap();
    tokio::time::sleep(ttl + Duration::from_millis(100)).await;
    let after_ttl = source.get(&id).await.unwrap();

    // Assert
    assert_eq!(
        within_ttl.expose(),
        "before-rotation",
        "served from the cache"
    );
    assert_eq!(after_ttl.expose(), "after-rotation");
}

#[tokio::test]
async fn a_fresh_read_bypasses_the_cache_so_a_refused_token_can_be_re_read_at_once() {
    // Arrange
    let client = client().await;
    let id = create_secret(&client, "old").await;
    let source = SecretsManagerSource::new(client.clone(), Duration::from_secs(3600));
    source.get(&id).await.unwrap();
    client
        .put_secret_value()
        .secret_id(id.as_str())
        .secret_string("new")
        .send()
        .await
        .unwrap();

    // Act
    let fresh = source.get_fresh(&id).await.unwrap();
    let cached_after = source.get(&id).await.unwrap();

    // Assert
    assert_eq!(fresh.expose(), "new");
    assert_eq!(
        cached_after.expose(),
        "new",
        "the fresh read refreshed the cache"
    );
}

#[tokio::test]
async fn a_missing_secret_is_not_found() {
    // Arrange
    let source = SecretsManagerSource::new(client().await, Duration::from_secs(60));
    let id = SecretId::new(test_services::unique_name("scimgw-missing"));

    // Act
    let result = source.get(&id).await;

    // Assert
    assert!(
        matches!(result, Err(SecretError::NotFound(ref missing)) if *missing == id),
        "{result:?}"
    );
}

#[tokio::test]
async fn an_unreachable_store_is_a_transport_error_not_a_missing_secret() {
    // Arrange: a port nothing listens on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let config =
        aws_sdk_secretsmanager::config::Builder::from(&test_services::moto_sdk_config().await)
            .endpoint_url(format!("http://{addr}"))
            .retry_config(aws_sdk_secretsmanager::config::retry::RetryConfig::disabled())
            .build();
    let source = SecretsManagerSource::new(Client::from_conf(config), Duration::from_secs(60));

    // Act
    let result = source.get(&SecretId::new("anything")).await;

    // Assert
    assert!(
        matches!(result, Err(SecretError::Transport(_))),
        "{result:?}"
    );
}

#[test]
fn the_source_debug_output_shows_no_cached_value() {
    let config = aws_sdk_secretsmanager::Config::builder()
        .behavior_version(aws_sdk_secretsmanager::config::BehaviorVersion::latest())
        .build();
    let source = SecretsManagerSource::new(Client::from_conf(config), Duration::from_secs(1));
    assert_eq!(
        format!("{source:?}"),
        "SecretsManagerSource { ttl: 1s, .. }"
    );
}
