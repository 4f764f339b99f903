//! The rule-set document: YAML text to a [`RuleSet`], collecting every problem on the way
//! (the YAML is walked by hand rather than through `serde`'s derive, so that one unknown
//! key does not hide the next).
//!
//! ```yaml
//! users:                      # rules for users, in order
//!   - name: lowercase-username          # optional, unique, A-Z a-z 0-9 space . _ -
//!     when: 'userType eq "Employee"'    # optional SCIM filter over the incoming resource
//!     set:     {userName: "{lower(userName)}"}          # attribute: template
//!     default: {displayName: "{name.givenName} {name.familyName}"}  # only when missing
//!     copy:    {nickName: name.givenName}               # to: from
//!     rename:  {title: urn:okta:custom:1.0:User:jobTitle}  # to: from (from is removed)
//!     remove:  [profileUrl]
//!     skip: true                        # not provisioned (answered 403 naming the rule)
//! groups:
//!   - map: {Engineers: aws-engineers}   # groups only: display names, one to one
//! scope:                      # what the Okta event-hook path acts on
//!   events: [user.lifecycle.create]     # event types (all supported ones when absent)
//!   groups: [Engineers]                 # Okta group names or ids (all when absent)
//!   app: 0oa1b2c3d4E5f6G7h8i9           # only users assigned to this Okta app
//!   delete: [users]                     # what an Okta deletion deletes (else deactivate)
//!   delete_after_days: 30               # reconciliation: days deactivated before deleted
//! ```
//!
//! The document carries no version (the rule store assigns one when it saves the set):
//! a `version:` key is refused like any unknown key, so that nobody believes it counts.

use std::collections::HashMap;
use std::sync::Arc;

use scim_core::{ResourceKind, parse_filter};
use serde_norway::Value as Yaml;

use crate::analysis::analyse;
use crate::expr::parser::parse_template;
use crate::limits::{
    MAX_DOCUMENT_BYTES, MAX_ENTRIES, MAX_MAP_ENTRIES, MAX_NAME_CHARS, MAX_PATTERNS, MAX_RULES,
    MAX_SCOPE_ENTRIES,
};
use crate::path::{AttrRef, Use, closest};
use crate::problem::{Invalid, Problem, ProblemKind, RuleId, list_key, sort};
use crate::rule::{Condition, GroupMap, Rule, RuleSet, Scope};

/// A rule set that loaded, with the warnings an administrator should read.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The rule set.
    pub rule_set: RuleSet,
    /// Warnings (never errors), in document order.
    pub warnings: Vec<Problem>,
}

const TOP_KEYS: &[&str] = &["users", "groups", "scope"];
const RULE_KEYS: &[&str] = &[
    "name", "when", "set", "default", "copy", "rename", "remove", "skip", "map",
];
const SCOPE_KEYS: &[&str] = &["events", "groups", "app", "delete", "delete_after_days"];

/// The longest display name Identity Center keeps (Identity Store `DisplayName`).
const MAX_DISPLAY_NAME_CHARS: usize = 1024;

impl RuleSet {
    /// Parses and validates a rule-set document. Every problem is reported, not just the
    /// first; the set loads when none is an error.
    pub fn load(yaml: &str) -> Result<Loaded, Invalid> {
        let mut loader = Loader::default();
        let rule_set = loader.document(yaml);
        let mut problems = loader.problems;
        sort(&mut problems);
        match rule_set {
            Some(rule_set) if !problems.iter().any(Problem::is_error) => Ok(Loaded {
                rule_set,
                warnings: problems,
            }),
            _ => Err(Invalid { problems }),
        }
    }
}

#[derive(Default)]
struct Loader {
    problems: Vec<Problem>,
    names: HashMap<String, RuleId>,
    patterns: usize,
}

fn yaml_type(value: &Yaml) -> &'static str {
    match value {
        Yaml::Null => "nothing (null)",
        Yaml::Bool(_) => "a boolean",
        Yaml::Number(_) => "a number",
        Yaml::String(_) => "a string",
        Yaml::Sequence(_) => "a list",
        Yaml::Mapping(_) => "a mapping",
        Yaml::Tagged(_) => "a tagged value (!tag)",
    }
}

