//! The executor: applies a plan's creations and deletions through an
//! [`AssignmentApi`] (SSO Admin in `aws_adapters`), within Identity Center's limits.
//!
//! - At most [`Limits::max_in_flight`] operations at once, and one at a time per account:
//!   creating or deleting an assignment provisions the permission set to (or from) the
//!   account, and Identity Center answers `ConflictException` to a second provisioning
//!   on the same account while one runs (SSO Admin API reference,
//!   `CreateAccountAssignment`: "ConflictException").
//! - Each operation is asynchronous in Identity Center: its status is polled until it
//!   succeeds or fails ([`Limits::poll_interval`], at most [`Limits::max_polls`]).
//! - Throttling and conflicts (the request was refused, nothing happened) are retried
//!   with exponential backoff ([`Limits::max_attempts`]); nothing else is, so that an
//!   operation whose fate is unknown is never sent twice.
//! - Every operation ends as [`OpResult::Done`] or [`OpResult::Failed`]: failures are
//!   reported, never counted as success. One not started by [`Limits::start_by`] (the
//!   invocation's time is running out) is [`OpResult::Deferred`]: nothing was sent, and
//!   the next plan lists it again.
//!
//! Permission set changes ([`execute_permission_sets`]) run before the assignments, one
//! permission set at a time and each one's calls in order, with the same retries; a
//! provisioning is polled like an assignment.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt as _;
use serde::Serialize;

use crate::plan::{Change, PermissionSetChange, PermissionSetStep};
use crate::state::Assignment;

/// Create or delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OpKind {
    /// `CreateAccountAssignment`.
    Create,
    /// `DeleteAccountAssignment`.
    Delete,
}

/// An operation's status, as Identity Center reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpStatus {
    /// Still running: poll again.
    InProgress,
    /// Done.
    Succeeded,
    /// Identity Center gave up; its reason.
    Failed(String),
}

/// How a call was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// `ThrottlingException` (or any throttling code): retried.
    #[error("throttled: {0}")]
    Throttled(String),
    /// `ConflictException`: another operation on the same account runs; retried.
    #[error("conflict: {0}")]
    Conflict(String),
    /// Anything else: not retried.
    #[error("{0}")]
    Other(String),
}

/// Identity Center's account assignment operations, and the permission set operations
/// of documents that define permission sets (an API without them refuses them).
#[async_trait]
pub trait AssignmentApi: Send + Sync {
    /// Starts creating (or deleting) an assignment; answers the request id to poll, and
    /// the status the start call reported.
    async fn start(
        &self,
        kind: OpKind,
        assignment: &Assignment,
    ) -> Result<(String, OpStatus), ApiError>;
    /// The status of a started operation.
    async fn status(&self, kind: OpKind, request_id: &str) -> Result<OpStatus, ApiError>;

    /// `CreatePermissionSet`; answers its ARN.
    async fn create_permission_set(
        &self,
        name: &str,
        description: Option<&str>,
        session_duration: &str,
    ) -> Result<String, ApiError> {
        let _ = (name, description, session_duration);
        Err(ApiError::Other(
            "this API cannot create permission sets".into(),
        ))
    }

    /// One step of bringing the permission set `arn` in line (never
    /// [`PermissionSetStep::Create`]); a provisioning answers its request id and status.
    async fn permission_set_step(
        &self,
        arn: &str,
        step: &PermissionSetStep,
    ) -> Result<Option<(String, OpStatus)>, ApiError> {
        let _ = (arn, step);
        Err(ApiError::Other(
            "this API cannot change permission sets".into(),
        ))
    }

    /// The status of a provisioning (`DescribePermissionSetProvisioningStatus`).
    async fn provisioning_status(&self, request_id: &str) -> Result<OpStatus, ApiError> {
        let _ = request_id;
        Err(ApiError::Other(
            "this API cannot provision permission sets".into(),
        ))
    }
}

