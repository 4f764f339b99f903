//! The target port: what the use cases ask of the SCIM service provider downstream
//! (AWS IAM Identity Center in production, any SCIM 2.0 server in tests), and how its
//! failures are classified.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use scim_core::{Filter, Group, PatchOp, PatchOperation, Resource as _, ScimType, User};

use crate::Deadline;

/// Which SCIM dialect the target speaks, where the two differ in ways a client must
/// follow rather than translate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TargetDialect {
    /// AWS IAM Identity Center (`docs/identity-center-dialect.md`): cursor paging; a
    /// group's members are never returned, so they are read with
    /// `ListUsers?filter=groups.value eq`; member removal is one `remove` of `members`
    /// with a value list.
    #[default]
    IdentityCenter,
    /// Plain RFC 7644, e.g. scim2-server: `startIndex` paging; members read from the
    /// group itself; each removal addressed as `members[value eq "…"]`.
    Rfc7644,
}

/// Reads a dialect as configuration and the CLI name it: `identity-center`, or
/// `scim` (also `rfc7644`) for a plain RFC 7644 server.
impl std::str::FromStr for TargetDialect {
    type Err = UnknownDialect;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "identity-center" => Ok(TargetDialect::IdentityCenter),
            "scim" | "rfc7644" => Ok(TargetDialect::Rfc7644),
            _ => Err(UnknownDialect),
        }
    }
}

/// A dialect name other than `identity-center`, `scim` or `rfc7644`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the dialect must be identity-center or scim")]
pub struct UnknownDialect;

/// What a target client did over some period, in HTTP requests: what the functions
/// publish as metrics after each request.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CallCounts {
    /// HTTP requests sent to the target, pages and retries included.
    pub calls: u64,
    /// Requests answered 429.
    pub throttles: u64,
    /// Requests that repeated an earlier one after a wait.
    pub retries: u64,
    /// Requests that failed with a 5xx, a timeout or a transport error.
    pub errors: u64,
}

tokio::task_local! {
    static REQUESTS_SENT: Arc<AtomicU32>;
}

/// Runs `work` while counting, in `counter`, the HTTP requests that target adapters send
/// on its behalf (every page and every retry): how a use case learns what one of its
/// requests really cost at the target.
pub async fn counting_requests<F: Future>(counter: Arc<AtomicU32>, work: F) -> F::Output {
    REQUESTS_SENT.scope(counter, work).await
}

/// Counts one HTTP request sent to the target, for the use case running it (see
/// [`counting_requests`]); outside one it does nothing. Adapters call it once per
/// request they send, retries included.
pub fn count_request() {
    let _ = REQUESTS_SENT.try_with(|counter| counter.fetch_add(1, Ordering::Relaxed));
}

/// A change to a group in place: attribute operations (a rename, `externalId`) and member
/// removals and additions.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroupChange {
    /// Operations on `displayName` and `externalId`.
    pub attributes: Vec<PatchOperation>,
    /// User ids to remove.
    pub remove: Vec<String>,
    /// User ids to add.
    pub add: Vec<String>,
}

impl GroupChange {
    /// Whether the change asks for nothing.
    pub fn is_empty(&self) -> bool {
        self.attributes.is_empty() && self.remove.is_empty() && self.add.is_empty()
    }
}

/// One page of a listing: the resources from a 1-based position on, in the target's
/// own stable order, and how many the whole listing holds.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetPage<T> {
    /// The page's resources.
    pub resources: Vec<T>,
    /// How many resources the whole listing holds.
    pub total_results: u64,
}

impl<T> TargetPage<T> {
    /// The page of `all` (already in listing order) at 1-based `start_index`, at most
    /// `count` long.
    pub fn of(all: Vec<T>, start_index: u64, count: u64) -> Self {
        let total_results = all.len() as u64;
        let skip = usize::try_from(start_index.max(1) - 1).unwrap_or(usize::MAX);
        let take = usize::try_from(count).unwrap_or(usize::MAX);
        Self {
            resources: all.into_iter().skip(skip).take(take).collect(),
            total_results,
        }
    }
}