impl Loader {
    fn problem(
        &mut self,
        kind: ProblemKind,
        rule: Option<&RuleId>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) {
        self.problems.push(Problem::new(kind, rule, field, message));
    }

    fn wrong_type(&mut self, rule: Option<&RuleId>, field: &str, expected: &str, found: &Yaml) {
        let hint = match found {
            Yaml::Mapping(_) if expected.contains("template") => {
                " (a value that starts with `{` must be quoted in YAML: '{userName}')"
            }
            _ => "",
        };
        self.problem(
            ProblemKind::WrongType,
            rule,
            field,
            format!("expected {expected}, found {}{hint}", yaml_type(found)),
        );
    }

    fn document(&mut self, yaml: &str) -> Option<RuleSet> {
        if yaml.len() > MAX_DOCUMENT_BYTES {
            self.problem(
                ProblemKind::DocumentTooLarge,
                None,
                "",
                format!(
                    "the document is {} bytes long; the limit is {MAX_DOCUMENT_BYTES}",
                    yaml.len()
                ),
            );
            return None;
        }
        let root: Yaml = match serde_norway::from_str(yaml) {
            Ok(root) => root,
            Err(e) => {
                let line_column = e.location().map(|l| (l.line(), l.column()));
                let hint = line_column
                    .and_then(|(line, _)| yaml.lines().nth(line.saturating_sub(1)))
                    .filter(|l| l.contains(": {") || l.contains(":{"))
                    .map(|_| " (a value that starts with `{` must be quoted: '{userName}')")
                    .unwrap_or_default();
                let message = e.to_string();
                // serde_norway appends " at line L column C"; the position is kept apart.
                let message = message
                    .split(" at line ")
                    .next()
                    .unwrap_or(&message)
                    .to_owned();
                let mut problem = Problem::new(
                    ProblemKind::YamlSyntax,
                    None,
                    "",
                    format!("{message}{hint}"),
                );
                problem.line_column = line_column;
                self.problems.push(problem);
                return None;
            }
        };
        let mut set = RuleSet::identity();
        let mapping = match root {
            Yaml::Null => return Some(set),
            Yaml::Mapping(m) => m,
            other => {
                self.wrong_type(None, "", "a mapping with `users:` and/or `groups:`", &other);
                return None;
            }
        };
        let mut users = Vec::new();
        let mut groups = Vec::new();
        for (key, value) in mapping {
            let Yaml::String(key) = key else {
                self.wrong_type(None, "", "string keys", &key);
                continue;
            };
            match key.as_str() {
                "users" => users = self.rules(ResourceKind::User, value),
                "groups" => groups = self.rules(ResourceKind::Group, value),
                "scope" => set.scope = self.scope(value),
                other => {
                    let hint = match other {
                        "version" => {
                            " (the rule store assigns the version when the set is saved)".to_owned()
                        }
                        "rules" => " (put rules under `users:` or `groups:`)".to_owned(),
                        _ => suggestion(other, TOP_KEYS),
                    };
                    self.problem(
                        ProblemKind::UnknownKey,
                        None,
                        other,
                        format!(
                            "unknown key `{other}`{hint}; the document has `users`, `groups` and \
                             `scope`"
                        ),
                    );
                }
            }
        }
        let user_analysis = analyse(ResourceKind::User, &users, &mut self.problems);
        let group_analysis = analyse(ResourceKind::Group, &groups, &mut self.problems);
        set.derived = user_analysis
            .derived
            .into_iter()
            .map(|a| (ResourceKind::User, a))
            .chain(
                group_analysis
                    .derived
                    .into_iter()
                    .map(|a| (ResourceKind::Group, a)),
            )
            .collect();
        set.read_back_users = user_analysis.read_back;
        set.read_back_groups = group_analysis.read_back;
        set.users = users;
        set.groups = groups;
        Some(set)
    }

