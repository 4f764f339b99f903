//! The entitlement document (YAML, `docs/entitlements.md`): a list of grants, each giving
//! one group one or more permission sets on a scope of accounts, and its validation.
//!
//! ```yaml
//! permission_sets:                       # optional: permission sets the document defines
//!   - name: DataReader
//!     session_duration: PT4H
//!     managed_policies: [arn:aws:iam::aws:policy/ReadOnlyAccess]
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

/// The most permission sets one document defines.
pub const MAX_DEFINED_PERMISSION_SETS: usize = 100;

/// The most AWS managed policies attached to one permission set (IAM Identity Center
/// quotas, "AWS managed policies attached per permission set": 10, adjustable to 20,
/// <https://docs.aws.amazon.com/singlesignon/latest/userguide/limits.html>).
pub const MAX_MANAGED_POLICIES: usize = 20;

/// The largest inline policy, in characters (SSO Admin API reference,
/// `PutInlinePolicyToPermissionSet`: `InlinePolicy`, length 1 to 32 768).
pub const MAX_INLINE_POLICY_CHARS: usize = 32_768;

/// A loaded, valid document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Document {
    /// Permission sets the document defines: created when missing, kept as defined.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub permission_sets: Vec<PermissionSetDefinition>,
    /// The grants, in document order.
    #[serde(default)]
    pub grants: Vec<Grant>,
}

/// A permission set as the document defines it. Grants name it by its name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PermissionSetDefinition {
    /// Its name in Identity Center (1 to 32 of letters, digits and `+=,.@-_`).
    pub name: String,
    /// Its description; when not given, the one it has is left as it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// How long a session lasts, ISO 8601 (`PT1H` to `PT12H`; `PT1H` when not given, as
    /// Identity Center's own default).
    #[serde(default = "default_session_duration")]
    pub session_duration: String,
    /// AWS managed policies, by ARN (`arn:aws:iam::aws:policy/…`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub managed_policies: Vec<String>,
    /// Customer managed policies, by name and path: each must exist, under that name, in
    /// every account the permission set is assigned on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub customer_managed_policies: Vec<PolicyReference>,
    /// The inline policy: a JSON policy document, written as JSON text or as YAML.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inline_policy: Option<InlinePolicy>,
    /// Lets the document take over a permission set of this name that exists and was not
    /// made by the gateway (without it, such a definition is unresolved, so that a
    /// definition never silently rewrites Control Tower's or another tool's permission set).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub adopt: bool,
}

fn default_session_duration() -> String {
    "PT1H".to_owned()
}

/// A customer managed policy reference.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyReference {
    /// The policy's name in each account.
    pub name: String,
    /// Its IAM path (`/` when not given).
    #[serde(default = "default_policy_path")]
    pub path: String,
}

fn default_policy_path() -> String {
    "/".to_owned()
}

/// An inline policy: JSON text, or the same document written as YAML.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum InlinePolicy {
    /// As JSON text.
    Text(String),
    /// As a YAML mapping.
    Document(serde_json::Map<String, serde_json::Value>),
}

impl InlinePolicy {
    /// The policy as a JSON value, or why it is not one.
    pub fn value(&self) -> Result<serde_json::Value, String> {
        match self {
            Self::Text(text) => {
                let value: serde_json::Value = serde_json::from_str(text)
                    .map_err(|e| format!("not a JSON policy document: {e}"))?;
                if value.is_object() {
                    Ok(value)
                } else {
                    Err("not a JSON policy document: not an object".into())
                }
            }
            Self::Document(map) => Ok(serde_json::Value::Object(map.clone())),
        }
    }
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
            return Ok(Self {
                permission_sets: Vec::new(),
                grants: Vec::new(),
            });
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
        self.definition_problems(&mut push);
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

impl Document {
    /// The definition of the permission set `name`, if the document has one.
    pub fn definition(&self, name: &str) -> Option<&PermissionSetDefinition> {
        self.permission_sets.iter().find(|d| d.name == name)
    }

