//! `DynamoDbRuleStore` against a real DynamoDB API (moto's server): versions round trip
//! under the documented keys, the history is complete and newest first, the active
//! pointer switches only from what the caller saw, and two administrators applying at
//! once (2×20 concurrent saves and switches) lose no number, duplicate none and leave
//! exactly one active version with every switch in the history. Failures are
//! `RuleStoreError`s, never panics.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use aws_adapters::DynamoDbRuleStore;
use aws_adapters::dynamodb_mirror::{self, TTL_ATTRIBUTE};
use aws_adapters::dynamodb_rule_store::{
    DynamoDbRuleStoreError, RULES_PK, activation_sk, version_sk,
};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::types::AttributeValue;
use gateway::FixedClock;
use gateway::rule_store::{
    NewRuleSet, RuleStore, RuleStoreError, RuleVersion, StoredRuleSet, document_sha256,
};
use time::Duration;
use time::OffsetDateTime;
use time::macros::datetime;

const NOW: OffsetDateTime = datetime!(2024-04-05 06:32:12 UTC);

type Item = HashMap<String, AttributeValue>;

struct Fixture {
    client: Client,
    table: String,
    clock: Arc<FixedClock>,
    store: Arc<DynamoDbRuleStore>,
}

impl Fixture {
    async fn new() -> Self {
        let client = Client::new(&test_services::moto_sdk_config().await);
        let table = test_services::unique_name("scimgw-state");
        dynamodb_mirror::create_table(&client, &table)
            .await
            .unwrap();
        let clock = Arc::new(FixedClock::new(NOW));
        let store = Arc::new(DynamoDbRuleStore::new(
            client.clone(),
            &table,
            clock.clone(),
        ));
        Self {
            client,
            table,
            clock,
            store,
        }
    }

