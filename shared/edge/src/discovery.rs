//! The discovery documents the gateway serves (RFC 7644 §4, RFC 7643 §5–§7): what the
//! gateway itself requires and supports, which is neither scim-core's standard
//! definitions nor Identity Center's own documents.
//!
//! - It supports more than Identity Center does: filters beyond `eq`, `startIndex`
//!   paging, sorting, `attributes` ([`service_provider_config`]).
//! - Its schemas ([`schemas`]) are the standard ones (RFC 7643 §8.7.1), restated as
//!   the gateway keeps them. `required` is exactly what the gateway refuses to forward
//!   without ([`required_attributes`]: Identity Center's requirements, checked by
//!   `gateway::translate`, less what the active rules derive). Attributes Identity Center
//!   refuses, which the gateway accepts and drops (`password`, `photos`, `ims`,
//!   `x509Certificates`, `entitlements`, the `display` of multi-valued values), are left
//!   out, because the gateway does not support them (RFC 7643 §7 describes the
//!   attributes a service provider supports), so that a client building its resources
//!   from `/Schemas` never sends them.
//!
//! scim-core's standard table stays as RFC 7643 has it: the gateway's resource parsing,
//! projection and filters read it.

use gateway::translate::user::DROPPED_ATTRIBUTES;
use scim_core::discovery::{
    AuthenticationScheme, Returned, Uniqueness, standard, standard_resource_types,
};
use scim_core::{
    ListResponse, ResourceKind, ResourceType, Schema, ScimError, ServiceProviderConfig,
};
use serde_json::Value;

/// The most resources one list response holds (`filter.maxResults`); a larger `count`
/// is lowered to it, as RFC 7644 §3.4.2.4 allows.
pub const MAX_RESULTS: u64 = 1000;

// The edge lowers `count` to MAX_RESULTS; a lower cap in the use case would make
// `filter.maxResults` promise pages the gateway never serves.
const _: () = assert!(MAX_RESULTS <= gateway::translate::list::MAX_RESULTS);

/// The largest request body accepted, in bytes; also advertised as `bulk.maxPayloadSize`
/// although bulk is unsupported, because clients read it as the general limit.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// What Identity Center requires of every user (`docs/identity-center-dialect.md` §6,
/// AWS-DG createuser), which `gateway::translate::user::outbound_user` checks before
/// anything is sent: a user without one of them is answered 400 `invalidValue`.
pub const TARGET_REQUIRED_USER_ATTRIBUTES: &[&str] = &[
    "userName",
    "displayName",
    "name.givenName",
    "name.familyName",
];

/// What Identity Center requires of every group (AWS-DG creategroup), checked by
/// `gateway::translate::group::outbound_group`.
pub const TARGET_REQUIRED_GROUP_ATTRIBUTES: &[&str] = &["displayName"];

/// Sub-attributes every value of an optional multi-valued attribute must carry, or the
/// gateway refuses the resource: a member without `value` (`outbound_group`; a member
/// with a blank one is refused rather than dropped, so that a `replace` of members does
/// not become "remove everyone"). An email, phone number or role without `value` is not
/// refused but dropped, so their `value` is not required.
const REQUIRED_IN_EACH_VALUE: &[(ResourceKind, &str)] = &[(ResourceKind::Group, "members.value")];

/// Sub-attributes Identity Center refuses and the gateway drops, so does not support.
const DROPPED_USER_SUB_ATTRIBUTES: &[&str] =
    &["emails.display", "phoneNumbers.display", "roles.display"];

/// Multi-valued attributes of which Identity Center keeps one value (§6).
const ONE_VALUE_KEPT: &[&str] = &["emails", "phoneNumbers", "addresses", "roles"];

/// The attributes the active rule set derives on the way to the target, per resource
/// kind (`displayName`, `name.givenName`, or a whole complex attribute such as `name`):
/// a client need not send them, so they are not required of it. The identity rules,
/// the only rule set today, derive nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DerivedAttributes {
    users: Vec<String>,
    groups: Vec<String>,
}

