//! `scimgw rules` on the in-memory store: argument parsing, `validate`'s exit codes on
//! the examples, `apply` refusing an invalid document and losing a race, `list`,
//! `history` and `rollback`, `diff`, and `test` on the examples.

use std::sync::atomic::{AtomicU32, Ordering};

use async_trait::async_trait;
use clap::Parser;
use gateway::rule_store::{Activation, InMemoryRuleStore, RuleHistory, StoredRuleSet};

use super::*;

#[derive(Debug, Parser)]
struct Wrapper {
    #[command(flatten)]
    args: RulesArgs,
}

fn parse(argv: &[&str]) -> Result<RulesArgs, clap::Error> {
    let mut all = vec!["rules"];
    all.extend_from_slice(argv);
    Wrapper::try_parse_from(all).map(|w| w.args)
}

fn example(name: &str) -> String {
    format!("{}/../examples/rules/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// A file with `text` in the temporary directory; its path.
fn file(name: &str, text: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "scimgw-rules-test-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// What a command printed and answered.
struct Ran {
    code: Result<u8, String>,
    out: String,
    err: String,
}

async fn run_on(store: Option<&dyn RuleStore>, argv: &[&str]) -> Ran {
    let args = parse(argv).unwrap();
    let mut out = Vec::new();
    let mut err = Vec::new();
    let code = execute(&args.command, store, &mut out, &mut err)
        .await
        .map_err(|e| format!("{e:#}"));
    Ran {
        code,
        out: String::from_utf8(out).unwrap(),
        err: String::from_utf8(err).unwrap(),
    }
}

const INVALID: &str =
    "users:\n  - name: broken\n    set:\n      userName: '{lowr(userName)}'\n    sett: {}\n";

#[test]
fn commands_and_their_options_parse() {
    let args = parse(&[
        "apply",
        "rules.yaml",
        "--note",
        "prefix groups",
        "--author",
        "ada",
        "--table",
        "scimgw-state",
        "--aws-endpoint",
        "http://127.0.0.1:5000",
        "--region",
        "eu-west-1",
    ])
    .unwrap();
    assert_eq!(args.store.table.as_deref(), Some("scimgw-state"));
    assert_eq!(args.store.region.as_deref(), Some("eu-west-1"));
    let RulesCommand::Apply(apply) = args.command else {
        panic!("not apply")
    };
    assert_eq!(apply.file.file, PathBuf::from("rules.yaml"));
    assert_eq!(apply.note.as_deref(), Some("prefix groups"));
    assert_eq!(apply.author.author.as_deref(), Some("ada"));

    let args = parse(&["--table", "t", "rollback", "v3"]).unwrap();
    let RulesCommand::Rollback(rollback) = args.command else {
        panic!("not rollback")
    };
    assert_eq!(rollback.version, RuleVersion::new(3).unwrap());

    let args = parse(&["test", "r.yaml", "--input", "g.json", "--kind", "group"]).unwrap();
    let RulesCommand::Test(test) = &args.command else {
        panic!("not test")
    };
    assert_eq!(test.kind, Some(KindArg::Group));
    assert!(!args.command.needs_store());
    assert!(parse(&["list"]).unwrap().command.needs_store());
    assert!(matches!(
        parse(&["validate", "f", "--format", "json"])
            .unwrap()
            .command,
        RulesCommand::Validate(ValidateArgs {
            format: ValidateFormat::Json,
            ..
        })
    ));

    for argv in [
        &["validate"][..],
        &["rollback", "three"],
        &["rollback", "v0"],
        &["test", "r.yaml"],
        &["test", "r.yaml", "--input", "u.json", "--kind", "role"],
        &["apply"],
        &["remove", "v1"],
    ] {
        assert!(parse(argv).is_err(), "{argv:?}");
    }
}

#[tokio::test]
async fn every_example_validates_with_exit_0() {
    for name in [
        "cost-center.yaml",
        "display-name-from-names.yaml",
        "exclude-contractors.yaml",
        "group-prefix.yaml",
        "lowercase-username.yaml",
    ] {
        let path = example(name);
        let ran = run_on(None, &["validate", &path]).await;
        assert_eq!(ran.code, Ok(DONE), "{name}: {}", ran.out);
        assert!(
            ran.out.starts_with(&format!("{path}: valid (")),
            "{}",
            ran.out
        );
    }
    // A warning is printed and does not fail validation.
    let ran = run_on(None, &["validate", &example("lowercase-username.yaml")]).await;
    assert!(ran.out.contains("1 warning"), "{}", ran.out);
    assert!(
        ran.out
            .contains("  warning[user-name-changed] users[0] \"lowercase-username\""),
        "{}",
        ran.out
    );
}

#[tokio::test]
async fn an_invalid_document_exits_1_with_every_problem_and_a_missing_file_errs() {
    // Arrange
    let path = file("invalid.yaml", INVALID);

    // Act
    let ran = run_on(None, &["validate", &path]).await;
    let json = run_on(None, &["validate", &path, "--format", "json"]).await;
    let missing = run_on(None, &["validate", "/nonexistent/rules.yaml"]).await;

    // Assert
    assert_eq!(ran.code, Ok(REFUSED));
    assert!(
        ran.out.starts_with(&format!("{path}: invalid: 2 errors")),
        "{}",
        ran.out
    );
    assert!(
        ran.out.contains(
            "  error[unknown-key] users[0] \"broken\", sett: unknown key `sett` (did you mean `set`?)"
        ),
        "{}",
        ran.out
    );
    assert!(
        ran.out
            .contains("error[unknown-function] users[0] \"broken\", set.userName, character 2:"),
        "{}",
        ran.out
    );
    assert_eq!(json.code, Ok(REFUSED));
    let report: Value = serde_json::from_str(&json.out).unwrap();
    assert_eq!(report["valid"], false);
    assert_eq!(report["problems"].as_array().unwrap().len(), 2);
    assert_eq!(report["problems"][0]["rule"]["name"], "broken");
    assert_eq!(
        missing.code.unwrap_err(),
        "/nonexistent/rules.yaml: cannot open: No such file or directory (os error 2)"
    );
}

#[tokio::test]
async fn an_invalid_document_is_refused_and_nothing_is_saved_or_activated() {
    // Arrange
    let store = InMemoryRuleStore::default();
    let path = file("invalid.yaml", INVALID);

    // Act
    let ran = run_on(Some(&store), &["apply", &path, "--author", "ada"]).await;

    // Assert
    assert_eq!(ran.code, Ok(REFUSED));
    assert!(ran.out.contains("error[unknown-function]"), "{}", ran.out);
    assert_eq!(
        ran.err,
        format!("scimgw rules: refused: {path} does not load; nothing was saved or activated\n")
    );
    assert_eq!(store.history().await.unwrap(), RuleHistory::default());
    assert_eq!(store.active().await.unwrap(), None);
}

#[tokio::test]
async fn apply_list_history_and_rollback_on_the_store() {
    // Arrange
    let store = InMemoryRuleStore::default();
    let lower = example("lowercase-username.yaml");
    let prefix = example("group-prefix.yaml");

    // Act
    let first = run_on(
        Some(&store),
        &["apply", &lower, "--author", "ada", "--note", "lower-case"],
    )
    .await;
    let again = run_on(Some(&store), &["apply", &lower, "--author", "ada"]).await;
    let second = run_on(Some(&store), &["apply", &prefix, "--author", "bob"]).await;
    let back = run_on(Some(&store), &["rollback", "v1", "--author", "carol"]).await;
    let same = run_on(Some(&store), &["rollback", "1", "--author", "carol"]).await;
    let unknown = run_on(Some(&store), &["rollback", "v9", "--author", "carol"]).await;
    let list = run_on(Some(&store), &["list"]).await;
    let history = run_on(Some(&store), &["history"]).await;

    // Assert
    assert_eq!(first.code, Ok(DONE));
    assert!(
        first.out.ends_with("applied: v1 is active (was nothing)\n"),
        "{}",
        first.out
    );
    assert_eq!(again.code, Ok(DONE));
    assert!(again.out.contains("no change: "), "{}", again.out);
    assert!(
        second.out.ends_with("applied: v2 is active (was v1)\n"),
        "{}",
        second.out
    );
    assert_eq!(back.code, Ok(DONE));
    assert_eq!(back.out, "rolled back: v1 is active (was v2)\n");
    assert_eq!(same.out, "v1 is active already; nothing changed\n");
    assert_eq!(
        unknown.code.unwrap_err(),
        "there is no rule set v9; `scimgw rules list` shows the saved versions"
    );
    assert_eq!(
        store.active().await.unwrap().unwrap().version,
        RuleVersion::FIRST
    );

    let lines: Vec<&str> = list.out.lines().collect();
    assert_eq!(lines.len(), 4, "{}", list.out);
    assert!(lines[0].starts_with("   VERSION  CREATED"), "{}", list.out);
    assert!(
        lines[1].starts_with("   v2  ") && lines[1].contains(" bob "),
        "{}",
        list.out
    );
    assert!(
        lines[2].starts_with("*  v1  ") && lines[2].ends_with("lower-case"),
        "{}",
        list.out
    );
    assert_eq!(lines[3], "* active: v1");

    let events: Vec<&str> = history.out.lines().skip(1).collect();
    assert_eq!(events.len(), 5, "{}", history.out);
    assert!(events[0].contains("activated v1") && events[0].contains("carol"));
    assert!(events[0].ends_with("rollback from v2"), "{}", history.out);
    assert!(events[1].contains("activated v2") && events[1].ends_with("replaces v1"));
    assert!(events[2].contains("saved v2"));
    assert!(events[3].contains("activated v1") && events[3].ends_with("first activation"));
    assert!(events[4].contains("saved v1") && events[4].ends_with("\"lower-case\""));
}

#[tokio::test]
async fn an_empty_store_lists_nothing_and_commands_without_a_store_say_so() {
    let store = InMemoryRuleStore::default();
    let list = run_on(Some(&store), &["list"]).await;
    assert!(
        list.out.starts_with("no rule set has been saved yet"),
        "{}",
        list.out
    );
    let none = run_on(None, &["list"]).await;
    assert_eq!(
        none.code.unwrap_err(),
        "this command needs the rule store: give --table"
    );
    let error = open_store(&StoreArgs::default()).await.unwrap_err();
    assert!(format!("{error:#}").starts_with("say which table holds the rule sets"));
}

/// A store on which another admin activates a version of their own between this
/// command's save and its switch.
struct Racing {
    inner: InMemoryRuleStore,
}

#[async_trait]
impl RuleStore for Racing {
    async fn put_version(&self, new: NewRuleSet) -> Result<RuleVersion, RuleStoreError> {
        let theirs = self
            .inner
            .put_version(NewRuleSet {
                document: "groups: []\n".into(),
                author: "bob".into(),
                note: None,
            })
            .await?;
        let active = self.inner.active().await?.map(|a| a.version);
        self.inner.activate(theirs, active, "bob").await?;
        self.inner.put_version(new).await
    }
    async fn get(&self, version: RuleVersion) -> Result<Option<StoredRuleSet>, RuleStoreError> {
        self.inner.get(version).await
    }
    async fn active(&self) -> Result<Option<StoredRuleSet>, RuleStoreError> {
        self.inner.active().await
    }
    async fn activate(
        &self,
        version: RuleVersion,
        expected_active: Option<RuleVersion>,
        by: &str,
    ) -> Result<Activation, RuleStoreError> {
        self.inner.activate(version, expected_active, by).await
    }
    async fn history(&self) -> Result<RuleHistory, RuleStoreError> {
        self.inner.history().await
    }
}

#[tokio::test]
async fn an_apply_that_loses_a_race_says_so_exits_1_and_activates_nothing() {
    // Arrange
    let store = Racing {
        inner: InMemoryRuleStore::default(),
    };

    // Act
    let ran = run_on(
        Some(&store),
        &["apply", &example("group-prefix.yaml"), "--author", "ada"],
    )
    .await;

    // Assert
    assert_eq!(ran.code, Ok(REFUSED));
    assert_eq!(
        ran.err,
        "scimgw rules: another admin applied a rule set meanwhile (v1 is active now; nothing \
         was active when this command read it): v2 was saved but not made active. Review with \
         `scimgw rules list` and `scimgw rules diff`, then try again.\n"
    );
    assert_eq!(store.active().await.unwrap().unwrap().author, "bob");
    assert_eq!(store.history().await.unwrap().activations.len(), 1);
}

#[tokio::test]
async fn diff_shows_the_change_from_the_active_set_and_what_validation_says() {
    // Arrange
    let store = InMemoryRuleStore::default();
    let prefix = example("group-prefix.yaml");
    run_on(Some(&store), &["apply", &prefix, "--author", "ada"]).await;
    let changed = std::fs::read_to_string(&prefix)
        .unwrap()
        .replace("'okta-{displayName}'", "'aws-{displayName}'");
    let path = file("changed.yaml", &changed);

    // Act
    let ran = run_on(Some(&store), &["diff", &path]).await;
    let same = run_on(Some(&store), &["diff", &prefix]).await;

    // Assert
    assert_eq!(ran.code, Ok(DONE));
    assert!(ran.out.starts_with("--- active v1 ("), "{}", ran.out);
    assert!(ran.out.contains(&format!("+++ {path}\n")), "{}", ran.out);
    assert!(
        ran.out
            .contains("\n-      displayName: 'okta-{displayName}'\n"),
        "{}",
        ran.out
    );
    assert!(
        ran.out
            .contains("\n+      displayName: 'aws-{displayName}'\n"),
        "{}",
        ran.out
    );
    assert!(
        ran.out
            .ends_with(&format!("{path}: valid (0 user rules, 1 group rule)\n"))
    );
    assert!(
        same.out
            .starts_with(&format!("{prefix}: the same as the active rule set v1\n"))
    );
}

#[tokio::test]
async fn test_maps_the_group_engineers_through_the_prefix_and_answers_okta_its_name() {
    // Arrange
    let input = file(
        "engineers.json",
        r#"{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "Engineers", "externalId": "00g1a2b3c4"}"#,
    );

    // Act
    let ran = run_on(
        None,
        &["test", &example("group-prefix.yaml"), "--input", &input],
    )
    .await;

    // Assert
    assert_eq!(ran.code, Ok(DONE), "{}", ran.err);
    assert_eq!(
        ran.out,
        "rules fired: groups[0] \"okta-prefix\"\n\
         Identity Center receives (POST /Groups):\n\
         {\n  \"schemas\": [\n    \"urn:ietf:params:scim:schemas:core:2.0:Group\"\n  ],\n  \
         \"externalId\": \"00g1a2b3c4\",\n  \"displayName\": \"okta-Engineers\"\n}\n\
         Okta is answered: displayName \"Engineers\" (Identity Center holds \"okta-Engineers\"; \
         what Okta sent)\n"
    );
}

#[tokio::test]
async fn test_shows_a_skip_its_rule_and_the_403_and_never_prints_a_password() {
    // Arrange
    let input = file(
        "contractor.json",
        r#"{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "Jane.Doe@Example.com", "password": "s3cr3t-Pa55",
            "name": {"givenName": "Jane", "familyName": "Doe"}, "displayName": "Jane Doe",
            "userType": "contractor"}"#,
    );
    let employee = file(
        "employee.json",
        r#"{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "Jane.Doe@Example.com", "password": "s3cr3t-Pa55",
            "name": {"givenName": "Jane", "familyName": "Doe"}, "displayName": "Jane Doe"}"#,
    );

    // Act
    let skipped = run_on(
        None,
        &[
            "test",
            &example("exclude-contractors.yaml"),
            "--input",
            &input,
        ],
    )
    .await;
    let lowered = run_on(
        None,
        &[
            "test",
            &example("lowercase-username.yaml"),
            "--input",
            &employee,
            "--kind",
            "user",
        ],
    )
    .await;

    // Assert
    assert_eq!(skipped.code, Ok(DONE));
    assert_eq!(
        skipped.out,
        "rules fired: users[0] \"exclude-contractors\"\n\
         skipped by users[0] \"exclude-contractors\" (skip): Identity Center receives nothing\n\
         Okta is answered: 403: this user is not provisioned: mapping rule users[0] \
         \"exclude-contractors\" skips it\n"
    );
    assert_eq!(lowered.code, Ok(DONE));
    assert!(
        lowered
            .out
            .contains("\"userName\": \"jane.doe@example.com\""),
        "{}",
        lowered.out
    );
    assert!(
        lowered.out.ends_with(
            "Okta is answered: userName \"jane.doe@example.com\" (what Okta sent, ignoring case)\n"
        ),
        "{}",
        lowered.out
    );
    for out in [&skipped.out, &lowered.out] {
        assert!(!out.contains("s3cr3t"), "{out}");
    }
}

#[tokio::test]
async fn test_refuses_what_it_cannot_read_in_one_line() {
    let rules = example("group-prefix.yaml");
    let not_json = file("bad.json", "{\"displayName\": \"s3cr3t");
    let no_kind = file("nokind.json", r#"{"displayName": "Engineers"}"#);
    let ran = run_on(None, &["test", &rules, "--input", &not_json]).await;
    assert_eq!(
        ran.code.unwrap_err(),
        format!("{not_json}: not JSON (Eof error at line 1 column 23)")
    );
    let ran = run_on(None, &["test", &rules, "--input", &no_kind]).await;
    assert!(
        ran.code
            .unwrap_err()
            .ends_with("say --kind user or --kind group")
    );
    let invalid = file("invalid.yaml", INVALID);
    let ran = run_on(None, &["test", &invalid, "--input", &no_kind]).await;
    assert_eq!(ran.code, Ok(REFUSED));
}
