//! The entitlement document (YAML, `docs/entitlements.md`): a list of grants, each giving
//! one group one or more permission sets on a scope of accounts, and its validation.
//!
//! ```yaml
//! grants:
//!   - name: prod-admins
//!     group: { okta_id: 00g1prodadmins000000 }
//!     permission_sets: [AdministratorAccess]
//!     scope:
//!       ous: [ou-ab12-prod0000]          # recursive: nested OUs included
//!     exclude:
//!       tags: { break-glass: "true" }
//! ```
//!
//! [`Document::load`] reports every problem at once, each with where it is
//! (`grants[2].scope.ous[0]`), and never panics on any input.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

/// The largest document, in bytes (the store keeps up to 128 KiB).
pub const MAX_DOCUMENT_BYTES: usize = 96 * 1024;

/// The most grants in one document.
pub const MAX_GRANTS: usize = 500;

/// The most entries in one list (permission sets, accounts, OUs, tags) of a grant.
pub const MAX_LIST_ENTRIES: usize = 1000;

/// A loaded, valid document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Document {
    /// The grants, in document order.
    #[serde(default)]
    pub grants: Vec<Grant>,
}

/// One group, one or more permission sets, one scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grant {
    /// A label for plans and errors; unique in the document when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Who gets access.
    pub group: GroupRef,
    /// Which permission sets, by name or ARN.
    pub permission_sets: Vec<String>,
    /// Where.
    pub scope: Scope,
    /// Where not, even when the scope says so.
    #[serde(default, skip_serializing_if = "Scope::is_empty")]
    pub exclude: Scope,
}

/// A group: by its Okta id (matched against the Identity Center group's `externalId`,
/// so a rename in Okta changes nothing), or by its Identity Center display name for
/// groups Okta does not push.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "GroupSpec", into = "GroupSpec")]
pub enum GroupRef {
    /// An Okta group id (`00g…`).
    OktaId(String),
    /// An Identity Center group's display name (exact).
    Name(String),
}

/// A group as written: `{ okta_id: … }` or `{ name: … }`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    okta_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
}

impl TryFrom<GroupSpec> for GroupRef {
    type Error = String;

    fn try_from(spec: GroupSpec) -> Result<Self, String> {
        match (spec.okta_id, spec.name) {
            (Some(id), None) => Ok(Self::OktaId(id)),
            (None, Some(name)) => Ok(Self::Name(name)),
            _ => Err("a group is `{ okta_id: 00g… }` or `{ name: … }`, exactly one".into()),
        }
    }
}

impl From<GroupRef> for GroupSpec {
    fn from(group: GroupRef) -> Self {
        match group {
            GroupRef::OktaId(id) => Self {
                okta_id: Some(id),
                ..Self::default()
            },
            GroupRef::Name(name) => Self {
                name: Some(name),
                ..Self::default()
            },
        }
    }
}

impl fmt::Display for GroupRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OktaId(id) => write!(f, "okta group {id}"),
            Self::Name(name) => write!(f, "group \"{name}\""),
        }
    }
}

/// A set of accounts: the union of what each field names.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scope {
    /// Every account of the organization.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub root: bool,
    /// Account ids (12 digits).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accounts: Vec<String>,
    /// OU ids; the accounts in them and in every OU nested below.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ous: Vec<String>,
    /// OU ids; only the accounts directly in them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ous_direct: Vec<String>,
    /// Accounts carrying every one of these tags (key: value, exact).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

impl Scope {
    /// Whether the scope names nothing.
    pub fn is_empty(&self) -> bool {
        !self.root
            && self.accounts.is_empty()
            && self.ous.is_empty()
            && self.ous_direct.is_empty()
            && self.tags.is_empty()
    }
}

/// One thing wrong with a document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// Where: `grants[2].scope.ous[0]`, or `document` for the whole.
    pub at: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.at, self.message)
    }
}

/// A document that does not load: every problem found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the entitlement document is invalid ({} problems)", .problems.len())]
pub struct Invalid {
    /// Every problem, in document order.
    pub problems: Vec<Problem>,
}

impl Document {
    /// Parses and checks a document.
    pub fn load(text: &str) -> Result<Self, Invalid> {
        let invalid = |at: &str, message: String| Invalid {
            problems: vec![Problem {
                at: at.to_owned(),
                message,
            }],
        };
        if text.len() > MAX_DOCUMENT_BYTES {
            return Err(invalid(
                "document",
                format!(
                    "{} bytes; at most {MAX_DOCUMENT_BYTES} are allowed",
                    text.len()
                ),
            ));
        }
        if text.trim().is_empty() {
            return Ok(Self { grants: Vec::new() });
        }
        let document: Self = serde_norway::from_str(text)
            .map_err(|e| invalid("document", format!("not an entitlement document: {e}")))?;
        let problems = document.problems();
        if problems.is_empty() {
            Ok(document)
        } else {
            Err(Invalid { problems })
        }
    }

