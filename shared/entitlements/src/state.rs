//! What a plan is computed from, as read from AWS: the organization (its OU tree,
//! accounts and their tags), Identity Center's groups and permission sets, and the
//! account assignments that exist now. The readers are in `aws_adapters`; this module
//! only holds what they answer, and resolves a grant's scope over the OU tree.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use crate::document::{PolicyReference, Scope};

/// An organizational unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgUnit {
    /// `ou-…`.
    pub id: String,
    /// Its parent: the root (`r-…`) or another OU.
    pub parent_id: String,
    /// Its name, for plans.
    pub name: String,
}

/// An account of the organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// 12 digits.
    pub id: String,
    /// Its name, for plans.
    pub name: String,
    /// Its parent: the root or an OU.
    pub parent_id: String,
    /// Its tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

/// The organization as read: one root, its OUs (any depth) and accounts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Organization {
    /// The root's id (`r-…`).
    pub root_id: String,
    /// Every OU, any depth.
    pub ous: Vec<OrgUnit>,
    /// Every active account.
    pub accounts: Vec<Account>,
}

/// Why an account is in a scope: the first thing of the scope that names it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "via", content = "id")]
pub enum Via {
    /// The organization root.
    Root,
    /// Named as an account.
    Account(String),
    /// In this OU, or below it (recursive).
    Ou(String),
    /// Directly in this OU.
    OuDirect(String),
    /// Its tags match.
    Tags(String),
}

impl std::fmt::Display for Via {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Root => write!(f, "root"),
            Self::Account(id) => write!(f, "account {id}"),
            Self::Ou(id) => write!(f, "ou {id} (recursive)"),
            Self::OuDirect(id) => write!(f, "ou {id} (direct)"),
            Self::Tags(tags) => write!(f, "tags {tags}"),
        }
    }
}

impl Organization {
    /// Each account's chain of parents up to the root (the account's own parent first).
    fn ancestors(&self) -> HashMap<&str, Vec<&str>> {
        let parent: HashMap<&str, &str> = self
            .ous
            .iter()
            .map(|ou| (ou.id.as_str(), ou.parent_id.as_str()))
            .collect();
        self.accounts
            .iter()
            .map(|account| {
                let mut chain = vec![account.parent_id.as_str()];
                // Bounded by the OU count: a cycle (impossible in Organizations, but
                // read data is data) cannot loop forever.
                while chain.len() <= self.ous.len() {
                    let Some(next) = chain.last().and_then(|last| parent.get(last)) else {
                        break;
                    };
                    chain.push(next);
                }
                (account.id.as_str(), chain)
            })
            .collect()
    }

    /// Whether the organization has this OU (or root).
    pub fn has_container(&self, id: &str) -> bool {
        id == self.root_id || self.ous.iter().any(|ou| ou.id == id)
    }

    /// The accounts `scope` names minus those `exclude` names, each with why it is in.
    pub fn resolve(&self, scope: &Scope, exclude: &Scope) -> BTreeMap<String, Via> {
        let ancestors = self.ancestors();
        let excluded: BTreeSet<&str> = self
            .accounts
            .iter()
            .filter(|a| matches(a, &ancestors, exclude).is_some())
            .map(|a| a.id.as_str())
            .collect();
        self.accounts
            .iter()
            .filter(|a| !excluded.contains(a.id.as_str()))
            .filter_map(|a| matches(a, &ancestors, scope).map(|via| (a.id.clone(), via)))
            .collect()
    }
}

/// Why `account` is in `scope`, or `None` when it is not.
fn matches(account: &Account, ancestors: &HashMap<&str, Vec<&str>>, scope: &Scope) -> Option<Via> {
    if scope.accounts.contains(&account.id) {
        return Some(Via::Account(account.id.clone()));
    }
    if let Some(ou) = scope.ous_direct.iter().find(|ou| **ou == account.parent_id) {
        return Some(Via::OuDirect(ou.clone()));
    }
    let chain = ancestors.get(account.id.as_str());
    if let Some(ou) = scope
        .ous
        .iter()
        .find(|ou| chain.is_some_and(|c| c.contains(&ou.as_str())))
    {
        return Some(Via::Ou(ou.clone()));
    }
    if !scope.tags.is_empty()
        && scope
            .tags
            .iter()
            .all(|(k, v)| account.tags.get(k).is_some_and(|have| have == v))
    {
        let shown = scope
            .tags
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",");
        return Some(Via::Tags(shown));
    }
    scope.root.then_some(Via::Root)
}

/// An Identity Center group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryGroup {
    /// Identity Center's id (the assignment's principal id).
    pub id: String,
    /// Its display name.
    pub display_name: String,
    /// Its `externalId` (Okta's group id for groups Okta pushes).
    #[serde(default)]
    pub external_id: Option<String>,
}

/// A permission set of the Identity Center instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PermissionSet {
    /// Its ARN.
    pub arn: String,
    /// Its name.
    pub name: String,
}

