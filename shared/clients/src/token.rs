//! An API token (Identity Center's bearer token, Okta's SSWS token), read through the
//! secrets port and cached with a TTL, so that a rotated token is picked up within the
//! TTL, or at once when the server refuses the old one. Shared by the clients.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gateway::{SecretError, SecretId, SecretSource, SecretString};

/// The cached token. Its `Debug` shows the secret id only.
pub(crate) struct TokenCache {
    source: Arc<dyn SecretSource>,
    id: SecretId,
    ttl: Duration,
    current: Mutex<Option<(SecretString, Instant)>>,
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCache")
            .field("secret_id", &self.id)
            .field("ttl", &self.ttl)
            .finish()
    }
}

impl TokenCache {
    pub(crate) fn new(source: Arc<dyn SecretSource>, id: SecretId, ttl: Duration) -> Self {
        Self {
            source,
            id,
            ttl,
            current: Mutex::new(None),
        }
    }

    /// The cached token while it is younger than the TTL, else a newly read one.
    pub(crate) async fn get(&self) -> Result<SecretString, SecretError> {
        if let Some(token) = self.cached(self.ttl) {
            return Ok(token);
        }
        let token = self.source.get(&self.id).await?;
        self.store(&token);
        Ok(token)
    }

    /// A token other than `refused`: the one another request has already re-read, or
    /// one read from the store past every cache. Called after a 401, whose usual cause
    /// is a rotation, so that concurrent requests refused together re-read it once.
    pub(crate) async fn replace(
        &self,
        refused: &SecretString,
    ) -> Result<SecretString, SecretError> {
        if let Some(token) = self.cached(self.ttl).filter(|t| t != refused) {
            return Ok(token);
        }
        let token = self.source.get_fresh(&self.id).await?;
        self.store(&token);
        Ok(token)
    }

    fn cached(&self, ttl: Duration) -> Option<SecretString> {
        // A poisoned lock only means a panic elsewhere; the cached value is still whole.
        let current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        current
            .as_ref()
            .filter(|(_, at)| at.elapsed() < ttl)
            .map(|(t, _)| t.clone())
    }

    fn store(&self, token: &SecretString) {
        let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        *current = Some((token.clone(), Instant::now()));
    }
}

#[cfg(test)]
mod tests {
    use gateway::InMemorySecretSource;

    use super::*;

    #[tokio::test]
    async fn the_token_is_read_once_while_the_ttl_lasts() {
        // Arrange
        let id = SecretId::new("ic-token");
        let source = Arc::new(InMemorySecretSource::with(&id, "t1"));
        let cache = TokenCache::new(source.clone(), id, Duration::from_secs(60));

        // Act
        for _ in 0..5 {
            assert_eq!(cache.get().await.unwrap().expose(), "t1");
        }

        // Assert
        assert_eq!(source.reads(), 1);
    }

    #[tokio::test]
    async fn a_refused_token_is_replaced_by_the_rotated_one_before_the_ttl_ends() {
        // Arrange
        let id = SecretId::new("ic-token");
        let source = Arc::new(InMemorySecretSource::with(&id, "old"));
        let cache = TokenCache::new(source.clone(), id.clone(), Duration::from_secs(3600));
        let refused = cache.get().await.unwrap();
        source.set(&id, "new");

        // Act
        let first = cache.replace(&refused).await.unwrap();
        let second = cache.replace(&refused).await.unwrap();

        // Assert: the second refused request reuses the first one's re-read.
        assert_eq!((first.expose(), second.expose()), ("new", "new"));
        assert_eq!(source.reads(), 2);
        assert_eq!(cache.get().await.unwrap().expose(), "new");
    }

    #[test]
    fn the_cache_debug_output_names_the_secret_but_not_the_token() {
        let id = SecretId::new("ic-token");
        let source = Arc::new(InMemorySecretSource::with(&id, "super-secret-value"));
        let cache = TokenCache::new(source, id, Duration::from_secs(1));
        cache.store(&SecretString::new("super-secret-value"));
        let shown = format!("{cache:?}");
        assert!(
            shown.contains("ic-token") && !shown.contains("super-secret"),
            "{shown}"
        );
    }
}
