//! A Lambda function's footprint on this machine: the function's own binary run under a
//! local Lambda runtime API (the one Lambda serves at `AWS_LAMBDA_RUNTIME_API`,
//! <https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html>), timing process
//! start to the first `invocation/next` (init) and to the first response, counting the
//! connections it opens before asking for work, and reading its memory after serving
//! a number of invocations.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Mutex, mpsc};

/// What to run and how much.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The function's binary (a `bootstrap`).
    #[arg(long)]
    binary: PathBuf,
    /// The function's name, for `AWS_LAMBDA_FUNCTION_NAME` and the results.
    #[arg(long)]
    name: String,
    /// Environment for the function, `KEY=VALUE`; `{NAME}` in a value becomes
    /// `http://` and the address of the counting proxy in front of upstream NAME.
    #[arg(long = "env", value_parser = parse_pair)]
    env: Vec<(String, String)>,
    /// `NAME=HOST:PORT`: a local TCP proxy that counts the connections the function opens
    /// and forwards them to HOST:PORT (e.g. a moto server), so calls during init show.
    #[arg(long = "upstream", value_parser = parse_pair)]
    upstreams: Vec<(String, String)>,
    /// Events to invoke the function with, cycled: a JSON array.
    #[arg(long)]
    events: Option<PathBuf>,
    /// Invocations served after the last cold start, before memory is read.
    #[arg(long, default_value_t = 0)]
    requests: usize,
    /// Cold starts timed (the process is started, asks for work, and is stopped).
    #[arg(long, default_value_t = 20)]
    starts: usize,
    /// Memory size the function is told it has, in MB.
    #[arg(long, default_value_t = 256)]
    memory_mb: u32,
    /// Where to write the results (JSON).
    #[arg(long)]
    out: PathBuf,
}

fn parse_pair(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("expected KEY=VALUE, got {text}"))
}

/// An invocation handed to the function and what it answered.
#[derive(Debug)]
struct Answer {
    at: Instant,
    body: Bytes,
    error: bool,
}

/// The runtime API's state: the next event to hand out and where answers go.
struct Runtime {
    events: Mutex<mpsc::Receiver<(String, Value)>>,
    answers: mpsc::Sender<Answer>,
    first_next: Mutex<Option<Instant>>,
}

type Shared = Arc<Runtime>;

async fn next(State(rt): State<Shared>) -> impl IntoResponse {
    {
        let mut first = rt.first_next.lock().await;
        first.get_or_insert_with(Instant::now);
    }
    let Some((id, event)) = rt.events.lock().await.recv().await else {
        // No more work: hold the call, as Lambda does while an instance is frozen.
        std::future::pending::<()>().await;
        return (StatusCode::GONE, HeaderMap::new(), String::new());
    };
    let mut headers = HeaderMap::new();
    let deadline = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        + Duration::from_secs(30);
    let pairs = [
        ("lambda-runtime-aws-request-id", id),
        (
            "lambda-runtime-deadline-ms",
            deadline.as_millis().to_string(),
        ),
        (
            "lambda-runtime-invoked-function-arn",
            "arn:aws:lambda:us-east-1:123456789012:function:bench".to_owned(),
        ),
        (
            "lambda-runtime-trace-id",
            "Root=1-00000000-000000000000000000000000;Sampled=0".to_owned(),
        ),
    ];
    for (name, value) in pairs {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    (StatusCode::OK, headers, event.to_string())
}

async fn response(State(rt): State<Shared>, Path(_id): Path<String>, body: Bytes) -> StatusCode {
    let at = Instant::now();
    let _ = rt
        .answers
        .send(Answer {
            at,
            body,
            error: false,
        })
        .await;
    StatusCode::ACCEPTED
}

async fn error(State(rt): State<Shared>, Path(_id): Path<String>, body: Bytes) -> StatusCode {
    let at = Instant::now();
    let _ = rt
        .answers
        .send(Answer {
            at,
            body,
            error: true,
        })
        .await;
    StatusCode::ACCEPTED
}

async fn init_error(body: Bytes) -> StatusCode {
    eprintln!("footprint: init error: {}", String::from_utf8_lossy(&body));
    StatusCode::ACCEPTED
}

/// A TCP proxy that counts the connections it accepts and pipes them to `upstream`.
async fn counting_proxy(upstream: String, count: Arc<AtomicU64>) -> Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let counted = count;
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            let upstream = upstream.clone();
            tokio::spawn(async move {
                if let Ok(mut outbound) = TcpStream::connect(upstream).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    Ok(addr)
}

/// One started function process with its runtime API.
struct Instance {
    child: tokio::process::Child,
    runtime: Shared,
    events: mpsc::Sender<(String, Value)>,
    answers: mpsc::Receiver<Answer>,
    started: Instant,
}

async fn start(args: &Args, proxies: &[(String, SocketAddr)]) -> Result<Instance> {
    let (events_tx, events_rx) = mpsc::channel(1);
    let (answers_tx, answers_rx) = mpsc::channel(1);
    let runtime = Arc::new(Runtime {
        events: Mutex::new(events_rx),
        answers: answers_tx,
        first_next: Mutex::new(None),
    });
    let app = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route(
            "/2018-06-01/runtime/invocation/{id}/response",
            post(response),
        )
        .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
        .route("/2018-06-01/runtime/init/error", post(init_error))
        .with_state(runtime.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let api = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });

    let mut command = tokio::process::Command::new(&args.binary);
    command
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("AWS_LAMBDA_RUNTIME_API", api.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", &args.name)
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env(
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
            args.memory_mb.to_string(),
        )
        .env(
            "AWS_LAMBDA_LOG_GROUP_NAME",
            format!("/aws/lambda/{}", args.name),
        )
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
        .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_SESSION_TOKEN", "testing")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    for (key, value) in &args.env {
        let value = proxies.iter().fold(value.clone(), |value, (name, addr)| {
            value.replace(&format!("{{{name}}}"), &format!("http://{addr}"))
        });
        command.env(key, value);
    }
    let started = Instant::now();
    let child = command
        .spawn()
        .with_context(|| format!("starting {}", args.binary.display()))?;
    Ok(Instance {
        child,
        runtime,
        events: events_tx,
        answers: answers_rx,
        started,
    })
}

impl Instance {
    /// Waits for the first `invocation/next`: the end of init.
    async fn initialised(&mut self) -> Result<Duration> {
        let limit = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(at) = *self.runtime.first_next.lock().await {
                return Ok(at - self.started);
            }
            if let Some(status) = self.child.try_wait()? {
                bail!("the function exited during init: {status}");
            }
            if Instant::now() > limit {
                bail!("the function did not ask for work within 30 s");
            }
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
    }

    /// Resident and peak memory of the process, from /proc, in kB.
    fn memory_kb(&self) -> Result<(u64, u64)> {
        let pid = self.child.id().context("the function has exited")?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        let field = |name: &str| {
            status
                .lines()
                .find_map(|line| line.strip_prefix(name))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|n| n.parse::<u64>().ok())
                .with_context(|| format!("{name} in /proc/{pid}/status"))
        };
        Ok((field("VmRSS:")?, field("VmHWM:")?))
    }
}

