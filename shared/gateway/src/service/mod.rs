//! The SCIM use cases the Okta-facing API calls ([`ScimService`]): list, get, create,
//! replace, patch and delete of users and groups, each translated into Identity
//! Center's dialect ([`crate::translate`]), run under one request budget, and audited.
//!
//! Every request gets exactly one audit record, reads included (issue 4: "one record
//! per request"): success, refusal (input the gateway would not forward; nothing reached
//! the target) and failure alike. A failed audit write is logged at error level with
//! the whole record and does not change the answer, because the target has already
//! changed (style.md §5).
//!
//! Costs worth knowing, in target calls:
//! - create: 1 (a group with more than 100 members: 1 + one per 100);
//! - get user: 1; get group: 1 + the member listing (one per 100 members);
//! - replace/patch user: 2 (a read first, for the audit's before-image and a clean 404);
//! - patch group: 2 + membership calls + a member listing (skipped when a `replace` of
//!   members already read them); replace group likewise;
//! - delete: 2 (a read first, for the audit record);
//! - list: the whole listing (one per 100) unless a filter narrows it, plus, only when
//!   `attributes` names `members` (groups) or `groups` (users), one membership query
//!   per resource on the page: Identity Center never returns them, so filling them in
//!   on every listing would multiply the cost of Okta's imports.

mod error;
mod groups;
mod list;
mod request;
mod users;

use std::sync::Arc;
use std::time::Duration;

use scim_core::ListQuery;
use serde_json::Value;

use crate::audit::{AuditLog, AuditOperation};
use crate::rules::RuleSource;
use crate::{Clock, TargetScimClient};

pub use crate::translate::ResourceKind;
pub use error::GatewayError;

/// Who is calling and where: what the edge knows about a request that the use cases
/// need for responses and audit records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestContext {
    /// The authenticated caller.
    pub actor: Actor,
    /// The request's correlation id (e.g. API Gateway's request id).
    pub correlation_id: String,
    /// The gateway's SCIM base URL as the client sees it, e.g.
    /// `https://host/scim/v2`: `meta.location` and `Location` are built on it.
    pub base_url: String,
    /// The client's `User-Agent`.
    pub user_agent: Option<String>,
}

/// The authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// Which inbound credential authenticated the call, e.g. `scim-token:primary` or
    /// `scim-token:secondary`; never the credential itself.
    pub credential: String,
}

/// A successful answer, for the edge to write as `application/scim+json`.
#[derive(Debug, Clone, PartialEq)]
pub struct ScimReply {
    /// The HTTP status: 200, 201 or 204.
    pub status: u16,
    /// The body; `None` for 204.
    pub body: Option<Value>,
    /// The `Location` header, set on 201 (RFC 7644 §3.3).
    pub location: Option<String>,
}

impl ScimReply {
    fn ok(body: Value) -> Self {
        Self {
            status: 200,
            body: Some(body),
            location: None,
        }
    }
}

/// The SCIM use cases, built once per cold start and shared by every request.
pub struct ScimService {
    target: Arc<dyn TargetScimClient>,
    rules: Arc<dyn RuleSource>,
    audit: Arc<dyn AuditLog>,
    clock: Arc<dyn Clock>,
    budget: Duration,
}

impl std::fmt::Debug for ScimService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScimService")
            .field("budget", &self.budget)
            .finish_non_exhaustive()
    }
}

impl ScimService {
    /// The service over its ports. `budget` is the time one request may spend on target
    /// calls, all retries included: every call of a request shares one [`crate::Deadline`].
    pub fn new(
        target: Arc<dyn TargetScimClient>,
        rules: Arc<dyn RuleSource>,
        audit: Arc<dyn AuditLog>,
        clock: Arc<dyn Clock>,
        budget: Duration,
    ) -> Self {
        Self {
            target,
            rules,
            audit,
            clock,
            budget,
        }
    }

    /// `GET /Users` or `GET /Groups` (RFC 7644 §3.4.2): filter, sort, page and project
    /// over the complete listing. Answers 200 with a ListResponse.
    pub async fn list(
        &self,
        kind: ResourceKind,
        query: ListQuery,
        ctx: &RequestContext,
    ) -> Result<ScimReply, GatewayError> {
        let mut request = self
            .begin(kind, AuditOperation::List, "GET", false, ctx, &Value::Null)
            .await;
        let result = self.list_inner(&mut request, query).await;
        self.finish(request, &result).await;
        result
    }

