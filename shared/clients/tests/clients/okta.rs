//! The Okta client against the Okta emulator (single reads, every page of every listing,
//! rate limits, server errors, token refusal and rotation) and against small stubs for
//! what the emulator never does: a `next` link or a redirect to another server, a link
//! that loops, a 403, an error body that echoes the token. No token may show in the
//! client's Debug output, its errors or its traces.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use clients::{OktaClient, OktaClientConfig, RetryPolicy};
use gateway::ports::okta::{OktaDirectory, OktaError, OktaUserStatus};
use gateway::{InMemorySecretSource, SecretId};
use okta_emulator::{Emulator, EmulatorConfig, Knobs, RunningEmulator, Seed};
use serde_json::{Value, json};

const TOKEN: &str = "00okta-5sws-t0ken-a1b2c3";

fn token_id() -> SecretId {
    SecretId::new("arn:aws:secretsmanager:us-east-1:111122223333:secret:okta-api-token")
}

/// A client of `org` whose secret holds `token`, with short backoffs.
fn client_with(
    org: &str,
    token: &str,
    adjust: impl FnOnce(&mut OktaClientConfig),
) -> (OktaClient, Arc<InMemorySecretSource>) {
    let secrets = Arc::new(InMemorySecretSource::with(&token_id(), token));
    let mut config = OktaClientConfig::new(org, token_id());
    config.retry = RetryPolicy {
        base: Duration::from_millis(20),
        cap: Duration::from_millis(200),
    };
    adjust(&mut config);
    (OktaClient::new(config, secrets.clone()).unwrap(), secrets)
}

fn client(running: &RunningEmulator) -> OktaClient {
    client_with(&running.base_url(), TOKEN, |_| {}).0
}

async fn emulator(seed: Seed, knobs: Knobs) -> RunningEmulator {
    let config = EmulatorConfig::new(TOKEN).with_seed(seed).with_knobs(knobs);
    Emulator::start(config, "127.0.0.1:0").await.unwrap()
}

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/../../tests/fixtures/okta-api/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn user_id(i: usize) -> String {
    format!("00u{i:017}")
}

fn users(n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| Seed::user_object(&user_id(i), &format!("user{i}@example.com")))
        .collect()
}

/// Okta's own example user and group (Users and Groups API references), the user a
/// member of the group and assigned to app `0oaaws`, beside a second user.
fn reference_org() -> Seed {
    Seed {
        users: vec![
            fixture("api-user.json"),
            Seed::user_object("00uother", "other@example.com"),
        ],
        groups: vec![fixture("api-group.json")],
        memberships: [(
            "00g1emaKYZTWRYYRRTSK".to_owned(),
            vec!["00ub0oNGTSWTBKOLGLNR".to_owned()],
        )]
        .into(),
        apps: [("0oaaws".to_owned(), vec!["00ub0oNGTSWTBKOLGLNR".to_owned()])].into(),
    }
}

#[tokio::test]
async fn single_reads_answer_okta_s_objects_and_what_does_not_exist_is_none() {
    // Arrange
    let running = emulator(reference_org(), Knobs::default()).await;
    let okta = client(&running);

    // Act
    let user = okta.user("00ub0oNGTSWTBKOLGLNR").await.unwrap().unwrap();
    let group = okta.group("00g1emaKYZTWRYYRRTSK").await.unwrap().unwrap();

    // Assert
    assert_eq!(user.status, OktaUserStatus::Active);
    assert_eq!(user.login(), Some("isaac.brock@example.com"));
    assert_eq!(user.profile_str("title"), Some("Director"));
    assert_eq!(group.name(), "West Coast Users");
    assert_eq!(group.group_type, "OKTA_GROUP");
    assert_eq!(okta.user("00unobody").await, Ok(None));
    assert_eq!(okta.group("00gnobody").await, Ok(None));
    assert_eq!(okta.user_groups("00unobody").await, Ok(None));
    assert_eq!(okta.group_members("00gnobody").await, Ok(None));
    // Ids that cannot be a path segment name nothing, and are not sent.
    let sent = running.stats().requests;
    assert_eq!(okta.user("").await, Ok(None));
    assert_eq!(okta.group("..").await, Ok(None));
    assert_eq!(running.stats().requests, sent);
}

