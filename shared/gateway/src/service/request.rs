//! One request's state inside the service: its deadline, its rule set and the audit
//! records it is building, plus the helpers that begin and finish every use case and
//! the one gate every change to the target passes ([`ScimService::write`]): the
//! request's intent record is durable before its first write is sent, or nothing is.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;

use scim_core::{Group, Resource, User};
use serde_json::Value;
use time::OffsetDateTime;

use super::{GatewayError, RequestContext, ResourceKind, ScimReply, ScimService};
use crate::audit::{
    Appended, AttributeChange, AuditActor, AuditError, AuditOperation, AuditRecord, AuditSubject,
    INTENT_STATUS, ListSummary, MembershipChange, Outcome, secrets_in,
};
use crate::rules::ActiveRuleSet;
use crate::{Deadline, TargetError};

/// The longest free text (user agent, ids) an audit record keeps from a request.
const MAX_AUDIT_TEXT: usize = 256;

/// What the rule set is called in a record when it could not be read.
const RULES_UNAVAILABLE: &str = "unavailable";

pub(super) struct Request<'a> {
    pub(super) ctx: &'a RequestContext,
    pub(super) kind: ResourceKind,
    pub(super) deadline: Deadline,
    pub(super) subject: AuditSubject,
    pub(super) membership: Option<MembershipChange>,
    pub(super) changes: Vec<AttributeChange>,
    pub(super) query: Option<ListSummary>,
    rules: Option<Arc<ActiveRuleSet>>,
    started: Instant,
    time: OffsetDateTime,
    operation: AuditOperation,
    target_status: Option<u16>,
    /// HTTP requests sent to the target on this request's behalf, pages and retries
    /// included (counted by the target adapter through `ports::target::count_request`).
    requests: Arc<AtomicU32>,
    secrets: Vec<String>,
    /// Whether a failure gets its audit record (an event's attempt that will be retried
    /// does not: only its last outcome is recorded).
    pub(super) record_failure: bool,
    /// Why nothing was done, for an event that needed nothing.
    pub(super) skipped: Option<String>,
    /// Whether the intent record is durable: the first write appends it, later writes of
    /// the same request do not.
    pub(super) intent_recorded: bool,
    /// The membership change the next write is to make, for the intent record (the
    /// outcome record names what was sent, from `membership`).
    planned_membership: Option<MembershipChange>,
    /// The attribute changes the next write is to make, for the intent record when
    /// `changes` does not hold them yet (the outcome record has what changed).
    planned_changes: Vec<AttributeChange>,
}

fn capped(text: &str) -> String {
    text.chars().take(MAX_AUDIT_TEXT).collect()
}