/// The executor's bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Operations in flight at once (over all accounts).
    pub max_in_flight: usize,
    /// Attempts of one call before a throttle or conflict counts as a failure.
    pub max_attempts: u32,
    /// The first backoff; it doubles with every retry, up to [`Limits::max_backoff`].
    pub base_backoff: Duration,
    /// The longest backoff.
    pub max_backoff: Duration,
    /// Between two status polls.
    pub poll_interval: Duration,
    /// Polls before an operation still running counts as failed (its fate unknown).
    pub max_polls: u32,
    /// No operation starts after this instant (the stack's function stops starting them
    /// well before Lambda ends the invocation, so that what it started finishes and is
    /// recorded); `None`: no bound.
    pub start_by: Option<tokio::time::Instant>,
}

impl Limits {
    /// Whether an operation may still start.
    fn may_start(&self) -> bool {
        self.start_by
            .is_none_or(|by| tokio::time::Instant::now() < by)
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_in_flight: 10,
            max_attempts: 8,
            base_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(10),
            poll_interval: Duration::from_secs(1),
            max_polls: 120,
            start_by: None,
        }
    }
}

/// How one operation ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum OpResult {
    /// Identity Center reports success.
    Done,
    /// It failed, was refused, or its status could not be told; why.
    Failed {
        /// Why.
        error: String,
    },
    /// Not started: [`Limits::start_by`] had passed. Nothing was sent.
    Deferred,
}

/// One operation and how it ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outcome {
    /// Create or delete.
    pub kind: OpKind,
    /// The change from the plan.
    pub change: Change,
    /// How it ended.
    #[serde(flatten)]
    pub result: OpResult,
    /// Calls made (starts, retries and polls).
    pub calls: u32,
}

/// Runs the creations and deletions: one queue per account, worked through one
/// operation at a time, at most `limits.max_in_flight` accounts at once. Answers every
/// operation's outcome, in account order.
pub async fn execute(
    api: Arc<dyn AssignmentApi>,
    create: &[Change],
    delete: &[Change],
    limits: Limits,
) -> Vec<Outcome> {
    let mut queues: BTreeMap<String, Vec<(OpKind, Change)>> = BTreeMap::new();
    // Creations first on each account, so a grant moved between permission sets never
    // leaves a gap without access longer than it must.
    for (kind, changes) in [(OpKind::Create, create), (OpKind::Delete, delete)] {
        for change in changes {
            queues
                .entry(change.assignment.account_id.clone())
                .or_default()
                .push((kind, change.clone()));
        }
    }
    let results: Vec<Vec<Outcome>> = futures::stream::iter(queues.into_values())
        .map(|queue| {
            let api = api.clone();
            async move {
                let mut outcomes = Vec::with_capacity(queue.len());
                for (kind, change) in queue {
                    outcomes.push(run_one(api.as_ref(), kind, change, limits).await);
                }
                outcomes
            }
        })
        .buffered(limits.max_in_flight.max(1))
        .collect()
        .await;
    results.into_iter().flatten().collect()
}

/// How one permission set change ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PermissionSetOutcome {
    /// The change from the plan.
    pub change: PermissionSetChange,
    /// Its ARN: the one created, or the one it had.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    /// How it ended; a failure stops its remaining steps.
    #[serde(flatten)]
    pub result: OpResult,
    /// Steps done.
    pub steps_done: usize,
    /// Calls made (starts, retries and polls).
    pub calls: u32,
}

