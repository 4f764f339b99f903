//! A user body (create or PUT) as Identity Center accepts it
//! (`docs/identity-center-dialect.md` §6).
//!
//! - Dropped, because Identity Center refuses them and Okta sends some of them on every
//!   create ([`DROPPED_ATTRIBUTES`]): `password`, `groups`, `photos`, `ims`,
//!   `x509Certificates`, `entitlements`; also `display` of emails, addresses and phone
//!   numbers, `manager.displayName`, and the read-only `id` and `meta`.
//! - Reduced to one value: emails, addresses, phone numbers and roles keep the primary
//!   value, or the first when none is primary, marked `primary: true` (an email must be).
//! - Blank values dropped (`docs/identity-center-dialect.md` §7, [`super::value`]): an
//!   empty or whitespace-only string, a sub-object left with nothing (a `name` or an
//!   address whose parts are all blank, an enterprise extension or `manager` with
//!   nothing in it), and a multi-valued entry whose `value` is blank, so that a user
//!   with a blank phone number or a partial address is provisioned with what is valid
//!   instead of being refused by Identity Center as a whole.
//! - Every string at most 1024 characters, `userName` at most [`MAX_USER_NAME_CHARS`];
//!   longer is 400 `invalidValue` naming the attribute.
//! - Required, answered 400 `invalidValue` naming the attribute instead of forwarding a
//!   body Identity Center refuses: `userName` (not `Administrator` or
//!   `AWSAdministrators`), `displayName`, `name.givenName`, `name.familyName`. A blank
//!   required value is a missing one.
//! - Refused, 400 `invalidValue` naming it: any other attribute or sub-attribute
//!   Identity Center does not know. Dropping it would lose data without telling anyone.

use scim_core::resource::{Address, Name};
use scim_core::{EnterpriseUser, MultiValued, ScimError, User};
use serde_json::Value;

use super::same;
use super::value::{check_length_at_most, check_not_reserved, is_blank, optional};

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
    user.name = user.name.take().map(outbound_name).transpose()?.flatten();
    user.external_id = optional("externalId", user.external_id.take())?;
    user.display_name = optional("displayName", user.display_name.take())?;
    user.nick_name = optional("nickName", user.nick_name.take())?;
    user.profile_url = optional("profileUrl", user.profile_url.take())?;
    user.title = optional("title", user.title.take())?;
    user.user_type = optional("userType", user.user_type.take())?;
    user.preferred_language = optional("preferredLanguage", user.preferred_language.take())?;
    user.locale = optional("locale", user.locale.take())?;
    user.timezone = optional("timezone", user.timezone.take())?;
    user.emails = single_multi_valued("emails", user.emails.take())?;
    user.phone_numbers = single_multi_valued("phoneNumbers", user.phone_numbers.take())?;
    user.roles = single_multi_valued("roles", user.roles.take())?;
    user.addresses = single_address(user.addresses.take())?;
    let enterprise = user
        .enterprise
        .take()
        .map(outbound_enterprise)
        .transpose()?
        .flatten();
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

/// Checks `userName` for the target's limits: present, at most [`MAX_USER_NAME_CHARS`]
/// characters, not a reserved name (`docs/identity-center-dialect.md` §7).
pub(crate) fn check_user_name(user_name: &str) -> Result<(), ScimError> {
    if is_blank(user_name) {
        return Err(required("userName"));
    }
    check_length_at_most("userName", user_name, MAX_USER_NAME_CHARS)?;
    check_not_reserved("userName", user_name)
}

