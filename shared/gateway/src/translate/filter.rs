//! Which part of a list filter Identity Center answers, and which the gateway evaluates
//! itself (RFC 7644 §3.4.2.2 against `docs/identity-center-dialect.md` §3).
//!
//! Identity Center answers only `attr eq "string"` on a few attributes. The gateway
//! splits a filter's top-level `and` chain into conjuncts and picks one to narrow the
//! target's listing ([`Lookup`]), in this order of preference:
//! 1. a membership conjunct (`groups.value eq` on users, `members.value eq` on groups):
//!    the target never returns `groups` or `members`, so only it can answer these, and
//!    they are trusted as answered;
//! 2. `id eq`: one read by id (a missing id is an empty result, not an error);
//! 3. `externalId eq`, then `userName eq` (users) or `displayName eq` (groups).
//!
//! Everything but the trusted membership conjunct is then evaluated locally with
//! `scim_core::filter::matches` over what the target returned, the chosen `eq`
//! included: Identity Center compares `userName` without regard to case, which RFC
//! 7643 §4.1.1 (`caseExact: false`) agrees with, but re-evaluating keeps the answer
//! RFC-exact whatever the target does. Without a usable conjunct the gateway lists
//! everything (the client follows every cursor) and evaluates the whole filter.
//!
//! A filter that mentions `groups` (users) or `members` (groups) anywhere else (`or`,
//! `not`, `co`, `pr`, value paths, a second membership conjunct) cannot be answered:
//! the attribute is never returned, so a local evaluation would be silently wrong. It
//! is refused with 400 `invalidFilter`.

use scim_core::filter::{AttrPath, CompValue, CompareOp, Filter};
use scim_core::{GROUP_SCHEMA, ScimError, USER_SCHEMA};

use super::{ResourceKind, same};

/// How to fetch the candidates a filter is evaluated on.
#[derive(Debug, Clone, PartialEq)]
pub enum Lookup {
    /// List every resource.
    All,
    /// Read the one resource with this id (none if it does not exist).
    ById(String),
    /// List with this filter, which the target supports.
    Filter(Filter),
}

/// The `userName` a filter looks a user up by, when it is exactly
/// `userName eq "<value>"` (Okta's lookup before a create).
pub fn user_name_lookup(filter: &Filter) -> Option<&str> {
    match filter {
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value: CompValue::String(value),
        } if path.sub_attr.is_none()
            && path.urn.as_deref().is_none_or(|u| same(u, USER_SCHEMA))
            && same(&path.name, "userName") =>
        {
            Some(value)
        }
        _ => None,
    }
}

/// How to answer a list filter: fetch with `lookup`, then keep what matches `local`.
#[derive(Debug, Clone, PartialEq)]
pub struct FilterPlan {
    /// What to ask the target.
    pub lookup: Lookup,
    /// What to evaluate on the answer; `None` keeps everything.
    pub local: Option<Filter>,
}

/// The plan for `filter` on `kind` (see the module docs).
pub fn plan_filter(kind: ResourceKind, filter: Option<&Filter>) -> Result<FilterPlan, ScimError> {
    let Some(filter) = filter else {
        return Ok(FilterPlan {
            lookup: Lookup::All,
            local: None,
        });
    };
    let (membership_attr, name_attr, core_urn) = match kind {
        ResourceKind::User => ("groups", "userName", USER_SCHEMA),
        ResourceKind::Group => ("members", "displayName", GROUP_SCHEMA),
    };
    let plain = |path: &AttrPath, name: &str| {
        path.urn.as_deref().is_none_or(|u| same(u, core_urn)) && same(&path.name, name)
    };
    let mut conjuncts = Vec::new();
    flatten_and(filter, &mut conjuncts);

    let membership = conjuncts.iter().position(|c| match eq_string(c) {
        Some((path, _)) => {
            plain(path, membership_attr)
                && path.sub_attr.as_deref().is_some_and(|s| same(s, "value"))
        }
        None => false,
    });
    let mut lookup = None;
    if let Some(index) = membership {
        let trusted = conjuncts.remove(index);
        lookup = Some(Lookup::Filter(trusted.clone()));
    }
    if conjuncts
        .iter()
        .any(|c| mentions(c, membership_attr, core_urn))
    {
        return Err(ScimError::invalid_filter(format!(
            "`{membership_attr}` can only be filtered with `{membership_attr}.value eq \"<id>\"`, once, \
             at the top level or joined with `and`: the target never returns `{membership_attr}`"
        )));
    }
    if lookup.is_none() {
        lookup = ["id", "externalId", name_attr].iter().find_map(|wanted| {
            conjuncts.iter().find_map(|c| match eq_string(c) {
                Some((path, value)) if plain(path, wanted) && path.sub_attr.is_none() => {
                    Some(match *wanted {
                        "id" => Lookup::ById(value.to_owned()),
                        _ => Lookup::Filter((*c).clone()),
                    })
                }
                _ => None,
            })
        });
    }
    let local = conjuncts
        .into_iter()
        .cloned()
        .reduce(|a, b| Filter::And(Box::new(a), Box::new(b)));
    Ok(FilterPlan {
        lookup: lookup.unwrap_or(Lookup::All),
        local,
    })
}

/// The conjuncts of a top-level `and` chain, in order.
fn flatten_and<'f>(filter: &'f Filter, out: &mut Vec<&'f Filter>) {
    let mut stack = vec![filter];
    while let Some(filter) = stack.pop() {
        match filter {
            Filter::And(a, b) => {
                stack.push(b);
                stack.push(a);
            }
            other => out.push(other),
        }
    }
}

