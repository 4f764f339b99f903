//! Paging: the classic one-page answer and cursor paging (AWS-DG listusers, listgroups;
//! `docs/identity-center-dialect.md` §4).

use ic_emulator::Knobs;
use serde_json::Value;

use crate::common::{Ctx, assert_aws_error};

async fn users(ctx: &Ctx, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        ids.push(ctx.create_user(&format!("user{i:03}")).await);
    }
    ids
}

fn ids(body: &Value) -> Vec<String> {
    body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Follows `nextCursor` until it is absent; returns every id and the page sizes.
async fn walk(ctx: &Ctx, path: &str, extra: &[(&str, &str)]) -> (Vec<String>, Vec<usize>) {
    let mut seen = Vec::new();
    let mut sizes = Vec::new();
    let mut cursor = String::new();
    loop {
        let mut query: Vec<(&str, &str)> = extra.to_vec();
        query.push(("cursor", &cursor));
        let r = ctx.list(path, &query).await;
        assert_eq!(r.status, 200, "{}", r.raw);
        assert!(r.body.get("totalResults").is_none() && r.body.get("startIndex").is_none());
        let page = ids(&r.body);
        assert_eq!(r.body["itemsPerPage"], page.len());
        sizes.push(page.len());
        seen.extend(page);
        match r.body.get("nextCursor").and_then(Value::as_str) {
            Some(next) => cursor = next.to_owned(),
            None => return (seen, sizes),
        }
        assert!(sizes.len() < 100, "runaway pagination");
    }
}

#[tokio::test]
async fn without_cursor_the_answer_is_one_classic_page_of_at_most_count() {
    // AWS-DG listusers: without cursor, totalResults, startIndex and itemsPerPage; one page.
    let ctx = Ctx::new().await;
    let all = users(&ctx, 105).await;
    let r = ctx.get("/Users").await;
    assert_eq!(r.body["totalResults"], 105);
    assert_eq!(r.body["itemsPerPage"], 100, "count defaults to 100");
    assert_eq!(r.body["startIndex"], 1);
    assert!(r.body.get("nextCursor").is_none());
    assert_eq!(ids(&r.body), all[..100].to_vec());
    let small = ctx.list("/Users", &[("count", "7")]).await;
    assert_eq!(ids(&small.body), all[..7].to_vec());
    assert_eq!(small.body["totalResults"], 105);
}

#[tokio::test]
async fn count_must_be_between_1_and_100() {
    // AWS-DG listusers: "Valid Range: Minimum value of 1. Maximum value of 100."
    let ctx = Ctx::new().await;
    for count in ["0", "101", "-5", "many"] {
        assert_aws_error(&ctx.list("/Users", &[("count", count)]).await, 400);
        assert_aws_error(
            &ctx.list("/Groups", &[("count", count), ("cursor", "")])
                .await,
            400,
        );
    }
    assert_eq!(ctx.list("/Users", &[("count", "100")]).await.status, 200);
}

#[tokio::test]
async fn empty_cursor_starts_cursor_paging_and_next_cursor_walks_every_page() {
    // AWS-DG listusers: first request with an empty cursor; itemsPerPage and nextCursor;
    // send nextCursor until it is absent.
    let ctx = Ctx::new().await;
    let all = users(&ctx, 205).await;
    let (seen, sizes) = walk(&ctx, "/Users", &[]).await;
    assert_eq!(seen, all, "every user once, in a stable order");
    assert_eq!(sizes, vec![100, 100, 5]);
    let (seen, sizes) = walk(&ctx, "/Users", &[("count", "50")]).await;
    assert_eq!(seen, all);
    assert_eq!(sizes.len(), 5);
}

#[tokio::test]
async fn next_cursor_is_absent_when_the_last_page_is_exactly_full() {
    let ctx = Ctx::new().await;
    users(&ctx, 10).await;
    let (_, sizes) = walk(&ctx, "/Users", &[("count", "5")]).await;
    assert_eq!(sizes, vec![5, 5]);
}

#[tokio::test]
async fn groups_page_with_cursors_too() {
    // AWS-DG listgroups: same cursor paging.
    let ctx = Ctx::new().await;
    let mut all = Vec::new();
    for i in 0..12 {
        all.push(ctx.create_group(&format!("g{i}")).await);
    }
    let (seen, sizes) = walk(&ctx, "/Groups", &[("count", "5")]).await;
    assert_eq!(seen, all);
    assert_eq!(sizes, vec![5, 5, 2]);
}

#[tokio::test]
async fn cursors_follow_the_documented_pattern_and_need_percent_encoding() {
    // AWS-DG listusers: cursor pattern [-a-zA-Z0-9+=/:_]*. The emulator's cursors start
    // with "+/" so a client that does not percent-encode them fails here as well.
    let ctx = Ctx::new().await;
    users(&ctx, 3).await;
    let r = ctx.list("/Users", &[("count", "1"), ("cursor", "")]).await;
    let cursor = r.body["nextCursor"].as_str().unwrap();
    assert!(
        cursor
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-+=/:_".contains(c)),
        "{cursor}"
    );
    assert!(cursor.starts_with("+/"));
    let unencoded = format!("{}?count=1&cursor={cursor}", ctx.url("/Users"));
    let r = ctx
        .send_with(
            reqwest::Method::GET,
            &unencoded,
            Some(crate::common::TOKEN),
            None,
        )
        .await;
    assert_aws_error(&r, 400);
}

#[tokio::test]
async fn changing_the_filter_mid_pagination_is_rejected() {
    // AWS-DG listusers: changing the filter during pagination is a ValidationException.
    let ctx = Ctx::new().await;
    users(&ctx, 3).await;
    let first = ctx.list("/Users", &[("count", "1"), ("cursor", "")]).await;
    let cursor = first.body["nextCursor"].as_str().unwrap().to_owned();
    let changed = ctx
        .list(
            "/Users",
            &[
                ("count", "1"),
                ("cursor", &cursor),
                ("filter", "userName eq \"user001\""),
            ],
        )
        .await;
    assert_aws_error(&changed, 400);
    let other_resource = ctx.list("/Groups", &[("cursor", &cursor)]).await;
    assert_aws_error(&other_resource, 400);
    let same = ctx
        .list("/Users", &[("count", "1"), ("cursor", &cursor)])
        .await;
    assert_eq!(same.status, 200);
}

#[tokio::test]
async fn malformed_cursor_is_rejected() {
    let ctx = Ctx::new().await;
    for cursor in ["not a cursor", "abc", "%%%"] {
        assert_aws_error(&ctx.list("/Users", &[("cursor", cursor)]).await, 400);
    }
}

#[tokio::test]
async fn deleting_during_pagination_skips_nothing_that_remains() {
    // Ordering is stable (OKTA-SCIM20 asks the same of its own paging).
    let ctx = Ctx::new().await;
    let all = users(&ctx, 6).await;
    let first = ctx.list("/Users", &[("count", "3"), ("cursor", "")]).await;
    ctx.delete(&format!("/Users/{}", all[0])).await;
    let cursor = first.body["nextCursor"].as_str().unwrap().to_owned();
    let second = ctx
        .list("/Users", &[("count", "3"), ("cursor", &cursor)])
        .await;
    assert_eq!(ids(&second.body), all[3..].to_vec());
}

#[tokio::test]
async fn short_pages_still_carry_next_cursor() {
    // AWS-DG listusers: "Paginated calls may return less results than count but as long as
    // nextCursor is present in the response, additional pages are available."
    let ctx = Ctx::new().await;
    let all = users(&ctx, 10).await;
    ctx.running
        .set_knobs(Knobs {
            page_limit: Some(3),
            ..Knobs::default()
        })
        .unwrap();
    let (seen, sizes) = walk(&ctx, "/Users", &[("count", "100")]).await;
    assert_eq!(seen, all);
    assert_eq!(sizes, vec![3, 3, 3, 1]);
}

#[tokio::test]
async fn start_index_attributes_and_excluded_attributes_are_ignored() {
    // AWS-DG listusers: not supported. Ignored, not refused: Okta sends startIndex=1&count=100
    // and ssosync #1 saw startIndex ignored (see docs/identity-center-rules.md).
    let ctx = Ctx::new().await;
    let all = users(&ctx, 3).await;
    let r = ctx
        .list(
            "/Users",
            &[
                ("startIndex", "2"),
                ("count", "100"),
                ("attributes", "userName"),
                ("excludedAttributes", "emails"),
            ],
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(ids(&r.body), all);
    assert_eq!(r.body["startIndex"], 1);
    assert!(r.body["Resources"][0].get("emails").is_some());
}
