//! Load-time analysis of parsed rules, over all rules of a resource type at once:
//! reachability, conflicting writes, what Identity Center requires (kept, and derived),
//! the static length of `userName`, and the read-back transforms.
//!
//! The analysis is abstract: it follows which required attributes are *surely present*
//! (not blank) after each rule. A rule with a `when:` may or may not apply, so it can
//! take an attribute away but never surely give one. An expression is surely present
//! when what it reads is (see [`nonblank`]).

use std::collections::{HashMap, HashSet};

use scim_core::ResourceKind;

use crate::expr::{Expr, Part, Template};
use crate::path::AttrRef;
use crate::problem::{Problem, ProblemKind, RuleId};
use crate::readback::{ReadBack, classify, read_back_attribute};
use crate::rule::Rule;

/// Identity Center's limit on `userName`, in characters.
pub const MAX_USER_NAME_CHARS: usize = 128;

/// What Identity Center requires of every resource of `kind` (AWS-DG createuser,
/// creategroup), as written and as compared.
fn required(kind: ResourceKind) -> &'static [(&'static str, &'static str)] {
    match kind {
        ResourceKind::User => &[
            ("userName", "username"),
            ("displayName", "displayname"),
            ("name.givenName", "name.givenname"),
            ("name.familyName", "name.familyname"),
        ],
        ResourceKind::Group => &[("displayName", "displayname")],
    }
}

/// What the analysis of one resource type's rules gives the rule set.
pub(crate) struct Analysis {
    pub(crate) derived: Vec<String>,
    pub(crate) read_back: ReadBack,
}

/// Analyses `rules` (all of `kind`), adding problems.
pub(crate) fn analyse(kind: ResourceKind, rules: &[Rule], problems: &mut Vec<Problem>) -> Analysis {
    let reachable = check_order_and_conflicts(kind, rules, problems);
    let rules = rules.get(..reachable).unwrap_or(rules);
    check_required(kind, rules, problems);
    if kind == ResourceKind::User {
        check_user_name_length(rules, problems);
    }
    let read_back = check_read_back(kind, rules, problems);
    Analysis {
        derived: derived(kind, rules),
        read_back,
    }
}

fn noun(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::User => "user",
        ResourceKind::Group => "group",
    }
}

