//! What loading a rule set can report: [`Problem`]s (errors and warnings), each naming
//! its rule ([`RuleId`]: list, index and optional `name:`), the field inside the rule and
//! the position inside an expression or filter, and [`Invalid`], the report of a rule
//! set that does not load.
//!
//! Messages never echo attribute values of resources (there are none at load time), but
//! they do quote the rule set's own text, which is configuration, not personal data.

use std::fmt;
use std::sync::Arc;

use scim_core::ResourceKind;
use serde::Serialize;

/// Which list a rule is in, and where: `users[0]`, `groups[3] "okta-prefix"`.
///
/// Indexes count from 0, in document order. Cloning is cheap: the name is shared.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct RuleId {
    /// `User` for the `users:` list, `Group` for `groups:`.
    pub kind: ResourceKind,
    /// The position in its list, from 0.
    pub index: usize,
    /// The rule's `name:`, if it has one.
    #[serde(serialize_with = "serialize_name")]
    pub name: Option<Arc<str>>,
}

fn serialize_name<S: serde::Serializer>(name: &Option<Arc<str>>, s: S) -> Result<S::Ok, S::Error> {
    match name {
        Some(name) => s.serialize_some(name.as_ref()),
        None => s.serialize_none(),
    }
}

impl RuleId {
    /// The key of the list the rule is in: `users` or `groups`.
    pub fn list(&self) -> &'static str {
        list_key(self.kind)
    }
}

impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}[{}]", self.list(), self.index)?;
        if let Some(name) = &self.name {
            write!(f, " \"{name}\"")?;
        }
        Ok(())
    }
}

/// The document key of the rule list for `kind`.
pub(crate) fn list_key(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::User => "users",
        ResourceKind::Group => "groups",
    }
}

/// Whether a problem stops the rule set from loading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The rule set does not load.
    Error,
    /// The rule set loads; an administrator should read this.
    Warning,
}

/// What kind of problem it is. [`ProblemKind::code`] is the stable kebab-case name used
/// in messages and in `docs/rules.md`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProblemKind {
    /// The document is not valid YAML (or uses a YAML feature rules do not allow).
    YamlSyntax,
    /// The document is larger than [`crate::limits::MAX_DOCUMENT_BYTES`].
    DocumentTooLarge,
    /// A value has the wrong YAML shape: a list where a mapping belongs, a number where
    /// a quoted template belongs…
    WrongType,
    /// A key the format does not define.
    UnknownKey,
    /// A rule with no action (`set`, `default`, `copy`, `rename`, `remove`, `map`,
    /// `skip`).
    NoAction,
    /// More rules, entries or names than the limits allow.
    TooMany,
    /// A rule `name:` that is empty, too long or has characters outside
    /// `A-Z a-z 0-9 space . _ -`.
    InvalidName,
    /// Two rules with the same `name:`.
    DuplicateName,
    /// An expression that does not parse: an unclosed `{`, a stray `}`, an unterminated
    /// string, an unexpected character.
    ExpressionSyntax,
    /// An expression longer than [`crate::limits::MAX_EXPRESSION_CHARS`].
    ExpressionTooLong,
    /// An expression nested deeper than [`crate::limits::MAX_EXPRESSION_DEPTH`].
    ExpressionTooDeep,
    /// A function the language does not have.
    UnknownFunction,
    /// A function called with too few or too many arguments.
    WrongArity,
    /// A value of the wrong type: a list where text belongs, a number where text belongs,
    /// an attribute where a literal belongs, a boolean attribute as a target…
    TypeMismatch,
    /// An attribute path that is not in the resource type's schemas.
    UnknownAttribute,
    /// An attribute rules may not write (Identity Center refuses it, or it is read-only)
    /// or read (`password`).
    RefusedAttribute,
    /// A regular expression that does not compile, or a capture group it does not have.
    InvalidPattern,
    /// A regular expression longer than [`crate::limits::MAX_PATTERN_CHARS`] or whose
    /// compiled program exceeds the bounded engine's size limits.
    PatternTooLarge,
    /// A `when:` condition that is not a valid SCIM filter.
    FilterSyntax,
    /// A rule that can leave a user or group without an attribute Identity Center
    /// requires.
    RequiredAttributeLost,
    /// A `userName` that is always longer than Identity Center's 128 characters.
    UserNameTooLong,
    /// Two writes of one attribute where one of them can never matter.
    Conflict,
    /// A rule after an unconditional `skip`: no resource ever reaches it.
    Unreachable,
    /// A transform of a read-back attribute (`userName`, a group's `displayName`) that
    /// the gateway could not answer Okta consistently through.
    NotInvertible,
    /// A group `map:` that is not one-to-one, or has a blank or too long name.
    InvalidMap,
    /// A `scope:` entry that is not well formed.
    InvalidScope,
    /// Warning: a rule changes `userName`, which Identity Center matches to the SAML
    /// subject.
    UserNameChanged,
}