#[tokio::test]
async fn memberships_and_app_assignments_are_read_both_ways() {
    let running = emulator(reference_org(), Knobs::default()).await;
    let okta = client(&running);

    let groups = okta
        .user_groups("00ub0oNGTSWTBKOLGLNR")
        .await
        .unwrap()
        .unwrap();
    let members = okta
        .group_members("00g1emaKYZTWRYYRRTSK")
        .await
        .unwrap()
        .unwrap();

    assert_eq!(
        groups.iter().map(|g| g.id.as_str()).collect::<Vec<_>>(),
        ["00g1emaKYZTWRYYRRTSK"]
    );
    assert_eq!(
        members.iter().map(|u| u.id.as_str()).collect::<Vec<_>>(),
        ["00ub0oNGTSWTBKOLGLNR"]
    );
    assert_eq!(okta.user_groups("00uother").await, Ok(Some(vec![])));
    assert_eq!(
        okta.is_assigned_to_app("0oaaws", "00ub0oNGTSWTBKOLGLNR")
            .await,
        Ok(true)
    );
    assert_eq!(
        okta.is_assigned_to_app("0oaaws", "00uother").await,
        Ok(false)
    );
    assert_eq!(
        okta.is_assigned_to_app("0oaaws", "00unobody").await,
        Ok(false)
    );
    assert_eq!(
        okta.app_user_ids("0oaaws").await,
        Ok(vec!["00ub0oNGTSWTBKOLGLNR".to_owned()])
    );
    assert_eq!(okta.app_user_ids("0oaempty").await, Ok(vec![]));
    assert!(matches!(
        okta.app_user_ids("").await,
        Err(OktaError::Rejected { .. })
    ));
}

#[tokio::test]
async fn four_hundred_fifty_users_are_read_over_three_pages_of_200() {
    // Arrange
    let running = emulator(
        Seed {
            users: users(450),
            ..Seed::default()
        },
        Knobs::default(),
    )
    .await;

    // Act
    let all = client(&running).users().await.unwrap();

    // Assert
    let expected: Vec<String> = (0..450).map(user_id).collect();
    assert_eq!(
        all.iter().map(|u| u.id.clone()).collect::<Vec<_>>(),
        expected
    );
    assert_eq!(running.stats().route("GET /api/v1/users"), 3);
}

#[tokio::test]
async fn every_listing_follows_its_next_links_to_the_end() {
    // Arrange: 1 200 members of one group (two pages of 1 000), and one user in five
    // groups and assigned to an app with four others.
    let ids: Vec<String> = (0..1_200).map(user_id).collect();
    let mut groups = vec![Seed::group_object("00gbig", "Everyone")];
    groups.extend((0..5).map(|i| Seed::group_object(&format!("00g{i}"), &format!("G{i}"))));
    let mut memberships: std::collections::BTreeMap<String, Vec<String>> = (0..5)
        .map(|i| (format!("00g{i}"), vec![ids[0].clone()]))
        .collect();
    memberships.insert("00gbig".into(), ids.clone());
    let running = emulator(
        Seed {
            users: users(1_200),
            groups,
            memberships,
            apps: [("0oaaws".to_owned(), ids[..5].to_vec())].into(),
        },
        Knobs::default(),
    )
    .await;
    let okta = client(&running);

    // Act
    let members = okta.group_members("00gbig").await.unwrap().unwrap();
    running
        .set_knobs(Knobs {
            page_limit: Some(2),
            ..Knobs::default()
        })
        .unwrap();
    let user_groups = okta.user_groups(&ids[0]).await.unwrap().unwrap();
    let app_users = okta.app_user_ids("0oaaws").await.unwrap();
    let all_groups = okta.groups().await.unwrap();

    // Assert
    assert_eq!(
        members.iter().map(|u| u.id.clone()).collect::<Vec<_>>(),
        ids
    );
    assert_eq!(user_groups.len(), 6, "the big group and five small ones");
    assert_eq!(app_users, ids[..5]);
    assert_eq!(all_groups.len(), 6);
    let stats = running.stats();
    assert_eq!(stats.route("GET /api/v1/groups/{id}/users"), 2);
    assert_eq!(stats.route("GET /api/v1/users/{id}/groups"), 3);
    assert_eq!(stats.route("GET /api/v1/apps/{app_id}/users"), 3);
    assert_eq!(stats.route("GET /api/v1/groups"), 3);
}

