//! The event worker's use case: make Identity Center hold what Okta holds now for one
//! user, group or membership ([`Convergence`], computed by `crate::events` from Okta's
//! current state), in as few requests as that takes, under the rules, with one audit
//! record per event.
//!
//! Identity Center's user or group for an Okta id is the one whose `externalId` is that
//! id (what Okta's own SCIM pushes set, and what the gateway sets): those are the ones
//! the gateway manages. One with the same `userName` or `displayName` and no
//! `externalId` is adopted (its `externalId` set); one with another `externalId`
//! belongs to someone else and is never changed (the event is refused).
//!
//! A user or group the mirror has no `externalId` entry for is new, as far as the gateway
//! knows: it is created first, without looking it up (one request, not three); only
//! when Identity Center answers 409 (the name or `externalId` is taken: made outside the
//! gateway, or by another event meanwhile) is it looked up, and adopted or updated as
//! below. A mirror that cannot be read, or an inactive user, takes the look-up first.
//!
//! A membership event, the most frequent by far, finds its user and group through the
//! mirror's `externalId` entries first, so that it costs Identity Center one request
//! (the PATCH) rather than three. The mirror may be stale; Identity Center's answer
//! tells: a 404 (the group is gone) or a 400 (the member is no user) to a PATCH built
//! from mirrored ids makes the gateway forget those entries and converge again from
//! Identity Center's own answers, within the same event.

use scim_core::{Filter, Group, PatchOp, Resource, User, parse_filter};
use serde_json::{Map, Value, json};

use super::known::Source;
use super::request::{Request, from_target};
use super::{GatewayError, RequestContext, ResourceKind, ScimReply, ScimService};
use crate::audit::{AuditOperation, attribute_changes};
use crate::ports::target::GroupChange;
use crate::ports::target::TargetError;
use crate::translate::group::outbound_group;
use crate::translate::user::outbound_user;
use crate::translate::user_patch::translate_user_patch;

/// What Okta holds now for a resource, as the gateway should mirror it.
#[derive(Debug, Clone, PartialEq)]
pub enum Desired<T> {
    /// Okta has it, in scope: Identity Center should hold this (before the rules).
    Present(Box<T>),
    /// Okta no longer has it, or it left the scope.
    Absent {
        /// Whether the rules' scope lets the gateway delete it (else a user is
        /// deactivated and a group kept).
        delete: bool,
        /// Why, for the audit record: `deleted in Okta`, `out of scope`.
        why: String,
    },
}

/// One resource of Okta's, by its Okta id, and what Identity Center should hold for it.
#[derive(Debug, Clone, PartialEq)]
pub struct Intent<T> {
    /// The Okta id (Identity Center's `externalId`).
    pub okta_id: String,
    /// What Identity Center should hold.
    pub desired: Desired<T>,
}

/// What one event asks of Identity Center.
#[derive(Debug, Clone, PartialEq)]
pub enum Convergence {
    /// Create, adopt, update, deactivate or delete a user.
    User(Intent<User>),
    /// As [`Convergence::User`], for a user Okta may have put in groups while it was
    /// inactive: a membership event for a user that is not created (inactive in Okta)
    /// changes nothing, and Okta sends none when the user is activated. When this event
    /// creates the user in Identity Center, it joins `groups` (its groups in Okta, in
    /// scope); with `rejoin` (an earlier attempt may have created it and failed before
    /// the joins), it joins them whatever this attempt does.
    UserJoining {
        /// The user.
        user: Intent<User>,
        /// Its groups in Okta.
        groups: Vec<Intent<Group>>,
        /// Join them even if the user is not created by this attempt.
        rejoin: bool,
    },
    /// Create, adopt, rename or delete a group.
    Group(Intent<Group>),
    /// Make a user a member of a group or not, creating either first when it is
    /// missing and the user is to be a member.
    Membership {
        /// The user.
        user: Intent<User>,
        /// The group.
        group: Intent<Group>,
        /// Whether the user is a member in Okta now (and both are in scope).
        member: bool,
        /// The user's other groups in Okta: joined too when this event creates the
        /// user (see [`Convergence::UserJoining`]).
        also: Vec<Intent<Group>>,
    },
    /// The event failed before anything could be decided (Okta could not be read):
    /// only its record is written.
    Fail {
        /// The kind of resource the event concerns.
        kind: ResourceKind,
        /// Its Okta id, where known.
        okta_id: Option<String>,
        /// Why.
        why: String,
    },
    /// Nothing to do: the event is out of scope or its subject is not the gateway's.
    Skip {
        /// The kind of resource the event concerns.
        kind: ResourceKind,
        /// Its Okta id, where known.
        okta_id: Option<String>,
        /// Why.
        why: String,
    },
}

/// How an event ended, when it did not fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventVerdict {
    /// Identity Center was changed.
    Applied,
    /// Nothing needed changing; why.
    Skipped(String),
}

/// A user or group found in Identity Center for an Okta id.
struct Found<T> {
    resource: T,
    source: Source,
    /// Found by name, without an `externalId`: the gateway takes it over.
    adopt: bool,
}

