//! What one SCIM request costs the gateway in process, without sockets: the latency
//! benchmark's workload (`scripts/bench latency`: a user created, looked up by
//! `userName`, replaced, patched, added to a group and removed from it) sent with
//! `oneshot` through `edge::scim_router`, the router `scimgw dev` and the Lambda serve,
//! over an in-memory Identity Center fake. Set against that benchmark's added latency,
//! it splits the gateway's time between its own work and the HTTP path
//! (`docs/benchmarks.md`, "Added latency and throughput").
//!
//! Setups, each timed per iteration of six requests: `as-dev` (the chained, MACed
//! in-memory audit store `scimgw dev` runs without AWS, the mirror, request logs and
//! metrics lines written as dev writes them, to a sink); `no-logs` (the same, no log
//! subscriber); `plain-audit` (no logs, and an audit log that only keeps the records,
//! without the hash chain and MACs). Two more go over loopback to the Identity Center
//! emulator, served on the same runtime: `real-client` (`no-logs` with the real
//! Identity Center client in place of the fake) and `emulator-direct` (the six requests
//! sent straight to the emulator by a plain reqwest client, the floor `real-client`
//! stands on).
//!
//! Run with `cargo bench -p edge --bench scim_request`.

// `criterion_group!` expands to a public function it gives no doc comment.
#![allow(missing_docs)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use clients::identity_center::{HttpTargetScimClient, TargetClientConfig};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use edge::metrics::{LogSink, RequestMetrics};
use edge::{BearerAuthenticator, ScimApp, StaticSecretSource, inbound_tokens_secret, scim_router};
use gateway::audit::{AuditLog, InMemoryAuditLog};
use gateway::audit_store::InMemoryAuditStore;
use gateway::mirror::InMemoryMirror;
use gateway::rules::IdentityRules;
use gateway::testing::ScriptedTargetClient;
use gateway::{ScimService, SecretId, SecretString, SystemClock, TargetDialect, TargetScimClient};
use http::{Method, Request};
use http_body_util::BodyExt as _;
use ic_emulator::{Emulator, EmulatorConfig};
use serde_json::{Value, json};
use tower::ServiceExt as _;

const TOKEN: &str = "bench-token-0123456789abcdef";

/// The router over fresh in-memory parts, with `audit` as its trail, in front of
/// `target`.
fn router_to(audit: Arc<dyn AuditLog>, target: Arc<dyn TargetScimClient>) -> Router {
    let secrets = StaticSecretSource::new().with(
        SecretId::new("inbound"),
        SecretString::new(inbound_tokens_secret(&[TOKEN])),
    );
    let service = ScimService::new(
        target,
        Arc::new(IdentityRules::new()),
        audit,
        Arc::new(SystemClock),
        Duration::from_secs(5),
    )
    .with_mirror(Arc::new(InMemoryMirror::new()));
    let authenticator = BearerAuthenticator::new(Arc::new(secrets), SecretId::new("inbound"));
    let metrics = RequestMetrics::new("scim-api").with_sink(Arc::new(LogSink));
    scim_router(Arc::new(
        ScimApp::new(service, authenticator).with_metrics(metrics),
    ))
}

/// Where the workload goes: through the router in process, or over loopback straight to
/// the emulator with a plain reqwest client (the latency benchmark's direct path).
enum Path<'a> {
    Router(&'a Router),
    Direct {
        http: &'a reqwest::Client,
        base: String,
    },
}

impl Path<'_> {
    /// Sends one request; answers its status and body.
    async fn send(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        match self {
            Path::Router(router) => {
                let request = Request::builder()
                    .method(method)
                    .uri(format!("/scim/v2{path}"))
                    .header(http::header::AUTHORIZATION, format!("Bearer {TOKEN}"))
                    .header(http::header::CONTENT_TYPE, "application/scim+json")
                    .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
                    .unwrap_or_default();
                let Ok(response) = (*router).clone().oneshot(request).await;
                let status = response.status().as_u16();
                let bytes = response
                    .into_body()
                    .collect()
                    .await
                    .map(|b| b.to_bytes())
                    .unwrap_or_default();
                (
                    status,
                    serde_json::from_slice(&bytes).unwrap_or(Value::Null),
                )
            }
            Path::Direct { http, base } => {
                let mut request = http
                    .request(method, format!("{base}{path}"))
                    .bearer_auth(TOKEN)
                    .header("user-agent", "Okta SCIM Client 1.0.0")
                    .header("content-type", "application/scim+json");
                if let Some(body) = body {
                    request = request.body(body.to_string());
                }
                match request.send().await {
                    Ok(answer) => (
                        answer.status().as_u16(),
                        answer.json().await.unwrap_or(Value::Null),
                    ),
                    Err(_) => (0, Value::Null),
                }
            }
        }
    }

    /// Creates the workload's group, named `name`; answers its id.
    async fn group(&self, name: &str) -> String {
        let body = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": name,
        });
        let (_, answer) = self.send(Method::POST, "/Groups", Some(body)).await;
        answer["id"].as_str().unwrap_or_default().to_owned()
    }

    /// One iteration of the workload for user number `n`: six requests. Answers the
    /// statuses, so that a broken setup shows instead of timing error paths.
    async fn iteration(&self, group: &str, n: u64) -> [u16; 6] {
        let user = format!("bench.user{n}@example.com");
        let (created, answer) = self
            .send(Method::POST, "/Users", Some(user_body(&user, "")))
            .await;
        let id = answer["id"].as_str().unwrap_or_default().to_owned();
        let filter = format!("/Users?filter=userName%20eq%20%22{user}%22");
        let (found, _) = self.send(Method::GET, &filter, None).await;
        let mut replaced = user_body(&user, " (replaced)");
        replaced["id"] = json!(id);
        let (put, _) = self
            .send(Method::PUT, &format!("/Users/{id}"), Some(replaced))
            .await;
        let patched = patch(
            json!([{"op": "replace", "path": "displayName", "value": format!("{user} (patched)")}]),
        );
        let (patch_status, _) = self
            .send(Method::PATCH, &format!("/Users/{id}"), Some(patched))
            .await;
        let group_path = format!("/Groups/{group}");
        let add = patch(json!([{"op": "add", "path": "members", "value": [{"value": id}]}]));
        let (added, _) = self.send(Method::PATCH, &group_path, Some(add)).await;
        let remove =
            patch(json!([{"op": "remove", "path": format!("members[value eq \"{id}\"]")}]));
        let (removed, _) = self.send(Method::PATCH, &group_path, Some(remove)).await;
        [created, found, put, patch_status, added, removed]
    }
}

