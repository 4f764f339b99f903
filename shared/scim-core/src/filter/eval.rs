//! Evaluation of a parsed filter against a resource's JSON (RFC 7644 §3.4.2.2), as the
//! Identity Center emulator and the gateway's own look-ups need it.
//!
//! The rules, where the RFC leaves room:
//! - Attribute names match case-insensitively (RFC 7643 §2.1); an exact match wins.
//! - A URN-qualified path looks inside the extension object keyed by that URN; the core
//!   User or Group URN addresses the top level when the resource's `schemas` lists it (or
//!   it has no `schemas`).
//! - Unassigned, `null` and `[]` are one state (RFC 7643 §2.5): `eq null` matches them,
//!   `ne null` matches anything else, `ne "x"` matches them, and every other comparison
//!   with them is false.
//! - A multi-valued attribute matches when any of its values matches, for every
//!   operator, `ne` included. A comparison on a complex multi-valued attribute without a
//!   sub-attribute (`emails co "x"`) compares each value's `value` sub-attribute.
//! - Strings compare per `caseExact` (see [`traits`]); ordering is by code point after
//!   lower-casing where case is ignored. `gt`/`ge`/`lt`/`le` on numbers are numeric. On the
//!   DateTime attributes `meta.created` and `meta.lastModified`, `eq`/`ne`/ordering compare
//!   instants when both sides parse as RFC 3339 date-times (any offset), and fall back to
//!   case-exact string comparison otherwise.
//! - Booleans support only `eq` and `ne`. A value of another type than the comparison
//!   value is "not equal": only `ne` matches it.
//! - `pr` matches a value that is not null, not `""`, not `[]`, and for a complex value has
//!   at least one such member.
//!
//! The walk uses an explicit stack, not recursion, so hand-built deep trees cannot
//! overflow it.

use std::borrow::Cow;
use std::cmp::Ordering;

use serde_json::{Number, Value};

use super::{AttrPath, CompValue, CompareOp, Filter};

/// Whether `resource` (a SCIM resource as JSON) matches `filter`.
pub fn matches(filter: &Filter, resource: &Value) -> bool {
    let mut work = vec![Step::Eval(
        filter,
        Scope {
            object: resource,
            parent: None,
        },
    )];
    let mut results: Vec<bool> = Vec::new();
    while let Some(step) = work.pop() {
        match step {
            Step::Eval(node, scope) => match node {
                Filter::Compare { path, op, value } => {
                    results.push(eval_compare(scope, path, *op, value));
                }
                Filter::Present(path) => {
                    let (values, _) = resolve(scope, path, false);
                    results.push(values.iter().any(|v| is_present(v)));
                }
                Filter::And(left, right) => {
                    work.push(Step::AndThen(right, scope));
                    work.push(Step::Eval(left, scope));
                }
                Filter::Or(left, right) => {
                    work.push(Step::OrElse(right, scope));
                    work.push(Step::Eval(left, scope));
                }
                Filter::Not(inner) => {
                    work.push(Step::Negate);
                    work.push(Step::Eval(inner, scope));
                }
                Filter::ValuePath { attr, filter } => {
                    let (items, _) = resolve(scope, attr, false);
                    match items.first() {
                        None => results.push(false),
                        Some(&first) => {
                            let parent = Some(attr.name.as_str());
                            work.push(Step::AnyOf {
                                filter,
                                parent,
                                items,
                                next: 1,
                            });
                            work.push(Step::Eval(
                                filter,
                                Scope {
                                    object: first,
                                    parent,
                                },
                            ));
                        }
                    }
                }
            },
            // Short-circuit: the right operand is only queued when it can change the result.
            Step::AndThen(right, scope) => {
                if results.pop().unwrap_or(false) {
                    work.push(Step::Eval(right, scope));
                } else {
                    results.push(false);
                }
            }
            Step::OrElse(right, scope) => {
                if results.pop().unwrap_or(false) {
                    results.push(true);
                } else {
                    work.push(Step::Eval(right, scope));
                }
            }
            Step::Negate => {
                let inner = results.pop().unwrap_or(false);
                results.push(!inner);
            }
            Step::AnyOf {
                filter,
                parent,
                items,
                next,
            } => {
                let matched = results.pop().unwrap_or(false);
                match items.get(next) {
                    Some(&item) if !matched => {
                        work.push(Step::AnyOf {
                            filter,
                            parent,
                            items,
                            next: next + 1,
                        });
                        work.push(Step::Eval(
                            filter,
                            Scope {
                                object: item,
                                parent,
                            },
                        ));
                    }
                    _ => results.push(matched),
                }
            }
        }
    }
    results.pop().unwrap_or(false)
}