impl<T: Resource> Found<T> {
    /// Its id, when it came from the mirror.
    fn mirrored_id(&self) -> Option<String> {
        matches!(self.source, Source::Mirror { .. })
            .then(|| self.resource.id().map(str::to_owned))
            .flatten()
    }
}

/// Where a membership's user and group are looked up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lookup {
    /// The mirror's `externalId` entries, then Identity Center for what they lack.
    MirrorFirst,
    /// Identity Center only.
    Target,
}

/// Why a membership did not converge.
enum MembershipError {
    /// Identity Center's answer showed these mirrored ids stale: look up again.
    Stale(Vec<(ResourceKind, String)>),
    /// It failed.
    Gateway(GatewayError),
}

impl From<GatewayError> for MembershipError {
    fn from(error: GatewayError) -> Self {
        Self::Gateway(error)
    }
}

/// A mirror entry (its resource and creation time) found for `okta_id`, as found, when
/// it still says that `externalId`; a mirror that cannot be read counts as a miss.
fn still_theirs<T: Resource>(
    okta_id: &str,
    entry: Result<Option<(T, Option<time::OffsetDateTime>)>, crate::mirror::MirrorError>,
) -> Option<Found<T>> {
    match entry {
        Ok(Some((resource, created_at))) if resource.external_id() == Some(okta_id) => {
            Some(Found {
                resource,
                source: Source::Mirror { created_at },
                adopt: false,
            })
        }
        Ok(_) => None,
        Err(error) => {
            tracing::warn!(error = %error, "the mirror could not be read");
            None
        }
    }
}

/// Whether the user use case that answered `verdict` for `request` created its user.
fn created(verdict: &EventVerdict, request: &Request<'_>) -> bool {
    *verdict == EventVerdict::Applied && request.operation() == AuditOperation::Create
}

/// The result of a write built from `mirrored` ids, or [`MembershipError::Stale`] when
/// Identity Center's refusal shows one of them stale: 404, the group is gone; 400, the
/// member is no user (Identity Center refuses a member that is not an existing user).
fn stale_or(
    result: Result<EventVerdict, GatewayError>,
    mirrored: Vec<(ResourceKind, String)>,
) -> Result<EventVerdict, MembershipError> {
    match result {
        Err(
            GatewayError::NotFound(_)
            | GatewayError::Upstream(TargetError::Rejected { status: 400, .. }),
        ) if !mirrored.is_empty() => Err(MembershipError::Stale(mirrored)),
        other => other.map_err(MembershipError::Gateway),
    }
}

impl ScimService {
    /// Makes Identity Center hold what `convergence` says, and writes the event's audit
    /// record (source: the event). With `final_attempt` false a failure is not
    /// recorded: the event will be tried again, and only its last outcome is recorded.
    pub async fn converge(
        &self,
        convergence: Convergence,
        ctx: &RequestContext,
        final_attempt: bool,
    ) -> Result<EventVerdict, GatewayError> {
        let (kind, operation) = match &convergence {
            Convergence::User(_) | Convergence::UserJoining { .. } => {
                (ResourceKind::User, AuditOperation::Patch)
            }
            Convergence::Group(_) | Convergence::Membership { .. } => {
                (ResourceKind::Group, AuditOperation::Patch)
            }
            Convergence::Skip { kind, .. } | Convergence::Fail { kind, .. } => {
                (*kind, AuditOperation::Patch)
            }
        };
        let mut request = self.begin(kind, operation, ctx, None).await;
        request.record_failure = final_attempt;
        let counter = request.counter();
        let result = crate::ports::target::counting_requests(counter, async {
            match convergence {
                Convergence::User(intent) => self.converge_user(&mut request, intent).await,
                Convergence::UserJoining {
                    user,
                    groups,
                    rejoin,
                } => {
                    let verdict = self.converge_user(&mut request, user).await?;
                    if !(created(&verdict, &request) || rejoin) {
                        return Ok(verdict);
                    }
                    let joined = self.join_groups(&mut request, groups).await?;
                    Ok(if joined {
                        EventVerdict::Applied
                    } else {
                        verdict
                    })
                }
                Convergence::Group(intent) => self.converge_group(&mut request, intent).await,
                Convergence::Membership {
                    user,
                    group,
                    member,
                    also,
                } => {
                    self.converge_membership(&mut request, user, group, member, also)
                        .await
                }
                Convergence::Skip { okta_id, why, .. } => {
                    request.subject.external_id = okta_id;
                    Ok(EventVerdict::Skipped(why))
                }
                Convergence::Fail { okta_id, why, .. } => {
                    request.subject.external_id = okta_id;
                    Err(GatewayError::Unexpected(anyhow::anyhow!(why)))
                }
            }
        })
        .await;
        if let Ok(EventVerdict::Skipped(why)) = &result {
            request.skipped = Some(why.clone());
        }
        let verdict = result.as_ref().ok().cloned();
        let reply = result.map(|_| ScimReply::NoContent);
        if request.intent_recorded {
            // Identity Center may have changed: the outcome is the change's record, and
            // the trail keeps it until its store takes it (trying the event again would
            // record a later attempt instead).
            self.end(request, &reply).await;
        } else if let (Ok(_), Err(error)) = (&reply, self.finish(request, &reply).await) {
            // Nothing reached Identity Center, and the event's one record could not be
            // written: the attempt fails, so that the event is tried again and recorded
            // rather than acknowledged without a trace.
            return Err(GatewayError::AuditUnavailable(error));
        }
        reply.map(|_| verdict.unwrap_or(EventVerdict::Applied))
    }

