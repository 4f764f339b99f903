//! The audit API's router (`docs/design.md`, "Flows"): auditors read the trail and verify
//! it, authenticated by an OIDC access token through [`AccessTokenVerifier`].
//!
//! - `GET /audit/records?target=&actor=&since=&until=&outcome=&operation=&limit=&cursor=`
//!   answers `{"records": [...], "next_cursor": ...}`, or CSV with `format=csv` or
//!   `Accept: text/csv` (RFC 4180, a header row, the next cursor in `x-next-cursor`);
//! - `GET /audit/verify?since=&until=` answers the store's [`VerifyReport`] for at most
//!   [`VERIFY_SPAN`] of records, so that one call ends well inside API Gateway's 29 s:
//!   `{"intact": …, "checked": …, "problems": [...], …, "since": …, "until": …,
//!   "requested_until": …, "next_since": …}`. `since` and `until` are the period the
//!   answer covers; while `next_since` is not null, the rest of the requested period is
//!   verified by asking again with `since=<next_since>&until=<requested_until>`
//!   ([`verify_page_end`] says where a page ends).
//!
//! - `GET /audit/ui` serves the auditor console ([`console`]), a page over the two
//!   routes above, without a token.
//!
//! Every read is recorded in the trail: once a request is authenticated and answered,
//! the router sends a note of it (who, what, from where, the status, how many records)
//! through the [`ReadNotes`] port, a queue whose consumer appends it
//! (`gateway::audit_reads`). Only then does the answer leave; when the note cannot be
//! sent the answer is 503 with `Retry-After` and nothing read is handed out.
//!
//! Every answer is JSON except a CSV page; errors are `{"error", "message",
//! "correlation_id"}` with 400 for bad parameters, 401 for a missing or invalid token
//! (with an RFC 6750 §3 challenge), 403 for a valid token without the required scope, client or group,
//! 503 when the store or the token issuer is out of reach. Bad input never yields a
//! 500. Authentication runs before parameters are read: strangers learn nothing, not
//! even which parameters exist.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::Response;
use axum::routing::get;
use gateway::audit::{AuditOperation, Outcome, ReadVia};
use gateway::audit_reads::{ReadNote, ReadNotes};
use gateway::audit_store::{
    AuditPage, AuditQuery, AuditStore, AuditStoreError, DEFAULT_LIMIT, MAX_LIMIT,
    StoredAuditRecord, VerifyReport,
};
use gateway::{AccessTokenVerifier, Auditor, Clock, SystemClock, TokenError};
use http::Method;
use http::header::{
    ACCEPT, CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE, RETRY_AFTER, USER_AGENT,
    WWW_AUTHENTICATE,
};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::http::{
    ApiRequestId, CorrelationId, ErrorFormat, Plumbing, bearer_token, body_response,
    correlation_of, known_source_ip, refused_auth, source_ip,
};
use crate::metrics::{RequestMetrics, function_name};

pub mod access;
pub mod config;
pub mod console;

pub use config::{AuditConfig, SealerConfig};
pub use console::{CONSOLE_PATH, ConsoleConfig};

/// The path under which the audit API lives.
pub const AUDIT_BASE_PATH: &str = "/audit";

/// Query strings longer than this are refused unread.
pub const MAX_AUDIT_QUERY_BYTES: usize = 4096;

/// The response header that carries the next page's cursor of a CSV page.
pub const NEXT_CURSOR_HEADER: &str = "x-next-cursor";

/// The most time whose records one verification call checks (one `GET /audit/verify`,
/// one step of `scimgw audit verify`): verifying reads every record of the period and
/// every chain that holds one, and six hours of a busy trail (some thousands of records)
/// verify in a few seconds, well inside API Gateway's 29 s. A stretch without records
/// before the page's first record costs only the bookkeeping items left there, so it
/// rides in the same page (see [`verify_page_end`]).
pub const VERIFY_SPAN: time::Duration = time::Duration::hours(6);

/// The media type of CSV pages (RFC 4180 §3, with a header row).
pub const CSV_MEDIA_TYPE: &str = "text/csv; charset=utf-8; header=present";

