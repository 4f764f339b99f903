//! Rate limits (Rate limits reference: the `X-Rate-Limit-*` headers on every answer, 429
//! E0000047 past the limit, reset at an epoch second) and the other knobs: latency, and
//! injected 500s and dropped connections decided by a seeded random source.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use okta_emulator::{EmulatorConfig, Knobs, NOMINAL_LIMIT};
use serde_json::Value;

use crate::common::{Ctx, Resp, TOKEN, assert_okta_error};

fn header_u64(r: &Resp, name: &str) -> u64 {
    r.header(name)
        .unwrap_or_else(|| panic!("no {name}: {:?}", r.headers))
        .parse()
        .unwrap()
}

fn epoch_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test]
async fn every_answer_carries_the_three_rate_limit_headers() {
    let ctx = Ctx::new().await;
    let ok = ctx.get("/api/v1/users").await;
    let missing = ctx.get("/api/v1/users/00unobody").await;
    let refused = ctx
        .send_with(reqwest::Method::GET, &ctx.url("/api/v1/users"), None, None)
        .await;
    for r in [&ok, &missing, &refused] {
        assert_eq!(
            header_u64(r, "x-rate-limit-limit"),
            u64::from(NOMINAL_LIMIT)
        );
        assert!(header_u64(r, "x-rate-limit-remaining") < u64::from(NOMINAL_LIMIT));
        let reset = header_u64(r, "x-rate-limit-reset");
        assert!(
            reset > epoch_secs() && reset <= epoch_secs() + 60,
            "{reset}"
        );
    }
}

#[tokio::test]
async fn past_the_limit_answers_are_429_e0000047_until_the_window_resets() {
    // Arrange
    let ctx = Ctx::with(EmulatorConfig::new(TOKEN).with_knobs(Knobs {
        rate_limit: Some(3),
        ..Knobs::default()
    }))
    .await;
    let fixture: Value = serde_json::from_str(include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/okta-api/api-rate-limited.json"
    )))
    .unwrap();

    // Act: ask until refused (a window edge may come between the requests).
    let mut throttled = None;
    for _ in 0..10 {
        let r = ctx.get("/api/v1/groups").await;
        if r.status == 429 {
            throttled = Some(r);
            break;
        }
        assert_eq!(r.status, 200, "{}", r.raw);
        assert_eq!(header_u64(&r, "x-rate-limit-limit"), 3);
    }
    let throttled = throttled.expect("the limit was reached");
    let reset = header_u64(&throttled, "x-rate-limit-reset");
    let wait = Duration::from_secs(reset)
        .saturating_sub(SystemTime::now().duration_since(UNIX_EPOCH).unwrap());
    tokio::time::sleep(wait + Duration::from_millis(20)).await;
    let after_reset = ctx.get("/api/v1/groups").await;

    // Assert
    assert_okta_error(&throttled, 429, "E0000047");
    assert_eq!(throttled.body["errorSummary"], fixture["errorSummary"]);
    assert_eq!(header_u64(&throttled, "x-rate-limit-remaining"), 0);
    assert!(wait <= Duration::from_secs(1), "{wait:?}");
    assert_eq!(after_reset.status, 200, "{}", after_reset.raw);
    assert!(ctx.running.stats().throttled >= 1);
}

#[tokio::test]
async fn an_error_rate_of_one_answers_every_request_500_e0000009_without_effect() {
    let ctx = Ctx::new().await;
    ctx.running
        .set_knobs(Knobs {
            error_rate: 1.0,
            ..Knobs::default()
        })
        .unwrap();
    let r = ctx
        .post(
            "/api/v1/groups",
            &serde_json::json!({"profile": {"name": "X"}}),
        )
        .await;
    assert_okta_error(&r, 500, "E0000009");
    assert!(ctx.running.state().groups.is_empty());
    assert_eq!(ctx.running.stats().failed, 1);
}

#[tokio::test]
async fn a_drop_rate_of_one_closes_every_connection_unanswered_without_effect() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    // Arrange
    let ctx = Ctx::new().await;
    ctx.running
        .set_knobs(Knobs {
            drop_rate: 1.0,
            ..Knobs::default()
        })
        .unwrap();
    let body = r#"{"profile": {"name": "X"}}"#;
    let request = format!(
        "POST /api/v1/groups HTTP/1.1\r\nHost: localhost\r\nAuthorization: SSWS {TOKEN}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );

    // Act
    let mut stream = tokio::net::TcpStream::connect(ctx.running.addr())
        .await
        .unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer))
        .await
        .expect("the server closes the connection")
        .unwrap_or_default();
    let via_client = ctx
        .http
        .get(ctx.url("/api/v1/users"))
        .header("authorization", format!("SSWS {TOKEN}"))
        .send()
        .await;

    // Assert
    assert!(answer.is_empty(), "{}", String::from_utf8_lossy(&answer));
    assert!(via_client.is_err(), "{via_client:?}");
    assert!(ctx.running.state().groups.is_empty());
    assert_eq!(ctx.running.stats().dropped, 2);
    assert_eq!(ctx.running.stats().failed, 0);
}

#[tokio::test]
async fn the_same_seed_injects_the_same_faults() {
    let knobs = Knobs {
        error_rate: 0.5,
        seed: 9,
        ..Knobs::default()
    };
    let mut runs = Vec::new();
    for _ in 0..2 {
        let ctx = Ctx::with(EmulatorConfig::new(TOKEN).with_knobs(knobs.clone())).await;
        let mut statuses = Vec::new();
        for _ in 0..30 {
            statuses.push(ctx.get("/api/v1/users").await.status);
        }
        runs.push(statuses);
    }
    assert_eq!(runs[0], runs[1]);
    assert!(
        runs[0].contains(&500) && runs[0].contains(&200),
        "{:?}",
        runs[0]
    );
}

#[tokio::test]
async fn latency_delays_every_api_answer() {
    let ctx = Ctx::with(EmulatorConfig::new(TOKEN).with_knobs(Knobs {
        latency_ms: 150,
        ..Knobs::default()
    }))
    .await;
    let started = Instant::now();
    assert_eq!(ctx.get("/api/v1/groups").await.status, 200);
    assert!(started.elapsed() >= Duration::from_millis(150));
}