    async fn converge_user(
        &self,
        request: &mut Request<'_>,
        intent: Intent<User>,
    ) -> Result<EventVerdict, GatewayError> {
        request.subject.external_id = Some(intent.okta_id.clone());
        match intent.desired {
            Desired::Present(okta_user) => {
                let rules = request.rules()?;
                request.note_user(&okta_user);
                // What Identity Center should hold; the create applies the rules itself,
                // so it is given Okta's user.
                let user = rules
                    .apply_user((*okta_user).clone())
                    .and_then(outbound_user)
                    .map_err(GatewayError::Invalid)?;
                // New to the gateway: created first, looked up only if Identity Center
                // has it already (see the module docs).
                let mut refused_create = None;
                if user.active.unwrap_or(true)
                    && self.is_new(ResourceKind::User, &intent.okta_id).await
                {
                    request.set_operation(AuditOperation::Create);
                    match self.create_user(request, (*okta_user).clone()).await {
                        Ok(_) => return Ok(EventVerdict::Applied),
                        Err(GatewayError::Conflict(conflict)) => refused_create = Some(conflict),
                        Err(error) => return Err(error),
                    }
                }
                let found = self
                    .find_user(request, &intent.okta_id, Some(&user.user_name))
                    .await?;
                if let (None, Some(conflict)) = (&found, refused_create) {
                    // Taken, but by no user the gateway may adopt (an email in use, say).
                    return Err(GatewayError::Conflict(conflict));
                }
                match found {
                    None if !user.active.unwrap_or(true) => Ok(EventVerdict::Skipped(
                        "inactive in Okta and not in Identity Center".into(),
                    )),
                    None => {
                        request.set_operation(AuditOperation::Create);
                        match self.create_user(request, *okta_user).await {
                            Ok(_) => Ok(EventVerdict::Applied),
                            // Another event of the same user (a membership, in another
                            // message group) created it meanwhile: update that one.
                            Err(GatewayError::Conflict(conflict)) => {
                                match self
                                    .find_user(request, &intent.okta_id, Some(&user.user_name))
                                    .await?
                                {
                                    Some(found) => self.update_user(request, found, &user).await,
                                    None => Err(GatewayError::Conflict(conflict)),
                                }
                            }
                            Err(error) => Err(error),
                        }
                    }
                    Some(found) => self.update_user(request, found, &user).await,
                }
            }
            Desired::Absent { delete, why } => {
                let Some(found) = self.find_user(request, &intent.okta_id, None).await? else {
                    return Ok(EventVerdict::Skipped(format!(
                        "{why}, and not in Identity Center"
                    )));
                };
                let user = found.resource;
                request.note_user(&user);
                let id = user.id().unwrap_or_default().to_owned();
                if delete {
                    request.set_operation(AuditOperation::Delete);
                    request.changes = attribute_changes(Some(&user.to_value()), None);
                    if let Err(error) = self
                        .write(request, 204, |deadline| {
                            self.target.delete_user(&id, deadline)
                        })
                        .await?
                    {
                        return Err(self
                            .write_failed(error, ResourceKind::User, Some(&id))
                            .await);
                    }
                    self.forget(ResourceKind::User, &id).await;
                    return Ok(EventVerdict::Applied);
                }
                if user.active == Some(false) {
                    return Ok(EventVerdict::Skipped(format!(
                        "{why}, and already inactive"
                    )));
                }
                let mut desired = user.clone();
                desired.active = Some(false);
                self.update_user(
                    request,
                    Found {
                        resource: user,
                        source: found.source,
                        adopt: false,
                    },
                    &desired,
                )
                .await
            }
        }
    }

