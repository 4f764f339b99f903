//! The access reports through the audit API (`docs/access-reports.md`), for auditors
//! with the audit scope: `GET /audit/access` (who could reach what, as of an instant),
//! `GET /audit/access/diff` (gained and lost between two instants) and
//! `GET /audit/access/leavers` (how long each leaver kept access). Each answer is
//! rebuilt from the audit trail (`access::read_history`) and carries the evidence of the
//! records it was computed from; the check against live state needs Identity Center and
//! SSO Admin, which this function cannot read, and is `scimgw access report`'s.
//!
//! Answers come in pages of lines (rows, changes, or leaver-and-access lines), as JSON
//! (the report with the page's lines), CSV or JSON Lines (the evidence then in the
//! `Scimgw-Evidence` header, base64url JSON, and the next cursor in `x-next-cursor`). A cursor pins the instant a first page
//! defaulted to ("now"), so the pages of one report agree.

use std::sync::Arc;

use access::{AccessReport, DiffReport, Filter, LeaversReport};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::{Duration, OffsetDateTime};

use super::{
    AuditApp, BadParameter, Ctx, RecordsHandedOut, accepts_csv, bad_request, json_response, param,
    params, parse_time, store_error,
};
use crate::http::{CorrelationId, body_response};

/// The header carrying a CSV or JSON Lines answer's evidence.
pub const EVIDENCE_HEADER: &str = "scimgw-evidence";

/// Lines per page when `limit` is not given, and the most a page may hold: pages stay
/// well inside a Lambda response (6 MB).
pub const DEFAULT_LINES: usize = 1000;
/// See [`DEFAULT_LINES`].
pub const MAX_LINES: usize = 5000;

const FILTERS: &[&str] = &["account", "permission_set", "group", "user"];
const PAGING: &[&str] = &["format", "limit", "cursor"];

/// Where a page starts, and the instant the report is pinned to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Cursor {
    #[serde(rename = "t", with = "time::serde::rfc3339")]
    pinned: OffsetDateTime,
    #[serde(rename = "o")]
    offset: usize,
}

impl Cursor {
    fn encode(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
    }

    fn decode(text: &str) -> Result<Self, BadParameter> {
        let refused = || BadParameter("`cursor` is not a cursor this report handed out".into());
        if text.len() > 256 {
            return Err(refused());
        }
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|_| refused())?;
        serde_json::from_slice(&bytes).map_err(|_| refused())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LineFormat {
    Json,
    Csv,
    JsonLines,
}

/// What every report request shares: filters, format, paging.
struct Common {
    filter: Filter,
    format: LineFormat,
    limit: usize,
    cursor: Option<Cursor>,
}

fn common(pairs: &[(String, String)], headers: &HeaderMap) -> Result<Common, BadParameter> {
    let format = match param(pairs, "format") {
        None if accepts_csv(headers) => LineFormat::Csv,
        None | Some("json") => LineFormat::Json,
        Some("csv") => LineFormat::Csv,
        Some("jsonl") => LineFormat::JsonLines,
        Some(_) => return Err(BadParameter("`format` must be json, csv or jsonl".into())),
    };
    let limit = match param(pairs, "limit") {
        None => DEFAULT_LINES,
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_LINES).contains(n))
            .ok_or_else(|| BadParameter(format!("`limit` must be between 1 and {MAX_LINES}")))?,
    };
    let accounts = param(pairs, "account").map(|list| {
        list.split(',')
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(str::to_owned)
            .collect()
    });
    if let Some(accounts) = &accounts {
        let accounts: &std::collections::BTreeSet<String> = accounts;
        if let Some(bad) = accounts
            .iter()
            .find(|a| a.len() != 12 || !a.bytes().all(|b| b.is_ascii_digit()))
        {
            let shown: String = bad.chars().take(20).collect();
            return Err(BadParameter(format!(
                "`account` {shown:?} is not a 12-digit account id"
            )));
        }
    }
    let text = |name: &str| param(pairs, name).map(str::to_owned);
    Ok(Common {
        filter: Filter {
            accounts,
            permission_set: text("permission_set"),
            group: text("group"),
            user: text("user"),
        },
        format,
        limit,
        cursor: param(pairs, "cursor").map(Cursor::decode).transpose()?,
    })
}

/// The report's end instant: the cursor's, else parameter `name`, else now.
fn pinned(
    common: &Common,
    pairs: &[(String, String)],
    name: &str,
    app: &AuditApp,
) -> Result<OffsetDateTime, BadParameter> {
    match (&common.cursor, param(pairs, name)) {
        (Some(cursor), _) => Ok(cursor.pinned),
        (None, Some(text)) => parse_time(name, text),
        (None, None) => Ok(app.clock.now()),
    }
}