    /// The document as YAML (what `scimgw entitlements import` writes).
    pub fn to_yaml(&self) -> String {
        serde_norway::to_string(self).unwrap_or_default()
    }

    fn problems(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        let mut push = |at: String, message: String| problems.push(Problem { at, message });
        if self.grants.len() > MAX_GRANTS {
            push(
                "grants".into(),
                format!(
                    "{} grants; at most {MAX_GRANTS} are allowed",
                    self.grants.len()
                ),
            );
        }
        let mut names = BTreeSet::new();
        for (i, grant) in self.grants.iter().enumerate() {
            let at = format!("grants[{i}]");
            if let Some(name) = &grant.name {
                if name.trim().is_empty() || name.chars().count() > 64 {
                    push(format!("{at}.name"), "1 to 64 characters".into());
                } else if !names.insert(name.as_str()) {
                    push(
                        format!("{at}.name"),
                        format!("\"{name}\" names another grant too"),
                    );
                }
            }
            match &grant.group {
                GroupRef::OktaId(id) if !is_okta_group_id(id) => push(
                    format!("{at}.group.okta_id"),
                    format!(
                        "\"{}\" is not an Okta group id (00g and 17 letters or digits)",
                        clip(id)
                    ),
                ),
                GroupRef::Name(name) if name.trim().is_empty() || name.chars().count() > 1024 => {
                    push(format!("{at}.group.name"), "1 to 1024 characters".into())
                }
                _ => {}
            }
            if grant.permission_sets.is_empty() {
                push(
                    format!("{at}.permission_sets"),
                    "names no permission set".into(),
                );
            }
            check_len(
                &mut push,
                &format!("{at}.permission_sets"),
                grant.permission_sets.len(),
            );
            for (j, ps) in grant.permission_sets.iter().enumerate() {
                if !is_permission_set_ref(ps) {
                    push(
                        format!("{at}.permission_sets[{j}]"),
                        format!(
                            "\"{}\" is neither a permission set name (1 to 32 of letters, \
                             digits and +=,.@-) nor a permission set ARN",
                            clip(ps)
                        ),
                    );
                }
            }
            if grant.scope.is_empty() {
                push(
                    format!("{at}.scope"),
                    "names no account (give root, accounts, ous, ous_direct or tags)".into(),
                );
            }
            check_scope(&mut push, &format!("{at}.scope"), &grant.scope);
            check_scope(&mut push, &format!("{at}.exclude"), &grant.exclude);
        }
        problems
    }
}

fn check_len(push: &mut impl FnMut(String, String), at: &str, len: usize) {
    if len > MAX_LIST_ENTRIES {
        push(
            at.to_owned(),
            format!("{len} entries; at most {MAX_LIST_ENTRIES} are allowed"),
        );
    }
}

fn check_scope(push: &mut impl FnMut(String, String), at: &str, scope: &Scope) {
    for (field, list) in [
        ("accounts", &scope.accounts),
        ("ous", &scope.ous),
        ("ous_direct", &scope.ous_direct),
    ] {
        check_len(push, &format!("{at}.{field}"), list.len());
        for (k, value) in list.iter().enumerate() {
            let ok = match field {
                "accounts" => is_account_id(value),
                _ => is_ou_id(value) || is_root_id(value),
            };
            if !ok {
                let expected = match field {
                    "accounts" => "an account id (12 digits)",
                    _ => "an OU id (ou-…) or a root id (r-…)",
                };
                push(
                    format!("{at}.{field}[{k}]"),
                    format!("\"{}\" is not {expected}", clip(value)),
                );
            }
        }
    }
    check_len(push, &format!("{at}.tags"), scope.tags.len());
    for (key, value) in &scope.tags {
        // Organizations' tag limits: keys 1-128, values 0-256 characters.
        if key.is_empty() || key.chars().count() > 128 || value.chars().count() > 256 {
            push(
                format!("{at}.tags.{}", clip(key)),
                "tag keys are 1 to 128 characters, values at most 256".into(),
            );
        }
    }
}

/// At most 64 characters of a value, for messages.
fn clip(text: &str) -> String {
    text.chars().take(64).collect()
}

/// Whether `id` is an Okta group id (`00g` and 17 letters or digits), as the reconcile
/// plan reads `externalId`s.
pub fn is_okta_group_id(id: &str) -> bool {
    gateway::reconcile::plan::is_okta_group_id(id)
}