/// What a permission set holds, read for the permission sets a document defines.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PermissionSetDetails {
    /// Its description.
    #[serde(default)]
    pub description: Option<String>,
    /// Its session duration (ISO 8601).
    #[serde(default)]
    pub session_duration: Option<String>,
    /// Its AWS managed policies' ARNs.
    #[serde(default)]
    pub managed_policies: BTreeSet<String>,
    /// Its customer managed policy references.
    #[serde(default)]
    pub customer_managed_policies: BTreeSet<PolicyReference>,
    /// Its inline policy, parsed (`None` when it has none).
    #[serde(default)]
    pub inline_policy: Option<serde_json::Value>,
    /// How many accounts it is provisioned to: a change reaches them only once it is
    /// provisioned again.
    #[serde(default)]
    pub provisioned_accounts: usize,
}

/// One account assignment: a group given a permission set on an account.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Assignment {
    /// The account.
    pub account_id: String,
    /// The permission set's ARN.
    pub permission_set_arn: String,
    /// The Identity Center group's id.
    pub group_id: String,
}

impl std::fmt::Display for Assignment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} {}",
            self.group_id, self.permission_set_arn, self.account_id
        )
    }
}

/// Identity Center as read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityCenter {
    /// Every group (a plan resolves principals among them).
    pub groups: Vec<DirectoryGroup>,
    /// Every permission set.
    pub permission_sets: Vec<PermissionSet>,
    /// What the permission sets the document defines hold, by ARN (read only for those).
    #[serde(default)]
    pub permission_set_details: BTreeMap<String, PermissionSetDetails>,
    /// Group assignments of the groups read (those the document or the ledger name),
    /// as they exist now.
    pub assignments: Vec<Assignment>,
}

/// What a plan is computed from.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    /// The organization.
    pub organization: Organization,
    /// Identity Center.
    pub identity_center: IdentityCenter,
    /// The assignments this gateway manages: those it created, and those a document
    /// claimed that existed already (imported). No other assignment is ever deleted.
    pub managed: BTreeSet<Assignment>,
    /// The ARNs of the permission sets this gateway manages: those it created from a
    /// definition, and those a definition adopted (`adopt: true`). No other permission
    /// set is ever changed.
    pub managed_permission_sets: BTreeSet<String>,
    /// What could not be read; any problem withholds every deletion.
    pub problems: Vec<String>,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn org() -> Organization {
        // r-root ─ ou-a ─ ou-b ─ ou-c ─ 333…; 111… under ou-a; 222… under ou-b; 000… at root.
        let ou = |id: &str, parent: &str| OrgUnit {
            id: id.into(),
            parent_id: parent.into(),
            name: id.into(),
        };
        let account = |id: &str, parent: &str, tags: &[(&str, &str)]| Account {
            id: id.into(),
            name: id.into(),
            parent_id: parent.into(),
            tags: tags
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect(),
        };
        Organization {
            root_id: "r-root".into(),
            ous: vec![
                ou("ou-root-aaaaaaaa", "r-root"),
                ou("ou-root-bbbbbbbb", "ou-root-aaaaaaaa"),
                ou("ou-root-cccccccc", "ou-root-bbbbbbbb"),
            ],
            accounts: vec![
                account("000000000000", "r-root", &[]),
                account("111111111111", "ou-root-aaaaaaaa", &[("env", "prod")]),
                account(
                    "222222222222",
                    "ou-root-bbbbbbbb",
                    &[("env", "prod"), ("pci", "yes")],
                ),
                account("333333333333", "ou-root-cccccccc", &[("env", "dev")]),
            ],
        }
    }

    fn ids(resolved: &BTreeMap<String, Via>) -> Vec<&str> {
        resolved.keys().map(String::as_str).collect()
    }

    #[test]
    fn ous_are_recursive_unless_direct() {
        let org = org();
        let scope = |ous: &[&str], direct: &[&str]| Scope {
            ous: ous.iter().map(|s| (*s).into()).collect(),
            ous_direct: direct.iter().map(|s| (*s).into()).collect(),
            ..Scope::default()
        };
        let none = Scope::default();
        assert_eq!(
            ids(&org.resolve(&scope(&["ou-root-aaaaaaaa"], &[]), &none)),
            ["111111111111", "222222222222", "333333333333"]
        );
        assert_eq!(
            ids(&org.resolve(&scope(&[], &["ou-root-aaaaaaaa"]), &none)),
            ["111111111111"]
        );
        let resolved = org.resolve(&scope(&["ou-root-aaaaaaaa"], &[]), &none);
        assert_eq!(resolved["333333333333"], Via::Ou("ou-root-aaaaaaaa".into()));
    }

    #[test]
    fn tags_must_all_match_and_exclusions_win() {
        let org = org();
        let prod = Scope {
            tags: [("env".to_owned(), "prod".to_owned())].into(),
            ..Scope::default()
        };
        let pci = Scope {
            tags: [("pci".to_owned(), "yes".to_owned())].into(),
            ..Scope::default()
        };
        assert_eq!(
            ids(&org.resolve(&prod, &Scope::default())),
            ["111111111111", "222222222222"]
        );
        assert_eq!(ids(&org.resolve(&prod, &pci)), ["111111111111"]);
        let everything = Scope {
            root: true,
            ..Scope::default()
        };
        let nested = Scope {
            ous: vec!["ou-root-bbbbbbbb".into()],
            ..Scope::default()
        };
        assert_eq!(
            ids(&org.resolve(&everything, &nested)),
            ["000000000000", "111111111111"]
        );
    }
}
