//! The resource operations the port is built from, over the request engine: read,
//! create (adopting what a lost earlier create made), list (following every page in the
//! target's paging), modify, delete, and membership changes in chunks.

use std::time::Instant;

use gateway::TargetError;
use reqwest::Method;
use scim_core::ListPage;
use serde_json::Value;

use super::engine::Failure;
use super::wire::{self, eq_filter, query_string};
use super::{HttpTargetScimClient, TargetDialect};

/// The resource type a call is about.
#[derive(Debug, Clone, Copy)]
pub(super) enum Kind {
    User,
    Group,
}

impl Kind {
    fn path(self) -> &'static str {
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
    pub(super) async fn get_json(
        &self,
        kind: Kind,
        id: &str,
        deadline: Instant,
    ) -> Result<Value, TargetError> {
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

    /// The resource a lost earlier create made: the one with our `externalId`, else the
    /// one with our unique name (compared case-insensitively, as RFC 7643 §4.1.1 has
    /// `userName` case-insensitive) whose `externalId` does not contradict ours. A
    /// resource with someone else's `externalId` is a real conflict, never adopted.
    async fn adoptable(
        &self,
        kind: Kind,
        sent: &Value,
        deadline: Instant,
    ) -> Result<Option<Value>, TargetError> {
        let external_id = sent.get("externalId").and_then(Value::as_str);
        if let Some(external_id) = external_id {
            let found = self
                .list_json(kind, Some(eq_filter("externalId", external_id)), deadline)
                .await?;
            if let Some(existing) = found
                .into_iter()
                .find(|r| attr_eq(r, "externalId", external_id))
            {
                return Ok(Some(existing));
            }
        }
        let Some(name) = sent.get(kind.unique_attr()).and_then(Value::as_str) else {
            return Ok(None);
        };
        let found = self
            .list_json(kind, Some(eq_filter(kind.unique_attr(), name)), deadline)
            .await?;
        Ok(found.into_iter().find(|r| {
            attr_eq(r, kind.unique_attr(), name)
                && match (external_id, r.get("externalId").and_then(Value::as_str)) {
                    (None, _) => true,
                    (Some(ours), Some(theirs)) => eq_ignore_case(ours, theirs),
                    (Some(_), None) => false,
                }
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