    fn definition_problems(&self, push: &mut impl FnMut(String, String)) {
        if self.permission_sets.len() > MAX_DEFINED_PERMISSION_SETS {
            push(
                "permission_sets".into(),
                format!(
                    "{} definitions; at most {MAX_DEFINED_PERMISSION_SETS} are allowed",
                    self.permission_sets.len()
                ),
            );
        }
        let mut names = BTreeSet::new();
        for (i, def) in self.permission_sets.iter().enumerate() {
            let at = format!("permission_sets[{i}]");
            if is_permission_set_arn(&def.name) || !is_permission_set_ref(&def.name) {
                push(
                    format!("{at}.name"),
                    format!(
                        "\"{}\" is not a permission set name (1 to 32 of letters, digits and \
                         +=,.@-_)",
                        clip(&def.name)
                    ),
                );
            } else if !names.insert(def.name.as_str()) {
                push(
                    format!("{at}.name"),
                    format!("\"{}\" is defined twice", def.name),
                );
            }
            if def
                .description
                .as_ref()
                .is_some_and(|d| d.is_empty() || d.chars().count() > 700)
            {
                push(format!("{at}.description"), "1 to 700 characters".into());
            }
            if session_minutes(&def.session_duration).is_none_or(|m| !(60..=720).contains(&m)) {
                push(
                    format!("{at}.session_duration"),
                    format!(
                        "\"{}\" is not an ISO 8601 duration from PT1H to PT12H (PT4H, PT1H30M)",
                        clip(&def.session_duration)
                    ),
                );
            }
            if def.managed_policies.len() > MAX_MANAGED_POLICIES {
                push(
                    format!("{at}.managed_policies"),
                    format!(
                        "{} policies; Identity Center attaches at most {MAX_MANAGED_POLICIES}",
                        def.managed_policies.len()
                    ),
                );
            }
            let mut seen = BTreeSet::new();
            for (j, arn) in def.managed_policies.iter().enumerate() {
                if !is_managed_policy_arn(arn) {
                    push(
                        format!("{at}.managed_policies[{j}]"),
                        format!(
                            "\"{}\" is not an AWS managed policy ARN \
                             (arn:aws:iam::aws:policy/…); name customer managed policies \
                             under customer_managed_policies",
                            clip(arn)
                        ),
                    );
                } else if !seen.insert(arn.as_str()) {
                    push(format!("{at}.managed_policies[{j}]"), "listed twice".into());
                }
            }
            check_len(
                push,
                &format!("{at}.customer_managed_policies"),
                def.customer_managed_policies.len(),
            );
            let mut seen = BTreeSet::new();
            for (j, reference) in def.customer_managed_policies.iter().enumerate() {
                let name_ok = (1..=128).contains(&reference.name.chars().count())
                    && reference
                        .name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c));
                // IAM paths: `/`, or `/` … `/` of printable ASCII, at most 512 characters.
                let path_ok = reference.path.starts_with('/')
                    && reference.path.ends_with('/')
                    && reference.path.len() <= 512
                    && reference.path.bytes().all(|b| (0x21..=0x7e).contains(&b));
                if !name_ok {
                    push(
                        format!("{at}.customer_managed_policies[{j}].name"),
                        "1 to 128 of letters, digits and +=,.@-_".into(),
                    );
                }
                if !path_ok {
                    push(
                        format!("{at}.customer_managed_policies[{j}].path"),
                        "an IAM path: starts and ends with /".into(),
                    );
                }
                if name_ok && path_ok && !seen.insert(reference) {
                    push(
                        format!("{at}.customer_managed_policies[{j}]"),
                        "listed twice".into(),
                    );
                }
            }
            if let Some(policy) = &def.inline_policy {
                match policy.value() {
                    Err(why) => push(format!("{at}.inline_policy"), why),
                    Ok(value) if value.to_string().chars().count() > MAX_INLINE_POLICY_CHARS => {
                        push(
                            format!("{at}.inline_policy"),
                            format!("longer than {MAX_INLINE_POLICY_CHARS} characters"),
                        );
                    }
                    Ok(_) => {}
                }
            }
        }
    }
}

/// The minutes of an ISO 8601 duration of hours and minutes (`PT4H`, `PT1H30M`,
/// `PT90M`), as Identity Center writes session durations.
pub fn session_minutes(text: &str) -> Option<u32> {
    let mut rest = text.strip_prefix("PT")?;
    if rest.is_empty() {
        return None;
    }
    let mut minutes = 0u32;
    for (unit, factor) in [('H', 60u32), ('M', 1), ('S', 0)] {
        if let Some(end) = rest.find(unit) {
            let digits = &rest[..end];
            if digits.is_empty() || digits.len() > 5 || !digits.bytes().all(|b| b.is_ascii_digit())
            {
                return None;
            }
            let n: u32 = digits.parse().ok()?;
            if factor == 0 && n != 0 {
                // Seconds: Identity Center's durations are whole minutes.
                return None;
            }
            minutes = minutes.checked_add(n.checked_mul(factor)?)?;
            rest = &rest[end + 1..];
        }
    }
    rest.is_empty().then_some(minutes)
}

