//! Error bodies and response headers (AWS-DG examples and error tables; lichti report;
//! `docs/identity-center-dialect.md` §2, §8).

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{Ctx, TOKEN, assert_aws_error, user_body};

#[tokio::test]
async fn error_bodies_have_the_identity_center_shape() {
    // lichti report (fixture error-400-current.json): `schema` and `schemas`, `status` as a
    // string, `exceptionRequestId`, `timeStamp` "YYYY-MM-DD hh:mm:ss.mmm", no `scimType`.
    let ctx = Ctx::new().await;
    let r = ctx.post("/Users", &json!({"userName": "only"})).await;
    assert_aws_error(&r, 400);
    let fixture: Value = serde_json::from_str(include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/identity-center/error-400-current.json"
    )))
    .unwrap();
    let mut keys: Vec<&String> = r.body.as_object().unwrap().keys().collect();
    let mut expected: Vec<&String> = fixture.as_object().unwrap().keys().collect();
    keys.sort();
    expected.sort();
    assert_eq!(keys, expected);
    let stamp = r.body["timeStamp"].as_str().unwrap();
    assert_eq!(stamp.len(), "2024-04-05 06:32:12.227".len(), "{stamp}");
    assert_eq!(&stamp[10..11], " ");
}

#[tokio::test]
async fn conflict_has_no_scim_type() {
    // `docs/identity-center-dialect.md` §8: no `scimType`, not even on 409.
    let ctx = Ctx::new().await;
    ctx.create_user("dup").await;
    let r = ctx.post("/Users", &user_body("dup")).await;
    assert_aws_error(&r, 409);
}

#[tokio::test]
async fn every_answer_carries_x_amzn_request_id() {
    // AWS-DG examples: `x-amzn-RequestId` on every response.
    let ctx = Ctx::new().await;
    let uid = ctx.create_user("u").await;
    let answers = [
        ctx.get("/Users").await,
        ctx.post("/Users", &user_body("v")).await,
        ctx.delete(&format!("/Users/{uid}")).await,
        ctx.get("/Users/nope").await,
        ctx.send_with(Method::GET, &ctx.url("/Users"), None, None)
            .await,
        ctx.post("/Users", &json!({})).await,
    ];
    let mut ids = Vec::new();
    for r in &answers {
        let id = r
            .header("x-amzn-requestid")
            .unwrap_or_else(|| panic!("{} {}", r.status, r.raw));
        assert!(!id.is_empty());
        ids.push(id.to_owned());
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), answers.len(), "request ids are unique");
}

#[tokio::test]
async fn responses_are_application_json() {
    // AWS-DG examples: `Content-Type: application/json`, not application/scim+json.
    let ctx = Ctx::new().await;
    for r in [
        ctx.get("/Users").await,
        ctx.post("/Users", &user_body("u")).await,
        ctx.get("/Users/missing").await,
        ctx.get("/ServiceProviderConfig").await,
    ] {
        assert_eq!(
            r.header("content-type"),
            Some("application/json"),
            "{}",
            r.raw
        );
    }
}

#[tokio::test]
async fn create_answers_201_delete_answers_204_with_empty_body() {
    // AWS-DG createuser/creategroup (201) and deleteuser/deletegroup (204) examples.
    let ctx = Ctx::new().await;
    let created = ctx.post("/Users", &user_body("u")).await;
    assert_eq!(created.status, 201);
    let id = created.body["id"].as_str().unwrap();
    let deleted = ctx.delete(&format!("/Users/{id}")).await;
    assert_eq!((deleted.status, deleted.raw.as_str()), (204, ""));
}

#[tokio::test]
async fn unparsable_body_is_a_validation_exception() {
    // AWS-DG error tables: "Request cannot be parsed … ValidationException 400".
    let ctx = Ctx::new().await;
    let r = ctx
        .http
        .post(ctx.url("/Users"))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body["detail"],
        "Request is unparsable, syntactically incorrect, or violates schema."
    );
    let not_object = ctx.post("/Users", &json!([1, 2])).await;
    assert_aws_error(&not_object, 400);
}

#[tokio::test]
async fn body_over_max_payload_size_is_rejected() {
    // AWS-DG serviceproviderconfig: maxPayloadSize 1048576.
    let ctx = Ctx::new().await;
    let mut body = user_body("big");
    body["title"] = json!("x".repeat(1_048_577));
    assert_aws_error(&ctx.post("/Users", &body).await, 400);
}
