//! Reconciliation (`docs/reconcile.md`): read Okta and Identity Center completely, plan
//! the changes that make Identity Center match under the rules, with deletion safety
//! ([`mod@plan`]), and apply a plan change by change through the SCIM use cases, each
//! change audited with source `reconcile`.
//!
//! Applying re-reads each resource before changing it (`ScimService::converge`), so a
//! plan applied twice, or resumed after an interruption, changes nothing the second
//! time.

pub mod plan;

use std::collections::HashSet;

use futures::stream::{self, StreamExt};
use rules::Scope;
use scim_core::{Group, Resource, User};

use crate::audit::AuditSource;
use crate::ports::okta::OktaDirectory;
use crate::service::converge::{Convergence, Desired, EventVerdict, Intent};
use crate::service::{Actor, GatewayError, RequestContext, ScimService};
pub use plan::{Action, Change, IcSide, OktaSide, Plan, Safety, plan};

/// How many Okta reads (a group's members, a user) run at once.
const CONCURRENT_OKTA_READS: usize = 4;

/// Reads Okta whole under `scope`: users, groups, the members of the groups in scope,
/// the scope's app assignments, and one by one the users Identity Center manages that
/// the listing lacks (Okta lists no deactivated users). Every failure is a problem in
/// the answer.
pub async fn read_okta(okta: &dyn OktaDirectory, scope: &Scope, ic: &IcSide) -> OktaSide {
    let mut side = OktaSide::default();
    match okta.users().await {
        Ok(users) => side.users = users,
        Err(error) => side.problems.push(format!("listing users: {error}")),
    }
    match okta.groups().await {
        Ok(groups) => side.groups = groups,
        Err(error) => side.problems.push(format!("listing groups: {error}")),
    }
    let in_scope: Vec<String> = side
        .groups
        .iter()
        .filter(|g| crate::events::profile::group_in_scope(g, scope))
        .map(|g| g.id.clone())
        .collect();
    let reads: Vec<_> = stream::iter(in_scope)
        .map(|gid| async move {
            let members = okta.group_members(&gid).await;
            (gid, members)
        })
        .buffer_unordered(CONCURRENT_OKTA_READS)
        .collect()
        .await;
    for (gid, read) in reads {
        match read {
            Ok(Some(users)) => {
                side.members
                    .insert(gid, users.into_iter().map(|u| u.id).collect());
            }
            Ok(None) => side
                .problems
                .push(format!("group {gid} vanished while it was read")),
            Err(error) => side
                .problems
                .push(format!("listing the members of group {gid}: {error}")),
        }
    }
    if let Some(app) = &scope.app {
        match okta.app_user_ids(app).await {
            Ok(ids) => side.app_users = Some(ids.into_iter().collect()),
            Err(error) => side
                .problems
                .push(format!("listing the users assigned to app {app}: {error}")),
        }
    }
    if side.problems.is_empty() {
        let listed: HashSet<&str> = side.users.iter().map(|u| u.id.as_str()).collect();
        let missing: Vec<String> = ic
            .users
            .iter()
            .filter_map(|u| u.external_id())
            .filter(|e| plan::is_okta_user_id(e) && !listed.contains(e))
            .map(str::to_owned)
            .collect();
        let reads: Vec<_> = stream::iter(missing)
            .map(|id| async move {
                let user = okta.user(&id).await;
                (id, user)
            })
            .buffer_unordered(CONCURRENT_OKTA_READS)
            .collect()
            .await;
        for (id, read) in reads {
            match read {
                Ok(user) => {
                    side.looked_up.insert(id, user);
                }
                Err(error) => side.problems.push(format!("reading user {id}: {error}")),
            }
        }
    }
    side
}

/// What a plan took to make.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct PlanCost {
    /// HTTP requests to Identity Center, pages included.
    pub target_calls: u32,
    /// Users and groups read from Identity Center.
    pub target_resources: usize,
    /// Users and groups read from Okta.
    pub okta_resources: usize,
}

