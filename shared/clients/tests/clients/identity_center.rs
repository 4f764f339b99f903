//! The client's whole surface against the Identity Center emulator, started in-process
//! on a loopback port: typed CRUD for users and groups, every cursor followed, chunked
//! membership changes, create-or-adopt, retries and deadlines, token rotation.

use std::time::{Duration, Instant};

use crate::common::front::{Act, Front};
use crate::common::{
    SOME_ID, TOKEN, client, client_with, emulator, filter, group, ic_client, patch, token_id, user,
};
use clients::TargetDialect;
use gateway::{Deadline, TargetError, TargetScimClient};
use ic_emulator::Knobs;
use serde_json::json;

fn user_names(n: usize, prefix: &str) -> Vec<String> {
    (0..n)
        .map(|i| format!("{prefix}{i:04}@example.com"))
        .collect()
}

#[tokio::test]
async fn a_user_is_created_read_listed_replaced_patched_and_deleted() {
    // Arrange
    let running = emulator(Knobs::default()).await;
    let client = ic_client(&running);

    // Act
    let created = client
        .create_user(
            &user("ada@example.com", Some("okta-1")),
            Deadline::default(),
        )
        .await
        .unwrap();
    let id = created.id.clone().unwrap();
    let read = client.get_user(&id, Deadline::default()).await.unwrap();
    let by_external_id = client
        .list_users(
            Some(&filter(r#"externalId eq "okta-1""#)),
            Deadline::default(),
        )
        .await
        .unwrap();
    let mut replacement = user("ada@example.com", Some("okta-1"));
    replacement.title = Some("Countess".into());
    let replaced = client
        .replace_user(&id, &replacement, Deadline::default())
        .await
        .unwrap();
    let patched = client
        .patch_user(
            &id,
            &patch(json!({"schemas": [scim_core::PATCH_OP_SCHEMA],
                          "Operations": [{"op": "replace", "path": "active", "value": false}]})),
            Deadline::default(),
        )
        .await
        .unwrap();
    client.delete_user(&id, Deadline::default()).await.unwrap();
    let after_delete = client.get_user(&id, Deadline::default()).await;

    // Assert
    assert_eq!(read.user_name, "ada@example.com");
    assert_eq!(by_external_id.len(), 1);
    assert_eq!(by_external_id[0].id.as_deref(), Some(id.as_str()));
    assert_eq!(replaced.title.as_deref(), Some("Countess"));
    assert_eq!(patched.active, Some(false));
    assert!(
        matches!(after_delete, Err(TargetError::NotFound)),
        "{after_delete:?}"
    );
    assert!(running.users().is_empty());
}

#[tokio::test]
async fn a_group_is_created_read_found_renamed_in_place_and_deleted() {
    // Arrange
    let running = emulator(Knobs::default()).await;
    let client = ic_client(&running);

    // Act
    let created = client
        .create_group(&group("Engineering", Some("okta-g1")), Deadline::default())
        .await
        .unwrap();
    let id = created.id.clone().unwrap();
    let read = client.get_group(&id, Deadline::default()).await.unwrap();
    let found = client
        .list_groups(
            Some(&filter(r#"displayName eq "Engineering""#)),
            Deadline::default(),
        )
        .await
        .unwrap();
    let renamed = client
        .patch_group(
            &id,
            &patch(json!({"schemas": [scim_core::PATCH_OP_SCHEMA],
                          "Operations": [{"op": "replace", "path": "displayName", "value": "Platform"}]})),
            Deadline::default(),
        )
        .await
        .unwrap();
    let all = client.list_groups(None, Deadline::default()).await.unwrap();
    client.delete_group(&id, Deadline::default()).await.unwrap();

    // Assert
    assert_eq!(read.display_name, "Engineering");
    assert_eq!(found.len(), 1);
    assert_eq!(
        renamed.display_name, "Platform",
        "PatchGroup's 204 is followed by a read"
    );
    assert_eq!(
        renamed.id.as_deref(),
        Some(id.as_str()),
        "renamed in place, same id"
    );
    assert_eq!(all.len(), 1);
    assert!(running.groups().is_empty());
}

#[tokio::test]
async fn listing_follows_every_cursor_even_after_short_pages() {
    // Arrange: pages capped at 7 items, so 30 users take 5 pages.
    let running = emulator(Knobs {
        page_limit: Some(7),
        ..Knobs::default()
    })
    .await;
    let client = ic_client(&running);
    for name in user_names(30, "page") {
        client
            .create_user(&user(&name, None), Deadline::default())
            .await
            .unwrap();
    }
    let front = Front::start(running.addr(), running.base_path()).await;
    let through_front = client_for(&front.base_url);

    // Act
    let listed = through_front
        .list_users(None, Deadline::default())
        .await
        .unwrap();

    // Assert
    let mut ids: Vec<_> = listed.iter().map(|u| u.id.clone().unwrap()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 30);
    let queries: Vec<_> = front
        .seen()
        .into_iter()
        .map(|s| s.query.unwrap_or_default())
        .collect();
    assert_eq!(queries.len(), 5);
    assert_eq!(
        queries[0], "cursor=",
        "the first page asks for cursor paging with an empty cursor"
    );
    assert!(
        queries[1..]
            .iter()
            .all(|q| q.starts_with("cursor=") && q.len() > "cursor=".len())
    );
}

fn client_for(base_url: &str) -> clients::HttpTargetScimClient {
    client(base_url, TOKEN, TargetDialect::IdentityCenter).0
}

#[tokio::test]
async fn a_membership_change_of_250_goes_out_as_three_patches_of_at_most_100_value_only_members() {
    // Arrange
    let running = emulator(Knobs::default()).await;
    let client = ic_client(&running);
    let mut ids = Vec::new();
    for name in user_names(250, "member") {
        ids.push(
            client
                .create_user(&user(&name, None), Deadline::default())
                .await
                .unwrap()
                .id
                .unwrap(),
        );
    }
    let group_id = client
        .create_group(&group("Everyone", None), Deadline::default())
        .await
        .unwrap()
        .id
        .unwrap();
    let front = Front::start(running.addr(), running.base_path()).await;
    let through_front = client_for(&front.base_url);

    // Act
    through_front
        .add_group_members(&group_id, &ids, Deadline::default())
        .await
        .unwrap();
    let patches = front.seen();
    let members = through_front
        .list_group_member_ids(&group_id, Deadline::default())
        .await
        .unwrap();
    through_front
        .remove_group_members(&group_id, &ids[..120], Deadline::default())
        .await
        .unwrap();
    let after_removal = through_front
        .list_group_member_ids(&group_id, Deadline::default())
        .await
        .unwrap();

    // Assert
    assert!(patches.iter().all(|s| s.method == "PATCH"));
    let sizes: Vec<usize> = patches
        .iter()
        .map(|s| s.body["Operations"][0]["value"].as_array().unwrap().len())
        .collect();
    assert_eq!(sizes, vec![100, 100, 50]);
    for seen in &patches {
        for member in seen.body["Operations"][0]["value"].as_array().unwrap() {
            assert_eq!(
                member.as_object().unwrap().keys().collect::<Vec<_>>(),
                vec!["value"]
            );
        }
    }
    assert_eq!(
        members.len(),
        250,
        "member ids are read across three cursor pages"
    );
    assert_eq!(after_removal.len(), 130);
    let stored = &running.groups()[0].members;
    assert_eq!(stored.len(), 130);
    assert!(ids[..120].iter().all(|id| !stored.contains(id)));
}

#[tokio::test]
async fn an_empty_membership_change_sends_nothing() {
    // Arrange: removing an empty list from an Identity Center group would empty it.
    let running = emulator(Knobs::default()).await;
    let client = ic_client(&running);
    let group_id = client
        .create_group(&group("Quiet", None), Deadline::default())
        .await
        .unwrap()
        .id
        .unwrap();
    let before = running.requests();

    // Act
    client
        .remove_group_members(&group_id, &[], Deadline::default())
        .await
        .unwrap();
    client
        .add_group_members(&group_id, &[], Deadline::default())
        .await
        .unwrap();

    // Assert
    assert_eq!(running.requests(), before);
}

#[tokio::test]
async fn a_base_url_with_a_trailing_slash_or_a_tenant_segment_works() {
    // Arrange
    let config = ic_emulator::EmulatorConfig::new(TOKEN)
        .with_base_path("/bdh6a5e3698-0fc6-4232-a028-fea1a99ff77a/scim/v2");
    let running = ic_emulator::Emulator::start(config, "127.0.0.1:0")
        .await
        .unwrap();
    let client = client(
        &format!("{}/", running.base_url()),
        TOKEN,
        TargetDialect::IdentityCenter,
    )
    .0;

    // Act
    let created = client
        .create_user(&user("slash@example.com", None), Deadline::default())
        .await;

    // Assert
    assert!(created.is_ok(), "{created:?}");
}

#[tokio::test]
async fn a_conflict_on_a_first_attempt_is_a_conflict_not_an_adoption() {
    // Arrange
    let running = emulator(Knobs::default()).await;
    let client = ic_client(&running);
    client
        .create_user(
            &user("taken@example.com", Some("okta-a")),
            Deadline::default(),
        )
        .await
        .unwrap();
    client
        .create_group(&group("Taken", None), Deadline::default())
        .await
        .unwrap();

    // Act: the same names again, differing in case, from another identity.
    let user_again = client
        .create_user(
            &user("TAKEN@example.com", Some("okta-b")),
            Deadline::default(),
        )
        .await;
    let group_again = client
        .create_group(&group("Taken", None), Deadline::default())
        .await;

    // Assert
    assert!(
        matches!(user_again, Err(TargetError::Conflict { .. })),
        "{user_again:?}"
    );
    assert!(
        matches!(group_again, Err(TargetError::Conflict { .. })),
        "{group_again:?}"
    );
    assert_eq!(running.users().len(), 1);
}

#[tokio::test]
async fn a_create_whose_answer_was_lost_adopts_what_it_made_on_the_409_of_its_retry() {
    // Arrange: the first POST is applied but answered 500, as if the answer were lost.
    let running = emulator(Knobs::default()).await;
    let front = Front::start(running.addr(), running.base_path()).await;
    let client = client_for(&front.base_url);
    front.script([Act::ForwardThenAnswer(500)]);

    // Act
    let adopted_user = client
        .create_user(
            &user("lost@example.com", Some("okta-lost")),
            Deadline::default(),
        )
        .await
        .unwrap();
    front.script([Act::ForwardThenAnswer(500)]);
    let adopted_group = client
        .create_group(&group("Lost and Found", None), Deadline::default())
        .await
        .unwrap();

    // Assert
    let users = running.users();
    assert_eq!(users.len(), 1);
    assert_eq!(adopted_user.id.as_deref(), Some(users[0].id.as_str()));
    assert_eq!(
        adopted_group.id.as_deref(),
        Some(running.groups()[0].id.as_str())
    );
    let methods: Vec<_> = front.seen().into_iter().map(|s| s.method).collect();
    assert_eq!(
        methods,
        ["POST", "POST", "GET", "POST", "POST", "GET"],
        "create, retry (409), look-up"
    );
}

#[tokio::test]
async fn a_lost_answer_followed_by_a_409_for_someone_elses_user_is_still_a_conflict() {
    // Arrange: "shared@" exists with another externalId; our first POST is refused 500.
    let running = emulator(Knobs::default()).await;
    let front = Front::start(running.addr(), running.base_path()).await;
    let client = client_for(&front.base_url);
    client
        .create_user(
            &user("shared@example.com", Some("okta-other")),
            Deadline::default(),
        )
        .await
        .unwrap();
    front.script([Act::Answer(500, None)]);

    // Act
    let result = client
        .create_user(
            &user("shared@example.com", Some("okta-mine")),
            Deadline::default(),
        )
        .await;

    // Assert
    assert!(
        matches!(result, Err(TargetError::Conflict { .. })),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_delete_whose_answer_was_lost_succeeds_on_the_404_of_its_retry() {
    // Arrange
    let running = emulator(Knobs::default()).await;
    let front = Front::start(running.addr(), running.base_path()).await;
    let client = client_for(&front.base_url);
    let id = client
        .create_user(&user("gone@example.com", None), Deadline::default())
        .await
        .unwrap()
        .id
        .unwrap();
    front.script([Act::ForwardThenAnswer(500)]);

    // Act
    let deleted = client.delete_user(&id, Deadline::default()).await;
    let again = client.delete_user(&id, Deadline::default()).await;

    // Assert
    assert!(deleted.is_ok(), "{deleted:?}");
    assert!(
        matches!(again, Err(TargetError::NotFound)),
        "a first-attempt 404 is NotFound: {again:?}"
    );
}

#[tokio::test]
async fn a_429_is_retried_no_sooner_than_its_retry_after() {
    // Arrange: one request per second; the second is throttled with Retry-After: 1.
    let running = emulator(Knobs {
        rate_limit: Some(1),
        retry_after: Some(1),
        ..Knobs::default()
    })
    .await;
    let client = ic_client(&running);
    client
        .create_user(&user("first@example.com", None), Deadline::default())
        .await
        .unwrap();

    // Act
    let started = Instant::now();
    let second = client
        .create_user(&user("second@example.com", None), Deadline::default())
        .await;
    let elapsed = started.elapsed();

    // Assert
    assert!(second.is_ok(), "{second:?}");
    assert!(running.throttled() >= 1);
    assert!(elapsed >= Duration::from_secs(1), "waited {elapsed:?}");
    assert!(elapsed < Duration::from_millis(1900), "waited {elapsed:?}");
}

#[tokio::test]
async fn the_wait_after_a_429_honours_retry_after_even_when_backoff_would_be_shorter() {
    // Arrange: a scripted 429 asking for 2 seconds; the backoff alone would be ~20 ms.
    let running = emulator(Knobs::default()).await;
    let front = Front::start(running.addr(), running.base_path()).await;
    let client = client_for(&front.base_url);
    front.script([Act::Answer(429, Some(2))]);

    // Act
    client.list_users(None, Deadline::default()).await.unwrap();

    // Assert
    let seen = front.seen();
    let gap = seen[1].at - seen[0].at;
    assert!(
        gap >= Duration::from_secs(2) && gap < Duration::from_millis(2500),
        "gap {gap:?}"
    );
}

#[tokio::test]
async fn a_deadline_shorter_than_retry_after_ends_at_once_with_throttled() {
    // Arrange
    let running = emulator(Knobs {
        rate_limit: Some(1),
        retry_after: Some(5),
        ..Knobs::default()
    })
    .await;
    let client = ic_client(&running);
    client.list_users(None, Deadline::default()).await.unwrap();

    // Act
    let started = Instant::now();
    let result = client
        .list_users(None, Deadline::after(Duration::from_secs(2)))
        .await;

    // Assert: it does not sleep 5 s only to give up.
    assert!(
        matches!(result, Err(TargetError::Throttled { retry_after: Some(d) }) if d == Duration::from_secs(5)),
        "{result:?}"
    );
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_deadline_stops_retries_of_a_failing_target() {
    // Arrange: every request fails with 500.
    let running = emulator(Knobs {
        fail_rate: 1.0,
        ..Knobs::default()
    })
    .await;
    let client = ic_client(&running);

    // Act
    let started = Instant::now();
    let result = client
        .get_user(SOME_ID, Deadline::after(Duration::from_millis(600)))
        .await;
    let elapsed = started.elapsed();

    // Assert
    assert!(
        matches!(result, Err(TargetError::Rejected { status: 500, .. })),
        "{result:?}"
    );
    assert!(
        running.failed() >= 2,
        "it retried: {} attempts",
        running.failed()
    );
    assert!(elapsed <= Duration::from_millis(700), "{elapsed:?}");
}

#[tokio::test]
async fn a_target_slower_than_the_deadline_is_a_timeout() {
    // Arrange
    let running = emulator(Knobs {
        latency_ms: 2_000,
        ..Knobs::default()
    })
    .await;
    let client = ic_client(&running);

    // Act
    let started = Instant::now();
    let result = client
        .list_users(None, Deadline::after(Duration::from_millis(300)))
        .await;

    // Assert
    assert!(matches!(result, Err(TargetError::Timeout)), "{result:?}");
    assert!(
        started.elapsed() < Duration::from_millis(800),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn dropped_connections_are_retried() {
    // Arrange: half the connections close without an answer, before anything is applied.
    let knobs = Knobs {
        drop_rate: 0.5,
        fault_phase: ic_emulator::FaultPhase::Before,
        ..Knobs::default()
    };
    let running = emulator(knobs).await;
    let client = ic_client(&running);

    // Act
    for i in 0..20 {
        client
            .create_user(
                &user(&format!("drop{i}@example.com"), None),
                Deadline::default(),
            )
            .await
            .unwrap();
    }

    // Assert
    assert!(running.dropped() > 0);
    assert_eq!(running.users().len(), 20);
}

#[tokio::test]
async fn a_rotated_token_is_re_read_once_on_a_401_and_then_used() {
    // Arrange: the client has cached the old token; the directory now accepts only the new.
    let running = emulator(Knobs::default()).await;
    let (client, secrets) = client(&running.base_url(), TOKEN, TargetDialect::IdentityCenter);
    client.list_users(None, Deadline::default()).await.unwrap();
    running.set_tokens(vec!["rotated-token".into()]).unwrap();
    secrets.set(&token_id(), "rotated-token");
    let reads_before = secrets.reads();

    // Act
    let result = client.list_users(None, Deadline::default()).await;

    // Assert
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(secrets.reads(), reads_before + 1);
}

#[tokio::test]
async fn a_refused_token_that_was_not_rotated_is_unauthorized_after_one_re_read() {
    // Arrange
    let running = emulator(Knobs::default()).await;
    let (client, secrets) = client(
        &running.base_url(),
        "wrong-token",
        TargetDialect::IdentityCenter,
    );

    // Act
    let result = client.get_user(SOME_ID, Deadline::default()).await;

    // Assert
    assert!(
        matches!(result, Err(TargetError::Unauthorized)),
        "{result:?}"
    );
    assert_eq!(secrets.reads(), 2, "one read, one fresh re-read");
}

#[tokio::test]
async fn a_refusal_is_classified_with_identity_centers_detail() {
    // Arrange: Identity Center requires givenName, familyName and displayName.
    let running = emulator(Knobs::default()).await;
    let client = ic_client(&running);
    let bare: scim_core::User =
        serde_json::from_value(json!({"userName": "bare@example.com"})).unwrap();

    // Act
    let result = client.create_user(&bare, Deadline::default()).await;

    // Assert
    assert!(
        matches!(result, Err(TargetError::Rejected { status: 400, scim_type: None, ref detail }) if !detail.is_empty()),
        "{result:?}"
    );
}

#[tokio::test]
async fn the_token_is_cached_for_its_ttl() {
    // Arrange
    let running = emulator(Knobs::default()).await;
    let (client, secrets) = client_with(
        &running.base_url(),
        TOKEN,
        TargetDialect::IdentityCenter,
        |c| c.token_ttl = Duration::from_millis(300),
    );

    // Act
    for _ in 0..5 {
        client.list_users(None, Deadline::default()).await.unwrap();
    }
    let within_ttl = secrets.reads();
    tokio::time::sleep(Duration::from_millis(350)).await;
    client.list_users(None, Deadline::default()).await.unwrap();

    // Assert
    assert_eq!(within_ttl, 1);
    assert_eq!(secrets.reads(), 2);
}