    fn rules(&mut self, kind: ResourceKind, value: Yaml) -> Vec<Rule> {
        let list = list_key(kind);
        let items = match value {
            Yaml::Null => return Vec::new(),
            Yaml::Sequence(items) => items,
            other => {
                self.wrong_type(None, list, "a list of rules", &other);
                return Vec::new();
            }
        };
        if items.len() > MAX_RULES {
            self.problem(
                ProblemKind::TooMany,
                None,
                list,
                format!(
                    "{} rules under `{list}`; the limit is {MAX_RULES}",
                    items.len()
                ),
            );
        }
        items
            .into_iter()
            .take(MAX_RULES)
            .enumerate()
            .filter_map(|(index, item)| self.rule(kind, index, item))
            .collect()
    }

    fn rule(&mut self, kind: ResourceKind, index: usize, item: Yaml) -> Option<Rule> {
        let mut id = RuleId {
            kind,
            index,
            name: None,
        };
        let Yaml::Mapping(mapping) = item else {
            self.wrong_type(
                Some(&id),
                "",
                "a rule (a mapping of `when:`, `set:`, …)",
                &item,
            );
            return None;
        };
        // The name first, so that every problem of the rule carries it.
        if let Some(name) = mapping.get("name") {
            match name {
                Yaml::String(name) => {
                    let ok = !name.trim().is_empty()
                        && name.chars().count() <= MAX_NAME_CHARS
                        && name.chars().all(|c| {
                            c.is_ascii_alphanumeric() || matches!(c, ' ' | '.' | '_' | '-')
                        });
                    if ok {
                        id.name = Some(Arc::from(name.as_str()));
                    } else {
                        self.problem(
                            ProblemKind::InvalidName,
                            Some(&id),
                            "name",
                            format!(
                                "a rule name is 1 to {MAX_NAME_CHARS} characters of A-Z a-z 0-9, \
                                 space, `.`, `_` and `-`"
                            ),
                        );
                    }
                }
                other => self.wrong_type(Some(&id), "name", "a string", other),
            }
        }
        if let Some(name) = id.name.as_deref() {
            match self.names.get(name) {
                Some(first) => {
                    let message = format!("the name `{name}` is already used by {first}");
                    self.problem(ProblemKind::DuplicateName, Some(&id), "name", message);
                }
                None => {
                    self.names.insert(name.to_owned(), id.clone());
                }
            }
        }
        let mut rule = Rule::new(id.clone());
        for (key, value) in mapping {
            let Yaml::String(key) = key else {
                self.wrong_type(Some(&id), "", "string keys", &key);
                continue;
            };
            match key.as_str() {
                "name" => {}
                "when" => {
                    rule.when = self.condition(&id, value);
                    rule.when_invalid = rule.when.is_none();
                }
                "set" => rule.set = self.templates(kind, &id, "set", value),
                "default" => rule.default = self.templates(kind, &id, "default", value),
                "copy" => rule.copy = self.pairs(kind, &id, "copy", value),
                "rename" => rule.rename = self.pairs(kind, &id, "rename", value),
                "remove" => rule.remove = self.removals(kind, &id, value),
                "skip" => match value {
                    Yaml::Bool(b) => rule.skip = b,
                    other => self.wrong_type(Some(&id), "skip", "true or false", &other),
                },
                "map" if kind == ResourceKind::Group => rule.map = self.map(&id, value),
                "map" => self.problem(
                    ProblemKind::UnknownKey,
                    Some(&id),
                    "map",
                    "`map` is for groups; change a user's attributes with `set`",
                ),
                other => {
                    let hint = suggestion(other, RULE_KEYS);
                    self.problem(
                        ProblemKind::UnknownKey,
                        Some(&id),
                        other,
                        format!(
                            "unknown key `{other}`{hint}; a rule has name, when, set, default, \
                             copy, rename, remove, skip{}",
                            if kind == ResourceKind::Group {
                                " and map"
                            } else {
                                ""
                            }
                        ),
                    );
                }
            }
        }
        if rule.skip && rule.has_action() && !only_skip(&rule) {
            self.problem(
                ProblemKind::Conflict,
                Some(&id),
                "skip",
                "a rule that skips does nothing else; move its other actions to a rule of their own",
            );
        }
        if !rule.has_action() && !self.problems.iter().any(|p| p.rule.as_ref() == Some(&id)) {
            let last = if kind == ResourceKind::Group {
                "`skip` or `map`"
            } else {
                "or `skip`"
            };
            self.problem(
                ProblemKind::NoAction,
                Some(&id),
                "",
                format!(
                    "the rule does nothing: give it `set`, `default`, `copy`, `rename`, \
                     `remove`, {last}"
                ),
            );
        }
        Some(rule)
    }