/// Whether `id` is an AWS account id: 12 digits.
pub fn is_account_id(id: &str) -> bool {
    id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit())
}

/// Whether `id` reads as an OU id: `ou-` then 4-32 lowercase letters or digits, `-`, then
/// 8-32 (the Organizations API's pattern).
pub fn is_ou_id(id: &str) -> bool {
    let Some(rest) = id.strip_prefix("ou-") else {
        return false;
    };
    let Some((root, ou)) = rest.split_once('-') else {
        return false;
    };
    let lower = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    };
    (4..=32).contains(&root.len()) && (8..=32).contains(&ou.len()) && lower(root) && lower(ou)
}

/// Whether `id` reads as a root id: `r-` then 4-32 lowercase letters or digits.
pub fn is_root_id(id: &str) -> bool {
    id.strip_prefix("r-").is_some_and(|r| {
        (4..=32).contains(&r.len())
            && r.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    })
}

/// Whether `text` is a permission set ARN (`arn:<partition>:sso:::permissionSet/…`).
pub fn is_permission_set_arn(text: &str) -> bool {
    text.starts_with("arn:") && text.contains(":sso:::permissionSet/")
}

/// A permission set name (1-32 of `[\w+=,.@-]`, the SSO Admin API's pattern) or ARN.
fn is_permission_set_ref(text: &str) -> bool {
    is_permission_set_arn(text)
        || (!text.is_empty()
            && text.chars().count() <= 32
            && text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_full_document_loads() {
        let doc = Document::load(
            "grants:\n\
             - name: prod-admins\n  group: { okta_id: 00g1prodadmins000000 }\n  permission_sets: [AdministratorAccess]\n  scope: { ous: [ou-ab12-prod0000] }\n  exclude: { tags: { break-glass: 'true' } }\n\
             - group: { name: AWSControlTowerAdmins }\n  permission_sets: ['arn:aws:sso:::permissionSet/ssoins-1/ps-1']\n  scope: { root: true, accounts: ['111111111111'] }\n",
        )
        .unwrap();
        assert_eq!(doc.grants.len(), 2);
        assert_eq!(
            doc.grants[0].group,
            GroupRef::OktaId("00g1prodadmins000000".into())
        );
        assert_eq!(doc.grants[0].exclude.tags["break-glass"], "true");
        assert!(doc.grants[1].scope.root);
        // What import writes loads back as the same document.
        assert_eq!(Document::load(&doc.to_yaml()).unwrap(), doc);
    }

    #[test]
    fn every_problem_is_reported_with_where_it_is() {
        let invalid = Document::load(
            "grants:\n\
             - name: a\n  group: { okta_id: 00u1notagroup0000000 }\n  permission_sets: []\n  scope: {}\n\
             - name: a\n  group: { name: x }\n  permission_sets: ['has space']\n  scope: { accounts: ['12'], ous: [ou-x] }\n",
        )
        .unwrap_err();
        let at: Vec<&str> = invalid.problems.iter().map(|p| p.at.as_str()).collect();
        assert_eq!(
            at,
            [
                "grants[0].group.okta_id",
                "grants[0].permission_sets",
                "grants[0].scope",
                "grants[1].name",
                "grants[1].permission_sets[0]",
                "grants[1].scope.accounts[0]",
                "grants[1].scope.ous[0]",
            ]
        );
    }

    #[test]
    fn unknown_keys_and_bad_yaml_are_refused_not_ignored() {
        for text in [
            "grants: [{ group: { name: x }, permission_sets: [A], scope: { root: true }, scop: 1 }]",
            "grant: []",
            "grants: [",
            "grants: [{ group: { email: x }, permission_sets: [A], scope: { root: true } }]",
        ] {
            let invalid = Document::load(text).unwrap_err();
            assert_eq!(invalid.problems.len(), 1, "{text}");
            assert_eq!(invalid.problems[0].at, "document");
        }
    }

    #[test]
    fn ids_are_checked_by_their_documented_shapes() {
        assert!(is_ou_id("ou-ab12-cdef3456"));
        assert!(!is_ou_id("ou-ab12-cd"));
        assert!(!is_ou_id("ou-AB12-cdef3456"));
        assert!(is_root_id("r-ab12"));
        assert!(!is_root_id("r-"));
        assert!(is_account_id("123456789012"));
        assert!(!is_account_id("12345678901a"));
    }

    proptest::proptest! {
        #[test]
        fn no_input_panics(text in "\\PC{0,400}") {
            let _ = Document::load(&text);
        }
    }
}
