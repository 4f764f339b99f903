//! The rules port: where the use cases get the rule set in force.

use std::sync::Arc;

use async_trait::async_trait;

use crate::rules::ActiveRuleSet;

/// Why the active rule set could not be read.
#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    /// The store holding the rule sets could not be read.
    #[error("rules: the rule store is unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The active pointer names a rule set that does not exist or does not load.
    #[error("rules: the active rule set `{0}` cannot be loaded")]
    Invalid(String),
}

/// Where the use cases get the rule set in force (`docs/design.md`, "Flows"). Adapters
/// cache the active set for a short TTL, so calling this once per request is cheap.
#[async_trait]
pub trait RuleSource: Send + Sync {
    /// The active rule set.
    async fn active(&self) -> Result<Arc<ActiveRuleSet>, RuleError>;
}