/// How the audit router uses the shared plumbing.
const PLUMBING: Plumbing = Plumbing {
    base_path: AUDIT_BASE_PATH,
    span: "audit_api",
    operation: operation_name,
    errors: ErrorFormat {
        internal: |correlation| {
            error_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "the audit API could not answer",
                correlation,
            )
        },
        not_allowed: |_method, _allow, correlation| {
            error_response(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "the audit API is read-only: GET",
                correlation,
            )
        },
    },
};

/// How long a client is told to wait when a read could not be recorded.
pub const NOTE_RETRY_AFTER_SECS: u64 = 5;

/// What the audit router needs, built once per cold start.
pub struct AuditApp {
    store: Arc<dyn AuditStore>,
    verifier: Arc<dyn AccessTokenVerifier>,
    notes: Arc<dyn ReadNotes>,
    clock: Arc<dyn Clock>,
    metrics: RequestMetrics,
    console: Option<ConsoleConfig>,
}

impl std::fmt::Debug for AuditApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditApp").finish_non_exhaustive()
    }
}

impl AuditApp {
    /// State over a store, a token verifier and where the notes of reads go, with the
    /// system clock (the default end of a verified period, the time of a read) and
    /// metrics on stdout, as in Lambda.
    pub fn new(
        store: Arc<dyn AuditStore>,
        verifier: Arc<dyn AccessTokenVerifier>,
        notes: Arc<dyn ReadNotes>,
    ) -> Self {
        Self {
            store,
            verifier,
            notes,
            clock: Arc::new(SystemClock),
            metrics: RequestMetrics::new(function_name("audit-api")),
            console: None,
        }
    }

    /// Serves the auditor console at [`CONSOLE_PATH`] signing in with `console`.
    /// Without it the page is still served, and says that it is not set up.
    #[must_use]
    pub fn with_console(mut self, console: ConsoleConfig) -> Self {
        self.console = Some(console);
        self
    }

    /// Uses `clock` instead of the system clock.
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Uses `metrics` for the per-request EMF documents.
    #[must_use]
    pub fn with_metrics(mut self, metrics: RequestMetrics) -> Self {
        self.metrics = metrics;
        self
    }
}

/// The audit router over `app`, with its metrics layer: the one constructor of the
/// audit API, served by `lambda_http::run` in the `audit-api` function and by
/// `axum::serve` in `scimgw dev` and the tests.
///
/// An API Gateway stage left in front of `/audit` (`/prod/audit/records`) is stripped
/// before routing.
pub fn audit_router(app: Arc<AuditApp>) -> Router {
    let records_route = get(records).fallback(PLUMBING.not_allowed("GET"));
    let verify_route = get(verify).fallback(PLUMBING.not_allowed("GET"));
    let access_route = get(access::report).fallback(PLUMBING.not_allowed("GET"));
    let diff_route = get(access::diff).fallback(PLUMBING.not_allowed("GET"));
    let leavers_route = get(access::leavers).fallback(PLUMBING.not_allowed("GET"));
    let routes = Router::new()
        .route("/audit/access", access_route.clone())
        .route("/audit/access/", access_route)
        .route("/audit/access/diff", diff_route.clone())
        .route("/audit/access/diff/", diff_route)
        .route("/audit/access/leavers", leavers_route.clone())
        .route("/audit/access/leavers/", leavers_route)
        .route("/audit/records", records_route.clone())
        .route("/audit/records/", records_route)
        .route("/audit/verify", verify_route.clone())
        .route("/audit/verify/", verify_route)
        .fallback(not_found)
        // Inside authentication: only authenticated reads are noted.
        .layer(from_fn_with_state(app.clone(), note_read))
        .layer(from_fn_with_state(app.clone(), authenticate))
        // After the layers: the console's page and assets hold no data and are served
        // to anyone, unnoted; its calls to the routes above carry the token.
        .merge(console::routes());
    let metrics = app.metrics.clone();
    metrics.instrument(PLUMBING.wrap(routes, app))
}

/// The audit API's operation of a matched route: `QueryRecords`, `Verify`, or `Other`.
fn operation_name(method: &Method, matched: &str) -> &'static str {
    match (method.as_str(), matched.trim_end_matches('/')) {
        ("GET", "/audit/records") => "QueryRecords",
        ("GET", "/audit/verify") => "Verify",
        ("GET", "/audit/access") => "AccessReport",
        ("GET", "/audit/access/diff") => "AccessDiff",
        ("GET", "/audit/access/leavers") => "AccessLeavers",
        ("GET", path) if path.starts_with(CONSOLE_PATH) => "Console",
        _ => "Other",
    }
}

