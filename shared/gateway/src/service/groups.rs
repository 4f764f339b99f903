//! The group use cases. Every membership change goes through a
//! [`GroupPlan`]: Identity Center has no group PUT and no `replace` of members.

use scim_core::{AttrPath, Group, Member, PatchOp, Resource, ResourceId, project};

use super::known::{Reading, Source, with_attributes};
use super::request::{Request, from_target};
use super::users::{names, same_id};
use super::{GatewayError, ResourceKind, ScimReply, ScimService};
use crate::audit::attribute_changes;
use crate::ports::target::GroupChange;
use crate::translate::group::{GroupPlan, group_patch_intent, outbound_group, plan_group_replace};
use crate::translate::response::{group_to_client, location};

const GROUP: ResourceKind = ResourceKind::Group;

/// Identity Center's cap on members in one CreateGroup (`docs/identity-center-dialect.md` §5).
const MAX_MEMBERS_IN_CREATE: usize = 100;

impl ScimService {
    async fn member_ids(
        &self,
        request: &mut Request<'_>,
        id: &str,
    ) -> Result<Vec<String>, GatewayError> {
        // A group or member created moments ago may not show in the listing yet.
        self.settle(request, GROUP, Reading::MembershipOf(id))
            .await?;
        self.settle(request, ResourceKind::User, Reading::Any)
            .await?;
        let deadline = request.deadline;
        self.call(
            request,
            200,
            self.target.list_group_member_ids(id, deadline),
        )
        .await
        .map_err(|e| from_target(e, GROUP, Some(id)))
    }

    pub(super) async fn get_group(
        &self,
        request: &mut Request<'_>,
        id: &ResourceId,
        attributes: &[AttrPath],
        excluded: &[AttrPath],
    ) -> Result<ScimReply, GatewayError> {
        let id = id.as_str();
        let group = self.read_group(request, id).await?;
        // Members only when asked for: listing them costs a request per 100, and Okta
        // reads a group without them.
        let wanted = names(attributes, "members") && !names(excluded, "members");
        let members = if wanted {
            Some(self.member_ids(request, id).await?)
        } else {
            None
        };
        let body = group_to_client(&group, members.as_deref(), &request.ctx.base_url);
        Ok(ScimReply::Ok(project(&body, attributes, excluded)))
    }

    pub(super) async fn create_group(
        &self,
        request: &mut Request<'_>,
        group: Group,
    ) -> Result<ScimReply, GatewayError> {
        let rules = request.rules()?;
        request.note_group(&group);
        let outbound = rules
            .apply_group(group)
            .and_then(outbound_group)
            .map_err(GatewayError::Invalid)?;
        let members = outbound.members.unwrap_or_default();
        let mut group = outbound.group;
        // Up to 100 members go in the create itself, which is atomic; more are added
        // after it, in chunks.
        let inline = members.len() <= MAX_MEMBERS_IN_CREATE;
        if inline && !members.is_empty() {
            group.members = Some(members.iter().map(Member::new).collect());
        }
        request.plan_membership(&members, &[]);
        let created = self
            .write(request, 201, |deadline| {
                self.target.create_group(&group, deadline)
            })
            .await?
            .map_err(|e| from_target(e, GROUP, None))?;
        self.remember_created_group(&created).await;
        if let Some(id) = created.id() {
            self.note_created(GROUP, id, &created.display_name);
        }
        request.note_group(&created);
        request.changes = attribute_changes(None, Some(&group_to_client(&created, None, "")));
        let id = created.id().unwrap_or_default().to_owned();
        if !inline {
            self.write(request, 204, |deadline| {
                self.target.add_group_members(&id, &members, deadline)
            })
            .await?
            .map_err(|e| from_target(e, GROUP, Some(&id)))?;
        }
        request.note_membership(&members, &[]);
        // The group and its members exist: its entitlements can be assigned now.
        if !id.is_empty() {
            self.signal_group_created(&id).await;
        }
        let body = group_to_client(&created, Some(&members), &request.ctx.base_url);
        let location = created
            .id()
            .map(|id| location(&request.ctx.base_url, GROUP, id));
        Ok(ScimReply::Created {
            resource: body,
            location,
        })
    }

