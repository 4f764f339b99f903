//! The bearer token never leaves the client except in the Authorization header: not in
//! its Debug output, not in its errors, not in anything it (or the HTTP stack under it)
//! traces, whatever happens to the request: no secret, token or password ever reaches
//! a log line (`docs/design.md`, "Data").

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::{SOME_ID, client, user};
use clients::TargetDialect;
use gateway::{Deadline, TargetScimClient};
use ic_emulator::Knobs;

const SECRET: &str = "tok-5ecret-a1b2c3d4e5f6";

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

#[tokio::test]
async fn no_token_appears_in_debug_output_errors_or_traces() {
    // Arrange: everything at TRACE, captured; an emulator that accepts the secret token
    // and then throttles and fails; a second client whose token is refused.
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let config = ic_emulator::EmulatorConfig::new(SECRET).with_knobs(Knobs::default());
    let running = ic_emulator::Emulator::start(config, "127.0.0.1:0")
        .await
        .unwrap();
    let (accepted, _) = client(&running.base_url(), SECRET, TargetDialect::IdentityCenter);
    let (refused, _) = client(
        &running.base_url(),
        &format!("{SECRET}-old"),
        TargetDialect::IdentityCenter,
    );
    let unreachable = {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        client(
            &format!("http://127.0.0.1:{port}/scim/v2"),
            SECRET,
            TargetDialect::IdentityCenter,
        )
        .0
    };
    let mut shown = Vec::new();

    // Act: success, conflict, throttling, server errors, refusal, unreachable target.
    accepted
        .create_user(&user("a@example.com", None), Deadline::default())
        .await
        .unwrap();
    shown.push(format!(
        "{:?}",
        accepted
            .create_user(&user("a@example.com", None), Deadline::default())
            .await
    ));
    running
        .set_knobs(Knobs {
            rate_limit: Some(1),
            retry_after: Some(1),
            ..Knobs::default()
        })
        .unwrap();
    accepted
        .list_users(None, Deadline::default())
        .await
        .unwrap();
    let throttled = accepted
        .list_users(None, Deadline::after(Duration::from_millis(200)))
        .await
        .unwrap_err();
    shown.push(format!("{throttled} {throttled:?}"));
    running
        .set_knobs(Knobs {
            fail_rate: 1.0,
            ..Knobs::default()
        })
        .unwrap();
    let failed = accepted
        .get_user(SOME_ID, Deadline::after(Duration::from_millis(200)))
        .await
        .unwrap_err();
    shown.push(format!("{failed} {failed:?}"));
    running.set_knobs(Knobs::default()).unwrap();
    let unauthorized = refused
        .get_user(SOME_ID, Deadline::default())
        .await
        .unwrap_err();
    shown.push(format!("{unauthorized} {unauthorized:?}"));
    let transport = unreachable
        .get_user(SOME_ID, Deadline::after(Duration::from_millis(300)))
        .await
        .unwrap_err();
    let mut chain = format!("{transport} {transport:?}");
    let mut source = std::error::Error::source(&transport);
    while let Some(cause) = source {
        chain.push_str(&format!(" {cause} {cause:?}"));
        source = cause.source();
    }
    shown.push(chain);
    shown.push(format!("{accepted:?} {refused:?} {unreachable:?}"));

    // Assert
    let traced = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(
        traced.contains("status=429"),
        "the capture works and saw the failures:\n{traced}"
    );
    assert!(!traced.contains(SECRET), "a trace line carries the token");
    for text in &shown {
        assert!(!text.contains(SECRET), "{text}");
    }
    assert!(shown.last().unwrap().contains("HttpTargetScimClient"));
    if std::env::var_os("TEST_LOG").is_some() {
        eprintln!("{traced}\n{}", shown.join("\n"));
    }
}
