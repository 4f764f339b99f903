//! What the use cases know of Identity Center before they write: the mirror, read
//! through on a miss and repaired whenever Identity Center says otherwise. In steady
//! state a write costs one Identity Center request, because its before-image (for the
//! audit record and the answer) comes from here rather than from a read.
//!
//! The mirror is never trusted for an answer Identity Center can give: a write's answer
//! is Identity Center's own (or the mirror's entry with exactly the change that
//! Identity Center just accepted), and a 404 from Identity Center removes the entry.

use std::time::Duration;

use scim_core::{Group, PatchOpKind, PatchOperation, Resource as _, User};
use serde_json::Value;

use super::request::{Request, from_target};
use super::{GatewayError, ResourceKind, ScimService};
use crate::TargetError;
use crate::mirror::{MirroredGroup, MirroredUser};

/// How long after creating a resource a 404 from Identity Center is taken for its
/// replication lag (a peer saw a read miss a resource about 50 ms after its create) and
/// retried, rather than for a deletion; and how long a listing that could include it
/// first makes sure it shows.
const CREATE_LAG_GRACE: time::Duration = time::Duration::seconds(1);

/// The waits between reads of a resource created moments ago, within the deadline.
const LAG_RETRY_WAITS: [Duration; 4] = [
    Duration::from_millis(50),
    Duration::from_millis(100),
    Duration::from_millis(200),
    Duration::from_millis(400),
];

/// The last user and group this process created, while Identity Center may still be
/// catching up on them: a listing or lookup that could include one waits until it is
/// readable (see [`ScimService::settle`]), so a read right after a create sees it.
#[derive(Debug, Default)]
pub(super) struct Recent {
    user: Option<RecentlyCreated>,
    group: Option<RecentlyCreated>,
}

#[derive(Debug, Clone)]
struct RecentlyCreated {
    id: String,
    /// `userName` or `displayName`, lowercased.
    name: String,
    at: time::OffsetDateTime,
}

/// What a listing is about to read, for [`ScimService::settle`].
#[derive(Debug, Clone, Copy)]
pub(super) enum Reading<'a> {
    /// Every resource of the kind, or a filter the gateway cannot tie to one.
    Any,
    /// The resource with this `userName` (lowercased comparison).
    Named(&'a str),
    /// The members of this group, or the groups of this user.
    MembershipOf(&'a str),
}

/// Where a before-image came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Source {
    /// The mirror: no request was made, and it may be stale. Carries the entry's
    /// creation time, so recording the after-image needs no second read of the entry.
    Mirror {
        /// When this gateway created the resource, as the entry says.
        created_at: Option<time::OffsetDateTime>,
    },
    /// Identity Center, just now.
    Target,
}

fn is_not_found(error: &TargetError) -> bool {
    matches!(
        error,
        TargetError::NotFound | TargetError::Rejected { status: 404, .. }
    )
}

impl ScimService {
    /// The user as the mirror has it, else as Identity Center answers it (one request,
    /// and the mirror learns it).
    pub(super) async fn known_user(
        &self,
        request: &mut Request<'_>,
        id: &str,
    ) -> Result<(User, Source), GatewayError> {
        match self.mirror.user(id).await {
            Ok(Some(entry)) => {
                let created_at = entry.created_at;
                return Ok((entry.user, Source::Mirror { created_at }));
            }
            Ok(None) => {}
            Err(error) => tracing::warn!(error = %error, "the mirror could not be read"),
        }
        let user = self.read_user(request, id).await?;
        Ok((user, Source::Target))
    }

    /// The group as the mirror has it, else as Identity Center answers it.
    pub(super) async fn known_group(
        &self,
        request: &mut Request<'_>,
        id: &str,
    ) -> Result<(Group, Source), GatewayError> {
        match self.mirror.group(id).await {
            Ok(Some(entry)) => {
                let created_at = entry.created_at;
                return Ok((entry.group, Source::Mirror { created_at }));
            }
            Ok(None) => {}
            Err(error) => tracing::warn!(error = %error, "the mirror could not be read"),
        }
        let group = self.read_group(request, id).await?;
        Ok((group, Source::Target))
    }

    /// Reads a user from Identity Center, retrying a 404 for a user this gateway created
    /// moments ago, and keeps the mirror in step with the answer.
    pub(super) async fn read_user(
        &self,
        request: &mut Request<'_>,
        id: &str,
    ) -> Result<User, GatewayError> {
        let user = self
            .read_fresh(request, ResourceKind::User, id, |deadline| {
                self.target.get_user(id, deadline)
            })
            .await?;
        self.remember_user(&user, Source::Target).await;
        Ok(user)
    }

