//! The Identity Center client's value-level rules against the emulator
//! (`docs/identity-center-dialect.md` §7): the `User-Agent` on every request, ids that no
//! Identity Center resource can have answered without a request, and create-or-adopt
//! never adopting another user or group after a 409 about a shared email or
//! `externalId`.

use crate::common::front::{Act, Front};
use crate::common::{TOKEN, client, emulator, group, ic_client, patch, user};
use clients::TargetDialect;
use clients::identity_center::USER_AGENT;
use gateway::{Deadline, TargetError, TargetScimClient};
use ic_emulator::Knobs;
use scim_core::{Member, ScimType, User};
use serde_json::json;

/// Ids a user or group can never have at Identity Center: the wrong shape, upper-case
/// hex, a path, a 10-digit prefix without its UUID.
const MALFORMED_IDS: &[&str] = &[
    "u-1",
    "EE533C18-538A-4CD3-A572-63FB863ED734",
    "..",
    "9067729b3d",
];

fn ic_client_of(base_url: &str) -> clients::HttpTargetScimClient {
    client(base_url, TOKEN, TargetDialect::IdentityCenter).0
}

fn user_with_email(user_name: &str, email: &str, external_id: Option<&str>) -> User {
    let mut user = user(user_name, external_id);
    user.emails = Some(vec![scim_core::MultiValued {
        primary: Some(true),
        ..scim_core::MultiValued::typed(email, "work")
    }]);
    user
}

fn deactivate() -> scim_core::PatchOp {
    patch(json!({"schemas": [scim_core::PATCH_OP_SCHEMA],
                 "Operations": [{"op": "replace", "path": "active", "value": false}]}))
}

#[tokio::test]
async fn every_request_carries_the_scimgw_user_agent_patch_included() {
    // Arrange
    let running = emulator(Knobs::default()).await;
    let front = Front::start(running.addr(), running.base_path()).await;
    let client = ic_client_of(&front.base_url);
    let d = Deadline::default;

    // Act: one of each kind of request the client sends.
    let user_id = client
        .create_user(&user("agent@example.com", Some("okta-agent")), d())
        .await
        .unwrap()
        .id
        .unwrap();
    client.get_user(&user_id, d()).await.unwrap();
    client.list_users(None, d()).await.unwrap();
    client
        .replace_user(
            &user_id,
            &user("agent@example.com", Some("okta-agent")),
            d(),
        )
        .await
        .unwrap();
    let patched = client.patch_user(&user_id, &deactivate(), d()).await;
    let group_id = client
        .create_group(&group("Agents", None), d())
        .await
        .unwrap()
        .id
        .unwrap();
    client
        .add_group_members(&group_id, std::slice::from_ref(&user_id), d())
        .await
        .unwrap();
    client.delete_group(&group_id, d()).await.unwrap();
    client.delete_user(&user_id, d()).await.unwrap();

    // Assert
    assert!(patched.is_ok(), "{patched:?}");
    assert_eq!(patched.unwrap().active, Some(false));
    let seen = front.seen();
    assert!(seen.iter().filter(|s| s.method == "PATCH").count() >= 2);
    for request in &seen {
        assert_eq!(
            request.user_agent.as_deref(),
            Some(USER_AGENT),
            "{} {}",
            request.method,
            request.path
        );
    }
    assert!(USER_AGENT.starts_with("scimgw/"));
}

#[tokio::test]
async fn ids_not_shaped_like_identity_centers_are_not_found_without_a_request() {
    // Arrange
    let running = emulator(Knobs::default()).await;
    let client = ic_client(&running);
    let d = Deadline::default;
    let before = running.requests();

    for id in MALFORMED_IDS {
        // Act
        let results = [
            client.get_user(id, d()).await.map(drop),
            client
                .replace_user(id, &user("x@example.com", None), d())
                .await
                .map(drop),
            client.patch_user(id, &deactivate(), d()).await.map(drop),
            client.delete_user(id, d()).await,
            client.get_group(id, d()).await.map(drop),
            client.patch_group(id, &deactivate(), d()).await.map(drop),
            client.delete_group(id, d()).await,
            client.add_group_members(id, &[], d()).await,
        ];

        // Assert
        for (i, result) in results.iter().enumerate() {
            assert!(
                matches!(result, Err(TargetError::NotFound)),
                "{id:?} call {i}: {result:?}"
            );
        }
    }
    assert_eq!(running.requests(), before, "nothing reached the emulator");
}

