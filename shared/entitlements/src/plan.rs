//! The plan: which account assignments to create and delete so that Identity Center
//! matches an entitlement document, each with its reason, computed from what was read
//! ([`Observed`]). Pure and deterministic: the same inputs give the same plan and the
//! same [`Plan::id`].
//!
//! Permission sets the document defines come first: each one missing is created, each
//! one managed that differs from its definition is brought in line (and provisioned
//! again to the accounts it is on), and the grants naming a permission set to be created
//! plan their assignments with a placeholder ARN ([`pending_arn`]) the apply fills in.
//!
//! The safety rules are part of the computation:
//! - only assignments in the managed set (created by this gateway, or claimed by a
//!   document while they existed: imported) are ever deleted; Control Tower's and other
//!   tools' assignments are listed as left alone;
//! - only permission sets in the managed set (created from a definition, or adopted by
//!   a definition's `adopt: true`) are ever changed; no permission set is ever deleted;
//! - any problem reading AWS withholds every deletion;
//! - a plan deleting more than the threshold (the reconcile breaker's: 10% of the
//!   managed assignments, once that is more than 5) is refused unless approved with its
//!   own id (`apply --approve PLAN_ID`).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use gateway::reconcile::plan::{DEFAULT_THRESHOLD_PERCENT, THRESHOLD_FLOOR};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::document::{
    Document, GroupRef, PermissionSetDefinition, PolicyReference, is_permission_set_arn,
    session_minutes,
};
use crate::state::{Assignment, Observed, PermissionSetDetails, Via};

/// The placeholder ARN of a permission set the plan creates: the apply puts the ARN
/// Identity Center answers in its place.
pub fn pending_arn(name: &str) -> String {
    format!("pending:permissionSet/{name}")
}

/// The name in a [`pending_arn`], if `arn` is one.
pub fn pending_name(arn: &str) -> Option<&str> {
    arn.strip_prefix("pending:permissionSet/")
}

/// One call that brings a permission set in line with its definition.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum PermissionSetStep {
    /// `CreatePermissionSet`.
    Create {
        /// Its description.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        description: Option<String>,
        /// Its session duration.
        session_duration: String,
    },
    /// `UpdatePermissionSet`: the description and session duration.
    Update {
        /// Its description.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        description: Option<String>,
        /// Its session duration.
        session_duration: String,
    },
    /// `AttachManagedPolicyToPermissionSet`.
    AttachManagedPolicy {
        /// The policy's ARN.
        arn: String,
    },
    /// `DetachManagedPolicyFromPermissionSet`.
    DetachManagedPolicy {
        /// The policy's ARN.
        arn: String,
    },
    /// `AttachCustomerManagedPolicyReferenceToPermissionSet`.
    AttachCustomerManagedPolicy {
        /// The reference.
        #[serde(flatten)]
        reference: PolicyReference,
    },
    /// `DetachCustomerManagedPolicyReferenceFromPermissionSet`.
    DetachCustomerManagedPolicy {
        /// The reference.
        #[serde(flatten)]
        reference: PolicyReference,
    },
    /// `PutInlinePolicyToPermissionSet`.
    PutInlinePolicy {
        /// The policy, as JSON text.
        policy: String,
    },
    /// `DeleteInlinePolicyFromPermissionSet`.
    DeleteInlinePolicy,
    /// `ProvisionPermissionSet` to every account it is provisioned to, so that the
    /// change reaches their roles.
    Provision {
        /// How many accounts it was on when planned.
        accounts: usize,
    },
}

impl std::fmt::Display for PermissionSetStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Create {
                session_duration, ..
            } => write!(f, "create (session {session_duration})"),
            Self::Update {
                session_duration, ..
            } => write!(f, "set description and session ({session_duration})"),
            Self::AttachManagedPolicy { arn } => write!(f, "attach {arn}"),
            Self::DetachManagedPolicy { arn } => write!(f, "detach {arn}"),
            Self::AttachCustomerManagedPolicy { reference } => {
                write!(
                    f,
                    "attach customer managed {}{}",
                    reference.path, reference.name
                )
            }
            Self::DetachCustomerManagedPolicy { reference } => {
                write!(
                    f,
                    "detach customer managed {}{}",
                    reference.path, reference.name
                )
            }
            Self::PutInlinePolicy { .. } => write!(f, "put the inline policy"),
            Self::DeleteInlinePolicy => write!(f, "delete the inline policy"),
            Self::Provision { accounts } => {
                write!(f, "provision again to its {accounts} accounts")
            }
        }
    }
}

