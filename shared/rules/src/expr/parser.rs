//! The parser and type checker of templates (grammar in [`super`]): one pass from text
//! to a typed [`Template`], or the first error with its character position.
//!
//! Recursion is paid for by a function call, which counts against
//! [`MAX_EXPRESSION_DEPTH`]; input is capped at [`MAX_EXPRESSION_CHARS`] characters. So
//! no template can overflow the stack, here or in the evaluator.

use regex::RegexBuilder;
use scim_core::ResourceKind;

use super::{Expr, Group, Part, Template, Ty};
use crate::limits::{
    MAX_ARGUMENTS, MAX_EXPRESSION_CHARS, MAX_EXPRESSION_DEPTH, MAX_PATTERN_CHARS,
    REGEX_DFA_SIZE_LIMIT, REGEX_NEST_LIMIT, REGEX_SIZE_LIMIT,
};
use crate::path::{AttrRef, Use, closest};
use crate::problem::ProblemKind;

/// A template that does not parse or type-check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ExprError {
    /// What kind of problem.
    pub(crate) kind: ProblemKind,
    /// The offset in characters where it was found, from 0.
    pub(crate) position: usize,
    /// What is wrong.
    pub(crate) message: String,
}

fn err<T>(kind: ProblemKind, position: usize, message: impl Into<String>) -> Result<T, ExprError> {
    Err(ExprError {
        kind,
        position,
        message: message.into(),
    })
}

/// The functions, with their arity and parameter names for messages.
const FUNCTIONS: &[(&str, usize, usize, &str)] = &[
    ("lower", 1, 1, "lower(s)"),
    ("upper", 1, 1, "upper(s)"),
    ("trim", 1, 1, "trim(s)"),
    ("replace", 3, 3, "replace(s, from, to)"),
    ("capture", 3, 3, "capture(s, pattern, group)"),
    ("split", 2, 3, "split(s, sep) or split(s, sep, index)"),
    ("join", 2, 2, "join(list, sep)"),
    ("coalesce", 2, MAX_ARGUMENTS, "coalesce(a, b, …)"),
    ("concat", 2, MAX_ARGUMENTS, "concat(a, b, …)"),
    (
        "substring",
        2,
        3,
        "substring(s, start) or substring(s, start, length)",
    ),
];

const EXPECT_EXPR: &str = "an attribute, a function call, a \"string\" or a number";

/// Parses `source` as a template over resources of `kind`.
pub(crate) fn parse_template(source: &str, kind: ResourceKind) -> Result<Template, ExprError> {
    let chars: Vec<char> = source.chars().collect();
    if chars.len() > MAX_EXPRESSION_CHARS {
        return err(
            ProblemKind::ExpressionTooLong,
            MAX_EXPRESSION_CHARS,
            format!(
                "the value is {} characters long; the limit is {MAX_EXPRESSION_CHARS}",
                chars.len()
            ),
        );
    }
    let mut parser = Parser {
        chars,
        pos: 0,
        kind,
        depth: 0,
    };
    let parts = parser.parts()?;
    Ok(Template {
        source: source.to_owned(),
        parts,
    })
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
    kind: ResourceKind,
    depth: usize,
}

/// A parsed argument, before the function it is passed to decides what it may be.
struct Arg {
    value: ArgValue,
    start: usize,
}