    fn condition(&mut self, id: &RuleId, value: Yaml) -> Option<Condition> {
        let Yaml::String(source) = value else {
            self.wrong_type(Some(id), "when", "a SCIM filter in quotes", &value);
            return None;
        };
        match parse_filter(&source) {
            Ok(filter) => Some(Condition { source, filter }),
            Err(e) => {
                let position = source
                    .char_indices()
                    .take_while(|(i, _)| *i < e.position)
                    .count();
                self.problems.push(
                    Problem::new(
                        ProblemKind::FilterSyntax,
                        Some(id),
                        "when",
                        format!("invalid SCIM filter: {}", e.kind),
                    )
                    .at(position),
                );
                None
            }
        }
    }

    /// The entries of a mapping, refusing one with more than [`MAX_ENTRIES`] or that is
    /// not a mapping.
    fn entries(
        &mut self,
        id: &RuleId,
        action: &str,
        value: Yaml,
        expected: &str,
    ) -> Vec<(String, Yaml)> {
        let mapping = match value {
            Yaml::Mapping(m) => m,
            other => {
                self.wrong_type(Some(id), action, expected, &other);
                return Vec::new();
            }
        };
        if mapping.len() > MAX_ENTRIES {
            self.problem(
                ProblemKind::TooMany,
                Some(id),
                action,
                format!(
                    "{} entries under `{action}`; the limit is {MAX_ENTRIES}",
                    mapping.len()
                ),
            );
        }
        let mut out = Vec::new();
        for (key, value) in mapping.into_iter().take(MAX_ENTRIES) {
            match key {
                Yaml::String(key) => out.push((key, value)),
                other => self.wrong_type(Some(id), action, "attribute names as keys", &other),
            }
        }
        out
    }

    fn path(
        &mut self,
        kind: ResourceKind,
        id: &RuleId,
        field: &str,
        text: &str,
        usage: Use,
    ) -> Option<AttrRef> {
        match AttrRef::parse(kind, text, usage) {
            Ok(path) => Some(path),
            Err(p) => {
                self.problem(p.kind, Some(id), field, p.message);
                None
            }
        }
    }

    fn templates(
        &mut self,
        kind: ResourceKind,
        id: &RuleId,
        action: &str,
        value: Yaml,
    ) -> Vec<(AttrRef, crate::expr::Template)> {
        let entries = self.entries(id, action, value, "a mapping of attribute: \"template\"");
        let mut out = Vec::new();
        for (key, value) in entries {
            let field = format!("{action}.{key}");
            let target = self.path(kind, id, &field, &key, Use::Write);
            let Yaml::String(source) = value else {
                self.wrong_type(Some(id), &field, "a quoted template", &value);
                continue;
            };
            match parse_template(&source, kind) {
                Ok(template) => {
                    let count = template.pattern_count();
                    self.patterns += count;
                    if count > 0 && self.patterns > MAX_PATTERNS {
                        self.problem(
                            ProblemKind::TooMany,
                            Some(id),
                            field,
                            format!("more than {MAX_PATTERNS} capture() patterns in the rule set"),
                        );
                    } else if let Some(target) = target {
                        out.push((target, template));
                    }
                }
                Err(e) => self
                    .problems
                    .push(Problem::new(e.kind, Some(id), field, e.message).at(e.position)),
            }
        }
        out
    }

