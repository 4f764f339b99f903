//! The worker's use case: for each queued event, read what Okta holds now, decide under
//! the rules' scope what Identity Center should hold ([`Convergence`]), and have the
//! SCIM service make it so. Because the decision rests on Okta's current state, not on
//! the event, applying events in any order, or one twice, ends in the same state.
//!
//! Messages of one FIFO group (one Okta user or group) are handled in order; once one
//! fails, the rest of its group in the batch are failed too, so that none overtakes it.
//! A message whose event the ledger shows as applied, skipped or discarded is a
//! redelivery and is acknowledged without acting again.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::future::join_all;
use rules::Scope;

use super::envelope::{EventKind, kind_of, subject_of};
use super::profile::{group_in_scope, scim_group, scim_user};
use crate::audit::AuditSource;
use crate::ports::events::{
    EventBatchHandler, EventLedger, EventState, QueuedEvent, ReceivedMessage,
};
use crate::ports::okta::{OktaDirectory, OktaError, OktaGroup, OktaUser};
use crate::service::converge::{Convergence, Desired, EventVerdict, Intent};
use crate::service::{Actor, GatewayError, RequestContext, ResourceKind, ScimService};

/// The credential name event records carry as their actor (the hook's shared secret
/// authenticated the delivery; Okta's own actor is in the event).
pub const EVENT_CREDENTIAL: &str = "okta-event-hook";

/// How long a failed message waits before its next try: doubling from 10 seconds,
/// capped at 15 minutes (the most a Lambda SQS retry can be delayed by visibility).
pub fn retry_delay(receive_count: u32) -> Duration {
    let doublings = receive_count.saturating_sub(1).min(7);
    Duration::from_secs((10u64 << doublings).min(900))
}

/// The event of a user's creation in Okta: its memberships follow it (in its message
/// group), so it brings none along.
const USER_CREATED: &str = "user.lifecycle.create";

/// The waits between tries of marking an event done in the ledger: about 8 s in all,
/// which outlasts a brief outage of the state table without holding a batch long.
const MARK_RETRIES: [Duration; 4] = [
    Duration::from_millis(500),
    Duration::from_secs(1),
    Duration::from_secs(2),
    Duration::from_secs(4),
];

/// Why an event failed this time.
#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error("not an event this gateway queued: {0}")]
    NotAnEvent(String),
    #[error(transparent)]
    Okta(#[from] OktaError),
    #[error("{}", crate::service::cause_chain(.0))]
    Gateway(#[from] GatewayError),
    #[error("the event ledger: {0}")]
    Ledger(String),
}

/// The worker, built once per cold start.
pub struct EventWorker {
    service: Arc<ScimService>,
    okta: Arc<dyn OktaDirectory>,
    ledger: Arc<dyn EventLedger>,
    max_receives: u32,
}

impl std::fmt::Debug for EventWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventWorker")
            .field("max_receives", &self.max_receives)
            .finish_non_exhaustive()
    }
}

impl EventWorker {
    /// The worker over its ports. `max_receives` is the queue's redrive limit: the
    /// attempt that reaches it is the last before the dead-letter queue, and the only
    /// failed one recorded in the audit trail.
    pub fn new(
        service: Arc<ScimService>,
        okta: Arc<dyn OktaDirectory>,
        ledger: Arc<dyn EventLedger>,
        max_receives: u32,
    ) -> Self {
        Self {
            service,
            okta,
            ledger,
            max_receives: max_receives.max(1),
        }
    }

    /// How many audit appends failed since the last call (which resets the count), for
    /// the `AuditAppendFailed` metric the function publishes after each batch.
    pub fn take_audit_append_failures(&self) -> u64 {
        self.service.take_audit_append_failures()
    }

    /// Handles one message, its body already read as an event (or why it is not one);
    /// `Err` when it is to be tried again (or set aside).
    async fn handle(
        &self,
        message: &ReceivedMessage,
        event: Result<QueuedEvent, String>,
    ) -> Result<(), String> {
        let result = match event {
            Ok(event) => self.try_handle(message, event).await,
            Err(why) => Err(Failure::NotAnEvent(why)),
        };
        if let Err(error) = &result {
            tracing::warn!(
                message_id = %message.message_id,
                receive_count = message.receive_count,
                error = %error,
                "an event failed"
            );
        }
        result.map_err(|e| e.to_string())
    }

