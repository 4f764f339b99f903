//! A reconcile plan at scale (`docs/benchmarks.md`, "Reconcile plan at scale"): 10 000
//! users in 500 groups (each user in one, 20 to a group) in Okta and, in step, in
//! Identity Center;
//! one plan through the real clients against both emulators held to rate limits.
//! Prints the requests each side took against the minimum (pages of 100 in Identity
//! Center; 200 users and 1 000 members in Okta) and the time against the bound the
//! rate limits set.
//!
//! `cargo run -p e2e-tests --example reconcile_scale -- [USERS] [GROUPS] [IC_RPS] [OKTA_RPS]`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use clients::{HttpTargetScimClient, OktaClient, OktaClientConfig, TargetClientConfig};
use edge::StaticSecretSource;
use futures::stream::{self, StreamExt};
use gateway::audit::InMemoryAuditLog;
use gateway::reconcile::{Safety, make_plan};
use gateway::rules::IdentityRules;
use gateway::{ScimService, SecretId, SecretString, SystemClock, TargetDialect};
use serde_json::{Value, json};

const OKTA_TOKEN: &str = "okta-token-for-the-scale-run";
const IC_TOKEN: &str = "ic-token-for-the-scale-run";

fn arg(n: usize, default: usize) -> usize {
    std::env::args()
        .nth(n)
        .and_then(|a| a.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() {
    let users = arg(1, 10_000);
    let groups = arg(2, 500);
    let ic_rps = arg(3, 20);
    let okta_rps = arg(4, 10);
    let per_group = users / groups;

    // Okta: every user in one group of `per_group`.
    let user_id = |n: usize| format!("00u{n:017}");
    let group_id = |n: usize| format!("00g{n:017}");
    let seed = okta_emulator::Seed {
        users: (0..users)
            .map(|n| {
                json!({"id": user_id(n), "status": "ACTIVE", "profile": {
                    "login": format!("user{n}@example.com"), "email": format!("user{n}@example.com"),
                    "firstName": "User", "lastName": format!("N{n}")}})
            })
            .collect(),
        groups: (0..groups)
            .map(|g| json!({"id": group_id(g), "type": "OKTA_GROUP", "profile": {"name": format!("group-{g}")}}))
            .collect(),
        memberships: (0..groups)
            .map(|g| (group_id(g), (g * per_group..(g + 1) * per_group).map(user_id).collect()))
            .collect(),
        ..okta_emulator::Seed::default()
    };
    let okta = okta_emulator::Emulator::start(
        okta_emulator::EmulatorConfig::new(OKTA_TOKEN).with_seed(seed),
        "127.0.0.1:0",
    )
    .await
    .unwrap();
    let ic =
        ic_emulator::Emulator::start(ic_emulator::EmulatorConfig::new(IC_TOKEN), "127.0.0.1:0")
            .await
            .unwrap();

    // Identity Center in step, written straight to the emulator (no rate limit yet).
    let http = reqwest::Client::new();
    let started = Instant::now();
    let ids: Vec<String> = stream::iter(0..users)
        .map(|n| {
            let http = http.clone();
            let url = format!("{}/Users", ic.base_url());
            let body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": format!("user{n}@example.com"), "externalId": user_id(n),
                "displayName": format!("User N{n}"), "active": true,
                "name": {"givenName": "User", "familyName": format!("N{n}")},
                "emails": [{"value": format!("user{n}@example.com"), "type": "work", "primary": true}]});
            async move {
                let created: Value = http.post(url).bearer_auth(IC_TOKEN).json(&body).send().await.unwrap().json().await.unwrap();
                created["id"].as_str().unwrap().to_owned()
            }
        })
        .buffered(16)
        .collect()
        .await;
    stream::iter(0..groups)
        .for_each_concurrent(16, |g| {
            let http = http.clone();
            let url = format!("{}/Groups", ic.base_url());
            let members: Vec<Value> = ids[g * per_group..(g + 1) * per_group]
                .iter()
                .map(|id| json!({"value": id}))
                .collect();
            let body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": format!("group-{g}"), "externalId": group_id(g), "members": members});
            async move {
                let status = http.post(url).bearer_auth(IC_TOKEN).json(&body).send().await.unwrap().status();
                assert_eq!(status, 201);
            }
        })
        .await;
    eprintln!(
        "seeded {users} users and {groups} groups in {:?}",
        started.elapsed()
    );

    ic.set_knobs(ic_emulator::Knobs {
        rate_limit: Some(u32::try_from(ic_rps).unwrap()),
        ..ic_emulator::Knobs::default()
    })
    .unwrap();
    okta.set_knobs(okta_emulator::Knobs {
        rate_limit: Some(u32::try_from(okta_rps).unwrap()),
        ..okta_emulator::Knobs::default()
    })
    .unwrap();
    let ic_before = ic.emulator().stats();
    let okta_before = okta.stats();

    let secrets = Arc::new(
        StaticSecretSource::new()
            .with(SecretId::new("ic"), SecretString::new(IC_TOKEN))
            .with(SecretId::new("okta"), SecretString::new(OKTA_TOKEN)),
    );
    let target = HttpTargetScimClient::new(
        TargetClientConfig::new(
            ic.base_url(),
            SecretId::new("ic"),
            TargetDialect::IdentityCenter,
        ),
        secrets.clone(),
    )
    .unwrap();
    let service = ScimService::new(
        Arc::new(target),
        Arc::new(IdentityRules::new()),
        Arc::new(InMemoryAuditLog::new()),
        Arc::new(SystemClock),
        Duration::from_secs(20),
    );
    let mut okta_config = OktaClientConfig::new(okta.base_url(), SecretId::new("okta"));
    okta_config.throttle_budget = Duration::from_secs(120);
    let okta_client = OktaClient::new(okta_config, secrets).unwrap();

    let started = Instant::now();
    let (plan, cost) = make_plan(
        &service,
        &okta_client,
        Safety::default(),
        Duration::from_secs(600),
        time::OffsetDateTime::now_utc(),
    )
    .await
    .unwrap();
    let elapsed = started.elapsed();

    let ic_after = ic.emulator().stats();
    let okta_after = okta.stats();
    let ic_requests = ic_after.requests - ic_before.requests;
    let ic_throttled = ic_after.throttled - ic_before.throttled;
    let okta_requests = okta_after.requests - okta_before.requests;
    let okta_throttled = okta_after.throttled - okta_before.throttled;
    let pages = |n: usize, size: usize| n.div_ceil(size);
    let ic_minimum = pages(users, 100) + pages(groups, 100) + groups * pages(per_group, 100);
    let okta_minimum = pages(users, 200) + 1 + groups * pages(per_group, 1000);
    let ic_ok = ic_requests - ic_throttled;
    let okta_ok = okta_requests - okta_throttled;
    let bound = ic_ok as f64 / ic_rps as f64 + okta_ok as f64 / okta_rps as f64;
    println!("reconcile plan: {users} users, {groups} groups of {per_group}, in step");
    println!(
        "  changes planned: {} (withheld: {:?})",
        plan.changes.len(),
        plan.withheld
    );
    println!(
        "  Identity Center: {ic_ok} requests answered (+{ic_throttled} throttled), minimum {ic_minimum}; the plan counted {} (with retries)",
        cost.target_calls
    );
    println!(
        "  Okta: {okta_ok} requests answered (+{okta_throttled} throttled), minimum {okta_minimum}"
    );
    println!(
        "  time: {:.1} s; the rate limits ({ic_rps}/s Identity Center, {okta_rps}/s Okta, read one after the other) bound it at {bound:.1} s: {:.2}x the bound",
        elapsed.as_secs_f64(),
        elapsed.as_secs_f64() / bound
    );
    assert!(
        plan.is_empty(),
        "in step: {:?}",
        &plan.changes[..plan.changes.len().min(5)]
    );
}
