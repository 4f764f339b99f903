//! Invalid rule sets, one table row each: the document, and the one error it must give,
//! by kind, rule, field, position and message.

// Test helpers outside #[test] functions panic on a failed expectation, like asserts.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use rules::{Invalid, Problem, ProblemKind, RuleSet};

use ProblemKind::*;

/// One invalid document and the error it must give.
struct Case {
    /// What the row shows.
    what: &'static str,
    yaml: String,
    kind: ProblemKind,
    /// `users[0]`, `groups[1] "name"`, or empty for the document.
    rule: &'static str,
    field: &'static str,
    /// Character offset inside the expression or filter.
    position: Option<usize>,
    /// A part of the message that says exactly what is wrong.
    message: &'static str,
}

fn case(
    what: &'static str,
    yaml: impl Into<String>,
    kind: ProblemKind,
    rule: &'static str,
    field: &'static str,
    position: Option<usize>,
    message: &'static str,
) -> Case {
    Case {
        what,
        yaml: yaml.into(),
        kind,
        rule,
        field,
        position,
        message,
    }
}

/// A `users:` list with one rule that sets `attribute` to `template` (single-quoted).
fn set_user(attribute: &str, template: &str) -> String {
    format!(
        "users:\n  - set:\n      {attribute}: '{}'\n",
        template.replace('\'', "''")
    )
}

fn set_group(attribute: &str, template: &str) -> String {
    format!(
        "groups:\n  - set:\n      {attribute}: '{}'\n",
        template.replace('\'', "''")
    )
}

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