impl Request<'_> {
    /// The operation the record describes, as it stands.
    pub(super) fn operation(&self) -> AuditOperation {
        self.operation
    }

    /// Names the operation the record describes, once the use case knows it.
    pub(super) fn set_operation(&mut self, operation: AuditOperation) {
        self.operation = operation;
    }

    /// Starts the record's subject over, for a resource of `kind`.
    pub(super) fn reset_subject(&mut self, kind: ResourceKind) {
        self.subject = AuditSubject {
            resource_type: Some(kind),
            ..AuditSubject::default()
        };
        self.changes.clear();
    }

    /// The counter of this request's target requests, for `counting_requests`.
    pub(super) fn counter(&self) -> Arc<AtomicU32> {
        self.requests.clone()
    }

    /// Whether the deadline leaves room to wait `wait` and try again.
    pub(super) fn has_time_for(&self, wait: std::time::Duration) -> bool {
        self.deadline
            .instant()
            .is_none_or(|at| Instant::now() + wait * 2 < at)
    }

    /// The target requests sent so far.
    pub(super) fn target_calls(&self) -> u32 {
        self.requests.load(Ordering::Relaxed)
    }

    /// The rule set in force; a write cannot go on without it.
    pub(super) fn rules(&self) -> Result<Arc<ActiveRuleSet>, GatewayError> {
        self.rules
            .clone()
            .ok_or_else(|| anyhow::anyhow!("the active rule set could not be read").into())
    }

    /// A resource as Okta sees it: its read-back attribute (`userName`, a group's
    /// `displayName`, and the names of a user's groups) in Okta's value under the rules.
    pub(super) fn okta_resource(&self, kind: ResourceKind, resource: &mut Value) {
        let Some(rules) = &self.rules else {
            return;
        };
        let translate = |kind: ResourceKind, attribute: &str, value: &mut Value| {
            if let Some(okta) = value
                .as_str()
                .and_then(|stored| rules.inbound(kind, attribute, stored))
            {
                *value = Value::String(okta);
            }
        };
        let Some(object) = resource.as_object_mut() else {
            return;
        };
        match kind {
            ResourceKind::User => {
                if let Some(name) = object.get_mut("userName") {
                    translate(ResourceKind::User, "userName", name);
                }
                self.okta_group_names(resource);
            }
            ResourceKind::Group => {
                if let Some(name) = object.get_mut("displayName") {
                    translate(ResourceKind::Group, "displayName", name);
                }
            }
        }
    }

    /// The names of a user's `groups` as Okta knows them.
    pub(super) fn okta_group_names(&self, user: &mut Value) {
        let (Some(rules), Some(Value::Array(groups))) = (&self.rules, user.get_mut("groups"))
        else {
            return;
        };
        for display in groups.iter_mut().filter_map(|g| g.get_mut("display")) {
            if let Some(okta) = display
                .as_str()
                .and_then(|stored| rules.inbound(ResourceKind::Group, "displayName", stored))
            {
                *display = Value::String(okta);
            }
        }
    }

    /// A reply as Okta sees it (see [`Request::okta_resource`]); list replies are
    /// translated as they are built, since their filters are evaluated on Okta's values.
    pub(super) fn okta_reply(&self, reply: ScimReply) -> ScimReply {
        let kind = self.kind;
        match reply {
            ScimReply::Ok(mut body) if body.get("Resources").is_none() => {
                self.okta_resource(kind, &mut body);
                ScimReply::Ok(body)
            }
            ScimReply::Created {
                mut resource,
                location,
            } => {
                self.okta_resource(kind, &mut resource);
                ScimReply::Created { resource, location }
            }
            other => other,
        }
    }

    /// Records the id the request names (capped: it may be anything).
    pub(super) fn note_id(&mut self, id: &str) {
        self.subject.target_id = Some(capped(id));
    }

    pub(super) fn note_user(&mut self, user: &User) {
        if let Some(id) = user.id() {
            self.note_id(id);
        }
        if let Some(external_id) = user.external_id() {
            self.subject.external_id = Some(capped(external_id));
        }
        self.subject.name = Some(capped(&user.user_name));
    }

    pub(super) fn note_group(&mut self, group: &Group) {
        if let Some(id) = group.id() {
            self.note_id(id);
        }
        if let Some(external_id) = group.external_id() {
            self.subject.external_id = Some(capped(external_id));
        }
        self.subject.name = Some(capped(&group.display_name));
    }

    /// Names the membership change the next write is to make, for the intent record.
    pub(super) fn plan_membership(&mut self, added: &[String], removed: &[String]) {
        self.planned_membership =
            Some(MembershipChange::new(added, removed)).filter(|m| !m.is_empty());
    }

    /// Names the attribute changes the next write is to make, for the intent record.
    pub(super) fn plan_changes(&mut self, changes: Vec<AttributeChange>) {
        self.planned_changes = changes;
    }

    /// The record of this request as it stands: an intent before the first write, the
    /// outcome at the end. Secrets the request carried are scrubbed from its free text.
    fn record(&self, outcome: Outcome, status: u16, error: Option<String>) -> AuditRecord {
        let intent = outcome == Outcome::Intent;
        let membership = self.membership.clone().filter(|m| !m.is_empty());
        let membership = if intent {
            membership.or_else(|| self.planned_membership.clone())
        } else {
            membership
        };
        let mut record = AuditRecord {
            time: self.time,
            source: self.ctx.source.clone(),
            actor: AuditActor {
                credential: capped(&self.ctx.actor.credential),
                user_agent: self.ctx.user_agent.as_deref().map(capped),
            },
            subject: self.subject.clone(),
            operation: self.operation,
            membership,
            changes: if intent && self.changes.is_empty() {
                self.planned_changes.clone()
            } else {
                self.changes.clone()
            },
            query: self.query.clone(),
            rule_set_version: self
                .rules
                .as_ref()
                .map_or_else(|| RULES_UNAVAILABLE.to_owned(), |r| r.version.clone()),
            outcome,
            status,
            // An intent's target status would be that of a read made to plan the change,
            // which says nothing about the change: the outcome record has the real one.
            target_status: if intent { None } else { self.target_status },
            target_calls: self.target_calls(),
            latency_ms: u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX),
            correlation_id: capped(&self.ctx.correlation_id),
            error,
            reason: if intent { None } else { self.skipped.clone() },
            source_ip: self.ctx.source_ip.as_deref().map(capped),
            request_id: self.ctx.request_id.as_deref().map(capped),
        };
        record.redact(&self.secrets);
        record
    }

    /// Adds membership changes to the record.
    pub(super) fn note_membership(&mut self, added: &[String], removed: &[String]) {
        if added.is_empty() && removed.is_empty() {
            return;
        }
        let change = self
            .membership
            .get_or_insert_with(MembershipChange::default);
        let more = MembershipChange::new(added, removed);
        change.added += more.added;
        change.removed += more.removed;
        for (ids, extra) in [
            (&mut change.added_ids, more.added_ids),
            (&mut change.removed_ids, more.removed_ids),
        ] {
            let room = crate::audit::MAX_LISTED_MEMBER_IDS.saturating_sub(ids.len());
            ids.extend(extra.into_iter().take(room));
        }
    }
}

