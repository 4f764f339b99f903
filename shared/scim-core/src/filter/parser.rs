//! The parser of RFC 7644 §3.4.2.2's filter grammar (Figure 1), over the tokens of
//! [`super::lexer`], shared with the PATCH path parser of `crate::patch::path`.
//!
//! The parser is recursive descent, but every level of recursion is paid for by an
//! opening `(`, `not (` or `[`, and those are capped at [`MAX_DEPTH`]; `and`/`or` chains
//! are parsed in loops. Input is capped at [`MAX_FILTER_LEN`] bytes. So neither a
//! 10 000-deep `((((…` nor any other input can overflow the stack.
//!
//! The tree is capped too, at [`MAX_TREE_DEPTH`] levels: a chain of `or`s nests one
//! level per term without any parenthesis, and the compiler-derived `Drop`, `Clone`,
//! `PartialEq` and `Debug` of [`Filter`] recurse. With the cap, every parsed tree is
//! shallow enough for those (and for anyone's recursive visitor) on a 2 MiB thread
//! stack; the printer and the evaluator do not recurse at all.
//!
//! Leniency is limited to whitespace: a run of spaces, tabs, CRs or LFs counts as the
//! single `SP` the ABNF asks for, whitespace may surround the whole filter and sit next
//! to `(`, `)`, `[` and `]`, and `not(` and `not (` are both accepted (RFC 7644 errata
//! 7319). Two words or strings written without whitespace between them (`eq"john"`) are
//! rejected (by the lexer).

use std::fmt;

use super::lexer::{Lexer, Tok, Token, is_space};
use super::{AttrPath, CompValue, CompareOp, Filter};

/// The longest filter or PATCH path accepted, in bytes. Real filters are a few hundred
/// bytes; the cap bounds parsing time and the size of the tree.
pub const MAX_FILTER_LEN: usize = 8 * 1024;

/// The deepest nesting of `(`, `not (` and `[` accepted.
pub const MAX_DEPTH: usize = 64;

/// The deepest syntax tree accepted: each `and`, `or`, `not` and `[…]` adds a level, so
/// this also bounds `or` chains (to 255 terms).
pub const MAX_TREE_DEPTH: usize = 256;

/// What was wrong with a filter or a PATCH path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FilterErrorKind {
    /// The input was empty or only whitespace.
    Empty,
    /// The input was longer than [`MAX_FILTER_LEN`] bytes.
    TooLong,
    /// Parentheses and brackets nested deeper than [`MAX_DEPTH`].
    TooDeep,
    /// A syntax tree deeper than [`MAX_TREE_DEPTH`], e.g. an `or` chain of 300 terms.
    TooComplex,
    /// A `(` was never closed, or a `)` had no `(`.
    UnbalancedParen,
    /// A `[` was never closed, or a `]` had no `[`.
    UnbalancedBracket,
    /// A word stood where a comparison operator (`eq`, `pr`, …) was expected.
    UnknownOperator,
    /// A string had no closing quote.
    UnterminatedString,
    /// A string held an escape that JSON does not define, or a lone UTF-16 surrogate.
    BadEscape,
    /// A string held an unescaped control character (below U+0020), which JSON forbids.
    ControlCharacter,
    /// A complete filter was followed by more input.
    TrailingInput,
    /// The input ended where something else was expected.
    UnexpectedEnd {
        /// What the parser expected.
        expected: &'static str,
    },
    /// A token stood where something else was expected.
    UnexpectedToken {
        /// What the parser expected.
        expected: &'static str,
    },
    /// Two words or strings touched, where the grammar needs whitespace between them.
    MissingWhitespace,
    /// An attribute path did not follow `[URI ":"] ATTRNAME *1subAttr`.
    InvalidAttrName,
    /// A comparison value was not `false`, `null`, `true`, a JSON number or a string.
    InvalidValue,
    /// A value path inside a value path, which the `valFilter` rule does not allow.
    NestedValuePath,
    /// `not` was not followed by a parenthesised filter.
    NotWithoutParens,
    /// A value path on a sub-attribute (`name.givenName[…]`); the filter has to be on the
    /// multi-valued attribute itself.
    SubAttrBeforeFilter,
}

impl fmt::Display for FilterErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("empty input"),
            Self::TooLong => write!(f, "input longer than {MAX_FILTER_LEN} bytes"),
            Self::TooDeep => write!(f, "nesting deeper than {MAX_DEPTH} levels"),
            Self::TooComplex => write!(
                f,
                "filter deeper than {MAX_TREE_DEPTH} levels (each and, or, not and [] adds one)"
            ),
            Self::UnbalancedParen => f.write_str("unbalanced parenthesis"),
            Self::UnbalancedBracket => f.write_str("unbalanced bracket"),
            Self::UnknownOperator => {
                f.write_str("unknown operator (expected eq, ne, co, sw, ew, gt, ge, lt, le or pr)")
            }
            Self::UnterminatedString => f.write_str("unterminated string"),
            Self::BadEscape => f.write_str("invalid escape in string"),
            Self::ControlCharacter => f.write_str("unescaped control character in string"),
            Self::TrailingInput => f.write_str("unexpected input after the end of the filter"),
            Self::UnexpectedEnd { expected } => write!(f, "unexpected end, expected {expected}"),
            Self::UnexpectedToken { expected } => write!(f, "expected {expected}"),
            Self::MissingWhitespace => f.write_str("missing whitespace between tokens"),
            Self::InvalidAttrName => f.write_str("invalid attribute path"),
            Self::InvalidValue => {
                f.write_str("invalid value (expected a string, number, true, false or null)")
            }
            Self::NestedValuePath => f.write_str("value path inside a value path"),
            Self::NotWithoutParens => f.write_str("`not` must be followed by `(`"),
            Self::SubAttrBeforeFilter => f.write_str("value filter after a sub-attribute"),
        }
    }
}