impl DerivedAttributes {
    /// Nothing derived: the identity rules.
    pub fn none() -> Self {
        Self::default()
    }

    /// Adds `path`, derived for resources of `kind`.
    #[must_use]
    pub fn with(mut self, kind: ResourceKind, path: impl Into<String>) -> Self {
        match kind {
            ResourceKind::User => self.users.push(path.into()),
            ResourceKind::Group => self.groups.push(path.into()),
        }
        self
    }

    /// Whether `path` is derived for `kind`: named itself, or its parent is.
    pub fn covers(&self, kind: ResourceKind, path: &str) -> bool {
        let derived = match kind {
            ResourceKind::User => &self.users,
            ResourceKind::Group => &self.groups,
        };
        let parent = path.split_once('.').map(|(parent, _)| parent);
        derived.iter().any(|d| {
            d.eq_ignore_ascii_case(path) || parent.is_some_and(|p| d.eq_ignore_ascii_case(p))
        })
    }
}

/// The attribute paths the gateway requires of a client's `kind` resource under rules
/// deriving `derived`: what Identity Center requires, less what the rules fill in. The
/// one place `required` in [`schemas`] comes from.
pub fn required_attributes(kind: ResourceKind, derived: &DerivedAttributes) -> Vec<&'static str> {
    let target = match kind {
        ResourceKind::User => TARGET_REQUIRED_USER_ATTRIBUTES,
        ResourceKind::Group => TARGET_REQUIRED_GROUP_ATTRIBUTES,
    };
    target
        .iter()
        .copied()
        .filter(|path| !derived.covers(kind, path))
        .collect()
}

/// The ServiceProviderConfig (RFC 7643 §5) for a gateway served at `base_url`:
/// filter (up to [`MAX_RESULTS`] a page), sort and PATCH supported; ETags, bulk and
/// password change not; bearer tokens.
pub fn service_provider_config(base_url: &str) -> ServiceProviderConfig {
    ServiceProviderConfig::builder()
        .patch(true)
        .filter(true, MAX_RESULTS)
        .bulk(false, 0, MAX_BODY_BYTES as u64)
        .sort(true)
        .etag(false)
        .change_password(false)
        .authentication_scheme(AuthenticationScheme::oauth_bearer_token())
        .located_at(base_url)
        .build()
}

/// `required` exactly as the gateway requires it of `kind` (see [`required_attributes`]).
fn state_required(schema: &mut Schema, kind: ResourceKind, derived: &DerivedAttributes) {
    schema.clear_required();
    for path in required_attributes(kind, derived) {
        schema.require(path);
    }
    for (_, path) in REQUIRED_IN_EACH_VALUE.iter().filter(|(k, _)| *k == kind) {
        if let Some(sub) = schema.attribute_at_mut(path) {
            sub.required = true;
        }
    }
}

/// The core User schema as the gateway keeps users (see the module docs).
pub fn user_schema(derived: &DerivedAttributes) -> Schema {
    let mut schema = standard::user_schema().description(
        "User Account, as the gateway keeps it in AWS IAM Identity Center: attributes \
         Identity Center does not keep are not listed, and of emails, phone numbers, \
         addresses and roles one value is kept.",
    );
    // `groups` is dropped on the way to the target too, but the gateway answers it.
    for name in DROPPED_ATTRIBUTES
        .iter()
        .filter(|a| !a.eq_ignore_ascii_case("groups"))
    {
        schema.remove_attribute(name);
    }
    for path in DROPPED_USER_SUB_ATTRIBUTES {
        schema.remove_attribute(path);
    }
    if let Some(groups) = schema.attribute_at_mut("groups") {
        // Filled in from a membership query only when asked for.
        groups.returned = Returned::Request;
    }
    for name in ONE_VALUE_KEPT {
        if let Some(attribute) = schema.attribute_at_mut(name) {
            let described = attribute.description.take().unwrap_or_default();
            attribute.description = Some(format!(
                "{described} Identity Center keeps one: the primary, else the first."
            ));
        }
    }
    if let Some(email) = schema.attribute_at_mut("emails.value") {
        // The one email kept is the primary, which Identity Center keeps unique (§7).
        email.uniqueness = Uniqueness::Server;
    }
    state_required(&mut schema, ResourceKind::User, derived);
    schema
}