    /// Reads a group (without members) from Identity Center, like
    /// [`ScimService::read_user`].
    pub(super) async fn read_group(
        &self,
        request: &mut Request<'_>,
        id: &str,
    ) -> Result<Group, GatewayError> {
        let group = self
            .read_fresh(request, ResourceKind::Group, id, |deadline| {
                self.target.get_group(id, deadline)
            })
            .await?;
        self.remember_group(&group, Source::Target).await;
        request.note_group(&group);
        Ok(group)
    }

    /// One read by id, repeated while Identity Center answers 404 for a resource this
    /// gateway created moments ago (within the deadline); a 404 that stands removes the
    /// resource from the mirror.
    async fn read_fresh<T, F, Fut>(
        &self,
        request: &mut Request<'_>,
        kind: ResourceKind,
        id: &str,
        read: F,
    ) -> Result<T, GatewayError>
    where
        F: Fn(crate::Deadline) -> Fut,
        Fut: std::future::Future<Output = Result<T, TargetError>>,
    {
        let mut waits = LAG_RETRY_WAITS.iter();
        loop {
            let deadline = request.deadline;
            match self.call(request, 200, read(deadline)).await {
                Ok(resource) => return Ok(resource),
                Err(error) if is_not_found(&error) => {
                    let lagging = self.created_moments_ago(kind, id).await;
                    match waits.next() {
                        Some(wait) if lagging && request.has_time_for(*wait) => {
                            tokio::time::sleep(*wait).await;
                        }
                        _ => {
                            self.forget(kind, id).await;
                            return Err(from_target(error, kind, Some(id)));
                        }
                    }
                }
                Err(error) => return Err(from_target(error, kind, Some(id))),
            }
        }
    }

    /// A failed write's error in the client's terms; a 404 also removes the resource
    /// from the mirror (it was deleted behind the gateway's back).
    pub(super) async fn write_failed(
        &self,
        error: TargetError,
        kind: ResourceKind,
        id: Option<&str>,
    ) -> GatewayError {
        if let (true, Some(id)) = (is_not_found(&error), id) {
            self.forget(kind, id).await;
        }
        from_target(error, kind, id)
    }

    /// Records a user as Identity Center holds it now, keeping when it was created (as
    /// the before-image's `source` says, else as the mirror says).
    pub(super) async fn remember_user(&self, user: &User, source: Source) {
        let created_at = self
            .kept_created_at(ResourceKind::User, user.id(), source)
            .await;
        self.put_user(user, created_at).await;
    }

    /// Records a user this gateway has just created.
    pub(super) async fn remember_created_user(&self, user: &User) {
        self.put_user(user, Some(self.clock.now())).await;
    }

    async fn put_user(&self, user: &User, created_at: Option<time::OffsetDateTime>) {
        let entry = MirroredUser {
            user: user.clone(),
            created_at,
        };
        if let Err(error) = self.mirror.put_user(entry).await {
            tracing::warn!(error = %error, "the mirror could not be written");
        }
    }

    /// Records a group as Identity Center holds it now (members are never kept), like
    /// [`ScimService::remember_user`].
    pub(super) async fn remember_group(&self, group: &Group, source: Source) {
        let created_at = self
            .kept_created_at(ResourceKind::Group, group.id(), source)
            .await;
        self.put_group(group, created_at).await;
    }

    /// The creation time an entry keeps when it is rewritten: the one its before-image
    /// carried, or the mirror's, read only when the before-image came from Identity
    /// Center.
    async fn kept_created_at(
        &self,
        kind: ResourceKind,
        id: Option<&str>,
        source: Source,
    ) -> Option<time::OffsetDateTime> {
        match source {
            Source::Mirror { created_at } => created_at,
            Source::Target => self.created_at(kind, id).await,
        }
    }

    /// Records a group this gateway has just created.
    pub(super) async fn remember_created_group(&self, group: &Group) {
        self.put_group(group, Some(self.clock.now())).await;
    }

    async fn put_group(&self, group: &Group, created_at: Option<time::OffsetDateTime>) {
        let mut group = group.clone();
        group.members = None;
        let entry = MirroredGroup { group, created_at };
        if let Err(error) = self.mirror.put_group(entry).await {
            tracing::warn!(error = %error, "the mirror could not be written");
        }
    }

