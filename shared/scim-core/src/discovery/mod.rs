//! The discovery documents of RFC 7643 §5–§7 (ServiceProviderConfig, ResourceType and
//! Schema) as types with builders, and the standard definitions of RFC 7643 §8.7.
//!
//! The gateway and the Identity Center emulator each describe themselves with these
//! types; the attribute characteristics that the rest of the crate consults (case,
//! mutability, `returned`) come from the one table in [`standard`], which stays as RFC
//! 7643 has it. A service provider that requires or supports something else states it
//! on its own copy of a standard [`Schema`] ([`Schema::require`],
//! [`Schema::remove_attribute`], [`Schema::attribute_at_mut`]).

pub mod standard;

use serde::{Deserialize, Serialize};

use crate::resource::Meta;

/// Schema URN of a ServiceProviderConfig document (RFC 7643 §5).
pub const SERVICE_PROVIDER_CONFIG_SCHEMA: &str =
    "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
/// Schema URN of a ResourceType document (RFC 7643 §6).
pub const RESOURCE_TYPE_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
/// Schema URN of a Schema document (RFC 7643 §7).
pub const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";

/// The data type of an attribute (RFC 7643 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AttributeType {
    /// A sequence of characters.
    #[default]
    String,
    /// `true` or `false`.
    Boolean,
    /// A real number.
    Decimal,
    /// A whole number.
    Integer,
    /// An `xsd:dateTime`, e.g. `2008-01-23T04:56:22Z`.
    DateTime,
    /// Base64-encoded bytes.
    Binary,
    /// A URI to a resource or an external location.
    Reference,
    /// A set of sub-attributes.
    Complex,
}

/// Whether and how an attribute may be modified (RFC 7643 §7, `mutability`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Mutability {
    /// Set by the service provider only.
    ReadOnly,
    /// Updatable and readable.
    #[default]
    ReadWrite,
    /// May be set once (on creation, or when it has no value) and never changed after.
    Immutable,
    /// Updatable but never returned, e.g. `password`.
    WriteOnly,
}

/// When an attribute is returned in a response (RFC 7643 §7, `returned`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Returned {
    /// Always, whatever `attributes`/`excludedAttributes` say.
    Always,
    /// Never, e.g. `password`.
    Never,
    /// Unless excluded; only when asked for if `attributes` is given.
    #[default]
    Default,
    /// Only when named in `attributes`.
    Request,
}

/// How the service provider enforces uniqueness (RFC 7643 §7, `uniqueness`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Uniqueness {
    /// No uniqueness.
    #[default]
    None,
    /// Unique within the service provider's tenant.
    Server,
    /// Globally unique.
    Global,
}

/// One attribute definition of a Schema document (RFC 7643 §7). Missing
/// characteristics read as the defaults of RFC 7643 §2.2.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SchemaAttribute {
    /// The attribute name.
    pub name: String,
    /// The data type.
    #[serde(rename = "type", default)]
    pub attribute_type: AttributeType,
    /// Whether the attribute holds a list of values.
    #[serde(default)]
    pub multi_valued: bool,
    /// A human-readable description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Whether the attribute is required.
    #[serde(default)]
    pub required: bool,
    /// Suggested canonical values, e.g. `work`, `home`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub canonical_values: Vec<String>,
    /// Whether string values compare case-sensitively.
    #[serde(default)]
    pub case_exact: bool,
    /// Whether and how the attribute may be modified.
    #[serde(default)]
    pub mutability: Mutability,
    /// When the attribute is returned.
    #[serde(default)]
    pub returned: Returned,
    /// How uniqueness is enforced.
    #[serde(default)]
    pub uniqueness: Uniqueness,
    /// For `reference` attributes: the resource types it may point to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reference_types: Vec<String>,
    /// For `complex` attributes: the sub-attribute definitions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sub_attributes: Vec<SchemaAttribute>,
}

