//! The gateway's target port ([`TargetScimClient`]) implemented by
//! [`HttpTargetScimClient`]: typed users and groups in, JSON resources out, and the
//! dialect's choices for membership removal and member listing.

use async_trait::async_trait;
use gateway::ports::target::{GroupChange, TargetPage};
use gateway::{Deadline, TargetError, TargetScimClient};
use reqwest::Method;
use scim_core::{Filter, Group, PatchOp, User};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::resources::Kind;
use super::wire::{self, eq_filter};
use super::{HttpTargetScimClient, TargetDialect};

fn encode<T: Serialize>(resource: &T) -> Result<Value, TargetError> {
    serde_json::to_value(resource).map_err(|e| TargetError::Transport(Box::new(e)))
}

fn decode<T: DeserializeOwned>(value: Value) -> Result<T, TargetError> {
    serde_json::from_value(value).map_err(|e| TargetError::Transport(Box::new(e)))
}

impl HttpTargetScimClient {
    /// One page of a listing (see `paging`), its resources decoded.
    async fn typed_page<T: DeserializeOwned>(
        &self,
        kind: Kind,
        filter: Option<&Filter>,
        start_index: u64,
        count: u64,
        deadline: Deadline,
    ) -> Result<TargetPage<T>, TargetError> {
        let (resources, total_results) = self
            .page_json(
                kind,
                filter.map(ToString::to_string),
                start_index,
                count,
                self.resolve(deadline),
            )
            .await?;
        Ok(TargetPage {
            resources: resources
                .into_iter()
                .map(decode)
                .collect::<Result<_, _>>()?,
            total_results,
        })
    }
}

#[async_trait]
impl TargetScimClient for HttpTargetScimClient {
    async fn create_user(&self, user: &User, deadline: Deadline) -> Result<User, TargetError> {
        decode(
            self.create_json(Kind::User, &encode(user)?, self.resolve(deadline))
                .await?,
        )
    }

    async fn get_user(&self, id: &str, deadline: Deadline) -> Result<User, TargetError> {
        decode(
            self.get_json(Kind::User, id, self.resolve(deadline))
                .await?,
        )
    }

    async fn list_users(
        &self,
        filter: Option<&Filter>,
        deadline: Deadline,
    ) -> Result<Vec<User>, TargetError> {
        let found = self
            .list_json(
                Kind::User,
                filter.map(ToString::to_string),
                self.resolve(deadline),
            )
            .await?;
        found.into_iter().map(decode).collect()
    }

    async fn replace_user(
        &self,
        id: &str,
        user: &User,
        deadline: Deadline,
    ) -> Result<User, TargetError> {
        decode(
            self.modify_json(
                Method::PUT,
                Kind::User,
                id,
                &encode(user)?,
                self.resolve(deadline),
            )
            .await?,
        )
    }

    async fn patch_user(
        &self,
        id: &str,
        patch: &PatchOp,
        deadline: Deadline,
    ) -> Result<User, TargetError> {
        decode(
            self.modify_json(
                Method::PATCH,
                Kind::User,
                id,
                &encode(patch)?,
                self.resolve(deadline),
            )
            .await?,
        )
    }

    async fn delete_user(&self, id: &str, deadline: Deadline) -> Result<(), TargetError> {
        self.delete(Kind::User, id, self.resolve(deadline)).await
    }

    async fn create_group(&self, group: &Group, deadline: Deadline) -> Result<Group, TargetError> {
        decode(
            self.create_json(Kind::Group, &encode(group)?, self.resolve(deadline))
                .await?,
        )
    }

    async fn get_group(&self, id: &str, deadline: Deadline) -> Result<Group, TargetError> {
        decode(
            self.get_json(Kind::Group, id, self.resolve(deadline))
                .await?,
        )
    }

    async fn list_groups(
        &self,
        filter: Option<&Filter>,
        deadline: Deadline,
    ) -> Result<Vec<Group>, TargetError> {
        let found = self
            .list_json(
                Kind::Group,
                filter.map(ToString::to_string),
                self.resolve(deadline),
            )
            .await?;
        found.into_iter().map(decode).collect()
    }

    async fn patch_group(
        &self,
        id: &str,
        patch: &PatchOp,
        deadline: Deadline,
    ) -> Result<Group, TargetError> {
        decode(
            self.modify_json(
                Method::PATCH,
                Kind::Group,
                id,
                &encode(patch)?,
                self.resolve(deadline),
            )
            .await?,
        )
    }

    async fn delete_group(&self, id: &str, deadline: Deadline) -> Result<(), TargetError> {
        self.delete(Kind::Group, id, self.resolve(deadline)).await
    }

    async fn add_group_members(
        &self,
        group_id: &str,
        user_ids: &[String],
        deadline: Deadline,
    ) -> Result<(), TargetError> {
        self.patch_members(
            group_id,
            wire::add_member_bodies(user_ids),
            self.resolve(deadline),
        )
        .await
    }

    async fn remove_group_members(
        &self,
        group_id: &str,
        user_ids: &[String],
        deadline: Deadline,
    ) -> Result<(), TargetError> {
        let bodies = match self.dialect {
            TargetDialect::IdentityCenter => wire::remove_member_bodies_as_value_list(user_ids),
            TargetDialect::Rfc7644 => wire::remove_member_bodies_as_value_paths(user_ids),
        };
        self.patch_members(group_id, bodies, self.resolve(deadline))
            .await
    }

    async fn list_users_page(
        &self,
        filter: Option<&Filter>,
        start_index: u64,
        count: u64,
        deadline: Deadline,
    ) -> Result<TargetPage<User>, TargetError> {
        self.typed_page(Kind::User, filter, start_index, count, deadline)
            .await
    }

    async fn list_groups_page(
        &self,
        filter: Option<&Filter>,
        start_index: u64,
        count: u64,
        deadline: Deadline,
    ) -> Result<TargetPage<Group>, TargetError> {
        self.typed_page(Kind::Group, filter, start_index, count, deadline)
            .await
    }

    async fn modify_group(
        &self,
        id: &str,
        change: &GroupChange,
        deadline: Deadline,
    ) -> Result<(), TargetError> {
        let attributes = change
            .attributes
            .iter()
            .map(encode)
            .collect::<Result<Vec<_>, _>>()?;
        let bodies = wire::group_change_bodies(
            self.dialect == TargetDialect::IdentityCenter,
            attributes,
            &change.remove,
            &change.add,
        );
        self.patch_members(id, bodies, self.resolve(deadline)).await
    }

    async fn list_group_member_ids(
        &self,
        group_id: &str,
        deadline: Deadline,
    ) -> Result<Vec<String>, TargetError> {
        self.check_id(group_id)?;
        let deadline = self.resolve(deadline);
        let members: Vec<Value> = match self.dialect {
            // Identity Center never returns `members`
            // (`docs/identity-center-dialect.md` §2).
            TargetDialect::IdentityCenter => self
                .list_json(
                    Kind::User,
                    Some(eq_filter("groups.value", group_id)),
                    deadline,
                )
                .await?
                .into_iter()
                .map(|user| user.get("id").cloned().unwrap_or(Value::Null))
                .collect(),
            TargetDialect::Rfc7644 => {
                let group = self.get_json(Kind::Group, group_id, deadline).await?;
                group
                    .get("members")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .map(|member| member.get("value").cloned().unwrap_or(Value::Null))
                    .collect()
            }
        };
        Ok(members
            .into_iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect())
    }
}