/// Runs the permission set changes, one at a time, each one's steps in order; a failed
/// step stops that permission set's remaining steps (the next plan lists them again).
pub async fn execute_permission_sets(
    api: &dyn AssignmentApi,
    changes: &[PermissionSetChange],
    limits: Limits,
) -> Vec<PermissionSetOutcome> {
    let mut outcomes = Vec::with_capacity(changes.len());
    for change in changes {
        if !limits.may_start() {
            outcomes.push(PermissionSetOutcome {
                change: change.clone(),
                arn: change.arn.clone(),
                result: OpResult::Deferred,
                steps_done: 0,
                calls: 0,
            });
            continue;
        }
        let mut calls = 0u32;
        let mut arn = change.arn.clone();
        let mut result = OpResult::Done;
        let mut steps_done = 0;
        for step in &change.steps {
            let done = match (step, arn.as_deref()) {
                (
                    PermissionSetStep::Create {
                        description,
                        session_duration,
                    },
                    _,
                ) => retried(&limits, &mut calls, || {
                    api.create_permission_set(
                        &change.name,
                        description.as_deref(),
                        session_duration,
                    )
                })
                .await
                .map(|created| arn = Some(created)),
                (_, None) => Err("it was not created".to_owned()),
                (step, Some(at)) => {
                    match retried(&limits, &mut calls, || api.permission_set_step(at, step)).await {
                        Ok(Some((request_id, status))) => {
                            provisioned(api, &request_id, status, &limits, &mut calls).await
                        }
                        Ok(None) => Ok(()),
                        Err(e) => Err(e),
                    }
                }
            };
            if let Err(error) = done {
                result = OpResult::Failed {
                    error: format!("{step}: {error}"),
                };
                break;
            }
            steps_done += 1;
        }
        outcomes.push(PermissionSetOutcome {
            change: change.clone(),
            arn,
            result,
            steps_done,
            calls,
        });
    }
    outcomes
}

/// One call, retried on throttles and conflicts (nothing happened then) with backoff.
async fn retried<T, F, Fut>(limits: &Limits, calls: &mut u32, mut call: F) -> Result<T, String>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, ApiError>>,
{
    let mut attempt = 0u32;
    loop {
        *calls += 1;
        match call().await {
            Ok(value) => return Ok(value),
            Err(ApiError::Throttled(_) | ApiError::Conflict(_))
                if attempt + 1 < limits.max_attempts =>
            {
                tokio::time::sleep(backoff(limits, attempt)).await;
                attempt += 1;
            }
            Err(error) => return Err(error.to_string()),
        }
    }
}

/// Polls a provisioning until it succeeds or fails.
async fn provisioned(
    api: &dyn AssignmentApi,
    request_id: &str,
    mut status: OpStatus,
    limits: &Limits,
    calls: &mut u32,
) -> Result<(), String> {
    let mut polls = 0u32;
    loop {
        match status {
            OpStatus::Succeeded => return Ok(()),
            OpStatus::Failed(reason) => {
                return Err(format!(
                    "Identity Center reports the provisioning failed: {reason}"
                ));
            }
            OpStatus::InProgress => {}
        }
        if polls >= limits.max_polls {
            return Err(format!(
                "still in progress after {polls} polls (request {request_id})"
            ));
        }
        tokio::time::sleep(limits.poll_interval).await;
        polls += 1;
        status = retried(limits, calls, || api.provisioning_status(request_id)).await?;
    }
}

fn backoff(limits: &Limits, attempt: u32) -> Duration {
    let factor = 1u32.checked_shl(attempt.min(16)).unwrap_or(u32::MAX);
    limits
        .base_backoff
        .saturating_mul(factor)
        .min(limits.max_backoff)
}

