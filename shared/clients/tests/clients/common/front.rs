//! A scripted front for the emulator: it forwards every request to the emulator and
//! records it, and can replace answers as a script says (a lost answer after the write
//! was applied, a 429 with `Retry-After`), so that tests see exactly what the client
//! sent and can make one chosen attempt fail.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// What the front does with the next request.
#[derive(Debug, Clone, Copy)]
pub enum Act {
    /// Forward it and relay the answer.
    Forward,
    /// Forward it (so the emulator applies it), then answer this status instead: the
    /// client sees a failure although the write happened.
    ForwardThenAnswer(u16),
    /// Answer this status without forwarding, with `Retry-After` seconds when given.
    Answer(u16, Option<u64>),
}

/// One request as the front saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    /// The method.
    pub method: String,
    /// The path, without the query: no test reads it, but a failure's `{seen:?}` shows it.
    #[allow(dead_code)]
    pub path: String,
    /// The raw query string, if any.
    pub query: Option<String>,
    /// The JSON body, `Null` when empty.
    pub body: Value,
    /// The `User-Agent` header, when there was one.
    pub user_agent: Option<String>,
    /// When it arrived.
    pub at: std::time::Instant,
}

#[derive(Clone)]
struct FrontState {
    upstream: String,
    http: reqwest::Client,
    script: Arc<Mutex<VecDeque<Act>>>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

/// The running front.
pub struct Front {
    /// The base URL to give the client: the front's address with the emulator's base path.
    pub base_url: String,
    script: Arc<Mutex<VecDeque<Act>>>,
    seen: Arc<Mutex<Vec<Seen>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Front {
    /// A front for the emulator at `emulator_addr` whose SCIM base path is `base_path`.
    pub async fn start(emulator_addr: std::net::SocketAddr, base_path: &str) -> Front {
        let script = Arc::new(Mutex::new(VecDeque::new()));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let state = FrontState {
            upstream: format!("http://{emulator_addr}"),
            http: reqwest::Client::new(),
            script: script.clone(),
            seen: seen.clone(),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = Router::new().fallback(handle).with_state(state);
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Front {
            base_url: format!("http://{addr}{base_path}"),
            script,
            seen,
            task,
        }
    }

    /// Queues what to do with the next requests, in order; then it forwards.
    pub fn script(&self, acts: impl IntoIterator<Item = Act>) {
        self.script.lock().unwrap().extend(acts);
    }

    /// Every request seen so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for Front {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn aws_error(status: u16) -> Response {
    let body = json!({
        "schema": [scim_core::ERROR_SCHEMA], "schemas": [scim_core::ERROR_SCHEMA],
        "detail": "injected by the test front", "status": status.to_string(),
        "exceptionRequestId": "00000000-0000-0000-0000-000000000000",
    });
    let mut response = (StatusCode::from_u16(status).unwrap(), body.to_string()).into_response();
    response
        .headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    response
}

async fn handle(State(state): State<FrontState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, 16 << 20).await.unwrap();
    state.seen.lock().unwrap().push(Seen {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        user_agent: parts
            .headers
            .get("user-agent")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        at: std::time::Instant::now(),
    });
    let act = state
        .script
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or(Act::Forward);
    if let Act::Answer(status, retry_after) = act {
        let mut response = aws_error(status);
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert("retry-after", HeaderValue::from(seconds));
        }
        return response;
    }
    let path_and_query = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let mut upstream = state.http.request(
        parts.method.clone(),
        format!("{}{path_and_query}", state.upstream),
    );
    for name in ["authorization", "content-type", "accept", "user-agent"] {
        if let Some(value) = parts.headers.get(name) {
            upstream = upstream.header(name, value.clone());
        }
    }
    let answer = upstream.body(bytes.to_vec()).send().await.unwrap();
    if let Act::ForwardThenAnswer(status) = act {
        return aws_error(status);
    }
    let status = answer.status();
    let headers = answer.headers().clone();
    let body = answer.bytes().await.unwrap();
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    for name in ["content-type", "retry-after", "x-amzn-requestid"] {
        if let Some(value) = headers.get(name) {
            response.headers_mut().insert(name, value.clone());
        }
    }
    response
}
