//! Attribute-mapping rules: what the gateway does to users and groups on their way from
//! Okta to AWS IAM Identity Center, as a YAML rule-set document (`docs/rules.md`).
//!
//! - [`RuleSet::load`] parses a document (format in `document`), checks it
//!   against the SCIM schemas and Identity Center's requirements, and reports every
//!   problem at once ([`Invalid`], [`Problem`]: kind, rule, field, position).
//! - [`RuleSet::apply`] maps one resource's JSON and says which rules fired and which
//!   one, if any, skipped it ([`Outcome`]). Total and deterministic.
//! - [`RuleSet::outbound_filter_value`] and [`RuleSet::inbound_value`] run the transforms
//!   of the read-back attributes (`userName`, a group's `displayName`) both ways, so that
//!   Okta sees what it sent while Identity Center holds what the rules made
//!   ([`readback`]).
//! - [`RuleSet::derived_attributes`] says which required attributes the rules fill in,
//!   for the gateway's `/Schemas`.
//!
//! Pure: no I/O, no async. Parsing has size and depth caps ([`limits`]); patterns run on
//! the `regex` crate's linear-time engine with size limits.

mod analysis;
mod apply;
mod document;
pub mod expr;
pub mod path;
pub mod problem;
pub mod readback;
pub mod rule;

pub use analysis::MAX_USER_NAME_CHARS;
pub use apply::{Outcome, SkipReason};
pub use document::Loaded;
pub use expr::Template;
pub use path::AttrRef;
pub use problem::{Invalid, Problem, ProblemKind, RuleId, Severity};
pub use readback::{ReadBack, Step, Transform, read_back_attribute};
pub use rule::{GroupMap, Rule, RuleSet, Scope};

/// The caps that bound parsing, analysis and evaluation.
pub mod limits {
    /// The largest document, in bytes.
    pub const MAX_DOCUMENT_BYTES: usize = 64 * 1024;
    /// The most rules under `users:`, and under `groups:`.
    pub const MAX_RULES: usize = 200;
    /// The longest rule `name:`, in characters.
    pub const MAX_NAME_CHARS: usize = 64;
    /// The most entries under one `set`, `default`, `copy`, `rename` or `remove`.
    pub const MAX_ENTRIES: usize = 64;
    /// The most entries in one group `map:`.
    pub const MAX_MAP_ENTRIES: usize = 1000;
    /// The most entries in each list of `scope:`.
    pub const MAX_SCOPE_ENTRIES: usize = 1000;
    /// The longest template (a `set:` or `default:` value), in characters.
    pub const MAX_EXPRESSION_CHARS: usize = 1024;
    /// The deepest nesting of function calls in a template.
    pub const MAX_EXPRESSION_DEPTH: usize = 16;
    /// The most arguments of `coalesce`.
    pub const MAX_ARGUMENTS: usize = 16;
    /// The longest regular expression, in characters.
    pub const MAX_PATTERN_CHARS: usize = 256;
    /// The largest compiled program of a regular expression, in bytes
    /// (`RegexBuilder::size_limit`).
    pub const REGEX_SIZE_LIMIT: usize = 256 * 1024;
    /// The most `capture(…)` patterns in one rule set, which with
    /// [`REGEX_SIZE_LIMIT`] bounds the memory its patterns take.
    pub const MAX_PATTERNS: usize = 32;
    /// The largest lazy DFA cache of a regular expression, in bytes
    /// (`RegexBuilder::dfa_size_limit`).
    pub const REGEX_DFA_SIZE_LIMIT: usize = 256 * 1024;
    /// The deepest nesting of groups and repetitions in a regular expression
    /// (`RegexBuilder::nest_limit`).
    pub const REGEX_NEST_LIMIT: u32 = 16;
    /// The longest text a value may have during evaluation, in bytes: an attribute
    /// value longer than this reads as absent, and so does a result that would be.
    pub const MAX_VALUE_BYTES: usize = 16 * 1024;
}

// The gateway shares one loaded set across requests and threads.
const _: () = {
    const fn shared<T: Send + Sync + 'static>() {}
    shared::<RuleSet>();
    shared::<Outcome>();
    shared::<Problem>();
};
