//! The loaded rule model: [`RuleSet`] (the rules per resource type, the reserved
//! [`Scope`], and what load-time analysis derived from them), [`Rule`] and its actions,
//! and the group [`GroupMap`].
//!
//! A rule set is immutable once loaded and `Send + Sync`, so the gateway can share one
//! behind an `Arc` across requests.

use std::collections::{HashMap, HashSet};

use scim_core::{Filter, ResourceKind};

use crate::expr::Template;
use crate::path::AttrRef;
use crate::problem::RuleId;
use crate::readback::ReadBack;

/// A loaded, validated rule set. Build one with [`RuleSet::load`] (or
/// [`RuleSet::identity`]); apply it with [`RuleSet::apply`].
///
/// It carries no version: the rule store assigns versions when a set is saved, and the
/// document does not name its own.
#[derive(Debug, Clone)]
pub struct RuleSet {
    pub(crate) users: Vec<Rule>,
    pub(crate) groups: Vec<Rule>,
    pub(crate) scope: Option<Scope>,
    pub(crate) derived: Vec<(ResourceKind, String)>,
    pub(crate) read_back_users: ReadBack,
    pub(crate) read_back_groups: ReadBack,
}

impl RuleSet {
    /// The rule set with no rules: it changes nothing.
    pub fn identity() -> Self {
        Self {
            users: Vec::new(),
            groups: Vec::new(),
            scope: None,
            derived: Vec::new(),
            read_back_users: ReadBack::identity(ResourceKind::User),
            read_back_groups: ReadBack::identity(ResourceKind::Group),
        }
    }

    /// The rules for resources of `kind`, in the order they apply.
    pub fn rules(&self, kind: ResourceKind) -> &[Rule] {
        match kind {
            ResourceKind::User => &self.users,
            ResourceKind::Group => &self.groups,
        }
    }

    /// The `scope:` section, if the document has one: the event worker applies it
    /// (`gateway::events`); nothing in this crate does.
    pub fn scope(&self) -> Option<&Scope> {
        self.scope.as_ref()
    }

    /// The attributes Identity Center requires that this rule set fills in whenever a
    /// client leaves them out, per resource type: `(User, "displayName")` when a rule
    /// derives the display name from the given and family names. A client need not
    /// send them, so the gateway's `/Schemas` does not mark them required.
    pub fn derived_attributes(&self) -> &[(ResourceKind, String)] {
        &self.derived
    }

    /// How the rules transform `kind`'s read-back attribute (`userName`, a group's
    /// `displayName`), step by step.
    pub fn read_back(&self, kind: ResourceKind) -> &ReadBack {
        match kind {
            ResourceKind::User => &self.read_back_users,
            ResourceKind::Group => &self.read_back_groups,
        }
    }
}

impl Default for RuleSet {
    fn default() -> Self {
        Self::identity()
    }
}

/// The `scope:` section: what the Okta event-hook path acts on. Its keys are closed
/// (unknown keys are refused), so that giving new keys meaning later changes no
/// document that loads today. SCIM pushes from Okta are scoped by Okta's app
/// assignments, not by this.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    /// `events:` Okta event types, e.g. `user.lifecycle.create`, as written; empty: all
    /// the types the gateway acts on.
    pub events: Vec<String>,
    /// `groups:` Okta group names or ids, as written; empty: every group but Okta's
    /// built-in ones. When given, users are in scope through membership of one of them.
    pub groups: Vec<String>,
    /// `app:` an Okta app id: only users assigned to it are in scope.
    pub app: Option<String>,
    /// `delete:` `users` and/or `groups`: what a deletion in Okta deletes in Identity
    /// Center. Users not named are deactivated instead; groups not named are kept.
    pub delete: Vec<String>,
    /// `delete_after_days:` how long a user gone from Okta stays deactivated before
    /// reconciliation deletes it (with `delete: [users]`); the reconciler's default when
    /// absent.
    pub delete_after_days: Option<u32>,
}

impl Scope {
    /// Whether the scope lets `event_type` through.
    pub fn admits_event(&self, event_type: &str) -> bool {
        self.events.is_empty() || self.events.iter().any(|e| e == event_type)
    }

    /// Whether an Okta deletion of a user deletes it in Identity Center.
    pub fn deletes_users(&self) -> bool {
        self.delete.iter().any(|k| k == "users")
    }

    /// Whether an Okta deletion of a group deletes it in Identity Center.
    pub fn deletes_groups(&self) -> bool {
        self.delete.iter().any(|k| k == "groups")
    }
}

