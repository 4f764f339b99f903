//! Bearer authentication (AWS-DG serviceproviderconfig, error tables; AWS user guide
//! rotate-token; `docs/identity-center-dialect.md` §1).

use ic_emulator::EmulatorConfig;
use reqwest::Method;

use crate::common::{Ctx, TOKEN, assert_aws_error};

#[tokio::test]
async fn missing_or_wrong_bearer_token_is_unauthorized() {
    // AWS-DG error tables: 401 UnauthorizedException, "Authorization header is invalid or missing".
    let ctx = Ctx::new().await;
    let url = ctx.url("/Users");
    assert_aws_error(&ctx.send_with(Method::GET, &url, None, None).await, 401);
    assert_aws_error(
        &ctx.send_with(Method::GET, &url, Some("nope"), None).await,
        401,
    );
    let basic = ctx
        .http
        .get(&url)
        .basic_auth("user", Some(TOKEN))
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status().as_u16(), 401);
    assert_eq!(
        ctx.send_with(Method::GET, &url, Some(TOKEN), None)
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn two_tokens_are_valid_at_once() {
    // AWS user guide rotate-token: "supports up to two access tokens at a time".
    let ctx = Ctx::with(EmulatorConfig::new(TOKEN).with_token("second-token")).await;
    let url = ctx.url("/Users");
    assert_eq!(
        ctx.send_with(Method::GET, &url, Some(TOKEN), None)
            .await
            .status,
        200
    );
    assert_eq!(
        ctx.send_with(Method::GET, &url, Some("second-token"), None)
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn tokens_rotate_at_run_time() {
    // Rotation: create a new token, reconfigure, delete the old (AWS user guide rotate-token).
    let ctx = Ctx::new().await;
    let url = ctx.url("/Users");
    ctx.running
        .set_tokens(vec![TOKEN.into(), "new".into()])
        .unwrap();
    assert_eq!(
        ctx.send_with(Method::GET, &url, Some("new"), None)
            .await
            .status,
        200
    );
    ctx.running.set_tokens(vec!["new".into()]).unwrap();
    assert_aws_error(
        &ctx.send_with(Method::GET, &url, Some(TOKEN), None).await,
        401,
    );
    assert!(
        ctx.running
            .set_tokens(vec!["a".into(), "b".into(), "c".into()])
            .is_err()
    );
}

#[tokio::test]
async fn admin_endpoint_requires_the_token() {
    let ctx = Ctx::new().await;
    let url = format!("{}/knobs", ctx.running.admin_url());
    assert_aws_error(&ctx.send_with(Method::GET, &url, None, None).await, 401);
    assert_eq!(
        ctx.send_with(Method::GET, &url, Some(TOKEN), None)
            .await
            .status,
        200
    );
}