/// Whether `text` is an AWS managed policy ARN (`arn:<partition>:iam::aws:policy/…`).
pub fn is_managed_policy_arn(text: &str) -> bool {
    text.strip_prefix("arn:")
        .and_then(|rest| rest.split_once(":iam::aws:policy/"))
        .is_some_and(|(partition, name)| {
            partition.starts_with("aws") && !name.is_empty() && !name.contains(char::is_whitespace)
        })
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

    #[test]
    fn permission_set_definitions_load_and_each_problem_is_said_where_it_is() {
        let doc = Document::load(
            "permission_sets:\n\
             - name: DataReader\n  description: Reads\n  session_duration: PT1H30M\n  managed_policies: [arn:aws:iam::aws:policy/ReadOnlyAccess]\n  customer_managed_policies: [{ name: Boundary }]\n  inline_policy: '{\"Version\": \"2012-10-17\", \"Statement\": []}'\n\
             - name: Auditor\n  inline_policy: { Version: '2012-10-17', Statement: [] }\n\
             grants: [{ group: { name: x }, permission_sets: [DataReader], scope: { root: true } }]\n",
        )
        .unwrap();
        let reader = doc.definition("DataReader").unwrap();
        assert_eq!(reader.customer_managed_policies[0].path, "/");
        assert_eq!(doc.definition("Auditor").unwrap().session_duration, "PT1H");
        assert_eq!(
            reader.inline_policy.as_ref().unwrap().value().unwrap(),
            doc.definition("Auditor")
                .unwrap()
                .inline_policy
                .as_ref()
                .unwrap()
                .value()
                .unwrap()
        );
        assert_eq!(Document::load(&doc.to_yaml()).unwrap(), doc);

        let invalid = Document::load(
            "permission_sets:\n\
             - { name: 'has space', session_duration: PT13H }\n\
             - { name: A, managed_policies: ['arn:aws:iam::123456789012:policy/Mine', 'arn:aws:iam::aws:policy/X', 'arn:aws:iam::aws:policy/X'] }\n\
             - { name: A, customer_managed_policies: [{ name: B, path: data }], inline_policy: 'not json' }\n\
             - { name: C, session_duration: PT30M, description: '' }\n",
        )
        .unwrap_err();
        let at: Vec<&str> = invalid.problems.iter().map(|p| p.at.as_str()).collect();
        assert_eq!(
            at,
            [
                "permission_sets[0].name",
                "permission_sets[0].session_duration",
                "permission_sets[1].managed_policies[0]",
                "permission_sets[1].managed_policies[2]",
                "permission_sets[2].name",
                "permission_sets[2].customer_managed_policies[0].path",
                "permission_sets[2].inline_policy",
                "permission_sets[3].description",
                "permission_sets[3].session_duration",
            ]
        );
        let unknown = Document::load("permission_sets: [{ name: A, relay_state: x }]").unwrap_err();
        assert_eq!(unknown.problems[0].at, "document");
    }

    #[test]
    fn the_documents_in_the_readme_and_the_docs_load() {
        let mut found = 0;
        for text in [
            include_str!("../../../README.md"),
            include_str!("../../../docs/entitlements.md"),
        ] {
            for block in text.split("```yaml\n").skip(1) {
                let block = block.split("```").next().unwrap_or_default();
                if block.contains("grants:") {
                    found += 1;
                    if let Err(invalid) = Document::load(block) {
                        panic!("{block}\n{:?}", invalid.problems);
                    }
                }
            }
        }
        assert!(found >= 3, "{found} documents found");
    }

    #[test]
    fn session_durations_read_as_iso_8601_hours_and_minutes() {
        assert_eq!(session_minutes("PT1H"), Some(60));
        assert_eq!(session_minutes("PT1H30M"), Some(90));
        assert_eq!(session_minutes("PT90M"), Some(90));
        assert_eq!(session_minutes("PT12H0M0S"), Some(720));
        for bad in [
            "", "PT", "P1D", "PT1H30", "PT30M1H", "PT1.5H", "PT-1H", "PT10S", "1H",
        ] {
            assert_eq!(session_minutes(bad), None, "{bad}");
        }
        assert!(is_managed_policy_arn(
            "arn:aws:iam::aws:policy/job-function/ViewOnlyAccess"
        ));
        assert!(is_managed_policy_arn(
            "arn:aws-us-gov:iam::aws:policy/ReadOnlyAccess"
        ));
        assert!(!is_managed_policy_arn(
            "arn:aws:iam::123456789012:policy/Mine"
        ));
        assert!(!is_managed_policy_arn("arn:aws:iam::aws:policy/"));
    }

    proptest::proptest! {
        #[test]
        fn no_input_panics(text in "\\PC{0,400}") {
            let _ = Document::load(&text);
        }
    }
}