/// Reads both sides and plans: Identity Center first (its managed users tell which
/// deactivated Okta users to read one by one), then Okta, under the active rules.
/// `Err` only when the rules cannot be read: a failed read of either side is a plan
/// that says so and takes nothing away.
pub async fn make_plan(
    service: &ScimService,
    okta: &dyn OktaDirectory,
    safety: Safety,
    budget: std::time::Duration,
    now: time::OffsetDateTime,
) -> Result<(Plan, PlanCost), GatewayError> {
    let rules = service
        .active_rules()
        .await
        .ok_or_else(|| anyhow::anyhow!("the active rule set could not be read"))?;
    let scope = rules.rules().scope().cloned().unwrap_or_default();
    let (ic, target_calls) = service.snapshot(budget, true).await;
    let okta_side = read_okta(okta, &scope, &ic).await;
    let cost = PlanCost {
        target_calls,
        target_resources: ic.users.len() + ic.groups.len(),
        okta_resources: okta_side.users.len() + okta_side.groups.len(),
    };
    Ok((plan(&okta_side, &ic, &rules, safety, now), cost))
}

/// The context of a reconcile run's audit records.
pub fn reconcile_context(run: &str, credential: &str) -> RequestContext {
    RequestContext {
        actor: Actor {
            credential: credential.to_owned(),
        },
        correlation_id: run.to_owned(),
        base_url: String::new(),
        user_agent: None,
        source: AuditSource::Reconcile {
            run: run.to_owned(),
        },
        source_ip: None,
        request_id: None,
    }
}

/// Applies one change (re-reading what it changes first), with its audit record.
pub async fn apply_change(
    service: &ScimService,
    change: &Change,
    ctx: &RequestContext,
) -> Result<EventVerdict, GatewayError> {
    let convergence = convergence_of(change)?;
    service.converge(convergence, ctx, true).await
}

fn parse_user(value: &serde_json::Value) -> Result<User, GatewayError> {
    User::from_value(value.clone()).map_err(GatewayError::Invalid)
}

fn parse_group(value: &serde_json::Value) -> Result<Group, GatewayError> {
    Group::from_value(value.clone()).map_err(GatewayError::Invalid)
}

fn convergence_of(change: &Change) -> Result<Convergence, GatewayError> {
    let okta_id = change.okta_id.clone().unwrap_or_default();
    let present_user = |value: &Option<serde_json::Value>| -> Result<Option<User>, GatewayError> {
        value.as_ref().map(parse_user).transpose()
    };
    fn gone<T>(change: &Change, delete: bool) -> Desired<T> {
        Desired::Absent {
            delete,
            why: change.reason.clone(),
        }
    }
    Ok(match (change.resource_type, change.action) {
        (crate::service::ResourceKind::User, Action::Delete) => Convergence::User(Intent {
            okta_id,
            desired: gone(change, true),
        }),
        (crate::service::ResourceKind::User, _) => Convergence::User(Intent {
            okta_id,
            desired: match present_user(&change.desired)? {
                Some(user) => Desired::Present(Box::new(user)),
                None => gone(change, false),
            },
        }),
        (crate::service::ResourceKind::Group, Action::Delete) => Convergence::Group(Intent {
            okta_id,
            desired: gone(change, true),
        }),
        (crate::service::ResourceKind::Group, Action::AddMember | Action::RemoveMember) => {
            let member = change
                .member
                .as_ref()
                .ok_or_else(|| anyhow::anyhow!("a membership change without its member"))?;
            let group = change
                .desired
                .as_ref()
                .map(parse_group)
                .transpose()?
                .ok_or_else(|| anyhow::anyhow!("a membership change without its group"))?;
            Convergence::Membership {
                user: Intent {
                    okta_id: member.okta_id.clone(),
                    desired: match present_user(&change.desired_member)? {
                        Some(user) => Desired::Present(Box::new(user)),
                        None => gone(change, false),
                    },
                },
                group: Intent {
                    okta_id,
                    desired: Desired::Present(Box::new(group)),
                },
                member: change.action == Action::AddMember,
                // The plan makes each of the user's memberships a change of its own.
                also: Vec::new(),
            }
        }
        (crate::service::ResourceKind::Group, _) => Convergence::Group(Intent {
            okta_id,
            desired: match change.desired.as_ref().map(parse_group).transpose()? {
                Some(group) => Desired::Present(Box::new(group)),
                None => gone(change, false),
            },
        }),
    })
}
