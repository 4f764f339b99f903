//! The secrets port: where the gateway reads tokens and keys, and the types that keep
//! their values out of logs, error messages and serialized output.

use std::fmt;

use async_trait::async_trait;

/// Names a secret in the secret store: an ARN or a name, as configured through the
/// environment. Carries no secret material itself, so it may be logged.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SecretId(String);

impl SecretId {
    /// A secret id from an ARN or a name.
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    /// The ARN or name as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SecretId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A secret value. `Debug` and `Display` print a placeholder and there is deliberately
/// no `Serialize`, so a secret cannot reach a log line or an audit record by accident;
/// reading it takes an explicit [`SecretString::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(String);

impl SecretString {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret value. Call it only where the value is put on the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for SecretString {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString(<redacted>)")
    }
}

impl fmt::Display for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Why a secret could not be read. Adapters classify their SDK's errors into these;
/// messages name the secret id, never its value.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// No secret with this id exists (or it is scheduled for deletion).
    #[error("secrets: {0} not found")]
    NotFound(SecretId),
    /// The caller's identity may not read this secret, or may not decrypt it.
    #[error("secrets: access to {0} denied")]
    AccessDenied(SecretId),
    /// The secret exists but holds no usable string value (binary only, or empty).
    #[error("secrets: {0} holds no string value")]
    NoValue(SecretId),
    /// The store could not be reached or answered with a failure that says nothing
    /// about the secret; worth retrying later.
    #[error("secrets: the secret store is unavailable")]
    Transport(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Reads secrets by id. Implementations cache values with a TTL, so that
/// a rotated secret is picked up without a redeploy.
#[async_trait]
pub trait SecretSource: Send + Sync {
    /// The current value of a secret, possibly from a cache no older than its TTL.
    async fn get(&self, id: &SecretId) -> Result<SecretString, SecretError>;

    /// The value read from the store itself, bypassing and refreshing any cache.
    ///
    /// Callers use it when a credential was just refused, because the likeliest cause
    /// is a rotation that the cache has not seen yet. Sources without a cache need not
    /// override it.
    async fn get_fresh(&self, id: &SecretId) -> Result<SecretString, SecretError> {
        self.get(id).await
    }
}

#[cfg(any(test, feature = "test-util"))]
pub use fake::InMemorySecretSource;

#[cfg(any(test, feature = "test-util"))]
mod fake {
    use std::collections::HashMap;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// A [`SecretSource`] over a map, for tests: values can be changed at run time to
    /// simulate a rotation, and reads are counted so tests can see what was cached.
    #[derive(Debug, Default)]
    pub struct InMemorySecretSource {
        values: Mutex<HashMap<SecretId, SecretString>>,
        reads: AtomicUsize,
    }

    impl InMemorySecretSource {
        /// An empty source.
        pub fn new() -> Self {
            Self::default()
        }

        /// A source holding one secret.
        pub fn with(id: &SecretId, value: &str) -> Self {
            let source = Self::new();
            source.set(id, value);
            source
        }

        /// Sets (or rotates) a secret's value.
        pub fn set(&self, id: &SecretId, value: &str) {
            // A poisoned lock only means another test thread panicked; the map is still valid.
            let mut values = self.values.lock().unwrap_or_else(|p| p.into_inner());
            values.insert(id.clone(), SecretString::new(value));
        }

        /// How many times `get` or `get_fresh` was called.
        pub fn reads(&self) -> usize {
            self.reads.load(Ordering::SeqCst)
        }
    }

    #[async_trait]
    impl SecretSource for InMemorySecretSource {
        async fn get(&self, id: &SecretId) -> Result<SecretString, SecretError> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            let values = self.values.lock().unwrap_or_else(|p| p.into_inner());
            values
                .get(id)
                .cloned()
                .ok_or_else(|| SecretError::NotFound(id.clone()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_string_never_shows_its_value_in_debug_or_display() {
        // Arrange
        let secret = SecretString::new("hunter2-very-secret");

        // Act
        let shown = format!("{secret:?} {secret} {:?}", Some(&secret));

        // Assert
        assert!(!shown.contains("hunter2"), "{shown}");
        assert_eq!(secret.expose(), "hunter2-very-secret");
    }

    #[test]
    fn a_secret_error_names_the_secret_id_but_not_a_value() {
        let err = SecretError::NotFound(SecretId::new("arn:aws:secretsmanager:x:1:secret:ic"));
        assert_eq!(
            err.to_string(),
            "secrets: arn:aws:secretsmanager:x:1:secret:ic not found"
        );
    }

    #[tokio::test]
    async fn the_in_memory_source_returns_the_rotated_value_after_a_set() {
        // Arrange
        let id = SecretId::new("token");
        let source = InMemorySecretSource::with(&id, "old");

        // Act
        source.set(&id, "new");
        let value = source.get_fresh(&id).await;

        // Assert
        assert_eq!(
            value.map(|s| s.expose().to_owned()).ok(),
            Some("new".to_owned())
        );
        assert!(matches!(
            source.get(&SecretId::new("missing")).await,
            Err(SecretError::NotFound(_))
        ));
    }
}
