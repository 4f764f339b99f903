//! `scimgw rules` as administrators run it: the real binary against a state table in
//! moto's DynamoDB, read back through `DynamoDbRuleStore` (the adapter the functions
//! will read the active set with): apply, list, rollback and history, an invalid
//! document refused, and a missing table told in one line.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::Arc;

use aws_adapters::DynamoDbRuleStore;
use aws_adapters::dynamodb_mirror::create_table;
use gateway::SystemClock;
use gateway::rule_store::{RuleStore, RuleVersion};

/// A fresh state table in moto; its name and a store over it.
async fn state_table() -> (String, DynamoDbRuleStore) {
    let config = test_services::moto_sdk_config().await;
    let ddb = aws_sdk_dynamodb::Client::new(&config);
    let name = test_services::unique_name("cli-state");
    create_table(&ddb, &name).await.unwrap();
    let store = DynamoDbRuleStore::new(ddb, &name, Arc::new(SystemClock));
    (name, store)
}

fn example(name: &str) -> String {
    format!("{}/../examples/rules/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// Runs `scimgw rules <args> --table <table>` against moto, as `author`.
async fn scimgw(table: &str, author: &str, args: &[&str]) -> Output {
    let mut all: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
    all.extend([
        "--table".into(),
        table.to_owned(),
        "--aws-endpoint".into(),
        test_services::moto_url(),
        "--region".into(),
        "us-east-1".into(),
    ]);
    let author = author.to_owned();
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_scimgw"))
            .arg("rules")
            .args(&all)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", "/nonexistent")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
            .env_remove("SCIMGW_STATE_TABLE")
            .env("SCIMGW_RULES_AUTHOR", author)
            .env("RUST_LOG", "error")
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn v(n: u64) -> RuleVersion {
    RuleVersion::new(n).unwrap()
}

#[tokio::test]
async fn apply_list_and_rollback_against_the_state_table() {
    // Arrange
    let (table, store) = state_table().await;

    // Act
    let first = scimgw(
        &table,
        "ada@example.com",
        &[
            "apply",
            &example("lowercase-username.yaml"),
            "--note",
            "lower-case userNames",
        ],
    )
    .await;
    let second = scimgw(
        &table,
        "bob@example.com",
        &["apply", &example("group-prefix.yaml")],
    )
    .await;
    let listed = scimgw(&table, "ada@example.com", &["list"]).await;
    let back = scimgw(&table, "carol@example.com", &["rollback", "v1"]).await;
    let listed_after = scimgw(&table, "ada@example.com", &["list"]).await;
    let history = scimgw(&table, "ada@example.com", &["history"]).await;

    // Assert: the commands said what they did…
    for output in [&first, &second, &listed, &back, &listed_after, &history] {
        assert!(output.status.success(), "{}", stderr(output));
    }
    assert!(
        stdout(&first).ends_with("applied: v1 is active (was nothing)\n"),
        "{}",
        stdout(&first)
    );
    assert!(stdout(&second).ends_with("applied: v2 is active (was v1)\n"));
    let list = stdout(&listed);
    let rows: Vec<&str> = list.lines().collect();
    assert!(rows[1].starts_with("*  v2  ") && rows[1].contains("bob@example.com"));
    assert!(rows[2].starts_with("   v1  ") && rows[2].ends_with("lower-case userNames"));
    assert_eq!(rows[3], "* active: v2");
    assert_eq!(stdout(&back), "rolled back: v1 is active (was v2)\n");
    assert!(stdout(&listed_after).ends_with("* active: v1\n"));
    let events = stdout(&history);
    let newest = events.lines().nth(1).unwrap();
    assert!(
        newest.contains("activated v1")
            && newest.contains("carol@example.com")
            && newest.ends_with("rollback from v2"),
        "{events}"
    );

    // …and the table holds it, as the adapter reads it.
    let active = store.active().await.unwrap().unwrap();
    assert_eq!(active.version, v(1));
    assert_eq!(
        active.document,
        std::fs::read_to_string(example("lowercase-username.yaml")).unwrap()
    );
    assert_eq!(active.author, "ada@example.com");
    let history = store.history().await.unwrap();
    assert_eq!(history.versions.len(), 2);
    let switches: Vec<_> = history
        .activations
        .iter()
        .map(|a| (a.sequence, a.version, a.activated_by.as_str()))
        .collect();
    assert_eq!(
        switches,
        [
            (3, v(1), "carol@example.com"),
            (2, v(2), "bob@example.com"),
            (1, v(1), "ada@example.com"),
        ]
    );
}

#[tokio::test]
async fn an_invalid_document_is_refused_and_a_missing_table_is_one_line() {
    // Arrange
    let (table, store) = state_table().await;
    let dir = std::env::temp_dir().join(test_services::unique_name("cli-rules"));
    std::fs::create_dir_all(&dir).unwrap();
    let invalid: PathBuf = dir.join("invalid.yaml");
    std::fs::write(
        &invalid,
        "users:\n  - set: {userName: '{lowr(userName)}'}\n",
    )
    .unwrap();
    let invalid = invalid.display().to_string();

    // Act
    let refused = scimgw(&table, "ada", &["apply", &invalid]).await;
    let missing = scimgw("no-such-table", "ada", &["list"]).await;

    // Assert
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    assert!(stdout(&refused).contains("error[unknown-function] users[0], set.userName"));
    assert_eq!(
        stderr(&refused),
        format!("scimgw rules: refused: {invalid} does not load; nothing was saved or activated\n")
    );
    assert!(store.history().await.unwrap().versions.is_empty());
    assert_eq!(missing.status.code(), Some(2));
    let error = stderr(&missing);
    assert_eq!(error.lines().count(), 1, "{error}");
    assert!(
        error.starts_with(
            "scimgw rules: rule store: the store is unavailable: rule store table: Query: the \
             table does not exist"
        ),
        "{error}"
    );
    assert!(
        !error.contains("testing"),
        "no credential is printed: {error}"
    );
}