/// The status the target answers with for a failure, where it answered at all.
fn status_of(error: &TargetError) -> Option<u16> {
    match error {
        TargetError::Conflict { .. } => Some(409),
        TargetError::NotFound => Some(404),
        TargetError::Throttled { .. } => Some(429),
        TargetError::Rejected { status, .. } => Some(*status),
        TargetError::Unauthorized => Some(401),
        TargetError::Timeout | TargetError::Transport(_) => None,
    }
}

/// A target failure as the use case reports it: missing and conflicting resources in
/// the client's terms, everything else as it is.
pub(super) fn from_target(
    error: TargetError,
    kind: ResourceKind,
    id: Option<&str>,
) -> GatewayError {
    match error {
        TargetError::NotFound | TargetError::Rejected { status: 404, .. } => {
            GatewayError::NotFound(match id {
                Some(id) => format!("{} {id} not found", kind.resource_type()),
                None => format!("{} not found", kind.resource_type()),
            })
        }
        TargetError::Conflict { .. } | TargetError::Rejected { status: 409, .. } => {
            GatewayError::Conflict(crate::translate::error::conflict_detail(kind).to_owned())
        }
        other => GatewayError::Upstream(other),
    }
}

impl ScimService {
    /// Starts a request: its deadline, clock reading, rule set and the audit record's
    /// frame. `body` is scanned for secrets, so that no record can carry them.
    pub(super) async fn begin<'a>(
        &self,
        kind: ResourceKind,
        operation: AuditOperation,
        ctx: &'a RequestContext,
        body: Option<&Value>,
    ) -> Request<'a> {
        let mut request = Request {
            ctx,
            kind,
            deadline: Deadline::after(self.budget),
            subject: AuditSubject {
                resource_type: Some(kind),
                ..AuditSubject::default()
            },
            membership: None,
            changes: Vec::new(),
            query: None,
            rules: None,
            started: Instant::now(),
            time: self.clock.now(),
            operation,
            target_status: None,
            requests: Arc::new(AtomicU32::new(0)),
            secrets: body.map(secrets_in).unwrap_or_default(),
            record_failure: true,
            skipped: None,
            intent_recorded: false,
            planned_membership: None,
            planned_changes: Vec::new(),
        };
        // Reads go on without rules (the record then names the rule set `unavailable`);
        // writes fail on `Request::rules`.
        match self.rules.active().await {
            Ok(rules) => request.rules = Some(rules),
            Err(error) => tracing::error!(error = %error, "the active rule set could not be read"),
        }
        request
    }

    /// Makes one port call on behalf of `request`, noting its status: `nominal` on
    /// success (the status the target documents for it), the failure's own otherwise.
    /// The HTTP requests it sends are counted by the adapter.
    pub(super) async fn call<T>(
        &self,
        request: &mut Request<'_>,
        nominal: u16,
        call: impl Future<Output = Result<T, TargetError>>,
    ) -> Result<T, TargetError> {
        let before = request.target_calls();
        let result = call.await;
        // A call the adapter answered itself (an id no resource can have) reached
        // nothing, so it has no target status.
        let sent = request.target_calls() > before;
        request.target_status = match &result {
            Ok(_) if sent => Some(nominal),
            Err(error) if sent => status_of(error),
            _ => request.target_status,
        };
        result
    }

    /// Makes one port call that changes the target (create, replace, patch, delete, a
    /// membership change) on behalf of `request`, as [`ScimService::call`] does, but
    /// only once the request's intent record is durable: the first write of a request
    /// appends it, later ones go straight on. When the append fails the call is never
    /// made and the request fails with [`GatewayError::AuditUnavailable`]: no change
    /// without its trace. `call` gets the request's deadline, moved on by the time the
    /// append took: the budget is for the target's calls, as it never counted the
    /// outcome append either.
    pub(super) async fn write<T, F>(
        &self,
        request: &mut Request<'_>,
        nominal: u16,
        call: impl FnOnce(Deadline) -> F,
    ) -> Result<Result<T, TargetError>, GatewayError>
    where
        F: Future<Output = Result<T, TargetError>>,
    {
        if !request.intent_recorded {
            let record = request.record(Outcome::Intent, INTENT_STATUS, None);
            let started = Instant::now();
            self.append(record)
                .await
                .map_err(GatewayError::AuditUnavailable)?;
            request.intent_recorded = true;
            request.deadline = request.deadline.extended_by(started.elapsed());
        }
        let deadline = request.deadline;
        Ok(self.call(request, nominal, call(deadline)).await)
    }

    /// Ends an event's request that changed nothing: builds its outcome record and
    /// appends it. A failed append is logged and counted (see [`ScimService::append`])
    /// and answered, so that the event path can try the event again.
    pub(super) async fn finish(
        &self,
        request: Request<'_>,
        result: &Result<ScimReply, GatewayError>,
    ) -> Result<(), AuditError> {
        match outcome_record(request, result) {
            Some(record) => self.append(record).await,
            None => Ok(()),
        }
    }

    /// Ends a SCIM request, or an event's request that may have changed the target:
    /// builds its outcome record and appends it, or has the audit log keep it until the
    /// store answers again ([`crate::audit::AuditLog::append_or_keep`]): the answer does
    /// not wait for the trail, and nothing would send the record again (Okta does not
    /// send an answered request again; an event tried again would record a later
    /// attempt). Kept or not, it is logged and counted, and does not change the answer:
    /// a write has already reached the target, and a read has nothing to undo.
    pub(super) async fn end(&self, request: Request<'_>, result: &Result<ScimReply, GatewayError>) {
        let Some(record) = outcome_record(request, result) else {
            return;
        };
        let ids = LoggedIds::of(&record);
        match self.audit.append_or_keep(record).await {
            Ok(Appended::Now) => {}
            Ok(Appended::Kept) => {
                self.audit_failures.fetch_add(1, Ordering::Relaxed);
                ids.log_kept();
            }
            Err(error) => {
                self.audit_failures.fetch_add(1, Ordering::Relaxed);
                ids.log_failed(&error);
            }
        }
    }

    /// Appends one record. A failure is counted for the `AuditAppendFailed` metric and
    /// logged at error level with what finds the operation again (ids, correlation id,
    /// operation, outcome) and nothing more: the record holds personal data (names,
    /// attribute values), which stays out of the logs.
    async fn append(&self, record: AuditRecord) -> Result<(), AuditError> {
        let ids = LoggedIds::of(&record);
        let result = self.audit.append(record).await;
        if let Err(error) = &result {
            self.audit_failures.fetch_add(1, Ordering::Relaxed);
            ids.log_failed(error);
        }
        result
    }
}