    pub(super) async fn replace_group(
        &self,
        request: &mut Request<'_>,
        id: &ResourceId,
        group: Group,
    ) -> Result<ScimReply, GatewayError> {
        let id = id.as_str();
        let rules = request.rules()?;
        same_id(group.id(), id)?;
        let desired = rules
            .apply_group(group)
            .and_then(outbound_group)
            .map_err(GatewayError::Invalid)?;
        let (before, source) = self.known_group(request, id).await?;
        request.note_group(&before);
        let current = match desired.members {
            Some(_) => Some(self.member_ids(request, id).await?),
            None => None,
        };
        let plan = plan_group_replace(&desired, &before, current.as_deref())
            .map_err(GatewayError::Invalid)?;
        self.finish_group_change(request, id, (before, source), current, plan)
            .await
    }

    pub(super) async fn patch_group(
        &self,
        request: &mut Request<'_>,
        id: &ResourceId,
        patch: PatchOp,
    ) -> Result<ScimReply, GatewayError> {
        let id = id.as_str();
        let rules = request.rules()?;
        let patch = rules
            .apply_group_patch(patch)
            .map_err(GatewayError::Invalid)?;
        let intent = group_patch_intent(&patch, id).map_err(GatewayError::Invalid)?;
        let (before, source) = self.known_group(request, id).await?;
        request.note_group(&before);
        let current = if intent.needs_current_members() {
            Some(self.member_ids(request, id).await?)
        } else {
            None
        };
        let plan = intent
            .plan(current.as_deref())
            .map_err(GatewayError::Invalid)?;
        self.finish_group_change(request, id, (before, source), current, plan)
            .await
    }

    /// Carries out a plan in as few requests as Identity Center accepts (one, for a
    /// rename with up to 100 member changes), then answers with the group as it now is:
    /// the before-image with the accepted change, since Identity Center's PatchGroup
    /// answers without a body. Members are in the answer only when they were read for
    /// the plan; Okta reads a group without them.
    async fn finish_group_change(
        &self,
        request: &mut Request<'_>,
        id: &str,
        (before, source): (Group, Source),
        current: Option<Vec<String>>,
        plan: GroupPlan,
    ) -> Result<ScimReply, GatewayError> {
        let mut change = GroupChange {
            attributes: plan
                .attributes
                .as_ref()
                .map(|p| p.operations.clone())
                .unwrap_or_default(),
            remove: plan.remove.clone(),
            add: plan.add.clone(),
        };
        let after = with_attributes(&before, &change.attributes);
        // Okta repeats the group's name with every membership change; sent alone and
        // unchanged it would be a request for nothing. With member changes it rides in
        // the same request for free, and corrects a name changed behind our back.
        let members_change = !change.remove.is_empty() || !change.add.is_empty();
        if !members_change && same_attributes(&before, &after) {
            change.attributes.clear();
        }
        if !change.is_empty() {
            request.plan_changes(attribute_changes(
                Some(&group_to_client(&before, None, "")),
                Some(&group_to_client(&after, None, "")),
            ));
            request.plan_membership(&plan.add, &plan.remove);
            if let Err(error) = self
                .write(request, 204, |deadline| {
                    self.target.modify_group(id, &change, deadline)
                })
                .await?
            {
                return Err(self.write_failed(error, GROUP, Some(id)).await);
            }
        }
        self.remember_group(&after, source).await;
        request.note_group(&after);
        request.changes = attribute_changes(
            Some(&group_to_client(&before, None, "")),
            Some(&group_to_client(&after, None, "")),
        );
        request.note_membership(&plan.add, &plan.remove);
        let members = current.map(|current| plan.members_after(&current));
        let body = group_to_client(&after, members.as_deref(), &request.ctx.base_url);
        Ok(ScimReply::Ok(body))
    }
}

/// Whether two images of a group agree on what a group change can set.
fn same_attributes(a: &Group, b: &Group) -> bool {
    a.display_name == b.display_name && a.external_id == b.external_id
}