/// Unreachable rules and conflicting writes. Returns how many rules are reachable.
fn check_order_and_conflicts(
    kind: ResourceKind,
    rules: &[Rule],
    problems: &mut Vec<Problem>,
) -> usize {
    let mut skipper: Option<&RuleId> = None;
    let mut reachable = rules.len();
    let mut last_writer: HashMap<String, (&RuleId, &'static str)> = HashMap::new();
    for (i, rule) in rules.iter().enumerate() {
        if let Some(skipper) = skipper {
            problems.push(Problem::new(
                ProblemKind::Unreachable,
                Some(&rule.id),
                "",
                format!(
                    "no {0} reaches this rule: {skipper} skips every {0} (give it a `when:`, or \
                     move this rule before it)",
                    noun(kind)
                ),
            ));
            continue;
        }
        if rule.skip {
            if rule.is_unconditional() {
                skipper = Some(&rule.id);
                reachable = i + 1;
            }
            continue;
        }
        // Within the rule: one write per attribute, and no removal of what it writes.
        let mut seen: HashMap<String, &'static str> = HashMap::new();
        for (action, to) in rule.writes() {
            if let Some(first) = seen.insert(to.key(), action) {
                problems.push(Problem::new(
                    ProblemKind::Conflict,
                    Some(&rule.id),
                    format!("{action}.{to}"),
                    format!(
                        "the rule writes `{to}` twice, by `{first}` and by `{action}`; keep one"
                    ),
                ));
            }
        }
        for (j, path) in rule.remove.iter().enumerate() {
            if let Some((action, to)) = rule.writes().into_iter().find(|(_, to)| path.covers(to)) {
                problems.push(Problem::new(
                    ProblemKind::Conflict,
                    Some(&rule.id),
                    format!("remove[{j}]"),
                    format!(
                        "the rule removes `{path}` after its `{action}` writes `{to}`, so the \
                         write never shows; keep one"
                    ),
                ));
            }
        }
        if !rule.is_unconditional() {
            continue;
        }
        // Across rules: an unconditional write that ignores an earlier unconditional one.
        let overwrites = rule
            .rename
            .iter()
            .map(|(to, _)| ("rename", to, false))
            .chain(rule.copy.iter().map(|(to, _)| ("copy", to, false)))
            .chain(rule.set.iter().map(|(to, template)| {
                let reads_itself = template.refs().iter().any(|r| r.key() == to.key());
                ("set", to, reads_itself)
            }));
        for (action, to, reads_itself) in overwrites {
            let key = to.key();
            if let Some((earlier, _)) = last_writer.get(&key)
                && *earlier != &rule.id
                && !reads_itself
            {
                problems.push(Problem::new(
                    ProblemKind::Conflict,
                    Some(&rule.id),
                    format!("{action}.{to}"),
                    format!(
                        "`{to}` is already written by {earlier}, unconditionally too, and this \
                         rule replaces that value for every {}; merge them into one rule (use \
                         coalesce(…) for a fallback) or give one a `when:`",
                        noun(kind)
                    ),
                ));
            }
            last_writer.insert(key, (&rule.id, action));
        }
        for path in &rule.remove {
            last_writer.retain(|key, _| !covers_key(&path.key(), key));
        }
    }
    reachable
}

fn covers_key(outer: &str, inner: &str) -> bool {
    inner == outer
        || (inner.len() > outer.len()
            && inner.starts_with(outer)
            && matches!(inner.as_bytes().get(outer.len()), Some(b'.' | b':')))
}

/// The state of the abstract run: which attribute keys are surely present, and which
/// rule (and field) last took each required one away.
struct Run<'r> {
    present: HashSet<String>,
    lost_by: HashMap<String, (&'r RuleId, String)>,
}

/// Runs `rules` abstractly from `present`. Stops at an unconditional skip (every later
/// resource is skipped, so nothing more is required of it): then `None`.
fn simulate<'r>(rules: &'r [Rule], present: HashSet<String>) -> Option<Run<'r>> {
    let mut run = Run {
        present,
        lost_by: HashMap::new(),
    };
    for rule in rules {
        if rule.skip {
            if rule.is_unconditional() {
                return None;
            }
            continue;
        }
        let sure = rule.is_unconditional();
        let before = run.present.clone();
        let has = |p: &AttrRef| before.contains(&p.key());
        for (to, from) in &rule.rename {
            take_away(&mut run, from, &rule.id, format!("rename.{to}"));
            if sure && has(from) {
                run.present.insert(to.key());
            }
        }
        for (to, from) in &rule.copy {
            if sure && has(from) {
                run.present.insert(to.key());
            }
        }
        for (to, template) in rule.set.iter().chain(&rule.default) {
            if sure && template_nonblank(template, &before) {
                run.present.insert(to.key());
            }
        }
        for (j, path) in rule.remove.iter().enumerate() {
            take_away(&mut run, path, &rule.id, format!("remove[{j}]"));
        }
    }
    Some(run)
}

fn take_away<'r>(run: &mut Run<'r>, path: &AttrRef, rule: &'r RuleId, field: String) {
    let outer = path.key();
    let gone: Vec<String> = run
        .present
        .iter()
        .filter(|k| covers_key(&outer, k))
        .cloned()
        .collect();
    for key in gone {
        run.present.remove(&key);
        run.lost_by.insert(key, (rule, field.clone()));
    }
}

/// Every resource that is provisioned still has what Identity Center requires.
fn check_required(kind: ResourceKind, rules: &[Rule], problems: &mut Vec<Problem>) {
    let all = required(kind)
        .iter()
        .map(|(_, k)| (*k).to_owned())
        .collect();
    let Some(run) = simulate(rules, all) else {
        return;
    };
    for (name, key) in required(kind) {
        if run.present.contains(*key) {
            continue;
        }
        let Some((rule, field)) = run.lost_by.get(*key) else {
            continue;
        };
        problems.push(Problem::new(
            ProblemKind::RequiredAttributeLost,
            Some(rule),
            field.clone(),
            format!(
                "this rule can leave a {} without `{name}`, which Identity Center requires, and \
                 no later rule surely sets it again (add one without `when:`, e.g. `default:`)",
                noun(kind)
            ),
        ));
    }
}

/// The required attributes the rules fill in when a client leaves them out: a set such
/// that a run without all of them still ends with each of them, grown greedily in the
/// order of [`required`] (so maximal, and deterministic).
fn derived(kind: ResourceKind, rules: &[Rule]) -> Vec<String> {
    let keys: Vec<&str> = required(kind).iter().map(|(_, k)| *k).collect();
    let holds = |omitted: &HashSet<&str>| -> bool {
        let start = keys
            .iter()
            .filter(|k| !omitted.contains(*k))
            .map(|k| (*k).to_owned())
            .collect();
        simulate(rules, start).is_some_and(|run| omitted.iter().all(|k| run.present.contains(*k)))
    };
    let mut derived: HashSet<&str> = HashSet::new();
    for key in &keys {
        let mut attempt = derived.clone();
        attempt.insert(key);
        if holds(&attempt) {
            derived = attempt;
        }
    }
    required(kind)
        .iter()
        .filter(|(_, k)| derived.contains(k))
        .map(|(name, _)| (*name).to_owned())
        .collect()
}