/// A permission set the document defines, to create or to bring in line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PermissionSetChange {
    /// Its name.
    pub name: String,
    /// Its ARN; `None` when it is to be created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    /// The calls, in order.
    pub steps: Vec<PermissionSetStep>,
    /// Whether the apply records it as managed (created, or adopted).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub record_managed: bool,
    /// What it holds now (`None` when it does not exist), for the audit record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<serde_json::Value>,
    /// What it will hold.
    pub after: serde_json::Value,
    /// Why.
    pub reason: String,
}

/// One assignment to create, or to delete, and why.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Change {
    /// The assignment.
    #[serde(flatten)]
    pub assignment: Assignment,
    /// The group's display name, for people.
    pub group_name: String,
    /// The group's Okta id, when Okta pushes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub okta_group_id: Option<String>,
    /// The permission set's name, for people.
    pub permission_set_name: String,
    /// Why: the grant and what of its scope names the account, or why it goes.
    pub reason: String,
}

/// Why the plan is refused without an approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    /// Deletions planned.
    pub destructive: usize,
    /// Managed assignments.
    pub managed: usize,
    /// The most allowed without an approval.
    pub allowed: usize,
}

/// The breaker's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Safety {
    /// The share of managed assignments a plan may delete without an approval.
    pub threshold_percent: u32,
    /// The id of the plan the admin approved (`--approve PLAN_ID`), if any.
    pub approved_plan: Option<String>,
}

impl Default for Safety {
    fn default() -> Self {
        Self {
            threshold_percent: DEFAULT_THRESHOLD_PERCENT,
            approved_plan: None,
        }
    }
}

/// The plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// A digest of the document version and every change: `apply --approve` names it,
    /// and an apply recomputes it to see that nothing moved since.
    pub id: String,
    /// The document version it was computed from (`v3`).
    pub document_version: String,
    /// Permission sets the document defines, to create or bring in line: applied before
    /// the assignments.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub permission_sets: Vec<PermissionSetChange>,
    /// Assignments to create.
    pub create: Vec<Change>,
    /// Managed assignments to delete.
    pub delete: Vec<Change>,
    /// Assignments the document names that exist already but are not managed yet: the
    /// apply records them as managed (no API call).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub adopt: Vec<Assignment>,
    /// Managed assignments gone from Identity Center (deleted by hand) that the document
    /// no longer names: the apply forgets them (no API call).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forget: Vec<Assignment>,
    /// Assignments of the groups read that this gateway does not manage and the
    /// document does not name: never touched.
    pub left_alone: usize,
    /// Grants or parts of grants that could not be resolved (an unknown group,
    /// permission set or OU), each said once.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unresolved: Vec<String>,
    /// Why deletions were held back; empty when none were.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub withheld: Vec<String>,
    /// Set when the plan deletes more than the threshold allows and is not approved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<Refusal>,
}

impl Plan {
    /// Whether there is nothing to create or delete.
    pub fn is_empty(&self) -> bool {
        self.create.is_empty() && self.delete.is_empty() && self.permission_sets.is_empty()
    }
}

/// The group a [`GroupRef`] names among Identity Center's groups.
fn find_group<'a>(
    observed: &'a Observed,
    group: &GroupRef,
) -> Result<&'a crate::state::DirectoryGroup, String> {
    let groups = &observed.identity_center.groups;
    let found: Vec<_> = match group {
        GroupRef::OktaId(id) => groups
            .iter()
            .filter(|g| g.external_id.as_deref() == Some(id))
            .collect(),
        GroupRef::Name(name) => groups.iter().filter(|g| g.display_name == *name).collect(),
    };
    match found.as_slice() {
        [one] => Ok(one),
        [] => Err(format!(
            "{group}: Identity Center has no such group (not pushed from Okta yet?)"
        )),
        _ => Err(format!(
            "{group}: {} Identity Center groups match; refusing to guess",
            found.len()
        )),
    }
}

