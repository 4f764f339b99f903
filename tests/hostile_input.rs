//! Hostile input on every route: each request gets the right 4xx SCIM error, never a
//! 5xx or a panic, and nothing of it reaches the target (the emulator's request counter
//! does not move).

use axum::body::Body;
use axum::extract::Request;
use http::Method;
use serde_json::{Value, json};

use crate::scim_support::{
    Answer, INBOUND_TOKEN, INBOUND_TOKEN_2, RecordingEmulator, TARGET_TOKEN, TestGateway,
    init_test_log,
};

/// An id of Identity Center's shape that no resource has.
const SOME_ID: &str = "9067729b3d-00000000-0000-4000-8000-000000000000";

/// A gateway in front of a fresh emulator.
async fn setup() -> (RecordingEmulator, TestGateway) {
    init_test_log();
    let emulator = RecordingEmulator::start().await;
    let gateway = TestGateway::over(&emulator);
    (emulator, gateway)
}

/// A request with the valid token and `application/scim+json` when there is a body.
fn request(method: &Method, uri: &str, body: Option<Body>) -> Request {
    let builder = Request::builder()
        .method(method.clone())
        .uri(uri)
        .header("authorization", format!("Bearer {INBOUND_TOKEN}"));
    match body {
        Some(body) => builder
            .header("content-type", "application/scim+json")
            .body(body),
        None => builder.body(Body::empty()),
    }
    .expect("request")
}

/// Sends `request` and asserts a SCIM error with `status` (and `scim_type`, when given),
/// with nothing sent to the target.
async fn refused(
    emulator: &RecordingEmulator,
    gateway: &TestGateway,
    request: Request,
    status: u16,
    scim_types: &[&str],
) -> Answer {
    let label = format!("{} {}", request.method(), request.uri());
    let before = emulator.requests();
    let answer = gateway.send(request).await;
    assert_eq!(answer.status.as_u16(), status, "{label}: {:?}", answer.body);
    assert_scim_error(&answer, status, scim_types, &label);
    assert_eq!(
        emulator.requests(),
        before,
        "{label}: the request reached the target"
    );
    answer
}

fn assert_scim_error(answer: &Answer, status: u16, scim_types: &[&str], label: &str) {
    let body = answer
        .body
        .as_ref()
        .unwrap_or_else(|| panic!("{label}: no JSON body: {:?}", answer.raw));
    assert_eq!(
        body["schemas"],
        json!([scim_core::ERROR_SCHEMA]),
        "{label}: {body}"
    );
    assert_eq!(body["status"], json!(status.to_string()), "{label}: {body}");
    assert_eq!(
        answer.headers["content-type"],
        scim_core::SCIM_MEDIA_TYPE,
        "{label}"
    );
    assert!(answer.headers.contains_key("x-correlation-id"), "{label}");
    if !scim_types.is_empty() {
        let scim_type = body["scimType"].as_str().unwrap_or_default();
        assert!(
            scim_types.contains(&scim_type),
            "{label}: scimType {scim_type:?} not in {scim_types:?}"
        );
    }
}

/// The routes that take a body: (method, path).
fn body_routes() -> Vec<(Method, String)> {
    vec![
        (Method::POST, "/scim/v2/Users".into()),
        (Method::POST, "/scim/v2/Groups".into()),
        (Method::PUT, format!("/scim/v2/Users/{SOME_ID}")),
        (Method::PUT, format!("/scim/v2/Groups/{SOME_ID}")),
        (Method::PATCH, format!("/scim/v2/Users/{SOME_ID}")),
        (Method::PATCH, format!("/scim/v2/Groups/{SOME_ID}")),
    ]
}

/// Every route and method the gateway serves.
fn all_routes() -> Vec<(Method, String)> {
    let mut routes = body_routes();
    for path in [
        "/scim/v2/Users".to_owned(),
        "/scim/v2/Groups".to_owned(),
        format!("/scim/v2/Users/{SOME_ID}"),
        format!("/scim/v2/Groups/{SOME_ID}"),
        "/scim/v2/ServiceProviderConfig".to_owned(),
        "/scim/v2/Schemas".to_owned(),
        format!("/scim/v2/Schemas/{}", scim_core::USER_SCHEMA),
        "/scim/v2/ResourceTypes".to_owned(),
        "/scim/v2/ResourceTypes/User".to_owned(),
    ] {
        routes.push((Method::GET, path));
    }
    routes.push((Method::DELETE, format!("/scim/v2/Users/{SOME_ID}")));
    routes.push((Method::DELETE, format!("/scim/v2/Groups/{SOME_ID}")));
    routes
}

