//! Metrics in CloudWatch Embedded Metric Format (EMF): one JSON line per request on
//! stdout, which Lambda ships to CloudWatch Logs, where the `_aws` directive turns the
//! named fields into metrics. No SDK call, no agent, nothing lost when CloudWatch is slow.
//!
//! The names below are a contract with `template.yaml`: its alarms and dashboard use
//! exactly these (`tests/template_policy.rs` checks both sides). Dimension values are
//! bounded (operation names come from a fixed table, never from a path or a user), so a
//! hostile client cannot mint new metrics.
//!
//! Format: <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>.

use std::io::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::Response;
use gateway::CallCounts;
use serde_json::{Map, Value, json};

use crate::http::{AuditAppendFailures, AuthRefusal, CORRELATION_HEADER, OperationName};

/// The CloudWatch namespace of every metric the gateway publishes.
pub const NAMESPACE: &str = "scimgw";

/// Dimension: the function that served the request: its deployed name (see
/// [`function_name`]), which the template's alarms name with `!Ref`, so that two stacks
/// in one account never share a metric.
pub const DIM_FUNCTION: &str = "Function";
/// Dimension: the operation, from a fixed table (`CreateUser`, `PatchGroup`, …).
pub const DIM_OPERATION: &str = "Operation";

/// Requests served, by function and by function and operation.
pub const REQUESTS: &str = "Requests";
/// Requests answered 4xx (other than 429).
pub const CLIENT_ERRORS: &str = "ClientErrors";
/// Requests answered 429: the gateway passed Identity Center's throttling on.
pub const THROTTLED: &str = "Throttled";
/// Requests refused for their credentials (401, or 403 for a valid token without the
/// rights), by function and operation: a sustained rate is someone trying tokens.
pub const AUTH_REFUSED: &str = "AuthRefused";
/// Requests answered 5xx.
pub const SERVER_ERRORS: &str = "ServerErrors";
/// Time from the request's arrival to its response, in milliseconds.
pub const LATENCY: &str = "Latency";
/// HTTP attempts made to the target (Identity Center), retries included.
pub const TARGET_CALLS: &str = "TargetCalls";
/// Target attempts answered 429.
pub const TARGET_THROTTLES: &str = "TargetThrottles";
/// Target attempts that were retries of an earlier one.
pub const TARGET_RETRIES: &str = "TargetRetries";
/// Target attempts that failed with a 5xx, a timeout or a transport error.
pub const TARGET_ERRORS: &str = "TargetErrors";
/// Days since the current Identity Center token was put into its secret.
pub const TARGET_TOKEN_AGE_DAYS: &str = "TargetTokenAgeDays";
/// Audit records that could not be appended: an intent refused (the request failed and
/// nothing changed) or an outcome lost after the change (the change stands without its
/// end in the trail). Published by the functions that write the trail: per request
/// (`scim-api`), per batch (`event-worker`), per run (`reconciler`).
pub const AUDIT_APPEND_FAILED: &str = "AuditAppendFailed";

/// Every metric name above, for checks that the template uses no other.
pub const METRIC_NAMES: [&str; 12] = [
    REQUESTS,
    AUTH_REFUSED,
    CLIENT_ERRORS,
    THROTTLED,
    SERVER_ERRORS,
    LATENCY,
    TARGET_CALLS,
    TARGET_THROTTLES,
    TARGET_RETRIES,
    TARGET_ERRORS,
    TARGET_TOKEN_AGE_DAYS,
    AUDIT_APPEND_FAILED,
];

/// The function's deployed name from the Lambda environment
/// (`AWS_LAMBDA_FUNCTION_NAME`), else `local` (e.g. `scim-api` outside Lambda).
pub fn function_name(local: &str) -> String {
    std::env::var("AWS_LAMBDA_FUNCTION_NAME")
        .ok()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| local.to_owned())
}

/// Where EMF lines go: stdout in Lambda, a buffer in tests.
pub trait EmfSink: Send + Sync {
    /// Writes one complete EMF document as one line.
    fn write_line(&self, line: &str);
}

/// Writes each document to stdout in one locked write, so that a line is never
/// interleaved with log output.
#[derive(Debug, Default, Clone, Copy)]
pub struct StdoutSink;

impl EmfSink for StdoutSink {
    fn write_line(&self, line: &str) {
        let mut out = std::io::stdout().lock();
        // A metric that cannot be written is not worth failing a request over.
        let _ = out
            .write_all(format!("{line}\n").as_bytes())
            .and_then(|()| out.flush());
    }
}

/// Writes each document as a debug-level log line, for local runs (`scimgw dev`) where
/// stdout is the operator's terminal.
#[derive(Debug, Default, Clone, Copy)]
pub struct LogSink;