impl SchemaAttribute {
    /// A single-valued, optional, read-write attribute with the RFC 7643 §2.2 defaults;
    /// refine it with the chained setters.
    pub fn new(name: impl Into<String>, attribute_type: AttributeType) -> Self {
        Self {
            name: name.into(),
            attribute_type,
            multi_valued: false,
            description: None,
            required: false,
            canonical_values: Vec::new(),
            case_exact: false,
            mutability: Mutability::ReadWrite,
            returned: Returned::Default,
            uniqueness: Uniqueness::None,
            reference_types: Vec::new(),
            sub_attributes: Vec::new(),
        }
    }
    /// Sets `multiValued`.
    #[must_use]
    pub fn multi_valued(mut self, multi_valued: bool) -> Self {
        self.multi_valued = multi_valued;
        self
    }
    /// Sets `description`.
    #[must_use]
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }
    /// Sets `required`.
    #[must_use]
    pub fn required(mut self, required: bool) -> Self {
        self.required = required;
        self
    }
    /// Sets `caseExact`.
    #[must_use]
    pub fn case_exact(mut self, case_exact: bool) -> Self {
        self.case_exact = case_exact;
        self
    }
    /// Sets `mutability`.
    #[must_use]
    pub fn mutability(mut self, mutability: Mutability) -> Self {
        self.mutability = mutability;
        self
    }
    /// Sets `returned`.
    #[must_use]
    pub fn returned(mut self, returned: Returned) -> Self {
        self.returned = returned;
        self
    }
    /// Sets `uniqueness`.
    #[must_use]
    pub fn uniqueness(mut self, uniqueness: Uniqueness) -> Self {
        self.uniqueness = uniqueness;
        self
    }
    /// Sets `canonicalValues`.
    #[must_use]
    pub fn canonical_values<I, S>(mut self, values: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.canonical_values = values.into_iter().map(Into::into).collect();
        self
    }
    /// Sets `referenceTypes`.
    #[must_use]
    pub fn reference_types<I, S>(mut self, types: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.reference_types = types.into_iter().map(Into::into).collect();
        self
    }
    /// Appends a sub-attribute (for `complex` attributes).
    #[must_use]
    pub fn sub_attribute(mut self, sub: SchemaAttribute) -> Self {
        self.sub_attributes.push(sub);
        self
    }
    /// The sub-attribute `name`, compared case-insensitively (RFC 7643 §2.1).
    pub fn sub_attribute_named(&self, name: &str) -> Option<&SchemaAttribute> {
        self.sub_attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }
}

/// `name.sub` as (`name`, `Some(sub)`), `name` as (`name`, `None`).
fn split_path(path: &str) -> (&str, Option<&str>) {
    match path.split_once('.') {
        Some((name, sub)) => (name, Some(sub)),
        None => (path, None),
    }
}

/// A Schema document (RFC 7643 §7): the attributes of one resource schema or extension.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Schema {
    /// Always `[SCHEMA_SCHEMA]` on output.
    #[serde(default)]
    pub schemas: Vec<String>,
    /// The schema URN, e.g. [`crate::USER_SCHEMA`].
    pub id: String,
    /// A human-readable name, e.g. `User`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A human-readable description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The attribute definitions.
    #[serde(default)]
    pub attributes: Vec<SchemaAttribute>,
    /// Resource metadata; `meta.resourceType` is `Schema`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
}

