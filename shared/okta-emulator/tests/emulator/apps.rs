//! App assignments (Apps API reference, "Application users"): any app id names an app.

use serde_json::json;

use crate::common::{Ctx, assert_okta_error};

#[tokio::test]
async fn a_user_is_assigned_read_listed_and_unassigned() {
    // Arrange
    let ctx = Ctx::new().await;
    let id = ctx.create_user("a@example.com").await;
    let other = ctx.create_user("b@example.com").await;
    let one = format!("/api/v1/apps/0oaAWS/users/{id}");

    // Act + Assert
    assert!(ctx.get("/api/v1/apps/0oaAWS/users").await.ids().is_empty());
    assert_okta_error(&ctx.get(&one).await, 404, "E0000007");
    let assigned = ctx
        .post("/api/v1/apps/0oaAWS/users", &json!({"id": id}))
        .await;
    assert_eq!(assigned.status, 200, "{}", assigned.raw);
    assert_eq!(assigned.body["scope"], "USER");
    assert_eq!(assigned.body["status"], "ACTIVE");
    let read = ctx.get(&one).await;
    assert_eq!(
        (read.status, read.body["id"].as_str()),
        (200, Some(id.as_str()))
    );
    assert_eq!(read.body["credentials"]["userName"], "a@example.com");
    assert_eq!(
        ctx.get("/api/v1/apps/0oaAWS/users").await.ids(),
        std::slice::from_ref(&id)
    );
    assert_okta_error(
        &ctx.get(&format!("/api/v1/apps/0oaAWS/users/{other}")).await,
        404,
        "E0000007",
    );
    assert!(
        ctx.get("/api/v1/apps/0oaOther/users")
            .await
            .ids()
            .is_empty()
    );
    assert_eq!(ctx.delete(&one).await.status, 204);
    let again = ctx.delete(&one).await;
    assert_okta_error(&again, 404, "E0000007");
    assert_eq!(
        again.body["errorSummary"],
        format!("Not found: Resource not found: {id} (AppUser)")
    );
}

#[tokio::test]
async fn assigning_an_unknown_user_is_404_and_a_body_without_id_is_400() {
    let ctx = Ctx::new().await;
    assert_okta_error(
        &ctx.post("/api/v1/apps/0oa1/users", &json!({"id": "00unobody"}))
            .await,
        404,
        "E0000007",
    );
    assert_okta_error(
        &ctx.post("/api/v1/apps/0oa1/users", &json!({"scope": "USER"}))
            .await,
        400,
        "E0000001",
    );
}
