//! SCIM 2.0 as RFC 7643 and RFC 7644 define it: resources, the filter and PATCH-path
//! grammar, PatchOp, ListResponse, errors and the discovery documents.
//!
//! Pure and without I/O, so that the gateway, the Identity Center emulator and the
//! clients all share one exact reading of the protocol.

pub mod discovery;
pub mod error;
pub mod filter;
pub mod list;
pub mod patch;
pub mod resource;
mod schemas;

pub use discovery::{ResourceType, Schema, ServiceProviderConfig};
pub use error::{ScimError, ScimType};
pub use filter::{AttrPath, CompValue, CompareOp, Filter, FilterError, matches, parse_filter};
pub use list::{ListPage, ListQuery, ListResponse, project};
pub use patch::apply::apply_patch;
pub use patch::path::{PatchPath, PathError, parse_patch_path};
pub use patch::{PatchOp, PatchOpKind, PatchOperation};
pub use resource::{
    EnterpriseUser, Group, Member, Meta, MultiValued, Resource, ResourceId, ResourceKind, User,
};

/// Schema URN of an RFC 7644 §3.12 error body.
pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
/// Schema URN of an RFC 7644 §3.4.2 list response.
pub const LIST_RESPONSE_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/// Schema URN of an RFC 7644 §3.5.2 PATCH request.
pub const PATCH_OP_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// Schema URN of the RFC 7643 §4.1 core User.
pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// Schema URN of the RFC 7643 §4.2 core Group.
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// Schema URN of the RFC 7643 §4.3 enterprise User extension.
pub const ENTERPRISE_USER_SCHEMA: &str =
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// The SCIM media type (RFC 7644 §8.1).
pub const SCIM_MEDIA_TYPE: &str = "application/scim+json";
