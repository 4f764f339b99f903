//! Groups: CreateGroup, GetGroup, PatchGroup, DeleteGroup, and membership (AWS-DG
//! creategroup, getgroup, patchgroup, deletegroup, limitations; lichti report;
//! `docs/identity-center-dialect.md` §2, §3, §5).

use serde_json::{Value, json};

use crate::common::{Ctx, add_members_body, assert_aws_error, patch_ops};

async fn users(ctx: &Ctx, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        ids.push(ctx.create_user(&format!("user{i:03}")).await);
    }
    ids
}

fn members(ids: &[String]) -> Value {
    json!(
        ids.iter()
            .map(|id| json!({"value": id}))
            .collect::<Vec<_>>()
    )
}

#[tokio::test]
async fn create_group_answers_201_with_an_empty_member_list() {
    // AWS-DG creategroup: 201 with the group; members are never returned.
    let ctx = Ctx::new().await;
    let ids = users(&ctx, 2).await;
    let r = ctx
        .post(
            "/Groups",
            &json!({"displayName": "Eng", "externalId": "okta-1", "members": members(&ids)}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.raw);
    assert_eq!(r.body["displayName"], "Eng");
    assert_eq!(r.body["externalId"], "okta-1");
    assert_eq!(r.body["members"], json!([]));
    assert_eq!(r.body["meta"]["resourceType"], "Group");
    assert_eq!(ctx.running.groups()[0].members.len(), 2);
}

#[tokio::test]
async fn create_group_requires_display_name() {
    // AWS-DG creategroup: "displayName is required."
    let ctx = Ctx::new().await;
    assert_aws_error(&ctx.post("/Groups", &json!({"externalId": "x"})).await, 400);
    assert_aws_error(&ctx.post("/Groups", &json!({"displayName": ""})).await, 400);
}

#[tokio::test]
async fn create_group_accepts_at_most_100_members() {
    // AWS-DG creategroup: "A maximum of 100 members can be added in a single request."
    let ctx = Ctx::new().await;
    let ids = users(&ctx, 101).await;
    let too_many = json!({"displayName": "big", "members": members(&ids)});
    assert_aws_error(&ctx.post("/Groups", &too_many).await, 400);
    let ok = json!({"displayName": "big", "members": members(&ids[..100])});
    assert_eq!(ctx.post("/Groups", &ok).await.status, 201);
}

#[tokio::test]
async fn duplicate_group_display_name_is_a_conflict() {
    // AWS-DG creategroup: 409 ConflictException "Group already exists".
    let ctx = Ctx::new().await;
    ctx.create_group("Admins").await;
    assert_aws_error(
        &ctx.post("/Groups", &json!({"displayName": "admins"})).await,
        409,
    );
}

#[tokio::test]
async fn group_members_must_be_existing_users() {
    // Emulator decision (no source says): unknown member ids are 400.
    let ctx = Ctx::new().await;
    let create = json!({"displayName": "g", "members": [{"value": "no-such-user"}]});
    assert_aws_error(&ctx.post("/Groups", &create).await, 400);
    let gid = ctx.create_group("g").await;
    assert_aws_error(
        &ctx.patch(
            &format!("/Groups/{gid}"),
            &add_members_body(&["no-such-user"]),
        )
        .await,
        400,
    );
}

#[tokio::test]
async fn group_member_display_is_refused() {
    // AWS-DG limitations: members value/type/$ref yes, display no.
    let ctx = Ctx::new().await;
    let uid = ctx.create_user("u").await;
    let gid = ctx.create_group("g").await;
    let body = patch_ops(
        json!([{"op": "add", "path": "members", "value": [{"value": uid, "display": "U"}]}]),
    );
    assert_aws_error(&ctx.patch(&format!("/Groups/{gid}"), &body).await, 400);
    let ok = patch_ops(
        json!([{"op": "add", "path": "members", "value": [{"value": uid, "type": "User", "$ref": "../Users/x"}]}]),
    );
    assert_eq!(ctx.patch(&format!("/Groups/{gid}"), &ok).await.status, 204);
}

#[tokio::test]
async fn group_members_are_never_returned() {
    // AWS-DG getgroup/listgroups/limitations: members "cannot be read in a response".
    let ctx = Ctx::new().await;
    let ids = users(&ctx, 3).await;
    let gid = ctx.create_group("g").await;
    ctx.add_members(&gid, &ids.iter().map(String::as_str).collect::<Vec<_>>())
        .await;
    assert_eq!(
        ctx.get(&format!("/Groups/{gid}")).await.body["members"],
        json!([])
    );
    let list = ctx.get("/Groups").await;
    assert_eq!(list.body["Resources"][0]["members"], json!([]));
    let cursor = ctx.list("/Groups", &[("cursor", "")]).await;
    assert_eq!(cursor.body["Resources"][0]["members"], json!([]));
    assert_eq!(ctx.running.groups()[0].members.len(), 3);
}

#[tokio::test]
async fn group_membership_is_queryable_from_both_sides() {
    // AWS-DG listgroups/listusers: ListGroups?filter=members.value eq "<userId>" and
    // ListUsers?filter=groups.value eq "<groupId>".
    let ctx = Ctx::new().await;
    let ids = users(&ctx, 3).await;
    let g1 = ctx.create_group("g1").await;
    let g2 = ctx.create_group("g2").await;
    ctx.add_members(&g1, &[&ids[0], &ids[1]]).await;
    ctx.add_members(&g2, &[&ids[1]]).await;
    let in_g1 = ctx
        .list(
            "/Users",
            &[("filter", &format!("groups.value eq \"{g1}\""))],
        )
        .await;
    let got: Vec<&str> = in_g1.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap())
        .collect();
    assert_eq!(got, vec![ids[0].as_str(), ids[1].as_str()]);
    let of_u1 = ctx
        .list(
            "/Groups",
            &[("filter", &format!("members.value eq \"{}\"", ids[1]))],
        )
        .await;
    assert_eq!(of_u1.body["totalResults"], 2);
    let of_u2 = ctx
        .list(
            "/Groups",
            &[("filter", &format!("members.value eq \"{}\"", ids[2]))],
        )
        .await;
    assert_eq!(of_u2.body["totalResults"], 0);
    assert_eq!(ctx.running.users()[1].groups, vec![g1, g2]);
}

