//! The mapping-rules port: where the use cases get the active rule set, and what a rule
//! set does to a resource on its way to the target.
//!
//! Sources: [`IdentityRules`] (changes nothing, version `identity`) and [`FixedRules`]
//! (one loaded rule set, as `scimgw dev --rules FILE` runs it). Either way the version
//! is stamped on every audit record.

use std::sync::Arc;

use async_trait::async_trait;
use scim_core::{Group, PatchOp, Resource as _, ResourceKind, ScimError, User};
use serde_json::Value;

use crate::ports::rule_store::RuleStore;
pub use crate::ports::rules::{RuleError, RuleSource};

/// The version string of the identity rule set.
pub const IDENTITY_VERSION: &str = "identity";

/// The attribute-mapping rule set in force ([`rules::RuleSet`], `docs/rules.md`) with
/// its version, applied to every resource the gateway forwards. Okta sees what it sent:
/// the read-back attributes (`userName`, a group's `displayName`) are translated in
/// filters on the way out and in answers on the way back.
#[derive(Debug, Clone)]
pub struct ActiveRuleSet {
    /// The version, stamped on every audit record written under this rule set.
    pub version: String,
    rules: rules::RuleSet,
}

impl PartialEq for ActiveRuleSet {
    fn eq(&self, other: &Self) -> bool {
        self.version == other.version
    }
}

impl ActiveRuleSet {
    /// The rule set that maps everything to itself.
    pub fn identity() -> Self {
        Self::new(IDENTITY_VERSION, rules::RuleSet::identity())
    }

    /// A loaded rule set under `version`.
    pub fn new(version: impl Into<String>, rules: rules::RuleSet) -> Self {
        Self {
            version: version.into(),
            rules,
        }
    }

    /// The rules themselves.
    pub fn rules(&self) -> &rules::RuleSet {
        &self.rules
    }

    /// Maps a user on its way to the target (create and replace). A rule that skips the
    /// user answers 403 naming the rule; nothing is sent.
    pub fn apply_user(&self, user: User) -> Result<User, ScimError> {
        if self.rules.rules(ResourceKind::User).is_empty() {
            return Ok(user);
        }
        let outcome = self.rules.apply_resource(&user);
        if let Some(refusal) = outcome.refusal() {
            return Err(refusal);
        }
        User::from_value(outcome.resource)
    }

    /// Maps a group on its way to the target (create and replace).
    pub fn apply_group(&self, group: Group) -> Result<Group, ScimError> {
        if self.rules.rules(ResourceKind::Group).is_empty() {
            return Ok(group);
        }
        let outcome = self.rules.apply_resource(&group);
        if let Some(refusal) = outcome.refusal() {
            return Err(refusal);
        }
        Group::from_value(outcome.resource)
    }

    /// Maps a user PATCH on its way to the target: a new `userName` goes through the
    /// read-back transform, as on create. Okta changes profiles with PUT, where every
    /// rule applies; its PATCHes carry `active` and password sync.
    pub fn apply_user_patch(&self, patch: PatchOp) -> Result<PatchOp, ScimError> {
        self.forward_patch(ResourceKind::User, patch)
    }

    /// Maps a group PATCH on its way to the target: a rename goes through the read-back
    /// transform (a group map or prefix), so Okta's renames land under the mapped name.
    pub fn apply_group_patch(&self, patch: PatchOp) -> Result<PatchOp, ScimError> {
        self.forward_patch(ResourceKind::Group, patch)
    }

    /// The value to send Identity Center for Okta's `value` of `attribute` in a filter
    /// or a write, when the rules change it; `None` when it goes as it is.
    pub fn outbound(&self, kind: ResourceKind, attribute: &str, value: &str) -> Option<String> {
        let read_back = rules::read_back_attribute(kind);
        if !attribute.eq_ignore_ascii_case(read_back) || self.rules.read_back(kind).is_identity() {
            return None;
        }
        self.rules
            .outbound_filter_value(kind, read_back, value)
            .filter(|v| v != value)
    }