#[tokio::test]
async fn rate_limited_reads_wait_for_the_reset_and_all_succeed() {
    // Arrange: two requests a second, for nine requests.
    let running = emulator(
        Seed {
            users: users(450),
            ..Seed::default()
        },
        Knobs {
            rate_limit: Some(2),
            ..Knobs::default()
        },
    )
    .await;
    let okta = client(&running);

    // Act
    let all = okta.users().await;
    let mut singles = Vec::new();
    for i in 0..5 {
        singles.push(okta.user(&user_id(i)).await);
    }
    let groups = okta.groups().await;

    // Assert
    assert_eq!(all.unwrap().len(), 450);
    assert!(
        singles.iter().all(|u| matches!(u, Ok(Some(_)))),
        "{singles:?}"
    );
    assert_eq!(groups, Ok(vec![]));
    assert!(running.stats().throttled > 0, "{:?}", running.stats());
}

#[tokio::test]
async fn a_wait_past_the_call_s_budget_ends_it_throttled_with_the_time_to_reset() {
    // Arrange: one request a second, and no budget to wait for the next.
    let running = emulator(
        Seed {
            users: users(1),
            ..Seed::default()
        },
        Knobs {
            rate_limit: Some(1),
            ..Knobs::default()
        },
    )
    .await;
    let (okta, _) = client_with(&running.base_url(), TOKEN, |c| {
        c.throttle_budget = Duration::ZERO;
    });

    // Act: three reads at once, of which at most two fall in different seconds.
    let mut results = Vec::new();
    for _ in 0..3 {
        results.push(okta.user(&user_id(0)).await);
    }

    // Assert
    let throttled: Vec<&OktaError> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(!throttled.is_empty(), "{results:?}");
    for error in throttled {
        match error {
            OktaError::Throttled {
                retry_after: Some(wait),
            } => assert!(*wait <= Duration::from_secs(1), "{wait:?}"),
            other => panic!("expected Throttled, got {other:?}"),
        }
        assert!(error.is_transient());
    }
}

#[tokio::test]
async fn server_errors_are_retried_twice_then_the_call_is_unavailable() {
    let running = emulator(
        reference_org(),
        Knobs {
            error_rate: 1.0,
            ..Knobs::default()
        },
    )
    .await;
    let result = client(&running).user("00ub0oNGTSWTBKOLGLNR").await;
    assert!(
        matches!(&result, Err(OktaError::Unavailable(m)) if m.contains("500")),
        "{result:?}"
    );
    assert_eq!(running.stats().failed, 3);

    // And a server that is not there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (nowhere, _) = client_with(&format!("http://127.0.0.1:{port}"), TOKEN, |_| {});
    assert!(matches!(
        nowhere.users().await,
        Err(OktaError::Unavailable(_))
    ));

    // And one too slow for the request timeout.
    running
        .set_knobs(Knobs {
            latency_ms: 300,
            ..Knobs::default()
        })
        .unwrap();
    let (slow, _) = client_with(&running.base_url(), TOKEN, |c| {
        c.request_timeout = Duration::from_millis(100);
        c.max_retries = 1;
    });
    let timed_out = slow.group("00g1emaKYZTWRYYRRTSK").await;
    assert!(
        matches!(&timed_out, Err(OktaError::Unavailable(m)) if m.contains("timed out")),
        "{timed_out:?}"
    );
}

#[tokio::test]
async fn a_refused_token_is_read_again_once_then_unauthorized() {
    let running = emulator(reference_org(), Knobs::default()).await;
    let (okta, secrets) = client_with(&running.base_url(), "not-the-token", |_| {});

    let result = okta.user("00ub0oNGTSWTBKOLGLNR").await;

    assert_eq!(result, Err(OktaError::Unauthorized { status: 401 }));
    assert!(!result.unwrap_err().is_transient());
    // Read, refused, re-read past the cache: the same value, so not sent again.
    assert_eq!(secrets.reads(), 2);
    assert_eq!(running.stats().unauthorized, 1);
}