impl Schema {
    /// An empty schema with the given URN and name.
    pub fn new(id: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            schemas: vec![SCHEMA_SCHEMA.to_owned()],
            id: id.into(),
            name: Some(name.into()),
            description: None,
            attributes: Vec::new(),
            meta: None,
        }
    }
    /// Sets `description`.
    #[must_use]
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }
    /// Appends an attribute definition.
    #[must_use]
    pub fn attribute(mut self, attribute: SchemaAttribute) -> Self {
        self.attributes.push(attribute);
        self
    }
    /// Sets `meta` for a document served at `{base_url}/Schemas/{id}`.
    #[must_use]
    pub fn located_at(mut self, base_url: &str) -> Self {
        let location = format!("{}/Schemas/{}", base_url.trim_end_matches('/'), self.id);
        self.meta = Some(Meta::located("Schema", location));
        self
    }
    /// The definition of the attribute `name`, compared case-insensitively (RFC 7643 §2.1).
    pub fn attribute_named(&self, name: &str) -> Option<&SchemaAttribute> {
        self.attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }

    /// The definition at `path`: an attribute (`displayName`) or a sub-attribute
    /// (`name.givenName`), compared case-insensitively.
    pub fn attribute_at(&self, path: &str) -> Option<&SchemaAttribute> {
        let (name, sub) = split_path(path);
        let attribute = self.attribute_named(name)?;
        match sub {
            Some(sub) => attribute.sub_attribute_named(sub),
            None => Some(attribute),
        }
    }

    /// The definition at `path` (as [`Schema::attribute_at`]), to change its
    /// characteristics: a service provider describes its own attributes with them
    /// (RFC 7643 §7).
    pub fn attribute_at_mut(&mut self, path: &str) -> Option<&mut SchemaAttribute> {
        let (name, sub) = split_path(path);
        let attribute = self
            .attributes
            .iter_mut()
            .find(|a| a.name.eq_ignore_ascii_case(name))?;
        match sub {
            Some(sub) => attribute
                .sub_attributes
                .iter_mut()
                .find(|a| a.name.eq_ignore_ascii_case(sub)),
            None => Some(attribute),
        }
    }

    /// Removes the attribute or sub-attribute at `path`, for a service provider that does
    /// not support it; whether it was there.
    pub fn remove_attribute(&mut self, path: &str) -> bool {
        let (name, sub) = split_path(path);
        let list = match sub {
            Some(_) => match self.attribute_at_mut(name) {
                Some(parent) => &mut parent.sub_attributes,
                None => return false,
            },
            None => &mut self.attributes,
        };
        let target = sub.unwrap_or(name);
        let before = list.len();
        list.retain(|a| !a.name.eq_ignore_ascii_case(target));
        list.len() != before
    }

    /// Makes the attribute at `path` required of every resource: for a sub-attribute
    /// (`name.givenName`) its parent too, since a resource without the parent lacks the
    /// sub-attribute. (A sub-attribute required only within values the client chooses to
    /// send, such as `emails.value`, is set with [`Schema::attribute_at_mut`].) Whether
    /// `path` names a definition.
    pub fn require(&mut self, path: &str) -> bool {
        if self.attribute_at(path).is_none() {
            return false;
        }
        let (name, _) = split_path(path);
        for at in [name, path] {
            if let Some(attribute) = self.attribute_at_mut(at) {
                attribute.required = true;
            }
        }
        true
    }

    /// Makes every attribute and sub-attribute optional, so that a service provider can
    /// then [`Schema::require`] exactly what it requires.
    pub fn clear_required(&mut self) {
        for attribute in &mut self.attributes {
            attribute.required = false;
            for sub in &mut attribute.sub_attributes {
                sub.required = false;
            }
        }
    }

    /// The paths of the attributes a resource must carry: each required attribute, then
    /// `attribute.sub` for each required sub-attribute of a required complex attribute.
    pub fn required_paths(&self) -> Vec<String> {
        let mut paths = Vec::new();
        for attribute in self.attributes.iter().filter(|a| a.required) {
            paths.push(attribute.name.clone());
            for sub in attribute.sub_attributes.iter().filter(|s| s.required) {
                paths.push(format!("{}.{}", attribute.name, sub.name));
            }
        }
        paths
    }
}

/// A `schemaExtensions` entry of a ResourceType (RFC 7643 §6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaExtension {
    /// The extension's schema URN.
    pub schema: String,
    /// Whether resources of this type must carry the extension.
    #[serde(default)]
    pub required: bool,
}