    /// Patches the attributes of `found` that differ from `desired` (and sets its
    /// `externalId` when adopting it); nothing when none differs.
    async fn update_user(
        &self,
        request: &mut Request<'_>,
        found: Found<User>,
        desired: &User,
    ) -> Result<EventVerdict, GatewayError> {
        let before = found.resource;
        request.note_user(&before);
        let id = before.id().unwrap_or_default().to_owned();
        let operations = differing_attributes(&before.to_value(), &desired.to_value());
        if operations.is_empty() {
            return Ok(EventVerdict::Skipped("already in step".into()));
        }
        let patch = PatchOp::parse(&json!({
            "schemas": [scim_core::PATCH_OP_SCHEMA],
            "Operations": operations,
        }))
        .map_err(GatewayError::Invalid)?;
        let Some(patch) = translate_user_patch(&patch, &id).map_err(GatewayError::Invalid)? else {
            return Ok(EventVerdict::Skipped("already in step".into()));
        };
        request.set_operation(AuditOperation::Patch);
        let after = match self
            .write(request, 200, |deadline| {
                self.target.patch_user(&id, &patch, deadline)
            })
            .await?
        {
            Ok(after) => after,
            Err(error) => {
                return Err(self
                    .write_failed(error, ResourceKind::User, Some(&id))
                    .await);
            }
        };
        self.remember_user(&after, found.source).await;
        request.note_user(&after);
        request.changes = attribute_changes(Some(&before.to_value()), Some(&after.to_value()));
        Ok(EventVerdict::Applied)
    }

    async fn converge_group(
        &self,
        request: &mut Request<'_>,
        intent: Intent<Group>,
    ) -> Result<EventVerdict, GatewayError> {
        request.subject.external_id = Some(intent.okta_id.clone());
        match intent.desired {
            Desired::Present(okta_group) => {
                let group = self.outbound(request, (*okta_group).clone())?;
                if self.is_new(ResourceKind::Group, &intent.okta_id).await {
                    // Created first; a 409 looks it up and updates it (see the module docs).
                    return self
                        .create_or_update_group(request, &intent.okta_id, *okta_group, &group, None)
                        .await;
                }
                match self
                    .find_group(request, &intent.okta_id, Some(&group.display_name))
                    .await?
                {
                    None => {
                        self.create_or_update_group(
                            request,
                            &intent.okta_id,
                            *okta_group,
                            &group,
                            None,
                        )
                        .await
                    }
                    Some(found) => self.update_group(request, found, &group, &[], &[]).await,
                }
            }
            Desired::Absent { delete, why } => {
                let Some(found) = self.find_group(request, &intent.okta_id, None).await? else {
                    return Ok(EventVerdict::Skipped(format!(
                        "{why}, and not in Identity Center"
                    )));
                };
                request.note_group(&found.resource);
                if !delete {
                    return Ok(EventVerdict::Skipped(format!(
                        "{why}; kept, as the rules' scope.delete does not name groups"
                    )));
                }
                let id = found.resource.id().unwrap_or_default().to_owned();
                request.set_operation(AuditOperation::Delete);
                if let Err(error) = self
                    .write(request, 204, |deadline| {
                        self.target.delete_group(&id, deadline)
                    })
                    .await?
                {
                    return Err(self
                        .write_failed(error, ResourceKind::Group, Some(&id))
                        .await);
                }
                self.forget(ResourceKind::Group, &id).await;
                Ok(EventVerdict::Applied)
            }
        }
    }

    /// The group as Identity Center should hold it: the rules applied, members dropped.
    fn outbound(&self, request: &Request<'_>, group: Group) -> Result<Group, GatewayError> {
        let rules = request.rules()?;
        let outbound = rules
            .apply_group(group)
            .and_then(outbound_group)
            .map_err(GatewayError::Invalid)?;
        Ok(outbound.group)
    }

    /// Renames `found` (and sets its `externalId` when adopting it) and changes its
    /// members, in one request; nothing when there is nothing to change.
    async fn update_group(
        &self,
        request: &mut Request<'_>,
        found: Found<Group>,
        desired: &Group,
        add: &[String],
        remove: &[String],
    ) -> Result<EventVerdict, GatewayError> {
        let before = found.resource;
        request.note_group(&before);
        let id = before.id().unwrap_or_default().to_owned();
        let mut attributes = Vec::new();
        if before.display_name != desired.display_name {
            attributes.push(json!({"op": "replace", "path": "displayName",
                                   "value": desired.display_name}));
        }
        if (found.adopt || before.external_id() != desired.external_id())
            && let Some(external_id) = desired.external_id()
        {
            attributes.push(json!({"op": "replace", "path": "externalId",
                                   "value": external_id}));
        }
        if attributes.is_empty() && add.is_empty() && remove.is_empty() {
            return Ok(EventVerdict::Skipped("already in step".into()));
        }
        let attributes = if attributes.is_empty() {
            Vec::new()
        } else {
            PatchOp::parse(&json!({
                "schemas": [scim_core::PATCH_OP_SCHEMA],
                "Operations": attributes,
            }))
            .map_err(GatewayError::Invalid)?
            .operations
        };
        let change = GroupChange {
            attributes,
            remove: remove.to_vec(),
            add: add.to_vec(),
        };
        request.set_operation(AuditOperation::Patch);
        request.plan_membership(add, remove);
        self.change_group(request, &id, &change).await?;
        let after = super::known::with_attributes(&before, &change.attributes);
        self.remember_group(&after, found.source).await;
        request.note_group(&after);
        request.changes = attribute_changes(
            Some(&crate::translate::response::group_to_client(
                &before, None, "",
            )),
            Some(&crate::translate::response::group_to_client(
                &after, None, "",
            )),
        );
        request.note_membership(add, remove);
        Ok(EventVerdict::Applied)
    }