// ---------------------------------------------------------------------------------------
// Authentication

/// Verifies the bearer token and puts the [`Auditor`] in the request's extensions.
async fn authenticate(
    State(app): State<Arc<AuditApp>>,
    mut request: Request,
    next: Next,
) -> Response {
    let correlation = correlation_of(&request);
    let Ok(token) = bearer_token(request.headers()) else {
        tracing::info!(
            reason = "no bearer token",
            source_ip = %source_ip(&request),
            "audit API: authentication refused"
        );
        return refused_auth(unauthorized(
            None,
            "a bearer access token is required",
            &correlation,
        ));
    };
    match app.verifier.verify(token).await {
        Ok(auditor) => {
            tracing::Span::current().record("actor", auditor.subject.as_str());
            request.extensions_mut().insert(Arc::new(auditor));
            next.run(request).await
        }
        Err(error @ TokenError::Invalid(_)) => {
            tracing::info!(reason = %error, source_ip = %source_ip(&request), "audit API: authentication refused");
            refused_auth(unauthorized(
                Some("invalid_token"),
                &error.to_string(),
                &correlation,
            ))
        }
        Err(error @ TokenError::Forbidden(_)) => {
            tracing::info!(reason = %error, source_ip = %source_ip(&request), "audit API: authorization refused");
            let mut response = error_response(
                StatusCode::FORBIDDEN,
                "insufficient_scope",
                &error.to_string(),
                &correlation,
            );
            response.headers_mut().insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"audit\", error=\"insufficient_scope\""),
            );
            refused_auth(response)
        }
        Err(error @ TokenError::Unavailable) => {
            tracing::error!(reason = %error, "audit API: tokens cannot be verified");
            error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "tokens cannot be verified right now",
                &correlation,
            )
        }
    }
}

fn unauthorized(error: Option<&str>, message: &str, correlation: &str) -> Response {
    let mut response = error_response(
        StatusCode::UNAUTHORIZED,
        error.unwrap_or("unauthorized"),
        message,
        correlation,
    );
    let challenge = match error {
        Some(code) => format!("Bearer realm=\"audit\", error=\"{code}\""),
        None => "Bearer realm=\"audit\"".to_owned(),
    };
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        response.headers_mut().insert(WWW_AUTHENTICATE, value);
    }
    response
}

// ---------------------------------------------------------------------------------------
// Recording reads

/// How many records an answer hands out, set on the response by the handler for the
/// note of the read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RecordsHandedOut(u64);

/// Serves an authenticated request, then sends the note of the read; the answer leaves
/// only once the note is on its way to the trail.
async fn note_read(State(app): State<Arc<AuditApp>>, request: Request, next: Next) -> Response {
    let started = std::time::Instant::now();
    let time = app.clock.now();
    let correlation = correlation_of(&request);
    let mut note = ReadNote {
        time,
        via: ReadVia::AuditApi,
        method: Some(request.method().as_str().to_owned()),
        path: request.uri().path().to_owned(),
        query: request.uri().query().map(str::to_owned),
        records: None,
        reader: request
            .extensions()
            .get::<Arc<Auditor>>()
            .map(|a| a.subject.clone()),
        user_agent: request
            .headers()
            .get(USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        status: None,
        latency_ms: 0,
        correlation_id: correlation.clone(),
        source_ip: known_source_ip(&request),
        request_id: request
            .extensions()
            .get::<ApiRequestId>()
            .map(|id| id.0.clone()),
    };
    let response = next.run(request).await;
    note.status = Some(response.status().as_u16());
    note.records = response.extensions().get::<RecordsHandedOut>().map(|n| n.0);
    note.latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    match app.notes.send(&note).await {
        Ok(()) => response,
        Err(error) => {
            tracing::error!(
                error.cause_chain = %crate::error::cause_chain(&error),
                "audit API: the read could not be recorded; nothing was handed out"
            );
            let mut refused = error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the read could not be recorded in the audit trail, so nothing was handed out; try again",
                &correlation,
            );
            refused
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(NOTE_RETRY_AFTER_SECS));
            refused
        }
    }
}