enum ArgValue {
    Expr(Expr, Ty),
    Int(i64),
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn peek_at(&self, offset: usize) -> Option<char> {
        self.chars.get(self.pos + offset).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn enter(&mut self, at: usize) -> Result<(), ExprError> {
        self.depth += 1;
        if self.depth > MAX_EXPRESSION_DEPTH {
            return err(
                ProblemKind::ExpressionTooDeep,
                at,
                format!("function calls nest deeper than {MAX_EXPRESSION_DEPTH} levels"),
            );
        }
        Ok(())
    }

    /// Template parts, up to the end.
    fn parts(&mut self) -> Result<Vec<Part>, ExprError> {
        let mut parts = Vec::new();
        let mut lit = String::new();
        while let Some(c) = self.peek() {
            match c {
                '{' if self.peek_at(1) == Some('{') => {
                    lit.push('{');
                    self.pos += 2;
                }
                '}' if self.peek_at(1) == Some('}') => {
                    lit.push('}');
                    self.pos += 2;
                }
                '}' => {
                    return err(
                        ProblemKind::ExpressionSyntax,
                        self.pos,
                        "`}` without `{` (write `}}` for a literal brace)",
                    );
                }
                '{' => {
                    if !lit.is_empty() {
                        parts.push(Part::Lit(std::mem::take(&mut lit)));
                    }
                    parts.push(Part::Expr(self.interpolation()?));
                }
                c => {
                    lit.push(c);
                    self.pos += 1;
                }
            }
        }
        if !lit.is_empty() {
            parts.push(Part::Lit(lit));
        }
        Ok(parts)
    }

    /// A string literal, at its `"`: plain text, where `\"` is a quote and `\\` a
    /// backslash, and any other backslash is kept, so patterns can say `\d` and `\.`.
    fn string(&mut self) -> Result<String, ExprError> {
        let open = self.pos;
        self.pos += 1;
        let mut text = String::new();
        loop {
            match self.peek() {
                None => {
                    return err(
                        ProblemKind::ExpressionSyntax,
                        open,
                        "unterminated string: the `\"` opened here is never closed",
                    );
                }
                Some('"') => {
                    self.pos += 1;
                    return Ok(text);
                }
                Some('\\') => match self.peek_at(1) {
                    Some(e @ ('"' | '\\')) => {
                        text.push(e);
                        self.pos += 2;
                    }
                    _ => {
                        text.push('\\');
                        self.pos += 1;
                    }
                },
                Some(c) => {
                    text.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    /// `{ expr }`, at a `{`.
    fn interpolation(&mut self) -> Result<Expr, ExprError> {
        let open = self.pos;
        self.pos += 1;
        self.skip_ws();
        if self.peek() == Some('}') {
            return err(
                ProblemKind::ExpressionSyntax,
                open,
                "empty `{}`: name an attribute or call a function inside (write `{{` for a \
                 literal brace)",
            );
        }
        let arg = self.expr()?;
        self.skip_ws();
        match self.peek() {
            Some('}') => self.pos += 1,
            None => {
                return err(
                    ProblemKind::ExpressionSyntax,
                    open,
                    "`{` is never closed (write `{{` for a literal brace)",
                );
            }
            Some(c) => {
                return err(
                    ProblemKind::ExpressionSyntax,
                    self.pos,
                    format!(
                        "unexpected `{c}`; expected `}}` to close the `{{` at character {}",
                        open + 1
                    ),
                );
            }
        }
        match arg.value {
            ArgValue::Expr(expr, Ty::Text) => Ok(expr),
            ArgValue::Expr(_, Ty::List) => err(
                ProblemKind::TypeMismatch,
                arg.start,
                "this is a list, which cannot be written as text: join it (join(split(s, \",\"), \" \")) \
                 or pick an item (split(s, \",\", 0))",
            ),
            ArgValue::Int(_) => err(
                ProblemKind::TypeMismatch,
                arg.start,
                "a number cannot be interpolated; write it as literal text",
            ),
        }
    }

    fn expr(&mut self) -> Result<Arg, ExprError> {
        self.skip_ws();
        let start = self.pos;
        let Some(c) = self.peek() else {
            return err(
                ProblemKind::ExpressionSyntax,
                start,
                format!("unexpected end; expected {EXPECT_EXPR}"),
            );
        };
        let value = match c {
            '"' => ArgValue::Expr(Expr::Lit(self.string()?), Ty::Text),
            '-' | '0'..='9' => ArgValue::Int(self.number()?),
            c if c.is_ascii_alphabetic() => {
                let word = self.word();
                let after = self.pos;
                self.skip_ws();
                if self.peek() == Some('(') {
                    let (expr, ty) = self.call(&word, start)?;
                    ArgValue::Expr(expr, ty)
                } else {
                    self.pos = after;
                    let path =
                        AttrRef::parse(self.kind, &word, Use::Read).map_err(|p| ExprError {
                            kind: p.kind,
                            position: start,
                            message: p.message,
                        })?;
                    ArgValue::Expr(Expr::Attr(path), Ty::Text)
                }
            }
            c => {
                return err(
                    ProblemKind::ExpressionSyntax,
                    start,
                    format!("unexpected `{c}`; expected {EXPECT_EXPR}"),
                );
            }
        };
        Ok(Arg { value, start })
    }

    /// An attribute path or function name: a letter, then letters, digits and `_ : . $ -`.
    fn word(&mut self) -> String {
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | ':' | '.' | '$' | '-'))
        {
            self.pos += 1;
        }
        self.chars
            .get(start..self.pos)
            .unwrap_or_default()
            .iter()
            .collect()
    }

    fn number(&mut self) -> Result<i64, ExprError> {
        let start = self.pos;
        if self.peek() == Some('-') {
            self.pos += 1;
        }
        let digits_start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        let text: String = self
            .chars
            .get(start..self.pos)
            .unwrap_or_default()
            .iter()
            .collect();
        if self.pos == digits_start {
            return err(
                ProblemKind::ExpressionSyntax,
                start,
                format!("`-` must be followed by digits; expected {EXPECT_EXPR}"),
            );
        }
        if self
            .peek()
            .is_some_and(|c| c.is_alphanumeric() || c == '.' || c == '_')
        {
            return err(
                ProblemKind::ExpressionSyntax,
                start,
                "a number is whole digits only, e.g. 0, 3 or -4",
            );
        }
        text.parse::<i64>()
            .ok()
            .filter(|n| n.unsigned_abs() <= 1_000_000)
            .map_or_else(
                || {
                    err(
                        ProblemKind::TypeMismatch,
                        start,
                        "numbers must be between -1000000 and 1000000",
                    )
                },
                Ok,
            )
    }

    /// `name(args)`, with `name` read and the position at `(`.
    fn call(&mut self, name: &str, start: usize) -> Result<(Expr, Ty), ExprError> {
        let Some(&(fname, min, max, signature)) = FUNCTIONS
            .iter()
            .find(|(f, ..)| f.eq_ignore_ascii_case(name))
        else {
            let suggestion = closest(name, FUNCTIONS.iter().map(|(f, ..)| *f))
                .map(|s| format!(" (did you mean `{s}`?)"))
                .unwrap_or_default();
            let all: Vec<&str> = FUNCTIONS.iter().map(|(f, ..)| *f).collect();
            return err(
                ProblemKind::UnknownFunction,
                start,
                format!(
                    "unknown function `{name}`{suggestion}; the functions are {}",
                    all.join(", ")
                ),
            );
        };
        self.enter(start)?;
        self.pos += 1; // `(`
        let mut args = Vec::new();
        self.skip_ws();
        if self.peek() == Some(')') {
            self.pos += 1;
        } else {
            loop {
                let arg = self.expr()?;
                if args.len() == max {
                    return err(
                        ProblemKind::WrongArity,
                        start,
                        arity_message(fname, min, max, signature, args.len() + 1, true),
                    );
                }
                args.push(arg);
                self.skip_ws();
                match self.peek() {
                    Some(',') => self.pos += 1,
                    Some(')') => {
                        self.pos += 1;
                        break;
                    }
                    Some(c) => {
                        return err(
                            ProblemKind::ExpressionSyntax,
                            self.pos,
                            format!(
                                "unexpected `{c}`; expected `,` or `)` in the call of `{fname}`"
                            ),
                        );
                    }
                    None => {
                        return err(
                            ProblemKind::ExpressionSyntax,
                            start,
                            format!("the call of `{fname}` is never closed with `)`"),
                        );
                    }
                }
            }
        }
        self.depth -= 1;
        if args.len() < min {
            return err(
                ProblemKind::WrongArity,
                start,
                arity_message(fname, min, max, signature, args.len(), false),
            );
        }
        build(fname, args)
    }
}

fn arity_message(
    fname: &str,
    min: usize,
    max: usize,
    signature: &str,
    found: usize,
    at_least: bool,
) -> String {
    let expected = if min == max {
        format!("{min} argument{}", if min == 1 { "" } else { "s" })
    } else if max == MAX_ARGUMENTS {
        format!("{min} to {max} arguments")
    } else {
        format!("{min} or {max} arguments")
    };
    format!(
        "`{fname}` takes {expected} ({signature}), found {}{found}",
        if at_least { "at least " } else { "" }
    )
}

/// Type-checks a call of `fname` (arity already checked) and builds its node.
fn build(fname: &'static str, args: Vec<Arg>) -> Result<(Expr, Ty), ExprError> {
    let mut args = args.into_iter();
    let mut next = || {
        args.next().ok_or_else(|| ExprError {
            kind: ProblemKind::WrongArity,
            position: 0,
            message: format!("`{fname}` is missing an argument"),
        })
    };
    let node = match fname {
        "lower" => (Expr::Lower(Box::new(text(next()?, fname, "s")?)), Ty::Text),
        "upper" => (Expr::Upper(Box::new(text(next()?, fname, "s")?)), Ty::Text),
        "trim" => (Expr::Trim(Box::new(text(next()?, fname, "s")?)), Ty::Text),
        "replace" => {
            let s = text(next()?, fname, "s")?;
            let from = text(next()?, fname, "from")?;
            let to = text(next()?, fname, "to")?;
            (Expr::Replace(Box::new([s, from, to])), Ty::Text)
        }
        "capture" => {
            let input = text(next()?, fname, "s")?;
            let pattern_arg = next()?;
            let pattern_at = pattern_arg.start;
            let pattern = match pattern_arg.value {
                ArgValue::Expr(Expr::Lit(p), _) => p,
                _ => {
                    return err(
                        ProblemKind::TypeMismatch,
                        pattern_at,
                        "the pattern of `capture` must be a \"string\" written in the rule",
                    );
                }
            };
            let regex = compile(&pattern, pattern_at)?;
            let group_arg = next()?;
            let groups = regex.captures_len().saturating_sub(1);
            let group = match group_arg.value {
                ArgValue::Int(n) if n >= 0 && usize::try_from(n).is_ok_and(|n| n <= groups) => {
                    Group::Index(usize::try_from(n).unwrap_or(0))
                }
                ArgValue::Int(n) => {
                    return err(
                        ProblemKind::InvalidPattern,
                        group_arg.start,
                        format!(
                            "the pattern has {groups} capture group{}; group {n} does not exist \
                             (0 is the whole match)",
                            if groups == 1 { "" } else { "s" }
                        ),
                    );
                }
                ArgValue::Expr(Expr::Lit(name), _) => {
                    if regex.capture_names().flatten().any(|g| g == name) {
                        Group::Name(name)
                    } else {
                        return err(
                            ProblemKind::InvalidPattern,
                            group_arg.start,
                            format!("the pattern has no group named `{name}`"),
                        );
                    }
                }
                ArgValue::Expr(..) => {
                    return err(
                        ProblemKind::TypeMismatch,
                        group_arg.start,
                        "the group of `capture` must be a number or a \"name\" written in the rule",
                    );
                }
            };
            (
                Expr::Capture {
                    input: Box::new(input),
                    pattern: Box::new(regex),
                    group,
                },
                Ty::Text,
            )
        }
        "split" => {
            let input = text(next()?, fname, "s")?;
            let sep = text(next()?, fname, "sep")?;
            let index = match args.next() {
                None => None,
                Some(arg) => Some(int(arg, fname, "index")?),
            };
            let ty = if index.is_some() { Ty::Text } else { Ty::List };
            (
                Expr::Split {
                    input: Box::new(input),
                    sep: Box::new(sep),
                    index,
                },
                ty,
            )
        }
        "join" => {
            let list_arg = next()?;
            let list = match list_arg.value {
                ArgValue::Expr(e, Ty::List) => e,
                ArgValue::Expr(_, Ty::Text) => {
                    return err(
                        ProblemKind::TypeMismatch,
                        list_arg.start,
                        "`join` expects a list for `list` (from split(s, sep)), found text",
                    );
                }
                ArgValue::Int(_) => {
                    return err(
                        ProblemKind::TypeMismatch,
                        list_arg.start,
                        "`join` expects a list for `list` (from split(s, sep)), found a number",
                    );
                }
            };
            let sep = text(next()?, fname, "sep")?;
            (
                Expr::Join {
                    list: Box::new(list),
                    sep: Box::new(sep),
                },
                Ty::Text,
            )
        }
        "coalesce" => {
            let mut exprs = Vec::new();
            let mut ty = None;
            for arg in args.by_ref() {
                match arg.value {
                    ArgValue::Int(_) => {
                        return err(
                            ProblemKind::TypeMismatch,
                            arg.start,
                            "`coalesce` expects text or lists, found a number",
                        );
                    }
                    ArgValue::Expr(e, t) => {
                        match ty {
                            None => ty = Some(t),
                            Some(first) if first != t => {
                                return err(
                                    ProblemKind::TypeMismatch,
                                    arg.start,
                                    format!(
                                        "the arguments of `coalesce` must all be of one type: \
                                         this is {}, the first is {}",
                                        t.name(),
                                        first.name()
                                    ),
                                );
                            }
                            Some(_) => {}
                        }
                        exprs.push(e);
                    }
                }
            }
            (Expr::Coalesce(exprs), ty.unwrap_or(Ty::Text))
        }
        "concat" => {
            let mut exprs = Vec::new();
            for arg in args.by_ref() {
                exprs.push(text(arg, fname, "a")?);
            }
            (Expr::Concat(exprs), Ty::Text)
        }
        "substring" => {
            let input = text(next()?, fname, "s")?;
            let start = int(next()?, fname, "start")?;
            let length = match args.next() {
                None => None,
                Some(arg) => {
                    let at = arg.start;
                    let n = int(arg, fname, "length")?;
                    match u64::try_from(n) {
                        Ok(n) => Some(n),
                        Err(_) => {
                            return err(
                                ProblemKind::TypeMismatch,
                                at,
                                "the length of `substring` must be 0 or more",
                            );
                        }
                    }
                }
            };
            (
                Expr::Substring {
                    input: Box::new(input),
                    start,
                    length,
                },
                Ty::Text,
            )
        }
        _ => {
            return err(
                ProblemKind::UnknownFunction,
                0,
                format!("unknown function `{fname}`"),
            );
        }
    };
    Ok(node)
}

fn text(arg: Arg, fname: &str, param: &str) -> Result<Expr, ExprError> {
    match arg.value {
        ArgValue::Expr(e, Ty::Text) => Ok(e),
        ArgValue::Expr(_, Ty::List) => err(
            ProblemKind::TypeMismatch,
            arg.start,
            format!(
                "`{fname}` expects text for `{param}`, found a list (join it, or pick an item \
                 with split(s, sep, index))"
            ),
        ),
        ArgValue::Int(_) => err(
            ProblemKind::TypeMismatch,
            arg.start,
            format!("`{fname}` expects text for `{param}`, found a number (write it as \"…\")"),
        ),
    }
}

fn int(arg: Arg, fname: &str, param: &str) -> Result<i64, ExprError> {
    match arg.value {
        ArgValue::Int(n) => Ok(n),
        ArgValue::Expr(..) => err(
            ProblemKind::TypeMismatch,
            arg.start,
            format!("`{fname}` expects a whole number written in the rule for `{param}`"),
        ),
    }
}

/// Compiles a pattern on the bounded, linear-time engine.
fn compile(pattern: &str, at: usize) -> Result<regex::Regex, ExprError> {
    let length = pattern.chars().count();
    if length > MAX_PATTERN_CHARS {
        return err(
            ProblemKind::PatternTooLarge,
            at,
            format!("the pattern is {length} characters long; the limit is {MAX_PATTERN_CHARS}"),
        );
    }
    RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_DFA_SIZE_LIMIT)
        .nest_limit(REGEX_NEST_LIMIT)
        .build()
        .map_err(|e| match e {
            regex::Error::CompiledTooBig(limit) => ExprError {
                kind: ProblemKind::PatternTooLarge,
                position: at,
                message: format!(
                    "the pattern compiles to more than {limit} bytes: repetitions such as {{100}} \
                     multiply its size, and so do Unicode classes (\\w, \\d): (?-u:\\w) or \
                     [A-Za-z0-9_] is far smaller"
                ),
            },
            regex::Error::Syntax(text) => {
                let detail = text
                    .lines()
                    .find_map(|l| l.trim().strip_prefix("error: "))
                    .unwrap_or("invalid syntax")
                    .to_owned();
                let (kind, detail) = if detail.contains("nest") {
                    (
                        ProblemKind::PatternTooLarge,
                        format!(
                            "groups and repetitions nest deeper than {REGEX_NEST_LIMIT} levels"
                        ),
                    )
                } else {
                    (ProblemKind::InvalidPattern, detail)
                };
                ExprError {
                    kind,
                    position: at,
                    message: format!("invalid pattern: {detail}"),
                }
            }
            _ => ExprError {
                kind: ProblemKind::InvalidPattern,
                position: at,
                message: "invalid pattern".to_owned(),
            },
        })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use scim_core::ResourceKind;

    use super::*;

    /// Pieces of the template grammar, valid and not, for soups of them.
    fn arb_soup() -> impl Strategy<Value = String> {
        let pieces = vec![
            "{",
            "}",
            "{{",
            "}}",
            "(",
            ")",
            ",",
            "\"",
            "\\",
            " ",
            "x",
            "-",
            "7",
            "-3",
            "userName",
            "name.givenName",
            "emails.value",
            "lower",
            "upper",
            "trim",
            "replace",
            "capture",
            "split",
            "join",
            "coalesce",
            "concat",
            "substring",
            "nope",
            "\"(a)\"",
            "\"[\"",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter",
            "é",
            "\u{130}",
        ];
        prop::collection::vec(prop::sample::select(pieces), 0..40).prop_map(|v| v.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        #[test]
        fn arbitrary_text_never_panics_the_parser(input in any::<String>()) {
            let _ = parse_template(&input, ResourceKind::User);
        }

        #[test]
        fn grammar_soup_never_panics_and_errors_point_inside_the_input(input in arb_soup()) {
            match parse_template(&input, ResourceKind::Group) {
                Ok(template) => prop_assert_eq!(template.source(), input.as_str()),
                Err(e) => prop_assert!(e.position <= input.chars().count(), "{:?}", e),
            }
        }
    }

    #[test]
    fn deep_nesting_is_refused_before_the_stack_is_at_risk() {
        let deep = format!(
            "{{{}userName{}}}",
            "lower(".repeat(10_000),
            ")".repeat(10_000)
        );
        assert_eq!(
            parse_template(&deep, ResourceKind::User)
                .map(|_| ())
                .map_err(|e| e.kind),
            Err(ProblemKind::ExpressionTooLong)
        );
        let deep = format!("{{{}userName{}}}", "lower(".repeat(100), ")".repeat(100));
        assert_eq!(
            parse_template(&deep, ResourceKind::User)
                .map(|_| ())
                .map_err(|e| e.kind),
            Err(ProblemKind::ExpressionTooDeep)
        );
    }
}