impl EmfSink for LogSink {
    fn write_line(&self, line: &str) {
        tracing::debug!(target: "scimgw::metrics", emf = line, "metrics");
    }
}

/// Keeps the lines it is given, for tests.
#[derive(Debug, Default, Clone)]
pub struct RecordingSink {
    lines: Arc<Mutex<Vec<String>>>,
}

impl RecordingSink {
    /// The lines written so far, parsed as JSON (a line that is not JSON becomes `null`).
    pub fn documents(&self) -> Vec<Value> {
        let lines = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        lines
            .iter()
            .map(|l| serde_json::from_str(l).unwrap_or(Value::Null))
            .collect()
    }
}

impl EmfSink for RecordingSink {
    fn write_line(&self, line: &str) {
        self.lines
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(line.to_owned());
    }
}

/// A CloudWatch unit, as EMF spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A count.
    Count,
    /// Milliseconds.
    Milliseconds,
    /// No unit (days, ratios).
    None,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
            Unit::None => "None",
        }
    }
}

/// One EMF document: a set of dimension values, metric directives and values, and
/// properties that stay searchable in the logs without becoming metrics.
#[derive(Debug, Clone)]
pub struct EmfDocument {
    fields: Map<String, Value>,
    directives: Vec<Value>,
}

impl EmfDocument {
    /// An empty document.
    pub fn new() -> Self {
        Self {
            fields: Map::new(),
            directives: Vec::new(),
        }
    }

    /// Sets a dimension value or a property.
    #[must_use]
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.fields.insert(key.to_owned(), value.into());
        self
    }

    /// Adds metrics published under each of `dimension_sets` (each a list of keys set
    /// with [`EmfDocument::with`]).
    #[must_use]
    pub fn metrics(mut self, dimension_sets: &[&[&str]], metrics: &[(&str, f64, Unit)]) -> Self {
        let definitions: Vec<Value> = metrics
            .iter()
            .map(|(name, _, unit)| json!({"Name": name, "Unit": unit.as_str()}))
            .collect();
        self.directives.push(json!({
            "Namespace": NAMESPACE,
            "Dimensions": dimension_sets,
            "Metrics": definitions,
        }));
        for (name, value, _) in metrics {
            self.fields.insert((*name).to_owned(), json!(value));
        }
        self
    }

    /// This document with `other`'s fields and metric directives added (`other`'s win
    /// where both set a field).
    #[must_use]
    pub fn merge(mut self, other: EmfDocument) -> Self {
        self.fields.extend(other.fields);
        self.directives.extend(other.directives);
        self
    }

    /// The document as one line of JSON, stamped with the current time.
    pub fn to_line(&self) -> String {
        let millis = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let mut document = self.fields.clone();
        document.insert(
            "_aws".to_owned(),
            json!({"Timestamp": millis, "CloudWatchMetrics": self.directives}),
        );
        Value::Object(document).to_string()
    }
}

impl Default for EmfDocument {
    fn default() -> Self {
        Self::new()
    }
}

/// The [`AUDIT_APPEND_FAILED`] count of `function` (a request's, a batch's, a run's),
/// under the `Function` dimension only: zeros included, so that the alarm sees the
/// function is alive.
pub fn audit_failures_document(function: &str, failed: u64) -> EmfDocument {
    EmfDocument::new().with(DIM_FUNCTION, function).metrics(
        &[&[DIM_FUNCTION]],
        &[(AUDIT_APPEND_FAILED, failed as f64, Unit::Count)],
    )
}

/// Reads and resets the target client's counters after each request.
pub type TargetCountsSource = Arc<dyn Fn() -> CallCounts + Send + Sync>;

/// The per-request metrics of one function. Apply it with [`RequestMetrics::instrument`].
#[derive(Clone)]
pub struct RequestMetrics {
    function: String,
    target: Option<TargetCountsSource>,
    sink: Arc<dyn EmfSink>,
}

impl std::fmt::Debug for RequestMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestMetrics")
            .field("function", &self.function)
            .finish_non_exhaustive()
    }
}

impl RequestMetrics {
    /// Metrics for `function`, written to stdout. Each request's operation is the
    /// [`OperationName`] its router put on the response (`Other` when none did).
    pub fn new(function: impl Into<String>) -> Self {
        Self {
            function: function.into(),
            target: None,
            sink: Arc::new(StdoutSink),
        }
    }

    /// Adds the target client's counts to each request's document. The source is read
    /// after every request and must reset itself: in Lambda an instance serves one
    /// request at a time, so the counts are that request's; under concurrent requests
    /// (`scimgw dev`) the totals still add up.
    #[must_use]
    pub fn with_target_counts(mut self, source: TargetCountsSource) -> Self {
        self.target = Some(source);
        self
    }