    /// `GET /Users/{id}` or `GET /Groups/{id}`, with optional `attributes` and
    /// `excludedAttributes` (comma-separated, RFC 7644 §3.4.2.5). 200 with the resource;
    /// a group comes with its members unless they are excluded.
    pub async fn get(
        &self,
        kind: ResourceKind,
        id: &str,
        attributes: Option<&str>,
        excluded_attributes: Option<&str>,
        ctx: &RequestContext,
    ) -> Result<ScimReply, GatewayError> {
        let mut request = self
            .begin(kind, AuditOperation::Get, "GET", true, ctx, &Value::Null)
            .await;
        let result = match kind {
            ResourceKind::User => {
                self.get_user(&mut request, id, attributes, excluded_attributes)
                    .await
            }
            ResourceKind::Group => {
                self.get_group(&mut request, id, attributes, excluded_attributes)
                    .await
            }
        };
        self.finish(request, &result).await;
        result
    }

    /// `POST /Users` or `POST /Groups`: 201 with the resource and `Location`. A taken
    /// `userName`/`displayName` is 409 `uniqueness`.
    pub async fn create(
        &self,
        kind: ResourceKind,
        body: Value,
        ctx: &RequestContext,
    ) -> Result<ScimReply, GatewayError> {
        let mut request = self
            .begin(kind, AuditOperation::Create, "POST", false, ctx, &body)
            .await;
        let result = match kind {
            ResourceKind::User => self.create_user(&mut request, body).await,
            ResourceKind::Group => self.create_group(&mut request, body).await,
        };
        self.finish(request, &result).await;
        result
    }

    /// `PUT /Users/{id}` or `PUT /Groups/{id}` (RFC 7644 §3.5.1): 200 with the resource.
    /// A group PUT is carried out as a rename plus member additions and removals.
    pub async fn replace(
        &self,
        kind: ResourceKind,
        id: &str,
        body: Value,
        ctx: &RequestContext,
    ) -> Result<ScimReply, GatewayError> {
        let mut request = self
            .begin(kind, AuditOperation::Replace, "PUT", true, ctx, &body)
            .await;
        let result = match kind {
            ResourceKind::User => self.replace_user(&mut request, id, body).await,
            ResourceKind::Group => self.replace_group(&mut request, id, body).await,
        };
        self.finish(request, &result).await;
        result
    }

    /// `PATCH /Users/{id}` or `PATCH /Groups/{id}` (RFC 7644 §3.5.2): 200 with the whole
    /// resource, also where the target answers 204.
    pub async fn patch(
        &self,
        kind: ResourceKind,
        id: &str,
        body: Value,
        ctx: &RequestContext,
    ) -> Result<ScimReply, GatewayError> {
        let mut request = self
            .begin(kind, AuditOperation::Patch, "PATCH", true, ctx, &body)
            .await;
        let result = match kind {
            ResourceKind::User => self.patch_user(&mut request, id, body).await,
            ResourceKind::Group => self.patch_group(&mut request, id, body).await,
        };
        self.finish(request, &result).await;
        result
    }

    /// Records a request the edge refused before any use case ran (a malformed body,
    /// query or id from an authenticated caller), so that refused operations get their
    /// one audit record too. Nothing reaches the target. Always answers the error.
    pub async fn refuse(
        &self,
        kind: ResourceKind,
        operation: AuditOperation,
        error: scim_core::ScimError,
        ctx: &RequestContext,
    ) -> Result<ScimReply, GatewayError> {
        let (method, with_id) = match operation {
            AuditOperation::Create => ("POST", false),
            AuditOperation::List => ("GET", false),
            AuditOperation::Get => ("GET", true),
            AuditOperation::Replace => ("PUT", true),
            AuditOperation::Patch => ("PATCH", true),
            AuditOperation::Delete => ("DELETE", true),
        };
        let request = self
            .begin(kind, operation, method, with_id, ctx, &Value::Null)
            .await;
        let result = Err(GatewayError::Invalid(error));
        self.finish(request, &result).await;
        result
    }

    /// `DELETE /Users/{id}` or `DELETE /Groups/{id}`: 204.
    pub async fn delete(
        &self,
        kind: ResourceKind,
        id: &str,
        ctx: &RequestContext,
    ) -> Result<ScimReply, GatewayError> {
        let mut request = self
            .begin(
                kind,
                AuditOperation::Delete,
                "DELETE",
                true,
                ctx,
                &Value::Null,
            )
            .await;
        let result = self.delete_inner(&mut request, kind, id).await;
        self.finish(request, &result).await;
        result
    }
}

#[cfg(test)]
mod tests;