#[tokio::test]
async fn malformed_json_is_invalid_syntax_on_every_body_route() {
    let (emulator, gateway) = setup().await;
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let bodies: Vec<Vec<u8>> = vec![
        b"{".to_vec(),
        b"{\"userName\": }".to_vec(),
        b"{\"a\":1}{\"b\":2}".to_vec(),
        b"[]".to_vec(),
        b"\"just a string\"".to_vec(),
        b"null".to_vec(),
        b"".to_vec(),
        b"\xff\xfe{}".to_vec(),
        b"{\"userName\": \"\xff\"}".to_vec(),
        b"{'userName': 'single quotes'}".to_vec(),
        deep.into_bytes(),
    ];
    for (method, path) in body_routes() {
        for body in &bodies {
            let request = request(&method, &path, Some(Body::from(body.clone())));
            refused(&emulator, &gateway, request, 400, &["invalidSyntax"]).await;
        }
    }
}

#[tokio::test]
async fn wrong_json_types_are_refused_with_400() {
    let (emulator, gateway) = setup().await;
    let user = |extra: Value| {
        let mut base = json!({
            "schemas": [scim_core::USER_SCHEMA], "userName": "x@example.com",
            "name": {"givenName": "X", "familyName": "Y"}, "displayName": "X Y",
            "emails": [{"value": "x@example.com", "primary": true}]
        });
        base.as_object_mut()
            .expect("object")
            .extend(extra.as_object().expect("object").clone());
        base
    };
    let group = |extra: Value| {
        let mut base = json!({"schemas": [scim_core::GROUP_SCHEMA], "displayName": "G"});
        base.as_object_mut()
            .expect("object")
            .extend(extra.as_object().expect("object").clone());
        base
    };
    let patch = |operations: Value| json!({"schemas": [scim_core::PATCH_OP_SCHEMA], "Operations": operations});
    let user_bodies = [
        user(json!({"userName": 123})),
        user(json!({"userName": ["x"]})),
        user(json!({"userName": null})),
        user(json!({"name": "X Y"})),
        user(json!({"emails": "x@example.com"})),
        user(json!({"emails": [42]})),
        user(json!({"active": {"yes": true}})),
        user(json!({"schemas": "urn:ietf:params:scim:schemas:core:2.0:User"})),
    ];
    let group_bodies = [
        group(json!({"displayName": 5})),
        group(json!({"displayName": null})),
        group(json!({"members": "everyone"})),
        group(json!({"members": [5]})),
        group(json!({"members": [{"value": 7}]})),
    ];
    let patch_bodies = [
        patch(json!("replace everything")),
        patch(json!([{"op": 5, "path": "active", "value": false}])),
        patch(json!([{"op": "explode", "path": "active", "value": false}])),
        patch(json!([{"op": "replace", "path": 5, "value": false}])),
        patch(json!([{"op": "remove"}])),
        patch(json!([{"op": "replace", "path": "members[value eq", "value": []}])),
        json!({"Operations": [{"op": "replace", "value": {"active": false}}]}),
        json!({"schemas": [scim_core::PATCH_OP_SCHEMA]}),
    ];
    let cases = user_bodies
        .iter()
        .flat_map(|b| {
            [
                (Method::POST, "/scim/v2/Users".to_owned(), b),
                (Method::PUT, format!("/scim/v2/Users/{SOME_ID}"), b),
            ]
        })
        .chain(group_bodies.iter().flat_map(|b| {
            [
                (Method::POST, "/scim/v2/Groups".to_owned(), b),
                (Method::PUT, format!("/scim/v2/Groups/{SOME_ID}"), b),
            ]
        }))
        .chain(patch_bodies.iter().flat_map(|b| {
            [
                (Method::PATCH, format!("/scim/v2/Users/{SOME_ID}"), b),
                (Method::PATCH, format!("/scim/v2/Groups/{SOME_ID}"), b),
            ]
        }))
        .collect::<Vec<_>>();
    for (method, path, body) in cases {
        let request = request(&method, &path, Some(Body::from(body.to_string())));
        refused(
            &emulator,
            &gateway,
            request,
            400,
            &[
                "invalidSyntax",
                "invalidValue",
                "invalidPath",
                "noTarget",
                "mutability",
            ],
        )
        .await;
    }
}