/// Computes the plan (see the module docs).
pub fn plan(
    document: &Document,
    document_version: &str,
    observed: &Observed,
    safety: &Safety,
) -> Plan {
    let ic = &observed.identity_center;
    let org = &observed.organization;
    let mut unresolved: BTreeSet<String> = BTreeSet::new();
    let (permission_sets, defined) = plan_permission_sets(document, observed, &mut unresolved);
    let mut ps_name: HashMap<String, String> = ic
        .permission_sets
        .iter()
        .map(|p| (p.arn.clone(), p.name.clone()))
        .collect();
    for change in &permission_sets {
        if change.arn.is_none() {
            ps_name.insert(pending_arn(&change.name), change.name.clone());
        }
    }
    let group_by_id: HashMap<&str, &crate::state::DirectoryGroup> =
        ic.groups.iter().map(|g| (g.id.as_str(), g)).collect();

    // Desired: every assignment the document names, with the first reason found.
    let mut desired: BTreeMap<Assignment, String> = BTreeMap::new();
    for (i, grant) in document.grants.iter().enumerate() {
        let label = grant
            .name
            .as_ref()
            .map_or_else(|| format!("grants[{i}]"), |n| format!("grant \"{n}\""));
        let group = match find_group(observed, &grant.group) {
            Ok(group) => group,
            Err(why) => {
                unresolved.insert(format!("{label}: {why}"));
                continue;
            }
        };
        for container in grant
            .scope
            .ous
            .iter()
            .chain(&grant.scope.ous_direct)
            .chain(&grant.exclude.ous)
            .chain(&grant.exclude.ous_direct)
        {
            if !org.has_container(container) {
                unresolved.insert(format!(
                    "{label}: the organization has no OU or root {container}"
                ));
            }
        }
        let accounts = org.resolve(&grant.scope, &grant.exclude);
        for reference in &grant.permission_sets {
            let arn = if let Some(resolved) = defined.get(reference.as_str()) {
                match resolved {
                    Some(arn) => Some(arn.clone()),
                    // Its definition is unresolved, and said so already.
                    None => continue,
                }
            } else if is_permission_set_arn(reference) {
                ps_name
                    .contains_key(reference.as_str())
                    .then(|| reference.clone())
            } else {
                ic.permission_sets
                    .iter()
                    .find(|p| p.name == *reference)
                    .map(|p| p.arn.clone())
            };
            let Some(arn) = arn else {
                unresolved.insert(format!(
                    "{label}: Identity Center has no permission set {reference}"
                ));
                continue;
            };
            for (account, via) in &accounts {
                desired
                    .entry(Assignment {
                        account_id: account.clone(),
                        permission_set_arn: arn.clone(),
                        group_id: group.id.clone(),
                    })
                    .or_insert_with(|| reason(&label, via));
            }
        }
    }

    let existing: BTreeSet<&Assignment> = ic.assignments.iter().collect();
    let change = |assignment: &Assignment, reason: String| {
        let group = group_by_id.get(assignment.group_id.as_str());
        Change {
            assignment: assignment.clone(),
            group_name: group
                .map_or_else(|| assignment.group_id.clone(), |g| g.display_name.clone()),
            okta_group_id: group.and_then(|g| g.external_id.clone()),
            permission_set_name: ps_name
                .get(assignment.permission_set_arn.as_str())
                .cloned()
                .unwrap_or_else(|| assignment.permission_set_arn.clone()),
            reason,
        }
    };
    let mut create = Vec::new();
    let mut adopt = Vec::new();
    for (assignment, why) in &desired {
        if !existing.contains(assignment) {
            create.push(change(assignment, why.clone()));
        } else if !observed.managed.contains(assignment) {
            adopt.push(assignment.clone());
        }
    }
    let mut delete = Vec::new();
    let mut forget = Vec::new();
    for assignment in &observed.managed {
        if desired.contains_key(assignment) {
            continue;
        }
        if existing.contains(assignment) {
            let why = if group_by_id.contains_key(assignment.group_id.as_str()) {
                "managed, and no grant names it any more"
            } else {
                "managed, and its group is gone from Identity Center"
            };
            delete.push(change(assignment, why.to_owned()));
        } else {
            forget.push(assignment.clone());
        }
    }
    let left_alone = ic
        .assignments
        .iter()
        .filter(|a| !observed.managed.contains(*a) && !desired.contains_key(*a))
        .count();

    let withheld = observed.problems.clone();
    if !withheld.is_empty() {
        delete.clear();
    }
    let mut plan = Plan {
        id: String::new(),
        document_version: document_version.to_owned(),
        permission_sets,
        create,
        delete,
        adopt,
        forget,
        left_alone,
        unresolved: unresolved.into_iter().collect(),
        withheld,
        refused: None,
    };
    plan.id = plan_id(&plan);
    let managed = observed.managed.len();
    let destructive = plan.delete.len();
    let allowed = managed * safety.threshold_percent as usize / 100;
    if destructive > THRESHOLD_FLOOR
        && destructive > allowed
        && safety.approved_plan.as_deref() != Some(plan.id.as_str())
    {
        plan.refused = Some(Refusal {
            destructive,
            managed,
            allowed: allowed.max(THRESHOLD_FLOOR),
        });
    }
    plan
}

