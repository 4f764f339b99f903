//! [`InMemoryRuleStore`]: rule-set versions and their active pointer kept in the
//! process, for tests and `scimgw dev`. It keeps the port's promises exactly as the
//! DynamoDB adapter does: numbers without gaps, conditional switches, every switch in the
//! history.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;

pub use crate::ports::rule_store::{
    Activation, NewRuleSet, RuleHistory, RuleSetEntry, RuleStore, RuleStoreError, RuleVersion,
    StoredRuleSet, check_name, document_sha256,
};
use crate::{Clock, SystemClock};

#[derive(Debug, Default)]
struct State {
    /// In version order: version `n` at index `n - 1`.
    versions: Vec<StoredRuleSet>,
    /// In sequence order: switch `n` at index `n - 1`.
    activations: Vec<Activation>,
}

/// Rule-set versions in memory (see the module docs).
pub struct InMemoryRuleStore {
    state: Mutex<State>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for InMemoryRuleStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        f.debug_struct("InMemoryRuleStore")
            .field("versions", &state.versions.len())
            .field("activations", &state.activations.len())
            .finish_non_exhaustive()
    }
}

impl Default for InMemoryRuleStore {
    fn default() -> Self {
        Self::new(Arc::new(SystemClock))
    }
}

impl InMemoryRuleStore {
    /// An empty store that timestamps with `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            state: Mutex::new(State::default()),
            clock,
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn index(version: RuleVersion) -> Option<usize> {
    usize::try_from(version.number() - 1).ok()
}

#[async_trait]
impl RuleStore for InMemoryRuleStore {
    async fn put_version(&self, new: NewRuleSet) -> Result<RuleVersion, RuleStoreError> {
        new.check()?;
        let created_at = self.clock.now();
        let mut state = self.state();
        let number = u64::try_from(state.versions.len())
            .ok()
            .and_then(|n| n.checked_add(1))
            .and_then(RuleVersion::new)
            .ok_or_else(|| RuleStoreError::Refused("no version number is left".into()))?;
        state.versions.push(StoredRuleSet {
            version: number,
            sha256: document_sha256(&new.document),
            document: new.document,
            author: new.author,
            note: new.note,
            created_at,
        });
        Ok(number)
    }

    async fn get(&self, version: RuleVersion) -> Result<Option<StoredRuleSet>, RuleStoreError> {
        let state = self.state();
        Ok(index(version).and_then(|i| state.versions.get(i)).cloned())
    }

    async fn active(&self) -> Result<Option<StoredRuleSet>, RuleStoreError> {
        let state = self.state();
        Ok(state
            .activations
            .last()
            .and_then(|a| index(a.version))
            .and_then(|i| state.versions.get(i))
            .cloned())
    }

    async fn activate(
        &self,
        version: RuleVersion,
        expected_active: Option<RuleVersion>,
        by: &str,
    ) -> Result<Activation, RuleStoreError> {
        check_name("activating principal", by)?;
        let activated_at = self.clock.now();
        let mut state = self.state();
        if index(version).and_then(|i| state.versions.get(i)).is_none() {
            return Err(RuleStoreError::NotFound(version));
        }
        let previous = state.activations.last().map(|a| a.version);
        if previous != expected_active {
            return Err(RuleStoreError::Conflict {
                expected: expected_active,
            });
        }
        let activation = Activation {
            sequence: u64::try_from(state.activations.len())
                .unwrap_or(u64::MAX)
                .saturating_add(1),
            version,
            previous,
            activated_at,
            activated_by: by.to_owned(),
        };
        state.activations.push(activation.clone());
        Ok(activation)
    }

    async fn history(&self) -> Result<RuleHistory, RuleStoreError> {
        let state = self.state();
        let versions = state
            .versions
            .iter()
            .map(|v| RuleSetEntry {
                version: v.version,
                sha256: v.sha256.clone(),
                author: v.author.clone(),
                note: v.note.clone(),
                created_at: v.created_at,
                activated_at: None,
            })
            .collect();
        Ok(RuleHistory::new(versions, state.activations.clone()))
    }
}

#[cfg(test)]
mod tests {
    use time::Duration;
    use time::macros::datetime;

    use super::*;
    use crate::FixedClock;

    fn new(document: &str, author: &str) -> NewRuleSet {
        NewRuleSet {
            document: document.to_owned(),
            author: author.to_owned(),
            note: None,
        }
    }

    fn v(n: u64) -> RuleVersion {
        RuleVersion::new(n).unwrap()
    }

    #[tokio::test]
    async fn versions_are_numbered_in_order_and_round_trip() {
        // Arrange
        let clock = Arc::new(FixedClock::new(datetime!(2024-04-05 06:32:12 UTC)));
        let store = InMemoryRuleStore::new(clock.clone());

        // Act
        let first = store.put_version(new("users: []\n", "ada")).await.unwrap();
        clock.advance(Duration::minutes(1));
        let second = store
            .put_version(NewRuleSet {
                note: Some("prefix groups".into()),
                ..new("groups: []\n", "bob")
            })
            .await
            .unwrap();

        // Assert
        assert_eq!((first, second), (v(1), v(2)));
        let read = store.get(second).await.unwrap().unwrap();
        assert_eq!(read.document, "groups: []\n");
        assert_eq!(read.sha256, document_sha256("groups: []\n"));
        assert_eq!(read.note.as_deref(), Some("prefix groups"));
        assert_eq!(read.created_at, datetime!(2024-04-05 06:33:12 UTC));
        assert_eq!(store.get(v(3)).await.unwrap(), None);
        assert_eq!(store.active().await.unwrap(), None);
    }

    #[tokio::test]
    async fn activation_is_conditional_on_what_the_caller_saw() {
        // Arrange
        let store = InMemoryRuleStore::default();
        let v1 = store.put_version(new("a: 1\n", "ada")).await.unwrap();
        let v2 = store.put_version(new("a: 2\n", "ada")).await.unwrap();

        // Act
        store.activate(v1, None, "ada").await.unwrap();
        let stale = store.activate(v2, None, "bob").await;
        let unknown = store.activate(v(9), Some(v1), "bob").await;
        store.activate(v2, Some(v1), "ada").await.unwrap();
        let rollback = store.activate(v1, Some(v2), "ada").await.unwrap();

        // Assert
        assert!(matches!(
            stale,
            Err(RuleStoreError::Conflict { expected: None })
        ));
        assert!(matches!(unknown, Err(RuleStoreError::NotFound(n)) if n == v(9)));
        assert!(rollback.is_rollback());
        assert_eq!(store.active().await.unwrap().unwrap().version, v1);
        let history = store.history().await.unwrap();
        assert_eq!(history.active(), Some(v1));
        let sequences: Vec<u64> = history.activations.iter().map(|a| a.sequence).collect();
        assert_eq!(sequences, [3, 2, 1]);
        let versions: Vec<RuleVersion> = history.versions.iter().map(|e| e.version).collect();
        assert_eq!(versions, [v2, v1]);
        assert!(history.versions.iter().all(|e| e.activated_at.is_some()));
    }

    #[tokio::test]
    async fn what_breaks_the_limits_is_refused_and_not_saved() {
        let store = InMemoryRuleStore::default();
        let refused = store.put_version(new("a: 1\n", "")).await;
        assert!(matches!(refused, Err(RuleStoreError::Refused(_))));
        assert!(store.history().await.unwrap().versions.is_empty());
    }
}
