//! The discovery documents the gateway serves (RFC 7644 §4, RFC 7643 §5–§7): what the
//! gateway itself supports, which is more than Identity Center does (filters beyond `eq`,
//! `startIndex` paging, `attributes`) and deliberately no more than it can keep.

use scim_core::discovery::{AuthenticationScheme, standard_resource_types, standard_schemas};
use scim_core::{ListResponse, ResourceType, Schema, ScimError, ServiceProviderConfig};
use serde_json::Value;

/// The most resources one list response holds (`filter.maxResults`); a larger `count`
/// is lowered to it, as RFC 7644 §3.4.2.4 allows.
pub const MAX_RESULTS: u64 = 1000;

/// The largest request body accepted, in bytes; also advertised as `bulk.maxPayloadSize`
/// although bulk is unsupported, because clients read it as the general limit.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The ServiceProviderConfig (RFC 7643 §5) for a gateway served at `base_url`:
/// filter and PATCH supported; sort, ETags, bulk and password change not; bearer tokens.
pub fn service_provider_config(base_url: &str) -> ServiceProviderConfig {
    ServiceProviderConfig::builder()
        .patch(true)
        .filter(true, MAX_RESULTS)
        .bulk(false, 0, MAX_BODY_BYTES as u64)
        .sort(false)
        .etag(false)
        .change_password(false)
        .authentication_scheme(AuthenticationScheme::oauth_bearer_token())
        .located_at(base_url)
        .build()
}

/// The Schema documents: core User, enterprise User, core Group.
pub fn schemas(base_url: &str) -> Vec<Schema> {
    standard_schemas()
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
pub fn schema(base_url: &str, id: &str) -> Option<Schema> {
    schemas(base_url)
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
    use serde_json::json;

    use super::*;

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
        assert_eq!(value["sort"], json!({"supported": false}));
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
    fn schemas_and_resource_types_are_found_by_id_case_insensitively() {
        assert!(schema("x", "urn:ietf:params:scim:schemas:core:2.0:user").is_some());
        assert!(schema("x", scim_core::ENTERPRISE_USER_SCHEMA).is_some());
        assert!(schema("x", "urn:nope").is_none());
        assert_eq!(
            resource_type("x", "group").map(|r| r.endpoint),
            Some("/Groups".to_owned())
        );
        assert!(resource_type("x", "Printer").is_none());
    }

    #[test]
    fn discovery_lists_are_list_responses_with_integer_totals() {
        let value = list_of(schemas("https://gw/scim/v2")).unwrap();
        assert_eq!(value["totalResults"], 3);
        assert_eq!(value["Resources"][0]["meta"]["resourceType"], "Schema");
    }
}