/// A ResourceType document (RFC 7643 §6).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceType {
    /// Always `[RESOURCE_TYPE_SCHEMA]` on output.
    #[serde(default)]
    pub schemas: Vec<String>,
    /// The resource type's identifier, e.g. `User`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The resource type's name, e.g. `User`; also `meta.resourceType` of its resources.
    pub name: String,
    /// The endpoint relative to the base URL, e.g. `/Users`.
    pub endpoint: String,
    /// A human-readable description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The primary (core) schema URN.
    pub schema: String,
    /// The extensions resources of this type may carry.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub schema_extensions: Vec<SchemaExtension>,
    /// Resource metadata; `meta.resourceType` is `ResourceType`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
}

impl ResourceType {
    /// A resource type whose `id` and `name` are both `name`.
    pub fn new(
        name: impl Into<String>,
        endpoint: impl Into<String>,
        schema: impl Into<String>,
    ) -> Self {
        let name = name.into();
        Self {
            schemas: vec![RESOURCE_TYPE_SCHEMA.to_owned()],
            id: Some(name.clone()),
            name,
            endpoint: endpoint.into(),
            description: None,
            schema: schema.into(),
            schema_extensions: Vec::new(),
            meta: None,
        }
    }
    /// Sets `description`.
    #[must_use]
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }
    /// Appends a schema extension.
    #[must_use]
    pub fn extension(mut self, schema: impl Into<String>, required: bool) -> Self {
        self.schema_extensions.push(SchemaExtension {
            schema: schema.into(),
            required,
        });
        self
    }
    /// Sets `meta` for a document served at `{base_url}/ResourceTypes/{name}`.
    #[must_use]
    pub fn located_at(mut self, base_url: &str) -> Self {
        let location = format!(
            "{}/ResourceTypes/{}",
            base_url.trim_end_matches('/'),
            self.name
        );
        self.meta = Some(Meta::located("ResourceType", location));
        self
    }
    /// The standard User resource type (RFC 7643 §8.6), with the optional enterprise
    /// extension.
    pub fn user() -> Self {
        Self::new("User", "/Users", crate::USER_SCHEMA)
            .description("User Account")
            .extension(crate::ENTERPRISE_USER_SCHEMA, false)
    }
    /// The standard Group resource type (RFC 7643 §8.6).
    pub fn group() -> Self {
        Self::new("Group", "/Groups", crate::GROUP_SCHEMA).description("Group")
    }
}

/// The standard resource types, User (with the enterprise extension) and Group.
pub fn standard_resource_types() -> Vec<ResourceType> {
    vec![ResourceType::user(), ResourceType::group()]
}

/// The standard schemas: core User, enterprise User and core Group (RFC 7643 §8.7.1).
pub fn standard_schemas() -> Vec<Schema> {
    vec![
        standard::user_schema(),
        standard::enterprise_user_schema(),
        standard::group_schema(),
    ]
}

/// A `{"supported": bool}` feature of the ServiceProviderConfig.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Supported {
    /// Whether the feature is supported.
    #[serde(default)]
    pub supported: bool,
}

/// The `bulk` feature (RFC 7643 §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BulkConfig {
    /// Whether `/Bulk` is supported.
    #[serde(default)]
    pub supported: bool,
    /// The most operations one bulk request may carry.
    #[serde(default)]
    pub max_operations: u64,
    /// The largest bulk payload, in bytes.
    #[serde(default)]
    pub max_payload_size: u64,
}

/// The `filter` feature (RFC 7643 §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FilterConfig {
    /// Whether filtering is supported.
    #[serde(default)]
    pub supported: bool,
    /// The most resources one list response returns.
    #[serde(default)]
    pub max_results: u64,
}

