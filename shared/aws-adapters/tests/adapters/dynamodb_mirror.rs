//! `DynamoDbMirror` against a real DynamoDB API (moto's server): users and groups round
//! trip (a group without its members), forgetting, a missing entry, `created_at` kept,
//! the documented keys, the lookup by name, no password in any stored item, the TTL attribute and the
//! retention, and every failure (an unreachable or silent endpoint, a missing table, an
//! unreadable item) a `MirrorError` rather than a panic.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use aws_adapters::DynamoDbMirror;
use aws_adapters::dynamodb_mirror::{
    self, DEFAULT_RETENTION_DAYS, DynamoDbMirrorError, MIRROR_SK, TTL_ATTRIBUTE, group_pk, user_pk,
};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::types::{AttributeValue, TimeToLiveStatus};
use gateway::FixedClock;
use gateway::mirror::{Mirror, MirrorError, MirroredGroup, MirroredUser};
use scim_core::resource::Password;
use scim_core::{Group, User};
use serde_json::json;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const NOW: OffsetDateTime = datetime!(2024-04-05 06:32:12.345678 UTC);

type Item = HashMap<String, AttributeValue>;

struct Fixture {
    client: Client,
    table: String,
    clock: Arc<FixedClock>,
    mirror: DynamoDbMirror,
}

impl Fixture {
    async fn new() -> Self {
        let client = Client::new(&test_services::moto_sdk_config().await);
        let table = test_services::unique_name("scimgw-state");
        dynamodb_mirror::create_table(&client, &table)
            .await
            .unwrap();
        let clock = Arc::new(FixedClock::new(NOW));
        let mirror = DynamoDbMirror::new(client.clone(), &table, clock.clone());
        Self {
            client,
            table,
            clock,
            mirror,
        }
    }

    /// The item under `pk`, read directly.
    async fn item(&self, pk: &str) -> Option<Item> {
        self.client
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(pk.to_owned()))
            .key("sk", AttributeValue::S(MIRROR_SK.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .item
    }

    /// The items that hold a resource (not a name or `externalId` entry).
    async fn resource_items(&self) -> Vec<Item> {
        let resource = |item: &Item| match item.get("kind") {
            Some(AttributeValue::S(kind)) => kind == "mirror-user" || kind == "mirror-group",
            _ => false,
        };
        self.all_items()
            .await
            .into_iter()
            .filter(resource)
            .collect()
    }

    /// Every item of the table (a scan: the test's view, never the adapter's).
    async fn all_items(&self) -> Vec<Item> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(&self.table)
                .set_exclusive_start_key(start)
                .send()
                .await
                .unwrap();
            items.extend(page.items.unwrap_or_default());
            start = page.last_evaluated_key;
            if start.is_none() {
                return items;
            }
        }
    }
}

fn s(item: &Item, name: &str) -> String {
    match item.get(name) {
        Some(AttributeValue::S(v)) => v.clone(),
        other => panic!("{name} is not a string: {other:?}"),
    }
}

fn user(id: &str) -> User {
    serde_json::from_value(json!({
        "schemas": [
            "urn:ietf:params:scim:schemas:core:2.0:User",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
        ],
        "id": id,
        "externalId": "00u1a2b3c4d5e6f7g8h9",
        "meta": {"resourceType": "User", "created": "2024-04-05T06:32:12Z",
                 "lastModified": "2024-04-05T06:32:12Z"},
        "userName": "bjensen@example.com",
        "name": {"givenName": "Barbara", "familyName": "Jensen", "formatted": "Barbara Jensen"},
        "displayName": "Babs Jensen",
        "active": true,
        "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true}],
        "addresses": [{"streetAddress": "100 Universal City Plaza", "type": "work"}],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
            "employeeNumber": "701984", "department": "Tour Operations",
            "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d"}
        }
    }))
    .unwrap()
}

fn group(id: &str) -> Group {
    serde_json::from_value(json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "id": id,
        "externalId": "00g1a2b3c4d5e6f7g8h9",
        "displayName": "Tour Guides",
        "members": [
            {"value": "u-1", "display": "Babs Jensen"},
            {"value": "u-2"}
        ]
    }))
    .unwrap()
}

fn id(prefix: &str) -> String {
    test_services::unique_name(prefix)
}