/// The core Group schema as the gateway keeps groups: a unique `displayName`, members
/// that are users, without `display`, returned when asked for.
pub fn group_schema(derived: &DerivedAttributes) -> Schema {
    let mut schema = standard::group_schema();
    if let Some(display_name) = schema.attribute_at_mut("displayName") {
        display_name.uniqueness = Uniqueness::Server;
    }
    if let Some(members) = schema.attribute_at_mut("members") {
        // Listed from a membership query only when asked for (`attributes=members`).
        members.returned = Returned::Request;
    }
    schema.remove_attribute("members.display");
    if let Some(member_type) = schema.attribute_at_mut("members.type") {
        // No nested groups (`docs/identity-center-dialect.md` §6).
        member_type.canonical_values = vec!["User".to_owned()];
    }
    state_required(&mut schema, ResourceKind::Group, derived);
    schema
}

/// The enterprise User extension as the gateway keeps it: without `manager.displayName`,
/// which Identity Center refuses and the gateway drops.
pub fn enterprise_user_schema() -> Schema {
    let mut schema = standard::enterprise_user_schema();
    schema.remove_attribute("manager.displayName");
    schema.clear_required();
    schema
}

/// The Schema documents: core User, enterprise User, core Group, with `required` under
/// rules deriving `derived`.
pub fn schemas(base_url: &str, derived: &DerivedAttributes) -> Vec<Schema> {
    [
        user_schema(derived),
        enterprise_user_schema(),
        group_schema(derived),
    ]
    .into_iter()
    .map(|s| s.located_at(base_url))
    .collect()
}

/// The ResourceType documents: User (with the optional enterprise extension) and Group.
pub fn resource_types(base_url: &str) -> Vec<ResourceType> {
    standard_resource_types()
        .into_iter()
        .map(|r| r.located_at(base_url))
        .collect()
}

/// `/Schemas` or `/ResourceTypes` as a ListResponse (RFC 7644 §4).
pub fn list_of<T: serde::Serialize>(documents: Vec<T>) -> Result<Value, ScimError> {
    let total = documents.len() as u64;
    serde_json::to_value(ListResponse::page(documents, total, 1))
        .map_err(|_| ScimError::internal("a discovery document could not be written"))
}

/// The schema whose URN is `id` (compared case-insensitively, as URNs are).
pub fn schema(base_url: &str, id: &str, derived: &DerivedAttributes) -> Option<Schema> {
    schemas(base_url, derived)
        .into_iter()
        .find(|s| s.id.eq_ignore_ascii_case(id))
}

/// The resource type whose `id` or `name` is `id`.
pub fn resource_type(base_url: &str, id: &str) -> Option<ResourceType> {
    resource_types(base_url).into_iter().find(|r| {
        r.name.eq_ignore_ascii_case(id)
            || r.id.as_deref().is_some_and(|i| i.eq_ignore_ascii_case(id))
    })
}

#[cfg(test)]
mod tests {
    use gateway::translate::group::outbound_group;
    use gateway::translate::user::outbound_user;
    use scim_core::discovery::Mutability;
    use scim_core::{Group, Resource, ScimType, User};
    use serde_json::json;

    use super::*;

    /// A body carrying exactly `paths` (`name` or `name.sub`), each a plain string
    /// (complex parents as objects), as a schema-driven client builds it.
    fn body_with(schema_urn: &str, paths: &[String]) -> Value {
        let mut body = json!({"schemas": [schema_urn]});
        for path in paths {
            match path.split_once('.') {
                Some((parent, sub)) => {
                    if !body[parent].is_object() {
                        body[parent] = json!({});
                    }
                    body[parent][sub] = json!(format!("{sub} value"));
                }
                None if !body[path.as_str()].is_object() => {
                    body[path.as_str()] = json!(format!("{path} value"));
                }
                None => {}
            }
        }
        body
    }

