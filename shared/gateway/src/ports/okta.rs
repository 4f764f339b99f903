//! The Okta directory port: what the event worker (and later the reconciler) reads from
//! Okta's Management API to learn the current state of a user, a group, a membership or
//! an app assignment. An event only says that something changed; the worker acts on
//! what Okta holds now, which makes the outcome independent of the order in which
//! events arrive.
//!
//! The shapes are Okta's own (Users API, Groups API:
//! <https://developer.okta.com/docs/reference/api/users/>,
//! <https://developer.okta.com/docs/reference/api/groups/>), narrowed to what the
//! gateway reads. `clients::okta` implements the port over HTTP.

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A user's lifecycle status in Okta (Users API, "User status").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OktaUserStatus {
    /// Created, not yet activated.
    Staged,
    /// Activated, the user has not yet set a password.
    Provisioned,
    /// Active.
    Active,
    /// Active, in password recovery.
    Recovery,
    /// Active, must change the password.
    PasswordExpired,
    /// Active, locked out by too many failed sign-ins.
    LockedOut,
    /// Suspended by an admin.
    Suspended,
    /// Deactivated.
    Deprovisioned,
    /// A status this version does not know.
    #[serde(other)]
    Unknown,
}

impl OktaUserStatus {
    /// Whether the user may sign in, i.e. whether Identity Center should hold the user
    /// as `active`. Suspended and deactivated users may not; a staged user has never
    /// been activated.
    pub fn is_active(&self) -> bool {
        matches!(
            self,
            Self::Provisioned
                | Self::Active
                | Self::Recovery
                | Self::PasswordExpired
                | Self::LockedOut
        )
    }
}

/// A user as `GET /api/v1/users/{id}` answers it, narrowed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OktaUser {
    /// Okta's id, e.g. `00ub0oNGTSWTBKOLGLNR`.
    pub id: String,
    /// The lifecycle status.
    pub status: OktaUserStatus,
    /// The profile: `login`, `firstName`, `lastName`, `email`, and whatever else the
    /// org's profile holds (`displayName`, `title`, custom attributes).
    #[serde(default)]
    pub profile: Map<String, Value>,
}

impl OktaUser {
    /// A profile attribute as a string, when it is one and not blank.
    pub fn profile_str(&self, name: &str) -> Option<&str> {
        self.profile
            .get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.trim().is_empty())
    }

    /// The user's `login` (Okta's sign-in name).
    pub fn login(&self) -> Option<&str> {
        self.profile_str("login")
    }
}

/// A group as `GET /api/v1/groups/{id}` answers it, narrowed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OktaGroup {
    /// Okta's id, e.g. `00g1emaKYZTWRYYRRTSK`.
    pub id: String,
    /// `OKTA_GROUP`, `APP_GROUP` or `BUILT_IN`.
    #[serde(rename = "type", default)]
    pub group_type: String,
    /// `profile.name` and `profile.description`.
    pub profile: OktaGroupProfile,
}

/// A group's profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OktaGroupProfile {
    /// The group's name.
    pub name: String,
    /// Its description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl OktaGroup {
    /// The group's name.
    pub fn name(&self) -> &str {
        &self.profile.name
    }
}

/// Why Okta could not be read. The worker retries the transient ones (the event goes
/// back to the queue) and fails the event on the others.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OktaError {
    /// 429: Okta's rate limit; `retry_after` from `X-Rate-Limit-Reset` where given.
    #[error("okta: rate limited (429)")]
    Throttled {
        /// How long until the limit resets.
        retry_after: Option<Duration>,
    },
    /// 401 or 403: the API token is wrong, expired or lacks a scope.
    #[error("okta: the API token was refused ({status})")]
    Unauthorized {
        /// 401 or 403.
        status: u16,
    },
    /// A 5xx, a timeout or a connection failure.
    #[error("okta: unavailable: {0}")]
    Unavailable(String),
    /// Any other answer Okta should not give to these reads.
    #[error("okta: answered {status}: {message}")]
    Rejected {
        /// The status.
        status: u16,
        /// Okta's `errorSummary`, or the body's start.
        message: String,
    },
}

impl OktaError {
    /// Whether trying again later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Throttled { .. } | Self::Unavailable(_))
    }
}

/// Reads of Okta's Management API. A resource that does not exist (404) is `Ok(None)`,
/// never an error: a deleted user is a state the worker acts on.
#[async_trait]
pub trait OktaDirectory: Send + Sync {
    /// `GET /api/v1/users/{id}`.
    async fn user(&self, id: &str) -> Result<Option<OktaUser>, OktaError>;
    /// `GET /api/v1/groups/{id}`.
    async fn group(&self, id: &str) -> Result<Option<OktaGroup>, OktaError>;
    /// `GET /api/v1/users/{id}/groups`, every page; `None` when the user does not exist.
    async fn user_groups(&self, user_id: &str) -> Result<Option<Vec<OktaGroup>>, OktaError>;
    /// `GET /api/v1/groups/{id}/users`, every page; `None` when the group does not exist.
    async fn group_members(&self, group_id: &str) -> Result<Option<Vec<OktaUser>>, OktaError>;
    /// `GET /api/v1/users`, every page.
    async fn users(&self) -> Result<Vec<OktaUser>, OktaError>;
    /// `GET /api/v1/groups`, every page.
    async fn groups(&self) -> Result<Vec<OktaGroup>, OktaError>;
    /// `GET /api/v1/apps/{app_id}/users/{user_id}`: whether the user is assigned to the
    /// app (404 is `false`).
    async fn is_assigned_to_app(&self, app_id: &str, user_id: &str) -> Result<bool, OktaError>;
    /// `GET /api/v1/apps/{app_id}/users`, every page: the ids of the assigned users.
    async fn app_user_ids(&self, app_id: &str) -> Result<Vec<String>, OktaError>;
}
