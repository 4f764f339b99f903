//! Behaviours Identity Center does not document, as knobs with both settings tested:
//! whether `userName` compares with regard to case, and how long a new resource stays
//! unreadable (`docs/identity-center-dialect.md` §3, §7).

use std::time::{Duration, Instant};

use ic_emulator::{EmulatorConfig, Knobs};
use reqwest::Method;
use serde_json::json;

use crate::common::{Ctx, TOKEN, assert_aws_error, patch_ops, user_body};

fn ids(r: &crate::common::Resp) -> Vec<String> {
    r.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap().to_owned())
        .collect()
}

fn named(user_name: &str, n: usize) -> serde_json::Value {
    // A distinct email and externalId, so that only userName can clash.
    let mut body = user_body(user_name);
    body["emails"] = json!([{"value": format!("other{n}@example.com"), "primary": true}]);
    body["externalId"] = json!(format!("other-{n}"));
    body
}

#[tokio::test]
async fn user_names_compare_without_regard_to_case_by_default() {
    // RFC 7643 §4.1.1 (userName caseExact false); AWS does not say. Default knob: off.
    // Arrange
    let ctx = Ctx::new().await;
    let jane = ctx.create_user("Jane.Doe").await;

    // Act
    let found = ctx
        .list("/Users", &[("filter", "userName eq \"JANE.DOE\"")])
        .await;
    let duplicate = ctx.post("/Users", &named("jane.doe", 1)).await;

    // Assert
    assert!(!ctx.running.knobs().case_sensitive_usernames);
    assert_eq!(ids(&found), vec![jane]);
    assert_aws_error(&duplicate, 409);
}

#[tokio::test]
async fn case_sensitive_usernames_compare_user_names_exactly() {
    // Knob case_sensitive_usernames, set through PATCH /_emulator/knobs: the userName eq
    // filter and userName uniqueness compare case-sensitively.
    // Arrange
    let ctx = Ctx::new().await;
    let set = ctx
        .send_with(
            Method::PATCH,
            &format!("{}/knobs", ctx.running.admin_url()),
            Some(TOKEN),
            Some(&json!({"case_sensitive_usernames": true})),
        )
        .await;
    let jane = ctx.create_user("Jane.Doe").await;

    // Act
    let other_case = ctx
        .list("/Users", &[("filter", "userName eq \"jane.doe\"")])
        .await;
    let same_case = ctx
        .list("/Users", &[("filter", "userName eq \"Jane.Doe\"")])
        .await;
    let lower = ctx.post("/Users", &named("jane.doe", 1)).await;
    let exact = ctx.post("/Users", &named("Jane.Doe", 2)).await;
    let lower_id = lower.body["id"].as_str().unwrap_or_default().to_owned();
    let rename_exact = ctx
        .patch(
            &format!("/Users/{lower_id}"),
            &patch_ops(json!([{"op": "replace", "path": "userName", "value": "Jane.Doe"}])),
        )
        .await;
    let rename_other_case = ctx
        .patch(
            &format!("/Users/{lower_id}"),
            &patch_ops(json!([{"op": "replace", "path": "userName", "value": "JANE.DOE"}])),
        )
        .await;

    // Assert
    assert_eq!(set.status, 200, "{}", set.raw);
    assert_eq!(set.body["case_sensitive_usernames"], true);
    assert!(ids(&other_case).is_empty());
    assert_eq!(ids(&same_case), vec![jane]);
    assert_eq!(lower.status, 201, "{}", lower.raw);
    assert_aws_error(&exact, 409);
    assert_aws_error(&rename_exact, 409);
    assert_eq!(rename_other_case.status, 200, "{}", rename_other_case.raw);
}

#[tokio::test]
async fn a_create_is_readable_at_once_by_default() {
    // Default read_after_create_lag_ms 0: what the gateway assumes
    // (`docs/identity-center-dialect.md` §7).
    // Arrange
    let ctx = Ctx::new().await;

    // Act
    let uid = ctx.create_user("u").await;
    let gid = ctx.create_group("g").await;
    let user = ctx.get(&format!("/Users/{uid}")).await;
    let group = ctx.get(&format!("/Groups/{gid}")).await;
    let listed = ctx.list("/Users", &[("filter", "userName eq \"u\"")]).await;

    // Assert
    assert_eq!(ctx.running.knobs().read_after_create_lag_ms, 0);
    assert_eq!((user.status, group.status), (200, 200));
    assert_eq!(ids(&listed), vec![uid]);
}

#[tokio::test]
async fn read_after_create_lag_hides_new_resources_from_reads_but_not_writes() {
    // Knob read_after_create_lag_ms, set at start: ssosync #42 saw a 404 about 50 ms after
    // a create. During the lag GET is 404 and lists leave the resource out; writes work.
    // Arrange
    let lag = Duration::from_millis(2000);
    let config = EmulatorConfig::new(TOKEN).with_knobs(Knobs {
        read_after_create_lag_ms: 2000,
        ..Knobs::default()
    });
    let ctx = Ctx::with(config).await;

    // Act
    let created_at = Instant::now();
    let uid = ctx.create_user("u").await;
    let gid = ctx.create_group("g").await;
    let during = [
        ctx.get(&format!("/Users/{uid}")).await,
        ctx.get(&format!("/Groups/{gid}")).await,
    ];
    let listed_during = [
        ctx.list("/Users", &[("filter", "userName eq \"u\"")]).await,
        ctx.list("/Users", &[]).await,
        ctx.list("/Users", &[("cursor", "")]).await,
        ctx.list("/Groups", &[("filter", "displayName eq \"g\"")])
            .await,
    ];
    let writes = [
        ctx.patch(
            &format!("/Users/{uid}"),
            &patch_ops(json!([{"op": "replace", "path": "title", "value": "CTO"}])),
        )
        .await,
        ctx.patch(
            &format!("/Groups/{gid}"),
            &patch_ops(json!([{"op": "add", "path": "members", "value": [{"value": uid}]}])),
        )
        .await,
    ];
    let duplicate = ctx.post("/Users", &user_body("u")).await;
    let still_lagging = created_at.elapsed() < lag;
    tokio::time::sleep(lag.saturating_sub(created_at.elapsed()) + Duration::from_millis(50)).await;
    let user_after = ctx.get(&format!("/Users/{uid}")).await;
    let group_after = ctx.get(&format!("/Groups/{gid}")).await;
    let members_after = ctx
        .list(
            "/Users",
            &[("filter", &format!("groups.value eq \"{gid}\""))],
        )
        .await;

    // Assert
    assert!(
        still_lagging,
        "the machine was too slow for this test's lag"
    );
    for r in &during {
        assert_aws_error(r, 404);
    }
    for r in &listed_during {
        assert_eq!(r.status, 200, "{}", r.raw);
        assert!(ids(r).is_empty(), "{}", r.raw);
    }
    assert_eq!(listed_during[1].body["totalResults"], 0);
    assert_eq!(writes[0].status, 200, "{}", writes[0].raw);
    assert_eq!(writes[1].status, 204, "{}", writes[1].raw);
    assert_aws_error(&duplicate, 409);
    assert_eq!(user_after.status, 200, "{}", user_after.raw);
    assert_eq!(user_after.body["title"], "CTO");
    assert_eq!(group_after.status, 200, "{}", group_after.raw);
    assert_eq!(ids(&members_after), vec![uid]);
}
