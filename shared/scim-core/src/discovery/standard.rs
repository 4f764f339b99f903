//! The standard attribute definitions as one const table: the common attributes of
//! RFC 7643 §3.1 and the core User, core Group and enterprise User schemas of §8.7.1.
//!
//! Everything in the crate that depends on an attribute's characteristics reads them
//! here: the canonical spelling of names (resource parsing), `returned` (projection),
//! `mutability` and `required` (the PATCH applier), `caseExact` (filters), and the
//! Schema documents served at `/Schemas`. A const table, rather than built `Schema`
//! values, keeps those lookups free of allocation.

use super::{AttributeType, Mutability, Returned, Schema, SchemaAttribute, Uniqueness};
use crate::ResourceKind;
use crate::filter::AttrPath;

/// One attribute definition of the standard schemas, usable in `const` context.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttributeDef {
    /// The canonical spelling of the name.
    pub name: &'static str,
    /// The data type.
    pub attribute_type: AttributeType,
    /// Whether the attribute holds a list of values.
    pub multi_valued: bool,
    /// A human-readable description.
    pub description: &'static str,
    /// Whether the attribute is required.
    pub required: bool,
    /// Whether string values compare case-sensitively.
    pub case_exact: bool,
    /// Whether and how the attribute may be modified.
    pub mutability: Mutability,
    /// When the attribute is returned.
    pub returned: Returned,
    /// How uniqueness is enforced.
    pub uniqueness: Uniqueness,
    /// Suggested canonical values.
    pub canonical_values: &'static [&'static str],
    /// For `reference` attributes: the resource types it may point to.
    pub reference_types: &'static [&'static str],
    /// For `complex` attributes: the sub-attributes.
    pub sub_attributes: &'static [AttributeDef],
}

impl AttributeDef {
    /// The sub-attribute `name`, compared case-insensitively.
    pub fn sub_attribute(&self, name: &str) -> Option<&'static AttributeDef> {
        find(self.sub_attributes, name)
    }

    /// Whether values are objects of sub-attributes.
    pub fn is_complex(&self) -> bool {
        self.attribute_type == AttributeType::Complex
    }

    /// This definition as a Schema document attribute.
    pub fn to_schema_attribute(&self) -> SchemaAttribute {
        SchemaAttribute {
            name: self.name.to_owned(),
            attribute_type: self.attribute_type,
            multi_valued: self.multi_valued,
            description: Some(self.description.to_owned()),
            required: self.required,
            canonical_values: self
                .canonical_values
                .iter()
                .map(|v| (*v).to_owned())
                .collect(),
            case_exact: self.case_exact,
            mutability: self.mutability,
            returned: self.returned,
            uniqueness: self.uniqueness,
            reference_types: self
                .reference_types
                .iter()
                .map(|v| (*v).to_owned())
                .collect(),
            sub_attributes: self
                .sub_attributes
                .iter()
                .map(Self::to_schema_attribute)
                .collect(),
        }
    }
}

/// The definition named `name` in `attributes`, compared case-insensitively (RFC 7643 §2.1).
pub fn find(attributes: &'static [AttributeDef], name: &str) -> Option<&'static AttributeDef> {
    attributes
        .iter()
        .find(|a| a.name.eq_ignore_ascii_case(name))
}

/// One standard schema: its URN, name and attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchemaDef {
    /// The schema URN.
    pub id: &'static str,
    /// The human-readable name.
    pub name: &'static str,
    /// The human-readable description.
    pub description: &'static str,
    /// The attributes, without the common ones (RFC 7643 §3.1 keeps those out of schemas).
    pub attributes: &'static [AttributeDef],
}

impl SchemaDef {
    /// The attribute `name`, compared case-insensitively.
    pub fn attribute(&self, name: &str) -> Option<&'static AttributeDef> {
        find(self.attributes, name)
    }

    /// This definition as a Schema document.
    pub fn to_schema(&self) -> Schema {
        let mut schema = Schema::new(self.id, self.name).description(self.description);
        schema.attributes = self
            .attributes
            .iter()
            .map(AttributeDef::to_schema_attribute)
            .collect();
        schema
    }
}