/// The changes that bring the permission sets `document` defines in line, and what ARN
/// each defined name resolves to for the grants (`None`: its definition is unresolved).
fn plan_permission_sets<'a>(
    document: &'a Document,
    observed: &Observed,
    unresolved: &mut BTreeSet<String>,
) -> (Vec<PermissionSetChange>, HashMap<&'a str, Option<String>>) {
    let ic = &observed.identity_center;
    let mut changes = Vec::new();
    let mut defined = HashMap::new();
    for def in &document.permission_sets {
        let label = format!("permission set {}", def.name);
        let existing: Vec<_> = ic
            .permission_sets
            .iter()
            .filter(|p| p.name == def.name)
            .collect();
        let after = definition_value(def);
        let arn = match existing.as_slice() {
            [] => {
                let mut steps = vec![PermissionSetStep::Create {
                    description: def.description.clone(),
                    session_duration: def.session_duration.clone(),
                }];
                steps.extend(policy_steps(def, &PermissionSetDetails::default()));
                changes.push(PermissionSetChange {
                    name: def.name.clone(),
                    arn: None,
                    steps,
                    record_managed: true,
                    before: None,
                    after,
                    reason: "defined in the document, not in Identity Center".into(),
                });
                Some(pending_arn(&def.name))
            }
            [one] => {
                let managed = observed.managed_permission_sets.contains(&one.arn);
                match ic.permission_set_details.get(&one.arn) {
                    _ if !managed && !def.adopt => {
                        unresolved.insert(format!(
                            "{label}: exists and was not made by the gateway; add `adopt: true` \
                             to its definition to let the document manage it, or name it in \
                             grants without defining it"
                        ));
                        None
                    }
                    None => {
                        unresolved.insert(format!("{label}: what it holds could not be read"));
                        None
                    }
                    Some(details) => {
                        let mut steps = Vec::new();
                        let same_duration = details
                            .session_duration
                            .as_deref()
                            .and_then(session_minutes)
                            == session_minutes(&def.session_duration);
                        // No description in the definition leaves the one it has:
                        // `UpdatePermissionSet` changes only what it is given.
                        let same_description =
                            def.description.is_none() || details.description == def.description;
                        if !same_duration || !same_description {
                            steps.push(PermissionSetStep::Update {
                                description: def.description.clone(),
                                session_duration: def.session_duration.clone(),
                            });
                        }
                        steps.extend(policy_steps(def, details));
                        if !steps.is_empty() && details.provisioned_accounts > 0 {
                            steps.push(PermissionSetStep::Provision {
                                accounts: details.provisioned_accounts,
                            });
                        }
                        if !steps.is_empty() || !managed {
                            let what: Vec<String> = steps.iter().map(ToString::to_string).collect();
                            changes.push(PermissionSetChange {
                                name: def.name.clone(),
                                arn: Some(one.arn.clone()),
                                steps,
                                record_managed: !managed,
                                before: Some(details_value(details)),
                                after,
                                reason: match (managed, what.is_empty()) {
                                    (false, true) => {
                                        "adopted: it matches its definition already".into()
                                    }
                                    (false, false) => format!(
                                        "adopted, and it differs from its definition: {}",
                                        what.join("; ")
                                    ),
                                    _ => {
                                        format!("differs from its definition: {}", what.join("; "))
                                    }
                                },
                            });
                        }
                        Some(one.arn.clone())
                    }
                }
            }
            many => {
                unresolved.insert(format!(
                    "{label}: {} permission sets have this name; refusing to guess",
                    many.len()
                ));
                None
            }
        };
        defined.insert(def.name.as_str(), arn);
    }
    (changes, defined)
}

/// The policy calls from `details` to `def`: detachments first, so a permission set
/// never holds more than either version grants.
fn policy_steps(
    def: &PermissionSetDefinition,
    details: &PermissionSetDetails,
) -> Vec<PermissionSetStep> {
    let mut steps = Vec::new();
    let wanted: BTreeSet<&String> = def.managed_policies.iter().collect();
    for arn in &details.managed_policies {
        if !wanted.contains(arn) {
            steps.push(PermissionSetStep::DetachManagedPolicy { arn: arn.clone() });
        }
    }
    let wanted_refs: BTreeSet<&PolicyReference> = def.customer_managed_policies.iter().collect();
    for reference in &details.customer_managed_policies {
        if !wanted_refs.contains(reference) {
            steps.push(PermissionSetStep::DetachCustomerManagedPolicy {
                reference: reference.clone(),
            });
        }
    }
    let inline = def.inline_policy.as_ref().and_then(|p| p.value().ok());
    if inline.is_none() && details.inline_policy.is_some() {
        steps.push(PermissionSetStep::DeleteInlinePolicy);
    }
    for arn in wanted {
        if !details.managed_policies.contains(arn) {
            steps.push(PermissionSetStep::AttachManagedPolicy { arn: arn.clone() });
        }
    }
    for reference in wanted_refs {
        if !details.customer_managed_policies.contains(reference) {
            steps.push(PermissionSetStep::AttachCustomerManagedPolicy {
                reference: reference.clone(),
            });
        }
    }
    if let Some(policy) = inline
        && details.inline_policy.as_ref() != Some(&policy)
    {
        steps.push(PermissionSetStep::PutInlinePolicy {
            policy: policy.to_string(),
        });
    }
    steps
}