#[tokio::test]
async fn a_rotated_token_is_picked_up_after_one_refusal_without_a_restart() {
    // Arrange: the client has read and cached the old token.
    let running = emulator(reference_org(), Knobs::default()).await;
    let (okta, secrets) = client_with(&running.base_url(), TOKEN, |_| {});
    assert!(okta.user("00uother").await.unwrap().is_some());

    // Act: Okta now accepts only the new token, and the secret holds it.
    running.set_tokens(vec!["rotated-token".into()]).unwrap();
    secrets.set(&token_id(), "rotated-token");
    let after = okta.user("00uother").await;
    let again = okta.user("00uother").await;

    // Assert
    assert!(matches!(after, Ok(Some(_))), "{after:?}");
    assert!(matches!(again, Ok(Some(_))), "{again:?}");
    assert_eq!(secrets.reads(), 2);
    assert_eq!(running.stats().unauthorized, 1);
}

/// A server that counts the requests it gets, and those that carried a token.
#[derive(Clone, Default)]
struct Elsewhere {
    requests: Arc<AtomicUsize>,
    with_token: Arc<AtomicUsize>,
}

async fn serve(router: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    addr
}

async fn elsewhere() -> (Elsewhere, SocketAddr) {
    let seen = Elsewhere::default();
    let state = seen.clone();
    let router = Router::new().fallback(move |headers: HeaderMap| {
        let state = state.clone();
        async move {
            state.requests.fetch_add(1, Ordering::SeqCst);
            if headers.contains_key(header::AUTHORIZATION) {
                state.with_token.fetch_add(1, Ordering::SeqCst);
            }
            axum::Json(json!([]))
        }
    });
    (seen, serve(router).await)
}

/// An org stub: `/api/v1/users` links to `elsewhere`, `/api/v1/groups` links to itself,
/// `/api/v1/groups/{id}` redirects to `elsewhere`, `/api/v1/users/forbidden` is 403, and
/// `/api/v1/users/echo` is a 400 that repeats the Authorization header.
async fn org_stub(elsewhere: SocketAddr) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let own = listener.local_addr().unwrap();
    let user = json!([{"id": "00u1", "status": "ACTIVE", "profile": {"login": "a@example.com"}}]);
    let router = Router::new()
        .route(
            "/api/v1/users",
            get(move || async move {
                let next =
                    format!("<http://{elsewhere}/api/v1/users?after=00u1&limit=200>; rel=\"next\"");
                ([(header::LINK, next)], axum::Json(user)).into_response()
            }),
        )
        .route(
            "/api/v1/groups",
            get(move || async move {
                let next = format!("<http://{own}/api/v1/groups>; rel=\"next\"");
                ([(header::LINK, next)], axum::Json(json!([]))).into_response()
            }),
        )
        .route(
            "/api/v1/groups/{id}",
            get(move || async move {
                let to = format!("http://{elsewhere}/api/v1/groups/00g1");
                (StatusCode::FOUND, [(header::LOCATION, to)]).into_response()
            }),
        )
        .route(
            "/api/v1/users/forbidden",
            get(|| async { StatusCode::FORBIDDEN.into_response() }),
        )
        .route(
            "/api/v1/users/echo",
            get(|headers: HeaderMap| async move {
                let echoed = headers
                    .get(header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                (
                    StatusCode::BAD_REQUEST,
                    format!("bad request from {echoed}"),
                )
                    .into_response()
            }),
        );
    tokio::spawn(async move { axum::serve(listener, router).await });
    own
}