async fn run_one(api: &dyn AssignmentApi, kind: OpKind, change: Change, limits: Limits) -> Outcome {
    let mut calls = 0u32;
    let failed = |error: String, calls: u32, change: Change| Outcome {
        kind,
        change,
        result: OpResult::Failed { error },
        calls,
    };
    if !limits.may_start() {
        return Outcome {
            kind,
            change,
            result: OpResult::Deferred,
            calls: 0,
        };
    }
    // Start, retrying only refusals (throttle, conflict): nothing happened then.
    let started = retried(&limits, &mut calls, || api.start(kind, &change.assignment)).await;
    let (request_id, mut status) = match started {
        Ok(started) => started,
        Err(error) => return failed(error, calls, change),
    };
    let mut polls = 0u32;
    let mut poll_errors = 0u32;
    loop {
        match status {
            OpStatus::Succeeded => {
                return Outcome {
                    kind,
                    change,
                    result: OpResult::Done,
                    calls,
                };
            }
            OpStatus::Failed(reason) => {
                return failed(
                    format!("Identity Center reports the operation failed: {reason}"),
                    calls,
                    change,
                );
            }
            OpStatus::InProgress => {}
        }
        if polls >= limits.max_polls {
            return failed(
                format!("still in progress after {polls} polls (request {request_id})"),
                calls,
                change,
            );
        }
        tokio::time::sleep(limits.poll_interval).await;
        polls += 1;
        calls += 1;
        status = match api.status(kind, &request_id).await {
            Ok(status) => status,
            Err(ApiError::Throttled(_) | ApiError::Conflict(_))
                if poll_errors + 1 < limits.max_attempts =>
            {
                tokio::time::sleep(backoff(&limits, poll_errors)).await;
                poll_errors += 1;
                OpStatus::InProgress
            }
            Err(error) => {
                return failed(
                    format!("its status could not be read (request {request_id}): {error}"),
                    calls,
                    change,
                );
            }
        };
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::collections::{HashMap, HashSet};
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// An API that throttles or conflicts on a schedule, runs each operation for two
    /// polls, and checks the per-account and in-flight bounds.
    #[derive(Default)]
    struct Flaky {
        calls: AtomicUsize,
        tries: Mutex<HashMap<Assignment, u32>>,
        in_flight: Mutex<HashSet<String>>,
        most_in_flight: AtomicUsize,
        overlap_on_an_account: AtomicUsize,
        polls: Mutex<HashMap<String, (String, u32)>>,
        done: Mutex<Vec<Assignment>>,
        fail_account: Option<String>,
    }

    #[async_trait]
    impl AssignmentApi for Flaky {
        async fn start(
            &self,
            _kind: OpKind,
            a: &Assignment,
        ) -> Result<(String, OpStatus), ApiError> {
            let n = self.calls.fetch_add(1, Ordering::SeqCst);
            let tries = {
                let mut tries = self.tries.lock().unwrap();
                let t = tries.entry(a.clone()).or_insert(0);
                *t += 1;
                *t
            };
            // Each operation: throttled, then a conflict, then accepted.
            match tries % 3 {
                1 => return Err(ApiError::Throttled("rate".into())),
                2 => return Err(ApiError::Conflict("busy".into())),
                _ => {}
            }
            if self.fail_account.as_deref() == Some(a.account_id.as_str()) {
                return Err(ApiError::Other("AccessDeniedException".into()));
            }
            let mut in_flight = self.in_flight.lock().unwrap();
            if !in_flight.insert(a.account_id.clone()) {
                self.overlap_on_an_account.fetch_add(1, Ordering::SeqCst);
            }
            self.most_in_flight
                .fetch_max(in_flight.len(), Ordering::SeqCst);
            let id = format!("req-{n}");
            self.polls
                .lock()
                .unwrap()
                .insert(id.clone(), (a.account_id.clone(), 0));
            self.done.lock().unwrap().push(a.clone());
            Ok((id, OpStatus::InProgress))
        }

        async fn status(&self, _kind: OpKind, id: &str) -> Result<OpStatus, ApiError> {
            let mut polls = self.polls.lock().unwrap();
            let (account, n) = polls.get_mut(id).unwrap();
            *n += 1;
            if *n < 2 {
                return Ok(OpStatus::InProgress);
            }
            self.in_flight.lock().unwrap().remove(account.as_str());
            Ok(OpStatus::Succeeded)
        }
    }

    fn change(account: usize, ps: usize) -> Change {
        Change {
            assignment: Assignment {
                account_id: format!("{account:012}"),
                permission_set_arn: format!("ps-{ps}"),
                group_id: "g".into(),
            },
            group_name: "g".into(),
            okta_group_id: None,
            permission_set_name: format!("ps-{ps}"),
            reason: "test".into(),
        }
    }

    fn fast() -> Limits {
        Limits {
            max_in_flight: 3,
            max_attempts: 4,
            base_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(2),
            poll_interval: Duration::from_millis(1),
            max_polls: 10,
            start_by: None,
        }
    }

    #[tokio::test]
    async fn every_operation_runs_once_within_the_bounds_despite_throttles_and_conflicts() {
        let api = Arc::new(Flaky::default());
        let creates: Vec<Change> = (0..8).flat_map(|a| [change(a, 0), change(a, 1)]).collect();
        let outcomes = execute(api.clone(), &creates, &[], fast()).await;
        assert_eq!(outcomes.len(), 16);
        assert!(outcomes.iter().all(|o| o.result == OpResult::Done));
        let mut done = api.done.lock().unwrap().clone();
        done.sort();
        let mut wanted: Vec<Assignment> = creates.iter().map(|c| c.assignment.clone()).collect();
        wanted.sort();
        assert_eq!(done, wanted, "each assignment started exactly once");
        assert_eq!(api.overlap_on_an_account.load(Ordering::SeqCst), 0);
        assert!(api.most_in_flight.load(Ordering::SeqCst) <= 3);
    }

    #[tokio::test]
    async fn failures_are_failures() {
        let api = Arc::new(Flaky {
            fail_account: Some(format!("{:012}", 1)),
            ..Flaky::default()
        });
        let outcomes = execute(api, &[change(0, 0), change(1, 0)], &[], fast()).await;
        assert_eq!(outcomes[0].result, OpResult::Done);
        assert_eq!(
            outcomes[1].result,
            OpResult::Failed {
                error: "AccessDeniedException".into()
            }
        );
    }

    /// Always throttled: gives up after `max_attempts` and says so.
    struct Throttled;

    #[async_trait]
    impl AssignmentApi for Throttled {
        async fn start(&self, _: OpKind, _: &Assignment) -> Result<(String, OpStatus), ApiError> {
            Err(ApiError::Throttled("ThrottlingException".into()))
        }
        async fn status(&self, _: OpKind, _: &str) -> Result<OpStatus, ApiError> {
            Ok(OpStatus::Succeeded)
        }
    }

    #[tokio::test]
    async fn endless_throttling_ends_as_a_failure_after_the_attempts() {
        let outcomes = execute(Arc::new(Throttled), &[], &[change(0, 0)], fast()).await;
        assert_eq!(outcomes[0].kind, OpKind::Delete);
        assert_eq!(outcomes[0].calls, 4);
        assert!(matches!(outcomes[0].result, OpResult::Failed { .. }));
    }

    /// Throttles each permission set call once and meets one conflict, answers a
    /// provisioning in progress once, and refuses to detach anything.
    #[derive(Default)]
    struct PermissionSets {
        calls: Mutex<Vec<String>>,
        polls: AtomicUsize,
    }

    impl PermissionSets {
        fn refuse_once(&self, what: String) -> Result<(), ApiError> {
            let mut calls = self.calls.lock().unwrap();
            let seen = calls.iter().filter(|c| **c == what).count();
            calls.push(what.clone());
            match seen {
                0 => Err(ApiError::Throttled(what)),
                1 => Err(ApiError::Conflict(what)),
                _ => Ok(()),
            }
        }
    }

    #[async_trait]
    impl AssignmentApi for PermissionSets {
        async fn start(&self, _: OpKind, _: &Assignment) -> Result<(String, OpStatus), ApiError> {
            Ok(("req".into(), OpStatus::Succeeded))
        }
        async fn status(&self, _: OpKind, _: &str) -> Result<OpStatus, ApiError> {
            Ok(OpStatus::Succeeded)
        }
        async fn create_permission_set(
            &self,
            name: &str,
            _: Option<&str>,
            _: &str,
        ) -> Result<String, ApiError> {
            self.refuse_once(format!("create {name}"))?;
            Ok(format!("arn:ps-{name}"))
        }
        async fn permission_set_step(
            &self,
            arn: &str,
            step: &PermissionSetStep,
        ) -> Result<Option<(String, OpStatus)>, ApiError> {
            if matches!(step, PermissionSetStep::DetachManagedPolicy { .. }) {
                return Err(ApiError::Other("AccessDeniedException".into()));
            }
            self.refuse_once(format!("{arn} {step}"))?;
            Ok(matches!(step, PermissionSetStep::Provision { .. })
                .then(|| ("prov-1".to_owned(), OpStatus::InProgress)))
        }
        async fn provisioning_status(&self, _: &str) -> Result<OpStatus, ApiError> {
            Ok(if self.polls.fetch_add(1, Ordering::SeqCst) == 0 {
                OpStatus::InProgress
            } else {
                OpStatus::Succeeded
            })
        }
    }

    fn ps_change(
        name: &str,
        arn: Option<&str>,
        steps: Vec<PermissionSetStep>,
    ) -> PermissionSetChange {
        PermissionSetChange {
            name: name.into(),
            arn: arn.map(str::to_owned),
            steps,
            record_managed: arn.is_none(),
            before: None,
            after: serde_json::json!({}),
            reason: "test".into(),
        }
    }

    #[tokio::test]
    async fn permission_set_calls_are_retried_in_order_polled_and_stop_at_a_failure() {
        let api = PermissionSets::default();
        let attach = PermissionSetStep::AttachManagedPolicy {
            arn: "arn:aws:iam::aws:policy/ReadOnlyAccess".into(),
        };
        let changes = [
            ps_change(
                "New",
                None,
                vec![
                    PermissionSetStep::Create {
                        description: None,
                        session_duration: "PT1H".into(),
                    },
                    attach.clone(),
                ],
            ),
            ps_change(
                "Old",
                Some("arn:ps-Old"),
                vec![attach.clone(), PermissionSetStep::Provision { accounts: 2 }],
            ),
            ps_change(
                "Stuck",
                Some("arn:ps-Stuck"),
                vec![
                    PermissionSetStep::DetachManagedPolicy {
                        arn: "arn:aws:iam::aws:policy/X".into(),
                    },
                    attach,
                ],
            ),
        ];
        let outcomes = execute_permission_sets(&api, &changes, fast()).await;
        assert_eq!(outcomes[0].arn.as_deref(), Some("arn:ps-New"));
        assert_eq!((outcomes[0].steps_done, outcomes[0].calls), (2, 6));
        assert_eq!(outcomes[0].result, OpResult::Done);
        // Two polls of the provisioning: in progress, then done.
        assert_eq!((outcomes[1].steps_done, outcomes[1].calls), (2, 8));
        assert_eq!(outcomes[1].result, OpResult::Done);
        assert_eq!(outcomes[2].steps_done, 0);
        assert_eq!(
            outcomes[2].result,
            OpResult::Failed {
                error: "detach arn:aws:iam::aws:policy/X: AccessDeniedException".into()
            }
        );
        // Each call reached the API once past its refusals: none was made twice.
        let calls = api.calls.lock().unwrap();
        let mut made: Vec<&String> = calls.iter().collect();
        made.sort();
        made.dedup();
        assert_eq!(made.len() * 3, calls.len(), "{calls:?}");
        assert!(!calls.iter().any(|c| c.starts_with("arn:ps-Stuck")));
    }

    #[tokio::test]
    async fn nothing_starts_after_the_start_by_instant() {
        let api = Arc::new(Flaky::default());
        let past = Limits {
            start_by: Some(tokio::time::Instant::now()),
            ..fast()
        };
        let outcomes = execute(api.clone(), &[change(0, 0)], &[change(1, 0)], past).await;
        assert!(
            outcomes
                .iter()
                .all(|o| o.result == OpResult::Deferred && o.calls == 0)
        );
        let sets = execute_permission_sets(
            api.as_ref(),
            &[ps_change(
                "New",
                None,
                vec![PermissionSetStep::DeleteInlinePolicy],
            )],
            past,
        )
        .await;
        assert_eq!(sets[0].result, OpResult::Deferred);
        assert_eq!(api.calls.load(Ordering::SeqCst), 0, "nothing was sent");
    }
}