    fn pairs(
        &mut self,
        kind: ResourceKind,
        id: &RuleId,
        action: &str,
        value: Yaml,
    ) -> Vec<(AttrRef, AttrRef)> {
        let entries = self.entries(id, action, value, "a mapping of to: from attribute names");
        let source_use = if action == "rename" {
            Use::Move
        } else {
            Use::Read
        };
        let mut out = Vec::new();
        for (key, value) in entries {
            let field = format!("{action}.{key}");
            let to = self.path(kind, id, &field, &key, Use::Write);
            let Yaml::String(from_text) = value else {
                self.wrong_type(Some(id), &field, "an attribute name", &value);
                continue;
            };
            let from = self.path(kind, id, &field, &from_text, source_use);
            if let (Some(to), Some(from)) = (to, from) {
                if to.key() == from.key() {
                    self.problem(
                        ProblemKind::Conflict,
                        Some(id),
                        field,
                        format!("`{to}` is {action}d onto itself, which does nothing"),
                    );
                } else {
                    out.push((to, from));
                }
            }
        }
        out
    }

    fn removals(&mut self, kind: ResourceKind, id: &RuleId, value: Yaml) -> Vec<AttrRef> {
        let items = match value {
            Yaml::Sequence(items) => items,
            other => {
                self.wrong_type(
                    Some(id),
                    "remove",
                    "a list of attribute names, e.g. [title]",
                    &other,
                );
                return Vec::new();
            }
        };
        if items.len() > MAX_ENTRIES {
            self.problem(
                ProblemKind::TooMany,
                Some(id),
                "remove",
                format!(
                    "{} entries under `remove`; the limit is {MAX_ENTRIES}",
                    items.len()
                ),
            );
        }
        let mut out = Vec::new();
        for (j, item) in items.into_iter().take(MAX_ENTRIES).enumerate() {
            let field = format!("remove[{j}]");
            match item {
                Yaml::String(text) => {
                    if let Some(path) = self.path(kind, id, &field, &text, Use::Remove) {
                        out.push(path);
                    }
                }
                other => self.wrong_type(Some(id), &field, "an attribute name", &other),
            }
        }
        out
    }

    fn map(&mut self, id: &RuleId, value: Yaml) -> Option<GroupMap> {
        let mapping = match value {
            Yaml::Mapping(m) => m,
            other => {
                self.wrong_type(
                    Some(id),
                    "map",
                    "a mapping of Okta name: Identity Center name",
                    &other,
                );
                return None;
            }
        };
        if mapping.len() > MAX_MAP_ENTRIES {
            self.problem(
                ProblemKind::TooMany,
                Some(id),
                "map",
                format!(
                    "{} entries under `map`; the limit is {MAX_MAP_ENTRIES}",
                    mapping.len()
                ),
            );
            return None;
        }
        let errors_before = self.problems.len();
        let mut entries = Vec::new();
        let mut targets: HashMap<String, String> = HashMap::new();
        for (key, value) in mapping {
            let (Yaml::String(from), Yaml::String(to)) = (&key, &value) else {
                let bad = if matches!(key, Yaml::String(_)) {
                    &value
                } else {
                    &key
                };
                self.wrong_type(Some(id), "map", "group names (strings)", bad);
                continue;
            };
            let field = format!("map.{from}");
            for name in [from, to] {
                if name.trim().is_empty() || name.chars().count() > MAX_DISPLAY_NAME_CHARS {
                    self.problem(
                        ProblemKind::InvalidMap,
                        Some(id),
                        field.clone(),
                        format!(
                            "group names are 1 to {MAX_DISPLAY_NAME_CHARS} characters, not blank"
                        ),
                    );
                }
            }
            if let Some(other) = targets.insert(to.to_lowercase(), from.clone()) {
                self.problem(
                    ProblemKind::InvalidMap,
                    Some(id),
                    field,
                    format!(
                        "`{from}` and `{other}` both map to `{to}` (ignoring case); a map must be \
                         one to one, or two Okta groups would become one Identity Center group"
                    ),
                );
            }
            entries.push((from.clone(), to.clone()));
        }
        if self.problems.len() > errors_before {
            return None;
        }
        let display_name = AttrRef::parse(ResourceKind::Group, "displayName", Use::Write).ok()?;
        Some(GroupMap::new(entries, display_name))
    }