fn source(error: &MirrorError) -> &DynamoDbMirrorError {
    error
        .0
        .downcast_ref::<DynamoDbMirrorError>()
        .unwrap_or_else(|| panic!("not classified by the adapter: {error:?}"))
}

#[tokio::test]
async fn a_user_round_trips_with_its_created_at() {
    // Arrange
    let f = Fixture::new().await;
    let id = id("u");
    let created = datetime!(2024-04-05 06:30:00.123456789 +02:00);
    let entry = MirroredUser {
        user: user(&id),
        created_at: Some(created),
    };

    // Act
    f.mirror.put_user(entry.clone()).await.unwrap();
    let read = f.mirror.user(&id).await.unwrap();

    // Assert
    assert_eq!(read, Some(entry));
    assert_eq!(
        read.and_then(|r| r.created_at)
            .map(|c| c.unix_timestamp_nanos()),
        Some(created.unix_timestamp_nanos())
    );
}

#[tokio::test]
async fn a_user_is_found_by_its_name_in_any_case() {
    // Arrange: the fixture user is `bjensen@example.com`.
    let f = Fixture::new().await;
    let id = id("u");
    let entry = MirroredUser {
        user: user(&id),
        created_at: None,
    };

    // Act
    f.mirror.put_user(entry).await.unwrap();
    let found = f
        .mirror
        .user_id_by_name("BJensen@Example.COM")
        .await
        .unwrap();
    let unknown = f
        .mirror
        .user_id_by_name("nobody@example.com")
        .await
        .unwrap();

    // Assert
    assert_eq!(found, Some(id.clone()));
    assert_eq!(unknown, None);
    let name = f
        .item(&dynamodb_mirror::user_name_pk("bjensen@example.com"))
        .await
        .unwrap();
    assert_eq!(name["id"], AttributeValue::S(id));
    assert!(name.contains_key(TTL_ATTRIBUTE));
}