/// `caseExact` of the attribute `path` names, looked up in `kind`'s schemas, or in
/// User's then Group's when the kind is unknown. `None` for attributes outside the
/// standard schemas.
pub fn case_exact(kind: Option<ResourceKind>, path: &AttrPath) -> Option<bool> {
    let kinds = match kind {
        Some(kind) => vec![kind],
        None => vec![ResourceKind::User, ResourceKind::Group],
    };
    kinds.into_iter().find_map(|kind| {
        let (def, _) = kind.attribute(path.urn.as_deref(), &path.name)?;
        match &path.sub_attr {
            Some(sub) => def.sub_attribute(sub).map(|s| s.case_exact),
            None => Some(def.case_exact),
        }
    })
}

/// The core User Schema document (RFC 7643 §8.7.1).
pub fn user_schema() -> Schema {
    USER.to_schema()
}

/// The core Group Schema document (RFC 7643 §8.7.1).
pub fn group_schema() -> Schema {
    GROUP.to_schema()
}

/// The enterprise User extension Schema document (RFC 7643 §8.7.1).
pub fn enterprise_user_schema() -> Schema {
    ENTERPRISE_USER.to_schema()
}

// Builders for the table below. Every definition starts from RFC 7643 §2.2's defaults
// (single-valued, optional, caseExact false, readWrite, returned default, uniqueness
// none) and changes only what §8.7.1 changes.
const fn attr(
    name: &'static str,
    attribute_type: AttributeType,
    description: &'static str,
) -> AttributeDef {
    AttributeDef {
        name,
        attribute_type,
        multi_valued: false,
        description,
        required: false,
        case_exact: false,
        mutability: Mutability::ReadWrite,
        returned: Returned::Default,
        uniqueness: Uniqueness::None,
        canonical_values: &[],
        reference_types: &[],
        sub_attributes: &[],
    }
}

const fn string(name: &'static str, description: &'static str) -> AttributeDef {
    attr(name, AttributeType::String, description)
}

const fn complex(
    name: &'static str,
    sub_attributes: &'static [AttributeDef],
    description: &'static str,
) -> AttributeDef {
    AttributeDef {
        sub_attributes,
        ..attr(name, AttributeType::Complex, description)
    }
}

const fn multi(def: AttributeDef) -> AttributeDef {
    AttributeDef {
        multi_valued: true,
        ..def
    }
}

const fn read_only(def: AttributeDef) -> AttributeDef {
    AttributeDef {
        mutability: Mutability::ReadOnly,
        ..def
    }
}

const fn with_canonical(def: AttributeDef, values: &'static [&'static str]) -> AttributeDef {
    AttributeDef {
        canonical_values: values,
        ..def
    }
}

const fn primary(description: &'static str) -> AttributeDef {
    attr("primary", AttributeType::Boolean, description)
}

const fn display(description: &'static str) -> AttributeDef {
    string("display", description)
}

/// The common attributes of every resource (RFC 7643 §3.1): `id`, `externalId`, `meta`.
pub const COMMON_ATTRIBUTES: &[AttributeDef] = &[
    AttributeDef {
        case_exact: true,
        mutability: Mutability::ReadOnly,
        returned: Returned::Always,
        uniqueness: Uniqueness::Server,
        ..string(
            "id",
            "Unique identifier for the SCIM resource as defined by the service provider.",
        )
    },
    AttributeDef {
        case_exact: true,
        ..string(
            "externalId",
            "An identifier for the resource as defined by the provisioning client.",
        )
    },
    read_only(complex("meta", META_SUB, "Resource metadata.")),
];

const META_SUB: &[AttributeDef] = &[
    AttributeDef {
        case_exact: true,
        ..read_only(string(
            "resourceType",
            "The name of the resource type of the resource.",
        ))
    },
    read_only(attr(
        "created",
        AttributeType::DateTime,
        "When the resource was added.",
    )),
    read_only(attr(
        "lastModified",
        AttributeType::DateTime,
        "When the resource last changed.",
    )),
    read_only(attr(
        "location",
        AttributeType::Reference,
        "The URI of the resource.",
    )),
    AttributeDef {
        case_exact: true,
        ..read_only(string("version", "The version (ETag) of the resource."))
    },
];

const EMAIL_TYPES: &[&str] = &["work", "home", "other"];