#[tokio::test]
async fn unknown_or_mismatched_schemas_are_refused() {
    let (emulator, gateway) = setup().await;
    let user = json!({
        "schemas": ["urn:example:evil:2.0:User"], "userName": "x@example.com",
        "name": {"givenName": "X", "familyName": "Y"}, "displayName": "X Y",
        "emails": [{"value": "x@example.com", "primary": true}]
    });
    let group_as_user = json!({"schemas": [scim_core::USER_SCHEMA], "displayName": "G"});
    let patch_with_user_schema = json!({
        "schemas": [scim_core::USER_SCHEMA],
        "Operations": [{"op": "replace", "path": "active", "value": false}]
    });
    let cases = [
        (Method::POST, "/scim/v2/Users".to_owned(), &user),
        (Method::PUT, format!("/scim/v2/Users/{SOME_ID}"), &user),
        (Method::POST, "/scim/v2/Groups".to_owned(), &group_as_user),
        (
            Method::PATCH,
            format!("/scim/v2/Users/{SOME_ID}"),
            &patch_with_user_schema,
        ),
        (
            Method::PATCH,
            format!("/scim/v2/Groups/{SOME_ID}"),
            &patch_with_user_schema,
        ),
    ];
    for (method, path, body) in cases {
        let request = request(&method, &path, Some(Body::from(body.to_string())));
        refused(
            &emulator,
            &gateway,
            request,
            400,
            &["invalidValue", "invalidSyntax"],
        )
        .await;
    }
}

#[tokio::test]
async fn bodies_over_one_mebibyte_are_refused_with_413_whether_declared_or_not() {
    let (emulator, gateway) = setup().await;
    let big = format!("{{\"userName\": \"{}\"}}", "a".repeat(2_000_000));
    for (method, path) in body_routes() {
        // With a Content-Length, refused before reading.
        let mut declared = request(&method, &path, Some(Body::from(big.clone())));
        declared
            .headers_mut()
            .insert("content-length", big.len().into());
        refused(&emulator, &gateway, declared, 413, &[]).await;
        // Streamed without one, refused once the limit is crossed.
        let chunks = big
            .clone()
            .into_bytes()
            .chunks(64 * 1024)
            .map(|c| Ok::<_, std::io::Error>(c.to_vec()))
            .collect::<Vec<_>>();
        let streamed = Body::from_stream(futures::stream::iter(chunks));
        refused(
            &emulator,
            &gateway,
            request(&method, &path, Some(streamed)),
            413,
            &[],
        )
        .await;
    }
}

#[tokio::test]
async fn other_media_types_are_refused_with_415() {
    let (emulator, gateway) = setup().await;
    for (method, path) in body_routes() {
        for content_type in [
            "text/plain",
            "application/xml",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application/json-patch+json",
        ] {
            let mut request = request(&method, &path, Some(Body::from("{}")));
            request
                .headers_mut()
                .insert("content-type", content_type.parse().expect("header"));
            refused(&emulator, &gateway, request, 415, &[]).await;
        }
    }
}

#[tokio::test]
async fn malformed_filters_are_invalid_filter_and_never_forwarded() {
    let (emulator, gateway) = setup().await;
    let long = format!("userName eq \"{}\"", "a".repeat(10_000));
    let nested = format!("{}userName pr{}", "(".repeat(5000), ")".repeat(5000));
    let ors = vec!["userName eq \"a\""; 400].join(" or ");
    let filters = [
        "userName eq \"x\" or 1 eq 1",
        "userName eq \"x\"; DROP TABLE users",
        "userName eq x",
        "userName eq \"unterminated",
        ")(",
        "userName eq \"x\" and (",
        "userName xx \"x\"",
        "\"x\" eq userName",
        "userName eq \"x\" or",
        "emails[value eq \"x\"",
        "userName eq \"x\"\u{0000}",
        "' OR '1'='1",
        &long,
        &nested,
        &ors,
    ];
    for path in ["/scim/v2/Users", "/scim/v2/Groups"] {
        for filter in filters {
            let uri = format!("{path}?filter={}", encode(filter));
            refused(
                &emulator,
                &gateway,
                request(&Method::GET, &uri, None),
                400,
                &["invalidFilter"],
            )
            .await;
        }
    }
}