/// A request's outcome record, or none for an attempt that will be retried and left
/// nothing behind.
fn outcome_record(
    request: Request<'_>,
    result: &Result<ScimReply, GatewayError>,
) -> Option<AuditRecord> {
    // An attempt that will be retried leaves no record, unless its intent is in the
    // trail: then something may have reached the target, and its end is recorded.
    if let (Err(error), false) = (result, request.record_failure || request.intent_recorded) {
        tracing::warn!(error = %super::error::cause_chain(error), "an attempt failed; it will be retried");
        return None;
    }
    let (outcome, status, error) = match result {
        Ok(_) if request.skipped.is_some() => (Outcome::Skipped, 204, None),
        Ok(reply) => (Outcome::Success, reply.status(), None),
        Err(error) => {
            let reached = request.target_calls() > 0;
            let outcome = match error {
                GatewayError::Invalid(_) => Outcome::Refused,
                GatewayError::NotFound(_)
                | GatewayError::Conflict(_)
                | GatewayError::PreconditionFailed
                    if !reached =>
                {
                    Outcome::Refused
                }
                _ => Outcome::Failure,
            };
            let detail = match error {
                // Internal causes go into the record (it is not shown to the client).
                GatewayError::Upstream(_)
                | GatewayError::AuditUnavailable(_)
                | GatewayError::Unexpected(_) => super::error::cause_chain(error),
                _ => error.to_scim_error().detail,
            };
            (outcome, error.status(), Some(detail))
        }
    };
    Some(request.record(outcome, status, error))
}