/// The core User schema (RFC 7643 §4.1, §8.7.1).
pub const USER: SchemaDef = SchemaDef {
    id: crate::USER_SCHEMA,
    name: "User",
    description: "User Account",
    attributes: USER_ATTRIBUTES,
};

const USER_ATTRIBUTES: &[AttributeDef] = &[
    AttributeDef {
        required: true,
        uniqueness: Uniqueness::Server,
        ..string(
            "userName",
            "Unique identifier for the User, used by the user to authenticate. REQUIRED.",
        )
    },
    complex("name", NAME_SUB, "The components of the user's real name."),
    string(
        "displayName",
        "The name of the User, suitable for display to end-users.",
    ),
    string(
        "nickName",
        "The casual way to address the user in real life.",
    ),
    AttributeDef {
        reference_types: &["external"],
        ..attr(
            "profileUrl",
            AttributeType::Reference,
            "A URI to the User's online profile.",
        )
    },
    string("title", "The user's title, such as \"Vice President\"."),
    string(
        "userType",
        "The relationship between the organization and the user.",
    ),
    string(
        "preferredLanguage",
        "The User's preferred written or spoken language.",
    ),
    string(
        "locale",
        "The User's default location for localizing currency, dates and numbers.",
    ),
    string(
        "timezone",
        "The User's time zone in the IANA Time Zone database format.",
    ),
    attr(
        "active",
        AttributeType::Boolean,
        "The User's administrative status.",
    ),
    AttributeDef {
        mutability: Mutability::WriteOnly,
        returned: Returned::Never,
        ..string(
            "password",
            "The User's cleartext password, used to set or change it.",
        )
    },
    multi(complex(
        "emails",
        EMAIL_SUB,
        "Email addresses for the user.",
    )),
    multi(complex(
        "phoneNumbers",
        PHONE_SUB,
        "Phone numbers for the User.",
    )),
    multi(complex(
        "ims",
        IM_SUB,
        "Instant messaging addresses for the User.",
    )),
    multi(complex("photos", PHOTO_SUB, "URLs of photos of the User.")),
    multi(complex(
        "addresses",
        ADDRESS_SUB,
        "A physical mailing address for this User.",
    )),
    read_only(multi(complex(
        "groups",
        GROUP_REF_SUB,
        "The groups the user belongs to.",
    ))),
    multi(complex(
        "entitlements",
        ENTITLEMENT_SUB,
        "Entitlements the User has.",
    )),
    multi(complex("roles", ROLE_SUB, "Roles the User has.")),
    multi(complex(
        "x509Certificates",
        CERTIFICATE_SUB,
        "X.509 certificates issued to the User.",
    )),
];

const NAME_SUB: &[AttributeDef] = &[
    string("formatted", "The full name, formatted for display."),
    string(
        "familyName",
        "The family name, or last name in most Western languages.",
    ),
    string(
        "givenName",
        "The given name, or first name in most Western languages.",
    ),
    string("middleName", "The middle name(s)."),
    string(
        "honorificPrefix",
        "The honorific prefix(es), or title, e.g. \"Ms.\".",
    ),
    string("honorificSuffix", "The honorific suffix(es), e.g. \"III\"."),
];

const EMAIL_SUB: &[AttributeDef] = &[
    string("value", "Email address for the user."),
    display("A human-readable name, primarily used for display purposes."),
    with_canonical(
        string("type", "A label indicating the email's function."),
        EMAIL_TYPES,
    ),
    primary("Whether this is the primary email address."),
];

const PHONE_SUB: &[AttributeDef] = &[
    string("value", "Phone number of the User."),
    display("A human-readable name, primarily used for display purposes."),
    with_canonical(
        string("type", "A label indicating the phone number's function."),
        &["work", "home", "mobile", "fax", "pager", "other"],
    ),
    primary("Whether this is the primary phone number."),
];

const IM_SUB: &[AttributeDef] = &[
    string("value", "Instant messaging address for the User."),
    display("A human-readable name, primarily used for display purposes."),
    with_canonical(
        string("type", "A label indicating the instant messaging service."),
        &["aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"],
    ),
    primary("Whether this is the primary messenger."),
];