/// Whether a template's value is surely present (not absent, not blank) when the
/// attributes in `present` are.
fn template_nonblank(template: &Template, present: &HashSet<String>) -> bool {
    parts_nonblank(&template.parts, present)
}

fn parts_nonblank(parts: &[Part], present: &HashSet<String>) -> bool {
    let defined = parts.iter().all(|p| match p {
        Part::Lit(_) => true,
        Part::Expr(e) => defined(e, present),
    });
    defined
        && parts.iter().any(|p| match p {
            Part::Lit(s) => !s.trim().is_empty(),
            Part::Expr(e) => nonblank(e, present),
        })
}

/// Whether `expr` is surely not absent.
fn defined(expr: &Expr, present: &HashSet<String>) -> bool {
    match expr {
        Expr::Attr(path) => present.contains(&path.key()),
        Expr::Lit(_) => true,
        Expr::Concat(args) => args.iter().all(|a| defined(a, present)),
        Expr::Lower(e) | Expr::Upper(e) | Expr::Trim(e) => defined(e, present),
        Expr::Replace(args) => {
            let [s, _, _] = args.as_ref();
            defined(s, present)
        }
        Expr::Split {
            input, index: None, ..
        } => defined(input, present),
        Expr::Join { list, .. } => defined(list, present),
        Expr::Substring { input, .. } => defined(input, present),
        Expr::Coalesce(args) => args.iter().any(|a| nonblank(a, present)),
        Expr::Capture { .. } | Expr::Split { .. } => false,
    }
}

/// Whether `expr` is surely present and not blank.
fn nonblank(expr: &Expr, present: &HashSet<String>) -> bool {
    match expr {
        Expr::Attr(path) => present.contains(&path.key()),
        Expr::Lit(s) => !s.trim().is_empty(),
        Expr::Concat(args) => {
            args.iter().all(|a| defined(a, present)) && args.iter().any(|a| nonblank(a, present))
        }
        // Case mapping and trimming keep a non-blank text non-blank.
        Expr::Lower(e) | Expr::Upper(e) | Expr::Trim(e) => nonblank(e, present),
        // Every replacement leaves `to`; without one, `s` is unchanged.
        Expr::Replace(args) => {
            let [s, _, to] = args.as_ref();
            nonblank(s, present) && nonblank(to, present)
        }
        // One part is `s` itself; two or more are joined by `sep`.
        Expr::Join { list, sep } => match list.as_ref() {
            Expr::Split {
                input, index: None, ..
            } => nonblank(input, present) && nonblank(sep, present),
            _ => false,
        },
        Expr::Coalesce(args) => args.iter().any(|a| nonblank(a, present)),
        Expr::Capture { .. } | Expr::Split { .. } | Expr::Substring { .. } => false,
    }
}

/// The fewest characters a template's value can have when it is written at all.
fn min_chars(template: &Template) -> usize {
    template
        .parts
        .iter()
        .map(|p| match p {
            Part::Lit(s) => s.chars().count(),
            Part::Expr(e) => min_expr_chars(e),
        })
        .sum()
}

fn min_expr_chars(expr: &Expr) -> usize {
    match expr {
        // A present value is not blank, so has a character.
        Expr::Attr(_) => 1,
        Expr::Lit(s) => s.chars().count(),
        Expr::Concat(args) => args.iter().map(min_expr_chars).sum(),
        // Case mapping never shortens: every character maps to one or more.
        Expr::Lower(e) | Expr::Upper(e) => min_expr_chars(e),
        Expr::Coalesce(args) => args.iter().map(min_expr_chars).min().unwrap_or(0),
        _ => 0,
    }
}

fn check_user_name_length(rules: &[Rule], problems: &mut Vec<Problem>) {
    for rule in rules {
        for (to, template) in rule.set.iter().chain(&rule.default) {
            if !to.is_core("userName") {
                continue;
            }
            let least = min_chars(template);
            if least > MAX_USER_NAME_CHARS {
                problems.push(Problem::new(
                    ProblemKind::UserNameTooLong,
                    Some(&rule.id),
                    format!("set.{to}"),
                    format!(
                        "`userName` would be at least {least} characters long; Identity Center \
                         allows {MAX_USER_NAME_CHARS}"
                    ),
                ));
            }
        }
    }
}