#[tokio::test]
async fn users_and_groups_are_found_by_their_external_id_until_forgotten() {
    // Arrange: the fixture user's externalId is `00u1a2b3c4d5e6f7g8h9`, the group's
    // `00g1a2b3c4d5e6f7g8h9`.
    let f = Fixture::new().await;
    let (u, g) = (id("u"), id("g"));
    f.mirror
        .put_user(MirroredUser {
            user: user(&u),
            created_at: None,
        })
        .await
        .unwrap();
    f.mirror
        .put_group(MirroredGroup {
            group: group(&g),
            created_at: None,
        })
        .await
        .unwrap();

    // Act
    let found_user = f
        .mirror
        .user_id_by_external_id("00u1a2b3c4d5e6f7g8h9")
        .await;
    let found_group = f
        .mirror
        .group_id_by_external_id("00g1a2b3c4d5e6f7g8h9")
        .await;
    let crossed = f
        .mirror
        .user_id_by_external_id("00g1a2b3c4d5e6f7g8h9")
        .await;
    f.mirror.forget_user(&u).await.unwrap();
    f.mirror.forget_group(&g).await.unwrap();

    // Assert: found, each kind apart, and nothing left once forgotten.
    assert_eq!(found_user.unwrap(), Some(u.clone()));
    assert_eq!(found_group.unwrap(), Some(g.clone()));
    assert_eq!(crossed.unwrap(), None);
    assert!(
        f.all_items().await.is_empty(),
        "no entry and no pointer left"
    );
    assert_eq!(
        f.mirror
            .user_id_by_external_id("00u1a2b3c4d5e6f7g8h9")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        f.mirror
            .group_id_by_external_id("00g1a2b3c4d5e6f7g8h9")
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn a_user_whose_external_id_changes_is_found_by_the_new_one_only() {
    // Arrange
    let f = Fixture::new().await;
    let u = id("u");
    let mut moved = user(&u);
    moved.external_id = Some("00unew".into());
    f.mirror
        .put_user(MirroredUser {
            user: user(&u),
            created_at: None,
        })
        .await
        .unwrap();

    // Act
    f.mirror
        .put_user(MirroredUser {
            user: moved,
            created_at: None,
        })
        .await
        .unwrap();

    // Assert
    let by = |e: &'static str| f.mirror.user_id_by_external_id(e);
    assert_eq!(by("00unew").await.unwrap(), Some(u));
    assert_eq!(by("00u1a2b3c4d5e6f7g8h9").await.unwrap(), None);
}

#[tokio::test]
async fn an_entry_without_created_at_reads_back_without_one_and_a_put_replaces() {
    // Arrange
    let f = Fixture::new().await;
    let id = id("u");
    f.mirror
        .put_user(MirroredUser {
            user: user(&id),
            created_at: Some(NOW),
        })
        .await
        .unwrap();
    let mut renamed = user(&id);
    renamed.user_name = "babs@example.com".into();
    let replacement = MirroredUser {
        user: renamed,
        created_at: None,
    };

    // Act
    f.mirror.put_user(replacement.clone()).await.unwrap();

    // Assert: one entry, found by its new name only.
    assert_eq!(f.mirror.user(&id).await.unwrap(), Some(replacement));
    assert_eq!(f.resource_items().await.len(), 1);
    assert_eq!(
        f.all_items().await.len(),
        3,
        "the entry, its name, its externalId"
    );
    assert_eq!(
        f.mirror.user_id_by_name("babs@example.com").await.unwrap(),
        Some(id.clone())
    );
    assert_eq!(
        f.mirror
            .user_id_by_name("bjensen@example.com")
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn a_group_round_trips_without_its_members() {
    // Arrange
    let f = Fixture::new().await;
    let id = id("g");
    let entry = MirroredGroup {
        group: group(&id),
        created_at: Some(NOW),
    };

    // Act
    f.mirror.put_group(entry.clone()).await.unwrap();
    let read = f.mirror.group(&id).await.unwrap();

    // Assert
    let mut expected = entry;
    expected.group.members = None;
    assert_eq!(read, Some(expected));
    let stored = s(&f.item(&group_pk(&id)).await.unwrap(), "resource");
    assert!(
        !stored.contains("members") && !stored.contains("u-1"),
        "{stored}"
    );
}

#[tokio::test]
async fn a_missing_entry_is_none() {
    let f = Fixture::new().await;
    assert_eq!(f.mirror.user(&id("u")).await.unwrap(), None);
    assert_eq!(f.mirror.group(&id("g")).await.unwrap(), None);
}

#[tokio::test]
async fn forgetting_removes_the_entry_and_forgetting_a_missing_one_succeeds() {
    // Arrange
    let f = Fixture::new().await;
    let (u, g) = (id("u"), id("g"));
    f.mirror
        .put_user(MirroredUser {
            user: user(&u),
            created_at: None,
        })
        .await
        .unwrap();
    f.mirror
        .put_group(MirroredGroup {
            group: group(&g),
            created_at: None,
        })
        .await
        .unwrap();

    // Act
    f.mirror.forget_user(&u).await.unwrap();
    f.mirror.forget_group(&g).await.unwrap();
    f.mirror.forget_user(&u).await.unwrap();
    f.mirror.forget_group(&id("g")).await.unwrap();

    // Assert
    assert_eq!(f.mirror.user(&u).await.unwrap(), None);
    assert_eq!(f.mirror.group(&g).await.unwrap(), None);
    assert!(f.all_items().await.is_empty());
}

#[tokio::test]
async fn users_and_groups_are_kept_apart_under_the_documented_keys() {
    // Arrange: a user and a group with the same id.
    let f = Fixture::new().await;
    let id = id("same");

    // Act
    f.mirror
        .put_user(MirroredUser {
            user: user(&id),
            created_at: None,
        })
        .await
        .unwrap();
    f.mirror
        .put_group(MirroredGroup {
            group: group(&id),
            created_at: None,
        })
        .await
        .unwrap();
    f.mirror.forget_group(&id).await.unwrap();

    // Assert
    assert_eq!(f.mirror.group(&id).await.unwrap(), None);
    assert!(f.mirror.user(&id).await.unwrap().is_some());
    let items = f.resource_items().await;
    assert_eq!(items.len(), 1);
    assert_eq!(s(&items[0], "pk"), format!("MIRROR#USER#{id}"));
    assert_eq!(s(&items[0], "sk"), "MIRROR");
    assert_eq!(s(&items[0], "kind"), "mirror-user");
    assert_eq!(s(&items[0], "id"), id);
}

#[tokio::test]
async fn a_resource_without_an_id_is_not_stored() {
    let f = Fixture::new().await;
    let mut no_id = user("x");
    no_id.id = None;
    f.mirror
        .put_user(MirroredUser {
            user: no_id,
            created_at: None,
        })
        .await
        .unwrap();
    let mut no_id = group("x");
    no_id.id = None;
    f.mirror
        .put_group(MirroredGroup {
            group: no_id,
            created_at: None,
        })
        .await
        .unwrap();
    assert!(f.all_items().await.is_empty());
}

#[tokio::test]
async fn no_stored_item_holds_a_password() {
    // Arrange: a user with a password, typed and (in another spelling) in an extension.
    let f = Fixture::new().await;
    let id = id("u");
    let password = "Tr0ub4dor&3-correct-horse";
    let mut with_password = user(&id);
    with_password.password = Some(Password::new(password));
    with_password.extra.insert(
        "urn:example:params:scim:schemas:extension:legacy:2.0:User".into(),
        json!({"PassWord": password, "badge": "7"}),
    );

    // Act
    f.mirror
        .put_user(MirroredUser {
            user: with_password,
            created_at: None,
        })
        .await
        .unwrap();
    let read = f.mirror.user(&id).await.unwrap().unwrap();

    // Assert: not in any attribute of any item, under no spelling, and not read back.
    assert_eq!(f.resource_items().await.len(), 1);
    for item in f.all_items().await {
        for (name, value) in &item {
            let text = format!("{value:?}");
            assert!(!text.contains(password), "{name}: {text}");
            assert!(!text.to_lowercase().contains("password"), "{name}: {text}");
        }
    }
    assert_eq!(read.user.password, None);
    assert_eq!(
        read.user.extra["urn:example:params:scim:schemas:extension:legacy:2.0:User"],
        json!({"badge": "7"})
    );
}

#[tokio::test]
async fn entries_carry_the_ttl_attribute_and_expire_after_the_retention() {
    // Arrange
    let f = Fixture::new().await;
    let (u, g) = (id("u"), id("g"));
    let short = DynamoDbMirror::new(f.client.clone(), &f.table, f.clock.clone())
        .with_retention(Duration::hours(1));

    // Act
    f.mirror
        .put_user(MirroredUser {
            user: user(&u),
            created_at: None,
        })
        .await
        .unwrap();
    short
        .put_group(MirroredGroup {
            group: group(&g),
            created_at: None,
        })
        .await
        .unwrap();

    // Assert: the table expires items by `expires_at`, set from the write's time.
    let ttl = f
        .client
        .describe_time_to_live()
        .table_name(&f.table)
        .send()
        .await
        .unwrap()
        .time_to_live_description
        .unwrap();
    assert_eq!(ttl.attribute_name(), Some(TTL_ATTRIBUTE));
    assert_eq!(ttl.time_to_live_status(), Some(&TimeToLiveStatus::Enabled));
    let expires_at = |item: &Item| match item.get(TTL_ATTRIBUTE) {
        Some(AttributeValue::N(n)) => n.parse::<i64>().unwrap(),
        other => panic!("{TTL_ATTRIBUTE} is not a number: {other:?}"),
    };
    let user_item = f.item(&user_pk(&u)).await.unwrap();
    assert_eq!(
        expires_at(&user_item),
        (NOW + Duration::days(DEFAULT_RETENTION_DAYS)).unix_timestamp()
    );
    assert_eq!(s(&user_item, "written_at"), "2024-04-05T06:32:12.345678Z");
    let group_item = f.item(&group_pk(&g)).await.unwrap();
    assert_eq!(
        expires_at(&group_item),
        (NOW + Duration::hours(1)).unix_timestamp()
    );

    // And an entry past its expiry reads as missing before DynamoDB's TTL removes it.
    f.clock.advance(Duration::hours(1));
    assert_eq!(f.mirror.group(&g).await.unwrap(), None);
    assert!(f.mirror.user(&u).await.unwrap().is_some());
    f.clock.advance(Duration::days(DEFAULT_RETENTION_DAYS));
    assert_eq!(f.mirror.user(&u).await.unwrap(), None);
}

#[tokio::test]
async fn an_unreadable_item_under_a_mirror_key_is_an_error_not_a_panic() {
    // Arrange: an item that is not an entry, and one whose resource is not a user.
    let f = Fixture::new().await;
    let (u1, u2) = (id("u"), id("u"));
    let far = (NOW + Duration::days(1)).unix_timestamp().to_string();
    for (id, resource) in [
        (&u1, None),
        (&u2, Some(r#"{"userName": "x", "emails": "s3cr3t-value"}"#)),
    ] {
        let mut put = f
            .client
            .put_item()
            .table_name(&f.table)
            .item("pk", AttributeValue::S(user_pk(id)))
            .item("sk", AttributeValue::S(MIRROR_SK.into()))
            .item(TTL_ATTRIBUTE, AttributeValue::N(far.clone()));
        if let Some(resource) = resource {
            put = put
                .item("kind", AttributeValue::S("mirror-user".into()))
                .item("id", AttributeValue::S(id.clone()))
                .item("resource", AttributeValue::S(resource.into()))
                .item(
                    "written_at",
                    AttributeValue::S("2024-04-05T06:32:12Z".into()),
                );
        }
        put.send().await.unwrap();
    }

    // Act
    let not_an_entry = f.mirror.user(&u1).await.unwrap_err();
    let not_a_user = f.mirror.user(&u2).await.unwrap_err();

    // Assert
    for error in [&not_an_entry, &not_a_user] {
        assert!(
            matches!(source(error), DynamoDbMirrorError::Unreadable { .. }),
            "{error:?}"
        );
    }
    // The message says what is wrong, without the value.
    let message = source(&not_a_user).to_string();
    assert!(message.contains(&user_pk(&u2)), "{message}");
    assert!(!message.contains("s3cr3t"), "{message}");
}

#[tokio::test]
async fn a_missing_table_is_classified() {
    let client = Client::new(&test_services::moto_sdk_config().await);
    let mirror = DynamoDbMirror::new(
        client,
        test_services::unique_name("scimgw-no-such-table"),
        Arc::new(FixedClock::new(NOW)),
    );
    let error = mirror.user("u-1").await.unwrap_err();
    assert!(
        matches!(source(&error), DynamoDbMirrorError::TableMissing { .. }),
        "{error:?}"
    );
}

/// A mirror whose client talks to `endpoint`, without the SDK's retries.
async fn mirror_at(endpoint: String) -> DynamoDbMirror {
    let config = aws_sdk_dynamodb::config::Builder::from(&test_services::moto_sdk_config().await)
        .endpoint_url(endpoint)
        .retry_config(RetryConfig::disabled())
        .build();
    DynamoDbMirror::new(
        Client::from_conf(config),
        "scimgw-state",
        Arc::new(FixedClock::new(NOW)),
    )
}

#[tokio::test]
async fn an_unreachable_endpoint_yields_a_mirror_error_for_every_call() {
    // Arrange: a port nothing listens on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let mirror = mirror_at(format!("http://{addr}")).await;

    // Act
    let errors = [
        mirror.user("u-1").await.map(|_| ()),
        mirror.group("g-1").await.map(|_| ()),
        mirror
            .put_user(MirroredUser {
                user: user("u-1"),
                created_at: None,
            })
            .await,
        mirror
            .put_group(MirroredGroup {
                group: group("g-1"),
                created_at: None,
            })
            .await,
        mirror.forget_user("u-1").await,
        mirror.forget_group("g-1").await,
    ];

    // Assert
    for result in errors {
        let error = result.unwrap_err();
        assert!(
            matches!(source(&error), DynamoDbMirrorError::Unreachable { .. }),
            "{error:?}"
        );
        assert_eq!(error.to_string(), "mirror: the store is unavailable");
    }
}

#[tokio::test]
async fn an_endpoint_that_never_answers_costs_at_most_the_timeout() {
    // Arrange: a listener that accepts connections (the kernel's backlog) and never
    // answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mirror = mirror_at(format!("http://{addr}"))
        .await
        .with_timeout(std::time::Duration::from_millis(300));

    // Act
    let started = Instant::now();
    let error = mirror.user("u-1").await.unwrap_err();

    // Assert
    assert!(
        matches!(source(&error), DynamoDbMirrorError::TimedOut { .. }),
        "{error:?}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    drop(listener);
}