fn check_required(user: &User) -> Result<(), ScimError> {
    check_user_name(&user.user_name)?;
    let blank = |v: Option<&String>| v.is_none_or(|s| is_blank(s));
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

/// `name` without its blank parts; `None` when nothing is left. Unknown parts were
/// refused before.
fn outbound_name(name: Name) -> Result<Option<Name>, ScimError> {
    let name = Name {
        formatted: optional("name.formatted", name.formatted)?,
        family_name: optional("name.familyName", name.family_name)?,
        given_name: optional("name.givenName", name.given_name)?,
        middle_name: optional("name.middleName", name.middle_name)?,
        honorific_prefix: optional("name.honorificPrefix", name.honorific_prefix)?,
        honorific_suffix: optional("name.honorificSuffix", name.honorific_suffix)?,
        extra: name.extra,
    };
    Ok((name != Name::default()).then_some(name))
}

/// The one value of a multi-valued attribute Identity Center keeps: among the values
/// whose `value` is not blank, the primary, else the first, marked primary, without
/// `display` and without a blank `type`. `None` when no value is left.
fn single_multi_valued(
    attribute: &str,
    values: Option<Vec<MultiValued>>,
) -> Result<Option<Vec<MultiValued>>, ScimError> {
    let Some(values) = values else {
        return Ok(None);
    };
    let values: Vec<MultiValued> = values
        .into_iter()
        .filter(|v| v.value.as_deref().is_some_and(|v| !is_blank(v)))
        .collect();
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
    chosen.value = optional(&format!("{attribute}.value"), chosen.value.take())?;
    chosen.value_type = optional(&format!("{attribute}.type"), chosen.value_type.take())?;
    chosen.primary = Some(true);
    Ok(Some(vec![chosen]))
}

/// `address` without its blank parts; `None` when no part of the address itself is
/// left (a `type` or `primary` alone is no address).
fn address_parts(address: Address) -> Result<Option<Address>, ScimError> {
    let address = Address {
        formatted: optional("addresses.formatted", address.formatted)?,
        street_address: optional("addresses.streetAddress", address.street_address)?,
        locality: optional("addresses.locality", address.locality)?,
        region: optional("addresses.region", address.region)?,
        postal_code: optional("addresses.postalCode", address.postal_code)?,
        country: optional("addresses.country", address.country)?,
        address_type: optional("addresses.type", address.address_type)?,
        primary: address.primary,
        extra: address.extra,
    };
    let has_parts = [
        &address.formatted,
        &address.street_address,
        &address.locality,
        &address.region,
        &address.postal_code,
        &address.country,
    ]
    .iter()
    .any(|part| part.is_some());
    Ok(has_parts.then_some(address))
}

fn single_address(values: Option<Vec<Address>>) -> Result<Option<Vec<Address>>, ScimError> {
    let Some(values) = values else {
        return Ok(None);
    };
    let mut kept = Vec::with_capacity(values.len());
    for address in values {
        kept.extend(address_parts(address)?);
    }
    let Some(mut chosen) = pick_primary(kept, |a| a.primary == Some(true)) else {
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

/// The enterprise extension without blank values, `manager.displayName` or a `manager`
/// left empty; `None` when nothing is left.
fn outbound_enterprise(
    mut enterprise: EnterpriseUser,
) -> Result<Option<EnterpriseUser>, ScimError> {
    let urn = scim_core::ENTERPRISE_USER_SCHEMA;
    if let Some(key) = enterprise.extra.keys().next() {
        return Err(unsupported(&format!("{urn}:{key}")));
    }
    let name = |attribute: &str| format!("{urn}:{attribute}");
    enterprise.employee_number =
        optional(&name("employeeNumber"), enterprise.employee_number.take())?;
    enterprise.cost_center = optional(&name("costCenter"), enterprise.cost_center.take())?;
    enterprise.organization = optional(&name("organization"), enterprise.organization.take())?;
    enterprise.division = optional(&name("division"), enterprise.division.take())?;
    enterprise.department = optional(&name("department"), enterprise.department.take())?;
    if let Some(manager) = &mut enterprise.manager {
        manager.display_name = None;
        if let Some(key) = manager.extra.keys().next() {
            return Err(unsupported(&format!("manager.{key}")));
        }
        manager.value = optional(&name("manager.value"), manager.value.take())?;
        manager.reference = optional(&name("manager.$ref"), manager.reference.take())?;
        if manager.value.is_none() && manager.reference.is_none() {
            enterprise.manager = None;
        }
    }
    Ok((enterprise != EnterpriseUser::default()).then_some(enterprise))
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

    /// Sets one attribute of a body to a value, for one test case.
    type Set = fn(&mut Value, &str);

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
    fn a_blank_phone_and_the_blank_parts_of_an_address_are_dropped_and_the_rest_is_kept() {
        // Arrange: what Okta sends for a profile with no phone and a partial address.
        let mut body = okta_create();
        body["phoneNumbers"] = json!([{"value": "", "type": "mobile", "primary": true}]);
        body["addresses"] = json!([{
            "streetAddress": "", "locality": "Springfield", "region": "",
            "postalCode": "", "country": "US", "type": "work", "primary": true
        }]);
        body["title"] = json!("");
        body["nickName"] = json!("  ");
        body["name"]["middleName"] = json!("");

        // Act
        let out = outbound(body).unwrap();

        // Assert
        assert!(out.get("phoneNumbers").is_none(), "{out}");
        assert!(out.get("title").is_none() && out.get("nickName").is_none());
        assert_eq!(
            out["addresses"],
            json!([{"locality": "Springfield", "country": "US", "type": "work", "primary": true}])
        );
        assert_eq!(
            out["name"],
            json!({"givenName": "Test", "familyName": "User"})
        );
    }

    #[test]
    fn an_address_with_only_blank_parts_and_an_email_without_value_are_left_out() {
        // Arrange
        let mut body = okta_create();
        body["addresses"] = json!([{"streetAddress": "", "locality": " ", "type": "home"}]);
        body["emails"] = json!([
            {"value": "", "type": "work", "primary": true},
            {"value": "home@okta.local", "type": "home"}
        ]);
        body["roles"] = json!([{"value": ""}]);
        body["externalId"] = json!("");
        body[scim_core::ENTERPRISE_USER_SCHEMA] =
            json!({"department": "", "manager": {"value": ""}});

        // Act
        let out = outbound(body).unwrap();

        // Assert
        for gone in [
            "addresses",
            "roles",
            "externalId",
            scim_core::ENTERPRISE_USER_SCHEMA,
        ] {
            assert!(out.get(gone).is_none(), "{gone}: {out}");
        }
        assert_eq!(
            out["emails"],
            json!([{"value": "home@okta.local", "type": "home", "primary": true}])
        );
        assert_eq!(out["schemas"], json!([scim_core::USER_SCHEMA]));
    }

    #[test]
    fn a_blank_required_attribute_is_still_refused_by_name() {
        let cases: [(&str, Edit); 3] = [
            ("name.givenName", |b| b["name"]["givenName"] = json!("")),
            ("name.givenName", |b| {
                b["name"] = json!({"givenName": "", "familyName": ""})
            }),
            ("displayName", |b| b["displayName"] = json!("")),
        ];
        for (attribute, blank_it) in cases {
            // Arrange
            let mut body = okta_create();
            blank_it(&mut body);

            // Act
            let error = outbound(body).unwrap_err();

            // Assert
            assert_eq!(error.scim_type, Some(ScimType::InvalidValue), "{attribute}");
            assert!(
                error.detail.contains(&format!("`{attribute}` is required")),
                "{attribute}: {}",
                error.detail
            );
        }
    }

    #[test]
    fn any_value_over_1024_characters_is_refused_naming_the_attribute() {
        let long = "x".repeat(1025);
        let cases: [(&str, Set); 6] = [
            ("title", |b, v| b["title"] = json!(v)),
            ("displayName", |b, v| b["displayName"] = json!(v)),
            ("name.familyName", |b, v| b["name"]["familyName"] = json!(v)),
            ("emails.value", |b, v| {
                b["emails"] = json!([{"value": v, "primary": true}])
            }),
            ("addresses.locality", |b, v| {
                b["addresses"] = json!([{"locality": v}])
            }),
            (
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
                |b, v| b[scim_core::ENTERPRISE_USER_SCHEMA] = json!({"department": v}),
            ),
        ];
        for (attribute, set) in cases {
            // Arrange
            let mut body = okta_create();
            set(&mut body, &long);

            // Act
            let error = outbound(body).unwrap_err();

            // Assert
            assert_eq!(error.scim_type, Some(ScimType::InvalidValue), "{attribute}");
            assert!(
                error.detail.contains(&format!("`{attribute}` is longer")),
                "{attribute}: {}",
                error.detail
            );
            assert!(
                !error.detail.contains(&long[..64]),
                "the value is not echoed"
            );
        }
    }

    #[test]
    fn a_reserved_user_name_is_refused_in_any_case() {
        for reserved in ["Administrator", "awsadministrators"] {
            // Arrange
            let mut body = okta_create();
            body["userName"] = json!(reserved);

            // Act
            let error = outbound(body).unwrap_err();

            // Assert
            assert_eq!(error.scim_type, Some(ScimType::InvalidValue), "{reserved}");
            assert!(error.detail.contains("`userName`"), "{}", error.detail);
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
        assert_eq!(
            single_value_json("phoneNumbers", &json!([{"value": "", "type": "work"}])).unwrap(),
            None
        );
        assert!(single_value_json("emails", &json!("a@x")).is_err());
    }
}
