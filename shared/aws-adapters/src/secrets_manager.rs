//! [`SecretSource`] over AWS Secrets Manager, with a TTL cache so that a rotated secret
//! is picked up without a redeploy and a warm Lambda does not call Secrets Manager on
//! every request.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError;
use gateway::{SecretError, SecretId, SecretSource, SecretString};

/// How long a value is trusted when the caller does not say: short enough that a
/// rotation takes effect within minutes, long enough that a warm Lambda reads each
/// secret a handful of times an hour.
pub const DEFAULT_TTL: Duration = Duration::from_secs(300);

/// Reads secrets' current (`AWSCURRENT`) string values from Secrets Manager.
pub struct SecretsManagerSource {
    client: Client,
    ttl: Duration,
    cache: Mutex<HashMap<SecretId, Cached>>,
}

struct Cached {
    value: SecretString,
    read_at: Instant,
}

impl SecretsManagerSource {
    /// A source over `client` that trusts a value for `ttl` after reading it.
    pub fn new(client: Client, ttl: Duration) -> Self {
        Self {
            client,
            ttl,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// A source with [`DEFAULT_TTL`].
    pub fn with_default_ttl(client: Client) -> Self {
        Self::new(client, DEFAULT_TTL)
    }

    fn cached(&self, id: &SecretId) -> Option<SecretString> {
        // A poisoned lock means a panic elsewhere mid-insert; the map itself is intact.
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache
            .get(id)
            .filter(|c| c.read_at.elapsed() < self.ttl)
            .map(|c| c.value.clone())
    }

    async fn fetch(&self, id: &SecretId) -> Result<SecretString, SecretError> {
        let output = self
            .client
            .get_secret_value()
            .secret_id(id.as_str())
            .send()
            .await
            .map_err(|e| classify(id, e))?;
        let value = output
            .secret_string
            .filter(|s| !s.is_empty())
            .map(SecretString::from)
            .ok_or_else(|| SecretError::NoValue(id.clone()))?;
        tracing::debug!(secret_id = %id, version_id = ?output.version_id, "secret read");
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache.insert(
            id.clone(),
            Cached {
                value: value.clone(),
                read_at: Instant::now(),
            },
        );
        Ok(value)
    }
}

impl fmt::Debug for SecretsManagerSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretsManagerSource")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl SecretSource for SecretsManagerSource {
    async fn get(&self, id: &SecretId) -> Result<SecretString, SecretError> {
        match self.cached(id) {
            Some(value) => Ok(value),
            None => self.fetch(id).await,
        }
    }

    async fn get_fresh(&self, id: &SecretId) -> Result<SecretString, SecretError> {
        self.fetch(id).await
    }
}

/// Sorts a failed `GetSecretValue` into the port's kinds by its modelled variant or
/// error code, keeping the SDK error as the source rather than flattening it to text.
fn classify<R>(id: &SecretId, err: SdkError<GetSecretValueError, R>) -> SecretError
where
    R: fmt::Debug + Send + Sync + 'static,
{
    if let SdkError::ServiceError(service) = &err {
        match service.err() {
            GetSecretValueError::ResourceNotFoundException(_) => {
                return SecretError::NotFound(id.clone());
            }
            // Secrets Manager answers InvalidRequest for a secret scheduled for
            // deletion: for a reader it is as gone as a missing one.
            GetSecretValueError::InvalidRequestException(_) => {
                return SecretError::NotFound(id.clone());
            }
            // KMS refused to decrypt: a permissions problem on the key, not an outage.
            GetSecretValueError::DecryptionFailure(_) => {
                return SecretError::AccessDenied(id.clone());
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
    use aws_sdk_secretsmanager::error::ErrorMetadata;
    use aws_sdk_secretsmanager::types::error::{DecryptionFailure, ResourceNotFoundException};

    use super::*;

    fn service(err: GetSecretValueError) -> SdkError<GetSecretValueError, ()> {
        SdkError::service_error(err, ())
    }

    fn id() -> SecretId {
        SecretId::new("ic-token")
    }

    #[test]
    fn a_missing_secret_is_classified_as_not_found() {
        let err = service(GetSecretValueError::ResourceNotFoundException(
            ResourceNotFoundException::builder()
                .message("no such secret")
                .build(),
        ));
        assert!(matches!(classify(&id(), err), SecretError::NotFound(_)));
    }

    #[test]
    fn an_access_denied_code_is_classified_as_access_denied() {
        let err = service(GetSecretValueError::generic(
            ErrorMetadata::builder()
                .code("AccessDeniedException")
                .message("not allowed")
                .build(),
        ));
        assert!(matches!(classify(&id(), err), SecretError::AccessDenied(_)));
    }

    #[test]
    fn a_kms_decryption_failure_is_classified_as_access_denied() {
        let err = service(GetSecretValueError::DecryptionFailure(
            DecryptionFailure::builder().build(),
        ));
        assert!(matches!(classify(&id(), err), SecretError::AccessDenied(_)));
    }

    #[test]
    fn a_timeout_is_a_transport_error_that_keeps_the_sdk_error_as_its_source() {
        // Arrange
        let err: SdkError<GetSecretValueError, ()> = SdkError::timeout_error("took too long");

        // Act
        let classified = classify(&id(), err);

        // Assert
        assert!(matches!(classified, SecretError::Transport(_)));
        assert!(std::error::Error::source(&classified).is_some());
        assert_eq!(
            classified.to_string(),
            "secrets: the secret store is unavailable"
        );
    }
}