    /// The rule item under `sk`, read directly.
    async fn item(&self, sk: &str) -> Option<Item> {
        self.client
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(RULES_PK.to_owned()))
            .key("sk", AttributeValue::S(sk.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .item
    }

    async fn put_raw(&self, item: Item) {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .unwrap();
    }
}

fn v(n: u64) -> RuleVersion {
    RuleVersion::new(n).unwrap()
}

fn new(document: &str, author: &str, note: Option<&str>) -> NewRuleSet {
    NewRuleSet {
        document: document.to_owned(),
        author: author.to_owned(),
        note: note.map(str::to_owned),
    }
}

fn s(item: &Item, name: &str) -> String {
    match item.get(name) {
        Some(AttributeValue::S(v)) => v.clone(),
        other => panic!("{name} is not a string: {other:?}"),
    }
}

fn n(item: &Item, name: &str) -> String {
    match item.get(name) {
        Some(AttributeValue::N(v)) => v.clone(),
        other => panic!("{name} is not a number: {other:?}"),
    }
}

fn source(error: &RuleStoreError) -> &DynamoDbRuleStoreError {
    match error {
        RuleStoreError::Unavailable(source) => source
            .downcast_ref::<DynamoDbRuleStoreError>()
            .unwrap_or_else(|| panic!("not classified by the adapter: {error:?}")),
        other => panic!("not Unavailable: {other:?}"),
    }
}

const LOWERCASE: &str =
    "users:\n  - name: lowercase-username\n    set:\n      userName: '{lower(userName)}'\n";
const PREFIX: &str =
    "groups:\n  - name: okta-prefix\n    set:\n      displayName: 'okta-{displayName}'\n";

#[tokio::test]
async fn a_version_round_trips_under_the_documented_key() {
    // Arrange
    let f = Fixture::new().await;

    // Act
    let version = f
        .store
        .put_version(new(
            LOWERCASE,
            "ada@example.com",
            Some("lower-case userNames"),
        ))
        .await
        .unwrap();
    let read = f.store.get(version).await.unwrap();

    // Assert
    assert_eq!(version, v(1));
    assert_eq!(
        read,
        Some(StoredRuleSet {
            version: v(1),
            document: LOWERCASE.to_owned(),
            sha256: document_sha256(LOWERCASE),
            author: "ada@example.com".to_owned(),
            note: Some("lower-case userNames".to_owned()),
            created_at: NOW,
        })
    );
    let item = f.item("VERSION#0000000001").await.unwrap();
    assert_eq!(s(&item, "pk"), "RULES");
    assert_eq!(s(&item, "kind"), "rule-set-version");
    assert_eq!(n(&item, "version"), "1");
    assert_eq!(s(&item, "document"), LOWERCASE);
    assert_eq!(s(&item, "sha256"), document_sha256(LOWERCASE));
    assert_eq!(s(&item, "created_at"), "2024-04-05T06:32:12Z");
    assert!(!item.contains_key(TTL_ATTRIBUTE), "rule sets never expire");
    assert_eq!(f.store.get(v(2)).await.unwrap(), None);
    assert_eq!(f.store.active().await.unwrap(), None);
    assert_eq!(f.store.history().await.unwrap().versions.len(), 1);
}

#[tokio::test]
async fn the_history_is_complete_and_newest_first() {
    // Arrange: three versions a minute apart; v1 then v3 activated, then v1 again.
    let f = Fixture::new().await;
    for (i, document) in [LOWERCASE, PREFIX, "users: []\n"].iter().enumerate() {
        let author = format!("admin{i}");
        f.store
            .put_version(new(document, &author, None))
            .await
            .unwrap();
        f.clock.advance(Duration::minutes(1));
    }
    f.store.activate(v(1), None, "ada").await.unwrap();
    f.clock.advance(Duration::minutes(1));
    f.store.activate(v(3), Some(v(1)), "bob").await.unwrap();
    f.clock.advance(Duration::minutes(1));
    let rollback = f.store.activate(v(1), Some(v(3)), "ada").await.unwrap();

    // Act
    let history = f.store.history().await.unwrap();

    // Assert
    let versions: Vec<_> = history.versions.iter().map(|e| e.version).collect();
    assert_eq!(versions, [v(3), v(2), v(1)]);
    let authors: Vec<_> = history.versions.iter().map(|e| e.author.as_str()).collect();
    assert_eq!(authors, ["admin2", "admin1", "admin0"]);
    assert_eq!(history.versions[2].created_at, NOW);
    assert_eq!(history.versions[2].sha256, document_sha256(LOWERCASE));
    let activated: Vec<_> = history.versions.iter().map(|e| e.activated_at).collect();
    assert_eq!(
        activated,
        [
            Some(NOW + Duration::minutes(4)),
            None,
            Some(NOW + Duration::minutes(5))
        ]
    );
    let switches: Vec<_> = history
        .activations
        .iter()
        .map(|a| (a.sequence, a.version, a.previous, a.activated_by.as_str()))
        .collect();
    assert_eq!(
        switches,
        [
            (3, v(1), Some(v(3)), "ada"),
            (2, v(3), Some(v(1)), "bob"),
            (1, v(1), None, "ada"),
        ]
    );
    assert!(rollback.is_rollback());
    assert_eq!(history.active(), Some(v(1)));
    let item = f.item(&activation_sk(3)).await.unwrap();
    assert_eq!(s(&item, "kind"), "rule-set-activation");
    assert_eq!(
        (n(&item, "version"), n(&item, "previous")),
        ("1".into(), "3".into())
    );
}

#[tokio::test]
async fn activation_switches_the_active_set() {
    // Arrange
    let f = Fixture::new().await;
    let v1 = f
        .store
        .put_version(new(LOWERCASE, "ada", None))
        .await
        .unwrap();
    let v2 = f.store.put_version(new(PREFIX, "ada", None)).await.unwrap();

    // Act
    let first = f.store.activate(v1, None, "ada").await.unwrap();
    let active_then = f.store.active().await.unwrap().unwrap();
    let second = f.store.activate(v2, Some(v1), "ada").await.unwrap();
    let active_now = f.store.active().await.unwrap().unwrap();

    // Assert
    assert_eq!(
        (first.sequence, first.version, first.previous),
        (1, v1, None)
    );
    assert_eq!(
        (second.sequence, second.version, second.previous),
        (2, v2, Some(v1))
    );
    assert_eq!(
        (active_then.version, active_then.document.as_str()),
        (v1, LOWERCASE)
    );
    assert_eq!(
        (active_now.version, active_now.document.as_str()),
        (v2, PREFIX)
    );
}

#[tokio::test]
async fn a_stale_expected_active_is_refused_and_changes_nothing() {
    // Arrange: v1 active; an admin who saw nothing active, and one who saw v2.
    let f = Fixture::new().await;
    let v1 = f
        .store
        .put_version(new(LOWERCASE, "ada", None))
        .await
        .unwrap();
    let v2 = f.store.put_version(new(PREFIX, "bob", None)).await.unwrap();
    f.store.activate(v1, None, "ada").await.unwrap();
    let before = f.store.history().await.unwrap();

    // Act
    let saw_nothing = f.store.activate(v2, None, "bob").await;
    let saw_v2 = f.store.activate(v1, Some(v2), "bob").await;
    let unknown = f.store.activate(v(9), Some(v1), "bob").await;

    // Assert
    assert!(matches!(
        saw_nothing,
        Err(RuleStoreError::Conflict { expected: None })
    ));
    assert!(matches!(
        saw_v2,
        Err(RuleStoreError::Conflict { expected: Some(e) }) if e == v2
    ));
    assert!(matches!(unknown, Err(RuleStoreError::NotFound(n)) if n == v(9)));
    assert_eq!(f.store.history().await.unwrap(), before);
    assert_eq!(f.store.active().await.unwrap().unwrap().version, v1);
}

/// What one `apply` did: the version it saved, and whether its switch went through.
type Applied = (RuleVersion, Option<u64>);

/// One administrator's `apply`: read the active version, save, switch from what was read.
async fn apply(store: Arc<DynamoDbRuleStore>, admin: &'static str, n: usize) -> Applied {
    let expected = store.active().await.unwrap().map(|a| a.version);
    let document = format!("users:\n  - name: rule-{admin}-{n}\n    remove: [title]\n");
    let version = store
        .put_version(new(&document, admin, Some(&format!("attempt {n}"))))
        .await
        .unwrap();
    match store.activate(version, expected, admin).await {
        Ok(activation) => (version, Some(activation.sequence)),
        Err(RuleStoreError::Conflict { .. }) => (version, None),
        Err(other) => panic!("{admin} {n}: {other}"),
    }
}

/// Checks what racing applies left: every save its own number, `1..=saves`, none lost;
/// every switch that succeeded in the history under its own sequence, `1..=switches`,
/// nothing else there, each from the version before it; one active version, the last
/// switch's. Answers how many switches went through.
async fn check_after_race(f: &Fixture, applied: &[Applied]) -> usize {
    let saves = applied.len() as u64;
    let saved: BTreeSet<u64> = applied.iter().map(|(v, _)| v.number()).collect();
    assert_eq!(saved.len(), applied.len(), "a number was handed out twice");
    assert_eq!(saved, (1..=saves).collect(), "a number was lost");
    let history = f.store.history().await.unwrap();
    let listed: Vec<u64> = history
        .versions
        .iter()
        .map(|e| e.version.number())
        .collect();
    assert_eq!(listed, (1..=saves).rev().collect::<Vec<_>>());
    let mut switched: Vec<(u64, RuleVersion)> = applied
        .iter()
        .filter_map(|(v, seq)| seq.map(|s| (s, *v)))
        .collect();
    switched.sort();
    assert!(!switched.is_empty(), "some apply must win");
    let recorded: Vec<(u64, RuleVersion)> = history
        .activations
        .iter()
        .rev()
        .map(|a| (a.sequence, a.version))
        .collect();
    assert_eq!(recorded, switched);
    let sequences: Vec<u64> = recorded.iter().map(|(s, _)| *s).collect();
    assert_eq!(sequences, (1..=switched.len() as u64).collect::<Vec<_>>());
    let mut previous = None;
    for activation in history.activations.iter().rev() {
        assert_eq!(
            activation.previous, previous,
            "switch {}",
            activation.sequence
        );
        previous = Some(activation.version);
    }
    let active = f.store.active().await.unwrap().unwrap();
    assert_eq!(Some(active.version), previous);
    assert_eq!(history.active(), previous);
    switched.len()
}

#[tokio::test]
async fn forty_applies_at_once_lose_and_duplicate_nothing_and_one_wins() {
    // Arrange
    let f = Fixture::new().await;

    // Act: two admins' 2×20 applies, all at once: every one reads "nothing active".
    let mut tasks = Vec::new();
    for n in 0..20 {
        for admin in ["ada", "bob"] {
            tasks.push(tokio::spawn(apply(f.store.clone(), admin, n)));
        }
    }
    let mut applied: Vec<Applied> = Vec::new();
    for task in tasks {
        applied.push(task.await.unwrap());
    }

    // Assert
    let switches = check_after_race(&f, &applied).await;
    assert_eq!(
        switches, 1,
        "all 40 saw nothing active: only one switch can follow"
    );
}

#[tokio::test]
async fn two_admins_applying_twenty_times_each_at_once_keep_a_complete_history() {
    // Arrange
    let f = Fixture::new().await;

    // Act: each admin applies 20 times in a row, both at once, so their reads, saves
    // and switches interleave.
    let admin = |name: &'static str| {
        let store = f.store.clone();
        tokio::spawn(async move {
            let mut applied = Vec::new();
            for n in 0..20 {
                applied.push(apply(store.clone(), name, n).await);
            }
            applied
        })
    };
    let (ada, bob) = (admin("ada"), admin("bob"));
    let mut applied: Vec<Applied> = ada.await.unwrap();
    applied.extend(bob.await.unwrap());