const PHOTO_SUB: &[AttributeDef] = &[
    AttributeDef {
        reference_types: &["external"],
        ..attr(
            "value",
            AttributeType::Reference,
            "URL of a photo of the User.",
        )
    },
    display("A human-readable name, primarily used for display purposes."),
    with_canonical(
        string("type", "A label indicating the photo's function."),
        &["photo", "thumbnail"],
    ),
    primary("Whether this is the primary photo."),
];

// §8.7.1 lists no `primary` for addresses, but §4.1.2 gives them one and the RFC's own
// example sends it, so it is defined here.
const ADDRESS_SUB: &[AttributeDef] = &[
    string(
        "formatted",
        "The full mailing address, formatted for display.",
    ),
    string("streetAddress", "The full street address component."),
    string("locality", "The city or locality component."),
    string("region", "The state or region component."),
    string("postalCode", "The zip code or postal code component."),
    string(
        "country",
        "The country name component, as ISO 3166-1 alpha-2.",
    ),
    with_canonical(
        string("type", "A label indicating the address's function."),
        EMAIL_TYPES,
    ),
    primary("Whether this is the primary address."),
];

const GROUP_REF_SUB: &[AttributeDef] = &[
    read_only(string("value", "The identifier of the User's group.")),
    AttributeDef {
        reference_types: &["User", "Group"],
        ..read_only(attr(
            "$ref",
            AttributeType::Reference,
            "The URI of the Group resource.",
        ))
    },
    read_only(display(
        "A human-readable name, primarily used for display purposes.",
    )),
    with_canonical(
        read_only(string(
            "type",
            "Whether the membership is direct or indirect.",
        )),
        &["direct", "indirect"],
    ),
];

const ENTITLEMENT_SUB: &[AttributeDef] = &[
    string("value", "The value of an entitlement."),
    display("A human-readable name, primarily used for display purposes."),
    string("type", "A label indicating the entitlement's function."),
    primary("Whether this is the primary entitlement."),
];

const ROLE_SUB: &[AttributeDef] = &[
    string("value", "The value of a role."),
    display("A human-readable name, primarily used for display purposes."),
    string("type", "A label indicating the role's function."),
    primary("Whether this is the primary role."),
];

const CERTIFICATE_SUB: &[AttributeDef] = &[
    attr(
        "value",
        AttributeType::Binary,
        "The value of an X.509 certificate.",
    ),
    display("A human-readable name, primarily used for display purposes."),
    string("type", "A label indicating the certificate's function."),
    primary("Whether this is the primary certificate."),
];

/// The core Group schema (RFC 7643 §4.2, §8.7.1).
pub const GROUP: SchemaDef = SchemaDef {
    id: crate::GROUP_SCHEMA,
    name: "Group",
    description: "Group",
    attributes: GROUP_ATTRIBUTES,
};

const GROUP_ATTRIBUTES: &[AttributeDef] = &[
    string(
        "displayName",
        "A human-readable name for the Group. REQUIRED.",
    ),
    multi(complex(
        "members",
        MEMBER_SUB,
        "A list of members of the Group.",
    )),
];

const fn immutable(def: AttributeDef) -> AttributeDef {
    AttributeDef {
        mutability: Mutability::Immutable,
        ..def
    }
}

// §8.7.1 lists `value`, `$ref` and `type`; `display` is added because §4.2's example,
// Okta and Identity Center all carry it.
const MEMBER_SUB: &[AttributeDef] = &[
    immutable(string("value", "Identifier of the member of this Group.")),
    AttributeDef {
        reference_types: &["User", "Group"],
        ..immutable(attr(
            "$ref",
            AttributeType::Reference,
            "The URI of the member resource.",
        ))
    },
    with_canonical(
        immutable(string("type", "A label indicating the type of resource.")),
        &["User", "Group"],
    ),
    read_only(display("A human-readable name of the member.")),
];

/// The enterprise User extension (RFC 7643 §4.3, §8.7.1).
pub const ENTERPRISE_USER: SchemaDef = SchemaDef {
    id: crate::ENTERPRISE_USER_SCHEMA,
    name: "EnterpriseUser",
    description: "Enterprise User",
    attributes: ENTERPRISE_USER_ATTRIBUTES,
};

