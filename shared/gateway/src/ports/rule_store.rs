//! The rule store port: versioned rule-set documents (the YAML text exactly as an
//! administrator wrote it) and which one is active.
//!
//! - Versions are numbered by the store, `v1`, `v2`, … in the order they are saved,
//!   without gaps; two saves at once never get the same number.
//! - A version is never changed or deleted once saved.
//! - The active pointer is switched by [`RuleStore::activate`], conditionally: the
//!   caller says which version it saw active, and the switch fails with
//!   [`RuleStoreError::Conflict`] when another switch came in between, so two
//!   administrators applying at once cannot overwrite each other unknowingly.
//! - Every switch is kept ([`Activation`]): the history says which version was active
//!   when, and who switched it, rollbacks included.
//!
//! The store keeps text, not parsed rules: the `rules` crate loads a document, and the
//! caller (`scimgw rules apply`) refuses one that does not load before saving it. This
//! crate does not depend on `rules`.

use std::fmt;
use std::str::FromStr;

use async_trait::async_trait;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

/// The largest document the store keeps, in bytes (the `rules` crate's own limit is
/// lower; this one keeps a stored item well inside DynamoDB's 400 KB).
pub const MAX_DOCUMENT_BYTES: usize = 128 * 1024;

/// The longest author (or activating principal) name, in characters.
pub const MAX_AUTHOR_CHARS: usize = 128;

/// The longest note, in characters.
pub const MAX_NOTE_CHARS: usize = 1024;

/// A rule-set version: `v1`, `v2`, … as the store assigned it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RuleVersion(u64);

impl RuleVersion {
    /// The first version a store assigns.
    pub const FIRST: Self = Self(1);

    /// Version `n`; `None` for 0 (versions count from 1).
    pub fn new(n: u64) -> Option<Self> {
        (n >= 1).then_some(Self(n))
    }

    /// The number, from 1.
    pub fn number(self) -> u64 {
        self.0
    }

    /// The version after this one; `None` past `u64::MAX`.
    pub fn next(self) -> Option<Self> {
        self.0.checked_add(1).map(Self)
    }
}

impl fmt::Display for RuleVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}", self.0)
    }
}

/// A version that does not read as `v<n>` (or `<n>`) with `n` at least 1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a rule-set version: expected v1, v2, …")]
pub struct ParseRuleVersionError(String);

impl FromStr for RuleVersion {
    type Err = ParseRuleVersionError;

    /// `v42`, `V42` or `42`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let digits = text
            .strip_prefix('v')
            .or_else(|| text.strip_prefix('V'))
            .unwrap_or(text);
        let shown: String = text.chars().take(32).collect();
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ParseRuleVersionError(shown));
        }
        digits
            .parse::<u64>()
            .ok()
            .and_then(Self::new)
            .ok_or(ParseRuleVersionError(shown))
    }
}

/// A document to save as a new version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRuleSet {
    /// The YAML text, as written.
    pub document: String,
    /// Who saves it (a person or principal name; no secret).
    pub author: String,
    /// Why, in a line; optional.
    pub note: Option<String>,
}

impl NewRuleSet {
    /// Checks the limits every store enforces: a document of at most
    /// [`MAX_DOCUMENT_BYTES`], an author of 1 to [`MAX_AUTHOR_CHARS`] characters and a
    /// note of at most [`MAX_NOTE_CHARS`], neither with control characters.
    pub fn check(&self) -> Result<(), RuleStoreError> {
        if self.document.len() > MAX_DOCUMENT_BYTES {
            return Err(RuleStoreError::Refused(format!(
                "the document is {} bytes long; the store keeps at most {MAX_DOCUMENT_BYTES}",
                self.document.len()
            )));
        }
        check_name("author", &self.author)?;
        if let Some(note) = &self.note {
            check_text("note", note, MAX_NOTE_CHARS)?;
        }
        Ok(())
    }
}

