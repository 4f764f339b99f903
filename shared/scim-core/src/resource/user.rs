//! The User resource (RFC 7643 §4.1) and its enterprise extension (§4.3).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{
    Address, Meta, MultiValued, Name, Password, Resource, canonical, canonical_serde, wire,
};
use crate::ResourceKind;
use crate::discovery::standard::ENTERPRISE_USER;

/// A User (RFC 7643 §4.1) with every core attribute typed, the enterprise extension
/// typed, and everything else kept in `extra` (see the module docs).
///
/// `Debug` redacts `password`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self")]
pub struct User {
    /// The schema URNs the resource carries; written only when non-empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub schemas: Vec<String>,
    /// The service provider's identifier (`readOnly`, `returned: always`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The provisioning client's identifier (Okta's user id).
    #[serde(
        rename = "externalId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub external_id: Option<String>,
    /// Resource metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
    /// The unique sign-in name (REQUIRED, `caseExact: false`).
    #[serde(rename = "userName")]
    pub user_name: String,
    /// The components of the user's real name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Name>,
    /// The name suitable for display.
    #[serde(
        rename = "displayName",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub display_name: Option<String>,
    /// The casual name.
    #[serde(rename = "nickName", default, skip_serializing_if = "Option::is_none")]
    pub nick_name: Option<String>,
    /// A URI of the user's online profile.
    #[serde(
        rename = "profileUrl",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub profile_url: Option<String>,
    /// The user's title, e.g. `Vice President`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The relationship to the organization, e.g. `Employee`.
    #[serde(rename = "userType", default, skip_serializing_if = "Option::is_none")]
    pub user_type: Option<String>,
    /// The preferred language, e.g. `en-US`.
    #[serde(
        rename = "preferredLanguage",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub preferred_language: Option<String>,
    /// The default locale, e.g. `en-US`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    /// The IANA time zone, e.g. `America/Los_Angeles`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// The administrative status. Reads `true`/`false` as bools or strings; writes a bool.
    #[serde(
        default,
        deserialize_with = "wire::lenient_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub active: Option<bool>,
    /// The cleartext password (`writeOnly`, `returned: never`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<Password>,
    /// Email addresses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emails: Option<Vec<MultiValued>>,
    /// Phone numbers.
    #[serde(
        rename = "phoneNumbers",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub phone_numbers: Option<Vec<MultiValued>>,
    /// Instant messaging addresses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ims: Option<Vec<MultiValued>>,
    /// Photo URLs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub photos: Option<Vec<MultiValued>>,
    /// Physical mailing addresses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addresses: Option<Vec<Address>>,
    /// The groups the user belongs to (`readOnly`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<MultiValued>>,
    /// Entitlements.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entitlements: Option<Vec<MultiValued>>,
    /// Roles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<MultiValued>>,
    /// X.509 certificates, base64 DER.
    #[serde(
        rename = "x509Certificates",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub x509_certificates: Option<Vec<MultiValued>>,
    /// The enterprise extension (RFC 7643 §4.3), under its URN key.
    #[serde(
        rename = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub enterprise: Option<EnterpriseUser>,
    /// Every other attribute, unknown extension objects included.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

canonical_serde!(User, |value| canonical::resource(value, ResourceKind::User));

impl User {
    /// A user with only `schemas` (core User) and `userName` set.
    pub fn new(user_name: impl Into<String>) -> Self {
        Self {
            schemas: vec![crate::USER_SCHEMA.to_owned()],
            id: None,
            external_id: None,
            meta: None,
            user_name: user_name.into(),
            name: None,
            display_name: None,
            nick_name: None,
            profile_url: None,
            title: None,
            user_type: None,
            preferred_language: None,
            locale: None,
            timezone: None,
            active: None,
            password: None,
            emails: None,
            phone_numbers: None,
            ims: None,
            photos: None,
            addresses: None,
            groups: None,
            entitlements: None,
            roles: None,
            x509_certificates: None,
            enterprise: None,
            extra: Map::new(),
        }
    }

