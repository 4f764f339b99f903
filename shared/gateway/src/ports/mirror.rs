//! The mirror port: what the gateway knows of the users and groups in Identity Center,
//! as it last wrote or read them, so that a write needs no read before it and the audit
//! record still has its before-image.
//!
//! The mirror is a cache, never the truth: every entry may be stale (a user deleted or
//! renamed in the AWS console), so the use cases answer from Identity Center's own
//! answers wherever it gives one, repair the mirror when Identity Center answers 404 or
//! disagrees, and treat a mirror that cannot be read as empty.

use async_trait::async_trait;
use scim_core::{Group, User};
use time::OffsetDateTime;

/// A user as the mirror holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct MirroredUser {
    /// The user as Identity Center last answered it.
    pub user: User,
    /// When this gateway created it, if it did: a read that finds nothing shortly after
    /// may be Identity Center's lag rather than a deletion.
    pub created_at: Option<OffsetDateTime>,
}

/// A group as the mirror holds it, without members (they are always read from
/// Identity Center when needed, so a stale mirror cannot misstate access).
#[derive(Debug, Clone, PartialEq)]
pub struct MirroredGroup {
    /// The group as Identity Center last answered it (or as the gateway last changed
    /// it), `members` left out.
    pub group: Group,
    /// When this gateway created it, if it did.
    pub created_at: Option<OffsetDateTime>,
}

/// Why the mirror could not be read or written. The use cases log it and go on as if
/// the entry were missing: the mirror saves calls, it never decides an answer.
#[derive(Debug, thiserror::Error)]
#[error("mirror: the store is unavailable")]
pub struct MirrorError(#[source] pub Box<dyn std::error::Error + Send + Sync>);

/// Where the gateway keeps what it knows of Identity Center's users and groups, by
/// Identity Center id.
#[async_trait]
pub trait Mirror: Send + Sync {
    /// The user with this id, if the mirror has it.
    async fn user(&self, id: &str) -> Result<Option<MirroredUser>, MirrorError>;
    /// Records a user (keyed by its id; a user without an id is ignored).
    async fn put_user(&self, entry: MirroredUser) -> Result<(), MirrorError>;
    /// Forgets a user (deleted, or found missing).
    async fn forget_user(&self, id: &str) -> Result<(), MirrorError>;
    /// The id of the user recorded under this `userName`, compared without regard to
    /// case; it may be stale (the user renamed or deleted since), so the caller reads the
    /// user before trusting it.
    async fn user_id_by_name(&self, user_name: &str) -> Result<Option<String>, MirrorError>;
    /// The id of the user recorded with this `externalId` (its Okta id); it may be
    /// stale like [`Mirror::user_id_by_name`], so the caller checks the entry, and
    /// Identity Center's answer to what it then sends.
    async fn user_id_by_external_id(
        &self,
        external_id: &str,
    ) -> Result<Option<String>, MirrorError>;
    /// The group with this id, if the mirror has it.
    async fn group(&self, id: &str) -> Result<Option<MirroredGroup>, MirrorError>;
    /// The id of the group recorded with this `externalId`, like
    /// [`Mirror::user_id_by_external_id`].
    async fn group_id_by_external_id(
        &self,
        external_id: &str,
    ) -> Result<Option<String>, MirrorError>;
    /// Records a group (keyed by its id; members are not kept).
    async fn put_group(&self, entry: MirroredGroup) -> Result<(), MirrorError>;
    /// Forgets a group.
    async fn forget_group(&self, id: &str) -> Result<(), MirrorError>;
}