    // Assert
    let switches = check_after_race(&f, &applied).await;
    assert!(
        switches >= 20,
        "an apply conflicts only with a switch of the other admin's inside its own window, \
         so at least half go through: {switches}"
    );
}

#[tokio::test]
async fn a_missing_table_or_an_unreachable_endpoint_is_an_error_not_a_panic() {
    // Arrange
    let f = Fixture::new().await;
    let missing = DynamoDbRuleStore::new(f.client.clone(), "no-such-table", f.clock.clone());
    let config = test_services::moto_sdk_config().await;
    let unreachable_client = Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&config)
            .endpoint_url("http://127.0.0.1:9")
            .retry_config(RetryConfig::disabled())
            .build(),
    );
    let unreachable = DynamoDbRuleStore::new(unreachable_client, &f.table, f.clock.clone())
        .with_timeout(std::time::Duration::from_secs(2));

    // Act
    let missing_error = missing.history().await.unwrap_err();
    let unreachable_error = unreachable
        .put_version(new(LOWERCASE, "ada", None))
        .await
        .unwrap_err();

    // Assert
    assert!(matches!(
        source(&missing_error),
        DynamoDbRuleStoreError::TableMissing { .. }
    ));
    assert!(matches!(
        source(&unreachable_error),
        DynamoDbRuleStoreError::Unreachable { .. } | DynamoDbRuleStoreError::TimedOut { .. }
    ));
}

#[tokio::test]
async fn an_unreadable_item_is_an_error_naming_its_key() {
    // Arrange: a version item without its document, and one whose key lies.
    let f = Fixture::new().await;
    let key = |sk: String| {
        HashMap::from([
            ("pk".to_owned(), AttributeValue::S(RULES_PK.to_owned())),
            ("sk".to_owned(), AttributeValue::S(sk)),
        ])
    };
    let mut broken = key(version_sk(v(1)));
    broken.insert("kind".into(), AttributeValue::S("rule-set-version".into()));
    broken.insert("version".into(), AttributeValue::N("1".into()));
    f.put_raw(broken).await;

    // Act
    let error = f.store.get(v(1)).await.unwrap_err();
    let put = f.store.put_version(new(PREFIX, "ada", None)).await;

    // Assert: the get names the item; numbering goes on past it.
    assert_eq!(
        source(&error).to_string(),
        "rule store table: the item VERSION#0000000001 does not read as a rule item (missing \
         or mistyped attributes)"
    );
    assert_eq!(put.unwrap(), v(2));
}