    /// The primary email address, or the first one when none is marked primary.
    pub fn primary_email(&self) -> Option<&str> {
        let emails = self.emails.as_deref()?;
        emails
            .iter()
            .find(|e| e.is_primary())
            .or_else(|| emails.first())
            .and_then(|e| e.value.as_deref())
    }

    /// Whether `schemas` lists `urn`, compared case-insensitively.
    pub fn has_schema(&self, urn: &str) -> bool {
        self.schemas.iter().any(|s| s.eq_ignore_ascii_case(urn))
    }

    /// Sets or clears the enterprise extension and keeps `schemas` in step with it.
    pub fn set_enterprise(&mut self, enterprise: Option<EnterpriseUser>) {
        let urn = crate::ENTERPRISE_USER_SCHEMA;
        if enterprise.is_some() {
            if !self.has_schema(urn) {
                self.schemas.push(urn.to_owned());
            }
        } else {
            self.schemas.retain(|s| !s.eq_ignore_ascii_case(urn));
        }
        self.enterprise = enterprise;
    }
}

impl Resource for User {
    const KIND: ResourceKind = ResourceKind::User;

    fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }
    fn external_id(&self) -> Option<&str> {
        self.external_id.as_deref()
    }
    fn meta(&self) -> Option<&Meta> {
        self.meta.as_ref()
    }
}

impl TryFrom<Value> for User {
    type Error = crate::ScimError;

    fn try_from(value: Value) -> Result<Self, Self::Error> {
        Self::from_value(value)
    }
}

impl From<&User> for Value {
    fn from(user: &User) -> Self {
        user.to_value()
    }
}

/// The enterprise User extension (RFC 7643 §4.3).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self")]
pub struct EnterpriseUser {
    /// The employee number.
    #[serde(
        rename = "employeeNumber",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub employee_number: Option<String>,
    /// The cost center.
    #[serde(
        rename = "costCenter",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub cost_center: Option<String>,
    /// The organization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
    /// The division.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub division: Option<String>,
    /// The department.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    /// The user's manager.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manager: Option<Manager>,
    /// Attributes this type does not name.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

canonical_serde!(EnterpriseUser, |value| Ok(canonical::extension_value(
    value,
    &ENTERPRISE_USER
)));

/// The enterprise extension's `manager` (RFC 7643 §4.3).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Manager {
    /// The manager's `id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// The URI of the manager's resource (`$ref`).
    #[serde(rename = "$ref", default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// The manager's display name (`readOnly`).
    #[serde(
        rename = "displayName",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub display_name: Option<String>,
    /// Sub-attributes this type does not name.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn fixture(name: &str) -> Value {
        let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    fn round_trip(input: &Value) -> Value {
        User::from_value(input.clone()).unwrap().to_value()
    }

    #[test]
    fn the_rfc_minimal_user_round_trips_unchanged() {
        // Arrange
        let input = fixture("rfc7643/minimal-user.json");

        // Act
        let user = User::from_value(input.clone()).unwrap();

        // Assert
        assert_eq!(user.user_name, "bjensen@example.com");
        assert_eq!(
            user.meta.as_ref().unwrap().version.as_deref(),
            Some("W/\"3694e05e9dff590\"")
        );
        assert_eq!(user.to_value(), input);
    }

    #[test]
    fn the_rfc_full_user_round_trips_unchanged_with_every_core_attribute_typed() {
        // Arrange
        let input = fixture("rfc7643/full-user.json");

        // Act
        let user = User::from_value(input.clone()).unwrap();

        // Assert
        assert_eq!(
            user.name.as_ref().unwrap().honorific_suffix.as_deref(),
            Some("III")
        );
        assert_eq!(user.primary_email(), Some("bjensen@example.com"));
        assert_eq!(
            user.addresses.as_ref().unwrap()[0].postal_code.as_deref(),
            Some("91608")
        );
        assert_eq!(user.groups.as_ref().unwrap().len(), 3);
        assert_eq!(user.password.as_ref().unwrap().expose(), "t1meMa$heen");
        assert_eq!(user.active, Some(true));
        assert!(
            user.extra.is_empty(),
            "unexpected untyped attributes: {:?}",
            user.extra
        );
        assert_eq!(user.to_value(), input);
    }

