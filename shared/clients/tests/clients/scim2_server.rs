//! The client's generic SCIM flows against scim2-server, a third-party SCIM 2.0 server
//! (pip `scim2-server`, started by `scripts/test`), so the client is not only proven
//! against the emulator that was written alongside it: `startIndex` paging, 204 answers
//! to PATCH, members read from the group, removals addressed by value filters.

use crate::common::{client, filter, group, patch, unique, user};
use clients::TargetDialect;
use gateway::{Deadline, TargetError, TargetScimClient};
use serde_json::json;

fn scim2_client() -> clients::HttpTargetScimClient {
    let (base_url, token) = test_services::scim2_server();
    client(&base_url, &token, TargetDialect::Rfc7644).0
}

#[tokio::test]
async fn a_user_is_created_read_found_by_filter_patched_and_deleted() {
    // Arrange
    let client = scim2_client();
    let name = unique("scim2-user");
    let external_id = unique("okta");

    // Act
    let created = client
        .create_user(&user(&name, Some(&external_id)), Deadline::default())
        .await
        .unwrap();
    let id = created.id.clone().unwrap();
    let read = client.get_user(&id, Deadline::default()).await.unwrap();
    let found = client
        .list_users(
            Some(&filter(&format!(r#"userName eq "{name}""#))),
            Deadline::default(),
        )
        .await
        .unwrap();
    let patched = client
        .patch_user(
            &id,
            &patch(json!({"schemas": [scim_core::PATCH_OP_SCHEMA],
                          "Operations": [{"op": "replace", "path": "displayName", "value": "Ada King"}]})),
            Deadline::default(),
        )
        .await
        .unwrap();
    client.delete_user(&id, Deadline::default()).await.unwrap();
    let after_delete = client.get_user(&id, Deadline::default()).await;

    // Assert
    assert_eq!(read.user_name, name);
    assert_eq!(read.external_id.as_deref(), Some(external_id.as_str()));
    assert_eq!(
        found
            .iter()
            .map(|u| u.id.clone().unwrap())
            .collect::<Vec<_>>(),
        vec![id]
    );
    assert_eq!(
        patched.display_name.as_deref(),
        Some("Ada King"),
        "204 answered, then read back"
    );
    assert!(
        matches!(after_delete, Err(TargetError::NotFound)),
        "{after_delete:?}"
    );
}

#[tokio::test]
async fn a_user_is_replaced_with_put() {
    // Arrange
    let client = scim2_client();
    let name = unique("scim2-put");
    let created = client
        .create_user(&user(&name, None), Deadline::default())
        .await
        .unwrap();
    let mut replacement = user(&name, None);
    replacement.title = Some("Countess".into());

    // Act
    let replaced = client
        .replace_user(
            created.id.as_deref().unwrap(),
            &replacement,
            Deadline::default(),
        )
        .await
        .unwrap();

    // Assert
    assert_eq!(replaced.title.as_deref(), Some("Countess"));
}

#[tokio::test]
async fn a_duplicate_user_name_on_a_first_attempt_is_a_conflict_not_an_adoption() {
    // Arrange
    let client = scim2_client();
    let name = unique("scim2-dup");
    client
        .create_user(&user(&name, None), Deadline::default())
        .await
        .unwrap();

    // Act
    let second = client
        .create_user(&user(&name.to_uppercase(), None), Deadline::default())
        .await;

    // Assert
    assert!(
        matches!(second, Err(TargetError::Conflict { .. })),
        "{second:?}"
    );
}

#[tokio::test]
async fn group_members_are_added_listed_and_removed() {
    // Arrange
    let client = scim2_client();
    let mut ids = Vec::new();
    for i in 0..5 {
        let created = client
            .create_user(
                &user(&unique(&format!("scim2-m{i}")), None),
                Deadline::default(),
            )
            .await
            .unwrap();
        ids.push(created.id.unwrap());
    }
    let created = client
        .create_group(&group(&unique("scim2-group"), None), Deadline::default())
        .await
        .unwrap();
    let group_id = created.id.unwrap();

    // Act
    client
        .add_group_members(&group_id, &ids, Deadline::default())
        .await
        .unwrap();
    let mut after_add = client
        .list_group_member_ids(&group_id, Deadline::default())
        .await
        .unwrap();
    client
        .remove_group_members(&group_id, &ids[..2], Deadline::default())
        .await
        .unwrap();
    let mut after_remove = client
        .list_group_member_ids(&group_id, Deadline::default())
        .await
        .unwrap();

    // Assert
    after_add.sort();
    after_remove.sort();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(after_add, expected);
    let mut rest = ids[2..].to_vec();
    rest.sort();
    assert_eq!(after_remove, rest);
}

#[tokio::test]
async fn a_group_is_found_by_display_name_renamed_and_deleted() {
    // Arrange
    let client = scim2_client();
    let name = unique("scim2-g");
    let created = client
        .create_group(&group(&name, Some("okta-g1")), Deadline::default())
        .await
        .unwrap();
    let id = created.id.unwrap();

    // Act
    let found = client
        .list_groups(
            Some(&filter(&format!(r#"displayName eq "{name}""#))),
            Deadline::default(),
        )
        .await
        .unwrap();
    let renamed = client
        .patch_group(
            &id,
            &patch(json!({"schemas": [scim_core::PATCH_OP_SCHEMA],
                          "Operations": [{"op": "replace", "path": "displayName", "value": format!("{name}-renamed")}]})),
            Deadline::default(),
        )
        .await
        .unwrap();
    client.delete_group(&id, Deadline::default()).await.unwrap();

    // Assert
    assert_eq!(found.len(), 1);
    assert_eq!(renamed.display_name, format!("{name}-renamed"));
    assert!(matches!(
        client.get_group(&id, Deadline::default()).await,
        Err(TargetError::NotFound)
    ));
}

#[tokio::test]
async fn listing_follows_start_index_pages_past_the_first_hundred() {
    // Arrange
    let client = scim2_client();
    let prefix = unique("scim2-page");
    for i in 0..130 {
        client
            .create_user(
                &user(&format!("{prefix}-{i:03}"), None),
                Deadline::default(),
            )
            .await
            .unwrap();
    }

    // Act
    let all = client
        .list_users(
            Some(&filter(&format!(r#"userName sw "{prefix}-""#))),
            Deadline::default(),
        )
        .await
        .unwrap();

    // Assert
    assert_eq!(all.len(), 130);
}
