//! The user use cases.

use scim_core::{AttrPath, PatchOp, Resource, ResourceId, User, project};
use serde_json::Value;

use super::known::{Reading, Source};
use super::request::{Request, from_target};
use super::{GatewayError, ResourceKind, ScimReply, ScimService};
use crate::audit::attribute_changes;
use crate::translate::response::{groups_json, location, user_to_client};
use crate::translate::user::outbound_user;
use crate::translate::user_patch::translate_user_patch;

const USER: ResourceKind = ResourceKind::User;

/// Whether a list of attribute paths names the core attribute `name`.
pub(super) fn names(paths: &[AttrPath], name: &str) -> bool {
    paths.iter().any(|p| {
        p.name.eq_ignore_ascii_case(name)
            && p.urn.as_deref().is_none_or(|u| {
                u.eq_ignore_ascii_case(scim_core::USER_SCHEMA)
                    || u.eq_ignore_ascii_case(scim_core::GROUP_SCHEMA)
            })
    })
}

/// The body's `id`, when given, must be the resource's (RFC 7643 §3.1: `id` is readOnly).
pub(super) fn same_id(body_id: Option<&str>, id: &str) -> Result<(), GatewayError> {
    match body_id {
        Some(body_id) if body_id != id => {
            Err(GatewayError::Invalid(scim_core::ScimError::mutability(
                "attribute `id` in the body does not match the resource's id",
            )))
        }
        _ => Ok(()),
    }
}

impl ScimService {
    pub(super) async fn get_user(
        &self,
        request: &mut Request<'_>,
        id: &ResourceId,
        attributes: &[AttrPath],
        excluded: &[AttrPath],
    ) -> Result<ScimReply, GatewayError> {
        let id = id.as_str();
        let user = self.read_user(request, id).await?;
        request.note_user(&user);
        let mut body = user_to_client(&user, &request.ctx.base_url);
        if names(attributes, "groups") && !names(excluded, "groups") {
            self.fill_groups(request, &mut body, id).await?;
        }
        Ok(ScimReply::Ok(project(&body, attributes, excluded)))
    }

    /// Sets a user's `groups` from the target's membership query (the target never
    /// returns them on the user).
    pub(super) async fn fill_groups(
        &self,
        request: &mut Request<'_>,
        body: &mut Value,
        id: &str,
    ) -> Result<(), GatewayError> {
        self.settle(request, USER, Reading::MembershipOf(id))
            .await?;
        let filter = scim_core::parse_filter(&format!(
            "members.value eq {}",
            Value::String(id.to_owned())
        ))
        .map_err(|e| anyhow::Error::new(e).context("membership filter"))?;
        let deadline = request.deadline;
        let groups = self
            .call(
                request,
                200,
                self.target.list_groups(Some(&filter), deadline),
            )
            .await
            .map_err(|e| from_target(e, ResourceKind::Group, None))?;
        if let Some(object) = body.as_object_mut() {
            object.insert(
                "groups".to_owned(),
                groups_json(&groups, &request.ctx.base_url),
            );
        }
        Ok(())
    }

    pub(super) async fn create_user(
        &self,
        request: &mut Request<'_>,
        user: User,
    ) -> Result<ScimReply, GatewayError> {
        let rules = request.rules()?;
        request.note_user(&user);
        let user = rules
            .apply_user(user)
            .and_then(outbound_user)
            .map_err(GatewayError::Invalid)?;
        request.changes = attribute_changes(None, Some(&user.to_value()));
        let created = self
            .write(request, 201, |deadline| {
                self.target.create_user(&user, deadline)
            })
            .await?
            .map_err(|e| from_target(e, USER, None))?;
        self.remember_created_user(&created).await;
        if let Some(id) = created.id() {
            self.note_created(USER, id, &created.user_name);
        }
        request.note_user(&created);
        let body = user_to_client(&created, &request.ctx.base_url);
        let location = created
            .id()
            .map(|id| location(&request.ctx.base_url, USER, id));
        Ok(ScimReply::Created {
            resource: project(&body, &[], &[]),
            location,
        })
    }