    #[test]
    fn the_rfc_enterprise_user_round_trips_unchanged_with_the_extension_typed() {
        // Arrange
        let input = fixture("rfc7643/enterprise-user.json");

        // Act
        let user = User::from_value(input.clone()).unwrap();

        // Assert
        let enterprise = user.enterprise.as_ref().unwrap();
        assert_eq!(enterprise.employee_number.as_deref(), Some("701984"));
        assert_eq!(
            enterprise.manager.as_ref().unwrap().display_name.as_deref(),
            Some("John Smith")
        );
        assert!(user.has_schema(crate::ENTERPRISE_USER_SCHEMA));
        assert_eq!(user.to_value(), input);
    }

    #[test]
    fn oktas_create_user_body_is_read_with_groups_and_password_kept() {
        // Arrange
        let input = fixture("okta/create-user.json");

        // Act
        let user = User::from_value(input.clone()).unwrap();

        // Assert
        assert_eq!(user.user_name, "test.user@okta.local");
        assert_eq!(user.external_id.as_deref(), Some("00ujl29u0le5T6Aj10h7"));
        assert_eq!(user.groups.as_deref(), Some(&[][..]));
        assert!(user.password.is_some());
        assert_eq!(user.active, Some(true));
        assert_eq!(user.primary_email(), Some("test.user@okta.local"));
        assert_eq!(user.to_value(), input);
    }