fn user_body(user: &str, suffix: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user,
        "name": {"givenName": "Bench", "familyName": format!("User{suffix}")},
        "displayName": format!("Bench User{suffix}"),
        "emails": [{"value": user, "type": "work", "primary": true}],
        "active": true,
    })
}

fn patch(operations: Value) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": operations,
    })
}

/// A router over fresh parts with its group, after one untimed iteration: each timed
/// iteration meets the same state (the Identity Center fake and the trail hold a user
/// or two, never thousands), so that what grows in the fakes stays out of the figure.
fn warm_router(runtime: &tokio::runtime::Runtime, audit: Arc<dyn AuditLog>) -> (Router, String) {
    warm_router_to(runtime, audit, Arc::new(ScriptedTargetClient::new()))
}

/// As [`warm_router`], in front of `target`.
fn warm_router_to(
    runtime: &tokio::runtime::Runtime,
    audit: Arc<dyn AuditLog>,
    target: Arc<dyn TargetScimClient>,
) -> (Router, String) {
    let router = router_to(audit, target);
    let group_id = runtime.block_on(Path::Router(&router).group("bench-group"));
    let statuses = runtime.block_on(Path::Router(&router).iteration(&group_id, 0));
    if statuses != [201, 200, 200, 200, 200, 200] {
        eprintln!("the workload answered {statuses:?}: the figures time error paths");
    }
    (router, group_id)
}

/// Makes a setup's audit log.
type AuditFactory = fn() -> Arc<dyn AuditLog>;

/// The chained store `scimgw dev` runs without AWS (random local keys).
fn chained() -> Arc<dyn AuditLog> {
    match InMemoryAuditStore::ephemeral(Arc::new(SystemClock), time::Duration::days(400)) {
        Ok(store) => Arc::new(store),
        // Checked before the timing starts (`workload`), so never taken while it runs.
        Err(_) => Arc::new(InMemoryAuditLog::new()),
    }
}

fn plain() -> Arc<dyn AuditLog> {
    Arc::new(InMemoryAuditLog::new())
}

fn workload(c: &mut Criterion) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return eprintln!("no runtime: {e}"),
    };
    if let Err(e) = InMemoryAuditStore::ephemeral(Arc::new(SystemClock), time::Duration::days(400))
    {
        return eprintln!("no local audit keys: {e}");
    }
    let setups: [(&str, AuditFactory, bool); 3] = [
        ("as-dev", chained, true),
        ("no-logs", chained, false),
        ("plain-audit", plain, false),
    ];
    let mut group = c.benchmark_group("scim-request/six-requests");
    for (name, audit, logs) in setups {
        // As `scimgw dev` logs: `info` and up, formatted, here to a sink.
        let subscriber = tracing_subscriber::fmt()
            .with_writer(std::io::sink)
            .with_env_filter(tracing_subscriber::EnvFilter::new(if logs {
                "info"
            } else {
                "off"
            }))
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        group.bench_function(name, |b| {
            b.iter_batched(
                || warm_router(&runtime, audit()),
                |(router, group_id)| {
                    runtime.block_on(Path::Router(&router).iteration(&group_id, 1))
                },
                BatchSize::PerIteration,
            );
        });
    }
    // Over loopback to one emulator, served on this runtime for the whole group.
    let Ok(emulator) = runtime.block_on(Emulator::start(EmulatorConfig::new(TOKEN), "127.0.0.1:0"))
    else {
        return eprintln!("the emulator did not start");
    };
    let secrets = StaticSecretSource::new()
        .with(SecretId::new("target"), SecretString::new(TOKEN.to_owned()));
    let client = HttpTargetScimClient::new(
        TargetClientConfig::new(
            emulator.base_url(),
            SecretId::new("target"),
            TargetDialect::IdentityCenter,
        ),
        Arc::new(secrets),
    );
    let Ok(client) = client else {
        return eprintln!("the Identity Center client could not be built");
    };
    let client: Arc<dyn TargetScimClient> = Arc::new(client);
    let n = AtomicU64::new(0);
    let (router, group_id) = warm_router_to(&runtime, chained(), client);
    group.bench_function("real-client", |b| {
        b.iter(|| {
            runtime.block_on(
                Path::Router(&router).iteration(&group_id, n.fetch_add(1, Ordering::Relaxed) + 10),
            )
        });
    });
    let http = reqwest::Client::new();
    let direct = Path::Direct {
        http: &http,
        base: emulator.base_url(),
    };
    let group_id = runtime.block_on(direct.group("bench-direct-group"));
    group.bench_function("emulator-direct", |b| {
        b.iter(|| {
            runtime.block_on(direct.iteration(&group_id, n.fetch_add(1, Ordering::Relaxed) + 10))
        });
    });
    group.finish();
}

criterion_group!(benches, workload);
criterion_main!(benches);