/// The `statusCode` of an API Gateway answer, or `ok` / `error` for other answers.
fn outcome(answer: &Answer) -> String {
    if answer.error {
        return "invocation-error".into();
    }
    serde_json::from_slice::<Value>(&answer.body)
        .ok()
        .and_then(|v| v.get("statusCode").and_then(Value::as_u64))
        .map_or_else(|| "ok".to_owned(), |code| code.to_string())
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Runs the measurement and writes its results.
pub async fn run(args: Args) -> Result<()> {
    let events: Vec<Value> = match &args.events {
        Some(path) => serde_json::from_slice(&std::fs::read(path)?)
            .with_context(|| format!("reading {}", path.display()))?,
        None => Vec::new(),
    };
    if args.requests > 0 && events.is_empty() {
        bail!("--requests needs --events");
    }
    let connections = Arc::new(AtomicU64::new(0));
    let mut proxies = Vec::new();
    for (name, upstream) in &args.upstreams {
        let addr = counting_proxy(upstream.clone(), connections.clone()).await?;
        proxies.push((name.clone(), addr));
    }

    let mut inits = Vec::new();
    let mut init_connections = Vec::new();
    for _ in 0..args.starts.max(1) {
        let before = connections.load(Ordering::SeqCst);
        let mut instance = start(&args, &proxies).await?;
        inits.push(instance.initialised().await?.as_secs_f64() * 1000.0);
        init_connections.push(connections.load(Ordering::SeqCst) - before);
        instance.child.kill().await?;
    }

    let mut served = BTreeMap::<String, u64>::new();
    let mut first_response_ms = None;
    let mut memory = None;
    if args.requests > 0 {
        let mut instance = start(&args, &proxies).await?;
        let init = instance.initialised().await?;
        let mut memory_after_init = instance.memory_kb()?;
        for i in 0..args.requests {
            let event = events[i % events.len()].clone();
            instance
                .events
                .send((format!("bench-{i:08}"), event))
                .await
                .context("the runtime API stopped")?;
            let answer = tokio::time::timeout(Duration::from_secs(60), instance.answers.recv())
                .await
                .context("no answer within 60 s")?
                .context("the runtime API stopped")?;
            if i == 0 {
                first_response_ms = Some((answer.at - instance.started).as_secs_f64() * 1000.0);
                memory_after_init = instance.memory_kb()?;
            }
            *served.entry(outcome(&answer)).or_default() += 1;
        }
        let (rss, peak) = instance.memory_kb()?;
        memory = Some(json!({
            "init_ms": init.as_secs_f64() * 1000.0,
            "rss_after_first_kb": memory_after_init.0,
            "rss_kb": rss,
            "peak_kb": peak,
        }));
        instance.child.kill().await?;
    }

    let results = json!({
        "function": args.name,
        "binary_bytes": std::fs::metadata(&args.binary)?.len(),
        "starts": inits.len(),
        "init_ms": inits.clone(),
        "init_median_ms": median(&mut inits),
        "init_connections_max": init_connections.iter().max(),
        "requests": args.requests,
        "first_response_ms": first_response_ms,
        "answers": served,
        "memory": memory,
        "connections_total": connections.load(Ordering::SeqCst),
    });
    std::fs::write(&args.out, serde_json::to_vec_pretty(&results)?)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_pairs_split_at_the_first_equals_sign() {
        assert_eq!(parse_pair("A=b=c"), Ok(("A".to_owned(), "b=c".to_owned())));
        assert!(parse_pair("no-equals").is_err());
    }

    #[test]
    fn outcomes_read_api_gateway_status_codes() {
        let answer = |body: &str, error| Answer {
            at: Instant::now(),
            body: Bytes::from(body.to_owned()),
            error,
        };
        assert_eq!(outcome(&answer(r#"{"statusCode":401}"#, false)), "401");
        assert_eq!(outcome(&answer("null", false)), "ok");
        assert_eq!(outcome(&answer("{}", true)), "invocation-error");
    }
}
