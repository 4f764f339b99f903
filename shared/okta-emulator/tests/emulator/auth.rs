//! API-token authentication: `Authorization: SSWS <token>` (Okta API reference,
//! "Authentication"), an OAuth access token as `Bearer <token>`, and two tokens at once
//! for a rotation.

use okta_emulator::EmulatorConfig;
use reqwest::Method;

use crate::common::{Ctx, TOKEN, assert_okta_error};

#[tokio::test]
async fn a_missing_or_wrong_token_is_401_e0000011_invalid_token_provided() {
    let ctx = Ctx::new().await;
    let url = ctx.url("/api/v1/users");
    for auth in [
        None,
        Some("SSWS wrong".to_owned()),
        Some(TOKEN.to_owned()),
        Some(format!("Basic {TOKEN}")),
        Some(format!("SSWS {TOKEN}x")),
    ] {
        let r = ctx
            .send_with(Method::GET, &url, auth.as_deref(), None)
            .await;
        assert_okta_error(&r, 401, "E0000011");
        assert_eq!(r.body["errorSummary"], "Invalid token provided");
        assert_eq!(r.body["errorCauses"], serde_json::json!([]));
        assert!(r.header("x-rate-limit-reset").is_some(), "{auth:?}");
    }
    assert_eq!(ctx.running.stats().unauthorized, 5);
}

#[tokio::test]
async fn ssws_and_bearer_schemes_are_accepted_in_any_case() {
    let ctx = Ctx::new().await;
    let url = ctx.url("/api/v1/users");
    for auth in [
        format!("SSWS {TOKEN}"),
        format!("ssws {TOKEN}"),
        format!("Bearer {TOKEN}"),
    ] {
        let r = ctx.send_with(Method::GET, &url, Some(&auth), None).await;
        assert_eq!(r.status, 200, "{auth}: {}", r.raw);
    }
}

#[tokio::test]
async fn two_tokens_are_valid_at_once_and_tokens_rotate_at_run_time() {
    // Arrange
    let ctx = Ctx::with(EmulatorConfig::new(TOKEN).with_token("second")).await;
    let url = ctx.url("/api/v1/groups");
    let status = |auth: String| {
        let ctx = &ctx;
        let url = url.clone();
        async move {
            ctx.send_with(Method::GET, &url, Some(&auth), None)
                .await
                .status
        }
    };
    assert_eq!(status(format!("SSWS {TOKEN}")).await, 200);
    assert_eq!(status("SSWS second".into()).await, 200);

    // Act: the old token is revoked, a third one issued.
    ctx.running
        .set_tokens(vec!["second".into(), "third".into()])
        .unwrap();

    // Assert
    assert_eq!(status(format!("SSWS {TOKEN}")).await, 401);
    assert_eq!(status("SSWS third".into()).await, 200);
    assert!(ctx.running.set_tokens(vec![]).is_err());
}

#[tokio::test]
async fn admin_routes_need_the_token_too() {
    let ctx = Ctx::new().await;
    let url = format!("{}/stats", ctx.running.admin_url());
    assert_okta_error(
        &ctx.send_with(Method::GET, &url, None, None).await,
        401,
        "E0000011",
    );
    let auth = format!("SSWS {TOKEN}");
    assert_eq!(
        ctx.send_with(Method::GET, &url, Some(&auth), None)
            .await
            .status,
        200
    );
    // Admin requests are not counted as API requests.
    assert_eq!(ctx.running.stats().requests, 0);
}
