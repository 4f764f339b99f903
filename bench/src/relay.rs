//! The Rust floor of a reverse proxy: an axum server that sends each request on to one
//! upstream with a pooled reqwest client and hands back its answer, and does nothing
//! else (no authentication, parsing, audit or logs). As a path of the latency benchmark
//! (`BENCH_VARIANTS=1`) it measures what the gateway's HTTP stack alone adds, against
//! nginx's hop and the gateway's whole.

use std::net::SocketAddr;

use anyhow::{Context, Result};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use clap::Parser;

/// `scimgw-bench relay`.
#[derive(Debug, Parser)]
pub struct Args {
    /// Where to listen.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// The upstream's base URL (scheme, host and port): each request's path and query are
    /// appended as they came.
    #[arg(long)]
    upstream: String,
}

#[derive(Clone)]
struct Upstream {
    client: reqwest::Client,
    base: String,
}

/// The headers a SCIM request needs on the way through (Identity Center wants a
/// `User-Agent` on a PATCH).
const PASSED: [header::HeaderName; 4] = [
    header::AUTHORIZATION,
    header::CONTENT_TYPE,
    header::ACCEPT,
    header::USER_AGENT,
];

async fn relay(
    State(upstream): State<Upstream>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut request = upstream
        .client
        .request(method, format!("{}{path}", upstream.base))
        .body(body);
    for name in PASSED {
        if let Some(value) = headers.get(&name) {
            request = request.header(&name, value);
        }
    }
    let answer = match request.send().await {
        Ok(answer) => answer,
        Err(_) => return StatusCode::BAD_GATEWAY.into_response(),
    };
    let status = answer.status();
    let content_type = answer.headers().get(header::CONTENT_TYPE).cloned();
    let Ok(bytes) = answer.bytes().await else {
        return StatusCode::BAD_GATEWAY.into_response();
    };
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    if let Some(value) = content_type {
        response.headers_mut().insert(header::CONTENT_TYPE, value);
    }
    response
}

/// Serves until stopped, printing the address it listens on.
pub async fn run(args: Args) -> Result<()> {
    let upstream = Upstream {
        client: reqwest::Client::builder()
            .build()
            .context("the relay's client")?,
        base: args.upstream.trim_end_matches('/').to_owned(),
    };
    let app = Router::new().fallback(relay).with_state(upstream);
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    println!("listening {}", listener.local_addr()?);
    axum::serve(listener, app).await.context("the relay")
}
