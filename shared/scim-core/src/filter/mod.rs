//! The RFC 7644 §3.4.2.2 filter grammar: its syntax tree, lexer, parser, printer and an
//! evaluator of a filter against a resource.

mod eval;
pub(crate) mod lexer;
pub(crate) mod parser;
mod print;

pub use eval::matches;
pub use parser::{
    FilterError, FilterErrorKind, MAX_DEPTH, MAX_FILTER_LEN, MAX_TREE_DEPTH, parse_filter,
};

/// An attribute path (`attrPath` in RFC 7644 §3.4.2.2's ABNF): an optional schema URN,
/// an attribute name and an optional sub-attribute, e.g.
/// `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value`.
///
/// Names keep the case they were written in; comparisons ignore case (RFC 7643 §2.1).
///
/// A bare schema URN such as `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User`
/// (a valid PATCH path addressing the whole extension object) is represented with the
/// full URN in `urn` and an empty `name`; see [`AttrPath::is_whole_schema`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrPath {
    /// The schema URN prefix, without the trailing `:`.
    pub urn: Option<String>,
    /// The attribute name; empty only for a whole-schema path.
    pub name: String,
    /// The sub-attribute name after a `.`.
    pub sub_attr: Option<String>,
}

impl AttrPath {
    /// A path to a top-level attribute with no schema URN, e.g. `userName`.
    pub fn simple(name: impl Into<String>) -> Self {
        Self {
            urn: None,
            name: name.into(),
            sub_attr: None,
        }
    }

    /// Whether this path is a bare schema URN, addressing the whole extension object keyed
    /// by that URN (or, for a resource's core schema, the resource itself).
    pub fn is_whole_schema(&self) -> bool {
        self.urn.is_some() && self.name.is_empty()
    }
}

/// A comparison operator (RFC 7644 §3.4.2.2, Table 3), case-insensitive on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompareOp {
    /// `eq`
    Eq,
    /// `ne`
    Ne,
    /// `co`
    Co,
    /// `sw`
    Sw,
    /// `ew`
    Ew,
    /// `gt`
    Gt,
    /// `ge`
    Ge,
    /// `lt`
    Lt,
    /// `le`
    Le,
}

/// A comparison value (`compValue`): `false`, `null`, `true`, a number or a string.
#[derive(Debug, Clone, PartialEq)]
pub enum CompValue {
    /// `null`
    Null,
    /// `true` or `false`
    Bool(bool),
    /// A JSON number.
    Number(serde_json::Number),
    /// A JSON string, unescaped.
    String(String),
}

/// A parsed filter. Grouping parentheses leave no node of their own: the printer puts
/// them back where precedence (`not` > `and` > `or`) needs them.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// `attrPath compareOp compValue`
    Compare {
        /// The attribute compared.
        path: AttrPath,
        /// The operator.
        op: CompareOp,
        /// The value compared with.
        value: CompValue,
    },
    /// `attrPath pr`
    Present(AttrPath),
    /// `a and b`
    And(Box<Filter>, Box<Filter>),
    /// `a or b`
    Or(Box<Filter>, Box<Filter>),
    /// `not (a)`
    Not(Box<Filter>),
    /// `attrPath[valFilter]`, e.g. `emails[type eq "work" and value co "@example.com"]`.
    /// `attr.sub_attr` is always `None` here; the inner filter's paths are relative to
    /// the complex attribute.
    ValuePath {
        /// The multi-valued (or complex) attribute.
        attr: AttrPath,
        /// The filter applied to each of its values.
        filter: Box<Filter>,
    },
}