#[tokio::test]
async fn a_next_link_or_a_redirect_to_another_server_is_not_followed() {
    // Arrange
    let (seen, elsewhere_addr) = elsewhere().await;
    let org = org_stub(elsewhere_addr).await;
    let (okta, _) = client_with(&format!("http://{org}"), TOKEN, |_| {});

    // Act
    let listed = okta.users().await;
    let redirected = okta.group("00g1").await;
    let looped = okta.groups().await;
    let forbidden = okta.user("forbidden").await;

    // Assert: errors, not partial lists, and not one request elsewhere.
    assert!(
        matches!(&listed, Err(OktaError::Rejected { message, .. }) if message.contains("another server")),
        "{listed:?}"
    );
    assert!(
        matches!(redirected, Err(OktaError::Rejected { status: 302, .. })),
        "{redirected:?}"
    );
    assert!(
        matches!(&looped, Err(OktaError::Rejected { message, .. }) if message.contains("already read")),
        "{looped:?}"
    );
    assert_eq!(forbidden, Err(OktaError::Unauthorized { status: 403 }));
    assert_eq!(seen.requests.load(Ordering::SeqCst), 0);
    assert_eq!(seen.with_token.load(Ordering::SeqCst), 0);
}

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn shown(error: &OktaError) -> String {
    format!("{error} {error:?}")
}

#[tokio::test]
async fn no_token_appears_in_debug_output_errors_or_traces() {
    // Arrange: everything at TRACE, captured; every kind of error the client returns.
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let running = emulator(reference_org(), Knobs::default()).await;
    let (accepted, _) = client_with(&running.base_url(), TOKEN, |c| {
        c.throttle_budget = Duration::ZERO;
    });
    let (refused, _) = client_with(&running.base_url(), &format!("{TOKEN}-old"), |_| {});
    let (_, elsewhere_addr) = elsewhere().await;
    let (stubbed, _) = client_with(
        &format!("http://{}", org_stub(elsewhere_addr).await),
        TOKEN,
        |_| {},
    );
    let mut errors = Vec::new();

    // Act
    accepted.users().await.unwrap();
    running
        .set_knobs(Knobs {
            rate_limit: Some(1),
            ..Knobs::default()
        })
        .unwrap();
    for _ in 0..3 {
        if let Err(e) = accepted.user("00uother").await {
            errors.push(e);
        }
    }
    running
        .set_knobs(Knobs {
            error_rate: 1.0,
            ..Knobs::default()
        })
        .unwrap();
    errors.push(accepted.groups().await.unwrap_err());
    running.set_knobs(Knobs::default()).unwrap();
    errors.push(refused.user("00uother").await.unwrap_err());
    errors.push(stubbed.users().await.unwrap_err());
    errors.push(stubbed.user("echo").await.unwrap_err());
    errors.push(stubbed.user("forbidden").await.unwrap_err());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (nowhere, _) = client_with(&format!("http://127.0.0.1:{port}"), TOKEN, |_| {});
    errors.push(nowhere.users().await.unwrap_err());

    // Assert: every kind was seen, and none shows the token.
    let kinds = |f: fn(&OktaError) -> bool| errors.iter().any(f);
    assert!(
        kinds(|e| matches!(e, OktaError::Throttled { .. })),
        "{errors:?}"
    );
    assert!(
        kinds(|e| matches!(e, OktaError::Unavailable(_))),
        "{errors:?}"
    );
    assert!(
        kinds(|e| matches!(e, OktaError::Unauthorized { status: 401 })),
        "{errors:?}"
    );
    assert!(
        kinds(|e| matches!(e, OktaError::Unauthorized { status: 403 })),
        "{errors:?}"
    );
    assert!(
        kinds(|e| matches!(e, OktaError::Rejected { status: 400, .. })),
        "{errors:?}"
    );
    assert!(
        kinds(|e| matches!(e, OktaError::Rejected { status: 200, .. })),
        "{errors:?}"
    );
    for error in &errors {
        assert!(!shown(error).contains(TOKEN), "{}", shown(error));
    }
    let echoed = errors
        .iter()
        .find(|e| matches!(e, OktaError::Rejected { status: 400, .. }))
        .map(shown)
        .unwrap_or_default();
    assert!(
        echoed.contains("<redacted>"),
        "the echo was scrubbed: {echoed}"
    );
    let clients = format!("{accepted:?} {refused:?} {stubbed:?} {nowhere:?}");
    assert!(
        clients.contains("OktaClient") && !clients.contains(TOKEN),
        "{clients}"
    );
    let traced = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(
        traced.contains("status=429"),
        "the capture works:\n{traced}"
    );
    assert!(!traced.contains(TOKEN), "a trace line carries the token");
    if std::env::var_os("TEST_LOG").is_some() {
        eprintln!("{traced}");
    }
}