/// Where attribute paths are resolved: the resource, or one value of a value path's
/// attribute (whose name is kept for [`traits`]).
#[derive(Clone, Copy)]
struct Scope<'f, 'v> {
    object: &'v Value,
    parent: Option<&'f str>,
}

enum Step<'f, 'v> {
    Eval(&'f Filter, Scope<'f, 'v>),
    /// After the left operand of `and`: evaluate the right one if the left matched.
    AndThen(&'f Filter, Scope<'f, 'v>),
    /// After the left operand of `or`: evaluate the right one if the left did not match.
    OrElse(&'f Filter, Scope<'f, 'v>),
    Negate,
    /// After a value path's filter ran on `items[next - 1]`: stop on a match, else go on.
    AnyOf {
        filter: &'f Filter,
        parent: Option<&'f str>,
        items: Vec<&'v Value>,
        next: usize,
    },
}

/// How an attribute's string values compare. RFC 7643 fixes these per attribute; this
/// function holds the part of that knowledge the gateway's resources need.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Traits {
    pub(crate) case_exact: bool,
    pub(crate) date_time: bool,
}

/// The traits of the attribute at `parent.name.sub` (any part may be missing).
///
/// caseExact (everything else is case-insensitive, the RFC 7643 §2.2 default):
/// - `id` and `externalId`: RFC 7643 §3.1.
/// - `meta.resourceType`, `meta.location`, `meta.version`: RFC 7643 §3.1.
/// - any `$ref`: a reference is case exact (RFC 7643 §2.3.7; errata 6001).
/// - `members.value` and `groups.value`: these carry a resource `id`, which is caseExact.
///   RFC 7643 §8.7.1's schema listing says `caseExact: false` for them; an id compared
///   case-insensitively could select the wrong member, so the id's rule wins.
///
/// DateTime (RFC 7643 §3.1): `meta.created` and `meta.lastModified`.
pub(crate) fn traits(parent: Option<&str>, name: &str, sub: Option<&str>) -> Traits {
    let parts: Vec<&str> = parent.into_iter().chain(Some(name)).chain(sub).collect();
    let (owner, leaf) = match parts.as_slice() {
        [.., owner, leaf] => (Some(*owner), *leaf),
        [leaf] => (None, *leaf),
        [] => return Traits::default(),
    };
    let is = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
    let is_any = |a: &str, names: &[&str]| names.iter().any(|n| is(a, n));
    let case_exact = leaf == "$ref"
        || (owner.is_none() && is_any(leaf, &["id", "externalId"]))
        || owner.is_some_and(|o| is(o, "meta"))
            && is_any(leaf, &["resourceType", "location", "version"])
        || owner.is_some_and(|o| is_any(o, &["members", "groups"])) && is(leaf, "value");
    let date_time =
        owner.is_some_and(|o| is(o, "meta")) && is_any(leaf, &["created", "lastModified"]);
    Traits {
        case_exact,
        date_time,
    }
}

/// The member of `object` named `key`: an exact match if there is one, else the first
/// case-insensitive one.
fn member<'v>(object: &'v Value, key: &str) -> Option<&'v Value> {
    let map = object.as_object()?;
    map.get(key).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// `v` as a list of values: nothing for null, the non-null elements of an array, else `v`.
fn flatten(v: &Value) -> impl Iterator<Item = &Value> {
    let items: &[Value] = match v {
        Value::Array(items) => items,
        other => std::slice::from_ref(other),
    };
    items.iter().filter(|v| !v.is_null())
}

/// The object a URN-qualified path starts from (see the module docs).
fn schema_base<'v>(object: &'v Value, urn: Option<&str>) -> Option<&'v Value> {
    let Some(urn) = urn else {
        return Some(object);
    };
    if let Some(ext) = member(object, urn).filter(|v| v.is_object()) {
        return Some(ext);
    }
    let is_core = [crate::USER_SCHEMA, crate::GROUP_SCHEMA]
        .iter()
        .any(|s| s.eq_ignore_ascii_case(urn));
    let listed = match member(object, "schemas") {
        Some(Value::Array(schemas)) => schemas
            .iter()
            .any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(urn))),
        _ => true,
    };
    (is_core && listed).then_some(object)
}