/// An `authenticationSchemes` entry (RFC 7643 §5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticationScheme {
    /// The scheme's type, e.g. `oauthbearertoken`, `httpbasic`.
    #[serde(rename = "type")]
    pub scheme_type: String,
    /// A human-readable name.
    pub name: String,
    /// A human-readable description.
    #[serde(default)]
    pub description: String,
    /// The specification of the scheme.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec_uri: Option<String>,
    /// Documentation of how this service provider uses the scheme.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub documentation_uri: Option<String>,
    /// Whether this is the preferred scheme.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary: Option<bool>,
}

impl AuthenticationScheme {
    /// OAuth 2.0 bearer tokens (RFC 6750), the scheme both Identity Center and the
    /// gateway advertise.
    pub fn oauth_bearer_token() -> Self {
        Self {
            scheme_type: "oauthbearertoken".to_owned(),
            name: "OAuth Bearer Token".to_owned(),
            description: "Authentication scheme using the OAuth Bearer Token Standard".to_owned(),
            spec_uri: Some("https://www.rfc-editor.org/info/rfc6750".to_owned()),
            documentation_uri: None,
            primary: Some(true),
        }
    }
}

/// The ServiceProviderConfig document (RFC 7643 §5). Build one with
/// [`ServiceProviderConfig::builder`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceProviderConfig {
    /// Always `[SERVICE_PROVIDER_CONFIG_SCHEMA]` on output.
    #[serde(default)]
    pub schemas: Vec<String>,
    /// Help for this service provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub documentation_uri: Option<String>,
    /// PATCH support.
    #[serde(default)]
    pub patch: Supported,
    /// Bulk support.
    #[serde(default)]
    pub bulk: BulkConfig,
    /// Filter support.
    #[serde(default)]
    pub filter: FilterConfig,
    /// Password-change support.
    #[serde(default)]
    pub change_password: Supported,
    /// Sort support.
    #[serde(default)]
    pub sort: Supported,
    /// ETag support.
    #[serde(default)]
    pub etag: Supported,
    /// The authentication schemes accepted.
    #[serde(default)]
    pub authentication_schemes: Vec<AuthenticationScheme>,
    /// Resource metadata; `meta.resourceType` is `ServiceProviderConfig`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
}

impl ServiceProviderConfig {
    /// A builder with every feature off and no authentication scheme.
    pub fn builder() -> ServiceProviderConfigBuilder {
        ServiceProviderConfigBuilder {
            config: ServiceProviderConfig {
                schemas: vec![SERVICE_PROVIDER_CONFIG_SCHEMA.to_owned()],
                documentation_uri: None,
                patch: Supported::default(),
                bulk: BulkConfig::default(),
                filter: FilterConfig::default(),
                change_password: Supported::default(),
                sort: Supported::default(),
                etag: Supported::default(),
                authentication_schemes: Vec::new(),
                meta: None,
            },
        }
    }
}

/// Builds a [`ServiceProviderConfig`], e.g.
/// `ServiceProviderConfig::builder().patch(true).filter(true, 200).build()`.
#[derive(Debug, Clone)]
pub struct ServiceProviderConfigBuilder {
    config: ServiceProviderConfig,
}