    /// Adds the user this request created (or found) to `groups`, each found as a
    /// membership event finds it (a group new to the gateway is created with the user
    /// in it); the user's record names them in its `groups` change (RFC 7643 §4.1.2).
    /// Answers whether anything was written.
    async fn join_groups(
        &self,
        request: &mut Request<'_>,
        groups: Vec<Intent<Group>>,
    ) -> Result<bool, GatewayError> {
        let Some(user_id) = request.subject.target_id.clone() else {
            return Ok(false);
        };
        let mut joined = Vec::new();
        for group in groups {
            let Desired::Present(okta_group) = group.desired else {
                continue;
            };
            let desired = self.outbound(request, (*okta_group).clone())?;
            let found = self
                .group_for(
                    request,
                    &group.okta_id,
                    Some(&desired.display_name),
                    Lookup::MirrorFirst,
                    true,
                )
                .await?;
            let group_id = match found {
                Some(found) => found.resource.id().unwrap_or_default().to_owned(),
                None => match self.create_joined(request, &desired, &user_id).await? {
                    Some(id) => {
                        joined.push(json!({"value": id, "display": desired.display_name}));
                        continue;
                    }
                    // Made meanwhile by another event: join that one.
                    None => match self
                        .find_group(request, &group.okta_id, Some(&desired.display_name))
                        .await?
                    {
                        Some(found) => found.resource.id().unwrap_or_default().to_owned(),
                        None => continue,
                    },
                },
            };
            let change = GroupChange {
                attributes: Vec::new(),
                remove: Vec::new(),
                add: vec![user_id.clone()],
            };
            self.change_group(request, &group_id, &change).await?;
            joined.push(json!({"value": group_id, "display": desired.display_name}));
        }
        if joined.is_empty() {
            return Ok(false);
        }
        request.changes.push(crate::audit::AttributeChange {
            attribute: "groups".into(),
            before: None,
            after: Some(Value::Array(joined)),
        });
        Ok(true)
    }

    /// The group for `okta_id`: the mirror's entry (with `lookup` asking the mirror
    /// first), else none when the gateway has never known one and `new_first` (the
    /// caller creates it next, see the module docs), else Identity Center's, by
    /// `externalId` and then by `display_name`.
    async fn group_for(
        &self,
        request: &mut Request<'_>,
        okta_id: &str,
        display_name: Option<&str>,
        lookup: Lookup,
        new_first: bool,
    ) -> Result<Option<Found<Group>>, GatewayError> {
        if let Some(found) = self.mirrored_group(okta_id, lookup).await {
            return Ok(Some(found));
        }
        if new_first && self.is_new(ResourceKind::Group, okta_id).await {
            return Ok(None);
        }
        self.find_group(request, okta_id, display_name).await
    }

    /// Sends one PATCH of group `id`; a 404 forgets the mirror's entry for it.
    async fn change_group(
        &self,
        request: &mut Request<'_>,
        id: &str,
        change: &GroupChange,
    ) -> Result<(), GatewayError> {
        if let Err(error) = self
            .write(request, 204, |deadline| {
                self.target.modify_group(id, change, deadline)
            })
            .await?
        {
            return Err(self
                .write_failed(error, ResourceKind::Group, Some(id))
                .await);
        }
        Ok(())
    }

    /// Creates `desired` with `user_id` as its member; `None` when Identity Center
    /// already has a group of that name (409).
    async fn create_joined(
        &self,
        request: &mut Request<'_>,
        desired: &Group,
        user_id: &str,
    ) -> Result<Option<String>, GatewayError> {
        let mut group = desired.clone();
        group.members = Some(vec![scim_core::Member::new(user_id)]);
        match self
            .write(request, 201, |deadline| {
                self.target.create_group(&group, deadline)
            })
            .await?
        {
            Ok(created) => {
                self.remember_created_group(&created).await;
                let id = created.id().unwrap_or_default().to_owned();
                self.note_created(ResourceKind::Group, &id, &created.display_name);
                Ok(Some(id))
            }
            Err(TargetError::Conflict { .. }) => Ok(None),
            Err(error) => Err(self.write_failed(error, ResourceKind::Group, None).await),
        }
    }

    /// A membership, looked up through the mirror first; converged again from Identity
    /// Center when its answer shows a mirrored id stale.
    async fn converge_membership(
        &self,
        request: &mut Request<'_>,
        user: Intent<User>,
        group: Intent<Group>,
        member: bool,
        also: Vec<Intent<Group>>,
    ) -> Result<EventVerdict, GatewayError> {
        let again = (user.clone(), group.clone(), also.clone());
        let stale = match self
            .membership_by(request, user, group, member, also, Lookup::MirrorFirst)
            .await
        {
            Ok(verdict) => return Ok(verdict),
            Err(MembershipError::Gateway(error)) => return Err(error),
            Err(MembershipError::Stale(stale)) => stale,
        };
        for (kind, id) in stale {
            self.forget(kind, &id).await;
        }
        let (user, group, also) = again;
        request.reset_subject(ResourceKind::Group);
        match self
            .membership_by(request, user, group, member, also, Lookup::Target)
            .await
        {
            Ok(verdict) => Ok(verdict),
            Err(MembershipError::Gateway(error)) => Err(error),
            Err(MembershipError::Stale(_)) => Err(GatewayError::Unexpected(anyhow::anyhow!(
                "Identity Center's own answers were taken for stale mirror entries"
            ))),
        }
    }

