//! The SCIM use cases the Okta-facing API calls ([`ScimService`]): list, get, create,
//! replace, patch and delete of users and groups, each translated into Identity
//! Center's dialect ([`crate::translate`]), run under one request budget, and audited.
//!
//! Every request gets exactly one outcome record, reads included, so that an auditor
//! can also see who read what: success, refusal (input the gateway would not forward;
//! nothing reached the target) and failure alike. A request that changes Identity
//! Center fails closed: before its first write it appends one *intent* record (what it
//! is about to change, `outcome: intent`), and when that append fails nothing reaches
//! Identity Center and the request fails with [`GatewayError::AuditUnavailable`] (503,
//! `Retry-After`). An outcome the store cannot take after the change is kept by the
//! audit log and written when the store answers again
//! ([`crate::audit::AuditLog::append_or_keep`]); kept or lost, it is logged with the
//! record's ids only (never its names or values), counted
//! ([`ScimService::take_audit_append_failures`], the `AuditAppendFailed` metric), and
//! does not change the answer, because the target has already changed; a read's is
//! treated the same way.
//!
//! Costs, in HTTP requests to Identity Center (every page and retry counted, as each
//! audit record's `target_calls` says). What the gateway already knows of a resource
//! comes from the mirror ([`crate::ports::mirror`]), so in steady state:
//! - create, PUT, PATCH, delete of a user or group: 1 (a group created with more than
//!   100 members, or a member change of more than 100: one more per 100); without a
//!   mirror entry, one read first;
//! - Okta's membership change (its unchanged rename plus members): 1, the rename riding
//!   in the same PatchGroup; the answer carries the group without members;
//! - a `replace` of members, or a group PUT with members: the member listing (one per
//!   100) plus the difference (one per 100 changes);
//! - get user or group: 1; a group's members only when `attributes` asks (one per 100);
//! - list with `startIndex`/`count` and nothing to evaluate here: 1 per page (the
//!   client keeps Identity Center's cursors between pages); a filter or sort the
//!   gateway evaluates itself: the listing it narrows to (one per 100);
//! - within a second of this process creating a resource, a read or listing that could
//!   include it first makes sure Identity Center shows it (one read, retried).

pub mod converge;
mod error;
mod groups;
mod known;
mod list;
mod request;
mod snapshot;
mod users;

use std::sync::Arc;
use std::time::Duration;

use scim_core::{AttrPath, Group, ListQuery, PatchOp, Resource, ResourceId, ScimError, User};
use serde_json::Value;

use crate::audit::{AuditLog, AuditOperation, AuditSource};
use crate::mirror::{InMemoryMirror, Mirror};
use crate::ports::target::counting_requests;
use crate::rules::RuleSource;
use crate::{Clock, TargetScimClient};

pub use crate::translate::ResourceKind;
pub use error::{AUDIT_RETRY_AFTER, GatewayError, cause_chain};

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
    /// What asked for the operation, as the audit record names it (for a SCIM call the
    /// method and the route template that matched, set by the edge).
    pub source: AuditSource,
    /// The caller's address as API Gateway saw it (the TCP peer locally); `None` for
    /// work that no request carried (an event, a reconcile run).
    pub source_ip: Option<String>,
    /// API Gateway's id of the request (`requestContext.requestId`), which its access
    /// logs and CloudTrail name; `None` outside API Gateway.
    pub request_id: Option<String>,
}

/// The authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// Which inbound credential authenticated the call, e.g. `scim-token-1` or
    /// `scim-token-2`; never the credential itself.
    pub credential: String,
}

/// A resource as a client sent it for a create or a replace, parsed.
#[derive(Debug, Clone, PartialEq)]
pub enum NewResource {
    /// A user (boxed, as is a group: both are large, and commands move).
    User(Box<User>),
    /// A group.
    Group(Box<Group>),
}

impl NewResource {
    /// Parses `body` as a resource of `kind` (scim-core's parser, `schemas` included).
    pub fn parse(kind: ResourceKind, body: Value) -> Result<Self, ScimError> {
        match kind {
            ResourceKind::User => User::from_value(body).map(|u| NewResource::User(Box::new(u))),
            ResourceKind::Group => Group::from_value(body).map(|g| NewResource::Group(Box::new(g))),
        }
    }

    /// Which kind of resource it is.
    pub fn kind(&self) -> ResourceKind {
        match self {
            NewResource::User(_) => ResourceKind::User,
            NewResource::Group(_) => ResourceKind::Group,
        }
    }

    fn to_value(&self) -> Value {
        match self {
            NewResource::User(user) => user.to_value(),
            NewResource::Group(group) => group.to_value(),
        }
    }
}

/// What a refused request carried, as far as the edge read it: the audit record notes
/// the id and never keeps a secret that the body held.
#[derive(Debug, Clone, Copy, Default)]
pub struct RefusedInput<'a> {
    /// The id from the path, as sent (it may be anything).
    pub id: Option<&'a str>,
    /// The body, when it was JSON.
    pub body: Option<&'a Value>,
}