#[tokio::test]
async fn well_formed_filters_with_quotes_and_unicode_match_only_what_they_say() {
    // Arrange: a user the injections would reveal if quoting were broken.
    let (emulator, gateway) = setup().await;
    let victim = json!({
        "schemas": [scim_core::USER_SCHEMA], "userName": "victim@example.com",
        "name": {"givenName": "V", "familyName": "W"}, "displayName": "V W",
        "emails": [{"value": "victim@example.com", "primary": true}]
    });
    assert_eq!(
        gateway
            .call(Method::POST, "/Users", Some(&victim))
            .await
            .status,
        201
    );

    for filter in [
        r#"userName eq "nobody\" or userName pr or userName eq \"""#,
        r#"userName eq "victim@example.com\\""#,
        "userName eq \"\u{00fc}n\u{00ef}c\u{00f8}d\u{00e9}-\u{1F600}@example.com\"",
        "userName eq \"victim@example.com\u{202E}\"",
        r#"userName eq "x\\\" or \\\"1\\\" eq \\\"1""#,
    ] {
        // Act
        let answer = gateway
            .call(
                Method::GET,
                &format!("/Users?filter={}", encode(filter)),
                None,
            )
            .await;

        // Assert: answered, and nothing matched.
        assert_eq!(answer.status, 200, "{filter}: {:?}", answer.body);
        let body = answer.body.expect("body");
        assert_eq!(body["totalResults"], 0, "{filter}: {body}");
    }
    // Whatever reached the target was one `eq`, the value quoted intact: no `or` got out.
    for received in emulator.received().iter().filter(|r| r.method == "GET") {
        let query = received
            .uri
            .split_once('?')
            .map(|(_, q)| q)
            .unwrap_or_default();
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            if key == "filter" {
                let parsed =
                    scim_core::parse_filter(&value).expect("the target got a valid filter");
                assert!(
                    matches!(
                        parsed,
                        scim_core::Filter::Compare {
                            op: scim_core::CompareOp::Eq,
                            ..
                        }
                    ),
                    "the target got {value}"
                );
            }
        }
    }
}

#[tokio::test]
async fn bad_paging_values_are_invalid_value() {
    let (emulator, gateway) = setup().await;
    for query in [
        "startIndex=abc",
        "count=1.5",
        "count=-",
        "startIndex=1&startIndex=2",
        "count=1e3",
        "sortOrder=sideways",
        "attributes=1bad",
    ] {
        for path in ["/scim/v2/Users", "/scim/v2/Groups"] {
            let uri = format!("{path}?{query}");
            refused(
                &emulator,
                &gateway,
                request(&Method::GET, &uri, None),
                400,
                &["invalidValue"],
            )
            .await;
        }
    }
}