    /// A membership, its user and group found by `lookup`.
    async fn membership_by(
        &self,
        request: &mut Request<'_>,
        user: Intent<User>,
        group: Intent<Group>,
        member: bool,
        also: Vec<Intent<Group>>,
        lookup: Lookup,
    ) -> Result<EventVerdict, MembershipError> {
        request.subject.external_id = Some(group.okta_id.clone());
        let (okta_group, desired_group) = match group.desired {
            Desired::Present(g) => {
                let outbound = self.outbound(request, (*g).clone())?;
                (Some(*g), Some(outbound))
            }
            Desired::Absent { .. } => (None, None),
        };
        // A member whose user or group is new to the gateway is made as a new one is
        // (created first, looked up on a 409), not looked up first: a membership often
        // arrives before the group's own creation event, which is queued apart.
        let adds = member && lookup == Lookup::MirrorFirst;
        let found_group = self
            .group_for(
                request,
                &group.okta_id,
                desired_group.as_ref().map(|g| g.display_name.as_str()),
                lookup,
                adds && desired_group.is_some(),
            )
            .await?;
        let found_user = match (
            self.mirrored_user(&user.okta_id, lookup).await,
            &user.desired,
        ) {
            (Some(found), _) => Some(found),
            (None, Desired::Present(_))
                if adds && self.is_new(ResourceKind::User, &user.okta_id).await =>
            {
                None
            }
            (None, Desired::Present(u)) => {
                let rules = request.rules()?;
                let name = rules
                    .apply_user(u.as_ref().clone())
                    .map(|u| u.user_name)
                    .map_err(GatewayError::Invalid)?;
                self.find_user(request, &user.okta_id, Some(&name)).await?
            }
            (None, Desired::Absent { .. }) => self.find_user(request, &user.okta_id, None).await?,
        };
        // The ids a PATCH below takes from the mirror, which its answer may show stale.
        let mirrored: Vec<(ResourceKind, String)> = [
            found_group
                .as_ref()
                .and_then(|f| f.mirrored_id().map(|id| (ResourceKind::Group, id))),
            found_user
                .as_ref()
                .and_then(|f| f.mirrored_id().map(|id| (ResourceKind::User, id))),
        ]
        .into_iter()
        .flatten()
        .collect();
        if !member {
            let (Some(found_group), Some(found_user)) = (found_group, found_user) else {
                return Ok(EventVerdict::Skipped(
                    "not a member in Okta, and not in Identity Center".into(),
                ));
            };
            let user_id = found_user.resource.id().unwrap_or_default().to_owned();
            let desired = found_group.resource.clone();
            let removed = self
                .update_group(request, found_group, &desired, &[], &[user_id])
                .await;
            return stale_or(removed, mirrored);
        }
        let (Desired::Present(desired_user), Some(desired_group), Some(okta_group)) =
            (user.desired, desired_group, okta_group)
        else {
            return Ok(EventVerdict::Skipped(
                "the user or the group is out of scope".into(),
            ));
        };
        // A member needs both: the ones missing are created first.
        let user_id = match found_user {
            Some(found) if !found.adopt => found.resource.id().unwrap_or_default().to_owned(),
            _ => {
                let verdict = self
                    .converge_user(
                        request,
                        Intent {
                            okta_id: user.okta_id.clone(),
                            desired: Desired::Present(desired_user),
                        },
                    )
                    .await?;
                if created(&verdict, request)
                    && also
                        .iter()
                        .any(|g| matches!(g.desired, Desired::Present(_)))
                {
                    // Created by this membership, with other groups it was put in while
                    // inactive: it joins this one and those, and the record is the
                    // user's, naming them all.
                    let mut groups = vec![Intent {
                        okta_id: group.okta_id.clone(),
                        desired: Desired::Present(Box::new(okta_group)),
                    }];
                    groups.extend(also);
                    self.join_groups(request, groups).await?;
                    return Ok(EventVerdict::Applied);
                }
                let id = request.subject.target_id.clone();
                request.reset_subject(ResourceKind::Group);
                request.subject.external_id = Some(group.okta_id.clone());
                match (verdict, id) {
                    (EventVerdict::Applied, Some(id)) => id,
                    (EventVerdict::Skipped(why), _) => return Ok(EventVerdict::Skipped(why)),
                    (EventVerdict::Applied, None) => {
                        let error = anyhow::anyhow!("the user was created without an id");
                        return Err(GatewayError::from(error).into());
                    }
                }
            }
        };
        let added = match found_group {
            Some(found) => {
                self.update_group(request, found, &desired_group, &[user_id], &[])
                    .await
            }
            None => {
                self.create_or_update_group(
                    request,
                    &group.okta_id,
                    okta_group,
                    &desired_group,
                    Some(user_id),
                )
                .await
            }
        };
        stale_or(added, mirrored)
    }

