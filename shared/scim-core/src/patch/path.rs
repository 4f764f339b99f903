//! The PATCH path grammar of RFC 7644 §3.5.2: `PATH = attrPath / valuePath [subAttr]`.
//!
//! Parsing reuses the filter lexer and parser (`crate::filter::lexer`,
//! `crate::filter::parser`), so the value filter inside `[…]` obeys exactly the filter
//! rules, caps included.

use std::fmt;

use crate::filter::lexer::{Tok, Token};
use crate::filter::parser::{self, FilterErrorKind, Parser};
use crate::filter::{AttrPath, Filter, FilterError};

/// A parsed PATCH `path`, e.g. `name.givenName`, `members[value eq "2819c223"]`,
/// `emails[type eq "work"].value` or
/// `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber`.
///
/// A bare schema URN (`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User`) is
/// a valid path addressing the whole extension object; `attr` is then a whole-schema path
/// ([`AttrPath::is_whole_schema`]: the URN in `attr.urn`, an empty `attr.name`).
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    /// The attribute addressed. When `filter` is set, `attr.sub_attr` is `None`.
    pub attr: AttrPath,
    /// The value filter of a `valuePath`, selecting some values of a multi-valued attribute.
    pub filter: Option<Filter>,
    /// The sub-attribute after a value filter (`emails[type eq "work"].value`). Only set
    /// together with `filter`; without one, the sub-attribute is `attr.sub_attr`.
    pub sub_attr: Option<String>,
}

/// A PATCH path that could not be parsed. The kinds and positions are the filter
/// parser's, since a path is an attribute path plus an optional value filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[error("invalid PATCH path: {0}")]
pub struct PathError(pub FilterError);

impl PathError {
    /// What was wrong.
    pub fn kind(&self) -> FilterErrorKind {
        self.0.kind
    }

    /// The byte offset in the path where the problem was found.
    pub fn position(&self) -> usize {
        self.0.position
    }
}

impl From<PathError> for crate::ScimError {
    fn from(err: PathError) -> Self {
        crate::ScimError::invalid_path(err.to_string())
    }
}

/// Parses a PATCH path (RFC 7644 §3.5.2). Whitespace is allowed only around the path and
/// inside the value filter.
pub fn parse_patch_path(input: &str) -> Result<PatchPath, PathError> {
    parse(input).map_err(PathError)
}

fn parse(input: &str) -> Result<PatchPath, FilterError> {
    let mut parser = Parser::new(input)?;
    let end = input.len();
    let first = parser.lexer.next()?;
    let Some(Token {
        tok: Tok::Word(word),
        start,
        ..
    }) = first
    else {
        let at = first.map_or(end, |t| t.start);
        return Err(FilterError::new(
            FilterErrorKind::UnexpectedToken {
                expected: "an attribute path",
            },
            at,
        ));
    };
    let attr = parser::parse_attr_path(word, start)?;
    let mut path = PatchPath {
        attr,
        filter: None,
        sub_attr: None,
    };
    let Some(tok) = parser.lexer.next()? else {
        return Ok(path);
    };
    match tok.tok {
        Tok::LBracket if !tok.spaced => {
            if path.attr.sub_attr.is_some() {
                return Err(FilterError::new(
                    FilterErrorKind::SubAttrBeforeFilter,
                    tok.start,
                ));
            }
            let (filter, _) = parser.parse_value_filter(tok.start)?;
            path.filter = Some(filter);
        }
        _ => return Err(parser.trailing(&tok)),
    }
    let Some(tok) = parser.lexer.next()? else {
        return Ok(path);
    };
    // `].value`: the lexer reads `.value` as one word, which must touch the bracket.
    match tok.tok {
        Tok::Word(word) if !tok.spaced && word.starts_with('.') => {
            let name = word.get(1..).unwrap_or_default();
            if !parser::is_attr_name(name) {
                return Err(FilterError::new(
                    FilterErrorKind::InvalidAttrName,
                    tok.start + 1,
                ));
            }
            path.sub_attr = Some(name.to_owned());
        }
        _ => return Err(parser.trailing(&tok)),
    }
    match parser.lexer.next()? {
        None => Ok(path),
        Some(tok) => Err(parser.trailing(&tok)),
    }
}

impl std::str::FromStr for PatchPath {
    type Err = PathError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_patch_path(s)
    }
}