const ENTERPRISE_USER_ATTRIBUTES: &[AttributeDef] = &[
    string(
        "employeeNumber",
        "A string identifier, typically numeric or alphanumeric.",
    ),
    string("costCenter", "Identifies the name of a cost center."),
    string("organization", "Identifies the name of an organization."),
    string("division", "Identifies the name of a division."),
    string("department", "Identifies the name of a department."),
    complex("manager", MANAGER_SUB, "The User's manager."),
];

const MANAGER_SUB: &[AttributeDef] = &[
    string(
        "value",
        "The id of the SCIM resource representing the User's manager.",
    ),
    AttributeDef {
        reference_types: &["User"],
        ..attr(
            "$ref",
            AttributeType::Reference,
            "The URI of the manager's SCIM resource.",
        )
    },
    read_only(string(
        "displayName",
        "The displayName of the User's manager.",
    )),
];

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_user_schema_lists_user_name_as_required_case_insensitive_and_server_unique() {
        // Act
        let schema = serde_json::to_value(user_schema()).unwrap();

        // Assert
        let user_name = &schema["attributes"][0];
        assert_eq!(user_name["name"], "userName");
        assert_eq!(user_name["required"], true);
        assert_eq!(user_name["caseExact"], false);
        assert_eq!(user_name["uniqueness"], "server");
        assert_eq!(user_name["mutability"], "readWrite");
        assert_eq!(user_name["returned"], "default");
        assert_eq!(user_name["multiValued"], false);
    }

    #[test]
    fn the_user_schema_never_returns_password_and_keeps_groups_read_only() {
        // Act
        let schema = user_schema();

        // Assert
        let password = schema.attribute_named("password").unwrap();
        assert_eq!(password.returned, Returned::Never);
        assert_eq!(password.mutability, Mutability::WriteOnly);
        let groups = schema.attribute_named("GROUPS").unwrap();
        assert_eq!(groups.mutability, Mutability::ReadOnly);
        assert!(groups.multi_valued);
        assert_eq!(groups.sub_attributes.len(), 4);
    }

    #[test]
    fn the_email_type_lists_its_canonical_values() {
        // Act
        let schema = serde_json::to_value(user_schema()).unwrap();

        // Assert
        let emails = schema["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == "emails")
            .unwrap();
        assert_eq!(
            emails["subAttributes"][2]["canonicalValues"],
            json!(["work", "home", "other"])
        );
    }

    #[test]
    fn the_enterprise_manager_display_name_is_read_only() {
        // Act
        let manager = ENTERPRISE_USER.attribute("manager").unwrap();

        // Assert
        assert_eq!(
            manager.sub_attribute("displayname").unwrap().mutability,
            Mutability::ReadOnly
        );
        assert_eq!(enterprise_user_schema().id, crate::ENTERPRISE_USER_SCHEMA);
    }

    #[test]
    fn the_schema_documents_read_back_into_equal_values() {
        for schema in [user_schema(), group_schema(), enterprise_user_schema()] {
            // Act
            let text = serde_json::to_string(&schema).unwrap();

            // Assert
            assert_eq!(serde_json::from_str::<Schema>(&text).unwrap(), schema);
        }
    }

    #[test]
    fn case_exact_is_looked_up_case_insensitively_with_and_without_urn() {
        let path = |urn: Option<&str>, name: &str, sub: Option<&str>| AttrPath {
            urn: urn.map(str::to_owned),
            name: name.to_owned(),
            sub_attr: sub.map(str::to_owned),
        };
        let table = [
            (None, path(None, "USERNAME", None), Some(false)),
            (None, path(None, "id", None), Some(true)),
            (None, path(None, "externalId", None), Some(true)),
            (None, path(None, "meta", Some("version")), Some(true)),
            (
                Some(ResourceKind::Group),
                path(None, "members", Some("value")),
                Some(false),
            ),
            (
                None,
                path(Some(crate::USER_SCHEMA), "emails", Some("value")),
                Some(false),
            ),
            (
                Some(ResourceKind::User),
                path(Some(crate::ENTERPRISE_USER_SCHEMA), "employeeNumber", None),
                Some(false),
            ),
            (None, path(None, "unknownThing", None), None),
        ];
        for (kind, path, expected) in table {
            assert_eq!(case_exact(kind, &path), expected, "{path:?}");
        }
    }
}