    /// Whether the mirror holds a user for `okta_id` (an unreadable mirror holds none).
    pub async fn mirrors_user(&self, okta_id: &str) -> bool {
        matches!(
            self.mirror.user_id_by_external_id(okta_id).await,
            Ok(Some(_))
        )
    }

    /// Whether the mirror knows no user (or group) for `okta_id`: the gateway has not
    /// created, read or been told of one. A mirror that cannot be read knows nothing for
    /// sure: `false`, so that the caller looks it up.
    async fn is_new(&self, kind: ResourceKind, okta_id: &str) -> bool {
        let entry = match kind {
            ResourceKind::User => self.mirror.user_id_by_external_id(okta_id).await,
            ResourceKind::Group => self.mirror.group_id_by_external_id(okta_id).await,
        };
        matches!(entry, Ok(None))
    }

    /// The user the mirror holds for `okta_id`, when `lookup` asks the mirror first and
    /// its entry still says that `externalId`.
    async fn mirrored_user(&self, okta_id: &str, lookup: Lookup) -> Option<Found<User>> {
        if lookup != Lookup::MirrorFirst {
            return None;
        }
        let entry = match self.mirror.user_id_by_external_id(okta_id).await {
            Ok(Some(id)) => self.mirror.user(&id).await,
            Ok(None) => return None,
            Err(error) => Err(error),
        };
        still_theirs(okta_id, entry.map(|e| e.map(|e| (e.user, e.created_at))))
    }

    /// The group the mirror holds for `okta_id`, like [`ScimService::mirrored_user`].
    async fn mirrored_group(&self, okta_id: &str, lookup: Lookup) -> Option<Found<Group>> {
        if lookup != Lookup::MirrorFirst {
            return None;
        }
        let entry = match self.mirror.group_id_by_external_id(okta_id).await {
            Ok(Some(id)) => self.mirror.group(&id).await,
            Ok(None) => return None,
            Err(error) => Err(error),
        };
        still_theirs(okta_id, entry.map(|e| e.map(|e| (e.group, e.created_at))))
    }

    /// Creates a group from Okta's (the create applies the rules), with `member` in it;
    /// when another event created it meanwhile (409), updates that one instead.
    async fn create_or_update_group(
        &self,
        request: &mut Request<'_>,
        okta_id: &str,
        mut okta_group: Group,
        desired: &Group,
        member: Option<String>,
    ) -> Result<EventVerdict, GatewayError> {
        if let Some(member) = &member {
            okta_group.members = Some(vec![scim_core::Member::new(member)]);
        }
        request.set_operation(AuditOperation::Create);
        match self.create_group(request, okta_group).await {
            Ok(_) => Ok(EventVerdict::Applied),
            Err(GatewayError::Conflict(conflict)) => {
                match self
                    .find_group(request, okta_id, Some(&desired.display_name))
                    .await?
                {
                    Some(found) => {
                        let add: Vec<String> = member.into_iter().collect();
                        self.update_group(request, found, desired, &add, &[]).await
                    }
                    None => Err(GatewayError::Conflict(conflict)),
                }
            }
            Err(error) => Err(error),
        }
    }

    /// Identity Center's user for `okta_id`: by `externalId`, else (when `user_name` is
    /// given) by `userName` without an `externalId`, to adopt. One with another
    /// `externalId` is someone else's: refused.
    async fn find_user(
        &self,
        request: &mut Request<'_>,
        okta_id: &str,
        user_name: Option<&str>,
    ) -> Result<Option<Found<User>>, GatewayError> {
        let deadline = request.deadline;
        let by_external = eq_filter("externalId", okta_id)?;
        let users = self
            .call(
                request,
                200,
                self.target.list_users(Some(&by_external), deadline),
            )
            .await
            .map_err(|e| from_target(e, ResourceKind::User, None))?;
        if let Some(user) = users.into_iter().next() {
            self.remember_user(&user, Source::Target).await;
            return Ok(Some(Found {
                resource: user,
                source: Source::Target,
                adopt: false,
            }));
        }
        let Some(user_name) = user_name else {
            return Ok(None);
        };
        let by_name = eq_filter("userName", user_name)?;
        let users = self
            .call(
                request,
                200,
                self.target.list_users(Some(&by_name), deadline),
            )
            .await
            .map_err(|e| from_target(e, ResourceKind::User, None))?;
        let Some(user) = users.into_iter().next() else {
            return Ok(None);
        };
        if user.external_id().is_some_and(|e| e != okta_id) {
            request.note_user(&user);
            return Err(GatewayError::Conflict(format!(
                "Identity Center's user `{}` belongs to another identity source (its \
                 externalId is not this Okta user's); the gateway leaves it alone",
                user.user_name
            )));
        }
        self.remember_user(&user, Source::Target).await;
        Ok(Some(Found {
            resource: user,
            source: Source::Target,
            adopt: true,
        }))
    }

