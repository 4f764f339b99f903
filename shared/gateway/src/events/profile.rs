//! Okta's user profile and group, as the SCIM user and group the event worker asks
//! Identity Center to hold, before the rules apply. The mapping is the one Okta's own
//! SCIM client uses for the AWS IAM Identity Center app (`docs/okta-events.md` has the
//! table): `login` → `userName`, `firstName`/`lastName` → `name`, `email` → the primary
//! work email, the Okta id → `externalId`, the status → `active`.

use scim_core::{
    ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, Group, Resource, ScimError, USER_SCHEMA, User,
};
use serde_json::{Map, Value, json};

use crate::ports::okta::{OktaGroup, OktaUser};

/// Core profile attributes copied to the SCIM attribute of the same meaning.
const CORE_COPIES: &[(&str, &str)] = &[
    ("nickName", "nickName"),
    ("title", "title"),
    ("userType", "userType"),
    ("preferredLanguage", "preferredLanguage"),
    ("locale", "locale"),
    ("timezone", "timezone"),
    ("profileUrl", "profileUrl"),
];

/// Profile attributes copied to the enterprise extension (RFC 7643 §4.3).
const ENTERPRISE_COPIES: &[(&str, &str)] = &[
    ("employeeNumber", "employeeNumber"),
    ("costCenter", "costCenter"),
    ("organization", "organization"),
    ("division", "division"),
    ("department", "department"),
];

/// The SCIM user for an Okta user. Fails when the profile lacks what a SCIM user must
/// have (`login`).
pub fn scim_user(okta: &OktaUser) -> Result<User, ScimError> {
    let login = okta
        .login()
        .ok_or_else(|| ScimError::invalid_value("the Okta user has no `login`"))?;
    let first = okta.profile_str("firstName");
    let last = okta.profile_str("lastName");
    let display = okta
        .profile_str("displayName")
        .map(str::to_owned)
        .or_else(|| {
            let joined = [first, last]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
            (!joined.is_empty()).then_some(joined)
        });
    let mut user = Map::new();
    user.insert("schemas".into(), json!([USER_SCHEMA]));
    user.insert("userName".into(), json!(login));
    user.insert("externalId".into(), json!(okta.id));
    user.insert("active".into(), json!(okta.status.is_active()));
    let mut name = Map::new();
    if let Some(first) = first {
        name.insert("givenName".into(), json!(first));
    }
    if let Some(last) = last {
        name.insert("familyName".into(), json!(last));
    }
    if !name.is_empty() {
        user.insert("name".into(), Value::Object(name));
    }
    if let Some(display) = display {
        user.insert("displayName".into(), json!(display));
    }
    if let Some(email) = okta.profile_str("email") {
        user.insert(
            "emails".into(),
            json!([{"value": email, "type": "work", "primary": true}]),
        );
    }
    for (from, to) in CORE_COPIES {
        if let Some(value) = okta.profile_str(from) {
            user.insert((*to).into(), json!(value));
        }
    }
    let mut enterprise = Map::new();
    for (from, to) in ENTERPRISE_COPIES {
        if let Some(value) = okta.profile_str(from) {
            enterprise.insert((*to).into(), json!(value));
        }
    }
    if !enterprise.is_empty() {
        user.insert(
            "schemas".into(),
            json!([USER_SCHEMA, ENTERPRISE_USER_SCHEMA]),
        );
        user.insert(ENTERPRISE_USER_SCHEMA.into(), Value::Object(enterprise));
    }
    User::from_value(Value::Object(user))
}

/// Whether the rules' scope takes an Okta group in: named by name or id when it names
/// groups; otherwise every group but Okta's built-in ones (Everyone).
pub fn group_in_scope(group: &OktaGroup, scope: &rules::Scope) -> bool {
    if scope.groups.is_empty() {
        return group.group_type != "BUILT_IN";
    }
    scope
        .groups
        .iter()
        .any(|g| g == &group.id || g == group.name())
}

/// The SCIM group for an Okta group: its name and, as `externalId`, its Okta id.
pub fn scim_group(okta: &OktaGroup) -> Result<Group, ScimError> {
    Group::from_value(json!({
        "schemas": [GROUP_SCHEMA],
        "displayName": okta.name(),
        "externalId": okta.id,
    }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::ports::okta::{OktaGroupProfile, OktaUserStatus};
    use scim_core::Resource;

    fn okta_user(status: OktaUserStatus, profile: Value) -> OktaUser {
        OktaUser {
            id: "00u1".into(),
            status,
            profile: profile.as_object().cloned().unwrap(),
        }
    }

    #[test]
    fn an_okta_profile_becomes_the_scim_user_okta_would_push() {
        let user = scim_user(&okta_user(
            OktaUserStatus::Active,
            json!({"login": "ana@example.com", "firstName": "Ana", "lastName": "Lima",
                   "email": "ana@example.com", "title": "Engineer", "department": "R&D",
                   "mobilePhone": null}),
        ))
        .unwrap();
        let value = user.to_value();
        assert_eq!(value["userName"], "ana@example.com");
        assert_eq!(value["externalId"], "00u1");
        assert_eq!(value["active"], true);
        assert_eq!(value["name"]["givenName"], "Ana");
        assert_eq!(value["displayName"], "Ana Lima");
        assert_eq!(value["emails"][0]["primary"], true);
        assert_eq!(value["title"], "Engineer");
        assert_eq!(value[ENTERPRISE_USER_SCHEMA]["department"], "R&D");
    }

    #[test]
    fn suspended_and_deprovisioned_users_are_inactive_and_a_login_is_required() {
        for status in [OktaUserStatus::Suspended, OktaUserStatus::Deprovisioned] {
            let user = scim_user(&okta_user(status, json!({"login": "a@b.c"}))).unwrap();
            assert_eq!(user.to_value()["active"], false);
        }
        assert!(scim_user(&okta_user(OktaUserStatus::Active, json!({}))).is_err());
    }

    #[test]
    fn an_okta_group_keeps_its_name_and_its_id_as_external_id() {
        let group = scim_group(&OktaGroup {
            id: "00g1".into(),
            group_type: "OKTA_GROUP".into(),
            profile: OktaGroupProfile {
                name: "Engineers".into(),
                description: None,
            },
        })
        .unwrap();
        assert_eq!(group.display_name, "Engineers");
        assert_eq!(group.external_id(), Some("00g1"));
    }
}
