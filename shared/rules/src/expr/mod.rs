//! The expression language of rule values: templates of literal text and `{expression}`
//! interpolations, parsed once at load time into a typed syntax tree ([`Template`]) and
//! evaluated against a resource's JSON.
//!
//! ```text
//! template  = *( text / "{{" / "}}" / "{" expr "}" )  ; "{{" and "}}" are literal braces
//! expr      = string / number / call / attribute
//! string    = DQUOTE *char DQUOTE  ; plain text: \" is a quote, \\ a backslash, any other
//!                                  ; backslash is kept (patterns say \d, \.); no {…} inside
//! number    = ["-"] 1*DIGIT        ; only where a function takes one
//! call      = function "(" [expr *("," expr)] ")"
//! attribute = an attribute path: userName, name.givenName, emails.value, urn:…:costCenter
//! ```
//!
//! Values are text, or lists of text (from `split`). A value is **absent** when its
//! attribute is missing, `null` or blank (empty or whitespace); a template with an absent
//! interpolation is absent, and so is a function of an absent input. An action whose
//! value is absent, or blank, writes nothing: the attribute keeps what it had.
//!
//! Functions (arguments marked *literal* must be written in the rule, not computed):
//!
//! | function | result |
//! |---|---|
//! | `lower(s)`, `upper(s)` | `s` in lower or upper case (Unicode) |
//! | `trim(s)` | `s` without leading and trailing whitespace |
//! | `replace(s, from, to)` | `s` with every `from` replaced by `to` (plain text, not a pattern) |
//! | `capture(s, pattern, group)` | the text `group` (a *literal* number or name) of the *literal* regular expression `pattern` captured in `s`; absent without a match |
//! | `split(s, sep)` | the list of the parts of `s` between `sep`s |
//! | `split(s, sep, index)` | the part number `index` (a *literal*, from 0; negative counts from the end); absent past the end |
//! | `join(list, sep)` | the list's items with `sep` between them |
//! | `coalesce(a, b, …)` | the first of its 2 to 16 arguments that is present and not blank |
//! | `concat(a, b, …)` | its 2 to 16 arguments one after the other; absent if one is |
//! | `substring(s, start[, length])` | `length` characters (*literals*) of `s` from `start` (from 0; negative counts from the end), to the end without `length` |
//!
//! Patterns run on the `regex` crate's linear-time engine with size and nesting limits
//! ([`crate::limits`]), so no pattern can take more than linear time in its input.

pub(crate) mod eval;
pub(crate) mod parser;

use std::fmt;

use regex::Regex;

use crate::path::AttrRef;

/// A parsed template: the value of a `set:` or `default:` entry.
#[derive(Debug, Clone)]
pub struct Template {
    /// The text as written.
    source: String,
    /// Literal text and interpolations, in order.
    pub(crate) parts: Vec<Part>,
}

impl Template {
    /// The template as written in the rule set.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// How many `capture` patterns the template compiled.
    pub(crate) fn pattern_count(&self) -> usize {
        fn count(expr: &Expr) -> usize {
            match expr {
                Expr::Attr(_) | Expr::Lit(_) => 0,
                Expr::Lower(e) | Expr::Upper(e) | Expr::Trim(e) => count(e),
                Expr::Substring { input, .. } => count(input),
                Expr::Capture { input, .. } => 1 + count(input),
                Expr::Replace(args) => args.iter().map(count).sum(),
                Expr::Split { input, sep, .. } => count(input) + count(sep),
                Expr::Join { list, sep } => count(list) + count(sep),
                Expr::Coalesce(args) | Expr::Concat(args) => args.iter().map(count).sum(),
            }
        }
        self.parts
            .iter()
            .map(|p| match p {
                Part::Lit(_) => 0,
                Part::Expr(e) => count(e),
            })
            .sum()
    }

    /// Every attribute the template reads, in order of appearance.
    pub(crate) fn refs(&self) -> Vec<&AttrRef> {
        let mut out = Vec::new();
        for part in &self.parts {
            if let Part::Expr(expr) = part {
                expr.collect_refs(&mut out);
            }
        }
        out
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// One piece of a template.
#[derive(Debug, Clone)]
pub(crate) enum Part {
    /// Literal text, braces unescaped.
    Lit(String),
    /// An interpolated expression, always of type text.
    Expr(Expr),
}

/// The type of an expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ty {
    /// Text (or absent).
    Text,
    /// A list of text (or absent), from `split`.
    List,
}

impl Ty {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Ty::Text => "text",
            Ty::List => "a list",
        }
    }
}

/// A typed expression node. Arity and argument types are guaranteed by the parser.
#[derive(Debug, Clone)]
pub(crate) enum Expr {
    /// An attribute of the resource.
    Attr(AttrRef),
    /// A string literal without interpolations.
    Lit(String),
    /// `concat(a, b, …)`
    Concat(Vec<Expr>),
    /// `lower(s)`
    Lower(Box<Expr>),
    /// `upper(s)`
    Upper(Box<Expr>),
    /// `trim(s)`
    Trim(Box<Expr>),
    /// `replace(s, from, to)`
    Replace(Box<[Expr; 3]>),
    /// `capture(s, pattern, group)`
    Capture {
        /// The text searched.
        input: Box<Expr>,
        /// The compiled, size-bounded pattern.
        pattern: Box<Regex>,
        /// Which group.
        group: Group,
    },
    /// `split(s, sep)` (a list) or `split(s, sep, index)` (text).
    Split {
        /// The text split.
        input: Box<Expr>,
        /// The separator.
        sep: Box<Expr>,
        /// The item picked, if any.
        index: Option<i64>,
    },
    /// `join(list, sep)`
    Join {
        /// The list joined.
        list: Box<Expr>,
        /// The separator.
        sep: Box<Expr>,
    },
    /// `coalesce(a, b, …)`
    Coalesce(Vec<Expr>),
    /// `substring(s, start[, length])`
    Substring {
        /// The text.
        input: Box<Expr>,
        /// The first character, from 0; negative counts from the end.
        start: i64,
        /// How many characters; `None` for the rest.
        length: Option<u64>,
    },
}

/// A capture group, by number or by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Group {
    /// `0` is the whole match.
    Index(usize),
    /// A named group, `(?P<name>…)`.
    Name(String),
}

impl Expr {
    fn collect_refs<'a>(&'a self, out: &mut Vec<&'a AttrRef>) {
        match self {
            Expr::Attr(path) => out.push(path),
            Expr::Lit(_) => {}
            Expr::Concat(args) => args.iter().for_each(|e| e.collect_refs(out)),
            Expr::Lower(e) | Expr::Upper(e) | Expr::Trim(e) => e.collect_refs(out),
            Expr::Replace(args) => args.iter().for_each(|e| e.collect_refs(out)),
            Expr::Capture { input, .. } | Expr::Substring { input, .. } => {
                input.collect_refs(out);
            }
            Expr::Split { input, sep, .. } => {
                input.collect_refs(out);
                sep.collect_refs(out);
            }
            Expr::Join { list, sep } => {
                list.collect_refs(out);
                sep.collect_refs(out);
            }
            Expr::Coalesce(args) => args.iter().for_each(|e| e.collect_refs(out)),
        }
    }
}
