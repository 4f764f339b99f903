//! Evaluation: a rule set applied to one user or group on its way to Identity Center,
//! giving an [`Outcome`] (the mapped resource, the rules that fired, the rule that
//! skipped it). Total and deterministic: any JSON gives an outcome, the same one every
//! time, and nothing panics.

use std::borrow::Cow;

use scim_core::{ResourceKind, ScimError, matches};
use serde::Serialize;
use serde_json::Value;

use crate::expr::eval::read_text;
use crate::problem::RuleId;
use crate::rule::{Mapped, Rule, RuleSet};

/// What a rule set did to one resource.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    /// The resource as the rules left it. When it is skipped, the resource as it was
    /// when the skipping rule was reached.
    pub resource: Value,
    /// The rules whose condition held (or that have none), in order, the skipping rule
    /// included.
    pub fired: Vec<RuleId>,
    /// The rule that stopped the resource from being provisioned, if one did.
    pub skipped_by: Option<RuleId>,
    /// Why it was skipped, when it was.
    pub skip_reason: Option<SkipReason>,
}

/// Why a resource is not provisioned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SkipReason {
    /// A `skip: true` rule applied to it.
    Skip,
    /// A group whose name is, ignoring case, a target of a rule's `map:` without being
    /// one of its keys: provisioning it would merge it with the mapped group.
    MapTarget,
}

impl Outcome {
    /// Whether a rule stopped the resource from being provisioned.
    pub fn is_skipped(&self) -> bool {
        self.skipped_by.is_some()
    }

    /// The SCIM error the gateway answers for a skipped resource: 403 naming the rule
    /// (never the resource's values). `None` when the resource is provisioned.
    pub fn refusal(&self) -> Option<ScimError> {
        let rule = self.skipped_by.as_ref()?;
        let what = match rule.kind {
            ResourceKind::User => "user",
            ResourceKind::Group => "group",
        };
        let detail = match self.skip_reason {
            Some(SkipReason::MapTarget) => format!(
                "this {what} is not provisioned: its name is a target of the map of mapping \
                 rule {rule}, so it would merge with the group mapped there"
            ),
            _ => format!("this {what} is not provisioned: mapping rule {rule} skips it"),
        };
        Some(ScimError::forbidden(detail))
    }
}

impl RuleSet {
    /// Applies the rules for `kind` to `resource` (a SCIM resource as JSON), in order.
    pub fn apply(&self, kind: ResourceKind, resource: &Value) -> Outcome {
        let mut out = resource.clone();
        let mut fired = Vec::new();
        for rule in self.rules(kind) {
            if let Some(when) = &rule.when
                && !matches(&when.filter, &out)
            {
                continue;
            }
            fired.push(rule.id.clone());
            let reason = if rule.skip {
                Some(SkipReason::Skip)
            } else {
                apply_rule(rule, &mut out).err()
            };
            if let Some(reason) = reason {
                return Outcome {
                    resource: out,
                    fired,
                    skipped_by: Some(rule.id.clone()),
                    skip_reason: Some(reason),
                };
            }
        }
        Outcome {
            resource: out,
            fired,
            skipped_by: None,
            skip_reason: None,
        }
    }

    /// Applies the `users:` rules to a user's JSON.
    pub fn apply_user(&self, user: &Value) -> Outcome {
        self.apply(ResourceKind::User, user)
    }

    /// Applies the `groups:` rules to a group's JSON.
    pub fn apply_group(&self, group: &Value) -> Outcome {
        self.apply(ResourceKind::Group, group)
    }

    /// Applies the rules for `R`'s kind to a typed resource (through its JSON; read the
    /// outcome's `resource` back with `R::from_value`).
    pub fn apply_resource<R: scim_core::Resource>(&self, resource: &R) -> Outcome {
        self.apply(R::KIND, &resource.to_value())
    }
}

fn owned(value: Option<Cow<'_, str>>) -> Option<String> {
    value.map(Cow::into_owned)
}

