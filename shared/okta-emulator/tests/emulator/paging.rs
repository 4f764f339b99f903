//! Cursor paging with `limit`, `after` and `Link` headers (Okta API reference,
//! "Pagination"; Users API: users up to 200 a page; Groups API: members up to 1 000).

use okta_emulator::{Knobs, Seed};
use serde_json::json;

use crate::common::Ctx;

fn users(n: usize) -> Vec<serde_json::Value> {
    (0..n)
        .map(|i| Seed::user_object(&format!("00u{i:017}"), &format!("user{i}@example.com")))
        .collect()
}

#[tokio::test]
async fn four_hundred_fifty_users_come_in_pages_of_200_linked_in_okta_s_form() {
    // Arrange
    let ctx = Ctx::seeded(Seed {
        users: users(450),
        ..Seed::default()
    })
    .await;
    let org = ctx.running.base_url();

    // Act
    let pages = ctx.walk("/api/v1/users?limit=200").await;

    // Assert: three pages, each with its self link, the first two with a next link whose
    // cursor is the last id of the page.
    let sizes: Vec<usize> = pages.iter().map(|p| p.ids().len()).collect();
    assert_eq!(sizes, [200, 200, 50]);
    let first_last = &pages[0].ids()[199];
    assert_eq!(
        pages[0].links(),
        [
            format!("<{org}/api/v1/users?limit=200>; rel=\"self\""),
            format!("<{org}/api/v1/users?after={first_last}&limit=200>; rel=\"next\""),
        ]
    );
    assert_eq!(
        pages[1].links()[0],
        format!("<{org}/api/v1/users?after={first_last}&limit=200>; rel=\"self\"")
    );
    assert_eq!(pages[2].links().len(), 1, "the last page has no next link");
    let all: Vec<String> = pages.iter().flat_map(|p| p.ids()).collect();
    let expected: Vec<String> = (0..450).map(|i| format!("00u{i:017}")).collect();
    assert_eq!(all, expected, "every user once, in creation order");
}

#[tokio::test]
async fn without_a_limit_users_come_200_a_page_and_a_larger_limit_is_capped() {
    let ctx = Ctx::seeded(Seed {
        users: users(201),
        ..Seed::default()
    })
    .await;
    let default = ctx.get("/api/v1/users").await;
    assert_eq!(default.ids().len(), 200);
    let capped = ctx.get("/api/v1/users?limit=1000").await;
    assert_eq!(capped.ids().len(), 200);
    assert!(capped.next().unwrap().ends_with("&limit=200"));
}

#[tokio::test]
async fn twelve_hundred_members_come_in_pages_of_a_thousand() {
    let members: Vec<String> = (0..1_200).map(|i| format!("00u{i:017}")).collect();
    let ctx = Ctx::seeded(Seed {
        users: users(1_200),
        groups: vec![Seed::group_object("00gbig", "Everyone here")],
        memberships: [("00gbig".to_owned(), members.clone())].into(),
        ..Seed::default()
    })
    .await;
    let pages = ctx.walk("/api/v1/groups/00gbig/users?limit=1000").await;
    let sizes: Vec<usize> = pages.iter().map(|p| p.ids().len()).collect();
    assert_eq!(sizes, [1_000, 200]);
    let all: Vec<String> = pages.iter().flat_map(|p| p.ids()).collect();
    assert_eq!(all, members);
}

#[tokio::test]
async fn the_page_limit_knob_makes_every_listing_page() {
    // Arrange: one user in 5 groups, assigned to an app with 4 others.
    let ids: Vec<String> = (0..5).map(|i| format!("00u{i:017}")).collect();
    let groups: Vec<_> = (0..5)
        .map(|i| Seed::group_object(&format!("00g{i}"), &format!("Group {i}")))
        .collect();
    let ctx = Ctx::seeded(Seed {
        users: users(5),
        memberships: (0..5)
            .map(|i| (format!("00g{i}"), vec![ids[0].clone()]))
            .collect(),
        groups,
        apps: [("0oaapp".to_owned(), ids.clone())].into(),
    })
    .await;
    ctx.running
        .set_knobs(Knobs {
            page_limit: Some(2),
            ..Knobs::default()
        })
        .unwrap();

    // Act
    let user_groups = ctx.walk(&format!("/api/v1/users/{}/groups", ids[0])).await;
    let app_users = ctx.walk("/api/v1/apps/0oaapp/users").await;
    let all_groups = ctx.walk("/api/v1/groups").await;

    // Assert
    for (pages, total) in [(&user_groups, 5), (&app_users, 5), (&all_groups, 5)] {
        assert_eq!(pages.len(), 3);
        assert_eq!(pages.iter().map(|p| p.ids().len()).sum::<usize>(), total);
    }
    assert!(
        app_users[0].next().unwrap().contains("limit=50"),
        "the app default"
    );
}

#[tokio::test]
async fn a_cursor_keeps_its_place_when_its_user_is_deleted_between_pages() {
    let ctx = Ctx::seeded(Seed {
        users: users(4),
        ..Seed::default()
    })
    .await;
    let first = ctx.get("/api/v1/users?limit=2").await;
    let last_of_first = first.ids()[1].clone();
    // Deleting takes two DELETEs: deactivate, then delete.
    for _ in 0..2 {
        assert_eq!(
            ctx.delete(&format!("/api/v1/users/{last_of_first}"))
                .await
                .status,
            204
        );
    }
    let second = ctx.get_url(&first.next().unwrap()).await;
    assert_eq!(second.status, 200, "{}", second.raw);
    assert_eq!(
        second.ids(),
        [format!("00u{:017}", 2), format!("00u{:017}", 3)]
    );
}

#[tokio::test]
async fn deactivated_users_are_listed_only_when_a_status_filter_asks_for_them() {
    // Users API, "List all users": DEPROVISIONED users are left out unless filtered for.
    let ctx = Ctx::new().await;
    let kept = ctx.create_user("kept@example.com").await;
    let gone = ctx.create_user("gone@example.com").await;
    let r = ctx
        .post_empty(&format!("/api/v1/users/{gone}/lifecycle/deactivate"))
        .await;
    assert_eq!(r.status, 200);

    let default = ctx.get("/api/v1/users").await;
    let filtered = ctx
        .get("/api/v1/users?filter=status%20eq%20%22DEPROVISIONED%22")
        .await;
    let both = ctx
        .get("/api/v1/users?filter=status%20eq%20%22ACTIVE%22%20or%20status%20eq%20%22DEPROVISIONED%22")
        .await;
    let unsupported = ctx
        .get("/api/v1/users?filter=profile.login%20eq%20%22x%22")
        .await;

    assert_eq!(default.ids(), std::slice::from_ref(&kept));
    assert_eq!(filtered.ids(), std::slice::from_ref(&gone));
    assert_eq!(both.ids(), [kept, gone]);
    crate::common::assert_okta_error(&unsupported, 400, "E0000031");
}

#[tokio::test]
async fn groups_are_found_by_a_name_prefix_without_regard_to_case() {
    let ctx = Ctx::new().await;
    let eng = ctx.create_group("Engineering").await;
    ctx.create_group("Sales").await;
    let r = ctx.get("/api/v1/groups?q=eng").await;
    assert_eq!(r.ids(), [eng]);
    assert_eq!(r.body[0]["profile"], json!({"name": "Engineering"}));
}
