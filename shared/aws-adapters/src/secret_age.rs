//! [`SecretVersionAge`]: when the current value of a secret was put, from Secrets
//! Manager's version metadata (`ListSecretVersionIds`), without reading the value. The
//! `token-age` function uses it to publish the Identity Center token's age, which an
//! alarm watches: Identity Center's SCIM tokens expire a year after they are made, and
//! there is no API to make them, so an admin must act in time.

use std::time::SystemTime;

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_secretsmanager::operation::list_secret_version_ids::ListSecretVersionIdsError;
use gateway::{SecretError, SecretId};

/// The staging label of a secret's current value.
const CURRENT: &str = "AWSCURRENT";

/// Reads when a secret's `AWSCURRENT` version was created.
#[derive(Debug, Clone)]
pub struct SecretVersionAge {
    client: Client,
}

impl SecretVersionAge {
    /// A reader over `client`.
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    /// When the secret's current version was created: when its value was last put.
    /// A secret created without a value (as the template creates the Identity Center
    /// token's) has no current version: [`SecretError::NoValue`].
    pub async fn current_version_created(&self, id: &SecretId) -> Result<SystemTime, SecretError> {
        let mut next_token = None;
        loop {
            let page = self
                .client
                .list_secret_version_ids()
                .secret_id(id.as_str())
                .set_next_token(next_token)
                .send()
                .await
                .map_err(|e| classify(id, e))?;
            let current = page
                .versions()
                .iter()
                .find(|v| v.version_stages().iter().any(|s| s == CURRENT));
            if let Some(version) = current {
                return version
                    .created_date()
                    .and_then(|d| SystemTime::try_from(*d).ok())
                    .ok_or_else(|| SecretError::NoValue(id.clone()));
            }
            match page.next_token {
                Some(token) if !token.is_empty() => next_token = Some(token),
                _ => return Err(SecretError::NoValue(id.clone())),
            }
        }
    }
}

/// Sorts a failed `ListSecretVersionIds` into the port's kinds, keeping the SDK error
/// as the source.
fn classify<R>(id: &SecretId, err: SdkError<ListSecretVersionIdsError, R>) -> SecretError
where
    R: std::fmt::Debug + Send + Sync + 'static,
{
    if let SdkError::ServiceError(service) = &err {
        match service.err() {
            ListSecretVersionIdsError::ResourceNotFoundException(_) => {
                return SecretError::NotFound(id.clone());
            }
            other if other.code() == Some("AccessDeniedException") => {
                return SecretError::AccessDenied(id.clone());
            }
            _ => {}
        }
    }
    SecretError::Transport(Box::new(err))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    async fn client() -> Client {
        Client::new(&test_services::moto_sdk_config().await)
    }

    #[tokio::test]
    async fn the_current_version_date_is_when_the_value_was_last_put() {
        // Arrange
        let client = client().await;
        let name = test_services::unique_name("ic-token");
        client.create_secret().name(&name).send().await.unwrap();
        let ages = SecretVersionAge::new(client.clone());
        let id = SecretId::new(&name);

        // Act: an empty secret has no current version; a put makes one.
        let before_put = ages.current_version_created(&id).await;
        client
            .put_secret_value()
            .secret_id(&name)
            .secret_string("t0ken")
            .send()
            .await
            .unwrap();
        let created = ages.current_version_created(&id).await.unwrap();

        // Assert
        assert!(
            matches!(before_put, Err(SecretError::NoValue(_))),
            "{before_put:?}"
        );
        let age = SystemTime::now()
            .duration_since(created)
            .unwrap_or_default();
        assert!(age < Duration::from_secs(300), "{age:?}");
    }

    // Classification is tested on built errors: moto answers a missing secret's
    // ListSecretVersionIds with a 500 rather than ResourceNotFoundException.
    #[test]
    fn a_missing_secret_is_not_found_and_other_failures_keep_their_source() {
        use aws_sdk_secretsmanager::types::error::ResourceNotFoundException;

        let id = SecretId::new("ic-token");
        let missing: SdkError<ListSecretVersionIdsError, ()> = SdkError::service_error(
            ListSecretVersionIdsError::ResourceNotFoundException(
                ResourceNotFoundException::builder()
                    .message("no such secret")
                    .build(),
            ),
            (),
        );
        assert!(matches!(classify(&id, missing), SecretError::NotFound(_)));

        let timeout: SdkError<ListSecretVersionIdsError, ()> = SdkError::timeout_error("slow");
        let classified = classify(&id, timeout);
        assert!(matches!(classified, SecretError::Transport(_)));
        assert!(std::error::Error::source(&classified).is_some());
    }
}