    async fn try_handle(
        &self,
        message: &ReceivedMessage,
        event: QueuedEvent,
    ) -> Result<(), Failure> {
        let entry = self
            .ledger
            .entry(&event.uuid)
            .await
            .map_err(|e| Failure::Ledger(e.to_string()))?;
        if entry.is_some_and(|e| e.state.is_final()) {
            return Ok(());
        }
        let final_attempt = message.receive_count >= self.max_receives;
        let ctx = RequestContext {
            actor: Actor {
                credential: EVENT_CREDENTIAL.to_owned(),
            },
            correlation_id: event.uuid.clone(),
            base_url: String::new(),
            user_agent: subject_of(&event.event).actor,
            source: AuditSource::Event {
                uuid: event.uuid.clone(),
                published: Some(event.published.clone()),
                event_type: Some(event.event_type.clone()),
            },
            source_ip: None,
            request_id: None,
        };
        let outcome = match self.convergence(&event, message.receive_count > 1).await {
            Ok(convergence) => self
                .service
                .converge(convergence, &ctx, final_attempt)
                .await
                .map_err(Failure::from),
            Err(failure) => {
                if final_attempt {
                    // Okta could not be read on the last try: the event still gets its
                    // one record, as a failure.
                    let why = failure.to_string();
                    let kind = match kind_of(&event.event_type) {
                        Some(EventKind::Group) => ResourceKind::Group,
                        _ => ResourceKind::User,
                    };
                    let _ = self
                        .service
                        .converge(
                            Convergence::Fail {
                                kind,
                                okta_id: Some(event.group_key.clone()),
                                why,
                            },
                            &ctx,
                            true,
                        )
                        .await;
                }
                Err(failure)
            }
        };
        match outcome {
            Ok(verdict) => {
                let state = match verdict {
                    EventVerdict::Applied => EventState::Applied,
                    EventVerdict::Skipped(_) => EventState::Skipped,
                };
                self.mark(&event.uuid, state).await
            }
            Err(failure) => {
                let text = failure.to_string();
                if let Err(error) = self.ledger.record_failure(&event.uuid, &text).await {
                    tracing::error!(error = %error, "an event's failure could not be recorded");
                }
                Err(failure)
            }
        }
    }

    /// Marks an event done in the ledger. Its outcome is already in the audit trail, so
    /// the mark is tried again for a while (it is idempotent) before the message fails:
    /// a redelivery would converge again and record the event a second time.
    async fn mark(&self, uuid: &str, state: EventState) -> Result<(), Failure> {
        let mut tries = 0;
        loop {
            match self.ledger.set_state(uuid, state).await {
                Ok(()) => return Ok(()),
                Err(error) if tries >= MARK_RETRIES.len() => {
                    return Err(Failure::Ledger(error.to_string()));
                }
                Err(error) => {
                    tracing::warn!(error = %error, "the ledger did not take an event's state; trying again");
                    tokio::time::sleep(MARK_RETRIES[tries]).await;
                    tries += 1;
                }
            }
        }
    }