    fn scope(&mut self, value: Yaml) -> Option<Scope> {
        let mapping = match value {
            Yaml::Mapping(m) => m,
            other => {
                self.wrong_type(
                    None,
                    "scope",
                    "a mapping with `events:` and/or `groups:`",
                    &other,
                );
                return None;
            }
        };
        let mut scope = Scope::default();
        for (key, value) in mapping {
            let Yaml::String(key) = key else {
                self.wrong_type(None, "scope", "string keys", &key);
                continue;
            };
            let field = format!("scope.{key}");
            if key == "app" {
                match value {
                    Yaml::String(app) if is_okta_id(&app) => scope.app = Some(app),
                    Yaml::String(app) => self.problem(
                        ProblemKind::InvalidScope,
                        None,
                        field,
                        format!(
                            "`{app}` is not an Okta app id (letters and digits, e.g. 0oa1b2c3d4)"
                        ),
                    ),
                    other => self.wrong_type(None, &field, "an Okta app id", &other),
                }
                continue;
            }
            if key == "delete_after_days" {
                match value.as_u64().and_then(|n| u32::try_from(n).ok()) {
                    Some(days) if days <= 3650 => scope.delete_after_days = Some(days),
                    _ => self.problem(
                        ProblemKind::InvalidScope,
                        None,
                        field,
                        "a whole number of days from 0 to 3650".to_owned(),
                    ),
                }
                continue;
            }
            let target = match key.as_str() {
                "events" => &mut scope.events,
                "groups" => &mut scope.groups,
                "delete" => &mut scope.delete,
                other => {
                    let hint = suggestion(other, SCOPE_KEYS);
                    self.problem(
                        ProblemKind::UnknownKey,
                        None,
                        field,
                        format!(
                            "unknown key `{other}`{hint}; `scope` has `events`, `groups`, `app`, \
                             `delete` and `delete_after_days`"
                        ),
                    );
                    continue;
                }
            };
            let Yaml::Sequence(items) = value else {
                self.wrong_type(None, &field, "a list of strings", &value);
                continue;
            };
            if items.len() > MAX_SCOPE_ENTRIES {
                self.problem(
                    ProblemKind::TooMany,
                    None,
                    field.clone(),
                    format!("{} entries; the limit is {MAX_SCOPE_ENTRIES}", items.len()),
                );
                continue;
            }
            for (j, item) in items.into_iter().enumerate() {
                let item_field = format!("{field}[{j}]");
                let Yaml::String(text) = item else {
                    self.wrong_type(None, &item_field, "a string", &item);
                    continue;
                };
                let valid = match key.as_str() {
                    "events" => is_event_type(&text),
                    "delete" => DELETABLE_KINDS.contains(&text.as_str()),
                    _ => !text.trim().is_empty() && text.chars().count() <= MAX_DISPLAY_NAME_CHARS,
                };
                if valid {
                    target.push(text);
                } else {
                    let message = match key.as_str() {
                        "events" => format!(
                            "`{text}` is not an Okta event type (dotted lower-case words, e.g. \
                             user.lifecycle.create)"
                        ),
                        "delete" => format!("`{text}` is neither `users` nor `groups`"),
                        _ => format!(
                            "a group is 1 to {MAX_DISPLAY_NAME_CHARS} characters, not blank"
                        ),
                    };
                    self.problem(ProblemKind::InvalidScope, None, item_field, message);
                }
            }
        }
        Some(scope)
    }
}

fn only_skip(rule: &Rule) -> bool {
    rule.map.is_none()
        && rule.rename.is_empty()
        && rule.copy.is_empty()
        && rule.set.is_empty()
        && rule.default.is_empty()
        && rule.remove.is_empty()
}