/// The values `path` selects in `scope`, flattened one level, and whether they are the
/// `value` sub-attributes of a complex multi-valued attribute (`substitute` asks for that).
fn resolve<'v>(scope: Scope<'_, 'v>, path: &AttrPath, substitute: bool) -> (Vec<&'v Value>, bool) {
    let mut out = Vec::new();
    let Some(base) = schema_base(scope.object, path.urn.as_deref()) else {
        return (out, false);
    };
    if path.name.is_empty() {
        out.push(base);
        return (out, false);
    }
    let Some(value) = member(base, &path.name) else {
        return (out, false);
    };
    let mut substituted = false;
    match &path.sub_attr {
        Some(sub) => {
            for item in flatten(value) {
                out.extend(member(item, sub).into_iter().flat_map(flatten));
            }
        }
        None if substitute && value.is_array() => {
            for item in flatten(value) {
                if item.is_object() {
                    substituted = true;
                    out.extend(member(item, "value").into_iter().flat_map(flatten));
                } else {
                    out.push(item);
                }
            }
        }
        None => out.extend(flatten(value)),
    }
    (out, substituted)
}

fn eval_compare(
    scope: Scope<'_, '_>,
    path: &AttrPath,
    op: CompareOp,
    expected: &CompValue,
) -> bool {
    let (values, substituted) = resolve(scope, path, true);
    let sub = if substituted {
        Some("value")
    } else {
        path.sub_attr.as_deref()
    };
    let traits = traits(scope.parent, &path.name, sub);
    if values.is_empty() {
        return compare(op, None, expected, traits);
    }
    values
        .into_iter()
        .any(|v| compare(op, Some(v), expected, traits))
}

fn compare(op: CompareOp, actual: Option<&Value>, expected: &CompValue, traits: Traits) -> bool {
    match (expected, actual) {
        (CompValue::Null, None | Some(Value::Null)) => op == CompareOp::Eq,
        (CompValue::Null, Some(_)) | (_, None | Some(Value::Null)) => op == CompareOp::Ne,
        (CompValue::Bool(e), Some(Value::Bool(a))) => match op {
            CompareOp::Eq => a == e,
            CompareOp::Ne => a != e,
            _ => false,
        },
        (CompValue::Number(e), Some(Value::Number(a))) => ordering_matches(op, cmp_numbers(a, e)),
        (CompValue::String(e), Some(Value::String(a))) => compare_strings(op, a, e, traits),
        _ => op == CompareOp::Ne,
    }
}

/// Whether `actual.cmp(expected) == ord` satisfies an ordering operator; the substring
/// operators never match here (they only apply to strings).
fn ordering_matches(op: CompareOp, ord: Option<Ordering>) -> bool {
    use Ordering::{Equal, Greater, Less};
    match op {
        CompareOp::Eq => ord == Some(Equal),
        CompareOp::Ne => ord != Some(Equal),
        CompareOp::Gt => ord == Some(Greater),
        CompareOp::Ge => matches!(ord, Some(Greater | Equal)),
        CompareOp::Lt => ord == Some(Less),
        CompareOp::Le => matches!(ord, Some(Less | Equal)),
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}

fn cmp_numbers(a: &Number, b: &Number) -> Option<Ordering> {
    match (a.as_i64(), b.as_i64(), a.as_u64(), b.as_u64()) {
        (Some(x), Some(y), _, _) => Some(x.cmp(&y)),
        (_, _, Some(x), Some(y)) => Some(x.cmp(&y)),
        // One side fits only u64 (> i64::MAX) and the other only i64 (negative).
        (Some(_), None, _, Some(_)) => Some(Ordering::Less),
        (None, Some(_), Some(_), _) => Some(Ordering::Greater),
        _ => a.as_f64()?.partial_cmp(&b.as_f64()?),
    }
}

fn compare_strings(op: CompareOp, actual: &str, expected: &str, traits: Traits) -> bool {
    let ordering_op = !matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew);
    if traits.date_time
        && ordering_op
        && let (Some(a), Some(e)) = (parse_date_time(actual), parse_date_time(expected))
    {
        return ordering_matches(op, Some(a.cmp(&e)));
    }
    let fold = |s: &str| -> String { s.to_lowercase() };
    let (a, e): (Cow<'_, str>, Cow<'_, str>) = if traits.case_exact || traits.date_time {
        (Cow::Borrowed(actual), Cow::Borrowed(expected))
    } else {
        (Cow::Owned(fold(actual)), Cow::Owned(fold(expected)))
    };
    match op {
        CompareOp::Co => a.contains(&*e),
        CompareOp::Sw => a.starts_with(&*e),
        CompareOp::Ew => a.ends_with(&*e),
        _ => ordering_matches(op, Some(a.cmp(&e))),
    }
}