/// A filter (or PATCH path) that could not be parsed: what was wrong, and where.
///
/// The message names the byte offset but never echoes the input, because filters
/// carry user names and e-mail addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[error("{kind} at byte {position}")]
pub struct FilterError {
    /// What was wrong.
    pub kind: FilterErrorKind,
    /// The byte offset in the input where the problem was found.
    pub position: usize,
}

impl FilterError {
    pub(crate) fn new(kind: FilterErrorKind, position: usize) -> Self {
        Self { kind, position }
    }
}

impl From<FilterError> for crate::ScimError {
    fn from(err: FilterError) -> Self {
        crate::ScimError::invalid_filter(format!("invalid filter: {err}"))
    }
}

/// Parses a filter (RFC 7644 §3.4.2.2). Operators and keywords are case-insensitive;
/// attribute names keep their case. Grouping parentheses leave no node in the tree.
pub fn parse_filter(input: &str) -> Result<Filter, FilterError> {
    let mut parser = Parser::new(input)?;
    let (filter, _) = parser.parse_or()?;
    match parser.lexer.next()? {
        None => Ok(filter),
        Some(tok) => Err(parser.trailing(&tok)),
    }
}

impl std::str::FromStr for Filter {
    type Err = FilterError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_filter(s)
    }
}

// ---------------------------------------------------------------------------------------
// Parser

pub(crate) struct Parser<'a> {
    pub(crate) lexer: Lexer<'a>,
    depth: usize,
    /// Set while parsing a `valFilter`, where value paths are not allowed.
    in_value_path: bool,
}

const EXPECT_FILTER: &str = "an attribute path, `(` or `not (`";
const EXPECT_OPERATOR: &str = "a comparison operator";
const EXPECT_VALUE: &str = "a comparison value";

impl<'a> Parser<'a> {
    /// Checks the size caps and emptiness, which apply to filters and paths alike.
    pub(crate) fn new(input: &'a str) -> Result<Self, FilterError> {
        if input.len() > MAX_FILTER_LEN {
            return Err(FilterError::new(FilterErrorKind::TooLong, MAX_FILTER_LEN));
        }
        if input.bytes().all(is_space) {
            return Err(FilterError::new(FilterErrorKind::Empty, 0));
        }
        Ok(Self {
            lexer: Lexer::new(input),
            depth: 0,
            in_value_path: false,
        })
    }

    /// The error for a token after a complete top-level filter.
    pub(crate) fn trailing(&self, tok: &Token<'_>) -> FilterError {
        let kind = match tok.tok {
            Tok::RParen => FilterErrorKind::UnbalancedParen,
            Tok::RBracket => FilterErrorKind::UnbalancedBracket,
            _ => FilterErrorKind::TrailingInput,
        };
        FilterError::new(kind, tok.start)
    }