/// `user.lifecycle.create`: two or more dot-separated words of `a-z`, `0-9` and `_`.
/// What `scope.delete` may name.
const DELETABLE_KINDS: &[&str] = &["users", "groups"];

/// An Okta object id: letters and digits (e.g. `0oa1b2c3d4E5f6G7h8i9`).
fn is_okta_id(text: &str) -> bool {
    (1..=64).contains(&text.len()) && text.chars().all(|c| c.is_ascii_alphanumeric())
}

fn is_event_type(text: &str) -> bool {
    text.len() <= 128
        && text.split('.').count() >= 2
        && text.split('.').all(|w| {
            !w.is_empty()
                && w.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        })
}

fn suggestion(word: &str, known: &[&'static str]) -> String {
    closest(word, known.iter().copied())
        .map(|s| format!(" (did you mean `{s}`?)"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn arb_document() -> impl Strategy<Value = String> {
        let pieces = vec![
            "users:\n",
            "groups:\n",
            "scope:\n",
            "  - ",
            "    ",
            "name: a\n",
            "when: 'title pr'\n",
            "set: {title: '{lower(title)}'}\n",
            "set: {userName: '{upper(userName)}'}\n",
            "default: {displayName: '{name.givenName} {name.familyName}'}\n",
            "copy: {nickName: title}\n",
            "rename: {title: nickName}\n",
            "remove: [displayName]\n",
            "skip: true\n",
            "map: {A: B}\n",
            "events: [user.lifecycle.create]\n",
            "[",
            "]",
            "{",
            "}",
            ":",
            "'",
            "\"",
            "&a ",
            "*a",
            "!tag ",
            "- ",
            "\n",
            "x",
        ];
        prop::collection::vec(prop::sample::select(pieces), 0..30).prop_map(|v| v.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        #[test]
        fn loading_any_document_never_panics_and_refusals_name_an_error(yaml in arb_document()) {
            match RuleSet::load(&yaml) {
                Ok(loaded) => prop_assert!(loaded.warnings.iter().all(|w| !w.is_error())),
                Err(invalid) => prop_assert!(invalid.errors().next().is_some()),
            }
        }

        #[test]
        fn loading_arbitrary_text_never_panics(yaml in any::<String>()) {
            let _ = RuleSet::load(&yaml);
        }
    }

    #[test]
    fn an_empty_document_is_the_identity_set_and_scope_is_kept() {
        for yaml in ["", "# nothing\n", "{}", "users:\ngroups:\n"] {
            let loaded = RuleSet::load(yaml).unwrap();
            assert!(
                loaded.rule_set.rules(ResourceKind::User).is_empty(),
                "{yaml}"
            );
            assert!(loaded.rule_set.scope().is_none());
        }
        let loaded = RuleSet::load(
            "scope:\n  events: [user.lifecycle.create, group.user_membership.add]\n  groups: [Engineers]\n",
        )
        .unwrap();
        assert_eq!(
            loaded.rule_set.scope(),
            Some(&Scope {
                events: vec![
                    "user.lifecycle.create".into(),
                    "group.user_membership.add".into()
                ],
                groups: vec!["Engineers".into()],
                ..Scope::default()
            })
        );
        let loaded =
            RuleSet::load("scope:\n  app: 0oa1b2c3d4E5f6G7h8i9\n  delete: [users, groups]\n")
                .unwrap();
        let scope = loaded.rule_set.scope().unwrap();
        assert_eq!(scope.app.as_deref(), Some("0oa1b2c3d4E5f6G7h8i9"));
        assert_eq!(scope.delete, ["users", "groups"]);
        for bad in [
            "scope:\n  app: 'not an id!'\n",
            "scope:\n  app: [x]\n",
            "scope:\n  delete: [everything]\n",
        ] {
            let problems = RuleSet::load(bad).unwrap_err();
            assert!(!problems.problems.is_empty(), "{bad}");
        }
    }
}
