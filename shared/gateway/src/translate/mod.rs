//! The translation between Okta's SCIM dialect and Identity Center's (`docs/design.md`,
//! "Translation between the dialects"), as pure functions: no I/O, no clock, each
//! tested on its own. The use cases in [`crate::service`] call them in order.
//!
//! | module | what it translates |
//! |---|---|
//! | [`user`] | create/PUT bodies: dropped attributes, single-valued multi-values, required attributes |
//! | [`user_patch`] | user PATCH: path-less `replace` expanded, `active` as a bool, one op per `userName`/`active` |
//! | [`group`] | group bodies, group PATCH and PUT as a [`group::GroupPlan`] of rename + member add/remove |
//! | [`filter`] | what part of a filter Identity Center answers, and what the gateway evaluates itself |
//! | [`list`] | ordering, sorting and `startIndex`/`count` paging over the complete listing |
//! | [`response`] | resources back to the client: `meta.location`, `schemas`, members |
//! | [`error`] | target failures as RFC 7644 errors |
//! | [`value`] | single values: blank strings dropped, the 1024-character limit, reserved names |

pub mod error;
pub mod filter;
pub mod group;
pub mod list;
pub mod response;
pub mod user;
pub mod user_patch;
pub mod value;

pub use scim_core::ResourceKind;

/// Whether two attribute names are the same (RFC 7643 §2.1: case-insensitive).
pub(crate) fn same(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// The spelling `names` gives `key`, ignoring case.
pub(crate) fn canonical(names: &[&'static str], key: &str) -> Option<&'static str> {
    names.iter().copied().find(|n| same(n, key))
}