impl fmt::Display for PatchPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.attr)?;
        if let Some(filter) = &self.filter {
            write!(f, "[{filter}]")?;
        }
        if let Some(sub) = &self.sub_attr {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

impl serde::Serialize for PatchPath {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::ScimType;
    use crate::filter::CompareOp::*;
    use crate::filter::parser::test_support::*;

    fn path(attr: AttrPath, filter: Option<Filter>, sub_attr: Option<&str>) -> PatchPath {
        PatchPath {
            attr,
            filter,
            sub_attr: sub_attr.map(Into::into),
        }
    }

    #[test]
    fn the_rfc_7644_patch_paths_parse_to_the_expected_paths() {
        // Arrange: the paths of RFC 7644 §3.5.2's examples, plus the extension forms.
        let member = "2819c223-7f76-453a-919d-413861904646";
        let cases = vec![
            ("members", path(attr("members"), None, None)),
            (
                "name.familyName",
                path(sub("name", "familyName"), None, None),
            ),
            (
                r#"members[value eq "2819c223-7f76-453a-919d-413861904646"]"#,
                path(
                    attr("members"),
                    Some(cmp(attr("value"), Eq, s(member))),
                    None,
                ),
            ),
            (
                r#"members[value eq "2819c223-7f76-453a-919d-413861904646"].displayName"#,
                path(
                    attr("members"),
                    Some(cmp(attr("value"), Eq, s(member))),
                    Some("displayName"),
                ),
            ),
            (
                r#"emails[type eq "work" and value ew "example.com"]"#,
                path(
                    attr("emails"),
                    Some(and(
                        cmp(attr("type"), Eq, s("work")),
                        cmp(attr("value"), Ew, s("example.com")),
                    )),
                    None,
                ),
            ),
            (
                r#"emails[type eq "work"].value"#,
                path(
                    attr("emails"),
                    Some(cmp(attr("type"), Eq, s("work"))),
                    Some("value"),
                ),
            ),
            (
                r#"addresses[type eq "work"].streetAddress"#,
                path(
                    attr("addresses"),
                    Some(cmp(attr("type"), Eq, s("work"))),
                    Some("streetAddress"),
                ),
            ),
            (
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
                path(qualified(ENTERPRISE, "employeeNumber", None), None, None),
            ),
            (
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
                path(qualified(ENTERPRISE, "manager", Some("value")), None, None),
            ),
            (
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
                path(whole(ENTERPRISE), None, None),
            ),
            (
                "urn:ietf:params:scim:schemas:core:2.0:User:name.givenName",
                path(
                    qualified(crate::USER_SCHEMA, "name", Some("givenName")),
                    None,
                    None,
                ),
            ),
            ("members.$ref", path(sub("members", "$ref"), None, None)),
            (
                r#"members[ value EQ "x" ].$ref"#,
                path(
                    attr("members"),
                    Some(cmp(attr("value"), Eq, s("x"))),
                    Some("$ref"),
                ),
            ),
        ];
        for (input, expected) in cases {
            // Act
            let parsed = parse_patch_path(input);
            // Assert
            assert_eq!(parsed, Ok(expected), "{input}");
        }
    }

    #[test]
    fn a_bare_extension_urn_is_a_whole_schema_path() {
        let parsed = parse_patch_path(ENTERPRISE).unwrap();
        assert!(parsed.attr.is_whole_schema());
        assert_eq!(parsed.attr.urn.as_deref(), Some(ENTERPRISE));
        assert_eq!(parsed.to_string(), ENTERPRISE);
        assert!(
            !parse_patch_path("urn:acme:ext:v1:Thing:x")
                .unwrap()
                .attr
                .is_whole_schema()
        );
    }

    #[test]
    fn malformed_paths_fail_with_the_expected_kind_and_invalid_path() {
        use FilterErrorKind::*;
        let token = UnexpectedToken { expected: "" };
        let cases: Vec<(&str, FilterErrorKind, usize)> = vec![
            ("", Empty, 0),
            ("   ", Empty, 0),
            ("\"name\"", token, 0),
            ("[type eq \"work\"]", token, 0),
            ("1name", InvalidAttrName, 0),
            ("name.", InvalidAttrName, 5),
            ("name.given.family", InvalidAttrName, 5),
            ("name familyName", TrailingInput, 5),
            ("name .familyName", TrailingInput, 5),
            ("name)", UnbalancedParen, 4),
            ("emails[type eq \"work\"", UnbalancedBracket, 6),
            ("emails]", UnbalancedBracket, 6),
            ("emails[type eq \"work\"]value", TrailingInput, 22),
            ("emails[type eq \"work\"] .value", TrailingInput, 23),
            ("emails[type eq \"work\"].", InvalidAttrName, 23),
            ("emails[type eq \"work\"].value.x", InvalidAttrName, 23),
            ("emails[type eq \"work\"].value x", TrailingInput, 29),
            (
                "emails[type eq \"work\"][primary eq true]",
                TrailingInput,
                22,
            ),
            ("emails[emails[type pr]]", NestedValuePath, 13),
            ("name.givenName[value pr]", SubAttrBeforeFilter, 14),
            ("emails [type pr]", TrailingInput, 7),
            ("emails[type eq work]", InvalidValue, 15),
            ("emails[type equ \"w\"]", UnknownOperator, 12),
            ("emails[type eq \"w]", UnterminatedString, 15),
            ("emails[]", token, 7),
        ];
        for (input, kind, position) in cases {
            // Act
            let err = match parse_patch_path(input) {
                Ok(p) => panic!("{input:?} parsed as {p:?}"),
                Err(err) => err,
            };
            // Assert
            let same = std::mem::discriminant(&err.kind()) == std::mem::discriminant(&kind);
            assert!(same, "{input:?}: got {err:?}, want {kind:?}");
            assert_eq!(err.position(), position, "{input:?}: {err}");
            let scim = crate::ScimError::from(err);
            assert_eq!(
                (scim.status, scim.scim_type),
                (400, Some(ScimType::InvalidPath))
            );
        }
    }

    #[test]
    fn deep_nesting_in_a_path_is_an_error_not_a_stack_overflow() {
        let deep = format!(
            "emails[{}type pr{}]",
            "not (".repeat(5_000),
            ")".repeat(5_000)
        );
        assert_eq!(
            parse_patch_path(&deep).unwrap_err().kind(),
            FilterErrorKind::TooLong
        );
        let deep = format!("emails[{}type pr{}]", "(".repeat(1_000), ")".repeat(1_000));
        assert_eq!(
            parse_patch_path(&deep).unwrap_err().kind(),
            FilterErrorKind::TooDeep
        );
        let brackets = "a[".repeat(1_000);
        assert_eq!(
            parse_patch_path(&brackets).unwrap_err().kind(),
            FilterErrorKind::NestedValuePath
        );
    }

    #[test]
    fn paths_print_canonically_and_serialize_as_strings() {
        let parsed =
            parse_patch_path(r#"emails[TYPE Eq "work"  AND  not(primary eq true)].value"#).unwrap();
        assert_eq!(
            parsed.to_string(),
            r#"emails[TYPE eq "work" and not (primary eq true)].value"#
        );
        assert_eq!(
            serde_json::to_value(&parsed).unwrap(),
            serde_json::json!(r#"emails[TYPE eq "work" and not (primary eq true)].value"#)
        );
        assert_eq!(
            "name.familyName".parse::<PatchPath>(),
            parse_patch_path("name.familyName")
        );
    }

    /// Any path the parser can produce.
    fn arb_patch_path() -> impl Strategy<Value = PatchPath> {
        prop_oneof![
            arb_attr_path(true).prop_map(|attr| PatchPath {
                attr,
                filter: None,
                sub_attr: None
            }),
            (
                arb_attr_path(false),
                arb_value_filter(),
                prop::option::of(arb_name())
            )
                .prop_map(|(attr, filter, sub_attr)| PatchPath {
                    attr,
                    filter: Some(filter),
                    sub_attr
                }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1_000))]

        #[test]
        fn printing_any_path_and_parsing_it_back_gives_the_same_path(p in arb_patch_path()) {
            let text = p.to_string();
            prop_assert_eq!(parse_patch_path(&text), Ok(p), "{}", text);
        }

        #[test]
        fn arbitrary_strings_never_panic_the_path_parser(input in any::<String>()) {
            let _ = parse_patch_path(&input);
        }

        #[test]
        fn path_like_strings_never_panic_and_what_parses_round_trips(
            input in "[a-z$]{0,3}(:[a-z0-9.]{0,3}){0,3}(\\[[a-z \"()]{0,12}\\])?(\\.[a-z$]{0,3})?"
        ) {
            if let Ok(p) = parse_patch_path(&input) {
                prop_assert_eq!(parse_patch_path(&p.to_string()), Ok(p));
            }
        }
    }
}