// ---------------------------------------------------------------------------------------
// Handlers

type Ctx = axum::Extension<Arc<Auditor>>;

/// Why a request's parameters were refused: the message is returned as is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadParameter(pub String);

/// The answer's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `{"records": [...], "next_cursor": ...}`.
    Json,
    /// RFC 4180 CSV with a header row.
    Csv,
}

/// The parameters of `GET /audit/records`, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordsRequest {
    /// The store query.
    pub query: AuditQuery,
    /// `format=`, when given.
    pub format: Option<Format>,
}

const RECORDS_PARAMS: &[&str] = &[
    "target",
    "actor",
    "since",
    "until",
    "outcome",
    "operation",
    "limit",
    "cursor",
    "format",
];
const VERIFY_PARAMS: &[&str] = &["since", "until"];

/// The query string's parameters, refusing oversized strings, unknown names (a typo
/// such as `outcom=` would otherwise silently widen the result) and repeated names.
/// Empty values count as absent.
fn params(raw: Option<&str>, allowed: &[&str]) -> Result<Vec<(String, String)>, BadParameter> {
    let raw = raw.unwrap_or_default();
    if raw.len() > MAX_AUDIT_QUERY_BYTES {
        return Err(BadParameter(format!(
            "the query string exceeds {MAX_AUDIT_QUERY_BYTES} bytes"
        )));
    }
    let mut pairs: Vec<(String, String)> = Vec::new();
    for (name, value) in form_urlencoded::parse(raw.as_bytes()) {
        if !allowed.contains(&name.as_ref()) {
            let shown: String = name.chars().take(40).collect();
            return Err(BadParameter(format!(
                "unknown parameter `{shown}`; expected one of {}",
                allowed.join(", ")
            )));
        }
        if pairs.iter().any(|(n, _)| *n == name) {
            return Err(BadParameter(format!(
                "parameter `{name}` is given more than once"
            )));
        }
        pairs.push((name.into_owned(), value.into_owned()));
    }
    Ok(pairs.into_iter().filter(|(_, v)| !v.is_empty()).collect())
}

fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// An RFC 3339 time, e.g. `2024-04-05T06:32:12Z`.
pub fn parse_time(name: &str, value: &str) -> Result<OffsetDateTime, BadParameter> {
    OffsetDateTime::parse(value, &Rfc3339).map_err(|_| {
        BadParameter(format!(
            "`{name}` must be an RFC 3339 time such as 2024-04-05T06:32:12Z"
        ))
    })
}

/// `success`, `failure`, `refused`, `skipped` or `intent`.
pub fn parse_outcome(value: &str) -> Result<Outcome, BadParameter> {
    match value {
        "success" => Ok(Outcome::Success),
        "failure" => Ok(Outcome::Failure),
        "refused" => Ok(Outcome::Refused),
        "skipped" => Ok(Outcome::Skipped),
        "intent" => Ok(Outcome::Intent),
        _ => Err(BadParameter(
            "`outcome` must be one of success, failure, refused, skipped, intent".into(),
        )),
    }
}

/// `create`, `replace`, `patch`, `delete`, `list`, `get`, `replay`, `discard`,
/// `reconcile`, `read`, `assign` or `unassign`.
pub fn parse_operation(value: &str) -> Result<AuditOperation, BadParameter> {
    match value {
        "create" => Ok(AuditOperation::Create),
        "replace" => Ok(AuditOperation::Replace),
        "patch" => Ok(AuditOperation::Patch),
        "delete" => Ok(AuditOperation::Delete),
        "list" => Ok(AuditOperation::List),
        "get" => Ok(AuditOperation::Get),
        "replay" => Ok(AuditOperation::Replay),
        "discard" => Ok(AuditOperation::Discard),
        "reconcile" => Ok(AuditOperation::Reconcile),
        "read" => Ok(AuditOperation::Read),
        "assign" => Ok(AuditOperation::Assign),
        "unassign" => Ok(AuditOperation::Unassign),
        _ => Err(BadParameter(
            "`operation` must be one of create, replace, patch, delete, list, get, replay, \
             discard, reconcile, read, assign, unassign"
                .into(),
        )),
    }
}

