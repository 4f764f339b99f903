//! The documented endpoints and methods (AWS-DG supported-apis, limitations;
//! `docs/identity-center-dialect.md` §2), and what the emulator answers for everything else.

use ic_emulator::EmulatorConfig;
use reqwest::Method;
use serde_json::json;

use crate::common::{Ctx, TOKEN, assert_aws_error, user_body};

#[tokio::test]
async fn group_put_is_not_supported() {
    // AWS-DG supported-apis: no PutGroup; Teleport: "AWS only supports patch operations
    // on groups". An unsupported operation is a ValidationException (AWS-DG error tables).
    let ctx = Ctx::new().await;
    let gid = ctx.create_group("g").await;
    let r = ctx
        .put(&format!("/Groups/{gid}"), &json!({"displayName": "g2"}))
        .await;
    assert_aws_error(&r, 400);
    assert_eq!(ctx.running.groups()[0].display_name, "g");
}

#[tokio::test]
async fn undocumented_methods_on_documented_paths_are_validation_exceptions() {
    // AWS-DG supported-apis: GET/POST on collections; GET/PUT/PATCH/DELETE on users;
    // GET/PATCH/DELETE on groups; discovery endpoints are read-only.
    let ctx = Ctx::new().await;
    let uid = ctx.create_user("u").await;
    let cases = [
        (Method::DELETE, "/Users".to_owned()),
        (Method::PUT, "/Users".to_owned()),
        (Method::PATCH, "/Groups".to_owned()),
        (Method::POST, format!("/Users/{uid}")),
        (Method::POST, "/ServiceProviderConfig".to_owned()),
        (Method::PUT, "/Schemas".to_owned()),
        (Method::DELETE, "/ResourceTypes".to_owned()),
    ];
    for (method, path) in cases {
        let r = ctx.send(method.clone(), &path, Some(&json!({}))).await;
        assert_aws_error(&r, 400);
        assert_eq!(r.status, 400, "{method} {path}");
    }
}

#[tokio::test]
async fn bulk_me_and_search_are_not_supported() {
    // AWS-DG limitations: "/Me, /Bulk, and /Search" are not supported. Unknown endpoints
    // are 404 ("Specified user or endpoint does not exist", AWS-DG getuser); a POST to
    // /Users/.search is an unsupported method on /Users/{id}, so 400.
    let ctx = Ctx::new().await;
    assert_aws_error(&ctx.post("/Bulk", &json!({"Operations": []})).await, 404);
    assert_aws_error(&ctx.get("/Me").await, 404);
    assert_aws_error(&ctx.post("/.search", &json!({})).await, 404);
    assert_aws_error(&ctx.post("/Users/.search", &json!({})).await, 400);
    assert_aws_error(&ctx.post("/Groups/.search", &json!({})).await, 400);
}

#[tokio::test]
async fn routes_live_under_a_configurable_tenant_base_path() {
    // AWS-DG examples: https://scim.<region>.amazonaws.com/{tenant_id}/scim/v2/...
    let tenant = "/bdh6a5e3698-0fc6-4232-a028-fea1a99ff77a/scim/v2";
    let ctx = Ctx::with(EmulatorConfig::new(TOKEN).with_base_path(tenant)).await;
    assert!(ctx.running.base_url().ends_with(tenant));
    let r = ctx.post("/Users", &user_body("u")).await;
    assert_eq!(r.status, 201, "{}", r.raw);
}

#[tokio::test]
async fn wrong_tenant_id_is_unauthorized() {
    // AWS-DG error tables: UnauthorizedException "also occurs if the tenant ID is incorrect".
    let ctx = Ctx::with(EmulatorConfig::new(TOKEN).with_base_path("/tenant-a/scim/v2")).await;
    let url = format!("http://{}/tenant-b/scim/v2/Users", ctx.running.addr());
    let r = ctx.send_with(Method::GET, &url, Some(TOKEN), None).await;
    assert_aws_error(&r, 401);
}
