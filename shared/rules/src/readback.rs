//! Read-back consistency: Okta sees what it sent, Identity Center holds what the rules
//! made.
//!
//! Okta looks resources up by, and reads back, one attribute per type: `userName` for
//! users, `displayName` for groups (the **read-back attributes**). When rules transform
//! one, the gateway must (a) rewrite Okta's filter `userName eq "X"` to the value stored
//! for X ([`RuleSet::outbound_filter_value`]) and (b) answer Okta with Okta's own value
//! for a stored one ([`RuleSet::inbound_value`]). So validation accepts only transforms
//! of these attributes that can be run both ways:
//!
//! - **exact** (invertible): a fixed prefix and/or suffix around the attribute itself
//!   (`"okta-{displayName}"`, `"{userName}@example.com"`), and a group `map:`, which is
//!   one to one and refuses the names that would merge two groups. The inbound value is
//!   exactly what Okta sent.
//! - **case-folding**: `lower(…)` and `upper(…)` of the attribute (with an affix or not).
//!   The outbound value is folded the same way, so look-ups find the stored value
//!   exactly; the inbound value is the folded one, which equals Okta's ignoring case.
//!   `userName` compares without case (RFC 7643 §4.1.1), and so does a group's
//!   `displayName` (`caseExact: false`, RFC 7643 §8.7.1), so Okta's matching holds. On a
//!   write the gateway can answer with the value Okta sent in the request.
//!
//! Everything else is refused at load time (`not-invertible`): a conditional transform
//! (the stored value does not say whether the condition held), a value copied or
//! computed from other attributes, `trim`, `replace`, `capture`, `split`, `substring`,
//! `coalesce`, a `default` of the attribute, and a fixed value. Answering those would
//! need the gateway to record Okta's original value for every resource, which it does
//! not do today.
//!
//! Steps compose in rule order. The outbound direction runs the very templates and maps
//! the rules apply, on the attribute alone; the inbound direction undoes them in reverse
//! and then checks that running them forward again gives the stored value, so
//! `inbound_value(s) == Some(o)` always implies `outbound_filter_value(o) == Some(s)`.

use scim_core::ResourceKind;
use serde_json::{Map, Value};

use crate::expr::eval::is_blank;
use crate::expr::{Expr, Part, Template};
use crate::path::{AttrRef, Use};
use crate::problem::RuleId;
use crate::rule::{GroupMap, Mapped, RuleSet};

/// The read-back attribute of `kind`: `userName` or `displayName`.
pub fn read_back_attribute(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::User => "userName",
        ResourceKind::Group => "displayName",
    }
}

/// One elementary transform of a read-back attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transform {
    /// `lower(…)`: case-folding.
    Lower,
    /// `upper(…)`: case-folding.
    Upper,
    /// Fixed text before and after: exact.
    Affix {
        /// Text before the value.
        prefix: String,
        /// Text after the value.
        suffix: String,
    },
    /// A group `map:`, Okta name first: exact.
    Map(Vec<(String, String)>),
}

impl Transform {
    /// Whether the transform loses case (so the inbound value equals Okta's only
    /// ignoring case).
    pub fn is_case_folding(&self) -> bool {
        matches!(self, Transform::Lower | Transform::Upper)
    }

    fn fold(&self, s: &str) -> String {
        match self {
            Transform::Lower => s.to_lowercase(),
            Transform::Upper => s.to_uppercase(),
            _ => s.to_owned(),
        }
    }
}

/// One rule's transform of the read-back attribute.
#[derive(Debug, Clone)]
pub struct Step {
    /// The rule.
    pub rule: RuleId,
    /// Its transforms, innermost first (`"x-{lower(userName)}"` is `[Lower, Affix]`).
    pub transforms: Vec<Transform>,
    action: StepAction,
}

#[derive(Debug, Clone)]
enum StepAction {
    Set(Template),
    Map(GroupMap),
}

/// How a rule set transforms one resource type's read-back attribute.
#[derive(Debug, Clone)]
pub struct ReadBack {
    kind: ResourceKind,
    steps: Vec<Step>,
}

impl ReadBack {
    pub(crate) fn identity(kind: ResourceKind) -> Self {
        Self {
            kind,
            steps: Vec::new(),
        }
    }