/// A page size from 1 to [`MAX_LIMIT`].
pub fn parse_limit(value: &str) -> Result<u32, BadParameter> {
    match value.parse::<u32>() {
        Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        _ => Err(BadParameter(format!(
            "`limit` must be a whole number from 1 to {MAX_LIMIT}"
        ))),
    }
}

/// Parses the parameters of `GET /audit/records`.
pub fn parse_records_request(raw: Option<&str>) -> Result<RecordsRequest, BadParameter> {
    let pairs = params(raw, RECORDS_PARAMS)?;
    let text = |name: &str| -> Result<Option<String>, BadParameter> {
        match param(&pairs, name) {
            Some(v) if v.len() > 512 || v.chars().any(char::is_control) => Err(BadParameter(
                format!("`{name}` is too long or holds control characters"),
            )),
            other => Ok(other.map(str::to_owned)),
        }
    };
    let since = param(&pairs, "since")
        .map(|v| parse_time("since", v))
        .transpose()?;
    let until = param(&pairs, "until")
        .map(|v| parse_time("until", v))
        .transpose()?;
    if let (Some(since), Some(until)) = (since, until)
        && since >= until
    {
        return Err(BadParameter("`since` must be before `until`".into()));
    }
    let cursor = param(&pairs, "cursor").map(str::to_owned);
    if cursor
        .as_ref()
        .is_some_and(|c| c.len() > 1024 || !c.chars().all(|ch| ch.is_ascii_graphic()))
    {
        return Err(BadParameter(
            "`cursor` is not a cursor this API handed out".into(),
        ));
    }
    let format = match param(&pairs, "format") {
        None => None,
        Some("json") => Some(Format::Json),
        Some("csv") => Some(Format::Csv),
        Some(_) => return Err(BadParameter("`format` must be json or csv".into())),
    };
    let query = AuditQuery {
        target: text("target")?,
        actor: text("actor")?,
        since,
        until,
        outcome: param(&pairs, "outcome").map(parse_outcome).transpose()?,
        operation: param(&pairs, "operation")
            .map(parse_operation)
            .transpose()?,
        limit: param(&pairs, "limit")
            .map(parse_limit)
            .transpose()?
            .unwrap_or(DEFAULT_LIMIT),
        cursor,
    };
    Ok(RecordsRequest { query, format })
}

/// Whether the client asked for CSV through `Accept` (and not for JSON first).
fn accepts_csv(headers: &HeaderMap) -> bool {
    let Some(accept) = headers.get(ACCEPT).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let position = |media: &str| accept.to_ascii_lowercase().find(media);
    match (position("text/csv"), position("application/json")) {
        (Some(csv), Some(json)) => csv < json,
        (Some(_), None) => true,
        _ => false,
    }
}

async fn records(
    State(app): State<Arc<AuditApp>>,
    axum::Extension(correlation): axum::Extension<CorrelationId>,
    _auditor: Ctx,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let request = match parse_records_request(raw.as_deref()) {
        Ok(request) => request,
        Err(BadParameter(message)) => return bad_request(&message, &correlation.0),
    };
    let format = request.format.unwrap_or(if accepts_csv(&headers) {
        Format::Csv
    } else {
        Format::Json
    });
    let page = match app.store.query(&request.query).await {
        Ok(page) => page,
        Err(error) => return store_error(&error, &correlation.0),
    };
    let handed_out = RecordsHandedOut(page.records.len() as u64);
    let mut response = match format {
        Format::Json => json_response(
            StatusCode::OK,
            &json!({"records": page.records, "next_cursor": page.next_cursor}),
        ),
        Format::Csv => csv_page(&page, &correlation.0),
    };
    response.extensions_mut().insert(handed_out);
    response
}

/// Where one verification step of `[since, until)` ends: [`VERIFY_SPAN`] after the hour
/// of the first record at or after `since` (so that an empty stretch, the epoch up to
/// the trail's oldest record included, costs no page of its own), never after `until`;
/// `until` when no record is left. Costs one query of one record.
pub async fn verify_page_end(
    store: &dyn AuditStore,
    since: OffsetDateTime,
    until: OffsetDateTime,
) -> Result<OffsetDateTime, AuditStoreError> {
    let first = store
        .query(&AuditQuery {
            since: Some(since),
            until: Some(until),
            limit: 1,
            ..AuditQuery::default()
        })
        .await?;
    let start = match first.records.first() {
        Some(record) => {
            let time = record.record.time.to_offset(time::UtcOffset::UTC);
            let hour =
                time::Time::from_hms(time.hour(), 0, 0).map_or(time, |h| time.replace_time(h));
            hour.max(since)
        }
        // A page can come back empty with a cursor (a store reads a bounded number of
        // items per call): go one span at a time then.
        None if first.next_cursor.is_some() => since,
        None => return Ok(until),
    };
    Ok(start.saturating_add(VERIFY_SPAN).min(until))
}