    /// Identity Center's group for `okta_id`, like [`ScimService::find_user`].
    async fn find_group(
        &self,
        request: &mut Request<'_>,
        okta_id: &str,
        display_name: Option<&str>,
    ) -> Result<Option<Found<Group>>, GatewayError> {
        let deadline = request.deadline;
        let by_external = eq_filter("externalId", okta_id)?;
        let groups = self
            .call(
                request,
                200,
                self.target.list_groups(Some(&by_external), deadline),
            )
            .await
            .map_err(|e| from_target(e, ResourceKind::Group, None))?;
        if let Some(group) = groups.into_iter().next() {
            self.remember_group(&group, Source::Target).await;
            return Ok(Some(Found {
                resource: group,
                source: Source::Target,
                adopt: false,
            }));
        }
        let Some(display_name) = display_name else {
            return Ok(None);
        };
        let by_name = eq_filter("displayName", display_name)?;
        let groups = self
            .call(
                request,
                200,
                self.target.list_groups(Some(&by_name), deadline),
            )
            .await
            .map_err(|e| from_target(e, ResourceKind::Group, None))?;
        let Some(group) = groups.into_iter().next() else {
            return Ok(None);
        };
        // A group of another identity source, or one Control Tower or Identity Center
        // made for itself (`AWSControlTowerAdmins`), is not the gateway's to adopt.
        if group.external_id().is_some_and(|e| e != okta_id)
            || (group.external_id().is_none() && group.display_name.starts_with("AWS"))
        {
            request.note_group(&group);
            return Err(GatewayError::Conflict(format!(
                "Identity Center's group `{}` belongs to another identity source; the \
                 gateway leaves it alone",
                group.display_name
            )));
        }
        self.remember_group(&group, Source::Target).await;
        Ok(Some(Found {
            resource: group,
            source: Source::Target,
            adopt: true,
        }))
    }
}

fn eq_filter(attribute: &str, value: &str) -> Result<Filter, GatewayError> {
    parse_filter(&format!(
        "{attribute} eq {}",
        Value::String(value.to_owned())
    ))
    .map_err(|e| GatewayError::Unexpected(anyhow::Error::new(e).context("an eq filter")))
}

/// `replace` operations (with paths) for every attribute `desired` sets that `current`
/// holds otherwise: sub-attributes of `name` and of the enterprise extension one by one,
/// everything else whole. Attributes `desired` leaves out are left as they are.
pub(crate) fn differing_attributes(current: &Value, desired: &Value) -> Vec<Value> {
    let (Some(current), Some(desired)) = (current.as_object(), desired.as_object()) else {
        return Vec::new();
    };
    let empty = Map::new();
    let mut operations = Vec::new();
    for (key, want) in desired {
        if matches!(key.as_str(), "schemas" | "id" | "meta") {
            continue;
        }
        let have = current.get(key);
        match want {
            Value::Object(parts) => {
                let have = have.and_then(Value::as_object).unwrap_or(&empty);
                for (part, value) in parts {
                    if have.get(part) != Some(value) {
                        let path = if key.starts_with("urn:") {
                            format!("{key}:{part}")
                        } else {
                            format!("{key}.{part}")
                        };
                        operations.push(json!({"op": "replace", "path": path, "value": value}));
                    }
                }
            }
            Value::Array(_) if key == "emails" => {
                if primary_value(have) != primary_value(Some(want)) {
                    operations.push(json!({"op": "replace", "path": key, "value": want}));
                }
            }
            _ => {
                if have != Some(want) {
                    operations.push(json!({"op": "replace", "path": key, "value": want}));
                }
            }
        }
    }
    operations
}

/// The primary (else the first) value of a multi-valued attribute.
fn primary_value(values: Option<&Value>) -> Option<&Value> {
    let values = values?.as_array()?;
    values
        .iter()
        .find(|v| v.get("primary") == Some(&Value::Bool(true)))
        .or_else(|| values.first())
        .and_then(|v| v.get("value"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn only_attributes_that_differ_are_replaced_one_sub_attribute_at_a_time() {
        let current = json!({"id": "1", "userName": "ana", "active": true,
            "name": {"givenName": "Ana", "familyName": "Lima", "formatted": "Ana Lima"},
            "emails": [{"value": "ana@x.com", "type": "work", "primary": true}],
            "phoneNumbers": [{"value": "1"}]});
        let desired = json!({"userName": "ana", "active": false,
            "name": {"givenName": "Ana", "familyName": "Silva"},
            "emails": [{"value": "ana@x.com", "type": "work", "primary": true}]});
        let ops = differing_attributes(&current, &desired);
        assert_eq!(
            ops,
            [
                json!({"op": "replace", "path": "active", "value": false}),
                json!({"op": "replace", "path": "name.familyName", "value": "Silva"}),
            ]
        );
        assert!(differing_attributes(&current, &current).is_empty());
    }
}