impl ProblemKind {
    /// The stable kebab-case name, e.g. `unknown-function`.
    pub fn code(self) -> &'static str {
        match self {
            Self::YamlSyntax => "yaml-syntax",
            Self::DocumentTooLarge => "document-too-large",
            Self::WrongType => "wrong-type",
            Self::UnknownKey => "unknown-key",
            Self::NoAction => "no-action",
            Self::TooMany => "too-many",
            Self::InvalidName => "invalid-name",
            Self::DuplicateName => "duplicate-name",
            Self::ExpressionSyntax => "expression-syntax",
            Self::ExpressionTooLong => "expression-too-long",
            Self::ExpressionTooDeep => "expression-too-deep",
            Self::UnknownFunction => "unknown-function",
            Self::WrongArity => "wrong-arity",
            Self::TypeMismatch => "type-mismatch",
            Self::UnknownAttribute => "unknown-attribute",
            Self::RefusedAttribute => "refused-attribute",
            Self::InvalidPattern => "invalid-pattern",
            Self::PatternTooLarge => "pattern-too-large",
            Self::FilterSyntax => "filter-syntax",
            Self::RequiredAttributeLost => "required-attribute-lost",
            Self::UserNameTooLong => "user-name-too-long",
            Self::Conflict => "conflict",
            Self::Unreachable => "unreachable",
            Self::NotInvertible => "not-invertible",
            Self::InvalidMap => "invalid-map",
            Self::InvalidScope => "invalid-scope",
            Self::UserNameChanged => "user-name-changed",
        }
    }

    /// Whether problems of this kind are warnings rather than errors.
    pub fn severity(self) -> Severity {
        match self {
            Self::UserNameChanged => Severity::Warning,
            _ => Severity::Error,
        }
    }
}

impl fmt::Display for ProblemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// One thing wrong with (or worth knowing about) a rule set.
///
/// Displayed as `error[unknown-function] users[2] "lowercase", set.userName, character 2:
/// unknown function `lowr` (did you mean `lower`?)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// Error or warning (follows from `kind`).
    pub severity: Severity,
    /// What kind of problem.
    pub kind: ProblemKind,
    /// The rule it is in, if it is in one.
    pub rule: Option<RuleId>,
    /// Where in the rule (or, without a rule, in the document), as keys and indexes:
    /// `set.userName`, `when`, `remove[1]`, `scope.events[0]`; empty for the whole rule
    /// or document.
    pub field: String,
    /// Where inside an expression or `when:` filter: the offset in characters, from 0.
    pub position: Option<usize>,
    /// For YAML syntax errors: the line and column in the document, from 1.
    pub line_column: Option<(usize, usize)>,
    /// What is wrong, for an administrator.
    pub message: String,
}

impl Problem {
    pub(crate) fn new(
        kind: ProblemKind,
        rule: Option<&RuleId>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            severity: kind.severity(),
            kind,
            rule: rule.cloned(),
            field: field.into(),
            position: None,
            line_column: None,
            message: message.into(),
        }
    }

    pub(crate) fn at(mut self, position: usize) -> Self {
        self.position = Some(position);
        self
    }

    /// Whether this problem stops the rule set from loading.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let severity = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{severity}[{}]", self.kind)?;
        let mut sep = " ";
        if let Some(rule) = &self.rule {
            write!(f, "{sep}{rule}")?;
            sep = ", ";
        }
        if !self.field.is_empty() {
            write!(f, "{sep}{}", self.field)?;
            sep = ", ";
        }
        if let Some(position) = self.position {
            write!(f, "{sep}character {}", position + 1)?;
        }
        if let Some((line, column)) = self.line_column {
            write!(f, "{sep}line {line} column {column}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// A rule set that does not load: every problem found, errors and warnings, in document
/// order (document-level problems first, then `users`, then `groups`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
pub struct Invalid {
    /// The problems; at least one is an error.
    pub problems: Vec<Problem>,
}

impl Invalid {
    /// The errors only.
    pub fn errors(&self) -> impl Iterator<Item = &Problem> {
        self.problems.iter().filter(|p| p.is_error())
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let errors = self.errors().count();
        write!(
            f,
            "the rule set does not load: {errors} error{}",
            if errors == 1 { "" } else { "s" }
        )?;
        for problem in &self.problems {
            write!(f, "\n  {problem}")?;
        }
        Ok(())
    }
}

/// Sorts problems into document order, keeping the order of discovery within one place.
pub(crate) fn sort(problems: &mut [Problem]) {
    problems.sort_by_key(|p| match &p.rule {
        None => (0, 0),
        Some(id) => (
            match id.kind {
                ResourceKind::User => 1,
                ResourceKind::Group => 2,
            },
            id.index,
        ),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_problem_displays_its_kind_rule_field_and_one_based_character() {
        let id = RuleId {
            kind: ResourceKind::User,
            index: 2,
            name: Some("lowercase".into()),
        };
        let problem = Problem::new(
            ProblemKind::UnknownFunction,
            Some(&id),
            "set.userName",
            "unknown function `lowr`",
        )
        .at(1);
        assert_eq!(
            problem.to_string(),
            "error[unknown-function] users[2] \"lowercase\", set.userName, character 2: \
             unknown function `lowr`"
        );
    }

    #[test]
    fn warnings_are_not_errors_and_codes_are_kebab_case() {
        assert_eq!(ProblemKind::UserNameChanged.severity(), Severity::Warning);
        assert_eq!(ProblemKind::NotInvertible.severity(), Severity::Error);
        let json = serde_json::to_value(ProblemKind::RequiredAttributeLost).unwrap();
        assert_eq!(json, "required-attribute-lost");
        assert_eq!(
            ProblemKind::RequiredAttributeLost.code(),
            "required-attribute-lost"
        );
    }
}