    /// Forgets a resource Identity Center no longer has.
    pub(super) async fn forget(&self, kind: ResourceKind, id: &str) {
        let forgotten = match kind {
            ResourceKind::User => self.mirror.forget_user(id).await,
            ResourceKind::Group => self.mirror.forget_group(id).await,
        };
        if let Err(error) = forgotten {
            tracing::warn!(error = %error, "the mirror could not be written");
        }
    }

    /// Notes a resource this process has just created (see [`Recent`]).
    pub(super) fn note_created(&self, kind: ResourceKind, id: &str, name: &str) {
        let created = RecentlyCreated {
            id: id.to_owned(),
            name: name.to_lowercase(),
            at: self.clock.now(),
        };
        let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        match kind {
            ResourceKind::User => recent.user = Some(created),
            ResourceKind::Group => recent.group = Some(created),
        }
    }

    /// Before a listing of `kind` that could include the resource this process created
    /// moments ago, waits until Identity Center shows it (one read, retried within the
    /// deadline while it answers 404), so the listing is not missing it. Otherwise does
    /// nothing and costs nothing.
    pub(super) async fn settle(
        &self,
        request: &mut Request<'_>,
        kind: ResourceKind,
        reading: Reading<'_>,
    ) -> Result<(), GatewayError> {
        let pending = {
            let recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
            match kind {
                ResourceKind::User => recent.user.clone(),
                ResourceKind::Group => recent.group.clone(),
            }
        };
        let Some(pending) = pending.filter(|p| self.clock.now() - p.at < CREATE_LAG_GRACE) else {
            return Ok(());
        };
        let concerned = match reading {
            Reading::Any => true,
            Reading::Named(name) => name.to_lowercase() == pending.name,
            Reading::MembershipOf(id) => id == pending.id,
        };
        if !concerned {
            return Ok(());
        }
        let read = match kind {
            ResourceKind::User => self.read_user(request, &pending.id).await.map(|_| ()),
            ResourceKind::Group => self.read_group(request, &pending.id).await.map(|_| ()),
        };
        match read {
            // Readable, or gone since: either way nothing is left to wait for.
            Ok(()) | Err(GatewayError::NotFound(_)) => {
                let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
                let slot = match kind {
                    ResourceKind::User => &mut recent.user,
                    ResourceKind::Group => &mut recent.group,
                };
                if slot.as_ref().is_some_and(|s| s.id == pending.id) {
                    *slot = None;
                }
                Ok(())
            }
            Err(error) => Err(error),
        }
    }

    async fn created_moments_ago(&self, kind: ResourceKind, id: &str) -> bool {
        self.is_recent(self.created_at(kind, Some(id)).await)
    }

    /// When this gateway created the resource, as the mirror remembers it.
    async fn created_at(
        &self,
        kind: ResourceKind,
        id: Option<&str>,
    ) -> Option<time::OffsetDateTime> {
        let id = id?;
        match kind {
            ResourceKind::User => self.mirror.user(id).await.ok().flatten()?.created_at,
            ResourceKind::Group => self.mirror.group(id).await.ok().flatten()?.created_at,
        }
    }

    fn is_recent(&self, created_at: Option<time::OffsetDateTime>) -> bool {
        created_at.is_some_and(|at| self.clock.now() - at < CREATE_LAG_GRACE)
    }
}

/// `group` with the attribute operations of a group change applied (`displayName`
/// replaced, `externalId` replaced or removed): what Identity Center holds once it has
/// accepted them, since its PatchGroup answers without a body.
pub(super) fn with_attributes(group: &Group, operations: &[PatchOperation]) -> Group {
    let mut after = group.clone();
    for operation in operations {
        let Some(path) = &operation.path else {
            continue;
        };
        let name = path.attr.name.as_str();
        let value = operation.value.as_ref().and_then(Value::as_str);
        match (operation.op, value) {
            (PatchOpKind::Remove, _) if name.eq_ignore_ascii_case("externalId") => {
                after.external_id = None;
            }
            (_, Some(value)) if name.eq_ignore_ascii_case("displayName") => {
                value.clone_into(&mut after.display_name);
            }
            (_, Some(value)) if name.eq_ignore_ascii_case("externalId") => {
                after.external_id = Some(value.to_owned());
            }
            _ => {}
        }
    }
    after
}