/// One verification answer: the store's report and the period it covers.
#[derive(Debug, serde::Serialize)]
struct VerifyAnswer<'a> {
    #[serde(flatten)]
    report: &'a VerifyReport,
    /// The start of the period covered (inclusive).
    since: String,
    /// The end of the period covered (exclusive).
    until: String,
    /// The end of the period asked for (now, when `until` was not given), to send back
    /// with `next_since`.
    requested_until: String,
    /// Where the next call starts, while the requested period goes on; else null.
    next_since: Option<String>,
}

async fn verify(
    State(app): State<Arc<AuditApp>>,
    axum::Extension(correlation): axum::Extension<CorrelationId>,
    _auditor: Ctx,
    RawQuery(raw): RawQuery,
) -> Response {
    let period = params(raw.as_deref(), VERIFY_PARAMS).and_then(|pairs| {
        let since = param(&pairs, "since")
            .map(|v| parse_time("since", v))
            .transpose()?;
        let until = param(&pairs, "until")
            .map(|v| parse_time("until", v))
            .transpose()?;
        let since = since.unwrap_or(OffsetDateTime::UNIX_EPOCH);
        let until = until.unwrap_or_else(|| app.clock.now());
        if since >= until {
            return Err(BadParameter("`since` must be before `until`".into()));
        }
        Ok((since, until))
    });
    let (since, until) = match period {
        Ok(period) => period,
        Err(BadParameter(message)) => return bad_request(&message, &correlation.0),
    };
    let end = match verify_page_end(app.store.as_ref(), since, until).await {
        Ok(end) => end,
        Err(error) => return store_error(&error, &correlation.0),
    };
    let when = |t: OffsetDateTime| t.format(&Rfc3339).unwrap_or_default();
    match app.store.verify(since, end).await {
        Ok(report) => json_response(
            StatusCode::OK,
            &VerifyAnswer {
                report: &report,
                since: when(since),
                until: when(end),
                requested_until: when(until),
                next_since: (end < until).then(|| when(end)),
            },
        ),
        Err(error) => store_error(&error, &correlation.0),
    }
}

async fn not_found(request: Request) -> Response {
    error_response(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such audit resource",
        &correlation_of(&request),
    )
}

// ---------------------------------------------------------------------------------------
// Answers

fn json_response(status: StatusCode, body: &impl serde::Serialize) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => body_response(status, "application/json", Some(bytes), &[]),
        Err(error) => {
            tracing::error!(error = %error, "audit API: the answer could not be serialized");
            body_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                "application/json",
                Some(br#"{"error":"internal"}"#.to_vec()),
                &[],
            )
        }
    }
}

fn error_response(status: StatusCode, error: &str, message: &str, correlation: &str) -> Response {
    json_response(
        status,
        &json!({"error": error, "message": message, "correlation_id": correlation}),
    )
}

fn bad_request(message: &str, correlation: &str) -> Response {
    error_response(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        message,
        correlation,
    )
}

/// The one mapping of store errors: the caller's (400) or the store's (503, with the
/// cause logged here and not returned).
fn store_error(error: &AuditStoreError, correlation: &str) -> Response {
    match error {
        AuditStoreError::InvalidCursor => bad_request(
            "`cursor` is not a cursor this query handed out",
            correlation,
        ),
        AuditStoreError::InvalidQuery(message) => bad_request(message, correlation),
        AuditStoreError::Key(_) | AuditStoreError::Unavailable(_) => {
            tracing::error!(error.cause_chain = %crate::error::cause_chain(error), "audit API: the store failed");
            error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                &format!("the audit store could not answer (correlation id {correlation})"),
                correlation,
            )
        }
    }
}