/// Checks a name that records who acted (an author, or who activated a version).
pub fn check_name(what: &str, name: &str) -> Result<(), RuleStoreError> {
    if name.trim().is_empty() {
        return Err(RuleStoreError::Refused(format!("the {what} is empty")));
    }
    check_text(what, name, MAX_AUTHOR_CHARS)
}

fn check_text(what: &str, text: &str, max: usize) -> Result<(), RuleStoreError> {
    if text.chars().count() > max {
        return Err(RuleStoreError::Refused(format!(
            "the {what} is longer than {max} characters"
        )));
    }
    if text.chars().any(char::is_control) {
        return Err(RuleStoreError::Refused(format!(
            "the {what} has control characters (a line break, a tab, …); write it on one line"
        )));
    }
    Ok(())
}

/// The SHA-256 of a document's text, as 64 lower-case hex digits: what every stored
/// version carries, so that a document can be compared and checked without its text.
pub fn document_sha256(document: &str) -> String {
    Sha256::digest(document.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A saved version, with its document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRuleSet {
    /// Its version.
    pub version: RuleVersion,
    /// The YAML text, as written.
    pub document: String,
    /// [`document_sha256`] of the text.
    pub sha256: String,
    /// Who saved it.
    pub author: String,
    /// Why, if they said.
    pub note: Option<String>,
    /// When it was saved.
    pub created_at: OffsetDateTime,
}

/// A saved version as the history lists it (without its document).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSetEntry {
    /// Its version.
    pub version: RuleVersion,
    /// [`document_sha256`] of its text.
    pub sha256: String,
    /// Who saved it.
    pub author: String,
    /// Why, if they said.
    pub note: Option<String>,
    /// When it was saved.
    pub created_at: OffsetDateTime,
    /// When it last became active; `None` if it never was.
    pub activated_at: Option<OffsetDateTime>,
}

/// One switch of the active pointer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Activation {
    /// The switches counted from 1, in order.
    pub sequence: u64,
    /// The version made active.
    pub version: RuleVersion,
    /// The version active before, if any.
    pub previous: Option<RuleVersion>,
    /// When.
    pub activated_at: OffsetDateTime,
    /// Who switched it.
    pub activated_by: String,
}

impl Activation {
    /// Whether the switch went back to an older version than the one it replaced.
    pub fn is_rollback(&self) -> bool {
        self.previous.is_some_and(|p| self.version < p)
    }
}

/// Everything the store holds but the documents: every version and every switch, each
/// newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleHistory {
    /// Every version, newest first.
    pub versions: Vec<RuleSetEntry>,
    /// Every switch of the active pointer, newest first.
    pub activations: Vec<Activation>,
}

impl RuleHistory {
    /// The history of these versions and switches, in any order: each sorted newest
    /// first, and each version's `activated_at` set from the switches (the latest that
    /// made it active).
    pub fn new(mut versions: Vec<RuleSetEntry>, mut activations: Vec<Activation>) -> Self {
        versions.sort_by_key(|e| std::cmp::Reverse(e.version));
        activations.sort_by_key(|a| std::cmp::Reverse(a.sequence));
        for entry in &mut versions {
            entry.activated_at = activations
                .iter()
                .find(|a| a.version == entry.version)
                .map(|a| a.activated_at);
        }
        Self {
            versions,
            activations,
        }
    }

    /// The active version: that of the latest switch.
    pub fn active(&self) -> Option<RuleVersion> {
        self.activations.first().map(|a| a.version)
    }
}

/// What went wrong with a call to the rule store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RuleStoreError {
    /// The active pointer is no longer what the caller saw: another switch came first.
    /// Nothing was changed.
    #[error(
        "rule store: the active rule set changed after it was read ({}): another switch came \
         first",
        seen(*.expected)
    )]
    Conflict {
        /// What the caller saw active.
        expected: Option<RuleVersion>,
    },
    /// No such version.
    #[error("rule store: there is no rule set {0}")]
    NotFound(RuleVersion),
    /// The input breaks the store's limits (see [`NewRuleSet::check`]).
    #[error("rule store: {0}")]
    Refused(String),
    /// The store could not be read or written, or holds something unreadable.
    #[error("rule store: the store is unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
}

