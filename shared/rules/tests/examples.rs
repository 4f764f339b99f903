//! The example rule sets under `examples/rules/` load, validate, and do to a typical Okta
//! user or group what their comments say.

// Test helpers outside #[test] functions panic on a failed expectation, like asserts.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use rules::{ProblemKind, RuleSet, SkipReason};
use scim_core::{ENTERPRISE_USER_SCHEMA, ResourceKind, USER_SCHEMA};
use serde_json::{Value, json};

const LOWERCASE_USERNAME: &str = include_str!("../../../examples/rules/lowercase-username.yaml");
const DISPLAY_NAME_FROM_NAMES: &str =
    include_str!("../../../examples/rules/display-name-from-names.yaml");
const GROUP_PREFIX: &str = include_str!("../../../examples/rules/group-prefix.yaml");
const EXCLUDE_CONTRACTORS: &str = include_str!("../../../examples/rules/exclude-contractors.yaml");
const COST_CENTER: &str = include_str!("../../../examples/rules/cost-center.yaml");

/// Okta's `POST /Users` body (`docs/okta-client.md` §2), with a mixed-case login, a
/// userType and the enterprise extension.
fn okta_user() -> Value {
    json!({
        "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
        "userName": "Test.User@Okta.Local",
        "name": {"givenName": "Test", "familyName": "User"},
        "emails": [{"primary": true, "value": "test.user@okta.local", "type": "work"}],
        "displayName": "Test User",
        "locale": "en-US",
        "userType": "Employee",
        "externalId": "00ujl29u0le5T6Aj10h7",
        "groups": [],
        "active": true,
        ENTERPRISE_USER_SCHEMA: {"department": "4200 - Platform Engineering"}
    })
}

fn okta_group(name: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": name,
        "members": []
    })
}

fn load(yaml: &str) -> (RuleSet, Vec<ProblemKind>) {
    let loaded = RuleSet::load(yaml).unwrap_or_else(|e| panic!("{e}"));
    let warnings = loaded.warnings.iter().map(|w| w.kind).collect();
    (loaded.rule_set, warnings)
}

#[test]
fn lowercase_username_stores_the_lower_case_user_name_and_answers_okta_consistently() {
    // Arrange
    let (rules, warnings) = load(LOWERCASE_USERNAME);

    // Act
    let outcome = rules.apply_user(&okta_user());

    // Assert: stored in lower case, nothing else changed.
    let mut expected = okta_user();
    expected["userName"] = json!("test.user@okta.local");
    assert_eq!(outcome.resource, expected);
    assert_eq!(outcome.fired.len(), 1);
    assert_eq!(
        outcome.fired[0].to_string(),
        "users[0] \"lowercase-username\""
    );
    // The SAML NameID warning, and nothing else.
    assert_eq!(warnings, vec![ProblemKind::UserNameChanged]);
    // Read-back: the look-up is folded the same way; the answer equals Okta's ignoring case.
    let user = ResourceKind::User;
    assert_eq!(
        rules.outbound_filter_value(user, "userName", "Test.User@Okta.Local"),
        Some("test.user@okta.local".to_owned())
    );
    assert_eq!(
        rules.inbound_value(user, "userName", "test.user@okta.local"),
        Some("test.user@okta.local".to_owned())
    );
    assert!(!rules.read_back(user).is_exact());
    assert!(rules.derived_attributes().is_empty());
}

#[test]
fn display_name_from_names_fills_in_a_missing_display_name_and_keeps_one_okta_sends() {
    // Arrange
    let (rules, warnings) = load(DISPLAY_NAME_FROM_NAMES);
    let mut without = okta_user();
    without
        .as_object_mut()
        .and_then(|o| o.remove("displayName"));
    let mut other = okta_user();
    other["displayName"] = json!("Testy");

    // Act
    let derived = rules.apply_user(&without);
    let kept = rules.apply_user(&other);

    // Assert
    assert_eq!(derived.resource["displayName"], "Test User");
    assert_eq!(kept.resource, other);
    assert!(warnings.is_empty());
    assert_eq!(
        rules.derived_attributes(),
        &[(ResourceKind::User, "displayName".to_owned())]
    );
}

