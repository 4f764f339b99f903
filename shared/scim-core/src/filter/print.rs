//! Canonical text for filters: `Display` for [`Filter`], [`AttrPath`], [`CompareOp`] and
//! [`CompValue`], such that `parse_filter(&f.to_string()) == Ok(f)` for every tree the
//! parser can produce, provided the text fits the parser's length cap: canonical text can
//! be longer than what was parsed (`1e15` prints as serde_json prints that number,
//! `1000000000000000.0`), so near the cap the reparse fails with `TooLong` instead.
//! (Found by fuzzing; see `docs/fuzzing.md`.)
//!
//! Canonical means: lower-case operators and keywords, one space between tokens,
//! `not (…)` with a space, parentheses only where precedence (`not` > `and` > `or`, both
//! left-associative) needs them, and strings re-escaped as JSON.
//!
//! The filter printer walks the tree with an explicit stack rather than recursion, so
//! that it cannot overflow on a deep tree built by hand (parsed trees are shallow anyway:
//! see `parser`).

use std::fmt;

use super::{AttrPath, CompValue, CompareOp, Filter};

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.urn {
            // A whole-schema path is its URN alone (see `AttrPath::is_whole_schema`).
            Some(urn) if self.name.is_empty() => return f.write_str(urn),
            Some(urn) => write!(f, "{urn}:")?,
            None => {}
        }
        f.write_str(&self.name)?;
        if let Some(sub) = &self.sub_attr {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

impl CompareOp {
    /// The operator as written on the wire, lower case.
    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Co => "co",
            CompareOp::Sw => "sw",
            CompareOp::Ew => "ew",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
        }
    }
}

impl fmt::Display for CompareOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for CompValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompValue::Null => f.write_str("null"),
            CompValue::Bool(b) => write!(f, "{b}"),
            CompValue::Number(n) => write!(f, "{n}"),
            CompValue::String(s) => write_json_string(f, s),
        }
    }
}

/// Writes `s` as a JSON string (RFC 8259 §7): quotes, backslashes and control characters
/// escaped, everything else (including non-ASCII) as is.
pub(crate) fn write_json_string(f: &mut impl fmt::Write, s: &str) -> fmt::Result {
    f.write_char('"')?;
    for c in s.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            '\t' => f.write_str("\\t")?,
            '\u{8}' => f.write_str("\\b")?,
            '\u{c}' => f.write_str("\\f")?,
            c if (c as u32) < 0x20 => write!(f, "\\u{:04x}", c as u32)?,
            c => f.write_char(c)?,
        }
    }
    f.write_char('"')
}

/// One piece of pending output: a subtree still to print, or fixed text.
enum Piece<'a> {
    Node(&'a Filter),
    Text(&'static str),
}

/// Pushes `child`, wrapped in parentheses when `paren` is set. The stack pops last-in
/// first, so the closing text goes on first.
fn push_child<'a>(stack: &mut Vec<Piece<'a>>, child: &'a Filter, paren: bool) {
    if paren {
        stack.push(Piece::Text(")"));
        stack.push(Piece::Node(child));
        stack.push(Piece::Text("("));
    } else {
        stack.push(Piece::Node(child));
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut stack = vec![Piece::Node(self)];
        while let Some(piece) = stack.pop() {
            let node = match piece {
                Piece::Text(text) => {
                    f.write_str(text)?;
                    continue;
                }
                Piece::Node(node) => node,
            };
            match node {
                Filter::Compare { path, op, value } => write!(f, "{path} {op} {value}")?,
                Filter::Present(path) => write!(f, "{path} pr")?,
                // The parser builds chains left-associatively, so a right operand of the
                // same operator needs parentheses to come back as the same tree.
                Filter::And(left, right) => {
                    push_child(
                        &mut stack,
                        right,
                        matches!(**right, Filter::And(..) | Filter::Or(..)),
                    );
                    stack.push(Piece::Text(" and "));
                    push_child(&mut stack, left, matches!(**left, Filter::Or(..)));
                }
                Filter::Or(left, right) => {
                    push_child(&mut stack, right, matches!(**right, Filter::Or(..)));
                    stack.push(Piece::Text(" or "));
                    push_child(&mut stack, left, false);
                }
                Filter::Not(inner) => {
                    f.write_str("not ")?;
                    push_child(&mut stack, inner, true);
                }
                Filter::ValuePath { attr, filter } => {
                    write!(f, "{attr}[")?;
                    stack.push(Piece::Text("]"));
                    stack.push(Piece::Node(filter));
                }
            }
        }
        Ok(())
    }
}