    pub(super) async fn replace_user(
        &self,
        request: &mut Request<'_>,
        id: &ResourceId,
        user: User,
    ) -> Result<ScimReply, GatewayError> {
        let id = id.as_str();
        let rules = request.rules()?;
        same_id(user.id(), id)?;
        request.note_user(&user);
        request.note_id(id);
        let user = rules
            .apply_user(user)
            .and_then(outbound_user)
            .map_err(GatewayError::Invalid)?;
        let (before, source) = self.known_user(request, id).await?;
        request.plan_changes(attribute_changes(
            Some(&before.to_value()),
            Some(&user.to_value()),
        ));
        let after = match self
            .write(request, 200, |deadline| {
                self.target.replace_user(id, &user, deadline)
            })
            .await?
        {
            Ok(after) => after,
            Err(error) => return Err(self.write_failed(error, USER, Some(id)).await),
        };
        self.remember_user(&after, source).await;
        request.note_user(&after);
        request.changes = attribute_changes(Some(&before.to_value()), Some(&after.to_value()));
        Ok(ScimReply::Ok(project(
            &user_to_client(&after, &request.ctx.base_url),
            &[],
            &[],
        )))
    }

    pub(super) async fn patch_user(
        &self,
        request: &mut Request<'_>,
        id: &ResourceId,
        patch: PatchOp,
    ) -> Result<ScimReply, GatewayError> {
        let id = id.as_str();
        let rules = request.rules()?;
        let patch = rules
            .apply_user_patch(patch)
            .map_err(GatewayError::Invalid)?;
        let translated = translate_user_patch(&patch, id).map_err(GatewayError::Invalid)?;
        let (before, source) = self.known_user(request, id).await?;
        request.note_user(&before);
        let after = match translated {
            // Nothing Identity Center keeps was asked for (Okta's password sync): the
            // user is unchanged, and RFC 7644 §3.5.2 still wants it back, as Identity
            // Center holds it.
            None if source == Source::Target => before.clone(),
            None => self.read_user(request, id).await?,
            Some(patch) => {
                match self
                    .write(request, 200, |deadline| {
                        self.target.patch_user(id, &patch, deadline)
                    })
                    .await?
                {
                    Ok(after) => after,
                    Err(error) => return Err(self.write_failed(error, USER, Some(id)).await),
                }
            }
        };
        self.remember_user(&after, source).await;
        request.note_user(&after);
        request.changes = attribute_changes(Some(&before.to_value()), Some(&after.to_value()));
        Ok(ScimReply::Ok(project(
            &user_to_client(&after, &request.ctx.base_url),
            &[],
            &[],
        )))
    }

    pub(super) async fn delete_inner(
        &self,
        request: &mut Request<'_>,
        kind: ResourceKind,
        id: &ResourceId,
    ) -> Result<ScimReply, GatewayError> {
        let id = id.as_str();
        // The record names what was deleted: from the mirror, else read first.
        match kind {
            ResourceKind::User => {
                let (before, _) = self.known_user(request, id).await?;
                request.note_user(&before);
                request.changes = attribute_changes(Some(&before.to_value()), None);
                if let Err(error) = self
                    .write(request, 204, |deadline| {
                        self.target.delete_user(id, deadline)
                    })
                    .await?
                {
                    return Err(self.write_failed(error, kind, Some(id)).await);
                }
            }
            ResourceKind::Group => {
                let (before, _) = self.known_group(request, id).await?;
                request.note_group(&before);
                if let Err(error) = self
                    .write(request, 204, |deadline| {
                        self.target.delete_group(id, deadline)
                    })
                    .await?
                {
                    return Err(self.write_failed(error, kind, Some(id)).await);
                }
            }
        }
        self.forget(kind, id).await;
        Ok(ScimReply::NoContent)
    }
}
