//! A user body (create or PUT) as Identity Center accepts it
//! (`docs/identity-center-dialect.md` §6).
//!
//! - Dropped, because Identity Center refuses them and Okta sends some of them on every
//!   create ([`DROPPED_ATTRIBUTES`]): `password`, `groups`, `photos`, `ims`,
//!   `x509Certificates`, `entitlements`; also `display` of emails, addresses and phone
//!   numbers, `manager.displayName`, and the read-only `id` and `meta`.
//! - Reduced to one value: emails, addresses, phone numbers and roles keep the primary
//!   value, or the first when none is primary, marked `primary: true` (an email must be).
//! - Required, answered 400 `invalidValue` naming the attribute instead of forwarding a
//!   body Identity Center refuses: `userName` (at most [`MAX_USER_NAME_CHARS`]),
//!   `displayName`, `name.givenName`, `name.familyName`.
//! - Refused, 400 `invalidValue` naming it: any other attribute or sub-attribute
//!   Identity Center does not know. Dropping it would lose data without telling anyone.

use scim_core::resource::Address;
use scim_core::{EnterpriseUser, MultiValued, ScimError, User};
use serde_json::Value;

use super::same;

/// Attributes dropped from every user on its way to the target.
pub const DROPPED_ATTRIBUTES: &[&str] = &[
    "password",
    "groups",
    "photos",
    "ims",
    "x509Certificates",
    "entitlements",
];

/// Identity Center's limit on `userName` (Identity Store `CreateUser.UserName`).
pub const MAX_USER_NAME_CHARS: usize = 128;

/// The user as Identity Center accepts it on create and PUT (see the module docs).
pub fn outbound_user(mut user: User) -> Result<User, ScimError> {
    user.id = None;
    user.meta = None;
    user.password = None;
    user.groups = None;
    user.photos = None;
    user.ims = None;
    user.x509_certificates = None;
    user.entitlements = None;
    if let Some(key) = user.extra.keys().next() {
        return Err(unsupported(key));
    }
    if let Some(name) = &user.name
        && let Some(key) = name.extra.keys().next()
    {
        return Err(unsupported(&format!("name.{key}")));
    }
    user.emails = single_multi_valued("emails", user.emails.take())?;
    user.phone_numbers = single_multi_valued("phoneNumbers", user.phone_numbers.take())?;
    user.roles = single_multi_valued("roles", user.roles.take())?;
    user.addresses = single_address(user.addresses.take())?;
    let enterprise = user
        .enterprise
        .take()
        .map(outbound_enterprise)
        .transpose()?;
    // `schemas` lists exactly what the body carries, so no unknown extension URN goes out.
    user.schemas = vec![scim_core::USER_SCHEMA.to_owned()];
    user.set_enterprise(enterprise);
    check_required(&user)?;
    Ok(user)
}

/// 400 `invalidValue` for an attribute the target does not support.
pub(crate) fn unsupported(attribute: &str) -> ScimError {
    ScimError::invalid_value(format!(
        "attribute `{attribute}` is not supported by the target"
    ))
}

/// 400 `invalidValue` for a required attribute that is missing or blank.
pub(crate) fn required(attribute: &str) -> ScimError {
    ScimError::invalid_value(format!("attribute `{attribute}` is required by the target"))
}

/// Checks `userName` for the target's limits.
pub(crate) fn check_user_name(user_name: &str) -> Result<(), ScimError> {
    if user_name.trim().is_empty() {
        return Err(required("userName"));
    }
    if user_name.chars().count() > MAX_USER_NAME_CHARS {
        return Err(ScimError::invalid_value(format!(
            "attribute `userName` is longer than the target's limit of {MAX_USER_NAME_CHARS} characters"
        )));
    }
    Ok(())
}

fn check_required(user: &User) -> Result<(), ScimError> {
    check_user_name(&user.user_name)?;
    let blank = |v: Option<&String>| v.is_none_or(|s| s.trim().is_empty());
    if blank(user.display_name.as_ref()) {
        return Err(required("displayName"));
    }
    let name = user.name.as_ref();
    if blank(name.and_then(|n| n.given_name.as_ref())) {
        return Err(required("name.givenName"));
    }
    if blank(name.and_then(|n| n.family_name.as_ref())) {
        return Err(required("name.familyName"));
    }
    Ok(())
}

/// The one value of a multi-valued attribute Identity Center keeps: the primary, else
/// the first, marked primary, without `display`. `None` for no values at all.
fn single_multi_valued(
    attribute: &str,
    values: Option<Vec<MultiValued>>,
) -> Result<Option<Vec<MultiValued>>, ScimError> {
    let Some(values) = values else {
        return Ok(None);
    };
    let Some(mut chosen) = pick_primary(values, MultiValued::is_primary) else {
        return Ok(None);
    };
    chosen.display = None;
    if chosen.reference.is_some() {
        return Err(unsupported(&format!("{attribute}.$ref")));
    }
    if let Some(key) = chosen.extra.keys().next() {
        return Err(unsupported(&format!("{attribute}.{key}")));
    }
    if chosen.value.as_deref().is_none_or(|v| v.trim().is_empty()) {
        return Err(required(&format!("{attribute}.value")));
    }
    chosen.primary = Some(true);
    Ok(Some(vec![chosen]))
}

