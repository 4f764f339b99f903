//! Evaluation of a typed template against a resource's JSON: total (any input gives a
//! value or "absent", never a panic) and bounded (no intermediate text grows past
//! [`MAX_VALUE_BYTES`]; what would is absent).
//!
//! Recursion follows the tree, whose depth the parser caps.

use std::borrow::Cow;

use serde_json::Value;

use super::{Expr, Group, Part, Template};
use crate::limits::MAX_VALUE_BYTES;
use crate::path::AttrRef;

/// A value during evaluation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Val<'a> {
    /// Missing, `null`, blank, or too long.
    Absent,
    /// Text.
    Text(Cow<'a, str>),
    /// A list of text.
    List(Vec<String>),
}

fn text<'a>(s: Cow<'a, str>) -> Val<'a> {
    if s.len() > MAX_VALUE_BYTES {
        Val::Absent
    } else {
        Val::Text(s)
    }
}

/// Whether a string is blank: empty or only whitespace.
pub(crate) fn is_blank(s: &str) -> bool {
    s.trim().is_empty()
}

impl Template {
    /// The template's value for `resource`: `None` when it is absent or blank, so that
    /// the action writes nothing.
    pub(crate) fn render<'a>(&'a self, resource: &'a Value) -> Option<Cow<'a, str>> {
        render_parts(&self.parts, resource).filter(|s| !is_blank(s))
    }
}

/// The text of a resource's attribute, as templates see it: a string that is not blank
/// (and not longer than [`MAX_VALUE_BYTES`]), or a number or boolean written as JSON.
pub(crate) fn read_text<'a>(path: &AttrRef, resource: &'a Value) -> Option<Cow<'a, str>> {
    match path.read(resource)? {
        Value::String(s) if !is_blank(s) && s.len() <= MAX_VALUE_BYTES => Some(Cow::Borrowed(s)),
        Value::Number(n) => Some(Cow::Owned(n.to_string())),
        Value::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
        _ => None,
    }
}

fn render_parts<'a>(parts: &'a [Part], resource: &'a Value) -> Option<Cow<'a, str>> {
    // The common `{attribute}` and `{f(attribute)}` allocate nothing more.
    if let [Part::Expr(expr)] = parts {
        return match eval(expr, resource) {
            Val::Text(s) => Some(s),
            _ => None,
        };
    }
    let mut out = String::new();
    for part in parts {
        match part {
            Part::Lit(s) => out.push_str(s),
            Part::Expr(expr) => match eval(expr, resource) {
                Val::Text(s) => out.push_str(&s),
                _ => return None,
            },
        }
        if out.len() > MAX_VALUE_BYTES {
            return None;
        }
    }
    Some(Cow::Owned(out))
}