fn seen(version: Option<RuleVersion>) -> String {
    version.map_or_else(
        || "nothing was active then".to_owned(),
        |v| format!("{v} was active then"),
    )
}

/// Where rule-set versions are kept and which one is active (`docs/design.md`,
/// "Data"). Implemented by `gateway::rule_store::InMemoryRuleStore` and
/// `aws_adapters::DynamoDbRuleStore`.
#[async_trait]
pub trait RuleStore: Send + Sync {
    /// Saves a document as the next version and answers its number. Saving does not
    /// activate it.
    async fn put_version(&self, new: NewRuleSet) -> Result<RuleVersion, RuleStoreError>;

    /// A saved version, with its document; `None` when there is no such version.
    async fn get(&self, version: RuleVersion) -> Result<Option<StoredRuleSet>, RuleStoreError>;

    /// The active version, with its document; `None` before the first activation.
    async fn active(&self) -> Result<Option<StoredRuleSet>, RuleStoreError>;

    /// Makes `version` active, provided the active version is still `expected_active`
    /// (`None`: nothing was active yet); otherwise [`RuleStoreError::Conflict`] and
    /// nothing changes. `by` names who switches it, for the history.
    async fn activate(
        &self,
        version: RuleVersion,
        expected_active: Option<RuleVersion>,
        by: &str,
    ) -> Result<Activation, RuleStoreError>;

    /// Every version and every switch, newest first.
    async fn history(&self) -> Result<RuleHistory, RuleStoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_print_and_parse_as_v_numbers() {
        let v42 = RuleVersion::new(42).unwrap();
        assert_eq!(v42.to_string(), "v42");
        for text in ["v42", "V42", "42"] {
            assert_eq!(text.parse::<RuleVersion>(), Ok(v42), "{text}");
        }
        for text in [
            "",
            "v",
            "v0",
            "0",
            "-1",
            "v4x",
            "vv4",
            " v4",
            "v99999999999999999999",
        ] {
            assert!(text.parse::<RuleVersion>().is_err(), "{text:?}");
        }
        assert_eq!(RuleVersion::new(0), None);
        assert_eq!(RuleVersion::FIRST.next(), RuleVersion::new(2));
        assert!(RuleVersion::new(2) > RuleVersion::new(1));
    }

    #[test]
    fn limits_refuse_blank_authors_long_notes_control_characters_and_huge_documents() {
        let ok = NewRuleSet {
            document: "users: []\n".into(),
            author: "ada".into(),
            note: Some("first".into()),
        };
        assert!(ok.check().is_ok());
        let refused = |new: NewRuleSet| matches!(new.check(), Err(RuleStoreError::Refused(_)));
        assert!(refused(NewRuleSet {
            author: " ".into(),
            ..ok.clone()
        }));
        assert!(refused(NewRuleSet {
            note: Some("a\nb".into()),
            ..ok.clone()
        }));
        assert!(refused(NewRuleSet {
            note: Some("n".repeat(MAX_NOTE_CHARS + 1)),
            ..ok.clone()
        }));
        assert!(refused(NewRuleSet {
            author: "a".repeat(MAX_AUTHOR_CHARS + 1),
            ..ok.clone()
        }));
        assert!(refused(NewRuleSet {
            document: "#".repeat(MAX_DOCUMENT_BYTES + 1),
            ..ok
        }));
    }

    #[test]
    fn the_document_hash_is_hex_sha256() {
        assert_eq!(
            document_sha256(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn a_conflict_says_what_the_caller_expected() {
        let e = RuleStoreError::Conflict { expected: None };
        assert_eq!(
            e.to_string(),
            "rule store: the active rule set changed after it was read (nothing was active \
             then): another switch came first"
        );
        let rollback = Activation {
            sequence: 3,
            version: RuleVersion::FIRST,
            previous: RuleVersion::new(2),
            activated_at: OffsetDateTime::UNIX_EPOCH,
            activated_by: "ada".into(),
        };
        assert!(rollback.is_rollback());
    }
}