/// One rule: an optional condition, and what it does to the resources that meet it.
///
/// Within a rule, every value is computed from the resource as the rule found it; then
/// the rule writes, in this order: `rename`, `copy`, `set`, `default`, `map`, `remove`.
/// A `skip` rule does nothing else.
#[derive(Debug, Clone)]
pub struct Rule {
    pub(crate) id: RuleId,
    pub(crate) when: Option<Condition>,
    /// The rule has a `when:` that did not parse (only in a set that does not load).
    pub(crate) when_invalid: bool,
    pub(crate) rename: Vec<(AttrRef, AttrRef)>,
    pub(crate) copy: Vec<(AttrRef, AttrRef)>,
    pub(crate) set: Vec<(AttrRef, Template)>,
    pub(crate) default: Vec<(AttrRef, Template)>,
    pub(crate) map: Option<GroupMap>,
    pub(crate) remove: Vec<AttrRef>,
    pub(crate) skip: bool,
}

/// A parsed `when:` condition.
#[derive(Debug, Clone)]
pub(crate) struct Condition {
    pub(crate) source: String,
    pub(crate) filter: Filter,
}

impl Rule {
    pub(crate) fn new(id: RuleId) -> Self {
        Self {
            id,
            when: None,
            when_invalid: false,
            rename: Vec::new(),
            copy: Vec::new(),
            set: Vec::new(),
            default: Vec::new(),
            map: None,
            remove: Vec::new(),
            skip: false,
        }
    }

    /// Where the rule is, and its name.
    pub fn id(&self) -> &RuleId {
        &self.id
    }

    /// The `when:` condition as written, if the rule has one.
    pub fn when(&self) -> Option<&str> {
        self.when.as_ref().map(|c| c.source.as_str())
    }

    /// Whether the rule applies to every resource (it has no `when:`).
    pub fn is_unconditional(&self) -> bool {
        self.when.is_none() && !self.when_invalid
    }

    /// Whether the rule skips the resources it applies to.
    pub fn skips(&self) -> bool {
        self.skip
    }

    /// Every attribute the rule writes (`rename`, `copy`, `set` and `default` targets,
    /// and `displayName` for a `map`), with the action that writes it.
    pub(crate) fn writes(&self) -> Vec<(&'static str, &AttrRef)> {
        let mut out = Vec::new();
        out.extend(self.rename.iter().map(|(to, _)| ("rename", to)));
        out.extend(self.copy.iter().map(|(to, _)| ("copy", to)));
        out.extend(self.set.iter().map(|(to, _)| ("set", to)));
        out.extend(self.default.iter().map(|(to, _)| ("default", to)));
        if let Some(map) = &self.map {
            out.push(("map", &map.display_name));
        }
        out
    }

    /// Whether the rule has any action.
    pub(crate) fn has_action(&self) -> bool {
        self.skip
            || self.map.is_some()
            || !(self.rename.is_empty()
                && self.copy.is_empty()
                && self.set.is_empty()
                && self.default.is_empty()
                && self.remove.is_empty())
    }
}

/// A group `map:`: Okta display names to Identity Center display names, one to one.
///
/// A group whose name is a key gets the key's value. A group whose name is not a key but
/// equals one of the values ignoring case is not provisioned (the rule skips it): it would
/// land on the same Identity Center group as the key that maps there. Keys match exactly.
#[derive(Debug, Clone)]
pub struct GroupMap {
    pub(crate) entries: Vec<(String, String)>,
    by_key: HashMap<String, usize>,
    folded_values: HashSet<String>,
    pub(crate) display_name: AttrRef,
}

/// What a map does with one display name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mapped<'a> {
    /// Renamed to this.
    To(&'a str),
    /// Not a key: unchanged.
    Unchanged,
    /// Not a key, but equal to a value ignoring case: refused.
    Refused,
}

impl GroupMap {
    /// A map of `entries`, already checked to be one to one.
    pub(crate) fn new(entries: Vec<(String, String)>, display_name: AttrRef) -> Self {
        let by_key = entries
            .iter()
            .enumerate()
            .map(|(i, (k, _))| (k.clone(), i))
            .collect();
        let folded_values = entries.iter().map(|(_, v)| v.to_lowercase()).collect();
        Self {
            entries,
            by_key,
            folded_values,
            display_name,
        }
    }

    /// The entries, Okta name first, in document order.
    pub fn entries(&self) -> &[(String, String)] {
        &self.entries
    }

    pub(crate) fn lookup(&self, name: &str) -> Mapped<'_> {
        if let Some((_, to)) = self.by_key.get(name).and_then(|&i| self.entries.get(i)) {
            return Mapped::To(to);
        }
        if self.folded_values.contains(&name.to_lowercase()) {
            Mapped::Refused
        } else {
            Mapped::Unchanged
        }
    }
}