    /// The required paths as a client reads them: parents that are complex hold objects.
    fn required(schema: &Schema) -> Vec<String> {
        let mut paths = schema.required_paths();
        // A complex parent is filled by its sub-attributes, not given a string.
        paths.retain(|p| {
            schema
                .attribute_at(p)
                .is_some_and(|a| a.attribute_type != scim_core::discovery::AttributeType::Complex)
        });
        paths
    }

    #[test]
    fn the_service_provider_config_advertises_exactly_what_the_gateway_supports() {
        // Act
        let value = serde_json::to_value(service_provider_config("https://gw/scim/v2")).unwrap();

        // Assert
        assert_eq!(value["patch"], json!({"supported": true}));
        assert_eq!(
            value["filter"],
            json!({"supported": true, "maxResults": MAX_RESULTS})
        );
        // `sort` was advertised as unsupported, conservatively; the gateway sorts
        // (`gateway::translate::list::order`), so it now says so.
        assert_eq!(value["sort"], json!({"supported": true}));
        assert_eq!(value["etag"], json!({"supported": false}));
        assert_eq!(value["changePassword"], json!({"supported": false}));
        assert_eq!(value["bulk"]["supported"], false);
        assert_eq!(
            value["authenticationSchemes"][0]["type"],
            "oauthbearertoken"
        );
        assert_eq!(
            value["meta"]["location"],
            "https://gw/scim/v2/ServiceProviderConfig"
        );
    }

    #[test]
    fn under_the_identity_rules_the_schemas_require_exactly_what_identity_center_does() {
        // Act
        let user = user_schema(&DerivedAttributes::none());
        let group = group_schema(&DerivedAttributes::none());
        let enterprise = enterprise_user_schema();

        // Assert
        assert_eq!(
            user.required_paths(),
            [
                "userName",
                "name",
                "name.familyName",
                "name.givenName",
                "displayName"
            ]
        );
        assert_eq!(group.required_paths(), ["displayName"]);
        assert!(enterprise.required_paths().is_empty());
    }

    #[test]
    fn a_user_with_only_the_required_attributes_is_forwarded_and_without_any_one_is_refused() {
        // Arrange
        let paths = required(&user_schema(&DerivedAttributes::none()));
        let user = |paths: &[String]| User::from_value(body_with(scim_core::USER_SCHEMA, paths));

        // Act
        let complete = user(&paths).and_then(outbound_user);

        // Assert
        assert!(complete.is_ok(), "{complete:?}");
        for left_out in &paths {
            let fewer: Vec<String> = paths.iter().filter(|p| *p != left_out).cloned().collect();
            let error = user(&fewer).and_then(outbound_user).unwrap_err();
            assert_eq!(error.scim_type, Some(ScimType::InvalidValue), "{left_out}");
            assert!(
                error.detail.contains(left_out.as_str()),
                "{left_out}: {}",
                error.detail
            );
        }
    }

    #[test]
    fn a_group_with_only_the_required_attributes_is_forwarded_and_without_them_is_refused() {
        // Arrange
        let paths = required(&group_schema(&DerivedAttributes::none()));
        let group = |paths: &[String]| Group::from_value(body_with(scim_core::GROUP_SCHEMA, paths));

        // Act
        let complete = group(&paths).and_then(outbound_group);
        let empty = group(&[]).and_then(outbound_group);

        // Assert
        assert!(complete.is_ok(), "{complete:?}");
        assert!(empty.unwrap_err().detail.contains("displayName"));
    }