    /// The attribute: `userName` or `displayName`.
    pub fn attribute(&self) -> &'static str {
        read_back_attribute(self.kind)
    }

    /// The transforming rules, in order.
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// Whether no rule changes the attribute.
    pub fn is_identity(&self) -> bool {
        self.steps.is_empty()
    }

    /// Whether the inbound value is always exactly Okta's (no case-folding step).
    pub fn is_exact(&self) -> bool {
        !self
            .steps
            .iter()
            .flat_map(|s| &s.transforms)
            .any(Transform::is_case_folding)
    }

    pub(crate) fn push_set(
        &mut self,
        rule: RuleId,
        transforms: Vec<Transform>,
        template: Template,
    ) {
        self.steps.push(Step {
            rule,
            transforms,
            action: StepAction::Set(template),
        });
    }

    pub(crate) fn push_map(&mut self, rule: RuleId, map: GroupMap) {
        self.steps.push(Step {
            rule,
            transforms: vec![Transform::Map(map.entries.clone())],
            action: StepAction::Map(map),
        });
    }

    /// The value Identity Center holds for a resource Okta sent with `okta_value`, or
    /// `None` when the rules refuse such a resource (a group named like a map target).
    pub fn forward(&self, okta_value: &str) -> Option<String> {
        let attr = self.attribute();
        let mut current = okta_value.to_owned();
        for step in &self.steps {
            match &step.action {
                StepAction::Set(template) => {
                    let mut object = Map::new();
                    object.insert(attr.to_owned(), Value::String(current.clone()));
                    let resource = Value::Object(object);
                    if let Some(value) = template.render(&resource) {
                        current = value.into_owned();
                    }
                }
                StepAction::Map(map) => {
                    if is_blank(&current) || current.len() > crate::limits::MAX_VALUE_BYTES {
                        continue;
                    }
                    match map.lookup(&current) {
                        Mapped::To(to) => current = to.to_owned(),
                        Mapped::Unchanged => {}
                        Mapped::Refused => return None,
                    }
                }
            }
        }
        Some(current)
    }

    /// The value Okta sent for a resource Identity Center holds with `stored`, or `None`
    /// when no value Okta could send is stored as `stored` (a resource made outside the
    /// gateway, or before the rules changed).
    pub fn backward(&self, stored: &str) -> Option<String> {
        let undone = self.undo(stored);
        let verified = |candidate: &str| self.forward(candidate).as_deref() == Some(stored);
        match undone {
            Some(candidate) if verified(&candidate) => Some(candidate),
            // Values the rules leave alone (blank ones) are their own inverse.
            _ => verified(stored).then(|| stored.to_owned()),
        }
    }

    /// The transforms undone in reverse order, unverified.
    fn undo(&self, stored: &str) -> Option<String> {
        let flat: Vec<&Transform> = self.steps.iter().flat_map(|s| &s.transforms).collect();
        let mut candidate = stored.to_owned();
        for (i, transform) in flat.iter().enumerate().rev() {
            let later = flat.get(i + 1..).unwrap_or_default();
            let fold = |s: &str| later.iter().fold(s.to_owned(), |acc, t| t.fold(&acc));
            match transform {
                Transform::Lower | Transform::Upper => {}
                Transform::Affix { prefix, suffix } => {
                    let (prefix, suffix) = (fold(prefix), fold(suffix));
                    candidate = candidate
                        .strip_prefix(prefix.as_str())?
                        .strip_suffix(suffix.as_str())?
                        .to_owned();
                }
                Transform::Map(entries) => {
                    if let Some((key, _)) = entries.iter().find(|(_, v)| fold(v) == candidate) {
                        candidate = key.clone();
                    }
                }
            }
        }
        Some(candidate)
    }
}