    #[test]
    fn attribute_names_are_read_case_insensitively_and_written_in_canonical_case() {
        // Arrange
        let input = json!({
            "Schemas": [crate::USER_SCHEMA],
            "USERNAME": "bjensen",
            "Name": {"GivenName": "Barbara", "FAMILYNAME": "Jensen"},
            "Emails": [{"Value": "b@example.com", "Type": "work", "PRIMARY": true}],
            "ACTIVE": "True",
            "urn:ietf:params:scim:schemas:extension:ENTERPRISE:2.0:user": {"EmployeeNumber": "7"}
        });

        // Act
        let user = User::from_value(input).unwrap();

        // Assert
        assert_eq!(user.user_name, "bjensen");
        assert_eq!(
            user.name.as_ref().unwrap().given_name.as_deref(),
            Some("Barbara")
        );
        assert_eq!(user.primary_email(), Some("b@example.com"));
        assert_eq!(user.active, Some(true));
        assert_eq!(
            user.enterprise.as_ref().unwrap().employee_number.as_deref(),
            Some("7")
        );
        assert_eq!(
            user.to_value(),
            json!({
                "schemas": [crate::USER_SCHEMA],
                "userName": "bjensen",
                "name": {"familyName": "Jensen", "givenName": "Barbara"},
                "active": true,
                "emails": [{"value": "b@example.com", "type": "work", "primary": true}],
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "7"}
            })
        );
    }

    #[test]
    fn active_sent_as_a_string_is_written_back_as_a_bool() {
        // Act
        let output = round_trip(&json!({"userName": "u", "active": "false"}));

        // Assert
        assert_eq!(output, json!({"userName": "u", "active": false}));
    }

    #[test]
    fn unknown_attributes_sub_attributes_and_extensions_are_kept() {
        // Arrange
        let input = json!({
            "schemas": [crate::USER_SCHEMA, "urn:example:params:scim:schemas:extension:acme:2.0:User"],
            "userName": "u",
            "name": {"givenName": "G", "phoneticGivenName": "Jee"},
            "addresses": [{"streetAddress": "1 Main St", "floor": 3}],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
                "department": "Ops",
                "badge": {"color": "red"},
                "manager": {"value": "m", "reportingLine": "solid"}
            },
            "urn:example:params:scim:schemas:extension:acme:2.0:User": {"shoeSize": 44},
            "favouriteColour": "teal"
        });

        // Act: serde reads any body; `from_value` also holds it to the `schemas` rule,
        // which refuses the unknown extension URN.
        let user: User = serde_json::from_value(input.clone()).unwrap();
        let refused = User::from_value(input.clone()).unwrap_err();

        // Assert
        assert_eq!(refused.scim_type, Some(crate::ScimType::InvalidValue));
        assert_eq!(user.extra["favouriteColour"], "teal");
        assert_eq!(
            user.name.as_ref().unwrap().extra["phoneticGivenName"],
            "Jee"
        );
        assert_eq!(user.to_value(), input);
    }

    #[test]
    fn a_user_without_user_name_is_an_invalid_value() {
        // Act
        let error = User::from_value(json!({"displayName": "x"})).unwrap_err();

        // Assert
        assert_eq!(error.scim_type, Some(crate::ScimType::InvalidValue));
        assert!(error.detail.contains("userName"), "{}", error.detail);
    }

    #[test]
    fn an_attribute_of_the_wrong_type_is_invalid_syntax() {
        // Act
        let error = User::from_value(json!({"userName": "u", "emails": "a@b.c"})).unwrap_err();

        // Assert
        assert_eq!(error.scim_type, Some(crate::ScimType::InvalidSyntax));
    }

    #[test]
    fn the_same_attribute_twice_in_different_case_is_refused() {
        assert!(User::from_value(json!({"userName": "a", "username": "b"})).is_err());
    }

    #[test]
    fn a_schema_the_endpoint_does_not_serve_is_refused_before_any_other_fault() {
        for body in [
            json!({"schemas": [crate::GROUP_SCHEMA], "displayName": "no userName"}),
            json!({"schemas": ["urn:example:evil"], "userName": 42}),
            json!({"schemas": [crate::ENTERPRISE_USER_SCHEMA], "userName": "u"}),
        ] {
            // Act
            let error = User::from_value(body.clone()).unwrap_err();

            // Assert
            assert_eq!(
                error.scim_type,
                Some(crate::ScimType::InvalidValue),
                "{body}"
            );
            assert!(
                error.detail.starts_with("`schemas`"),
                "{body}: {}",
                error.detail
            );
        }
    }

    #[test]
    fn the_password_is_redacted_in_debug_output() {
        // Arrange
        let mut user = User::new("u");
        user.password = Some(Password::new("t1meMa$heen"));

        // Act
        let debug = format!("{user:?} {user:#?}");

        // Assert
        assert!(!debug.contains("t1meMa$heen"));
        assert!(debug.contains("<redacted>"));
    }

    #[test]
    fn serde_json_from_str_reads_case_insensitively_too() {
        // Act
        let user: User = serde_json::from_str(r#"{"UserName": "u", "DisplayName": "U"}"#).unwrap();

        // Assert
        assert_eq!(user.display_name.as_deref(), Some("U"));
    }

    #[test]
    fn the_primary_email_falls_back_to_the_first_and_is_none_without_emails() {
        // Arrange
        let mut user = User::new("u");
        assert_eq!(user.primary_email(), None);
        user.emails = Some(vec![
            MultiValued::typed("a@x", "work"),
            MultiValued::typed("b@x", "home"),
        ]);

        // Act + Assert
        assert_eq!(user.primary_email(), Some("a@x"));
        user.emails.as_mut().unwrap()[1].primary = Some(true);
        assert_eq!(user.primary_email(), Some("b@x"));
    }

    #[test]
    fn setting_the_enterprise_extension_keeps_schemas_in_step() {
        // Arrange
        let mut user = User::new("u");

        // Act + Assert
        user.set_enterprise(Some(EnterpriseUser::default()));
        assert_eq!(
            user.schemas,
            [crate::USER_SCHEMA, crate::ENTERPRISE_USER_SCHEMA]
        );
        user.set_enterprise(None);
        assert_eq!(user.schemas, [crate::USER_SCHEMA]);
    }

    #[test]
    fn the_enterprise_extension_alone_reads_case_insensitively() {
        // Act
        let ext: EnterpriseUser =
            serde_json::from_value(json!({"COSTCENTER": "4130", "manager": {"VALUE": "m"}}))
                .unwrap();

        // Assert
        assert_eq!(ext.cost_center.as_deref(), Some("4130"));
        assert_eq!(ext.manager.unwrap().value.as_deref(), Some("m"));
    }

    // Leaves that survive a trip through serde's buffered (flattened) representation
    // unchanged: strings, bools, integers and nested objects and arrays of them.
    fn leaf() -> impl Strategy<Value = Value> {
        let scalar = prop_oneof![
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            "[a-zA-Z0-9 @.]{0,12}".prop_map(Value::from),
        ];
        scalar.prop_recursive(2, 12, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                prop::collection::btree_map("[a-z]{1,6}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn text() -> impl Strategy<Value = Value> {
        "[a-zA-Z0-9 @.]{0,16}".prop_map(Value::from)
    }

    fn multi_valued() -> impl Strategy<Value = Value> {
        (
            proptest::option::of(text()),
            proptest::option::of(text()),
            proptest::option::of(any::<bool>()),
            prop::collection::btree_map("x[a-z]{1,5}", leaf(), 0..2),
        )
            .prop_map(|(value, kind, primary, extra)| {
                let mut object = Map::new();
                if let Some(value) = value {
                    object.insert("value".into(), value);
                }
                if let Some(kind) = kind {
                    object.insert("type".into(), kind);
                }
                if let Some(primary) = primary {
                    object.insert("primary".into(), primary.into());
                }
                object.extend(extra);
                Value::Object(object)
            })
    }

    fn user_shaped() -> impl Strategy<Value = Value> {
        (
            text(),
            proptest::option::of(text()),
            proptest::option::of(any::<bool>()),
            proptest::option::of(prop::collection::vec(multi_valued(), 0..3)),
            proptest::option::of((
                text(),
                prop::collection::btree_map("x[a-z]{1,5}", leaf(), 0..2),
            )),
            proptest::option::of(prop::collection::btree_map("[a-z]{1,6}", leaf(), 0..3)),
            prop::collection::btree_map("custom[A-Za-z]{1,6}", leaf(), 0..4),
        )
            .prop_map(
                |(user_name, display_name, active, emails, name, extension, unknown)| {
                    let mut object = Map::new();
                    object.insert("schemas".into(), json!([crate::USER_SCHEMA]));
                    object.insert("userName".into(), user_name);
                    if let Some(display_name) = display_name {
                        object.insert("displayName".into(), display_name);
                    }
                    if let Some(active) = active {
                        object.insert("active".into(), active.into());
                    }
                    if let Some(emails) = emails {
                        object.insert("emails".into(), emails.into());
                    }
                    if let Some((given, extra)) = name {
                        let mut name = Map::new();
                        name.insert("givenName".into(), given);
                        name.extend(extra);
                        object.insert("name".into(), Value::Object(name));
                    }
                    if let Some(extension) = extension {
                        object.insert(
                            "urn:example:scim:extension:2.0:User".into(),
                            Value::Object(extension.into_iter().collect()),
                        );
                    }
                    object.extend(unknown);
                    Value::Object(object)
                },
            )
    }

    proptest! {
        #[test]
        fn user_shaped_objects_with_unknown_attributes_round_trip_losslessly(input in user_shaped()) {
            // Act
            let output = round_trip(&input);

            // Assert: equal as sets of attributes (order is not significant in JSON).
            prop_assert_eq!(output, input);
        }
    }
}