/// One rule's actions: every value computed from the resource as the rule found it,
/// then written in the documented order.
fn apply_rule(rule: &Rule, resource: &mut Value) -> Result<(), SkipReason> {
    let snapshot: &Value = resource;
    let renames: Vec<Option<String>> = rule
        .rename
        .iter()
        .map(|(_, from)| owned(read_text(from, snapshot)))
        .collect();
    let copies: Vec<Option<String>> = rule
        .copy
        .iter()
        .map(|(_, from)| owned(read_text(from, snapshot)))
        .collect();
    let sets: Vec<Option<String>> = rule
        .set
        .iter()
        .map(|(_, template)| owned(template.render(snapshot)))
        .collect();
    let defaults: Vec<Option<String>> = rule
        .default
        .iter()
        .map(|(to, template)| {
            if read_text(to, snapshot).is_some() {
                None
            } else {
                owned(template.render(snapshot))
            }
        })
        .collect();
    let mapped: Option<String> = match &rule.map {
        None => None,
        Some(map) => match read_text(&map.display_name, snapshot) {
            None => None,
            Some(name) => match map.lookup(&name) {
                Mapped::To(to) => Some(to.to_owned()),
                Mapped::Unchanged => None,
                Mapped::Refused => return Err(SkipReason::MapTarget),
            },
        },
    };

    for ((to, from), value) in rule.rename.iter().zip(renames) {
        if let Some(value) = value {
            from.remove(resource);
            to.write(resource, Value::String(value));
        }
    }
    let writes = rule
        .copy
        .iter()
        .map(|(to, _)| to)
        .zip(copies)
        .chain(rule.set.iter().map(|(to, _)| to).zip(sets))
        .chain(rule.default.iter().map(|(to, _)| to).zip(defaults));
    for (to, value) in writes {
        if let Some(value) = value {
            to.write(resource, Value::String(value));
        }
    }
    if let (Some(map), Some(name)) = (&rule.map, mapped) {
        map.display_name.write(resource, Value::String(name));
    }
    for path in &rule.remove {
        path.remove(resource);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use scim_core::{ENTERPRISE_USER_SCHEMA, ResourceKind, USER_SCHEMA};
    use serde_json::{Value, json};

    use super::*;
    use crate::RuleSet;

    fn rules(yaml: &str) -> RuleSet {
        RuleSet::load(yaml)
            .unwrap_or_else(|e| panic!("{e}"))
            .rule_set
    }

    fn user() -> Value {
        json!({
            "schemas": [USER_SCHEMA],
            "userName": "bjensen@example.com",
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "displayName": "Babs Jensen",
            "nickName": "Babs",
            "title": "Tour Guide",
            "userType": "Employee",
            "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true}],
            "urn:okta:custom:1.0:User": {"jobCode": "TG-7"}
        })
    }

    fn names(outcome: &Outcome) -> Vec<String> {
        outcome.fired.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn set_writes_a_template_and_an_absent_value_leaves_the_attribute_alone() {
        let set = rules(
            "users:\n  - set:\n      title: '{upper(title)} ({userType})'\n      profileUrl: 'https://x/{locale}'\n",
        );
        let outcome = set.apply_user(&user());
        assert_eq!(outcome.resource["title"], "TOUR GUIDE (Employee)");
        assert!(outcome.resource.get("profileUrl").is_none());
        assert_eq!(names(&outcome), ["users[0]"]);
    }

    #[test]
    fn default_writes_only_where_the_attribute_is_missing_or_blank() {
        let set = rules("users:\n  - default: {nickName: '{name.givenName}', title: 'Staff'}\n");
        let mut blank = user();
        blank["nickName"] = json!("  ");
        blank.as_object_mut().and_then(|o| o.remove("title"));
        let outcome = set.apply_user(&blank);
        assert_eq!(outcome.resource["nickName"], "Barbara");
        assert_eq!(outcome.resource["title"], "Staff");
        assert_eq!(set.apply_user(&user()).resource, user());
    }

    #[test]
    fn copy_copies_and_keeps_the_source() {
        let set = rules("users:\n  - copy: {title: 'urn:okta:custom:1.0:User:jobCode'}\n");
        let outcome = set.apply_user(&user());
        assert_eq!(outcome.resource["title"], "TG-7");
        assert_eq!(
            outcome.resource["urn:okta:custom:1.0:User"]["jobCode"],
            "TG-7"
        );
    }

    #[test]
    fn rename_moves_the_value_and_leaves_both_alone_without_one() {
        let set = rules(
            "users:\n  - rename:\n      urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber: 'urn:okta:custom:1.0:User:jobCode'\n      profileUrl: locale\n",
        );
        let outcome = set.apply_user(&user());
        let mut expected = user();
        let object = expected.as_object_mut().unwrap();
        object.shift_remove("urn:okta:custom:1.0:User");
        object.insert(
            "schemas".into(),
            json!([USER_SCHEMA, ENTERPRISE_USER_SCHEMA]),
        );
        object.insert(
            ENTERPRISE_USER_SCHEMA.into(),
            json!({"employeeNumber": "TG-7"}),
        );
        assert_eq!(outcome.resource, expected);
    }

    #[test]
    fn remove_removes_attributes_sub_attributes_and_whole_complex_ones() {
        let set = rules(
            "users:\n  - remove: [nickName, emails.type, 'urn:okta:custom:1.0:User:jobCode']\n",
        );
        let outcome = set.apply_user(&user());
        let mut expected = user();
        let object = expected.as_object_mut().unwrap();
        object.shift_remove("nickName");
        object.shift_remove("urn:okta:custom:1.0:User");
        expected["emails"] = json!([{"value": "bjensen@example.com", "primary": true}]);
        assert_eq!(outcome.resource, expected);
    }

    #[test]
    fn when_selects_the_resources_a_rule_applies_to_and_fired_lists_them_in_order() {
        let set = rules(
            r#"
users:
  - name: guides
    when: 'title sw "tour" and emails[type eq "work"]'
    set: {nickName: 'Guide {name.givenName}'}
  - name: contractors
    when: 'userType eq "Contractor"'
    set: {title: 'Contractor'}
  - name: everyone
    default: {locale: 'en-US'}
"#,
        );
        let outcome = set.apply_user(&user());
        assert_eq!(outcome.resource["nickName"], "Guide Barbara");
        assert_eq!(outcome.resource["title"], "Tour Guide");
        assert_eq!(outcome.resource["locale"], "en-US");
        assert_eq!(
            names(&outcome),
            ["users[0] \"guides\"", "users[2] \"everyone\""]
        );
    }

    #[test]
    fn a_rule_computes_every_value_from_the_resource_as_it_found_it() {
        // The copy reads the old title although `set` writes a new one, and the second
        // rule sees the first one's output.
        let set = rules(
            "users:\n  - set: {title: 'Chief {title}'}\n    copy: {nickName: title}\n  - when: 'title sw \"Chief\"'\n    set: {userType: 'Executive'}\n",
        );
        let outcome = set.apply_user(&user());
        assert_eq!(outcome.resource["title"], "Chief Tour Guide");
        assert_eq!(outcome.resource["nickName"], "Tour Guide");
        assert_eq!(outcome.resource["userType"], "Executive");
    }

    #[test]
    fn skip_stops_the_rules_and_names_itself() {
        let set = rules(
            "users:\n  - set: {nickName: 'x'}\n  - {name: bots, when: 'userType eq \"Employee\"', skip: true}\n  - set: {title: 'never'}\n",
        );
        let outcome = set.apply_user(&user());
        assert!(outcome.is_skipped());
        assert_eq!(outcome.skipped_by.as_ref().map(|r| r.index), Some(1));
        assert_eq!(outcome.resource["nickName"], "x");
        assert_eq!(outcome.resource["title"], "Tour Guide");
        assert_eq!(names(&outcome), ["users[0]", "users[1] \"bots\""]);
    }

    #[test]
    fn map_renames_listed_groups_and_skips_a_group_that_would_merge_with_a_mapped_one() {
        let set = rules(
            "groups:\n  - name: aws-names\n    map: {Engineers: aws-engineers, Admins: aws-admins}\n",
        );
        let group = |name: &str| json!({"displayName": name, "members": []});
        let mapped = set.apply_group(&group("Engineers"));
        assert_eq!(mapped.resource, group("aws-engineers"));
        assert_eq!(
            set.apply_group(&group("engineers")).resource,
            group("engineers")
        );
        assert_eq!(set.apply_group(&group("Sales")).resource, group("Sales"));
        let merged = set.apply_group(&group("AWS-Admins"));
        assert_eq!(merged.skip_reason, Some(SkipReason::MapTarget));
        assert_eq!(
            merged.refusal().map(|e| (e.status, e.detail)),
            Some((
                403,
                "this group is not provisioned: its name is a target of the map of mapping rule \
                 groups[0] \"aws-names\", so it would merge with the group mapped there"
                    .to_owned()
            ))
        );
    }

    #[test]
    fn writes_into_the_enterprise_extension_add_its_schema() {
        let set = rules(
            "users:\n  - set:\n      urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter: '{split(urn:okta:custom:1.0:User:jobCode, \"-\", 1)}'\n",
        );
        let outcome = set.apply_user(&user());
        assert_eq!(
            outcome.resource["schemas"],
            json!([USER_SCHEMA, ENTERPRISE_USER_SCHEMA])
        );
        assert_eq!(
            outcome.resource[ENTERPRISE_USER_SCHEMA],
            json!({"costCenter": "7"})
        );
    }

    #[test]
    fn the_identity_rule_set_changes_nothing() {
        let outcome = RuleSet::identity().apply(ResourceKind::User, &user());
        assert_eq!(outcome.resource, user());
        assert!(outcome.fired.is_empty() && outcome.skipped_by.is_none());
    }

    /// A rule set using every action and function.
    const EVERYTHING: &str = r#"
users:
  - when: 'userType eq "Contractor" or title co "x"'
    skip: true
  - set:
      nickName: '{coalesce(nickName, split(displayName, " ", 0), "n")}'
      title: '{trim(replace(title, "a", "b"))}'
    default:
      displayName: '{name.givenName} {name.familyName}'
    copy: {profileUrl: emails.value}
    rename: {locale: preferredLanguage}
  - set:
      urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter: '{capture(emails.value, "^(\w+)", 1)}'
      userType: '{join(split(lower(userType), "e"), "-")}{substring(userName, -3, 2)}'
      userName: 'u-{upper(userName)}'
    remove: [emails.type, name.middleName]
groups:
  - map: {A: B}
  - set: {displayName: 'okta-{displayName}'}
"#;

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i32>().prop_map(|n| json!(n)),
            "[a-zA-Z @.x-]{0,10}".prop_map(Value::String),
            Just(json!("A")),
            Just(json!("Contractor")),
        ];
        leaf.prop_recursive(3, 32, 5, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::vec(
                    (
                        prop::sample::select(vec![
                            "userName",
                            "displayName",
                            "nickName",
                            "title",
                            "userType",
                            "name",
                            "givenName",
                            "familyName",
                            "emails",
                            "value",
                            "primary",
                            "type",
                            "locale",
                            "preferredLanguage",
                            "schemas",
                            ENTERPRISE_USER_SCHEMA,
                        ]),
                        inner
                    ),
                    0..6
                )
                .prop_map(|kv| Value::Object(
                    kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
                )),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        #[test]
        fn applying_to_any_json_never_panics_and_is_deterministic(resource in arb_json()) {
            let set = rules(EVERYTHING);
            for kind in [ResourceKind::User, ResourceKind::Group] {
                let first = set.apply(kind, &resource);
                let second = set.apply(kind, &resource);
                prop_assert_eq!(&first, &second);
                prop_assert!(first.skipped_by.is_none() || first.fired.last() == first.skipped_by.as_ref());
            }
        }
    }
}

#[cfg(test)]
mod bench_input {
    use serde_json::json;

    use crate::RuleSet;

    #[test]
    fn the_benchmark_rule_set_loads_and_eighteen_of_its_twenty_rules_fire_on_a_typical_user() {
        let loaded = RuleSet::load(include_str!("../benches/twenty-rules.yaml")).unwrap();
        assert_eq!(
            loaded.rule_set.rules(scim_core::ResourceKind::User).len(),
            20
        );
        let user = json!({
            "schemas": [scim_core::USER_SCHEMA, scim_core::ENTERPRISE_USER_SCHEMA],
            "userName": "Test.User@Okta.Local",
            "name": {"givenName": "Test", "familyName": "User"},
            "emails": [{"primary": true, "value": "test.user@okta.local", "type": "work"}],
            "displayName": "Test User",
            "title": "  Senior Engineer ",
            "locale": "en-US",
            "externalId": "00ujl29u0le5T6Aj10h7",
            "active": true,
            scim_core::ENTERPRISE_USER_SCHEMA: {"department": "4200 - Platform Engineering"},
            "urn:okta:custom:1.0:User": {"managerId": "00u1abcd2EFGH3ijk4l5"}
        });
        let outcome = loaded.rule_set.apply_user(&user);
        assert_eq!(outcome.fired.len(), 18, "{outcome:?}");
        let r = &outcome.resource;
        assert_eq!(r["userName"], "test.user@okta.local");
        assert_eq!(r["title"], "Senior Engineer");
        assert_eq!(r["profileUrl"], "https://people.example.com/test.user");
        assert_eq!(r["preferredLanguage"], "en-US");
        assert_eq!(
            r[scim_core::ENTERPRISE_USER_SCHEMA],
            json!({
                "department": "4200 - Platform Engineering",
                "costCenter": "4200",
                "division": "Platform Engineering",
                "employeeNumber": "AJ10H7",
                "organization": "Example Corp",
                "manager": {"value": "00u1abcd2EFGH3ijk4l5"}
            })
        );
        assert!(r.get("urn:okta:custom:1.0:User").is_none());
    }
}