    #[test]
    fn a_member_without_the_value_the_schema_requires_in_each_member_is_refused() {
        // Arrange
        let schema = group_schema(&DerivedAttributes::none());
        let body = |member: Value| json!({"schemas": [scim_core::GROUP_SCHEMA], "displayName": "Eng", "members": [member]});
        let user_id = "9067729b3d-94f5e1a2-1b6c-4b7e-8b8a-2d3c4e5f6a7b";

        // Act
        let with_value =
            Group::from_value(body(json!({"value": user_id}))).and_then(outbound_group);
        let blank = Group::from_value(body(json!({"value": " "}))).and_then(outbound_group);
        let without = Group::from_value(body(json!({"type": "User"}))).and_then(outbound_group);

        // Assert
        assert!(schema.attribute_at("members.value").unwrap().required);
        assert!(with_value.is_ok(), "{with_value:?}");
        assert!(blank.is_err());
        assert!(without.is_err());
    }

    #[test]
    fn a_required_attribute_the_rules_derive_is_no_longer_required_of_the_client() {
        // Arrange
        let derived = DerivedAttributes::none()
            .with(ResourceKind::User, "displayName")
            .with(ResourceKind::User, "NAME")
            .with(ResourceKind::Group, "displayName");

        // Act
        let user = user_schema(&derived);
        let group = group_schema(&derived);

        // Assert
        assert_eq!(
            required_attributes(ResourceKind::User, &derived),
            ["userName"]
        );
        assert_eq!(user.required_paths(), ["userName"]);
        assert!(group.required_paths().is_empty());
        assert!(group.attribute_at("members.value").unwrap().required);
    }

    #[test]
    fn attributes_identity_center_does_not_keep_are_not_described() {
        // Act
        let user = user_schema(&DerivedAttributes::none());
        let group = group_schema(&DerivedAttributes::none());
        let enterprise = enterprise_user_schema();

        // Assert
        for gone in [
            "password",
            "photos",
            "ims",
            "x509Certificates",
            "entitlements",
            "emails.display",
            "phoneNumbers.display",
            "roles.display",
        ] {
            assert!(user.attribute_at(gone).is_none(), "{gone}");
        }
        assert!(group.attribute_at("members.display").is_none());
        assert!(enterprise.attribute_at("manager.displayName").is_none());
        // The standard definitions, which the rest of the gateway reads, keep them.
        assert!(standard::user_schema().attribute_at("password").is_some());
    }

    #[test]
    fn what_the_gateway_keeps_is_described_with_its_own_characteristics() {
        // Act
        let user = user_schema(&DerivedAttributes::none());
        let group = group_schema(&DerivedAttributes::none());

        // Assert
        let groups = user.attribute_at("groups").unwrap();
        assert_eq!(
            (groups.mutability, groups.returned),
            (Mutability::ReadOnly, Returned::Request)
        );
        let emails = user.attribute_at("emails").unwrap();
        assert!(!emails.required);
        assert!(emails.multi_valued);
        assert!(!user.attribute_at("emails.value").unwrap().required);
        assert_eq!(
            group.attribute_at("displayName").unwrap().uniqueness,
            Uniqueness::Server
        );
        assert_eq!(
            group.attribute_at("members.type").unwrap().canonical_values,
            ["User"]
        );
        assert!(group.attribute_at("members.value").unwrap().required);
        assert_eq!(
            group.attribute_at("members").unwrap().returned,
            Returned::Request
        );
    }

    #[test]
    fn schemas_and_resource_types_are_found_by_id_case_insensitively() {
        let none = DerivedAttributes::none();
        assert!(schema("x", "urn:ietf:params:scim:schemas:core:2.0:user", &none).is_some());
        assert!(schema("x", scim_core::ENTERPRISE_USER_SCHEMA, &none).is_some());
        assert!(schema("x", "urn:nope", &none).is_none());
        assert_eq!(
            resource_type("x", "group").map(|r| r.endpoint),
            Some("/Groups".to_owned())
        );
        assert!(resource_type("x", "Printer").is_none());
    }

    #[test]
    fn discovery_lists_are_list_responses_with_integer_totals() {
        let value = list_of(schemas("https://gw/scim/v2", &DerivedAttributes::none())).unwrap();
        assert_eq!(value["totalResults"], 3);
        assert_eq!(value["Resources"][0]["meta"]["resourceType"], "Schema");
        assert_eq!(value["Resources"][0]["attributes"][0]["required"], true);
    }
}