/// A definition as the audit record shows it.
fn definition_value(def: &PermissionSetDefinition) -> serde_json::Value {
    let mut managed = def.managed_policies.clone();
    managed.sort();
    let mut customer = def.customer_managed_policies.clone();
    customer.sort();
    serde_json::json!({
        "description": def.description,
        "session_duration": def.session_duration,
        "managed_policies": managed,
        "customer_managed_policies": customer,
        "inline_policy": def.inline_policy.as_ref().and_then(|p| p.value().ok()),
    })
}

/// What a permission set holds, in the shape of [`definition_value`].
fn details_value(details: &PermissionSetDetails) -> serde_json::Value {
    serde_json::json!({
        "description": details.description,
        "session_duration": details.session_duration,
        "managed_policies": details.managed_policies,
        "customer_managed_policies": details.customer_managed_policies,
        "inline_policy": details.inline_policy,
    })
}

/// A document claiming the assignments that exist now (`scimgw entitlements import`):
/// one grant per group and permission set, scoped to its accounts, for each group
/// `include` accepts (by default the groups Okta pushes). Applied, its plan creates and
/// deletes nothing and adopts every one of them as managed.
pub fn import(
    observed: &Observed,
    include: impl Fn(&crate::state::DirectoryGroup) -> bool,
) -> Document {
    let ic = &observed.identity_center;
    let groups: HashMap<&str, &crate::state::DirectoryGroup> =
        ic.groups.iter().map(|g| (g.id.as_str(), g)).collect();
    let mut by_pair: BTreeMap<(&str, &str), Vec<String>> = BTreeMap::new();
    for a in &ic.assignments {
        if groups.get(a.group_id.as_str()).is_some_and(|g| include(g)) {
            by_pair
                .entry((a.group_id.as_str(), a.permission_set_arn.as_str()))
                .or_default()
                .push(a.account_id.clone());
        }
    }
    let grants = by_pair
        .into_iter()
        .filter_map(|((group_id, arn), mut accounts)| {
            let group = groups.get(group_id)?;
            let group_ref = match &group.external_id {
                Some(id) if crate::document::is_okta_group_id(id) => GroupRef::OktaId(id.clone()),
                _ => GroupRef::Name(group.display_name.clone()),
            };
            // By name when the name is unique, so the document reads as people write it.
            let named = ic
                .permission_sets
                .iter()
                .find(|p| p.arn == arn)
                .map(|p| &p.name);
            let permission_set = match named {
                Some(name)
                    if ic
                        .permission_sets
                        .iter()
                        .filter(|q| q.name == *name)
                        .count()
                        == 1 =>
                {
                    name.clone()
                }
                _ => arn.to_owned(),
            };
            accounts.sort();
            accounts.dedup();
            Some(crate::document::Grant {
                name: None,
                group: group_ref,
                permission_sets: vec![permission_set],
                scope: crate::document::Scope {
                    accounts,
                    ..Default::default()
                },
                exclude: Default::default(),
            })
        })
        .collect();
    Document {
        permission_sets: Vec::new(),
        grants,
    }
}

fn reason(label: &str, via: &Via) -> String {
    format!("{label}: {via}")
}

