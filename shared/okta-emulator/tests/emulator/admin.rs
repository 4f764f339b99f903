//! The admin routes under `/_emulator`: knobs, counters, the org's state, seed data and
//! reset.

use okta_emulator::{Emulator, EmulatorConfig, EmulatorError, Seed, SeedError};
use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{Ctx, Resp, TOKEN};

impl Ctx {
    async fn admin(&self, method: Method, route: &str, body: Option<&Value>) -> Resp {
        let url = format!("{}/{route}", self.running.admin_url());
        let auth = format!("SSWS {TOKEN}");
        self.send_with(method, &url, Some(&auth), body).await
    }
}

fn small_seed() -> Value {
    json!({
        "users": [
            {"id": "00ua", "status": "ACTIVE", "profile": {"login": "a@example.com"}},
            {"id": "00ub", "status": "SUSPENDED", "profile": {"login": "b@example.com"}}
        ],
        "groups": [{"id": "00gx", "type": "OKTA_GROUP", "profile": {"name": "X"}}],
        "memberships": {"00gx": ["00ua", "00ub"]},
        "apps": {"0oaaws": ["00ua"]}
    })
}

#[tokio::test]
async fn seed_data_loads_over_http_with_ids_kept_and_state_answers_it_back() {
    // Arrange
    let ctx = Ctx::new().await;
    ctx.create_user("replaced@example.com").await;

    // Act
    let loaded = ctx
        .admin(Method::PUT, "seed-data", Some(&small_seed()))
        .await;
    let state = ctx.admin(Method::GET, "state", None).await;

    // Assert: the seed replaced the org, and the API serves it.
    assert_eq!(loaded.status, 204, "{}", loaded.raw);
    let users: Vec<&str> = state.body["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap())
        .collect();
    assert_eq!(users, ["00ua", "00ub"]);
    assert_eq!(state.body["memberships"], json!({"00gx": ["00ua", "00ub"]}));
    assert_eq!(state.body["apps"], json!({"0oaaws": ["00ua"]}));
    assert_eq!(
        ctx.get("/api/v1/users/00ub").await.body["status"],
        "SUSPENDED"
    );
    assert_eq!(
        ctx.get("/api/v1/groups/00gx/users").await.ids(),
        ["00ua", "00ub"]
    );
    assert_eq!(ctx.get("/api/v1/apps/0oaaws/users/00ua").await.status, 200);

    // And a state loads back as the same state.
    let round: Seed = serde_json::from_value(state.body.clone()).unwrap();
    ctx.running.load_seed(&round).unwrap();
    assert_eq!(json!(ctx.running.state()), state.body);
}

#[tokio::test]
async fn a_seed_naming_unknown_ids_is_refused_and_the_org_stays_as_it_was() {
    let ctx = Ctx::new().await;
    let kept = ctx.create_user("kept@example.com").await;
    let mut bad = small_seed();
    bad["memberships"]["00gx"] = json!(["00ua", "00unknown"]);

    let refused = ctx.admin(Method::PUT, "seed-data", Some(&bad)).await;

    assert_eq!(refused.status, 400, "{}", refused.raw);
    assert!(
        refused
            .raw
            .contains("memberships of group 00gx names user 00unknown"),
        "{}",
        refused.raw
    );
    assert_eq!(ctx.running.state().users[0]["id"], kept.as_str());
}

#[tokio::test]
async fn a_configuration_seed_with_unknown_ids_stops_the_start() {
    let seed: Seed = serde_json::from_value(json!({"memberships": {"00gnone": []}})).unwrap();
    let error = Emulator::start(EmulatorConfig::new(TOKEN).with_seed(seed), "127.0.0.1:0")
        .await
        .unwrap_err();
    assert!(matches!(
        error,
        EmulatorError::Seed(SeedError::UnknownGroup { .. })
    ));
}

#[tokio::test]
async fn knobs_are_read_replaced_and_merged_over_http() {
    let ctx = Ctx::new().await;
    let put = ctx
        .admin(
            Method::PUT,
            "knobs",
            Some(&json!({"rate_limit": 50, "latency_ms": 5})),
        )
        .await;
    assert_eq!(put.body["rate_limit"], 50);
    let patched = ctx
        .admin(Method::PATCH, "knobs", Some(&json!({"error_rate": 0.25})))
        .await;
    assert_eq!(
        (
            patched.body["rate_limit"].clone(),
            patched.body["latency_ms"].clone()
        ),
        (json!(50), json!(5))
    );
    assert_eq!(ctx.running.knobs().error_rate, 0.25);
    let invalid = ctx
        .admin(Method::PATCH, "knobs", Some(&json!({"error_rate": 2.0})))
        .await;
    assert_eq!(invalid.status, 400);
    let unknown = ctx
        .admin(Method::PUT, "knobs", Some(&json!({"rate": 1})))
        .await;
    assert_eq!(unknown.status, 400);
    assert_eq!(
        ctx.admin(Method::GET, "knobs", None).await.body["error_rate"],
        0.25
    );
}

#[tokio::test]
async fn stats_count_routes_and_reset_empties_the_org_and_the_counters() {
    let ctx = Ctx::new().await;
    ctx.create_user("a@example.com").await;
    ctx.get("/api/v1/users").await;
    ctx.get("/api/v1/users").await;
    let stats = ctx.admin(Method::GET, "stats", None).await;
    assert_eq!(stats.body["requests"], 3);
    assert_eq!(stats.body["by_route"]["GET /api/v1/users"], 2);
    assert_eq!(stats.body["by_route"]["POST /api/v1/users"], 1);

    assert_eq!(ctx.admin(Method::POST, "reset", None).await.status, 204);
    assert!(ctx.running.state().users.is_empty());
    assert_eq!(ctx.running.stats().requests, 0);
    let tokens = ctx
        .admin(
            Method::PUT,
            "tokens",
            Some(&json!({"tokens": [TOKEN, "next"]})),
        )
        .await;
    assert_eq!(tokens.status, 204);
    assert!(!tokens.raw.contains("next"));
}

#[tokio::test]
async fn a_router_mounted_under_a_prefix_links_to_its_configured_base_url() {
    // `scimgw dev` may nest the emulator beside others: its links must carry the prefix.
    let emulator =
        Emulator::new(EmulatorConfig::new(TOKEN).with_base_url("http://127.0.0.1:1/okta")).unwrap();
    let app = axum::Router::new().nest("/okta", emulator.router());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let r = reqwest::Client::new()
        .post(format!("http://{addr}/okta/api/v1/groups"))
        .header("authorization", format!("SSWS {TOKEN}"))
        .json(&json!({"profile": {"name": "N"}}))
        .send()
        .await
        .unwrap();
    let body: Value = r.json().await.unwrap();
    let href = body["_links"]["users"]["href"].as_str().unwrap();
    assert!(
        href.starts_with("http://127.0.0.1:1/okta/api/v1/groups/"),
        "{href}"
    );
    assert_eq!(emulator.stats().requests, 1);
}