#[tokio::test]
async fn a_member_id_no_user_can_have_is_refused_on_add_and_dropped_on_remove_without_a_request() {
    // Arrange
    let running = emulator(Knobs::default()).await;
    let client = ic_client(&running);
    let d = Deadline::default;
    let member = client
        .create_user(&user("member@example.com", None), d())
        .await
        .unwrap()
        .id
        .unwrap();
    let group_id = client
        .create_group(&group("Members", None), d())
        .await
        .unwrap()
        .id
        .unwrap();
    client
        .add_group_members(&group_id, std::slice::from_ref(&member), d())
        .await
        .unwrap();
    let mut with_bad_member = group("With a bad member", None);
    with_bad_member.members = Some(vec![Member::new(&member), Member::new("u-1")]);
    let before = running.requests();

    // Act
    let added = client
        .add_group_members(&group_id, &[member.clone(), "u-1".to_owned()], d())
        .await;
    let created = client.create_group(&with_bad_member, d()).await;
    let removed_nothing = client
        .remove_group_members(&group_id, &["u-1".to_owned()], d())
        .await;
    let requests_so_far = running.requests();
    let removed_the_member = client
        .remove_group_members(&group_id, &["u-1".to_owned(), member.clone()], d())
        .await;

    // Assert
    for refused in [added.map(drop), created.map(drop)] {
        assert!(
            matches!(
                refused,
                Err(TargetError::Rejected {
                    status: 400,
                    scim_type: Some(ScimType::InvalidValue),
                    ..
                })
            ),
            "{refused:?}"
        );
    }
    assert!(removed_nothing.is_ok(), "{removed_nothing:?}");
    assert_eq!(requests_so_far, before, "nothing reached the emulator");
    assert!(removed_the_member.is_ok(), "{removed_the_member:?}");
    assert_eq!(
        running.requests(),
        before + 1,
        "one PATCH, the real member only"
    );
    assert!(running.groups()[0].members.is_empty());
    assert_eq!(running.groups().len(), 1, "the bad create was not sent");
}

#[tokio::test]
async fn a_plain_rfc7644_target_gets_any_id_it_is_asked_for() {
    // Arrange: a generic SCIM server may use ids of any shape.
    let running = emulator(Knobs::default()).await;
    let client = client(&running.base_url(), TOKEN, TargetDialect::Rfc7644).0;
    let before = running.requests();

    // Act
    let result = client.get_user("u-1", Deadline::default()).await;

    // Assert
    assert!(matches!(result, Err(TargetError::NotFound)), "{result:?}");
    assert_eq!(running.requests(), before + 1);
}

#[tokio::test]
async fn a_lost_answer_then_a_409_about_another_users_external_id_is_a_conflict_not_an_adoption() {
    // Arrange: someone else already carries the externalId we send. Our first POST is
    // answered 500 without being applied; the retry meets the 409 that externalId causes
    // (Identity Center keeps externalId unique, `docs/identity-center-dialect.md` §7).
    let running = emulator(Knobs::default()).await;
    let front = Front::start(running.addr(), running.base_path()).await;
    let client = ic_client_of(&front.base_url);
    client
        .create_user(
            &user("someone.else@example.com", Some("okta-shared")),
            Deadline::default(),
        )
        .await
        .unwrap();
    front.script([Act::Answer(500, None), Act::Answer(409, None)]);

    // Act
    let result = client
        .create_user(
            &user("me@example.com", Some("okta-shared")),
            Deadline::default(),
        )
        .await;

    // Assert
    assert!(
        matches!(result, Err(TargetError::Conflict { .. })),
        "{result:?}"
    );
    assert_eq!(running.users().len(), 1);
}

#[tokio::test]
async fn a_lost_answer_then_a_409_about_another_users_email_is_a_conflict_not_an_adoption() {
    // Arrange: someone else already has the e-mail address we send (Identity Center keeps
    // the primary email unique, §7); with and without an externalId of ours.
    let running = emulator(Knobs::default()).await;
    let front = Front::start(running.addr(), running.base_path()).await;
    let client = ic_client_of(&front.base_url);
    client
        .create_user(
            &user_with_email("first@example.com", "shared@example.com", Some("okta-1")),
            Deadline::default(),
        )
        .await
        .unwrap();

    for external_id in [Some("okta-2"), None] {
        front.script([Act::Answer(500, None), Act::Answer(409, None)]);

        // Act
        let result = client
            .create_user(
                &user_with_email("second@example.com", "shared@example.com", external_id),
                Deadline::default(),
            )
            .await;

        // Assert
        assert!(
            matches!(result, Err(TargetError::Conflict { .. })),
            "{external_id:?}: {result:?}"
        );
    }
    assert_eq!(running.users().len(), 1);
}

#[tokio::test]
async fn a_same_named_user_with_an_external_id_is_not_adopted_by_a_create_that_sent_none() {
    // Arrange: "same@" exists with an externalId; we create "SAME@" without one, our first
    // POST is refused 500, and the retry meets the 409 on the name.
    let running = emulator(Knobs::default()).await;
    let front = Front::start(running.addr(), running.base_path()).await;
    let client = ic_client_of(&front.base_url);
    client
        .create_user(
            &user("same@example.com", Some("okta-x")),
            Deadline::default(),
        )
        .await
        .unwrap();
    front.script([Act::Answer(500, None)]);

    // Act
    let result = client
        .create_user(&user("SAME@example.com", None), Deadline::default())
        .await;

    // Assert
    assert!(
        matches!(result, Err(TargetError::Conflict { .. })),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_lost_answer_then_a_409_for_a_group_with_another_external_id_is_a_conflict() {
    // Arrange
    let running = emulator(Knobs::default()).await;
    let front = Front::start(running.addr(), running.base_path()).await;
    let client = ic_client_of(&front.base_url);
    client
        .create_group(&group("Ops", Some("okta-g1")), Deadline::default())
        .await
        .unwrap();
    front.script([Act::Answer(500, None)]);

    // Act
    let result = client
        .create_group(&group("ops", Some("okta-g2")), Deadline::default())
        .await;

    // Assert
    assert!(
        matches!(result, Err(TargetError::Conflict { .. })),
        "{result:?}"
    );
    assert_eq!(running.groups().len(), 1);
}
