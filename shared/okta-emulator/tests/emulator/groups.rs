//! The Groups API: groups, their profile, their members (Groups API reference).

use okta_emulator::Seed;
use serde_json::json;

use crate::common::{Ctx, assert_okta_error};

#[tokio::test]
async fn a_created_group_is_an_okta_group_in_okta_s_shape() {
    let ctx = Ctx::new().await;
    let r = ctx
        .post(
            "/api/v1/groups",
            &json!({"profile": {"name": "West Coast Users", "description": "All Users West of The Rockies"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.raw);
    let id = r.body["id"].as_str().unwrap();
    assert!(id.starts_with("00g") && id.len() == 20, "{id}");
    assert_eq!(r.body["type"], "OKTA_GROUP");
    assert_eq!(r.body["objectClass"], json!(["okta:user_group"]));
    assert_eq!(
        r.body["_links"]["users"]["href"],
        format!("{}/api/v1/groups/{id}/users", ctx.running.base_url())
    );
    assert_eq!(ctx.get(&format!("/api/v1/groups/{id}")).await.body, r.body);
}

#[tokio::test]
async fn a_group_is_renamed_deleted_and_then_404_e0000007_user_group() {
    let ctx = Ctx::new().await;
    let id = ctx.create_group("Old").await;
    let path = format!("/api/v1/groups/{id}");
    let renamed = ctx.put(&path, &json!({"profile": {"name": "New"}})).await;
    assert_eq!(renamed.body["profile"]["name"], "New");
    assert_eq!(ctx.delete(&path).await.status, 204);
    let gone = ctx.get(&path).await;
    assert_okta_error(&gone, 404, "E0000007");
    assert_eq!(
        gone.body["errorSummary"],
        format!("Not found: Resource not found: {id} (UserGroup)")
    );
}

#[tokio::test]
async fn names_are_required_and_unique() {
    let ctx = Ctx::new().await;
    ctx.create_group("Finance").await;
    assert_okta_error(
        &ctx.post("/api/v1/groups", &json!({"profile": {"name": "finance"}}))
            .await,
        400,
        "E0000001",
    );
    assert_okta_error(
        &ctx.post("/api/v1/groups", &json!({"profile": {}})).await,
        400,
        "E0000001",
    );
}

#[tokio::test]
async fn members_are_added_and_removed_idempotently_with_204() {
    // Arrange
    let ctx = Ctx::new().await;
    let group = ctx.create_group("Team").await;
    let ada = ctx.create_user("ada@example.com").await;
    let bob = ctx.create_user("bob@example.com").await;
    let member = |u: &str| format!("/api/v1/groups/{group}/users/{u}");

    // Act + Assert
    for _ in 0..2 {
        assert_eq!(ctx.put_empty(&member(&ada)).await.status, 204);
    }
    assert_eq!(ctx.put_empty(&member(&bob)).await.status, 204);
    let members = ctx.get(&format!("/api/v1/groups/{group}/users")).await;
    assert_eq!(members.ids(), [ada.clone(), bob.clone()]);
    assert_eq!(members.body[0]["profile"]["login"], "ada@example.com");
    for _ in 0..2 {
        assert_eq!(ctx.delete(&member(&ada)).await.status, 204);
    }
    assert_eq!(ctx.running.state().members(&group), [bob]);
    assert_okta_error(&ctx.put_empty(&member("00unobody")).await, 404, "E0000007");
    assert_okta_error(
        &ctx.put_empty(&format!("/api/v1/groups/00gnone/users/{ada}"))
            .await,
        404,
        "E0000007",
    );
    assert_okta_error(
        &ctx.get("/api/v1/groups/00gnone/users").await,
        404,
        "E0000007",
    );
}

#[tokio::test]
async fn app_and_built_in_groups_refuse_changes_through_the_api() {
    let mut app_group = Seed::group_object("00gapp", "From AD");
    app_group["type"] = json!("APP_GROUP");
    let ctx = Ctx::seeded(Seed {
        users: vec![Seed::user_object("00u1", "u@example.com")],
        groups: vec![app_group],
        memberships: [("00gapp".to_owned(), vec!["00u1".to_owned()])].into(),
        ..Seed::default()
    })
    .await;
    assert_okta_error(
        &ctx.delete("/api/v1/groups/00gapp/users/00u1").await,
        400,
        "E0000001",
    );
    assert_okta_error(&ctx.delete("/api/v1/groups/00gapp").await, 400, "E0000001");
    assert_eq!(ctx.get("/api/v1/groups/00gapp/users").await.ids(), ["00u1"]);
}
