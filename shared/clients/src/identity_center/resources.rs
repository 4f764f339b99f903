//! The resource operations the port is built from, over the request engine: read,
//! create (adopting what a lost earlier create made), list (following every page in the
//! target's paging), modify, delete, and membership changes in chunks.
//!
//! With Identity Center, ids that no Identity Center resource can have are answered
//! here without a request (see `ids`).

use std::time::Instant;

use gateway::TargetError;
use reqwest::Method;
use scim_core::ListPage;
use serde_json::Value;

use super::engine::Failure;
use super::ids;
use super::wire::{self, eq_filter, query_string};
use super::{HttpTargetScimClient, TargetDialect};

/// The resource type a call is about.
#[derive(Debug, Clone, Copy)]
pub(super) enum Kind {
    User,
    Group,
}

impl Kind {
    pub(super) fn path(self) -> &'static str {
        match self {
            Kind::User => "/Users",
            Kind::Group => "/Groups",
        }
    }

    /// The attribute the target keeps unique, which a 409 on create is about.
    fn unique_attr(self) -> &'static str {
        match self {
            Kind::User => "userName",
            Kind::Group => "displayName",
        }
    }
}

impl HttpTargetScimClient {
    /// `NotFound`, without a request, for an id Identity Center cannot have.
    pub(super) fn check_id(&self, id: &str) -> Result<(), TargetError> {
        match self.dialect {
            TargetDialect::IdentityCenter => ids::check_resource_id(id),
            TargetDialect::Rfc7644 => Ok(()),
        }
    }

    pub(super) async fn get_json(
        &self,
        kind: Kind,
        id: &str,
        deadline: Instant,
    ) -> Result<Value, TargetError> {
        self.check_id(id)?;
        let path = format!("{}/{}", kind.path(), wire::encode(id));
        self.send(Method::GET, &path, "", None, deadline)
            .await?
            .json()
    }

    pub(super) async fn create_json(
        &self,
        kind: Kind,
        body: &Value,
        deadline: Instant,
    ) -> Result<Value, TargetError> {
        if let (Kind::Group, TargetDialect::IdentityCenter) = (kind, self.dialect) {
            ids::check_group_body(body)?;
        }
        match self
            .send(Method::POST, kind.path(), "", Some(body), deadline)
            .await
        {
            Ok(answer) => answer.json(),
            Err(Failure {
                error: TargetError::Conflict { detail },
                answer_lost: true,
            }) => {
                tracing::info!(
                    resource_type = kind.path(),
                    "create met a conflict after a lost answer; adopting the existing resource"
                );
                match self.adoptable(kind, body, deadline).await? {
                    Some(existing) => Ok(existing),
                    None => Err(TargetError::Conflict { detail }),
                }
            }
            Err(failure) => Err(failure.error),
        }
    }

    /// The resource a lost earlier create made, which is only ever the one we sent: with
    /// our `externalId` (exactly) *and* our unique name (`userName` or `displayName`,
    /// ignoring case, as RFC 7643 §4.1.1 has `userName` and as Identity Center's
    /// uniqueness is assumed to, `docs/identity-center-dialect.md` §7); without an
    /// `externalId`, with our unique name and no `externalId` either. Identity Center
    /// also keeps a user's email and `externalId` unique (§7), so the 409 may be about
    /// another resource that shares one of them: that one differs in name or
    /// `externalId`, is never adopted, and the create stays a conflict.
    async fn adoptable(
        &self,
        kind: Kind,
        sent: &Value,
        deadline: Instant,
    ) -> Result<Option<Value>, TargetError> {
        let Some(name) = sent.get(kind.unique_attr()).and_then(Value::as_str) else {
            return Ok(None);
        };
        let external_id = sent.get("externalId").and_then(Value::as_str);
        // The narrowest look-up Identity Center answers: externalId when we sent one.
        let filter = match external_id {
            Some(external_id) => eq_filter("externalId", external_id),
            None => eq_filter(kind.unique_attr(), name),
        };
        let found = self.list_json(kind, Some(filter), deadline).await?;
        Ok(found.into_iter().find(|r| {
            attr_eq(r, kind.unique_attr(), name)
                && r.get("externalId").and_then(Value::as_str) == external_id
        }))
    }