    /// What the event asks of Identity Center, from Okta's current state.
    async fn convergence(&self, event: &QueuedEvent, again: bool) -> Result<Convergence, Failure> {
        let rules = self.service.active_rules().await.ok_or_else(|| {
            Failure::Gateway(anyhow::anyhow!("the active rule set could not be read").into())
        })?;
        let scope = rules.rules().scope().cloned().unwrap_or_default();
        let subject = subject_of(&event.event);
        let Some(kind) = kind_of(&event.event_type) else {
            return Err(Failure::NotAnEvent(format!(
                "event type {} is not one the gateway acts on",
                event.event_type
            )));
        };
        let resource = match kind {
            EventKind::Group => ResourceKind::Group,
            _ => ResourceKind::User,
        };
        if !scope.admits_event(&event.event_type) {
            return Ok(Convergence::Skip {
                kind: resource,
                okta_id: Some(event.group_key.clone()),
                why: format!("event type {} is not in the rules' scope", event.event_type),
            });
        }
        match kind {
            EventKind::User | EventKind::AppAssignment => {
                let user_id = subject.user_id.unwrap_or_else(|| event.group_key.clone());
                let okta_user = self.okta.user(&user_id).await?;
                // A user this event may create, other than at its own creation, may have
                // been put in groups while inactive, when those membership events could
                // not create it: its groups come along (see `Convergence::UserJoining`).
                let may_join = okta_user.is_some()
                    && event.event_type != USER_CREATED
                    && (again || !self.service.mirrors_user(&user_id).await);
                let groups = match may_join {
                    true => self.okta.user_groups(&user_id).await?,
                    false => None,
                };
                let user = self
                    .user_intent(&user_id, okta_user, groups.as_deref(), &scope)
                    .await?;
                match groups {
                    Some(groups) => Ok(Convergence::UserJoining {
                        user,
                        groups: group_intents(groups, None, &scope)?,
                        rejoin: again,
                    }),
                    None => Ok(Convergence::User(user)),
                }
            }
            EventKind::Group => {
                let group_id = subject.group_id.unwrap_or_else(|| event.group_key.clone());
                let okta_group = self.okta.group(&group_id).await?;
                if let Some(group) = &okta_group
                    && !group_in_scope(group, &scope)
                {
                    return Ok(Convergence::Skip {
                        kind: ResourceKind::Group,
                        okta_id: Some(group_id),
                        why: format!("group {} is not in the rules' scope", group.name()),
                    });
                }
                Ok(Convergence::Group(group_intent(
                    &group_id, okta_group, &scope,
                )?))
            }
            EventKind::Membership => {
                let (Some(user_id), Some(group_id)) = (subject.user_id, subject.group_id) else {
                    return Err(Failure::NotAnEvent(
                        "a membership without its user and group".into(),
                    ));
                };
                let okta_group = self.okta.group(&group_id).await?;
                if let Some(group) = &okta_group
                    && !group_in_scope(group, &scope)
                {
                    return Ok(Convergence::Skip {
                        kind: ResourceKind::Group,
                        okta_id: Some(group_id),
                        why: format!("group {} is not in the rules' scope", group.name()),
                    });
                }
                let okta_user = self.okta.user(&user_id).await?;
                let groups = match &okta_user {
                    Some(_) => self.okta.user_groups(&user_id).await?,
                    None => None,
                };
                let in_okta = groups
                    .as_deref()
                    .is_some_and(|gs| gs.iter().any(|g| g.id == group_id));
                let user = self
                    .user_intent(&user_id, okta_user, groups.as_deref(), &scope)
                    .await?;
                let group = group_intent(&group_id, okta_group, &scope)?;
                let member = in_okta
                    && matches!(user.desired, Desired::Present(_))
                    && matches!(group.desired, Desired::Present(_));
                let also = group_intents(groups.unwrap_or_default(), Some(&group_id), &scope)?;
                Ok(Convergence::Membership {
                    user,
                    group,
                    member,
                    also,
                })
            }
        }
    }

    /// What Identity Center should hold for an Okta user (`None`: Okta no longer has
    /// it). `groups` are the user's groups when already read.
    async fn user_intent(
        &self,
        user_id: &str,
        okta_user: Option<OktaUser>,
        groups: Option<&[OktaGroup]>,
        scope: &Scope,
    ) -> Result<Intent<scim_core::User>, Failure> {
        let Some(okta_user) = okta_user else {
            return Ok(Intent {
                okta_id: user_id.to_owned(),
                desired: Desired::Absent {
                    delete: scope.deletes_users(),
                    why: "deleted in Okta".into(),
                },
            });
        };
        let desired = if self.user_in_scope(&okta_user, groups, scope).await? {
            Desired::Present(Box::new(
                scim_user(&okta_user).map_err(GatewayError::Invalid)?,
            ))
        } else {
            Desired::Absent {
                delete: false,
                why: "out of the rules' scope".into(),
            }
        };
        Ok(Intent {
            okta_id: user_id.to_owned(),
            desired,
        })
    }