/// `path eq "string"`.
fn eq_string(filter: &Filter) -> Option<(&AttrPath, &str)> {
    match filter {
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value: CompValue::String(value),
        } => Some((path, value)),
        _ => None,
    }
}

/// Whether `filter` refers to the attribute `name` (of the core schema) anywhere.
fn mentions(filter: &Filter, name: &str, core_urn: &str) -> bool {
    let hit = |path: &AttrPath| {
        path.urn.as_deref().is_none_or(|u| same(u, core_urn)) && same(&path.name, name)
    };
    let mut stack = vec![filter];
    while let Some(filter) = stack.pop() {
        match filter {
            Filter::Compare { path, .. } | Filter::Present(path) if hit(path) => return true,
            Filter::Compare { .. } | Filter::Present(_) => {}
            Filter::And(a, b) | Filter::Or(a, b) => {
                stack.push(a);
                stack.push(b);
            }
            Filter::Not(inner) => stack.push(inner),
            Filter::ValuePath { attr, .. } if hit(attr) => return true,
            // Inside a value path, names are sub-attributes of another attribute.
            Filter::ValuePath { .. } => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use scim_core::{ScimType, parse_filter};

    use super::*;

    fn plan(kind: ResourceKind, text: &str) -> Result<FilterPlan, ScimError> {
        plan_filter(kind, Some(&parse_filter(text).unwrap()))
    }

    fn f(text: &str) -> Filter {
        parse_filter(text).unwrap()
    }

    #[test]
    fn no_filter_lists_everything_and_keeps_everything() {
        assert_eq!(
            plan_filter(ResourceKind::User, None).unwrap(),
            FilterPlan {
                lookup: Lookup::All,
                local: None
            }
        );
    }

    #[test]
    fn oktas_user_name_lookup_goes_to_the_target_and_is_re_evaluated_locally() {
        // Act
        let plan = plan(ResourceKind::User, "userName eq \"Test.User@okta.local\"").unwrap();

        // Assert
        assert_eq!(
            plan.lookup,
            Lookup::Filter(f("userName eq \"Test.User@okta.local\""))
        );
        assert_eq!(plan.local, Some(f("userName eq \"Test.User@okta.local\"")));
    }

    #[test]
    fn an_and_chain_narrows_by_its_best_eq_and_keeps_the_rest_local() {
        // Act
        let plan = plan(
            ResourceKind::User,
            "active eq true and externalId eq \"00u1\" and userName eq \"a\"",
        )
        .unwrap();

        // Assert
        assert_eq!(plan.lookup, Lookup::Filter(f("externalId eq \"00u1\"")));
        assert_eq!(
            plan.local,
            Some(f(
                "active eq true and externalId eq \"00u1\" and userName eq \"a\""
            ))
        );
    }

    #[test]
    fn an_id_eq_becomes_a_read_by_id() {
        let plan = plan(
            ResourceKind::Group,
            "id eq \"g-1\" and displayName sw \"A\"",
        )
        .unwrap();
        assert_eq!(plan.lookup, Lookup::ById("g-1".into()));
    }

    #[test]
    fn what_the_target_cannot_answer_is_listed_whole_and_evaluated_locally() {
        for text in [
            "userName sw \"a\"",
            "emails[type eq \"work\" and value co \"@example.com\"]",
            "userName eq \"a\" or userName eq \"b\"",
            "not (active eq false)",
            "name.familyName pr",
            "userName eq 5",
        ] {
            let plan = plan(ResourceKind::User, text).unwrap();
            assert_eq!(plan.lookup, Lookup::All, "{text}");
            assert_eq!(plan.local, Some(f(text)), "{text}");
        }
    }

    #[test]
    fn a_membership_eq_is_answered_by_the_target_and_trusted() {
        // Act
        let users = plan(
            ResourceKind::User,
            "groups.value eq \"g-1\" and active eq true",
        )
        .unwrap();
        let groups = plan(ResourceKind::Group, "members.value eq \"u-1\"").unwrap();

        // Assert
        assert_eq!(users.lookup, Lookup::Filter(f("groups.value eq \"g-1\"")));
        assert_eq!(users.local, Some(f("active eq true")));
        assert_eq!(groups.lookup, Lookup::Filter(f("members.value eq \"u-1\"")));
        assert_eq!(groups.local, None);
    }

    #[test]
    fn membership_filters_the_target_cannot_answer_are_refused_not_answered_wrongly() {
        for (kind, text) in [
            (ResourceKind::Group, "members.value co \"u\""),
            (ResourceKind::Group, "members pr"),
            (ResourceKind::Group, "members[value eq \"u-1\"]"),
            (
                ResourceKind::Group,
                "displayName eq \"a\" or members.value eq \"u-1\"",
            ),
            (ResourceKind::User, "not (groups.value eq \"g\")"),
            (
                ResourceKind::User,
                "groups.value eq \"g1\" and groups.value eq \"g2\"",
            ),
            (ResourceKind::User, "groups.display eq \"Admins\""),
        ] {
            let error = plan(kind, text).unwrap_err();
            assert_eq!(error.scim_type, Some(ScimType::InvalidFilter), "{text}");
        }
    }

    #[test]
    fn a_members_attribute_inside_another_value_path_is_not_a_membership_filter() {
        let plan = plan(ResourceKind::User, "emails[members eq \"x\"]").unwrap();
        assert_eq!(plan.lookup, Lookup::All);
    }
}