/// Why a transform of a read-back attribute is refused, or the transforms it is.
pub(crate) fn classify(template: &Template, attribute: &str) -> Result<Vec<Transform>, String> {
    let mut prefix = String::new();
    let mut suffix = String::new();
    let mut inner = None;
    for part in &template.parts {
        match (part, &inner) {
            (Part::Lit(s), None) => prefix.push_str(s),
            (Part::Lit(s), Some(_)) => suffix.push_str(s),
            (Part::Expr(e), None) => inner = Some(e),
            (Part::Expr(_), Some(_)) => {
                return Err(format!(
                    "it interpolates more than one value; only `{attribute}` itself, with fixed \
                     text around it, can be reversed"
                ));
            }
        }
    }
    let Some(mut expr) = inner else {
        return Err(format!(
            "it is a fixed value: every resource would get the same {attribute}"
        ));
    };
    let mut folds = Vec::new();
    loop {
        match expr {
            Expr::Lower(e) => {
                folds.push(Transform::Lower);
                expr = e;
            }
            Expr::Upper(e) => {
                folds.push(Transform::Upper);
                expr = e;
            }
            Expr::Attr(path) if path.is_core(attribute) => break,
            Expr::Attr(path) => {
                return Err(format!(
                    "it reads `{path}`, another attribute, so Okta's `{attribute}` cannot be \
                     recovered from the stored value"
                ));
            }
            Expr::Trim(_) => {
                return Err(
                    "trim() is not invertible: \" a\" and \"a\" would both be stored as \"a\""
                        .to_owned(),
                );
            }
            Expr::Replace(_) => {
                return Err(
                    "replace() is not invertible: the replaced text may already have \
                            been in the value"
                        .to_owned(),
                );
            }
            Expr::Capture { .. } | Expr::Split { .. } | Expr::Substring { .. } => {
                return Err("it keeps only part of the value, which cannot be reversed".to_owned());
            }
            Expr::Join { .. } => {
                return Err("join() of split() is not invertible".to_owned());
            }
            Expr::Coalesce(_) => {
                return Err(
                    "coalesce() may take another value, which cannot be reversed".to_owned(),
                );
            }
            Expr::Lit(_) | Expr::Concat(_) => {
                return Err(format!(
                    "write fixed text outside the braces, as in \"prefix-{{{attribute}}}\""
                ));
            }
        }
    }
    folds.reverse();
    if !(prefix.is_empty() && suffix.is_empty()) {
        folds.push(Transform::Affix { prefix, suffix });
    }
    Ok(folds)
}

impl RuleSet {
    /// The value to put in a filter sent to Identity Center for Okta's
    /// `attribute eq "okta_value"`: the value the rules store for a resource Okta sent
    /// with `okta_value`.
    ///
    /// - For the read-back attribute, its forward transform (see the module docs);
    ///   `None` when the rules refuse any resource with that value, so the filter
    ///   matches nothing.
    /// - For an attribute no rule writes or removes, `okta_value` unchanged.
    /// - For any other attribute, `None`: the filter cannot be rewritten, and the gateway
    ///   has to evaluate it itself.
    pub fn outbound_filter_value(
        &self,
        kind: ResourceKind,
        attribute: &str,
        okta_value: &str,
    ) -> Option<String> {
        if is_read_back(kind, attribute) {
            return self.read_back(kind).forward(okta_value);
        }
        (!self.touches(kind, attribute)).then(|| okta_value.to_owned())
    }

    /// The value to answer Okta with for `attribute` when Identity Center holds
    /// `stored_value`: for the read-back attribute, the inverse transform (`None` when no
    /// value Okta could send is stored so); for an attribute no rule writes or removes,
    /// `stored_value`; otherwise `None`, since the rules do not say what Okta sent.
    pub fn inbound_value(
        &self,
        kind: ResourceKind,
        attribute: &str,
        stored_value: &str,
    ) -> Option<String> {
        if is_read_back(kind, attribute) {
            return self.read_back(kind).backward(stored_value);
        }
        (!self.touches(kind, attribute)).then(|| stored_value.to_owned())
    }

    /// Whether any rule for `kind` writes, renames or removes `attribute` (or what holds
    /// it).
    fn touches(&self, kind: ResourceKind, attribute: &str) -> bool {
        let Ok(path) = AttrRef::parse(kind, attribute, Use::Remove) else {
            return false;
        };
        self.rules(kind).iter().any(|rule| {
            rule.writes()
                .into_iter()
                .map(|(_, to)| to)
                .chain(rule.rename.iter().map(|(_, from)| from))
                .chain(&rule.remove)
                .any(|p| p.covers(&path) || path.covers(p))
        })
    }
}