#[test]
fn group_prefix_makes_engineers_okta_engineers_and_reads_it_back_as_engineers() {
    // Arrange
    let (rules, warnings) = load(GROUP_PREFIX);
    let group = ResourceKind::Group;

    // Act
    let outcome = rules.apply_group(&okta_group("Engineers"));

    // Assert
    assert_eq!(outcome.resource, okta_group("okta-Engineers"));
    assert!(warnings.is_empty());
    assert_eq!(
        rules.outbound_filter_value(group, "displayName", "Engineers"),
        Some("okta-Engineers".to_owned())
    );
    assert_eq!(
        rules.inbound_value(group, "displayName", "okta-Engineers"),
        Some("Engineers".to_owned())
    );
    // A group made in Identity Center by hand was not made by these rules.
    assert_eq!(rules.inbound_value(group, "displayName", "Admins"), None);
    assert!(rules.read_back(group).is_exact());
}

#[test]
fn exclude_contractors_skips_contractors_with_a_403_naming_the_rule_and_passes_employees() {
    // Arrange
    let (rules, warnings) = load(EXCLUDE_CONTRACTORS);
    let mut contractor = okta_user();
    contractor["userType"] = json!("contractor");

    // Act
    let skipped = rules.apply_user(&contractor);
    let employee = rules.apply_user(&okta_user());

    // Assert
    assert_eq!(
        skipped
            .skipped_by
            .as_ref()
            .map(ToString::to_string)
            .as_deref(),
        Some("users[0] \"exclude-contractors\"")
    );
    assert_eq!(skipped.skip_reason, Some(SkipReason::Skip));
    let refusal = skipped.refusal().unwrap();
    assert_eq!(refusal.status, 403);
    assert_eq!(
        refusal.detail,
        "this user is not provisioned: mapping rule users[0] \"exclude-contractors\" skips it"
    );
    assert_eq!(employee.resource, okta_user());
    assert!(employee.fired.is_empty() && employee.refusal().is_none());
    assert!(warnings.is_empty());
}

#[test]
fn cost_center_derives_the_enterprise_cost_center_from_the_departments_leading_number() {
    // Arrange
    let (rules, warnings) = load(COST_CENTER);
    let mut with_cost_center = okta_user();
    with_cost_center[ENTERPRISE_USER_SCHEMA]["costCenter"] = json!("9999");
    let mut no_number = okta_user();
    no_number[ENTERPRISE_USER_SCHEMA]["department"] = json!("Platform Engineering");

    // Act
    let derived = rules.apply_user(&okta_user());
    let kept = rules.apply_user(&with_cost_center);
    let none = rules.apply_user(&no_number);

    // Assert
    assert_eq!(
        derived.resource[ENTERPRISE_USER_SCHEMA],
        json!({"department": "4200 - Platform Engineering", "costCenter": "4200"})
    );
    assert_eq!(kept.resource, with_cost_center);
    assert_eq!(none.resource, no_number);
    assert!(warnings.is_empty());
}

#[test]
fn every_example_applies_to_the_typed_user_the_same_as_to_its_json() {
    let user: scim_core::User = scim_core::Resource::from_value(okta_user()).unwrap();
    for yaml in [
        LOWERCASE_USERNAME,
        DISPLAY_NAME_FROM_NAMES,
        GROUP_PREFIX,
        EXCLUDE_CONTRACTORS,
        COST_CENTER,
    ] {
        let (rules, _) = load(yaml);
        let typed = rules.apply_resource(&user);
        let json = rules.apply_user(&scim_core::Resource::to_value(&user));
        assert_eq!(typed, json);
        // What the rules make still reads as a user.
        let _: scim_core::User = scim_core::Resource::from_value(typed.resource).unwrap();
    }
}