/// The plan's id: the first 16 hex digits of a SHA-256 over its document version and
/// its sorted changes (reasons and names left out: they do not change what happens).
pub fn plan_id(plan: &Plan) -> String {
    let mut hash = Sha256::new();
    hash.update(plan.document_version.as_bytes());
    for change in &plan.permission_sets {
        hash.update(format!(
            "\npermission-set {} {} {}",
            change.name,
            change.arn.as_deref().unwrap_or("-"),
            change.record_managed
        ));
        for step in &change.steps {
            hash.update(serde_json::to_string(step).unwrap_or_default());
        }
    }
    for (tag, list) in [
        (
            "create",
            plan.create
                .iter()
                .map(|c| &c.assignment)
                .collect::<Vec<_>>(),
        ),
        (
            "delete",
            plan.delete.iter().map(|c| &c.assignment).collect(),
        ),
        ("adopt", plan.adopt.iter().collect()),
        ("forget", plan.forget.iter().collect()),
    ] {
        let mut list = list;
        list.sort();
        for a in list {
            hash.update(format!(
                "\n{tag} {} {} {}",
                a.account_id, a.permission_set_arn, a.group_id
            ));
        }
    }
    hash.finalize()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use proptest::prelude::*;

    use super::*;
    use crate::state::{
        Account, DirectoryGroup, IdentityCenter, OrgUnit, Organization, PermissionSet,
        PermissionSetDetails,
    };

    const ADMINS: &str = "00gadmins00000000000";
    const ADMIN_PS: &str = "arn:aws:sso:::permissionSet/ssoins-1/ps-admin";
    const RO_PS: &str = "arn:aws:sso:::permissionSet/ssoins-1/ps-ro";

    fn observed(accounts: usize) -> Observed {
        Observed {
            organization: Organization {
                root_id: "r-root".into(),
                ous: vec![
                    OrgUnit {
                        id: "ou-root-prod0000".into(),
                        parent_id: "r-root".into(),
                        name: "prod".into(),
                    },
                    OrgUnit {
                        id: "ou-root-apps0000".into(),
                        parent_id: "ou-root-prod0000".into(),
                        name: "apps".into(),
                    },
                ],
                accounts: (0..accounts)
                    .map(|i| Account {
                        id: format!("{:012}", i + 1),
                        name: format!("acct{i}"),
                        parent_id: if i % 2 == 0 {
                            "ou-root-apps0000"
                        } else {
                            "r-root"
                        }
                        .into(),
                        tags: BTreeMap::new(),
                    })
                    .collect(),
            },
            identity_center: IdentityCenter {
                groups: vec![
                    DirectoryGroup {
                        id: "g-admins".into(),
                        display_name: "Admins".into(),
                        external_id: Some(ADMINS.into()),
                    },
                    DirectoryGroup {
                        id: "g-ct".into(),
                        display_name: "AWSControlTowerAdmins".into(),
                        external_id: None,
                    },
                ],
                permission_sets: vec![
                    PermissionSet {
                        arn: ADMIN_PS.into(),
                        name: "AdministratorAccess".into(),
                    },
                    PermissionSet {
                        arn: RO_PS.into(),
                        name: "ReadOnly".into(),
                    },
                ],
                assignments: Vec::new(),
                permission_set_details: BTreeMap::new(),
            },
            managed: BTreeSet::new(),
            managed_permission_sets: BTreeSet::new(),
            problems: Vec::new(),
        }
    }

    fn doc(text: &str) -> Document {
        Document::load(text).unwrap()
    }

    fn admins_on_prod() -> Document {
        doc(&format!(
            "grants: [{{ name: prod, group: {{ okta_id: {ADMINS} }}, permission_sets: [AdministratorAccess], scope: {{ ous: [ou-root-prod0000] }} }}]"
        ))
    }

    /// Applies a plan to the observed state, as a successful apply would.
    fn applied(mut observed: Observed, plan: &Plan) -> Observed {
        let ic = &mut observed.identity_center.assignments;
        for c in &plan.create {
            ic.push(c.assignment.clone());
            observed.managed.insert(c.assignment.clone());
        }
        for c in &plan.delete {
            ic.retain(|a| *a != c.assignment);
            observed.managed.remove(&c.assignment);
        }
        observed.managed.extend(plan.adopt.iter().cloned());
        for a in &plan.forget {
            observed.managed.remove(a);
        }
        observed
    }

    #[test]
    fn a_grant_on_an_ou_creates_one_assignment_per_nested_account_with_its_reason() {
        let observed = observed(4);
        let plan = plan(&admins_on_prod(), "v1", &observed, &Safety::default());
        let accounts: Vec<&str> = plan
            .create
            .iter()
            .map(|c| c.assignment.account_id.as_str())
            .collect();
        assert_eq!(accounts, ["000000000001", "000000000003"]);
        assert_eq!(
            plan.create[0].reason,
            "grant \"prod\": ou ou-root-prod0000 (recursive)"
        );
        assert_eq!(plan.create[0].okta_group_id.as_deref(), Some(ADMINS));
        assert!(plan.delete.is_empty() && plan.unresolved.is_empty());
    }

    #[test]
    fn unmanaged_assignments_are_never_deleted_and_managed_ones_are() {
        let mut observed = observed(2);
        let control_tower = Assignment {
            account_id: "000000000001".into(),
            permission_set_arn: ADMIN_PS.into(),
            group_id: "g-ct".into(),
        };
        let ours = Assignment {
            account_id: "000000000002".into(),
            permission_set_arn: RO_PS.into(),
            group_id: "g-admins".into(),
        };
        observed.identity_center.assignments = vec![control_tower.clone(), ours.clone()];
        observed.managed.insert(ours.clone());
        let plan = plan(&doc("grants: []"), "v2", &observed, &Safety::default());
        assert_eq!(plan.delete.len(), 1);
        assert_eq!(plan.delete[0].assignment, ours);
        assert_eq!(plan.left_alone, 1);
    }

    #[test]
    fn a_read_problem_withholds_deletions() {
        let mut observed = observed(2);
        let ours = Assignment {
            account_id: "000000000002".into(),
            permission_set_arn: RO_PS.into(),
            group_id: "g-admins".into(),
        };
        observed.identity_center.assignments = vec![ours.clone()];
        observed.managed.insert(ours);
        observed.problems.push("listing accounts: throttled".into());
        let plan = plan(&doc("grants: []"), "v2", &observed, &Safety::default());
        assert!(plan.delete.is_empty());
        assert_eq!(plan.withheld, ["listing accounts: throttled"]);
    }

    #[test]
    fn a_mass_deletion_needs_the_approval_of_that_very_plan() {
        let mut observed = observed(20);
        let first = plan(&admins_on_prod(), "v1", &observed, &Safety::default());
        observed = applied(observed, &first);
        assert_eq!(observed.managed.len(), 10);
        let empty = doc("grants: []");
        let refused = plan(&empty, "v2", &observed, &Safety::default());
        assert_eq!(
            refused.refused,
            Some(Refusal {
                destructive: 10,
                managed: 10,
                allowed: 5
            })
        );
        let wrong = Safety {
            approved_plan: Some(first.id.clone()),
            ..Safety::default()
        };
        assert!(plan(&empty, "v2", &observed, &wrong).refused.is_some());
        let approved = Safety {
            approved_plan: Some(refused.id.clone()),
            ..Safety::default()
        };
        let approved = plan(&empty, "v2", &observed, &approved);
        assert_eq!(approved.refused, None);
        assert_eq!(approved.id, refused.id);
    }

    #[test]
    fn unknown_groups_permission_sets_and_ous_are_said_not_guessed() {
        let observed = observed(2);
        let plan = plan(
            &doc(
                "grants:\n- { group: { okta_id: 00gnotpushed00000000 }, permission_sets: [ReadOnly], scope: { root: true } }\n- { name: x, group: { name: Admins }, permission_sets: [Nope, ReadOnly], scope: { ous: [ou-root-gone0000] } }",
            ),
            "v1",
            &observed,
            &Safety::default(),
        );
        assert_eq!(
            plan.unresolved,
            [
                "grant \"x\": Identity Center has no permission set Nope",
                "grant \"x\": the organization has no OU or root ou-root-gone0000",
                "grants[0]: okta group 00gnotpushed00000000: Identity Center has no such group (not pushed from Okta yet?)",
            ]
        );
        assert!(plan.is_empty());
    }

    #[test]
    fn a_renamed_group_keeps_its_assignments() {
        let observed0 = observed(2);
        let first = plan(&admins_on_prod(), "v1", &observed0, &Safety::default());
        let mut observed1 = applied(observed0, &first);
        observed1.identity_center.groups[0].display_name = "Admins (renamed in Okta)".into();
        let again = plan(&admins_on_prod(), "v1", &observed1, &Safety::default());
        assert!(again.is_empty(), "{again:?}");
    }

    fn defining(adopt: bool) -> Document {
        doc(&format!(
            "permission_sets:\n\
             - name: ReadOnly\n  adopt: {adopt}\n  session_duration: PT2H\n  managed_policies: [arn:aws:iam::aws:policy/ReadOnlyAccess]\n\
             - name: DataReader\n  customer_managed_policies: [{{ name: Boundary, path: /data/ }}]\n\
             grants: [{{ group: {{ okta_id: {ADMINS} }}, permission_sets: [ReadOnly, DataReader], scope: {{ accounts: ['000000000001'] }} }}]"
        ))
    }

    #[test]
    fn a_definition_never_takes_over_a_permission_set_it_did_not_make_unless_it_adopts_it() {
        let mut observed = observed(2);
        observed.identity_center.permission_set_details.insert(
            RO_PS.into(),
            PermissionSetDetails {
                session_duration: Some("PT1H".into()),
                provisioned_accounts: 3,
                ..PermissionSetDetails::default()
            },
        );
        let refused = plan(&defining(false), "v1", &observed, &Safety::default());
        assert_eq!(
            refused.unresolved,
            [
                "permission set ReadOnly: exists and was not made by the gateway; add `adopt: \
              true` to its definition to let the document manage it, or name it in grants \
              without defining it"
            ]
        );
        // DataReader is created; its assignment waits for the ARN; ReadOnly's grant waits.
        let names: Vec<&str> = refused
            .permission_sets
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(names, ["DataReader"]);
        let arns: Vec<&str> = refused
            .create
            .iter()
            .map(|c| c.assignment.permission_set_arn.as_str())
            .collect();
        assert_eq!(arns, ["pending:permissionSet/DataReader"]);
        assert_eq!(refused.create[0].permission_set_name, "DataReader");

        let adopted = plan(&defining(true), "v1", &observed, &Safety::default());
        assert!(adopted.unresolved.is_empty());
        let change = &adopted.permission_sets[0];
        assert_eq!(
            (change.name.as_str(), change.arn.as_deref()),
            ("ReadOnly", Some(RO_PS))
        );
        assert!(change.record_managed);
        assert_eq!(
            change.steps,
            [
                PermissionSetStep::Update {
                    description: None,
                    session_duration: "PT2H".into()
                },
                PermissionSetStep::AttachManagedPolicy {
                    arn: "arn:aws:iam::aws:policy/ReadOnlyAccess".into()
                },
                PermissionSetStep::Provision { accounts: 3 },
            ]
        );
        assert_eq!(adopted.create.len(), 2);
        assert_ne!(adopted.id, refused.id);
    }

    #[test]
    fn a_managed_permission_set_in_line_with_its_definition_plans_nothing() {
        let mut observed = observed(2);
        observed.managed_permission_sets.insert(RO_PS.into());
        let details = |duration: &str, inline: Option<serde_json::Value>| PermissionSetDetails {
            description: Some("kept: the definition gives none".into()),
            session_duration: Some(duration.into()),
            managed_policies: ["arn:aws:iam::aws:policy/ReadOnlyAccess".to_owned()].into(),
            inline_policy: inline,
            ..PermissionSetDetails::default()
        };
        let document = doc(&format!(
            "permission_sets: [{{ name: ReadOnly, session_duration: PT120M, managed_policies: [arn:aws:iam::aws:policy/ReadOnlyAccess] }}]\n\
             grants: [{{ group: {{ okta_id: {ADMINS} }}, permission_sets: [ReadOnly], scope: {{ accounts: ['000000000001'] }} }}]"
        ));
        // PT2H is PT120M; no inline policy in the definition removes the one it has.
        observed.identity_center.permission_set_details.insert(
            RO_PS.into(),
            details("PT2H", Some(serde_json::json!({"Version": "2012-10-17"}))),
        );
        let first = plan(&document, "v1", &observed, &Safety::default());
        assert_eq!(first.permission_sets.len(), 1);
        assert_eq!(
            first.permission_sets[0].steps,
            [PermissionSetStep::DeleteInlinePolicy]
        );
        assert!(!first.permission_sets[0].record_managed);
        observed
            .identity_center
            .permission_set_details
            .insert(RO_PS.into(), details("PT2H", None));
        let observed = applied(observed, &first);
        assert!(plan(&document, "v1", &observed, &Safety::default()).is_empty());
    }

    proptest! {
        /// Whatever the document and the starting state, applying the plan converges:
        /// the next plan is empty, and no unmanaged assignment was ever deleted.
        #[test]
        fn plans_converge_and_never_touch_the_unmanaged(
            grants in proptest::collection::vec((0usize..2, 0usize..2, 0usize..3), 0..6),
            accounts in 1usize..12,
            foreign in proptest::collection::vec((0usize..12, 0usize..2), 0..6),
        ) {
            let mut observed = observed(accounts);
            let foreign: Vec<Assignment> = foreign
                .into_iter()
                .filter(|(a, _)| *a < accounts)
                .map(|(a, p)| Assignment {
                    account_id: format!("{:012}", a + 1),
                    permission_set_arn: [ADMIN_PS, RO_PS][p].into(),
                    group_id: "g-ct".into(),
                })
                .collect();
            observed.identity_center.assignments = foreign.clone();
            let mut text = String::from("grants:\n");
            for (g, p, s) in grants {
                let group = ["{ okta_id: 00gadmins00000000000 }", "{ name: AWSControlTowerAdmins }"][g];
                let ps = ["AdministratorAccess", "ReadOnly"][p];
                let scope = ["{ root: true }", "{ ous: [ou-root-prod0000] }", "{ accounts: ['000000000001'] }"][s];
                text.push_str(&format!("- {{ group: {group}, permission_sets: [{ps}], scope: {scope} }}\n"));
            }
            let document = doc(&text);
            let first = plan(&document, "v1", &observed, &Safety::default());
            let observed = applied(observed, &first);
            let second = plan(&document, "v1", &observed, &Safety::default());
            prop_assert!(second.is_empty());
            prop_assert!(second.adopt.is_empty());
            // Emptying the document deletes only what is managed.
            let emptied = plan(&doc("grants: []"), "v2", &observed, &Safety { threshold_percent: 100, approved_plan: None });
            for change in &emptied.delete {
                prop_assert!(observed.managed.contains(&change.assignment));
            }
            let after = applied(observed, &emptied);
            for a in &foreign {
                let adopted = first.adopt.contains(a);
                prop_assert!(adopted || after.identity_center.assignments.contains(a));
            }
        }
    }
}