fn single_address(values: Option<Vec<Address>>) -> Result<Option<Vec<Address>>, ScimError> {
    let Some(values) = values else {
        return Ok(None);
    };
    let Some(mut chosen) = pick_primary(values, |a| a.primary == Some(true)) else {
        return Ok(None);
    };
    chosen.extra.retain(|k, _| !same(k, "display"));
    if let Some(key) = chosen.extra.keys().next() {
        return Err(unsupported(&format!("addresses.{key}")));
    }
    chosen.primary = Some(true);
    Ok(Some(vec![chosen]))
}

/// The primary value, else the first.
pub(crate) fn pick_primary<T>(values: Vec<T>, is_primary: impl Fn(&T) -> bool) -> Option<T> {
    let index = values.iter().position(&is_primary).unwrap_or(0);
    values.into_iter().nth(index)
}

fn outbound_enterprise(mut enterprise: EnterpriseUser) -> Result<EnterpriseUser, ScimError> {
    if let Some(key) = enterprise.extra.keys().next() {
        return Err(unsupported(&format!(
            "{}:{key}",
            scim_core::ENTERPRISE_USER_SCHEMA
        )));
    }
    if let Some(manager) = &mut enterprise.manager {
        manager.display_name = None;
        if let Some(key) = manager.extra.keys().next() {
            return Err(unsupported(&format!("manager.{key}")));
        }
        if manager.value.is_none() && manager.reference.is_none() {
            enterprise.manager = None;
        }
    }
    Ok(enterprise)
}

/// Reduces one JSON multi-valued attribute value (an array, or a single object) to the
/// one value Identity Center keeps, with the same rules as [`outbound_user`]; used by
/// PATCH, whose values are JSON. `None` for an empty list.
pub(crate) fn single_value_json(
    attribute: &'static str,
    value: &Value,
) -> Result<Option<Value>, ScimError> {
    let items: Vec<Value> = match value {
        Value::Array(items) => items.clone(),
        Value::Object(_) => vec![value.clone()],
        _ => {
            return Err(ScimError::invalid_value(format!(
                "`{attribute}` must be a list of objects"
            )));
        }
    };
    let parse_error = |e: serde_json::Error| {
        ScimError::invalid_value(format!(
            "`{attribute}` holds a malformed value: {}",
            serde_error_kind(&e)
        ))
    };
    let reduced = if attribute == "addresses" {
        let values: Vec<Address> =
            serde_json::from_value(Value::Array(items)).map_err(parse_error)?;
        single_address(Some(values))?.map(|v| serde_json::to_value(v).unwrap_or_default())
    } else {
        let values: Vec<MultiValued> =
            serde_json::from_value(Value::Array(items)).map_err(parse_error)?;
        single_multi_valued(attribute, Some(values))?
            .map(|v| serde_json::to_value(v).unwrap_or_default())
    };
    Ok(reduced)
}

/// A serde error's category without the offending value: a value could be a secret.
pub(crate) fn serde_error_kind(error: &serde_json::Error) -> &'static str {
    match error.classify() {
        serde_json::error::Category::Data => "a member has the wrong type",
        _ => "it is not valid JSON",
    }
}

#[cfg(test)]
mod tests {
    use scim_core::{Resource, ScimType};
    use serde_json::json;

    use super::*;

    /// A change made to a body for one test case.
    type Edit = fn(&mut Value);

    /// Okta's create body (`docs/okta-client.md` §2), with a second email and the extras
    /// Okta may send.
    fn okta_create() -> Value {
        json!({
            "schemas": [scim_core::USER_SCHEMA],
            "userName": "test.user@okta.local",
            "name": {"givenName": "Test", "familyName": "User"},
            "emails": [
                {"primary": false, "value": "alt@okta.local", "type": "home", "display": "Alt"},
                {"primary": true, "value": "test.user@okta.local", "type": "work", "display": "Work"}
            ],
            "displayName": "Test User",
            "locale": "en-US",
            "externalId": "00ujl29u0le5T6Aj10h7",
            "groups": [],
            "password": "1mz050nq",
            "active": true
        })
    }

    fn outbound(value: Value) -> Result<Value, ScimError> {
        outbound_user(User::from_value(value)?).map(|u| u.to_value())
    }

    #[test]
    fn oktas_create_loses_password_and_groups_and_keeps_only_the_primary_email() {
        // Act
        let out = outbound(okta_create()).unwrap();

        // Assert
        assert!(out.get("password").is_none());
        assert!(out.get("groups").is_none());
        assert_eq!(
            out["emails"],
            json!([{"value": "test.user@okta.local", "type": "work", "primary": true}])
        );
        assert_eq!(out["externalId"], "00ujl29u0le5T6Aj10h7");
        assert_eq!(out["active"], true);
        assert_eq!(out["schemas"], json!([scim_core::USER_SCHEMA]));
    }