const READ_BACK_HELP: &str = "Okta looks resources up by this attribute and reads it back, so \
     the gateway must map Okta's value to the stored one and back; only fixed text around the \
     attribute itself, lower() and upper() of it, and a group map: can be reversed (docs/rules.md, \
     \"Read-back attributes\")";

/// The read-back attribute's transforms, refusing those that cannot be reversed; warns
/// of every change to `userName`.
fn check_read_back(kind: ResourceKind, rules: &[Rule], problems: &mut Vec<Problem>) -> ReadBack {
    let attribute = read_back_attribute(kind);
    let mut read_back = ReadBack::identity(kind);
    let mut warnings = Vec::new();
    for rule in rules {
        let mut refusals: Vec<(String, String)> = Vec::new();
        let mut refuse = |field: String, why: String| refusals.push((field, why));
        let conditional = !rule.is_unconditional();
        const CONDITIONAL: &str = "the rule has a `when:`, and the stored value does not say \
                                   whether the condition held";
        for (to, _) in &rule.rename {
            if to.is_core(attribute) {
                refuse(
                    format!("rename.{to}"),
                    "it is renamed from another attribute".to_owned(),
                );
            }
        }
        for (to, from) in &rule.copy {
            if to.is_core(attribute) {
                refuse(format!("copy.{to}"), format!("it is copied from `{from}`"));
            }
        }
        for (to, _) in &rule.default {
            if to.is_core(attribute) {
                refuse(
                    format!("default.{to}"),
                    "a default cannot be told apart from a value Okta sent".to_owned(),
                );
            }
        }
        for (to, template) in &rule.set {
            if !to.is_core(attribute) {
                continue;
            }
            let field = format!("set.{to}");
            if conditional {
                refuse(field, CONDITIONAL.to_owned());
                continue;
            }
            match classify(template, attribute) {
                Err(why) => refuse(field, why),
                Ok(transforms) if transforms.is_empty() => {}
                Ok(transforms) => {
                    if kind == ResourceKind::User {
                        warnings.push(user_name_warning(&rule.id, field));
                    }
                    read_back.push_set(rule.id.clone(), transforms, template.clone());
                }
            }
        }
        if let Some(map) = &rule.map {
            if conditional {
                refuse("map".to_owned(), CONDITIONAL.to_owned());
            } else {
                read_back.push_map(rule.id.clone(), map.clone());
            }
        }
        for (field, why) in refusals {
            problems.push(Problem::new(
                ProblemKind::NotInvertible,
                Some(&rule.id),
                field,
                format!("`{attribute}` cannot be transformed this way: {why}. {READ_BACK_HELP}"),
            ));
        }
        problems.append(&mut warnings);
    }
    read_back
}

fn user_name_warning(rule: &RuleId, field: String) -> Problem {
    Problem::new(
        ProblemKind::UserNameChanged,
        Some(rule),
        field,
        "this rule changes `userName`. Identity Center matches the SAML subject to userName, so \
         Okta's SAML NameID (the app's Application username format) must produce the same value, \
         or these users cannot sign in",
    )
}

#[cfg(test)]
mod tests {
    use scim_core::ResourceKind::User;

    use crate::{ProblemKind, RuleSet};

    fn derived(yaml: &str) -> Vec<(scim_core::ResourceKind, String)> {
        RuleSet::load(yaml)
            .unwrap_or_else(|e| panic!("{e}"))
            .rule_set
            .derived_attributes()
            .to_vec()
    }

