//! The plan: which account assignments to create and delete so that Identity Center
//! matches an entitlement document, each with its reason, computed from what was read
//! ([`Observed`]). Pure and deterministic: the same inputs give the same plan and the
//! same [`Plan::id`].
//!
//! The safety rules are part of the computation:
//! - only assignments in the managed set (created by this gateway, or claimed by a
//!   document while they existed: imported) are ever deleted; Control Tower's and other
//!   tools' assignments are listed as left alone;
//! - any problem reading AWS withholds every deletion;
//! - a plan deleting more than the threshold (the reconcile breaker's: 10% of the
//!   managed assignments, once that is more than 5) is refused unless approved with its
//!   own id (`apply --approve PLAN_ID`).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use gateway::reconcile::plan::{DEFAULT_THRESHOLD_PERCENT, THRESHOLD_FLOOR};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::document::{Document, GroupRef, is_permission_set_arn};
use crate::state::{Assignment, Observed, Via};

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
        self.create.is_empty() && self.delete.is_empty()
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
    let ps_name: HashMap<&str, &str> = ic
        .permission_sets
        .iter()
        .map(|p| (p.arn.as_str(), p.name.as_str()))
        .collect();
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
            let arn = if is_permission_set_arn(reference) {
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
                .map_or_else(
                    || assignment.permission_set_arn.clone(),
                    |n| (*n).to_owned(),
                ),
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
    Document { grants }
}

fn reason(label: &str, via: &Via) -> String {
    format!("{label}: {via}")
}

/// The plan's id: the first 16 hex digits of a SHA-256 over its document version and
/// its sorted changes (reasons and names left out: they do not change what happens).
pub fn plan_id(plan: &Plan) -> String {
    let mut hash = Sha256::new();
    hash.update(plan.document_version.as_bytes());
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
            },
            managed: BTreeSet::new(),
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
