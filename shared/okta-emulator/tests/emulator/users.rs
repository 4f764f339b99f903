//! The Users API: create, read, update, the two-step delete and the lifecycle operations
//! with their state rules (Users API reference, "User lifecycle operations").

use serde_json::{Value, json};

use crate::common::{Ctx, assert_okta_error, user_body};

fn is_okta_id(id: &str, prefix: &str) -> bool {
    id.len() == 20 && id.starts_with(prefix) && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

#[tokio::test]
async fn a_created_user_is_active_by_default_in_okta_s_shape() {
    // Arrange
    let ctx = Ctx::new().await;

    // Act
    let r = ctx
        .post("/api/v1/users?activate=true", &user_body("ada@example.com"))
        .await;

    // Assert
    assert_eq!(r.status, 200, "{}", r.raw);
    let id = r.body["id"].as_str().unwrap();
    assert!(is_okta_id(id, "00u"), "{id}");
    assert_eq!(r.body["status"], "ACTIVE");
    for stamp in ["created", "activated", "statusChanged", "lastUpdated"] {
        assert!(r.body[stamp].as_str().unwrap().ends_with('Z'), "{stamp}");
    }
    assert_eq!(r.body["lastLogin"], Value::Null);
    assert_eq!(r.body["profile"]["login"], "ada@example.com");
    assert!(r.body["type"]["id"].as_str().unwrap().starts_with("oty"));
    assert_eq!(
        r.body["_links"]["self"]["href"],
        format!("{}/api/v1/users/{id}", ctx.running.base_url())
    );
    assert_eq!(ctx.get(&format!("/api/v1/users/{id}")).await.body, r.body);
}

#[tokio::test]
async fn activate_false_stages_the_user_and_a_password_is_never_answered() {
    let ctx = Ctx::new().await;
    let mut body = user_body("staged@example.com");
    body["credentials"] = json!({"password": {"value": "tlpWENT2m"}});
    let r = ctx.post("/api/v1/users?activate=false", &body).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(r.body["status"], "STAGED");
    assert_eq!(r.body["activated"], Value::Null);
    assert_eq!(r.body["credentials"]["password"], json!({}));
    assert!(!r.raw.contains("tlpWENT2m"));
    assert!(
        !serde_json::to_string(&ctx.running.state())
            .unwrap()
            .contains("tlpWENT2m")
    );
}

#[tokio::test]
async fn login_is_required_and_unique_without_regard_to_case() {
    let ctx = Ctx::new().await;
    ctx.create_user("Ada@Example.com").await;
    let duplicate = ctx
        .post("/api/v1/users", &user_body("ada@example.COM"))
        .await;
    assert_okta_error(&duplicate, 400, "E0000001");
    assert_eq!(
        duplicate.body["errorSummary"],
        "Api validation failed: login"
    );
    assert_eq!(
        duplicate.body["errorCauses"][0]["errorSummary"],
        "login: An object with this field already exists in the current organization"
    );
    let blank = ctx
        .post("/api/v1/users", &json!({"profile": {"login": " "}}))
        .await;
    assert_okta_error(&blank, 400, "E0000001");
    let no_profile = ctx.post("/api/v1/users", &json!({"login": "x"})).await;
    assert_okta_error(&no_profile, 400, "E0000001");
    let bad_json = ctx
        .send_with(
            reqwest::Method::POST,
            &ctx.url("/api/v1/users"),
            Some(&format!("SSWS {}", crate::common::TOKEN)),
            None,
        )
        .await;
    assert_okta_error(&bad_json, 400, "E0000003");
    assert_okta_error(
        &ctx.post("/api/v1/users?activate=maybe", &user_body("m@example.com"))
            .await,
        400,
        "E0000001",
    );
}

#[tokio::test]
async fn a_user_is_read_by_id_or_login_and_an_unknown_one_is_404_e0000007() {
    let ctx = Ctx::new().await;
    let id = ctx.create_user("grace@example.com").await;
    assert_eq!(
        ctx.get("/api/v1/users/GRACE@example.com").await.body["id"],
        id.as_str()
    );
    let missing = ctx.get("/api/v1/users/00unobody000000000000").await;
    assert_okta_error(&missing, 404, "E0000007");
    assert_eq!(
        missing.body["errorSummary"],
        "Not found: Resource not found: 00unobody000000000000 (User)"
    );
}

#[tokio::test]
async fn post_updates_the_given_attributes_and_put_replaces_the_profile() {
    // Arrange
    let ctx = Ctx::new().await;
    let id = ctx.create_user("p@example.com").await;
    let other = ctx.create_user("taken@example.com").await;
    let path = format!("/api/v1/users/{id}");

    // Act
    let partial = ctx
        .post(&path, &json!({"profile": {"title": "Director"}}))
        .await;
    let replaced = ctx
        .put(
            &path,
            &json!({"profile": {"login": "p2@example.com", "firstName": "P"}}),
        )
        .await;
    let clash = ctx
        .post(&path, &json!({"profile": {"login": "TAKEN@example.com"}}))
        .await;
    let no_login = ctx
        .put(&path, &json!({"profile": {"firstName": "Q"}}))
        .await;

    // Assert
    assert_eq!(partial.status, 200, "{}", partial.raw);
    assert_eq!(partial.body["profile"]["title"], "Director");
    assert_eq!(partial.body["profile"]["lastName"], "Lovelace");
    assert_eq!(
        replaced.body["profile"],
        json!({"login": "p2@example.com", "firstName": "P"})
    );
    assert_okta_error(&clash, 400, "E0000001");
    assert_okta_error(&no_login, 400, "E0000001");
    assert_ne!(id, other);
}

#[tokio::test]
async fn the_first_delete_deactivates_and_the_second_deletes_with_memberships() {
    // Arrange
    let ctx = Ctx::new().await;
    let id = ctx.create_user("d@example.com").await;
    let group = ctx.create_group("G").await;
    assert_eq!(
        ctx.put_empty(&format!("/api/v1/groups/{group}/users/{id}"))
            .await
            .status,
        204
    );
    ctx.post("/api/v1/apps/0oa1/users", &json!({"id": id}))
        .await;
    let path = format!("/api/v1/users/{id}");

    // Act + Assert: deactivated, still a member.
    assert_eq!(ctx.delete(&path).await.status, 204);
    assert_eq!(ctx.get(&path).await.body["status"], "DEPROVISIONED");
    assert_eq!(
        ctx.running.state().members(&group),
        std::slice::from_ref(&id)
    );

    // Act + Assert: gone, with its membership and its assignment.
    assert_eq!(ctx.delete(&path).await.status, 204);
    assert_okta_error(&ctx.get(&path).await, 404, "E0000007");
    assert_okta_error(&ctx.delete(&path).await, 404, "E0000007");
    let state = ctx.running.state();
    assert!(state.members(&group).is_empty());
    assert!(state.apps.is_empty());
}

#[tokio::test]
async fn lifecycle_operations_move_users_between_statuses_by_okta_s_rules() {
    // Arrange
    let ctx = Ctx::new().await;
    let r = ctx
        .post("/api/v1/users?activate=false", &user_body("l@example.com"))
        .await;
    let id = r.body["id"].as_str().unwrap().to_owned();
    let op = |name: &str| format!("/api/v1/users/{id}/lifecycle/{name}");
    let status = || async { ctx.get(&format!("/api/v1/users/{id}")).await.body["status"].clone() };

    // Act + Assert, step by step.
    assert_okta_error(&ctx.post_empty(&op("suspend")).await, 400, "E0000001");
    assert_eq!(ctx.post_empty(&op("activate")).await.status, 200);
    assert_eq!(status().await, "ACTIVE");
    let again = ctx.post_empty(&op("activate")).await;
    assert_okta_error(&again, 400, "E0000001");
    assert_eq!(
        again.body["errorSummary"],
        "Api validation failed: activate"
    );
    assert_okta_error(&ctx.post_empty(&op("unsuspend")).await, 400, "E0000001");
    assert_eq!(ctx.post_empty(&op("suspend")).await.status, 200);
    assert_eq!(status().await, "SUSPENDED");
    assert_okta_error(&ctx.post_empty(&op("suspend")).await, 400, "E0000001");
    assert_eq!(ctx.post_empty(&op("unsuspend")).await.status, 200);
    assert_eq!(status().await, "ACTIVE");
    assert_eq!(ctx.post_empty(&op("suspend")).await.status, 200);
    let deactivated = ctx.post_empty(&op("deactivate")).await;
    assert_eq!(
        (deactivated.status, deactivated.body.clone()),
        (200, json!({}))
    );
    assert_eq!(status().await, "DEPROVISIONED");
    assert_okta_error(&ctx.post_empty(&op("reactivate")).await, 400, "E0000001");
    assert_eq!(ctx.post_empty(&op("activate")).await.status, 200);
    assert_eq!(status().await, "ACTIVE");
    assert_okta_error(&ctx.post_empty(&op("explode")).await, 404, "E0000007");
    assert_okta_error(
        &ctx.post_empty("/api/v1/users/00unobody/lifecycle/suspend")
            .await,
        404,
        "E0000007",
    );
}

#[tokio::test]
async fn a_user_s_groups_are_listed_and_an_unknown_user_s_are_404() {
    let ctx = Ctx::new().await;
    let id = ctx.create_user("m@example.com").await;
    let a = ctx.create_group("A").await;
    let b = ctx.create_group("B").await;
    ctx.create_group("C").await;
    for g in [&a, &b] {
        assert_eq!(
            ctx.put_empty(&format!("/api/v1/groups/{g}/users/{id}"))
                .await
                .status,
            204
        );
    }
    assert_eq!(
        ctx.get(&format!("/api/v1/users/{id}/groups")).await.ids(),
        [a, b]
    );
    assert_okta_error(
        &ctx.get("/api/v1/users/00unobody/groups").await,
        404,
        "E0000007",
    );
}