/// A period's required start (parameter `names.0`) and its end ([`pinned`],
/// `names.1`), the start before the end.
fn period(
    common: &Common,
    pairs: &[(String, String)],
    (start_name, end_name): (&str, &str),
    app: &AuditApp,
) -> Result<(OffsetDateTime, OffsetDateTime), BadParameter> {
    let start = param(pairs, start_name)
        .ok_or_else(|| BadParameter(format!("`{start_name}` is required")))
        .and_then(|t| parse_time(start_name, t))?;
    let end = pinned(common, pairs, end_name, app)?;
    if start >= end {
        return Err(BadParameter(format!(
            "`{start_name}` must be before `{end_name}`"
        )));
    }
    Ok((start, end))
}

fn allowed(own: &[&'static str]) -> Vec<&'static str> {
    own.iter().chain(FILTERS).chain(PAGING).copied().collect()
}

/// A report's lines, rendered a page at a time: a large report is never turned into
/// JSON whole (a Lambda's memory).
struct Lines<'a> {
    total: usize,
    render: Box<dyn Fn(std::ops::Range<usize>) -> Vec<Value> + 'a>,
}

impl<'a> Lines<'a> {
    fn of<T: Serialize>(items: &'a [T]) -> Self {
        Self {
            total: items.len(),
            render: Box::new(move |range| {
                items
                    .get(range)
                    .unwrap_or_default()
                    .iter()
                    .map(to_value)
                    .collect()
            }),
        }
    }

    fn values(values: Vec<Value>) -> Self {
        Self {
            total: values.len(),
            render: Box::new(move |range| {
                values.get(range).map(<[Value]>::to_vec).unwrap_or_default()
            }),
        }
    }
}

/// One page of the report's lines in the asked format: JSON pages `items` (whole
/// items: a leaver with all its access) inside the report; CSV and JSON Lines page
/// `flat` lines, the evidence in a header.
#[allow(clippy::too_many_arguments)]
fn page(
    common: &Common,
    pinned: OffsetDateTime,
    mut report: Value,
    items_key: &str,
    items: Lines<'_>,
    flat: Lines<'_>,
    columns: &[(&str, &str)],
    correlation: &str,
) -> Response {
    let lines = if common.format == LineFormat::Json {
        items
    } else {
        flat
    };
    let offset = common
        .cursor
        .as_ref()
        .map_or(0, |c| c.offset)
        .min(lines.total);
    let end = (offset + common.limit).min(lines.total);
    let next = (end < lines.total).then(|| {
        Cursor {
            pinned,
            offset: end,
        }
        .encode()
    });
    let shown: Vec<Value> = (lines.render)(offset..end);
    let handed_out = RecordsHandedOut(shown.len() as u64);
    let evidence = report.get("evidence").cloned().unwrap_or(Value::Null);
    let mut response = match common.format {
        LineFormat::Json => {
            if let Some(map) = report.as_object_mut() {
                map.insert(items_key.into(), Value::Array(shown));
                map.insert(
                    "next_cursor".into(),
                    next.map_or(Value::Null, Value::String),
                );
            }
            json_response(StatusCode::OK, &report)
        }
        LineFormat::Csv | LineFormat::JsonLines => {
            let mut bytes = Vec::new();
            let written = if common.format == LineFormat::Csv {
                access::output::write_csv(&mut bytes, columns, &shown)
            } else {
                access::output::write_json_lines(&mut bytes, &shown)
            };
            if let Err(error) = written {
                tracing::error!(error = %error, "audit API: the report could not be written");
                return bad_request("the report could not be written", correlation);
            }
            let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(serde_json::to_vec(&evidence).unwrap_or_default());
            let mut headers = vec![(
                HeaderName::from_static(EVIDENCE_HEADER),
                HeaderValue::from_str(&encoded).unwrap_or(HeaderValue::from_static("")),
            )];
            if let Some(next) = next.and_then(|n| HeaderValue::from_str(&n).ok()) {
                headers.push((HeaderName::from_static(super::NEXT_CURSOR_HEADER), next));
            }
            let content_type = if common.format == LineFormat::Csv {
                "text/csv; charset=utf-8"
            } else {
                "application/x-ndjson"
            };
            body_response(StatusCode::OK, content_type, Some(bytes), &headers)
        }
    };
    response.extensions_mut().insert(handed_out);
    response
}

fn to_value<T: Serialize>(report: &T) -> Value {
    serde_json::to_value(report).unwrap_or(Value::Null)
}

/// `report` without its `key` (its lines, which go in pages).
fn without(mut report: Value, key: &str) -> Value {
    if let Some(map) = report.as_object_mut() {
        map.remove(key);
    }
    report
}

/// The trail before `at` (inclusive) folded, with the evidence of what was read.
async fn history_at(
    app: &AuditApp,
    at: OffsetDateTime,
) -> Result<(access::History, access::Evidence), gateway::audit_store::AuditStoreError> {
    let until = access::read_until(at);
    let history = access::read_history(app.store.as_ref(), until).await?;
    let seal = access::latest_seal(app.store.as_ref()).await;
    let evidence = history.evidence(until, seal);
    Ok((history, evidence))
}

/// `GET /audit/access?as_of=&account=&permission_set=&group=&user=`.
pub(super) async fn report(
    State(app): State<Arc<AuditApp>>,
    axum::Extension(correlation): axum::Extension<CorrelationId>,
    _auditor: Ctx,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let parsed = params(raw.as_deref(), &allowed(&["as_of"])).and_then(|pairs| {
        let common = common(&pairs, &headers)?;
        let as_of = pinned(&common, &pairs, "as_of", &app)?;
        Ok((common, as_of))
    });
    let (common, as_of) = match parsed {
        Ok(parsed) => parsed,
        Err(BadParameter(message)) => return bad_request(&message, &correlation.0),
    };
    let (history, evidence) = match history_at(&app, as_of).await {
        Ok(read) => read,
        Err(error) => return store_error(&error, &correlation.0),
    };
    let report = AccessReport {
        as_of,
        source: "trail".into(),
        rows: Vec::new(),
        differences: None,
        live_problems: Vec::new(),
        gaps: history.gaps.clone(),
        evidence,
    };
    let rows = access::as_of(&history, as_of, &common.filter);
    page(
        &common,
        as_of,
        without(to_value(&report), "rows"),
        "rows",
        Lines::of(&rows),
        Lines::of(&rows),
        access::output::ROW_COLUMNS,
        &correlation.0,
    )
}

/// `GET /audit/access/diff?from=&to=&…`: `from` is required; `to` defaults to now.
pub(super) async fn diff(
    State(app): State<Arc<AuditApp>>,
    axum::Extension(correlation): axum::Extension<CorrelationId>,
    _auditor: Ctx,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let parsed = params(raw.as_deref(), &allowed(&["from", "to"])).and_then(|pairs| {
        let common = common(&pairs, &headers)?;
        let (from, to) = period(&common, &pairs, ("from", "to"), &app)?;
        Ok((common, from, to))
    });
    let (common, from, to) = match parsed {
        Ok(parsed) => parsed,
        Err(BadParameter(message)) => return bad_request(&message, &correlation.0),
    };
    let (history, evidence) = match history_at(&app, to).await {
        Ok(read) => read,
        Err(error) => return store_error(&error, &correlation.0),
    };
    let report = DiffReport {
        from,
        to,
        changes: Vec::new(),
        gaps: history.gaps.clone(),
        evidence,
    };
    let changes = access::diff(&history, from, to, &common.filter);
    page(
        &common,
        to,
        without(to_value(&report), "changes"),
        "changes",
        Lines::of(&changes),
        Lines::of(&changes),
        &DiffReport::columns(),
        &correlation.0,
    )
}

/// `GET /audit/access/leavers?since=&until=&threshold_hours=`: `since` is required;
/// `until` defaults to now, the threshold to 24 hours.
pub(super) async fn leavers(
    State(app): State<Arc<AuditApp>>,
    axum::Extension(correlation): axum::Extension<CorrelationId>,
    _auditor: Ctx,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let parsed = params(
        raw.as_deref(),
        &allowed(&["since", "until", "threshold_hours"]),
    )
    .and_then(|pairs| {
        let common = common(&pairs, &headers)?;
        let (since, until) = period(&common, &pairs, ("since", "until"), &app)?;
        let threshold = match param(&pairs, "threshold_hours") {
            None => access::DEFAULT_LEAVER_THRESHOLD,
            Some(text) => text
                .parse::<u32>()
                .ok()
                .filter(|h| (1..=24 * 366).contains(h))
                .map(|h| Duration::hours(i64::from(h)))
                .ok_or_else(|| {
                    BadParameter(
                        "`threshold_hours` must be a whole number of hours, 1 to 8784".into(),
                    )
                })?,
        };
        Ok((common, since, until, threshold))
    });
    let (common, since, until, threshold) = match parsed {
        Ok(parsed) => parsed,
        Err(BadParameter(message)) => return bad_request(&message, &correlation.0),
    };
    let now = app.clock.now();
    // The removals a leaver's clock waits for can come after the period: read to now.
    let (history, evidence) = match history_at(&app, now.max(until)).await {
        Ok(read) => read,
        Err(error) => return store_error(&error, &correlation.0),
    };
    let mut found = access::leavers(&history, since, until, threshold, now);
    if common.filter.user.is_some() || common.filter.accounts.is_some() {
        found.retain(|leaver| {
            leaver.access.iter().any(|a| common.filter.keeps(&a.row))
                || common.filter.user.as_deref().is_some_and(|u| leaver.is(u))
        });
    }
    let report = LeaversReport {
        since,
        until,
        threshold_seconds: threshold.whole_seconds(),
        leavers: found,
        gaps: history.gaps.clone(),
        evidence,
    };
    let flat = report.lines();
    page(
        &common,
        until,
        without(to_value(&report), "leavers"),
        "leavers",
        Lines::of(&report.leavers),
        Lines::values(flat),
        access::output::LEAVER_COLUMNS,
        &correlation.0,
    )
}