    #[test]
    fn without_a_primary_the_first_value_is_kept_and_marked_primary() {
        // Arrange
        let mut body = okta_create();
        body["emails"] = json!([{"value": "a@x"}, {"value": "b@x"}]);
        body["phoneNumbers"] =
            json!([{"value": "+1 555", "type": "work", "display": "w"}, {"value": "+1 556"}]);
        body["roles"] = json!([{"value": "admin"}, {"value": "dev", "primary": true}]);

        // Act
        let out = outbound(body).unwrap();

        // Assert
        assert_eq!(out["emails"], json!([{"value": "a@x", "primary": true}]));
        assert_eq!(
            out["phoneNumbers"],
            json!([{"value": "+1 555", "type": "work", "primary": true}])
        );
        assert_eq!(out["roles"], json!([{"value": "dev", "primary": true}]));
    }

    #[test]
    fn photos_ims_certificates_entitlements_and_display_sub_attributes_are_dropped() {
        // Arrange
        let mut body = okta_create();
        body["photos"] = json!([{"value": "https://x/p.jpg"}]);
        body["ims"] = json!([{"value": "x"}]);
        body["x509Certificates"] = json!([{"value": "MIIB"}]);
        body["entitlements"] = json!([{"value": "e"}]);
        body["addresses"] =
            json!([{"streetAddress": "1 Main", "locality": "X", "display": "1 Main, X"}]);
        body[scim_core::ENTERPRISE_USER_SCHEMA] =
            json!({"department": "R&D", "manager": {"value": "m-1", "displayName": "Boss"}});
        body["id"] = json!("ignored");
        body["meta"] = json!({"resourceType": "User"});

        // Act
        let out = outbound(body).unwrap();

        // Assert
        for gone in [
            "photos",
            "ims",
            "x509Certificates",
            "entitlements",
            "id",
            "meta",
        ] {
            assert!(out.get(gone).is_none(), "{gone}");
        }
        assert_eq!(
            out["addresses"],
            json!([{"streetAddress": "1 Main", "locality": "X", "primary": true}])
        );
        assert_eq!(
            out[scim_core::ENTERPRISE_USER_SCHEMA]["manager"],
            json!({"value": "m-1"})
        );
        assert_eq!(
            out["schemas"],
            json!([scim_core::USER_SCHEMA, scim_core::ENTERPRISE_USER_SCHEMA])
        );
    }

    #[test]
    fn each_attribute_the_target_requires_is_named_when_missing() {
        let cases: [(&str, Edit); 4] = [
            ("displayName", |b| b["displayName"] = json!(" ")),
            ("name.givenName", |b| b["name"] = json!({"familyName": "U"})),
            ("name.familyName", |b| b["name"]["familyName"] = Value::Null),
            ("userName", |b| b["userName"] = json!("")),
        ];
        for (attribute, break_it) in cases {
            // Arrange
            let mut body = okta_create();
            break_it(&mut body);

            // Act
            let error = outbound(body).unwrap_err();

            // Assert
            assert_eq!(error.scim_type, Some(ScimType::InvalidValue), "{attribute}");
            assert!(
                error.detail.contains(&format!("`{attribute}`")),
                "{attribute}: {}",
                error.detail
            );
        }
    }

    #[test]
    fn a_user_name_over_128_characters_is_refused_and_128_is_accepted() {
        // Arrange
        let mut long = okta_create();
        long["userName"] = json!("a".repeat(129));
        let mut limit = okta_create();
        limit["userName"] = json!("é".repeat(128));

        // Act / Assert
        assert_eq!(
            outbound(long).unwrap_err().scim_type,
            Some(ScimType::InvalidValue)
        );
        assert!(outbound(limit).is_ok());
    }

    #[test]
    fn unknown_attributes_and_sub_attributes_are_refused_by_name() {
        let cases: [(&str, Edit); 3] = [
            ("favoriteColor", |b| b["favoriteColor"] = json!("blue")),
            ("emails.verified", |b| {
                b["emails"] = json!([{"value": "a@x", "verified": true}])
            }),
            ("name.nickname", |b| b["name"]["nickname"] = json!("T")),
        ];
        for (attribute, add_it) in cases {
            let mut body = okta_create();
            add_it(&mut body);
            let error = outbound(body).unwrap_err();
            assert!(error.detail.contains(attribute), "{}", error.detail);
        }
    }

    #[test]
    fn a_json_multi_value_reduces_like_a_typed_one() {
        // Act
        let reduced = single_value_json(
            "emails",
            &json!([{"value": "a@x", "display": "A"}, {"value": "b@x", "primary": "true"}]),
        )
        .unwrap();

        // Assert
        assert_eq!(reduced, Some(json!([{"value": "b@x", "primary": true}])));
        assert_eq!(single_value_json("emails", &json!([])).unwrap(), None);
        assert!(single_value_json("emails", &json!("a@x")).is_err());
    }
}