fn is_read_back(kind: ResourceKind, attribute: &str) -> bool {
    AttrRef::parse(kind, attribute, Use::Remove).is_ok_and(|p| p.is_core(read_back_attribute(kind)))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use scim_core::ResourceKind::{Group, User};
    use serde_json::json;

    use super::*;

    fn rules(yaml: &str) -> RuleSet {
        RuleSet::load(yaml)
            .unwrap_or_else(|e| panic!("{e}"))
            .rule_set
    }

    fn out(set: &RuleSet, kind: ResourceKind, value: &str) -> Option<String> {
        set.outbound_filter_value(kind, read_back_attribute(kind), value)
    }

    fn back(set: &RuleSet, kind: ResourceKind, value: &str) -> Option<String> {
        set.inbound_value(kind, read_back_attribute(kind), value)
    }

    #[test]
    fn case_folding_then_a_prefix_composes_and_reverses() {
        let set = rules(
            "users:\n  - set: {userName: '{lower(userName)}'}\n  - set: {userName: 'corp-{userName}'}\n",
        );
        assert_eq!(
            set.read_back(User)
                .steps()
                .iter()
                .map(|s| s.transforms.clone())
                .collect::<Vec<_>>(),
            vec![
                vec![Transform::Lower],
                vec![Transform::Affix {
                    prefix: "corp-".into(),
                    suffix: String::new()
                }]
            ]
        );
        assert_eq!(out(&set, User, "Jane@X"), Some("corp-jane@x".into()));
        assert_eq!(back(&set, User, "corp-jane@x"), Some("jane@x".into()));
        // Not in the image of the rules: no Okta value is stored so.
        assert_eq!(back(&set, User, "corp-Jane@x"), None);
        assert_eq!(back(&set, User, "jane@x"), None);
        assert!(!set.read_back(User).is_exact());
    }

    #[test]
    fn a_fold_after_an_affix_folds_the_affix_too() {
        let set = rules(
            "users:\n  - set: {userName: 'x-{userName}'}\n  - set: {userName: '{upper(userName)}'}\n",
        );
        assert_eq!(out(&set, User, "jane"), Some("X-JANE".into()));
        assert_eq!(back(&set, User, "X-JANE"), Some("JANE".into()));
    }

    #[test]
    fn a_map_is_one_to_one_through_chains_and_refuses_the_names_that_would_merge() {
        let set =
            rules("groups:\n  - map: {A: B, B: C}\n  - set: {displayName: '{displayName}-aws'}\n");
        assert_eq!(out(&set, Group, "A"), Some("B-aws".into()));
        assert_eq!(out(&set, Group, "B"), Some("C-aws".into()));
        assert_eq!(out(&set, Group, "Z"), Some("Z-aws".into()));
        // `C` is a target without being a key: such a group is refused, so a filter for it
        // matches nothing.
        assert_eq!(out(&set, Group, "C"), None);
        assert_eq!(out(&set, Group, "c"), None);
        assert_eq!(back(&set, Group, "B-aws"), Some("A".into()));
        assert_eq!(back(&set, Group, "C-aws"), Some("B".into()));
        assert_eq!(back(&set, Group, "Z-aws"), Some("Z".into()));
        assert_eq!(back(&set, Group, "A-aws"), None);
        assert!(set.read_back(Group).is_exact());
    }

    #[test]
    fn other_attributes_pass_unless_a_rule_touches_them() {
        let set = rules(
            "users:\n  - set: {title: 'Dr {title}'}\n    remove: [name.middleName]\n  - remove: [addresses]\n",
        );
        assert_eq!(
            set.outbound_filter_value(User, "externalId", "x"),
            Some("x".into())
        );
        assert_eq!(
            set.inbound_value(User, "name.givenName", "x"),
            Some("x".into())
        );
        assert_eq!(set.outbound_filter_value(User, "title", "x"), None);
        assert_eq!(set.inbound_value(User, "TITLE", "x"), None);
        assert_eq!(set.inbound_value(User, "name.middleName", "x"), None);
        assert_eq!(set.inbound_value(User, "addresses.locality", "x"), None);
        // The read-back attribute under any spelling, and an identity transform of it.
        assert_eq!(
            set.outbound_filter_value(
                User,
                "urn:ietf:params:scim:schemas:core:2.0:User:USERNAME",
                "Q"
            ),
            Some("Q".into())
        );
        assert!(set.read_back(User).is_identity());
    }

    #[test]
    fn a_blank_value_is_left_as_it_is_both_ways_as_apply_leaves_it() {
        let set = rules("groups:\n  - set: {displayName: 'okta-{displayName}'}\n");
        assert_eq!(out(&set, Group, " "), Some(" ".into()));
        let applied = set.apply_group(&json!({"displayName": " "}));
        assert_eq!(applied.resource["displayName"], " ");
    }

    #[derive(Debug, Clone)]
    enum Op {
        Lower,
        Upper,
        Affix(String, String),
        Map(Vec<(String, String)>),
    }

    fn arb_ops(kind: ResourceKind, folds: bool) -> impl Strategy<Value = Vec<Op>> {
        let affix = ("[a-z0-9._-]{0,3}", "[A-Z0-9._-]{0,3}").prop_map(|(p, s)| Op::Affix(p, s));
        let map =
            prop::collection::btree_map("[a-cA-C]{1,2}", "[a-cA-C]{1,2}", 1..4).prop_map(|m| {
                // One to one ignoring case: drop entries whose target repeats.
                let mut seen = std::collections::HashSet::new();
                Op::Map(
                    m.into_iter()
                        .filter(|(_, v)| seen.insert(v.to_lowercase()))
                        .collect(),
                )
            });
        let op = match (kind, folds) {
            (Group, true) => prop_oneof![Just(Op::Lower), Just(Op::Upper), affix, map].boxed(),
            (Group, false) => prop_oneof![affix, map].boxed(),
            (User, true) => prop_oneof![Just(Op::Lower), Just(Op::Upper), affix].boxed(),
            (User, false) => affix.boxed(),
        };
        prop::collection::vec(op, 1..5)
    }

    fn yaml(kind: ResourceKind, ops: &[Op]) -> String {
        let attr = read_back_attribute(kind);
        let mut doc = format!("{}:\n", crate::problem::list_key(kind));
        for op in ops {
            let line = match op {
                Op::Lower => format!("  - set: {{{attr}: '{{lower({attr})}}'}}\n"),
                Op::Upper => format!("  - set: {{{attr}: '{{upper({attr})}}'}}\n"),
                Op::Affix(p, s) => format!("  - set: {{{attr}: '{p}{{{attr}}}{s}'}}\n"),
                Op::Map(entries) => {
                    let body: Vec<String> = entries
                        .iter()
                        .map(|(k, v)| format!("'{k}': '{v}'"))
                        .collect();
                    format!("  - map: {{{}}}\n", body.join(", "))
                }
            };
            doc.push_str(&line);
        }
        doc
    }

    fn arb_rules(folds: bool) -> impl Strategy<Value = (ResourceKind, Vec<Op>)> {
        prop_oneof![Just(User), Just(Group)]
            .prop_flat_map(move |kind| (Just(kind), arb_ops(kind, folds)))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]

        #[test]
        fn exact_transforms_round_trip_to_okta_s_own_value(
            (kind, ops) in arb_rules(false),
            value in "[a-zA-Z0-9@._ -]{0,12}",
        ) {
            let set = rules(&yaml(kind, &ops));
            prop_assert!(set.read_back(kind).is_exact());
            if let Some(stored) = out(&set, kind, &value) {
                prop_assert_eq!(back(&set, kind, &stored), Some(value.clone()));
                // The forward transform is what apply does.
                let attr = read_back_attribute(kind);
                let applied = set.apply(kind, &json!({ attr: value }));
                prop_assert_eq!(applied.resource[attr].as_str(), Some(stored.as_str()));
            }
        }

        #[test]
        fn case_folding_transforms_round_trip_ignoring_case(
            (kind, ops) in arb_rules(true),
            value in "[a-zA-Z0-9@._-]{1,12}",
        ) {
            let set = rules(&yaml(kind, &ops));
            if let Some(stored) = out(&set, kind, &value) {
                let okta = back(&set, kind, &stored);
                prop_assert!(okta.is_some(), "{} -> {} has no inverse", value, stored);
                let okta = okta.unwrap_or_default();
                prop_assert_eq!(okta.to_lowercase(), value.to_lowercase());
                prop_assert_eq!(out(&set, kind, &okta), Some(stored));
            }
        }

        #[test]
        fn an_inbound_value_always_maps_back_to_the_stored_one(
            (kind, ops) in arb_rules(true),
            stored in "\\PC{0,10}",
        ) {
            let set = rules(&yaml(kind, &ops));
            if let Some(okta) = back(&set, kind, &stored) {
                prop_assert_eq!(out(&set, kind, &okta), Some(stored));
            }
        }
    }
}