    fn enter(&mut self, at: usize) -> Result<(), FilterError> {
        if self.depth >= MAX_DEPTH {
            return Err(FilterError::new(FilterErrorKind::TooDeep, at));
        }
        self.depth += 1;
        Ok(())
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    fn peek_keyword(&mut self, keyword: &str) -> Result<bool, FilterError> {
        Ok(matches!(
            self.lexer.peek()?,
            Some(Token { tok: Tok::Word(w), .. }) if w.eq_ignore_ascii_case(keyword)
        ))
    }

    /// `FILTER` at the loosest precedence: `or`-separated `and` chains, left-associative.
    /// Returns the tree and its depth.
    pub(crate) fn parse_or(&mut self) -> Result<(Filter, usize), FilterError> {
        let (mut left, mut depth) = self.parse_and()?;
        while self.peek_keyword("or")? {
            let at = self.lexer.next()?.map_or(0, |t| t.start);
            let (right, right_depth) = self.parse_and()?;
            depth = tree_depth(depth.max(right_depth), at)?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok((left, depth))
    }

    fn parse_and(&mut self) -> Result<(Filter, usize), FilterError> {
        let (mut left, mut depth) = self.parse_term()?;
        while self.peek_keyword("and")? {
            let at = self.lexer.next()?.map_or(0, |t| t.start);
            let (right, right_depth) = self.parse_term()?;
            depth = tree_depth(depth.max(right_depth), at)?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok((left, depth))
    }

    /// A group, a `not (…)`, an attribute expression or a value path.
    fn parse_term(&mut self) -> Result<(Filter, usize), FilterError> {
        let end = self.lexer.input_len();
        let Some(tok) = self.lexer.next()? else {
            return Err(FilterError::new(
                FilterErrorKind::UnexpectedEnd {
                    expected: EXPECT_FILTER,
                },
                end,
            ));
        };
        match tok.tok {
            Tok::LParen => self.parse_group(tok.start),
            Tok::Word(word) => {
                // `not` is the operator only when a `(` follows; otherwise it is an
                // attribute called "not", which ATTRNAME allows.
                if word.eq_ignore_ascii_case("not")
                    && matches!(
                        self.lexer.peek()?,
                        Some(Token {
                            tok: Tok::LParen,
                            ..
                        })
                    )
                {
                    let open = self.lexer.next()?.map_or(tok.start, |t| t.start);
                    let (inner, depth) = self.parse_group(open)?;
                    return Ok((Filter::Not(Box::new(inner)), tree_depth(depth, tok.start)?));
                }
                self.parse_attr_expr(word, tok.start)
            }
            _ => Err(FilterError::new(
                FilterErrorKind::UnexpectedToken {
                    expected: EXPECT_FILTER,
                },
                tok.start,
            )),
        }
    }

    /// The inside of `( … )`, the `(` at `open` already consumed.
    fn parse_group(&mut self, open: usize) -> Result<(Filter, usize), FilterError> {
        self.enter(open)?;
        let inner = self.parse_or()?;
        match self.lexer.next()? {
            Some(Token {
                tok: Tok::RParen, ..
            }) => {}
            None
            | Some(Token {
                tok: Tok::RBracket, ..
            }) => {
                return Err(FilterError::new(FilterErrorKind::UnbalancedParen, open));
            }
            Some(tok) => {
                return Err(FilterError::new(
                    FilterErrorKind::UnexpectedToken {
                        expected: "`and`, `or` or `)`",
                    },
                    tok.start,
                ));
            }
        }
        self.leave();
        Ok(inner)
    }

    /// Parses the inside of `[ … ]` (a `valFilter`), the `[` at `open` already consumed,
    /// up to and including the `]`.
    pub(crate) fn parse_value_filter(
        &mut self,
        open: usize,
    ) -> Result<(Filter, usize), FilterError> {
        if self.in_value_path {
            return Err(FilterError::new(FilterErrorKind::NestedValuePath, open));
        }
        self.enter(open)?;
        self.in_value_path = true;
        let inner = self.parse_or()?;
        match self.lexer.next()? {
            Some(Token {
                tok: Tok::RBracket, ..
            }) => {}
            None => return Err(FilterError::new(FilterErrorKind::UnbalancedBracket, open)),
            Some(Token {
                tok: Tok::RParen,
                start,
                ..
            }) => {
                return Err(FilterError::new(FilterErrorKind::UnbalancedParen, start));
            }
            Some(tok) => {
                return Err(FilterError::new(
                    FilterErrorKind::UnexpectedToken {
                        expected: "`and`, `or` or `]`",
                    },
                    tok.start,
                ));
            }
        }
        self.in_value_path = false;
        self.leave();
        Ok(inner)
    }

    /// `attrPath SP "pr"`, `attrPath SP compareOp SP compValue` or `attrPath "[" … "]"`.
    fn parse_attr_expr(
        &mut self,
        word: &'a str,
        start: usize,
    ) -> Result<(Filter, usize), FilterError> {
        let path = parse_attr_path(word, start)?;
        // `not` without `(` reads as an attribute called "not"; when no operator follows,
        // the caller almost certainly meant the keyword, so say that instead.
        let is_not = word.eq_ignore_ascii_case("not");
        let no_operator = |kind, at| {
            let kind = if is_not {
                FilterErrorKind::NotWithoutParens
            } else {
                kind
            };
            FilterError::new(kind, at)
        };
        let end = self.lexer.input_len();
        let Some(tok) = self.lexer.next()? else {
            return Err(no_operator(
                FilterErrorKind::UnexpectedEnd {
                    expected: EXPECT_OPERATOR,
                },
                end,
            ));
        };
        match tok.tok {
            Tok::LBracket if !tok.spaced => {
                if path.sub_attr.is_some() {
                    return Err(FilterError::new(
                        FilterErrorKind::SubAttrBeforeFilter,
                        tok.start,
                    ));
                }
                let (filter, depth) = self.parse_value_filter(tok.start)?;
                let depth = tree_depth(depth, tok.start)?;
                Ok((
                    Filter::ValuePath {
                        attr: path,
                        filter: Box::new(filter),
                    },
                    depth,
                ))
            }
            Tok::Word(op_word) => {
                if op_word.eq_ignore_ascii_case("pr") {
                    return Ok((Filter::Present(path), 1));
                }
                let Some(op) = compare_op(op_word) else {
                    return Err(no_operator(FilterErrorKind::UnknownOperator, tok.start));
                };
                let value = self.parse_comp_value()?;
                Ok((Filter::Compare { path, op, value }, 1))
            }
            _ => Err(no_operator(
                FilterErrorKind::UnexpectedToken {
                    expected: EXPECT_OPERATOR,
                },
                tok.start,
            )),
        }
    }

    fn parse_comp_value(&mut self) -> Result<CompValue, FilterError> {
        let end = self.lexer.input_len();
        let Some(tok) = self.lexer.next()? else {
            return Err(FilterError::new(
                FilterErrorKind::UnexpectedEnd {
                    expected: EXPECT_VALUE,
                },
                end,
            ));
        };
        match tok.tok {
            Tok::Str(s) => Ok(CompValue::String(s)),
            Tok::Word(w) => {
                parse_literal(w).ok_or(FilterError::new(FilterErrorKind::InvalidValue, tok.start))
            }
            _ => Err(FilterError::new(
                FilterErrorKind::UnexpectedToken {
                    expected: EXPECT_VALUE,
                },
                tok.start,
            )),
        }
    }
}

/// The depth of a node whose deepest child is `child_depth` deep, if within the cap; `at`
/// is the node's operator, for the error.
fn tree_depth(child_depth: usize, at: usize) -> Result<usize, FilterError> {
    let depth = child_depth + 1;
    if depth > MAX_TREE_DEPTH {
        return Err(FilterError::new(FilterErrorKind::TooComplex, at));
    }
    Ok(depth)
}

fn compare_op(word: &str) -> Option<CompareOp> {
    const OPS: [(&str, CompareOp); 9] = [
        ("eq", CompareOp::Eq),
        ("ne", CompareOp::Ne),
        ("co", CompareOp::Co),
        ("sw", CompareOp::Sw),
        ("ew", CompareOp::Ew),
        ("gt", CompareOp::Gt),
        ("ge", CompareOp::Ge),
        ("lt", CompareOp::Lt),
        ("le", CompareOp::Le),
    ];
    OPS.iter()
        .find(|(name, _)| word.eq_ignore_ascii_case(name))
        .map(|(_, op)| *op)
}

/// `false`, `null`, `true` (lower case, as in JSON) or a JSON number.
fn parse_literal(word: &str) -> Option<CompValue> {
    match word {
        "true" => Some(CompValue::Bool(true)),
        "false" => Some(CompValue::Bool(false)),
        "null" => Some(CompValue::Null),
        _ if is_json_number(word) => parse_number(word).map(CompValue::Number),
        _ => None,
    }
}

/// A JSON number as serde_json would hold it: an integer when it is written as one and
/// fits 64 bits, else a finite f64. Floats go through the standard library's parser,
/// which rounds correctly; serde_json's own is off by an ulp at times unless its
/// `float_roundtrip` feature is on, and printing then reparsing must be exact.
fn parse_number(word: &str) -> Option<serde_json::Number> {
    let integral = !word.contains(['.', 'e', 'E']);
    if integral {
        if let Ok(n) = word.parse::<u64>() {
            return Some(n.into());
        }
        if let Ok(n) = word.parse::<i64>() {
            return Some(n.into());
        }
    }
    word.parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
}

/// `number = [ minus ] int [ frac ] [ exp ]` (RFC 8259 §6). Checked here because
/// serde_json's own parser is laxer than the grammar in places we do not want to rely on.
fn is_json_number(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = usize::from(b.first() == Some(&b'-'));
    let digits = |i: &mut usize| {
        let from = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - from
    };
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => {
            digits(&mut i);
        }
        _ => return false,
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

// ---------------------------------------------------------------------------------------
// Attribute paths

/// `ATTRNAME = ALPHA *(nameChar)`, plus `$ref`, which RFC 7643 uses as a sub-attribute
/// name although the ABNF does not allow it (RFC 7643 errata 8924).
pub(crate) fn is_attr_name(s: &str) -> bool {
    if s == "$ref" {
        return true;
    }
    let mut bytes = s.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A URI (RFC 3986): a scheme, a `:` and URI characters. We check the alphabet and the
/// percent-encoding rather than every production, since the URI is only compared.
fn is_uri(s: &str) -> bool {
    let Some((scheme, rest)) = s.split_once(':') else {
        return false;
    };
    let mut sb = scheme.bytes();
    let scheme_ok = sb.next().is_some_and(|b| b.is_ascii_alphabetic())
        && sb.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    if !scheme_ok {
        return false;
    }
    let rb = rest.as_bytes();
    let mut i = 0;
    while let Some(&b) = rb.get(i) {
        if b == b'%' {
            let hex = |j: usize| rb.get(j).is_some_and(u8::is_ascii_hexdigit);
            if !(hex(i + 1) && hex(i + 2)) {
                return false;
            }
            i += 3;
            continue;
        }
        let allowed = b.is_ascii_alphanumeric() || b"-._~!$&'*+,;=:@/?#".contains(&b);
        if !allowed {
            return false;
        }
        i += 1;
    }
    true
}

/// Whether a URI segment is a schema version such as `2.0`.
fn is_version(segment: &str) -> bool {
    segment
        .split('.')
        .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
}

/// Parses `attrPath = [URI ":"] ATTRNAME *1subAttr`, from a word starting at byte `start`.
///
/// The URI is everything up to the last `:`. A word that is a whole schema URN, such as
/// `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User`, would split into the
/// "URI" `…:2.0` and the "attribute" `User`; since every SCIM schema URN ends in
/// `:<version>:<Name>` (RFC 7643 §8.7), a split whose URI ends in a version segment is
/// read as the whole schema instead: `AttrPath { urn: Some(<the word>), name: "" }`.
/// (A custom schema URN that itself ends in a version, like `urn:acme:2.0`, cannot have
/// its attributes addressed with the URN prefix; none of the schemas we handle does.)
pub(crate) fn parse_attr_path(word: &str, start: usize) -> Result<AttrPath, FilterError> {
    let invalid =
        |offset: usize| FilterError::new(FilterErrorKind::InvalidAttrName, start + offset);
    let (urn, rest, rest_at) = match word.rfind(':') {
        Some(colon) => {
            let urn = word.get(..colon).unwrap_or_default();
            if !is_uri(urn) {
                return Err(invalid(0));
            }
            (
                Some(urn),
                word.get(colon + 1..).unwrap_or_default(),
                colon + 1,
            )
        }
        None => (None, word, 0),
    };
    let (name, sub_attr) = match rest.split_once('.') {
        Some((name, sub)) => (name, Some(sub)),
        None => (rest, None),
    };
    if !is_attr_name(name) {
        return Err(invalid(rest_at));
    }
    if let Some(sub) = sub_attr
        && !is_attr_name(sub)
    {
        return Err(invalid(rest_at + name.len() + 1));
    }
    if let Some(urn) = urn
        && sub_attr.is_none()
        && urn.rsplit(':').next().is_some_and(is_version)
    {
        return Ok(AttrPath {
            urn: Some(word.to_owned()),
            name: String::new(),
            sub_attr: None,
        });
    }
    Ok(AttrPath {
        urn: urn.map(str::to_owned),
        name: name.to_owned(),
        sub_attr: sub_attr.map(str::to_owned),
    })
}

/// Tree builders and proptest strategies shared by the filter and path tests.
#[cfg(test)]
pub(crate) mod test_support {
    use proptest::prelude::*;

    use crate::filter::{AttrPath, CompValue, CompareOp, Filter};

    pub(crate) const ENTERPRISE: &str = crate::ENTERPRISE_USER_SCHEMA;

    pub(crate) fn attr(name: &str) -> AttrPath {
        AttrPath::simple(name)
    }
    pub(crate) fn sub(name: &str, sub: &str) -> AttrPath {
        AttrPath {
            urn: None,
            name: name.into(),
            sub_attr: Some(sub.into()),
        }
    }
    pub(crate) fn qualified(urn: &str, name: &str, sub: Option<&str>) -> AttrPath {
        AttrPath {
            urn: Some(urn.into()),
            name: name.into(),
            sub_attr: sub.map(Into::into),
        }
    }
    pub(crate) fn whole(urn: &str) -> AttrPath {
        AttrPath {
            urn: Some(urn.into()),
            name: String::new(),
            sub_attr: None,
        }
    }
    pub(crate) fn s(v: &str) -> CompValue {
        CompValue::String(v.into())
    }
    pub(crate) fn cmp(path: AttrPath, op: CompareOp, value: CompValue) -> Filter {
        Filter::Compare { path, op, value }
    }
    pub(crate) fn pr(path: AttrPath) -> Filter {
        Filter::Present(path)
    }
    pub(crate) fn and(a: Filter, b: Filter) -> Filter {
        Filter::And(Box::new(a), Box::new(b))
    }
    pub(crate) fn or(a: Filter, b: Filter) -> Filter {
        Filter::Or(Box::new(a), Box::new(b))
    }
    pub(crate) fn not(a: Filter) -> Filter {
        Filter::Not(Box::new(a))
    }
    pub(crate) fn vp(attr: AttrPath, filter: Filter) -> Filter {
        Filter::ValuePath {
            attr,
            filter: Box::new(filter),
        }
    }

    /// Attribute names, including the keywords, which are valid names too.
    pub(crate) fn arb_name() -> impl Strategy<Value = String> {
        prop_oneof![
            4 => "[a-zA-Z][a-zA-Z0-9_-]{0,6}",
            1 => Just("$ref".to_owned()),
            1 => prop::sample::select(vec!["not", "and", "or", "pr", "eq", "true", "null", "NOT"])
                .prop_map(str::to_owned),
        ]
    }

    fn arb_urn() -> impl Strategy<Value = String> {
        prop::sample::select(vec![
            crate::USER_SCHEMA,
            ENTERPRISE,
            "urn:acme:ext:v1:Thing",
            "urn:a:b%20c",
            "https://example.com/schemas/x",
        ])
        .prop_map(str::to_owned)
    }

    /// Any attribute path the parser can produce; `with_sub` allows a sub-attribute.
    pub(crate) fn arb_attr_path(with_sub: bool) -> impl Strategy<Value = AttrPath> {
        let sub = if with_sub {
            prop::option::of(arb_name()).boxed()
        } else {
            Just(None).boxed()
        };
        prop_oneof![
            8 => (prop::option::of(arb_urn()), arb_name(), sub)
                .prop_map(|(urn, name, sub_attr)| AttrPath { urn, name, sub_attr }),
            1 => prop::sample::select(vec![crate::USER_SCHEMA, ENTERPRISE]).prop_map(whole),
        ]
    }

    pub(crate) fn arb_value() -> impl Strategy<Value = CompValue> {
        prop_oneof![
            Just(CompValue::Null),
            any::<bool>().prop_map(CompValue::Bool),
            any::<i64>().prop_map(|n| CompValue::Number(n.into())),
            any::<u64>().prop_map(|n| CompValue::Number(n.into())),
            any::<f64>()
                .prop_filter_map("finite", serde_json::Number::from_f64)
                .prop_map(CompValue::Number),
            any::<String>().prop_map(CompValue::String),
        ]
    }

    fn arb_op() -> impl Strategy<Value = CompareOp> {
        use CompareOp::*;
        prop::sample::select(vec![Eq, Ne, Co, Sw, Ew, Gt, Ge, Lt, Le])
    }

    fn arb_leaf() -> impl Strategy<Value = Filter> {
        prop_oneof![
            3 => (arb_attr_path(true), arb_op(), arb_value())
                .prop_map(|(path, op, value)| Filter::Compare { path, op, value }),
            1 => arb_attr_path(true).prop_map(Filter::Present),
        ]
    }

    fn combine(inner: BoxedStrategy<Filter>) -> impl Strategy<Value = Filter> {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| and(a, b)),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| or(a, b)),
            inner.prop_map(not),
        ]
    }

    /// A filter without value paths: what may stand inside `[…]`.
    pub(crate) fn arb_value_filter() -> impl Strategy<Value = Filter> {
        arb_leaf().prop_recursive(4, 24, 2, |inner| combine(inner.boxed()))
    }

    /// Any filter the parser can produce, bounded in depth.
    pub(crate) fn arb_filter() -> impl Strategy<Value = Filter> {
        let term = prop_oneof![
            3 => arb_leaf(),
            1 => (arb_attr_path(false), arb_value_filter()).prop_map(|(a, f)| vp(a, f)),
        ];
        term.prop_recursive(4, 24, 2, |inner| combine(inner.boxed()))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::test_support::*;
    use super::*;
    use crate::ScimType;
    use crate::filter::CompareOp::*;

    const CORE: &str = crate::USER_SCHEMA;

    #[test]
    fn the_rfc_7644_filter_examples_parse_to_the_expected_trees() {
        // Arrange: RFC 7644 §3.4.2.2's example list, each with its tree.
        let emails_either = || {
            or(
                cmp(attr("emails"), Co, s("example.com")),
                cmp(sub("emails", "value"), Co, s("example.org")),
            )
        };
        let cases: Vec<(&str, Filter)> = vec![
            (
                r#"userName Eq "john""#,
                cmp(attr("userName"), Eq, s("john")),
            ),
            (
                r#"Username eq "john""#,
                cmp(attr("Username"), Eq, s("john")),
            ),
            ("title pr", pr(attr("title"))),
            (
                r#"name.familyName co "O'Malley""#,
                cmp(sub("name", "familyName"), Co, s("O'Malley")),
            ),
            (r#"userName sw "J""#, cmp(attr("userName"), Sw, s("J"))),
            (
                r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#,
                cmp(qualified(CORE, "userName", None), Sw, s("J")),
            ),
            (
                r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
                cmp(sub("meta", "lastModified"), Gt, s("2011-05-13T04:42:34Z")),
            ),
            (
                r#"meta.lastModified ge "2011-05-13T04:42:34Z""#,
                cmp(sub("meta", "lastModified"), Ge, s("2011-05-13T04:42:34Z")),
            ),
            (
                r#"meta.lastModified lt "2011-05-13T04:42:34Z""#,
                cmp(sub("meta", "lastModified"), Lt, s("2011-05-13T04:42:34Z")),
            ),
            (
                r#"meta.lastModified le "2011-05-13T04:42:34Z""#,
                cmp(sub("meta", "lastModified"), Le, s("2011-05-13T04:42:34Z")),
            ),
            (
                r#"title pr and userType eq "Employee""#,
                and(pr(attr("title")), cmp(attr("userType"), Eq, s("Employee"))),
            ),
            (
                r#"title pr or userType eq "Intern""#,
                or(pr(attr("title")), cmp(attr("userType"), Eq, s("Intern"))),
            ),
            (
                r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#,
                cmp(attr("schemas"), Eq, s(ENTERPRISE)),
            ),
            (
                r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
                and(cmp(attr("userType"), Eq, s("Employee")), emails_either()),
            ),
            (
                r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
                and(
                    cmp(attr("userType"), Ne, s("Employee")),
                    not(emails_either()),
                ),
            ),
            (
                r#"userType eq "Employee" and (emails.type eq "work")"#,
                and(
                    cmp(attr("userType"), Eq, s("Employee")),
                    cmp(sub("emails", "type"), Eq, s("work")),
                ),
            ),
            (
                r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
                and(
                    cmp(attr("userType"), Eq, s("Employee")),
                    vp(
                        attr("emails"),
                        and(
                            cmp(attr("type"), Eq, s("work")),
                            cmp(attr("value"), Co, s("@example.com")),
                        ),
                    ),
                ),
            ),
            (
                r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
                or(
                    vp(
                        attr("emails"),
                        and(
                            cmp(attr("type"), Eq, s("work")),
                            cmp(attr("value"), Co, s("@example.com")),
                        ),
                    ),
                    vp(
                        attr("ims"),
                        and(
                            cmp(attr("type"), Eq, s("xmpp")),
                            cmp(attr("value"), Co, s("@foo.com")),
                        ),
                    ),
                ),
            ),
        ];
        for (input, expected) in cases {
            // Act
            let parsed = parse_filter(input);
            // Assert
            assert_eq!(parsed, Ok(expected), "{input}");
        }
    }

    #[test]
    fn the_rest_of_the_grammar_parses_to_the_expected_trees() {
        let (a, b, c) = (|| pr(attr("a")), || pr(attr("b")), || pr(attr("c")));
        let cases: Vec<(&str, Filter)> = vec![
            // Precedence: and binds tighter than or; both chain to the left.
            ("a pr or b pr and c pr", or(a(), and(b(), c()))),
            ("a pr and b pr or c pr", or(and(a(), b()), c())),
            ("a pr and b pr and c pr", and(and(a(), b()), c())),
            ("a pr or b pr or c pr", or(or(a(), b()), c())),
            ("a pr and (b pr or c pr)", and(a(), or(b(), c()))),
            ("not (a pr) and b pr", and(not(a()), b())),
            // Grouping leaves no node; `not(` needs no space (errata 7319).
            ("((a pr))", a()),
            ("not(a pr)", not(a())),
            ("not (not (a pr))", not(not(a()))),
            // Keywords and operators in any case.
            ("a PR AND b Pr oR NoT (c pR)", or(and(a(), b()), not(c()))),
            ("x GE 1", cmp(attr("x"), Ge, CompValue::Number(1.into()))),
            // Whitespace runs, and whitespace next to punctuation.
            (
                "  userName \t eq\n\"x\"  ",
                cmp(attr("userName"), Eq, s("x")),
            ),
            ("( a pr )and(b pr)", and(a(), b())),
            (
                "emails[ type eq \"work\" ]",
                vp(attr("emails"), cmp(attr("type"), Eq, s("work"))),
            ),
            // Values: JSON literals, numbers and escapes.
            (
                "active eq true",
                cmp(attr("active"), Eq, CompValue::Bool(true)),
            ),
            (
                "active ne false",
                cmp(attr("active"), Ne, CompValue::Bool(false)),
            ),
            ("manager eq null", cmp(attr("manager"), Eq, CompValue::Null)),
            (
                "n lt -12",
                cmp(attr("n"), Lt, CompValue::Number((-12).into())),
            ),
            ("n le 0", cmp(attr("n"), Le, CompValue::Number(0.into()))),
            (
                "n gt -1.5e3",
                cmp(
                    attr("n"),
                    Gt,
                    CompValue::Number(serde_json::Number::from_f64(-1500.0).unwrap()),
                ),
            ),
            (
                r#"n ew "q\"b\\s\/\b\f\n\r\t\u00e9\ud83d\ude00""#,
                cmp(attr("n"), Ew, s("q\"b\\s/\u{8}\u{c}\n\r\té😀")),
            ),
            ("n co \"\"", cmp(attr("n"), Co, s(""))),
            ("n eq \"naïve ☃\"", cmp(attr("n"), Eq, s("naïve ☃"))),
            // URN-qualified names, sub-attributes and `$ref`.
            (
                r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984""#,
                cmp(
                    qualified(ENTERPRISE, "employeeNumber", None),
                    Eq,
                    s("701984"),
                ),
            ),
            (
                r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "26118915""#,
                cmp(
                    qualified(ENTERPRISE, "manager", Some("value")),
                    Eq,
                    s("26118915"),
                ),
            ),
            (
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User pr",
                pr(whole(ENTERPRISE)),
            ),
            ("members.$ref pr", pr(sub("members", "$ref"))),
            ("$ref pr", pr(attr("$ref"))),
            ("x-y_z9 pr", pr(attr("x-y_z9"))),
            // Keywords are attribute names where an attribute is expected.
            ("not eq \"x\"", cmp(attr("not"), Eq, s("x"))),
            ("and pr or or pr", or(pr(attr("and")), pr(attr("or")))),
            ("pr pr", pr(attr("pr"))),
            // Inside a value path: not, grouping, urn-qualified relative names.
            (
                "emails[not (type eq \"work\") and (primary eq true or display pr)]",
                vp(
                    attr("emails"),
                    and(
                        not(cmp(attr("type"), Eq, s("work"))),
                        or(
                            cmp(attr("primary"), Eq, CompValue::Bool(true)),
                            pr(attr("display")),
                        ),
                    ),
                ),
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(parse_filter(input), Ok(expected), "{input}");
        }
    }

    /// `kind` compared by variant, ignoring the "expected" detail.
    fn same_kind(a: FilterErrorKind, b: FilterErrorKind) -> bool {
        std::mem::discriminant(&a) == std::mem::discriminant(&b)
    }

    #[test]
    fn malformed_filters_fail_with_the_expected_kind_and_position() {
        use FilterErrorKind::*;
        let end = UnexpectedEnd { expected: "" };
        let token = UnexpectedToken { expected: "" };
        let cases: Vec<(&str, FilterErrorKind, usize)> = vec![
            ("", Empty, 0),
            (" \t\n", Empty, 0),
            ("(title pr", UnbalancedParen, 0),
            ("((title pr)", UnbalancedParen, 0),
            ("title pr)", UnbalancedParen, 8),
            ("emails[type eq \"work\"", UnbalancedBracket, 6),
            ("title pr]", UnbalancedBracket, 8),
            ("emails[type eq \"work\")", UnbalancedParen, 21),
            ("(emails[type eq \"work\")]", UnbalancedParen, 22),
            ("userName equals \"john\"", UnknownOperator, 9),
            ("userName == \"john\"", UnknownOperator, 9),
            ("userName \"john\"", token, 9),
            ("userName eq \"john", UnterminatedString, 12),
            ("userName eq \"john\\", UnterminatedString, 12),
            ("userName eq \"jo\\qhn\"", BadEscape, 15),
            ("userName eq \"\\u12\"", BadEscape, 13),
            ("userName eq \"\\ud800\"", BadEscape, 13),
            ("userName eq \"\\ud800\\u0041\"", BadEscape, 13),
            ("userName eq \"\\udc00\"", BadEscape, 13),
            ("userName eq \"a\u{1}b\"", ControlCharacter, 14),
            ("userName eq \"john\" garbage", TrailingInput, 19),
            ("title pr title pr", TrailingInput, 9),
            ("emails[type eq \"work\"].value eq \"x\"", TrailingInput, 22),
            ("userName eq \"john\" and", end, 22),
            ("userName eq", end, 11),
            ("userName", end, 8),
            ("(", end, 1),
            ("()", token, 1),
            ("title pr and )", token, 13),
            ("userName eq john", InvalidValue, 12),
            ("userName eq 01", InvalidValue, 12),
            ("userName eq 1.", InvalidValue, 12),
            ("userName eq .5", InvalidValue, 12),
            ("userName eq True", InvalidValue, 12),
            ("userName eq (\"x\")", token, 12),
            ("userName eq\"john\"", MissingWhitespace, 11),
            ("userName eq \"a\"and title pr", MissingWhitespace, 15),
            ("1userName eq \"x\"", InvalidAttrName, 0),
            ("user!name eq \"x\"", InvalidAttrName, 0),
            ("name.given.family eq \"x\"", InvalidAttrName, 5),
            ("name. pr", InvalidAttrName, 5),
            ("urn: pr", InvalidAttrName, 0),
            ("urn:x: pr", InvalidAttrName, 6),
            ("1urn:x:name pr", InvalidAttrName, 0),
            ("urn:x%zz:name pr", InvalidAttrName, 0),
            ("\"userName\" eq \"x\"", token, 0),
            ("émail pr", InvalidAttrName, 0),
            (
                "emails[type eq \"work\" and members[value eq \"x\"]]",
                NestedValuePath,
                33,
            ),
            ("not title pr", NotWithoutParens, 4),
            ("not", NotWithoutParens, 3),
            ("name.givenName[value eq \"x\"]", SubAttrBeforeFilter, 14),
            ("emails [type eq \"work\"]", token, 7),
        ];
        for (input, kind, position) in cases {
            // Act
            let err = match parse_filter(input) {
                Ok(f) => panic!("{input:?} parsed as {f:?}"),
                Err(err) => err,
            };
            // Assert
            assert!(
                same_kind(err.kind, kind),
                "{input:?}: got {err:?}, want {kind:?}"
            );
            assert_eq!(err.position, position, "{input:?}: {err}");
            let scim: crate::ScimError = err.into();
            assert_eq!(
                (scim.status, scim.scim_type),
                (400, Some(ScimType::InvalidFilter))
            );
        }
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        // Arrange: 10 000 levels exceed the length cap; a few hundred fit under it and
        // must hit the depth cap instead.
        let parens = |n: usize| format!("{}a pr{}", "(".repeat(n), ")".repeat(n));
        let nots = |n: usize| format!("{}a pr{}", "not (".repeat(n), ")".repeat(n));
        let cases = vec![
            (parens(10_000), FilterErrorKind::TooLong),
            (nots(10_000), FilterErrorKind::TooLong),
            ("a[".repeat(10_000), FilterErrorKind::TooLong),
            ("[".repeat(10_000), FilterErrorKind::TooLong),
            (parens(1_000), FilterErrorKind::TooDeep),
            ("a pr or ".repeat(1_000), FilterErrorKind::TooComplex),
            (nots(500), FilterErrorKind::TooDeep),
            ("(".repeat(8_000), FilterErrorKind::TooDeep),
            (
                format!("a[{}b pr{}]", "(".repeat(100), ")".repeat(100)),
                FilterErrorKind::TooDeep,
            ),
            ("a[".repeat(3_000), FilterErrorKind::NestedValuePath),
            (
                "[".repeat(5_000),
                FilterErrorKind::UnexpectedToken { expected: "" },
            ),
        ];
        for (input, kind) in cases {
            // Act
            let err = parse_filter(&input).unwrap_err();
            // Assert
            assert!(same_kind(err.kind, kind), "{}…: got {err:?}", &input[..20]);
        }
        // The cap itself is inclusive: MAX_DEPTH levels parse.
        assert!(parse_filter(&parens(MAX_DEPTH)).is_ok());
        assert_eq!(
            parse_filter(&parens(MAX_DEPTH + 1)).unwrap_err().kind,
            FilterErrorKind::TooDeep
        );
    }

    #[test]
    fn input_longer_than_the_cap_is_rejected_and_input_at_the_cap_is_not() {
        let at_cap = format!("a eq \"{}\"", "x".repeat(MAX_FILTER_LEN - 7));
        assert_eq!(at_cap.len(), MAX_FILTER_LEN);
        assert!(parse_filter(&at_cap).is_ok());
        let over = format!("{at_cap} ");
        assert_eq!(
            parse_filter(&over).unwrap_err().kind,
            FilterErrorKind::TooLong
        );
    }

    #[test]
    fn a_filter_whose_canonical_text_outgrows_the_cap_reparses_as_too_long() {
        // Arrange: regression for the first fuzzing crash. `1e15` is 4 bytes, its canonical
        // text 18, so a filter of 4.3 KiB prints to 8.6 KiB. Groups of 80 keep the tree
        // under MAX_TREE_DEPTH.
        let group = format!("({}x ge 1e15)", "x ge 1e15 or ".repeat(79));
        let input = vec![group; 4].join(" or ");
        assert!(input.len() < MAX_FILTER_LEN);
        let filter = parse_filter(&input).unwrap();
        // Act
        let printed = filter.to_string();
        // Assert
        assert!(printed.len() > MAX_FILTER_LEN);
        assert_eq!(
            parse_filter(&printed).unwrap_err().kind,
            FilterErrorKind::TooLong
        );
    }

    /// The depth of a tree, without recursion.
    fn depth(f: &Filter) -> usize {
        let mut deepest = 0;
        let mut stack = vec![(f, 1)];
        while let Some((node, d)) = stack.pop() {
            deepest = deepest.max(d);
            match node {
                Filter::And(l, r) | Filter::Or(l, r) => {
                    stack.push((l, d + 1));
                    stack.push((r, d + 1));
                }
                Filter::Not(x) | Filter::ValuePath { filter: x, .. } => stack.push((x, d + 1)),
                _ => {}
            }
        }
        deepest
    }

    #[test]
    fn long_and_or_chains_are_capped_by_the_tree_depth() {
        // Arrange: each `or` adds a level without any parenthesis.
        let chain = |links: usize| format!("{}a pr", "a pr or ".repeat(links));
        // Act + Assert: 255 links make a tree of exactly MAX_TREE_DEPTH levels.
        let at_cap = parse_filter(&chain(MAX_TREE_DEPTH - 1)).unwrap();
        assert_eq!(depth(&at_cap), MAX_TREE_DEPTH);
        let over = parse_filter(&chain(MAX_TREE_DEPTH)).unwrap_err();
        assert_eq!(over.kind, FilterErrorKind::TooComplex);
        let nots = format!("{}a pr{}", "not (".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
        assert_eq!(depth(&parse_filter(&nots).unwrap()), MAX_DEPTH + 1);
    }

    #[test]
    fn the_deepest_parsed_tree_is_safe_for_the_derived_recursive_impls() {
        // Arrange: Drop, Clone, PartialEq and Debug are the compiler's recursive ones, so
        // the deepest tree the parser accepts must fit a small stack, even in debug builds.
        let input = format!("{}a pr", "a pr and ".repeat(MAX_TREE_DEPTH - 1));
        let filter = parse_filter(&input).unwrap();
        // Act: on a thread with a quarter of the usual 2 MiB test stack.
        let worker = std::thread::Builder::new()
            .stack_size(512 * 1024)
            .spawn(move || {
                let copy = filter.clone();
                let same = copy == filter;
                let text = filter.to_string();
                let debug_len = format!("{filter:?}").len();
                let matched = crate::filter::matches(&filter, &serde_json::json!({"a": "x"}));
                drop((copy, filter));
                (same, text, debug_len, matched)
            });
        // Assert
        let (same, text, debug_len, matched) = worker.unwrap().join().unwrap();
        assert!(same && matched);
        assert_eq!(text, input);
        assert!(debug_len > input.len());
    }

    #[test]
    fn the_printer_and_evaluator_do_not_recurse_on_hand_built_deep_trees() {
        // Arrange: far deeper than any parsed tree, built by hand.
        let mut filter = pr(attr("a"));
        for _ in 0..100_000 {
            filter = and(not(filter), pr(attr("b")));
        }
        let worker = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(move || {
                // Act
                let text_len = filter.to_string().len();
                let matched = crate::filter::matches(&filter, &serde_json::json!({"b": 1}));
                // Dismantle by hand: the derived Drop would recurse 200 000 levels.
                let mut stack = vec![filter];
                while let Some(node) = stack.pop() {
                    match node {
                        Filter::And(l, r) | Filter::Or(l, r) => stack.extend([*l, *r]),
                        Filter::Not(x) => stack.push(*x),
                        _ => {}
                    }
                }
                (text_len, matched)
            });
        // Assert: not(a pr) is false, so the outermost `and` is false.
        let (text_len, matched) = worker.unwrap().join().unwrap();
        assert!(text_len > 1_000_000);
        assert!(!matched);
    }

    #[test]
    fn errors_name_the_position_but_never_echo_the_input() {
        let err = parse_filter("userName eq \"secret@example.com\" and password").unwrap_err();
        let text = crate::ScimError::from(err).detail;
        assert!(
            !text.contains("secret") && !text.contains("password"),
            "{text}"
        );
        assert!(text.contains("at byte"), "{text}");
    }

    /// Strings made of the grammar's own pieces reach deeper than random text.
    fn arb_grammar_soup() -> impl Strategy<Value = String> {
        let pieces = vec![
            "(", ")", "[", "]", "\"", "\\", "\\u", "d83d", " ", "  ", ".", ":", "not", "and", "or",
            "eq", "pr", "co", "a", "b.c", "$ref", "urn:x:y:", "2.0:User", "1", "-", "e", "0.5",
            "true", "null", "\"s\"",
        ];
        prop::collection::vec(prop::sample::select(pieces), 0..40).prop_map(|v| v.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        #[test]
        fn printing_any_tree_and_parsing_it_back_gives_the_same_tree(f in arb_filter()) {
            let text = f.to_string();
            prop_assert_eq!(parse_filter(&text), Ok(f), "{}", text);
        }

        #[test]
        fn arbitrary_strings_never_panic_the_parser(input in any::<String>()) {
            let _ = parse_filter(&input);
        }

        #[test]
        fn grammar_soup_never_panics_and_what_parses_round_trips(input in arb_grammar_soup()) {
            if let Ok(f) = parse_filter(&input) {
                prop_assert_eq!(parse_filter(&f.to_string()), Ok(f));
            }
        }
    }
}