    #[test]
    fn derived_attributes_are_the_required_ones_the_rules_surely_fill_in() {
        let display = || vec![(User, "displayName".to_owned())];
        let cases: Vec<(&str, Vec<(scim_core::ResourceKind, String)>)> = vec![
            ("users: []", vec![]),
            (
                "users:\n  - default: {displayName: '{name.givenName} {name.familyName}'}\n",
                display(),
            ),
            (
                "users:\n  - set: {displayName: '{name.givenName} {name.familyName}'}\n",
                display(),
            ),
            (
                "users:\n  - default: {displayName: '{coalesce(nickName, userName)}'}\n",
                display(),
            ),
            (
                "users:\n  - default: {displayName: '{lower(concat(name.givenName, \".\", name.familyName))}'}\n",
                display(),
            ),
            (
                "users:\n  - default: {displayName: '{join(split(userName, \"@\"), \" at \")}'}\n",
                display(),
            ),
            (
                "users:\n  - default: {displayName: 'Okta user'}\n",
                display(),
            ),
            // Not surely: a condition, a value that may be absent or blank.
            (
                "users:\n  - when: 'title pr'\n    default: {displayName: '{title}'}\n",
                vec![],
            ),
            ("users:\n  - default: {displayName: '{nickName}'}\n", vec![]),
            (
                "users:\n  - default: {displayName: '{capture(userName, \"^(.+)@\", 1)}'}\n",
                vec![],
            ),
            (
                "users:\n  - default: {displayName: '{split(userName, \"@\", 0)}'}\n",
                vec![],
            ),
            (
                "users:\n  - default: {displayName: '{replace(userName, \"a\", \"\")}'}\n",
                vec![],
            ),
            ("users:\n  - default: {displayName: '   '}\n", vec![]),
            (
                "users:\n  - default: {name.givenName: '{displayName}', name.familyName: 'Unknown'}\n",
                vec![
                    (User, "name.givenName".to_owned()),
                    (User, "name.familyName".to_owned()),
                ],
            ),
            // Each derives the other: only one of them can be left out.
            (
                "users:\n  - default: {name.givenName: '{displayName}'}\n  - default: {displayName: '{name.givenName} {name.familyName}'}\n",
                display(),
            ),
            // A conditional rule after it, removing something else, changes nothing.
            (
                "users:\n  - default: {displayName: '{userName}'}\n  - when: 'title pr'\n    remove: [nickName]\n",
                display(),
            ),
            (
                "groups:\n  - set: {displayName: 'okta-{displayName}'}\n",
                vec![],
            ),
        ];
        for (yaml, expected) in cases {
            assert_eq!(derived(yaml), expected, "{yaml}");
        }
    }

    #[test]
    fn a_removal_repaired_by_a_later_unconditional_rule_is_not_an_error() {
        let yaml = "users:\n  - when: 'title pr'\n    remove: [displayName]\n  - default: {displayName: '{userName}'}\n";
        assert!(RuleSet::load(yaml).is_ok());
        // Repaired only sometimes: still an error, on the removing rule.
        let yaml = "users:\n  - remove: [displayName]\n  - when: 'title pr'\n    default: {displayName: '{userName}'}\n";
        let invalid = RuleSet::load(yaml).unwrap_err();
        assert_eq!(invalid.problems.len(), 1);
        assert_eq!(invalid.problems[0].kind, ProblemKind::RequiredAttributeLost);
        assert_eq!(invalid.problems[0].rule.as_ref().map(|r| r.index), Some(0));
    }

    #[test]
    fn removing_the_whole_name_loses_both_required_names() {
        let invalid = RuleSet::load("users:\n  - remove: [name]\n").unwrap_err();
        let lost: Vec<&str> = invalid
            .problems
            .iter()
            .map(|p| p.message.split('`').nth(1).unwrap_or_default())
            .collect();
        assert_eq!(lost, ["name.givenName", "name.familyName"]);
    }

    #[test]
    fn an_unconditional_skip_requires_nothing_more_and_derives_nothing() {
        let yaml = "users:\n  - {name: nobody, skip: true}\n";
        let loaded = RuleSet::load(yaml).unwrap();
        assert!(loaded.rule_set.derived_attributes().is_empty());
        assert!(loaded.warnings.is_empty());
    }

    #[test]
    fn a_user_name_that_may_fit_is_accepted_and_warned_about() {
        let yaml = format!(
            "users:\n  - set: {{userName: '{{userName}}{}'}}\n",
            "@".repeat(127)
        );
        let loaded = RuleSet::load(&yaml).unwrap();
        assert_eq!(
            loaded.warnings.iter().map(|w| w.kind).collect::<Vec<_>>(),
            [ProblemKind::UserNameChanged]
        );
        assert_eq!(
            loaded.warnings[0].to_string(),
            "warning[user-name-changed] users[0], set.userName: this rule changes `userName`. \
             Identity Center matches the SAML subject to userName, so Okta's SAML NameID (the \
             app's Application username format) must produce the same value, or these users \
             cannot sign in"
        );
    }

    #[test]
    fn composing_transforms_of_the_user_name_is_not_a_conflict() {
        let yaml = "users:\n  - set: {userName: '{lower(userName)}'}\n  - set: {userName: '{userName}@corp'}\n";
        let loaded = RuleSet::load(yaml).unwrap();
        assert_eq!(loaded.warnings.len(), 2);
    }
}
