//! Identity Center's rules for single values (`docs/identity-center-dialect.md` §7),
//! shared by the user, user PATCH and group translations.
//!
//! - **Blank strings carry nothing and are dropped.** Every Identity Store string is 1 to
//!   1024 characters long (Identity Store API `Name`,
//!   <https://docs.aws.amazon.com/singlesignon/latest/IdentityStoreAPIReference/API_Name.html>),
//!   so `""` cannot be stored, and Identity Center answers a body carrying one with
//!   "Request is unparsable, syntactically incorrect, or violates schema" (§6, addresses
//!   from Okta). Okta sends blank values for attributes its profile leaves empty (a
//!   blank phone number, an address with empty parts). A string that is empty or only
//!   whitespace is *blank*; the translations drop it, drop what it leaves empty, and
//!   refuse it only where the target requires the attribute.
//! - **Longer than 1024 characters** (`userName`: 128, Identity Store API `CreateUser`) is
//!   refused with 400 `invalidValue` naming the attribute, before anything is sent.
//!   Lengths count Unicode scalar values (`char`s), as Smithy's `@length` does for the
//!   AWS models these limits come from (<https://smithy.io/2.0/spec/constraint-traits.html#length-trait>).
//! - **Reserved names.** `Administrator` and `AWSAdministrators` cannot be used for users
//!   or groups (Identity Store API `CreateUser` `UserName`, `CreateGroup` `DisplayName`,
//!   <https://docs.aws.amazon.com/singlesignon/latest/IdentityStoreAPIReference/API_CreateGroup.html>).
//!   Compared ignoring case, as the emulator does and as Identity Center compares names
//!   for uniqueness (§7): refusing `administrator` costs less than sending it.

use scim_core::ScimError;

/// The longest Identity Store string, in characters.
pub const MAX_STRING_CHARS: usize = 1024;

/// Names Identity Center reserves, for users and groups alike.
pub const RESERVED_NAMES: &[&str] = &["Administrator", "AWSAdministrators"];

/// Whether `text` carries nothing: empty, or only whitespace.
pub fn is_blank(text: &str) -> bool {
    text.trim().is_empty()
}

/// 400 `invalidValue` for a value over the target's limit, naming the attribute and the
/// limit but not the value (it may be anything, of any length).
pub(crate) fn too_long(attribute: &str, limit: usize) -> ScimError {
    ScimError::invalid_value(format!(
        "attribute `{attribute}` is longer than the target's limit of {limit} characters"
    ))
}

/// Checks `text` against [`MAX_STRING_CHARS`].
pub(crate) fn check_length(attribute: &str, text: &str) -> Result<(), ScimError> {
    check_length_at_most(attribute, text, MAX_STRING_CHARS)
}

/// Checks `text` against `limit` characters.
pub(crate) fn check_length_at_most(
    attribute: &str,
    text: &str,
    limit: usize,
) -> Result<(), ScimError> {
    // `nth` stops counting at the limit: a hostile value may be megabytes long.
    if text.chars().nth(limit).is_some() {
        return Err(too_long(attribute, limit));
    }
    Ok(())
}

/// An optional string as the target takes it: `None` when absent or blank, refused when
/// over [`MAX_STRING_CHARS`].
pub(crate) fn optional(
    attribute: &str,
    value: Option<String>,
) -> Result<Option<String>, ScimError> {
    match value {
        Some(text) if !is_blank(&text) => {
            check_length(attribute, &text)?;
            Ok(Some(text))
        }
        _ => Ok(None),
    }
}

/// Refuses a reserved name (see the module docs) with 400 `invalidValue` naming the rule.
pub(crate) fn check_not_reserved(attribute: &str, name: &str) -> Result<(), ScimError> {
    if RESERVED_NAMES.iter().any(|r| r.eq_ignore_ascii_case(name)) {
        return Err(ScimError::invalid_value(format!(
            "attribute `{attribute}` may not be `Administrator` or `AWSAdministrators`: the target reserves those names"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use scim_core::ScimType;

    use super::*;

    #[test]
    fn empty_and_whitespace_only_strings_are_blank_and_dropped() {
        // Act
        let dropped: Vec<Option<String>> = ["", " ", "\t\u{a0}"]
            .into_iter()
            .map(|s| optional("title", Some(s.to_owned())).unwrap())
            .collect();
        let kept = optional("title", Some(" Boss ".to_owned())).unwrap();

        // Assert
        assert_eq!(dropped, [None, None, None]);
        assert_eq!(kept.as_deref(), Some(" Boss "));
        assert_eq!(optional("title", None).unwrap(), None);
    }

    #[test]
    fn a_string_of_1024_characters_passes_and_1025_is_refused_naming_the_attribute() {
        // Arrange
        let limit = "é".repeat(MAX_STRING_CHARS);
        let over = "a".repeat(MAX_STRING_CHARS + 1);

        // Act
        let passes = optional("name.givenName", Some(limit.clone()));
        let refused = optional("name.givenName", Some(over)).unwrap_err();

        // Assert
        assert_eq!(passes.unwrap(), Some(limit));
        assert_eq!(refused.scim_type, Some(ScimType::InvalidValue));
        assert!(
            refused.detail.contains("`name.givenName`"),
            "{}",
            refused.detail
        );
        assert!(refused.detail.contains("1024"), "{}", refused.detail);
    }

    #[test]
    fn reserved_names_are_refused_in_any_case_and_others_pass() {
        for name in ["Administrator", "administrator", "AWSADMINISTRATORS"] {
            // Act
            let error = check_not_reserved("displayName", name).unwrap_err();

            // Assert
            assert_eq!(error.scim_type, Some(ScimType::InvalidValue), "{name}");
            assert!(error.detail.contains("reserves"), "{}", error.detail);
        }
        assert!(check_not_reserved("displayName", "Administrators").is_ok());
        assert!(check_not_reserved("displayName", "AWSAdministrator").is_ok());
    }
}