/// A successful answer, for the edge to write as `application/scim+json`.
#[derive(Debug, Clone, PartialEq)]
pub enum ScimReply {
    /// The resource or the list response (RFC 7644 §3.4, §3.5).
    Ok(Value),
    /// A created resource and its URL for the `Location` header (RFC 7644 §3.3).
    Created {
        /// The resource.
        resource: Value,
        /// Its URL, when the target gave it an id.
        location: Option<String>,
    },
    /// Done, nothing to show (RFC 7644 §3.6: a delete).
    NoContent,
}

impl ScimReply {
    /// The body, if the reply has one.
    pub fn body(&self) -> Option<&Value> {
        match self {
            ScimReply::Ok(body) | ScimReply::Created { resource: body, .. } => Some(body),
            ScimReply::NoContent => None,
        }
    }

    /// The status RFC 7644 gives this reply, which the audit record names.
    pub fn status(&self) -> u16 {
        match self {
            ScimReply::Ok(_) => 200,
            ScimReply::Created { .. } => 201,
            ScimReply::NoContent => 204,
        }
    }
}

/// The SCIM use cases, built once per cold start and shared by every request.
pub struct ScimService {
    target: Arc<dyn TargetScimClient>,
    mirror: Arc<dyn Mirror>,
    recent: std::sync::Mutex<known::Recent>,
    rules: Arc<dyn RuleSource>,
    audit: Arc<dyn AuditLog>,
    /// Audit appends that failed since the count was last taken, for the metric.
    audit_failures: std::sync::atomic::AtomicU64,
    clock: Arc<dyn Clock>,
    budget: Duration,
    /// Told of each group created (the entitlements function's queue), if anyone is.
    group_signal: Option<Arc<dyn crate::ports::group_signal::GroupSignal>>,
    /// Group signals that could not be sent since the count was last taken.
    signal_failures: std::sync::atomic::AtomicU64,
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
            mirror: Arc::new(InMemoryMirror::new()),
            recent: std::sync::Mutex::default(),
            rules,
            audit,
            audit_failures: std::sync::atomic::AtomicU64::new(0),
            clock,
            budget,
            group_signal: None,
            signal_failures: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Signals each group this service creates to `signal` (after the group exists;
    /// a signal that fails is logged and counted, and the creation stands:
    /// [`crate::ports::group_signal`]).
    #[must_use]
    pub fn with_group_signal(
        mut self,
        signal: Arc<dyn crate::ports::group_signal::GroupSignal>,
    ) -> Self {
        self.group_signal = Some(signal);
        self
    }

    /// How many group signals could not be sent since the last call, which resets the
    /// count.
    pub fn take_group_signal_failures(&self) -> u64 {
        self.signal_failures
            .swap(0, std::sync::atomic::Ordering::Relaxed)
    }

    /// Tells the group signal, if any, that `group_id` was created; never fails.
    pub(crate) async fn signal_group_created(&self, group_id: &str) {
        let Some(signal) = &self.group_signal else {
            return;
        };
        if let Err(error) = signal.group_created(group_id).await {
            self.signal_failures
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            tracing::warn!(
                group = group_id,
                error = error.as_str(),
                "the group-created signal could not be sent; the entitlements function's next \
                 scheduled run assigns the group"
            );
        }
    }

    /// How many audit appends failed (intent and outcome records alike) since the last
    /// call, which resets the count: what the functions publish as `AuditAppendFailed`
    /// after each request, event batch or run.
    pub fn take_audit_append_failures(&self) -> u64 {
        self.audit_failures
            .swap(0, std::sync::atomic::Ordering::Relaxed)
    }

    /// Keeps what the gateway knows of Identity Center in `mirror` (the state table in
    /// AWS) instead of in this process.
    #[must_use]
    pub fn with_mirror(mut self, mirror: Arc<dyn Mirror>) -> Self {
        self.mirror = mirror;
        self
    }

    /// The rule set in force, for what depends on it outside a request (the schemas a
    /// client reads); `None` when it cannot be read.
    pub async fn active_rules(&self) -> Option<Arc<crate::rules::ActiveRuleSet>> {
        self.rules.active().await.ok()
    }

    /// `GET /Users` or `GET /Groups` (RFC 7644 §3.4.2): filter, sort, page and project
    /// over the complete listing. Answers 200 with a ListResponse.
    pub async fn list(
        &self,
        kind: ResourceKind,
        query: ListQuery,
        ctx: &RequestContext,
    ) -> Result<ScimReply, GatewayError> {
        let mut request = self.begin(kind, AuditOperation::List, ctx, None).await;
        let counter = request.counter();
        let result = counting_requests(counter, async {
            self.list_inner(&mut request, query).await
        })
        .await;
        self.end(request, &result).await;
        result
    }

    /// `GET /Users/{id}` or `GET /Groups/{id}`, projected by `attributes` and
    /// `excluded` (RFC 7644 §3.4.2.5). 200 with the resource; a group comes with its
    /// members only when `attributes` names them (listing them costs a call per 100,
    /// and Okta does not need them).
    pub async fn get(
        &self,
        kind: ResourceKind,
        id: &ResourceId,
        attributes: &[AttrPath],
        excluded: &[AttrPath],
        ctx: &RequestContext,
    ) -> Result<ScimReply, GatewayError> {
        let mut request = self.begin(kind, AuditOperation::Get, ctx, None).await;
        request.note_id(id.as_str());
        let counter = request.counter();
        let result = counting_requests(counter, async {
            match kind {
                ResourceKind::User => self.get_user(&mut request, id, attributes, excluded).await,
                ResourceKind::Group => self.get_group(&mut request, id, attributes, excluded).await,
            }
        })
        .await;
        let result = result.map(|reply| request.okta_reply(reply));
        self.end(request, &result).await;
        result
    }

    /// `POST /Users` or `POST /Groups`: 201 with the resource and `Location`. A taken
    /// `userName`/`displayName` is 409 `uniqueness`.
    pub async fn create(
        &self,
        resource: NewResource,
        ctx: &RequestContext,
    ) -> Result<ScimReply, GatewayError> {
        let mut request = self
            .begin(
                resource.kind(),
                AuditOperation::Create,
                ctx,
                Some(&resource.to_value()),
            )
            .await;
        let counter = request.counter();
        let result = counting_requests(counter, async {
            match resource {
                NewResource::User(user) => self.create_user(&mut request, *user).await,
                NewResource::Group(group) => self.create_group(&mut request, *group).await,
            }
        })
        .await;
        let result = result.map(|reply| request.okta_reply(reply));
        self.end(request, &result).await;
        result
    }

    /// `PUT /Users/{id}` or `PUT /Groups/{id}` (RFC 7644 §3.5.1): 200 with the resource.
    /// A group PUT is carried out as a rename plus member additions and removals.
    pub async fn replace(
        &self,
        id: &ResourceId,
        resource: NewResource,
        ctx: &RequestContext,
    ) -> Result<ScimReply, GatewayError> {
        let mut request = self
            .begin(
                resource.kind(),
                AuditOperation::Replace,
                ctx,
                Some(&resource.to_value()),
            )
            .await;
        request.note_id(id.as_str());
        let counter = request.counter();
        let result = counting_requests(counter, async {
            match resource {
                NewResource::User(user) => self.replace_user(&mut request, id, *user).await,
                NewResource::Group(group) => self.replace_group(&mut request, id, *group).await,
            }
        })
        .await;
        let result = result.map(|reply| request.okta_reply(reply));
        self.end(request, &result).await;
        result
    }

    /// `PATCH /Users/{id}` or `PATCH /Groups/{id}` (RFC 7644 §3.5.2): 200 with the whole
    /// resource, also where the target answers 204.
    pub async fn patch(
        &self,
        kind: ResourceKind,
        id: &ResourceId,
        patch: PatchOp,
        ctx: &RequestContext,
    ) -> Result<ScimReply, GatewayError> {
        let mut request = self
            .begin(
                kind,
                AuditOperation::Patch,
                ctx,
                Some(&serde_json::to_value(&patch).unwrap_or_default()),
            )
            .await;
        request.note_id(id.as_str());
        let counter = request.counter();
        let result = counting_requests(counter, async {
            match kind {
                ResourceKind::User => self.patch_user(&mut request, id, patch).await,
                ResourceKind::Group => self.patch_group(&mut request, id, patch).await,
            }
        })
        .await;
        let result = result.map(|reply| request.okta_reply(reply));
        self.end(request, &result).await;
        result
    }

    /// Records a request the edge refused before any use case ran (a malformed body,
    /// query or id from an authenticated caller), so that refused operations get their
    /// one audit record too. Nothing reaches the target. Always answers the error.
    pub async fn refuse(
        &self,
        kind: ResourceKind,
        operation: AuditOperation,
        error: ScimError,
        input: RefusedInput<'_>,
        ctx: &RequestContext,
    ) -> Result<ScimReply, GatewayError> {
        let mut request = self.begin(kind, operation, ctx, input.body).await;
        if let Some(id) = input.id {
            request.note_id(id);
        }
        let result = Err(GatewayError::Invalid(error));
        self.end(request, &result).await;
        result
    }

    /// `DELETE /Users/{id}` or `DELETE /Groups/{id}`: 204.
    pub async fn delete(
        &self,
        kind: ResourceKind,
        id: &ResourceId,
        ctx: &RequestContext,
    ) -> Result<ScimReply, GatewayError> {
        let mut request = self.begin(kind, AuditOperation::Delete, ctx, None).await;
        request.note_id(id.as_str());
        let counter = request.counter();
        let result = counting_requests(counter, async {
            self.delete_inner(&mut request, kind, id).await
        })
        .await;
        self.end(request, &result).await;
        result
    }
}

#[cfg(test)]
mod tests;