    pub(super) async fn list_json(
        &self,
        kind: Kind,
        filter: Option<String>,
        deadline: Instant,
    ) -> Result<Vec<Value>, TargetError> {
        let mut resources = Vec::new();
        if self.dialect == TargetDialect::IdentityCenter {
            // Identity Center pages only when `cursor` is present (empty at first), and
            // a short page does not mean the last one: only a missing nextCursor does.
            let mut cursor = String::new();
            loop {
                let mut pairs = vec![("cursor", cursor)];
                pairs.extend(filter.clone().map(|f| ("filter", f)));
                let page: ListPage<Value> = self
                    .send(
                        Method::GET,
                        kind.path(),
                        &query_string(&pairs),
                        None,
                        deadline,
                    )
                    .await?
                    .json()?;
                resources.extend(page.resources);
                match page.next_cursor {
                    Some(next) if !next.is_empty() => cursor = next,
                    _ => return Ok(resources),
                }
            }
        }
        let mut start_index = 1;
        loop {
            let mut pairs = vec![
                ("startIndex", start_index.to_string()),
                ("count", wire::MAX_PER_REQUEST.to_string()),
            ];
            pairs.extend(filter.clone().map(|f| ("filter", f)));
            let page: ListPage<Value> = self
                .send(
                    Method::GET,
                    kind.path(),
                    &query_string(&pairs),
                    None,
                    deadline,
                )
                .await?
                .json()?;
            let fetched = page.resources.len();
            resources.extend(page.resources);
            if fetched == 0
                || resources.len()
                    >= usize::try_from(page.total_results.unwrap_or(0)).unwrap_or(usize::MAX)
            {
                return Ok(resources);
            }
            start_index += fetched;
        }
    }

    /// PUT or PATCH, then the resource as stored: from the answer, or read back when
    /// the target answers 204 (Identity Center's PatchGroup, scim2-server's PATCH).
    pub(super) async fn modify_json(
        &self,
        method: Method,
        kind: Kind,
        id: &str,
        body: &Value,
        deadline: Instant,
    ) -> Result<Value, TargetError> {
        self.check_id(id)?;
        let path = format!("{}/{}", kind.path(), wire::encode(id));
        let answer = self.send(method, &path, "", Some(body), deadline).await?;
        if answer.is_empty() {
            return self.get_json(kind, id, deadline).await;
        }
        answer.json()
    }

    pub(super) async fn delete(
        &self,
        kind: Kind,
        id: &str,
        deadline: Instant,
    ) -> Result<(), TargetError> {
        self.check_id(id)?;
        let path = format!("{}/{}", kind.path(), wire::encode(id));
        match self.send(Method::DELETE, &path, "", None, deadline).await {
            Ok(_) => Ok(()),
            // The lost attempt deleted it.
            Err(Failure {
                error: TargetError::NotFound,
                answer_lost: true,
            }) => Ok(()),
            Err(failure) => Err(failure.error),
        }
    }

    pub(super) async fn patch_members(
        &self,
        group_id: &str,
        bodies: Vec<Value>,
        deadline: Instant,
    ) -> Result<(), TargetError> {
        self.check_id(group_id)?;
        let bodies = match self.dialect {
            TargetDialect::IdentityCenter => ids::guard_member_bodies(bodies)?,
            TargetDialect::Rfc7644 => bodies,
        };
        let path = format!("/Groups/{}", wire::encode(group_id));
        for body in &bodies {
            self.send(Method::PATCH, &path, "", Some(body), deadline)
                .await?;
        }
        Ok(())
    }
}

fn eq_ignore_case(a: &str, b: &str) -> bool {
    a == b || a.to_lowercase() == b.to_lowercase()
}

fn attr_eq(resource: &Value, attr: &str, expected: &str) -> bool {
    resource
        .get(attr)
        .and_then(Value::as_str)
        .is_some_and(|v| eq_ignore_case(v, expected))
}
