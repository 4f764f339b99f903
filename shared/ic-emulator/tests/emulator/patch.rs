//! PATCH rules shared by PatchUser and PatchGroup (AWS-DG patchuser, patchgroup;
//! goauthentik/authentik issue 12321; `docs/identity-center-dialect.md` §5).

use serde_json::json;

use crate::common::{Ctx, assert_aws_error, patch_ops};

const PATHLESS: &str = "Current PATCH support allows omitting \"path\" attribute only for Add and Replace operations modifying a single attribute.";

#[tokio::test]
async fn pathless_patch_is_accepted_only_for_add_or_replace_of_a_single_attribute() {
    // authentik #12321 quotes Identity Center's refusal of other path-less operations.
    // Okta's deactivation {"active": false} modifies one attribute and passes; Okta's group
    // rename {"id": …, "displayName": …} carries two and is refused.
    // Arrange
    let ctx = Ctx::new().await;
    let uid = ctx.create_user("u").await;
    let gid = ctx.create_group("g").await;
    let user = format!("/Users/{uid}");
    let group = format!("/Groups/{gid}");

    // Act
    let deactivate = ctx
        .patch(
            &user,
            &patch_ops(json!([{"op": "replace", "value": {"active": false}}])),
        )
        .await;
    let add_one = ctx
        .patch(
            &user,
            &patch_ops(json!([{"op": "add", "value": {"title": "CTO"}}])),
        )
        .await;
    let rename = ctx
        .patch(
            &group,
            &patch_ops(json!([{"op": "replace", "value": {"displayName": "g2"}}])),
        )
        .await;
    let refused = [
        ctx.patch(
            &user,
            &patch_ops(json!([{"op": "replace", "value": {"active": true, "title": "CEO"}}])),
        )
        .await,
        ctx.patch(&user, &patch_ops(json!([{"op": "add", "value": {}}])))
            .await,
        ctx.patch(
            &user,
            &patch_ops(json!([{"op": "replace", "value": "CEO"}])),
        )
        .await,
        ctx.patch(
            &user,
            &patch_ops(json!([{"op": "remove", "value": {"title": "CTO"}}])),
        )
        .await,
        ctx.patch(
            &group,
            &patch_ops(json!([{"op": "replace", "value": {"id": gid, "displayName": "g3"}}])),
        )
        .await,
    ];

    // Assert
    assert_eq!(deactivate.status, 200, "{}", deactivate.raw);
    assert_eq!(deactivate.body["active"], false);
    assert_eq!(add_one.body["title"], "CTO");
    assert_eq!(rename.status, 204, "{}", rename.raw);
    for r in &refused {
        assert_aws_error(r, 400);
        assert_eq!(r.body["detail"], PATHLESS, "{}", r.raw);
    }
    let stored = &ctx.running.users()[0];
    assert!(!stored.active);
    assert_eq!(stored.resource["title"], "CTO");
    assert_eq!(ctx.running.groups()[0].display_name, "g2");
}