    /// Whether the scope takes a user in: assigned to the scope's app, if it names
    /// one, and a member of one of its groups, if it names any.
    async fn user_in_scope(
        &self,
        user: &OktaUser,
        groups: Option<&[OktaGroup]>,
        scope: &Scope,
    ) -> Result<bool, Failure> {
        if let Some(app) = &scope.app
            && !self.okta.is_assigned_to_app(app, &user.id).await?
        {
            return Ok(false);
        }
        if scope.groups.is_empty() {
            return Ok(true);
        }
        let read;
        let groups = match groups {
            Some(groups) => groups,
            None => {
                read = self.okta.user_groups(&user.id).await?.unwrap_or_default();
                &read
            }
        };
        Ok(groups.iter().any(|g| group_in_scope(g, scope)))
    }
}

fn group_intent(
    group_id: &str,
    okta_group: Option<OktaGroup>,
    scope: &Scope,
) -> Result<Intent<scim_core::Group>, Failure> {
    let desired = match okta_group {
        Some(group) if group_in_scope(&group, scope) => {
            Desired::Present(Box::new(scim_group(&group).map_err(GatewayError::Invalid)?))
        }
        Some(_) => Desired::Absent {
            delete: false,
            why: "out of the rules' scope".into(),
        },
        None => Desired::Absent {
            delete: scope.deletes_groups(),
            why: "deleted in Okta".into(),
        },
    };
    Ok(Intent {
        okta_id: group_id.to_owned(),
        desired,
    })
}

/// What Identity Center should hold for each of a user's Okta groups but `except`.
fn group_intents(
    groups: Vec<OktaGroup>,
    except: Option<&str>,
    scope: &Scope,
) -> Result<Vec<Intent<scim_core::Group>>, Failure> {
    groups
        .into_iter()
        .filter(|g| Some(g.id.as_str()) != except)
        .map(|g| group_intent(&g.id.clone(), Some(g), scope))
        .collect()
}

