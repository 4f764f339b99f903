//! The mapping-rules port: where the use cases get the active rule set, and what a rule
//! set does to a resource on its way to the target.
//!
//! Only identity rules exist today ([`IdentityRules`]); rule sets held in DynamoDB are
//! planned. The identity changes nothing, but its version is still stamped on every
//! audit record, so that the audit trail reads the same before and after real rules
//! arrive.

use std::sync::Arc;

use async_trait::async_trait;
use scim_core::{Group, PatchOp, ScimError, User};

pub use crate::ports::rules::{RuleError, RuleSource};

/// The version string of the identity rule set.
pub const IDENTITY_VERSION: &str = "identity";

/// A versioned set of mapping rules, applied to every resource the gateway forwards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSet {
    /// The version, stamped on every audit record written under this rule set.
    pub version: String,
}

impl RuleSet {
    /// The rule set that maps everything to itself.
    pub fn identity() -> Self {
        Self {
            version: IDENTITY_VERSION.to_owned(),
        }
    }

    /// Maps a user on its way to the target (create and replace). A rule that refuses
    /// the user answers the SCIM error the client gets.
    pub fn apply_user(&self, user: User) -> Result<User, ScimError> {
        Ok(user)
    }

    /// Maps a group on its way to the target (create and replace).
    pub fn apply_group(&self, group: Group) -> Result<Group, ScimError> {
        Ok(group)
    }

    /// Maps a user PATCH on its way to the target.
    pub fn apply_user_patch(&self, patch: PatchOp) -> Result<PatchOp, ScimError> {
        Ok(patch)
    }

    /// Maps a group PATCH on its way to the target.
    pub fn apply_group_patch(&self, patch: PatchOp) -> Result<PatchOp, ScimError> {
        Ok(patch)
    }
}

/// The identity rules: version [`IDENTITY_VERSION`], no changes. Used until rule sets are
/// stored, and by `scimgw dev`.
#[derive(Debug, Clone)]
pub struct IdentityRules {
    rules: Arc<RuleSet>,
}

impl IdentityRules {
    /// The identity rule source.
    pub fn new() -> Self {
        Self {
            rules: Arc::new(RuleSet::identity()),
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
    async fn active(&self) -> Result<Arc<RuleSet>, RuleError> {
        Ok(Arc::clone(&self.rules))
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
}