/// Evaluates `expr` against `resource`.
pub(crate) fn eval<'a>(expr: &'a Expr, resource: &'a Value) -> Val<'a> {
    match expr {
        Expr::Attr(path) => read_text(path, resource).map_or(Val::Absent, Val::Text),
        Expr::Lit(s) => Val::Text(Cow::Borrowed(s)),
        Expr::Concat(args) => {
            let mut out = String::new();
            for arg in args {
                match eval(arg, resource) {
                    Val::Text(s) => out.push_str(&s),
                    _ => return Val::Absent,
                }
                if out.len() > MAX_VALUE_BYTES {
                    return Val::Absent;
                }
            }
            Val::Text(Cow::Owned(out))
        }
        Expr::Lower(e) => map_text(eval(e, resource), |s| s.to_lowercase()),
        Expr::Upper(e) => map_text(eval(e, resource), |s| s.to_uppercase()),
        Expr::Trim(e) => match eval(e, resource) {
            Val::Text(Cow::Borrowed(s)) => Val::Text(Cow::Borrowed(s.trim())),
            Val::Text(Cow::Owned(s)) => Val::Text(Cow::Owned(s.trim().to_owned())),
            _ => Val::Absent,
        },
        Expr::Replace(args) => {
            let [input, from, to] = args.as_ref();
            let Val::Text(s) = eval(input, resource) else {
                return Val::Absent;
            };
            let from = match eval(from, resource) {
                Val::Text(f) if !f.is_empty() => f,
                _ => return Val::Text(s),
            };
            let to = match eval(to, resource) {
                Val::Text(t) => t,
                _ => Cow::Borrowed(""),
            };
            let count = s.matches(from.as_ref()).count();
            if count == 0 {
                return Val::Text(s);
            }
            let grown =
                (s.len() - count * from.len()).saturating_add(count.saturating_mul(to.len()));
            if grown > MAX_VALUE_BYTES {
                return Val::Absent;
            }
            Val::Text(Cow::Owned(s.replace(from.as_ref(), &to)))
        }
        Expr::Capture {
            input,
            pattern,
            group,
        } => {
            let Val::Text(s) = eval(input, resource) else {
                return Val::Absent;
            };
            let Some(captures) = pattern.captures(&s) else {
                return Val::Absent;
            };
            let found = match group {
                Group::Index(i) => captures.get(*i),
                Group::Name(name) => captures.name(name),
            };
            found.map_or(Val::Absent, |m| {
                Val::Text(Cow::Owned(m.as_str().to_owned()))
            })
        }
        Expr::Split { input, sep, index } => {
            let Val::Text(s) = eval(input, resource) else {
                return Val::Absent;
            };
            let sep = match eval(sep, resource) {
                Val::Text(sep) if !sep.is_empty() => sep,
                _ => Cow::Borrowed(""),
            };
            match index {
                None => Val::List(pieces(&s, &sep).map(str::to_owned).collect()),
                Some(i) => {
                    let picked = match usize::try_from(*i) {
                        Ok(i) => pieces(&s, &sep).nth(i),
                        Err(_) => {
                            let from_end = usize::try_from(i.unsigned_abs()).unwrap_or(usize::MAX);
                            let all: Vec<&str> = pieces(&s, &sep).collect();
                            all.len()
                                .checked_sub(from_end)
                                .and_then(|i| all.get(i).copied())
                        }
                    };
                    picked.map_or(Val::Absent, |p| Val::Text(Cow::Owned(p.to_owned())))
                }
            }
        }
        Expr::Join { list, sep } => {
            let Val::List(items) = eval(list, resource) else {
                return Val::Absent;
            };
            let sep = match eval(sep, resource) {
                Val::Text(sep) => sep,
                _ => Cow::Borrowed(""),
            };
            let total: usize = items.iter().map(String::len).sum::<usize>()
                + sep.len().saturating_mul(items.len().saturating_sub(1));
            if total > MAX_VALUE_BYTES {
                return Val::Absent;
            }
            Val::Text(Cow::Owned(items.join(&sep)))
        }
        Expr::Coalesce(args) => {
            for arg in args {
                match eval(arg, resource) {
                    Val::Text(s) if !is_blank(&s) => return Val::Text(s),
                    Val::List(items) if !items.is_empty() => return Val::List(items),
                    _ => {}
                }
            }
            Val::Absent
        }
        Expr::Substring {
            input,
            start,
            length,
        } => {
            let Val::Text(s) = eval(input, resource) else {
                return Val::Absent;
            };
            let count = s.chars().count();
            let first = match usize::try_from(*start) {
                Ok(n) => n,
                Err(_) => count
                    .saturating_sub(usize::try_from(start.unsigned_abs()).unwrap_or(usize::MAX)),
            };
            let take = length.map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(usize::MAX));
            Val::Text(Cow::Owned(s.chars().skip(first).take(take).collect()))
        }
    }
}

fn pieces<'s>(s: &'s str, sep: &'s str) -> Box<dyn Iterator<Item = &'s str> + 's> {
    if sep.is_empty() {
        Box::new(std::iter::once(s))
    } else {
        Box::new(s.split(sep))
    }
}