    /// Writes to `sink` instead of stdout.
    #[must_use]
    pub fn with_sink(mut self, sink: Arc<dyn EmfSink>) -> Self {
        self.sink = sink;
        self
    }

    /// The function's name, as the documents' dimension gives it.
    pub fn function(&self) -> &str {
        &self.function
    }

    /// Where the documents go, for a router's own documents (the hook's event counts).
    pub fn sink(&self) -> &Arc<dyn EmfSink> {
        &self.sink
    }

    /// `router` with one EMF document written per request.
    pub fn instrument(self, router: Router) -> Router {
        router.layer(from_fn_with_state(Arc::new(self), record))
    }

    /// The document for one finished request.
    fn document(
        &self,
        operation: &str,
        status: u16,
        auth_refused: bool,
        latency_ms: u64,
        correlation: Option<&str>,
        audit_failures: Option<u64>,
    ) -> EmfDocument {
        let class = |hit: bool| if hit { 1.0 } else { 0.0 };
        let mut document = EmfDocument::new()
            .with(DIM_FUNCTION, self.function.as_str())
            .with(DIM_OPERATION, operation)
            .with("Status", status)
            .with("Outcome", outcome(status))
            .metrics(
                &[&[DIM_FUNCTION], &[DIM_FUNCTION, DIM_OPERATION]],
                &[
                    (REQUESTS, 1.0, Unit::Count),
                    (
                        CLIENT_ERRORS,
                        class((400..500).contains(&status) && status != 429),
                        Unit::Count,
                    ),
                    (THROTTLED, class(status == 429), Unit::Count),
                    (AUTH_REFUSED, class(auth_refused), Unit::Count),
                    (SERVER_ERRORS, class(status >= 500), Unit::Count),
                    (LATENCY, latency_ms as f64, Unit::Milliseconds),
                ],
            );
        if let Some(correlation) = correlation {
            document = document.with("correlation_id", correlation);
        }
        if let Some(failed) = audit_failures {
            document = document.merge(audit_failures_document(&self.function, failed));
        }
        if let Some(source) = &self.target {
            let counts = source();
            document = document.metrics(
                &[&[DIM_FUNCTION]],
                &[
                    (TARGET_CALLS, counts.calls as f64, Unit::Count),
                    (TARGET_THROTTLES, counts.throttles as f64, Unit::Count),
                    (TARGET_RETRIES, counts.retries as f64, Unit::Count),
                    (TARGET_ERRORS, counts.errors as f64, Unit::Count),
                ],
            );
        }
        document
    }
}

/// The outcome class of a status, kept as a log property for Logs Insights queries.
fn outcome(status: u16) -> &'static str {
    match status {
        429 => "Throttled",
        400..=499 => "ClientError",
        500.. => "ServerError",
        _ => "Success",
    }
}

async fn record(
    State(metrics): State<Arc<RequestMetrics>>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let response = next.run(request).await;
    let operation = response
        .extensions()
        .get::<OperationName>()
        .map_or("Other", |name| name.0);
    let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let correlation = response
        .headers()
        .get(CORRELATION_HEADER)
        .and_then(|v| v.to_str().ok());
    let auth_refused = response.extensions().get::<AuthRefusal>().is_some();
    let audit_failures = response
        .extensions()
        .get::<AuditAppendFailures>()
        .map(|f| f.0);
    let document = metrics.document(
        operation,
        response.status().as_u16(),
        auth_refused,
        latency_ms,
        correlation,
        audit_failures,
    );
    metrics.sink.write_line(&document.to_line());
    response
}

#[cfg(test)]
mod tests {
    use axum::Extension;
    use axum::body::Body;
    use axum::http::StatusCode;
    use axum::routing::get;
    use http::Method;
    use tower::ServiceExt as _;

    use super::*;