impl ServiceProviderConfigBuilder {
    /// Sets `documentationUri`.
    #[must_use]
    pub fn documentation_uri(mut self, uri: impl Into<String>) -> Self {
        self.config.documentation_uri = Some(uri.into());
        self
    }
    /// Sets `patch.supported`.
    #[must_use]
    pub fn patch(mut self, supported: bool) -> Self {
        self.config.patch = Supported { supported };
        self
    }
    /// Sets `bulk`.
    #[must_use]
    pub fn bulk(mut self, supported: bool, max_operations: u64, max_payload_size: u64) -> Self {
        self.config.bulk = BulkConfig {
            supported,
            max_operations,
            max_payload_size,
        };
        self
    }
    /// Sets `filter`.
    #[must_use]
    pub fn filter(mut self, supported: bool, max_results: u64) -> Self {
        self.config.filter = FilterConfig {
            supported,
            max_results,
        };
        self
    }
    /// Sets `changePassword.supported`.
    #[must_use]
    pub fn change_password(mut self, supported: bool) -> Self {
        self.config.change_password = Supported { supported };
        self
    }
    /// Sets `sort.supported`.
    #[must_use]
    pub fn sort(mut self, supported: bool) -> Self {
        self.config.sort = Supported { supported };
        self
    }
    /// Sets `etag.supported`.
    #[must_use]
    pub fn etag(mut self, supported: bool) -> Self {
        self.config.etag = Supported { supported };
        self
    }
    /// Appends an authentication scheme.
    #[must_use]
    pub fn authentication_scheme(mut self, scheme: AuthenticationScheme) -> Self {
        self.config.authentication_schemes.push(scheme);
        self
    }
    /// Sets `meta` for a document served at `{base_url}/ServiceProviderConfig`.
    #[must_use]
    pub fn located_at(mut self, base_url: &str) -> Self {
        let location = format!("{}/ServiceProviderConfig", base_url.trim_end_matches('/'));
        self.config.meta = Some(Meta::located("ServiceProviderConfig", location));
        self
    }
    /// The finished document.
    pub fn build(self) -> ServiceProviderConfig {
        self.config
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_built_service_provider_config_serializes_as_rfc7643_section_5_shows() {
        // Arrange
        let config = ServiceProviderConfig::builder()
            .documentation_uri("http://example.com/help/scim.html")
            .patch(true)
            .bulk(true, 1000, 1_048_576)
            .filter(true, 1000)
            .change_password(true)
            .sort(true)
            .etag(true)
            .authentication_scheme(AuthenticationScheme::oauth_bearer_token())
            .located_at("https://example.com/v2/")
            .build();

        // Act
        let value = serde_json::to_value(&config).unwrap();

        // Assert
        assert_eq!(value["schemas"], json!([SERVICE_PROVIDER_CONFIG_SCHEMA]));
        assert_eq!(value["patch"], json!({"supported": true}));
        assert_eq!(
            value["bulk"],
            json!({"supported": true, "maxOperations": 1000, "maxPayloadSize": 1_048_576})
        );
        assert_eq!(
            value["filter"],
            json!({"supported": true, "maxResults": 1000})
        );
        assert_eq!(value["changePassword"], json!({"supported": true}));
        assert_eq!(
            value["authenticationSchemes"][0]["type"],
            "oauthbearertoken"
        );
        assert_eq!(
            value["meta"]["location"],
            "https://example.com/v2/ServiceProviderConfig"
        );
        assert_eq!(value["meta"]["resourceType"], "ServiceProviderConfig");
    }

    #[test]
    fn the_rfc_service_provider_config_example_reads_and_writes_back_unchanged() {
        // Arrange
        let input: serde_json::Value = serde_json::from_str(include_str!(
            "../../tests/fixtures/rfc7643/service-provider-config.json"
        ))
        .unwrap();

        // Act
        let config: ServiceProviderConfig = serde_json::from_value(input.clone()).unwrap();

        // Assert
        assert!(config.patch.supported);
        assert_eq!(config.authentication_schemes.len(), 2);
        assert_eq!(serde_json::to_value(&config).unwrap(), input);
    }

    #[test]
    fn identity_centers_service_provider_config_reads_with_missing_parts_defaulted() {
        // Arrange: the shape AWS documents, without `meta` or `documentationUri`.
        let input = json!({
            "schemas": [SERVICE_PROVIDER_CONFIG_SCHEMA],
            "patch": {"supported": true},
            "bulk": {"supported": false, "maxOperations": 1, "maxPayloadSize": 1_048_576},
            "filter": {"supported": true, "maxResults": 50},
            "changePassword": {"supported": false},
            "sort": {"supported": false},
            "etag": {"supported": false},
            "authenticationSchemes": [{"type": "oauthbearertoken", "name": "OAuth Bearer Token"}]
        });

        // Act
        let config: ServiceProviderConfig = serde_json::from_value(input).unwrap();

        // Assert
        assert_eq!(config.filter.max_results, 50);
        assert_eq!(config.authentication_schemes[0].description, "");
    }

    #[test]
    fn the_standard_user_resource_type_names_the_enterprise_extension_as_optional() {
        // Act
        let value = serde_json::to_value(ResourceType::user().located_at("https://x/v2")).unwrap();

        // Assert
        assert_eq!(
            value,
            json!({
                "schemas": [RESOURCE_TYPE_SCHEMA],
                "id": "User",
                "name": "User",
                "endpoint": "/Users",
                "description": "User Account",
                "schema": crate::USER_SCHEMA,
                "schemaExtensions": [{"schema": crate::ENTERPRISE_USER_SCHEMA, "required": false}],
                "meta": {"resourceType": "ResourceType", "location": "https://x/v2/ResourceTypes/User"}
            })
        );
    }

    #[test]
    fn the_rfc_resource_type_examples_read_into_the_same_documents_as_the_constructors() {
        // Arrange
        let input: Vec<ResourceType> = serde_json::from_str(include_str!(
            "../../tests/fixtures/rfc7643/resource-types.json"
        ))
        .unwrap();

        // Act
        let mut user = ResourceType::user().located_at("https://example.com/v2");
        // The RFC's example service requires the extension; ours does not, because Okta
        // creates users without it.
        user.schema_extensions[0].required = true;
        let group = ResourceType::group().located_at("https://example.com/v2");

        // Assert
        assert_eq!(input, [user, group]);
    }

    #[test]
    fn requiring_a_sub_attribute_requires_its_parent_and_lists_both_paths() {
        // Arrange
        let mut schema = standard::user_schema();
        schema.clear_required();

        // Act
        let found = schema.require("NAME.givenname");
        let missing = schema.require("name.nickName");

        // Assert
        assert!(found);
        assert!(!missing);
        assert!(schema.attribute_at("name").unwrap().required);
        assert!(!schema.attribute_at("name.familyName").unwrap().required);
        assert_eq!(schema.required_paths(), ["name", "name.givenName"]);
    }

    #[test]
    fn clearing_required_leaves_no_attribute_or_sub_attribute_required() {
        // Arrange
        let mut schema = standard::user_schema();
        schema.require("name.familyName");

        // Act
        schema.clear_required();

        // Assert
        assert!(schema.required_paths().is_empty());
        assert!(!schema.attribute_at("userName").unwrap().required);
        assert!(!schema.attribute_at("name.familyName").unwrap().required);
    }

    #[test]
    fn a_sub_attribute_required_within_an_optional_parent_is_not_a_required_path() {
        // Arrange
        let mut schema = standard::user_schema();
        schema.clear_required();

        // Act
        schema.attribute_at_mut("emails.value").unwrap().required = true;

        // Assert
        assert!(schema.required_paths().is_empty());
        assert!(schema.attribute_at("emails.value").unwrap().required);
    }

    #[test]
    fn attributes_and_sub_attributes_are_removed_by_path() {
        // Arrange
        let mut schema = standard::user_schema();

        // Act
        let photos = schema.remove_attribute("Photos");
        let display = schema.remove_attribute("emails.display");
        let absent = schema.remove_attribute("emails.verified");
        let no_parent = schema.remove_attribute("pets.name");

        // Assert
        assert_eq!(
            (photos, display, absent, no_parent),
            (true, true, false, false)
        );
        assert!(schema.attribute_at("photos").is_none());
        assert!(schema.attribute_at("emails.display").is_none());
        assert!(schema.attribute_at("emails.value").is_some());
    }

    #[test]
    fn a_schema_attribute_without_characteristics_reads_with_the_rfc_defaults() {
        // Act
        let attribute: SchemaAttribute = serde_json::from_value(json!({"name": "x"})).unwrap();

        // Assert
        assert_eq!(attribute, SchemaAttribute::new("x", AttributeType::String));
    }
}