/// Whether a (flattened) value counts as present for `pr`.
fn is_present(v: &Value) -> bool {
    // One level into complex values is enough to tell "has content" from `{}` or
    // `{"value": null}`, without recursing into arbitrarily deep JSON.
    let shallow = |v: &Value| match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(m) => !m.is_empty(),
        Value::Bool(_) | Value::Number(_) => true,
    };
    match v {
        Value::Array(items) => items.iter().any(shallow),
        Value::Object(members) => members.values().any(shallow),
        other => shallow(other),
    }
}

/// An RFC 3339 date-time as (seconds since the Unix epoch, nanoseconds), or `None` when
/// `s` is not one. Accepts any offset and a fraction of any length (beyond nanoseconds
/// it is truncated); a leap second (`:60`) counts as the next second's start.
fn parse_date_time(s: &str) -> Option<(i64, u32)> {
    let b = s.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let digits = b.get(from..from + len)?;
        digits.iter().try_fold(0i64, |acc, d| {
            d.is_ascii_digit().then(|| acc * 10 + i64::from(d - b'0'))
        })
    };
    let is = |at: usize, set: &[u8]| b.get(at).is_some_and(|c| set.contains(c));
    let (year, month, day) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    let (hour, minute, second) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    let separators_ok = is(4, b"-") && is(7, b"-") && is(10, b"Tt") && is(13, b":") && is(16, b":");
    if !separators_ok {
        return None;
    }
    let mut i = 19;
    let mut nanos = 0u32;
    if is(i, b".") {
        i += 1;
        let from = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == from {
            return None;
        }
        for k in 0..9 {
            let digit = b
                .get(from + k)
                .filter(|_| from + k < i)
                .map_or(0, |d| u32::from(d - b'0'));
            nanos = nanos * 10 + digit;
        }
    }
    let offset = match b.get(i) {
        Some(b'Z' | b'z') => {
            i += 1;
            0
        }
        Some(&sign @ (b'+' | b'-')) => {
            let (oh, om) = (num(i + 1, 2)?, num(i + 4, 2)?);
            if !is(i + 3, b":") || oh > 23 || om > 59 {
                return None;
            }
            i += 6;
            let magnitude = (oh * 60 + om) * 60;
            if sign == b'-' { -magnitude } else { magnitude }
        }
        _ => return None,
    };
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_len = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    let valid = i == b.len()
        && (1..=12).contains(&month)
        && (1..=month_len).contains(&day)
        && hour <= 23
        && minute <= 59
        && second <= 60;
    if !valid {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some((
        days * 86_400 + hour * 3_600 + minute * 60 + second - offset,
        nanos,
    ))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (the well-known era-based
/// computation: 400-year eras of 146 097 days, years starting in March).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::filter::parse_filter;

    /// RFC 7643 §8.2's enterprise user, trimmed, plus a few attributes for the edge cases.
    fn bjensen() -> Value {
        json!({
            "schemas": [crate::USER_SCHEMA, crate::ENTERPRISE_USER_SCHEMA],
            "id": "2819c223-7f76-453a-919d-413861904646",
            "externalId": "701984",
            "userName": "bjensen@example.com",
            "name": {"familyName": "Jensen", "givenName": "Barbara"},
            "displayName": "Babs Jensen",
            "nickName": "",
            "title": "Tour Guide",
            "userType": "Employee",
            "preferredLanguage": null,
            "active": true,
            "loginCount": 42,
            "score": 2.5,
            "emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"value": "babs@jensen.org", "type": "home"}
            ],
            "ims": [{"value": "someaimhandle", "type": "aim"}],
            "groups": [],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
                "employeeNumber": "701984",
                "costCenter": "4130",
                "manager": {
                    "value": "26118915-6090-4610-87e4-49d8ca9f808d",
                    "$ref": "../Users/26118915-6090-4610-87e4-49d8ca9f808d",
                    "displayName": "John Smith"
                }
            },
            "meta": {
                "resourceType": "User",
                "created": "2010-01-23T04:56:22Z",
                "lastModified": "2011-05-13T04:42:34Z",
                "version": "W/\"3694e05e9dff591\"",
                "location": "https://example.com/v2/Users/2819c223-7f76-453a-919d-413861904646"
            }
        })
    }

    fn tour_guides() -> Value {
        json!({
            "schemas": [crate::GROUP_SCHEMA],
            "id": "e9e30dba-f08f-4109-8486-d5c6a331660a",
            "displayName": "Tour Guides",
            "members": [
                {"value": "2819c223-7f76-453a-919d-413861904646", "display": "Babs Jensen"},
                {"value": "902c246b-6245-4190-8e05-00816be7344a", "display": "Mandy Pepperidge"}
            ]
        })
    }

    /// Asserts each filter's outcome against `resource`.
    fn check(resource: &Value, cases: &[(&str, bool)]) {
        for (filter, expected) in cases {
            let parsed = parse_filter(filter).unwrap_or_else(|e| panic!("{filter}: {e}"));
            assert_eq!(matches(&parsed, resource), *expected, "{filter}");
        }
    }

    #[test]
    fn the_rfc_examples_evaluate_as_a_reader_would_expect() {
        check(
            &bjensen(),
            &[
                (r#"userName Eq "bjensen@example.com""#, true),
                ("title pr", true),
                (r#"name.familyName co "ens""#, true),
                (r#"userName sw "BJ""#, true),
                (
                    r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "bj""#,
                    true,
                ),
                (r#"meta.lastModified gt "2011-05-13T04:42:33Z""#, true),
                (r#"title pr and userType eq "Employee""#, true),
                (r#"title pr or userType eq "Intern""#, true),
                (
                    r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#,
                    true,
                ),
                (
                    r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
                    true,
                ),
                (
                    r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
                    false,
                ),
                (
                    r#"userType eq "Employee" and (emails.type eq "work")"#,
                    true,
                ),
                (
                    r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
                    true,
                ),
                (
                    r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
                    true,
                ),
            ],
        );
    }

    #[test]
    fn names_and_case_insensitive_values_ignore_case() {
        check(
            &bjensen(),
            &[
                (r#"USERNAME eq "BJENSEN@EXAMPLE.COM""#, true),
                (r#"Name.FamilyName eq "jensen""#, true),
                (r#"title ew "GUIDE""#, true),
                (r#"displayName gt "BABS""#, true),
                (r#"displayName lt "babs""#, false),
            ],
        );
    }

    #[test]
    fn case_exact_attributes_compare_exactly() {
        check(
            &bjensen(),
            &[
                (r#"id eq "2819c223-7f76-453a-919d-413861904646""#, true),
                (r#"id eq "2819C223-7F76-453A-919D-413861904646""#, false),
                (r#"externalId eq "701984""#, true),
                (r#"meta.version eq "w/\"3694e05e9dff591\"""#, false),
                (r#"meta.version eq "W/\"3694e05e9dff591\"""#, true),
                (r#"meta.location sw "HTTPS://""#, false),
                (r#"meta.resourceType eq "user""#, false),
                (
                    r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.$ref ew "49D8CA9F808D""#,
                    false,
                ),
                // manager.value is caseExact false in RFC 7643 §4.3's schema.
                (
                    r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "26118915-6090-4610-87E4-49D8CA9F808D""#,
                    true,
                ),
            ],
        );
        check(
            &tour_guides(),
            &[
                (
                    r#"members[value eq "2819c223-7f76-453a-919d-413861904646"]"#,
                    true,
                ),
                (
                    r#"members[value eq "2819C223-7F76-453A-919D-413861904646"]"#,
                    false,
                ),
                (
                    r#"members.value eq "2819C223-7F76-453A-919D-413861904646""#,
                    false,
                ),
                (r#"members eq "902c246b-6245-4190-8e05-00816be7344a""#, true),
                (
                    r#"members eq "902C246B-6245-4190-8E05-00816BE7344A""#,
                    false,
                ),
                (r#"members.display eq "MANDY PEPPERIDGE""#, true),
            ],
        );
    }

    #[test]
    fn the_case_exact_rules_live_in_one_function() {
        let exact = |parent, name, sub| traits(parent, name, sub).case_exact;
        assert!(exact(None, "ID", None));
        assert!(!exact(Some("emails"), "id", None));
        assert!(exact(Some("members"), "value", None));
        assert!(exact(None, "groups", Some("value")));
        assert!(exact(Some("manager"), "$ref", None));
        assert!(!exact(None, "userName", None));
        assert!(traits(None, "META", Some("LASTMODIFIED")).date_time);
        assert!(!traits(None, "lastModified", None).date_time);
    }

    #[test]
    fn multi_valued_attributes_match_when_any_value_matches() {
        check(
            &bjensen(),
            &[
                (r#"emails.type eq "home""#, true),
                (r#"emails co "jensen.org""#, true),
                (r#"emails sw "babs@""#, true),
                // A value path binds its conditions to one value; dotted paths do not.
                (
                    r#"emails[type eq "home" and value co "example.com"]"#,
                    false,
                ),
                (
                    r#"emails.type eq "home" and emails.value co "example.com""#,
                    true,
                ),
                // `ne` is "any value differs", as the RFC words it.
                (r#"emails.type ne "work""#, true),
                (r#"ims.type ne "aim""#, false),
                (r#"emails[primary eq true]"#, true),
                (r#"emails[not (primary eq true)]"#, true),
                (r#"ims[not (type eq "aim")]"#, false),
                (r#"groups[value pr]"#, false),
                (r#"missing[value pr]"#, false),
            ],
        );
    }

    #[test]
    fn urn_qualified_paths_look_in_the_extension_or_the_core_schema() {
        check(
            &bjensen(),
            &[
                (
                    r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984""#,
                    true,
                ),
                (
                    r#"URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER:costcenter eq "4130""#,
                    true,
                ),
                (
                    r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.displayName sw "john""#,
                    true,
                ),
                // Extension attributes are not top-level attributes, nor the reverse.
                (r#"employeeNumber pr"#, false),
                (
                    r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:userName pr"#,
                    false,
                ),
                (
                    r#"urn:ietf:params:scim:schemas:core:2.0:User:title eq "tour guide""#,
                    true,
                ),
                // The Group core schema is not this resource's.
                (
                    r#"urn:ietf:params:scim:schemas:core:2.0:Group:displayName pr"#,
                    false,
                ),
                (r#"urn:example:other:1.0:Thing:x pr"#, false),
                // A bare schema URN addresses the extension object as a whole.
                (
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User pr",
                    true,
                ),
                (
                    r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User[costCenter eq "4130"]"#,
                    true,
                ),
            ],
        );
    }

    #[test]
    fn pr_needs_a_non_empty_value() {
        check(
            &bjensen(),
            &[
                ("title pr", true),
                ("name pr", true),
                ("emails pr", true),
                ("active pr", true),
                ("nickName pr", false),
                ("groups pr", false),
                ("preferredLanguage pr", false),
                ("missing pr", false),
                ("name.middleName pr", false),
                ("not (nickName pr)", true),
            ],
        );
        let odd =
            json!({"empty": {}, "hollow": {"value": null, "x": ""}, "nested": [[]], "zero": 0});
        check(
            &odd,
            &[
                ("empty pr", false),
                ("hollow pr", false),
                ("nested pr", false),
                ("zero pr", true),
            ],
        );
    }

    #[test]
    fn null_equals_unassigned_and_empty() {
        check(
            &bjensen(),
            &[
                ("preferredLanguage eq null", true),
                ("missing eq null", true),
                ("groups eq null", true),
                ("title eq null", false),
                ("title ne null", true),
                ("missing ne null", false),
                (r#"missing ne "x""#, true),
                (r#"missing eq "x""#, false),
                (r#"missing co """#, false),
                ("missing gt 1", false),
            ],
        );
    }

    #[test]
    fn numbers_compare_numerically_and_not_as_text() {
        check(
            &bjensen(),
            &[
                ("loginCount eq 42", true),
                ("loginCount eq 42.0", true),
                ("loginCount gt 41", true),
                ("loginCount gt 9", true),
                ("loginCount ge 42", true),
                ("loginCount lt 42.5", true),
                ("loginCount le -1", false),
                ("loginCount ne 42", false),
                ("score gt 2", true),
                ("score lt 2.5e0", false),
                ("loginCount co 4", false),
                (r#"loginCount eq "42""#, false),
                (r#"loginCount ne "42""#, true),
                ("userName gt 1", false),
            ],
        );
        let huge = json!({"big": u64::MAX, "neg": i64::MIN});
        check(
            &huge,
            &[
                ("big gt -1", true),
                ("neg lt 18446744073709551615", true),
                ("big gt 1e19", true),
                ("big gt 2e19", false),
            ],
        );
    }

    #[test]
    fn booleans_support_only_eq_and_ne() {
        check(
            &bjensen(),
            &[
                ("active eq true", true),
                ("active eq false", false),
                ("active ne false", true),
                ("active gt false", false),
                ("active le true", false),
                (r#"active eq "true""#, false),
                ("emails[primary eq false]", false),
            ],
        );
    }

    #[test]
    fn date_times_compare_as_instants_across_offsets() {
        check(
            &bjensen(),
            &[
                (r#"meta.lastModified eq "2011-05-13T04:42:34Z""#, true),
                (r#"meta.lastModified eq "2011-05-13T06:42:34+02:00""#, true),
                (r#"meta.lastModified eq "2011-05-12T23:42:34-05:00""#, true),
                (r#"meta.lastModified gt "2011-05-13T04:42:34Z""#, false),
                (r#"meta.lastModified ge "2011-05-13T04:42:34.000Z""#, true),
                (r#"meta.lastModified lt "2011-05-13T04:42:34.001Z""#, true),
                (r#"meta.lastModified gt "2011-05-13T05:00:00+01:00""#, true),
                (r#"meta.created lt "2010-01-23T04:56:22.5Z""#, true),
                // Not a date-time: compared as text.
                (r#"meta.created sw "2010-01""#, true),
                (r#"meta.created gt "2009""#, true),
            ],
        );
    }

    #[test]
    fn date_time_parsing_handles_the_calendar() {
        assert_eq!(parse_date_time("1970-01-01T00:00:00Z"), Some((0, 0)));
        assert_eq!(
            parse_date_time("2000-03-01T00:00:00Z"),
            Some((951_868_800, 0))
        );
        assert_eq!(
            parse_date_time("1969-12-31T23:59:59.123456789123Z"),
            Some((-1, 123_456_789))
        );
        assert_eq!(
            parse_date_time("2024-02-29T12:00:00+12:00").map(|t| t.0),
            Some(1_709_164_800)
        );
        for bad in [
            "2023-02-29T00:00:00Z",
            "2011-13-01T00:00:00Z",
            "2011-05-13T24:00:00Z",
            "2011-05-13T04:42:34",
            "2011-05-13 04:42:34Z",
            "2011-05-13T04:42:34.Z",
            "2011-05-13T04:42:34+0200",
            "2011-05-13T04:42:34Zjunk",
            "２011-05-13T04:42:34Z",
            "",
        ] {
            assert_eq!(parse_date_time(bad), None, "{bad}");
        }
    }

    #[test]
    fn value_paths_see_sub_attributes_relative_to_each_value() {
        let user = json!({
            "addresses": [
                {"type": "work", "streetAddress": "100 Universal City Plaza", "primary": true},
                {"type": "home", "streetAddress": "456 Hollywood Blvd"}
            ],
            "x509Certificates": ["not an object"]
        });
        check(
            &user,
            &[
                (
                    r#"addresses[type eq "home" and streetAddress co "hollywood"]"#,
                    true,
                ),
                (
                    r#"addresses[type eq "work" and streetAddress co "hollywood"]"#,
                    false,
                ),
                (r#"addresses[type eq "home" or primary eq true]"#, true),
                (r#"x509Certificates[value pr]"#, false),
            ],
        );
    }
}