#[tokio::test]
async fn ids_that_could_reach_another_path_never_reach_the_target() {
    let (emulator, gateway) = setup().await;
    let long = "a".repeat(300);
    let ids = [
        "..",
        ".",
        "%2e%2e",
        "%2E%2E%2FGroups",
        "..%2fGroups",
        "%2e%2e%2f%2e%2e%2fGroups",
        "a%2fb",
        "%2F",
        "a%5cb",
        "..%5c..%5cGroups",
        "%00",
        "a%00b",
        "a%20b",
        "%252e%252e%252f",
        ".%2e",
        "%ff%fe",
        "%c0%ae%c0%ae",
        "a%3Fb",
        "a%23b",
        &long,
    ];
    let body = json!({"schemas": [scim_core::PATCH_OP_SCHEMA], "Operations": [{"op": "replace", "path": "active", "value": false}]});
    for kind in ["Users", "Groups"] {
        for id in ids {
            let uri = format!("/scim/v2/{kind}/{id}");
            for method in [Method::GET, Method::DELETE] {
                refused(&emulator, &gateway, request(&method, &uri, None), 404, &[]).await;
            }
            for method in [Method::PUT, Method::PATCH] {
                let request = request(&method, &uri, Some(Body::from(body.to_string())));
                refused(&emulator, &gateway, request, 404, &[]).await;
            }
        }
        // Unencoded traversal never matches a route at all.
        for uri in [
            format!("/scim/v2/{kind}/../Groups"),
            format!("/scim/v2/{kind}/{SOME_ID}/../../Users"),
            format!("/scim/v2/{kind}/a/b"),
        ] {
            refused(
                &emulator,
                &gateway,
                request(&Method::GET, &uri, None),
                404,
                &[],
            )
            .await;
        }
    }
}

#[tokio::test]
async fn missing_wrong_and_malformed_tokens_are_401_on_every_route() {
    let (emulator, gateway) = setup().await;
    let long = format!("Bearer {}", "a".repeat(10_000));
    let wrong: Vec<Option<Vec<u8>>> = vec![
        None,
        Some(b"Bearer".to_vec()),
        Some(b"Bearer ".to_vec()),
        Some(b"Bearer wrong-token".to_vec()),
        Some(format!("Bearer {INBOUND_TOKEN}x").into_bytes()),
        Some(format!("Bearer {}", &INBOUND_TOKEN[..INBOUND_TOKEN.len() - 1]).into_bytes()),
        Some(format!("Bearer {INBOUND_TOKEN} extra").into_bytes()),
        Some(format!("Basic {INBOUND_TOKEN}").into_bytes()),
        Some(INBOUND_TOKEN.as_bytes().to_vec()),
        Some(format!("Bearer {TARGET_TOKEN}").into_bytes()),
        Some(format!("Bearer {}", edge::hash_token(INBOUND_TOKEN)).into_bytes()),
        Some(b"Bearer \xfftoken".to_vec()),
        Some(long.into_bytes()),
    ];
    let mut routes = all_routes();
    routes.push((Method::GET, "/scim/v2/NoSuchEndpoint".into()));
    routes.push((Method::DELETE, "/scim/v2/Users".into()));
    for (method, path) in &routes {
        for header in &wrong {
            let mut request = request(method, path, Some(Body::from("{}")));
            request.headers_mut().remove("authorization");
            if let Some(value) = header {
                request.headers_mut().insert(
                    "authorization",
                    http::HeaderValue::from_bytes(value).expect("header bytes"),
                );
            }
            let answer = refused(&emulator, &gateway, request, 401, &[]).await;
            let challenge = answer
                .headers
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            assert!(
                challenge.starts_with("Bearer"),
                "{method} {path}: {challenge:?}"
            );
        }
    }
}

#[tokio::test]
async fn both_inbound_tokens_are_accepted_and_the_scheme_is_case_insensitive() {
    let (_emulator, gateway) = setup().await;
    for header in [
        format!("Bearer {INBOUND_TOKEN}"),
        format!("Bearer {INBOUND_TOKEN_2}"),
        format!("bearer {INBOUND_TOKEN}"),
    ] {
        let request = Request::builder()
            .uri("/scim/v2/ServiceProviderConfig")
            .header("authorization", header.clone())
            .body(Body::empty())
            .expect("request");
        assert_eq!(gateway.send(request).await.status, 200, "{header}");
    }
}