#[tokio::test]
async fn patch_group_answers_204_with_an_empty_body() {
    // lichti report; Teleport accepts 200 or 204 (`docs/identity-center-dialect.md` §2).
    let ctx = Ctx::new().await;
    let gid = ctx.create_group("g").await;
    let r = ctx
        .patch(
            &format!("/Groups/{gid}"),
            &patch_ops(json!([{"op": "replace", "path": "displayName", "value": "g2"}])),
        )
        .await;
    assert_eq!((r.status, r.raw.as_str()), (204, ""));
    assert_eq!(ctx.running.groups()[0].display_name, "g2");
    assert_aws_error(
        &ctx.patch(
            "/Groups/missing",
            &patch_ops(json!([{"op": "replace", "path": "displayName", "value": "x"}])),
        )
        .await,
        404,
    );
}

#[tokio::test]
async fn patch_group_rejects_more_than_100_membership_changes() {
    // AWS-DG patchgroup: at most 100 membership changes per request (idp-scim-sync #62/#75).
    let ctx = Ctx::new().await;
    let ids = users(&ctx, 101).await;
    let gid = ctx.create_group("g").await;
    let path = format!("/Groups/{gid}");
    let add_101 = patch_ops(json!([{"op": "add", "path": "members", "value": members(&ids)}]));
    assert_aws_error(&ctx.patch(&path, &add_101).await, 400);
    assert!(ctx.running.groups()[0].members.is_empty());
    // Changes are counted across operations: 60 adds + 41 removes = 101.
    let split = patch_ops(json!([
        {"op": "add", "path": "members", "value": members(&ids[..60])},
        {"op": "remove", "path": "members", "value": members(&ids[60..])}
    ]));
    assert_aws_error(&ctx.patch(&path, &split).await, 400);
    let add_100 =
        patch_ops(json!([{"op": "add", "path": "members", "value": members(&ids[..100])}]));
    assert_eq!(ctx.patch(&path, &add_100).await.status, 204);
    assert_eq!(ctx.running.groups()[0].members.len(), 100);
}

#[tokio::test]
async fn patch_group_rejects_replace_of_members() {
    // AWS-DG patchgroup/limitations: "PatchGroup doesn't support remove all or replace
    // operations." (lichti observed a 204 no-op for some replace forms; the docs win here.)
    let ctx = Ctx::new().await;
    let uid = ctx.create_user("u").await;
    let gid = ctx.create_group("g").await;
    let path = format!("/Groups/{gid}");
    for ops in [
        json!([{"op": "replace", "path": "members", "value": [{"value": uid}]}]),
        json!([{"op": "replace", "path": "members", "value": []}]),
        json!([{"op": "replace", "value": {"members": [{"value": uid}]}}]),
        json!([{"op": "replace", "path": format!("members[value eq \"{uid}\"]"), "value": {"value": uid}}]),
    ] {
        assert_aws_error(&ctx.patch(&path, &patch_ops(ops)).await, 400);
    }
}

