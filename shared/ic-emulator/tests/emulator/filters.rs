//! ListUsers and ListGroups filters (AWS-DG listusers, listgroups, limitations;
//! `docs/identity-center-dialect.md` §3).

use serde_json::json;

use crate::common::{Ctx, assert_aws_error, user_body};

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

fn ids(r: &crate::common::Resp) -> Vec<String> {
    r.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn list_users_supports_the_documented_eq_filters() {
    // AWS-DG listusers: (userName), (externalId), (groups.value), (id and manager),
    // (manager and id); `id` alone is "valid".
    let ctx = Ctx::new().await;
    let boss = ctx.create_user("boss").await;
    let mut body = user_body("Jane");
    body[ENTERPRISE] = json!({"manager": {"value": boss}});
    let jane = ctx.post("/Users", &body).await.body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let gid = ctx.create_group("g").await;
    ctx.add_members(&gid, &[&jane]).await;

    let cases = [
        "userName eq \"jane\"".to_owned(), // userName is not case-exact
        "externalId eq \"ext-Jane\"".to_owned(),
        format!("groups.value eq \"{gid}\""),
        format!("id eq \"{jane}\" and manager eq \"{boss}\""),
        format!("manager eq \"{boss}\" and id eq \"{jane}\""),
        format!("id eq \"{jane}\""),
    ];
    for filter in &cases {
        let r = ctx.list("/Users", &[("filter", filter)]).await;
        assert_eq!(r.status, 200, "{filter}: {}", r.raw);
        assert_eq!(ids(&r), vec![jane.clone()], "{filter}");
    }
    let wrong_manager = format!("id eq \"{jane}\" and manager eq \"{jane}\"");
    assert!(ids(&ctx.list("/Users", &[("filter", &wrong_manager)]).await).is_empty());
    let case_exact_external = ctx
        .list("/Users", &[("filter", "externalId eq \"EXT-JANE\"")])
        .await;
    assert!(ids(&case_exact_external).is_empty());
}

#[tokio::test]
async fn list_groups_supports_the_documented_eq_filters() {
    // AWS-DG listgroups: (displayName), (externalId), (members.value), (id and member),
    // (member and id).
    let ctx = Ctx::new().await;
    let uid = ctx.create_user("u").await;
    let r = ctx
        .post(
            "/Groups",
            &json!({"displayName": "Eng", "externalId": "okta-eng"}),
        )
        .await;
    let gid = r.body["id"].as_str().unwrap().to_owned();
    ctx.create_group("Other").await;
    ctx.add_members(&gid, &[&uid]).await;
    let cases = [
        "displayName eq \"eng\"".to_owned(),
        "externalId eq \"okta-eng\"".to_owned(),
        format!("members.value eq \"{uid}\""),
        format!("id eq \"{gid}\" and members eq \"{uid}\""),
        format!("members eq \"{uid}\" and id eq \"{gid}\""),
        format!("id eq \"{gid}\""),
    ];
    for filter in &cases {
        let r = ctx.list("/Groups", &[("filter", filter)]).await;
        assert_eq!(r.status, 200, "{filter}: {}", r.raw);
        assert_eq!(ids(&r), vec![gid.clone()], "{filter}");
    }
}

#[tokio::test]
async fn undocumented_filters_are_validation_exceptions() {
    // AWS-DG limitations: "Only eq with and is supported"; only the listed combinations.
    let ctx = Ctx::new().await;
    let user_filters = [
        "userName ne \"a\"",
        "userName co \"a\"",
        "userName sw \"a\"",
        "userName pr",
        "userName eq \"a\" or userName eq \"b\"",
        "not (userName eq \"a\")",
        "userName eq \"a\" and externalId eq \"b\"",
        "displayName eq \"a\"",
        "name.givenName eq \"a\"",
        "emails[value eq \"a\"]",
        "meta.lastModified gt \"2020-01-01T00:00:00Z\"",
        "urn:ietf:params:scim:schemas:core:2.0:User:userName eq \"a\"",
        "userName eq 5",
        "userName eq",
        "",
    ];
    for filter in user_filters {
        assert_aws_error(&ctx.list("/Users", &[("filter", filter)]).await, 400);
    }
    for filter in [
        "displayName co \"a\"",
        "userName eq \"a\"",
        "members.display eq \"a\"",
    ] {
        assert_aws_error(&ctx.list("/Groups", &[("filter", filter)]).await, 400);
    }
}
