//! Shared set-up of the SCIM end-to-end tests: the gateway's real router over the real
//! Identity Center client, in front of a real emulator (served on loopback with a layer
//! that records every request body it receives) or of scim2-server.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use clients::{HttpTargetScimClient, TargetClientConfig, TargetDialect};
use edge::{BearerAuthenticator, ScimApp, StaticSecretSource, inbound_tokens_secret, scim_router};
use gateway::audit::InMemoryAuditLog;
use gateway::rules::IdentityRules;
use gateway::{ScimService, SecretId, SecretString, SystemClock};
use http::{HeaderMap, Method, StatusCode};
use http_body_util::BodyExt;
use ic_emulator::{Emulator, EmulatorConfig};
use serde_json::Value;
use tower::ServiceExt;

/// The inbound token every test gateway accepts, and a second one for rotation tests.
pub const INBOUND_TOKEN: &str = "okta-inbound-token-7f3a9c1e5b2d4068";
/// The second inbound token slot.
pub const INBOUND_TOKEN_2: &str = "okta-inbound-token-rotated-11aa22bb33cc";
/// The emulator's bearer token.
pub const TARGET_TOKEN: &str = "ic-target-token-d41d8cd98f00b204e980";

/// Turns logs on for a run with `TEST_LOG` set.
pub fn init_test_log() {
    if std::env::var_os("TEST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter("debug")
            .with_test_writer()
            .try_init();
    }
}

/// An Identity Center emulator on loopback that also keeps every request body it got.
pub struct RecordingEmulator {
    /// The emulator, for counters and snapshots.
    pub emulator: Emulator,
    /// Its SCIM base URL.
    pub url: String,
    received: Arc<Mutex<Vec<Received>>>,
    server: tokio::task::JoinHandle<()>,
}

/// One request the emulator received.
#[derive(Debug, Clone)]
pub struct Received {
    /// The method.
    pub method: String,
    /// The path and query, as sent.
    pub uri: String,
    /// The body.
    pub body: Bytes,
    /// The `User-Agent` header, when there was one.
    pub user_agent: Option<String>,
}

impl RecordingEmulator {
    /// Starts an empty emulator accepting [`TARGET_TOKEN`].
    pub async fn start() -> Self {
        Self::start_with(EmulatorConfig::new(TARGET_TOKEN)).await
    }

    /// Starts an empty emulator with `config` (whose tokens must include
    /// [`TARGET_TOKEN`]).
    pub async fn start_with(config: EmulatorConfig) -> Self {
        let emulator = Emulator::new(config).expect("emulator config");
        let received = Arc::new(Mutex::new(Vec::new()));
        let recorded = received.clone();
        let router = emulator.router().layer(axum::middleware::from_fn(
            move |request: Request, next: Next| {
                let recorded = recorded.clone();
                async move { record(recorded, request, next).await }
            },
        ));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        let url = format!("http://{addr}{}", emulator.base_path());
        Self {
            emulator,
            url,
            received,
            server,
        }
    }

    /// Every request the emulator received, in order.
    pub fn received(&self) -> Vec<Received> {
        self.received
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Every request body the emulator received, as text.
    pub fn received_bodies(&self) -> Vec<String> {
        self.received()
            .iter()
            .map(|r| String::from_utf8_lossy(&r.body).into_owned())
            .collect()
    }

    /// SCIM requests the emulator has received.
    pub fn requests(&self) -> u64 {
        self.emulator.requests()
    }
}

impl Drop for RecordingEmulator {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn record(recorded: Arc<Mutex<Vec<Received>>>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let bytes = body
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    let entry = Received {
        method: parts.method.to_string(),
        uri: parts.uri.to_string(),
        body: bytes.clone(),
        user_agent: parts
            .headers
            .get(http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    };
    recorded
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(entry);
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// The gateway under test: `edge::scim_router` over the real target client.
#[derive(Clone)]
pub struct TestGateway {
    /// The router, called in-process with `oneshot`.
    pub router: Router,
    /// What the gateway audited.
    pub audit: Arc<InMemoryAuditLog>,
}

/// An answer from the gateway.
#[derive(Debug)]
pub struct Answer {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body as JSON, when there is one.
    pub body: Option<Value>,
    /// The raw body.
    pub raw: Bytes,
}

impl TestGateway {
    /// A gateway in front of the SCIM endpoint at `url`, accepting [`INBOUND_TOKEN`] and
    /// [`INBOUND_TOKEN_2`].
    pub fn new(url: &str, token: &str, dialect: TargetDialect) -> Self {
        Self::with_rule_source(url, token, dialect, Arc::new(IdentityRules::new()))
    }

    /// A gateway in front of `emulator` with the rule set `yaml` active as `version`.
    pub fn with_rules(emulator: &RecordingEmulator, yaml: &str, version: &str) -> Self {
        let loaded = rules::RuleSet::load(yaml).expect("a valid rule set");
        let active = gateway::rules::ActiveRuleSet::new(version, loaded.rule_set);
        Self::with_rule_source(
            &emulator.url,
            TARGET_TOKEN,
            TargetDialect::IdentityCenter,
            Arc::new(gateway::rules::FixedRules::new(active)),
        )
    }

    /// A gateway in front of the SCIM endpoint at `url` with rules from `rules`.
    pub fn with_rule_source(
        url: &str,
        token: &str,
        dialect: TargetDialect,
        rules: Arc<dyn gateway::rules::RuleSource>,
    ) -> Self {
        let secrets = Arc::new(
            StaticSecretSource::new()
                .with(SecretId::new("target"), SecretString::new(token))
                .with(
                    SecretId::new("inbound"),
                    SecretString::new(inbound_tokens_secret(&[INBOUND_TOKEN, INBOUND_TOKEN_2])),
                ),
        );
        let target = HttpTargetScimClient::new(
            TargetClientConfig::new(url, SecretId::new("target"), dialect),
            secrets.clone(),
        )
        .expect("target client");
        let audit = Arc::new(InMemoryAuditLog::new());
        let service = ScimService::new(
            Arc::new(target),
            rules,
            audit.clone(),
            Arc::new(SystemClock),
            std::time::Duration::from_secs(20),
        );
        let authenticator = BearerAuthenticator::new(secrets, SecretId::new("inbound"));
        let app = ScimApp::new(service, authenticator);
        Self {
            router: scim_router(Arc::new(app)),
            audit,
        }
    }

    /// A gateway in front of `emulator`.
    pub fn over(emulator: &RecordingEmulator) -> Self {
        Self::new(&emulator.url, TARGET_TOKEN, TargetDialect::IdentityCenter)
    }

    /// Sends a request as Okta does (bearer token, `application/scim+json` when there is
    /// a body); `path` is below `/scim/v2`.
    pub async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Answer {
        let mut builder = Request::builder()
            .method(method)
            .uri(format!("/scim/v2{path}"))
            .header("authorization", format!("Bearer {INBOUND_TOKEN}"))
            .header("user-agent", "Okta SCIM Client 1.0.0")
            .header("host", "gateway.test");
        let body = match body {
            Some(value) => {
                builder = builder.header("content-type", "application/scim+json; charset=utf-8");
                Body::from(serde_json::to_vec(value).expect("json"))
            }
            None => Body::empty(),
        };
        self.send(builder.body(body).expect("request")).await
    }

    /// Sends any request as it is.
    pub async fn send(&self, request: Request) -> Answer {
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let raw = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        let body = serde_json::from_slice(&raw).ok();
        Answer {
            status,
            headers,
            body,
            raw,
        }
    }
}
