//! [`ResourceKind`]: which of the standard resource types (User, Group) a resource is,
//! with its endpoint, its schemas and the lookups of its attribute definitions.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ScimError;
use crate::discovery::standard::{
    AttributeDef, COMMON_ATTRIBUTES, ENTERPRISE_USER, GROUP, SchemaDef, USER, find,
};

/// The resource types this crate knows the schemas of, and the two the gateway serves.
///
/// Serialized as the variant name, `"User"` or `"Group"` (audit records store it so).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ResourceKind {
    /// `/Users` (RFC 7643 §4.1).
    User,
    /// `/Groups` (RFC 7643 §4.2).
    Group,
}

impl ResourceKind {
    /// The core schema.
    pub fn core(self) -> &'static SchemaDef {
        match self {
            ResourceKind::User => &USER,
            ResourceKind::Group => &GROUP,
        }
    }

    /// The standard extensions this resource type may carry.
    pub fn extensions(self) -> &'static [SchemaDef] {
        match self {
            ResourceKind::User => std::slice::from_ref(&ENTERPRISE_USER),
            ResourceKind::Group => &[],
        }
    }

    /// The `meta.resourceType` name: `User` or `Group`.
    pub fn resource_type(self) -> &'static str {
        match self {
            ResourceKind::User => "User",
            ResourceKind::Group => "Group",
        }
    }

    /// The endpoint below the base URL: `/Users` or `/Groups`.
    pub fn endpoint(self) -> &'static str {
        match self {
            ResourceKind::User => "/Users",
            ResourceKind::Group => "/Groups",
        }
    }

    /// Which kind a JSON resource is: by its `schemas`, else by `meta.resourceType`.
    pub fn of(resource: &Value) -> Option<Self> {
        let object = resource.as_object()?;
        let get = |name: &str| {
            object
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v)
        };
        let by_schema = get("schemas")
            .and_then(Value::as_array)
            .and_then(|schemas| {
                schemas.iter().filter_map(Value::as_str).find_map(|urn| {
                    [ResourceKind::User, ResourceKind::Group]
                        .into_iter()
                        .find(|kind| kind.core().id.eq_ignore_ascii_case(urn))
                })
            });
        by_schema.or_else(|| {
            let resource_type = get("meta")?.as_object()?.iter().find_map(|(k, v)| {
                k.eq_ignore_ascii_case("resourceType")
                    .then(|| v.as_str())
                    .flatten()
            })?;
            [ResourceKind::User, ResourceKind::Group]
                .into_iter()
                .find(|kind| kind.resource_type().eq_ignore_ascii_case(resource_type))
        })
    }

    /// The definition of a top-level attribute of this resource type, with the extension
    /// schema it belongs to (`None` for common and core attributes). A `urn` naming the
    /// core schema is the same as no `urn`.
    pub fn attribute(
        self,
        urn: Option<&str>,
        name: &str,
    ) -> Option<(&'static AttributeDef, Option<&'static SchemaDef>)> {
        match urn {
            Some(urn) if !self.core().id.eq_ignore_ascii_case(urn) => {
                let extension = self.extension(urn)?;
                extension.attribute(name).map(|def| (def, Some(extension)))
            }
            _ => find(COMMON_ATTRIBUTES, name)
                .or_else(|| self.core().attribute(name))
                .map(|def| (def, None)),
        }
    }

    /// Refuses a body sent to this kind's endpoint whose `schemas` names a URN the
    /// endpoint does not serve: it must include the core schema and may add only the
    /// known extensions, compared case-insensitively (`invalidValue`). A missing or
    /// wrongly typed `schemas` passes, for the parser to refuse.
    /// [`crate::Resource::from_value`] checks this first.
    pub fn check_schemas(self, body: &Value) -> Result<(), ScimError> {
        crate::schemas::check(body, self.core().id, |urn| {
            self.core().id.eq_ignore_ascii_case(urn) || self.extension(urn).is_some()
        })
    }

    /// The standard extension with this URN, compared case-insensitively.
    pub fn extension(self, urn: &str) -> Option<&'static SchemaDef> {
        self.extensions()
            .iter()
            .find(|e| e.id.eq_ignore_ascii_case(urn))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_kind_of_a_resource_comes_from_its_schemas_or_its_meta() {
        assert_eq!(
            ResourceKind::of(&json!({"schemas": [crate::USER_SCHEMA]})),
            Some(ResourceKind::User)
        );
        assert_eq!(
            ResourceKind::of(&json!({"meta": {"resourceType": "Group"}})),
            Some(ResourceKind::Group)
        );
        assert_eq!(ResourceKind::of(&json!({"displayName": "x"})), None);
    }

    #[test]
    fn a_kind_serializes_as_its_variant_name_and_names_its_endpoint() {
        for (kind, name, endpoint) in [
            (ResourceKind::User, "User", "/Users"),
            (ResourceKind::Group, "Group", "/Groups"),
        ] {
            assert_eq!(serde_json::to_value(kind).unwrap(), json!(name));
            assert_eq!(
                serde_json::from_value::<ResourceKind>(json!(name)).unwrap(),
                kind
            );
            assert_eq!(kind.resource_type(), name);
            assert_eq!(kind.endpoint(), endpoint);
        }
    }
}