#[tokio::test]
async fn unknown_routes_are_404_and_unsupported_methods_405() {
    let (emulator, gateway) = setup().await;
    for (method, uri) in [
        (Method::GET, "/scim/v2/Foo"),
        (Method::GET, "/scim/v2"),
        (Method::GET, "/scim/v2/"),
        (Method::GET, "/scim/v1/Users"),
        (Method::GET, "/Users"),
        (Method::GET, "/"),
        (Method::GET, "/scim/v2/Me"),
        (Method::POST, "/scim/v2/Bulk"),
        (Method::POST, "/scim/v2/.search"),
        (Method::GET, "/scim/v2/Users/x/y"),
        (Method::GET, "/scim/v2/_emulator/knobs"),
        (Method::GET, "/scim/v2/Schemas/urn:nope"),
        (Method::GET, "/scim/v2/ResourceTypes/Printer"),
        (Method::GET, "/a/b/scim/v2/Users"),
    ] {
        refused(&emulator, &gateway, request(&method, uri, None), 404, &[]).await;
    }
    let id_path = format!("/scim/v2/Users/{SOME_ID}");
    for (method, uri) in [
        (Method::DELETE, "/scim/v2/Users"),
        (Method::PUT, "/scim/v2/Users"),
        (Method::PATCH, "/scim/v2/Groups"),
        (Method::POST, id_path.as_str()),
        (Method::POST, "/scim/v2/Users/.search"),
        (Method::POST, "/scim/v2/ServiceProviderConfig"),
        (Method::DELETE, "/scim/v2/Schemas"),
        (Method::PUT, "/scim/v2/ResourceTypes/User"),
        (Method::OPTIONS, "/scim/v2/Users"),
        (Method::TRACE, "/scim/v2/Users"),
        (
            Method::from_bytes(b"PROPFIND").expect("method"),
            "/scim/v2/Groups",
        ),
    ] {
        let answer = refused(
            &emulator,
            &gateway,
            request(&method, uri, Some(Body::from("{}"))),
            405,
            &[],
        )
        .await;
        assert!(answer.headers.contains_key("allow"), "{method} {uri}");
    }
}

#[tokio::test]
async fn discovery_endpoints_refuse_filters_with_403() {
    let (emulator, gateway) = setup().await;
    for path in [
        "/scim/v2/ServiceProviderConfig",
        "/scim/v2/Schemas",
        "/scim/v2/ResourceTypes",
    ] {
        let uri = format!("{path}?filter={}", encode("id eq \"User\""));
        refused(
            &emulator,
            &gateway,
            request(&Method::GET, &uri, None),
            403,
            &[],
        )
        .await;
    }
}

#[tokio::test]
async fn every_route_answers_with_and_without_a_trailing_slash_and_under_a_stage() {
    let (_emulator, gateway) = setup().await;
    for path in [
        "Users",
        "Groups",
        "ServiceProviderConfig",
        "Schemas",
        "ResourceTypes",
        "ResourceTypes/Group",
    ] {
        for uri in [
            format!("/scim/v2/{path}"),
            format!("/scim/v2/{path}/"),
            format!("/prod/scim/v2/{path}"),
        ] {
            let answer = gateway.send(request(&Method::GET, &uri, None)).await;
            assert_eq!(answer.status, 200, "{uri}: {:?}", answer.body);
            assert_eq!(
                answer.headers["content-type"],
                scim_core::SCIM_MEDIA_TYPE,
                "{uri}"
            );
        }
    }
    let answer = gateway
        .send(request(
            &Method::GET,
            "/prod/scim/v2/ServiceProviderConfig",
            None,
        ))
        .await;
    let location = answer.body.expect("body")["meta"]["location"].clone();
    assert_eq!(
        location,
        json!("http://localhost/prod/scim/v2/ServiceProviderConfig")
    );
}

#[tokio::test]
async fn the_service_provider_config_advertises_what_the_gateway_does() {
    let (_emulator, gateway) = setup().await;
    let body = gateway
        .call(Method::GET, "/ServiceProviderConfig", None)
        .await
        .body
        .expect("body");
    assert_eq!(body["patch"]["supported"], true);
    assert_eq!(body["filter"]["supported"], true);
    assert_eq!(body["filter"]["maxResults"], edge::discovery::MAX_RESULTS);
    // The gateway sorts (`sortBy`/`sortOrder`, tested in `schema_driven_client`); `sort`
    // used to be advertised as unsupported, conservatively, and no longer is.
    assert_eq!(body["sort"]["supported"], true);
    for off in ["etag", "bulk", "changePassword"] {
        assert_eq!(body[off]["supported"], false, "{off}");
    }
    assert_eq!(body["authenticationSchemes"][0]["type"], "oauthbearertoken");
}

/// Percent-encodes everything but unreserved characters.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