/// What finds a record's operation again in the logs (ids, correlation id, operation,
/// outcome) and nothing more: the record holds personal data (names, attribute
/// values), which stays out of the logs.
struct LoggedIds {
    correlation_id: String,
    target_id: Option<String>,
    external_id: Option<String>,
    operation: AuditOperation,
    outcome: Outcome,
}

impl LoggedIds {
    fn of(record: &AuditRecord) -> Self {
        Self {
            correlation_id: record.correlation_id.clone(),
            target_id: record.subject.target_id.clone(),
            external_id: record.subject.external_id.clone(),
            operation: record.operation,
            outcome: record.outcome,
        }
    }

    fn log_failed(&self, error: &AuditError) {
        tracing::error!(
            error = %error,
            correlation_id = self.correlation_id,
            target_id = self.target_id.as_deref().unwrap_or("-"),
            external_id = self.external_id.as_deref().unwrap_or("-"),
            operation = ?self.operation,
            outcome = ?self.outcome,
            "the audit record could not be written"
        );
    }

    fn log_kept(&self) {
        tracing::warn!(
            correlation_id = self.correlation_id,
            target_id = self.target_id.as_deref().unwrap_or("-"),
            external_id = self.external_id.as_deref().unwrap_or("-"),
            operation = ?self.operation,
            outcome = ?self.outcome,
            "the audit record could not be written yet; it is kept and written when the audit store answers again"
        );
    }
}