#[async_trait]
impl EventBatchHandler for EventWorker {
    /// Groups run concurrently, messages of one group in order; after a failure the
    /// rest of its group fails without being tried.
    async fn handle_batch(&self, batch: Vec<ReceivedMessage>) -> Vec<String> {
        type Read = (ReceivedMessage, Result<QueuedEvent, String>);
        let mut groups: Vec<(String, Vec<Read>)> = Vec::new();
        for message in batch {
            let event =
                serde_json::from_str::<QueuedEvent>(&message.body).map_err(|e| e.to_string());
            let key = event
                .as_ref()
                .map_or_else(|_| message.message_id.clone(), |e| e.group_key.clone());
            match groups.iter_mut().find(|(k, _)| *k == key) {
                Some((_, messages)) => messages.push((message, event)),
                None => groups.push((key, vec![(message, event)])),
            }
        }
        let results = join_all(groups.into_iter().map(|(_, messages)| async move {
            let mut failed = Vec::new();
            for (message, event) in messages {
                if !failed.is_empty() || self.handle(&message, event).await.is_err() {
                    failed.push(message.message_id);
                }
            }
            failed
        }))
        .await;
        results.into_iter().flatten().collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use serde_json::json;

    use super::*;
    use crate::audit::{AuditLog, InMemoryAuditLog, Outcome};
    use crate::events::memory::InMemoryEventLedger;
    use crate::ports::okta::OktaUserStatus;
    use crate::rules::IdentityRules;
    use crate::testing::{FailingAuditLog, ScriptedTargetClient};

    const USER_ID: &str = "00ub0oNGTSWTBKOLGLNR";

    /// Okta with one active user and no groups.
    struct OneUser;

    #[async_trait]
    impl OktaDirectory for OneUser {
        async fn user(&self, id: &str) -> Result<Option<OktaUser>, OktaError> {
            let profile = json!({"login": "ada@example.com", "email": "ada@example.com",
                                 "firstName": "Ada", "lastName": "Lovelace"});
            Ok((id == USER_ID).then(|| OktaUser {
                id: USER_ID.to_owned(),
                status: OktaUserStatus::Active,
                profile: profile.as_object().cloned().unwrap(),
            }))
        }
        async fn group(&self, _id: &str) -> Result<Option<OktaGroup>, OktaError> {
            Ok(None)
        }
        async fn user_groups(&self, _id: &str) -> Result<Option<Vec<OktaGroup>>, OktaError> {
            Ok(Some(Vec::new()))
        }
        async fn group_members(&self, _id: &str) -> Result<Option<Vec<OktaUser>>, OktaError> {
            Ok(None)
        }
        async fn users(&self) -> Result<Vec<OktaUser>, OktaError> {
            Ok(Vec::new())
        }
        async fn groups(&self) -> Result<Vec<OktaGroup>, OktaError> {
            Ok(Vec::new())
        }
        async fn is_assigned_to_app(&self, _app: &str, _user: &str) -> Result<bool, OktaError> {
            Ok(true)
        }
        async fn app_user_ids(&self, _app: &str) -> Result<Vec<String>, OktaError> {
            Ok(Vec::new())
        }
    }

    fn worker(
        audit: Arc<dyn AuditLog>,
        target: Arc<ScriptedTargetClient>,
        ledger: Arc<InMemoryEventLedger>,
    ) -> EventWorker {
        let service = ScimService::new(
            target,
            Arc::new(IdentityRules::new()),
            audit,
            Arc::new(crate::SystemClock),
            Duration::from_secs(5),
        );
        EventWorker::new(Arc::new(service), Arc::new(OneUser), ledger, 3)
    }

    fn message(receive_count: u32) -> ReceivedMessage {
        let event = QueuedEvent {
            uuid: "e-1".into(),
            published: "2024-04-05T06:32:12Z".into(),
            event_type: "user.lifecycle.create".into(),
            group_key: USER_ID.into(),
            event: json!({"uuid": "e-1", "eventType": "user.lifecycle.create",
                          "target": [{"id": USER_ID, "type": "User"}]}),
        };
        ReceivedMessage {
            message_id: format!("m-{receive_count}"),
            body: serde_json::to_string(&event).unwrap(),
            receive_count,
            sender_id: None,
        }
    }

    #[tokio::test]
    async fn an_event_the_audit_trail_cannot_take_is_retried_and_changes_nothing() {
        // Arrange
        let target = Arc::new(ScriptedTargetClient::new());
        let ledger = Arc::new(InMemoryEventLedger::new());
        let refusing = worker(
            Arc::new(FailingAuditLog::default()),
            target.clone(),
            ledger.clone(),
        );

        // Act: a first attempt, and the last before the dead-letter queue.
        let first = refusing.handle_batch(vec![message(1)]).await;
        let last = refusing.handle_batch(vec![message(3)]).await;

        // Assert: both failed back to the queue, nothing reached Identity Center, and the
        // ledger does not call the event applied.
        assert_eq!(
            (first, last),
            (vec!["m-1".to_owned()], vec!["m-3".to_owned()])
        );
        assert!(target.writes().is_empty(), "{:?}", target.writes());
        assert_eq!(ledger.states()["e-1"], EventState::Failed);

        // Act: the trail is back; the queue hands the event out again.
        let audit = Arc::new(InMemoryAuditLog::new());
        let healthy = worker(audit.clone(), target.clone(), ledger.clone());
        let retried = healthy.handle_batch(vec![message(2)]).await;

        // Assert
        assert!(retried.is_empty());
        assert_eq!(target.writes().len(), 1);
        assert_eq!(ledger.states()["e-1"], EventState::Applied);
        let records = audit.records();
        assert_eq!(
            records.iter().map(|r| r.outcome).collect::<Vec<_>>(),
            [Outcome::Intent, Outcome::Success]
        );
        assert!(records.iter().all(|r| r.correlation_id == "e-1"));
    }

    #[tokio::test]
    async fn a_skipped_event_whose_record_the_trail_cannot_take_is_tried_again_not_acknowledged() {
        // Arrange: the deletion of a group Okta no longer has and Identity Center never
        // had, which changes nothing and leaves one record, a skip.
        let event = QueuedEvent {
            uuid: "e-g".into(),
            published: "2024-04-05T06:32:12Z".into(),
            event_type: "group.lifecycle.delete".into(),
            group_key: "00g1gone1gone1gone1g".into(),
            event: json!({"uuid": "e-g", "eventType": "group.lifecycle.delete",
                          "target": [{"id": "00g1gone1gone1gone1g", "type": "UserGroup"}]}),
        };
        let message = |receive_count: u32| ReceivedMessage {
            message_id: format!("m-{receive_count}"),
            body: serde_json::to_string(&event).unwrap(),
            receive_count,
            sender_id: None,
        };
        let target = Arc::new(ScriptedTargetClient::new());
        let ledger = Arc::new(InMemoryEventLedger::new());
        let refusing = worker(
            Arc::new(FailingAuditLog::default()),
            target.clone(),
            ledger.clone(),
        );

        // Act: the trail refuses the skip's record, then takes it on the next try.
        let failed = refusing.handle_batch(vec![message(1)]).await;
        let state_after_failure = ledger.states()["e-g"];
        let audit = Arc::new(InMemoryAuditLog::new());
        let healthy = worker(audit.clone(), target.clone(), ledger.clone());
        let retried = healthy.handle_batch(vec![message(2)]).await;

        // Assert: not acknowledged without its record; recorded once on the retry.
        assert_eq!(failed, vec!["m-1".to_owned()]);
        assert_eq!(state_after_failure, EventState::Failed);
        assert!(retried.is_empty());
        assert_eq!(ledger.states()["e-g"], EventState::Skipped);
        assert!(target.writes().is_empty(), "{:?}", target.writes());
        let records = audit.records();
        assert_eq!(
            records.iter().map(|r| r.outcome).collect::<Vec<_>>(),
            [Outcome::Skipped]
        );
    }

    /// A ledger that refuses the first `refusals` state changes, then works.
    struct FlakyLedger {
        inner: InMemoryEventLedger,
        refusals: std::sync::atomic::AtomicU32,
    }

    #[async_trait]
    impl EventLedger for FlakyLedger {
        async fn claim(
            &self,
            uuid: &str,
            now: time::OffsetDateTime,
        ) -> Result<Option<EventState>, crate::ports::events::EventLedgerError> {
            self.inner.claim(uuid, now).await
        }
        async fn set_state(
            &self,
            uuid: &str,
            state: EventState,
        ) -> Result<(), crate::ports::events::EventLedgerError> {
            use std::sync::atomic::Ordering;
            if self
                .refusals
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
            {
                return Err(crate::ports::events::EventLedgerError("unreachable".into()));
            }
            self.inner.set_state(uuid, state).await
        }
        async fn record_failure(
            &self,
            uuid: &str,
            error: &str,
        ) -> Result<(), crate::ports::events::EventLedgerError> {
            self.inner.record_failure(uuid, error).await
        }
        async fn entry(
            &self,
            uuid: &str,
        ) -> Result<Option<crate::ports::events::EventEntry>, crate::ports::events::EventLedgerError>
        {
            self.inner.entry(uuid).await
        }
    }

    #[tokio::test]
    async fn an_applied_event_whose_mark_the_ledger_refuses_at_first_is_marked_once_and_recorded_once()
     {
        // Arrange: the state table refuses two marks, as in a brief outage.
        let target = Arc::new(ScriptedTargetClient::new());
        let ledger = Arc::new(FlakyLedger {
            inner: InMemoryEventLedger::new(),
            refusals: std::sync::atomic::AtomicU32::new(2),
        });
        let audit = Arc::new(InMemoryAuditLog::new());
        let service = ScimService::new(
            target.clone(),
            Arc::new(IdentityRules::new()),
            audit.clone(),
            Arc::new(crate::SystemClock),
            Duration::from_secs(5),
        );
        let worker = EventWorker::new(Arc::new(service), Arc::new(OneUser), ledger.clone(), 3);

        // Act
        let failed = worker.handle_batch(vec![message(1)]).await;

        // Assert: acknowledged, marked applied, one change and one intent and outcome.
        assert!(failed.is_empty(), "{failed:?}");
        assert_eq!(ledger.inner.states()["e-1"], EventState::Applied);
        assert_eq!(target.writes().len(), 1);
        assert_eq!(
            audit
                .records()
                .iter()
                .map(|r| r.outcome)
                .collect::<Vec<_>>(),
            [Outcome::Intent, Outcome::Success]
        );
    }

    #[test]
    fn retries_wait_longer_each_time_up_to_fifteen_minutes() {
        assert_eq!(retry_delay(1), Duration::from_secs(10));
        assert_eq!(retry_delay(2), Duration::from_secs(20));
        assert_eq!(retry_delay(4), Duration::from_secs(80));
        assert_eq!(retry_delay(40), Duration::from_secs(900));
    }
}