#[tokio::test]
async fn patch_group_rejects_removing_all_members() {
    // AWS-DG patchgroup: replacing or removing all memberships in one request is a 400.
    let ctx = Ctx::new().await;
    let uid = ctx.create_user("u").await;
    let gid = ctx.create_group("g").await;
    ctx.add_members(&gid, &[&uid]).await;
    let path = format!("/Groups/{gid}");
    for ops in [
        json!([{"op": "remove", "path": "members"}]),
        json!([{"op": "remove", "path": "members", "value": []}]),
    ] {
        assert_aws_error(&ctx.patch(&path, &patch_ops(ops)).await, 400);
    }
    assert_eq!(ctx.running.groups()[0].members, vec![uid]);
}

#[tokio::test]
async fn patch_group_removes_members_by_value_list() {
    // AWS-DG patchgroup: remove with a list of objects carrying the user ids.
    let ctx = Ctx::new().await;
    let ids = users(&ctx, 3).await;
    let gid = ctx.create_group("g").await;
    ctx.add_members(&gid, &[&ids[0], &ids[1], &ids[2]]).await;
    let body = patch_ops(json!([{"op": "remove", "path": "members", "value": members(&ids[..2])}]));
    assert_eq!(
        ctx.patch(&format!("/Groups/{gid}"), &body).await.status,
        204
    );
    assert_eq!(ctx.running.groups()[0].members, vec![ids[2].clone()]);
}

#[tokio::test]
async fn patch_group_removes_a_member_by_value_filter_path() {
    // Not yet confirmed against a live tenant: whether AWS accepts members[value eq "…"]
    // (`docs/identity-center-dialect.md` §5). The emulator accepts it (see
    // docs/identity-center-rules.md).
    let ctx = Ctx::new().await;
    let ids = users(&ctx, 2).await;
    let gid = ctx.create_group("g").await;
    ctx.add_members(&gid, &[&ids[0], &ids[1]]).await;
    let path = format!("members[value eq \"{}\"]", ids[0]);
    let r = ctx
        .patch(
            &format!("/Groups/{gid}"),
            &patch_ops(json!([{"op": "remove", "path": path}])),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.raw);
    assert_eq!(ctx.running.groups()[0].members, vec![ids[1].clone()]);
    let other = patch_ops(json!([{"op": "remove", "path": "members[type eq \"User\"]"}]));
    assert_aws_error(&ctx.patch(&format!("/Groups/{gid}"), &other).await, 400);
}

#[tokio::test]
async fn patch_group_changes_only_display_name_members_and_external_id() {
    // AWS-DG patchgroup: only displayName, members and externalId.
    let ctx = Ctx::new().await;
    let gid = ctx.create_group("g").await;
    let path = format!("/Groups/{gid}");
    for ops in [
        json!([{"op": "replace", "path": "description", "value": "x"}]),
        json!([{"op": "replace", "value": {"id": gid, "displayName": "Okta rename"}}]),
        json!([{"op": "remove", "path": "displayName"}]),
    ] {
        assert_aws_error(&ctx.patch(&path, &patch_ops(ops)).await, 400);
    }
    let ok = patch_ops(json!([
        {"op": "replace", "value": {"displayName": "renamed"}},
        {"op": "add", "path": "externalId", "value": "okta-9"}
    ]));
    assert_eq!(ctx.patch(&path, &ok).await.status, 204);
    let g = &ctx.running.groups()[0];
    assert_eq!(
        (g.display_name.as_str(), g.external_id.as_deref()),
        ("renamed", Some("okta-9"))
    );
}

#[tokio::test]
async fn patch_group_rename_to_a_taken_name_is_a_conflict() {
    let ctx = Ctx::new().await;
    ctx.create_group("a").await;
    let b = ctx.create_group("b").await;
    let r = ctx
        .patch(
            &format!("/Groups/{b}"),
            &patch_ops(json!([{"op": "replace", "path": "displayName", "value": "A"}])),
        )
        .await;
    assert_aws_error(&r, 409);
}

#[tokio::test]
async fn delete_group_answers_204_then_404() {
    // AWS-DG deletegroup: 204.
    let ctx = Ctx::new().await;
    let gid = ctx.create_group("g").await;
    assert_eq!(ctx.delete(&format!("/Groups/{gid}")).await.status, 204);
    assert_aws_error(&ctx.get(&format!("/Groups/{gid}")).await, 404);
    assert_aws_error(&ctx.delete(&format!("/Groups/{gid}")).await, 404);
}
