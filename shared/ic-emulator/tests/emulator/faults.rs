//! Throttling and injected faults (AWS-DG error tables: 429 ThrottlingException, 500
//! InternalServerException; ssosync #13; `docs/identity-center-dialect.md` §9), set at start,
//! through the Rust API and through the admin endpoint.

use std::time::{Duration, Instant};

use ic_emulator::{EmulatorConfig, FaultPhase, Knobs};
use reqwest::Method;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::{Ctx, TOKEN, assert_aws_error, user_body};

fn knobs(k: Knobs) -> EmulatorConfig {
    EmulatorConfig::new(TOKEN).with_knobs(k)
}

#[tokio::test]
async fn rate_limit_answers_429_throttling_exception_past_n_per_second() {
    // AWS-DG error tables: 429 ThrottlingException "Too many requests exceeded the limits".
    let ctx = Ctx::with(knobs(Knobs {
        rate_limit: Some(5),
        ..Knobs::default()
    }))
    .await;
    let mut statuses = Vec::new();
    for _ in 0..12 {
        statuses.push(ctx.get("/Users").await.status);
    }
    let ok = statuses.iter().filter(|s| **s == 200).count();
    assert!((5..=7).contains(&ok), "{statuses:?}");
    let throttled = ctx.get("/Users").await;
    assert_aws_error(&throttled, 429);
    assert!(
        throttled.header("retry-after").is_none(),
        "no Retry-After unless configured"
    );
    let stats = ctx.running.stats();
    assert!(stats.throttled >= 5);
    assert_eq!(stats.by_answer["GET /Users 429"], stats.throttled);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(ctx.get("/Users").await.status, 200, "the bucket refills");
}

#[tokio::test]
async fn retry_after_is_sent_on_429_when_configured() {
    let ctx = Ctx::with(knobs(Knobs {
        rate_limit: Some(1),
        retry_after: Some(3),
        ..Knobs::default()
    }))
    .await;
    ctx.get("/Users").await;
    let r = ctx.get("/Users").await;
    assert_aws_error(&r, 429);
    assert_eq!(r.header("retry-after"), Some("3"));
}

#[tokio::test]
async fn latency_knob_delays_every_answer() {
    let ctx = Ctx::with(knobs(Knobs {
        latency_ms: 150,
        ..Knobs::default()
    }))
    .await;
    let start = Instant::now();
    ctx.get("/Users").await;
    assert!(start.elapsed() >= Duration::from_millis(150));
}

#[tokio::test]
async fn injected_500_before_the_write_leaves_nothing_behind() {
    let ctx = Ctx::with(knobs(Knobs {
        fail_rate: 1.0,
        fault_phase: FaultPhase::Before,
        ..Knobs::default()
    }))
    .await;
    let r = ctx.post("/Users", &user_body("u")).await;
    assert_aws_error(&r, 500);
    assert!(ctx.running.users().is_empty());
    assert_eq!(ctx.running.failed(), 1);
}

#[tokio::test]
async fn injected_500_after_the_write_keeps_the_write() {
    // A lost answer: the write happened, the client heard 500; its retry meets 409
    // (ssosync #13: "a dropped 429 followed by a retried create then showed up as 409").
    let ctx = Ctx::with(knobs(Knobs {
        fail_rate: 1.0,
        fault_phase: FaultPhase::After,
        ..Knobs::default()
    }))
    .await;
    assert_aws_error(&ctx.post("/Users", &user_body("u")).await, 500);
    assert_eq!(ctx.running.users().len(), 1);
    ctx.running.set_knobs(Knobs::default()).unwrap();
    assert_aws_error(&ctx.post("/Users", &user_body("u")).await, 409);
}

/// Sends one raw HTTP/1.1 request and reads until the server closes the connection.
async fn raw_exchange(ctx: &Ctx, request: String) -> Vec<u8> {
    let mut stream = tokio::net::TcpStream::connect(ctx.running.addr())
        .await
        .unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer))
        .await
        .expect("the server closes the connection")
        .unwrap_or_default();
    answer
}