fn map_text<'a>(value: Val<'a>, f: impl FnOnce(&str) -> String) -> Val<'a> {
    match value {
        Val::Text(s) => text(Cow::Owned(f(&s))),
        _ => Val::Absent,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use scim_core::ResourceKind;
    use serde_json::{Value, json};

    use crate::expr::parser::parse_template;

    fn user() -> Value {
        json!({
            "schemas": [scim_core::USER_SCHEMA, scim_core::ENTERPRISE_USER_SCHEMA],
            "userName": "Barbara.Jensen@Example.COM",
            "name": {"givenName": "Barbara", "familyName": "Jensen", "middleName": "  "},
            "displayName": "Babs Jensen",
            "title": "  Tour Guide  ",
            "emails": [{"value": "bjensen@example.com", "primary": true}],
            "phoneNumbers": [{"value": "+1 555 0100"}],
            "active": true,
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
                "employeeNumber": "E-000701",
                "department": "Sales/EMEA/North"
            },
            "urn:okta:custom:1.0:User": {"costCode": "CC-4242"}
        })
    }

    fn render(template: &str) -> Option<String> {
        let parsed = parse_template(template, ResourceKind::User)
            .unwrap_or_else(|e| panic!("{template}: {e:?}"));
        parsed.render(&user()).map(|s| s.into_owned())
    }

    #[test]
    fn every_function_evaluates_as_documented() {
        // Arrange: (template, expected value; None is absent).
        let cases: Vec<(&str, Option<&str>)> = vec![
            ("plain text", Some("plain text")),
            ("{{literal}} braces", Some("{literal} braces")),
            ("{name.givenName} {name.familyName}", Some("Barbara Jensen")),
            ("{userName}", Some("Barbara.Jensen@Example.COM")),
            ("{lower(userName)}", Some("barbara.jensen@example.com")),
            ("{upper(name.familyName)}", Some("JENSEN")),
            ("[{trim(title)}]", Some("[Tour Guide]")),
            (
                r#"{replace(userName, "@Example.COM", "@corp.example")}"#,
                Some("Barbara.Jensen@corp.example"),
            ),
            (r#"{replace(title, " ", "")}"#, Some("TourGuide")),
            (
                r#"{replace(userName, "", "x")}"#,
                Some("Barbara.Jensen@Example.COM"),
            ),
            (
                r#"{capture(userName, "^([^@]+)@", 1)}"#,
                Some("Barbara.Jensen"),
            ),
            (
                r#"{capture(userName, "@(?P<domain>.+)$", "domain")}"#,
                Some("Example.COM"),
            ),
            (r#"{capture(userName, "^\d+", 0)}"#, None),
            (
                r#"{split(urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department, "/", 1)}"#,
                Some("EMEA"),
            ),
            (
                r#"{split(urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department, "/", -1)}"#,
                Some("North"),
            ),
            (
                r#"{split(urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department, "/", 5)}"#,
                None,
            ),
            (
                r#"{join(split(urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department, "/"), " > ")}"#,
                Some("Sales > EMEA > North"),
            ),
            (
                r#"{coalesce(nickName, name.middleName, name.givenName)}"#,
                Some("Barbara"),
            ),
            (
                r#"{coalesce(nickName, concat(name.givenName, "-", name.familyName))}"#,
                Some("Barbara-Jensen"),
            ),
            (
                r#"{concat(name.givenName, "{x}", name.familyName)}"#,
                Some("Barbara{x}Jensen"),
            ),
            (r#"{concat(name.givenName, nickName)}"#, None),
            (r#"{coalesce(nickName, title)}"#, Some("  Tour Guide  ")),
            (r#"{coalesce(nickName, locale)}"#, None),
            ("{substring(name.givenName, 0, 3)}", Some("Bar")),
            ("{substring(name.givenName, 4)}", Some("ara")),
            ("{substring(name.givenName, -3, 2)}", Some("ar")),
            ("{substring(name.givenName, 40, 2)}", None),
            (
                "{substring(urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber, 2)}",
                Some("000701"),
            ),
            ("{urn:okta:custom:1.0:User:costCode}", Some("CC-4242")),
            ("{emails.value}", Some("bjensen@example.com")),
            ("{phoneNumbers.value}", Some("+1 555 0100")),
            ("{active}", Some("true")),
            ("{name.givenName} {nickName}", None),
            ("{name.middleName}", None),
            (
                r#"{lower(concat(name.givenName, ".", name.familyName))}@example.com"#,
                Some("barbara.jensen@example.com"),
            ),
            (
                r#"{concat("say \"hi\" \\ \d ", name.givenName)}"#,
                Some(r#"say "hi" \ \d Barbara"#),
            ),
            (r#"{capture(userName, "^(\w{3})", 1)}"#, Some("Bar")),
            ("   ", None),
        ];
        for (template, expected) in cases {
            // Act
            let value = render(template);

            // Assert
            assert_eq!(value.as_deref(), expected, "{template}");
        }
    }

    #[test]
    fn values_that_would_grow_past_the_limit_are_absent_rather_than_huge() {
        let big = "x".repeat(300);
        let template = format!(
            r#"{{replace(replace(replace(userName, "a", "{big}"), "x", "{big}"), "x", "{big}")}}"#
        );
        assert_eq!(render(&template), None);
        let long = json!({"userName": "y".repeat(crate::limits::MAX_VALUE_BYTES + 1)});
        let parsed = parse_template("{userName}", ResourceKind::User).unwrap();
        assert_eq!(parsed.render(&long), None);
    }

    #[test]
    fn a_resource_that_is_not_an_object_renders_every_reference_absent() {
        let parsed = parse_template("x{userName}", ResourceKind::User).unwrap();
        for resource in [
            json!(null),
            json!([1, 2]),
            json!("text"),
            json!({"userName": {"a": 1}}),
        ] {
            assert_eq!(parsed.render(&resource), None);
        }
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            ".{0,12}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::vec(
                    (
                        prop::sample::select(vec![
                            "userName",
                            "username",
                            "name",
                            "givenName",
                            "familyName",
                            "emails",
                            "value",
                            "primary",
                            "title",
                            "displayName",
                        ]),
                        inner
                    ),
                    0..4
                )
                .prop_map(|kv| Value::Object(
                    kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
                )),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1_000))]

        #[test]
        fn rendering_any_template_over_any_resource_never_panics(
            resource in arb_json(),
            template in prop::sample::select(vec![
                "{userName}",
                "{name.givenName} {name.familyName}",
                "{lower(trim(userName))}",
                r#"{replace(title, "a", "bb")}"#,
                r#"{capture(emails.value, "^(.*)@", 1)}"#,
                r#"{join(split(displayName, " "), "-")}"#,
                r#"{split(displayName, " ", -2)}"#,
                r#"{coalesce(displayName, concat(name.givenName, "-", emails.value), userName)}"#,
                "{substring(userName, -2, 5)}",
                "{upper(emails.value)}",
            ]),
        ) {
            let parsed = parse_template(template, ResourceKind::User).unwrap();
            let _ = parsed.render(&resource);
        }

        #[test]
        fn rendering_never_panics_on_any_user_name(name in any::<String>()) {
            let resource = json!({"userName": name, "displayName": name});
            for template in [
                "{substring(userName, 1, 3)}-{substring(userName, -1)}",
                r#"{split(userName, "", 0)}{capture(userName, "(\w+)", 1)}"#,
                "{upper(lower(userName))}",
            ] {
                let parsed = parse_template(template, ResourceKind::User).unwrap();
                let _ = parsed.render(&resource);
            }
        }
    }
}