fn csv_page(page: &AuditPage, correlation: &str) -> Response {
    let mut writer = csv_writer(Vec::new());
    let written = write_csv_header(&mut writer).and_then(|()| {
        page.records
            .iter()
            .try_for_each(|r| write_csv_record(&mut writer, r))
    });
    let bytes = written
        .map_err(|e| e.to_string())
        .and_then(|()| writer.into_inner().map_err(|e| e.to_string()));
    let bytes = match bytes {
        Ok(bytes) => bytes,
        Err(error) => {
            tracing::error!(error = %error, "audit API: the CSV page could not be written");
            return error_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "the audit API could not answer",
                correlation,
            );
        }
    };
    let mut response = Response::new(Body::from(bytes));
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(CSV_MEDIA_TYPE));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"audit-records.csv\""),
    );
    if let Some(cursor) = &page.next_cursor
        && let Ok(value) = HeaderValue::from_str(cursor)
    {
        headers.insert(NEXT_CURSOR_HEADER, value);
    }
    response
}

// ---------------------------------------------------------------------------------------
// CSV, shared with `scimgw audit`

/// The CSV columns, each with the JSON pointer into a serialized [`StoredAuditRecord`]
/// it is read from. Objects and arrays (changes, membership) are written as JSON text.
pub const CSV_COLUMNS: &[(&str, &str)] = &[
    ("id", "/id"),
    ("time", "/record/time"),
    ("outcome", "/record/outcome"),
    ("operation", "/record/operation"),
    ("status", "/record/status"),
    ("source_kind", "/record/source/kind"),
    ("source_method", "/record/source/method"),
    ("source_path", "/record/source/path"),
    ("event_uuid", "/record/source/uuid"),
    ("actor", "/record/actor/credential"),
    ("user_agent", "/record/actor/user_agent"),
    ("target_type", "/record/target/resource_type"),
    ("target_external_id", "/record/target/external_id"),
    ("target_id", "/record/target/target_id"),
    ("target_name", "/record/target/name"),
    ("changes", "/record/changes"),
    ("membership", "/record/membership"),
    ("query_filter", "/record/query/filter"),
    ("query_total_results", "/record/query/total_results"),
    ("rule_set_version", "/record/rule_set_version"),
    ("target_status", "/record/target_status"),
    ("target_calls", "/record/target_calls"),
    ("latency_ms", "/record/latency_ms"),
    ("correlation_id", "/record/correlation_id"),
    ("error", "/record/error"),
    ("chain", "/integrity/chain"),
    ("seq", "/integrity/seq"),
    ("prev_hash", "/integrity/prev_hash"),
    ("hash", "/integrity/hash"),
    ("mac", "/integrity/mac"),
    ("key_id", "/integrity/key_id"),
    ("written_at", "/integrity/written_at"),
    ("expires_at", "/integrity/expires_at"),
];

/// Makes a cell safe to open in a spreadsheet (see its definition).
pub use ::access::output::csv_safe;

/// The cells of one record, in [`CSV_COLUMNS`] order, made safe with [`csv_safe`].
pub fn csv_cells(record: &StoredAuditRecord) -> Vec<String> {
    let value = serde_json::to_value(record).unwrap_or(Value::Null);
    CSV_COLUMNS
        .iter()
        .map(|(_, pointer)| {
            let cell = match value.pointer(pointer) {
                None | Some(Value::Null) => String::new(),
                Some(Value::String(s)) => s.clone(),
                Some(Value::Array(a)) if a.is_empty() => String::new(),
                Some(other) => other.to_string(),
            };
            csv_safe(cell)
        })
        .collect()
}

/// A CSV writer as RFC 4180 §2 has it: CRLF line ends, fields quoted when they hold a
/// comma, a quote or a line break, quotes doubled.
pub fn csv_writer<W: std::io::Write>(inner: W) -> csv::Writer<W> {
    csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(inner)
}

/// Writes the header row.
pub fn write_csv_header<W: std::io::Write>(writer: &mut csv::Writer<W>) -> Result<(), csv::Error> {
    writer.write_record(CSV_COLUMNS.iter().map(|(name, _)| *name))
}

/// Writes one record as a row.
pub fn write_csv_record<W: std::io::Write>(
    writer: &mut csv::Writer<W>,
    record: &StoredAuditRecord,
) -> Result<(), csv::Error> {
    writer.write_record(csv_cells(record))
}

#[cfg(test)]
mod tests;