/// Why a call to the target failed, classified by the adapter from the HTTP status and
/// the error body, so that use cases decide on kinds rather than on strings.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// 409: a resource with the same unique attribute (`userName`, `displayName`)
    /// already exists. Adapters answer a *retried* create with the existing resource
    /// instead; this is only returned when no retry could explain the conflict.
    #[error("target: conflict: {detail}")]
    Conflict {
        /// The target's explanation.
        detail: String,
    },
    /// 404: the resource does not exist.
    #[error("target: not found")]
    NotFound,
    /// 429 on the last attempt, and the deadline left no time to try again.
    #[error("target: throttled")]
    Throttled {
        /// How long the target asked callers to wait, when it said.
        retry_after: Option<Duration>,
    },
    /// The target refused the request (4xx), or kept failing (5xx) until the deadline.
    #[error("target: rejected with {status}: {detail}")]
    Rejected {
        /// The HTTP status code.
        status: u16,
        /// The RFC 7644 `scimType`, when the target gave one (Identity Center never does).
        scim_type: Option<ScimType>,
        /// The target's explanation.
        detail: String,
    },
    /// 401 even with a freshly read token: the token is wrong, expired or revoked.
    #[error("target: the bearer token was refused")]
    Unauthorized,
    /// The deadline passed before the target answered.
    #[error("target: no answer before the deadline")]
    Timeout,
    /// The connection failed (refused, reset, TLS, unreadable answer) on the last attempt.
    #[error("target: transport failure")]
    Transport(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl TargetError {
    /// Whether trying again later could succeed: throttling, timeouts, transport
    /// failures and 5xx. A transient failure never means "gone": a peer tool deleted
    /// users on a passing 503 (`docs/okta-client.md` §8).
    pub fn is_transient(&self) -> bool {
        match self {
            TargetError::Throttled { .. } | TargetError::Timeout | TargetError::Transport(_) => {
                true
            }
            TargetError::Rejected { status, .. } => *status >= 500,
            TargetError::Conflict { .. } | TargetError::NotFound | TargetError::Unauthorized => {
                false
            }
        }
    }
}

/// The SCIM service provider the gateway provisions into.
///
/// Every call retries transient failures within its [`Deadline`]. Creates are safe to
/// retry: a create whose first answer was lost and that then meets a 409 returns the
/// resource that the lost attempt made ("create or adopt"). Lists follow every page.
///
/// There is no group PUT, because Identity Center has none: use cases express a group
/// replacement as a rename patch plus membership additions and removals, which also
/// keeps the group's id (and the permission-set assignments on it) stable.
#[async_trait]
pub trait TargetScimClient: Send + Sync {
    /// Creates a user (RFC 7644 §3.3), or adopts the one a lost earlier attempt made.
    async fn create_user(&self, user: &User, deadline: Deadline) -> Result<User, TargetError>;
    /// Reads a user by the target's id.
    async fn get_user(&self, id: &str, deadline: Deadline) -> Result<User, TargetError>;
    /// Lists the users matching `filter` (all users without one), every page of them.
    async fn list_users(
        &self,
        filter: Option<&Filter>,
        deadline: Deadline,
    ) -> Result<Vec<User>, TargetError>;
    /// Replaces a user (PUT, RFC 7644 §3.5.1) and returns it as stored.
    async fn replace_user(
        &self,
        id: &str,
        user: &User,
        deadline: Deadline,
    ) -> Result<User, TargetError>;
    /// Applies PATCH operations to a user (RFC 7644 §3.5.2) and returns it as stored.
    async fn patch_user(
        &self,
        id: &str,
        patch: &PatchOp,
        deadline: Deadline,
    ) -> Result<User, TargetError>;
    /// Deletes a user. Deleting a user that a lost earlier attempt already deleted
    /// succeeds; deleting one that never existed is [`TargetError::NotFound`].
    async fn delete_user(&self, id: &str, deadline: Deadline) -> Result<(), TargetError>;

    /// Creates a group, or adopts the one a lost earlier attempt made.
    async fn create_group(&self, group: &Group, deadline: Deadline) -> Result<Group, TargetError>;
    /// Reads a group by the target's id. Identity Center never returns its members;
    /// use [`TargetScimClient::list_group_member_ids`].
    async fn get_group(&self, id: &str, deadline: Deadline) -> Result<Group, TargetError>;
    /// Lists the groups matching `filter` (all groups without one), every page of them.
    async fn list_groups(
        &self,
        filter: Option<&Filter>,
        deadline: Deadline,
    ) -> Result<Vec<Group>, TargetError>;
    /// Applies PATCH operations other than membership changes (e.g. a rename) to a
    /// group and returns it as stored.
    async fn patch_group(
        &self,
        id: &str,
        patch: &PatchOp,
        deadline: Deadline,
    ) -> Result<Group, TargetError>;
    /// Deletes a group, with the same retry semantics as [`TargetScimClient::delete_user`].
    async fn delete_group(&self, id: &str, deadline: Deadline) -> Result<(), TargetError>;

    /// Adds users to a group, however many: adapters split the change into requests
    /// the target accepts (at most 100 members each for Identity Center).
    async fn add_group_members(
        &self,
        group_id: &str,
        user_ids: &[String],
        deadline: Deadline,
    ) -> Result<(), TargetError>;
    /// Removes users from a group, split like [`TargetScimClient::add_group_members`].
    async fn remove_group_members(
        &self,
        group_id: &str,
        user_ids: &[String],
        deadline: Deadline,
    ) -> Result<(), TargetError>;
    /// The ids of a group's members, every page of them.
    async fn list_group_member_ids(
        &self,
        group_id: &str,
        deadline: Deadline,
    ) -> Result<Vec<String>, TargetError>;

    /// One page of the users matching `filter` (all users without one): `count` from
    /// 1-based `start_index` on, with the listing's total. Adapters that can page at the
    /// target answer it with one request per page; this default lists every user and
    /// pages them in id order.
    async fn list_users_page(
        &self,
        filter: Option<&Filter>,
        start_index: u64,
        count: u64,
        deadline: Deadline,
    ) -> Result<TargetPage<User>, TargetError> {
        let mut all = self.list_users(filter, deadline).await?;
        all.sort_by(|a, b| a.id().cmp(&b.id()));
        Ok(TargetPage::of(all, start_index, count))
    }

    /// One page of the groups matching `filter`, like
    /// [`TargetScimClient::list_users_page`].
    async fn list_groups_page(
        &self,
        filter: Option<&Filter>,
        start_index: u64,
        count: u64,
        deadline: Deadline,
    ) -> Result<TargetPage<Group>, TargetError> {
        let mut all = self.list_groups(filter, deadline).await?;
        all.sort_by(|a, b| a.id().cmp(&b.id()));
        Ok(TargetPage::of(all, start_index, count))
    }

    /// Changes a group in place in as few requests as the target accepts, without
    /// reading it back: removals before additions, so that a partial failure leaves
    /// less access rather than more. This default sends the attribute operations, the
    /// removals and the additions separately; adapters that can combine them (one
    /// Identity Center PatchGroup carries a rename and up to 100 member changes) do.
    async fn modify_group(
        &self,
        id: &str,
        change: &GroupChange,
        deadline: Deadline,
    ) -> Result<(), TargetError> {
        if !change.attributes.is_empty() {
            let patch = PatchOp::new(change.attributes.clone());
            self.patch_group(id, &patch, deadline).await?;
        }
        if !change.remove.is_empty() {
            self.remove_group_members(id, &change.remove, deadline)
                .await?;
        }
        if !change.add.is_empty() {
            self.add_group_members(id, &change.add, deadline).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttling_timeouts_and_server_errors_are_transient_but_a_missing_resource_is_not() {
        let server_error = TargetError::Rejected {
            status: 503,
            scim_type: None,
            detail: String::new(),
        };
        let bad_request = TargetError::Rejected {
            status: 400,
            scim_type: None,
            detail: String::new(),
        };
        assert!(TargetError::Throttled { retry_after: None }.is_transient());
        assert!(TargetError::Timeout.is_transient());
        assert!(server_error.is_transient());
        assert!(!bad_request.is_transient());
        assert!(!TargetError::NotFound.is_transient());
        assert!(
            !TargetError::Conflict {
                detail: String::new()
            }
            .is_transient()
        );
    }
}
