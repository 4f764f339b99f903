//! [`StaticSecretSource`]: secrets fixed at start-up, for `scimgw dev` and local runs.
//!
//! `gateway`'s `InMemorySecretSource` would do, but it sits behind the `test-util`
//! feature with the other fakes, and enabling that feature in a shipped binary would
//! compile every fake into it. This source is deliberately smaller: no mutation, no read
//! counting, nothing a test needs and a binary does not.

use std::collections::HashMap;

use async_trait::async_trait;
use gateway::{SecretError, SecretId, SecretSource, SecretString};

/// A [`SecretSource`] over values given at construction. It never changes, so there is
/// nothing to cache and `get_fresh` is `get`.
#[derive(Default)]
pub struct StaticSecretSource {
    values: HashMap<SecretId, SecretString>,
}

impl std::fmt::Debug for StaticSecretSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaticSecretSource")
            .field("ids", &self.values.keys())
            .finish()
    }
}

impl StaticSecretSource {
    /// An empty source.
    pub fn new() -> Self {
        Self::default()
    }

    /// The source with one more secret.
    #[must_use]
    pub fn with(mut self, id: SecretId, value: SecretString) -> Self {
        self.values.insert(id, value);
        self
    }
}

#[async_trait]
impl SecretSource for StaticSecretSource {
    async fn get(&self, id: &SecretId) -> Result<SecretString, SecretError> {
        self.values
            .get(id)
            .cloned()
            .ok_or_else(|| SecretError::NotFound(id.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_static_source_returns_what_it_was_given_and_nothing_else() {
        // Arrange
        let source = StaticSecretSource::new().with(SecretId::new("a"), SecretString::new("1"));

        // Act
        let found = source.get(&SecretId::new("a")).await.unwrap();
        let missing = source.get_fresh(&SecretId::new("b")).await;

        // Assert
        assert_eq!(found.expose(), "1");
        assert!(matches!(missing, Err(SecretError::NotFound(_))));
        assert!(!format!("{source:?}").contains('1'));
    }
}