    /// Handlers that name their operation on the response, as the routers' plumbing does.
    fn router() -> Router {
        let named = |name: &'static str, status: StatusCode| {
            move || async move { (Extension(OperationName(name)), status) }
        };
        Router::new()
            .route(
                "/scim/v2/Users",
                get(named("ListUsers", StatusCode::OK))
                    .post(named("CreateUser", StatusCode::CREATED)),
            )
            .route(
                "/scim/v2/Users/{id}",
                get(named("GetUser", StatusCode::NOT_FOUND)),
            )
            .route(
                "/scim/v2/Groups/{id}",
                axum::routing::patch(named("PatchGroup", StatusCode::BAD_GATEWAY)),
            )
            .route(
                "/scim/v2/Groups",
                get(named("ListGroups", StatusCode::TOO_MANY_REQUESTS)),
            )
    }

    async fn call(router: &Router, method: Method, uri: &str) -> StatusCode {
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .body(Body::empty())
            .unwrap();
        router.clone().oneshot(request).await.unwrap().status()
    }

    fn metric_names(document: &Value, directive: usize) -> Vec<String> {
        document["_aws"]["CloudWatchMetrics"][directive]["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["Name"].as_str().unwrap().to_owned())
            .collect()
    }

    #[tokio::test]
    async fn each_request_writes_one_emf_document_with_its_operation_and_outcome() {
        // Arrange
        let sink = RecordingSink::default();
        let router = RequestMetrics::new("scim-api")
            .with_sink(Arc::new(sink.clone()))
            .instrument(router());

        // Act
        call(&router, Method::POST, "/scim/v2/Users").await;
        call(&router, Method::GET, "/scim/v2/Users/abc").await;
        call(&router, Method::PATCH, "/scim/v2/Groups/g1").await;
        call(&router, Method::GET, "/scim/v2/Groups").await;

        // Assert
        let docs = sink.documents();
        assert_eq!(docs.len(), 4);
        let summary: Vec<(String, f64, f64, f64, f64)> = docs
            .iter()
            .map(|d| {
                (
                    d["Operation"].as_str().unwrap().to_owned(),
                    d[REQUESTS].as_f64().unwrap(),
                    d[CLIENT_ERRORS].as_f64().unwrap(),
                    d[THROTTLED].as_f64().unwrap(),
                    d[SERVER_ERRORS].as_f64().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                ("CreateUser".to_owned(), 1.0, 0.0, 0.0, 0.0),
                ("GetUser".to_owned(), 1.0, 1.0, 0.0, 0.0),
                ("PatchGroup".to_owned(), 1.0, 0.0, 0.0, 1.0),
                ("ListGroups".to_owned(), 1.0, 0.0, 1.0, 0.0),
            ]
        );
        let first = &docs[0];
        assert_eq!(first["Function"], "scim-api");
        assert_eq!(first["Status"], 201);
        assert_eq!(first["Outcome"], "Success");
        assert_eq!(
            first["_aws"]["CloudWatchMetrics"][0]["Namespace"],
            NAMESPACE
        );
        assert_eq!(
            first["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Function"], ["Function", "Operation"]])
        );
        assert_eq!(
            metric_names(first, 0),
            [
                REQUESTS,
                CLIENT_ERRORS,
                THROTTLED,
                AUTH_REFUSED,
                SERVER_ERRORS,
                LATENCY
            ]
        );
        assert!(first["_aws"]["Timestamp"].as_u64().unwrap() > 1_600_000_000_000);
        // Every metric a directive names has a numeric value at the top level.
        for name in metric_names(first, 0) {
            assert!(first[&name].is_number(), "{name} has no value");
        }
    }

    #[tokio::test]
    async fn target_counts_are_read_after_each_request_and_published_per_function() {
        // Arrange: a source that hands out its counts once, as a draining counter does.
        let sink = RecordingSink::default();
        let pending = Arc::new(Mutex::new(CallCounts {
            calls: 3,
            throttles: 2,
            retries: 2,
            errors: 0,
        }));
        let source: TargetCountsSource = {
            let pending = pending.clone();
            Arc::new(move || std::mem::take(&mut *pending.lock().unwrap()))
        };
        let router = RequestMetrics::new("scim-api")
            .with_target_counts(source)
            .with_sink(Arc::new(sink.clone()))
            .instrument(router());

        // Act
        call(&router, Method::GET, "/scim/v2/Users").await;
        call(&router, Method::GET, "/scim/v2/Users").await;

        // Assert
        let docs = sink.documents();
        assert_eq!(
            metric_names(&docs[0], 1),
            [
                TARGET_CALLS,
                TARGET_THROTTLES,
                TARGET_RETRIES,
                TARGET_ERRORS
            ]
        );
        assert_eq!(
            docs[0]["_aws"]["CloudWatchMetrics"][1]["Dimensions"],
            json!([["Function"]])
        );
        assert_eq!(
            (
                docs[0][TARGET_CALLS].as_f64(),
                docs[0][TARGET_THROTTLES].as_f64()
            ),
            (Some(3.0), Some(2.0))
        );
        assert_eq!(
            (
                docs[1][TARGET_CALLS].as_f64(),
                docs[1][TARGET_RETRIES].as_f64()
            ),
            (Some(0.0), Some(0.0))
        );
    }

    #[test]
    fn a_document_is_one_line_with_the_aws_directive() {
        let line = EmfDocument::new()
            .with(DIM_FUNCTION, "token-age")
            .metrics(
                &[&[DIM_FUNCTION]],
                &[(TARGET_TOKEN_AGE_DAYS, 12.5, Unit::None)],
            )
            .to_line();
        assert!(!line.contains('\n'));
        let value: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value[TARGET_TOKEN_AGE_DAYS], 12.5);
        assert_eq!(
            value["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"],
            "None"
        );
    }
}