    /// Okta's value for what Identity Center stores as `stored` in `attribute`; `None`
    /// when it is the same.
    pub fn inbound(&self, kind: ResourceKind, attribute: &str, stored: &str) -> Option<String> {
        let read_back = rules::read_back_attribute(kind);
        if !attribute.eq_ignore_ascii_case(read_back) || self.rules.read_back(kind).is_identity() {
            return None;
        }
        self.rules
            .inbound_value(kind, read_back, stored)
            .filter(|v| v != stored)
    }

    /// The required attributes the rules derive, so clients need not send them.
    pub fn derived_attributes(&self) -> &[(ResourceKind, String)] {
        self.rules.derived_attributes()
    }

    fn forward_patch(&self, kind: ResourceKind, mut patch: PatchOp) -> Result<PatchOp, ScimError> {
        let attribute = rules::read_back_attribute(kind);
        if self.rules.read_back(kind).is_identity() {
            return Ok(patch);
        }
        for operation in &mut patch.operations {
            match (&operation.path, operation.value.as_mut()) {
                (Some(path), Some(Value::String(value)))
                    if path.filter.is_none()
                        && path.attr.sub_attr.is_none()
                        && path.attr.name.eq_ignore_ascii_case(attribute) =>
                {
                    *value = self.forwarded(kind, attribute, value)?;
                }
                (None, Some(Value::Object(values))) => {
                    for (key, value) in values.iter_mut() {
                        if let (true, Value::String(text)) =
                            (key.eq_ignore_ascii_case(attribute), &mut *value)
                        {
                            *text = self.forwarded(kind, attribute, text)?;
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(patch)
    }

    fn forwarded(
        &self,
        kind: ResourceKind,
        attribute: &str,
        value: &str,
    ) -> Result<String, ScimError> {
        self.rules
            .outbound_filter_value(kind, attribute, value)
            .ok_or_else(|| {
                ScimError::invalid_value(format!(
                    "`{attribute}` cannot be changed to this value under the active mapping rules"
                ))
            })
    }
}

/// The identity rules: version [`IDENTITY_VERSION`], no changes. Used until rule sets are
/// stored, and by `scimgw dev`.
#[derive(Debug, Clone)]
pub struct IdentityRules {
    rules: Arc<ActiveRuleSet>,
}

impl IdentityRules {
    /// The identity rule source.
    pub fn new() -> Self {
        Self {
            rules: Arc::new(ActiveRuleSet::identity()),
        }
    }
}

impl Default for IdentityRules {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl RuleSource for IdentityRules {
    async fn active(&self) -> Result<Arc<ActiveRuleSet>, RuleError> {
        Ok(Arc::clone(&self.rules))
    }
}

/// One loaded rule set, always active: `scimgw dev --rules FILE`, and tests.
#[derive(Debug, Clone)]
pub struct FixedRules {
    rules: Arc<ActiveRuleSet>,
}

impl FixedRules {
    /// The source of `rules`.
    pub fn new(rules: ActiveRuleSet) -> Self {
        Self {
            rules: Arc::new(rules),
        }
    }
}

#[async_trait]
impl RuleSource for FixedRules {
    async fn active(&self) -> Result<Arc<ActiveRuleSet>, RuleError> {
        Ok(Arc::clone(&self.rules))
    }
}

/// How long a function keeps the active rule set before it asks the store again: a
/// rollback or an apply takes effect within this time.
pub const STORED_RULES_TTL: std::time::Duration = std::time::Duration::from_secs(30);

/// The active rule set of a [`RuleStore`], loaded once per version and kept for a short
/// TTL: what the functions apply. Before anything was activated, the identity applies.
/// When the store cannot be read, the set last loaded goes on applying (and a function
/// that never loaded one has none, so its writes fail rather than skip the rules).
pub struct StoredRules {
    store: Arc<dyn RuleStore>,
    ttl: std::time::Duration,
    cached: tokio::sync::Mutex<Option<(std::time::Instant, Arc<ActiveRuleSet>)>>,
}

impl std::fmt::Debug for StoredRules {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredRules")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl StoredRules {
    /// The source over `store`, with [`STORED_RULES_TTL`].
    pub fn new(store: Arc<dyn RuleStore>) -> Self {
        Self {
            store,
            ttl: STORED_RULES_TTL,
            cached: tokio::sync::Mutex::new(None),
        }
    }

    /// Keeps a loaded set for `ttl` instead.
    #[must_use]
    pub fn with_ttl(mut self, ttl: std::time::Duration) -> Self {
        self.ttl = ttl;
        self
    }
}

#[async_trait]
impl RuleSource for StoredRules {
    async fn active(&self) -> Result<Arc<ActiveRuleSet>, RuleError> {
        let mut cached = self.cached.lock().await;
        if let Some((at, rules)) = cached.as_ref()
            && at.elapsed() < self.ttl
        {
            return Ok(Arc::clone(rules));
        }
        let stored = match self.store.active().await {
            Ok(stored) => stored,
            Err(error) => {
                return match cached.as_ref() {
                    Some((_, rules)) => {
                        tracing::warn!(error = %error, version = %rules.version,
                            "the rule store could not be read; the last loaded set applies");
                        Ok(Arc::clone(rules))
                    }
                    None => Err(RuleError::Unavailable(Box::new(error))),
                };
            }
        };
        let rules = match stored {
            None => Arc::new(ActiveRuleSet::identity()),
            Some(stored) => {
                let version = stored.version.to_string();
                match cached.as_ref() {
                    Some((_, rules)) if rules.version == version => Arc::clone(rules),
                    _ => {
                        let loaded = rules::RuleSet::load(&stored.document)
                            .map_err(|_| RuleError::Invalid(version.clone()))?;
                        Arc::new(ActiveRuleSet::new(version, loaded.rule_set))
                    }
                }
            }
        };
        *cached = Some((std::time::Instant::now(), Arc::clone(&rules)));
        Ok(rules)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[tokio::test]
    async fn the_identity_rules_are_versioned_identity_and_change_nothing() {
        // Arrange
        let user = User::new("bjensen");
        let group = Group::new("Admins");
        let patch = PatchOp::parse(&json!({
            "schemas": [scim_core::PATCH_OP_SCHEMA],
            "Operations": [{"op": "replace", "path": "active", "value": false}]
        }))
        .unwrap();

        // Act
        let rules = IdentityRules::new().active().await.unwrap();

        // Assert
        assert_eq!(rules.version, "identity");
        assert_eq!(rules.apply_user(user.clone()).unwrap(), user);
        assert_eq!(rules.apply_group(group.clone()).unwrap(), group);
        assert_eq!(rules.apply_user_patch(patch.clone()).unwrap(), patch);
        assert_eq!(rules.apply_group_patch(patch.clone()).unwrap(), patch);
    }

    #[tokio::test]
    async fn stored_rules_apply_the_active_version_and_follow_an_activation_after_the_ttl() {
        use crate::ports::rule_store::NewRuleSet;
        use crate::rule_store::InMemoryRuleStore;

        // Arrange: a store with one version active.
        let store = Arc::new(InMemoryRuleStore::new(Arc::new(crate::SystemClock)));
        let lower = "users:\n  - name: lower\n    set:\n      userName: '{lower(userName)}'\n";
        let new = |document: &str| NewRuleSet {
            document: document.to_owned(),
            author: "admin".into(),
            note: None,
        };
        let source = StoredRules::new(store.clone()).with_ttl(std::time::Duration::ZERO);
        let before = source.active().await.unwrap();
        let v1 = store.put_version(new(lower)).await.unwrap();
        store.activate(v1, None, "admin").await.unwrap();

        // Act
        let active = source.active().await.unwrap();
        let user = active.apply_user(User::new("Ada@Example.com")).unwrap();
        let v2 = store.put_version(new("users: []\n")).await.unwrap();
        store.activate(v2, Some(v1), "admin").await.unwrap();
        let after = source.active().await.unwrap();

        // Assert
        assert_eq!(before.version, IDENTITY_VERSION);
        assert_eq!(active.version, "v1");
        assert_eq!(user.user_name, "ada@example.com");
        assert_eq!(after.version, "v2");
    }
}