fn cases() -> Vec<Case> {
    let deep = format!(
        "{}title{}",
        "{".to_owned() + &"lower(".repeat(17),
        ")".repeat(17) + "}"
    );
    let long = format!("{{title}}{}", "x".repeat(1020));
    let long_pattern = format!("{{capture(title, \"{}\", 0)}}", "a".repeat(257));
    let nested_pattern = format!(
        "{{capture(title, \"{}a{}\", 0)}}",
        "(".repeat(20),
        ")".repeat(20)
    );
    let many_patterns = format!(
        "users:\n{}",
        (0..33)
            .map(|i| format!(
                "  - when: 'title eq \"{i}\"'\n    set:\n      nickName: '{{capture(title, \"(a)\", 1)}}'\n"
            ))
            .collect::<String>()
    );
    let many_rules = format!(
        "users:\n{}",
        "  - when: 'title pr'\n    set: {nickName: '{title}'}\n".repeat(201)
    );
    let huge = format!("# {}\nusers: []\n", "x".repeat(64 * 1024));
    let long_user_name = format!("{{userName}}{}", "@".repeat(128));
    vec![
        // ---- YAML and the document's shape
        case(
            "YAML syntax",
            "users: [",
            YamlSyntax,
            "",
            "",
            None,
            "did not find expected node content",
        ),
        case(
            "an unquoted value starting with { is a YAML flow mapping",
            "users:\n  - set: {displayName: {name.givenName} {name.familyName}}\n",
            YamlSyntax,
            "",
            "",
            None,
            "must be quoted",
        ),
        case(
            "an unquoted {attribute} parses as a mapping",
            "users:\n  - set:\n      displayName: {nickName}\n",
            WrongType,
            "users[0]",
            "set.displayName",
            None,
            "expected a quoted template, found a mapping (a value that starts with `{` must be quoted in YAML: '{userName}')",
        ),
        case(
            "YAML tags are refused",
            "users:\n  - set:\n      title: !Ref Title\n",
            WrongType,
            "users[0]",
            "set.title",
            None,
            "expected a quoted template, found a tagged value (!tag)",
        ),
        case(
            "too large",
            huge,
            DocumentTooLarge,
            "",
            "",
            None,
            "the limit is 65536",
        ),
        case(
            "the document is a list",
            "- set: {title: x}\n",
            WrongType,
            "",
            "",
            None,
            "expected a mapping with `users:` and/or `groups:`, found a list",
        ),
        case(
            "a version in the document",
            "version: 3\nusers: []\n",
            UnknownKey,
            "",
            "version",
            None,
            "unknown key `version` (the rule store assigns the version when the set is saved)",
        ),
        case(
            "a misspelt list",
            "user:\n  - skip: true\n",
            UnknownKey,
            "",
            "user",
            None,
            "unknown key `user` (did you mean `users`?)",
        ),
        case(
            "users is not a list",
            "users:\n  set: {title: x}\n",
            WrongType,
            "",
            "users",
            None,
            "expected a list of rules, found a mapping",
        ),
        case(
            "a misspelt rule key",
            "users:\n  - sett: {title: x}\n",
            UnknownKey,
            "users[0]",
            "sett",
            None,
            "unknown key `sett` (did you mean `set`?)",
        ),
        case(
            "map on users",
            "users:\n  - map: {a: b}\n",
            UnknownKey,
            "users[0]",
            "map",
            None,
            "`map` is for groups; change a user's attributes with `set`",
        ),
        case(
            "a rule that is not a mapping",
            "users:\n  - lowercase\n",
            WrongType,
            "users[0]",
            "",
            None,
            "expected a rule (a mapping of `when:`, `set:`, …), found a string",
        ),
        case(
            "remove takes a list",
            "users:\n  - remove: title\n",
            WrongType,
            "users[0]",
            "remove",
            None,
            "expected a list of attribute names, e.g. [title], found a string",
        ),
        case(
            "skip takes a boolean",
            "users:\n  - skip: 'yes'\n",
            WrongType,
            "users[0]",
            "skip",
            None,
            "expected true or false, found a string",
        ),
        case(
            "a number where a template belongs",
            "users:\n  - set: {title: 42}\n",
            WrongType,
            "users[0]",
            "set.title",
            None,
            "expected a quoted template, found a number",
        ),
        case(
            "a rule that does nothing",
            "users:\n  - name: nothing\n",
            NoAction,
            "users[0] \"nothing\"",
            "",
            None,
            "the rule does nothing",
        ),
        case(
            "a name with a slash",
            "users:\n  - name: a/b\n    skip: true\n",
            InvalidName,
            "users[0]",
            "name",
            None,
            "a rule name is 1 to 64 characters",
        ),
        case(
            "a name used twice",
            "users:\n  - {name: same, when: 'title pr', skip: true}\ngroups:\n  - {name: same, when: 'displayName pr', skip: true}\n",
            DuplicateName,
            "groups[0] \"same\"",
            "name",
            None,
            "the name `same` is already used by users[0] \"same\"",
        ),
        case(
            "too many rules",
            many_rules,
            TooMany,
            "",
            "users",
            None,
            "201 rules under `users`; the limit is 200",
        ),
        case(
            "a misspelt scope key",
            "scope:\n  event: [user.lifecycle.create]\n",
            UnknownKey,
            "",
            "scope.event",
            None,
            "unknown key `event` (did you mean `events`?)",
        ),
        case(
            "a scope event that is not an event type",
            "scope:\n  events: [user.lifecycle.create, User Created]\n",
            InvalidScope,
            "",
            "scope.events[1]",
            None,
            "`User Created` is not an Okta event type",
        ),
        // ---- expression syntax
        case(
            "unknown function",
            set_user("title", "{lowr(title)}"),
            UnknownFunction,
            "users[0]",
            "set.title",
            Some(1),
            "unknown function `lowr` (did you mean `lower`?)",
        ),
        case(
            "too few arguments",
            set_user("title", r#"x{replace(title, "a")}"#),
            WrongArity,
            "users[0]",
            "set.title",
            Some(2),
            "`replace` takes 3 arguments (replace(s, from, to)), found 2",
        ),
        case(
            "too many arguments",
            set_user("title", "{lower(title, nickName)}"),
            WrongArity,
            "users[0]",
            "set.title",
            Some(1),
            "`lower` takes 1 argument (lower(s)), found at least 2",
        ),
        case(
            "coalesce of one",
            set_user("title", "{coalesce(title)}"),
            WrongArity,
            "users[0]",
            "set.title",
            Some(1),
            "`coalesce` takes 2 to 16 arguments (coalesce(a, b, …)), found 1",
        ),
        case(
            "join of text",
            set_user("title", r#"{join(title, ",")}"#),
            TypeMismatch,
            "users[0]",
            "set.title",
            Some(6),
            "`join` expects a list for `list` (from split(s, sep)), found text",
        ),
        case(
            "a list interpolated",
            set_user("title", r#"{split(title, ",")}"#),
            TypeMismatch,
            "users[0]",
            "set.title",
            Some(1),
            "this is a list, which cannot be written as text",
        ),
        case(
            "an attribute where a number belongs",
            set_user("title", "{substring(title, nickName)}"),
            TypeMismatch,
            "users[0]",
            "set.title",
            Some(18),
            "`substring` expects a whole number written in the rule for `start`",
        ),
        case(
            "a number where text belongs",
            set_user("title", "{lower(3)}"),
            TypeMismatch,
            "users[0]",
            "set.title",
            Some(7),
            "`lower` expects text for `s`, found a number",
        ),
        case(
            "coalesce of a list and text",
            set_user(
                "title",
                r#"{join(coalesce(split(title, ","), nickName), " ")}"#,
            ),
            TypeMismatch,
            "users[0]",
            "set.title",
            Some(34),
            "the arguments of `coalesce` must all be of one type: this is text, the first is a list",
        ),
        case(
            "a negative length",
            set_user("title", "{substring(title, 0, -1)}"),
            TypeMismatch,
            "users[0]",
            "set.title",
            Some(21),
            "the length of `substring` must be 0 or more",
        ),
        case(
            "a decimal number",
            set_user("title", "{substring(title, 1.5)}"),
            ExpressionSyntax,
            "users[0]",
            "set.title",
            Some(18),
            "a number is whole digits only",
        ),
        case(
            "an unclosed {",
            set_user("title", "Dr {title"),
            ExpressionSyntax,
            "users[0]",
            "set.title",
            Some(3),
            "`{` is never closed (write `{{` for a literal brace)",
        ),
        case(
            "a stray }",
            set_user("title", "a}b"),
            ExpressionSyntax,
            "users[0]",
            "set.title",
            Some(1),
            "`}` without `{` (write `}}` for a literal brace)",
        ),
        case(
            "an empty {}",
            set_user("title", "a{ }"),
            ExpressionSyntax,
            "users[0]",
            "set.title",
            Some(1),
            "empty `{}`",
        ),
        case(
            "an unterminated string",
            set_user("title", r#"{lower("abc)}"#),
            ExpressionSyntax,
            "users[0]",
            "set.title",
            Some(7),
            "unterminated string",
        ),
        case(
            "an unexpected character in a call",
            set_user("title", "{lower(title]}"),
            ExpressionSyntax,
            "users[0]",
            "set.title",
            Some(12),
            "unexpected `]`; expected `,` or `)` in the call of `lower`",
        ),
        case(
            "an unexpected character for an expression",
            set_user("title", "{+title}"),
            ExpressionSyntax,
            "users[0]",
            "set.title",
            Some(1),
            "unexpected `+`; expected an attribute, a function call",
        ),
        case(
            "two expressions in one pair of braces",
            set_user("title", "{title nickName}"),
            ExpressionSyntax,
            "users[0]",
            "set.title",
            Some(7),
            "unexpected `n`; expected `}` to close the `{` at character 1",
        ),
        case(
            "too deep",
            set_user("title", &deep),
            ExpressionTooDeep,
            "users[0]",
            "set.title",
            Some(97),
            "function calls nest deeper than 16 levels",
        ),
        case(
            "too long",
            set_user("title", &long),
            ExpressionTooLong,
            "users[0]",
            "set.title",
            Some(1024),
            "the value is 1027 characters long; the limit is 1024",
        ),
        // ---- attributes in expressions and as targets
        case(
            "an unknown attribute read",
            set_user("title", "{givenName}"),
            UnknownAttribute,
            "users[0]",
            "set.title",
            Some(1),
            "`givenName` is not a User attribute",
        ),
        case(
            "an unknown sub-attribute",
            set_user("title", "{name.given}"),
            UnknownAttribute,
            "users[0]",
            "set.title",
            Some(1),
            "`name.given`: name has no sub-attribute `given`",
        ),
        case(
            "a complex attribute read as text",
            set_user("title", "{name}"),
            TypeMismatch,
            "users[0]",
            "set.title",
            Some(1),
            "`name` is complex; name one of its sub-attributes",
        ),
        case(
            "password is never read",
            set_user("title", "{password}"),
            RefusedAttribute,
            "users[0]",
            "set.title",
            Some(1),
            "rules may not read or write `password`",
        ),
        case(
            "writing password",
            set_user("password", "x"),
            RefusedAttribute,
            "users[0]",
            "set.password",
            None,
            "rules may not read or write `password`",
        ),
        case(
            "writing photos",
            set_user("photos.value", "https://x"),
            RefusedAttribute,
            "users[0]",
            "set.photos.value",
            None,
            "`photos.value`: Identity Center refuses photos",
        ),
        case(
            "writing ims",
            set_user("ims.value", "x"),
            RefusedAttribute,
            "users[0]",
            "set.ims.value",
            None,
            "Identity Center refuses ims",
        ),
        case(
            "writing x509Certificates",
            set_user("x509Certificates.value", "x"),
            RefusedAttribute,
            "users[0]",
            "set.x509Certificates.value",
            None,
            "Identity Center refuses x509Certificates",
        ),
        case(
            "writing entitlements",
            set_user("entitlements.value", "x"),
            RefusedAttribute,
            "users[0]",
            "set.entitlements.value",
            None,
            "Identity Center refuses entitlements",
        ),
        case(
            "writing groups",
            set_user("groups.value", "x"),
            RefusedAttribute,
            "users[0]",
            "set.groups.value",
            None,
            "`groups.value` is read-only: Identity Center assigns it",
        ),
        case(
            "writing id",
            set_user("id", "x"),
            RefusedAttribute,
            "users[0]",
            "set.id",
            None,
            "`id` is read-only: Identity Center assigns it",
        ),
        case(
            "writing meta",
            set_user("meta.created", "x"),
            RefusedAttribute,
            "users[0]",
            "set.meta.created",
            None,
            "`meta.created` is read-only",
        ),
        case(
            "writing manager.displayName",
            set_user(&format!("{ENTERPRISE}:manager.displayName"), "x"),
            RefusedAttribute,
            "users[0]",
            "set.urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.displayName",
            None,
            "Identity Center refuses manager.displayName",
        ),
        case(
            "writing emails.display",
            set_user("emails.display", "x"),
            RefusedAttribute,
            "users[0]",
            "set.emails.display",
            None,
            "`emails.display`: Identity Center refuses emails.display",
        ),
        case(
            "writing a whole multi-valued attribute",
            set_user("emails", "x"),
            TypeMismatch,
            "users[0]",
            "set.emails",
            None,
            "`emails` is multi-valued; name a sub-attribute such as `emails.value`",
        ),
        case(
            "copying into the whole of emails: never more than one email",
            "users:\n  - copy: {emails: title}\n",
            TypeMismatch,
            "users[0]",
            "copy.emails",
            None,
            "`emails` is multi-valued",
        ),
        case(
            "writing a boolean",
            set_user("active", "true"),
            TypeMismatch,
            "users[0]",
            "set.active",
            None,
            "`active` is a boolean; rules write text attributes only",
        ),
        case(
            "writing a custom extension",
            set_user("urn:okta:custom:1.0:User:costCode", "{title}"),
            UnknownAttribute,
            "users[0]",
            "set.urn:okta:custom:1.0:User:costCode",
            None,
            "Identity Center keeps only the core User attributes and the enterprise extension",
        ),
        case(
            "writing members",
            set_group("members.value", "x"),
            RefusedAttribute,
            "groups[0]",
            "set.members.value",
            None,
            "rules do not write group memberships",
        ),
        case(
            "a user attribute on a group",
            set_group("userName", "x"),
            UnknownAttribute,
            "groups[0]",
            "set.userName",
            None,
            "`userName` is not a Group attribute",
        ),
        case(
            "removing id",
            "users:\n  - remove: [id]\n",
            RefusedAttribute,
            "users[0]",
            "remove[0]",
            None,
            "`id` cannot be removed: Identity Center assigns it",
        ),
        // ---- when
        case(
            "a when that is not a filter",
            "users:\n  - when: 'userType eq'\n    skip: true\n",
            FilterSyntax,
            "users[0]",
            "when",
            Some(11),
            "invalid SCIM filter: unexpected end, expected a comparison value",
        ),
        case(
            "a when that is not a string",
            "users:\n  - when: 42\n    skip: true\n",
            WrongType,
            "users[0]",
            "when",
            None,
            "expected a SCIM filter in quotes, found a number",
        ),
        // ---- patterns
        case(
            "a pattern that does not compile",
            set_user("title", r#"{capture(title, "(", 1)}"#),
            InvalidPattern,
            "users[0]",
            "set.title",
            Some(16),
            "invalid pattern: unclosed group",
        ),
        case(
            "look-around, which the linear-time engine has not",
            set_user("title", r#"{capture(title, "a(?=b)", 0)}"#),
            InvalidPattern,
            "users[0]",
            "set.title",
            Some(16),
            "look-around",
        ),
        case(
            "an unbounded pattern: a repetition of a repetition",
            set_user("title", r#"{capture(title, "a{1000}{1000}", 0)}"#),
            PatternTooLarge,
            "users[0]",
            "set.title",
            Some(16),
            "the pattern compiles to more than 262144 bytes",
        ),
        case(
            "an oversized pattern: a Unicode class repeated",
            set_user("title", r#"{capture(title, "\w{100}", 0)}"#),
            PatternTooLarge,
            "users[0]",
            "set.title",
            Some(16),
            "(?-u:\\w) or [A-Za-z0-9_] is far smaller",
        ),
        case(
            "a pattern too long",
            set_user("title", &long_pattern),
            PatternTooLarge,
            "users[0]",
            "set.title",
            Some(16),
            "the pattern is 257 characters long; the limit is 256",
        ),
        case(
            "a pattern nested too deep",
            set_user("title", &nested_pattern),
            PatternTooLarge,
            "users[0]",
            "set.title",
            Some(16),
            "groups and repetitions nest deeper than 16 levels",
        ),
        case(
            "a group the pattern has not",
            set_user("title", r#"{capture(title, "(a)", 2)}"#),
            InvalidPattern,
            "users[0]",
            "set.title",
            Some(23),
            "the pattern has 1 capture group; group 2 does not exist",
        ),
        case(
            "a named group the pattern has not",
            set_user("title", r#"{capture(title, "(?P<x>a)", "y")}"#),
            InvalidPattern,
            "users[0]",
            "set.title",
            Some(28),
            "the pattern has no group named `y`",
        ),
        case(
            "a pattern computed at run time",
            set_user("title", "{capture(title, nickName, 1)}"),
            TypeMismatch,
            "users[0]",
            "set.title",
            Some(16),
            "the pattern of `capture` must be a \"string\" written in the rule",
        ),
        case(
            "too many patterns",
            many_patterns,
            TooMany,
            "users[32]",
            "set.nickName",
            None,
            "more than 32 capture() patterns in the rule set",
        ),
        // ---- what Identity Center requires
        case(
            "removing displayName",
            "users:\n  - remove: [displayName]\n",
            RequiredAttributeLost,
            "users[0]",
            "remove[0]",
            None,
            "this rule can leave a user without `displayName`, which Identity Center requires",
        ),
        case(
            "renaming displayName away",
            "users:\n  - rename: {nickName: displayName}\n",
            RequiredAttributeLost,
            "users[0]",
            "rename.nickName",
            None,
            "without `displayName`",
        ),
        case(
            "a conditional removal of familyName",
            "users:\n  - when: 'userType eq \"Bot\"'\n    remove: [name.familyName]\n",
            RequiredAttributeLost,
            "users[0]",
            "remove[0]",
            None,
            "without `name.familyName`",
        ),
        case(
            "removing a group's displayName",
            "groups:\n  - remove: [displayName]\n",
            RequiredAttributeLost,
            "groups[0]",
            "remove[0]",
            None,
            "this rule can leave a group without `displayName`",
        ),
        case(
            "a userName always longer than 128 characters",
            set_user("userName", &long_user_name),
            UserNameTooLong,
            "users[0]",
            "set.userName",
            None,
            "`userName` would be at least 129 characters long; Identity Center allows 128",
        ),
        // ---- conflicts and reachability
        case(
            "two unconditional rules set one attribute",
            "users:\n  - set: {title: '{userType}'}\n  - set: {title: 'Staff'}\n",
            Conflict,
            "users[1]",
            "set.title",
            None,
            "`title` is already written by users[0], unconditionally too",
        ),
        case(
            "one rule writes an attribute twice",
            "users:\n  - set: {title: 'Staff'}\n    copy: {title: userType}\n",
            Conflict,
            "users[0]",
            "set.title",
            None,
            "the rule writes `title` twice, by `copy` and by `set`",
        ),
        case(
            "one rule writes and removes an attribute",
            "users:\n  - set: {title: 'Staff'}\n    remove: [title]\n",
            Conflict,
            "users[0]",
            "remove[0]",
            None,
            "the rule removes `title` after its `set` writes `title`",
        ),
        case(
            "a skip with other actions",
            "users:\n  - skip: true\n    when: 'title pr'\n    set: {title: x}\n",
            Conflict,
            "users[0]",
            "skip",
            None,
            "a rule that skips does nothing else",
        ),
        case(
            "a copy onto itself",
            "users:\n  - copy: {title: title}\n",
            Conflict,
            "users[0]",
            "copy.title",
            None,
            "`title` is copyd onto itself",
        ),
        case(
            "a rule after an unconditional skip",
            "groups:\n  - {name: none, skip: true}\n  - set: {externalId: x}\n",
            Unreachable,
            "groups[1]",
            "",
            None,
            "no group reaches this rule: groups[0] \"none\" skips every group",
        ),
        // ---- read-back attributes
        case(
            "userName from another attribute",
            set_user("userName", "{emails.value}"),
            NotInvertible,
            "users[0]",
            "set.userName",
            None,
            "`userName` cannot be transformed this way: it reads `emails.value`, another attribute",
        ),
        case(
            "trim of userName",
            set_user("userName", "{trim(userName)}"),
            NotInvertible,
            "users[0]",
            "set.userName",
            None,
            "trim() is not invertible",
        ),
        case(
            "a conditional lower-casing",
            "users:\n  - when: 'userType eq \"Employee\"'\n    set: {userName: '{lower(userName)}'}\n",
            NotInvertible,
            "users[0]",
            "set.userName",
            None,
            "the rule has a `when:`, and the stored value does not say whether the condition held",
        ),
        case(
            "userName copied",
            "users:\n  - copy: {userName: emails.value}\n",
            NotInvertible,
            "users[0]",
            "copy.userName",
            None,
            "it is copied from `emails.value`",
        ),
        case(
            "userName renamed from another attribute",
            "users:\n  - rename: {userName: nickName}\n",
            NotInvertible,
            "users[0]",
            "rename.userName",
            None,
            "it is renamed from another attribute",
        ),
        case(
            "a default userName",
            "users:\n  - default: {userName: '{emails.value}'}\n",
            NotInvertible,
            "users[0]",
            "default.userName",
            None,
            "a default cannot be told apart from a value Okta sent",
        ),
        case(
            "userName twice in one value",
            set_user("userName", "{userName}-{userName}"),
            NotInvertible,
            "users[0]",
            "set.userName",
            None,
            "it interpolates more than one value",
        ),
        case(
            "a substring of userName",
            set_user("userName", "{substring(userName, 0, 20)}"),
            NotInvertible,
            "users[0]",
            "set.userName",
            None,
            "it keeps only part of the value",
        ),
        case(
            "a group name with spaces replaced",
            set_group("displayName", r#"{replace(displayName, " ", "-")}"#),
            NotInvertible,
            "groups[0]",
            "set.displayName",
            None,
            "replace() is not invertible",
        ),
        case(
            "one fixed group name",
            set_group("displayName", "All staff"),
            NotInvertible,
            "groups[0]",
            "set.displayName",
            None,
            "it is a fixed value: every resource would get the same displayName",
        ),
        case(
            "a conditional group map",
            "groups:\n  - when: 'externalId pr'\n    map: {Engineers: aws-engineers}\n",
            NotInvertible,
            "groups[0]",
            "map",
            None,
            "the rule has a `when:`",
        ),
        case(
            "a map that merges two groups",
            "groups:\n  - map: {Engineers: aws-eng, Developers: AWS-ENG}\n",
            InvalidMap,
            "groups[0]",
            "map.Developers",
            None,
            "`Developers` and `Engineers` both map to `AWS-ENG` (ignoring case); a map must be one to one",
        ),
        case(
            "a map to a blank name",
            "groups:\n  - map: {Engineers: ' '}\n",
            InvalidMap,
            "groups[0]",
            "map.Engineers",
            None,
            "group names are 1 to 1024 characters, not blank",
        ),
    ]
}

fn errors(invalid: &Invalid) -> Vec<&Problem> {
    invalid.errors().collect()
}

#[test]
fn every_invalid_rule_set_gives_exactly_its_error() {
    let cases = cases();
    assert!(cases.len() >= 90, "{} cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        // Act
        let result = RuleSet::load(&case.yaml);

        // Assert
        let Err(invalid) = result else {
            failures.push(format!("{}: loaded", case.what));
            continue;
        };
        let errors = errors(&invalid);
        let rule = |p: &Problem| p.rule.as_ref().map(ToString::to_string).unwrap_or_default();
        let matched = errors.len() == 1
            && errors.iter().all(|p| {
                p.kind == case.kind
                    && rule(p) == case.rule
                    && p.field == case.field
                    && p.position == case.position
                    && p.message.contains(case.message)
            });
        if !matched {
            failures.push(format!(
                "{}:\n    expected {:?} {:?} {:?} {:?} {:?}\n    got {}",
                case.what, case.kind, case.rule, case.field, case.position, case.message, invalid
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_problem_is_reported_at_once_in_document_order() {
    // Arrange: five problems in three places.
    let yaml = r#"
version: 1
groups:
  - set: {displayName: 'x-{lowr(displayName)}'}
users:
  - when: 'userType eq'
    skip: true
  - set:
      password: 'x'
      title: '{join(title, ",")}'
"#;

    // Act
    let invalid = RuleSet::load(yaml).unwrap_err();

    // Assert
    let summary: Vec<String> = invalid
        .problems
        .iter()
        .map(|p| {
            format!(
                "{} {} {}",
                p.kind,
                p.rule.as_ref().map(ToString::to_string).unwrap_or_default(),
                p.field
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            "unknown-key  version",
            "filter-syntax users[0] when",
            "refused-attribute users[1] set.password",
            "type-mismatch users[1] set.title",
            "unknown-function groups[0] set.displayName",
        ]
    );
    assert_eq!(
        invalid.to_string().lines().nth(5).unwrap_or_default(),
        "  error[unknown-function] groups[0], set.displayName, character 4: unknown function \
         `lowr` (did you mean `lower`?); the functions are lower, upper, trim, replace, capture, \
         split, join, coalesce, concat, substring"
    );
}

#[test]
fn a_yaml_syntax_error_names_its_line_and_column() {
    let invalid = RuleSet::load("users:\n  - set: {title: x\n").unwrap_err();
    let problem = &invalid.problems[0];
    assert_eq!(problem.kind, YamlSyntax);
    assert!(problem.line_column.is_some(), "{problem}");
    assert!(problem.to_string().contains("line "), "{problem}");
}

#[test]
fn a_billion_laughs_document_is_refused_not_expanded() {
    let yaml = r#"
a: &a ["x","x","x","x","x","x","x","x","x","x"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g,*g]
users: *h
"#;
    let invalid = RuleSet::load(yaml).unwrap_err();
    assert_eq!(invalid.problems[0].kind, YamlSyntax, "{invalid}");
}

#[test]
fn deeply_nested_yaml_is_refused_without_overflowing_the_stack() {
    let yaml = format!("users: {}{}", "[".repeat(10_000), "]".repeat(10_000));
    let invalid = RuleSet::load(&yaml).unwrap_err();
    assert_eq!(invalid.problems[0].kind, YamlSyntax, "{invalid}");
}