#[tokio::test]
async fn dropped_connection_closes_tcp_without_any_response() {
    let ctx = Ctx::with(knobs(Knobs {
        drop_rate: 1.0,
        fault_phase: FaultPhase::Before,
        ..Knobs::default()
    }))
    .await;
    let request = format!(
        "GET /scim/v2/Users HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {TOKEN}\r\n\r\n"
    );
    let answer = raw_exchange(&ctx, request).await;
    assert!(answer.is_empty(), "{}", String::from_utf8_lossy(&answer));
    assert_eq!(ctx.running.dropped(), 1);
    assert_eq!(ctx.running.stats().by_answer["GET /Users dropped"], 1);
    let via_client = ctx
        .http
        .get(ctx.url("/Users"))
        .bearer_auth(TOKEN)
        .send()
        .await;
    assert!(via_client.is_err());
}

#[tokio::test]
async fn dropped_connection_after_the_write_keeps_the_write() {
    let ctx = Ctx::with(knobs(Knobs {
        drop_rate: 1.0,
        fault_phase: FaultPhase::After,
        ..Knobs::default()
    }))
    .await;
    let body = serde_json::to_string(&user_body("u")).unwrap();
    let request = format!(
        "POST /scim/v2/Users HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    assert!(raw_exchange(&ctx, request).await.is_empty());
    assert_eq!(ctx.running.users().len(), 1, "the write happened");
}

#[tokio::test]
async fn fault_decisions_are_reproducible_with_a_seed() {
    async fn run(seed: u64) -> Vec<u16> {
        let k = Knobs {
            fail_rate: 0.3,
            fault_phase: FaultPhase::Before,
            ..Knobs::default()
        };
        let ctx = Ctx::with(knobs(k).with_seed(seed)).await;
        let mut statuses = Vec::new();
        for _ in 0..40 {
            statuses.push(ctx.get("/Users").await.status);
        }
        statuses
    }
    let a = run(11).await;
    assert_eq!(a, run(11).await);
    assert_ne!(a, run(12).await);
    assert!(a.contains(&500) && a.contains(&200));
}

#[tokio::test]
async fn both_phases_happen_with_either_phase() {
    // Drops and 500s strike both before and after writes: some failed creates exist.
    let k = Knobs {
        fail_rate: 0.5,
        ..Knobs::default()
    };
    let ctx = Ctx::with(knobs(k).with_seed(3)).await;
    let mut failed = 0;
    for i in 0..40 {
        if ctx
            .post("/Users", &user_body(&format!("u{i}")))
            .await
            .status
            == 500
        {
            failed += 1;
        }
    }
    let stored = ctx.running.users().len();
    assert!(
        failed > 0 && stored > 40 - failed && stored < 40,
        "failed {failed}, stored {stored}"
    );
}

#[tokio::test]
async fn knobs_change_at_run_time_through_the_admin_endpoint() {
    let ctx = Ctx::new().await;
    let url = format!("{}/knobs", ctx.running.admin_url());
    let put = ctx
        .send_with(
            Method::PUT,
            &url,
            Some(TOKEN),
            Some(&json!({"fail_rate": 1.0, "fault_phase": "before"})),
        )
        .await;
    assert_eq!(put.status, 200, "{}", put.raw);
    assert_eq!(put.body["fail_rate"], 1.0);
    assert_aws_error(&ctx.get("/Users").await, 500);
    assert_eq!(ctx.running.knobs().fail_rate, 1.0);
    let bad = ctx
        .send_with(
            Method::PUT,
            &url,
            Some(TOKEN),
            Some(&json!({"fail_rate": 2.0})),
        )
        .await;
    assert_aws_error(&bad, 400);
    let unknown = ctx
        .send_with(Method::PUT, &url, Some(TOKEN), Some(&json!({"nope": 1})))
        .await;
    assert_aws_error(&unknown, 400);
    let reset = ctx
        .send_with(Method::PUT, &url, Some(TOKEN), Some(&json!({})))
        .await;
    assert_eq!(reset.status, 200);
    assert_eq!(ctx.get("/Users").await.status, 200);
    let got = ctx.send_with(Method::GET, &url, Some(TOKEN), None).await;
    assert_eq!(got.body["fail_rate"], 0.0);
    // PATCH merges: the rate limit set first survives a later latency change.
    let first = ctx
        .send_with(
            Method::PATCH,
            &url,
            Some(TOKEN),
            Some(&json!({"rate_limit": 50})),
        )
        .await;
    assert_eq!(first.status, 200);
    let merged = ctx
        .send_with(
            Method::PATCH,
            &url,
            Some(TOKEN),
            Some(&json!({"latency_ms": 1})),
        )
        .await;
    assert_eq!(
        (&merged.body["rate_limit"], &merged.body["latency_ms"]),
        (&json!(50), &json!(1))
    );
    let bad = ctx
        .send_with(
            Method::PATCH,
            &url,
            Some(TOKEN),
            Some(&json!({"page_limit": 0})),
        )
        .await;
    assert_aws_error(&bad, 400);
}

#[tokio::test]
async fn stats_count_each_route_by_its_answer() {
    let ctx = Ctx::new().await;
    let uid = ctx.create_user("u").await;
    let gid = ctx.create_group("g").await;
    ctx.add_members(&gid, &[&uid]).await;
    let again = ctx.post("/Users", &user_body("u")).await;
    assert_eq!(again.status, 409);
    let filter = ctx.url("/Users?filter=externalId%20eq%20%22nobody%22");
    let found = ctx.send_with(Method::GET, &filter, Some(TOKEN), None).await;
    assert_eq!(found.status, 200);
    let by_name = ctx.url("/Groups?filter=displayName+eq+%22g%22");
    assert_eq!(
        ctx.send_with(Method::GET, &by_name, Some(TOKEN), None)
            .await
            .status,
        200
    );
    let unknown = ctx.url("/Users/9067729b3d-00000000-0000-0000-0000-000000000000");
    assert_eq!(
        ctx.send_with(Method::GET, &unknown, Some(TOKEN), None)
            .await
            .status,
        404
    );

    let stats = ctx.running.stats();
    let expected: std::collections::BTreeMap<String, u64> = [
        ("POST /Users 201", 1),
        ("POST /Users 409", 1),
        ("POST /Groups 201", 1),
        ("PATCH /Groups/{id} 204", 1),
        ("GET /Users?filter=externalId 200", 1),
        ("GET /Groups?filter=displayName 200", 1),
        ("GET /Users/{id} 404", 1),
    ]
    .into_iter()
    .map(|(k, n)| (k.to_owned(), n))
    .collect();
    assert_eq!(stats.by_answer, expected);
    assert_eq!(stats.route("POST /Users"), 2);
    assert_eq!(stats.by_answer.values().sum::<u64>(), stats.requests);
    let admin = ctx.running.admin_url();
    let served = ctx
        .send_with(Method::GET, &format!("{admin}/stats"), Some(TOKEN), None)
        .await;
    assert_eq!(served.body["by_answer"]["POST /Users 409"], 1);
}

#[tokio::test]
async fn admin_endpoints_report_stats_state_and_reset() {
    let ctx = Ctx::new().await;
    let uid = ctx.create_user("u").await;
    let gid = ctx.create_group("g").await;
    ctx.add_members(&gid, &[&uid]).await;
    let admin = ctx.running.admin_url();
    let stats = ctx
        .send_with(Method::GET, &format!("{admin}/stats"), Some(TOKEN), None)
        .await;
    assert_eq!(stats.body["requests"], 3);
    let state = ctx
        .send_with(Method::GET, &format!("{admin}/state"), Some(TOKEN), None)
        .await;
    assert_eq!(state.body["groups"][0]["members"], json!([uid]));
    assert_eq!(state.body["users"][0]["groups"], json!([gid]));
    let seed = ctx
        .send_with(
            Method::PUT,
            &format!("{admin}/seed"),
            Some(TOKEN),
            Some(&json!({"seed": 5})),
        )
        .await;
    assert_eq!(seed.status, 204);
    let reset = ctx
        .send_with(Method::POST, &format!("{admin}/reset"), Some(TOKEN), None)
        .await;
    assert_eq!(reset.status, 204);
    assert!(ctx.running.users().is_empty() && ctx.running.groups().is_empty());
    assert_eq!(ctx.running.requests(), 0, "admin requests are not counted");
}
