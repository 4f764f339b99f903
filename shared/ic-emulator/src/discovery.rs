//! The read-only discovery documents: `/ServiceProviderConfig` as AWS-DG
//! serviceproviderconfig shows it, and `/Schemas`, `/Schemas/{urn}`, `/ResourceTypes`
//! describing only what Identity Center supports (AWS-DG limitations).

use serde_json::{Value, json};

/// Schema URN of the RFC 7643 §5 ServiceProviderConfig.
const SPC_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
/// Schema URN of an RFC 7643 §7 Schema resource.
const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";
/// Schema URN of an RFC 7643 §6 ResourceType.
const RESOURCE_TYPE_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";

/// AWS-DG serviceproviderconfig: patch true; bulk false with maxOperations 1 and
/// maxPayloadSize 1048576; filter true (maxResults 100, as the list pages now say, where
/// the example still shows 50); changePassword, sort, etag false; one authentication
/// scheme, `oauthbearertoken`, with RFC 6750 as specUri.
pub(crate) fn service_provider_config() -> Value {
    json!({
        "schemas": [SPC_SCHEMA],
        "documentationUri": "https://docs.aws.amazon.com/singlesignon/latest/userguide/manage-your-identity-source-idp.html",
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "Authentication scheme using the OAuth Bearer Token Standard",
            "specUri": "https://www.rfc-editor.org/info/rfc6750",
            "documentationUri": "https://docs.aws.amazon.com/singlesignon/latest/userguide/provision-automatically.html",
            "primary": true
        }],
        "patch": {"supported": true},
        "bulk": {"supported": false, "maxOperations": 1, "maxPayloadSize": 1_048_576},
        "filter": {"supported": true, "maxResults": 100},
        "changePassword": {"supported": false},
        "sort": {"supported": false},
        "etag": {"supported": false}
    })
}

/// One attribute definition (RFC 7643 §7).
fn attr(name: &str, required: bool, case_exact: bool) -> Value {
    json!({
        "name": name,
        "type": "string",
        "multiValued": false,
        "required": required,
        "caseExact": case_exact,
        "mutability": "readWrite",
        "returned": "default",
        "uniqueness": "none"
    })
}

fn complex(name: &str, multi: bool, required: bool, subs: Vec<Value>) -> Value {
    json!({
        "name": name,
        "type": "complex",
        "multiValued": multi,
        "required": required,
        "mutability": "readWrite",
        "returned": "default",
        "subAttributes": subs
    })
}

fn boolean(name: &str) -> Value {
    json!({"name": name, "type": "boolean", "multiValued": false, "required": false,
           "mutability": "readWrite", "returned": "default"})
}

fn typed_multi(name: &str, value_required: bool) -> Value {
    complex(
        name,
        true,
        false,
        vec![
            attr("value", value_required, false),
            attr("type", false, false),
            boolean("primary"),
        ],
    )
}

fn user_schema() -> Value {
    let mut user_name = attr("userName", true, false);
    user_name["uniqueness"] = json!("server");
    let name = complex(
        "name",
        false,
        true,
        [
            "formatted",
            "familyName",
            "givenName",
            "middleName",
            "honorificPrefix",
            "honorificSuffix",
        ]
        .iter()
        .map(|n| attr(n, *n == "familyName" || *n == "givenName", false))
        .collect(),
    );
    let address = complex(
        "addresses",
        true,
        false,
        [
            "formatted",
            "streetAddress",
            "locality",
            "region",
            "postalCode",
            "country",
            "type",
        ]
        .iter()
        .map(|n| attr(n, false, false))
        .chain([boolean("primary")])
        .collect(),
    );
    let mut attributes = vec![user_name, name, attr("displayName", true, false)];
    for simple in [
        "nickName",
        "profileUrl",
        "title",
        "userType",
        "preferredLanguage",
        "locale",
        "timezone",
    ] {
        attributes.push(attr(simple, false, false));
    }
    attributes.push(boolean("active"));
    attributes.push(typed_multi("emails", true));
    attributes.push(address);
    attributes.push(typed_multi("phoneNumbers", true));
    attributes.push(typed_multi("roles", true));
    json!({
        "schemas": [SCHEMA_SCHEMA],
        "id": scim_core::USER_SCHEMA,
        "name": "User",
        "description": "User Account",
        "attributes": attributes,
        "meta": {"resourceType": "Schema", "location": format!("/Schemas/{}", scim_core::USER_SCHEMA)}
    })
}

fn group_schema() -> Value {
    let mut display_name = attr("displayName", true, false);
    display_name["uniqueness"] = json!("server");
    let mut members = complex(
        "members",
        true,
        false,
        vec![
            attr("value", false, true),
            attr("type", false, false),
            attr("$ref", false, true),
        ],
    );
    members["returned"] = json!("never");
    json!({
        "schemas": [SCHEMA_SCHEMA],
        "id": scim_core::GROUP_SCHEMA,
        "name": "Group",
        "description": "Group",
        "attributes": [display_name, members],
        "meta": {"resourceType": "Schema", "location": format!("/Schemas/{}", scim_core::GROUP_SCHEMA)}
    })
}

fn enterprise_schema() -> Value {
    let mut attributes: Vec<Value> = [
        "employeeNumber",
        "costCenter",
        "organization",
        "division",
        "department",
    ]
    .iter()
    .map(|n| attr(n, false, false))
    .collect();
    attributes.push(complex(
        "manager",
        false,
        false,
        vec![attr("value", false, true), attr("$ref", false, true)],
    ));
    json!({
        "schemas": [SCHEMA_SCHEMA],
        "id": scim_core::ENTERPRISE_USER_SCHEMA,
        "name": "EnterpriseUser",
        "description": "Enterprise User",
        "attributes": attributes,
        "meta": {"resourceType": "Schema", "location": format!("/Schemas/{}", scim_core::ENTERPRISE_USER_SCHEMA)}
    })
}

/// All schemas, in the order `/Schemas` lists them.
pub(crate) fn schemas() -> Vec<Value> {
    vec![user_schema(), group_schema(), enterprise_schema()]
}

/// The schema with this URN (compared without regard to case).
pub(crate) fn schema(urn: &str) -> Option<Value> {
    schemas().into_iter().find(|s| {
        s["id"]
            .as_str()
            .is_some_and(|id| id.eq_ignore_ascii_case(urn))
    })
}

/// The User and Group resource types.
pub(crate) fn resource_types() -> Vec<Value> {
    vec![
        json!({
            "schemas": [RESOURCE_TYPE_SCHEMA],
            "id": "User",
            "name": "User",
            "endpoint": "/Users",
            "description": "User Account",
            "schema": scim_core::USER_SCHEMA,
            "schemaExtensions": [{"schema": scim_core::ENTERPRISE_USER_SCHEMA, "required": false}],
            "meta": {"resourceType": "ResourceType", "location": "/ResourceTypes/User"}
        }),
        json!({
            "schemas": [RESOURCE_TYPE_SCHEMA],
            "id": "Group",
            "name": "Group",
            "endpoint": "/Groups",
            "description": "Group",
            "schema": scim_core::GROUP_SCHEMA,
            "schemaExtensions": [],
            "meta": {"resourceType": "ResourceType", "location": "/ResourceTypes/Group"}
        }),
    ]
}

/// A classic ListResponse around `resources` (RFC 7644 §3.4.2).
pub(crate) fn list_of(resources: Vec<Value>) -> Value {
    json!({
        "totalResults": resources.len(),
        "itemsPerPage": resources.len(),
        "startIndex": 1,
        "schemas": [scim_core::LIST_RESPONSE_SCHEMA],
        "Resources": resources
    })
}
